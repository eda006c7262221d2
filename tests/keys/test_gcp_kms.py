"""GCP Cloud KMS recipients against a loopback fake of the Cloud KMS REST API.

pysops talks to the fake through the official google-cloud-kms client (REST transport,
``PYSOPS_GCP_KMS_ENDPOINT``). The real sops 3.11 binary has no endpoint override, but its REST
client (``SOPS_GCP_KMS_CLIENT_TYPE=rest``) follows ``GOOGLE_CLOUD_UNIVERSE_DOMAIN``, Go's
``HTTPS_PROXY`` and ``SSL_CERT_FILE``: the interop tests give it the universe ``pysops.test``, a
CONNECT proxy that tunnels ``cloudkms.pysops.test:443`` to the fake's TLS listener, a test CA,
and a service account of that universe (self-signed JWTs, no token exchange).
"""

from __future__ import annotations

import base64
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from tests.conftest import AgeKey, run_sops
from tests.keys.gcp_kms_fake import ConnectProxy, FakeCloudKMS, make_service_account, make_tls_files

from pysops.errors import ConfigError, KeySourceError, MissingDependency
from pysops.keys import KeyContext, key_type
from pysops.keys import gcp_kms as gcp
from pysops.values import GoTime

KEY = "projects/pysops-test/locations/global/keyRings/ring/cryptoKeys/key1"
KEY2 = "projects/pysops-test/locations/europe-west1/keyRings/ring/cryptoKeys/key2"
PLAIN = b"# config\ndb:\n    password: hunter2\n    port: 5432\n"
UNIVERSE = "pysops.test"
SA_EMAIL = "sops@pysops-test.iam.gserviceaccount.com"


@pytest.fixture
def fake() -> Iterator[FakeCloudKMS]:
    server = FakeCloudKMS()
    server.add_key(KEY)
    server.add_key(KEY2)
    gcp._CLIENTS.clear()
    yield server
    server.stop()
    gcp._CLIENTS.clear()


@pytest.fixture
def env(clean_env: dict[str, str], fake: FakeCloudKMS) -> dict[str, str]:
    for name in ("GOOGLE_CREDENTIALS", "GOOGLE_OAUTH_ACCESS_TOKEN", "GOOGLE_APPLICATION_CREDENTIALS",
                 "GOOGLE_CLOUD_UNIVERSE_DOMAIN", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):  # fmt: skip
        clean_env.pop(name, None)
        clean_env.pop(name.lower(), None)
    return {
        **clean_env,
        "PYSOPS_GCP_KMS_ENDPOINT": fake.endpoint,
        "PYSOPS_GCP_KMS_TIMEOUT": "1",
        "GOOGLE_OAUTH_ACCESS_TOKEN": "test-token",
        "GCE_METADATA_HOST": "127.0.0.1:9",  # ADC never reaches a real metadata server
        "CLOUDSDK_CONFIG": str(Path(clean_env["HOME"]) / "gcloud"),
    }


class SopsSide:
    """What the sops binary needs to reach the fake: TLS listener, proxy, CA, service account."""

    def __init__(self, fake: FakeCloudKMS, directory: Path) -> None:
        ca, cert, key = make_tls_files(directory, f"cloudkms.{UNIVERSE}")
        self.proxy = ConnectProxy(fake.serve_tls(cert, key))
        info, public_key = make_service_account(SA_EMAIL, UNIVERSE)
        fake.add_service_account(SA_EMAIL, public_key)
        credentials = directory / "sa.json"
        credentials.write_text(json.dumps(info))
        self.env = {
            "SOPS_GCP_KMS_CLIENT_TYPE": "rest",
            "GOOGLE_CLOUD_UNIVERSE_DOMAIN": UNIVERSE,
            "GOOGLE_CREDENTIALS": str(credentials),
            "HTTPS_PROXY": f"http://127.0.0.1:{self.proxy.port}",
            "SSL_CERT_FILE": str(ca),
        }


@pytest.fixture
def sops_side(fake: FakeCloudKMS, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SopsSide]:
    side = SopsSide(fake, tmp_path_factory.mktemp("sops-gcp"))
    yield side
    side.proxy.stop()


