"""Known-answer and property tests for the value codec, Shamir, the MAC and the IV stash."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pysops.crypto import shamir
from pysops.crypto.cipher import EncryptedValue, decrypt_value, encrypt_comment, encrypt_value
from pysops.crypto.mac import compute_mac, encrypt_mac, verify_mac
from pysops.crypto.stash import IVStash
from pysops.errors import DecryptionFailed, MacMismatch
from pysops.values import GoTime, format_float_f, format_float_g, format_float_json, from_plaintext, to_plaintext

KEY = bytes(range(32))
IV = bytes(range(100, 132))


def test_encrypted_value_layout_is_sops_layout() -> None:
    enc = encrypt_value("hello", KEY, "a:b:", IV)
    assert enc.startswith("ENC[AES256_GCM,data:") and enc.endswith(",type:str]")
    parsed = EncryptedValue.parse(enc)
    assert len(parsed.data) == 5 and len(parsed.iv) == 32 and len(parsed.tag) == 16
    assert decrypt_value(enc, KEY, "a:b:") == ("hello", IV)


def test_aad_binds_the_value_to_its_path() -> None:
    enc = encrypt_value(42, KEY, "port:", IV)
    with pytest.raises(DecryptionFailed) as info:
        decrypt_value(enc, KEY, "other:")
    assert info.value.exit_code == 25


@pytest.mark.parametrize(
    "value, plaintext, tag",
    [
        ("s", b"s", "str"),
        (30, b"30", "int"),
        (-5, b"-5", "int"),
        (3.14159, b"3.14159", "float"),
        (2.0, b"2", "float"),
        (1e20, b"100000000000000000000", "float"),
        (-0.0, b"-0", "float"),
        (float("inf"), b"+Inf", "float"),
        (True, b"True", "bool"),
        (False, b"False", "bool"),
        (GoTime(2024, 1, 1), b"2024-01-01T00:00:00Z", "time"),
        (GoTime(2024, 1, 1, 10, 0, 0, 500_000_000, 3600), b"2024-01-01T10:00:00.5+01:00", "time"),
    ],
)
def test_plaintext_serialisation_matches_go(value: object, plaintext: bytes, tag: str) -> None:
    assert to_plaintext(value) == plaintext  # type: ignore[arg-type]
    enc = encrypt_value(value, KEY, "k:", IV)  # type: ignore[arg-type]
    assert enc.endswith(f"type:{tag}]")
    back, _ = decrypt_value(enc, KEY, "k:")
    assert to_plaintext(back) == plaintext


def test_float_formats() -> None:
    assert format_float_f(1e300).startswith("1000") and len(format_float_f(1e300)) == 301
    assert format_float_f(-0.00000000025) == "-0.00000000025"
    assert format_float_g(1234567.0) == "1.234567e+06"
    assert format_float_json(1e-7) == "1e-7"
    assert format_float_json(1e21) == "1e+21"
    assert format_float_json(-2.5e-10) == "-2.5e-10"


def test_unknown_or_bad_types_are_rejected() -> None:
    with pytest.raises(DecryptionFailed):
        from_plaintext(b"abc", "int")
    with pytest.raises(DecryptionFailed):
        from_plaintext(b"x", "complex")
    assert from_plaintext(b"t", "bool") is True


def test_comment_encryption() -> None:
    enc = encrypt_comment(" top", KEY, ":", IV)
    assert enc.endswith("type:comment]")
    assert decrypt_value(enc, KEY, ":")[0] == " top"


@given(st.binary(min_size=32, max_size=32), st.integers(min_value=2, max_value=5), st.data())
def test_shamir_any_threshold_subset_recovers(secret: bytes, parts: int, data: st.DataObject) -> None:
    threshold = data.draw(st.integers(min_value=2, max_value=parts))
    shares = shamir.split(secret, parts, threshold)
    assert [s[-1] for s in shares] == list(range(1, parts + 1))
    assert all(len(s) == 33 for s in shares)
    subset = data.draw(st.permutations(shares)).copy()[:threshold]
    assert shamir.combine(subset) == secret


def test_shamir_known_answer() -> None:
    # Deterministic "random" coefficients: each byte's polynomial is b + 7x (threshold 2).
    shares = shamir.split(b"\x01\x02", 3, 2, randbytes=lambda n: b"\x07" * n)
    # y = b xor 7*x in GF(2^8): x=1 -> b^7, x=2 -> b^14, x=3 -> b^9
    assert shares == [b"\x06\x05\x01", b"\x0f\x0c\x02", b"\x08\x0b\x03"]
    assert shamir.combine(shares[1:]) == b"\x01\x02"


def test_mac_known_answer_and_prefix() -> None:
    values = ["a", 1, True, 2.5]
    expected = hashlib.sha512(b"a1True2.5").hexdigest().upper()
    assert compute_mac(values) == expected
    prefixed = hashlib.sha512(hashlib.sha256(b"sops").digest() + b"a1True2.5").hexdigest().upper()
    assert compute_mac(values, mac_only_encrypted=True) == prefixed


def test_mac_verification() -> None:
    mac = compute_mac(["x"])
    stored = encrypt_mac(mac, KEY, "2026-11-22T19:04:23Z", IV)
    verify_mac(stored, mac, KEY, "2026-11-22T19:04:23Z")
    with pytest.raises(MacMismatch):
        verify_mac(stored, compute_mac(["y"]), KEY, "2026-11-22T19:04:23Z")
    with pytest.raises(MacMismatch):
        verify_mac(stored, mac, KEY, "2026-11-22T19:04:24Z")
    with pytest.raises(MacMismatch) as info:
        verify_mac("", mac, KEY, "2026-11-22T19:04:23Z")
    assert info.value.exit_code == 51


def test_stash_keeps_equal_list_values_apart() -> None:
    stash = IVStash()
    stash.put("l:", "x", b"1" * 32)
    stash.put("l:", "y", b"2" * 32)
    stash.put("l:", "x", b"3" * 32)
    stash.put("n:", 1, b"4" * 32)
    assert stash.get("l:", "x") == b"1" * 32
    assert stash.get("l:", "y") == b"2" * 32
    assert stash.get("l:", "x") == b"3" * 32
    assert stash.get("l:", "x") is None
    assert stash.get("n:", 1.0) is None  # int 1 and float 1.0 are different values
    assert stash.get("n:", 1) == b"4" * 32


def test_cipher_uses_cryptographys_public_aesgcm_class() -> None:
    """cipher.py imports AESGCM from the compiled binding to skip cryptography's Python layer:
    it must be the very class the public API exports, and a wrong tag must still be exit 25."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from pysops.crypto import cipher

    assert cipher.AESGCM is AESGCM
    enc = encrypt_value("hello", KEY, "a:", IV)
    head, _, rest = enc.partition(",tag:")
    zero_tag = "A" * 22 + "=="  # base64 of 16 zero bytes
    assert not rest.startswith(zero_tag)
    with pytest.raises(DecryptionFailed) as info:
        decrypt_value(f"{head},tag:{zero_tag}{rest[24:]}", KEY, "a:")
    assert info.value.exit_code == 25


def test_an_iv_cryptography_cannot_take_is_a_decryption_error() -> None:
    """sops writes 32-byte IVs; a hand-made value with a 4-byte one is exit 25, not a traceback."""
    enc = encrypt_value("hello", KEY, "a:", IV)
    head, _, rest = enc.partition(",iv:")
    short = f"{head},iv:AAAAAA==,{rest.split(',', 1)[1]}"
    with pytest.raises(DecryptionFailed) as info:
        decrypt_value(short, KEY, "a:")
    assert info.value.exit_code == 25 and "4-byte IV" in info.value.message
