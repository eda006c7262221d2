"""Setting and removing values in a document tree, the way ``sops set`` / ``sops unset`` do.

A path is a list of mapping keys (``str``) and list indices (``int``), as parsed from sops's
index syntax (``["a"][0]["b"]``). ``set_path`` creates missing mapping keys, appends to a list
when the index is out of range (so ``["l"][99]`` adds one element), and replaces a scalar that
stands where a container is needed, like sops. ``unset_path`` removes one entry or element.

Both return a ``Change`` describing what happened to which container, so a store that keeps the
source text (YAML) can patch the text instead of re-emitting the file. Values given as JSON are
turned into nodes by ``parse_json_value`` as sops 3.13.2 does: a bare number is a ``float`` (Go's
``float64``), numbers inside an object or array are typed like the JSON store types them
(``values.parse_json_number``: integers up to 2**53 stay ``int``), objects keep their member order
and duplicate keys.

No I/O, no crypto, no format knowledge.
"""

from __future__ import annotations

import json
from collections.abc import Sequence as SequenceABC
from typing import Any, NamedTuple

from pysops.document import Comment, Entry, Mapping, Node, Scalar, Sequence
from pysops.errors import GenericError, InvalidSetFormat
from pysops.values import parse_json_number

PathPart = str | int
Container = Mapping | Sequence


class PathNotFound(GenericError):
    """``unset`` of a key or index that does not exist (``--idempotent`` turns it into success)."""


class Change(NamedTuple):
    """What ``set_path`` / ``unset_path`` did.

    ``kind``: ``"value"`` (an existing scalar got a new scalar value, ``Scalar.set``), ``"add"``
    (a new entry or element was appended to ``container``), ``"replace"`` (the value at
    ``position`` was replaced by a new node) or ``"remove"`` (the item at ``position`` was removed).
    ``position`` is the index in ``container.items`` (comments included; for ``remove``, the
    position the item had). ``container_path`` leads from the root to ``container``; ``old`` is
    the node that was replaced or removed, ``new`` the node that was added or put in its place.
    """

    kind: str
    container: Container
    position: int
    container_path: tuple[PathPart, ...]
    old: Node | None = None
    new: Node | None = None


# --------------------------------------------------------------------------------------------
# JSON values


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class _Members(list):  # type: ignore[type-arg]
    """The members of a JSON object, kept apart from a JSON array (both arrive as lists)."""


def parse_json_value(text: str | bytes) -> Node:
    """A node from a JSON text (``sops set`` value); exit 7 when it is not one JSON value."""
    try:
        raw = json.loads(
            text,
            parse_int=parse_json_number,
            parse_float=parse_json_number,
            parse_constant=_reject_constant,
            object_pairs_hook=_Members,
        )
    except (ValueError, RecursionError):
        raise InvalidSetFormat(
            "Value for --set is not valid JSON", hint="""the value is JSON: '"text"', 5, true, {"a": 1}, [1, 2]"""
        ) from None
    if type(raw) is int:
        # A bare number is read by Go's ``json.Unmarshal`` in sops (a float64, even in 3.13.2);
        # numbers inside an object or array go through the JSON store, which keeps int64 integers.
        raw = float(raw)
    return _node_of(raw)


def _node_of(raw: Any) -> Node:
    if isinstance(raw, _Members):
        return Mapping([Entry(key, _node_of(value)) for key, value in raw])
    if isinstance(raw, list):
        return Sequence([_node_of(item) for item in raw])
    return Scalar(raw)


# --------------------------------------------------------------------------------------------
# Paths


def _elements(seq: Sequence) -> list[int]:
    """Positions in ``seq.items`` of the elements (comments skipped)."""
    return [i for i, item in enumerate(seq.items) if not isinstance(item, Comment)]


def _entry_position(mapping: Mapping, key: str) -> int | None:
    for i, item in enumerate(mapping.items):
        if isinstance(item, Entry) and item.key == key:
            return i
    return None


def _build(rest: SequenceABC[PathPart], value: Node) -> Node:
    """The nodes a missing path creates: a mapping per key, a one-element list per index."""
    node = value
    for part in reversed(rest):
        node = Mapping([Entry(part, node)]) if isinstance(part, str) else Sequence([node])
    return node


def _describe(path: SequenceABC[PathPart]) -> str:
    return "".join(f'["{p}"]' if isinstance(p, str) else f"[{p}]" for p in path) or "the top level"


def lookup(root: Mapping, path: SequenceABC[PathPart]) -> Node | None:
    """The node at ``path``, or None when the path does not lead anywhere."""
    node: Node = root
    for part in path:
        found = _child(node, part)
        if found is None:
            return None
        node = found[1]
    return node


