"""A pure-Python stand-in for libyaml's event parser, for the plain block style of small files.

Importing libyaml's binding (see ``libyaml``) costs a small ``pysops decrypt`` about 8 ms, more
than parsing a small file takes in Python. ``scan(text)`` produces the events (with the same
``start_mark``/``end_mark`` character offsets, values and styles) that ``_ruamel_yaml.CParser``
produces for the same text, for the subset of YAML that sops writes and most hand-written files
and ``.sops.yaml`` configs use:

* one document (an optional leading ``---`` line) whose root is a block mapping;
* block mappings and sequences, compact ``- key: value`` items and indentless sequences;
* single-line plain, single-quoted and double-quoted (without escapes) scalars, literal block
  scalars (``|``, ``|-``, ``|+``) whose first line is not blank, and empty ``[]`` / ``{}``;
* comments and blank lines anywhere the scanner skips them.

For anything else (other flow collections, anchors, aliases, tags, folded or indented block scalars,
multi-line flow scalars, escapes, tabs, CR or other line breaks, control characters, documents
that are not a mapping, several documents, and every syntax error) it raises ``Unsupported``
before yielding anything, and the caller uses libyaml: errors and rare syntax always come from
the real parser. Tests compare both parsers' events on generated documents.
"""

from __future__ import annotations

import re


class Unsupported(Exception):
    """The text is outside the subset: parse it with libyaml."""


class YAMLError(Exception):
    """Never raised: ``scan`` reports problems as ``Unsupported`` (libyaml then has its say)."""


class Mark:
    """A position: ``index`` is a character offset; ``line`` (0-based) is counted on demand."""

    __slots__ = ("index", "_text")

    def __init__(self, index: int, text: str) -> None:
        self.index = index
        self._text = text

    @property
    def line(self) -> int:
        return self._text.count("\n", 0, self.index)


class _Event:
    """The attributes of ruamel's event classes that the YAML store reads."""

    __slots__ = ("start_mark", "end_mark", "value", "style", "tag", "anchor", "flow_style")

    def __init__(self, start: Mark, end: Mark, value: str = "", style: str = "") -> None:
        self.start_mark = start
        self.end_mark = end
        self.value = value
        self.style = style
        self.tag: str | None = None
        self.anchor: str | None = None
        self.flow_style = False


class StreamStartEvent(_Event):
    __slots__ = ()


class StreamEndEvent(_Event):
    __slots__ = ()


class DocumentStartEvent(_Event):
    __slots__ = ()


class DocumentEndEvent(_Event):
    __slots__ = ()


class MappingStartEvent(_Event):
    __slots__ = ()


class MappingEndEvent(_Event):
    __slots__ = ()


class SequenceStartEvent(_Event):
    __slots__ = ()


class SequenceEndEvent(_Event):
    __slots__ = ()


class ScalarEvent(_Event):
    __slots__ = ()


class AliasEvent(_Event):
    """Never produced (aliases are outside the subset)."""

    __slots__ = ()


#: characters that cannot start a plain scalar (or start something outside the subset)
_SPECIAL_START = frozenset("[]{},#&*!|>'\"%@`?:")
#: ASCII characters libyaml refuses or reads as something else than ordinary text (tabs and CR
#: are valid YAML, but outside the subset)
_ASCII_SUSPECT = re.compile("[\x00-\x09\x0b-\x1f\x7f]")
#: the same and every non-ASCII character (checked one by one: YAML's printable set)
_SUSPECT = re.compile("[^\x0a\x20-\x7e]")
_MAX_SIMPLE_KEY = 1024
#: what ends a plain scalar on its line: ": ", ":" at the line end, or " #" (a comment)
_PLAIN_STOP = re.compile(r":(?: |\Z)| #")


def _fail() -> Unsupported:
    return Unsupported()


def _check_characters(text: str) -> None:
    """Bail out on tabs, CR, control characters and the line breaks libyaml knows besides LF."""
    if text.isascii():
        if _ASCII_SUSPECT.search(text) is not None:
            raise _fail()
        return
    for match in _SUSPECT.finditer(text):
        code = ord(match.group())
        if code < 0xA0 or code in (0x2028, 0x2029) or 0xD800 <= code < 0xE000 or code in (0xFEFF, 0xFFFE, 0xFFFF):
            raise _fail()


