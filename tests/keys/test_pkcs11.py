"""PKCS#11 recipients against a real SoftHSM2 token made by a fixture.

The token (label ``pysops``, user PIN 1234) holds an RSA-2048 pair ``sops-key`` (id 01) and an AES-256
key ``sops-aes`` whose value the test knows, so the on-disk ``enc`` can be checked in software
(OAEP with ``cryptography``, RFC 5649 key wrap) as well as through the token.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from tests.conftest import AgeKey, run_sops

from pysops.errors import ConfigError, KeySourceError, MissingDependency, NotMyKey
from pysops.keys import KeyContext, WrappedKey
from pysops.keys import pkcs11 as hsm
from pysops.values import GoTime

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
PIN = "1234"
RSA_URI = "pkcs11:token=pysops;object=sops-key"
AES_URI = "pkcs11:token=pysops;object=sops-aes;type=secret-key"
AES_VALUE = bytes(range(32))
PLAIN = b"# settings\napp:\n    password: hunter2\n    port: 5432\n"
CREATED = GoTime(2024, 5, 6, 7, 8, 9)
YAML_SAFE = YAML(typ="safe")

pytestmark = pytest.mark.skipif(
    not (os.path.exists(MODULE) and shutil.which("softhsm2-util")), reason="SoftHSM2 is not installed"
)


@dataclass
class Token:
    conf: str
    modulus: int
    exponent: int


@pytest.fixture(scope="session")
def token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Token]:
    """A private SoftHSM2 configuration and token directory; the keys are made with python-pkcs11."""
    import pkcs11
    from pkcs11 import Attribute, KeyType, MechanismFlag, ObjectClass

    root = tmp_path_factory.mktemp("softhsm")
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOFTHSM2_CONF", str(conf))
        subprocess.run(
            ["softhsm2-util", "--init-token", "--free", "--label", "pysops", "--pin", PIN, "--so-pin", "5678"],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        lib = pkcs11.lib(MODULE)
        lib.reinitialize()  # SoftHSM reads its configuration and tokens at C_Initialize
        with lib.get_token(token_label="pysops").open(rw=True, user_pin=PIN) as session:
            public, _ = session.generate_keypair(
                KeyType.RSA, 2048, label="sops-key", id=b"\x01", store=True,
                capabilities=MechanismFlag.ENCRYPT | MechanismFlag.DECRYPT,
            )  # fmt: skip
            session.create_object(
                {
                    Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: KeyType.AES,
                    Attribute.VALUE: AES_VALUE, Attribute.LABEL: "sops-aes", Attribute.TOKEN: True,
                    Attribute.PRIVATE: True, Attribute.WRAP: True, Attribute.UNWRAP: True,
                    Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False,
                }
            )  # fmt: skip
            modulus = int.from_bytes(public[Attribute.MODULUS], "big")
            exponent = int.from_bytes(public[Attribute.PUBLIC_EXPONENT], "big")
        yield Token(str(conf), modulus, exponent)
        hsm.logout_all()


@pytest.fixture
def env(clean_env: dict[str, str], token: Token) -> dict[str, str]:
    return {**clean_env, "SOFTHSM2_CONF": token.conf, "PYSOPS_PKCS11_MODULE": MODULE, "PYSOPS_PKCS11_PIN": PIN}


def no_hsm(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if not k.startswith("PYSOPS_PKCS11_")}


def stanzas(text: bytes) -> list[dict[str, str]]:
    data = YAML_SAFE.load(text)
    found: list[dict[str, str]] = data["sops"]["pkcs11"]
    return found


# --------------------------------------------------------------------------------------------
# URIs


def test_uri_parsing_canonical_form_and_pin_value_never_stored() -> None:
    uri = hsm.parse_uri("pkcs11:token=my%20token;object=sops-key;id=%01%AB;type=private?module-path=/x/y.so")
    assert uri.get("token") == "my token" and uri.key_id == b"\x01\xab" and uri.get("module-path") == "/x/y.so"
    assert uri.text() == "pkcs11:token=my%20token;object=sops-key;id=%01%ab;type=private?module-path=/x/y.so"
    recipient = hsm.KEY_TYPE.parse_recipient(f"{RSA_URI}?pin-value=1234&pin-source=file:/run/pin")
    assert recipient.id == f"{RSA_URI}?pin-source=file:/run/pin"
    assert "1234" not in repr(recipient) and recipient.parsed.get("pin-value") == "1234"
    assert hsm.KEY_TYPE.recipient_from_config({"uri": RSA_URI}) == hsm.KEY_TYPE.parse_recipient(RSA_URI)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("token=pysops;object=k", "is not a PKCS#11 URI"),
        ("pkcs11:token=pysops", "does not name a key"),
        ("pkcs11:token=pysops;object=k;module-path=/m.so", "module-path is a query attribute"),
        ("pkcs11:token=pysops;object=k;colour=red", "unknown attribute 'colour'"),
        ("pkcs11:token=a;token=b;object=k", "appears twice"),
        ("pkcs11:object=k;type=cert", "is not a key type"),
        ("pkcs11:object=k%zz", "bad percent-encoding"),
        ("pkcs11:object=k?pin=1", "unknown query attribute"),
        ("pkcs11:object", "not an attribute=value pair"),
    ],
)
def test_invalid_uris_are_refused(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        hsm.parse_uri(text)


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=1, max_size=12), st.binary(min_size=1, max_size=6))
def test_canonical_text_parses_back_to_the_same_uri(label: str, key_id: bytes) -> None:
    from urllib.parse import quote

    try:
        first = hsm.parse_uri(f"pkcs11:token=t;object={quote(label, safe='')};id={quote(key_id, safe='')}")
    except ConfigError:
        pytest.fail("a percent-encoded label must parse")
    assert first.get("object") == label and first.key_id == key_id
    assert hsm.parse_uri(first.text()) == first


# --------------------------------------------------------------------------------------------
# Wrapping, checked in software against the token's keys


def test_rsa_oaep_stanza_and_software_cross_check(env: dict[str, str], token: Token, monkeypatch: Any) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    data_key = os.urandom(32)
    wrapped = hsm.KEY_TYPE.parse_recipient(RSA_URI).wrap(data_key, CREATED)
    # SoftHSM2 2.6 refuses OAEP with SHA-256, so the recorded mechanism is the SHA-1 fallback.
    assert list(wrapped.fields) == ["uri", "mechanism", "created_at", "enc"]
    assert wrapped.fields["uri"] == RSA_URI and wrapped.fields["mechanism"] == hsm.RSA_OAEP_SHA1
    assert wrapped.fields["created_at"] == "2024-05-06T07:08:09Z"
    assert len(base64.b64decode(wrapped.enc, validate=True)) == 256
    context = KeyContext(env)
    assert hsm.KEY_TYPE.unwrap(wrapped, context) == data_key
    # A stanza produced by any standard OAEP implementation under the token's public key opens.
    public = rsa.RSAPublicNumbers(token.exponent, token.modulus).public_key()
    sha1 = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
    other_key = os.urandom(33)  # a Shamir share is 33 bytes
    enc = base64.b64encode(public.encrypt(other_key, sha1)).decode()
    foreign = WrappedKey("pkcs11", {**wrapped.fields, "enc": enc})
    assert hsm.KEY_TYPE.unwrap(foreign, context) == other_key
    # OAEP-SHA256 stanzas are decrypted with SHA-256 parameters, which this SoftHSM refuses: an error
    sha256 = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    enc256 = base64.b64encode(public.encrypt(other_key, sha256)).decode()
    stanza = WrappedKey("pkcs11", {**wrapped.fields, "mechanism": hsm.RSA_OAEP_SHA256, "enc": enc256})
    with pytest.raises(KeySourceError, match="could not decrypt the data key"):
        hsm.KEY_TYPE.unwrap(stanza, context)


def test_aes_key_wrap_pad_is_rfc5649(env: dict[str, str], monkeypatch: Any) -> None:
    from cryptography.hazmat.primitives.keywrap import aes_key_unwrap_with_padding, aes_key_wrap_with_padding

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    recipient = hsm.KEY_TYPE.parse_recipient(AES_URI)
    data_key = os.urandom(32)
    wrapped = recipient.wrap(data_key, CREATED)
    assert wrapped.fields["mechanism"] == hsm.AES_KEY_WRAP_PAD
    assert aes_key_unwrap_with_padding(AES_VALUE, base64.b64decode(wrapped.enc)) == data_key
    assert hsm.KEY_TYPE.unwrap(wrapped, KeyContext(env)) == data_key
    # RFC 5649 with padding (a 33-byte Shamir share) written elsewhere unwraps on the token...
    share = os.urandom(33)
    enc = base64.b64encode(aes_key_wrap_with_padding(AES_VALUE, share)).decode()
    assert hsm.KEY_TYPE.unwrap(WrappedKey("pkcs11", {**wrapped.fields, "enc": enc}), KeyContext(env)) == share
    # ...but SoftHSM2 2.6 wraps padded values wrongly: the self-check refuses to write such a stanza
    with pytest.raises(KeySourceError, match="does not follow RFC 5649 for 33-byte values"):
        recipient.wrap(share, CREATED)


# --------------------------------------------------------------------------------------------
# CLI round trips, HSM-only policy, interop with sops


def test_hsm_only_needs_the_flag_or_the_policy(env: dict[str, str], pysops: Any) -> None:
    Path("s.yaml").write_bytes(PLAIN)
    r = pysops(["encrypt", "-i", "--pkcs11", RSA_URI, "s.yaml"], env)
    assert r.code == 1 and "sops cannot use" in r.stderr and "--allow-hsm-only" in r.stderr
    assert Path("s.yaml").read_bytes() == PLAIN
    r = pysops(["encrypt", "--allow-hsm-only", "--pkcs11", AES_URI, "s.yaml"], env)
    assert r.code == 0, r.stderr
    assert [s["uri"] for s in stanzas(r.stdout)] == [AES_URI]
    Path("e.yaml").write_bytes(r.stdout)
    assert pysops(["decrypt", "e.yaml"], env).stdout == PLAIN
    # recipients from the environment, as SOPS_AGE_RECIPIENTS for age
    r = pysops(["encrypt", "--allow-hsm-only", "s.yaml"], {**env, "PYSOPS_PKCS11_URIS": f"{RSA_URI},{AES_URI}"})
    assert r.code == 0, r.stderr
    assert [s["uri"] for s in stanzas(r.stdout)] == [RSA_URI, AES_URI]
    # rotating an HSM-only file keeps it HSM-only (it was allowed when it was made)
    assert pysops(["rotate", "-i", "e.yaml"], env).code == 0
    assert pysops(["decrypt", "e.yaml"], env).stdout == PLAIN
    # a creation rule with a pkcs11 key: refused without the policy, allowed with it
    rule = f"creation_rules:\n  - pkcs11: '{RSA_URI}'\n"
    Path(".sops-policy.yaml").write_text(rule)
    r = pysops(["encrypt", "s.yaml"], env)
    assert r.code == 1 and "sops cannot use" in r.stderr
    Path(".sops-policy.yaml").write_text(rule + "policy:\n  allow_hsm_only: true\n")
    r = pysops(["encrypt", "s.yaml"], env)
    assert r.code == 0, r.stderr
    assert [(s["uri"], s["mechanism"]) for s in stanzas(r.stdout)] == [(RSA_URI, hsm.RSA_OAEP_SHA1)]


def test_age_plus_pkcs11_sops_reads_it_with_age_pysops_with_the_hsm(
    env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    Path("s.yaml").write_bytes(PLAIN)
    r = pysops(["encrypt", "--age", age_key.recipient, "--pkcs11", RSA_URI, "s.yaml"], env)
    assert r.code == 0, r.stderr
    enc = Path("e.yaml")
    enc.write_bytes(r.stdout)
    text = r.stdout.decode()
    # pkcs11 is unknown to sops: emitted after sops's own fields, before the selection and version
    assert text.index("    age:") < text.index("    mac:") < text.index("    pkcs11:") < text.index("    version:")
    # pysops with the HSM only (no age identity anywhere)
    assert pysops(["decrypt", str(enc)], env).stdout == PLAIN
    # the real sops ignores the pkcs11 stanza and decrypts with the age key
    sops_env = {**no_hsm(env), "SOPS_AGE_KEY": age_key.identity}
    out = run_sops(["decrypt", str(enc)], sops_env)
    assert out.code == 0, out.stderr
    assert out.stdout == PLAIN
    # ...but a file sops rewrites loses the pkcs11 stanza (sops does not know it): documented
    assert run_sops(["rotate", "-i", str(enc)], sops_env).code == 0
    rewritten = enc.read_bytes()
    assert b"pkcs11" not in rewritten and b"age" in rewritten
    r = pysops(["decrypt", str(enc)], env)
    assert r.code == 128 and "could not recover the data key" in r.stderr


def test_rotate_add_and_rm_pkcs11_and_groups(env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    Path("s.yaml").write_bytes(PLAIN)
    assert pysops(["encrypt", "-i", "--age", age_key.recipient, "s.yaml"], env).code == 0
    r = pysops(["rotate", "-i", "--add-pkcs11", AES_URI, "s.yaml"], {**env, "SOPS_AGE_KEY": age_key.identity})
    assert r.code == 0, r.stderr
    assert [s["uri"] for s in stanzas(Path("s.yaml").read_bytes())] == [AES_URI]
    assert pysops(["decrypt", "s.yaml"], env).stdout == PLAIN  # through the HSM: no age identity
    # removing the only sops-usable recipient would make the file unreadable for sops: refused
    before = Path("s.yaml").read_bytes()
    r = pysops(["rotate", "-i", "--rm-age", age_key.recipient, "s.yaml"], {**env, "SOPS_AGE_KEY": age_key.identity})
    assert r.code == 1 and "sops cannot use" in r.stderr and Path("s.yaml").read_bytes() == before
    r = pysops(["rotate", "-i", "--rm-pkcs11", AES_URI, "s.yaml"], env)
    assert r.code == 0, r.stderr
    assert b"pkcs11" not in Path("s.yaml").read_bytes()
    both = {**env, "SOPS_AGE_KEY": age_key.identity}
    args = ["groups", "add", "-i", "-f", "s.yaml", "--pkcs11", RSA_URI, "--shamir-secret-sharing-threshold", "2"]
    r = pysops(args, both)
    assert r.code == 0, r.stderr
    text = Path("s.yaml").read_bytes()
    assert b"key_groups:" in text and b"shamir_threshold: 2" in text
    assert [s["uri"] for g in YAML_SAFE.load(text)["sops"]["key_groups"] for s in g.get("pkcs11", [])] == [RSA_URI]
    assert pysops(["decrypt", "s.yaml"], both).stdout == PLAIN  # an age share and an HSM share (33 bytes)
    assert pysops(["decrypt", "s.yaml"], no_hsm(both)).code == 128


# --------------------------------------------------------------------------------------------
# Faults: exit 128 on decrypt with the cause, nothing written, no traceback


@pytest.fixture
def hsm_file(env: dict[str, str], pysops: Any) -> Path:
    Path("s.yaml").write_bytes(PLAIN)
    r = pysops(["encrypt", "--allow-hsm-only", "--pkcs11", RSA_URI, "s.yaml"], env)
    assert r.code == 0, r.stderr
    enc = Path("e.yaml")
    enc.write_bytes(r.stdout)
    return enc


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"PYSOPS_PKCS11_PIN": "0000"}, "wrong PIN for token 'pysops' (CKR_PIN_INCORRECT)"),
        ({"PYSOPS_PKCS11_PIN": None}, "no PIN for pkcs11:token=pysops;object=sops-key"),
        ({"PYSOPS_PKCS11_MODULE": None}, "no PKCS#11 module configured"),
        ({"PYSOPS_PKCS11_MODULE": "/nonexistent/libhsm.so"}, "cannot load the PKCS#11 module /nonexistent/libhsm.so"),
        ({"PYSOPS_PKCS11_MODULE": "/etc/hostname"}, "cannot load the PKCS#11 module /etc/hostname"),
    ],
)
def test_decrypt_faults(
    env: dict[str, str], hsm_file: Path, pysops: Any, change: dict[str, str | None], message: str
) -> None:
    before = hsm_file.read_bytes()
    broken = {k: v for k, v in {**env, **change}.items() if v is not None}
    start = time.perf_counter()
    r = pysops(["decrypt", "-i", str(hsm_file)], broken)
    elapsed = time.perf_counter() - start
    assert r.code == 128, r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr
    assert hsm_file.read_bytes() == before
    assert elapsed < 2.0
    # the right PIN still works afterwards (a failed login leaves nothing behind)
    assert pysops(["decrypt", str(hsm_file)], env).stdout == PLAIN


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "token=pysops;object=sops-key",
            "token=absent;object=sops-key",
            "no token matches pkcs11:token=absent;object=sops-key (tokens present: 'pysops')",
        ),
        ("object=sops-key", "object=gone", "no RSA private key matching pkcs11:token=pysops;object=gone"),
        ("RSA-PKCS-OAEP-SHA1", "RSA-PKCS1-V1_5", "unsupported mechanism 'RSA-PKCS1-V1_5'"),
        ("enc: ", "enc: '!!'", "is not valid base64"),
        ("enc: ", "enc: AAAA", "could not decrypt the data key"),
        ("uri: pkcs11:", "uri: other:", "the file's uri is invalid"),
    ],
)
def test_broken_stanzas(env: dict[str, str], hsm_file: Path, pysops: Any, old: str, new: str, message: str) -> None:
    text = hsm_file.read_text()
    if old == "enc: ":  # replace the whole enc value
        head, _, tail = text.partition("          enc: ")
        text = head + "          " + new + "\n" + tail.split("\n", 1)[1]
    else:
        assert old in text
        text = text.replace(old, new)
    hsm_file.write_text(text)
    r = pysops(["decrypt", str(hsm_file)], env)
    assert r.code == 128 and message in r.stderr and "Traceback" not in r.stderr, r.stderr


@pytest.mark.parametrize(
    ("uri", "change", "message"),
    [
        ("pkcs11:token=absent;object=sops-key", {}, "no token matches"),
        ("pkcs11:token=pysops;object=nope", {}, "no RSA public key or AES secret key matching"),
        (AES_URI, {"PYSOPS_PKCS11_PIN": "0000"}, "wrong PIN"),
        (RSA_URI, {"PYSOPS_PKCS11_MODULE": None}, "no PKCS#11 module configured"),
    ],
)
def test_encrypt_faults_name_the_recipient_and_write_nothing(
    env: dict[str, str], pysops: Any, uri: str, change: dict[str, str | None], message: str
) -> None:
    Path("s.yaml").write_bytes(PLAIN)
    broken = {k: v for k, v in {**env, **change}.items() if v is not None}
    r = pysops(["encrypt", "-i", "--allow-hsm-only", "--pkcs11", uri, "s.yaml"], broken)
    assert r.code != 0 and f"cannot wrap the data key for {uri}" in r.stderr and message in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    assert Path("s.yaml").read_bytes() == PLAIN


def test_missing_extra(env: dict[str, str], monkeypatch: Any) -> None:
    monkeypatch.setitem(sys.modules, "pkcs11", None)
    wrapped = WrappedKey("pkcs11", {"uri": RSA_URI, "mechanism": hsm.RSA_OAEP_SHA1, "created_at": "", "enc": "AAAA"})
    with pytest.raises(MissingDependency) as info:
        hsm.KEY_TYPE.unwrap(wrapped, KeyContext(env))
    assert info.value.message == "pkcs11 keys need the python-pkcs11 package"
    assert info.value.hint == "pip install 'pysops[hsm]'"
    with pytest.raises(NotMyKey):  # no module configured: not an error, try the next key
        hsm.KEY_TYPE.unwrap(wrapped, KeyContext(no_hsm(env)))


# --------------------------------------------------------------------------------------------
# One login per process, one token call per distinct wrapped key


def test_many_files_one_login(env: dict[str, str], pysops: Any) -> None:
    Path("src").mkdir()
    for i in range(6):
        Path(f"src/f{i}.yaml").write_bytes(PLAIN.replace(b"5432", str(i).encode()))
    args = ["encrypt", "--allow-hsm-only", "--pkcs11", RSA_URI, "--recursive", "src", "--output-dir", "enc"]
    assert pysops(args, env).code == 0
    shutil.copy("enc/f0.yaml", "enc/copy.yaml")  # the same stanza as f0: its data key is reused
    hsm.logout_all()
    hsm.STATS.clear()
    r = pysops(["decrypt", "--recursive", "enc", "--output-dir", "dec"], env)
    assert r.code == 0, r.stderr
    assert Path("dec/copy.yaml").read_bytes() == PLAIN.replace(b"5432", b"0")
    assert hsm.STATS == {"logins": 1, "decrypts": 6}
    # a second command in the same process with the same PIN reuses the login
    r = pysops(["decrypt", "enc/f1.yaml"], env)
    assert r.code == 0 and hsm.STATS == {"logins": 1, "decrypts": 7}