def sops_env(env: dict[str, str], side: SopsSide) -> dict[str, str]:
    out = {k: v for k, v in env.items() if not k.startswith("PYSOPS_") and k != "GOOGLE_OAUTH_ACCESS_TOKEN"}
    return {**out, **side.env}


def encrypt_file(pysops: Any, env: dict[str, str], name: str = "secrets.yaml", *flags: str) -> Path:
    path = Path(name)
    path.write_bytes(PLAIN)
    result = pysops(["encrypt", "-i", "--gcp-kms", KEY, *flags, str(path)], env=env)
    assert result.code == 0, result.stderr
    return path


def _load(data: bytes) -> Any:
    return YAML(typ="safe", pure=True).load(data)


def stanzas(path: Path) -> list[dict[str, Any]]:
    meta = _load(path.read_bytes())["sops"]
    found: list[dict[str, Any]] = meta["gcp_kms"]
    return found


# -------------------------------------------------------------------------------- recipients


def test_parse_recipient_checks_the_resource_id_like_sops() -> None:
    kt = key_type("gcp_kms")
    assert kt.parse_recipient(" projects/p/locations/l/keyRings/r/cryptoKeys/k ").id == (
        "projects/p/locations/l/keyRings/r/cryptoKeys/k"
    )
    assert kt.parse_recipient("projects/p /locations/l/keyRings/r/cryptoKeys/k").id == (
        "projects/p/locations/l/keyRings/r/cryptoKeys/k"
    )
    versioned = "projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1"
    for bad in ("projects/p/locations/l/keyRings/r", versioned, "gcp://" + versioned[:-21], ""):
        with pytest.raises(ConfigError):
            kt.parse_recipient(bad)
    assert kt.recipient_from_config({"resource_id": KEY}).id == KEY
    with pytest.raises(ConfigError):
        kt.recipient_from_config(KEY)
    wrapped = kt.from_metadata({"enc": "QUJD", "created_at": "2024-01-01T00:00:00Z", "resource_id": KEY, "x": 1})
    assert list(wrapped.fields) == ["resource_id", "created_at", "enc"]
    assert kt.recipient_of(wrapped).id == KEY


def test_missing_sdk_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    gcp._CLIENTS.clear()
    monkeypatch.setitem(sys.modules, "google.cloud.kms_v1.services.key_management_service.client", None)
    with pytest.raises(MissingDependency) as info:
        gcp.GCPKMSRecipient(KEY).wrap(b"k" * 32, GoTime(2024, 1, 1, 0, 0, 0))
    assert "requires pysops[gcp]" in info.value.message
    assert info.value.hint == "pip install 'pysops[gcp]'"


def test_bad_timeout_setting_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="PYSOPS_GCP_KMS_TIMEOUT"):
        gcp._settings({"PYSOPS_GCP_KMS_TIMEOUT": "soon"})
    assert gcp._settings({}).timeout == 20.0
    assert gcp._settings({}).endpoint == "cloudkms.googleapis.com"


# -------------------------------------------------------------------------------- round trips


def test_encrypt_decrypt_round_trip(pysops: Any, env: dict[str, str], fake: FakeCloudKMS) -> None:
    path = encrypt_file(pysops, env)
    [stanza] = stanzas(path)
    assert list(stanza) == ["resource_id", "created_at", "enc"]
    assert stanza["resource_id"] == KEY
    ciphertext = base64.b64decode(stanza["enc"], validate=True)
    assert fake.decrypt(KEY, ciphertext) and len(fake.decrypt(KEY, ciphertext)) == 32
    assert fake.calls == {"encrypt": 1}
    result = pysops(["decrypt", str(path)], env=env)
    assert result.code == 0, result.stderr
    assert result.stdout == PLAIN
    assert fake.calls == {"encrypt": 1, "decrypt": 1}


