"""The JSON store (format.md §3.4, §9.2).

``parse`` tokenizes the text with a small loop over structural characters, using regexes and the C
string scanner of the standard library for the leaves, and records the span of every scalar and
container. Key order and duplicate keys are kept. An integer of magnitude up to 2**53 is an
``int`` (as in sops 3.13.2; sops 3.11 reads it as a float64 with the same text, so the MAC agrees),
every other number a float64 (``values.parse_json_number``); a number outside the float64 range is a
parse error. A document
nested deeper than ``limits.MAX_DEPTH`` is refused while parsing (``InputTooComplex``, exit 2).

``render`` of a document parsed here keeps the text: only changed leaves are spliced in, a
container whose members were added, removed or renamed is re-emitted in place, and the top-level
``"sops"`` member is removed and appended as the last member (left untouched when the metadata
did not change). A tree coming from another format is emitted afresh like sops does (``json.Indent``
with one TAB per level by default, ``": "`` after keys, a trailing newline).

Strings we write are escaped minimally (``"``, ``\\``, control characters, U+2028/2029); unlike Go we do not
turn ``<``, ``>`` and ``&`` into ``\\u003c``... in values. Metadata strings are escaped like Go
does, so the metadata block of a file that sops wrote keeps its look when we rewrite it.
"""

from __future__ import annotations

import binascii
import json as _stdjson
import math
import re
from collections.abc import Callable
from json.decoder import scanstring  # type: ignore[attr-defined]  # C scanner, untyped

from pysops._typing import TYPE_CHECKING, NamedTuple
from pysops.document import Comment, Document, Entry, GcPaused, Mapping, Node, Scalar, Sequence
from pysops.errors import ErrorDumpingTree, ParseError
from pysops.limits import MAX_DEPTH, too_deep
from pysops.values import GoTime, Value, format_float_json, parse_json_number

if TYPE_CHECKING:
    from typing import Any

METADATA_KEY = "sops"

# --------------------------------------------------------------------------------------- parsing

_WS = re.compile(r"[ \t\n\r]*")
# A key without escapes, the colon and the whitespace around it (the common case, one match).
_KEY = re.compile(r'[ \t\n\r]*"([^"\\\x00-\x1f]*)"([ \t\n\r]*:[ \t\n\r]*)')
_COLON = re.compile(r"[ \t\n\r]*(:?)[ \t\n\r]*")
# A scalar (string without escapes, number, literal) and the delimiter after it.
_SCALAR = re.compile(
    r'[ \t\n\r]*(?:"([^"\\\x00-\x1f]*)"'
    r"|(-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)"
    r"|(true|false|null))"
    r"[ \t\n\r]*([,}\]]?)"
)
_DELIM = re.compile(r"[ \t\n\r]*([,}\]]?)")
_SURROGATE = re.compile("[\ud800-\udfff]")
_ESCAPED_SURROGATE = re.compile("[\ud800-\udc7f\udd00-\udfff]")
_LITERALS: dict[str, bool | None] = {"true": True, "false": False, "null": None}


class _Member(NamedTuple):
    """A top-level member: where its key starts and its value starts and ends."""

    key: str
    key_start: int
    value_start: int
    value_end: int


class _Layout(NamedTuple):
    """How we write new text into a file: ``newline`` None means everything on one line."""

    newline: str | None = "\n"
    unit: str = "\t"
    colon: str = ": "
    space: str = " "  # after a comma, on one line

    def with_indent(self, indent: int | None) -> _Layout:
        """Apply the ``indent`` store option: N spaces, 0 = newlines only, -1 = one TAB."""
        if indent is None:
            return self
        unit = "\t" if indent < 0 else " " * indent
        return _Layout(self.newline or "\n", unit, ": ", self.space)

    def separators(self, prefix: str) -> tuple[str, str, str, str]:
        """For a container whose first line is indented by ``prefix``: the members' indentation,
        the text after the opener, between two members and before the closer."""
        inner = prefix + self.unit
        if self.newline is None:
            return inner, "", "," + self.space, ""
        first_ws = self.newline + inner
        return inner, first_ws, "," + first_ws, self.newline + prefix


