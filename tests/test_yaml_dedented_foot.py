"""YAML comments that sops's decrypt of a pysops file left as `#ENC[...,type:comment]` (fuzzer
class yaml:comment-encrypted, seed 7731): go-yaml (sops) reads each of these comments into
another container than pysops sealed it in, so the AAD did not match.

go-yaml's scanner binds a dedented group of own-line comments that a blank line ends (7731:453),
and any group after the first of a gap (7731:779), to the first token at or after it: the end of
a block that closes on a comment at its column, else the next item, whose container keeps it (a
key's foot goes to the key before it; a list's end hands it on). In a CRLF file it sees the
"\\n" of the first comment line right after an item as a blank line (7731:844): that line is the
item's foot, which after an indentless list that ends there is the list's.

Each layout is checked against the real sops binary: it decrypts every comment of pysops's file,
without the "unencrypted comment" warning, and pysops's own round trip stays exact."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.helpers import AGE_ENV, SOPS_EXE, encrypt_yaml, sops_yaml, sops_yaml_run, yaml_comments

from pysops import api
from pysops.formats import yaml as yaml_store

pytestmark = pytest.mark.skipif(not SOPS_EXE.exists(), reason="sops binary not installed")

LAYOUTS = [
    # 7731:453: between two levels, then a blank line: the root's (the next key's container)
    b"      z:\n          nested: '0123'\n       #\t tab\n\n      value21:\n",
    b"z:\n    nested: 1\n # c\n\nv: 1\n",
    b"a:\n  b: 1\n# x\n\n# y\nc: 1\n",
    b"a:\n  b:\n      c: 1\n   # x\n\n  d: 1\n",
    b"a:\n  b:\n      c: 1\n   # x\n\nd: 1\n",
    b"a:\n  b:\n      - 1\n   # x\n\n  d: 1\n",
    # ... at a closing mapping's column: that mapping's (its end is moved onto the comment), also
    # for a group above it that is at no column
    b"a:\n  b:\n    c: 1\n  # x\n\n  # y\n  d: 1\n",
    b"a:\n  b:\n      c: 1\n  # x\n\nd: 1\n",
    b"a:\n  b:\n      c: 1\n   # x\n\n  # y\nd: 1\n",
    b"x:\n  - a:\n      - 1\n    # c\n\n  - 2\n",
    # 7731:779: a second group, left of the item mapping and right of the list's dashes: the
    # list's (the next item's foot), not the root's
    b"name39:\n   - password0: [{host: h}]\n           # x\n    # sops:enc\n   - n\n",
    b"a:\n  - b:\n      c: 1\n    # x\n   # y\n  - 2\n",
    # 7731:844, CRLF: the first comment line after an indentless list that ends there
    b"name30: &m2\r\n- x_unencrypted:\r\n  - 1999\r\n  #comment\r\n  count: '1.0'\r\n",
    b"n:\r\n  x:\r\n  - 1\r\n  #c\r\n  #d\r\n  count: 1\r\n",
    b"n:\r\n  x:\r\n  - 1\r\n    #c\r\n  count: 1\r\n",
]


@pytest.mark.parametrize("text", LAYOUTS)
def test_sops_decrypts_every_comment_of_pysops_file(tmp_path: Path, text: bytes) -> None:
    ours = encrypt_yaml(text)
    out, err = sops_yaml_run(tmp_path, ours, "decrypt")
    assert b"ENC[" not in out
    assert "unencrypted comment" not in err
    assert yaml_comments(out) == yaml_comments(text.replace(b"\r\n", b"\n"))
    assert api.decrypt_bytes(ours, input_format="yaml", options=api.DecryptOptions(env=AGE_ENV)) == text


# layouts where pysops was right before (the rule above must leave them alone)
UNCHANGED = [
    b"list:\n  - k: v\n    # after kv\n  # after list items\nd: 1\n",
    b"a:\n  b:\n    - 1\n  # x\nz: 1\n",
    b"a:\n  b:\n    - 1\n  # x\n\nz: 1\n",
    b"x:\n  - - 1\n # c\n\n  - 2\n",
    b"z:\n    nested: 1\n # c\nv: 1\n",
    b"n:\r\n  x:\r\n    - 1\r\n  #c\r\n  count: 1\r\n",
    b"n:\r\n  x:\r\n  - 1\r\n\r\n  #c\r\n  count: 1\r\n",
    b"n:\n  x:\n  - 1\n  #c\n  count: 1\n",
    b"n:\r\n  x:\r\n  - 1\r\n  #c\r\nm: 1\r\n",
]


@pytest.mark.parametrize("text", UNCHANGED)
def test_neighbouring_layouts_still_decrypt(tmp_path: Path, text: bytes) -> None:
    out = sops_yaml(tmp_path, encrypt_yaml(text), "decrypt")
    assert b"ENC[" not in out


def _container_of(text: bytes, comment: str) -> str:
    """The AAD pysops seals ``comment`` with (the mapping-key path of its container)."""
    from pysops.api import _document_leaves
    from pysops.document import Comment

    doc = yaml_store.parse(text)
    return next(aad for _, aad, leaf, _ in _document_leaves(doc) if type(leaf) is Comment and leaf.text == comment)


def test_containers_named_as_go_yaml_reads_them() -> None:
    """The containers themselves (what the AAD names), as sops seals them in its own file."""
    assert _container_of(b"z:\n    nested: 1\n # c\n\nv: 1\n", " c") == ":"
    assert _container_of(b"a:\n  b:\n      c: 1\n  # x\n\nd: 1\n", " x") == "a:"
    assert _container_of(b"name39:\n   - p: [1]\n           # x\n    # y\n   - n\n", " y") == "name39:"
    assert _container_of(b"n:\r\n  x:\r\n  - 1\r\n  #c\r\n  #d\r\n  count: 1\r\n", "c") == "n:x:"
    assert _container_of(b"n:\r\n  x:\r\n  - 1\r\n  #c\r\n  #d\r\n  count: 1\r\n", "d") == "n:"
