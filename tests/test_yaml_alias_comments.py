"""YAML comment classes of the differential fuzzer where sops's own round trip differs and pysops
deliberately keeps its behaviour (docs/formats.md#yaml-alias-copy-comments,
#yaml-sops-alias-empty-comment, #yaml-empty-flow-comment): checked against the real sops binary,
and the fuzzer's rules accept exactly these differences."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.conftest import Result
from tests.fuzz import harness, oracle, rules
from tests.helpers import AGE_ENV as ENV
from tests.helpers import AGE_RECIPIENT as RECIPIENT
from tests.helpers import SOPS_EXE as SOPS
from tests.helpers import encrypt_yaml as encrypt
from tests.helpers import sops_yaml as sops

from pysops import api

pytestmark = pytest.mark.skipif(not SOPS.exists(), reason="sops binary not installed")


def both(tmp_path: Path, text: bytes) -> tuple[bytes, bytes, bytes]:
    """sops's decrypt of pysops's file, sops's decrypt of its own file, and sops's file."""
    theirs_file = sops(tmp_path, text, "encrypt", "--age", RECIPIENT)
    return sops(tmp_path, encrypt(text), "decrypt"), sops(tmp_path, theirs_file, "decrypt"), theirs_file


def test_alias_copy_comments_are_sops_repeats_only(tmp_path: Path) -> None:
    """4242:182: sops repeats the comments inside an anchored node at each alias copy; pysops's
    copies carry none. Same data; the fuzzer accepts only the repeated comments."""
    text = b"y: &m1\n  a: 1\n  # inside\n  b: 2 # line\n# outside\nname: *m1\nother: *m1\nz: 3\n"
    mine, theirs, _ = both(tmp_path, text)
    assert oracle.parse_yaml(mine).docs == oracle.parse_yaml(theirs).docs
    assert oracle.parse_yaml(mine).comments == [" inside", " line", " outside"]
    assert sorted(oracle.parse_yaml(theirs).comments) == sorted([" inside", " line"] * 3 + [" outside"])
    assert rules.yaml_alias_copied_comments(text) == {" inside": 2, " line": 2}
    assert harness.semantic_diff("yaml", mine, theirs, sops_lossy=True, source=text) is None
    assert harness.semantic_diff("yaml", mine, theirs, sops_lossy=True) == "comments"
    # a comment outside the anchored node is never excused
    assert harness.semantic_diff("yaml", mine, theirs + b"# outside\n", sops_lossy=True, source=text) == "comments"


def test_alias_copy_of_an_empty_comment_at_column_0(tmp_path: Path) -> None:
    """20261207:1033: an empty `#` at column 0 after an empty `-` item inside an anchored node
    that a merge key copies: sops reads it as a `""` item at the anchor and in the copy; in
    pysops's file it reads the comment at the anchor only. No value is lost."""
    text = (
        b"port:\n  - &m1\n      host:\n        - a\n        -\n#\n        - b: 1\n      k: 1\n  - <<: *m1\n    id: 2\n"
    )
    mine, theirs, _ = both(tmp_path, text)
    assert oracle.parse_yaml(theirs).docs != oracle.parse_yaml(mine).docs
    assert harness.semantic_diff("yaml", mine, theirs, sops_lossy=True, source=text) is None
    assert harness.semantic_diff("yaml", mine, theirs, sops_lossy=True) == "data"
    # the same text without the alias: no copy is excused
    plain = text.replace(b"  - <<: *m1\n", b"  - <<: {k: 1}\n")
    assert harness.semantic_diff("yaml", mine, theirs, sops_lossy=True, source=plain) == "data"


