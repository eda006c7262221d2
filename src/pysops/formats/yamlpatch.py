"""Structural edits of a YAML text: add, replace or remove one entry or list element.

The YAML store renders a changed tree by splicing changed scalars into the source text; it does
not re-lay out containers whose items were added or removed. ``set``/``unset`` need exactly one
such change, so this module patches the text around it: the new item is written in block style
at the container's indentation (flow collections are rewritten in flow style), with the
placeholder ``_`` for every new scalar; removed items take their lines with them. The caller
parses the patched text again and puts the real (encrypted) values into the placeholders, so
every other byte of the file stays as it was.

``patch`` returns None when the layout is not one it knows how to patch safely (anchors and
aliases, an empty document, a key it cannot find in the text); the caller then re-emits the
whole document instead.
"""

from __future__ import annotations

from pysops._typing import NamedTuple
from pysops.document import Comment, Document, Entry, Mapping, Node, Scalar, Sequence
from pysops.formats.yaml import YamlState, _after_block_properties, _last_end, format_str
from pysops.tree import Change, PathPart, container_at

PLACEHOLDER = "_"


class _Unsupported(Exception):
    pass


class Patched(NamedTuple):
    """The patched text and where its placeholders are: member ``ordinal`` (comments not
    counted) of the container at ``container_path`` is ``node`` written with placeholders;
    ``node`` is None when nothing new was written (a removal)."""

    text: str
    container_path: tuple[PathPart, ...] = ()
    ordinal: int = 0
    node: Node | None = None


def patch(doc: Document, change: Change) -> Patched | None:
    """The text of ``doc`` with ``change`` (already applied to the tree) written into it."""
    state = doc.state
    text = doc.text
    if not isinstance(state, YamlState) or not isinstance(text, str) or state.aliases or not doc.branches:
        return None
    patcher = _Patcher(text, state.step or 2, doc.branches[0])
    try:
        new_text = patcher.apply(change)
    except _Unsupported:
        return None
    if patcher.fresh is None:
        return Patched(new_text)
    path, ordinal, node = patcher.fresh
    return Patched(new_text, path, ordinal, node)


