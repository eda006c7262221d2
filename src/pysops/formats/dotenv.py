"""The dotenv store: sops's line dialect, with the user's text kept verbatim.

sops reads a ``.env`` file line by line (format.md §3.5, §9.3): lines are split on ``\\n``; empty
lines are skipped; a line starting with ``#`` is a comment (its text is what follows the ``#``);
any other line is split at its first ``=`` into a key and a value, both taken verbatim: no
trimming (``export X`` is the key ``export X``), no quote processing, and the ``\\r`` of a CRLF file
stays in the value. The two characters ``\\n`` in a value stand for a newline. A line without
``=`` is an error. Keys starting with ``sops_`` hold the flattened metadata block.

pysops keeps the text: ``parse`` records where every value and comment stands, and ``render``
splices only what changed, so blank lines, CRLF endings, comments and order are kept byte for
byte. The metadata lines are always written last, sorted.

``parse_dotenv_value`` implements the quoting dialect most dotenv tools use (``"a b"``, ``'a b'``,
``# comments``), for callers that *use* a value (exec-env, conversion); the store itself never
applies it, exactly like sops.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pysops.document import Comment, Document, Entry, Mapping, Scalar
from pysops.errors import ErrorDumpingTree, ParseError
from pysops.formats.flatmeta import decode_newlines, encode_newlines, flatten, unflatten
from pysops.values import value_to_string

#: Keys with this prefix hold the metadata block.
METADATA_PREFIX = "sops_"


@dataclass(eq=False)
class _Line:
    """One parsed line: the tree item it produced and the text it owns.

    A line owns ``text[start:end]``: itself, its ``\\n`` and the blank lines that follow it.
    ``value_start`` is where the value (after ``=``) or the comment text (after ``#``) begins and
    ``content_end`` where the line's content ends (before its ``\\n``).
    """

    item: Entry | Comment | None
    start: int
    end: int
    value_start: int
    content_end: int
    key: str = ""
    scalar: Scalar | None = None
    original: str = ""


@dataclass(eq=False)
class _State:
    """What ``render`` needs from ``parse``: the leading blank lines and every line's record."""

    head_end: int
    lines: list[_Line] = field(default_factory=list)
    by_item: dict[int, _Line] = field(default_factory=dict)


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def parse(data: bytes) -> Document:
    """Read a plaintext or encrypted dotenv file (every value is a ``str``)."""
    text = _decode(data)
    root = Mapping()
    state = _State(head_end=0)
    metadata_pairs: list[tuple[str, str]] = []
    previous: _Line | None = None
    start = 0
    number = 0
    while start <= len(text):
        number += 1
        newline = text.find("\n", start)
        content_end = len(text) if newline == -1 else newline
        next_start = content_end + 1
        line = text[start:content_end]
        if not line:
            # A blank line belongs to the line above it (or to the head of the file).
            if previous is None:
                state.head_end = min(next_start, len(text))
            else:
                previous.end = min(next_start, len(text))
            start = next_start
            continue
        record: _Line
        if line[0] == "#":
            comment = Comment(line[1:], span=(start + 1, content_end))
            root.items.append(comment)
            record = _Line(comment, start, min(next_start, len(text)), start + 1, content_end, original=line[1:])
        else:
            equals = line.find("=")
            if equals == -1:
                raise ParseError(
                    f"invalid dotenv input: line {number} has no '='",
                    hint="each line must be KEY=value or a #comment; a blank line must be really empty"
                    " (a CRLF file's blank lines hold a carriage return)",
                )
            key = line[:equals]
            raw = line[equals + 1 :]
            value_start = start + equals + 1
            if key.startswith(METADATA_PREFIX):
                metadata_pairs.append((key[len(METADATA_PREFIX) :], raw))
                record = _Line(None, start, min(next_start, len(text)), value_start, content_end, key=key)
            else:
                scalar = Scalar(decode_newlines(raw), span=(value_start, content_end))
                entry = Entry(key, scalar)
                root.items.append(entry)
                record = _Line(
                    entry, start, min(next_start, len(text)), value_start, content_end, key, scalar, raw
                )
        state.lines.append(record)
        if record.item is not None:
            state.by_item[id(record.item)] = record
        previous = record
        start = next_start
    metadata = unflatten(metadata_pairs) if metadata_pairs else None
    return Document("dotenv", [root], text=text, metadata=metadata, state=state)


def _value_text(value: Any) -> str:
    return encode_newlines(value_to_string(value))


def _check_key(key: str) -> None:
    if "=" in key or "\n" in key:
        raise ErrorDumpingTree(f"cannot write the key {key!r} to dotenv: keys cannot contain '=' or newlines")
    if key.startswith("#"):
        raise ErrorDumpingTree(f"cannot write the key {key!r} to dotenv: it would read back as a comment")
    if key.startswith(METADATA_PREFIX):
        raise ErrorDumpingTree(
            f"cannot write the key {key!r} to dotenv: keys starting with {METADATA_PREFIX!r} hold sops metadata"
        )


def _comment_lines(text: str) -> str:
    return "".join(f"#{line}\n" for line in text.split("\n"))


def _fresh_item(item: Entry | Comment) -> str:
    if isinstance(item, Comment):
        return _comment_lines(item.text)
    _check_key(item.key)
    if not isinstance(item.value, Scalar):
        raise ErrorDumpingTree(
            f"cannot write nested value to dotenv (key {item.key!r})",
            hint="dotenv files hold only top-level keys with scalar values",
        )
    return f"{item.key}={_value_text(item.value.value)}\n"


def _spliced(text: str, record: _Line, item: Entry | Comment) -> str:
    """The text a parsed line owns, with its value or comment replaced if it changed."""
    owned = text[record.start : record.end]
    if isinstance(item, Comment):
        if not item.changed and item.text == record.original:
            return owned
        new = item.text.split("\n")
        tail = owned[record.content_end - record.start :]
        return "#" + new[0] + "".join(f"\n#{line}" for line in new[1:]) + tail
    key_changed = item.key != record.key
    if key_changed:
        _check_key(item.key)
    value = item.value
    if not isinstance(value, Scalar):
        raise ErrorDumpingTree(f"cannot write nested value to dotenv (key {item.key!r})")
    if not key_changed and value is record.scalar and not value.changed:
        return owned
    unchanged = value is record.scalar and not value.changed
    new_value = record.original if unchanged else _value_text(value.value)
    head = item.key + "=" if key_changed else owned[: record.value_start - record.start]
    return head + new_value + owned[record.content_end - record.start :]


def _metadata_lines(metadata: dict[str, Any]) -> str:
    lines = []
    for key, value in flatten(metadata):
        full = METADATA_PREFIX + key
        if "=" in full:
            raise ErrorDumpingTree(f"cannot write the metadata key {full!r} to dotenv: it contains '='")
        lines.append(f"{full}={value}\n")
    return "".join(lines)


def _append(out: list[str], piece: str) -> None:
    """Append a line, first ending the previous line if the source file did not."""
    if out and out[-1] and not out[-1].endswith("\n"):
        out.append("\n")
    out.append(piece)


def _branch(doc: Document) -> Mapping:
    if len(doc.branches) > 1:
        raise ErrorDumpingTree(
            f"a dotenv file holds one document; this one has {len(doc.branches)}",
        )
    return doc.branches[0] if doc.branches else Mapping()


def render(doc: Document, metadata: dict[str, Any] | None, options: dict[str, Any] | None = None) -> bytes:
    """Write a document as dotenv, keeping the source text when it came from a dotenv file.

    Metadata lines (``sops_...``) are removed wherever they were and, unless ``metadata`` is None,
    written again sorted at the end. Raises ErrorDumpingTree for nested values and unwritable keys.
    """
    branch = _branch(doc)
    out: list[str] = []
    state = doc.state if doc.format == "dotenv" and isinstance(doc.text, str) else None
    if isinstance(state, _State):
        text = doc.text
        assert isinstance(text, str)
        out.append(text[: state.head_end])
        for item in branch.items:
            record = state.by_item.get(id(item))
            if record is not None and record.item is item:
                _append(out, _spliced(text, record, item))
            else:
                _append(out, _fresh_item(item))
    else:
        for item in branch.items:
            _append(out, _fresh_item(item))
    lines = _metadata_lines(metadata) if metadata is not None else ""
    if lines:
        _append(out, lines)
    return _encode("".join(out))


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def _rest_is_comment(rest: str) -> bool:
    stripped = rest.strip()
    return not stripped or (stripped.startswith("#") and rest[: len(rest) - len(rest.lstrip())] != "")


def parse_dotenv_value(raw: str) -> str:
    """The value a dotenv tool would use for ``raw`` (the text after ``=``, as the store holds it).

    * ``"..."``: the text between the quotes, with ``\\n``, ``\\t``, ``\\r``, ``\\"`` and ``\\\\``
      unescaped (other backslashes are kept);
    * ``'...'``: the text between the quotes, literally;
    * unquoted: cut at the first ``#`` that follows whitespace (a comment) and trimmed.

    Leading whitespace is ignored. After a closing quote only whitespace and a ``# comment`` may
    follow; otherwise (or without a closing quote) the value is treated as unquoted.
    """
    value = raw.lstrip()
    if value[:1] == '"':
        out: list[str] = []
        i = 1
        while i < len(value):
            char = value[i]
            if char == "\\" and i + 1 < len(value):
                escaped = value[i + 1]
                out.append(_ESCAPES.get(escaped, "\\" + escaped))
                i += 2
                continue
            if char == '"':
                if _rest_is_comment(value[i + 1 :]):
                    return "".join(out)
                break
            out.append(char)
            i += 1
    elif value[:1] == "'":
        close = value.find("'", 1)
        if close != -1 and _rest_is_comment(value[close + 1 :]):
            return value[1:close]
    for i, char in enumerate(raw):
        if char == "#" and i > 0 and raw[i - 1] in " \t":
            raw = raw[:i]
            break
    return raw.strip()


__all__ = ["METADATA_PREFIX", "parse", "parse_dotenv_value", "render"]