def test_recipients_from_env_and_creation_rules(pysops: Any, env: dict[str, str], age_key: AgeKey) -> None:
    Path("a.yaml").write_bytes(PLAIN)
    result = pysops(["encrypt", "-i", "a.yaml"], env={**env, "SOPS_GCP_KMS_IDS": f"{KEY}, {KEY2}"})
    assert result.code == 0, result.stderr
    assert [s["resource_id"] for s in stanzas(Path("a.yaml"))] == [KEY, KEY2]

    Path(".sops.yaml").write_text(
        "creation_rules:\n"
        "  - path_regex: flat\n"
        f"    gcp_kms: {KEY}\n"
        f"    age: {age_key.recipient}\n"
        "  - path_regex: groups\n"
        "    key_groups:\n"
        f"      - gcp_kms:\n          - resource_id: {KEY}\n        age: [{age_key.recipient}]\n"
        f"      - gcp_kms:\n          - resource_id: {KEY2}\n"
    )
    Path("flat.yaml").write_bytes(PLAIN)
    Path("groups.yaml").write_bytes(PLAIN)
    assert pysops(["encrypt", "-i", "flat.yaml"], env=env).code == 0
    assert pysops(["encrypt", "-i", "groups.yaml"], env=env).code == 0
    flat = _load(Path("flat.yaml").read_bytes())["sops"]
    assert list(flat)[:2] == ["gcp_kms", "age"]
    groups = _load(Path("groups.yaml").read_bytes())["sops"]["key_groups"]
    assert [list(g) for g in groups] == [["gcp_kms", "hc_vault", "age"], ["gcp_kms", "hc_vault", "age"]]
    assert groups[0]["gcp_kms"][0]["resource_id"] == KEY and groups[1]["gcp_kms"][0]["resource_id"] == KEY2
    for name in ("flat.yaml", "groups.yaml"):
        result = pysops(["decrypt", name], env=env)
        assert (result.code, result.stdout) == (0, PLAIN), result.stderr


def test_group_mixing_gcp_and_age(pysops: Any, env: dict[str, str], fake: FakeCloudKMS, age_key: AgeKey) -> None:
    path = encrypt_file(pysops, env, "mixed.yaml", "--age", age_key.recipient)
    # The KMS is gone: the age identity in the same group still opens the file.
    fake.mode = "deny"
    result = pysops(["decrypt", str(path)], env={**env, "SOPS_AGE_KEY": age_key.identity})
    assert (result.code, result.stdout) == (0, PLAIN), result.stderr
    assert fake.calls["decrypt"] == 0  # age is tried first by default
    # No age identity: the gcp_kms key of the group is used.
    fake.mode = "ok"
    result = pysops(["decrypt", str(path)], env=env)
    assert (result.code, result.stdout) == (0, PLAIN), result.stderr
    assert fake.calls["decrypt"] == 1
    # --decryption-order puts gcp_kms first.
    result = pysops(["decrypt", "--decryption-order", "gcp_kms,age", str(path)],
                    env={**env, "SOPS_AGE_KEY": age_key.identity})  # fmt: skip
    assert result.code == 0 and fake.calls["decrypt"] == 2


def test_rotate_and_groups_flags(pysops: Any, env: dict[str, str], fake: FakeCloudKMS, age_key: AgeKey) -> None:
    path = encrypt_file(pysops, env)
    result = pysops(["rotate", "-i", "--add-gcp-kms", KEY2, "--rm-gcp-kms", KEY, str(path)], env=env)
    assert result.code == 0, result.stderr
    assert [s["resource_id"] for s in stanzas(path)] == [KEY2]
    result = pysops(["groups", "add", "-i", "-f", str(path), "--gcp-kms", KEY, "--age", age_key.recipient], env=env)
    assert result.code == 0, result.stderr
    groups = _load(path.read_bytes())["sops"]["key_groups"]
    assert [[s["resource_id"] for s in g["gcp_kms"]] for g in groups] == [[KEY2], [KEY]]
    result = pysops(["decrypt", str(path)], env=env)
    assert (result.code, result.stdout) == (0, PLAIN), result.stderr