class _JsonState:
    """What ``render`` needs to splice into the parsed text (kept in ``Document.state``).

    A plain class, not a dataclass: importing dataclasses costs a small decrypt several ms.
    """

    __slots__ = ("root", "open", "close", "members", "layout", "metadata_canon", "snapshots")

    def __init__(
        self,
        root: Mapping,
        open: int,
        close: int,
        members: list[_Member],
        layout: _Layout,
        metadata_canon: str | None,
        snapshots: dict[int, tuple[Any, list[Any]]] | None = None,
    ) -> None:
        self.root = root
        self.open = open
        self.close = close
        self.members = members
        self.layout = layout
        self.metadata_canon = metadata_canon
        # id(container) -> (container, its items at parse time: (entry, key, value) for mappings).
        self.snapshots: dict[int, tuple[Any, list[Any]]] = {} if snapshots is None else snapshots


def _position(text: str, pos: int) -> str:
    line = text.count("\n", 0, pos) + 1
    column = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return f"line {line}, column {column}"


def _error(text: str, pos: int, what: str | None = None) -> ParseError:
    if what is None:
        what = "unexpected end of input" if pos >= len(text) else f"unexpected character {text[pos]!r}"
    return ParseError(f"invalid JSON at {_position(text, pos)}: {what}")


def _scan_string(text: str, quote: int) -> tuple[str, int]:
    """Decode the string whose opening quote is at ``quote`` (escapes allowed); return it and its end."""
    try:
        value, end = scanstring(text, quote + 1, True)
    except ValueError as exc:
        raise _error(text, getattr(exc, "pos", quote), "invalid string") from None
    if _SURROGATE.search(value):
        # Go turns an escaped lone surrogate into U+FFFD; raw undecodable bytes of the file
        # (carried as U+DC80..U+DCFF by surrogateescape) are kept as they are.
        pattern = _ESCAPED_SURROGATE if _SURROGATE.search(text, quote, end) else _SURROGATE
        value = pattern.sub("\ufffd", value)
    return value, end


def _number(text: str, raw: str, pos: int) -> int | float:
    try:
        return parse_json_number(raw)
    except ValueError:
        raise _error(text, pos, "a number is out of the float64 range") from None


def _parse_text(text: str) -> tuple[Mapping, _JsonState]:
    """Tokenize ``text`` into a tree; the top level must be an object."""
    n = len(text)
    # These patterns match at any position (everything in them is optional) or are checked.
    ws: Callable[[str, int], re.Match[str]] = _WS.match  # type: ignore[assignment]
    key_match = _KEY.match
    scalar_match = _SCALAR.match
    delim_match: Callable[[str, int], re.Match[str]] = _DELIM.match  # type: ignore[assignment]
    colon_match: Callable[[str, int], re.Match[str]] = _COLON.match  # type: ignore[assignment]
    pos = ws(text, 0).end()
    if pos == n:
        # sops: "Could not unmarshal input data: EOF", exit 2 (not 92 as for an empty YAML file)
        raise ParseError("the JSON file is empty: it holds no object")
    if text[pos] != "{":
        raise _error(text, pos, "the top level of a JSON file must be an object")
    root = Mapping()
    open_pos = pos
    stack: list[Mapping | Sequence] = [root]
    starts: list[int] = [pos]
    snapshots: dict[int, tuple[Any, list[Any]]] = {}
    members: list[_Member] = []
    colon0: str | None = None
    key = top_key = ""
    key_start = value_start = 0
    pos += 1
    just_opened = True
    while True:
        top = stack[-1]
        items: list[Any] = top.items
        is_map = type(top) is Mapping
        delim: str
        p = ws(text, pos).end() if just_opened else -1
        if just_opened and p < n and text[p] == ("}" if is_map else "]"):
            # An empty container: the closer is the "delimiter" after no value.
            delim, pos = text[p], p + 1
        else:
            if is_map:
                m = key_match(text, pos)
                if m is not None:
                    key, colon = m.groups()
                    k0 = m.start(1) - 1
                    pos = m.end()
                else:
                    k0 = ws(text, pos).end()
                    if k0 >= n or text[k0] != '"':
                        raise _error(text, k0, "expected a string key")
                    key, pos = _scan_string(text, k0)
                    cm = colon_match(text, pos)
                    if not cm.group(1):
                        raise _error(text, cm.end(), "expected ':' after an object key")
                    colon = cm.group()
                    pos = cm.end()
                if len(stack) == 1:
                    top_key, key_start = key, k0
                    if colon0 is None:
                        colon0 = colon
            just_opened = False
            m = scalar_match(text, pos)
            if m is not None:
                # (one groups() call: this runs once per leaf)
                quoted, number, literal, delim = m.groups()
                if quoted is not None:
                    s, value_end = m.span(1)
                    s -= 1
                    value_end += 1
                    node = Scalar(quoted, (s, value_end), "s")
                elif number is not None:
                    s, value_end = m.span(2)
                    node = Scalar(_number(text, number, s), (s, value_end), "n")
                else:
                    s, value_end = m.span(3)
                    node = Scalar(_LITERALS[literal], (s, value_end), "l")
                pos = m.end()
            else:
                s = ws(text, pos).end()
                c = text[s] if s < n else ""
                if c == "{" or c == "[":
                    if len(stack) >= MAX_DEPTH:
                        raise too_deep("the JSON document")
                    new: Mapping | Sequence = Mapping() if c == "{" else Sequence()
                    items.append(Entry(key, new) if is_map else new)
                    if len(stack) == 1:
                        value_start = s
                    stack.append(new)
                    starts.append(s)
                    pos = s + 1
                    just_opened = True
                    continue
                if c != '"':
                    raise _error(text, s, "expected a value")
                string, value_end = _scan_string(text, s)
                node = Scalar(string, (s, value_end), "s")
                dm = delim_match(text, value_end)
                delim, pos = dm.group(1), dm.end()
            items.append(Entry(key, node) if is_map else node)
            if len(stack) == 1:
                members.append(_Member(top_key, key_start, s, value_end))
        just_opened = False
        # The delimiter after a completed value: ',' continues, a closer ends containers.
        while delim != ",":
            closer = "}" if type(stack[-1]) is Mapping else "]"
            if delim != closer:
                raise _error(text, pos - len(delim), f"expected ',' or '{closer}'")
            container = stack.pop()
            container.span = (starts.pop(), pos)
            _snapshot(container, snapshots)
            if not stack:
                return _finish(text, root, open_pos, pos, members, colon0, snapshots)
            if len(stack) == 1:
                members.append(_Member(top_key, key_start, value_start, pos))
            dm = delim_match(text, pos)
            delim, pos = dm.group(1), dm.end()


