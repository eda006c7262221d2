"""Independent typed readers for comparing what the two tools print.

Nothing here uses pysops: YAML is read with libyaml's event parser (PyYAML's ``CParser``) and
typed with go-yaml v3's resolution rules (the ones sops sees), JSON with the standard library
keeping duplicate keys and the int/float spelling, dotenv and INI with small line readers. A
document becomes ``Parsed(docs, comments)``: ``docs`` a list of typed trees (``("map", [(k, v)])``,
``("seq", [...])``, ``(type, value)`` for scalars) and ``comments`` the comment texts in order.
"""

from __future__ import annotations

import base64
import json
import math
import re
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

Tree = Any


@dataclass
class Parsed:
    docs: list[Tree]
    comments: list[str]
    #: YAML: where each comment's ``#`` is (a text offset), parallel to ``comments``
    comment_at: list[int] = field(default_factory=list)
    #: YAML: the text span ``(start, end)`` of each anchored node that has aliases, once per alias
    #: (the anchor's line to the end of its last content line, plus the comment lines after it
    #: indented at least as deep as its content)
    alias_regions: list[tuple[int, int]] = field(default_factory=list)


class OracleError(Exception):
    """The oracle could not read a text (the text is broken, or the oracle is too simple)."""


# ---- YAML ------------------------------------------------------------------------------------

_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_TS = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:(?:[Tt](\d{1,2}):(\d{1,2}):(\d{1,2})(\.\d+)?(Z|[+-]\d{2}:\d{2}))"
    r"|(?: (\d{1,2}):(\d{1,2}):(\d{1,2})(\.\d+)?))?$"
)
_NULLS = {"~", "null", "Null", "NULL", ""}
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_SPECIAL_FLOATS = {
    ".inf": "inf",
    ".Inf": "inf",
    ".INF": "inf",
    "+.inf": "inf",
    "+.Inf": "inf",
    "+.INF": "inf",
    "-.inf": "-inf",
    "-.Inf": "-inf",
    "-.INF": "-inf",
    ".nan": "nan",
    ".NaN": "nan",
    ".NAN": "nan",
}
INT64 = 2**63


def _go_parse_int(s: str) -> int | None:
    """``strconv.ParseInt(s, 0, 64)`` (then ``ParseUint``): sign, 0x/0o/0b/0 prefixes."""
    m = re.fullmatch(r"([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)", s)
    if not m:
        return None
    sign, body = m.groups()
    low = body.lower()
    if low.startswith("0x"):
        v = int(body[2:], 16)
    elif low.startswith("0o"):
        v = int(body[2:], 8)
    elif low.startswith("0b"):
        v = int(body[2:], 2)
    elif body.startswith("0") and len(body) > 1:
        v = int(body[1:], 8)
    else:
        v = int(body)
    v = -v if sign == "-" else v
    if -INT64 <= v < INT64 or (sign != "-" and v < 2**64):
        return v
    return None


def _ts(s: str) -> str | None:
    m = _TS.match(s)
    if not m:
        return None
    g = m.groups()
    try:
        if g[3] is not None:
            frac = g[6] or ""
            tz = timezone.utc if g[7] in ("Z", None) else _tz(g[7])
            dt = datetime(int(g[0]), int(g[1]), int(g[2]), int(g[3]), int(g[4]), int(g[5]), tzinfo=tz)
        elif g[8] is not None:
            frac = g[11] or ""
            dt = datetime(int(g[0]), int(g[1]), int(g[2]), int(g[8]), int(g[9]), int(g[10]), tzinfo=timezone.utc)
        else:
            frac = ""
            dt = datetime(int(g[0]), int(g[1]), int(g[2]), tzinfo=timezone.utc)
    except ValueError:
        return None
    digits = frac[1:].rstrip("0")
    off = dt.utcoffset() or timedelta(0)
    zone = "Z" if off == timedelta(0) else dt.strftime("%z")[:3] + ":" + dt.strftime("%z")[3:]
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + ("." + digits if digits else "") + zone


def _tz(s: str) -> timezone:
    sign = -1 if s[0] == "-" else 1
    return timezone(sign * timedelta(hours=int(s[1:3]), minutes=int(s[4:6])))


def _float(s: str) -> tuple[str, str]:
    v = float(s)
    if math.isinf(v):
        return ("float", "inf" if v > 0 else "-inf")
    return ("float", repr(v))


