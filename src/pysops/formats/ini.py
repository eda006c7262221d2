"""The INI store: reads what sops reads (gopkg.in/ini.v1), keeps the user's text when writing.

sops parses INI with go-ini (format.md §3.6, §9.4), and the tree it builds decides the AAD of every
value (``section:key:``), so this module reproduces go-ini's reading rules exactly:

* lines are split on ``\\n``; leading whitespace is ignored; blank lines are skipped;
* a line starting with ``;`` or ``#`` is a comment; ``[name]`` starts a section (the name is
  everything up to the *last* ``]``, not trimmed); keys before the first section are in section
  ``DEFAULT``, which is always the first section of the tree, even when empty; a section name may
  repeat (each occurrence is its own section);
* ``key = value`` or ``key: value`` (the first ``=`` or ``:``); the key is trimmed and may be quoted
  with ``"``, ``\"\"\"`` or a backtick; the key ``-`` is numbered ``#1``, ``#2``... within a section;
* a value starting with ``\"\"\"`` or a backtick runs to the last such quote (over several lines if
  needed) and is taken raw; a value ending with ``\\`` continues on the next line; otherwise the
  value is trimmed, cut at the first ``;`` or ``#`` (an inline comment, even inside quotes) and a
  pair of surrounding ``"`` or ``'`` quotes is removed;
* all comment lines since the previous key or section header, plus the inline comment of a key
  (or header) line, form ONE comment, which go-ini gives to that key (or section). sops puts a
  section's comment first in the section and a key's comment right *after* the key; so does this
  store. Comments after the last key of the file are dropped by go-ini; pysops keeps them at the
  end of the last section.

Comments: ``Comment.text`` is sops's text for the comment, so that comment regexes select what
they select in sops and both tools encrypt and decrypt the same text: go-ini's comment (its lines
joined with ``\\n``, blank lines left out, trimmed) without the run of marker and spaces that
starts its first line (``;;  note`` is ``note``; ``; a`` + ``# b`` is ``a\\n# b``). The record of
a parsed comment keeps that marker run and the trailing whitespace, and a changed text (an
``ENC[...]`` string, a decrypted text) is written behind the same marker, so an encrypted comment
reads ``# ENC[...]`` where the comment was ``# note``, and decrypts back to ``# note``.

Rendering a parsed file splices only the values and comments that changed; a changed value is
written in its old quoting when it reads back the same there, else in the first quoting that
does (plain, ``"..."``, ``'...'``, backticks, ``\"\"\"...\"\"\"``). The ``[sops]`` section is removed
wherever it was and written again at the end. Exceptions to exact round trips are in
docs/formats.md.
"""

from __future__ import annotations

import re

from pysops._typing import TYPE_CHECKING, NamedTuple
from pysops.document import Comment, Document, Entry, GcPaused, Mapping, Scalar, Sequence
from pysops.errors import ErrorDumpingTree, ParseError
from pysops.formats.flatmeta import flatten, unflatten
from pysops.values import value_to_string

if TYPE_CHECKING:
    from typing import Any

DEFAULT_SECTION = "DEFAULT"
METADATA_SECTION = "sops"
_DELIMITERS = "=:"
_COMMENT_MARKERS = "#;"
# Go's unicode.IsSpace (Python's str.isspace also accepts \x1c-\x1f, which Go does not).
_SPACE = frozenset("\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000" + "".join(map(chr, range(0x2000, 0x200B))))


def _lstrip(text: str, start: int, end: int) -> int:
    while start < end and text[start] in _SPACE:
        start += 1
    return start


def _rstrip(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1] in _SPACE:
        end -= 1
    return end


def _trim(value: str) -> str:
    start = _lstrip(value, 0, len(value))
    return value[start : _rstrip(value, start, len(value))]


def _line_end(text: str, start: int) -> int:
    """The end of the line starting at ``start``, after its ``\\n`` (go-ini's lines keep it)."""
    newline = text.find("\n", start)
    return len(text) if newline == -1 else newline + 1


#: A "key = value" line with a plain key and a plain value of ordinary characters (no spaces,
#: quotes, comment markers or backslash), ending with LF or the text: parse's fast path.
_SIMPLE_LINE = re.compile(
    r"[ \t]*([A-Za-z0-9_.-]+)[ \t]*=()[ \t]*([A-Za-z0-9_./=+@,:\[\]{}()<>!$%&*?^|~-]+)[ \t]*(?:\n|\Z)"
)
#: A value go-ini reads back as written wherever a plain value stood: ordinary characters only.
_PLAIN_VALUE = re.compile(r"[A-Za-z0-9_./=+@,:\[\]{}()<>!$%&*?^|~-]+\Z")
_FIRST_OF: dict[str, re.Pattern[str]] = {}


def _first_of(text: str, chars: str, start: int, end: int) -> int:
    """The index of the first of ``chars`` in ``text[start:end]``, or -1."""
    pattern = _FIRST_OF.get(chars)
    if pattern is None:
        pattern = _FIRST_OF[chars] = re.compile("[" + re.escape(chars) + "]")
    match = pattern.search(text, start, end)
    return -1 if match is None else match.start()