def _snapshot(container: Mapping | Sequence, snapshots: dict[int, tuple[Any, list[Any]]]) -> None:
    if type(container) is Mapping:
        items: list[Any] = [(e, e.key, e.value) for e in container.items if isinstance(e, Entry)]
    else:
        items = list(container.items)
    snapshots[id(container)] = (container, items)


def _finish(
    text: str,
    root: Mapping,
    open_pos: int,
    end: int,
    members: list[_Member],
    colon0: str | None,
    snapshots: dict[int, tuple[Any, list[Any]]],
) -> tuple[Mapping, _JsonState]:
    rest = len(text) - len(text[end:].lstrip(" \t\n\r"))
    if rest != len(text):
        raise _error(text, rest, "unexpected data after the top-level object")
    close = end - 1
    if any(member.key == METADATA_KEY for member in members):
        root.items = [e for e in root.items if not (isinstance(e, Entry) and e.key == METADATA_KEY)]
        _snapshot(root, snapshots)
    layout = _detect_layout(text, open_pos, members, colon0)
    return root, _JsonState(root, open_pos, close, members, layout, None, snapshots)


def _detect_layout(text: str, open_pos: int, members: list[_Member], colon: str | None) -> _Layout:
    """The file's own style: indent unit, newline and separators, from its first members."""
    if not members:
        return _Layout()
    lead = text[open_pos + 1 : members[0].key_start]
    if colon is None or "\n" in colon:
        colon = ": "
    if "\n" in lead:
        newline = "\r\n" if "\r\n" in lead else "\n"
        return _Layout(newline, lead.rsplit("\n", 1)[1], colon, " ")
    space = " "
    if len(members) > 1:
        sep = text[members[0].value_end : members[1].key_start]
        space = sep[sep.find(",") + 1 :]
    return _Layout(None, "", colon, space)