class _Collection:
    __slots__ = ("is_map", "indent", "indentless")

    def __init__(self, is_map: bool, indent: int, indentless: bool = False) -> None:
        self.is_map = is_map
        self.indent = indent
        self.indentless = indentless


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.events: list[_Event] = []
        self.stack: list[_Collection] = []
        #: after ``key:`` or ``-`` with nothing else on the line: (indicator end, is_map_value)
        self.pending: tuple[int, bool] | None = None
        self.line_start = 0

    # -- helpers ------------------------------------------------------------------------------

    def add(self, cls: type[_Event], start: int, end: int, value: str = "", style: str = "") -> None:
        text = self.text
        self.events.append(cls(Mark(start, text), Mark(end, text), value, style))

    def line_end(self, pos: int) -> int:
        end = self.text.find("\n", pos)
        return len(self.text) if end == -1 else end

    def rest_is_blank(self, pos: int, end: int) -> bool:
        """Only spaces, or spaces and a comment preceded by a space, until ``end``."""
        text = self.text
        while pos < end and text[pos] == " ":
            pos += 1
        if pos == end:
            return True
        return text[pos] == "#" and text[pos - 1] == " "

    def parent_indent(self) -> int:
        """libyaml's ``parser->indent``: the column of the innermost block collection that pushed
        an indentation level (an indentless sequence does not); -1 at the top."""
        for collection in reversed(self.stack):
            if not collection.indentless:
                return collection.indent
        return -1

    # -- scalars ------------------------------------------------------------------------------

    def plain(self, pos: int, end: int) -> tuple[int, int]:
        """A single-line plain scalar at ``pos``: (end of its text, index of a ``:`` indicator
        ending it, or -1 when it ends at a comment or the end of the line)."""
        text = self.text
        stop = _PLAIN_STOP.search(text, pos, end)
        if stop is None:
            return pos + len(text[pos:end].rstrip(" ")), -1
        at = stop.start()
        last = pos + len(text[pos:at].rstrip(" "))
        return last, (at if text[at] == ":" else -1)

    def quoted(self, pos: int, end: int) -> tuple[str, int]:
        """A single-line quoted scalar at ``pos``: its value and the index after its closing quote."""
        text = self.text
        quote = text[pos]
        if quote == '"':
            close = text.find('"', pos + 1, end)
            if close == -1 or text.find("\\", pos + 1, close) != -1:
                raise _fail()
            return text[pos + 1 : close], close + 1
        i = pos + 1
        while True:
            close = text.find("'", i, end)
            if close == -1:
                raise _fail()
            if close + 1 < end and text[close + 1] == "'":
                i = close + 2
                continue
            return text[pos + 1 : close].replace("''", "'"), close + 1

    def key(self, pos: int, end: int) -> int | None:
        """If a key (``key:`` followed by a space or the line end) starts at ``pos``, emit it and
        return the index after its ``:``; None if the line holds no key there."""
        text = self.text
        ch = text[pos]
        if ch == "'" or ch == '"':
            value, after = self.quoted(pos, end)
            colon = self.quoted_key_colon(after, end)
            if colon == -1:
                return None
            if after - pos > _MAX_SIMPLE_KEY:
                raise _fail()
            self.add(ScalarEvent, pos, after, value, ch)
            return colon + 1
        if ch in _SPECIAL_START or (ch == "-" and (pos + 1 == end or text[pos + 1] == " ")):
            raise _fail()
        stop, colon = self.plain(pos, end)
        if colon == -1:
            return None
        if stop - pos > _MAX_SIMPLE_KEY:
            raise _fail()
        self.add(ScalarEvent, pos, stop, text[pos:stop])
        return colon + 1

    def quoted_key_colon(self, pos: int, end: int) -> int:
        """After a quoted scalar that ends at ``pos``: the index of the ``:`` that makes it a key
        (after spaces, followed by a space or the line end), or -1."""
        text = self.text
        while pos < end and text[pos] == " ":
            pos += 1
        if pos < end and text[pos] == ":" and (pos + 1 == end or text[pos + 1] == " "):
            return pos
        return -1

    def value(self, pos: int, end: int) -> int:
        """A scalar value on the rest of the line; returns where the next line starts."""
        text = self.text
        ch = text[pos]
        if ch == "|":
            return self.literal(pos, end)
        if ch == "'" or ch == '"':
            value, after = self.quoted(pos, end)
            if not self.rest_is_blank(after, end):
                raise _fail()
            self.add(ScalarEvent, pos, after, value, ch)
            return end + 1
        if ch == "[" or ch == "{":
            return self.empty_flow(pos, end)
        if ch in _SPECIAL_START or (ch == "-" and (pos + 1 == end or text[pos + 1] == " ")):
            raise _fail()
        stop, colon = self.plain(pos, end)
        if colon != -1:
            raise _fail()  # "a: b: c" (an error) or a compact mapping where we cannot have one
        self.add(ScalarEvent, pos, stop, text[pos:stop])
        return end + 1

    def empty_flow(self, pos: int, end: int) -> int:
        """An empty flow collection (``[]``, ``{ }``: old sops versions write ``kms: []``)."""
        text = self.text
        close = pos + 1
        while close < end and text[close] == " ":
            close += 1
        if close == end or text[close] != ("]" if text[pos] == "[" else "}") or not self.rest_is_blank(close + 1, end):
            raise _fail()
        is_map = text[pos] == "{"
        self.add(MappingStartEvent if is_map else SequenceStartEvent, pos, pos + 1)
        self.events[-1].flow_style = True
        self.add(MappingEndEvent if is_map else SequenceEndEvent, close, close + 1)
        return end + 1

    def literal(self, pos: int, end: int) -> int:
        """A literal block scalar whose header is at ``pos``; returns where the next line starts."""
        text = self.text
        length = len(text)
        i = pos + 1
        chomp = ""
        if i < end and text[i] in "+-":
            chomp = text[i]
            i += 1
        if not self.rest_is_blank(i, end) or end >= length:
            raise _fail()
        parent = self.parent_indent()
        first = end + 1
        first_end = self.line_end(first)
        indent = 0
        while first + indent < first_end and text[first + indent] == " ":
            indent += 1
        if first + indent == first_end or indent <= parent or indent < 1:
            raise _fail()  # a blank first line, or no content: leave the details to libyaml
        lines: list[str] = []
        breaks = 0  # empty lines since the last content line
        line_start = first
        scalar_end = length
        while line_start < length:
            line_end = self.line_end(line_start)
            if line_end == length:
                raise _fail()  # the text ends without a line break inside the scalar
            spaces = 0
            while spaces < indent and text[line_start + spaces] == " ":
                spaces += 1
            if line_start + spaces == line_end:
                breaks += 1  # an empty line: at most ``indent`` spaces
            elif spaces < indent:
                scalar_end = line_start  # a less indented line ends the scalar
                break
            else:
                if breaks:
                    lines.extend([""] * breaks)
                    breaks = 0
                lines.append(text[line_start + indent : line_end])
            line_start = line_end + 1
        value = "\n".join(lines)
        if chomp == "":
            value += "\n"
        elif chomp == "+":
            value += "\n" * (1 + breaks)
        self.add(ScalarEvent, pos, scalar_end, value, "|")
        return scalar_end

    # -- structure ----------------------------------------------------------------------------

    def resolve_pending(self, col: int, pos: int, is_dash: bool, is_key: bool) -> bool:
        """The line after ``key:`` / ``-``: open the nested collection (True) or emit an empty
        value (False: the line then continues or closes the enclosing collections)."""
        assert self.pending is not None
        indicator_end, map_value = self.pending
        top = self.stack[-1]
        if map_value and is_dash and col == top.indent:
            self.pending = None
            self.add(SequenceStartEvent, pos, pos + 1)
            self.stack.append(_Collection(False, col, indentless=True))
            return True
        if col > top.indent and (is_dash or is_key):
            self.pending = None
            if is_dash:
                self.add(SequenceStartEvent, pos, pos)
                self.stack.append(_Collection(False, col))
            else:
                self.add(MappingStartEvent, pos, pos)
                self.stack.append(_Collection(True, col))
            return True
        if col > top.indent:
            raise _fail()  # a scalar on its own line, or worse
        self.pending = None
        self.add(ScalarEvent, indicator_end, indicator_end)
        return False

    def close_to(self, col: int, pos: int, is_dash: bool) -> None:
        """Close the collections that end before a line starting at column ``col``."""
        stack = self.stack
        while stack:
            top = stack[-1]
            if col > top.indent:
                raise _fail()
            if col == top.indent:
                if top.is_map != is_dash:
                    return  # the next key, or the next item
                if top.is_map or not top.indentless:
                    raise _fail()  # "- x" after a complete value, a key at a list's column
            stack.pop()
            self.add(MappingEndEvent if top.is_map else SequenceEndEvent, pos, pos)
        raise _fail()  # content after the root: another document or an error

    def item(self, pos: int, end: int) -> int:
        """The item (``- ...`` or ``key: ...``) at ``pos``; returns where the next line starts."""
        text = self.text
        top = self.stack[-1]
        if not top.is_map:
            # "-" then the item's content, if any, on the same line
            i = pos + 1
            while i < end and text[i] == " ":
                i += 1
            if i == end or text[i] == "#":
                if i < end and text[i - 1] != " ":
                    raise _fail()
                self.pending = (pos + 1, False)
                return end + 1
            if text[i] == "-" and (i + 1 == end or text[i + 1] == " "):
                raise _fail()  # "- - x"
            if self.is_key(i, end):
                self.add(MappingStartEvent, i, i)
                self.stack.append(_Collection(True, i - self.line_start))
                return self.item(i, end)
            return self.value(i, end)
        after = self.key(pos, end)
        if after is None:
            raise _fail()
        i = after
        while i < end and text[i] == " ":
            i += 1
        if i == end or text[i] == "#":
            self.pending = (after, True)
            return end + 1
        return self.value(i, end)

    def is_key(self, pos: int, end: int) -> bool:
        ch = self.text[pos]
        if ch == "'" or ch == '"':
            return self.quoted_key_colon(self.quoted(pos, end)[1], end) != -1
        if ch in _SPECIAL_START:
            return False
        return self.plain(pos, end)[1] != -1

    def run(self) -> list[_Event]:
        text = self.text
        length = len(text)
        self.add(StreamStartEvent, 0, 0)
        pos = 0
        started = False
        while pos < length:
            self.line_start = pos
            end = self.line_end(pos)
            i = pos
            while i < end and text[i] == " ":
                i += 1
            if i == end or text[i] == "#":
                pos = end + 1
                continue
            col = i - pos
            if col == 0 and text.startswith(("---", "..."), i) and (i + 3 == end or text[i + 3] == " "):
                if started or text[i] == "." or not self.rest_is_blank(i + 3, end):
                    raise _fail()
                self.add(DocumentStartEvent, i, i + 3)
                started = True
                pos = end + 1
                continue
            is_dash = text[i] == "-" and (i + 1 == end or text[i + 1] == " ")
            if not self.stack:
                if is_dash or not self.is_key(i, end):
                    raise _fail()  # the root is not a block mapping
                if not started:
                    self.add(DocumentStartEvent, i, i)
                    started = True
                self.add(MappingStartEvent, i, i)
                self.stack.append(_Collection(True, col))
            elif self.pending is None or not self.resolve_pending(col, i, is_dash, self.is_key(i, end)):
                self.close_to(col, i, is_dash)
            pos = self.item(i, end)
        if not self.stack:
            raise _fail()  # no document, or a document that is not a mapping
        if self.pending is not None:
            self.add(ScalarEvent, self.pending[0], self.pending[0])
            self.pending = None
        while self.stack:
            top = self.stack.pop()
            self.add(MappingEndEvent if top.is_map else SequenceEndEvent, length, length)
        self.add(DocumentEndEvent, length, length)
        self.add(StreamEndEvent, length, length)
        return self.events


def scan(text: str) -> list[_Event]:
    """The events libyaml would produce for ``text``; raises ``Unsupported`` outside the subset."""
    _check_characters(text)
    return _Scanner(text).run()
