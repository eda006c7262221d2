"""Flattening of the ``sops`` metadata block for the line-based stores (dotenv, INI).

dotenv and INI files hold only flat ``key=value`` pairs, so sops writes its nested metadata block
(format.md §3.5, §3.6) as one pair per leaf. The key of a leaf is the path to it: the top-level
field name, then ``__map_<key>`` for each mapping member and ``__list_<index>`` for each list
element, e.g. ``age__list_0__map_enc`` or ``kms__list_0__map_context__map_Environment``.

* ``flatten`` drops ``None`` leaves (and empty lists/mappings, which have no leaves), writes bools
  as ``true``/``false`` and ints in decimal, replaces newlines in values with the two characters
  ``\\n``, and sorts the pairs by the bytes of their keys (so ``__list_10`` comes before
  ``__list_2``; ``unflatten`` rebuilds lists by index, not by order).
* ``unflatten`` is the inverse for what sops writes: every leaf comes back as a ``str`` with ``\\n``
  decoded; turning ``shamir_threshold`` into an int or ``mac_only_encrypted`` into a bool is the
  metadata module's business.

No prefix is handled here: the dotenv store adds and strips ``sops_`` itself.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from pysops._typing import TYPE_CHECKING
from pysops.errors import ParseError
from pysops.values import GoTime, value_to_string

if TYPE_CHECKING:
    from typing import Any

MAP_SEPARATOR = "__map_"
LIST_SEPARATOR = "__list_"
#: Far more master keys than any real file has; a larger index would only allocate a huge list.
_MAX_LIST_INDEX = 100_000


def encode_newlines(text: str) -> str:
    """Newlines become the two characters ``\\n`` (sops's ``EncodeNewLines``)."""
    return text.replace("\n", "\\n")


def decode_newlines(text: str) -> str:
    """The two characters ``\\n`` become a newline (sops's ``DecodeNewLines``)."""
    return text.replace("\\n", "\n")


def _leaf_to_string(value: Any) -> str:
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        # Metadata has no floats; a JSON round trip may still turn an int into one.
        return str(int(value))
    if isinstance(value, GoTime):
        return value.rfc3339()
    return value_to_string(value)


def _flatten_into(out: dict[str, str], key: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, dict):
        for member, child in value.items():
            _flatten_into(out, key + MAP_SEPARATOR + str(member), child)
    elif isinstance(value, (list, tuple)):
        for index, child in enumerate(value):
            _flatten_into(out, key + LIST_SEPARATOR + str(index), child)
    else:
        out[key] = encode_newlines(_leaf_to_string(value))


def flatten(metadata: dict[str, Any]) -> list[tuple[str, str]]:
    """The metadata block as sorted ``(flat key, string value)`` pairs (no ``sops_`` prefix)."""
    out: dict[str, str] = {}
    for key, value in metadata.items():
        _flatten_into(out, str(key), value)
    return sorted(out.items(), key=lambda pair: pair[0].encode("utf-8", "surrogateescape"))


def _tokenize(path: str) -> list[str | int]:
    """Split a flat key into path tokens: ``str`` for mapping keys, ``int`` for list indices.

    Like sops, every occurrence of a separator starts a new token, scanning left to right.
    """
    tokens: list[str | int] = []
    kind = ""  # "" for the top-level name, else the separator that opened the token
    start = 0
    i = 0

    def finish(end: int) -> None:
        body = path[start + len(kind) : end]
        if kind == LIST_SEPARATOR:
            if not body.isdigit() or not body.isascii() or int(body) > _MAX_LIST_INDEX:
                raise ParseError(f"invalid list index {body!r} in metadata key {path!r}")
            tokens.append(int(body))
        else:
            tokens.append(body)

    while i < len(path):
        if path.startswith(MAP_SEPARATOR, i):
            finish(i)
            kind, start = MAP_SEPARATOR, i
            i += len(MAP_SEPARATOR)
        elif path.startswith(LIST_SEPARATOR, i):
            finish(i)
            kind, start = LIST_SEPARATOR, i
            i += len(LIST_SEPARATOR)
        else:
            i += 1
    finish(len(path))
    return tokens


class _Hole:
    """Marks a list slot that no flat key filled (sops would leave a JSON null there)."""


_HOLE = _Hole()


def _conflict(path: str) -> ParseError:
    return ParseError(f"metadata key {path!r} conflicts with another metadata key")


def unflatten(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Rebuild the nested metadata block from flat pairs; leaves are strings with ``\\n`` decoded.

    List slots that no key filled are None. Raises ParseError for a malformed list index or for keys
    that make one path both a leaf and a container.
    """
    root: dict[str, Any] = {}
    for path, raw in pairs:
        tokens = _tokenize(path)
        value = decode_newlines(raw)
        node: Any = root
        for position, token in enumerate(tokens):
            last = position == len(tokens) - 1
            following = None if last else tokens[position + 1]
            fresh: Any = [] if isinstance(following, int) else {}
            if isinstance(token, int):
                if not isinstance(node, list):
                    raise _conflict(path)
                while len(node) <= token:
                    node.append(_HOLE)
                existing = node[token]
            else:
                if not isinstance(node, dict):
                    raise _conflict(path)
                existing = node.get(token, _HOLE)
            if last:
                if existing is not _HOLE and not isinstance(existing, str):
                    raise _conflict(path)
                child = value
            else:
                child = fresh if existing is _HOLE else existing
            node[token] = child
            if not last and not isinstance(child, (list, dict)):
                raise _conflict(path)
            if not last and isinstance(following, int) != isinstance(child, list):
                raise _conflict(path)
            node = child
    filled: dict[str, Any] = _fill_holes(root)
    return filled


def _fill_holes(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _fill_holes(child) for key, child in node.items()}
    if isinstance(node, list):
        return [None if child is _HOLE else _fill_holes(child) for child in node]
    return node


__all__ = ["LIST_SEPARATOR", "MAP_SEPARATOR", "decode_newlines", "encode_newlines", "flatten", "unflatten"]