def parse(data: bytes) -> Document:
    """Parse a JSON file; its top-level ``"sops"`` member (if any) becomes ``Document.metadata``."""
    # surrogateescape: bytes that are not UTF-8 survive a parse/render round trip unchanged.
    text = data.decode("utf-8", "surrogateescape")
    # The parse allocates one object per leaf and creates no cycles: pausing the cyclic garbage
    # collector meanwhile saves about a third of the time on large files.
    with GcPaused():
        root, state = _parse_text(text)
    metadata: dict[str, Any] | None = None
    sops_members = [member for member in state.members if member.key == METADATA_KEY]
    if sops_members:
        last = sops_members[-1]  # Go's decoder: the last duplicate wins
        # A top-level "sops" that is not an object is no metadata, but the file is still one that
        # sops refuses to encrypt ("rename the 'sops' entry", exit 203): like the YAML store, we
        # carry it as empty metadata, which encrypt refuses and decrypt reports.
        is_object = text[last.value_start] == "{"
        metadata = _stdjson.loads(text[last.value_start : last.value_end]) if is_object else {}
        state.metadata_canon = _canonical(metadata)
    return Document("json", [root], text=text, metadata=metadata, state=state)


def _canonical(data: Any) -> str:
    return _stdjson.dumps(data, ensure_ascii=False)


# -------------------------------------------------------------------------------------- emission

# U+2028/2029 too, as Go does: valid raw in JSON, but line breaks to JavaScript and to line-based
# tools (Python's splitlines), so a decrypted value never splits a line there.
_NEEDS_ESCAPE = re.compile('["\\\\\x00-\x1f\u2028-\u2029]')
# (a range, not the two characters: this class compiles four times faster that way)
_GO_NEEDS_ESCAPE = re.compile('["\\\\\x00-\x1f<>&\u2028-\u2029]')
_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def _escape_char(m: re.Match[str]) -> str:
    c = m.group()
    return _SHORT_ESCAPES.get(c) or f"\\u{ord(c):04x}"


def quote(value: str) -> str:
    """A JSON string with minimal escaping: ``"``, ``\\``, control characters and U+2028/2029."""
    if _NEEDS_ESCAPE.search(value) is None:
        return f'"{value}"'
    return '"' + _NEEDS_ESCAPE.sub(_escape_char, value) + '"'


def go_quote(value: str) -> str:
    """A JSON string escaped like Go's ``encoding/json`` (``<>&`` and U+2028/2029 too)."""
    if _GO_NEEDS_ESCAPE.search(value) is None:
        return f'"{value}"'
    return '"' + _GO_NEEDS_ESCAPE.sub(_escape_char, value) + '"'


