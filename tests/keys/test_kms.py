"""AWS KMS recipients against moto in server mode (and the real sops binary pointed at the same
endpoint), plus a loopback fake KMS for faults and call counting.

moto: ``ThreadedMotoServer`` on 127.0.0.1 (free port), fake credentials; both pysops (botocore)
and sops (aws-sdk-go-v2) find it through ``AWS_ENDPOINT_URL``. The fake speaks the KMS JSON
protocol (``X-Amz-Target: TrentService.Encrypt/Decrypt``) and can deny, hang or send garbage.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import AgeKey, Result, run_sops

from pysops.errors import ConfigError, ErrorInvalidKMSEncryptionContextFormat, KeySourceError
from pysops.keys import KeyContext, WrappedKey
from pysops.keys import kms as kms_mod
from pysops.values import GoTime

boto3 = pytest.importorskip("boto3")
moto_server = pytest.importorskip("moto.server")

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/sops-test"
PLAIN = b"password: hunter2\nlist:\n    - 1\n    - two\n"
NOW = GoTime(2026, 1, 2, 3, 4, 5)


# --------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def _kms_client(endpoint: str) -> Any:
    return boto3.client(
        "kms",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture(scope="module")
def key_arn(moto_endpoint: str) -> str:
    return str(_kms_client(moto_endpoint).create_key()["KeyMetadata"]["Arn"])


@pytest.fixture
def aws_env(
    clean_env: dict[str, str], moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """clean_env plus fake credentials and the moto endpoint, isolated from ~/.aws."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    values = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_CONFIG_FILE": str(tmp_path / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return dict(os.environ)


class FakeKMS:
    """A loopback KMS speaking the JSON protocol. ``mode``: ok, deny, hang, garbage, empty."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.calls: list[str] = []
        self.release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
                action = self.headers.get("X-Amz-Target", "").split(".")[-1]
                fake.calls.append(action)
                if fake.mode == "hang":
                    fake.release.wait(10)
                    return
                if fake.mode == "deny":
                    self._send(400, {"__type": "AccessDeniedException", "message": "denied by the fake"})
                elif fake.mode == "garbage":
                    self._raw(200, b"<html>this is not KMS</html>")
                elif fake.mode == "empty":
                    self._send(200, {})
                elif action == "Encrypt":
                    blob = b"FAKE" + base64.b64decode(body["Plaintext"])
                    self._send(200, {"CiphertextBlob": base64.b64encode(blob).decode(), "KeyId": body["KeyId"]})
                elif action == "Decrypt":
                    blob = base64.b64decode(body["CiphertextBlob"])
                    self._send(200, {"Plaintext": base64.b64encode(blob[4:]).decode()})
                else:
                    self._send(400, {"__type": "UnsupportedOperationException", "message": action})

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                self._raw(status, json.dumps(payload).encode())

            def _raw(self, status: int, data: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_kms(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeKMS]:
    fake = FakeKMS()
    monkeypatch.setenv("AWS_ENDPOINT_URL", fake.endpoint)
    monkeypatch.setenv("PYSOPS_KMS_TIMEOUT", "0.5")
    monkeypatch.setenv("PYSOPS_KMS_MAX_ATTEMPTS", "1")
    try:
        yield fake
    finally:
        fake.stop()


FAKE_ARN = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/fake"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env() -> dict[str, str]:
    return dict(os.environ)


def _no_traceback(result: Result) -> None:
    assert "Traceback" not in result.stderr


# --------------------------------------------------------------------------------------------
# parsing and metadata (no server)


def test_parse_recipient_splits_role_and_removes_spaces() -> None:
    kt = kms_mod.KEY_TYPE
    key = kt.parse_recipient(f" arn:aws:kms:eu-west-3:{ACCOUNT}:key/abc + {ROLE} ")
    assert key == kms_mod.KMSKey(f"arn:aws:kms:eu-west-3:{ACCOUNT}:key/abc", ROLE)
    assert key.id == f"arn:aws:kms:eu-west-3:{ACCOUNT}:key/abc+{ROLE}"
    assert kms_mod.region_of(key.arn) == "eu-west-3"
    assert kms_mod.region_of(f"arn:aws-cn:kms:cn-north-1:{ACCOUNT}:alias/x") == "cn-north-1"
    with_options = kt.parse_recipient(FAKE_ARN, {"encryption_context": "b:2,a:1", "aws_profile": "dev"})
    assert with_options.context == (("a", "1"), ("b", "2"))
    assert with_options.aws_profile == "dev"
    for bad in ("not-an-arn", f"arn:aws:kms:us-east-1:{ACCOUNT}:secret/x", "arn:aws:kms:us-east-1:acct:key/x"):
        with pytest.raises(ConfigError, match="no valid ARN"):
            kt.parse_recipient(bad)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ()),
        ("a:b", (("a", "b"),)),
        (" a : b ", ((" a ", " b "),)),  # sops does not trim
        ("a:", (("a", ""),)),
        (":b", (("", "b"),)),
        ("a:1,a:2", (("a", "2"),)),
        ("z:1,Env:prod", (("Env", "prod"), ("z", "1"))),
    ],
)
def test_encryption_context_parsing_matches_sops(text: str, expected: tuple[tuple[str, str], ...]) -> None:
    assert kms_mod.parse_encryption_context(text) == expected


@pytest.mark.parametrize("text", ["a", "a:b:c", "a:b,", ",a:b"])
def test_malformed_encryption_context_is_exit_6(text: str) -> None:
    with pytest.raises(ErrorInvalidKMSEncryptionContextFormat) as info:
        kms_mod.parse_encryption_context(text)
    assert info.value.exit_code == 6


def test_config_entries_and_metadata_field_order() -> None:
    kt = kms_mod.KEY_TYPE
    entry = {"arn": FAKE_ARN, "role": ROLE, "context": {"z": "1", "Env": "ci"}, "aws_profile": "p"}
    key = kt.recipient_from_config(entry)
    assert key == kms_mod.KMSKey(FAKE_ARN, ROLE, (("Env", "ci"), ("z", "1")), "p")
    with pytest.raises(ConfigError, match="strings to strings"):
        kt.recipient_from_config({"arn": FAKE_ARN, "context": {"n": 1}})
    with pytest.raises(ConfigError, match="needs an arn"):
        kt.recipient_from_config({"role": ROLE})
    rule = kt.recipients_from_rule({"kms": f"{FAKE_ARN}, {FAKE_ARN}+{ROLE}", "aws_profile": "prof"})
    assert [(k.arn, k.role, k.aws_profile) for k in rule] == [(FAKE_ARN, "", "prof"), (FAKE_ARN, ROLE, "prof")]
    # An old stanza without aws_profile gains it (as sops writes it); field order is sops's.
    wrapped = kt.from_metadata({"enc": "QUJD", "created_at": "2020-01-01T00:00:00Z", "context": {"b": "2", "a": "1"},
                                "arn": FAKE_ARN})  # fmt: skip
    assert list(wrapped.fields) == ["arn", "context", "created_at", "enc", "aws_profile"]
    assert list(wrapped.fields["context"]) == ["a", "b"]
    assert wrapped.fields["aws_profile"] == ""
    assert kt.recipient_of(wrapped) == kms_mod.KMSKey(FAKE_ARN, "", (("a", "1"), ("b", "2")))
    assert list(kt.from_metadata({"arn": FAKE_ARN, "role": ROLE, "enc": "x"}).fields) == [
        "arn", "role", "created_at", "enc", "aws_profile"
    ]  # fmt: skip


def test_bad_enc_is_a_key_source_error_without_a_call(fake_kms: FakeKMS) -> None:
    wrapped = kms_mod.KEY_TYPE.from_metadata({"arn": FAKE_ARN, "enc": "not base64!"})
    with pytest.raises(KeySourceError, match="not valid base64"):
        kms_mod.KEY_TYPE.unwrap(wrapped, KeyContext(_env()))
    assert fake_kms.calls == []


# --------------------------------------------------------------------------------------------
# interop with sops through moto


def _encrypt_file(pysops: Any, env: dict[str, str], args: list[str], name: str = "secret.yaml") -> Path:
    path = Path(name)
    path.write_bytes(PLAIN)
    r = pysops(["encrypt", "-i", *args, name], env)
    assert r.code == 0, r.stderr
    return path


def test_pysops_encrypts_sops_decrypts_with_context(aws_env: dict[str, str], key_arn: str, pysops: Any) -> None:
    path = _encrypt_file(pysops, aws_env, ["--kms", key_arn, "--encryption-context", "Env:prod,App:web"])
    text = path.read_text()
    lines = text.split("sops:\n")[1].splitlines()
    assert lines[:7] == [
        "    kms:",
        f"        - arn: {key_arn}",
        "          context:",
        "            App: web",
        "            Env: prod",
        lines[5],
        lines[6],
    ]
    assert lines[5].startswith('          created_at: "') and lines[6].startswith("          enc: ")
    assert lines[7] == '          aws_profile: ""'
    enc = lines[6].split("enc: ")[1]
    assert base64.b64decode(enc, validate=True)
    r = run_sops(["decrypt", str(path)], aws_env)
    assert r.code == 0, r.stderr
    assert r.stdout == PLAIN
    r = pysops(["decrypt", str(path)], aws_env)
    assert (r.code, r.stdout) == (0, PLAIN)


def test_sops_encrypts_pysops_decrypts(aws_env: dict[str, str], key_arn: str, pysops: Any) -> None:
    Path("s.json").write_bytes(b'{"a": "b", "n": 1.5}')
    r = run_sops(["encrypt", "--kms", key_arn, "--encryption-context", "k:v", "s.json"], aws_env)
    assert r.code == 0, r.stderr
    Path("e.json").write_bytes(r.stdout)
    out = pysops(["decrypt", "e.json"], aws_env)
    assert out.code == 0, out.stderr
    assert json.loads(out.stdout) == {"a": "b", "n": 1.5}


def test_wrong_encryption_context_fails_in_both_tools(aws_env: dict[str, str], key_arn: str, pysops: Any) -> None:
    path = _encrypt_file(pysops, aws_env, ["--kms", key_arn, "--encryption-context", "Env:prod"])
    tampered = path.read_text().replace("Env: prod", "Env: dev")
    path.write_text(tampered)
    r = pysops(["decrypt", str(path)], aws_env)
    assert r.code == 128
    assert "InvalidCiphertextException" in r.stderr and key_arn in r.stderr
    _no_traceback(r)
    assert run_sops(["decrypt", str(path)], aws_env).code == 128
    assert path.read_text() == tampered


def test_role_is_assumed_through_sts(aws_env: dict[str, str], key_arn: str, pysops: Any) -> None:
    from moto.sts.models import sts_backends

    def sessions() -> list[str]:
        backend = sts_backends[ACCOUNT]["global"]
        return [role.session_name for role in backend.assumed_roles]

    before = len(sessions())
    path = _encrypt_file(pysops, aws_env, ["--kms", f"{key_arn}+{ROLE}"])
    text = path.read_text()
    assert f"- arn: {key_arn}\n          role: {ROLE}\n          created_at:" in text
    assert len(sessions()) == before + 1
    assert sessions()[-1] == kms_mod.session_name()
    assert sessions()[-1].startswith("sops@")
    r = run_sops(["decrypt", str(path)], aws_env)
    assert (r.code, r.stdout) == (0, PLAIN), r.stderr
    assert len(sessions()) == before + 2  # sops assumed the role too
    r = pysops(["decrypt", str(path)], aws_env)
    assert (r.code, r.stdout) == (0, PLAIN)


def test_key_groups_mixing_kms_and_age(aws_env: dict[str, str], key_arn: str, age_key: AgeKey, pysops: Any) -> None:
    Path(".sops.yaml").write_text(
        "creation_rules:\n"
        "  - key_groups:\n"
        f"      - kms:\n          - arn: {key_arn}\n            context: {{Team: ops}}\n"
        f"      - age: [{age_key.recipient}]\n"
    )
    path = _encrypt_file(pysops, aws_env, [])
    text = path.read_text()
    assert "key_groups:" in text and "shamir_threshold: 2" in text and "Team: ops" in text
    env = {**aws_env, "SOPS_AGE_KEY": age_key.identity}
    r = run_sops(["decrypt", str(path)], env)
    assert (r.code, r.stdout) == (0, PLAIN), r.stderr
    assert pysops(["decrypt", str(path)], env).stdout == PLAIN
    # Without the age identity only one of two shares is recovered.
    r = pysops(["decrypt", str(path)], aws_env)
    assert r.code == 128 and "group 1" in r.stderr


def test_flat_rule_with_aws_profile_and_updatekeys(
    aws_env: dict[str, str], key_arn: str, pysops: Any, tmp_path: Path
) -> None:
    (tmp_path / "aws-credentials").write_text("[ci]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
    Path(".sops.yaml").write_text(f"creation_rules:\n  - kms: {key_arn}\n    aws_profile: ci\n")
    path = _encrypt_file(pysops, aws_env, [])
    assert "          aws_profile: ci\n" in path.read_text()
    r = run_sops(["decrypt", str(path)], aws_env)
    assert (r.code, r.stdout) == (0, PLAIN), r.stderr
    second = str(_kms_client(aws_env["AWS_ENDPOINT_URL"]).create_key()["KeyMetadata"]["Arn"])
    Path(".sops.yaml").write_text(f"creation_rules:\n  - kms: {key_arn},{second}\n    aws_profile: ci\n")
    r = pysops(["updatekeys", "-y", str(path)], aws_env)
    assert r.code == 0, r.stderr
    assert second in path.read_text()
    r = run_sops(["decrypt", str(path)], aws_env)
    assert (r.code, r.stdout) == (0, PLAIN), r.stderr


def test_cli_encryption_context_applies_to_rule_keys(aws_env: dict[str, str], key_arn: str, pysops: Any) -> None:
    """As in sops, --encryption-context reaches kms keys that come from the creation rule."""
    Path(".sops.yaml").write_text(f"creation_rules:\n  - kms: {key_arn}\n")
    path = _encrypt_file(pysops, aws_env, ["--encryption-context", "Team:ops"])
    assert "Team: ops" in path.read_text()
    r = run_sops(["decrypt", str(path)], aws_env)
    assert (r.code, r.stdout) == (0, PLAIN), r.stderr


def test_rotate_and_groups_add_pass_the_encryption_context(
    aws_env: dict[str, str], key_arn: str, age_key: AgeKey, pysops: Any
) -> None:
    env = {**aws_env, "SOPS_AGE_KEY": age_key.identity}
    path = _encrypt_file(pysops, env, ["--age", age_key.recipient])
    r = pysops(["rotate", "-i", "--add-kms", key_arn, "--encryption-context", "Stage:rot", str(path)], env)
    assert r.code == 0, r.stderr
    assert "Stage: rot" in path.read_text()
    r = pysops(["groups", "add", "-i", "-f", str(path), "--kms", key_arn, "--encryption-context", "G:2"], env)
    assert r.code == 0, r.stderr
    text = path.read_text()
    assert 'G: "2"' in text and "key_groups:" in text
    r = run_sops(["decrypt", str(path)], env)
    assert (r.code, r.stdout) == (0, PLAIN), r.stderr
    r = pysops(["rotate", "-i", "--add-kms", key_arn, "--encryption-context", "bad", str(path)], env)
    assert r.code == 6
    assert path.read_text() == text


def test_unknown_key_is_reported(aws_env: dict[str, str], key_arn: str, pysops: Any) -> None:
    """An unknown key on encrypt, and a ciphertext of no key this account may use on decrypt
    (moto answers AccessDeniedException, as KMS does). moto enforces neither key policies nor
    disabled keys on Encrypt/Decrypt, so a denying policy is exercised with the fake below."""
    missing = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/00000000-0000-0000-0000-000000000000"
    Path("p.yaml").write_bytes(PLAIN)
    r = pysops(["encrypt", "-i", "--kms", missing, "p.yaml"], aws_env)
    assert r.code == 1 and missing in r.stderr and "NotFoundException" in r.stderr
    _no_traceback(r)
    assert Path("p.yaml").read_bytes() == PLAIN
    path = _encrypt_file(pysops, aws_env, ["--kms", key_arn])
    text = path.read_text()
    enc = next(line for line in text.splitlines() if "enc: " in line and "ENC[" not in line).split("enc: ")[1]
    foreign = base64.b64encode(b"\x01" * len(base64.b64decode(enc))).decode()
    path.write_text(text.replace(enc, foreign))
    before = path.read_bytes()
    r = pysops(["decrypt", "-i", str(path)], aws_env)
    assert r.code == 128 and key_arn in r.stderr and "AccessDeniedException" in r.stderr, r.stderr
    _no_traceback(r)
    assert path.read_bytes() == before


# --------------------------------------------------------------------------------------------
# faults


def test_endpoint_down(aws_env: dict[str, str], key_arn: str, pysops: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _encrypt_file(pysops, aws_env, ["--kms", key_arn])
    before = path.read_bytes()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.setenv("PYSOPS_KMS_MAX_ATTEMPTS", "1")
    env = _env()
    start = time.monotonic()
    r = pysops(["decrypt", "-i", str(path)], env)
    elapsed = time.monotonic() - start
    assert r.code == 128
    assert "could not connect" in r.stderr and key_arn in r.stderr
    _no_traceback(r)
    assert path.read_bytes() == before
    assert elapsed < 3
    Path("p.yaml").write_bytes(PLAIN)
    r = pysops(["encrypt", "-i", "--kms", key_arn, "p.yaml"], env)
    assert r.code == 1 and key_arn in r.stderr and "could not connect" in r.stderr
    assert Path("p.yaml").read_bytes() == PLAIN


def test_hanging_endpoint_is_bounded_by_the_timeout(fake_kms: FakeKMS, pysops: Any) -> None:
    env = _env()
    path = _encrypt_file(pysops, env, ["--kms", FAKE_ARN])
    before = path.read_bytes()
    fake_kms.mode = "hang"
    start = time.monotonic()
    r = pysops(["decrypt", "-i", str(path)], env)
    elapsed = time.monotonic() - start
    assert r.code == 128 and "timed out" in r.stderr and "PYSOPS_KMS_TIMEOUT" in r.stderr, r.stderr
    _no_traceback(r)
    assert 0.4 < elapsed < 3
    assert path.read_bytes() == before
    assert fake_kms.calls == ["Encrypt", "Decrypt"]  # PYSOPS_KMS_MAX_ATTEMPTS=1: no retry
    fake_kms.calls.clear()
    context = KeyContext({**env, "PYSOPS_KMS_TIMEOUT": "0.2", "PYSOPS_KMS_MAX_ATTEMPTS": "2"})
    wrapped = kms_mod.KEY_TYPE.from_metadata({"arn": FAKE_ARN, "enc": "QUJD"})
    with pytest.raises(KeySourceError, match="timed out"):
        kms_mod.KEY_TYPE.unwrap(wrapped, context)
    assert fake_kms.calls == ["Decrypt", "Decrypt"]


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("deny", "AccessDeniedException: denied by the fake"),
        ("garbage", "malformed response"),
        ("empty", "malformed response"),
    ],
)
def test_denied_and_malformed_responses(fake_kms: FakeKMS, pysops: Any, mode: str, message: str) -> None:
    env = _env()
    path = _encrypt_file(pysops, env, ["--kms", FAKE_ARN])
    before = path.read_bytes()
    fake_kms.mode = mode
    r = pysops(["decrypt", str(path)], env)
    assert r.code == 128 and message in r.stderr and FAKE_ARN in r.stderr, r.stderr
    _no_traceback(r)
    Path("p.yaml").write_bytes(PLAIN)
    r = pysops(["encrypt", "-i", "--kms", FAKE_ARN, "p.yaml"], env)
    assert r.code == 1 and FAKE_ARN in r.stderr
    _no_traceback(r)
    assert Path("p.yaml").read_bytes() == PLAIN
    assert path.read_bytes() == before


def test_malformed_context_on_encrypt_is_exit_6(fake_kms: FakeKMS, pysops: Any) -> None:
    Path("p.yaml").write_bytes(PLAIN)
    r = pysops(["encrypt", "-i", "--kms", FAKE_ARN, "--encryption-context", "a:b:c", "p.yaml"], _env())
    assert r.code == 6 and "Invalid KMS encryption context format" in r.stderr
    assert Path("p.yaml").read_bytes() == PLAIN
    assert fake_kms.calls == []


def test_missing_boto3(fake_kms: FakeKMS, pysops: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kms_mod, "_PROCESS_CLIENTS", kms_mod._Clients())
    monkeypatch.setitem(__import__("sys").modules, "boto3", None)
    Path("p.yaml").write_bytes(PLAIN)
    r = pysops(["encrypt", "-i", "--kms", FAKE_ARN, "p.yaml"], _env())
    assert r.code == 1
    assert "kms keys need the boto3 package" in r.stderr and "pip install 'pysops[aws]'" in r.stderr
    assert Path("p.yaml").read_bytes() == PLAIN


# --------------------------------------------------------------------------------------------
# one unwrap per wrapped key


def test_many_files_one_decrypt_call(fake_kms: FakeKMS, pysops: Any) -> None:
    env = _env()
    Path("tree").mkdir()
    first = _encrypt_file(pysops, env, ["--kms", FAKE_ARN], "tree/a.yaml")
    for name in ("b", "c", "d", "e"):
        shutil.copy(first, f"tree/{name}.yaml")
    other = _encrypt_file(pysops, env, ["--kms", FAKE_ARN], "tree/z.yaml")
    assert other.read_text() != first.read_text()
    fake_kms.calls.clear()
    r = pysops(["decrypt", "--recursive", "tree", "--output-dir", "out"], env)
    assert r.code == 0, r.stderr
    assert sorted(p.name for p in Path("out").iterdir()) == ["a.yaml", "b.yaml", "c.yaml", "d.yaml", "e.yaml", "z.yaml"]
    assert all(p.read_bytes() == PLAIN for p in Path("out").iterdir())
    assert fake_kms.calls == ["Decrypt", "Decrypt"]  # two distinct wrapped keys, six files


def test_key_context_caches_unwraps_and_clients(fake_kms: FakeKMS) -> None:
    key = kms_mod.KEY_TYPE.parse_recipient(FAKE_ARN, {"encryption_context": "a:b"})
    wrapped = key.wrap(b"k" * 32, NOW)
    assert isinstance(wrapped, WrappedKey)
    assert wrapped.fields["created_at"] == "2026-01-02T03:04:05Z"
    assert base64.b64decode(wrapped.enc) == b"FAKE" + b"k" * 32
    context = KeyContext(_env())
    for _ in range(3):
        assert kms_mod.KEY_TYPE.unwrap(kms_mod.KEY_TYPE.from_metadata(wrapped.fields), context) == b"k" * 32
    state = context.cache["kms"]
    assert (state.calls, state.clients.created) == (1, 1)
    assert fake_kms.calls == ["Encrypt", "Decrypt"]
