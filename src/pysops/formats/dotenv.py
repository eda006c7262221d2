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

import operator

from pysops._typing import TYPE_CHECKING
from pysops.document import Comment, Document, Entry, GcPaused, Mapping, Scalar
from pysops.errors import ErrorDumpingTree, ParseError
from pysops.formats.flatmeta import encode_newlines, flatten, unflatten
from pysops.values import value_to_string

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

#: Keys with this prefix hold the metadata block.
METADATA_PREFIX = "sops_"


#: One line's record, for edits that reorder the tree: (tree item or None for a metadata line,
#: start, value start, content end, key, scalar, original). The line owns ``text[start:end]``:
#: itself, its ``\\n`` and the blank lines after it, so its end is where the next record starts.
#: ``value start`` is where the value (after ``=``) or the comment text (after ``#``) begins and
#: ``content end`` where the line's content ends (before its ``\\n``); ``original`` is the value or
#: comment text as written.
_Line = tuple[Entry | Comment | None, int, int, int, str, Scalar | None, str]


class _State:
    """What ``render`` needs from ``parse``, kept small (a 20,000-line file): the tree items as
    parsed, each entry's original key and leaf (its span says where it stands), and where the
    metadata lines are. Full per-line records are derived from these only when the tree was
    reordered."""

    __slots__ = ("items", "keys", "leaves", "metadata_lines")

    def __init__(
        self,
        items: tuple[Entry | Comment, ...],
        keys: list[str],
        leaves: list[Scalar | Comment],
        metadata_lines: list[tuple[int, int, str, str]],
    ) -> None:
        self.items = items
        self.keys = keys  # original key of each item ("" for a comment)
        self.leaves = leaves  # original Scalar of each entry, the Comment itself for a comment
        self.metadata_lines = metadata_lines  # (start, content end, key, value)

    def records(self, text: str) -> list[_Line]:
        """Every line's record, in text order."""
        parsed = zip(self.items, self.keys, self.leaves, strict=True)
        lines = [_record(text, item, key, leaf) for item, key, leaf in parsed]
        for start, content_end, key, raw in self.metadata_lines:
            lines.append((None, start, start + len(key) + 1, content_end, key, None, raw))
        lines.sort(key=lambda line: line[1])
        return lines


def _record(text: str, item: Entry | Comment, key: str, leaf: Scalar | Comment) -> _Line:
    """A parsed item's line record, from its original key and leaf."""
    value_start, content_end = leaf.span  # type: ignore[misc]
    scalar = leaf if type(leaf) is Scalar else None
    return (item, _line_start(key, leaf), value_start, content_end, key, scalar, text[value_start:content_end])


def _line_start(key: str, leaf: Scalar | Comment) -> int:
    span = leaf.span
    assert span is not None
    return span[0] - len(key) - 1 if type(leaf) is Scalar else span[0] - 1


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def parse(data: bytes) -> Document:
    """Read a plaintext or encrypted dotenv file (every value is a ``str``)."""
    text = _decode(data)
    # Tens of thousands of small objects: the cyclic GC would run hundreds of times for nothing.
    with GcPaused():
        return _parse(text)


def _parse(text: str) -> Document:
    items: list[Entry | Comment] = []
    keys: list[str] = []
    leaves: list[Scalar | Comment] = []
    add_item = items.append
    add_key = keys.append
    add_leaf = leaves.append
    metadata_lines: list[tuple[int, int, str, str]] = []
    prefix = METADATA_PREFIX
    start = 0
    # One tight loop over str.split, three list appends and two objects per line: a
    # 20,000-line file takes about 10 ms.
    for line in text.split("\n"):
        if not line:
            start += 1  # a blank line belongs to the line above it (or to the head of the file)
            continue
        content_end = start + len(line)
        if line[0] == "#":
            comment = Comment(line[1:], (start + 1, content_end))
            add_item(comment)
            add_key("")
            add_leaf(comment)
        else:
            key, equals, raw = line.partition("=")
            if not equals:
                raise ParseError(
                    f"invalid dotenv input: line {text.count(chr(10), 0, start) + 1} has no '='",
                    hint="each line must be KEY=value or a #comment; a blank line must be really empty"
                    " (a CRLF file's blank lines hold a carriage return)",
                )
            if key.startswith(prefix):
                metadata_lines.append((start, content_end, key, raw))
            else:
                scalar = Scalar(raw.replace("\\n", "\n") if "\\n" in raw else raw, (start + len(key) + 1, content_end))
                add_item(Entry(key, scalar))
                add_key(key)
                add_leaf(scalar)
        start = content_end + 1
    state = _State(tuple(items), keys, leaves, metadata_lines)
    size = len(prefix)
    metadata = unflatten([(key[size:], raw) for _, _, key, raw in metadata_lines]) if metadata_lines else None
    return Document("dotenv", [Mapping(items)], text=text, metadata=metadata, state=state)


