"""YAML comment classes of the differential fuzzer (issue 10, yaml:a.comments): comments that an
alias copies (head and foot comments of the anchored node) and comments before the ``---`` of a
last, comment-only document. Checked against the real sops binary; the fuzzer's rules accept
exactly sops's losses and repeats (docs/formats.md#yaml-alias-copy-comments,
#yaml-last-empty-document-comment)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from tests.fuzz import oracle, rules
from tests.fuzz.harness import semantic_diff
from tests.helpers import AGE_ENV as ENV
from tests.helpers import AGE_RECIPIENT as RECIPIENT
from tests.helpers import SOPS_EXE as SOPS
from tests.helpers import encrypt_yaml as encrypt
from tests.helpers import sops_yaml as sops

pytestmark = pytest.mark.skipif(not SOPS.exists(), reason="sops binary not installed")


def sops_decrypt(tmp_path: Path, data: bytes) -> subprocess.CompletedProcess[bytes]:
    (tmp_path / "f.yaml").write_bytes(data)
    return subprocess.run([str(SOPS), "decrypt", "f.yaml"], capture_output=True, env=ENV, timeout=60, cwd=tmp_path)


@pytest.mark.parametrize(
    "text",
    [
        # 1208:1397: a line comment on an anchored item, copied by a merge key's alias
        b"x:\n  - &m1 # comment\n    a: &m2\n  - &m3 \n    <<: [*m1]\n",
        # the head comment above an anchored list item
        b"x:\n  # h\n  - &m1\n    a: ~\n  - <<: *m1\n",
        # a comment inside an anchored mapping of nulls only (nothing to encrypt but the comment)
        b"x: &m1\n  # h\n  a: ~\ny: *m1\n",
    ],
)
def test_alias_of_a_node_with_comments_is_written_in_full(tmp_path: Path, text: bytes) -> None:
    """go-yaml copies an anchored node's comments to its alias; an encrypted comment copied to the
    alias's path cannot be decrypted there (its AAD is the path it was sealed at). pysops writes
    such an alias out in full when it encrypts: sops decrypts every comment of pysops's file,
    with the same data as its own round trip."""
    mine = encrypt(text)
    assert b"*m1" not in mine
    result = sops_decrypt(tmp_path, mine)
    assert result.returncode == 0, result.stderr.decode()
    assert b"ENC[" not in result.stdout and b"unencrypted comment" not in result.stderr
    theirs = sops(tmp_path, sops(tmp_path, text, "encrypt", "--age", RECIPIENT), "decrypt")
    assert oracle.parse_yaml(result.stdout).docs == oracle.parse_yaml(theirs).docs
    assert set(oracle.parse_yaml(result.stdout).comments) == set(oracle.parse_yaml(theirs).comments)
    # sops's own file repeats them at the copy (the documented difference), and only those
    assert semantic_diff("yaml", result.stdout, theirs, sops_lossy=True, source=text) is None


def test_alias_without_comments_stays_an_alias() -> None:
    """An anchored node without comments whose copy equals it keeps its ``*name``."""
    assert b"y: *m1" in encrypt(b"x: &m1\n  a: ~\ny: *m1\n# after\n")


def test_alias_copied_comments_rule_reads_go_yaml_head_and_foot_comments() -> None:
    """4243:288, 31415:1073: go-yaml copies, with the anchored node, the comment lines above an
    anchor that starts its line, and those after it deeper than the next line or between that
    line's column and its block's."""
    copied = rules.yaml_alias_copied_comments
    assert copied(b"x:\n  # h\n  - &m1\n    a: ~\n  - <<: *m1\n") == {" h": 1}
    assert copied(b"# h\nx: &m1\n  a: 1\ny: *m1\n") == {}  # the key's head comment
    assert copied(b"env:\n   - y94: &m1\n     - 1\n    # c\n   -\n         n: *m1\n") == {" c": 1}
    assert copied(b"env:\n   - y94: &m1\n       - 1\n   # c\n   - n: *m1\n") == {}  # at the next item's column
    assert copied(b"a:\n  b: &m\n    k: 1\n   # c\n  d: *m\n") == {" c": 1}
    assert copied(b"n:\n  p: &m1\n    k: false\n # c\n  y:\n  - *m1\n") == {" c": 1}
    assert copied(b"n:\n  p: &m1\n    k: false\n# c\n  y:\n  - *m1\n") == {}  # at the enclosing block's column


@pytest.mark.parametrize(
    ("text", "lost"),
    [
        (b"# comment\n---\n#\n", " comment"),  # 31415:537
        (b"value62: |2-\n# comment\n---\n#\n", " comment"),
        (b"a: 1\n# c1\n\n# c1c\n---\n# c2\n", " c1c"),
    ],
)
def test_comments_before_a_last_comment_only_document(tmp_path: Path, text: bytes, lost: str) -> None:
    """31415:537: sops's own round trip drops the last group of own-line comments before the
    ``---`` of a last document that holds only comments; pysops keeps them, and sops's decrypt of
    pysops's file keeps every comment with the same data."""
    theirs = sops(tmp_path, sops(tmp_path, text, "encrypt", "--age", RECIPIENT), "decrypt")
    mine = sops(tmp_path, encrypt(text), "decrypt")
    assert lost not in oracle.parse_yaml(theirs).comments
    assert sorted(oracle.parse_yaml(mine).comments) == sorted(oracle.parse_yaml(text).comments)
    assert oracle.parse_yaml(mine).docs == oracle.parse_yaml(theirs).docs
    assert rules.yaml_last_document_lost_comments(text) == {lost: 1}
    assert semantic_diff("yaml", mine, theirs, sops_lossy=True, source=text) is None
    assert semantic_diff("yaml", mine, theirs, sops_lossy=True) == "comments"


