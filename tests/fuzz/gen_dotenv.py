"""dotenv files in sops's line dialect and the dialects people write (``export``, quotes,
comments, empty values, ``=`` in values, duplicates, CRLF, no final newline)."""

from __future__ import annotations

import random

from tests.fuzz.gen_common import comment, text, unique_words

VALUES = [
    "value",
    "s3cr3t",
    '"quoted value"',
    "'single'",
    "",
    "a=b=c",
    "with # inline",
    "v # c",
    "ünïcödé 🔑",
    "a\\nb",
    "  spaced",
    "trailing ",
    '"unterminated',
    "$OTHER",
    "${VAR}",
    "1",
    "true",
    "0x1F",
    "tab\there",
    "\\",
    '"a\\"b"',
    "=",
    "#",
    "ENC",
    "null",
]


def generate(rng: random.Random) -> bytes:
    lines: list[str] = []
    keys = unique_words(rng, rng.randint(1, 8))
    for k in keys:
        key = k.upper() if rng.random() < 0.6 else k
        if rng.random() < 0.12:
            lines.append("#" + comment(rng))
        if rng.random() < 0.1:
            lines.append("")
        p = rng.random()
        if p < 0.08:
            key = "export " + key
        elif p < 0.11:
            key = key + " "
        elif p < 0.13:
            key = " " + key
        value = rng.choice(VALUES) if rng.random() < 0.7 else text(rng).replace("\n", "\\n").replace("\r", "")
        lines.append(f"{key}={value}" if rng.random() < 0.97 else key)  # no '=': parse error
        if rng.random() < 0.04:
            lines.append(f"{key}={rng.choice(VALUES)}")  # duplicate key
    if rng.random() < 0.1:
        lines.append("#" + comment(rng))
    nl = "\r\n" if rng.random() < 0.06 else "\n"
    body = nl.join(lines)
    if rng.random() < 0.9:
        body += nl
    if rng.random() < 0.01:
        body = ""
    return body.encode("utf-8")
