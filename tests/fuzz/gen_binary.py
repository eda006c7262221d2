"""Binary (any other extension) inputs: text, random bytes, invalid UTF-8, empty, and JSON that
looks like an encrypted wrapper."""

from __future__ import annotations

import random


def generate(rng: random.Random) -> bytes:
    p = rng.random()
    if p < 0.4:
        return "".join(
            rng.choice(["line\n", "ünï 🔑\n", "a=b\n", "\r\n", "\t", "key: v\n"]) for _ in range(rng.randint(0, 8))
        ).encode()
    if p < 0.7:
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 64)))
    if p < 0.8:
        return b""
    if p < 0.9:
        return b'{"data": "x", "sops": {"mac": "nope"}}\n'
    return b"\xff\xfe invalid utf-8 \xc3\x28\n"
