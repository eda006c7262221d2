"""Pieces the format generators share: key and string pools that exercise the selection options
(``--encrypted-regex``, comment regexes) and odd spellings."""

from __future__ import annotations

import random

#: key names; ``password``/``key`` match the ``--encrypted-regex`` the cases use, ``_unencrypted``
#: and ``_u`` are the suffixes
WORDS = [
    "a",
    "b",
    "name",
    "user",
    "password",
    "api_key",
    "host",
    "port",
    "db",
    "token",
    "list",
    "nested",
    "data",
    "value",
    "x",
    "y",
    "z",
    "enabled",
    "count",
    "ratio",
    "secret_unencrypted",
    "note_unencrypted",
    "id_u",
    "plain_u",
    "key",
    "env",
]

TEXTS = [
    "hello",
    "hello world",
    "s3cr3t",
    "p@ss:w0rd",
    "a=b=c",
    "with # hash",
    "tab\there",
    "ünïcödé",
    "emoji 🔑🙂",
    "日本語",
    'quote"d',
    "it's",
    "back\\slash",
    "  leading",
    "trailing  ",
    "<&>",
    "yes",
    "no",
    "on",
    "off",
    "y",
    "n",
    "0123",
    "1.0",
    "null",
    "true",
    "~",
    "-",
    "?",
    "",
    "x" * 70,
    "multi\nline",
    "multi\nline\n",
    "a\r\nb",
    "ENC",
    "sops",
    "#not comment",
]

COMMENTS = [
    " comment",
    "comment",
    "",
    " sops:enc",
    " sops:noenc",
    " ünï 🔑",
    "  indented text",
    " password here",
    " a: b",
    " - item",
    " #double",
    "\t tab",
]


def word(rng: random.Random) -> str:
    w = rng.choice(WORDS)
    if rng.random() < 0.25:
        w = f"{w}{rng.randint(0, 99)}"
    return w


def unique_words(rng: random.Random, n: int) -> list[str]:
    seen: list[str] = []
    while len(seen) < n:
        w = word(rng)
        if w not in seen:
            seen.append(w)
    return seen


def text(rng: random.Random) -> str:
    return rng.choice(TEXTS)


def comment(rng: random.Random) -> str:
    return rng.choice(COMMENTS)