def test_many_files_unwrap_each_data_key_once(pysops: Any, env: dict[str, str], fake: FakeCloudKMS) -> None:
    Path("tree").mkdir()
    original = encrypt_file(pysops, env, "tree/a.yaml")
    for i in range(5):  # copies share one wrapped data key
        Path(f"tree/copy{i}.yaml").write_bytes(original.read_bytes())
    encrypt_file(pysops, env, "tree/other.yaml")  # a second data key
    fake.calls.clear()
    result = pysops(["decrypt", "--recursive", "--output-dir", "out", "tree"], env=env)
    assert result.code == 0, result.stderr
    assert sorted(p.name for p in Path("out").iterdir()) == sorted(p.name for p in Path("tree").iterdir())
    assert all(p.read_bytes() == PLAIN for p in Path("out").iterdir())
    assert fake.calls == {"decrypt": 2}
    # within one KeyContext, the same stanza is never sent twice (rotate/updatekeys paths)
    from pysops.metadata import Metadata

    meta = Metadata.from_dict(_load(original.read_bytes())["sops"])
    context = KeyContext(env)
    keys = {key_type("gcp_kms").unwrap(meta.key_groups[0][0], context) for _ in range(3)}
    assert len(keys) == 1 and fake.calls == {"decrypt": 3}


# -------------------------------------------------------------------------------- credentials


def test_google_credentials_file_and_content(pysops: Any, env: dict[str, str], fake: FakeCloudKMS) -> None:
    info, public_key = make_service_account(SA_EMAIL)
    fake.add_service_account(SA_EMAIL, public_key)
    Path("sa.json").write_text(json.dumps(info))
    # GOOGLE_CREDENTIALS wins over a (here wrong) GOOGLE_OAUTH_ACCESS_TOKEN, as in sops
    as_path = {**env, "GOOGLE_CREDENTIALS": str(Path("sa.json").resolve()), "GOOGLE_OAUTH_ACCESS_TOKEN": "wrong"}
    path = encrypt_file(pysops, as_path)
    as_json = {**env, "GOOGLE_CREDENTIALS": json.dumps(info)}
    del as_json["GOOGLE_OAUTH_ACCESS_TOKEN"]
    result = pysops(["decrypt", str(path)], env=as_json)
    assert (result.code, result.stdout) == (0, PLAIN), result.stderr
    broken = pysops(["decrypt", str(path)], env={**env, "GOOGLE_CREDENTIALS": "{not json"})
    assert broken.code == 128
    assert "GOOGLE_CREDENTIALS does not hold usable credentials JSON" in broken.stderr


def test_wrong_token_and_no_credentials(pysops: Any, env: dict[str, str], fake: FakeCloudKMS) -> None:
    path = encrypt_file(pysops, env)
    before = path.read_bytes()
    result = pysops(["decrypt", str(path)], env={**env, "GOOGLE_OAUTH_ACCESS_TOKEN": "expired"})
    assert result.code == 128
    assert f"gcp_kms: decrypt with {KEY} at {fake.endpoint}: not authenticated" in result.stderr
    no_creds = {k: v for k, v in env.items() if k != "GOOGLE_OAUTH_ACCESS_TOKEN"}
    result = pysops(["decrypt", str(path)], env=no_creds)
    assert result.code == 128
    assert "gcp_kms: no Google credentials found" in result.stderr
    assert "Traceback" not in result.stderr
    assert path.read_bytes() == before


# -------------------------------------------------------------------------------- faults


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("down", "cannot connect (connection refused)"),
        ("hang", "no answer within 1 s"),
        ("deny", "permission denied (Permission 'cloudkms.cryptoKeyVersions.useToDecrypt' denied"),
        ("malformed", "malformed response from the server"),
        ("unavailable", "still unavailable after 1 s of retries"),
        ("garbled", "HTTP 400 (Decryption failed: the ciphertext is invalid.)"),
    ],
)
def test_decrypt_faults(pysops: Any, env: dict[str, str], fake: FakeCloudKMS, mode: str, message: str) -> None:
    path = encrypt_file(pysops, env)
    if mode == "garbled":
        text = path.read_text()
        enc = stanzas(path)[0]["enc"]
        path.write_text(text.replace(enc, base64.b64encode(b"fk1" + bytes(40)).decode()))
    before = path.read_bytes()
    run_env = env
    if mode == "down":
        run_env = {**env, "PYSOPS_GCP_KMS_ENDPOINT": "http://127.0.0.1:9"}
    elif mode != "garbled":
        fake.mode = mode
    start = time.monotonic()
    result = pysops(["decrypt", "-i", str(path)], env=run_env)
    elapsed = time.monotonic() - start
    assert result.code == 128, result.stderr
    assert "could not recover the data key" in result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert path.read_bytes() == before
    assert elapsed < (4.0 if mode in ("hang", "unavailable") else 1.5)
    if mode == "hang":
        assert elapsed >= 0.9


