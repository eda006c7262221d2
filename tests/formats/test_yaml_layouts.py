"""YAML layouts that used to lose data or fail a round trip (issue 10): top-level flow mappings,
indented roots, directives, empty documents, comments beside block scalars, CRLF. Each is checked
against the real sops 3.11 binary both ways."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyrage
import pytest
from tests.helpers import yaml_data as data_of

from pysops import api
from pysops.document import Comment, walk_leaves
from pysops.errors import ParseError
from pysops.formats import yaml as Y
from pysops.keys.age import AgeRecipient

SOPS = Path(sys.executable).parent / "sops"
pytestmark = pytest.mark.skipif(not SOPS.exists(), reason="sops binary not installed")

IDENTITY = pyrage.x25519.Identity.generate()
RECIPIENT = str(IDENTITY.to_public())
ENV = dict(os.environ, SOPS_AGE_KEY=str(IDENTITY), SOPS_DISABLE_VERSION_CHECK="1")


def sops(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(SOPS), *args], capture_output=True, env=ENV, timeout=60)


def encrypt(text: str) -> bytes:
    options = api.EncryptOptions([[AgeRecipient(RECIPIENT)]])
    return api.encrypt_bytes(text.encode(), options, input_format="yaml")


def decrypt(data: bytes) -> str:
    return api.decrypt_bytes(data, input_format="yaml", options=api.DecryptOptions(env=ENV)).decode()


def comments_of(text: str | bytes) -> list[tuple[tuple[object, ...], str]]:
    raw = text.encode() if isinstance(text, str) else text
    found = [
        (path, leaf.text) for b in Y.parse(raw).branches for path, leaf in walk_leaves(b) if isinstance(leaf, Comment)
    ]
    return sorted(found)


def sops_decrypt_bytes(tmp_path: Path, data: bytes) -> bytes:
    path = tmp_path / "enc.yaml"
    path.write_bytes(data)
    result = sops("decrypt", str(path))
    assert result.returncode == 0, result.stderr.decode()
    assert b"unencrypted comment" not in result.stderr  # every comment's AAD is sops's
    return result.stdout


FLOW_ROOTS = [
    '{"a": 2, "b": "ba", "c": [1,2]}',  # JSON text, no final newline: the reported data loss
    "--- {a: 1}\n",
    "# head\n{a: 1, b: {c: [1, {d: e}]}} # line\n# foot\n",
    "{\n  a: 1, # x\n  b: [2, 3]\n}\n",
    "{a: 1}\n---\n{b: 2}\n",
    "a: 1\n---\n{b: 2}\n",
    "--- !!map {a: &x [1], b: *x}\n...\n",
    "{a: 1}\r\n",
]


@pytest.mark.parametrize("text", FLOW_ROOTS)
def test_flow_root_mapping_gets_its_metadata_block(text: str, tmp_path: Path) -> None:
    encrypted = encrypt(text)
    doc = Y.parse(encrypted)
    assert doc.metadata is not None and doc.metadata["age"][0]["recipient"] == RECIPIENT
    # every document carries the block, in block style as sops writes it
    assert encrypted.count(b"\nsops:") + encrypted.startswith(b"sops:") == len(doc.branches)
    assert data_of(decrypt(encrypted)) == data_of(text)
    assert comments_of(decrypt(encrypted)) == comments_of(text)
    assert data_of(sops_decrypt_bytes(tmp_path, encrypted))[:1] == data_of(text)[:1]


def test_flow_root_is_written_in_block_style_like_sops(tmp_path: Path) -> None:
    text = '# head\n{"a": 2, "b": "ba", "c": [1,2]} # line\n'
    decrypted = decrypt(encrypt(text))
    assert decrypted == "# head\n# line\na: 2\nb: ba\nc:\n    - 1\n    - 2\n"
    plain = tmp_path / "plain.yaml"
    plain.write_text(text)
    theirs = sops("encrypt", "--age", RECIPIENT, str(plain))
    assert theirs.returncode == 0, theirs.stderr.decode()
    assert decrypt(theirs.stdout) == decrypted == sops_decrypt_bytes(tmp_path, encrypt(text)).decode()


def test_empty_flow_root_decrypts_to_an_empty_mapping(tmp_path: Path) -> None:
    encrypted = encrypt("{}\n")
    assert encrypted.startswith(b"sops:\n")
    assert decrypt(encrypted) == "{}\n" == sops_decrypt_bytes(tmp_path, encrypted).decode()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{}\n", "{}\n"),
        ("# only comment\n{}\n", "# only comment\n{}\n"),
        ("a: 1\n---\n{}\n---\nb: 2\n", None),
    ],
)
def test_sops_file_of_an_empty_mapping_decrypts_to_a_document(text: str, expected: str | None, tmp_path: Path) -> None:
    """A document whose only key was `sops` is written `{}` (like sops), so the output reads back."""
    plain = tmp_path / "plain.yaml"
    plain.write_text(text)
    theirs = sops("encrypt", "--age", RECIPIENT, str(plain))
    assert theirs.returncode == 0, theirs.stderr.decode()
    ours = decrypt(theirs.stdout)
    if expected is not None:
        assert ours == expected == sops_decrypt_bytes(tmp_path, theirs.stdout).decode()
    assert data_of(ours) == data_of(text)


@pytest.mark.parametrize("text", ["---\n...\n---\na: 1\n...\n", "# only\n---\n", "a: 1\n---\n---\nb: 2\n"])
def test_explicit_empty_documents_round_trip_exactly(text: str, tmp_path: Path) -> None:
    encrypted = encrypt(text)
    assert decrypt(encrypted) == text
    assert data_of(sops_decrypt_bytes(tmp_path, encrypted)) == data_of(text)


@pytest.mark.parametrize("text", ["[1, 2]\n", "- a\n- b\n", "hello\n", "'quoted'\n", "--- 5\n"])
def test_top_level_sequences_and_scalars_are_refused_like_sops(text: str, tmp_path: Path) -> None:
    plain = tmp_path / "plain.yaml"
    plain.write_text(text)
    assert sops("encrypt", "--age", RECIPIENT, str(plain)).returncode == 2
    with pytest.raises(ParseError) as caught:
        encrypt(text)
    assert caught.value.exit_code == 2


INDENTED = [
    "  a: 1\n  b: 2\n",
    "  # head\n  a:\n    b: [1, 2]\n  c: |\n    x\n    y\n  # foot\n",
    "---\n    a: 1\n---\n  b:\n    - 1\n",
]


@pytest.mark.parametrize("text", INDENTED)
def test_indented_root_mapping_round_trips(text: str, tmp_path: Path) -> None:
    encrypted = encrypt(text)
    assert decrypt(encrypted) == text
    assert data_of(sops_decrypt_bytes(tmp_path, encrypted)) == data_of(text)
    plain = tmp_path / "plain.yaml"
    plain.write_text(text)
    theirs = sops("encrypt", "--age", RECIPIENT, str(plain))
    assert data_of(decrypt(theirs.stdout)) == data_of(text)


def test_comment_left_of_an_indented_root_after_a_list_stays_in_the_list(tmp_path: Path) -> None:
    """go-yaml keeps a comment that is left of an indented root's column in the list before it:
    its AAD is that list's, or sops leaves the comment encrypted."""
    text = "  k0:\n    - 0\n# x\n  k1: 1\n"
    assert comments_of(text) == [(("k0",), " x")]
    plain = tmp_path / "plain.yaml"
    plain.write_text(text)
    theirs = sops("encrypt", "--age", RECIPIENT, str(plain))
    assert comments_of(decrypt(theirs.stdout)) == [(("k0",), " x")]