class _ReadError(Exception):
    """go-ini refuses the input; ``line`` is the offset of the line at fault."""

    def __init__(self, reason: str, line: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


class _Value(NamedTuple):
    """How go-ini reads one value, with offsets into the text.

    ``kind`` is the quoting: ``""`` (plain), ``'"'``, ``"'"``, ``"`"``, ``'\"\"\"'`` (single line),
    ``"ml`"``/``'ml\"\"\"'`` (over several lines) or ``"cont"`` (``\\`` continuation lines).
    ``inner`` is the value's text without quotes, ``outer`` with them; ``comment`` the inline
    comment (from its marker to its last non-space character); ``end`` where the next line starts.
    """

    value: str
    kind: str
    inner: tuple[int, int]
    outer: tuple[int, int]
    comment: tuple[int, int] | None
    end: int


def _read_value(text: str, start: int) -> _Value:
    """go-ini's ``readValue`` of the text after a key's delimiter (may consume further lines)."""
    line_end = _line_end(text, start)
    p = _lstrip(text, start, line_end)
    if p == line_end:
        insert = start
        while insert < line_end and text[insert] in " \t":
            insert += 1
        return _Value("", "", (insert, insert), (insert, insert), None, line_end)
    quote = ""
    if line_end - p > 3 and text.startswith('"""', p):
        quote = '"""'
    elif text[p] == "`":
        quote = "`"
    if quote:
        body = p + len(quote)
        close = text.rfind(quote, body, line_end)
        if close != -1:
            return _Value(text[body:close], quote, (body, close), (p, close + len(quote)), None, line_end)
        # The value goes on until a line holding the closing quote.
        position = line_end
        while True:
            if position >= len(text) or text[position - 1] != "\n":
                raise _ReadError("missing closing quote of a multi-line value", p)
            next_end = _line_end(text, position)
            close = text.rfind(quote, position, next_end)
            if close != -1:
                comment = None
                marker = _first_of(text, _COMMENT_MARKERS, close, next_end)
                if marker != -1:
                    comment = (marker, _rstrip(text, marker, next_end))
                return _Value(text[body:close], "ml" + quote, (body, close), (p, close + len(quote)), comment, next_end)
            position = next_end
    content_end = _rstrip(text, p, line_end)
    if text[content_end - 1] == "\\":
        value = text[p : content_end - 1]
        last = content_end
        position = line_end
        while position < len(text) and text[position - 1] == "\n":
            next_end = _line_end(text, position)
            piece_start = _lstrip(text, position, next_end)
            piece_end = _rstrip(text, piece_start, next_end)
            position = next_end
            if piece_start == piece_end:
                break
            value += text[piece_start:piece_end]
            last = piece_end
            if not value.endswith("\\"):
                break
            value = value[:-1]
        return _Value(value, "cont", (p, last), (p, last), None, position)
    comment = None
    value_end = content_end
    marker = _first_of(text, _COMMENT_MARKERS, p, content_end)
    if marker != -1:
        comment = (marker, content_end)
        value_end = _rstrip(text, p, marker)
    first, last_char = text[p], text[value_end - 1] if value_end > p else ""
    if (
        value_end - p >= 2
        and first in "'\""
        and last_char == first
        and text.find(first, p + 1, value_end) == value_end - 1
    ):
        return _Value(text[p + 1 : value_end - 1], first, (p + 1, value_end - 1), (p, value_end), comment, line_end)
    return _Value(text[p:value_end], "", (p, value_end), (p, value_end), comment, line_end)


def _read_key(text: str, start: int, line_end: int) -> tuple[str, tuple[int, int], int]:
    """go-ini's ``readKeyName``: the key, the span of its text (quotes included), and where the
    text after the delimiter starts. Raises _ReadError when there is no delimiter."""
    quote = ""
    if text[start] == '"':
        quote = '"""' if line_end - start > 6 and text.startswith('"""', start) else '"'
    elif text[start] == "`":
        quote = "`"
    if quote:
        close = text.find(quote, start + len(quote), line_end)
        if close == -1:
            raise _ReadError("missing closing quote of a key", start)
        delimiter = _first_of(text, _DELIMITERS, close + len(quote), line_end)
        if delimiter == -1:
            raise _ReadError("no '=' or ':' after the key", start)
        return _trim(text[start + len(quote) : close]), (start, close + len(quote)), delimiter + 1
    delimiter = _first_of(text, _DELIMITERS, start, line_end)
    if delimiter == -1:
        raise _ReadError("no '=' or ':' in a line that is not a comment or a section", start)
    key_end = _rstrip(text, start, delimiter)
    return _trim(text[start:delimiter]), (start, key_end), delimiter + 1


# ------------------------------------------------------------------------------------------------
# What parse remembers for render.


class _Record:
    """Base of the records below: plain classes with __slots__ (dataclasses cost a decrypt
    several ms to import); compared by identity."""

    __slots__ = ()

    def __repr__(self) -> str:
        slots: tuple[str, ...] = self.__slots__
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in slots)
        return f"{type(self).__name__}({fields})"


