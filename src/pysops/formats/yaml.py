"""The YAML store: sops 3.11 compatible, and the source text is the source of truth.

Parsing
    libyaml's event parser (``_ruamel_yaml.CParser``), or for the plain block style of most
    files its pure-Python stand-in ``yamlscan`` (same events, no binding to import; see
    ``yamlcore.event_source``), yields events whose marks are character offsets into the text.
    Each leaf becomes a ``Scalar`` with ``span`` = the text of the value (quotes, tag and
    block-scalar header included, anchor excluded) and ``style`` = ``""`` plain,
    ``"'"``, ``'"'``, ``"|"``, ``">"``, prefixed with ``"f"`` inside a flow collection. Plain
    scalars are typed exactly like go-yaml v3 (what sops uses): null, bool (only
    true/True/TRUE/false/False/FALSE), timestamps (``values.GoTime``), ints (Go ``ParseInt`` base
    0: ``0x1F``, ``0o17``, ``017``, ``1_000``), floats, ``.inf``/``.nan``; everything else is a
    string. Quoted and block scalars are strings. Explicit tags ``!!str/int/float/bool/null/
    timestamp/binary`` are honoured; other tags are dropped and make the scalar a string, as
    go-yaml decodes it (sops).

    libyaml reports no comments, so they are read from the gaps between events and placed in
    the container where go-yaml + sops would put them (it decides the AAD of an encrypted
    comment: the mapping-key path of its container). The rules imitate go-yaml's scanner: a
    comment on the line of a value or key is a line comment of that item; a block of own-line
    comments after an item is split into "foot" groups (ended by a blank line right after the
    item or by a dedent below the current block) and a final "head" group that belongs to the
    next item. See ``_place_comments``. A misplaced comment is not fatal for sops (it warns and
    leaves the comment encrypted); for pysops both directions use the same rules.

    Anchors and aliases are expanded like sops does: an alias becomes a deep copy of the anchored
    node (comments dropped), so each copy is encrypted with its own AAD. An aliased scalar takes
    the alias text as its span (``*name`` is replaced when the value changes); an aliased
    collection is recorded in the store state and its ``*name`` is replaced by a flow-style copy
    when one of its leaves changed. Merge keys (``<<: *base``) are ordinary ``<<`` keys, as in sops.

Rendering
    When the document was parsed from YAML text, the output is that text with the spans of
    changed leaves replaced (see ``_splice_scalar`` for the quoting rules) and the ``sops:``
    block removed from every document and, unless ``metadata`` is None, appended as the last
    top-level key of every document (indented with the document's own indentation step,
    default 4). Otherwise (conversion) a fresh block-style text is emitted.

    decrypt(encrypt(text)) reproduces the text byte for byte except for: non-canonical numbers
    (``0x1F`` -> ``31``, ``1_000`` -> ``1000``, ``1.50`` -> ``1.5``, ``1e3`` -> ``1000.0``),
    timestamps (-> RFC 3339, ``2024-01-01`` -> ``2024-01-01T00:00:00Z``), folded ``>`` blocks
    (-> literal ``|``), block scalars whose indentation differs from the document's step, strings
    that need quoting in a plain or single-quoted position (they come back quoted), dropped
    tags, expanded aliases (the copy comes back in flow style), and a missing final newline.
"""

from __future__ import annotations

import re

from pysops._typing import TYPE_CHECKING, NamedTuple
from pysops.document import Comment, Document, Entry, GcPaused, Mapping, Node, Scalar, Sequence
from pysops.errors import ErrorEncryptingTree, NeedAtLeastOneDocument, ParseError
from pysops.formats.yamlcore import (
    NULLS,
    PLAIN_HINTED,
    Uint64Overflow,
    event_source,
    resolve_plain,
    resolve_scalar,
    resolve_tagged,
)
from pysops.limits import MAX_DEPTH, alias_budget, excessive_aliasing, too_deep
from pysops.values import GoTime, Value, format_float_yaml

if TYPE_CHECKING:
    from typing import Any

# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------


class _AliasCopy(NamedTuple):
    """An alias: ``*name`` at ``span`` was expanded into ``node``, a copy of ``target`` (the
    anchored node in the tree). A scalar copy's span is the alias text itself."""

    span: tuple[int, int]
    node: Node
    target: Node


class YamlState:
    """What the YAML store remembers between parse and render (``Document.state``).

    A plain class, not a dataclass: importing dataclasses costs a small decrypt several ms.
    """

    __slots__ = ("doc_ends", "sops_spans", "aliases", "scalar_aliases", "key_aliases", "step", "bom", "only_sops")

    def __init__(self) -> None:
        #: per document, where a metadata block is appended (end of the document's content)
        self.doc_ends: list[int] = []
        #: text ranges of top-level ``sops:`` entries (whole lines), removed on render
        self.sops_spans: list[tuple[int, int]] = []
        #: collection aliases (``*name`` replaced by a flow copy when it no longer equals its anchor)
        self.aliases: list[_AliasCopy] = []
        #: scalar aliases, likewise (kept apart: ``yamlpatch`` can patch files that have only these)
        self.scalar_aliases: list[_AliasCopy] = []
        #: aliases used as mapping keys (``*k : v``): (span, anchored scalar, the key it gave,
        #: whether it stands in a flow mapping)
        self.key_aliases: list[tuple[tuple[int, int], Scalar, str, bool]] = []
        #: indentation step detected in the text (None when the file has no nested block mapping)
        self.step: int | None = None
        self.bom = False
        #: indices of block-style documents whose only key was ``sops``: without the metadata
        #: block they are written ``{}`` (like sops), so that the output is still a document
        self.only_sops: set[int] = set()

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"YamlState({fields})"


class _Frame:
    """An open collection while parsing."""

    __slots__ = ("node", "is_map", "flow", "col", "key", "key_event_end", "anchor", "start", "keys", "in_sops")

    def __init__(self, node: Mapping | Sequence, is_map: bool, flow: bool, col: int, anchor: str | None,
                 start: int) -> None:  # fmt: skip
        self.node = node
        self.is_map = is_map
        self.flow = flow
        self.col = col
        self.key: str | None = None
        self.key_event_end = -1
        self.anchor = anchor
        self.start = start
        self.keys: set[str] = set()
        self.in_sops = False


class _PendingComments:
    """Own-line comments found after an item, placed once the next item is known."""

    __slots__ = ("comments", "snapshot", "prev_end", "after_key", "value_end")

    def __init__(self, comments: list[tuple[Comment, int, int]], snapshot: list[_Frame], prev_end: int,
                 after_key: bool) -> None:  # fmt: skip
        self.comments = comments  # (comment, column, index of the '#')
        self.snapshot = snapshot
        self.prev_end = prev_end  # where the previous token ended (start of the gap)
        self.after_key = after_key  # the previous token was a mapping key waiting for its value
        self.value_end = prev_end  # where the text of the last value ends (before a block's blank lines)


_BLOCK_HEADER = re.compile(r"[|>][-+0-9]*")


#: stands in for a ":" that libyaml refuses inside a flow plain scalar (see ``parse``)
_COLON_STANDIN = "\ue000"
#: how many such ":" a text may have (each one costs a parse)
_MAX_FLOW_COLONS = 64


