"""``--extract`` of a value that is not a mapping, written the way each sops store's ``EmitValue``
writes it (sops 3.11, checked against the binary in tests/formats/test_numbers.py).

A string is printed raw by the caller; every other scalar and every list goes through here:

* ``json``: the JSON text of the value (numbers in Go's ``encoding/json`` form, lists indented
  with one TAB per level), no trailing newline;
* ``yaml``: the YAML text (floats as go-yaml writes them, ``1e+06``; lists in block style) and a
  newline;
* ``ini``: compact JSON (``1000000``, ``true``, ``null``, ``[1,2.5]``), no trailing newline;
* ``dotenv`` and ``binary``: refused (exit 4), as sops does.

Strings inside a list keep the store's usual quoting (pysops's minimal JSON escaping, see
docs/formats.md), not Go's ``\\u003c`` escapes.
"""

from __future__ import annotations

from pysops.document import Node, Scalar, Sequence
from pysops.errors import ErrorDumpingTree


def _type_name(node: Node) -> str:
    if isinstance(node, Scalar):
        value = node.value
        if value is None:
            return "<nil>"
        return {bool: "bool", int: "int", float: "float64"}.get(type(value), type(value).__name__)
    return "[]interface {}"


def emit_value(node: Node, output_format: str) -> bytes:
    """The bytes ``--extract`` prints for a non-string scalar or a list in ``output_format``."""
    if output_format == "json" or output_format == "ini":
        from pysops.formats import json as json_store

        return json_store.emit_value(node, compact=output_format == "ini").encode("utf-8", "surrogateescape")
    if output_format == "yaml":
        from pysops.formats import yaml as yaml_store

        if isinstance(node, Sequence):
            return yaml_store.emit_sequence(node).encode("utf-8", "surrogateescape")
        assert isinstance(node, Scalar)
        return (yaml_store.format_value(node.value, flow=False, old_style="", block_indent=None) + "\n").encode(
            "utf-8", "surrogateescape"
        )
    if output_format == "binary":
        raise ErrorDumpingTree("Binary files are not structured and extracting a single value is not possible")
    raise ErrorDumpingTree(f"the {output_format} store only supports emitting strings, got {_type_name(node)}")


__all__ = ["emit_value"]