@pytest.mark.parametrize("mode", ["down", "hang", "deny", "malformed", "unknown-key"])
def test_encrypt_faults_write_nothing(pysops: Any, env: dict[str, str], fake: FakeCloudKMS, mode: str) -> None:
    path = Path("plain.yaml")
    path.write_bytes(PLAIN)
    run_env = env
    target = KEY
    if mode == "down":
        run_env = {**env, "PYSOPS_GCP_KMS_ENDPOINT": "127.0.0.1:9"}
    elif mode == "unknown-key":
        target = KEY.replace("key1", "nope")
    else:
        fake.mode = mode
    result = pysops(["encrypt", "-i", "--gcp-kms", target, str(path)], env=run_env)
    assert result.code != 0
    assert f"gcp_kms: encrypt with {target}" in result.stderr
    assert "Traceback" not in result.stderr
    assert path.read_bytes() == PLAIN
    assert sorted(p.name for p in Path(".").iterdir()) == ["plain.yaml"]


def test_dead_endpoint_is_not_waited_for_twice(
    env: dict[str, str], fake: FakeCloudKMS, monkeypatch: pytest.MonkeyPatch
) -> None:
    kt = key_type("gcp_kms")
    for name in ("PYSOPS_GCP_KMS_ENDPOINT", "GOOGLE_OAUTH_ACCESS_TOKEN"):
        monkeypatch.setenv(name, env[name])  # wrap reads the process environment
    wrapped = gcp.GCPKMSRecipient(KEY).wrap(b"k" * 32, GoTime(2024, 1, 1, 0, 0, 0))
    assert wrapped.fields["created_at"] == "2024-01-01T00:00:00Z"
    fake.mode = "hang"
    context = KeyContext(env)
    start = time.monotonic()
    for _ in range(3):
        with pytest.raises(KeySourceError, match="no answer within 1 s"):
            kt.unwrap(wrapped, context)
    assert time.monotonic() - start < 2.5
    assert fake.calls["decrypt"] == 1


# -------------------------------------------------------------------------------- sops interop


def test_sops_reads_what_pysops_wrote(pysops: Any, env: dict[str, str], fake: FakeCloudKMS,
                                      sops_side: SopsSide) -> None:  # fmt: skip
    path = encrypt_file(pysops, env)
    result = run_sops(["decrypt", str(path)], sops_env(env, sops_side))
    assert result.code == 0, result.stderr
    assert result.stdout == PLAIN
    assert fake.calls == {"encrypt": 1, "decrypt": 1}
    assert sops_side.proxy.targets == [f"cloudkms.{UNIVERSE}:443"]


def test_pysops_reads_what_sops_wrote(pysops: Any, env: dict[str, str], fake: FakeCloudKMS, age_key: AgeKey,
                                      sops_side: SopsSide) -> None:  # fmt: skip
    Path("s.yaml").write_bytes(PLAIN)
    result = run_sops(["encrypt", "-i", "--gcp-kms", KEY, "--age", age_key.recipient, "s.yaml"],
                      sops_env(env, sops_side))  # fmt: skip
    assert result.code == 0, result.stderr
    [stanza] = stanzas(Path("s.yaml"))
    assert list(stanza) == ["resource_id", "created_at", "enc"]
    result = pysops(["decrypt", "s.yaml"], env=env)
    assert (result.code, result.stdout) == (0, PLAIN), result.stderr
    assert fake.calls == {"encrypt": 1, "decrypt": 1}
    # pysops rewrites the file (rotate) and sops still opens it through the KMS alone
    assert pysops(["rotate", "-i", "s.yaml"], env=env).code == 0
    result = run_sops(["decrypt", "s.yaml"], sops_env(env, sops_side))
    assert (result.code, result.stdout) == (0, PLAIN), result.stderr