class _CommentRecord(_Record):
    """A comment of the source: the lines above a key or header (``block``, whole lines from the
    first comment line to the end of the last one) and/or the inline part (``inline``: marker to
    end; ``inline_cut``: where the whitespace before the marker starts)."""

    __slots__ = ("comment", "original", "block", "inline", "inline_cut", "prefix", "suffix")

    def __init__(
        self,
        comment: Comment,
        original: str,
        block: tuple[int, int] | None = None,
        inline: tuple[int, int] | None = None,
        inline_cut: int = 0,
        prefix: str = "; ",
        suffix: str = "",
    ) -> None:
        self.comment = comment
        self.original = original
        self.block = block
        self.inline = inline
        self.inline_cut = inline_cut
        #: what sops strips from the comment's first line (its marker and the spaces after it)
        #: and the whitespace go-ini trims from its end: written back around a changed text
        self.prefix = prefix
        self.suffix = suffix


class _KeyRecord(_Record):
    __slots__ = ("entry", "scalar", "key", "key_span", "line_start", "value_start", "chunk", "value", "comment")

    def __init__(
        self,
        entry: Entry,
        scalar: Scalar,
        key: str,
        key_span: tuple[int, int],
        line_start: int,
        value_start: int,
        chunk: tuple[int, int],
        value: _Value,
        comment: _CommentRecord | None = None,
    ) -> None:
        self.entry = entry
        self.scalar = scalar
        self.key = key
        self.key_span = key_span
        self.line_start = line_start
        self.value_start = value_start
        self.chunk = chunk
        self.value = value
        self.comment = comment


class _SectionRecord(_Record):
    __slots__ = ("entry", "mapping", "name", "header", "name_span", "line_start", "comment", "keys", "names",
                 "trailers")  # fmt: skip

    def __init__(
        self,
        entry: Entry,
        mapping: Mapping,
        name: str,
        header: tuple[int, int] | None = None,
        name_span: tuple[int, int] = (0, 0),
        line_start: int = 0,
        comment: _CommentRecord | None = None,
    ) -> None:
        self.entry = entry
        self.mapping = mapping
        self.name = name
        self.header = header
        self.name_span = name_span
        self.line_start = line_start
        self.comment = comment
        self.keys: dict[int, _KeyRecord] = {}
        self.names: set[str] = set()
        self.trailers: list[tuple[tuple[int, int], _CommentRecord | None]] = []