class _FlowColon(Exception):
    """libyaml refused a ":" inside a plain scalar of a flow collection at ``index``."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(index)
        self.index = index
        self.message = message


class _Parser:
    def __init__(self, text: str, scan_text: str | None = None) -> None:
        self.text = text
        #: the text given to the event source: ``text`` with stand-ins for some ":" (``parse``)
        self.scan_text = text if scan_text is None else scan_text
        self.colons = scan_text is not None
        self.state = YamlState()
        self.anchors: dict[str, Node] = {}
        self.branches: list[Mapping] = []
        self.stack: list[_Frame] = []
        self.pending: _PendingComments | None = None
        self.prev_end = 0
        self.last_item: tuple[_Frame, int] | None = None  # (frame, end) of the last value added
        self.last_flow_closed: tuple[Mapping | Sequence, int] | None = None
        self.root: Mapping | None = None
        #: nodes created by expanding aliases so far, and how many the input's size allows
        self.alias_nodes = 0
        self.alias_budget = alias_budget(len(text))
        self.non_string_key: ErrorEncryptingTree | None = None
        #: (collection, comments) that go after its first item (``_take_comments_after_entry``)
        self.after_first: list[tuple[Mapping | Sequence, list[Comment]]] = []
        #: (collection, end of its properties' line) of a list item "- &a" + a block collection
        self.props_after_dash: list[tuple[Mapping | Sequence, int]] = []

    # -- helpers ------------------------------------------------------------------------------

    def column(self, index: int) -> int:
        return index - (self.text.rfind("\n", 0, index) + 1)

    def error(self, message: str, index: int) -> ParseError:
        line = self.text.count("\n", 0, index) + 1
        return ParseError(f"Error unmarshaling input YAML: line {line}: {message}")

    # -- comments -----------------------------------------------------------------------------

    def scan_gap(self, start: int, end: int) -> None:
        """Find comments in ``text[start:end]`` (between two events)."""
        text = self.text
        pos = text.find("#", start, end)
        while pos != -1:
            line_start = text.rfind("\n", 0, pos) + 1
            line_end = text.find("\n", pos, end)
            if line_end == -1:
                line_end = end
            stop = line_end - 1 if line_end > pos and text[line_end - 1] == "\r" else line_end
            comment = Comment(text[pos + 1 : stop], span=(pos, stop))
            inline = text[line_start:pos].strip() != ""
            if inline:
                self.place_inline(comment, pos)
            else:
                if self.pending is not None and self.pending.snapshot:
                    inner = self.pending.snapshot[-1]
                    if inner.flow and not any(frame is inner for frame in self.stack):
                        # the comments inside a flow collection that has closed since are its
                        # own; those after it are not (``{\n # c\n}\n# d\nk: 1``: ``d`` is k's)
                        self.resolve_pending(None, 0, pos)
                if self.pending is None:
                    frame = self.stack[-1] if self.stack else None
                    after_key = (
                        frame is not None
                        and frame.is_map
                        and frame.key is not None
                        and (frame.key_event_end == self.prev_end)
                    )
                    self.pending = _PendingComments([], list(self.stack), self.prev_end, after_key)
                    if self.last_item is not None:
                        self.pending.value_end = self.last_item[1]
                self.pending.comments.append((comment, pos - line_start, pos))
            pos = text.find("#", line_end, end)

    def place_inline(self, comment: Comment, pos: int) -> None:
        """A comment on the line of an item: go-yaml's line comment, put before the item."""
        if self.pending is not None:
            # an inline comment after own-line comments can only follow an indicator ("- # c")
            self.pending.comments.append((comment, -1, pos))
            return
        text = self.text
        if self.last_flow_closed is not None:
            node, end = self.last_flow_closed
            if "\n" not in text[end:pos]:
                node.items.insert(0, comment)
                return
        if not self.stack:
            self.pending = _PendingComments([(comment, -1, pos)], [], self.prev_end, False)
            return
        frame = self.stack[-1]
        if frame.is_map and not frame.flow and frame.key is not None:
            # "key:  # c" + a value on the next lines: the key's, before its entry (the item
            # before may have ended on this line: a block collection ends at the next key)
            frame.node.items.append(comment)
            return
        if self.last_item is not None:
            last_frame, end = self.last_item
            if last_frame is frame and "\n" not in text[end:pos] and frame.node.items:
                if not frame.is_map and not frame.flow and _ends_with_empty_item(frame.node):
                    # "-  # c": where it goes depends on whether the list ends here
                    # (``resolve_pending``)
                    self.pending = _PendingComments([(comment, -1, pos)], list(self.stack), self.prev_end, False)
                    return
                if not frame.is_map and not frame.flow and text[end:pos].lstrip(" \t")[:2] in ("- ", "-\t"):
                    # "- a: 1\n- # c\n  b: 2": after the next item's dash, not the line comment
                    # of the item before: the next item's, as for a list's first item
                    frame.node.items.append(comment)
                    return
                frame.node.items.insert(len(frame.node.items) - 1, comment)
                return
        frame.node.items.append(comment)

    def resolve_pending(self, next_frame: _Frame | None, next_col: int, next_index: int,
                        document_end: bool = False) -> None:  # fmt: skip
        """Place the own-line comments of the last gap, now that the next item is known.

        ``next_frame`` is the container that receives the next item (None: end of document,
        i.e. the root), ``next_col`` the column of the next token.
        """
        pending = self.pending
        if pending is None:
            return
        self.pending = None
        head_target: Mapping | Sequence | None = next_frame.node if next_frame is not None else self.root
        snapshot = pending.snapshot
        if not snapshot or pending.after_key:
            for comment, _, _ in pending.comments:
                self._append(head_target, comment)
            return
        inner = snapshot[-1]
        if inner.flow:
            for comment, _, _ in pending.comments:
                inner.node.items.append(comment)
            return
        if not inner.is_map and _ends_with_empty_item(inner.node):
            if head_target is not inner.node:
                # go-yaml attaches the comments after an empty last item ("-" alone) of a block
                # list to the enclosing mapping at their column, not to the list (sops seals
                # them there); those before it, after a nested collection, are that collection's
                tail = _empty_tail_start(inner.node)
                lifted = [c for c in pending.comments if tail is None or c[2] >= tail]
                going_on = [i for i, f in enumerate(snapshot) if f.node is head_target and not f.is_map]
                for comment, col, pos in lifted:
                    col = col if col >= 0 else self.column(pos)
                    lift = self._deepest(snapshot, col)
                    if (
                        going_on
                        and snapshot[going_on[0]].col <= col
                        and not any(f.node is lift for f in snapshot[going_on[0] :])
                    ):
                        # ... unless a list that holds it goes on, left of the mapping: go-yaml
                        # reads it as that list's next item's head comment
                        lift = snapshot[going_on[0]].node
                    self._append(lift, comment)
                pending.comments = [c for c in pending.comments if not (tail is None or c[2] >= tail)]
                if not pending.comments:
                    return
                self._place_comments(pending, inner, head_target, next_col, next_index, document_end)
                return
            if pending.comments[0][1] < 0:
                # the list goes on: the line comment of the empty item is the list's, before it
                comment = pending.comments.pop(0)[0]
                inner.node.items.append(comment)
                if not pending.comments:
                    return
        self._place_comments(pending, inner, head_target, next_col, next_index, document_end)

    def _place_comments(self, pending: _PendingComments, inner: _Frame, head_target: Mapping | Sequence | None,
                        next_col: int, next_index: int, document_end: bool) -> None:  # fmt: skip
        """Split own-line comments into foot groups and a head group like go-yaml's scanner."""
        text = self.text
        next_indent = inner.col
        groups: list[tuple[str, list[tuple[Comment, int, int]], bool, bool]] = []  # kind, items, dedented, after_blank
        current: list[tuple[Comment, int, int]] = []
        current_after_blank = False
        first_empty = True
        recent_empty = False
        # Is the first comment on the line right after the previous token?
        first_pos = pending.comments[0][2]
        prev_end = pending.prev_end
        if prev_end > 0 and text[prev_end - 1] == "\n":
            prev_end -= 1
        first_line_adjacent = text.count("\n", prev_end, first_pos) <= 1
        first_empty = first_line_adjacent
        outer = pending.snapshot[-2] if len(pending.snapshot) > 1 else None
        if (
            first_line_adjacent and not inner.is_map and head_target is not inner.node
            and outer is not None and outer.is_map and outer.col == inner.col
            and pending.comments[0][1] >= inner.col and _crlf_line(text, first_pos)
        ):  # fmt: skip
            # CRLF: go-yaml's scanner sees the "\n" of the first comment line right after an item
            # as a blank line, which makes that line a foot comment of the item: after an
            # indentless list that ends there, the list's ("a:\r\n- 1\r\n#c\r\nb: 1")
            inner.node.items.append(pending.comments.pop(0)[0])
            if not pending.comments:
                return
            first_pos = pending.comments[0][2]
            first_line_adjacent = first_empty = False
        cursor = text.rfind("\n", 0, first_pos) + 1
        # a blank line right above the first comment, outside the last value's text (after a
        # "|" block it stays when the block is written on one line, a "|+" block's is its own):
        # see ``at_document_end`` below
        above = text.rfind("\n", 0, cursor - 1) + 1 if cursor > 0 else cursor
        blank_above = cursor > 0 and above > pending.value_end and not text[above:cursor].strip()
        saw_blank_since_group = False
        for comment, col, pos in pending.comments:
            line_start = text.rfind("\n", 0, pos) + 1
            # blank lines between the previous comment line and this one
            blanks = self._blank_lines(cursor, line_start)
            if blanks:
                if current and not recent_empty and first_empty:
                    start_col = current[0][1]
                    if current is not None and (
                        (first_line_adjacent and current[0][2] == pending.comments[0][2]) or start_col < next_indent
                    ):
                        groups.append(("blank", current, start_col < next_indent, current_after_blank))
                        current = []
                first_empty = False
                recent_empty = True
                saw_blank_since_group = True
            if col < 0:
                col = self.column(pos)
            if current and col != current[0][1] and col < next_indent:
                groups.append(("foot", current, current[0][1] < next_indent, current_after_blank))
                current = []
            if not current:
                current_after_blank = saw_blank_since_group
                saw_blank_since_group = False
            current.append((comment, col, pos))
            recent_empty = False
            cursor = text.find("\n", pos)
            cursor = len(text) if cursor == -1 else cursor + 1
        if current:
            at_end = (
                next_index >= len(text)
                or text[next_index:].strip() == ""
                or head_target is self.root
                and (next_col == 0 and text.startswith(("---", "..."), next_index))
            )
            blanks = self._blank_lines(cursor, text.rfind("\n", 0, next_index) + 1 if next_index > cursor else cursor)
            if (
                (blanks or at_end)
                and not recent_empty
                and first_empty
                and ((first_line_adjacent and current[0][2] == pending.comments[0][2]) or current[0][1] < next_indent)
            ):
                groups.append(("blank", current, current[0][1] < next_indent, current_after_blank))
                current = []
            elif current[0][1] != next_col and next_col < next_indent:
                groups.append(("foot", current, current[0][1] < next_indent, current_after_blank or bool(blanks)))
                current = []
        at_document_end = document_end or (
            head_target is self.root
            and next_col == 0
            and (next_index >= len(text) or text.startswith(("---", "..."), next_index))
        )
        crlf_head = False
        above_marker = self._above_marker(pending, inner, head_target, next_index)
        for index, (ended_by, items, dedented, after_blank) in enumerate(groups):
            col = items[0][1]
            if at_document_end:
                # trailing comments of a document go to the deepest block at their indentation
                target: Mapping | Sequence | None = (
                    inner.node if index == 0 and inner.col <= col else self._at_end(pending.snapshot, col)
                )
                following = groups[index + 1][1] if index + 1 < len(groups) else current
                if index == 0 and ended_by == "foot" and following and following[0][1] != col:
                    # a first group right above a less (or more) indented one is the foot of the
                    # block that ended, as go-yaml reads it (also before a key at that column)
                    target = inner.node
                if index == 0 and col > 0 and blank_above:
                    target = self._innermost_block(pending.snapshot)  # see below: indented, after a blank line
            elif index == 0:
                if dedented and not blank_above and not after_blank and _crlf_line(text, items[0][2]):
                    # in a CRLF file go-yaml reads the comments right after a block, left of its
                    # column, in the deepest open block at their column (the next key's head
                    # comments left of it; with LF: the ended block's foot), and the dedented
                    # groups after them too; left of the next item's column, they are its head
                    # comments (in its container)
                    crlf_head = True
                target = (
                    self._blank_foot_target(pending, items[0][2], next_col, head_target)
                    if ended_by == "blank" and dedented and not blank_above
                    else inner.node
                )
                if crlf_head:
                    target = (
                        head_target
                        if col < next_col and head_target is not None
                        else self._deepest(pending.snapshot, col)
                    )
            elif crlf_head and dedented:
                target = (
                    head_target if col < next_col and head_target is not None else self._deepest(pending.snapshot, col)
                )
            else:
                target = self._blank_foot_target(pending, items[0][2], next_col, head_target)
            for comment, _, pos in items:
                self._append(pending.snapshot[0].node if pos >= above_marker else target, comment)
        if current:
            col = current[0][1]
            head = col <= next_col or (groups and not groups[-1][2])
            outer = pending.snapshot[-2] if len(pending.snapshot) > 1 else None
            if (
                not inner.is_map and outer is not None and outer.is_map and not outer.flow
                and outer.col == inner.col == next_col and head_target is outer.node
            ):  # fmt: skip
                # after an indentless list ("a:\n- 1"), which opens no block of its own for go-yaml,
                # the comments right above the mapping's next key are that key's head comments
                head = True
                if (
                    not groups and first_line_adjacent and not at_document_end
                    and inner.node.items and isinstance(inner.node.items[-1], Scalar)
                    and _crlf_line(text, current[0][2])
                ):  # fmt: skip
                    # ... but with CRLF line ends go-yaml keeps the one on the line right after
                    # a scalar item in the list ("k:\r\n- 1\r\n# c\r\n# d\r\nz:": c only)
                    self._append(inner.node, current.pop(0)[0])
            target = head_target if head else inner.node
            if at_document_end:
                target = self._at_end(pending.snapshot, col)
                if col > 0 and not groups and blank_above:
                    # one indented group of comments that ends a document after a blank line:
                    # go-yaml reads it as the innermost block's once a key follows (the "sops:"
                    # block of the written file), and as the root's where nothing follows; the
                    # AAD must name the container of the file sops decrypts
                    # (docs/formats.md#yaml-trailing-comments)
                    target = self._innermost_block(pending.snapshot)
            for comment, _, pos in current:
                self._append(pending.snapshot[0].node if pos >= above_marker else target, comment)

    @staticmethod
    def _innermost_block(snapshot: list[_Frame]) -> Mapping | Sequence:
        """The innermost open block for go-yaml: a root key's indentless list ("k:\n- 1") whose
        last item is a scalar or a flow collection opens none (the root holds what follows it)."""
        inner = snapshot[-1]
        root_list = len(snapshot) == 2 and not inner.is_map and not inner.flow and inner.col == snapshot[0].col == 0
        if root_list and _flat(inner.node.items[-1] if inner.node.items else None):
            return snapshot[0].node
        return inner.node

    def _above_marker(self, pending: _PendingComments, inner: _Frame, head_target: Mapping | Sequence | None,
                      next_index: int) -> int:  # fmt: skip
        """Where the own-line comments right above a "---" or "..." line at ``next_index`` begin
        (no blank line between them and it) when the document ends there with an indentless list
        of a root key ("k:\n- 1\n# c\n---"): go-yaml reads them as the root's, not the list's
        as at the end of the stream (docs/formats.md#yaml-trailing-comments). Past the end of the
        text otherwise."""
        text = self.text
        snapshot = pending.snapshot
        if (
            head_target is not self.root or inner.is_map or inner.flow or len(snapshot) != 2
            or snapshot[0].col != 0 or inner.col != 0 or not text.startswith(("---", "..."), next_index)
        ):  # fmt: skip
            return len(text) + 1
        pos = text.rfind("\n", 0, next_index) + 1
        while pos > 0:
            line_start = text.rfind("\n", 0, pos - 1) + 1
            line = text[line_start:pos]
            if not line.lstrip(" \t").startswith("#"):
                break
            if line.endswith("\r\n"):
                return len(text) + 1  # with CRLF line ends go-yaml keeps them in the list
            pos = line_start
        return pos

    def _blank_foot_target(self, pending: _PendingComments, pos: int, next_col: int,
                           head_target: Mapping | Sequence | None) -> Mapping | Sequence | None:  # fmt: skip
        """The container of a group of own-line comments that starts at ``pos``: the first group
        of a gap when it is dedented and a blank line ends it, or any later group.

        go-yaml's scanner makes it a foot comment bound to the first token that starts at or
        after it: the end of a block that closes there, or else the next item (in its
        container; a key's foot goes to the key before it). Each block that closes before the
        next token (innermost first; an indentless list closes none) ends before the gap, or on
        the first comment of the gap at that block's column, or where the block inside it ended.
        The end of a list hands the comment on to the next mapping that ends there, or the next
        item (``list:\\n  - k: v\\n    # a\\n  # b\\nd: 1``: ``b`` is the root's).
        """
        snapshot = pending.snapshot
        mark = -1
        received = False
        for depth in range(len(snapshot) - 1, -1, -1):
            frame = snapshot[depth]
            if frame.flow or frame.col <= next_col:
                break
            parent = snapshot[depth - 1] if depth > 0 else None
            if not frame.is_map and parent is not None and parent.is_map and parent.col == frame.col:
                continue  # an indentless list: no block of its own
            at_column = [c_pos for _, col, c_pos in pending.comments if col == frame.col]
            if at_column:
                mark = min(at_column)
            if mark >= pos:
                received = True
            if received and frame.is_map:
                return frame.node
        return head_target

    def _line_comments_after_empty_items(self, frame: _Frame) -> None:
        """A line comment followed by empty items ("-" alone) of a block list, on an empty item
        (``- # c``) or after the list's properties (``key: &a # c``): go-yaml gives it to the next
        item that is not empty, where sops selects (comment regexes) and seals it; after the
        properties, to the first item of that item when it is a block collection. Comments
        before empty items that end the list are ``_lift_comments_of_empty_tail``'s."""
        items = frame.node.items
        text = self.text
        index = 0
        while index < len(items) - 2:
            comment = items[index]
            if not isinstance(comment, Comment) or comment.span is None or not _is_empty_item(items[index + 1]):
                index += 1
                continue
            pos = comment.span[0]
            if not text[text.rfind("\n", 0, pos) + 1 : pos].strip():
                index += 1
                continue  # an own-line comment: the next item's
            after = index + 1
            while after < len(items) and _is_empty_item(items[after]):
                after += 1
            if after == len(items) or isinstance(items[after], Comment):
                index = after
                continue
            del items[index]
            target = items[after - 1]
            if (
                index == 0 and isinstance(target, (Mapping, Sequence)) and target.style != "f"
                and text.startswith(("&", "!"), frame.start) and "\n" not in text[frame.start : pos]
            ):  # fmt: skip
                target.items.insert(0, comment)
            else:
                items.insert(after - 1, comment)
            index = after

    def _lift_comments_of_empty_tail(self, node: Sequence) -> None:
        """A block list that ends with empty items ("-" alone): go-yaml attaches the comments
        after its last non-empty item (a line comment on its anchor included) to the enclosing
        mapping at their column, where sops seals them (and where sops's own round trip loses
        some of them)."""
        items = node.items
        cut = _empty_tail_cut(items)
        if cut and not isinstance(items[cut - 1], Scalar):
            # after a nested collection: that collection's foot comments, as placed, except those
            # at the column of the list's dashes (head comments of the empty item that follows)
            self._lift_heads_of_empty_tail(node, cut)
            return
        tail = items[cut:]
        if not any(isinstance(item, Comment) for item in tail):
            return
        del items[cut:]
        items.extend(item for item in tail if not isinstance(item, Comment))
        outer = self.stack[-1]
        # an item of a block list that goes on (a "-" at its column follows): go-yaml keeps them
        # in that list (``k:\n  -\n    # c\n    -\n  - 2``)
        going_on = (
            not outer.is_map and not outer.flow and node.span is not None and self._dash_at(node.span[1], outer.col)
        )
        for item in tail:
            if isinstance(item, Comment):
                pos = item.span[0] if item.span is not None else node.span[0] if node.span else 0
                self._append(outer.node if going_on else self._deepest(self.stack, self.column(pos)), item)

    def _dash_at(self, pos: int, col: int) -> bool:
        """Whether the first line from ``pos`` that holds neither only blanks nor a comment
        starts with a "-" entry at column ``col``."""
        text = self.text
        while pos < len(text):
            line_end = text.find("\n", pos)
            line_end = len(text) if line_end == -1 else line_end + 1
            stripped = text[pos:line_end].strip()
            if stripped and not stripped.startswith("#"):
                body = text[pos:line_end].lstrip(" ")
                return (
                    self.column(line_end - len(body)) == col and body[:1] == "-" and body[1:2] in (" ", "\r", "\n", "")
                )
            pos = line_end
        return False

    def _lift_comments_before_empty_list(self, node: Sequence) -> None:
        """A block list whose only item is a block list of empty items (``k: &a  # c`` then ``-``
        and a nested ``-``): go-yaml attaches the line comment on the list's anchor (or tag) to
        the enclosing mapping, as for a list of empty items."""
        items = node.items
        text = self.text
        if node.span is None or sum(1 for item in items if not isinstance(item, Comment)) != 1:
            return
        line_end = text.find("\n", node.span[0])
        line_end = len(text) if line_end == -1 else line_end
        lifted = [
            item for item in items
            if isinstance(item, Comment) and item.span is not None and node.span[0] < item.span[0] < line_end
        ]  # fmt: skip
        if not lifted:
            return
        node.items = [item for item in items if not any(item is c for c in lifted)]
        for comment in lifted:
            assert comment.span is not None
            self._append(self._deepest(self.stack, self.column(comment.span[0])), comment)

    def _lift_heads_of_empty_tail(self, node: Sequence, cut: int) -> None:
        """Own-line comments at the dashes' column between a nested collection and the empty
        items that end a block list are head comments of an empty item, which go-yaml hands on
        to the next node: the next key of the mapping that holds the list (``a:\n- - 1\n# c\n-``:
        the root's, the "sops:" key follows in the written file). When that mapping ends there
        too, they stay in the list."""
        text = self.text
        parent = self.stack[-1]
        if not parent.is_map or parent.flow or node.span is None:
            return
        # (an anchored or tagged list's span starts at its properties: "k: &a" + its dashes below)
        dash_col = self.column(_after_block_properties(text, node.span[0]))
        heads = [
            item for item in node.items[cut:]
            if isinstance(item, Comment) and item.span is not None and self.column(item.span[0]) == dash_col
            and not text[text.rfind("\n", 0, item.span[0]) + 1 : item.span[0]].strip()
        ]  # fmt: skip
        if not heads:
            return
        # the next token after the list: a key of ``parent`` (at its column) or the end
        pos = node.span[1]
        while pos < len(text):
            line_end = text.find("\n", pos)
            line_end = len(text) if line_end == -1 else line_end + 1
            stripped = text[pos:line_end].strip()
            if stripped and not stripped.startswith("#"):
                break
            pos = line_end
        if pos >= len(text) or text.startswith(("---", "..."), pos):
            if len(self.stack) != 1:
                return  # the mapping ends with the document: they stay in the list
        else:
            first = pos
            while text[first] in " \t":
                first += 1
            if self.column(first) != parent.col:
                return
        moved = {id(item) for item in heads}
        node.items[:] = [item for item in node.items if id(item) not in moved]
        parent.node.items.extend(heads)

    def _blank_lines(self, start: int, end: int) -> int:
        """Number of whitespace-only lines in ``text[start:end]`` (whole lines)."""
        if end <= start:
            return 0
        return sum(1 for line in self.text[start:end].split("\n")[:-1] if not line.strip())

    @staticmethod
    def _at_column(snapshot: list[_Frame], col: int) -> Mapping | None:
        """The innermost open block mapping whose keys are at column ``col``, if any."""
        for frame in reversed(snapshot):
            if frame.is_map and not frame.flow and frame.col == col:
                assert isinstance(frame.node, Mapping)
                return frame.node
        return None

    @classmethod
    def _at_end(cls, snapshot: list[_Frame], col: int) -> Mapping | Sequence:
        """The container of a comment at the end of a document: the block mapping at its column,
        the root when it is at no mapping's column (go-yaml)."""
        return cls._at_column(snapshot, col) or snapshot[0].node

    @staticmethod
    def _deepest(snapshot: list[_Frame], col: int) -> Mapping | Sequence:
        for frame in reversed(snapshot):
            if frame.is_map and not frame.flow and frame.col <= col:
                return frame.node
        return snapshot[0].node

    def _append(self, target: Mapping | Sequence | None, comment: Comment) -> None:
        if target is None:
            # before the root exists: keep until it is created
            if self.pending is None:
                self.pending = _PendingComments([], [], self.prev_end, False)
            self.pending.comments.append((comment, 0, comment.span[0] if comment.span else 0))
            return
        target.items.append(comment)

    # -- events -------------------------------------------------------------------------------

    def run(self) -> Document:
        text = self.text
        lib, get_event, YAMLError = event_source(self.scan_text)
        ScalarEvent = lib.ScalarEvent
        MappingStartEvent = lib.MappingStartEvent
        SequenceStartEvent = lib.SequenceStartEvent
        MappingEndEvent = lib.MappingEndEvent
        SequenceEndEvent = lib.SequenceEndEvent
        AliasEvent = lib.AliasEvent
        DocumentStartEvent = lib.DocumentStartEvent
        DocumentEndEvent = lib.DocumentEndEvent
        StreamEndEvent = lib.StreamEndEvent
        stack = self.stack
        scanned = 0
        try:
            while True:
                event = get_event()
                cls = type(event)
                start = event.start_mark.index
                prev_end = self.prev_end
                gap_start = prev_end if prev_end > scanned else scanned
                if start > gap_start:
                    if text.find("#", gap_start, start) != -1:
                        self.scan_gap(gap_start, start)
                    scanned = start
                if cls is ScalarEvent:
                    self.on_scalar(event, start)
                elif cls is MappingEndEvent or cls is SequenceEndEvent:
                    frame = stack.pop()
                    end = event.end_mark.index
                    if not frame.flow:
                        # a block collection ends where the next token's line begins (libyaml's
                        # mark is that token's, after its indentation)
                        line_start = text.rfind("\n", 0, start) + 1
                        if line_start > frame.start and not text[line_start:start].strip(" \t"):
                            end = line_start
                        else:
                            end = start
                    frame.node.span = (frame.start, end)
                    if not frame.is_map and not frame.flow:
                        self._line_comments_after_empty_items(frame)
                    if self.props_after_dash and self.props_after_dash[-1][0] is frame.node:
                        self._foot_after_properties(*self.props_after_dash.pop())
                    if self.after_first and self.after_first[-1][0] is frame.node:
                        self._place_after_first(*self.after_first.pop())
                    if not frame.is_map and not frame.flow and stack and _ends_with_empty_item(frame.node):
                        assert isinstance(frame.node, Sequence)
                        self._lift_comments_of_empty_tail(frame.node)
                    elif not frame.is_map and not frame.flow and stack and _ends_with_empty_list(frame.node):
                        assert isinstance(frame.node, Sequence)
                        self._lift_comments_before_empty_list(frame.node)
                    if frame.flow:
                        self.last_flow_closed = (frame.node, end)
                        self.prev_end = end
                    if frame.anchor is not None:
                        self.anchors[frame.anchor] = frame.node
                    if stack:
                        self.last_item = (stack[-1], end if frame.flow else start)
                    if frame.is_map and frame.key is not None:
                        raise self.error("mapping key without value", start)
                    continue
                elif cls is MappingStartEvent or cls is SequenceStartEvent:
                    self.on_start(event, start, cls is MappingStartEvent)
                elif cls is AliasEvent:
                    self.on_alias(event, start)
                elif cls is DocumentStartEvent:
                    version = getattr(event, "version", None)
                    if version is not None and tuple(version) != (1, 1):
                        # go-yaml v3 (sops) reads only YAML 1.1 documents when a %YAML directive
                        # names a version (its typing is YAML 1.2's all the same)
                        raise ParseError("Error unmarshaling input YAML: found incompatible YAML document")
                    self.root = None
                    self.prev_end = event.end_mark.index
                    self.last_flow_closed = None
                    self.last_item = None
                    continue
                elif cls is DocumentEndEvent:
                    if self.root is None:
                        self.root = Mapping(span=(start, start))
                        self.branches.append(self.root)
                    self.resolve_pending(None, 0, start)
                    self.state.doc_ends.append(start)
                    self.prev_end = event.end_mark.index
                    self.root = None
                    continue
                elif cls is StreamEndEvent:
                    if self.non_string_key is not None:
                        raise self.non_string_key
                    break
                else:  # StreamStart
                    continue
                self.last_flow_closed = None
        except YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            if getattr(exc, "problem", None) == "found unexpected ':'" and mark is not None and mark.index < len(text):
                raise _FlowColon(mark.index, f"Error unmarshaling input YAML: {exc}") from None
            raise ParseError(f"Error unmarshaling input YAML: {exc}") from None
        if not self.branches:
            # sops: an empty file is exit 92 ("cannot be completely empty"), one of blank lines
            # or comments only fails to decode ("EOF"), exit 2
            raise NeedAtLeastOneDocument(
                "Error unmarshaling input YAML: the input contains no YAML document",
                exit_code=2 if text else None,
            )
        return self.finish()

    def next_col(self, start: int) -> int:
        frame = self.stack[-1] if self.stack else None
        if frame is not None and not frame.is_map and not frame.flow:
            return frame.col
        return self.column(start)

    def on_scalar(self, event: Any, start: int) -> None:
        # Runs for every scalar of the file (four in five events), twice per encrypt (the
        # read-back parses the output): each event attribute is read once, and ``_set_key`` /
        # ``_add_value`` are inlined.
        text = self.text
        raw = event.value
        if self.colons and _COLON_STANDIN in raw:
            raw = event.value = raw.replace(_COLON_STANDIN, ":")
        end = event.end_mark.index
        style = event.style or ""
        stack = self.stack
        frame = stack[-1] if stack else None
        if frame is None:
            # a document that is a scalar: only an empty (null) one is accepted, like sops
            value = raw
            tag = event.tag
            if value not in NULLS or (
                # go-yaml reads `!!null ""` and `! null` as null too
                (style or tag is not None) and tag != "tag:yaml.org,2002:null" and (tag != "!" or style)
            ):
                raise ParseError("Error unmarshaling input YAML: YAML documents that are values are not supported")
            self.root = Mapping(span=(start, start))
            self.branches.append(self.root)
            self.resolve_pending(None, 0, start)
            self.prev_end = end
            if end > start:
                # "~", "null", "&a null": an empty mapping in sops's tree; the text goes, so that
                # the metadata block can follow (on its own line when the null had one)
                line_start = text.rfind("\n", 0, start) + 1
                line_end = text.find("\n", end)
                if not text[line_start:start].strip() and (line_end == -1 or not text[end:line_end].strip()):
                    self.state.sops_spans.append((line_start, len(text) if line_end == -1 else line_end + 1))
                else:
                    self.state.sops_spans.append((start, end))
                self.state.only_sops.add(len(self.branches) - 1)
            return
        anchor = event.anchor
        span_start = start
        if anchor is not None:
            span_start = self._skip_anchor(start, end)
        if self.pending is not None:
            # sops appends its block after a document's trailing comments: they are placed as at
            # the end of the document
            sops_key = frame is stack[0] and frame.key is None and raw == "sops" and not style
            self.resolve_pending(frame, self.next_col(start), start, document_end=sops_key)
        tag = event.tag
        is_map = frame.is_map
        if is_map and frame.key is None:
            # a key
            if style == "":
                if tag is None and raw and raw[0] not in PLAIN_HINTED:
                    key_value = raw  # (``resolve_plain``'s first test, inline: most keys)
                else:
                    try:
                        key_value = resolve_plain(raw) if tag is None else resolve_tagged(raw, tag, True)
                    except Uint64Overflow:
                        key_value = 0
            else:
                key_value = raw
            if type(key_value) is not str:
                # sops refuses it when it walks the tree (23), after the whole file decoded: a
                # later syntax error or duplicate key (exit 2) wins, so the parse goes on
                if self.non_string_key is None:
                    self.non_string_key = ErrorEncryptingTree(
                        f"Non-string mapping key {raw!r} (line {text.count(chr(10), 0, start) + 1}): "
                        "sops only supports string keys"
                    )
                key_value = raw
            if len(self.branches) <= 1:  # (``_set_key``, inline)
                # go-yaml's duplicate check compares the keys' texts: `1` and `'1'` are one key
                keys = frame.keys
                if raw in keys:
                    raise self.error(f'mapping key "{raw}" already defined', start)
                keys.add(raw)
            frame.key = key_value
            frame.key_event_end = end
            if anchor is not None:
                self.anchors[anchor] = Scalar(key_value)
            self.prev_end = end
            return
        # a value
        try:
            if style == "" and tag is None:
                value = raw if raw and raw[0] not in PLAIN_HINTED else resolve_plain(raw)
            else:
                value = resolve_scalar(raw, style, tag)
        except ParseError as exc:  # a tagged value that is not what its tag says
            raise self.error(exc.message, start) from None
        except Uint64Overflow:
            # refused when sops walks the tree (23): a later syntax error (2) wins, as for a
            # non-string key (the first of the two in the document is reported)
            if self.non_string_key is None:
                self.non_string_key = ErrorEncryptingTree(
                    f"Cannot walk value, unknown type: uint64 ({raw}): sops cannot encrypt integers "
                    "larger than 9223372036854775807"
                )
            value = raw
        flow = frame.flow
        if (
            style == "" and not is_map and not flow and tag is None
            and type(value) is str and value.startswith("ENC[AES256_GCM,") and value.endswith(",type:comment]")
        ):  # fmt: skip
            # sops writes comments that sit inside a list as list items ("- ENC[...,type:comment]");
            # they are comments (no MAC, rendered back as "# ..." lines in place of the item).
            dash = text.rfind("-", text.rfind("\n", 0, start) + 1, start)
            comment = Comment(value, span=(dash if dash != -1 else start, end), style="-")
            frame.node.items.append(comment)
            self.prev_end = end
            self.last_item = (frame, end)
            return
        span_end = end
        items: list[Any] = frame.node.items
        if style == "|" or style == ">":
            span_end = self._block_end(span_start, end, raw)
            header_comment = self._block_header_comment(span_start)
            if header_comment is not None:
                items.append(header_comment)
        scalar = Scalar(value, (span_start, span_end), ("f" + style) if flow else style)
        # (``_add_value``, inline)
        if is_map:
            items.append(Entry(frame.key, scalar))  # type: ignore[arg-type]  # (a key is pending)
            frame.key = None
        else:
            items.append(scalar)
        if anchor is not None:
            self.anchors[anchor] = scalar
        self.prev_end = end
        self.last_item = (frame, span_end)

    def _after_properties(self, pos: int) -> int:
        """The first token after the anchor/tag properties at ``pos`` (blanks, line breaks and
        comments skipped)."""
        return _after_block_properties(self.text, pos)

    def _skip_anchor(self, start: int, end: int) -> int:
        text = self.text
        pos = start
        if text.startswith("&", pos):
            while pos < end and text[pos] not in " \t\r\n":
                pos += 1
            while pos < end and text[pos] in " \t\r\n":
                pos += 1
        elif text.startswith("!", pos):
            # "!tag &anchor value": keep the tag in the span, skip the anchor after it
            match = re.compile(r"!\S*\s+&\S+\s+").match(text, pos, end)
            if match:
                return match.end()
        return pos

    def _block_end(self, start: int, end: int, value: str) -> int:
        """End of a block scalar's span: after its last content line, before its last newline."""
        text = self.text
        header = _BLOCK_HEADER.match(text, start)
        keep = header is not None and "+" in header.group()
        if keep:
            if end > start and text[end - 1] == "\n":
                return end - 1
            return end
        stop = end
        while stop > start and text[stop - 1] in "\n\r":
            stop -= 1
        return stop

    def _block_header_comment(self, start: int) -> Comment | None:
        text = self.text
        line_end = text.find("\n", start)
        if line_end == -1:
            line_end = len(text)
        pos = text.find("#", start, line_end)
        if pos == -1:
            return None
        stop = line_end - 1 if text[line_end - 1] == "\r" else line_end
        return Comment(text[pos + 1 : stop], span=(pos, stop))

    def _set_key(self, frame: _Frame, key: str, index: int) -> None:
        if len(self.branches) <= 1:
            # sops decodes the first document into Go values too (go-yaml refuses a duplicate
            # key there) but keeps later documents as nodes, duplicates and all: so do we
            if key in frame.keys:
                raise self.error(f'mapping key "{key}" already defined', index)
            frame.keys.add(key)
        frame.key = key

    def _add_value(self, frame: _Frame, value: Node) -> None:
        node = frame.node
        if frame.is_map:
            assert isinstance(node, Mapping) and frame.key is not None
            node.items.append(Entry(frame.key, value))
            frame.key = None
        else:
            assert isinstance(node, Sequence)
            node.items.append(value)

    def on_start(self, event: Any, start: int, is_map: bool) -> None:
        flow = bool(event.flow_style)
        anchor = event.anchor
        span_start = self._skip_anchor(start, event.end_mark.index if flow else start) if anchor else start
        node: Mapping | Sequence = Mapping() if is_map else Sequence()
        style = "f" if flow else ""
        node.style = style
        col = self.column(span_start)
        if not flow and (anchor is not None or event.tag is not None):
            # "key: &a" + a block collection on the next lines: the event starts at the
            # properties; the collection's column is its first token's
            col = self.column(self._after_properties(start))
        parent = self.stack[-1] if self.stack else None
        if len(self.stack) >= MAX_DEPTH:
            raise too_deep()
        if parent is None:
            if not is_map:
                raise ParseError("Error unmarshaling input YAML: YAML documents that are sequences are not supported")
            assert isinstance(node, Mapping)
            self.root = node
            self.branches.append(node)
        else:
            if parent.is_map and parent.key is None:
                raise ParseError(
                    f"Error unmarshaling input YAML: line {self.text.count(chr(10), 0, start) + 1}: "
                    "complex (non-scalar) mapping keys are not supported"
                )
        in_sops = parent is not None and (parent.in_sops or (parent is self.stack[0] and parent.key == "sops"))
        if (
            parent is not None and self.state.step is None and is_map and not flow and parent.is_map
            and not parent.flow and col > parent.col and not in_sops
        ):  # fmt: skip
            self.state.step = col - parent.col
        frame = _Frame(node, is_map, flow, col, anchor, span_start)
        frame.in_sops = in_sops
        if parent is not None and not parent.is_map and not flow and not parent.flow:
            self._take_comments_after_entry(parent, node, start)
            if anchor is not None or event.tag is not None:
                self.props_after_dash.append((node, self.text.find("\n", start)))
        elif (
            parent is not None and parent.is_map and not parent.flow and not flow
            and (anchor is not None or event.tag is not None)
            and not (parent is self.stack[0] and parent.start == 0 and not parent.node.items)
        ):  # fmt: skip
            # "k: &a" + a block collection: the same for go-yaml, except after the first key
            # of the stream (its first byte)
            self.props_after_dash.append((node, self.text.find("\n", start)))
        if self.pending is not None:
            if parent is None:
                self.resolve_pending(frame, col, start)
            elif parent.is_map:
                # the value of a key: head comments belong to the new collection's first item
                self.resolve_pending(frame, col, start)
            else:
                self.resolve_pending(parent, self.next_col(start), start)
        if parent is not None:
            self._add_value(parent, node)
        self.stack.append(frame)
        self.prev_end = event.end_mark.index if flow else start

    def _take_comments_after_entry(self, parent: _Frame, node: Mapping | Sequence, start: int) -> None:
        """Give the comments after a list item's "-" to the block collection that is the item.

        go-yaml reads ``-`` + comments (on the dash's line or below, at any column) + a block
        mapping or list as head comments of the collection's first item, not of the list item:
        sops selects (comment regexes) and seals them there, so ``# sops:enc`` after the dash
        encrypts only the first key. Comments before the dash stay the list's.
        """
        items = parent.node.items
        pending = self.pending
        if pending is None and not (items and isinstance(items[-1], Comment)):
            return
        text = self.text
        dash = -1
        pos = self.prev_end
        while pos < start:
            char = text[pos]
            if char == "#":
                pos = text.find("\n", pos, start)
                if pos == -1:
                    break
            elif char == "-":
                dash = pos
            pos += 1
        if dash < 0:
            return
        moved: list[Comment] = []
        while items and isinstance(items[-1], Comment) and (items[-1].span or (0, 0))[0] > dash:
            last = items.pop()
            assert isinstance(last, Comment)
            moved.insert(0, last)
        if pending is not None:
            moved.extend(comment for comment, _, at in pending.comments if at > dash)
            pending.comments = [entry for entry in pending.comments if entry[2] < dash]
            if not pending.comments:
                self.pending = None
        line_end = text.find("\n", dash, start)
        if moved and line_end > 0 and text[line_end - 1] == "\r" and (moved[0].span or (0, 0))[0] > line_end:
            # CRLF line breaks: go-yaml reads own-line comments below the dash as the head of
            # the collection's second item (its own encrypt writes them there), where sops
            # selects and seals them: placed when the collection ends
            self.after_first.append((node, moved))
            return
        foot = self._foot_of_dash(moved, line_end, start)
        if foot:
            # LF: the own-line comments that start on the line below the dash and that a blank
            # line follows are, for go-yaml, the head of the collection's second item, as with
            # CRLF above (``-\n  # c\n\n  a: 1``); the others head its first item
            self.after_first.append((node, moved[:foot]))
            moved = moved[foot:]
        node.items.extend(moved)

    def _foot_after_properties(self, node: Mapping | Sequence, line_end: int) -> None:
        """``_take_comments_after_entry`` for "- &a" + a block collection, once it has ended: the
        comments below the properties' line that a blank line follows go after its first item."""
        items: list[Any] = node.items
        first = next((index for index, item in enumerate(items) if not isinstance(item, Comment)), len(items))
        below = [(i, c) for i, c in enumerate(items[:first]) if (c.span or (0, 0))[0] > line_end]
        if not below or first == len(items):
            return
        foot = self._foot_of_dash([c for _, c in below], line_end, len(self.text))
        if foot:
            moved = [c for _, c in below[:foot]]
            del items[below[0][0] : below[0][0] + foot]
            self._place_after_first(node, moved)

    def _foot_of_dash(self, moved: list[Comment], line_end: int, start: int) -> int:
        """How many of ``moved`` (comments after a list item's dash, whose line ends at
        ``line_end``) start on the next line, on consecutive lines, and a blank line follows."""
        text = self.text
        if line_end < 0 or not moved or (moved[0].span or (0, 0))[0] < line_end:
            return 0
        cursor = line_end + 1
        count = 0
        for comment in moved:
            pos = (comment.span or (0, 0))[0]
            if text[cursor:pos].strip(" \t") != "":
                break
            count += 1
            cursor = text.find("\n", pos, start) + 1
            if cursor == 0:
                return 0
        if count == 0:
            return 0
        line_end = text.find("\n", cursor, start)
        if line_end < 0 or text[cursor:line_end].strip(" \t\r") != "":
            return 0
        return count

    @staticmethod
    def _place_after_first(node: Mapping | Sequence, comments: list[Comment]) -> None:
        items: list[Any] = node.items
        first = next((index for index, item in enumerate(items) if not isinstance(item, Comment)), len(items) - 1)
        items[first + 1 : first + 1] = comments

    def on_alias(self, event: Any, start: int) -> None:
        end = event.end_mark.index
        frame = self.stack[-1] if self.stack else None
        if frame is None:
            raise ParseError("Error unmarshaling input YAML: YAML documents that are values are not supported")
        target = self.anchors.get(event.anchor)
        if target is None:
            raise self.error(f"unknown anchor '{event.anchor}' referenced", start)
        if self.pending is not None:
            self.resolve_pending(frame, self.next_col(start), start)
        if frame.is_map and frame.key is None:
            if not isinstance(target, Scalar):
                # go-yaml cannot decode a collection as a key (sops: exit 2)
                kind = "!!map" if isinstance(target, Mapping) else "!!seq"
                raise self.error(f"cannot unmarshal {kind} into string (an alias used as a mapping key)", start)
            if not isinstance(target.value, str):
                # refused when sops walks the tree (23), after the whole file decoded: a later
                # syntax error (exit 2) wins, as for any non-string key
                if self.non_string_key is None:
                    self.non_string_key = ErrorEncryptingTree(
                        f"Non-string mapping key (the alias *{event.anchor}, line "
                        f"{self.text.count(chr(10), 0, start) + 1}): sops only supports string keys"
                    )
                self._set_key(frame, "*" + event.anchor, start)
            else:
                self._set_key(frame, target.value, start)
                self.state.key_aliases.append(((start, end), target, target.value, frame.flow))
            frame.key_event_end = end
            self.prev_end = end
            return
        copy: Node
        if isinstance(target, Scalar):
            self.alias_nodes += 1
            if self.alias_nodes > self.alias_budget:
                raise excessive_aliasing()
            copy = Scalar(target.value, span=(start, end), style="f" if frame.flow else "")
            self.state.scalar_aliases.append(_AliasCopy((start, end), copy, target))
        else:
            self.alias_nodes, collection = _bounded_copy(
                target, self.alias_nodes, self.alias_budget, MAX_DEPTH - len(self.stack)
            )
            self.state.aliases.append(_AliasCopy((start, end), collection, target))
            copy = collection
        self._add_value(frame, copy)
        self.prev_end = end
        self.last_item = (frame, end)

    def finish(self) -> Document:
        text = self.text
        metadata: dict[str, Any] | None = None
        for index, branch in enumerate(self.branches):
            kept: list[Entry | Comment] = []
            sops_ranges: list[tuple[int, int]] = []
            for item in branch.items:
                if isinstance(item, Entry) and item.key == "sops":
                    if metadata is None and index == 0 and isinstance(item.value, Mapping):
                        metadata = _to_plain_mapping(item.value)
                    elif metadata is None and index == 0:
                        metadata = {}
                    if not branch.style.startswith("f"):
                        # (a flow-style root is written afresh without it, see _block_root)
                        sops_ranges.append(self._entry_range(item, branch))
                    continue
                kept.append(item)
            if sops_ranges and not any(isinstance(item, Entry) for item in kept):
                self.state.only_sops.add(index)
            if sops_ranges:
                kept = [
                    item for item in kept
                    if not (isinstance(item, Comment) and item.span and _inside(item.span[0], sops_ranges))
                ]  # fmt: skip
                self.state.sops_spans.extend(sops_ranges)
            branch.items = kept
        return Document("yaml", self.branches, text=text, metadata=metadata, state=self.state)

    def _entry_range(self, entry: Entry, root: Mapping) -> tuple[int, int]:
        """Whole lines of a top-level ``sops:`` entry: from its key's line to its last value line
        (and the blank line that ``render`` puts before it, see ``_blank_before_metadata``)."""
        text = self.text
        value = entry.value
        end = _last_end(value)
        key_start = self._key_start_before(value)
        line_start = text.rfind("\n", 0, key_start) + 1
        line_end = text.find("\n", end)
        line_end = len(text) if line_end == -1 else line_end + 1
        if _after_blank_line(text, line_start):
            blank_start = text.rfind("\n", 0, line_start - 1) + 1
            if _blank_before_metadata(text, blank_start, [], root, key_start > line_start):
                line_start = blank_start
        return line_start, line_end

    def _key_start_before(self, value: Node) -> int:
        text = self.text
        first = value.span[0] if value.span is not None else 0
        pos = text.rfind("sops", 0, first)
        return pos if pos != -1 else first