class _Patcher:
    def __init__(self, text: str, step: int, root: Mapping) -> None:
        self.text = text
        self.step = step
        self.root = root
        self.fresh: tuple[tuple[PathPart, ...], int, Node] | None = None

    # --- positions ----------------------------------------------------------------------------

    def column(self, pos: int) -> int:
        return pos - (self.text.rfind("\n", 0, pos) + 1)

    def line_start(self, pos: int) -> int:
        return self.text.rfind("\n", 0, pos) + 1

    def line_after(self, pos: int) -> int:
        """The start of the line after the one ``pos`` is on (``pos`` if it starts a line)."""
        text = self.text
        if pos > 0 and text[pos - 1] == "\n":
            return pos
        newline = text.find("\n", pos)
        if newline == -1:
            raise _Unsupported("no line break at the end of the file")
        return newline + 1

    def skip_blank(self, pos: int) -> int:
        """The next position after ``pos`` that is not whitespace or inside a comment."""
        text = self.text
        while pos < len(text):
            char = text[pos]
            if char in " \t\r\n":
                pos += 1
            elif char == "#":
                newline = text.find("\n", pos)
                pos = len(text) if newline == -1 else newline + 1
            else:
                break
        return pos

    @staticmethod
    def span_of(item: Entry | Comment | Node) -> tuple[int, int]:
        node = item.value if isinstance(item, Entry) else item
        if node.span is None:
            raise _Unsupported("an item without a position")
        return node.span

    @staticmethod
    def own_comments(container: Mapping | Sequence, start: int, end: int) -> list[tuple[int, int]]:
        """The spans of ``container``'s own comments that lie in ``start:end`` (a line comment
        ``k: v  # c``, or ``k: # c`` above a block value), which sops keeps when it replaces or
        removes the entry."""
        return [
            item.span for item in container.items
            if isinstance(item, Comment) and item.span is not None and start <= item.span[0] < end
        ]  # fmt: skip

    def item_start(self, container: Mapping | Sequence, index: int, value_start: int) -> int:
        """Where item ``index`` of a block container begins: its key, or its ``-``.

        ``value_start`` is where the item's value begins in the text. The item begins at the
        first token after the previous member's value. Comments are passed over: one on the
        item's own line sits before it in ``items`` but after its key in the text
        (``key: # c`` + a block value on the next lines, or ``key: x  # c``)."""
        if container.span is None:
            raise _Unsupported("a container without a position")
        for item in reversed(container.items[:index]):
            if isinstance(item, Comment):
                continue
            start, end = self.span_of(item)
            if start < value_start:
                return self.skip_blank(end)
        # an anchored or tagged container ("k: &a" + its items) begins at its properties
        return _after_block_properties(self.text, container.span[0])

    def check_start(self, container: Mapping | Sequence, start: int, key: str | None) -> None:
        text = self.text
        if isinstance(container, Sequence):
            if text[start : start + 1] != "-":
                raise _Unsupported("list element not found")
        elif key is not None and not (text.startswith(key, start) or text[start : start + 1] in ("'", '"')):
            raise _Unsupported("key not found")

    # --- emission -----------------------------------------------------------------------------

    def entry_text(self, key: str, node: Node, col: int) -> str:
        """``key: value`` starting at column ``col`` (no leading indentation), ending in ``\\n``."""
        head = format_str(key, flow=False, old_style="", block_indent=None, fresh=True) + ":"
        if isinstance(node, Scalar):
            return f"{head} {PLACEHOLDER}\n"
        if not _members(node):
            return f"{head} {'{}' if isinstance(node, Mapping) else '[]'}\n"
        inner = col + self.step
        return head + "\n" + self.block_body(node, inner)

    def item_text(self, node: Node, col: int) -> str:
        """``- value`` starting at column ``col`` (no leading indentation), ending in ``\\n``."""
        if isinstance(node, Scalar):
            return f"- {PLACEHOLDER}\n"
        if not _members(node):
            return "- {}\n" if isinstance(node, Mapping) else "- []\n"
        body = self.block_body(node, col + 2)
        return "- " + body[col + 2 :]

    def block_body(self, node: Mapping | Sequence, col: int) -> str:
        pad = " " * col
        if isinstance(node, Mapping):
            return "".join(pad + self.entry_text(e.key, e.value, col) for e in node.entries())
        return "".join(pad + self.item_text(item, col) for item in _members(node))  # type: ignore[arg-type]

    def flow_text(self, node: Node) -> str:
        if isinstance(node, Scalar):
            return PLACEHOLDER
        if isinstance(node, Mapping):
            return "{" + ", ".join(f"{_flow_key(e.key)}: {self.flow_text(e.value)}" for e in node.entries()) + "}"
        return "[" + ", ".join(self.flow_text(i) for i in _members(node)) + "]"  # type: ignore[arg-type]

    # --- changes ------------------------------------------------------------------------------

    def apply(self, change: Change) -> str:
        container = change.container
        if container.style.startswith("f"):
            return self.rewrite_flow(change)
        if change.kind == "add":
            return self.add(change)
        if change.kind == "replace":
            return self.replace(container, change.position, change.old, change.container_path)
        if change.kind == "remove":
            return self.remove(change)
        raise _Unsupported(change.kind)

    def add(self, change: Change) -> str:
        container = change.container
        text = self.text
        item = container.items[-1]
        if len(container.items) == 1 or container.span is None:
            raise _Unsupported("adding to an empty block container")
        col = self.column(_after_block_properties(text, container.span[0]))
        pos = self.line_after(self.span_of(container.items[-2])[1])
        if isinstance(item, Entry):
            new = " " * col + self.entry_text(item.key, item.value, col)
        else:
            new = " " * col + self.item_text(item, col)  # type: ignore[arg-type]
        self.fresh = (change.container_path, len(_members(container)) - 1, _value(item))  # type: ignore[arg-type]
        return text[:pos] + new + text[pos:]

    def replace(self, container: Mapping | Sequence, index: int, old: Node | None, path: tuple[PathPart, ...]) -> str:
        if old is None or old.span is None:
            raise _Unsupported("replacing a value without a position")
        item = container.items[index]
        start = self.item_start(container, index, old.span[0])
        self.check_start(container, start, item.key if isinstance(item, Entry) else None)
        # a block collection's span runs to the next token: the comments after its last item that
        # are not its own (the container's, e.g. at column 0) stay, as sops keeps them
        end = self.line_after(_last_end(old))
        col = self.column(start)
        new = (
            self.entry_text(item.key, item.value, col) if isinstance(item, Entry) else self.item_text(item, col)  # type: ignore[arg-type]
        )
        self.fresh = (path, _ordinal(container, index), _value(item))  # type: ignore[arg-type]
        # the container's own comments in the replaced lines (``k: # c`` above a block value):
        # sops keeps them, above the entry; each on its own line at the entry's column
        kept = self.own_comments(container, start, end)
        if kept and not self.text[self.line_start(start) : start].strip():
            newline = _newline_before(self.text, end)
            pad = " " * col
            new = "".join(self.text[c[0] : c[1]] + newline + pad for c in kept) + new
        return self.text[:start] + new + self.text[end:]

    def remove(self, change: Change) -> str:
        container = change.container
        text = self.text
        if change.old is None or change.old.span is None:
            raise _Unsupported("removing a value without a position")
        start = self.item_start(container, change.position, change.old.span[0])
        self.check_start(container, start, None)
        end = self.line_after(change.old.span[1])
        if not _members(container) and change.container_path:
            # an emptied container becomes {} or [] in its parent
            return self.replace_in_parent(change.container_path, container)
        head = self.line_start(start)
        if text[head:start].strip():
            # the first entry of a ``- key: value`` item: the next one moves up onto the dash line
            if not _members(container):
                raise _Unsupported("emptying a compact list item")
            return text[:start] + text[self.skip_blank(end) :]
        # sops keeps the comments on the removed entry's lines that are the container's own (a
        # line comment, ``k: v  # c``): they stay, each on its own line at the entry's column
        kept = self.own_comments(container, start, end)
        if kept:
            newline = _newline_before(text, end)
            pad = text[head:start]
            lines = "".join(pad + text[c[0] : c[1]] + newline for c in kept)
            return text[:head] + lines + text[end:]
        return text[:head] + text[end:]

    def replace_in_parent(self, path: tuple[PathPart, ...], node: Mapping | Sequence) -> str:
        parent = container_at(self.root, path[:-1])
        last = path[-1]
        if isinstance(parent, Mapping):
            index = next(i for i, it in enumerate(parent.items) if isinstance(it, Entry) and it.value is node)
        else:
            index = [i for i, it in enumerate(parent.items) if not isinstance(it, Comment)][int(last)]
        if parent.style.startswith("f"):
            raise _Unsupported("a flow parent")
        return self.replace(parent, index, node, path[:-1])

    def rewrite_flow(self, change: Change) -> str:
        container = change.container
        if container.span is None:
            raise _Unsupported("a flow container without a position")
        was_empty = change.kind == "add" and len(_members(container)) == 1
        if was_empty and change.container_path:
            parent = container_at(self.root, change.container_path[:-1])
            if not parent.style.startswith("f"):
                return self.replace_in_parent(change.container_path, container)
        parts: list[str] = []
        for position, item in enumerate(container.items):
            if isinstance(item, Comment):
                raise _Unsupported("a comment in a flow collection")
            node = item.value if isinstance(item, Entry) else item
            fresh = position == change.position and change.kind in ("add", "replace")
            if fresh:
                value = self.flow_text(node)
            elif node.span is None:
                raise _Unsupported("a flow item without a position")
            else:
                value = self.text[node.span[0] : node.span[1]]
            parts.append(f"{_flow_key(item.key)}: {value}" if isinstance(item, Entry) else value)
        if change.kind in ("add", "replace"):
            item = container.items[change.position]
            self.fresh = (change.container_path, _ordinal(container, change.position), _value(item))  # type: ignore[arg-type]
        opening, closing = ("{", "}") if isinstance(container, Mapping) else ("[", "]")
        start, end = container.span
        return self.text[:start] + opening + ", ".join(parts) + closing + self.text[end:]


