"""Stores: one module per file format, found through this registry.

A store module exposes:

* ``parse(data: bytes) -> Document`` — read a plaintext or encrypted file. The ``sops`` block (if
  any) is taken out of the tree into ``Document.metadata`` as plain data, exactly as written
  (dotenv/INI: already un-flattened into the nested structure, values still strings).
  Raises ``ParseError`` (exit 2) for invalid input, ``NeedAtLeastOneDocument`` (92) for an empty one.
* ``render(doc: Document, metadata: dict | None, options: dict | None = None) -> bytes`` — write a
  document. When ``doc.format`` is this store and ``doc.text`` is set, the source text is kept and
  only leaves with ``changed`` set are spliced in, and the metadata block is replaced, appended or
  (``metadata is None``) removed. Otherwise (conversion from another format) the tree is emitted
  afresh. ``options`` are the ``stores.<name>`` settings of the config (e.g. ``indent``).
  Raises ``ErrorDumpingTree`` (exit 4) when the tree cannot be written in this format.
* optionally ``encrypt_text(data, seal_value, seal_comment, metadata) -> bytes | None`` — encrypt
  a plaintext file of this format into this format without building the tree, for formats
  whose walk is simple enough to do on the text (dotenv): call ``seal_value(path, aad, value,
  comments)`` / ``seal_comment(aad, text, path, comments)`` in walk order, exactly as ``api.encrypt_tree``
  would, splice what they return, call ``metadata()`` at the end and write its block. Return
  None for input only ``parse`` can report on. ``api.encrypt_bytes`` uses it when present; a
  hypothesis test must show it gives the bytes of ``parse`` + ``api.encrypt_document`` + ``render``.

Stores never import keys or crypto; they see ENC[...] strings as ordinary strings.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from pysops._typing import TYPE_CHECKING, Protocol
from pysops.document import Document

if TYPE_CHECKING:
    from typing import Any

#: format name -> module, in the order extensions are checked. One line per store.
STORES: dict[str, str] = {
    "yaml": "pysops.formats.yaml",
    "json": "pysops.formats.json",
    "dotenv": "pysops.formats.dotenv",
    "ini": "pysops.formats.ini",
    "binary": "pysops.formats.binary",
}

#: file name suffix -> format (sops: case-sensitive suffix check, anything else is binary).
EXTENSIONS: dict[str, str] = {
    ".yaml": "yaml",
    ".yml": "yaml",
    ".json": "json",
    ".env": "dotenv",
    ".ini": "ini",
}


class Store(Protocol):
    def parse(self, data: bytes) -> Document: ...

    def render(
        self, doc: Document, metadata: dict[str, Any] | None, options: dict[str, Any] | None = None
    ) -> bytes: ...


def format_for_path(path: str) -> str:
    """The format sops would pick for a file name (``foo.YAML`` and ``x.env.local`` are binary)."""
    for suffix, name in EXTENSIONS.items():
        if path.endswith(suffix):
            return name
    return "binary"


def get_store(name: str) -> Store:
    """Import and return the store module for a format name."""
    module: ModuleType = importlib.import_module(STORES[name])
    store: Store = module
    return store
