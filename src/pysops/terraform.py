"""The flat JSON object Terraform's ``external`` data source wants from ``decrypt --terraform``.

Terraform runs the program with a JSON query on stdin (an object of strings, here
``{"file": "secrets.enc.yaml"}``) and expects one JSON object of strings on stdout. The keys
are those of terraform-provider-sops's ``data`` map: nested keys joined with ``.``, list items by
index (``hosts.0``, ``servers.1.name``). Values, like that provider's ``fmt.Sprint``:

* strings as they are; dotenv values with their quotes interpreted (as ``--output-type json``);
* ``true`` / ``false``; integers in decimal; floats as Go's ``%v`` (shortest, ``1e+21``);
* timestamps as the RFC 3339 text sops writes; null as ``null``;
* empty maps and lists give no key at all. When two paths flatten to one key (``{"a.b": 1,
  "a": {"b": 2}}``) the later one in the document wins.

Only the first document of a multi-document YAML file is used (as the provider does).
"""

from __future__ import annotations

import json

from pysops._typing import TYPE_CHECKING
from pysops.document import Comment, Document, Entry, Mapping, Node, Scalar
from pysops.errors import GenericError
from pysops.values import sprint

if TYPE_CHECKING:
    from typing import Any


#: One leaf as a Terraform string: the provider's ``fmt.Sprint`` of the decoded value.
value_text = sprint


def flatten(node: Node, *, dotenv: bool = False) -> dict[str, str]:
    """The flat ``{"a.b.0": "..."}`` map of a decrypted tree (see the module docstring)."""
    out: dict[str, str] = {}
    unquote = None
    if dotenv:
        from pysops.formats.dotenv import parse_dotenv_value

        unquote = parse_dotenv_value

    def visit(item: Node, prefix: str) -> None:
        if isinstance(item, Scalar):
            value = item.value
            if unquote is not None and isinstance(value, str):
                value = unquote(value)
            out.pop(prefix, None)  # a later duplicate moves to its own place in the order
            out[prefix] = value_text(value)
            return
        children: list[tuple[str, Node]]
        if isinstance(item, Mapping):
            children = [(entry.key, entry.value) for entry in item.items if isinstance(entry, Entry)]
        else:
            children = [(str(i), child) for i, child in enumerate(c for c in item.items if not isinstance(c, Comment))]
        for name, child in children:
            visit(child, f"{prefix}.{name}" if prefix else name)

    if isinstance(node, Scalar):
        raise GenericError("--terraform needs a document whose top level is a mapping")
    visit(node, "")
    return out


def render(doc: Document) -> bytes:
    """The JSON object for a decrypted document, one line (ASCII, so any reader accepts it)."""
    root: Node = doc.branches[0] if doc.branches else Mapping()
    flat = flatten(root, dotenv=doc.format == "dotenv")
    return (json.dumps(flat, separators=(",", ":")) + "\n").encode("ascii")


def parse_query(data: bytes) -> dict[str, str] | None:
    """Terraform's query object when ``data`` is one (a JSON object of strings naming a
    ``file``, and no ``sops`` key: an encrypted JSON document is not a query); else None."""
    stripped = data.strip()
    if not stripped.startswith(b"{"):
        return None
    try:
        parsed: Any = json.loads(stripped)
    except ValueError:
        return None
    if not isinstance(parsed, dict) or "sops" in parsed or not isinstance(parsed.get("file"), str):
        return None
    if not all(isinstance(v, str) for v in parsed.values()):
        return None
    return parsed
