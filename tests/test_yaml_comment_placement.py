"""YAML comment classes a.comments / b.comments of the differential fuzzer (seed 1208): where
comments land when sops reads, rotates and prints a file. Checked against the real sops binary:
the indented-root fix (no blank line before ``sops:`` after a scalar entry) and the three places
where sops's decrypt drops a comment that pysops keeps (docs/formats.md#yaml-first-item-comment,
#yaml-empty-tail-comment, #yaml-empty-list-comment), with the fuzzer's rules accepting exactly
those."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from tests.fuzz import harness, oracle, rules
from tests.helpers import AGE_ENV as ENV
from tests.helpers import AGE_RECIPIENT as RECIPIENT
from tests.helpers import SOPS_EXE as SOPS
from tests.helpers import encrypt_yaml as encrypt
from tests.helpers import sops_yaml as sops

from pysops import api

pytestmark = pytest.mark.skipif(not SOPS.exists(), reason="sops binary not installed")


def decrypt(data: bytes) -> bytes:
    return api.decrypt_bytes(data, input_format="yaml", options=api.DecryptOptions(env=ENV))


def comments(text: bytes) -> list[str]:
    return sorted(oracle.parse_yaml(text).comments)


@pytest.mark.parametrize(
    "text",
    [
        b"  a: 1\n  # c1\n# c2\n",  # 1208:459 (an indented root, a comment at its column, a dedented one)
        b"  a: 1\n   # c1\n# c2\n",
        b"  a: |\n    x\n  # c1\n# c2\n",
        b"  a:\n    b: 1\n  c: [1]\n  # c1\n# c2\n",
    ],
)
def test_indented_root_after_a_scalar_entry_keeps_its_trailing_comments(tmp_path: Path, text: bytes) -> None:
    """With a blank line before the indented ``sops:`` block, go-yaml lost the first comment
    group (sops's decrypt, and its rotate, dropped it); after a scalar entry pysops writes none."""
    mine = encrypt(text)
    assert b"\n\n" not in mine.split(b"sops:")[0]
    assert comments(sops(tmp_path, mine, "decrypt")) == [" c1", " c2"]
    assert decrypt(mine) == text
    # ... and after a nested block the blank line stays (without it sops reads "# c2" into `a`)
    nested = b"  a:\n    b: 1\n# c2\n"
    assert b"\n\n  sops:" in encrypt(nested)
    assert comments(sops(tmp_path, encrypt(nested), "decrypt")) == [" c2"]


def test_first_item_comment_is_kept_by_sops_but_not_printed(tmp_path: Path) -> None:
    """1208:40/83/134/379, 4242:402: a comment above a list's first item whose first line has its
    own comment: sops keeps it in its tree (rotate, --extract) but its decrypt does not print it."""
    text = b"value:\n  # c1\n  -\n    # c2\n    z: 1\nk:\n  # c3\n  - a: 12  # c4\n"
    mine = encrypt(text)
    assert decrypt(mine) == text
    printed = sops(tmp_path, mine, "decrypt")
    assert comments(printed) == [" c2", " c4"]  # sops's printing drops c1 and c3
    assert comments(sops(tmp_path, sops(tmp_path, text, "encrypt", "--age", RECIPIENT), "decrypt")) == comments(text)
    assert comments(sops(tmp_path, mine, "decrypt", "--extract", '["value"]')) == [" c1", " c2"]
    (tmp_path / "r.yaml").write_bytes(mine)
    rotated = subprocess.run(
        [str(SOPS), "rotate", "-i", "r.yaml"], capture_output=True, env=ENV, timeout=60, cwd=tmp_path
    )
    assert rotated.returncode == 0, rotated.stderr.decode()
    assert comments(decrypt((tmp_path / "r.yaml").read_bytes())) == comments(text)
    # the fuzzer's rule names exactly the comments above such a first item
    assert rules.yaml_first_item_lost_comments(text) == {" c1": 1, " c3": 1}
    theirs = sops(tmp_path, sops(tmp_path, text, "encrypt", "--age", RECIPIENT), "decrypt")
    assert harness.semantic_diff("yaml", printed, theirs, sops_lossy=True, source=text) is None
    assert harness.semantic_diff("yaml", printed, theirs, sops_lossy=True) == "comments"
    for kept in (b"value:\n  # c1\n  -\n    z: 1\n", b"value:\n  # c1\n  - &x\n    # c2\n    z: 1\n"):
        assert comments(sops(tmp_path, encrypt(kept), "decrypt")) == comments(kept)
        assert not rules.yaml_first_item_lost_comments(kept)


def test_empty_tail_comment_sops_round_trip_drops(tmp_path: Path) -> None:
    """1208:646, 4242:157: a comment before the trailing empty items of a list that ends the
    document: sops's own round trip drops it, sops's decrypt of pysops's file prints it."""
    text = b'"a:b": NULL\nb:\n#comment\n-\n'
    mine = sops(tmp_path, encrypt(text), "decrypt")
    theirs = sops(tmp_path, sops(tmp_path, text, "encrypt", "--age", RECIPIENT), "decrypt")
    assert comments(mine) == ["comment"] and comments(theirs) == []
    assert decrypt(encrypt(text)) == text
    assert rules.yaml_empty_tail_comments(text) == {"comment": 1}
    assert harness.semantic_diff("yaml", mine, theirs, sops_lossy=True, source=text) is None
    assert harness.semantic_diff("yaml", mine, theirs, sops_lossy=True) == "comments"
    # not when the list does not end the document (sops keeps it there)
    assert rules.yaml_empty_tail_comments(b"b:\n# c\n-\nz: 1\n") == {}


def test_empty_list_comment_before_a_dedented_comment(tmp_path: Path) -> None:
    """1208:110/151/608: ``db: []  # c`` followed by the next key's comment: sops's decrypt of its
    own file drops ``# c``; pysops's decrypt of that file keeps it below ``[]``."""
    text = b"list: [] # comment\n# next\nenv: 1\n"
    sops_file = sops(tmp_path, text, "encrypt", "--age", RECIPIENT)
    theirs = sops(tmp_path, sops_file, "decrypt")
    mine = decrypt(sops_file)
    assert comments(theirs) == [" next"] and comments(mine) == [" comment", " next"]
    assert oracle.parse_yaml(mine).docs == oracle.parse_yaml(theirs).docs
    assert rules.yaml_empty_list_comments(mine) == [" comment"]
    assert harness.semantic_diff("yaml", mine, theirs, sops_lossy=True) is None
    assert harness.semantic_diff("yaml", mine, theirs) == "comments"
    # without a comment after it sops keeps it, and the rule excuses nothing
    plain = b"list: [] # comment\nenv: 1\n"
    assert comments(sops(tmp_path, sops(tmp_path, plain, "encrypt", "--age", RECIPIENT), "decrypt")) == [" comment"]
    assert rules.yaml_empty_list_comments(decrypt(sops(tmp_path, plain, "encrypt", "--age", RECIPIENT))) == []
