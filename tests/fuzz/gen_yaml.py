"""YAML documents in the styles real files use: block and flow collections at every level (the top
included), document markers, several documents, comments everywhere, anchors/aliases/merge keys,
block scalars with every indicator, every quoting style, tags, go-yaml v3 scalar spellings,
timestamps, odd keys, CRLF, tabs, no final newline and deep nesting."""

from __future__ import annotations

import random
import re

from tests.fuzz.gen_common import comment, text, unique_words

INTS = [
    "0",
    "1",
    "-5",
    "+12",
    "42",
    "0x1F",
    "0o17",
    "017",
    "1_000",
    "-0",
    "9223372036854775807",
    "-9223372036854775808",
    "0b101",
    "007",
]
RARE_INTS = ["9223372036854775808", "18446744073709551616", "99999999999999999999999"]
FLOATS = [
    "1.5",
    "1.50",
    "-0.0",
    "0.0",
    "1e3",
    "1E-7",
    ".5",
    "-.5",
    "6.02e+23",
    "1.0",
    "7.0",
    "3.14159",
    "+1.5",
    "1e+06",
    "100000000000000000000.0",
    ".inf",
    "-.Inf",
    "+.INF",
    ".nan",
    ".NaN",
    "1.",
    "2.5e-10",
    "0.000001",
]
BOOLS = ["true", "True", "TRUE", "false", "False", "FALSE"]
NULLS = ["~", "null", "Null", "NULL"]
BOOLISH_STRINGS = ["yes", "no", "on", "off", "y", "n", "Yes", "NO", "tRUE", "nul"]
TIMES = [
    "2024-01-01",
    "2024-01-01T10:00:00Z",
    "2001-12-14t21:59:43.10-05:00",
    "2024-01-01 10:00:00",
    "2024-1-2 10:00:00",
    "2024-02-29T23:59:59.123456789+02:00",
    "1999-12-31T00:00:00.5Z",
]
PLAIN_STRINGS = [
    "hello",
    "hello world",
    "s3cr3t",
    "ünïcödé",
    "emoji 🔑",
    "a:b",
    "a#b",
    "tab\there",
    "with 'quote'",
    "-dash",
    "x-y_z",
    "http://example.com/a?b=c",
    "日本語",
    "at@b",
]
TAGS = ["!!str", "!!int", "!!float", "!!bool", "!!null", "!!binary", "!!timestamp", "!custom", "!!str", "!!str"]
ODD_KEYS = [
    '"a:b"',
    "'it''s'",
    '"sp ace"',
    "key with spaces",
    "clé",
    '"🔑"',
    '"#hash"',
    "'quoted'",
    '"esc\\tkey"',
    "k.e.y",
    "'1'",
    '"true"',
    "-",
    "x_unencrypted",
]


