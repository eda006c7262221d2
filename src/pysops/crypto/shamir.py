"""Shamir secret sharing over GF(2^8), byte-compatible with sops (format.md §5).

Share ``i`` (0-based group index) is evaluated at ``x = i + 1`` and carries ``x`` as its last byte.
Arithmetic uses log/exp tables of the AES field (generator 3, polynomial 0x11B).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

_EXP = [0] * 512
_LOG = [0] * 256


def _init_tables() -> None:
    x = 1
    for i in range(255):
        _EXP[i] = x
        _LOG[x] = i
        # multiply by the generator 3 = x * 2 xor x
        x2 = x << 1
        if x2 & 0x100:
            x2 ^= 0x11B
        x = x2 ^ x
    for i in range(255, 512):
        _EXP[i] = _EXP[i - 255]


_init_tables()


def _mul(a: int, b: int) -> int:
    if a == 0 or b == 0:
        return 0
    return _EXP[_LOG[a] + _LOG[b]]


def _div(a: int, b: int) -> int:
    if b == 0:
        raise ZeroDivisionError("division by zero in GF(2^8)")
    if a == 0:
        return 0
    return _EXP[(_LOG[a] - _LOG[b]) % 255]


def split(secret: bytes, parts: int, threshold: int, randbytes: Callable[[int], bytes] = os.urandom) -> list[bytes]:
    """Split ``secret`` into ``parts`` shares, any ``threshold`` of which recover it."""
    if not 2 <= threshold <= parts <= 255:
        raise ValueError("need 2 <= threshold <= parts <= 255")
    shares = [bytearray() for _ in range(parts)]
    for byte in secret:
        coefficients = [byte, *randbytes(threshold - 1)]
        for index in range(parts):
            x = index + 1
            y = 0
            for c in reversed(coefficients):
                y = _mul(y, x) ^ c
            shares[index].append(y)
    for index in range(parts):
        shares[index].append(index + 1)
    return [bytes(s) for s in shares]


def combine(shares: Sequence[bytes]) -> bytes:
    """Lagrange-interpolate at x = 0 over all given shares (each ends with its x byte)."""
    if len(shares) < 2:
        raise ValueError("at least two shares are needed")
    length = len(shares[0])
    if any(len(s) != length for s in shares) or length < 2:
        raise ValueError("shares have different or invalid lengths")
    xs = [s[-1] for s in shares]
    if len(set(xs)) != len(xs):
        raise ValueError("duplicate share")
    secret = bytearray()
    for position in range(length - 1):
        acc = 0
        for i, share in enumerate(shares):
            basis = 1
            for j, xj in enumerate(xs):
                if i != j:
                    basis = _mul(basis, _div(xj, xj ^ xs[i]))
            acc ^= _mul(share[position], basis)
        secret.append(acc)
    return bytes(secret)