@pytest.mark.parametrize("version", ["1.0", "1.2", "1.3", "2.0"])
def test_yaml_directive_other_than_1_1_is_refused_like_sops(version: str, tmp_path: Path) -> None:
    text = f"%YAML {version}\n---\na: 1\n"
    plain = tmp_path / "plain.yaml"
    plain.write_text(text)
    theirs = sops("encrypt", "--age", RECIPIENT, str(plain))
    assert theirs.returncode == 2 and b"incompatible YAML document" in theirs.stderr
    with pytest.raises(ParseError, match="found incompatible YAML document") as caught:
        encrypt(text)
    assert caught.value.exit_code == 2
    with pytest.raises(ParseError, match="incompatible"):
        Y.parse(f"a: 1\n---\n%YAML {version}\n---\nb: 1\n".encode())  # in a later document too


@pytest.mark.parametrize("text", ["%YAML 1.1\n---\na: 1\n", "%TAG !e! tag:example.com,2000:\n---\na: !e!x 1\n"])
def test_yaml_1_1_directive_and_tag_directives_are_accepted(text: str, tmp_path: Path) -> None:
    encrypted = encrypt(text)
    # an unknown tag (!e!x) makes a string, as go-yaml decodes it
    expected = [{"a": "1" if "!e!x" in text else 1}]
    assert data_of(sops_decrypt_bytes(tmp_path, encrypted)) == data_of(text) == expected
    assert decrypt(encrypted).startswith(text.split("---")[0])


@pytest.mark.parametrize(
    "text",
    [
        "k0: | # hc\n  line0\n  line1\nk1: v\n",
        "k0: |+ # hc\n  line0\n  # content, not a comment\n",
        "k0: >- # hc\n  a\n  b\n",
        "k0:\n  - | # hc\n    x\n    y\n",
    ],
)
def test_comment_on_a_block_scalar_header_stays_a_comment(text: str, tmp_path: Path) -> None:
    """The header comment used to move into the block's last line on a round trip."""
    encrypted = encrypt(text)
    decrypted = decrypt(encrypted)
    assert data_of(decrypted) == data_of(text)
    assert comments_of(decrypted) == comments_of(text)
    assert "# hc\n" in decrypted
    assert data_of(sops_decrypt_bytes(tmp_path, encrypted)) == data_of(text)


def test_crlf_file_keeps_crlf_in_block_scalars_and_metadata(tmp_path: Path) -> None:
    text = "a: |\r\n  x\r\n  y\r\n# c\r\nb: | # hc\r\n  p\r\n  q\r\n"
    encrypted = encrypt(text)
    assert b"\n" not in encrypted.replace(b"\r\n", b"")
    assert decrypt(encrypted) == text
    assert data_of(sops_decrypt_bytes(tmp_path, encrypted)) == data_of(text)


def test_missing_final_newline_is_added(tmp_path: Path) -> None:
    for text in ("a: 1", "a: 1 # c", "a:\n  b: 1"):
        encrypted = encrypt(text)
        assert decrypt(encrypted) == text + "\n"
        assert data_of(sops_decrypt_bytes(tmp_path, encrypted)) == data_of(text)