def _dq(s: str) -> str:
    out = []
    for ch in s:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append(r"\t" if len(out) % 2 else "\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) > 0xFFFF and len(out) % 3 == 0:
            out.append(f"\\U{ord(ch):08X}")
        elif ord(ch) > 0x7F and len(out) % 3 == 1:
            out.append(f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else ch)
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


#: tagged block scalars (header, content lines) whose content is valid for the tag
TAGGED_BLOCKS = [
    ("!!binary |", ["aGVsbG8g", "d29ybGQ="]),
    ("!!binary |-", ["c2VjcmV0"]),
    ("!!int |-", ["42"]),
    ("!!float >-", ["1.5"]),
    ("!!bool |-", ["true"]),
    ("!!str |-", ["42"]),
    ("!custom |", ["text", "more"]),
    ("!!timestamp |-", ["2024-01-01"]),
]


def _second_rng(rng: random.Random) -> random.Random:
    return random.Random(repr(rng.getstate()[1][:8]))


_SPLITTABLE = re.compile(
    r"(?P<head> *(?:- )*(?:[^\s#'\"\[{&*!|>?%@`-][^:#]*: |- ))"
    r"(?P<value>[^\s#'\"\[\]{}&*!|>%@`,:?-][^#:]* [^\s#:][^#:]*|'[^'\r\n]* [^'\r\n]*'|\"[^\"\\\r\n]* [^\"\\\r\n]*\")"
)


def _multiline_scalars(lines: list[str], rng2: random.Random) -> list[str]:
    """Some one-line plain or quoted scalars of block collections written over two lines (line
    folding; in double quotes sometimes an escaped line break), as hand-written files have them."""
    out: list[str] = []
    for line in lines:
        m = _SPLITTABLE.fullmatch(line)
        if m is None or rng2.random() >= 0.5:
            out.append(line)
            continue
        value, end = m["value"], ""
        cut = value.index(" ", 1 if value[0] in "'\"" else 0)
        if not value[cut + 1 : cut + 2].isalnum() or value.endswith((" ", "\t")):
            out.append(line)
            continue
        # more indented than the collection the scalar is in
        lead = re.match(r" *(?:- )*", m["head"])
        pad = " " * ((lead.end() if lead else 0) + 1 + rng2.choice([0, 1, 3]))
        if value[0] == '"' and rng2.random() < 0.4:
            first, second = value[: cut + 1] + "\\", value[cut + 1 :]  # an escaped line break
        else:
            first, second = value[:cut], value[cut + 1 :]
        if value[0] == "'" and rng2.random() < 0.3:
            out.extend([m["head"] + first + end, end])  # a blank line: a line break in the value
            out.append(pad + second + end)
            continue
        out.extend([m["head"] + first + end, pad + second + end])
    return out


def _sq(s: str) -> str:
    if "\n" in s or "\r" in s:
        return _dq(s)
    return "'" + s.replace("'", "''") + "'"


class YamlGen:
    """One document generator; ``rng`` decides everything, so a case replays from its seed."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        #: draws for styles added after the CI seed's cases were settled: taken from a second
        #: generator (seeded from the first one's state, which it does not advance), so every
        #: earlier case keeps its text except where one of these styles is applied
        self.rng2 = _second_rng(rng)
        self.step = rng.choice([2, 2, 2, 4, 4, 3, 1])
        self.anchors_scalar: list[str] = []
        self.anchors_map: list[str] = []
        self.anchors_any: list[str] = []
        self.n_anchor = 0
        self.max_depth = rng.choice([3, 3, 4, 5, 8]) if rng.random() < 0.95 else 40
        self.budget = rng.randint(3, 30)

    # ---- scalars -------------------------------------------------------------------------
    def scalar(self, flow: bool = False) -> str:
        r = self.rng
        p = r.random()
        if p < 0.12:
            s = r.choice(INTS if r.random() < 0.97 else RARE_INTS)
        elif p < 0.22:
            s = r.choice(FLOATS)
        elif p < 0.28:
            s = r.choice(BOOLS)
        elif p < 0.32:
            s = r.choice(NULLS)
        elif p < 0.36:
            s = r.choice(BOOLISH_STRINGS)
        elif p < 0.41:
            s = r.choice(TIMES)
        elif p < 0.58:
            s = _sq(text(r))
        elif p < 0.72:
            s = _dq(text(r))
        elif p < 0.76:
            tag = r.choice(TAGS)
            body = {
                "!!int": "'42'",
                "!!float": "1",
                "!!bool": '"true"',
                "!!null": "''",
                "!!binary": r.choice(["aGk=", "c2VjcmV0"]),
                "!!timestamp": "2024-01-01",
            }.get(tag, r.choice(["123", "true", "plain", "'q'", '"d"', "1.5"]))
            s = f"{tag} {body}"
        elif p < 0.79 and self.anchors_scalar:
            return "*" + r.choice(self.anchors_scalar)
        else:
            s = r.choice(PLAIN_STRINGS)
            if flow and any(c in s for c in ",[]{}#:") or s.startswith("-") and flow:
                s = _sq(s)
        if flow and s.startswith("!!binary"):
            s = "!!str x"
        if r.random() < 0.06:
            self.n_anchor += 1
            name = f"s{self.n_anchor}"
            self.anchors_scalar.append(name)
            self.anchors_any.append(name)
            return f"&{name} {s}"
        return s

    def key(self) -> str:
        return self.rng.choice(ODD_KEYS)

    def keys(self, n: int) -> list[str]:
        ks = unique_words(self.rng, n)
        out = []
        for k in ks:
            if self.rng.random() < 0.08:
                odd = self.key()
                if odd not in out:
                    k = odd
            out.append(k)
        if self.rng.random() < 0.01 and out:
            out.append(out[0])  # duplicate key: both tools must refuse
        if self.rng.random() < 0.005:
            out.append(self.rng.choice(["1", "true", "1.5", "~"]))  # non-string key
        return out

    def comment_line(self, indent: int) -> str:
        r = self.rng
        ind = indent if r.random() < 0.85 else r.choice([0, indent + 1, max(0, indent - 1)])
        return " " * ind + "#" + comment(r)

    def trailing(self) -> str:
        return ("  " if self.rng.random() < 0.5 else " ") + "#" + comment(self.rng) if self.rng.random() < 0.12 else ""

    # ---- block scalars ---------------------------------------------------------------------
    def block_scalar(self, indent: int) -> list[str]:
        """The header (without the key) and the content lines of a ``|``/``>`` scalar."""
        r = self.rng
        style = r.choice("|>")
        chomp = r.choice(["", "-", "+"])
        explicit = r.random() < 0.25
        n = r.choice([1, 2, 3]) if explicit else 0
        header = style + (f"{n}{chomp}" if explicit and r.random() < 0.5 else f"{chomp}{n}" if explicit else chomp)
        if r.random() < 0.1:
            header += " #" + comment(r)
        base = indent + (n if explicit else max(1, self.step))
        lines = []
        for i in range(r.randint(1, 4)):
            extra = r.choice([0, 0, 0, 2]) if (i > 0 or explicit) else 0
            lines.append(
                " " * (base + extra)
                + r.choice(["line", "more text", "# not a comment", "ünï 🔑", "key: value", "tab\tin", "- item", "'q'"])
            )
            if r.random() < 0.15:
                lines.append("")
        if r.random() < 0.3:
            lines.append("")
        if self.rng2.random() < 0.08:
            # a tagged block scalar: go-yaml types it by its tag (``!!binary |`` is decoded)
            tag, body = self.rng2.choice(TAGGED_BLOCKS)
            return [tag, *(" " * base + line for line in body)]
        return [header, *lines]

    # ---- flow collections --------------------------------------------------------------------
    def flow(self, depth: int) -> str:
        r = self.rng
        if depth > 3 or r.random() < 0.15:
            return r.choice(["{}", "[]"])
        if r.random() < 0.5:
            items = [self.flow_value(depth + 1) for _ in range(r.randint(0, 4))]
            return "[" + ", ".join(items) + "]"
        ks = self.keys(r.randint(0, 4))
        return "{" + ", ".join(f"{k}: {self.flow_value(depth + 1)}" for k in ks) + "}"

    def flow_value(self, depth: int) -> str:
        if self.rng.random() < 0.25:
            return self.flow(depth)
        return self.scalar(flow=True)

    # ---- block collections -------------------------------------------------------------------
    def value_lines(self, indent: int, depth: int, seq_item: bool = False) -> tuple[str, list[str]]:
        """``(inline part, following lines)`` of a value under a key (or after ``- ``)."""
        r = self.rng
        self.budget -= 1
        p = r.random()
        nested_ok = depth < self.max_depth and (self.budget > 0 or self.max_depth > 10)
        if self.max_depth > 10 and depth < self.max_depth:
            p = 0.9 if r.random() < 0.8 else p
        if p < 0.5 or not nested_ok:
            return " " + self.scalar() + self.trailing(), []
        if p < 0.58:
            head, *lines = self.block_scalar(indent)
            return " " + head, lines
        if p < 0.66:
            return " " + self.flow(0) + self.trailing(), []
        if p < 0.69:
            return "", []  # empty value (null)
        if p < 0.71 and self.anchors_any:
            return " *" + r.choice(self.anchors_any), []
        anchor = ""
        if r.random() < 0.15:
            self.n_anchor += 1
            anchor = f" &m{self.n_anchor}"
        if p < 0.85:
            child = indent + self.step
            lines = self.block_map(child, depth + 1)
            if anchor:
                self.anchors_map.append(anchor[2:])
                self.anchors_any.append(anchor[2:])
            return anchor + self.trailing(), lines
        child = indent + (self.step if r.random() < 0.6 else 0)
        if seq_item:
            child = indent + self.step
        lines = self.block_seq(child, depth + 1)
        if anchor:
            self.anchors_any.append(anchor[2:])
        return anchor + self.trailing(), lines

    def block_map(self, indent: int, depth: int) -> list[str]:
        r = self.rng
        out: list[str] = []
        ks = self.keys(r.randint(1, 4) if self.max_depth < 10 else 1)
        if self.anchors_map and r.random() < 0.3:
            ref = r.choice(self.anchors_map)
            out.append(" " * indent + ("<<: *" + ref if r.random() < 0.7 else f"<<: [*{ref}]"))
        for k in ks:
            if self.anchors_scalar and self.rng2.random() < 0.04:
                k = "*" + self.rng2.choice(self.anchors_scalar) + " "  # an alias as the key
            if r.random() < 0.2:
                out.append(self.comment_line(indent))
            if r.random() < 0.06:
                out.append("")
            inline, lines = self.value_lines(indent, depth)
            out.append(" " * indent + k + ":" + inline)
            out.extend(lines)
        if r.random() < 0.08:
            out.append(self.comment_line(indent))
        return out

    def block_seq(self, indent: int, depth: int) -> list[str]:
        r = self.rng
        out: list[str] = []
        for _ in range(r.randint(1, 4) if self.max_depth < 10 else 1):
            if r.random() < 0.12:
                out.append(self.comment_line(indent))
            q = r.random()
            if q < 0.25 and depth < self.max_depth:
                # a mapping as a sequence item: "- k: v" then the rest aligned under k
                sub = self.block_map(indent + 2, depth + 1)
                first = sub[0].lstrip(" ") if sub and not sub[0].lstrip().startswith("#") else None
                if first is not None and sub[0].startswith(" " * (indent + 2)):
                    out.append(" " * indent + "- " + first)
                    out.extend(sub[1:])
                    continue
                out.append(" " * indent + "-")
                out.extend(sub)
                continue
            inline, lines = self.value_lines(indent, depth, seq_item=True)
            if inline == "" and not lines:
                out.append(" " * indent + "-")
            elif inline.strip() == "" or inline.lstrip().startswith(("&", "#")):
                out.append(" " * indent + "-" + inline)
                out.extend(lines)
            else:
                out.append(" " * indent + "-" + inline)
                out.extend(lines)
        return out

    # ---- documents ----------------------------------------------------------------------------
    def document(self) -> list[str]:
        r = self.rng
        self.anchors_scalar, self.anchors_map, self.anchors_any = [], [], []
        p = r.random()
        if p < 0.76:
            lines = self.block_map(0 if r.random() < 0.97 else 2, 0)
        elif p < 0.86:
            lines = [self.flow_map_top()]
        elif p < 0.89:
            lines = self.json_like()
        elif p < 0.93:
            lines = self.block_seq(0, 0)
        elif p < 0.95:
            lines = [self.scalar()]
        elif p < 0.97:
            lines = []
        else:
            lines = [self.comment_line(0)]
        if r.random() < 0.2:
            lines.insert(0, self.comment_line(0))
        if r.random() < 0.15:
            lines.append(self.comment_line(0))
        return lines

    def flow_map_top(self) -> str:
        ks = self.keys(self.rng.randint(0, 4))
        return "{" + ", ".join(f"{k}: {self.flow_value(1)}" for k in ks) + "}"

    def json_like(self) -> list[str]:
        r = self.rng
        ks = unique_words(r, r.randint(1, 3))
        items = [f'"{k}": ' + r.choice(["2", '"ba"', "[1, 2]", "true", "null", '{"c": 1.5}']) for k in ks]
        if r.random() < 0.5:
            return ["{" + ", ".join(items) + "}"]
        return ["{", *["  " + it + ("," if i < len(items) - 1 else "") for i, it in enumerate(items)], "}"]


def generate(rng: random.Random) -> bytes:
    g = YamlGen(rng)
    out: list[str] = []
    if rng.random() < 0.02:
        out.append(rng.choice(["%YAML 1.2", "%YAML 1.1", "%TAG !e! tag:example.com,2000:"]))
        out.append("---")
    elif rng.random() < 0.15:
        out.append("---" + (" #" + comment(rng) if rng.random() < 0.2 else ""))
    ndocs = 1 if rng.random() < 0.9 else rng.randint(2, 3)
    for i in range(ndocs):
        if i:
            out.append("---")
        doc = g.document()
        if out and out[-1] == "---" and doc and rng.random() < 0.2 and not doc[0].startswith((" ", "#")):
            out[-1] = out[-1] + " " + doc[0] if doc[0].startswith(("{", "[")) else out[-1]
            if out[-1].endswith(doc[0]):
                doc = doc[1:]
        out.extend(doc)
        if rng.random() < 0.05:
            out.append("...")
    nl = "\r\n" if rng.random() < 0.06 else "\n"
    if g.rng2.random() < 0.5:
        out = _multiline_scalars(out, g.rng2)
    body = nl.join(out)
    if rng.random() < 0.9 and out:
        body += nl
    if rng.random() < 0.02:
        body = "\ufeff" + body
    return body.encode("utf-8")
