"""The IV stash: keep a leaf's old ciphertext when its value did not change (format.md §1.6).

sops keys its stash by (AAD, typed value), so equal values under one key (``[x, y, x]``) collapse
to one IV and the first one changes on re-encryption. pysops adds the occurrence number of that
(AAD, type, value) in walk order, so every unchanged leaf keeps its exact ciphertext.
"""

from __future__ import annotations

from collections import Counter

from pysops.values import Value, type_name

_Key = tuple[str, str, object, int]


class IVStash:
    def __init__(self) -> None:
        self._ivs: dict[_Key, bytes] = {}
        self._seen_put: Counter[tuple[str, str, object]] = Counter()
        self._seen_get: Counter[tuple[str, str, object]] = Counter()

    @staticmethod
    def _base(aad: str, value: Value, kind: str | None) -> tuple[str, str, object]:
        return (aad, kind or type_name(value), value)

    def put(self, aad: str, value: Value, iv: bytes, kind: str | None = None) -> None:
        """Remember the IV of a decrypted value (``kind="comment"`` for comments)."""
        base = self._base(aad, value, kind)
        index = self._seen_put[base]
        self._seen_put[base] += 1
        self._ivs[(base[0], base[1], base[2], index)] = iv

    def get(self, aad: str, value: Value, kind: str | None = None) -> bytes | None:
        """The IV to reuse for this value, if it was decrypted with the same AAD and occurrence."""
        base = self._base(aad, value, kind)
        index = self._seen_get[base]
        self._seen_get[base] += 1
        return self._ivs.get((base[0], base[1], base[2], index))

    def __len__(self) -> int:
        return len(self._ivs)