def _ends_with_empty_item(node: Mapping | Sequence) -> bool:
    """Whether the last item of ``node`` is an empty value with no text ("-" alone)."""
    for item in reversed(node.items):
        if isinstance(item, Comment):
            continue
        return _is_empty_item(item)
    return False


def _last_item(node: Mapping | Sequence) -> Entry | Node | None:
    """The last item of ``node`` that is not a comment."""
    return next((item for item in reversed(node.items) if not isinstance(item, Comment)), None)


def _flat(item: object) -> bool:
    """Whether ``item`` is a scalar or a flow collection: no block of it stays open after it."""
    return isinstance(item, Scalar) or (isinstance(item, (Mapping, Sequence)) and item.style.startswith("f"))


def _ends_with_empty_list(node: Mapping | Sequence) -> bool:
    """Whether the last item of ``node`` is a block list of empty items ("-" alone) only."""
    last = _last_item(node)
    return (
        isinstance(last, Sequence)
        and last.style != "f"
        and any(not isinstance(item, Comment) for item in last.items)
        and all(isinstance(item, Comment) or _is_empty_item(item) for item in last.items)
    )


def _empty_tail_start(node: Sequence | Mapping) -> int | None:
    """Where the trailing empty items of a list start when a collection precedes them (its
    comments before that point stay its own), else None (every comment goes)."""
    items = node.items
    cut = _empty_tail_cut(items)
    if not cut or isinstance(items[cut - 1], Scalar):
        return None
    for item in items[cut:]:
        if isinstance(item, Scalar) and item.span is not None:
            return item.span[0]
    return None