def encrypt_text(
    data: bytes,
    seal_value: Callable[[tuple[str, ...], str, Any, tuple[str, ...]], Any],
    seal_comment: Callable[[str, str, tuple[str, ...], tuple[str, ...]], str],
    metadata: Callable[[], dict[str, Any]],
) -> bytes | None:
    """Encrypt a plaintext dotenv file without building its tree, for ``api.encrypt_bytes``
    (a 20,000-line file in two thirds of the time: no objects per line to allocate, walk and
    splice). The walk is ``parse`` + ``api.encrypt_tree`` + ``render``'s, so the bytes are the
    same: values and comments in line order, an entry's path ``(KEY,)`` and AAD ``KEY:``, a
    comment's AAD ``:``, the comments since the previous entry (as written) as
    the entry's comment stack; sealed values replace the text after ``=``, comments the text
    after ``#``, and the metadata lines follow. ``metadata`` is called once every value went
    through ``seal_value``. None for a file this path does not take (a line without ``=``, a
    ``sops_`` line): ``parse`` then reports it."""
    text = _decode(data)
    if text.startswith(METADATA_PREFIX) or "\n" + METADATA_PREFIX in text:
        return None
    lines = text.split("\n")
    pending: list[str] = []
    for index, line in enumerate(lines):
        if not line:
            continue
        if line[0] == "#":
            comment = line[1:]
            sealed_comment = seal_comment(":", comment, (), (*pending, comment))
            if sealed_comment is not comment:
                lines[index] = _comment_text(sealed_comment)
            pending.append(comment)
            continue
        key, equals, raw = line.partition("=")
        if not equals:
            return None
        value = raw.replace("\\n", "\n") if "\\n" in raw else raw
        sealed = seal_value((key,), key + ":", value, tuple(pending) if pending else ())
        if pending:
            pending = []
        if sealed is not value:
            lines[index] = key + "=" + _value_text(sealed)
    # The metadata lines follow the last line, which gains a line break if it had none; joined
    # in one go (the output is megabytes: each extra copy is page faults).
    if lines[-1] == "":
        lines[-1] = _metadata_lines(metadata())
    else:
        lines.append(_metadata_lines(metadata()))
    return _encode("\n".join(lines))


def read_back_text(
    data: bytes,
    check_value: Callable[[tuple[str, ...], str, Any, tuple[str, ...]], bool],
    check_comment: Callable[[str, str, tuple[str, ...], tuple[str, ...]], bool],
) -> dict[str, Any] | None:
    """Walk an encrypted dotenv file as ``parse`` + ``api._leaves`` would, without the tree, for
    ``api.verify_sealed``: each value goes to ``check_value(path, aad, value, comments)`` and
    each comment to ``check_comment(aad, text, path, comments)`` (the arguments ``_leaves``
    gives: a comment's stack ends with itself, an entry's holds the comments since the previous
    entry; ``sops_`` lines are not items and leave the stack alone). Returns the metadata
    (unflattened, as ``parse`` gives it), or None when a check gives up or ``parse`` would
    refuse the text or find no metadata: the tree path then decides."""
    text = _decode(data)
    prefix = METADATA_PREFIX
    metadata_lines: list[tuple[str, str]] = []
    pending: list[str] = []
    for line in text.split("\n"):
        if not line:
            continue
        if line[0] == "#":
            comment = line[1:]
            pending.append(comment)
            if not check_comment(":", comment, (), tuple(pending)):
                return None
            continue
        key, equals, raw = line.partition("=")
        if not equals:
            return None
        if key.startswith(prefix):
            metadata_lines.append((key[len(prefix) :], raw))
            continue
        value = raw.replace("\\n", "\n") if "\\n" in raw else raw
        if not check_value((key,), key + ":", value, tuple(pending) if pending else ()):
            return None
        if pending:
            pending = []
    return unflatten(metadata_lines) if metadata_lines else None


def _value_text(value: Any) -> str:
    """A value as dotenv text: sops's ValToString, newlines as the two characters ``\\n``."""
    text = value if type(value) is str else value_to_string(value)
    return encode_newlines(text) if "\n" in text else text


def _comment_text(text: str) -> str:
    """A comment as dotenv text: each of its lines behind a ``#`` (no final line break)."""
    return "#" + text.replace("\n", "\n#")


def _check_key(key: str) -> None:
    if "=" in key or "\n" in key:
        raise ErrorDumpingTree(f"cannot write the key {key!r} to dotenv: keys cannot contain '=' or newlines")
    if key.startswith("#"):
        raise ErrorDumpingTree(f"cannot write the key {key!r} to dotenv: it would read back as a comment")
    if key.startswith(METADATA_PREFIX):
        raise ErrorDumpingTree(
            f"cannot write the key {key!r} to dotenv: keys starting with {METADATA_PREFIX!r} hold sops metadata"
        )