def resolve_plain(s: str) -> tuple[str, Any]:
    """The go-yaml v3 type of an untagged plain scalar."""
    if s in _NULLS:
        return ("null", None)
    if s in _BOOLS:
        return ("bool", _BOOLS[s])
    if s in _SPECIAL_FLOATS:
        return ("float", _SPECIAL_FLOATS[s])
    if s[:1] in "0123456789+-.":
        t = _ts(s)
        if t is not None:
            return ("time", t)
        plain = s.replace("_", "")
        v = _go_parse_int(plain)
        if v is not None:
            if v >= INT64:
                return ("uint", v)
            return ("int", v)
        if _FLOAT.match(plain):
            try:
                return _float(plain)
            except (ValueError, OverflowError):
                pass
    return ("str", s)


def _resolve(value: str, tag: str | None, implicit: tuple[bool, bool], style: str | None) -> tuple[str, Any]:
    if tag and tag not in ("!", "?"):
        short = tag.replace("tag:yaml.org,2002:", "!!")
        if short == "!!str":
            return ("str", value)
        if short == "!!binary":
            try:
                return ("str", base64.b64decode(value.replace("\n", "").replace(" ", "")).decode("utf-8", "replace"))
            except ValueError:
                return ("str", value)
        if short in ("!!int", "!!float", "!!bool", "!!null", "!!timestamp"):
            r = resolve_plain(value)
            if short == "!!float" and r[0] == "int":
                return ("float", repr(float(r[1])))
            return r
        # any other tag (local `!x`, non-specific `!`): go-yaml gives sops a string
        return ("str", value)
    if style in ("'", '"', "|", ">"):
        return ("str", value)
    return resolve_plain(value)


def _line_starts(text: str) -> list[int]:
    starts = [0]
    for m in re.finditer(r"\r\n|\r|\n|\x85|\u2028|\u2029", text):
        starts.append(m.end())
    return starts


