"""The format-neutral document model.

A store (``pysops.formats.<fmt>``) parses text into a ``Document``: one ``Mapping`` per document
(YAML may have several), built from ``Mapping`` / ``Sequence`` containers, ``Scalar`` leaves and
``Comment`` items, in document order. Leaves parsed from text remember where they stood
(``span``, offsets into ``Document.text``) and how they were written (``style``, format specific),
so a store can render a changed tree by splicing only the leaves whose value changed.

This module has no I/O, no crypto and no knowledge of any format.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

from pysops._typing import TYPE_CHECKING
from pysops.values import GoTime, Value

if TYPE_CHECKING:
    from typing import Any


class GcPaused:
    """``with GcPaused():`` pauses the cyclic garbage collector for the block, then restores it
    as it was. Parsing or sealing a file allocates a few objects per value and creates no
    cycles: with the collector running, each of its passes walks every one of them (a good part
    of the time on a large file)."""

    __slots__ = ("enabled",)

    def __enter__(self) -> None:
        self.enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc_info: object) -> None:
        if self.enabled:
            gc.enable()


class _Node:
    """Plain classes with __slots__ instead of dataclasses: importing dataclasses costs more than
    sops needs to decrypt a small file, and slots keep 20,000-leaf trees small and fast."""

    __slots__ = ()

    def __repr__(self) -> str:
        slots: tuple[str, ...] = self.__slots__
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in slots)
        return f"{type(self).__name__}({fields})"


class Scalar(_Node):
    """A leaf value.

    ``value`` is the typed Python value (str, int, float, bool, GoTime, bytes) or None for null.
    ``span`` is ``(start, end)`` in the source text, or None for a leaf that was not parsed from text.
    ``style`` is a hint of the store that parsed it (for YAML: "", "'", '"', "|", ">", and a
    leading "f" in flow context). ``changed`` is set by ``set()``; stores splice only changed leaves.
    """

    __slots__ = ("value", "span", "style", "changed")

    def __init__(
        self,
        value: Value | None,
        span: tuple[int, int] | None = None,
        style: str = "",
        changed: bool = False,
    ) -> None:
        self.value = value
        self.span = span
        self.style = style
        self.changed = changed

    def set(self, value: Value | None) -> None:
        self.value = value
        self.changed = True


class Comment(_Node):
    """A comment; ``text`` is what follows the comment marker (``# top`` -> ``" top"``).

    An encrypted comment holds its ``ENC[...]`` string in ``text``.
    """

    __slots__ = ("text", "span", "style", "changed")

    def __init__(self, text: str, span: tuple[int, int] | None = None, style: str = "", changed: bool = False) -> None:
        self.text = text
        self.span = span
        self.style = style
        self.changed = changed

    def set(self, text: str) -> None:
        self.text = text
        self.changed = True


class Entry(_Node):
    """One ``key: value`` pair of a mapping; keys are never encrypted."""

    __slots__ = ("key", "value")

    def __init__(self, key: str, value: Node) -> None:
        self.key = key
        self.value = value


class Mapping(_Node):
    """An ordered mapping. Items are entries and comments, in document order; duplicate keys are kept."""

    __slots__ = ("items", "span", "style")

    def __init__(
        self, items: list[Entry | Comment] | None = None, span: tuple[int, int] | None = None, style: str = ""
    ) -> None:
        self.items: list[Entry | Comment] = [] if items is None else items
        self.span = span
        self.style = style

    def entries(self) -> Iterator[Entry]:
        for item in self.items:
            if isinstance(item, Entry):
                yield item

    def get(self, key: str) -> Node | None:
        for entry in self.entries():
            if entry.key == key:
                return entry.value
        return None


class Sequence(_Node):
    """An ordered list of nodes and comments."""

    __slots__ = ("items", "span", "style")

    def __init__(
        self, items: list[Node | Comment] | None = None, span: tuple[int, int] | None = None, style: str = ""
    ) -> None:
        self.items: list[Node | Comment] = [] if items is None else items
        self.span = span
        self.style = style


Node = Mapping | Sequence | Scalar


class Document(_Node):
    """A parsed file.

    ``branches``: one Mapping per document (YAML multi-document files have several; an empty YAML
    document is an empty Mapping). ``metadata``: the ``sops`` block as plain Python data (dicts,
    lists, str, int, bool) exactly as read, or None when the file has none; it is not part of
    ``branches``. ``text``: the source the spans refer to (str for text formats, bytes for binary).
    ``state``: private data of the store that parsed it (e.g. where the metadata block stood).
    """

    __slots__ = ("format", "branches", "text", "metadata", "state")

    def __init__(
        self,
        format: str,
        branches: list[Mapping],
        text: str | bytes | None = None,
        metadata: dict[str, Any] | None = None,
        state: Any = None,
    ) -> None:
        self.format = format
        self.branches = branches
        self.text = text
        self.metadata = metadata
        self.state = state


def walk_leaves(node: Node | Comment, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Scalar | Comment]]:
    """Yield ``(path, leaf)`` in document order, depth first.

    ``path`` is the list of mapping keys from the root (list indices are not part of it, as in
    sops's AAD). Comments are yielded with the path of the container that holds them.
    """
    if isinstance(node, (Scalar, Comment)):
        yield path, node
    elif isinstance(node, Mapping):
        for item in node.items:
            if isinstance(item, Comment):
                yield path, item
            else:
                yield from walk_leaves(item.value, path + (item.key,))
    else:
        for element in node.items:
            yield from walk_leaves(element, path)


def to_python(node: Node) -> Any:
    """A plain Python view of a node (dict/list/values), comments dropped; duplicate keys: last wins."""
    if isinstance(node, Scalar):
        return node.value
    if isinstance(node, Mapping):
        return {entry.key: to_python(entry.value) for entry in node.entries()}
    return [to_python(item) for item in node.items if not isinstance(item, Comment)]


__all__ = [
    "Comment",
    "Document",
    "Entry",
    "GoTime",
    "Mapping",
    "Node",
    "Scalar",
    "Sequence",
    "Value",
    "to_python",
    "walk_leaves",
]
