"""The binary store: raw bytes as one ``data`` leaf, the JSON wrapper when encrypted, interop."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import AgeKey, run_sops
from tests.helpers import age_decrypt, age_encrypt, age_env

from pysops.document import Comment, Document, Entry, Mapping, Scalar, Sequence
from pysops.errors import ErrorDumpingTree
from pysops.formats import binary as store
from pysops.values import from_plaintext, to_plaintext

META = {
    "lastmodified": "2026-01-02T03:04:05Z",
    "mac": "ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]",
    "version": "3.11.0",
}
_ENC = re.compile(r"ENC\[AES256_GCM,data:([^,]*),iv:AAAA,tag:AAAA,type:(\w+)\]\Z")


def data_leaf(doc: Document) -> Scalar:
    (entry,) = doc.branches[0].entries()
    assert entry.key == "data" and isinstance(entry.value, Scalar)
    return entry.value


def fake_encrypt(doc: Document) -> None:
    leaf = data_leaf(doc)
    assert isinstance(leaf.value, str)
    if leaf.value:
        data = base64.b64encode(to_plaintext(leaf.value)).decode()
        leaf.set(f"ENC[AES256_GCM,data:{data},iv:AAAA,tag:AAAA,type:str]")


def fake_decrypt(doc: Document) -> None:
    leaf = data_leaf(doc)
    assert isinstance(leaf.value, str)
    if leaf.value:
        m = _ENC.match(leaf.value)
        assert m is not None
        leaf.set(from_plaintext(base64.b64decode(m.group(1)), m.group(2)))


def test_plain_bytes_are_one_leaf() -> None:
    raw = b"hello\x00\xff\xfe\n\xe9t\xc3\xa9"
    doc = store.parse(raw)
    assert doc.format == "binary" and doc.metadata is None and doc.text == raw
    leaf = data_leaf(doc)
    assert leaf.value == "hello\x00\udcff\udcfe\n\udce9té"
    assert to_plaintext(leaf.value) == raw
    assert store.render(doc, None) == raw


def test_empty_file_is_an_empty_string() -> None:
    doc = store.parse(b"")
    assert data_leaf(doc).value == ""
    assert store.render(doc, META) == (
        b'{\n\t"data": "",\n\t"sops": {\n\t\t"lastmodified": "2026-01-02T03:04:05Z",\n'
        b'\t\t"mac": "ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]",\n\t\t"version": "3.11.0"\n\t}\n}\n'
    )


def test_encrypted_layout_is_sops_json_wrapper() -> None:
    doc = store.parse(b"secret\n")
    fake_encrypt(doc)
    out = store.render(doc, {"version": "3.11.0"})
    assert out == (
        b'{\n\t"data": "ENC[AES256_GCM,data:c2VjcmV0Cg==,iv:AAAA,tag:AAAA,type:str]",\n'
        b'\t"sops": {\n\t\t"version": "3.11.0"\n\t}\n}\n'
    )
    four = store.render(doc, {"version": "3.11.0"}, {"indent": 4})
    assert four == out.replace(b"\t", b"    ")


def test_encrypted_wrapper_is_recognised_and_kept() -> None:
    src = (
        b'{\n    "data": "ENC[AES256_GCM,data:c2VjcmV0Cg==,iv:AAAA,tag:AAAA,type:str]",\n'
        b'    "sops": {"version": "3.11.0"}\n}\n'
    )
    doc = store.parse(src)
    assert doc.metadata == {"version": "3.11.0"}
    assert data_leaf(doc).value == "ENC[AES256_GCM,data:c2VjcmV0Cg==,iv:AAAA,tag:AAAA,type:str]"
    # Same metadata: byte-identical; new metadata: only the block changes (the file's layout kept).
    assert store.render(doc, {"version": "3.11.0"}) == src
    assert store.render(doc, {"version": "3.12.0"}) == (
        b'{\n    "data": "ENC[AES256_GCM,data:c2VjcmV0Cg==,iv:AAAA,tag:AAAA,type:str]",\n'
        b'    "sops": {\n        "version": "3.12.0"\n    }\n}\n'
    )
    fake_decrypt(doc)
    assert store.render(doc, None) == b"secret\n"


@pytest.mark.parametrize(
    "raw",
    [
        b'{"data": "x"}',  # no metadata
        b'{"sops": {}}',  # no data
        b'{"data": 1, "sops": {}}',  # data is not a string
        b'{"data": "x", "sops": 1}',  # metadata is not an object
        b'{"data": "x", "sops": {}',  # not JSON
        b'["sops", "data"]',
    ],
)
def test_other_json_is_plain_binary(raw: bytes) -> None:
    doc = store.parse(raw)
    assert doc.metadata is None
    assert data_leaf(doc).value == raw.decode()
    assert store.render(doc, None) == raw


def test_decrypted_tree_from_another_format() -> None:
    tree = Mapping([Comment(" ignored"), Entry("data", Scalar("from yaml\n"))])
    assert store.render(Document("yaml", [tree]), None) == b"from yaml\n"
    assert store.render(Document("yaml", [Mapping([Entry("data", Scalar(b"\x00raw"))])]), None) == b"\x00raw"


@pytest.mark.parametrize(
    "branches",
    [
        [],
        [Mapping([Entry("data", Scalar("a"))]), Mapping([Entry("data", Scalar("b"))])],
        [Mapping([Entry("other", Scalar("a"))])],
        [Mapping([Entry("data", Scalar("a")), Entry("extra", Scalar("b"))])],
        [Mapping([Entry("data", Scalar(1))])],
        [Mapping([Entry("data", Scalar(None))])],
        [Mapping([Entry("data", Sequence([Scalar("a")]))])],
    ],
)
def test_trees_that_are_not_binary_data(branches: list[Mapping]) -> None:
    for metadata in (None, META):
        with pytest.raises(ErrorDumpingTree) as info:
            store.render(Document("yaml", branches), metadata)
        assert info.value.exit_code == 4


@given(st.binary(max_size=300), st.sampled_from([None, 2, -1]))
@settings(max_examples=300, deadline=None)
def test_arbitrary_bytes_round_trip_through_the_fake_cipher(raw: bytes, indent: int | None) -> None:
    options: dict[str, Any] | None = None if indent is None else {"indent": indent}
    doc = store.parse(raw)
    if doc.metadata is not None:  # bytes that happen to be an encrypted wrapper: not plaintext
        return
    assert store.render(doc, None) == raw
    fake_encrypt(doc)
    encrypted = store.render(doc, META, options)
    doc2 = store.parse(encrypted)
    assert doc2.metadata == META
    assert store.render(doc2, META, options) == encrypted
    fake_decrypt(doc2)
    assert store.render(doc2, None) == raw


# --------------------------------------------------------------------------------- sops interop

RAW = b"\x00\x01binary \xff\xfe data\nwith lines\r\n\xe9\n"


@pytest.mark.parametrize("raw", [RAW, b""])
def test_sops_encrypted_binary_parses(clean_env: dict[str, str], age_key: AgeKey, raw: bytes) -> None:
    Path("secret.bin").write_bytes(raw)
    result = run_sops(["encrypt", "--age", age_key.recipient, "secret.bin"], clean_env)
    assert result.code == 0, result.stderr
    doc = store.parse(result.stdout)
    assert doc.metadata is not None and "unencrypted_suffix" not in doc.metadata
    value = data_leaf(doc).value
    assert value == "" if not raw else str(value).startswith("ENC[AES256_GCM,data:")
    assert store.render(doc, doc.metadata) == result.stdout
    assert age_decrypt(result.stdout, "binary", age_key) == raw


@pytest.mark.parametrize("raw", [RAW, b""])
def test_sops_decrypts_what_pysops_encrypts(clean_env: dict[str, str], age_key: AgeKey, raw: bytes) -> None:
    encrypted = age_encrypt(raw, "binary", age_key.recipient)
    assert encrypted.startswith(b'{\n\t"data": "')
    Path("e.bin").write_bytes(encrypted)
    result = run_sops(["decrypt", "e.bin"], age_env(clean_env, age_key))
    assert result.code == 0, result.stderr
    assert result.stdout == raw