def parse_yaml(data: bytes) -> Parsed:
    import yaml  # type: ignore[import-untyped]

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise OracleError(f"not utf-8: {exc}") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        events = list(yaml.parse(text, Loader=yaml.CSafeLoader))
    except yaml.YAMLError as exc:
        raise OracleError(str(exc).splitlines()[0]) from None
    starts = _line_starts(text)
    masked: list[tuple[int, int]] = []
    docs: list[Tree] = []
    anchors: dict[str, Tree] = {}
    stack: list[list[Any]] = []  # each: [kind, items, anchor, start, content end, content column]
    regions: dict[str, tuple[int, int, int]] = {}  # anchor -> (start, content end, content column)
    alias_regions: list[tuple[int, int, int]] = []

    def content(start: int, end: int, column: int) -> None:
        for frame in stack:
            frame[4] = max(frame[4], end)
            if frame[5] < 0:
                frame[5] = column

    def pos(mark: Any) -> int:
        return starts[mark.line] + mark.column if mark.line < len(starts) else len(text)

    def add(node: Tree) -> None:
        if not stack:
            # an empty or null document (``---`` alone, ``~``) is, for go-yaml decoding into the
            # tree sops builds (and for pysops), the same empty mapping as ``{}``
            docs.append(("map", []) if node == ("null", None) else node)
        else:
            stack[-1][1].append(node)

    for ev in events:
        name = type(ev).__name__
        if name == "ScalarEvent":
            if ev.style in ("|", ">") and ev.start_mark.line + 1 < len(starts):
                # a block scalar's content starts on the line after its header: a comment on the
                # header line (``k: |- # c``) is a comment, not content
                masked.append((starts[ev.start_mark.line + 1], pos(ev.end_mark)))
            else:
                masked.append((pos(ev.start_mark), pos(ev.end_mark)))
            node = _resolve(ev.value, ev.tag, ev.implicit, ev.style)
            content(pos(ev.start_mark), pos(ev.end_mark), ev.start_mark.column)
            if ev.anchor:
                anchors[ev.anchor] = node
                regions[ev.anchor] = (pos(ev.start_mark), pos(ev.end_mark), ev.start_mark.column)
            add(node)
        elif name == "AliasEvent":
            if ev.anchor not in anchors:
                raise OracleError("undefined alias")
            content(pos(ev.start_mark), pos(ev.end_mark), ev.start_mark.column)
            if ev.anchor in regions:
                alias_regions.append(regions[ev.anchor])
            add(anchors[ev.anchor])
        elif name in ("MappingStartEvent", "SequenceStartEvent"):
            kind = "map" if name == "MappingStartEvent" else "seq"
            stack.append([kind, [], ev.anchor, pos(ev.start_mark), pos(ev.end_mark), -1])
        elif name in ("MappingEndEvent", "SequenceEndEvent"):
            kind, items, anchor, start, end, column = stack.pop()
            content(start, end, column)
            if anchor:
                regions[anchor] = (start, end, column)
            if kind == "map":
                node = ("map", [(items[i], items[i + 1]) for i in range(0, len(items), 2)])
            else:
                node = ("seq", items)
            if anchor:
                anchors[anchor] = node
            add(node)
        elif name == "DocumentStartEvent":
            anchors = {}
            regions = {}
    masked.sort()
    comments = []
    comment_at: list[int] = []
    for ln, start in enumerate(starts):
        end = starts[ln + 1] if ln + 1 < len(starts) else len(text)
        line = text[start:end]
        i = 0
        while True:
            i = line.find("#", i)
            if i < 0:
                break
            p = start + i
            if not any(a <= p < b for a, b in masked) and (i == 0 or line[i - 1] in " \t"):
                comments.append(line[i + 1 :].rstrip("\r\n\x85\u2028\u2029"))
                comment_at.append(p)
                break
            i += 1
    spans = []
    for start, end, column in alias_regions:
        # from the anchor's line to the end of its last content line, then the comment (or blank)
        # lines after it indented at least as deep as its content, or at another column than the
        # next content line and right of the block that holds that line's (go-yaml reads those as
        # the foot of the node that ended: `- &m\n    - 1\n  # c\n- *m`, `a:\n  b: &m\n    k: 1\n # c\n  d: *m`)
        first = max(0, text.rfind("\n", 0, start) + 1)
        if not text[first:start].strip(" \t-"):
            # the anchor starts its line (after list dashes): the comment lines right above it
            # are its node's head comments, which go-yaml copies too (`# c\n- &m\n  k: 1`)
            while first > 0:
                above = text.rfind("\n", 0, first - 1) + 1
                if not text[above:first].lstrip(" \t").startswith("#"):
                    break
                first = above
        ln = bisect_right(starts, max(end - 1, start)) - 1
        following = len(text)
        for k in range(ln + 1, len(starts)):
            line = text[starts[k] : starts[k + 1] if k + 1 < len(starts) else len(text)]
            if line.strip() and not line.lstrip(" \t").startswith("#"):
                following = len(line) - len(line.lstrip(" \t"))
                break
        parent = -1
        for k in range(ln, -1, -1):
            line = text[starts[k] : starts[k + 1] if k + 1 < len(starts) else len(text)]
            indent = len(line) - len(line.lstrip(" \t"))
            if line.strip() and not line.lstrip(" \t").startswith("#") and indent < following:
                parent = indent
                break
        while ln + 1 < len(starts):
            nxt = text[starts[ln + 1] : starts[ln + 2] if ln + 2 < len(starts) else len(text)]
            body = nxt.lstrip(" \t")
            depth = len(nxt) - len(body)
            if body.strip() and not (
                body.startswith("#") and (depth >= max(column, 0) or (depth != following and depth > parent))
            ):
                break
            ln += 1
        last = starts[ln + 1] if ln + 1 < len(starts) else len(text)
        spans.append((first, last))
    return Parsed(docs, comments, comment_at, spans)


def yaml_key(k: Tree) -> str:
    return str(k[1]) if isinstance(k, tuple) and k[0] != "map" else repr(k)


# ---- JSON ------------------------------------------------------------------------------------


def _conv(v: Any) -> Tree:
    if isinstance(v, tuple):
        return v
    if isinstance(v, bool):
        return ("bool", v)
    if v is None:
        return ("null", None)
    if isinstance(v, str):
        return ("str", v)
    if isinstance(v, list):
        return ("seq", [_conv(x) for x in v])
    raise TypeError(type(v))


def parse_json(data: bytes) -> Parsed:
    try:
        text = data.decode("utf-8")
        value = json.loads(
            text,
            object_pairs_hook=lambda pairs: ("map", [(("str", k), _conv(v)) for k, v in pairs]),
            # "-0" is negative zero to every float64 reader (Go's, sops's)
            parse_int=lambda s: ("float", "-0.0") if s == "-0" else ("int", int(s)),
            parse_float=lambda s: _float(s),
            parse_constant=lambda s: ("float", s.lower()),
        )
    except (ValueError, RecursionError) as exc:
        raise OracleError(str(exc)) from None
    return Parsed([_conv(value)], [])


# ---- dotenv ----------------------------------------------------------------------------------


