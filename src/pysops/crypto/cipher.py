"""The ``ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`` value codec (format.md §1).

``ValueCipher`` holds one AES-GCM context per data key: a file's thousands of values reuse it.
Encryption is deterministic given its IV; callers draw the IVs (``api.encrypt_tree`` takes an
injected ``randbytes``) or take them from the stash, so tests can pin exact bytes.
"""

from __future__ import annotations

import binascii
import sys

from pysops._lazyre import LazyPattern
from pysops._typing import NamedTuple
from pysops.errors import DecryptionFailed
from pysops.values import Value, from_plaintext, to_plaintext, type_name

try:
    # The class that ``cryptography.hazmat.primitives.ciphers.aead.AESGCM`` re-exports, taken from
    # the compiled binding directly: the public module's package pulls in cryptography's Python
    # layer (typing, enum, the cipher modes), a third of a small file's decrypt time.
    from cryptography.hazmat.bindings._rust import openssl as _rust_openssl

    AESGCM = _rust_openssl.aead.AESGCM
except (ImportError, AttributeError):  # pragma: no cover - another layout of cryptography
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

IV_SIZE = 32
TAG_SIZE = 16

# sops's own pattern: anchored at the start, greedy fields, unanchored at the end.
_ENC_RE = LazyPattern(r"^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]")
# The well-formed case, checked in one match (base64 alphabet included).
_B64 = r"[A-Za-z0-9+/]*={0,2}"
_ENC_FAST = LazyPattern(rf"ENC\[AES256_GCM,data:({_B64}),iv:({_B64}),tag:({_B64}),type:([a-z]+)\]")
_B64_STRICT = LazyPattern(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?\Z")


def is_encrypted(text: object) -> bool:
    """True when a value looks like an encrypted value (starts with ``ENC[AES256_GCM,``)."""
    return isinstance(text, str) and text.startswith("ENC[AES256_GCM,")


def _b64decode(text: str) -> bytes:
    if _B64_STRICT.match(text) is None:
        raise DecryptionFailed("malformed encrypted value (bad base64)")
    return binascii.a2b_base64(text)


_a2b = binascii.a2b_base64
_b2a = binascii.b2a_base64
_PREFIX = "ENC[AES256_GCM,data:"
# binascii's strict mode (3.11+) checks the alphabet and the padding, as _B64_STRICT does.
_STRICT_BASE64 = sys.version_info >= (3, 11)


def _well_formed(text: str) -> tuple[bytes, bytes, bytes, str] | None:
    """The data, IV, tag and type of an ENC string in the form every tool writes, checked with
    str methods and strict base64 (this runs once per value, and needs no regex); None for
    any other shape, which ``EncryptedValue.parse`` reads with sops's own pattern."""
    if not _STRICT_BASE64 or not text.startswith(_PREFIX) or text[-1:] != "]":
        return None
    iv_at = text.find(",iv:", len(_PREFIX))
    tag_at = text.find(",tag:", iv_at)
    type_at = text.find(",type:", tag_at)
    if iv_at < 0 or tag_at < 0 or type_at < 0:
        return None
    kind = text[type_at + 6 : -1]
    if not (kind.isalpha() and kind.isascii() and kind.islower()):
        return None
    b64_data, b64_iv, b64_tag = text[len(_PREFIX) : iv_at], text[iv_at + 4 : tag_at], text[tag_at + 5 : type_at]
    try:
        if (len(b64_data) | len(b64_iv) | len(b64_tag)) & 3:
            raise ValueError("base64 length")
        data = _a2b(b64_data, strict_mode=True)  # type: ignore[call-arg]  # (3.11+)
        iv = _a2b(b64_iv, strict_mode=True)  # type: ignore[call-arg]
        tag = _a2b(b64_tag, strict_mode=True)  # type: ignore[call-arg]
    except ValueError:  # binascii.Error, or non-ASCII text
        raise DecryptionFailed("malformed encrypted value (bad base64)") from None
    if not iv or len(tag) != TAG_SIZE:
        raise DecryptionFailed("malformed encrypted value (bad IV or tag length)")
    return data, iv, tag, kind


class EncryptedValue(NamedTuple):
    data: bytes
    iv: bytes
    tag: bytes
    type: str

    @classmethod
    def parse(cls, text: str) -> EncryptedValue:
        m = _ENC_FAST.fullmatch(text) or _ENC_RE.match(text)
        if m is None:
            raise DecryptionFailed("malformed encrypted value (not ENC[AES256_GCM,data:…,iv:…,tag:…,type:…])")
        data, iv, tag, kind = m.groups()
        enc = cls(_b64decode(data), _b64decode(iv), _b64decode(tag), kind)
        if not enc.iv or len(enc.tag) != TAG_SIZE:
            raise DecryptionFailed("malformed encrypted value (bad IV or tag length)")
        return enc


def _is_invalid_tag(exc: Exception) -> bool:
    """Whether ``exc`` is cryptography's InvalidTag (imported only when a decryption failed)."""
    from cryptography.exceptions import InvalidTag

    return isinstance(exc, InvalidTag)


class ValueCipher:
    """Encrypts and decrypts values under one data key (one AES-GCM context for all of them)."""

    __slots__ = ("aead",)

    def __init__(self, key: bytes) -> None:
        self.aead = AESGCM(key)

    def seal(self, plaintext: bytes, iv: bytes, aad: str, type_tag: str) -> str:
        sealed = self.aead.encrypt(iv, plaintext, aad.encode("utf-8", "surrogateescape"))
        return (
            f"ENC[AES256_GCM,data:{_b2a(sealed[:-TAG_SIZE], newline=False).decode()},"
            f"iv:{_b2a(iv, newline=False).decode()},"
            f"tag:{_b2a(sealed[-TAG_SIZE:], newline=False).decode()},type:{type_tag}]"
        )

    def open(self, text: str, aad: str) -> tuple[bytes, str, bytes]:
        """Authenticate and decrypt; returns the plaintext bytes, the type tag and the IV."""
        fields = _well_formed(text)
        data, iv, tag, kind = fields if fields is not None else EncryptedValue.parse(text)
        try:
            plaintext = self.aead.decrypt(iv, data + tag, aad.encode("utf-8", "surrogateescape"))
        except ValueError:  # cryptography takes 8- to 128-byte IVs; sops writes 32
            raise DecryptionFailed(f"malformed encrypted value (a {len(iv)}-byte IV)") from None
        except Exception as exc:
            if not _is_invalid_tag(exc):
                raise
            raise DecryptionFailed(
                "a value failed authentication (tampered ciphertext, or moved to another key)",
                hint="the file was modified outside sops/pysops; restore it from version control",
            ) from None
        return plaintext, kind, iv

    def encrypt_value(self, value: Value, aad: str, iv: bytes) -> str:
        return self.seal(to_plaintext(value), iv, aad, type_name(value))

    def encrypt_comment(self, text: str, aad: str, iv: bytes) -> str:
        return self.seal(text.encode("utf-8", "surrogateescape"), iv, aad, "comment")

    def decrypt_value(self, text: str, aad: str) -> tuple[Value, bytes]:
        """Decrypt an ENC string; returns the typed value (comments: their text) and the IV used."""
        plaintext, kind, iv = self.open(text, aad)
        return from_plaintext(plaintext, kind), iv


def encrypt_value(value: Value, key: bytes, aad: str, iv: bytes) -> str:
    return ValueCipher(key).encrypt_value(value, aad, iv)


def encrypt_comment(text: str, key: bytes, aad: str, iv: bytes) -> str:
    return ValueCipher(key).encrypt_comment(text, aad, iv)


def decrypt_value(text: str, key: bytes, aad: str) -> tuple[Value, bytes]:
    return ValueCipher(key).decrypt_value(text, aad)