def _empty_tail_cut(items: list[Any]) -> int:
    """The index where the run of comments and empty items ("-" alone) that ends ``items``
    begins (``len(items)`` when there is none)."""
    cut = len(items)
    while cut and (isinstance(items[cut - 1], Comment) or _is_empty_item(items[cut - 1])):
        cut -= 1
    return cut


def _crlf_line(text: str, pos: int) -> bool:
    """Whether the line holding ``pos`` ends with CRLF."""
    end = text.find("\n", pos)
    return end > 0 and text[end - 1] == "\r"


def _is_empty_item(item: object) -> bool:
    return isinstance(item, Scalar) and item.value is None and item.span is not None and item.span[0] == item.span[1]


def _after_blank_line(text: str, line_start: int) -> bool:
    """Whether the line before ``line_start`` is blank."""
    if line_start < 1 or text[line_start - 1] != "\n":
        return False
    blank_start = text.rfind("\n", 0, line_start - 1) + 1
    return not text[blank_start : line_start - 1].strip()


def _inside(pos: int, ranges: list[tuple[int, int]]) -> bool:
    return any(start <= pos < end for start, end in ranges)


def _last_end(node: Node) -> int:
    """End offset of the last piece of text of a node."""
    if isinstance(node, Scalar):
        return node.span[1] if node.span else 0
    if node.style.startswith("f") and node.span is not None:
        return node.span[1]
    best = node.span[0] if node.span else 0
    for item in reversed(node.items):
        if isinstance(item, Entry):
            return max(best, _last_end(item.value))
        if isinstance(item, Comment):
            if item.span:
                return max(best, item.span[1])
            continue
        return max(best, _last_end(item))
    return best


