"""JSON documents: every number form, escapes (surrogate pairs, ``\\/``, lone surrogates), top-level
arrays and scalars, duplicate keys, whitespace variants and nesting."""

from __future__ import annotations

import random

from tests.fuzz.gen_common import text, unique_words

NUMBERS = [
    "0",
    "-0",
    "42",
    "-7",
    "1.0",
    "7.0",
    "1.5",
    "0.1",
    "2.50",
    "1e5",
    "1E2",
    "1.5e10",
    "1e-7",
    "1E-7",
    "-2.5e-10",
    "1e21",
    "1e+21",
    "12345678901234567890",
    "9007199254740993",
    "1000000",
    "0.000001",
    "123456789012",
    "-0.0",
    "0.1e1",
    "1e300",
    "3.14159",
    "100000000000000000000",
]
RARE_NUMBERS = ["1e400", "01", "+1", ".5", "1.", "NaN", "0x10"]
ESCAPES = [
    '\\"',
    "\\\\",
    "\\/",
    "\\b",
    "\\f",
    "\\n",
    "\\r",
    "\\t",
    "\\u00e9",
    "\\ud83d\\ude00",
    "\\u003c",
    "\\u0026",
    "\\u2028",
    "\\u0000",
    "\\ud800",
    "\\uDC00x",
]


def _string(rng: random.Random) -> str:
    if rng.random() < 0.35:
        parts = [
            rng.choice(["a", "b ", "ü", "🔑", "<", ">", "&"]) if rng.random() < 0.5 else rng.choice(ESCAPES)
            for _ in range(rng.randint(1, 4))
        ]
        return '"' + "".join(parts) + '"'
    s = text(rng)
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


class JsonGen:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.style = rng.choice(["tab", "2", "4", "compact", "compact", "spaced", "odd"])
        self.nl = "\r\n" if rng.random() < 0.05 else "\n"
        self.max_depth = rng.choice([2, 3, 4]) if rng.random() < 0.97 else 40

    def scalar(self) -> str:
        r = self.rng
        p = r.random()
        if p < 0.35:
            return r.choice(NUMBERS if r.random() < 0.98 else RARE_NUMBERS)
        if p < 0.45:
            return r.choice(["true", "false", "null"])
        return _string(r)

    def value(self, depth: int) -> str:
        r = self.rng
        if depth >= self.max_depth or r.random() < 0.6:
            if self.max_depth > 10 and depth < self.max_depth:
                return self.obj(depth + 1) if r.random() < 0.5 else self.arr(depth + 1)
            return self.scalar()
        return self.obj(depth + 1) if r.random() < 0.5 else self.arr(depth + 1)

    def _join(self, items: list[str], depth: int, open_: str, close: str) -> str:
        if not items:
            return open_ + close
        if self.style == "compact":
            return open_ + ",".join(items) + close
        if self.style == "spaced":
            return open_ + " " + " , ".join(items) + " " + close
        unit = {"tab": "\t", "2": "  ", "4": "    ", "odd": " "}[self.style]
        inner = self.nl.join(unit * depth + it + ("," if i < len(items) - 1 else "") for i, it in enumerate(items))
        return open_ + self.nl + inner + self.nl + unit * (depth - 1) + close

    def obj(self, depth: int) -> str:
        r = self.rng
        n = r.randint(0, 5) if self.max_depth < 10 else 1
        ks = unique_words(r, n)
        if ks and r.random() < 0.04:
            ks.append(ks[0])  # duplicate key
        sep = ": " if self.style != "compact" else ":"
        if self.style == "odd":
            sep = " :\t"
        items = [_string_key(k) + sep + self.value(depth) for k in ks]
        return self._join(items, depth, "{", "}")

    def arr(self, depth: int) -> str:
        n = self.rng.randint(0, 4) if self.max_depth < 10 else 1
        return self._join([self.value(depth) for _ in range(n)], depth, "[", "]")


def _string_key(k: str) -> str:
    return '"' + k + '"'


def generate(rng: random.Random) -> bytes:
    g = JsonGen(rng)
    p = rng.random()
    if p < 0.9:
        body = g.obj(1)
    elif p < 0.95:
        body = g.arr(1)
    elif p < 0.98:
        body = g.scalar()
    else:
        body = rng.choice(["", " ", "\n", "{}"])
    if rng.random() < 0.05:
        body = rng.choice([" ", "\n", "\t"]) + body
    tail = rng.choice([g.nl, g.nl, g.nl, "", " " + g.nl, g.nl + g.nl])
    # (from a second generator, seeded from the first one's state without advancing it: every
    # earlier case keeps its text) data after the value, which sops drops and pysops refuses
    extra = random.Random(repr(rng.getstate()[1][:8]))
    if body.strip() and extra.random() < 0.02:
        tail += extra.choice(['{"b": 2}', " x", "// note\n", "[1]\n"])
    return (body + tail).encode("utf-8", "surrogatepass")
