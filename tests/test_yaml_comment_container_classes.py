"""Comments that sops decrypted as ``#ENC[...]`` in pysops's file because pysops sealed them in
another container than the one go-yaml reads them in (issue 10, fuzzer classes
yaml:comment-encrypted and yaml:a.comments); checked against the real sops binary:

* 8128:215: a comment right after a block, left of it, at no open block's column, then a blank
  line (``t:\\n    a: x\\n   # c\\n\\nz:``) is the next key's head comment;
* 8675:361: with CRLF line ends, the comment on the line right after a scalar item of a root
  key's indentless list stays in the list (with LF: the next key's);
* an indented comment after a blank line at the end of a document, after a root key's indentless
  list of scalars (``k:\\n- 1\\n\\n    # x``): the root's, as no block of the list is open."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.helpers import AGE_ENV, AGE_RECIPIENT, SOPS_EXE, encrypt_yaml, sops_yaml, yaml_comments
from tests.helpers import yaml_data as data_of

from pysops import api
from pysops.keys import KeyContext

pytestmark = pytest.mark.skipif(not SOPS_EXE.exists(), reason="sops binary not installed")


def decrypt(data: bytes) -> bytes:
    return api.decrypt_bytes(data, input_format="yaml", options=api.DecryptOptions(context=KeyContext(AGE_ENV)))


@pytest.mark.parametrize(
    "text",
    [
        # 8128:215 and its parts
        '"true":\n    a: >+\n   #comment\n\ncount:\n',
        "t:\n    a: x\n   # c\n\ncount:\n",
        "t:\n    a: x\n   # c\n\n # d\ncount:\n",
        "a:\n  b:\n    c: 1\n   # x\n   # y\n\nz: 1\n",
        "a:\n  b:\n    c: 1\n   # x\n\n  d: 1\n",
        "t:\n    - x\n   # c\n\ncount:\n",
        "t:\n  - a: x\n   # c\n\ncount:\n",
        # ... unchanged: a blank line above it, or no blank line below it
        "t:\n    a: x\n\n   # c\n\ncount:\n",
        "t:\n    a: |\n\n   # c\n\ncount:\n",
        "t:\n    a: x\n   # c\n  # d\n\ncount:\n",
        # 8675:361 and its parts
        "      count91: &m1\r\n      - 1.5\r\n      # #double\r\n      list18: \r\n",
        "k:\r\n- 1\r\n# c\r\n# d\r\nz:\r\n",
        "k:\r\n- |\r\n  x\r\n# c\r\nz:\r\n",
        # ... unchanged: after a mapping item, after a blank line, with LF
        "k:\r\n- a: 1\r\n# c\r\nz:\r\n",
        "k:\r\n- 1\r\n\r\n# c\r\nz:\r\n",
        "k:\n- 1\n# c\nz:\n",
        # the end of a document after a root key's indentless list of scalars
        "k:\n- 1\n\n    # x\n",
        "z: 1\nk:\n- 1\n\n    # x\n    # y\n",
        "k:\n- [1]\n\n  # x\n",
        "k:\n- 1\n\n    # x\n  # y\n",
    ],
)
def test_sops_decrypts_every_comment_of_pysops_file(text: str, tmp_path: Path) -> None:
    ours = encrypt_yaml(text.encode())
    theirs = sops_yaml(tmp_path, text.encode(), "encrypt", "--age", AGE_RECIPIENT)
    read = sops_yaml(tmp_path, ours, "decrypt")
    # sops reads pysops's file as it reads its own: same data, same comments, none left sealed
    assert b"ENC[" not in read
    assert read == sops_yaml(tmp_path, theirs, "decrypt")
    # pysops reads both files back to the text's data and comments
    for data in (ours, theirs):
        plain = decrypt(data)
        assert data_of(plain) == data_of(text)
        assert yaml_comments(plain) == yaml_comments(text)
