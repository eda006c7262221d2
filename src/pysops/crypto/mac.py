"""The sops MAC (format.md §2): SHA-512 over serialised plaintext values, encrypted with the data key."""

from __future__ import annotations

from collections.abc import Iterable

from pysops._typing import TYPE_CHECKING
from pysops.crypto.cipher import decrypt_value, encrypt_value
from pysops.errors import DecryptionFailed, MacMismatch
from pysops.values import Value, to_plaintext

# CPython's built-in SHA-512 and constant-time comparison, when present: ``hashlib`` and ``hmac``
# load OpenSSL's libcrypto (a sixth of a small file's decrypt time) for one hash per file.
if TYPE_CHECKING:
    from hashlib import _Hash, sha512
    from hmac import compare_digest
else:
    try:
        from _sha2 import sha512  # Python 3.12+
    except ImportError:
        try:
            from _sha512 import sha512  # Python 3.10, 3.11
        except ImportError:  # a Python built without them
            from hashlib import sha512
    try:
        from _operator import _compare_digest as compare_digest
    except ImportError:  # not CPython
        from hmac import compare_digest

# SHA-256("sops"): the prefix that marks a MAC computed over encrypted values only.
_ONLY_ENCRYPTED_PREFIX = bytes.fromhex("8a3fd2ad54ce66527b1034f3d147be0b0b975b3bf44f72c6fdadec8176f27d69")


def compute_mac(values: Iterable[Value], mac_only_encrypted: bool = False) -> str:
    """Uppercase hex SHA-512 of the serialised values, given in walk order."""
    h = mac_hash(mac_only_encrypted)
    for value in values:
        h.update(to_plaintext(value))
    return mac_hex(h)


def mac_hash(mac_only_encrypted: bool = False) -> _Hash:
    """A SHA-512 to feed the serialised values to one by one, in walk order (the tree walks
    hash as they go rather than keep 20,000 plaintexts for the end)."""
    h = sha512()
    if mac_only_encrypted:
        h.update(_ONLY_ENCRYPTED_PREFIX)
    return h


def mac_hex(h: _Hash) -> str:
    return h.hexdigest().upper()


def encrypt_mac(mac_hex: str, key: bytes, lastmodified_aad: str, iv: bytes) -> str:
    return encrypt_value(mac_hex, key, lastmodified_aad, iv)


def verify_mac(stored: str, computed: str, key: bytes, lastmodified_aad: str) -> None:
    """Return None when the stored (encrypted) MAC equals ``computed``, else raise MacMismatch."""
    if not stored:
        raise MacMismatch("MAC mismatch: the file has no MAC", hint="use --ignore-mac to decrypt it anyway")
    try:
        value, _iv = decrypt_value(stored, key, lastmodified_aad)
    except DecryptionFailed:
        raise MacMismatch(
            "MAC mismatch: the stored MAC cannot be decrypted (lastmodified or MAC changed)",
            hint="the file was modified outside sops/pysops; use --ignore-mac to decrypt it anyway",
        ) from None
    if not isinstance(value, str) or not compare_digest(value.encode(), computed.encode()):
        raise MacMismatch(
            "MAC mismatch: the values do not match the file's MAC (values added, removed or changed)",
            hint="the file was modified outside sops/pysops; use --ignore-mac to decrypt it anyway",
        )
