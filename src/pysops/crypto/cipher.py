"""The ``ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`` value codec (format.md §1).

``encrypt_value`` is deterministic given its IV; callers draw the IV (``generate_iv``) or take it
from the stash, so tests can pin exact bytes.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from typing import NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pysops.errors import DecryptionFailed
from pysops.values import Value, from_plaintext, to_plaintext, type_name

IV_SIZE = 32
TAG_SIZE = 16

# sops's own pattern: anchored at the start, greedy fields, unanchored at the end.
_ENC_RE = re.compile(r"^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]")


def generate_iv() -> bytes:
    return os.urandom(IV_SIZE)


def is_encrypted(text: object) -> bool:
    """True when a value looks like an encrypted value (starts with ``ENC[AES256_GCM,``)."""
    return isinstance(text, str) and text.startswith("ENC[AES256_GCM,")


class EncryptedValue(NamedTuple):
    data: bytes
    iv: bytes
    tag: bytes
    type: str

    @classmethod
    def parse(cls, text: str) -> EncryptedValue:
        m = _ENC_RE.match(text)
        if m is None:
            raise DecryptionFailed("malformed encrypted value (not ENC[AES256_GCM,data:…,iv:…,tag:…,type:…])")
        try:
            data, iv, tag = (base64.b64decode(m.group(i), validate=True) for i in (1, 2, 3))
        except (binascii.Error, ValueError):
            raise DecryptionFailed("malformed encrypted value (bad base64)") from None
        if not iv or len(tag) != TAG_SIZE:
            raise DecryptionFailed("malformed encrypted value (bad IV or tag length)")
        return cls(data, iv, tag, m.group(4))

    def __str__(self) -> str:
        data, iv, tag = (base64.b64encode(b).decode("ascii") for b in (self.data, self.iv, self.tag))
        return f"ENC[AES256_GCM,data:{data},iv:{iv},tag:{tag},type:{self.type}]"


def seal(plaintext: bytes, key: bytes, iv: bytes, aad: bytes, type_tag: str) -> str:
    sealed = AESGCM(key).encrypt(iv, plaintext, aad)
    return str(EncryptedValue(sealed[:-TAG_SIZE], iv, sealed[-TAG_SIZE:], type_tag))


def open_(text: str, key: bytes, aad: bytes) -> tuple[bytes, EncryptedValue]:
    """Authenticate and decrypt; returns the plaintext bytes and the parsed value."""
    enc = EncryptedValue.parse(text)
    try:
        plaintext = AESGCM(key).decrypt(enc.iv, enc.data + enc.tag, aad)
    except InvalidTag:
        raise DecryptionFailed(
            "a value failed authentication (tampered ciphertext, or moved to another key)",
            hint="the file was modified outside sops/pysops; restore it from version control",
        ) from None
    return plaintext, enc


def encrypt_value(value: Value, key: bytes, aad: str, iv: bytes) -> str:
    return seal(to_plaintext(value), key, iv, aad.encode("utf-8"), type_name(value))


def encrypt_comment(text: str, key: bytes, aad: str, iv: bytes) -> str:
    return seal(text.encode("utf-8"), key, iv, aad.encode("utf-8"), "comment")


def decrypt_value(text: str, key: bytes, aad: str) -> tuple[Value, bytes]:
    """Decrypt an ENC string; returns the typed value (comments: their text) and the IV used."""
    plaintext, enc = open_(text, key, aad.encode("utf-8"))
    return from_plaintext(plaintext, enc.type), enc.iv


def decrypt_value_type(text: str) -> str:
    return EncryptedValue.parse(text).type
