"""YAML comment classes of the differential fuzzer (issue 10, section 2): where go-yaml (sops)
attaches a comment decides the AAD it is sealed under, so pysops must seal each comment in the
container sops reads it into. Each case is checked against the real sops binary both ways."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyrage
import pytest
from tests.helpers import yaml_comments as comments_of
from tests.helpers import yaml_data as data_of

from pysops import api
from pysops.document import Comment
from pysops.formats import yaml as Y
from pysops.keys.age import AgeRecipient

SOPS = Path(sys.executable).parent / "sops"
pytestmark = pytest.mark.skipif(not SOPS.exists(), reason="sops binary not installed")

IDENTITY = pyrage.x25519.Identity.generate()
RECIPIENT = str(IDENTITY.to_public())
ENV = dict(os.environ, SOPS_AGE_KEY=str(IDENTITY), SOPS_DISABLE_VERSION_CHECK="1")


def sops(args: list[str], cwd: Path, strict: bool = True) -> bytes:
    result = subprocess.run([str(SOPS), *args], capture_output=True, env=ENV, timeout=60, cwd=cwd)
    assert result.returncode == 0, result.stderr.decode()
    # sops found every comment under its AAD
    assert (b"unencrypted comment" not in result.stderr) == strict, result.stderr.decode()
    return result.stdout


def encrypt(text: str) -> bytes:
    options = api.EncryptOptions([[AgeRecipient(RECIPIENT)]])
    return api.encrypt_bytes(text.encode(), options, input_format="yaml", env=ENV)


def decrypt(data: bytes) -> str:
    return api.decrypt_bytes(data, input_format="yaml", options=api.DecryptOptions(env=ENV)).decode()


def containers_of(text: str) -> list[tuple[str, str]]:
    """(comment text, path of the mapping or list that holds it) for every comment."""
    found: list[tuple[str, str]] = []

    def walk(node: object, path: str) -> None:
        if isinstance(node, (Y.Mapping, Y.Sequence)):
            for item in node.items:
                if isinstance(item, Comment):
                    found.append((item.text, path))
                elif isinstance(item, Y.Entry):
                    walk(item.value, path + item.key + ":")
                else:
                    walk(item, path)

    for branch in Y.parse(text.encode()).branches:
        walk(branch, "")
    return found


# --- a comment after an empty last list item ("-" alone) ---------------------------------------
# go-yaml attaches it (own-line, or on the line of the "-") to the enclosing mapping at its column,
# not to the list; sops decrypt of a file that sealed it in the list left it as ENC[...]. In a
# nested mapping sops writes that comment as the mapping's foot comment, which go-yaml then reads
# elsewhere: sops cannot decrypt that comment of its own file (False below), pysops can.

EMPTY_ITEM_LAYOUTS = [
    ("user:  # c1\n-\n# c2\n", [(" c1", ""), (" c2", "")], True),
    ("user:\n-\n  # c2\n", [(" c2", "")], True),
    ("user:\n- 1\n-  # c1\n", [(" c1", "")], True),
    ("user:\n-  # c1\n# c2\nz: 1\n", [(" c1", ""), (" c2", "")], True),
    ("a:\n  user:\n  -\n    # c2\n", [(" c2", "a:")], False),
    ("a:\n  user:\n  -\n  # c2\nz: 1\n", [(" c2", "a:")], False),
    ("x:\n  user:\n  -\n# c2\n", [(" c2", "")], True),
    ("x:\n  - a: 1\n    b:\n    -\n    # c2\n  - 2\n", [(" c2", "x:")], False),
    # on the line of the list's anchor or tag, before its only (empty) item
    ('  "sp ace": &m1  # c1\n            -\n', [(" c1", "")], True),
    ("k: !!seq  # c1\n  -\n", [(" c1", "")], True),
    ("a:\n  k: &m1  # c1\n    -\n  b: 1\n", [(" c1", "a:")], True),
    # after a nested collection: that collection's foot comment
    ("x:\n  - - 1\n# c\n  -\n", [(" c", "x:")], True),
    ("k:\n- a: 1\n  # c\n-\n", [(" c", "k:")], True),
    # the list goes on: the comments are the list's, as before
    ("k: &m1  # c1\n  -\n  - 1\n", [(" c1", "k:")], True),
    ("user:\n-  # c1\n- 2\n", [(" c1", "user:")], True),
    ("user:\n-\n# c2\n- 1\n", [(" c2", "user:")], True),
]


@pytest.mark.parametrize(("text", "containers", "sops_reads_own"), EMPTY_ITEM_LAYOUTS)
def test_comment_after_an_empty_last_list_item_is_sealed_where_sops_reads_it(
    text: str, containers: list[tuple[str, str]], sops_reads_own: bool, tmp_path: Path
) -> None:
    check_both_ways(text, containers, sops_reads_own, tmp_path)


# --- a dedented comment after a nested list while the outer list goes on --------------------------
# go-yaml keeps it in the nested list (its item's foot comment); only when every list between
# ends there does it go to the mapping at its column (docs/formats.md).

NESTED_LIST_FOOT_LAYOUTS = [
    ("x:\n  - - 1\n# c\n  - 2\n", [(" c", "x:")], True),
    ("x:\n  - - 1\n# c\n  - 2\ny: 1\n", [(" c", "x:")], True),
    ("x:\n  - - 1\n# c\n  -\ny: 1\n", [(" c", "x:")], True),
    ("x:\n  - - 1\n# c\n  -\n    # d\n", [(" c", "x:"), (" d", "")], True),
    ("x:\n  - a: 1\n# c\n  -\n    # d\n", [(" c", "x:"), (" d", "")], True),
]


@pytest.mark.parametrize(("text", "containers", "sops_reads_own"), NESTED_LIST_FOOT_LAYOUTS)
def test_dedented_comment_after_a_nested_list_stays_there_while_the_outer_list_goes_on(
    text: str, containers: list[tuple[str, str]], sops_reads_own: bool, tmp_path: Path
) -> None:
    check_both_ways(text, containers, sops_reads_own, tmp_path)


# --- a comment at the end of a document, indented to no mapping's column -------------------------
# go-yaml gives it to the root (at a mapping's column: to that mapping); and in pysops's file,
# where "sops:" follows, a blank line keeps it there (without it go-yaml reads it as the foot of
# the entry above).

DOCUMENT_END_LAYOUTS = [
    ("plain_u:\n     key70: 1\n    #\t tab\n", [("\t tab", "")], True),
    ("a:\n     k: 1\n  # c\n", [(" c", "")], True),
    ("a:\n  b:\n     k: 1\n    # c\n", [(" c", "")], True),
    ("a:\n  b:\n    k: 1\n   # c\n", [(" c", "")], True),
    ("a:\n  b:\n     k: 1\n  # c\n", [(" c", "a:")], False),  # sops: its own mapping foot
    ("a:\n  b:\n     k: 1\n     # c\n", [(" c", "a:b:")], True),
    ("a:\n     k: 1\n      # c\n", [(" c", "a:")], True),
    # a first group right above a less indented one: the foot of the block that ended
    ("k:\n    - x\n  # c\n# d\n", [(" c", "k:"), (" d", "")], True),
    ("k:\n    - x\n  # c\n  # e\n# d\n", [(" c", "k:"), (" e", "k:"), (" d", "")], True),
    ("k:\n    a: x\n  # c\n# d\n", [(" c", "k:"), (" d", "")], True),
    ("k:\n    - x\n  # c\n\n# d\n", [(" c", ""), (" d", "")], True),
]


@pytest.mark.parametrize(("text", "containers", "sops_reads_own"), DOCUMENT_END_LAYOUTS)
def test_comment_at_the_end_of_a_document_at_no_mapping_column_is_the_roots(
    text: str, containers: list[tuple[str, str]], sops_reads_own: bool, tmp_path: Path
) -> None:
    check_both_ways(text, containers, sops_reads_own, tmp_path)


# --- indented comments that end a document after a blank line (yaml:comment-encrypted) ----------
# go-yaml reads them as the root's where nothing follows, but as the innermost block's once a key
# follows: in pysops's file that key is "sops:", so pysops seals them in the innermost block
# (docs/formats.md#yaml-trailing-comments); sealed as the root's, sops left them encrypted.

BLANK_THEN_END_LAYOUTS = [
    ("z64:\n" + " " * 37 + "key: value\n\n" + " " * 17 + "# comment\n", [(" comment", "z64:")], True),
    ("a:\n  b:\n    c: 1\n\n  # c\n", [(" c", "a:b:")], True),
    ("a:\n  b:\n    c: 1\n\n    # c\n", [(" c", "a:b:")], True),
    ("a:\n  b:\n    c:\n    - 1\n\n # c\n", [(" c", "a:b:c:")], True),
    ("a:\n  - b: 1\n\n  # c\n", [(" c", "a:")], True),
    ("a:\n  b:\n    c: 1\n\n  # c\n\n   # d\n", [(" c", "a:b:"), (" d", "")], True),
    ("a:\n  b:\n    c: 1\n\n # c\n  # d\n", [(" c", "a:b:"), (" d", "a:")], True),
    ("a:\n  b:\n    c: 1\n\n    # c\n# d\n", [(" c", "a:b:"), (" d", "")], True),
    ("a:\n  b: 1\n\n# c\n", [(" c", "")], True),  # at column 0: the root's either way
    # after a block scalar: its blank lines stay in the written file ("|"), or go with it ("|+")
    ("z64:\n" + " " * 30 + "- key18: |\n\n" + " " * 17 + "# comment\n", [(" comment", "z64:")], True),
    ("z:\n   - k: |\n       x\n\n  # c\n", [(" c", "z:")], True),
    ("z:\n   - k: |+\n       x\n\n  # c\n", [(" c", "")], True),
]


@pytest.mark.parametrize(("text", "containers", "sops_reads_own"), BLANK_THEN_END_LAYOUTS)
def test_indented_comment_ending_a_document_after_a_blank_line_is_sealed_where_sops_reads_it(
    text: str, containers: list[tuple[str, str]], sops_reads_own: bool, tmp_path: Path
) -> None:
    check_both_ways(text, containers, sops_reads_own, tmp_path)


# --- a comment after an indentless list, right above the mapping's next key ---------------------
# go-yaml opens no block for a list at its key's column ("a:\n- 1"): the comments between its last
# item and the next key are that key's head comments (the mapping's), at any indentation; sealed
# in the list, sops left them encrypted.

INDENTLESS_LIST_LAYOUTS = [
    ("a:\n- 42\n #comment\nname: x\n", [("comment", "")], True),
    ("a:\n- 42\n  #c\n  #d\nname: x\n", [("c", ""), ("d", "")], True),
    (" plain_u96:\n - 42\n  #comment\n name: x\n", [("comment", "")], True),
    ("b:\n  a:\n  - 42\n   #comment\n  name: x\n", [("comment", "b:")], True),
    ("a:\n- 42\n #comment\n", [("comment", "a:")], True),  # at the end: the list's
    ("a:\n  - 42\n #comment\nname: x\n", [("comment", "a:")], True),  # an indented list's
]


@pytest.mark.parametrize(("text", "containers", "sops_reads_own"), INDENTLESS_LIST_LAYOUTS)
def test_comment_after_an_indentless_list_is_the_next_keys(
    text: str, containers: list[tuple[str, str]], sops_reads_own: bool, tmp_path: Path
) -> None:
    check_both_ways(text, containers, sops_reads_own, tmp_path)


def check_both_ways(text: str, containers: list[tuple[str, str]], sops_reads_own: bool, tmp_path: Path) -> None:
    assert sorted(containers_of(text)) == sorted(containers)
    ours = encrypt(text)
    assert decrypt(ours) == text
    (tmp_path / "ours.yaml").write_bytes(ours)
    sops_of_ours = sops(["decrypt", "ours.yaml"], tmp_path)  # no comment left encrypted
    (tmp_path / "plain.yaml").write_text(text)
    theirs = sops(["encrypt", "--age", RECIPIENT, "plain.yaml"], tmp_path)
    (tmp_path / "theirs.yaml").write_bytes(theirs)
    sops_own = sops(["decrypt", "theirs.yaml"], tmp_path, strict=sops_reads_own)
    assert comments_of(sops_of_ours) == sorted(c for c, _ in containers)
    if sops_reads_own:
        assert comments_of(sops_own) == comments_of(sops_of_ours)
    assert data_of(sops_of_ours) == data_of(sops_own) == data_of(text)
    assert data_of(decrypt(theirs)) == data_of(text)
    assert comments_of(decrypt(theirs)) == sorted(c for c, _ in containers)


@pytest.mark.parametrize("text", ["k:\n- 1\n# c\n-\n", "k:\n  # c\n  -\n", "k:\n  -\n  # c\n  -\n"])
def test_comment_before_an_empty_last_list_item_is_kept_where_sops_drops_it(text: str, tmp_path: Path) -> None:
    """sops loses a comment before trailing empty items in its own round trip; pysops keeps it,
    sealed in the enclosing mapping, where sops reads (and decrypts) it in pysops's file."""
    assert containers_of(text) == [(" c", "")]
    ours = encrypt(text)
    assert decrypt(ours) == text
    (tmp_path / "ours.yaml").write_bytes(ours)
    assert comments_of(sops(["decrypt", "ours.yaml"], tmp_path)) == [" c"]
    (tmp_path / "plain.yaml").write_text(text)
    theirs = sops(["encrypt", "--age", RECIPIENT, "plain.yaml"], tmp_path)
    (tmp_path / "theirs.yaml").write_bytes(theirs)
    assert comments_of(sops(["decrypt", "theirs.yaml"], tmp_path)) == []  # sops's own loses it
    assert data_of(decrypt(theirs)) == data_of(text)