def test_extract_of_an_empty_flow_mapping_keeps_its_comment(tmp_path: Path) -> None:
    """20261207:580: `data: {} # c` --extract '["data"]' of sops's file: sops prints `{}`, pysops
    the comment then `{}` (docs/formats.md#yaml-empty-flow-comment); the fuzzer accepts it from
    the input's `{}  # c` only."""
    text = b"data: {} # password here\nother: 1\nlast: 2 # kept\n"
    theirs_file = sops(tmp_path, text, "encrypt", "--age", RECIPIENT)
    theirs = sops(tmp_path, theirs_file, "decrypt", "--extract", '["data"]')
    mine = api.decrypt_bytes(theirs_file, input_format="yaml", options=api.DecryptOptions(env=ENV), extract='["data"]')
    assert theirs == b"{}\n"
    assert mine == b"# password here\n{}\n"
    assert harness.semantic_diff("yaml", mine, theirs, sops_lossy=True, source=text) is None
    assert harness.semantic_diff("yaml", mine, theirs, sops_lossy=True) == "comments"
    assert harness.semantic_diff("yaml", b"# kept\n{}\n", theirs, sops_lossy=True, source=text) == "comments"
    # pysops's own file keeps the comment where sops reads it (inside the braces), decrypted
    assert b"# password here" in sops(tmp_path, encrypt(text), "decrypt")


@pytest.mark.parametrize(
    "text",
    [
        b"x70: #\r\n-\r\n",  # 20261207:440 (CRLF)
        b"a: 1\nx70: # c\n  - 1\nz: 2\n",
        b"r:\n  x70: # c\n    k: 1\n  y: 2\n",
    ],
)
def test_set_keeps_the_comment_on_the_line_of_a_replaced_collections_key(
    tmp_path: Path, text: bytes, pysops: Callable[..., Result]
) -> None:
    """`set` of a key whose block value is replaced by a scalar: sops keeps the comment on the
    key's line (above the entry); pysops dropped it (fuzzer class e.set.comments)."""
    path = '["r"]["x70"]' if text.startswith(b"r:") else '["x70"]'
    ours, theirs = tmp_path / "p.yaml", tmp_path / "s.yaml"
    ours.write_bytes(encrypt(text))
    theirs.write_bytes(sops(tmp_path, text, "encrypt", "--age", RECIPIENT))
    result = pysops(["set", str(ours), path, '"v"'], env=ENV)
    assert result.code == 0, result.stderr
    done = subprocess.run([str(SOPS), "set", theirs.name, path, '"v"'], env=ENV, cwd=tmp_path, capture_output=True)
    assert done.returncode == 0, done.stderr.decode()
    expected = sops(tmp_path, theirs.read_bytes(), "decrypt")
    assert b"#" in expected
    assert sops(tmp_path, ours.read_bytes(), "decrypt") == expected


@pytest.mark.parametrize(
    "text",
    [
        b"data:\r\n      count: y\r\n    #\t tab\r\n-: s3cr3t\r\n",  # 4242:357
        b"r:\r\n  data:\r\n      count: y\r\n   # tab\r\n  b: s\r\n",
        b"data:\r\n    ratio21:\r\n      count: y\r\n  # tab\r\nb: s\r\n",
        b"data:\r\n      count: y\r\n    # a\r\n\r\n    # b\r\nb: s\r\n",
        b"data:\r\n      count: y\r\n\r\n    # a\r\nb: s\r\n",  # after a blank line: the block's
        b"data:\n      count: y\n    # a\nb: s\n",  # LF: the block's foot
    ],
)
def test_crlf_comment_left_of_an_ended_block_is_sealed_where_go_yaml_reads_it(tmp_path: Path, text: bytes) -> None:
    """comment-encrypted (4242:357): in a CRLF file go-yaml reads the comments right after a
    nested block, left of its column, as the next key's head comments; pysops sealed them for the
    block, so sops left them encrypted. Now sops decrypts pysops's file to what it decrypts its
    own to, and pysops's round trip is exact."""
    mine, theirs, _ = both(tmp_path, text)
    assert b"ENC[" not in mine
    assert mine == theirs
    # at the column of an open block: its foot, where sops cannot decrypt its own (a documented rule)
    crlf = b"data:\r\n    ratio21:\r\n      count: y\r\n    # tab\r\nb: s\r\n"
    mine, theirs, _ = both(tmp_path, crlf)
    assert b"ENC[" not in mine and b"    # tab\n" in mine
    assert harness.semantic_diff("yaml", mine, theirs, sops_lossy=True) is None
    ours = encrypt(text)
    assert api.decrypt_bytes(ours, input_format="yaml", options=api.DecryptOptions(env=ENV)) == text
