"""Own-line comments right below a list item's ``-`` or a collection's properties (``- &a``,
``k: &a``, ``k: !!map``) that a blank line follows: go-yaml reads them as the head of the block
collection's second item, not its first, so the comment regexes select other values than in the
same layout without the blank line (issue 10, fuzzer 8675:284, yaml:sops-cannot-decrypt-pysops:
pysops encrypted the first key, sops decrypted pysops's file with a MAC mismatch, exit 51)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.conftest import AgeKey
from tests.helpers import age_env, assert_comment_regex_selects_as_sops

ENC, NOENC = "--encrypted-comment-regex", "--unencrypted-comment-regex"
CASES = [
    # the fuzzer's case, and its parts: "api_key" stays in clear (the comment follows it for sops)
    ("note_unencrypted: &m1\n- &m3\n  # sops:enc\n\n  api_key: &s4 false\n", ENC),
    ("k:\n-\n  # sops:enc\n\n  a: 1\n  b: 2\n", ENC),
    ("k:\n-\n  # sops:enc\n  # more\n\n\n  a: 1\n  b: 2\n", ENC),
    ("k:\n-\n  # sops:noenc\n\n  - 1\n  - 2\n", NOENC),
    ("k:\n- x: 0\n-\n  # sops:noenc\n\n  a:\n    q: 1\n  b: 2\n", NOENC),
    ("k:\n- !!map\n  # sops:enc\n\n  a: 1\n  b: 2\n", ENC),
    ("k:\n- &m # c\n  # sops:enc\n\n  a: 1\n  b: 2\n", ENC),
    # a mapping's value with properties: the same, except after the stream's first byte
    ("data82: 0o17\nnote_unencrypted: &m1\n  # sops:enc\n\n  api_key: &s4 false\n", ENC),
    ("z: 1\nk: !!map\n  # sops:noenc\n\n  a: 1\n  b: 2\n", NOENC),
    ("z:\n  k: &m\n    # sops:enc\n\n    - 1\n    - 2\n", ENC),
    ("\nk: &m\n  # sops:enc\n\n  a: 1\n  b: 2\n", ENC),
    # ... unchanged: the first key's head comments
    ("k: &m\n  # sops:enc\n\n  a: 1\n  b: 2\n", ENC),
    ("z: 1\nk:\n  # sops:enc\n\n  a: 1\n  b: 2\n", ENC),
    ("z: 1\nk: &m\n  # sops:enc\n  a: 1\n  b: 2\n", ENC),
    ("k:\n-\n\n  # sops:enc\n\n  a: 1\n  b: 2\n", ENC),
    ("k:\n- # sops:enc\n  # d\n\n  a: 1\n  b: 2\n", ENC),
    ("k:\n-\n  # c\n\n  # sops:enc\n\n  a: 1\n  b: 2\n", ENC),
]


@pytest.mark.parametrize(("text", "flag"), CASES)
def test_comment_then_blank_line_selects_what_sops_selects(
    text: str, flag: str, tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    assert_comment_regex_selects_as_sops(text, flag, tmp_path, age_env(clean_env, age_key), age_key.recipient, pysops)