def _members(node: Mapping | Sequence) -> list[Entry | Node]:
    return [item for item in node.items if not isinstance(item, Comment)]


def _value(item: Entry | Node) -> Node:
    return item.value if isinstance(item, Entry) else item


def _ordinal(container: Mapping | Sequence, index: int) -> int:
    return sum(1 for item in container.items[:index] if not isinstance(item, Comment))


def _flow_key(key: str) -> str:
    return format_str(key, flow=True, old_style="", block_indent=None, fresh=True)


def fill(placeholder: Node, value: Node) -> bool:
    """Copy the values of ``value`` into the parsed placeholder tree (same shape); marks them
    changed so the store splices them. False when the shapes differ."""
    if isinstance(value, Scalar):
        if not isinstance(placeholder, Scalar):
            return False
        placeholder.set(value.value)
        return True
    if isinstance(value, Mapping):
        if not isinstance(placeholder, Mapping):
            return False
        entries, values = list(placeholder.entries()), list(value.entries())
        return len(entries) == len(values) and all(
            p.key == v.key and fill(p.value, v.value) for p, v in zip(entries, values, strict=True)
        )
    if not isinstance(placeholder, Sequence):
        return False
    left, right = _members(placeholder), _members(value)
    return len(left) == len(right) and all(fill(p, v) for p, v in zip(left, right, strict=True))  # type: ignore[arg-type]


def _newline_before(text: str, end: int) -> str:
    """The line break that ends at ``end`` (CRLF kept)."""
    return "\r\n" if text[end - 2 : end] == "\r\n" else "\n"