def _bounded_copy(node: Mapping | Sequence, count: int, budget: int, max_height: int) -> tuple[int, Mapping | Sequence]:
    """A comment-free deep copy of an aliased collection, for the alias's expansion.

    ``count`` nodes were already expanded from aliases; the copy adds its own nodes and raises
    ``excessive_aliasing`` past ``budget`` (an alias bomb stops after ``budget`` nodes, not 9**9),
    and ``too_deep`` when it would nest deeper than ``max_height`` levels (the collection itself
    is one). An explicit stack, not recursion, like every walk of the store.
    """
    root: Mapping | Sequence = Mapping(style=node.style) if isinstance(node, Mapping) else Sequence(style=node.style)
    stack: list[tuple[Mapping | Sequence, Mapping | Sequence, int]] = [(node, root, 1)]
    while stack:
        source, copy, height = stack.pop()
        count += 1
        if count > budget:
            raise excessive_aliasing()
        if height > max_height:
            raise too_deep()
        for item in source.items:
            if isinstance(item, Comment):
                continue
            value = item.value if isinstance(item, Entry) else item
            new: Node
            if isinstance(value, Scalar):
                count += 1
                new = Scalar(value.value, style=value.style.lstrip("f"))
            else:
                new = Mapping(style=value.style) if isinstance(value, Mapping) else Sequence(style=value.style)
                stack.append((value, new, height + 1))
            if isinstance(item, Entry):
                assert isinstance(copy, Mapping)
                copy.items.append(Entry(item.key, new))
            else:
                assert isinstance(copy, Sequence)
                copy.items.append(new)
    if count > budget:
        raise excessive_aliasing()
    return count, root


def _to_plain(node: Node) -> Any:
    if isinstance(node, Scalar):
        value = node.value
        if isinstance(value, GoTime):
            return value.rfc3339nano()
        return value
    if isinstance(node, Mapping):
        return _to_plain_mapping(node)
    return [_to_plain(item) for item in node.items if not isinstance(item, Comment)]


def _to_plain_mapping(node: Mapping) -> dict[str, Any]:
    return {entry.key: _to_plain(entry.value) for entry in node.entries()}


def _parse_text(text: str) -> Document:
    """Run the parser; where libyaml refuses a ":" in a flow plain scalar (``[a:b]``,
    ``{t: 2001-12-14T21:59:43Z}``), which go-yaml (sops) reads as part of the scalar, parse again
    with a one-character stand-in there, put back into the scalar's value (offsets unchanged)."""
    scan_text: str | None = None
    first_error = ""
    for _ in range(_MAX_FLOW_COLONS + 1):
        try:
            return _Parser(text, scan_text).run()
        except _FlowColon as colon:
            first_error = first_error or colon.message
            current = text if scan_text is None else scan_text
            if _COLON_STANDIN in text or current[colon.index] != ":":
                break
            scan_text = current[: colon.index] + _COLON_STANDIN + current[colon.index + 1 :]
    # a stand-in cannot be used (the text has one) or there are too many: libyaml's error
    raise ParseError(first_error)