# --- comments of an anchored collection at its alias copies (yaml:a.comments) --------------------


@pytest.mark.parametrize(
    ("text", "once"),
    [
        ("a: &m\n  # c\n  x: 1\nb: *m\n", [" c"]),
        ("a: &m\n  - 1  # c\n  - 2\nb:\n  - *m\n", [" c"]),
        ("a: &m\n  x: 1\n  # c\nb:\n  <<: *m\n", [" c"]),
    ],
)
def test_an_anchors_comments_are_not_repeated_at_its_alias_copies(text: str, once: list[str], tmp_path: Path) -> None:
    """Deliberate difference (docs/formats.md, YAML): sops expands an alias into a copy that
    repeats the anchor's comments; pysops writes the copy (or keeps `*m`) without them, so the
    comment is in the file once. The data is the same both ways (the round trip writes the
    alias as a flow copy, a documented rule)."""
    ours = encrypt(text)
    assert data_of(decrypt(ours)) == data_of(text)
    assert comments_of(decrypt(ours)) == once
    (tmp_path / "ours.yaml").write_bytes(ours)
    sops_of_ours = sops(["decrypt", "ours.yaml"], tmp_path)
    (tmp_path / "plain.yaml").write_text(text)
    theirs = sops(["encrypt", "--age", RECIPIENT, "plain.yaml"], tmp_path)
    (tmp_path / "theirs.yaml").write_bytes(theirs)
    sops_own = sops(["decrypt", "theirs.yaml"], tmp_path)
    assert comments_of(sops_of_ours) == once
    assert comments_of(sops_own) == once * 2  # sops repeats it at the copy
    assert data_of(sops_of_ours) == data_of(sops_own) == data_of(decrypt(theirs))
    assert comments_of(decrypt(theirs)) == once * 2  # pysops reads sops's copies as written


