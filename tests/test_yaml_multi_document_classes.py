"""YAML files of several documents (issue 10). Comments right above a "---" or "..." line after
a root key's indentless list (fuzzer 4243:184): go-yaml reads them as the root's there, not the
list's as at the end of the stream, so pysops seals them with the root's AAD and writes no blank
line between them and the "sops:" block; checked against the real sops binary. A flow root is
re-emitted in block style in its own document only (fuzzer 5151:755, docs/formats.md#yaml)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.fuzz import rules
from tests.helpers import AGE_ENV, AGE_RECIPIENT, SOPS_EXE, encrypt_yaml, sops_yaml
from tests.helpers import yaml_data as data_of

from pysops import api
from pysops.keys import KeyContext

pytestmark = pytest.mark.skipif(not SOPS_EXE.exists(), reason="sops binary not installed")


def decrypt(data: bytes) -> bytes:
    return api.decrypt_bytes(data, input_format="yaml", options=api.DecryptOptions(context=KeyContext(AGE_ENV)))


@pytest.mark.parametrize(
    "text",
    [
        "api_key: &m1\n- 31\n#\n---\n",  # 4243:184: sops read the empty comment as an item ""
        "api_key: &m1\n- 31\n#\n---\npassword51: 日本語\n",
        "k:\n- 1\n#\n...\n",
        "k:\n- 1\n# x\n---\n",
        "j: 1\nk:\n- 1\n- [2]\n# x\n# y\n---\nb: 1\n",
        "k:\n- 1\n    # x\n---\n",  # indented: no blank line above "sops:" either
        "k:\n- 1\n# x\n  # y\n---\n",
        "k: &a\n- |\n  s\n # x\n...\n",
        "k:\n- 1\n# x\n\n# y\n---\n",  # the group before the blank line stays in the list
    ],
)
def test_comments_above_a_document_marker_after_an_indentless_list(text: str, tmp_path: Path) -> None:
    ours = encrypt_yaml(text.encode())
    theirs = sops_yaml(tmp_path, text.encode(), "encrypt", "--age", AGE_RECIPIENT)
    # sops reads pysops's file as it reads its own: same data, same comments, none left sealed
    assert sops_yaml(tmp_path, ours, "decrypt") == sops_yaml(tmp_path, theirs, "decrypt")
    assert b"ENC[" not in sops_yaml(tmp_path, ours, "decrypt")
    assert decrypt(ours) == text.encode()
    assert data_of(decrypt(theirs)) == data_of(text)


@pytest.mark.parametrize(
    "text",
    [
        "k:\n- 1\n#\n",  # end of the stream: the list's (sops reads an item "" there too)
        "k:\n  - 1\n  # x\n---\n",  # an indented list: the list's
        "a:\n  k:\n  - 1\n  # x\n---\n",  # not a root key's list
        "  k:\n  - 1\n  # x\n---\n",  # an indented root
        "k:\r\n- 1\r\n# x\r\n---\r\n",  # CRLF: the list's
        "k:\n- 1\n# x\n\n---\n",  # a blank line before the marker
    ],
)
def test_comments_of_the_list_stay_in_the_list(text: str, tmp_path: Path) -> None:
    ours = encrypt_yaml(text.encode())
    theirs = sops_yaml(tmp_path, text.encode(), "encrypt", "--age", AGE_RECIPIENT)
    assert sops_yaml(tmp_path, ours, "decrypt") == sops_yaml(tmp_path, theirs, "decrypt")
    assert decrypt(ours) == text.encode()


def test_a_flow_root_is_re_emitted_alone_and_later_documents_keep_their_text(tmp_path: Path) -> None:
    later = "\"#hash\":\n- x: &m1\n    password: &m2\n      enabled: !!int '42'\n  plain_u:\n  - <<: *m2\n"
    text = "{\"#hash\": 'a#b'}\n---\n" + later
    ours = encrypt_yaml(text.encode())
    back = decrypt(ours)
    # the later document: its tag dropped and its alias expanded, as in a file without a flow root
    assert back == b"'#hash': a#b\n---\n" + decrypt(encrypt_yaml(later.encode()))
    assert data_of(back) == data_of(text)
    assert data_of(sops_yaml(tmp_path, ours, "decrypt")) == data_of(text)
    # the fuzzer's rules explain the change document by document
    explained = rules.explain("yaml", text.encode(), back)
    assert explained is not None and "yaml-flow-top-reemitted" in explained
    assert rules.explain("yaml", text.encode(), back.replace(b"a#b", b"a#c")) is None