def parse(data: bytes) -> Document:
    """Parse YAML bytes (plaintext or sops-encrypted) into a Document; see the module docstring."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(f"Error unmarshaling input YAML: invalid UTF-8 at byte {exc.start}") from None
    bom = text.startswith("\ufeff")
    if bom:
        text = text[1:]
    # Tens of thousands of small objects and no cycles: pausing the cyclic garbage collector
    # meanwhile saves a good part of the time on large files.
    try:
        with GcPaused():
            doc = _parse_text(text)
    except NeedAtLeastOneDocument as exc:
        if exc.exit_code != 2 and not bom:
            raise
        # blank lines, comments or a byte order mark alone: not an empty file for sops, whose
        # decoder fails on it ("EOF"), exit 2
        raise NeedAtLeastOneDocument(f"{exc.message} (EOF)", exit_code=2) from None
    assert isinstance(doc.state, YamlState)
    doc.state.bom = bom
    return doc


# --------------------------------------------------------------------------------------------
# Emitting scalars
# --------------------------------------------------------------------------------------------

#: what YAML calls non-printable (for ASCII text; compiling the full-Unicode class costs ~3 ms,
#: so it is only built for text that is not ASCII, see ``_is_printable``)
_ASCII_NON_PRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_NON_PRINTABLE_CLASS = "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
_non_printable: re.Pattern[str] | None = None
_PLAIN_BAD_START = frozenset("-?:,[]{}#&*!|>'\"%@`")
_FLOW_INDICATORS = re.compile(r"[,\[\]{}]")
_ESCAPES = {
    "\0": "\\0", "\x07": "\\a", "\x08": "\\b", "\t": "\\t", "\n": "\\n", "\x0b": "\\v", "\x0c": "\\f",
    "\r": "\\r", "\x1b": "\\e", '"': '\\"', "\\": "\\\\", "\x85": "\\N", "\u2028": "\\L", "\u2029": "\\P",
}  # fmt: skip


def _is_printable(text: str) -> bool:
    global _non_printable
    if text.isascii():
        return _ASCII_NON_PRINTABLE.search(text) is None
    if _non_printable is None:
        _non_printable = re.compile(_NON_PRINTABLE_CLASS)
    return _non_printable.search(text) is None


def _is_printable_char(code: int) -> bool:
    """``_is_printable`` of one character, by code point."""
    if code < 0x7F:
        return code >= 0x20 or code in (0x09, 0x0A, 0x0D)
    return (
        code == 0x85 or 0xA0 <= code <= 0xD7FF or 0xE000 <= code <= 0xFEFE or 0xFF00 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )  # fmt: skip


def plain_ok(text: str, flow: bool) -> bool:
    """Whether ``text`` can be written as a plain scalar that reads back as the same string."""
    if not text or text != text.strip(" \t") or "\n" in text or "\r" in text or "\t" in text:
        return False
    first = text[0]
    if first in _PLAIN_BAD_START:
        if first in "-?:" and len(text) > 1 and text[1] != " " and not (flow and text[1] in ",[]{}"):
            pass
        else:
            return False
    if ": " in text or " #" in text or text.endswith(":"):
        return False
    if text.startswith(("---", "...")) and (len(text) == 3 or text[3] == " "):
        return False
    if flow and (_FLOW_INDICATORS.search(text) or ":" in text):
        return False
    if not _is_printable(text) or "\ufeff" in text or _has_unicode_break(text):
        return False
    try:
        return isinstance(resolve_plain(text), str)
    except Uint64Overflow:
        return False


_DOUBLE_QUOTE_ESCAPED = re.compile('["\\\\\x00-\x1f\x7f]')


#: Strings that are certainly plain-safe in block context (``plain_ok``), found with one regex:
#: a letter, then ASCII word characters and punctuation without spaces, ``#`` or a ``:`` that
#: ends the text (every ENC[...] value, most names and tokens).
_BLOCK_PLAIN_SAFE = re.compile(r"[A-Za-z][A-Za-z0-9_./=+@,\[\]-]*(?::[A-Za-z0-9_./=+@,\[\]-]+)*\Z")
#: first letters of words go-yaml may read as something else than a string (true, null, ...)
_HINTED_LETTERS = frozenset("yYnNtTfFoO")


def _plain_safe(text: str) -> bool:
    """A quick ``plain_ok(text, flow=False)`` that may answer False for some safe strings."""
    if _BLOCK_PLAIN_SAFE.match(text) is None:
        return False
    return text[0] not in _HINTED_LETTERS or isinstance(resolve_plain(text), str)


def double_quoted(text: str) -> str:
    if text.isascii() and _DOUBLE_QUOTE_ESCAPED.search(text) is None:
        return '"' + text + '"'  # nothing to escape (the common case, e.g. every ENC[...] value)
    out = []
    for ch in text:
        escaped = _ESCAPES.get(ch)
        if escaped is not None:
            out.append(escaped)
        elif not _is_printable_char(ord(ch)) or ch == "\ufeff":
            code = ord(ch)
            if code <= 0xFF:
                out.append(f"\\x{code:02X}")
            elif code <= 0xFFFF:
                out.append(f"\\u{code:04X}")
            else:
                out.append(f"\\U{code:08X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _has_unicode_break(text: str) -> bool:
    """NEL, LS and PS are line breaks to YAML 1.1 readers (libyaml, go-yaml): only a double-quoted
    scalar (``\\N``, ``\\L``, ``\\P``) keeps them (fuzz finding json:e.output-type-yaml.unreadable)."""
    return not text.isascii() and ("\x85" in text or "\u2028" in text or "\u2029" in text)


def single_ok(text: str) -> bool:
    return (
        "\n" not in text and "\r" not in text and _is_printable(text) and "\ufeff" not in text
        and not _has_unicode_break(text)
    )  # fmt: skip


def single_quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def literal_ok(text: str) -> bool:
    """Whether a multi-line string can be a literal block scalar that reads back identically."""
    if "\r" in text or not _is_printable(text) or "\ufeff" in text or _has_unicode_break(text):
        return False
    body = text.rstrip("\n")
    if not body.strip(" \n"):
        return False
    # A first content line made of spaces only would confuse indentation detection; a trailing
    # line of spaces before the trailing newlines would be taken as chomped whitespace.
    return all(not line or line.strip(" ") for line in body.split("\n"))


def literal_block(text: str, indent: int, parent: int) -> str:
    """``|`` / ``|-`` / ``|+`` block (header + content lines, no final line break)."""
    stripped = text.rstrip("\n")
    trailing = len(text) - len(stripped)
    chomp = "-" if trailing == 0 else ("" if trailing == 1 else "+")
    lines = stripped.split("\n")
    first_content = next((line for line in lines if line), "")
    # a first line that starts with spaces needs an explicit indentation indicator
    indicator = str(max(1, min(indent - parent, 9))) if first_content.startswith(" ") else ""
    header = "|" + indicator + chomp
    pad = " " * indent
    body = "\n".join(pad + line if line else "" for line in lines)
    extra = "\n" * (trailing - 1) if trailing > 1 else ""
    return header + "\n" + body + extra


def format_float(value: float) -> str:
    """A float as sops/go-yaml writes it (``2.0`` -> ``2``, ``1e6`` -> ``1e+06``, ``.inf``),
    except negative zero: go-yaml's ``-0`` reads back as the integer 0, whose MAC text (``0``)
    is not the float's (``-0``), so sops cannot decrypt the file it wrote; pysops writes ``-0.0``
    (docs/formats.md#yaml-negative-zero)."""
    if value == 0.0 and str(value)[0] == "-":
        return "-0.0"
    return format_float_yaml(value)


def format_nonstr(value: Value | None) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_float(value)
    if isinstance(value, GoTime):
        return value.rfc3339nano()
    raise TypeError(type(value).__name__)


def format_str(
    text: str, *, flow: bool, old_style: str, block_indent: int | None, fresh: bool = False, block_parent: int = 0
) -> str:
    """Text for a string leaf, following the quoting of the text it replaces.

    ``block_indent``: the column a literal block's content would use, or None when a block
    scalar is not possible here.
    """
    if old_style == '"':
        return double_quoted(text)
    if old_style == "'" and not flow:
        return single_quoted(text) if single_ok(text) else double_quoted(text)
    if "\n" in text:
        if block_indent is not None and literal_ok(text):
            return literal_block(text, block_indent, block_parent)
        return double_quoted(text)
    # In flow context an ENC string replacing a plain value had to be single-quoted, so a
    # single-quoted value there is written plain again when that is possible.
    if (not flow and _plain_safe(text)) or plain_ok(text, flow):
        return text
    if fresh and _resolves_non_str(text):
        return double_quoted(text)  # like go-yaml: "true", "123", timestamps
    if single_ok(text):
        return single_quoted(text)
    return double_quoted(text)


def _resolves_non_str(text: str) -> bool:
    try:
        return not isinstance(resolve_plain(text), str)
    except Uint64Overflow:
        return True


def format_value(value: Value | None, *, flow: bool, old_style: str, block_indent: int | None,
                 block_parent: int = 0, fresh: bool = False) -> str:  # fmt: skip
    if isinstance(value, bytes):
        value = value.decode("utf-8", "surrogateescape")
    if isinstance(value, str):
        return format_str(
            value, flow=flow, old_style=old_style, block_indent=block_indent, fresh=fresh, block_parent=block_parent
        )
    text = format_nonstr(value)
    if flow and ":" in text:
        # libyaml reads no ":" in a plain scalar inside [...]/{...} (go-yaml does): a time there
        # is written quoted, with its tag so that it is still a time
        return '!!timestamp "' + text + '"'
    return text


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def _after_block_properties(text: str, pos: int) -> int:
    """The first token after the anchor/tag properties at ``pos`` (of a block collection, or of
    any node: blanks, line breaks and comments skipped)."""
    size = len(text)
    while pos < size:
        char = text[pos]
        if char in "&!":
            while pos < size and text[pos] not in " \t\r\n":
                pos += 1
        elif char in " \t\r\n":
            pos += 1
        elif char == "#":
            newline = text.find("\n", pos)
            pos = size if newline == -1 else newline + 1
        else:
            break
    return pos


class _Splicer:
    def __init__(self, text: str, step: int) -> None:
        self.text = text
        self.step = step
        self.edits: list[tuple[int, int, str]] = []

    def walk(self, node: Node | Comment, parent_col: int) -> None:
        """Record an edit for every changed leaf under ``node`` (``parent_col``: the column of the
        block that holds it). An explicit stack, not recursion: files have 20,000 leaves, and the
        edits are sorted before they are applied."""
        text = self.text
        edits = self.edits
        stack: list[tuple[Node | Comment, int]] = [(node, parent_col)]
        pop = stack.pop
        push = stack.append
        while stack:
            item, col = pop()
            parent = col
            if isinstance(item, Scalar):
                if item.changed and item.span is not None:
                    self.splice_scalar(item, col)
            elif isinstance(item, Comment):
                if item.changed and item.span is not None:
                    edits.append((item.span[0], item.span[1], "#" + item.text))
            else:
                span = item.span
                if span is not None and not item.style.startswith("f"):
                    first = span[0]
                    if text.startswith(("&", "!"), first):
                        # an anchored or tagged block collection ("- &a" + its items on the
                        # next lines) starts at its properties; its column is its first token's
                        first = _after_block_properties(text, first)
                    col = first - (text.rfind("\n", 0, first) + 1)
                    if isinstance(item, Sequence) and self.splice_comment_only(item, col, parent):
                        continue
                if isinstance(item, Mapping):
                    for member in item.items:
                        push((member.value if isinstance(member, Entry) else member, col))
                else:
                    for element in item.items:
                        push((element, col))

    def splice_comment_only(self, node: Sequence, col: int, parent_col: int) -> bool:
        """A block list whose items are all comments sops wrote as ``- ENC[...,type:comment]``
        items (sops's form of ``key: []  # c``): once they are written back as ``#`` lines the
        list needs a ``[]`` of its own, else it would read back as null. The ``[]`` takes the
        place of the first such item, one column right of an indentless list. Whether edits were
        recorded for ``node``."""
        comments = [item for item in node.items if isinstance(item, Comment)]
        dashes = [comment for comment in comments if comment.style == "-"]
        if not dashes or len(comments) != len(node.items) or not all(c.changed and c.span for c in dashes):
            return False
        first = dashes[0]
        for comment in comments:
            if comment.changed and comment.span is not None:
                new = "#" + comment.text
                if comment is first:
                    new = (" " if col <= parent_col else "") + "[]\n" + " " * col + new
                self.edits.append((comment.span[0], comment.span[1], new))
        return True

    def splice_scalar(self, scalar: Scalar, parent_col: int) -> None:
        assert scalar.span is not None
        start, end = scalar.span
        style = scalar.style
        value = scalar.value
        if not style and isinstance(value, str) and _plain_safe(value):
            self.edits.append((start, end, value))  # the common case: e.g. an ENC[...] value
            if start == end and start and self.text[start - 1] not in " \t\r\n":
                # an empty (null) value right after its indicator ("key:", "-"): a value needs
                # a space before it
                self.edits[-1] = (start, end, " " + value)
            return
        if start == end and start and self.text[start - 1] not in " \t\r\n":
            self.edits.append((start, start, " "))
        flow = style.startswith("f")
        old = style[1:] if flow else style
        text = self.text
        block = old in ("|", ">")
        new = format_value(
            value,
            flow=flow,
            old_style=old,
            block_indent=None if flow else parent_col + self.step,
            block_parent=parent_col,
        )
        if block:
            # (a tagged block's span starts at its tag: "!!binary |-"; the tag goes with it)
            header = _BLOCK_HEADER.match(text, _after_block_properties(text, start) if text[start] == "!" else start)
            header_end = header.end() if header else start
            line_end = text.find("\n", start)
            if line_end == -1 or line_end > end:
                line_end = end
            if text[header_end:line_end].strip():
                # a comment on the header line stays in place between the two halves
                first, sep, rest = new.partition("\n")
                if text[line_end - 1] == "\r":
                    line_end -= 1
                self.edits.append((start, header_end, first))
                self.edits.append((line_end, end, sep + rest if sep else ""))
                return
        elif new.startswith("|") and "\n" in new:
            line_end = text.find("\n", end)
            if line_end == -1:
                line_end = len(text)
            stop = line_end - 1 if line_end > end and text[line_end - 1] == "\r" else line_end
            if text[end:stop].strip():
                # a comment after the value stays on the line of the block's header, before its
                # content (else it would be read as part of the block's last line)
                first, _, rest = new.partition("\n")
                self.edits.append((start, end, first))
                self.edits.append((stop, stop, "\n" + rest))
                return
        self.edits.append((start, end, new))

    def apply(self, extra: list[tuple[int, int, str]]) -> str:
        edits = self.edits + extra
        edits.sort(key=lambda edit: (edit[0], edit[1]))
        text = self.text
        first_break = text.find("\n")
        # a CRLF file keeps its line breaks in what is spliced in (block scalars, metadata)
        crlf = first_break > 0 and text[first_break - 1] == "\r"
        out: list[str] = []
        pos = 0
        for start, end, replacement in edits:
            if start < pos:
                continue  # overlapping edit (cannot happen for well-formed trees)
            if crlf and "\n" in replacement:
                replacement = replacement.replace("\r\n", "\n").replace("\n", "\r\n")
            out.append(text[pos:start])
            out.append(replacement)
            pos = end
        out.append(text[pos:])
        return "".join(out)


def _has_changes(node: Node) -> bool:
    if isinstance(node, Scalar):
        return node.changed
    if isinstance(node, Mapping):
        return any(_has_changes(entry.value) for entry in node.entries())
    return any(_has_changes(item) for item in node.items if not isinstance(item, Comment))


def _same_data(a: Node, b: Node) -> bool:
    """Whether two nodes hold the same typed values (comments and styles aside)."""
    stack: list[tuple[Node, Node]] = [(a, b)]
    while stack:
        x, y = stack.pop()
        if isinstance(x, Scalar) or isinstance(y, Scalar):
            if not (isinstance(x, Scalar) and isinstance(y, Scalar)):
                return False
            if type(x.value) is not type(y.value) or x.value != y.value:
                return False
            continue
        if isinstance(x, Mapping) != isinstance(y, Mapping):
            return False
        xs = [item for item in x.items if not isinstance(item, Comment)]
        ys = [item for item in y.items if not isinstance(item, Comment)]
        if len(xs) != len(ys):
            return False
        for p, q in zip(xs, ys, strict=True):
            if isinstance(p, Entry) and isinstance(q, Entry):
                if p.key != q.key:
                    return False
                stack.append((p.value, q.value))
            elif isinstance(p, Entry) or isinstance(q, Entry):
                return False
            else:
                assert not isinstance(p, Comment) and not isinstance(q, Comment)
                stack.append((p, q))
    return True


def emit_flow(node: Node) -> str:
    """A one-line flow-style text of a node (for expanded aliases)."""
    if isinstance(node, Scalar):
        return format_value(node.value, flow=True, old_style="", block_indent=None)
    if isinstance(node, Mapping):
        parts = [
            f"{format_str(entry.key, flow=True, old_style='', block_indent=None)}: {emit_flow(entry.value)}"
            for entry in node.entries()
        ]
        return "{" + ", ".join(parts) + "}"
    return "[" + ", ".join(emit_flow(item) for item in node.items if not isinstance(item, Comment)) + "]"


def _sealed_comment_starts(branches: list[Mapping]) -> list[int]:
    """Where the comments of the tree that are written encrypted (``#ENC[...]``) start in the
    text, sorted."""
    found: list[int] = []
    stack: list[Node | Comment] = list(branches)
    while stack:
        node = stack.pop()
        if isinstance(node, Comment):
            if node.span is not None and node.text.startswith("ENC[AES256_GCM,"):
                found.append(node.span[0])
        elif isinstance(node, Mapping):
            stack.extend(item.value if isinstance(item, Entry) else item for item in node.items)
        elif isinstance(node, Sequence):
            stack.extend(node.items)
    found.sort()
    return found


def _copies_sealed_comment(text: str, target: Node, sealed: list[int]) -> bool:
    """Whether go-yaml, expanding an alias of the collection ``target``, would copy one of the
    ``sealed`` comments with it: one from the comment lines right above its anchor's line to its
    end. The copy stands at another path, where sops cannot decrypt that comment (its AAD is the
    path of the container it was sealed in), so such an alias is written out in full."""
    if not sealed or not isinstance(target, (Mapping, Sequence)) or target.span is None:
        return False
    from bisect import bisect_left  # only for files with aliases: off the decrypt start-up path

    start, end = target.span
    start = text.rfind("\n", 0, start) + 1
    while start > 0:
        above = text.rfind("\n", 0, start - 1) + 1
        line = text[above:start].strip()
        if line and not line.startswith("#"):
            break
        start = above
    index = bisect_left(sealed, start)
    return index < len(sealed) and sealed[index] < end


def render(doc: Document, metadata: dict[str, Any] | None, options: dict[str, Any] | None = None) -> bytes:
    """Render a document as YAML: splice into the source text, or emit afresh for conversions."""
    options = options or {}
    state = doc.state if isinstance(doc.state, YamlState) else None
    if doc.format != "yaml" or not isinstance(doc.text, str) or state is None:
        indent = int(options.get("indent", 4) or 4)
        return emit_document(doc.branches, metadata, indent).encode("utf-8")
    text = doc.text
    step = state.step or 2
    splicer = _Splicer(text, step)
    for branch in doc.branches:
        splicer.walk(branch, 0)
    # "*name" stands for the anchored node as it is written now: an alias whose copy differs
    # from it (a copy encrypted with its own AAD and IV, or one the selection rules leave in
    # clear while its anchor is encrypted) is written out in full.
    sealed = _sealed_comment_starts(doc.branches) if state.aliases else []
    for alias in state.aliases:
        if (
            _has_changes(alias.node)
            or not _same_data(alias.node, alias.target)
            or _copies_sealed_comment(text, alias.target, sealed)
        ):
            splicer.edits.append((alias.span[0], alias.span[1], emit_flow(alias.node)))
    for alias in state.scalar_aliases:
        copy = alias.node
        if not (isinstance(copy, Scalar) and not copy.changed and not _same_data(copy, alias.target)):
            continue  # a changed copy is spliced like any value (walk above)
        splicer.edits.append((alias.span[0], alias.span[1], emit_flow(copy)))
    # A key written as an alias ("*k : v") stays that key when its anchored value is encrypted
    # or changed: the key is written out (as sops writes every alias, expanded).
    for span, target, key, flow in state.key_aliases:
        if target.changed or target.value != key:
            splicer.edits.append((span[0], span[1], format_str(key, flow=flow, old_style="", block_indent=None)))
    extra: list[tuple[int, int, str]] = [(start, end, "") for start, end in state.sops_spans]
    # A flow-style root ({a: 1}, JSON text) cannot take a block "sops:" key: it is written in
    # block style, as sops writes every document (its comments included).
    flow_ends: dict[int, int] = {}
    for index, branch in enumerate(doc.branches):
        if branch.style.startswith("f") and branch.span is not None:
            start, end, replacement = _block_root(text, branch, state.step or 4, metadata is not None)
            extra.append((start, end, replacement))
            flow_ends[index] = end
    if metadata is not None:
        block = emit_block({"sops": metadata}, state.step or 4)
        for index, doc_end in enumerate(state.doc_ends):
            doc_end = max(doc_end, flow_ends.get(index, doc_end))
            prefix = ""
            before = _text_before(text, doc_end, state.sops_spans)
            if before and not before.endswith("\n"):
                prefix = "\n"
                if index < len(doc.branches):
                    _strip_block_at_end(text, doc.branches[index], _end_before(doc_end, state.sops_spans), splicer)
            indent = _root_indent(text, doc.branches[index]) if index < len(doc.branches) else 0
            if index < len(doc.branches) and _blank_before_metadata(
                text, doc_end, state.sops_spans, doc.branches[index], indent > 0
            ):
                prefix += "\n"
            if indent:
                # an indented root mapping ("  a: 1") takes its metadata at its own column
                pad = " " * indent
                extra.append((doc_end, doc_end, prefix + "".join(pad + line for line in block.splitlines(True))))
            else:
                extra.append((doc_end, doc_end, prefix + block))
    else:
        for index in sorted(state.only_sops):
            doc_end = state.doc_ends[index]
            doc_start = state.doc_ends[index - 1] if index else 0
            if _DOCUMENT_START.search(text, doc_start, doc_end):
                continue  # "---" alone is an (empty) document already
            before = _text_before(text, doc_end, state.sops_spans)
            extra.append((doc_end, doc_end, ("\n" if before and not before.endswith("\n") else "") + "{}\n"))
    out = splicer.apply(extra)
    if state.bom:
        out = "\ufeff" + out
    return out.encode("utf-8")


_DOCUMENT_START = re.compile(r"^---(?=[ \t\r\n]|\Z)", re.MULTILINE)


def _strip_block_at_end(text: str, branch: Mapping, end: int, splicer: _Splicer) -> None:
    """A block scalar that ends the text without a final line break (``a: >`` + ``  x``) holds
    no final line break, whatever its chomping says: when the metadata block (or the line break
    before it) follows, its header gets the strip indicator (``>-``), so that it still holds
    that value (``x``, not ``x\n``). Only for the document's last value, left as it was."""
    node: Node = branch
    while isinstance(node, (Mapping, Sequence)):
        last = _last_item(node)
        if last is None:
            return
        node = last.value if isinstance(last, Entry) else last
    if not isinstance(node, Scalar) or node.changed or node.style not in ("|", ">") or node.span is None:
        return
    start, stop = node.span
    if stop != end:
        return
    header = _after_block_properties(text, start)
    match = _BLOCK_HEADER.match(text, header)
    if match is None or "-" in match.group():
        return
    indicator = match.group().replace("+", "")
    splicer.edits.append((header, match.end(), indicator[:1] + "-" + indicator[1:]))


def _root_indent(text: str, branch: Mapping) -> int:
    """The column of a block root mapping's keys (0 for flow roots and empty documents)."""
    if branch.style.startswith("f") or branch.span is None or not branch.items:
        return 0
    start = branch.span[0]
    line_start = text.rfind("\n", 0, start) + 1
    prefix = text[line_start:start]
    return len(prefix) if not prefix.strip(" ") else 0


def _block_root(text: str, branch: Mapping, step: int, with_metadata: bool) -> tuple[int, int, str]:
    """The edit that writes a flow-style root mapping in block style: (start, end, replacement).

    The range runs from the root's line (or from after "---"/a tag on that line) to its closing
    brace, plus a comment after the brace on the same line. Comments of the root that lie before
    that range (head comments on their own lines) stay where they are; every other item is emitted.
    """
    assert branch.span is not None
    start, end = branch.span
    line_start = text.rfind("\n", 0, start) + 1
    prefix = text[line_start:start]
    lead = ""
    if prefix.strip(" \t"):
        # "--- {a: 1}" or "!!map {a: 1}": the block mapping starts on the next line
        start = line_start + len(prefix.rstrip(" \t"))
        lead = "\n"
    else:
        start = line_start
    line_end = text.find("\n", end)
    if line_end == -1:
        line_end = len(text)
    stop = line_end - 1 if line_end > end and text[line_end - 1] == "\r" else line_end
    if text[end:stop].lstrip(" \t").startswith("#"):
        end = stop
    kept: list[Entry | Comment] = [
        item for item in branch.items
        if not (isinstance(item, Comment) and item.span is not None and not start <= item.span[0] < end)
    ]  # fmt: skip
    lines: list[str] = []
    _emit_tree(Mapping(kept), 0, step, lines, None, False, _unchanged_texts(text, kept))
    if not lines:
        if not with_metadata:
            return start, end, lead + "{}"
        # nothing but the metadata: drop the line break after "{}" too
        return start, (line_end + 1 if line_end < len(text) else line_end), lead
    return start, end, lead + "\n".join(lines)


def _blank_before_metadata(
    text: str, index: int, removed: list[tuple[int, int]], root: Mapping, indented: bool
) -> bool:
    """Whether a blank line goes between the text before ``index`` (once the removed ranges are
    gone) and the metadata block: when its last non-blank line is a comment that is not the
    root's own (any comment, for an ``indented`` root). go-yaml reads a comment right above
    ``sops:`` as the root's (or, left of an indented root's column, as the block's before it);
    a blank line keeps it where it is at the end of the document, the container its AAD names.
    ``render`` puts that blank line there and ``parse`` removes it with the metadata block."""
    pos = index
    while pos > 0:
        for start, end in removed:
            if start < pos <= end:
                pos = start
                break
        else:
            line_start = text.rfind("\n", 0, pos - 1) + 1 if text[pos - 1] == "\n" else text.rfind("\n", 0, pos) + 1
            line = text[line_start:pos]
            stripped = line.strip()
            if stripped:
                if not stripped.startswith("#"):
                    return False
                column = line.index("#")
                depth = _comment_depth(root, line_start + column)
                # a root comment indented past column 0 right above "sops:" is, for go-yaml, the
                # foot of the entry before it when that entry holds a deeper mapping
                if indented:
                    # after a root entry whose value is a scalar no block can take the comments;
                    # with the blank line go-yaml would lose a comment at (or right of) the
                    # root's column that a dedented one follows ("  a: 1\n  # c\n# d")
                    return depth >= 0 and not _last_entry_scalar(root)
                if depth == 0 and column > 0 and _ends_with_indentless_list(text, root):
                    # the root's comment after a root key's indentless list, right above "---"
                    # when parsed (``_above_marker``): go-yaml reads it in the list after a
                    # blank line, and as the root's right above "sops:"
                    return False
                return depth > 0 or (depth == 0 and column > 0)
            pos = line_start
    return False


def _ends_with_indentless_list(text: str, root: Mapping) -> bool:
    """Whether the last entry of ``root`` (before its metadata entry, while parsing) holds a
    block list at column 0 ("k:\n- 1") whose last item is a scalar or a flow collection."""
    for item in reversed(root.items):
        if isinstance(item, Entry) and item.key != "sops":
            value = item.value
            if not isinstance(value, Sequence) or value.style.startswith("f") or value.span is None:
                return False
            start = _after_block_properties(text, value.span[0])  # "k: &a\n- 1"
            if start != text.rfind("\n", 0, start) + 1:
                return False
            return _flat(_last_item(value))
    return False


def _last_entry_scalar(root: Mapping) -> bool:
    """Whether the last entry of ``root`` (before its metadata entry, while parsing) holds a
    scalar or a flow collection: no block of it is open at the end of the document."""
    for item in reversed(root.items):
        if isinstance(item, Entry) and item.key != "sops":
            value = item.value
            return isinstance(value, Scalar) or (value.style.startswith("f") and value.span is not None)
    return False


def _comment_depth(root: Mapping, pos: int) -> int:
    """How deep below ``root`` the comment starting at ``pos`` is (0: one of the root's own
    items; -1: no comment starts there, e.g. a ``#`` line inside a block scalar)."""
    stack: list[tuple[Mapping | Sequence, int]] = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        for item in node.items:
            if isinstance(item, Comment):
                if item.span is not None and item.span[0] == pos:
                    return depth
                continue
            value = item.value if isinstance(item, Entry) else item
            if isinstance(value, (Mapping, Sequence)):
                stack.append((value, depth + 1))
    return -1


def _unchanged_texts(text: str, items: list[Entry | Comment]) -> dict[int, str]:
    """The source text of every unchanged one-line scalar under ``items`` (a flow root being
    written in block style), by ``id``: such a value keeps its spelling (``~``, ``0x1F``,
    ``'q'``), which is valid in block context too."""
    keep: dict[int, str] = {}
    stack: list[Node] = [item.value for item in items if isinstance(item, Entry)]
    while stack:
        node = stack.pop()
        if isinstance(node, Scalar):
            if not node.changed and node.span is not None and node.style[1:2] in ("", "'", '"'):
                source = text[node.span[0] : node.span[1]]
                if source and "\n" not in source and "\r" not in source and not source.startswith(("*", "&")):
                    keep[id(node)] = source
            continue
        for item in node.items:
            if isinstance(item, Entry):
                stack.append(item.value)
            elif not isinstance(item, Comment):
                stack.append(item)
    return keep


def _text_before(text: str, index: int, removed: list[tuple[int, int]]) -> str:
    """The text before ``index`` once the removed ranges are gone (only its end matters)."""
    pos = _end_before(index, removed)
    return text[max(0, pos - 1) : pos]


def _end_before(index: int, removed: list[tuple[int, int]]) -> int:
    """Where the text before ``index`` ends once the removed ranges are gone."""
    pos = index
    changed = True
    while changed:
        changed = False
        for start, end in removed:
            if start < pos <= end:
                pos = start
                changed = True
    return pos


# --------------------------------------------------------------------------------------------
# Fresh emission (conversion from another format, metadata block)
# --------------------------------------------------------------------------------------------


def _key_text(key: str) -> str:
    return format_str(key, flow=False, old_style="", block_indent=None, fresh=True)


def emit_block(data: dict[str, Any], step: int) -> str:
    """Block-style YAML of plain data (dicts, lists, scalars) in go-yaml's layout."""
    lines: list[str] = []
    root = _from_plain(data)
    assert isinstance(root, Mapping)
    _emit_tree(root, 0, step, lines, None)
    return "\n".join(lines) + "\n"


def _from_plain(data: Any) -> Node:
    """A comment-free tree of plain data (the metadata block), for ``_emit_tree``."""
    if isinstance(data, dict):
        return Mapping([Entry(str(key), _from_plain(value)) for key, value in data.items()])
    if isinstance(data, list):
        return Sequence([_from_plain(item) for item in data])
    return Scalar(data)


def _child_indent(indent: int, step: int, in_sequence_item: bool) -> int:
    if in_sequence_item:
        # keys of a mapping that is a sequence item sit at dash + 2; nest relative to the dash
        dash = indent - 2
        return dash + step if step > 2 else indent + step
    return indent + step


def _comment_lines(text: str, pad: str) -> str:
    """A comment's text after its first ``#``: a text of several lines (an INI comment) goes on
    as one ``#`` line each, ``# `` before a line that has no ``#`` of its own, as go-yaml writes
    sops's comments (else the next lines would not be comments)."""
    if "\n" not in text:
        return text
    first, *rest = text.split("\n")
    return "\n".join([first] + [pad + (line if line.startswith("#") else "# " + line) for line in rest])


def _emit_tree(node: Node, indent: int, step: int, lines: list[str], first_prefix: str | None,
               in_item: bool = False, keep: dict[int, str] | None = None) -> None:  # fmt: skip
    """Emit a Mapping/Sequence with comments (fresh text for conversions). ``keep`` maps
    ``id(scalar)`` to the text to write for that scalar (its source text, see ``_block_root``)."""
    pad = " " * indent
    if isinstance(node, Mapping):
        first = True
        for item in node.items:
            lead = first_prefix if first and first_prefix is not None else pad
            first = False
            if isinstance(item, Comment):
                if lead is first_prefix:
                    # "- " then a comment: the comment goes on the dash line, the keys below it
                    lines.append(f"{lead}#{_comment_lines(item.text, pad)}")
                    first_prefix = None
                else:
                    lines.append(f"{pad}#{_comment_lines(item.text, pad)}")
                continue
            head = f"{lead}{_key_text(item.key)}:"
            _emit_node_value(item.value, head, _child_indent(indent, step, in_item), step, lines, keep)
    elif isinstance(node, Sequence):
        for index, element in enumerate(node.items):
            lead = first_prefix if index == 0 and first_prefix is not None else pad
            if isinstance(element, Comment):
                lines.append(f"{lead}#{_comment_lines(element.text, pad)}")
                continue
            lead += "- "
            if isinstance(element, Mapping) and list(element.entries()):
                _emit_tree(element, indent + 2, step, lines, lead, True, keep)
            elif isinstance(element, Sequence) and [i for i in element.items if not isinstance(i, Comment)]:
                _emit_tree(element, indent + 2, step, lines, lead, False, keep)
            elif isinstance(element, Mapping):
                lines.append(lead + "{}")
            elif isinstance(element, Sequence):
                lines.append(lead + "[]")
            elif keep is not None and id(element) in keep:
                lines.append(lead + keep[id(element)])
            else:
                lines.append(lead + _scalar_text(element.value, indent + 2, indent))


def _scalar_text(value: Value | None, block_indent: int, block_parent: int) -> str:
    return format_value(
        value, flow=False, old_style="", block_indent=block_indent, block_parent=block_parent, fresh=True
    )


def _emit_node_value(value: Node, head: str, child: int, step: int, lines: list[str],
                     keep: dict[int, str] | None = None) -> None:  # fmt: skip
    if isinstance(value, (Mapping, Sequence)):
        if not value.items:
            lines.append(head + (" {}" if isinstance(value, Mapping) else " []"))
            return
        if not any(not isinstance(item, Comment) for item in value.items):
            # only comments (an INI section holding just a comment): go-yaml writes the empty
            # collection in flow style around them, so it reads back empty and not as null
            opening, closing = ("{", "}") if isinstance(value, Mapping) else ("[", "]")
            lines.append(f"{head} {opening}")
            pad = " " * child
            lines.extend(f"{pad}#{_comment_lines(item.text, pad)}" for item in value.items if isinstance(item, Comment))
            lines.append(" " * (len(head) - len(head.lstrip(" "))) + closing)
            return
        lines.append(head)
        _emit_tree(value, child, step, lines, None, False, keep)
    elif keep is not None and id(value) in keep:
        lines.append(head + " " + keep[id(value)])
    else:
        lines.append(head + " " + _scalar_text(value.value, child, len(head) - len(head.lstrip(" -"))))


def emit_sequence(node: Sequence, step: int = 4) -> str:
    """A list in block style with a final newline (``--extract`` of a list, like sops)."""
    if not any(not isinstance(item, Comment) for item in node.items):
        # a list of comments only (sops's form of ``k: []  # c``): the comments, then ``[]``
        comments = [item for item in node.items if isinstance(item, Comment)]
        return "".join("#" + _comment_lines(item.text, "") + "\n" for item in comments) + "[]\n"
    lines: list[str] = []
    _emit_tree(node, 0, step, lines, None)
    return "\n".join(lines) + "\n"


def emit_document(branches: list[Mapping], metadata: dict[str, Any] | None, step: int = 4) -> str:
    """A fresh YAML text of the branches (and metadata), like sops's emitter lays it out."""
    parts: list[str] = []
    for branch in branches or [Mapping()]:
        lines: list[str] = []
        if branch.items:
            _emit_tree(branch, 0, step, lines, None)
        text = "\n".join(lines) + "\n" if lines else ""
        if metadata is not None:
            text += emit_block({"sops": metadata}, step)
        elif text and not any(isinstance(item, Entry) for item in branch.items):
            text += "{}\n"  # comments alone would read back as an empty document, not a mapping
        parts.append(text if text else "{}\n")
    return "---\n".join(parts)
