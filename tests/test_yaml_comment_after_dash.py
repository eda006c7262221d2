"""Where go-yaml (so sops) puts the comments around list items, and so which values the comment
regexes select and under which path a comment is sealed (issue 10, fuzzer class
yaml:sops-cannot-decrypt-pysops, seeds 1208 and 777): pysops selected other values than sops, and
sops decrypted pysops's file with a MAC mismatch (exit 51)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.conftest import AgeKey
from tests.helpers import age_env, assert_comment_regex_selects_as_sops

ENC, NOENC = "--encrypted-comment-regex", "--unencrypted-comment-regex"
CASES = [
    # comments after a list item's "-" belong to the first item of the block collection that is
    # the item (1208:883): "# sops:enc" encrypts "a" only
    ("y:\n-\n  # sops:enc\n  a: 1\n  b: 2\n", ENC),
    ("y:\n- # sops:enc\n  a: 1\n  b: 2\n", ENC),
    ("y:\n-\n# sops:enc\n  a: 1\n  b: 2\n", ENC),
    ("y:\n- x: 0\n# c0\n-\n  # sops:enc\n  a: 1\n  b: 2\n", ENC),
    ("y:\n-\n  # sops:enc\n  - 1\n  - 2\n", ENC),
    ("        y89:\n        -\n          # sops:enc\n          k.e.y:\n          nested: 017\n", ENC),
    ("y:\n-\n  # sops:noenc\n  a: 1\n  b: 2\n", NOENC),
    # before the "-": the whole item's (unchanged)
    ("y:\n# sops:enc\n- a: 1\n  b: 2\n", ENC),
    # a line comment after the list's properties or on an empty item goes to the next item that
    # is not empty (777:1154)
    ("host: &m1  # sops:noenc\n- &m2\n- &s3 2024-01-01\n", NOENC),
    ("host: &m1 # sops:noenc\n  -\n  -\n  - 5\n", NOENC),
    ("host: !!seq # sops:noenc\n  -\n  - 5\n", NOENC),
    ("host: &m1 # sops:noenc\n  - \n  - - 5\n    - 6\n", NOENC),
    ("x:\n- &m1 # sops:noenc\n  -\n  - 5\n", NOENC),
    ("host:\n  - # sops:noenc\n  - 5\n", NOENC),
    ("host:\n- # sops:noenc\n-\n- 6\n", NOENC),
    ("host:\n- # sops:noenc\n-\n- - 5\n  - 6\n", NOENC),
    # after a later item's dash (fuzzer 1208:1254): the next item's, not the item's before
    ("x75:\n- a: 1\n- # sops:noenc\n   id_u:\n      y: a#b\n   user54: emoji\n- 0.0\n", NOENC),
    ("x75:\n- a: 1\n- # sops:noenc\n  b: 2\n  c: 3\n", NOENC),
    ("x75:\n- a: 1\n-   # sops:enc\n  - b\n  - c\n", ENC),
    # CRLF (fuzzer 1208:1226): go-yaml reads own-line comments below the dash as the head of
    # the collection's second item; on the dash's line, as with LF
    ("k:\r\n    -\r\n        # sops:noenc\r\n        data30: &s2 !!binary aGk=\r\n", NOENC),
    ("k:\r\n    -\r\n        # sops:noenc\r\n        data30: aGk=\r\n        d: 1\r\n        e: 2\r\n", NOENC),
    ("k:\r\n  - x: 1\r\n  -\r\n    # sops:enc\r\n    data30: aGk=\r\n    d: 1\r\n", ENC),
    ("k:\r\n    -\r\n        # sops:noenc\r\n        - a\r\n        - b\r\n", NOENC),
    ("k:\r\n    - # sops:noenc\r\n        data30: aGk=\r\n        d: 1\r\n", NOENC),
    # a line comment after a key whose value starts on the next line, the item before ending on
    # that key's line (fuzzer 4243:172): the key's, not the item's before
    ("a:\n    x: 1\nratio:  # sops:enc\n    list:\n    b: 2\n", ENC),
    ("a:\n    x: 1\nratio:  # sops:enc\n    - 2\n    - 3\n", ENC),
    ("a:\n    - 1\nratio:  # sops:noenc\n    2\nc: 3\n", NOENC),
]


@pytest.mark.parametrize(("text", "flag"), CASES)
def test_comment_regex_selects_what_sops_selects_around_list_items(
    text: str, flag: str, tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    assert_comment_regex_selects_as_sops(text, flag, tmp_path, age_env(clean_env, age_key), age_key.recipient, pysops)
