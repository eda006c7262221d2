"""INI files in the go-ini dialect sops reads: sections (repeated, spaced, DEFAULT), ``=``/``:``,
every quoting style, inline and block comments with ``;``/``#``, empty values, continuation lines,
CRLF, BOM, no final newline."""

from __future__ import annotations

import random

from tests.fuzz.gen_common import comment, unique_words

VALUES = [
    "value",
    "s3cr3t",
    '"quoted value"',
    "'single'",
    "",
    "a=b=c",
    "x ; inline",
    "v # c",
    "ünïcödé 🔑",
    "`back tick`",
    '"""triple"""',
    '"a#b"',
    "  spaced  ",
    "1",
    "true",
    "2.5",
    "http://h:1/p?q=1",
    "a\\",
    '"unterminated',
    "with 'quote'",
    'say "hi"',
]


def generate(rng: random.Random) -> bytes:
    lines: list[str] = []
    bom = rng.random() < 0.02
    nsec = rng.randint(0, 4)
    sections = unique_words(rng, nsec)
    if nsec and rng.random() < 0.05:
        sections.append(sections[0])  # repeated section
    groups: list[str | None] = [None] if rng.random() < 0.4 or not sections else []
    groups.extend(sections)
    for sec in groups:
        if sec is not None:
            if rng.random() < 0.15:
                lines.append(rng.choice(";#") + comment(rng))
            if lines and rng.random() < 0.6:
                lines.append("")
            name = sec if rng.random() < 0.9 else rng.choice([" spaced ", "a.b", "DEFAULT", "x]y"])
            lines.append(f"[{name}]" + (f" ;{comment(rng)}" if rng.random() < 0.05 else ""))
        keys = unique_words(rng, rng.randint(0, 5))
        if keys and rng.random() < 0.03:
            keys.append(keys[0])  # duplicate key in a section
        for k in keys:
            if rng.random() < 0.15:
                for _ in range(rng.randint(1, 2)):
                    lines.append(("  " if rng.random() < 0.1 else "") + rng.choice(";#") + comment(rng))
            if rng.random() < 0.05:
                lines.append("")
            sep = rng.choice([" = ", "=", " =", ": ", " : "])
            value = rng.choice(VALUES)
            line = ("  " if rng.random() < 0.05 else "") + k + sep + value
            if rng.random() < 0.08:
                line += rng.choice([" ; ", " # "]) + comment(rng).strip()
            lines.append(line)
            if value.endswith("\\"):
                lines.append("continued")
            if rng.random() < 0.02:
                lines.append('multi = """first')
                lines.append('second"""')
    if rng.random() < 0.08:
        lines.append(";" + comment(rng))
    nl = "\r\n" if rng.random() < 0.06 else "\n"
    body = nl.join(lines)
    if rng.random() < 0.9:
        body += nl
    return (("\ufeff" if bom else "") + body).encode("utf-8")