def set_path(root: Mapping, path: SequenceABC[PathPart], value: Node) -> Change:
    """Put ``value`` at ``path`` (see the module docstring); returns what changed."""
    if not path:
        raise InvalidSetFormat("Invalid set index format", hint="""give a path like '["key"]' or '["list"][0]'""")
    node: Container = root
    for depth, part in enumerate(path):
        here = tuple(path[:depth])
        rest = path[depth + 1 :]
        if isinstance(node, Mapping):
            if not isinstance(part, str):
                raise InvalidSetFormat(
                    f"cannot use the list index [{part}] on the mapping at {_describe(here)}",
                    hint="""quote mapping keys: '["key"]'""",
                )
            found = _child(node, part)
            if found is None:
                node.items.append(Entry(part, _build(rest, value)))
                return Change("add", node, len(node.items) - 1, here, new=node.items[-1].value)  # type: ignore[union-attr]
        else:
            if not isinstance(part, int):
                raise InvalidSetFormat(
                    f'cannot use the key ["{part}"] on the list at {_describe(here)}',
                    hint="index lists with numbers: [0]",
                )
            found = _child(node, part)
            if found is None:
                node.items.append(_build(rest, value))
                return Change("add", node, len(node.items) - 1, here, new=node.items[-1])  # type: ignore[arg-type]
        position, child = found
        if not rest:
            if isinstance(child, Scalar) and isinstance(value, Scalar):
                child.set(value.value)
                return Change("value", node, position, here, old=child, new=child)
            _put(node, position, value)
            return Change("replace", node, position, here, old=child, new=value)
        if not _fits(child, rest[0]):
            _check_replaceable(child, path[: depth + 1], rest[0])
            built = _build(rest, value)
            _put(node, position, built)
            return Change("replace", node, position, here, old=child, new=built)
        node = child  # type: ignore[assignment]
    raise AssertionError("unreachable")  # pragma: no cover


def _child(node: Node, part: PathPart) -> tuple[int, Node] | None:
    """Where in ``node.items`` the entry ``part`` of a mapping (or the element ``part`` of a
    list) is, and its value; None when there is none, or ``part`` is the other kind of index."""
    if isinstance(node, Mapping) and isinstance(part, str):
        position = _entry_position(node, part)
        if position is None:
            return None
        entry = node.items[position]
        assert isinstance(entry, Entry)
        return position, entry.value
    if isinstance(node, Sequence) and isinstance(part, int):
        elements = _elements(node)
        if part >= len(elements):
            return None
        element = node.items[elements[part]]
        assert not isinstance(element, Comment)
        return elements[part], element
    return None


def _put(node: Container, position: int, value: Node) -> None:
    """Replace the value of the entry (or the element) at ``position`` of ``node.items``."""
    item = node.items[position]
    if isinstance(node, Mapping):
        assert isinstance(item, Entry)
        item.value = value
    else:
        node.items[position] = value


def _check_replaceable(node: Node, path: SequenceABC[PathPart], next_part: PathPart) -> None:
    """A scalar in the way is replaced (as sops does); a mapping or list is never thrown away
    because the next index has the wrong kind (sops silently did nothing there)."""
    if isinstance(node, Scalar):
        return
    kind, index = ("mapping", f"[{next_part}]") if isinstance(node, Mapping) else ("list", f'["{next_part}"]')
    raise InvalidSetFormat(
        f"cannot use {index} on the {kind} at {_describe(path)}",
        hint="""mapping keys are quoted ('["key"]'), list indices are numbers ([0])""",
    )


def _fits(node: Node, next_part: PathPart) -> bool:
    return isinstance(node, Mapping) if isinstance(next_part, str) else isinstance(node, Sequence)


def unset_path(root: Mapping, path: SequenceABC[PathPart]) -> Change:
    """Remove the entry or element at ``path``; ``PathNotFound`` when it is not there."""
    if not path:
        raise InvalidSetFormat("Invalid unset index format", hint="""give a path like '["key"]' or '["list"][0]'""")
    node: Node = root
    for depth, part in enumerate(path):
        here = tuple(path[:depth])
        if isinstance(node, Mapping):
            if not isinstance(part, str):
                raise PathNotFound(f"cannot use the list index [{part}] on the mapping at {_describe(here)}")
            found = _child(node, part)
            if found is None:
                raise PathNotFound(f"Key not found: {part}")
        elif isinstance(node, Sequence):
            if not isinstance(part, int):
                raise PathNotFound(f'cannot use the key ["{part}"] on the list at {_describe(here)}')
            found = _child(node, part)
            if found is None:
                raise PathNotFound(f"Index {part} out of bounds")
        else:
            raise PathNotFound(f"Key not found: {part} ({_describe(here)} is not a mapping or a list)")
        position, child = found
        if depth == len(path) - 1:
            del node.items[position]
            return Change("remove", node, position, here, old=child)
        node = child
    raise AssertionError("unreachable")  # pragma: no cover


def container_at(root: Mapping, path: SequenceABC[PathPart]) -> Container:
    node = lookup(root, path)
    if not isinstance(node, (Mapping, Sequence)):
        raise GenericError(f"no mapping or list at {_describe(path)}")
    return node


# --------------------------------------------------------------------------------------------
# Comparison


def same_value(a: Node | None, b: Node | None) -> bool:
    """Deep equality with types, comments ignored: ``1`` (int) differs from ``1.0`` (float), as
    in Go, so ``set --idempotent`` rewrites an int with the float a JSON number gives."""
    if isinstance(a, Scalar) and isinstance(b, Scalar):
        return type(a.value) is type(b.value) and a.value == b.value
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        left, right = list(a.entries()), list(b.entries())
        return len(left) == len(right) and all(
            x.key == y.key and same_value(x.value, y.value) for x, y in zip(left, right, strict=True)
        )
    if isinstance(a, Sequence) and isinstance(b, Sequence):
        left_items = [i for i in a.items if not isinstance(i, Comment)]
        right_items = [i for i in b.items if not isinstance(i, Comment)]
        return len(left_items) == len(right_items) and all(
            same_value(x, y) for x, y in zip(left_items, right_items, strict=True)
        )
    return False
