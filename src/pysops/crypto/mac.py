"""The sops MAC (format.md §2): SHA-512 over serialised plaintext values, encrypted with the data key."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from pysops.crypto.cipher import decrypt_value, encrypt_value
from pysops.errors import DecryptionFailed, MacMismatch
from pysops.values import Value, to_plaintext

# SHA-256("sops"): the prefix that marks a MAC computed over encrypted values only.
_ONLY_ENCRYPTED_PREFIX = hashlib.sha256(b"sops").digest()


def compute_mac(values: Iterable[Value], mac_only_encrypted: bool = False) -> str:
    """Uppercase hex SHA-512 of the serialised values, given in walk order."""
    return compute_mac_of_plaintexts((to_plaintext(v) for v in values), mac_only_encrypted)


def compute_mac_of_plaintexts(plaintexts: Iterable[bytes], mac_only_encrypted: bool = False) -> str:
    """The same, over already serialised values (what the tree walk has at hand)."""
    h = hashlib.sha512()
    if mac_only_encrypted:
        h.update(_ONLY_ENCRYPTED_PREFIX)
    h.update(b"".join(plaintexts))
    return h.hexdigest().upper()


def encrypt_mac(mac_hex: str, key: bytes, lastmodified_aad: str, iv: bytes) -> str:
    return encrypt_value(mac_hex, key, lastmodified_aad, iv)


def verify_mac(stored: str, computed: str, key: bytes, lastmodified_aad: str) -> None:
    """Return None when the stored (encrypted) MAC equals ``computed``, else raise MacMismatch."""
    if not stored:
        raise MacMismatch(
            "MAC mismatch: the file has no MAC", hint="use --ignore-mac to decrypt it anyway"
        )
    try:
        value, _iv = decrypt_value(stored, key, lastmodified_aad)
    except DecryptionFailed:
        raise MacMismatch(
            "MAC mismatch: the stored MAC cannot be decrypted (lastmodified or MAC changed)",
            hint="the file was modified outside sops/pysops; use --ignore-mac to decrypt it anyway",
        ) from None
    if not isinstance(value, str) or not hmac.compare_digest(value.encode(), computed.encode()):
        raise MacMismatch(
            "MAC mismatch: the values do not match the file's MAC (values added, removed or changed)",
            hint="the file was modified outside sops/pysops; use --ignore-mac to decrypt it anyway",
        )