def _fresh_item(item: Entry | Comment) -> str:
    if isinstance(item, Comment):
        return _comment_text(item.text) + "\n"
    _check_key(item.key)
    if not isinstance(item.value, Scalar):
        raise ErrorDumpingTree(
            f"cannot write nested value to dotenv (key {item.key!r})",
            hint="dotenv files hold only top-level keys with scalar values",
        )
    return f"{item.key}={_value_text(item.value.value)}\n"


def _spliced(text: str, record: _Line, end: int, item: Entry | Comment) -> str:
    """The text a parsed line owns, with its value or comment replaced if it changed."""
    _, start, value_start, content_end, key, scalar, original = record
    if isinstance(item, Comment):
        if not item.changed and item.text == original:
            return text[start:end]
        return _comment_text(item.text) + text[content_end:end]
    key_changed = item.key != key
    if key_changed:
        _check_key(item.key)
    value = item.value
    if not isinstance(value, Scalar):
        raise ErrorDumpingTree(f"cannot write nested value to dotenv (key {item.key!r})")
    unchanged = value is scalar and not value.changed
    if unchanged and not key_changed:
        return text[start:end]
    new_value = original if unchanged else _value_text(value.value)
    head = item.key + "=" if key_changed else text[start:value_start]
    return head + new_value + text[content_end:end]


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
    for last in reversed(out):
        if last:
            if last[-1] != "\n":
                out.append("\n")
            break
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
        items = branch.items
        parsed = state.items
        if len(items) == len(parsed) and all(map(operator.is_, items, parsed)) and _metadata_last(state):
            _render_in_order(text, state, out)
        else:
            _render_lines(text, state, items, out)
    else:
        for item in branch.items:
            _append(out, _fresh_item(item))
    lines = _metadata_lines(metadata) if metadata is not None else ""
    if lines:
        _append(out, lines)
    return _encode("".join(out))


def _metadata_last(state: _State) -> bool:
    """Whether every metadata line follows the last item (the layout sops and pysops write)."""
    if not state.metadata_lines or not state.items:
        return True
    return state.metadata_lines[0][0] > _line_start(state.keys[-1], state.leaves[-1])


def _render_in_order(text: str, state: _State, out: list[str]) -> None:
    """The tree holds the parsed items in their order (encrypt, decrypt, set of a value) and the
    metadata lines come last: copy the source text in runs, cutting it only around the values and
    lines that changed, and before the metadata lines."""
    append = out.append
    done = 0  # the source text before this offset is in ``out``
    for item, key, leaf in zip(state.items, state.keys, state.leaves, strict=True):
        value_start, content_end = leaf.span  # type: ignore[misc]
        if type(item) is Entry:
            if item.value is leaf and item.key == key:
                if leaf.changed:
                    append(text[done:value_start])
                    append(_value_text(leaf.value))
                    done = content_end
                continue
        elif not leaf.changed and leaf.text == text[value_start:content_end]:  # type: ignore[union-attr]
            continue
        # a renamed key, a replaced value or a changed comment: the line again from its start
        record = _record(text, item, key, leaf)
        append(text[done : record[1]])
        append(_spliced(text, record, content_end, item))
        done = content_end
    end = state.metadata_lines[0][0] if state.metadata_lines else len(text)
    if done < end:
        append(text[done:end])


def _render_lines(text: str, state: _State, items: list[Entry | Comment], out: list[str]) -> None:
    """The blank lines before the first line, then each item's line: the source text it owns,
    spliced where it changed, or a fresh line."""
    lines = state.records(text)
    out.append(text[: lines[0][1]] if lines else text)
    ends = [line[1] for line in lines[1:]] + [len(text)] if lines else []
    get = {id(line[0]): (line, end) for line, end in zip(lines, ends, strict=True) if line[0] is not None}.get
    append = out.append
    for item in items:
        found = get(id(item))
        if found is None or found[0][0] is not item:
            _append(out, _fresh_item(item))
            continue
        record, end = found
        value = item.value if type(item) is Entry else None
        if value is not None and value is record[5] and item.key == record[4]:  # type: ignore[union-attr]
            # the common case, inlined: a parsed entry with the same key and the same Scalar
            assert isinstance(value, Scalar)
            if not value.changed:
                piece = text[record[1] : end]
            else:
                piece = text[record[1] : record[2]] + _value_text(value.value) + text[record[3] : end]
        else:
            piece = _spliced(text, record, end, item)
        if out[-1] and out[-1][-1] != "\n":
            append("\n")  # the source's last line had no line break, and something follows it
        append(piece)


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


__all__ = ["METADATA_PREFIX", "encrypt_text", "parse", "parse_dotenv_value", "render"]
