"""The binary store (format.md §3.7, §9.5).

A plaintext file of any content is one leaf, ``data``: the raw bytes as a str decoded with
``surrogateescape`` (``values.to_plaintext`` encodes it back the same way, so bytes that are not
UTF-8 survive encryption). An encrypted binary file is a JSON document
``{"data": "ENC[...]", "sops": {...}}``, written by the JSON store.

``parse`` cannot know whether the caller expects a plaintext or an encrypted file: bytes that form a
JSON object with an object ``"sops"`` member and a string ``"data"`` member are taken as encrypted.
"""

from __future__ import annotations

from pysops._typing import TYPE_CHECKING
from pysops.document import Document, Entry, Mapping, Scalar
from pysops.errors import ErrorDumpingTree, PysopsError
from pysops.formats import json as json_store

if TYPE_CHECKING:
    from typing import Any

DATA_KEY = "data"


def parse(data: bytes) -> Document:
    """A binary file: the encrypted JSON wrapper if ``data`` is one, else the raw bytes as one leaf."""
    encrypted = _parse_encrypted(data)
    if encrypted is not None:
        return encrypted
    text = data.decode("utf-8", "surrogateescape")
    leaf = Scalar(text, (0, len(data)))
    return Document("binary", [Mapping([Entry(DATA_KEY, leaf)])], text=data)


def _parse_encrypted(data: bytes) -> Document | None:
    if b'"sops"' not in data or not data.lstrip(b" \t\r\n").startswith(b"{"):
        return None
    try:
        wrapper = json_store.parse(data)
    except PysopsError:
        return None
    root = wrapper.branches[0]
    entry = None
    for item in root.entries():
        if item.key == DATA_KEY:
            entry = item  # the last duplicate wins, as in Go's decoder
    if not wrapper.metadata or entry is None:  # none, or a "sops" that is no object / is empty
        return None
    if not isinstance(entry.value, Scalar) or not isinstance(entry.value.value, str):
        return None
    # The binary tree shares the entry with the JSON wrapper, so rendering with metadata can
    # splice the wrapper text (minimal diffs on rotate/updatekeys).
    return Document("binary", [Mapping([entry])], text=data, metadata=wrapper.metadata, state=wrapper)


def _data_entry(doc: Document) -> Entry:
    """The single ``data`` string of the tree, or ErrorDumpingTree."""
    if len(doc.branches) != 1:
        raise ErrorDumpingTree(f"a binary file holds exactly one document, this tree has {len(doc.branches)}")
    entries = [item for item in doc.branches[0].items if isinstance(item, Entry)]
    if (
        len(entries) != 1
        or entries[0].key != DATA_KEY
        or not isinstance(entries[0].value, Scalar)
        or not isinstance(entries[0].value.value, (str, bytes))
    ):
        raise ErrorDumpingTree(
            "only a tree with a single 'data' string can be written as a binary file",
            hint="use --output-type json or yaml, or --extract a single value",
        )
    return entries[0]


def render(doc: Document, metadata: dict[str, Any] | None, options: dict[str, Any] | None = None) -> bytes:
    """Raw bytes when ``metadata`` is None (decrypt), else the JSON wrapper with the metadata."""
    entry = _data_entry(doc)
    leaf = entry.value
    assert isinstance(leaf, Scalar)
    if metadata is None:
        value = leaf.value
        if isinstance(value, bytes):
            return value
        assert isinstance(value, str)
        return value.encode("utf-8", "surrogateescape")
    wrapper = doc.state
    if (
        doc.format == "binary"
        and isinstance(wrapper, Document)
        and wrapper.format == "json"
        and any(item is entry for item in wrapper.branches[0].entries())
    ):
        return json_store.render(wrapper, metadata, options)
    tree = Mapping([Entry(DATA_KEY, Scalar(leaf.value))])
    return json_store.render(Document("binary", [tree]), metadata, options)
