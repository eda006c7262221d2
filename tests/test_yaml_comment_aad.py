"""YAML comments that sops's decrypt of a pysops file left as `#ENC[...,type:comment]` (fuzzer
class yaml:comment-encrypted, seed 1208): go-yaml (sops) reads each of these comments into
another container than pysops sealed it in, so the AAD did not match. Each layout is checked
against the real sops binary: it decrypts every comment of pysops's file, without the
"unencrypted comment" warning, and pysops's own round trip stays exact."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.helpers import AGE_ENV, AGE_RECIPIENT, SOPS_EXE, encrypt_yaml, sops_yaml, sops_yaml_run, yaml_comments

from pysops import api

pytestmark = pytest.mark.skipif(not SOPS_EXE.exists(), reason="sops binary not installed")
OPTIONS = api.DecryptOptions(env=AGE_ENV)


LAYOUTS = [
    # 1208:92: a comment left of the next key's column after a list that ends there: go-yaml
    # keeps it in the list (pysops sealed it in the mapping at its column)
    b"db:\n  - data:\n      - ~\n# - item\n    '1': false\n",
    b"a:\n  b:\n    - 1\n# x\n  z: 1\n",
    b"a:\n  b:\n    c:\n      - 1\n  # x\n    z: 1\n",
    b"a:\n  b:\n    c:\n      - 1\n# x\n  # y\n    z: 1\n",
    # 1208:194: CRLF, a comment left of a list item's column after a nested block: the list's
    # (the next item's head comment), not the mapping's at its column
    b"enabled:\r\n    - id_u36: x-y_z\r\n#  indented text\r\n    - 1\r\n",
    b"a:\r\n  b:\r\n    - x: 1\r\n  # c\r\n    - 1\r\n",
    # CRLF, left of the next key's column: that key's head comment
    b"a:\r\n  b:\r\n    c: 1\r\n# c\r\n  d: 2\r\n",
    b"a:\r\n  b:\r\n    c:\r\n      e: 1\r\n  # c\r\n    d: 2\r\n",
    # 1208:372: at the end of a document, a comment right above a more indented one is the foot
    # of the block that ended
    b"ratio:\n        - |\n    # - item\n      # a: b\n",
    b"ratio:\n        - x\n  # a\n    # b\n",
    b"ratio:\n    b:\n        c: 1\n  # a\n      # b\n",
    # 1208:1414, 4242:472: at the dashes' column between a nested collection and the empty items
    # that end the list: the head comment of the empty item, handed on to the next key of the
    # mapping that holds the list ("sops:" at the end of the written file)
    b"y76:\n- - x\n# a: b\n-\n",
    b"value:\n  -\n      id_u51: hello world\n  #  indented text\n  -\n",
    b"value:\n  - id: x\n  # c\n  -\n  -\n",
    b"a:\n  value:\n    - x: 1\n    # c\n    -\n  b: 1\n",
    b"a:\n  value:\n    - x: 1\n    -\n    # c\n    -\n  b: 1\n",
    # 1208:453: at an enclosing mapping's column right after a list that ends there (no blank
    # line): go-yaml keeps it in the list (pysops sealed it in the mapping at its column)
    b"b: &m1\n   a46:\n         - NULL\n   # #double\nx40: ''\n",
    b"a:\n  b:\n    - 1\n  # x\nz: 1\n",
    b"a:\n  b:\n    - 1\n  # x\n  # y\nz: 1\n",
    b"a:\n  b:\n    - 1\n  # x\n# y\nz: 1\n",
    # 7731:152: after a nested list that ends with an empty item, at the dashes' column of the
    # list that holds it and goes on: the head comment of that list's next item (pysops lifted
    # it to the root mapping, as when the outer list ends there)
    b"y16:\n   -\n      -\n   # - item\n   - 31\n",
    b"y16:\n   - - 1\n     -\n   # - item\n   - 2\n",
]


@pytest.mark.parametrize("text", LAYOUTS)
def test_sops_decrypts_every_comment_of_pysops_file(tmp_path: Path, text: bytes) -> None:
    ours = encrypt_yaml(text)
    out, err = sops_yaml_run(tmp_path, ours, "decrypt")
    assert b"ENC[" not in out
    assert "unencrypted comment" not in err
    assert sorted(yaml_comments(out)) == sorted(yaml_comments(text.replace(b"\r\n", b"\n")))
    assert api.decrypt_bytes(ours, input_format="yaml", options=OPTIONS) == text


# layouts the fixes above must leave alone (they were right before)
UNCHANGED = [
    b"db:\n  - data:\n      - ~\n    # - item\n    '1': false\n",
    b"a:\n  b:\n    c:\n      - 1\n  # x\n  z: 1\n",
    b"value:\n  - id: x\n  # c\n  -\n  - 2\n",
    b"a:\n  value:\n    - x: 1\n    # c\n    -\n",
    b"ratio:\n        - x\n    # a\n    # b\n",
    b"r:\r\n  data:\r\n      count: y\r\n   # tab\r\n  b: s\r\n",
    # then a blank line: go-yaml reads it in the mapping at its column
    b"a:\n  b:\n    - 1\n  # x\n\nz: 1\n",
    b"x:\n  - - 1\n# c\n  - 2\n",
]


@pytest.mark.parametrize("text", UNCHANGED)
def test_neighbouring_layouts_still_decrypt(tmp_path: Path, text: bytes) -> None:
    ours = encrypt_yaml(text)
    out, err = sops_yaml_run(tmp_path, ours, "decrypt")
    assert b"ENC[" not in out and "unencrypted comment" not in err


def test_comment_after_a_closed_flow_mapping_is_the_next_keys(tmp_path: Path) -> None:
    """e.extract-differs: sops writes `data: {} # c` as `data: {\\n  #c\\n}` and `other: 1 # kept`
    as a head comment of `other`; pysops read `# kept` into the flow mapping (the comments of the
    gap after `}` joined those inside it), so `--extract '["data"]'` printed `# kept` too, and
    pysops sealed such a comment in the flow mapping, where sops does not read it."""
    text = b"data: {} # c\nother: 1 # kept\n"
    theirs_file = sops_yaml(tmp_path, text, "encrypt", "--age", AGE_RECIPIENT)
    mine = api.decrypt_bytes(theirs_file, input_format="yaml", options=OPTIONS, extract='["data"]')
    assert mine == b"# c\n{}\n"  # docs/formats.md#yaml-empty-flow-comment (sops: `{}`)
    layout = b"data: {\n    # c\n}\n# kept\nother: 1\n"
    out, err = sops_yaml_run(tmp_path, encrypt_yaml(layout), "decrypt")
    assert b"ENC[" not in out and "unencrypted comment" not in err
    assert b"# kept\nother: 1\n" in out


def test_extract_of_a_comment_only_list_prints_its_comments(tmp_path: Path) -> None:
    """e.extract-differs (1208:110): sops writes `list: [] # comment` as a list of one comment
    item; its `--extract '["list"]'` prints the comment then `[]`; pysops printed `[]` only."""
    text = b"list: [] # comment\n# d\nb: 1\n"
    theirs_file = sops_yaml(tmp_path, text, "encrypt", "--age", AGE_RECIPIENT)
    theirs = sops_yaml(tmp_path, theirs_file, "decrypt", "--extract", '["list"]')
    mine = api.decrypt_bytes(theirs_file, input_format="yaml", options=OPTIONS, extract='["list"]')
    assert theirs == b"# comment\n[]\n"
    assert mine == theirs


def test_foot_after_a_list_sealed_in_the_mapping_still_decrypts(tmp_path: Path) -> None:
    """1208:453: pysops now seals `# x` (after `b`'s list, at `a`'s column) in the list, where
    go-yaml reads it; sops's file, and pysops's files written before, seal it in `a`: pysops's
    decrypt tries the enclosing containers, so it still reads them (sops's own decrypt of its
    file leaves it encrypted: docs/formats.md#yaml-sops-own-comment-encrypted)."""
    text = b"a:\n  b:\n    - 1\n  # x\nz: 1\n"
    theirs_file = sops_yaml(tmp_path, text, "encrypt", "--age", AGE_RECIPIENT)
    assert b"type:comment]" in theirs_file
    mine = api.decrypt_bytes(theirs_file, input_format="yaml", options=OPTIONS)
    assert yaml_comments(mine) == [" x"]
    assert b"ENC[" not in mine