# --- unset of an entry with a comment on its line (yaml:e.unset.comments) --------------------------


@pytest.mark.parametrize(
    ("text", "index", "expected"),
    [
        ("a: 1  # c\nb: 2\n", '["a"]', "# c\nb: 2\n"),
        ("key83: '<&>'  # sops:noenc\n", '["key83"]', "# sops:noenc\n{}\n"),  # as sops prints it
        ("a: 1\nb:\n  x: 1  # e\n  y: 2\n", '["b"]["x"]', "a: 1\nb:\n  # e\n  y: 2\n"),
        ("a: 1\r\nb: 2  # c\r\nd: 3\r\n", '["b"]', "a: 1\r\n# c\r\nd: 3\r\n"),
    ],
)
def test_unset_keeps_the_line_comment_of_the_removed_entry_like_sops(
    text: str, index: str, expected: str, tmp_path: Path, pysops: Any
) -> None:
    """sops holds a line comment as a comment item before the entry and keeps it when it unsets
    the entry; pysops used to remove the whole line, comment included."""
    (tmp_path / "ours.yaml").write_bytes(encrypt(text))
    (tmp_path / "plain.yaml").write_bytes(text.encode())
    (tmp_path / "theirs.yaml").write_bytes(sops(["encrypt", "--age", RECIPIENT, "plain.yaml"], tmp_path))
    assert pysops(["unset", str(tmp_path / "ours.yaml"), index], env=ENV).code == 0
    sops(["unset", "theirs.yaml", index], tmp_path)
    after_ours = sops(["decrypt", "ours.yaml"], tmp_path)
    assert comments_of(after_ours) == comments_of(sops(["decrypt", "theirs.yaml"], tmp_path))
    assert data_of(after_ours) == data_of(sops(["decrypt", "theirs.yaml"], tmp_path))
    result = decrypt((tmp_path / "ours.yaml").read_bytes())
    assert result == expected