def _float_text(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        raise ErrorDumpingTree(f"JSON cannot represent the number {value}")
    return format_float_json(value)


def scalar_text(value: Value | None) -> str:
    """The JSON text of a leaf value (times as RFC3339Nano strings, bytes as base64 like Go)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, GoTime):
        return quote(value.rfc3339nano())
    if isinstance(value, bytes):
        return quote(binascii.b2a_base64(value, newline=False).decode("ascii"))
    raise ErrorDumpingTree(f"cannot write a value of type {type(value).__name__} to JSON")


def _emit_node(node: Node, prefix: str, layout: _Layout, out: list[str]) -> None:
    """Append the JSON text of a node whose first line is indented by ``prefix``; comments dropped."""
    if isinstance(node, Scalar):
        out.append(scalar_text(node.value))
        return
    if isinstance(node, Mapping):
        entries = [item for item in node.items if isinstance(item, Entry)]
        if not entries:
            out.append("{}")
            return
        _emit_members("{}", [(quote(entry.key), entry.value) for entry in entries], prefix, layout, out)
    else:
        elements = [item for item in node.items if not isinstance(item, Comment)]
        if not elements:
            out.append("[]")
            return
        _emit_members("[]", [(None, element) for element in elements], prefix, layout, out)


def emit_value(node: Node, *, compact: bool = False) -> str:
    """The JSON text of one node (``--extract``): TAB-indented like a document, or on one line
    without spaces (``compact``, how sops's INI store prints a value); no trailing newline."""
    out: list[str] = []
    _emit_node(node, "", _Layout(None, "", ":", "") if compact else _Layout(), out)
    return "".join(out)


def _emit_plain(data: Any, prefix: str, layout: _Layout, out: list[str]) -> None:
    """Append plain Python data (the metadata block) as JSON, strings escaped like Go."""
    if isinstance(data, dict):
        if not data:
            out.append("{}")
            return
        _emit_members("{}", [(go_quote(str(k)), v) for k, v in data.items()], prefix, layout, out, _emit_plain)
    elif isinstance(data, (list, tuple)):
        if not data:
            out.append("[]")
            return
        _emit_members("[]", [(None, v) for v in data], prefix, layout, out, _emit_plain)
    elif isinstance(data, str):
        out.append(go_quote(data))
    elif data is None or isinstance(data, (bool, int, float)):
        out.append(scalar_text(data))
    else:
        raise ErrorDumpingTree(f"cannot write metadata of type {type(data).__name__} to JSON")


def _emit_members(
    brackets: str,
    members: list[tuple[str | None, Any]],
    prefix: str,
    layout: _Layout,
    out: list[str],
    emit: Callable[[Any, str, _Layout, list[str]], None] = _emit_node,
) -> None:
    """Append a non-empty object or array: ``members`` are (quoted key or None, value), each value
    written by ``emit``, laid out for a container whose first line is indented by ``prefix``."""
    inner, first_ws, sep, last_ws = layout.separators(prefix)
    out.append(brackets[0])
    out.append(first_ws)
    for i, (key, value) in enumerate(members):
        if i:
            out.append(sep)
        if key is not None:
            out.append(key)
            out.append(layout.colon)
        emit(value, inner, layout, out)
    out.append(last_ws)
    out.append(brackets[1])


def _metadata_member(metadata: dict[str, Any], prefix: str, layout: _Layout) -> str:
    out = [go_quote(METADATA_KEY), layout.colon]
    _emit_plain(metadata, prefix, layout, out)
    return "".join(out)


def _emit_tree_or_metadata(value: Any, prefix: str, layout: _Layout, out: list[str]) -> None:
    if isinstance(value, dict):
        _emit_plain(value, prefix, layout, out)
    else:
        _emit_node(value, prefix, layout, out)


def emit_document(root: Mapping, metadata: dict[str, Any] | None, layout: _Layout | None = None) -> str:
    """A whole JSON document (no trailing newline): the tree's members, then ``"sops"`` if given."""
    layout = layout or _Layout()
    out: list[str] = []
    if metadata is None:
        _emit_node(root, "", layout, out)
    else:
        members: list[tuple[str | None, Any]] = [(quote(entry.key), entry.value) for entry in root.entries()]
        members.append((go_quote(METADATA_KEY), metadata))
        _emit_members("{}", members, "", layout, out, _emit_tree_or_metadata)
    return "".join(out)


# ------------------------------------------------------------------------------------- rendering


def render(doc: Document, metadata: dict[str, Any] | None, options: dict[str, Any] | None = None) -> bytes:
    """Write a document as JSON; see the module docstring for what is kept of the source text."""
    indent = _indent_option(options)
    if len(doc.branches) != 1:
        raise ErrorDumpingTree(f"a JSON file holds exactly one document, this tree has {len(doc.branches)}")
    state = doc.state
    if doc.format == "json" and isinstance(doc.text, str) and isinstance(state, _JsonState):
        text = _render_splice(doc.text, doc.branches[0], state, metadata, indent)
    else:
        text = emit_document(doc.branches[0], metadata, _Layout().with_indent(indent)) + "\n"
    return text.encode("utf-8", "surrogateescape")


def _indent_option(options: dict[str, Any] | None) -> int | None:
    if not options or options.get("indent") is None:
        return None
    indent = options["indent"]
    if isinstance(indent, bool) or not isinstance(indent, int):
        raise ErrorDumpingTree(f"the JSON indent option must be an integer, not {indent!r}")
    return indent


def _line_prefix(text: str, pos: int) -> str:
    line_start = text.rfind("\n", 0, pos) + 1
    line = text[line_start:pos]
    return line[: len(line) - len(line.lstrip(" \t"))]


def _render_splice(
    text: str, root: Mapping, state: _JsonState, metadata: dict[str, Any] | None, indent: int | None
) -> str:
    layout = state.layout.with_indent(indent)
    if root is not state.root or _changed_items(root, state) is None:
        # Members were added to, removed from or renamed in the top level: write it afresh.
        body = emit_document(root, metadata, layout)
        return text[: state.open] + body + text[state.close + 1 :]
    edits: list[tuple[int, int, str]] = []
    _collect_edits(text, root, state, layout, edits)
    _metadata_edits(text, state, metadata, layout, indent, edits)
    if not edits:
        return text
    edits.sort(key=lambda edit: edit[0])
    out: list[str] = []
    last = 0
    for start, end, replacement in edits:
        out.append(text[last:start])
        out.append(replacement)
        last = end
    out.append(text[last:])
    return "".join(out)


def _changed_items(node: Mapping | Sequence, state: _JsonState) -> list[tuple[Any, Any]] | None:
    """Pairs (original child, current child) when the container kept its shape, else None."""
    snap = state.snapshots.get(id(node))
    if snap is None or snap[0] is not node:
        return None
    original = snap[1]
    if isinstance(node, Mapping):
        items = node.items
        if len(items) != len(original):
            return None
        pairs: list[tuple[Any, Any]] = []
        for item, (entry, key, value) in zip(items, original, strict=True):
            if item is not entry or item.key != key:
                return None
            pairs.append((value, item.value))
        return pairs
    if len(node.items) != len(original):
        return None
    return list(zip(original, node.items, strict=True))


def _collect_edits(
    text: str, root: Mapping, state: _JsonState, layout: _Layout, edits: list[tuple[int, int, str]]
) -> None:
    """Splices for changed leaves, replaced nodes and reshaped containers below ``root``."""
    stack: list[Mapping | Sequence] = [root]
    while stack:
        container = stack.pop()
        pairs = _changed_items(container, state)
        if pairs is None:
            span = container.span
            assert span is not None
            edits.append((span[0], span[1], _emit_in_place(text, container, span, layout)))
            continue
        for original, current in pairs:
            if current is not original:
                if isinstance(current, Comment):
                    continue
                span = original.span
                edits.append((span[0], span[1], _emit_in_place(text, current, span, layout)))
            elif type(current) is Scalar:
                if current.changed:
                    span = current.span
                    assert span is not None
                    edits.append((span[0], span[1], scalar_text(current.value)))
            else:
                stack.append(current)


def _emit_in_place(text: str, node: Node, span: tuple[int, int], layout: _Layout) -> str:
    """A node written where ``span`` stood: one line if the old text was, else indented like its line."""
    if layout.newline is not None and "\n" not in text[span[0] : span[1]] and not isinstance(node, Scalar):
        layout = _Layout(None, "", layout.colon, " ")
    out: list[str] = []
    _emit_node(node, _line_prefix(text, span[0]), layout, out)
    return "".join(out)


def _metadata_edits(
    text: str,
    state: _JsonState,
    metadata: dict[str, Any] | None,
    layout: _Layout,
    indent: int | None,
    edits: list[tuple[int, int, str]],
) -> None:
    """Remove every top-level ``"sops"`` member and append the new one (unless it is unchanged)."""
    members = state.members
    is_sops = [member.key == METADATA_KEY for member in members]
    count = sum(is_sops)
    if metadata is None and count == 0:
        return
    if metadata is not None and count == 1 and state.metadata_canon == _canonical(metadata):
        return
    member_text = ""
    if metadata is not None:
        member_text = _metadata_member(metadata, layout.unit if layout.newline is not None else "", layout)
    kept = [i for i, sops in enumerate(is_sops) if not sops]
    if not kept:
        if metadata is None:
            edits.append((state.open + 1, state.close, ""))
        elif layout.newline is None:
            edits.append((state.open + 1, state.close, member_text))
        else:
            nl = layout.newline
            edits.append((state.open + 1, state.close, nl + layout.unit + member_text + nl))
        return
    last_kept = kept[-1]
    # Runs of "sops" members before a kept member go with the separator that follows them.
    i = 0
    while i < last_kept:
        if is_sops[i]:
            j = i
            while is_sops[j]:
                j += 1
            edits.append((members[i].key_start, members[j].key_start, ""))
            i = j
        else:
            i += 1
    region_start = region_end = members[last_kept].value_end
    separator: str | None = None
    if last_kept + 1 < len(members):  # a trailing run of "sops" members
        region_end = members[-1].value_end
        separator = text[region_start : members[last_kept + 1].key_start]
    if metadata is None:
        replacement = ""
    else:
        if separator is None or indent is not None:
            separator = _member_separator(text, members, kept, layout, indent)
        replacement = separator + member_text
    edits.append((region_start, region_end, replacement))


def _member_separator(text: str, members: list[_Member], kept: list[int], layout: _Layout, indent: int | None) -> str:
    """The text between two top-level members: the file's own when it has one, else from the layout."""
    if indent is None:
        for a, b in zip(reversed(kept[:-1]), reversed(kept[1:]), strict=True):
            if b == a + 1:
                return text[members[a].value_end : members[b].key_start]
    if layout.newline is None:
        return "," + layout.space
    return "," + layout.newline + layout.unit


__all__ = ["emit_document", "emit_value", "go_quote", "parse", "quote", "render", "scalar_text"]