def test_last_empty_document_rule_is_precise() -> None:
    lost = rules.yaml_last_document_lost_comments
    assert lost(b"a: 1 # l\n# c1\n# c1b\n---\n# c2\n") == {" c1": 1, " c1b": 1}  # not the line comment
    for kept in (
        b"a: 1\n# c1\n---\n",  # no comment in the last document
        b"a: 1\n# c1\n--- # c2\n",  # only on the marker's line
        b"a: 1\n# c1\n---\n# c2\n...\n",  # closed by `...`
        b"a: 1\n# c1\n---\n# c2\n---\nb: 1\n",  # not the last document
        b"a: 1\n# c1\n---\nb: 1 # c2\n",  # the last document has content
        b"a: 1\n# c1\n",  # one implicit document
    ):
        assert lost(kept) == {}, kept
    src = b"a: 1\n# c1\n---\n# c2\n"
    mine, theirs = b"a: 1\n# c1\n---\n# c2\n{}\n", b"a: 1\n# c2\n---\n{}\n"
    assert semantic_diff("yaml", mine, theirs, sops_lossy=True, source=src) is None
    assert semantic_diff("yaml", mine + b"# c3\n", theirs, sops_lossy=True, source=src) == "comments"
    # only the group before `---`: the last document's own comment must not be lost
    assert semantic_diff("yaml", mine, b"a: 1\n---\n{}\n", sops_lossy=True, source=src) == "comments"


@pytest.mark.parametrize(
    "text",
    [
        # found by hand: `# y`, after a blank line at the column of the group before it, is z's head
        b"a:\n  b:\n    - 1\n  # x\n\n  # y\nz: 1\n",
        b"a:\n  b:\n    - 1\n  # x\n\n  # y\n\n  # w\nz: 1\n",
        b"a:\n  b:\n    k: 1\n    # x\n\n  # y\n\n  # w\nz: 1\n",
        # ... at another column, left of the group before it: the foot of the block at its column
        b"a:\n  b:\n    - 1\n    # x\n\n  # y\nz: 1\n",
        b"a:\n  - b:\n      - 1\n      # x\n\n    # y\nz: 1\n",
        # ... deeper than a group that was not dedented: the next key's head
        b"a:\n  b:\n    - 1\n    # x\n\n      # y\n      # w\nz: 1\n",
    ],
)
def test_comment_groups_after_a_blank_line_are_sealed_where_go_yaml_reads_them(tmp_path: Path, text: bytes) -> None:
    """sops decrypts every comment of pysops's file (it reads each in the container pysops
    sealed it in), with the same data."""
    assert_sops_reads_every_comment(tmp_path, text)


@pytest.mark.parametrize(
    "text",
    [
        b"y76: &m1\n-\n - |+2\n# a: b\n-\n",  # found by hand (an anchored indentless list)
        b"y76: !!seq\n-\n - 1\n# a: b\n-\nz: 1\n",
        b"y76: &m1\n  -\n   - 1\n  # a: b\n  -\nz: 1\n",
    ],
)
def test_head_of_an_empty_item_in_an_anchored_list(tmp_path: Path, text: bytes) -> None:
    """A comment at the dashes' column between a nested list and the empty items that end an
    anchored (or tagged) list is the next key's (the root's), as go-yaml reads it: the list's
    column is its dashes', not its anchor's."""
    assert_sops_reads_every_comment(tmp_path, text)


def assert_sops_reads_every_comment(tmp_path: Path, text: bytes) -> None:
    result = sops_decrypt(tmp_path, encrypt(text))
    assert result.returncode == 0, result.stderr.decode()
    assert b"ENC[" not in result.stdout, result.stdout.decode()
    assert sorted(oracle.parse_yaml(result.stdout).comments) == sorted(oracle.parse_yaml(text).comments)
    assert oracle.parse_yaml(result.stdout).docs == oracle.parse_yaml(text).docs


@pytest.mark.parametrize(
    "text",
    [
        b'  "sp ace": &m2 # #double\r\n  -\r\n    -\r\n',  # 8642:358
        b"k: &m2 # c\n-\n  -\n",
        b"k: !!seq # c\n  -\n    -\nz: 1\n",
        b"a:\n  k: &m2 # c\n    -\n      -\n  z: 1\n",
        # stays in the list: a non-empty item, or an own-line comment
        b"k: &m2 # c\n  - 1\n  # d\n  -\n    -\nz: 1\n",
        b"k:\n  # c\n  -\n    -\n",
    ],
)
def test_anchor_comment_of_a_list_holding_only_an_empty_list(tmp_path: Path, text: bytes) -> None:
    """The line comment on the anchor (or tag) of a list whose only item is a list of empty
    items is the enclosing mapping's, as go-yaml reads it (as for a list of empty items)."""
    assert_sops_reads_every_comment(tmp_path, text)


@pytest.mark.parametrize(
    "text",
    [
        b'  "sp ace": &m2\r\n  -\r\n    # - item\r\n    -\r\n  - +12\r\n',  # 8642:358
        b"k:\n  -\n    # c\n    -\n  - 12\n",
        b"k:\n  - 1\n  -\n    # c\n    -\n  - 12\n",
        b"k:\n  -\n    - 1\n    # c\n    -\n  - 12\n",
        # the list that holds it ends too: the enclosing mapping's
        b"k:\n  -\n    # c\n    -\nz: 1\n",
    ],
)
def test_comment_before_the_empty_tail_of_an_item_of_a_list_that_goes_on(tmp_path: Path, text: bytes) -> None:
    """Comments before the trailing empty items of a list that is an item of a block list
    that goes on stay in that outer list, as go-yaml reads them."""
    assert_sops_reads_every_comment(tmp_path, text)