# --- set/unset of a nested mapping keep the comments after it (yaml:e.set/unset.comments) ---------


@pytest.mark.parametrize("verb", ["set", "unset"])
@pytest.mark.parametrize(
    "text",
    [
        "note_unencrypted:\n  enabled: 1\n# password here\n",
        "note_unencrypted:\n  enabled: |3\n# password here\n",
        "note_unencrypted:\n  x: 1\n  # own\n# password here\nb: 2\n",
    ],
)
def test_set_and_unset_of_a_nested_mapping_keep_the_comments_after_it(
    verb: str, text: str, tmp_path: Path, pysops: Any
) -> None:
    """A block mapping's span runs to the next token, over the comments after it that go-yaml
    gives to the enclosing mapping: set/unset used to replace them with the mapping, where sops
    keeps them."""
    (tmp_path / "ours.yaml").write_bytes(encrypt(text))
    (tmp_path / "plain.yaml").write_bytes(text.encode())
    (tmp_path / "theirs.yaml").write_bytes(sops(["encrypt", "--age", RECIPIENT, "plain.yaml"], tmp_path))
    args = ['["note_unencrypted"]'] + (['"fuzz-set"'] if verb == "set" else [])
    assert pysops([verb, str(tmp_path / "ours.yaml"), *args], env=ENV).code == 0
    sops([verb, "theirs.yaml", *args], tmp_path)
    after_ours, after_theirs = sops(["decrypt", "ours.yaml"], tmp_path), sops(["decrypt", "theirs.yaml"], tmp_path)
    assert comments_of(after_ours) == comments_of(after_theirs) != []
    assert data_of(after_ours) == data_of(after_theirs)
    assert " password here" in comments_of(decrypt((tmp_path / "ours.yaml").read_bytes()))