def parse_dotenv(data: bytes) -> Parsed:
    text = data.decode("utf-8", "surrogateescape")
    pairs = []
    comments = []
    for line in text.split("\n"):
        if not line:
            continue
        if line.startswith("#"):
            comments.append(line[1:])
            continue
        if "=" not in line:
            raise OracleError("dotenv line without '='")
        k, v = line.split("=", 1)
        pairs.append((("str", k), ("str", v.replace("\\n", "\n"))))
    return Parsed([("map", pairs)], comments)


# ---- INI -------------------------------------------------------------------------------------


def _ini_value(v: str) -> str:
    v = v.strip()
    for q in ('"""', "`"):
        if v.startswith(q) and v.endswith(q) and len(v) >= 2 * len(q):
            return v[len(q) : -len(q)]
    m = re.search(r"[;#]", v)
    if m:
        v = v[: m.start()].rstrip()
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'" and v.count(v[0]) == 2:
        v = v[1:-1]
    return v


def parse_ini(data: bytes) -> Parsed:
    """A go-ini-like reader good for what the two tools print (one value per line, comments on
    their own lines or after a value)."""
    text = data.decode("utf-8", "surrogateescape")
    if text.startswith("\ufeff"):
        text = text[1:]
    sections: list[tuple[Tree, list[tuple[Tree, Tree]]]] = [(("str", "DEFAULT"), [])]
    comments: list[str] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i].rstrip("\r").strip()
        i += 1
        if not line:
            continue
        if line[0] in ";#":
            comments.append(line[1:].strip())
            continue
        if line.startswith("["):
            end = line.rfind("]")
            if end < 0:
                raise OracleError("unclosed section")
            sections.append((("str", line[1:end]), []))
            rest = line[end + 1 :].strip()
            if rest[:1] in (";", "#"):
                comments.append(rest[1:].strip())
            continue
        m = re.search(r"[=:]", line)
        if not m:
            raise OracleError("ini line without '=' or ':'")
        key = line[: m.start()].strip()
        raw = line[m.end() :].strip()
        if raw.startswith('"""') and raw.count('"""') < 2:
            buf = [raw]
            while i < len(lines) and '"""' not in lines[i]:
                buf.append(lines[i].rstrip("\r"))
                i += 1
            if i < len(lines):
                buf.append(lines[i].rstrip("\r"))
                i += 1
            raw = "\n".join(buf)
            value = raw[3 : raw.rfind('"""')]
        else:
            value = _ini_value(raw)
            stripped = re.sub(r'^("""|`).*?\1', "", raw) if raw[:1] in ('"', "`") else raw
            cm = re.search(r"\s[;#]", " " + stripped) if not raw.startswith(("`", '"""')) else None
            if cm:
                comments.append(stripped[cm.end() - 1 :].strip())
        if len(key) >= 2 and key[0] == key[-1] and key[0] in '"`':
            key = key[1:-1]
        sections[-1][1].append((("str", key), ("str", value)))
    tree = ("map", [(name, ("map", pairs)) for name, pairs in sections])
    return Parsed([tree], comments)


def parse_binary(data: bytes) -> Parsed:
    return Parsed([("bytes", data)], [])


PARSERS = {"yaml": parse_yaml, "json": parse_json, "dotenv": parse_dotenv, "ini": parse_ini, "binary": parse_binary}


def parse(fmt: str, data: bytes) -> Parsed:
    return PARSERS[fmt](data)


def has_metadata(fmt: str, data: bytes) -> bool:
    """Whether ``data`` carries a sops metadata block with a MAC (read independently)."""
    try:
        if fmt == "dotenv":
            return any(line.startswith("sops_mac=ENC[") for line in data.decode("utf-8", "replace").split("\n"))
        if fmt == "ini":
            text = data.decode("utf-8", "replace")
            return "[sops]" in text and re.search(r"(?m)^\s*mac\s*=\s*ENC\[", text) is not None
        if fmt in ("json", "binary"):
            obj = json.loads(data)
            return isinstance(obj, dict) and isinstance(obj.get("sops"), dict) and "mac" in obj["sops"]
        parsed = parse_yaml(data)
        for doc in parsed.docs:
            if doc[0] != "map":
                return False
            if not any(
                k == ("str", "sops") and v[0] == "map" and any(kk == ("str", "mac") for kk, _ in v[1])
                for k, v in doc[1]
            ):
                return False
        return bool(parsed.docs)
    except (OracleError, ValueError):
        return False