class _State(_Record):
    __slots__ = ("head", "sections")

    def __init__(self, head: int) -> None:
        self.head = head
        self.sections: dict[int, _SectionRecord] = {}


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _line_number(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def parse(data: bytes) -> Document:
    """Read a plaintext or encrypted INI file as go-ini (and so sops) reads it.

    Raises ParseError (exit 2) where go-ini fails: a line that is not a comment, a section or
    ``key = value``; an unclosed section header; an empty section or key name; a missing closing
    quote. A key that appears twice in one section is refused too (go-ini would silently keep the
    last value, sops would lose the first).
    """
    text = _decode(data)
    # Tens of thousands of small objects and no cycles: pausing the cyclic garbage collector
    # meanwhile saves about half of the time on large files.
    with GcPaused():
        try:
            return _parse(text)
        except _ReadError as error:
            raise ParseError(f"invalid INI input: line {_line_number(text, error.line)}: {error.reason}") from None


def _comment_line_text(text: str, start: int, end: int) -> str:
    """A comment line's text: from its marker, without its ``\\n`` (a ``\\r`` stays: go-ini keeps
    it inside a comment of several lines)."""
    if text.endswith("\n", start, end):
        end -= 1
    return text[start:end]


def _make_comment(
    text: str,
    pending: list[tuple[int, int, str | None]],
    inline: tuple[int, int] | None,
    inline_cut: int,
) -> _CommentRecord | None:
    """Build the comment of a key or header from the pending lines and its inline part.

    ``pending`` holds ``(line start, line end, text)``, text None for a blank line.

    The comment's text is sops's: go-ini's comment (its lines joined, blank lines left out, a
    CRLF file's ``\\r`` kept inside, trimmed) without the marker of its first line. What render
    needs to write the same lines again around another text (the first line's marker and
    spaces, the trailing whitespace) is kept in the record; blank lines inside a comment block
    are kept in the text of the file as long as the comment does not change.
    """
    if not pending and inline is None:
        return None  # the common case: a key without comments
    lines = [line_text for _, _, line_text in pending if line_text is not None]
    block = None
    if lines:
        indices = [i for i, line in enumerate(pending) if line[2] is not None]
        block = (pending[indices[0]][0], pending[indices[-1]][1])
        if inline is None and lines[-1].endswith("\r"):
            lines[-1] = lines[-1][:-1]
    if inline is not None:
        lines.append(text[inline[0] : inline[1]])
    if not lines:
        return None
    joined = "\n".join(lines)
    trimmed = joined[: _rstrip(joined, 0, len(joined))]
    body = strip_comment_marker(trimmed)
    prefix, suffix = trimmed[: len(trimmed) - len(body)], joined[len(trimmed) :]
    if body.startswith("\n"):
        # The first line is only a marker: sops's text would start with an empty line, which
        # go-ini cannot write back (sops's decrypt panics on it); a line holding one space
        # stands for it. (In a CRLF file the line holds "\r", which go-ini writes.)
        body = " " + body
    return _CommentRecord(Comment(body, span=block or inline), body, block, inline, inline_cut, prefix, suffix)


def _parse(text: str) -> Document:
    head = 1 if text.startswith("\ufeff") else 0
    root = Mapping()
    state = _State(head=head)
    metadata_pairs: list[tuple[str, str]] = []

    def open_section(name: str) -> _SectionRecord:
        mapping = Mapping()
        entry = Entry(name, mapping)
        root.items.append(entry)
        record = _SectionRecord(entry, mapping, name)
        state.sections[id(entry)] = record
        return record

    section: _SectionRecord | None = open_section(DEFAULT_SECTION)
    last_section = section
    counter = 1
    has_metadata = False
    pending: list[tuple[int, int, str | None]] = []
    chunk_start = head
    position = head

    def close_trailer(end: int) -> None:
        """Give the text since the last key or header to the last real section."""
        nonlocal pending
        assert last_section is not None
        record = _make_comment(text, pending, None, 0)
        if record is not None:
            last_section.mapping.items.append(record.comment)
        if end > chunk_start or record is not None:
            last_section.trailers.append(((chunk_start, end), record))
        pending = []

    while position < len(text):
        simple = _SIMPLE_LINE.match(text, position)
        if simple is not None and simple.group(1) != "-":
            # "key = value" in the plainest form (most lines): exactly what the general path
            # (_read_key + _read_value) reads from it, found with one regex
            key = simple.group(1)
            key_span = simple.span(1)
            value_start = simple.start(2)
            inner = simple.span(3)
            value = _Value(simple.group(3), "", inner, inner, None, simple.end())
        else:
            line_end = _line_end(text, position)
            start = _lstrip(text, position, line_end)
            if start == line_end:
                pending.append((position, line_end, None))
                position = line_end
                continue
            char = text[start]
            if char in _COMMENT_MARKERS:
                pending.append((position, line_end, _comment_line_text(text, start, line_end)))
                position = line_end
                continue
            if char == "[":
                close = text.rfind("]", start, line_end)
                if close == -1:
                    raise _ReadError("unclosed section header", position)
                name = text[start + 1 : close]
                if not name:
                    raise _ReadError("empty section name", position)
                if name == METADATA_SECTION:
                    # The metadata section, and one blank line above it (which render writes).
                    cut = position
                    if pending and pending[-1][2] is None and pending[-1][1] == position:
                        cut = pending[-1][0]
                        pending.pop()
                    close_trailer(cut)
                    section = None
                    has_metadata = True
                    position = line_end
                    chunk_start = line_end
                    continue
                marker = _first_of(text, _COMMENT_MARKERS, close + 1, line_end)
                inline = None if marker == -1 else (marker, _rstrip(text, marker, line_end))
                cut = _rstrip(text, close + 1, marker) if marker != -1 else -1
                comment = _make_comment(text, pending, inline, cut)
                pending = []
                section = open_section(name)
                last_section = section
                section.header = (chunk_start, line_end)
                section.name_span = (start, close + 1)
                section.line_start = position
                if comment is not None:
                    section.comment = comment
                    section.mapping.items.append(comment.comment)
                counter = 1
                position = line_end
                chunk_start = line_end
                continue
            key, key_span, value_start = _read_key(text, start, line_end)
            if key == "-":
                key = f"#{counter}"
                counter += 1
            value = _read_value(text, value_start)
        if not key:
            raise _ReadError("empty key name", position)
        if section is None:
            metadata_pairs.append((key, value.value))
            pending = []
            position = value.end
            chunk_start = value.end
            continue
        if key in section.names:
            raise _ReadError(
                f"key {key!r} appears twice in section {section.name!r} (sops would silently keep only the last value)",
                position,
            )
        cut = _rstrip(text, value.outer[1], value.comment[0]) if value.comment else 0
        comment = _make_comment(text, pending, value.comment, cut)
        pending = []
        scalar = Scalar(value.value, span=value.inner, style=value.kind)
        entry = Entry(key, scalar)
        section.mapping.items.append(entry)
        section.names.add(key)
        if comment is not None:
            section.mapping.items.append(comment.comment)
        section.keys[id(entry)] = _KeyRecord(
            entry, scalar, key, key_span, position, value_start, (chunk_start, value.end), value, comment
        )
        position = value.end
        chunk_start = value.end
    close_trailer(len(text))
    metadata = unflatten(metadata_pairs) if has_metadata else None
    return Document("ini", [root], text=text, metadata=metadata, state=state)


# ------------------------------------------------------------------------------------------------
# Writing.


def _eol_of_line(text: str, offset: int) -> str:
    """The line ending of the line holding ``offset`` (``\\r\\n`` or ``\\n``)."""
    newline = text.find("\n", offset)
    if newline == -1:  # the last line has no ending: take the one of the line above
        newline = text.rfind("\n", 0, offset)
    return "\r\n" if newline > 0 and text[newline - 1] == "\r" else "\n"


def _value_string(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else value_to_string(value)


def _quote_value(value: str) -> tuple[str, bool]:
    """The first quoting of ``value`` that go-ini reads back as ``value``.

    Returns the text and whether an inline comment may follow it on the same line (go-ini ignores
    what follows a backtick or triple-quoted value). Raises ErrorDumpingTree if none works.
    """
    simple = [(value, True), (f'"{value}"', True), (f"'{value}'", True)]
    raw = [(f'"""{value}"""', False), (f"`{value}`", False)]
    if "\n" not in value:
        raw.reverse()
    for candidate, keeps_comment in simple + raw:
        if "\n" in candidate and keeps_comment:
            continue
        try:
            read = _read_value(candidate + "\n", 0)
        except _ReadError:
            continue
        if read.value == value and read.end == len(candidate) + 1 and read.comment is None:
            return candidate, keeps_comment
    raise ErrorDumpingTree(
        "a value cannot be written to INI: it mixes backticks, triple quotes and newlines in a way"
        " go-ini cannot read back"
    )


def _key_reads_back(candidate: str, key: str) -> bool:
    if candidate[0] in _SPACE or candidate[0] in "#;[":
        return False
    line = candidate + " = x\n"
    try:
        name, span, value_start = _read_key(line, 0, len(line))
    except _ReadError:
        return False
    return name == key and span == (0, len(candidate)) and value_start == len(candidate) + 2


def _format_key(key: str) -> str:
    """The key as written before ``=``, quoted when go-ini would otherwise read another key."""
    if not key or key == "-" or "\n" in key:
        raise ErrorDumpingTree(f"cannot write the key {key!r} to INI")
    for candidate in (key, f'"{key}"', f"`{key}`", f'"""{key}"""'):
        if _key_reads_back(candidate, key):
            return candidate
    raise ErrorDumpingTree(f"cannot write the key {key!r} to INI: no quoting reads it back")


def _go_ini_key(key: str) -> str:
    """How go-ini's writer quotes a key (what sops writes)."""
    if '"' in key or "=" in key or ":" in key:
        return f"`{key}`"
    if "`" in key:
        return f'"""{key}"""'
    return key


def _go_ini_value(value: str) -> str:
    """How go-ini's writer quotes a value (what sops writes)."""
    if "\n" in value or "`" in value:
        return f'"""{value}"""'
    if "#" in value or ";" in value:
        return f"`{value}`"
    if _trim(value) != value:
        return f'"{value}"'
    return value


def _fresh_key(key: str) -> str:
    """A key of a section written from scratch: as sops writes it when go-ini reads that back."""
    candidate = _go_ini_key(key)
    if key and key != "-" and "\n" not in key and _key_reads_back(candidate, key):
        return candidate
    return _format_key(key)


def _fresh_value(value: str) -> str:
    """A value written from scratch: as sops writes it when go-ini reads that back (sops's own
    choice loses e.g. the quotes of ``"x"`` or the backslash of ``a\\``), else ``_quote_value``'s."""
    candidate = _go_ini_value(value)
    try:
        read = _read_value(candidate + "\n", 0)
    except _ReadError:
        read = None
    if read is not None and read.value == value and read.end == len(candidate) + 1 and read.comment is None:
        return candidate
    return _quote_value(value)[0]


def _check_section_name(name: str) -> None:
    if not name or "\n" in name:
        raise ErrorDumpingTree(f"cannot write the section name {name!r} to INI")
    if name == METADATA_SECTION:
        raise ErrorDumpingTree(f"cannot write a section named {METADATA_SECTION!r}: it holds the sops metadata")


def strip_comment_marker(comment: str) -> str:
    """The text sops gives a comment (its ``stripCommentChar``): the comment as go-ini read it,
    without the leading run of its marker and spaces (``;; note`` -> ``note``; ``;# x`` -> ``# x``).
    Only the first line loses its marker: ``; a`` + ``# b`` is ``a\\n# b``."""
    if comment.startswith(";"):
        return comment.lstrip("; ")
    if comment.startswith("#"):
        return comment.lstrip("# ")
    return comment


def _comment_line(line: str) -> str:
    """A line after the first of a comment text: as written when it starts with a marker (as
    every such line go-ini reads does), else behind ``; ``; a blank line stays blank."""
    if not line.strip():
        return ""
    if line[0] in _COMMENT_MARKERS:
        return line
    return "; " + line.lstrip()


def _comment_lines(text: str, prefix: str = "", suffix: str = "") -> list[str]:
    """The lines of a comment ``text`` (sops's comment value: no marker on the first line).

    With the ``prefix`` and ``suffix`` of a parsed comment, the first line gets its marker back
    as it was written, so an unchanged text renders to the same bytes. A fresh comment (no
    prefix) is written like go-ini writes sops's comments: ``; `` + text, or a line that starts
    with a marker as it is."""
    lines = [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]
    first = lines[0]
    if prefix and (not first or first[0] not in _COMMENT_MARKERS or first[0] != prefix[0]):
        # (a first line starting with the prefix's own marker cannot come from stripping it: a
        # comment of an older pysops, which encrypted the marker too, is written as it is)
        lines[0] = prefix if first == " " else prefix + first
    elif first[:1] in ("#", ";"):
        lines[0] = first
    elif not first.strip():
        lines[0] = ";" if len(lines) > 1 else ""
    else:
        lines[0] = "; " + first.strip()
    lines[1:] = [_comment_line(line) for line in lines[1:]]
    lines[-1] += suffix
    return lines


Splice = tuple[int, int, str]


def _apply(text: str, span: tuple[int, int], splices: list[Splice]) -> str:
    start, end = span
    if not splices:
        return text[start:end]
    if len(splices) == 1:
        splice_start, splice_end, replacement = splices[0]
        return text[start:splice_start] + replacement + text[max(start, splice_end) : end]
    out = []
    position = start
    for splice_start, splice_end, replacement in sorted(splices, key=lambda s: (s[0], s[1])):
        out.append(text[position:splice_start])
        out.append(replacement)
        position = max(position, splice_end)
    out.append(text[position:end])
    return "".join(out)


def _comment_splices(
    text: str, record: _CommentRecord, present: set[int], line_start: int, relocate: bool, header: bool = False
) -> list[Splice]:
    """How a key's (or header's, or trailer's) comment changes the text it stands in."""
    comment = record.comment
    inline_cut = (record.inline_cut, record.inline[1], "") if record.inline else None
    if id(comment) not in present:
        removed = [inline_cut] if inline_cut else []
        if record.block:
            removed.append((record.block[0], record.block[1], ""))
        return removed
    changed = comment.changed or comment.text != record.original
    eol = _eol_of_line(text, record.block[0] if record.block else line_start)
    if not changed:
        if relocate and record.inline and inline_cut:
            moved = text[record.inline[0] : record.inline[1]]
            return [inline_cut, (line_start, line_start, moved + eol)]
        return []
    lines = _comment_lines(comment.text, record.prefix, record.suffix)
    # The last line goes back inline when the comment had an inline part; the others go above.
    above, inline_line = (lines[:-1], lines[-1]) if record.inline and not relocate else (lines, "")
    if header and "]" in inline_line:
        # go-ini takes a section name up to the LAST "]" of its line: an ENC[...] cannot stay there.
        above, inline_line = lines, ""
    splices: list[Splice] = []
    if record.inline and inline_line:
        splices.append((record.inline[0], record.inline[1], inline_line))
    elif inline_cut:
        splices.append(inline_cut)
    if record.block:
        if text.endswith("\n", 0, record.block[1]):
            replacement = "".join(line + eol for line in above)
        else:
            replacement = eol.join(above)
        splices.append((record.block[0], record.block[1], replacement))
    elif above:
        splices.append((line_start, line_start, "".join(line + eol for line in above)))
    return splices


def _value_splice(text: str, record: _KeyRecord, value: str) -> tuple[Splice, bool]:
    """The splice writing a changed value, and whether an inline comment must leave the line."""
    old = record.value
    if old.kind == "" and old.comment is None and old.inner[0] < old.inner[1] and _PLAIN_VALUE.match(value):
        # a plain value replacing a plain value (e.g. every ENC[...] value): it reads back as
        # written, which the general check below would find at a much higher cost
        return (old.inner[0], old.inner[1], value), False
    if old.kind in ("", '"', "'", "`", '"""') and "\n" not in value:
        inner_start, inner_end = old.inner
        replacement = value
        if old.kind == "" and inner_start == inner_end == record.value_start and value:
            replacement = " " + value  # "key =" becomes "key = value", not "key =value"
        candidate = text[record.value_start : inner_start] + replacement + text[inner_end : old.end]
        shift = len(replacement) - (inner_end - inner_start) - record.value_start
        try:
            read = _read_value(candidate, 0)
        except _ReadError:
            read = None
        if (
            read is not None
            and read.value == value
            and read.kind == old.kind
            and read.end == len(candidate)
            and (read.comment is None) == (old.comment is None)
            and (old.comment is None or (read.comment is not None and read.comment[0] == old.comment[0] + shift))
        ):
            return (inner_start, inner_end, replacement), False
    quoted, keeps_comment = _quote_value(value)
    return (old.outer[0], old.outer[1], quoted), not keeps_comment


class _Output:
    """The text being written; new lines end like the source's lines (LF or CRLF)."""

    def __init__(self, eol: str = "\n") -> None:
        self.parts: list[str] = []
        self.eol = eol
        #: the last lines written are top-level comments, which stay with the section after them
        self.in_comment = False

    def add(self, piece: str) -> None:
        if piece:
            self.parts.append(piece)

    def text(self) -> str:
        return "".join(self.parts)

    def is_empty(self) -> bool:
        return not self.parts

    def end_line(self) -> None:
        """End the last line if the source's last line had no newline."""
        if self.parts and not self.parts[-1].endswith("\n"):
            self.parts.append(self.eol)

    def add_line(self, line: str) -> None:
        self.end_line()
        self.parts.append(line + self.eol)

    def ends_with_blank_line(self) -> bool:
        tail = "".join(self.parts[-2:])
        return tail.endswith(("\n\n", "\n\r\n")) or tail in ("\n", "\r\n")


def _ids(root: Mapping) -> set[int]:
    present = {id(root)}
    for item in root.items:
        present.add(id(item))
        if isinstance(item, Entry):
            present.add(id(item.value))
            if isinstance(item.value, Mapping):
                for sub in item.value.items:
                    present.add(id(sub))
                    if isinstance(sub, Entry):
                        present.add(id(sub.value))
    return present


def _scalar_of(section: str, entry: Entry) -> Scalar:
    value = entry.value
    if isinstance(value, (Mapping, Sequence)):
        kind = "list" if isinstance(value, Sequence) else "nested mapping"
        raise ErrorDumpingTree(
            f"cannot write a {kind} to INI (section {section!r}, key {entry.key!r})",
            hint="INI holds sections of keys with scalar values: exactly two levels",
        )
    return value


def _key_line(section: str, entry: Entry) -> str:
    return _assignment(entry.key, _value_string(_scalar_of(section, entry).value))


def _assignment(key: str, value: str) -> str:
    """A ``key = value`` line (no line ending), both quoted as go-ini needs."""
    quoted, _ = _quote_value(value)
    name = _format_key(key)
    return f"{name} = {quoted}" if quoted else f"{name} ="


def _go_ini_comment_lines(text: str, section: bool) -> list[str]:
    """A comment as go-ini writes sops's comments: a line starting with a marker as marker, one
    space and the rest trimmed; any other line behind ``; `` (trimmed too for a key's comment,
    not for a section's)."""
    lines = []
    for line in text.split("\n"):
        line = line.removesuffix("\r")
        if line[:1] in ("#", ";"):
            lines.append(line[0] + " " + _trim(line[1:]))
        else:
            lines.append("; " + (line if section else _trim(line)))
    return lines


def _fresh_section(out: _Output, entry: Entry) -> None:
    """A section that was not parsed from INI text (conversion, an added section), laid out as
    sops writes it: its leading comments above the header, each key's comment (the comments that
    follow the key in the tree, where sops's INI tree puts them) above the key, ``=`` aligned
    over the section's keys, a blank line before every section but the first. Where sops keeps
    only the last of several comments of a key, they are joined into one here."""
    mapping = entry.value
    if not isinstance(mapping, Mapping):
        raise ErrorDumpingTree(
            f"cannot write the top-level key {entry.key!r} to INI: it is not a section (a mapping)",
            hint="INI holds sections of keys with scalar values: exactly two levels",
        )
    _check_section_name(entry.key)
    leading: list[str] = []
    keys: list[tuple[str, str, list[str]]] = []  # (key as written, value as written, comments)
    names: set[str] = set()
    for item in mapping.items:
        if isinstance(item, Comment):
            group = keys[-1][2] if keys else leading
            # An empty comment is not written (go-ini skips it), nor a blank one that would
            # start a key's or section's comment: sops would read that comment as starting with
            # an empty line, on which it panics (see _check_sops_can_write_comments).
            kept = item.text if group else item.text.strip()
            if kept:
                group.append(item.text)
            continue
        value = _scalar_of(entry.key, item)
        if item.key in names:
            raise ErrorDumpingTree(
                f"cannot write the key {item.key!r} twice in section {entry.key!r} to INI",
                hint="go-ini (and so sops) would keep only one of the values",
            )
        names.add(item.key)
        keys.append((_fresh_key(item.key), _fresh_value(_value_string(value.value)), []))
    first = out.is_empty()
    out.end_line()
    if not first and not out.ends_with_blank_line() and not out.in_comment:
        out.add(out.eol)
    out.in_comment = False
    for text in leading:
        for comment_line in _go_ini_comment_lines(text, section=True):
            out.add_line(comment_line)
    if not (first and entry.key == DEFAULT_SECTION):
        out.add_line(f"[{entry.key}]")
    width = max((len(_go_ini_key(item.key).encode("utf-8", "surrogateescape"))
                 for item in mapping.items if isinstance(item, Entry)), default=0)  # fmt: skip
    for name, value_text, comments in keys:
        for text in comments:
            for comment_line in _go_ini_comment_lines(text, section=False):
                out.add_line(comment_line)
        padding = " " * max(0, width - len(name.encode("utf-8", "surrogateescape")))
        out.add_line(f"{name}{padding} = {value_text}")


def _render_key(text: str, record: _KeyRecord, present: set[int]) -> str:
    entry = record.entry
    splices: list[Splice] = []
    if entry.key != record.key:
        splices.append((record.key_span[0], record.key_span[1], _format_key(entry.key)))
    scalar = entry.value
    if not isinstance(scalar, Scalar):
        _key_line(record.key, entry)  # raises the nested-value error
        raise AssertionError
    relocate = False
    if scalar is not record.scalar or scalar.changed:
        splice, relocate = _value_splice(text, record, _value_string(scalar.value))
        splices.append(splice)
    if record.comment is not None:
        splices += _comment_splices(text, record.comment, present, record.line_start, relocate)
    return _apply(text, record.chunk, splices)


def _render_section(out: _Output, text: str, record: _SectionRecord, present: set[int], first: bool) -> None:
    owned: set[int] = set()
    if record.header is not None and first and record.entry.key == DEFAULT_SECTION and record.comment is None:
        # An explicit [DEFAULT] that now comes first (the implicit one before it was unset): with
        # its header it would read back as a second section after an empty implicit one; without
        # it, its keys are the implicit section, as go-ini (and so sops) writes a first DEFAULT.
        if not out.is_empty():
            out.end_line()
            out.add(text[record.header[0] : record.line_start])
    elif record.header is not None:
        splices: list[Splice] = []
        if record.entry.key != record.name:
            _check_section_name(record.entry.key)
            splices.append((record.name_span[0], record.name_span[1], f"[{record.entry.key}]"))
        if record.comment is not None:
            owned.add(id(record.comment.comment))
            splices += _comment_splices(text, record.comment, present, record.line_start, False, header=True)
        out.end_line()
        out.add(_apply(text, record.header, splices))
    elif not out.is_empty():
        # The implicit DEFAULT section no longer comes first: it needs a header now.
        out.end_line()
        out.add_line(f"[{record.entry.key}]")
    for owner in record.keys.values():
        if owner.comment is not None and id(owner.entry) in present:
            owned.add(id(owner.comment.comment))
    for _, trailer_comment in record.trailers:
        if trailer_comment is not None:
            owned.add(id(trailer_comment.comment))
    for item in record.mapping.items:
        if isinstance(item, Comment):
            if id(item) not in owned:
                for line in _comment_lines(item.text):
                    out.add_line(line)
            continue
        key_record = record.keys.get(id(item))
        if key_record is not None and key_record.entry is item:
            out.end_line()
            out.add(_render_key(text, key_record, present))
        else:
            out.add_line(_key_line(record.entry.key, item))
    for span, trailer_comment in record.trailers:
        splices = []
        if trailer_comment is not None:
            splices = _comment_splices(text, trailer_comment, present, span[1], False)
        out.end_line()
        out.add(_apply(text, span, splices))


def _root(doc: Document) -> Mapping:
    if len(doc.branches) == 1:
        return doc.branches[0]
    merged = Mapping()
    for branch in doc.branches:
        merged.items.extend(branch.items)
    return merged


def _metadata_section(metadata: dict[str, Any], eol: str) -> str:
    lines = ["[" + METADATA_SECTION + "]"]
    lines.extend(_assignment(key, value) for key, value in flatten(metadata))
    return eol.join(lines) + eol


def render(doc: Document, metadata: dict[str, Any] | None, options: dict[str, Any] | None = None) -> bytes:
    """Write a document as INI, keeping the source text when it came from an INI file.

    The ``[sops]`` section is removed wherever it was and, unless ``metadata`` is None, written
    again at the end after one blank line. Raises ErrorDumpingTree for a tree that is not exactly
    sections of scalar keys, or for names and values that go-ini cannot read back.
    """
    root = _root(doc)
    state = doc.state if doc.format == "ini" and isinstance(doc.text, str) and isinstance(doc.state, _State) else None
    text = doc.text if isinstance(doc.text, str) else ""
    out = _Output(_eol_of_line(text, 0) if state is not None else "\n")
    head = text[: state.head] if state is not None else ""  # a byte order mark
    present = _ids(root)
    first_section = True
    for item in root.items:
        if isinstance(item, Comment):
            # sops drops a comment outside any section; pysops keeps it, after a blank line and
            # right above the next section, to which go-ini gives it when it reads the file
            if not out.in_comment and not out.is_empty() and not out.ends_with_blank_line():
                out.end_line()
                out.add(out.eol)
            for line in _comment_lines(item.text):
                out.add_line(line)
            out.in_comment = True
            continue
        record = state.sections.get(id(item)) if state is not None else None
        if record is not None and record.entry is item and record.mapping is item.value:
            _render_section(out, text, record, present, first_section)
            out.in_comment = False
        else:
            _fresh_section(out, item)
        first_section = False
    if metadata is not None:
        _check_sops_can_write_comments(out.text())
        out.end_line()
        if not out.is_empty():
            out.add(out.eol)
        out.add(_metadata_section(metadata, out.eol))
    return _encode(head + out.text())


#: A line holding only a run of one comment marker and spaces (``#``, ``;;``, ``# #``): where it
#: starts a comment of several lines, sops 3.11 cannot write that comment (see below).
_LONE_MARKER_LINE = re.compile(r"^[^\S\n]*(?:#[# ]*|;[; ]*)$", re.MULTILINE)


def _check_sops_can_write_comments(text: str) -> None:
    """Refuse an encrypted output holding a clear comment that sops 3.11 cannot write back.

    sops's text for a comment is go-ini's comment without the run of marker and spaces that
    starts it; when the first line holds nothing else and more lines follow (``#`` then
    ``; note``, or ``#`` then ``key = v ; note``), that text starts with an empty line, on which
    go-ini's writer panics ("index out of range", exit 2) whenever sops writes the file: its own
    encrypt of such an input and its decrypt of any file holding the comment in clear. An
    encrypted comment is fine (sops decrypts pysops's stand-in text, see ``_make_comment``), so
    this only refuses comments the selection rules leave in clear (``encrypted_regex``,
    ``encrypted_suffix``, the comment regexes), exactly where sops's own encrypt panics.
    ``text`` is the output without its ``[sops]`` section (a comment above that section is
    dropped by sops, so it cannot make sops panic).
    """
    if _LONE_MARKER_LINE.search(text) is None:
        return  # the common case: no candidate line at all
    try:
        state = _parse(text).state
    except _ReadError:
        return  # not INI that go-ini reads: the read-back check (api.verify_sealed) reports it
    assert isinstance(state, _State)
    for section in state.sections.values():
        if section.comment is not None and section.comment.original.startswith(" \n"):
            _refuse_comment(f"of section [{section.name}]")
        for key in section.keys.values():
            if key.comment is not None and key.comment.original.startswith(" \n"):
                where = "the DEFAULT section" if section.header is None else f"section [{section.name}]"
                _refuse_comment(f"of key {key.key!r} in {where}")


def _refuse_comment(where: str) -> None:
    raise ErrorDumpingTree(
        f"cannot write the comment {where} in clear: its first line is only a comment marker and"
        " more lines follow, which sops 3.11 cannot read back (it panics on such a file)",
        hint="write some text after that marker or delete the line (encrypted comments, as with"
        " the default rules, are not affected)",
        exit_code=2,  # sops's exit status when it panics on the same input
    )


__all__ = ["DEFAULT_SECTION", "METADATA_SECTION", "parse", "render"]
