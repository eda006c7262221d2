"""Azure Key Vault recipients against a loopback HTTPS fake driven by the official SDKs.

azure-identity (DefaultAzureCredential -> client secret from the environment) gets a token from the
fake's token endpoint, azure-keyvault-keys meets the 401 bearer challenge and then calls GetKey /
encrypt / decrypt over real HTTPS (a CA made by the fixture). sops cannot be pointed at a vault on
127.0.0.1, so interop with sops covers the metadata: sops decrypts (with age) a file holding our
azure_kv stanza and keeps it when it rewrites the file, and pysops unwraps the stanza sops wrote.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from tests.conftest import AgeKey, run_sops
from tests.keys.azure_kv_fake import OAEP, FakeAzure, unb64url

from pysops.keys import KeyContext, WrappedKey
from pysops.keys.azure_kv import KEY_TYPE, AzureRecipient
from pysops.values import GoTime

PLAIN = b"db:\n    user: admin\n    password: s3cr3t\nport: 5432\n"
T0 = GoTime(2025, 1, 2, 3, 4, 5)


@pytest.fixture(autouse=True)
def _fresh_sessions() -> Iterator[None]:
    KEY_TYPE.reset()
    yield
    KEY_TYPE.reset()
    KEY_TYPE.credential_factory = None


@pytest.fixture
def fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeAzure]:
    server = FakeAzure(tmp_path_factory.mktemp("tls")).start()
    server.add_key("sops")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def env(clean_env: dict[str, str], fake: FakeAzure, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name, value in fake.env().items():
        monkeypatch.setenv(name, value)
    return {**clean_env, **fake.env()}


def _stanza_block(text: str) -> str:
    return text[text.index("    azure_kv:") : text.index("    lastmodified:")]


# --------------------------------------------------------------------------------------------
# Recipient syntax


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://v.vault.azure.net/keys/k/0123abcd", ("https://v.vault.azure.net", "k", "0123abcd")),
        (" https://v.vault.azure.net/keys/k ", ("https://v.vault.azure.net", "k", "")),
        ("https://v.vault.azure.net/keys/k/", ("https://v.vault.azure.net", "k", "")),
        ("https://127.0.0.1:8443/keys/my-key/v1", ("https://127.0.0.1:8443", "my-key", "v1")),
    ],
)
def test_parse_recipient(text: str, expected: tuple[str, str, str]) -> None:
    recipient = KEY_TYPE.parse_recipient(text)
    assert (recipient.vault_url, recipient.name, recipient.version) == expected
    assert recipient.id == text.strip().rstrip("/")


@pytest.mark.parametrize(
    "text",
    ["http://v.vault.azure.net/keys/k/1", "https://v.vault.azure.net/secrets/k/1", "https://v/keys/k/1/x", "k"],
)
def test_parse_recipient_rejects(text: str) -> None:
    from pysops.errors import ConfigError

    with pytest.raises(ConfigError, match="Azure Key Vault key URL"):
        KEY_TYPE.parse_recipient(text)


def test_key_group_entries() -> None:
    from pysops.errors import ConfigError

    entry = {"vaultUrl": "https://v.vault.azure.net", "key": "k", "version": ""}
    assert KEY_TYPE.recipient_from_config(entry) == AzureRecipient("https://v.vault.azure.net", "k", "")
    assert KEY_TYPE.recipient_from_config({**entry, "version": "9"}).id == "https://v.vault.azure.net/keys/k/9"
    for bad in ({"key": "k"}, {"vaultUrl": "https://v"}, {**entry, "version": 3}, ["x"]):
        with pytest.raises(ConfigError):
            KEY_TYPE.recipient_from_config(bad)


# --------------------------------------------------------------------------------------------
# Wrapping through the SDK


def test_wrap_resolves_the_version_and_stores_base64url_rsa_oaep_256(env: dict[str, str], fake: FakeAzure) -> None:
    ((version, private),) = fake.keys["sops"]
    data_key = bytes(range(32))
    wrapped = KEY_TYPE.parse_recipient(fake.key_url("sops")).wrap(data_key, T0)
    assert list(wrapped.fields) == ["vault_url", "name", "version", "created_at", "enc"]
    assert wrapped.fields["vault_url"] == fake.url
    assert wrapped.fields["name"] == "sops"
    assert wrapped.fields["version"] == version  # resolved by GetKey and stored
    assert wrapped.fields["created_at"] == "2025-01-02T03:04:05Z"
    enc = wrapped.enc
    assert len(enc) == 342 and "=" not in enc and "+" not in enc and "/" not in enc
    assert private.decrypt(unb64url(enc), OAEP) == data_key
    assert fake.calls["challenge"] == 1 and fake.calls["token"] == 1
    # unwrap in a fresh context: challenge, token, GetKey (SDK), then the remote decrypt
    assert KEY_TYPE.unwrap(wrapped, KeyContext(env)) == data_key
    assert fake.calls["decrypt"] == 1


def test_remote_encrypt_when_keys_get_is_forbidden(env: dict[str, str], fake: FakeAzure) -> None:
    version = fake.keys["sops"][0][0]
    fake.fault = "forbid_get"  # an identity with only keys/encrypt + keys/decrypt
    wrapped = KEY_TYPE.parse_recipient(fake.key_url("sops", version)).wrap(b"k" * 32, T0)
    assert fake.calls["encrypt"] == 1
    assert fake.private_key("sops", version).decrypt(unb64url(wrapped.enc), OAEP) == b"k" * 32
    assert KEY_TYPE.unwrap(wrapped, KeyContext(env)) == b"k" * 32


def test_an_injected_static_token_credential(env: dict[str, str], fake: FakeAzure) -> None:
    class StaticToken:
        def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
            assert scopes == ("https://vault.azure.net/.default",)
            return AccessToken(fake.token, int(time.time()) + 3600)

    KEY_TYPE.credential_factory = lambda e: StaticToken()
    wrapped = KEY_TYPE.parse_recipient(fake.key_url("sops")).wrap(b"x" * 32, T0)
    assert KEY_TYPE.unwrap(wrapped, KeyContext(env)) == b"x" * 32
    assert fake.calls["token"] == 0


# --------------------------------------------------------------------------------------------
# CLI, metadata layout, interop with sops


def test_cli_round_trip_and_stanza_layout(env: dict[str, str], fake: FakeAzure, pysops: Any) -> None:
    version = fake.keys["sops"][0][0]
    Path("s.yaml").write_bytes(PLAIN)
    r = pysops(["encrypt", "--azure-kv", fake.key_url("sops"), "s.yaml"], env)
    assert r.code == 0, r.stderr
    text = r.stdout.decode()
    block = _stanza_block(text)
    lines = block.splitlines()
    assert lines[:5] == [
        "    azure_kv:",
        f"        - vault_url: {fake.url}",
        "          name: sops",
        f"          version: {version}",
        lines[4],
    ]
    assert lines[4].startswith('          created_at: "') and lines[5].startswith("          enc: ")
    Path("s.enc.yaml").write_text(text)
    r = pysops(["decrypt", "s.enc.yaml"], env)
    assert r.code == 0, r.stderr
    assert r.stdout == PLAIN


def test_sops_reads_our_stanza_and_pysops_reads_the_one_sops_writes(
    env: dict[str, str], fake: FakeAzure, age_key: AgeKey, pysops: Any
) -> None:
    Path("s.yaml").write_bytes(PLAIN)
    r = pysops(["encrypt", "--azure-kv", fake.key_url("sops"), "--age", age_key.recipient, "s.yaml"], env)
    assert r.code == 0, r.stderr
    ours = r.stdout.decode()
    Path("s.enc.yaml").write_text(ours)
    sops_env = {**env, "SOPS_AGE_KEY": age_key.identity}
    s = run_sops(["decrypt", "s.enc.yaml"], sops_env)
    assert s.code == 0, s.stderr
    assert s.stdout == PLAIN
    # sops rewrites the file (set) and keeps our azure_kv stanza in its own serialisation
    s = run_sops(["set", "s.enc.yaml", '["port"]', "6543"], sops_env)
    assert s.code == 0, s.stderr
    theirs = Path("s.enc.yaml").read_text()
    assert theirs != ours
    assert _stanza_block(theirs) == _stanza_block(ours)
    # pysops unwraps the stanza sops wrote, with Azure only (no age identity)
    r = pysops(["decrypt", "--extract", '["port"]', "s.enc.yaml"], env)
    assert r.code == 0, r.stderr
    assert r.stdout.strip() == b"6543"
    # sops's JSON form of the stanza (crafted from the YAML one) is read as well
    s = run_sops(["decrypt", "--output-type", "json", "s.enc.yaml"], sops_env)
    assert s.code == 0


def test_key_groups_mixing_azure_kv_and_age(env: dict[str, str], fake: FakeAzure, age_key: AgeKey, pysops: Any) -> None:
    Path(".sops.yaml").write_text(
        "creation_rules:\n"
        "  - key_groups:\n"
        f"      - azure_keyvault:\n          - vaultUrl: {fake.url}\n            key: sops\n            version: ''\n"
        f"      - age:\n          - {age_key.recipient}\n"
    )
    Path("s.yaml").write_bytes(PLAIN)
    r = pysops(["encrypt", "-i", "s.yaml"], env)
    assert r.code == 0, r.stderr
    text = Path("s.yaml").read_text()
    assert "key_groups:" in text and "azure_kv:" in text and "shamir_threshold: 2" in text
    both = {**env, "SOPS_AGE_KEY": age_key.identity}
    r = pysops(["decrypt", "s.yaml"], both)
    assert r.code == 0, r.stderr
    assert r.stdout == PLAIN
    fake.fault = "forbidden"
    before = Path("s.yaml").read_bytes()
    r = pysops(["decrypt", "-i", "s.yaml"], both)
    assert r.code == 128
    assert "group 0" in r.stderr and "access denied (HTTP 403)" in r.stderr and "Traceback" not in r.stderr
    assert Path("s.yaml").read_bytes() == before


def test_flat_creation_rule_and_env_recipients(env: dict[str, str], fake: FakeAzure, pysops: Any) -> None:
    Path(".sops.yaml").write_text(f"creation_rules:\n  - azure_keyvault: {fake.key_url('sops')}\n")
    Path("a.yaml").write_bytes(PLAIN)
    assert pysops(["encrypt", "-i", "a.yaml"], env).code == 0
    Path(".sops.yaml").unlink()
    Path("b.yaml").write_bytes(PLAIN)
    r = pysops(["encrypt", "-i", "b.yaml"], {**env, "SOPS_AZURE_KEYVAULT_URLS": fake.key_url("sops")})
    assert r.code == 0, r.stderr
    for name in ("a.yaml", "b.yaml"):
        assert "azure_kv:" in Path(name).read_text()
        r = pysops(["decrypt", name], env)
        assert (r.code, r.stdout) == (0, PLAIN)


def test_rotate_add_rm_and_groups_add(env: dict[str, str], fake: FakeAzure, age_key: AgeKey, pysops: Any) -> None:
    other = fake.add_key("other")
    Path("s.yaml").write_bytes(PLAIN)
    assert pysops(["encrypt", "-i", "--azure-kv", fake.key_url("sops"), "s.yaml"], env).code == 0
    r = pysops(["rotate", "-i", "--add-azure-kv", fake.key_url("other", other), "s.yaml"], env)
    assert r.code == 0, r.stderr
    text = Path("s.yaml").read_text()
    assert text.count("vault_url:") == 2 and f"version: {other}" in text
    sops_version = fake.keys["sops"][0][0]
    r = pysops(["rotate", "-i", "--rm-azure-kv", fake.key_url("sops", sops_version), "s.yaml"], env)
    assert r.code == 0, r.stderr
    text = Path("s.yaml").read_text()
    assert text.count("vault_url:") == 1 and "name: other" in text
    r = pysops(["groups", "add", "-i", "-f", "s.yaml", "--age", age_key.recipient], env)
    assert r.code == 0, r.stderr
    r = pysops(
        ["groups", "add", "-i", "-f", "s.yaml", "--azure-kv", fake.key_url("sops")],
        {**env, "SOPS_AGE_KEY": age_key.identity},
    )
    assert r.code == 0, r.stderr
    assert Path("s.yaml").read_text().count("vault_url:") == 2
    r = pysops(["decrypt", "s.yaml"], {**env, "SOPS_AGE_KEY": age_key.identity})
    assert (r.code, r.stdout) == (0, PLAIN), r.stderr


def test_many_files_sharing_a_stanza_unwrap_once(env: dict[str, str], fake: FakeAzure, pysops: Any) -> None:
    Path("s.yaml").write_bytes(PLAIN)
    r = pysops(["encrypt", "--azure-kv", fake.key_url("sops"), "s.yaml"], env)
    assert r.code == 0
    Path("d/sub").mkdir(parents=True)
    for name in ("a.yaml", "b.yaml", "sub/c.yaml", "sub/d.yaml"):
        Path("d", name).write_bytes(r.stdout)
    assert fake.calls["decrypt"] == 0
    r = pysops(["decrypt", "--recursive", "d", "--output-dir", "out"], env)
    assert r.code == 0, r.stderr
    assert Path("out/sub/d.yaml").read_bytes() == PLAIN
    assert fake.calls["decrypt"] == 1
    assert fake.calls["token"] == 2  # one for encrypt, one for the decrypting process context


# --------------------------------------------------------------------------------------------
# Faults: right error and exit code, nothing written, no traceback, bounded time


FAULTS = {
    "down": "cannot reach the vault (network error",
    "hang": "the vault did not answer within 0.5s (PYSOPS_AZURE_KV_TIMEOUT)",
    "forbidden": "access denied (HTTP 403)",
    "malformed": "malformed response from the vault",
    "no_value": "malformed response from the vault",
    "bad_secret": "Azure authentication failed",
}


def _apply_fault(fault: str, fake: FakeAzure, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {**env, "PYSOPS_AZURE_KV_TIMEOUT": "0.5", "PYSOPS_AZURE_KV_RETRIES": "0"}
    if fault == "down":
        fake.stop("vault")
    elif fault == "bad_secret":
        env["AZURE_CLIENT_SECRET"] = "wrong"
    else:
        fake.fault = fault
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.mark.parametrize("fault", list(FAULTS))
def test_decrypt_faults(
    fault: str, env: dict[str, str], fake: FakeAzure, pysops: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    Path("s.yaml").write_bytes(PLAIN)
    assert pysops(["encrypt", "-i", "--azure-kv", fake.key_url("sops"), "s.yaml"], env).code == 0
    before = Path("s.yaml").read_bytes()
    KEY_TYPE.reset()
    env = _apply_fault(fault, fake, env, monkeypatch)
    start = time.monotonic()
    r = pysops(["decrypt", "-i", "s.yaml"], env)
    elapsed = time.monotonic() - start
    assert r.code == 128
    assert FAULTS[fault] in r.stderr
    assert f"{fake.url}/keys/sops/" in r.stderr and "Traceback" not in r.stderr
    assert r.stderr.startswith("pysops: error: could not recover the data key")
    assert Path("s.yaml").read_bytes() == before
    assert elapsed < 5


@pytest.mark.parametrize("fault", list(FAULTS))
def test_encrypt_faults(
    fault: str, env: dict[str, str], fake: FakeAzure, pysops: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    Path("s.yaml").write_bytes(PLAIN)
    env = _apply_fault(fault, fake, env, monkeypatch)
    # versioned for no_value: GetKey is refused there, so the SDK calls the vault's encrypt
    url = fake.key_url("sops", fake.keys["sops"][0][0] if fault == "no_value" else "")
    r = pysops(["encrypt", "-i", "--azure-kv", url, "s.yaml"], env)
    assert r.code == 1
    assert f"azure_kv: could not encrypt the data key with {url}: " in r.stderr
    assert FAULTS[fault] in r.stderr and "Traceback" not in r.stderr
    assert Path("s.yaml").read_bytes() == PLAIN


def test_unknown_key_and_bad_enc(env: dict[str, str], fake: FakeAzure) -> None:
    from pysops.errors import KeySourceError

    with pytest.raises(KeySourceError, match=r"key not found \(HTTP 404\)"):
        KEY_TYPE.parse_recipient(fake.key_url("nope")).wrap(b"k" * 32, T0)
    stanza = {"vault_url": fake.url, "name": "sops", "version": "v", "created_at": "", "enc": "a+b/="}
    with pytest.raises(KeySourceError, match="not base64url"):
        KEY_TYPE.unwrap(KEY_TYPE.from_metadata(stanza), KeyContext(env))


def test_dead_endpoint_with_default_retries_fails_fast(
    env: dict[str, str], fake: FakeAzure, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pysops.errors import KeySourceError

    wrapped = KEY_TYPE.parse_recipient(fake.key_url("sops")).wrap(b"k" * 32, T0)
    fake.stop("vault")
    start = time.monotonic()
    with pytest.raises(KeySourceError, match="cannot reach the vault"):
        KEY_TYPE.unwrap(wrapped, KeyContext(env))
    assert time.monotonic() - start < 4  # 2 retries: ~1.6 s of back-off


def test_missing_sdk_names_the_extra(
    env: dict[str, str], fake: FakeAzure, pysops: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for module in ("azure.keyvault.keys", "azure.keyvault.keys.crypto", "azure.identity"):
        monkeypatch.setitem(sys.modules, module, None)
    Path("s.yaml").write_bytes(PLAIN)
    r = pysops(["encrypt", "-i", "--azure-kv", fake.key_url("sops"), "s.yaml"], env)
    assert r.code == 1
    assert "requires pysops[azure]" in r.stderr and "pip install 'pysops[azure]'" in r.stderr
    assert Path("s.yaml").read_bytes() == PLAIN


def test_stanza_round_trips_through_metadata() -> None:
    stanza = {"vault_url": "https://v.vault.azure.net", "name": "k", "version": "1", "created_at": "t", "enc": "e"}
    wrapped = KEY_TYPE.from_metadata(stanza)
    assert wrapped == WrappedKey("azure_kv", stanza)
    assert KEY_TYPE.recipient_of(wrapped).id == "https://v.vault.azure.net/keys/k/1"
