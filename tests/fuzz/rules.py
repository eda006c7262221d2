"""The documented differences of a pysops round trip (encrypt -> decrypt), one named predicate per
rule of docs/formats.md. ``explain(fmt, before, after)`` returns the rules that account for every
changed hunk, or None when a hunk is not explained by any documented rule.

The harness calls this only after the two texts were found semantically equal (same typed data,
same comments), so a rule only has to say that the *kind* of textual change is documented.
"""

from __future__ import annotations

import decimal
import difflib
import json
import math
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

from tests.fuzz import oracle

#: changes the rules recognise but docs/formats.md does not document (yet): each one is reported
#: as its own class ``c.bytes.<name>`` so a fix or a doc line can be dispatched for it
UNDOCUMENTED = {
    # docs/formats.md#yaml: "Nulls are never encrypted and keep their spelling" (so a change is a bug)
    "yaml-null-spelling": "~/Null/NULL written as null",
}

#: rule name -> the section of docs/formats.md that documents it
RULES: dict[str, str] = {
    "final-newline-added": "docs/formats.md (YAML, dotenv, INI): a missing final newline is added",
    "yaml-number-canonical": "docs/formats.md#yaml: non-canonical numbers (0x1F -> 31, 1_000, 1.50, 1e3)",
    "yaml-timestamp-rfc3339": "docs/formats.md#yaml: timestamps written as RFC 3339",
    "yaml-block-scalar-restyled": "docs/formats.md#yaml: folded/one-line/re-indented block scalars",
    "yaml-quoting": "docs/formats.md#yaml: strings whose quoting carried no information",
    "yaml-tag-dropped": "docs/formats.md#yaml: dropped tags (!!binary aGk= -> hi, !!str 1 -> '1')",
    "yaml-alias-expanded": "docs/formats.md#yaml: expanded aliases",
    "yaml-float-go-form": "docs/formats.md#yaml: floats written as go-yaml writes them (1e3 -> 1000, 2.0 -> 2)",
    "yaml-bool-spelling": "docs/formats.md#yaml: booleans come back as true/false (True, FALSE -> lowercase)",
    "yaml-flow-top-reemitted": "docs/formats.md#yaml: a top-level flow mapping is written in block style",
    "yaml-multiline-scalar-joined": (
        "docs/formats.md#yaml-multiline-scalar: a plain or quoted scalar written over several lines comes back on one"
    ),
    "yaml-null-root": "docs/formats.md#yaml-null-root: a document that is a null is written {}",
    "json-number-canonical": "docs/formats.md#json Round trips: numbers in Go's canonical form",
    "json-escape-canonical": "docs/formats.md#json Round trips: strings with minimal escapes",
    "ini-comment-indent-lost": "docs/formats.md#ini Round trips: indentation before a comment line",
    "ini-header-comment-moved": "docs/formats.md#ini Round trips: a section header's inline comment",
    "ini-blank-lines-moved": "docs/formats.md#ini Round trips: blank lines between comment block and key",
    "ini-continuation-joined": "docs/formats.md#ini Round trips: continuation lines joined",
}

_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[^\s,\[\]{}:]+|[\[\]{},:]')


def _yaml_tokens(text: str) -> list[str]:
    """Scalars, indicators and comments of YAML lines (a plain scalar keeps its inner spaces)."""
    out: list[str] = []
    for line in text.splitlines():
        i, n = 0, len(line)
        while i < n:
            c = line[i]
            if c in " \t":
                i += 1
            elif c in "'\"":
                j = i + 1
                while j < n:
                    if (c == "'" and line[j] == "'" and line[j + 1 : j + 2] == "'") or (c == '"' and line[j] == "\\"):
                        j += 2
                    elif line[j] == c:
                        break
                    else:
                        j += 1
                out.append(line[i : j + 1])
                i = j + 1
            elif c in ",[]{}":
                out.append(c)
                i += 1
            elif c in "&!*":
                j = i
                while j < n and line[j] not in " \t,[]{}":
                    j += 1
                out.append(line[i:j])
                i = j
            elif c == "#" and (i == 0 or line[i - 1] in " \t"):
                out.append(line[i:].rstrip())
                break
            elif c in "-:?" and (i + 1 == n or line[i + 1] in " \t"):
                out.append(c)
                i += 1
            else:
                j = i
                while j < n:
                    d = line[j]
                    if d in ",[]{}" or (d == ":" and (j + 1 == n or line[j + 1] in " \t")):
                        break
                    if d == "#" and line[j - 1] in " \t":
                        break
                    j += 1
                out.append(line[i:j].rstrip(" \t"))
                i = j
    return out


def _yaml_scalar(tok: str) -> tuple[str, object] | None:
    if tok.startswith("!") and " " in tok:
        tag, value = tok.split(" ", 1)
        full = "tag:yaml.org,2002:" + tag[2:] if tag.startswith("!!") else tag
        style = value[0] if value[:1] in ("'", '"') else None
        inner = _yaml_scalar(value) if style else None
        text = str(inner[1]) if inner is not None and inner[0] == "str" else value
        return oracle._resolve(text, full, (False, False), style)
    if tok.startswith("'") and tok.endswith("'") and len(tok) >= 2:
        return ("str", tok[1:-1].replace("''", "'"))
    if tok.startswith('"') and tok.endswith('"') and len(tok) >= 2:
        try:
            return oracle.parse_yaml(tok.encode()).docs[0]  # type: ignore[no-any-return]
        except oracle.OracleError:
            return None
    return oracle.resolve_plain(tok)


def _yaml_pair(old: str, new: str) -> str | None:
    """The rule that turns the token ``old`` into ``new``, if one does."""
    if old.startswith("!") and old.endswith(" " + BLOCK) and " " not in old[: -len(BLOCK) - 1]:
        # a tagged block scalar (``!!binary |``, ``!!int |-``) written as the value it stands
        # for (its data was compared before): the tag is dropped, the block restyled
        return "yaml-tag-dropped" if new != old else None
    if BLOCK in (old, new):
        # a block scalar restyled as a flow scalar, or a multi-line string written as a block
        other = _yaml_scalar(new if old == BLOCK else old)
        return "yaml-block-scalar-restyled" if other is not None and other[0] == "str" else None
    a, b = _yaml_scalar(old), _yaml_scalar(new)
    if a is None or b is None:
        return None
    if a == b and old.startswith("!"):
        return "yaml-tag-dropped"
    if a == b:
        # each rule only accepts the form pysops documents writing (not any other spelling)
        if a[0] == "int":
            return "yaml-number-canonical" if new == str(a[1]) else None
        if a[0] == "float":
            return "yaml-number-canonical" if new == _go_yaml_float_text(a) else None
        if a[0] == "time":
            text = new.removeprefix("!!timestamp ").strip("'\"")
            return "yaml-timestamp-rfc3339" if text == a[1] else None
        if a[0] == "bool":
            return "yaml-bool-spelling" if new in ("true", "false") else None
        if a[0] == "null":
            return "yaml-null-spelling"
        return "yaml-quoting"
    if a[0] == "float" and b == go_yaml_float(a) and new == _go_yaml_float_text(a):
        return "yaml-float-go-form"
    return None


def _go_yaml_float_text(node: tuple[str, Any]) -> str:
    special = {"inf": ".inf", "-inf": "-.inf", "nan": ".nan"}
    return special.get(node[1]) or go_float_g(float(node[1]))


def _tokens_explained(
    a: list[str],
    b: list[str],
    pair: Callable[[str, str], str | None],
    dropped: Callable[[str], str | None],
) -> set[str] | None:
    rules: set[str] = set()
    sm = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal":
            continue
        olds, news = a[i1:i2], b[j1:j2]
        rest_old = []
        for t in olds:
            r = dropped(t)
            if r:
                rules.add(r)
            else:
                rest_old.append(t)
        if len(rest_old) != len(news):
            return None
        for x, y in zip(rest_old, news, strict=True):
            r = pair(x, y)
            if r is None:
                return None
            rules.add(r)
    return rules or None  # a change of whitespace alone is no documented rule


def _yaml_dropped(tok: str) -> str | None:
    if " " in tok:
        return None  # a tag with its value: compared as a value
    if tok.startswith("!"):
        return "yaml-tag-dropped"
    if tok.startswith(("*", "&")):
        return "yaml-alias-expanded"
    return None


_ALIAS = re.compile(r"(?:^|[\s\[{,])\*([^\s,\[\]{}]+)")


_NULL_ROOT = re.compile(r"(?:(?:!!null|!)[ \t]+)?(?:~|null|Null|NULL)[ \t]*\r?\n?")


def _yaml_hunk(old: str, new: str) -> set[str] | None:
    if new.rstrip("\r\n") == "{}" and _NULL_ROOT.fullmatch(old):
        # a document that is a null at column 0 (a root null: any other line at column 0 is a
        # key, an item or inside a flow collection, whose data changed then)
        return {"yaml-null-root"}
    gone = set(_ALIAS.findall(old)) - set(_ALIAS.findall(new))
    if gone:
        # an alias replaced by its copy (also inside a flow collection: ``<<: [*m1]``); the data
        # was found equal before, so the rest of the hunk is the copy
        return {"yaml-alias-expanded"}
    return _tokens_explained(_merge_tags(_yaml_tokens(old)), _merge_tags(_yaml_tokens(new)), _yaml_pair, _yaml_dropped)


def _merge_tags(tokens: list[str]) -> list[str]:
    """A tag and the scalar after it as one token, compared as one typed value: "!!str 1" -> "'1'"."""
    merged: list[str] = []
    for t in tokens:
        if merged and merged[-1].startswith("!") and " " not in merged[-1] and t not in ",[]{}:-?":
            merged[-1] = merged[-1] + " " + t
        else:
            merged.append(t)
    return merged


def _flow_top_explained(old: str, new: str) -> set[str] | None:
    """A text with a top-level flow mapping re-emitted in block style: the same scalars, tags and
    anchors in the same order, each unchanged or changed by a documented rule (comments may move
    to another line, their texts were compared before; the flow indicators are gone)."""

    def scalars(text: str) -> list[str]:
        all_toks = _yaml_tokens(text)
        # a `-` before `:`, `,`, `]` or `}` is a plain scalar (`{-: x}`, `[-]`), which pysops
        # quotes when it writes it in block style (`'-': x`); elsewhere it is an indicator
        toks = [
            t
            for k, t in enumerate(all_toks)
            if t not in ("{", "}", "[", "]", ",", ":", "-", "?")
            or (t == "-" and all_toks[k + 1 : k + 2] in ([":"], [","], ["]"], ["}"]))
        ]
        # a tag and its scalar are one token before an alias takes the anchored value (a copy of
        # `&s !!null ''` is `!!null ''`, not the tag alone)
        toks = _merge_tags([t for t in toks if not t.startswith("#")])
        # an alias of a scalar may come back as its copy: compare the copy
        anchored: dict[str, str] = {}
        out: list[str] = []
        for k, t in enumerate(toks):
            if t.startswith("&") and k + 1 < len(toks) and toks[k + 1][:1] not in ("&", "*"):
                anchored[t[1:]] = toks[k + 1]
            out.append(anchored.get(t[1:], t) if t.startswith("*") else t)
        return out

    a, b = _merge_tags(scalars(old)), _merge_tags(scalars(new))
    if a == b:
        return set()
    return _tokens_explained(a, b, _yaml_pair, _yaml_dropped)


def _json_pair(old: str, new: str) -> str | None:
    try:
        a, b = json.loads(old), json.loads(new)
    except ValueError:
        return None
    if isinstance(a, str) and isinstance(b, str):
        return "json-escape-canonical" if _fffd(a) == _fffd(b) else None
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return "json-number-canonical" if new == go_json_number_text(old) else None
    return None


def go_json_number_text(token: str) -> str:
    """How pysops writes the JSON number ``token`` (docs/formats.md#json Numbers): an integer up to
    2^53 in decimal, anything else as Go's ``encoding/json`` writes a float64."""
    if re.fullmatch(r"-?\d+", token) and token != "-0" and abs(int(token)) <= 2**53:
        return str(int(token))
    f = float(token)
    if f == 0 or 1e-6 <= abs(f) < 1e21:
        d = decimal.Decimal(repr(f))
        text = format(d, "f")
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return "-0" if text in ("-0", "-0.0") else text
    mant, _, exp = go_float_e(f).partition("e")
    return f"{mant}e{exp[0]}{int(exp[1:])}"  # Go's JSON cleans e-07 up to e-7


def go_float_e(v: float) -> str:
    """``strconv.FormatFloat(v, 'e', -1, 64)``: the shortest digits, always in %e form."""
    sign = "-" if v < 0 else ""
    d = decimal.Decimal(repr(abs(v))).normalize()
    _, digits_t, exponent = d.as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digits_t))
    exp = len(digits) + exponent - 1
    mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{sign}{mant}e{'-' if exp < 0 else '+'}{abs(exp):02d}"


def _json_hunk(old: str, new: str) -> set[str] | None:
    return _tokens_explained(_JSON_TOKEN.findall(old), _JSON_TOKEN.findall(new), _json_pair, lambda t: None)


def _ini_comment(line: str) -> bool:
    return line.lstrip()[:1] in (";", "#")


def _ini_unindent_comments(lines: list[str]) -> list[str]:
    return [x.lstrip() if _ini_comment(x) else x for x in lines]


def _ini_blanks_moved(a: list[str], b: list[str]) -> bool:
    """Only blank lines changed, none was added, and each change is next to a comment line (moved
    above a comment block, or dropped inside an encrypted one: docs/formats.md#ini Round trips)."""
    if sum(1 for x in b if not x.strip()) > sum(1 for x in a if not x.strip()):
        return False
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        near = a[max(i1 - 1, 0) : i2 + 1] + b[max(j1 - 1, 0) : j2 + 1]
        if not any(_ini_comment(x) for x in near):
            return False
    return True


def _ini_hunk(old: str, new: str) -> set[str] | None:
    o = old.splitlines()
    n = new.splitlines()
    if [x.strip() for x in o if x.strip()] == [x.strip() for x in n if x.strip()]:
        # only indentation changed: documented for comment lines, and only for them
        changed = [x for x, y in zip(o, n, strict=False) if x != y and x.strip()]
        if len(o) == len(n) and changed and all(_ini_comment(x) for x in changed):
            return {"ini-comment-indent-lost"}
        return None
    joined = [x for x in o if x.strip()]
    if any(x.rstrip().endswith("\\") for x in o):
        # continuation lines joined: each `\`-ended line and the next one become one line
        out: list[str] = []
        for x in joined:
            if out and out[-1].rstrip().endswith("\\"):
                out[-1] = out[-1].rstrip()[:-1].rstrip() + " " + x.strip()
            else:
                out.append(x)
        if [x.split() for x in out] == [x.split() for x in n if x.strip()]:
            return {"ini-continuation-joined"}
    return None


def _ini_move_header_comments(data: bytes, above_blanks: bool) -> bytes:
    """``[name] ; note`` -> ``; note`` on its own line above ``[name]`` (the documented layout),
    right above it or above the blank lines before it."""
    out: list[bytes] = []
    block = False  # comment lines since the last key or header: part of the header's comment
    for line in data.splitlines(keepends=True):
        m = re.match(rb"(\s*\[.*\])([ \t]*)([;#].*?)(\r?\n?)$", line)
        # (an empty comment, `[name] ;` alone, is not encrypted and stays: docs/formats.md#ini Writing)
        empty = m is not None and not block and not m.group(3).rstrip().lstrip(m.group(3)[:1] + b" ")
        if line.strip():
            block = line.lstrip()[:1] in (b";", b"#")
        if m and b"]" not in m.group(3) and not empty:
            k = len(out)
            while above_blanks and k and not out[k - 1].strip():
                k -= 1
            out.insert(k, m.group(3) + (m.group(4) or b"\n"))
            out.append(m.group(1) + m.group(4))
        else:
            out.append(line)
    return b"".join(out)


_HUNKS: dict[str, Callable[[str, str], set[str] | None]] = {"yaml": _yaml_hunk, "json": _json_hunk, "ini": _ini_hunk}


#: the first hunk the last failed ``explain`` call could not account for (for the report)
last_unexplained: list[str] = [""]


def explain(fmt: str, before: bytes, after: bytes) -> set[str] | None:
    """The documented rules that turn ``before`` into ``after`` (empty when identical), or None."""
    rules: set[str] = set()
    if before == after:
        return rules
    # the added newline is the file's (dotenv: always LF, the metadata lines follow it)
    nl = b"\r\n" if b"\r\n" in before and fmt != "dotenv" else b"\n"
    if fmt != "json" and not before.endswith(b"\n") and after.startswith(before) and after[len(before) :] == nl:
        return {"final-newline-added"}
    if not before.endswith(b"\n") and before and fmt != "json" and after.endswith(b"\n"):
        # (JSON keeps what followed the `}`; a text that still has no final newline kept it)
        before += nl
        rules.add("final-newline-added")
    if fmt == "yaml" and before.startswith(b"\xef\xbb\xbf") and after.startswith(b"\xef\xbb\xbf"):
        # a byte order mark that stays is no change (the rules below read the text after it)
        before, after = before[3:], after[3:]
    if fmt == "ini":
        for above_blanks in (False, True):
            moved = _ini_move_header_comments(before, above_blanks)
            if moved != before:
                got = _explain_lines(fmt, moved, after)
                if got is not None or above_blanks:
                    return None if got is None else rules | got | {"ini-header-comment-moved"}
    got = _explain_lines(fmt, before, after)
    return None if got is None else rules | got


def _explain_lines(fmt: str, before: bytes, after: bytes) -> set[str] | None:
    rules: set[str] = set()
    if before == after:
        return rules
    hunk = _HUNKS.get(fmt)
    if hunk is None:
        return None
    a = before.decode("utf-8", "surrogateescape").splitlines(keepends=True)
    b = after.decode("utf-8", "surrogateescape").splitlines(keepends=True)
    if fmt == "yaml" and _flow_top(a):
        docs_a, docs_b = _yaml_documents(before), _yaml_documents(after)
        if len(docs_a) > 1 and len(docs_a) == len(docs_b):
            # a flow root's re-emission covers its own document (docs/formats.md#yaml): each
            # document is compared on its own, with its own rules
            for doc_a, doc_b in zip(docs_a, docs_b, strict=True):
                got = _explain_lines(fmt, doc_a, doc_b)
                if got is None:
                    return None
                rules |= got
            return rules
    if fmt == "yaml":
        # each block scalar becomes one placeholder token where its indicator was (its content,
        # already compared as data, and its restyling or re-indenting are documented); a plain
        # or quoted scalar over several lines becomes its value on one line (double-quoted)
        joined: list[bool] = []
        a, b = _mask_blocks(before, a, joined), _mask_blocks(after, b, joined)
        if joined:
            rules.add("yaml-multiline-scalar-joined")
    if fmt == "ini" and [x for x in a if x.strip()] == [x for x in b if x.strip()]:
        return rules | {"ini-blank-lines-moved"} if _ini_blanks_moved(a, b) else None
    if fmt == "ini":
        # both at once: comment lines lost their indentation and blank lines moved
        na, nb = _ini_unindent_comments(a), _ini_unindent_comments(b)
        if na != a and [x for x in na if x.strip()] == [x for x in nb if x.strip()]:
            if na == nb:
                return rules | {"ini-comment-indent-lost"}
            if _ini_blanks_moved(na, nb):
                return rules | {"ini-comment-indent-lost", "ini-blank-lines-moved"}
    if fmt == "yaml" and _flow_top(a):
        got = _flow_top_explained("".join(a), "".join(b))
        if got is None:
            last_unexplained[0] = "flow root re-emitted with changed scalars: " + _first_hunk(a, b)
            return None
        return rules | got | {"yaml-flow-top-reemitted"}
    sm = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal":
            continue
        got = hunk("".join(a[i1:i2]), "".join(b[j1:j2]))
        if got is None:
            last_unexplained[0] = f"{''.join(a[i1:i2])!r} -> {''.join(b[j1:j2])!r}"[:300]
            return None
        rules |= got
    if not rules and a == b:
        return {"yaml-block-scalar-restyled"}  # the texts differ inside block scalars only
    return rules


def _first_hunk(a: list[str], b: list[str]) -> str:
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op != "equal":
            return f"{''.join(a[i1:i2])!r} -> {''.join(b[j1:j2])!r}"[:300]
    return ""


def go_float_g(v: float) -> str:
    """``strconv.FormatFloat(v, 'g', -1, 64)`` (go-yaml's float form): the shortest digits, in
    %e form when the decimal exponent is < -4 or >= 6 (Go's rule for the shortest precision)."""
    if math.isinf(v) or math.isnan(v):
        return {math.inf: "+Inf", -math.inf: "-Inf"}.get(v, "NaN")
    sign = "-" if math.copysign(1.0, v) < 0 else ""
    if v == 0:
        return sign + "0"
    d = decimal.Decimal(repr(abs(v))).normalize()
    _, digits_t, exponent = d.as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digits_t))
    dp = len(digits) + exponent  # position of the decimal point
    exp = dp - 1
    if exp < -4 or exp >= 6:
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mant}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if dp <= 0:
        return f"{sign}0.{'0' * -dp}{digits}"
    if dp >= len(digits):
        return sign + digits + "0" * (dp - len(digits))
    return f"{sign}{digits[:dp]}.{digits[dp:]}"


def go_yaml_float(node: tuple[str, Any]) -> tuple[str, Any]:
    """What a float reads back as after go-yaml (sops, pysops) wrote it: ``2.0`` -> int 2."""
    if node[0] != "float" or node[1] in ("inf", "-inf", "nan"):
        return node
    return oracle.resolve_plain(go_float_g(float(node[1])))


BLOCK = "\x00BLOCK"


def _mask_blocks(data: bytes, lines: list[str], joined: list[bool] | None = None) -> list[str]:
    """``lines`` (of ``data``) with each block scalar's header indicator replaced by ``BLOCK`` and
    its content lines removed; unchanged when the text does not parse. A plain or quoted scalar
    of a block collection written over several lines is replaced by its value on one line,
    double-quoted as JSON writes it (``joined`` gains an entry): when nothing but a comment
    follows it on its last line."""
    import yaml  # type: ignore[import-untyped]

    try:
        text = data.decode("utf-8")
        events = list(yaml.parse(text.lstrip("\ufeff"), Loader=yaml.CSafeLoader))
    except (UnicodeDecodeError, yaml.YAMLError):
        return lines
    out = list(lines)
    drop: set[int] = set()
    for ev in events:
        if type(ev).__name__ == "ScalarEvent" and ev.style in ("|", ">"):
            row, col = ev.start_mark.line, ev.start_mark.column
            if row >= len(out):
                continue
            line = out[row]
            tagged = re.compile(r"!\S*[ \t]+").match(line, col)  # the mark is at a tag
            at = tagged.end() if tagged else col
            m = re.compile(r"[|>][-+0-9]*").match(line, at)
            if m is None:
                return lines  # marks not where expected (BOM, odd characters): no masking
            out[row] = line[:at] + BLOCK + line[m.end() :]
            end = ev.end_mark.line + (1 if ev.end_mark.column > 0 else 0)
            drop.update(range(row + 1, min(end, len(out))))
        elif (
            joined is not None
            and type(ev).__name__ == "ScalarEvent"
            and ev.end_mark.line > ev.start_mark.line
            and ev.end_mark.line < len(out)
        ):
            row, col, last = ev.start_mark.line, ev.start_mark.column, ev.end_mark.line
            rest = out[last][ev.end_mark.column :]
            if rest.strip() and not rest.lstrip(" \t").startswith("#"):
                continue  # more on its last line (a flow collection): compared line by line
            start = col
            if ev.tag is not None and not ev.implicit[0] and not ev.implicit[1]:
                continue  # a tagged one: compared line by line
            out[row] = out[row][:start] + json.dumps(ev.value, ensure_ascii=False) + rest
            drop.update(range(row + 1, last + 1))
            joined.append(True)
    return [x for k, x in enumerate(out) if k not in drop]


_DOCUMENT_START = re.compile(rb"---(?=[ \t\r\n]|$)")


def _yaml_documents(data: bytes) -> list[bytes]:
    """The texts of the documents of a YAML stream, each from its "---" line (the first from the
    start of the text)."""
    docs: list[bytes] = [b""]
    for line in data.splitlines(keepends=True):
        if _DOCUMENT_START.match(line) and docs[-1]:
            docs.append(b"")
        docs[-1] += line
    return docs


def _flow_top(lines: list[str]) -> bool:
    """Whether some document of the text is a flow collection at the top level."""
    at_start = True
    for line in lines:
        s = line.rstrip("\r\n").lstrip("\ufeff")
        if s.startswith("---"):
            at_start = True
            s = s[3:].strip()
        if not s.strip() or s.lstrip().startswith(("#", "%")):
            continue
        if at_start and s.lstrip().startswith(("{", "[")):
            return True
        at_start = s.startswith("...")
    return False


# ---- documented semantic changes --------------------------------------------------------------

#: semantic (not only textual) changes docs/formats.md documents for a round trip
SEMANTIC_RULES: dict[str, str] = {
    "json-float64": (
        "docs/formats.md#json Numbers: integers up to 2^53 are ints (as sops 3.13.2), every other"
        " number a float64 as in sops 3.11 (beyond 2^53 rounds), written in Go's form"
    ),
    "yaml-float-go-form": "docs/formats.md#yaml: floats written as go-yaml writes them, read back as ints",
    "json-lone-surrogate": "docs/formats.md#json: an escaped lone surrogate becomes U+FFFD as in Go",
}


def _fffd(s: str) -> str:
    return (
        s.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        if any(0xD800 <= ord(c) <= 0xDFFF for c in s)
        else s
    )


def json_go_number(node: tuple[str, Any]) -> tuple[str, Any]:
    """What a JSON number reads back as after pysops wrote it (docs/formats.md#json Numbers): an
    integer up to 2^53 unchanged; anything else a float64 in Go's ``encoding/json`` form, which
    is an integer literal for an integral value below 1e21 (``1.0`` -> ``1``, -0 stays ``-0``)."""
    kind, value = node
    if kind == "int" and abs(value) <= 2**53:
        return node
    try:
        f = float(value)
    except (ValueError, OverflowError):
        return node
    if math.isfinite(f) and f == int(f) and abs(f) < 1e21 and not (f == 0 and math.copysign(1, f) < 0):
        return ("int", int(decimal.Decimal(repr(f))))  # Go prints the shortest digits: ...67000
    return ("float", repr(f))


def json_round_trip(node: Any) -> list[Any]:
    """The values pysops may give back for the JSON value ``node``: itself (a value left in
    clear keeps its text) or its documented form (``json_go_number``, lone surrogate -> U+FFFD)."""
    if isinstance(node, tuple) and node[0] in ("int", "float"):
        return [node, json_go_number(node)]
    if isinstance(node, tuple) and node[0] == "str":
        return [node, ("str", _fffd(node[1]))]
    return [node]


def yaml_round_trip(node: Any) -> list[Any]:
    """The values pysops may give back for the YAML value ``node``: itself, or for a float the
    value of go-yaml's form of it (``1.0``, ``!!float 1`` -> int 1; ``1e6`` -> float 1e+06)."""
    if isinstance(node, tuple) and node[0] == "float":
        return [node, go_yaml_float(node)]
    return [node]


def _with_clear_ints(enc: Any, out: Any) -> Any:
    """``out`` (sops's decrypted tree of the JSON file ``enc``) with every value that ``enc``
    holds in clear as an integer literal up to 2^53 typed as that int."""
    if isinstance(enc, tuple) and isinstance(out, tuple) and enc[0] == out[0] and enc[0] in ("map", "seq"):
        if len(enc[1]) != len(out[1]):
            return out
        if enc[0] == "map":
            return ("map", [(k, _with_clear_ints(ev, ov)) for (_, ev), (k, ov) in zip(enc[1], out[1], strict=True)])
        return ("seq", [_with_clear_ints(e, o) for e, o in zip(enc[1], out[1], strict=True)])
    if isinstance(enc, tuple) and enc[0] == "int" and abs(enc[1]) <= 2**53 and _is_num(out) and float(out[1]) == enc[1]:
        return enc
    return out


def _is_num(node: Any) -> bool:
    return isinstance(node, tuple) and node[0] in ("int", "float")


def json_clear_ints_explain(encrypted: bytes, mine: bytes, theirs: bytes) -> bool:
    """docs/formats.md#json Numbers: pysops reads a JSON integer up to 2^53 as an int, also one
    left in clear in a file sops wrote, which sops 3.11 reads as a float64 (``--output-type
    yaml``: ``100000000000`` where sops prints ``1e+11``). True when that accounts for every
    difference between the YAML outputs ``mine`` and ``theirs`` of the sops file ``encrypted``."""
    try:
        enc = oracle.parse_json(encrypted).docs[0]
        a, b = oracle.parse_yaml(mine), oracle.parse_yaml(theirs)
    except oracle.OracleError:
        return False
    if enc[0] != "map" or len(a.docs) != 1 or len(b.docs) != 1:
        return False
    enc = ("map", [(k, v) for k, v in enc[1] if k != ("str", "sops")])
    return bool(a.docs[0] == _with_clear_ints(enc, b.docs[0]))


def yaml_empty_comment_items(mine: Any, theirs: Any) -> tuple[Any, int]:
    """docs/formats.md#yaml "Where sops is lossy": sops holds an empty comment (``#``) in a list
    as a list item and decrypts it to ``- ""``; pysops keeps the comment. ``theirs`` (sops's
    decrypt) without the ``""`` items that ``mine``'s list at the same place lacks, and how many
    were removed (each must match an extra empty comment of ``mine``: the caller checks)."""
    if not (isinstance(mine, tuple) and isinstance(theirs, tuple) and mine[0] == theirs[0]):
        return theirs, 0
    removed = 0
    if mine[0] == "seq":
        extra = len(theirs[1]) - len(mine[1])
        items: list[Any] = []
        j = 0
        for t in theirs[1]:
            if extra > 0 and t == ("str", "") and (j >= len(mine[1]) or mine[1][j] != t):
                extra -= 1
                removed += 1
                continue
            if j < len(mine[1]):
                t, r = yaml_empty_comment_items(mine[1][j], t)
                removed += r
            items.append(t)
            j += 1
        return ("seq", items), removed
    if mine[0] == "map" and len(mine[1]) == len(theirs[1]):
        pairs = []
        for (_, mv), (tk, tv) in zip(mine[1], theirs[1], strict=True):
            tv, r = yaml_empty_comment_items(mv, tv)
            removed += r
            pairs.append((tk, tv))
        return ("map", pairs), removed
    return theirs, 0


#: a block scalar header with an explicit indentation indicator (``|4``, ``>-2``, ``|+4``)
YAML_EXPLICIT_INDICATOR = re.compile(rb"(?:^|[\s:-])[|>](?:[1-9][-+]?|[-+][1-9])[ \t]*(?:#.*)?\r?$", re.M)


def _shifted_lines(mine: str, theirs: str) -> bool:
    """Whether ``theirs`` is ``mine`` with every non-empty line shifted by the same number of
    leading spaces (some removed or added), at least one."""
    a, b = mine.split("\n"), theirs.split("\n")
    if len(a) != len(b) or mine == theirs:
        return False
    shift: int | None = None
    for x, y in zip(a, b, strict=True):
        if not x and not y:
            continue
        if x.lstrip(" ") != y.lstrip(" "):
            return False
        d = (len(x) - len(x.lstrip(" "))) - (len(y) - len(y.lstrip(" ")))
        if d == 0 or (shift is not None and d != shift):
            return False
        shift = d
    return shift is not None


def _shifted_truncated(mine: str, theirs: str) -> list[str] | None:
    """Whether ``theirs`` is ``mine`` with the leading spaces of its lines shifted left by the same
    number (at least one) up to the first non-empty line that has fewer, where sops's text ends
    the block scalar (that line and the lines after it, all "# text", are comments there), with
    the string's final line breaks as the header's chomping gives them: the texts of those
    comments, or None."""
    a = mine.split("\n")
    first = next((x for x in a if x), "")
    top = next((y for y in theirs.split("\n") if y), "")
    shift = (len(first) - len(first.lstrip(" "))) - (len(top) - len(top.lstrip(" ")))
    if shift <= 0 or first.lstrip(" ") != top.lstrip(" "):
        return None
    cut = next((i for i, line in enumerate(a) if line and len(line) - len(line.lstrip(" ")) < shift), None)
    if cut is None:
        return None  # no line ends the block early: ``_shifted_lines``
    rest = [x for x in a[cut:] if x.strip()]
    if not all(x.lstrip(" ").startswith("#") for x in rest):
        return None
    kept = "\n".join(x[shift:] for x in a[:cut])
    if theirs not in (kept.rstrip("\n"), kept.rstrip("\n") + "\n", kept + "\n"):
        return None
    return [x.lstrip(" ")[1:] for x in rest]


def yaml_block_indicator_shift(mine: Any, theirs: Any, lost: list[str] | None = None) -> Any:
    """docs/formats.md#yaml-sops-block-indicator: sops (go-yaml v3) writes the indentation
    indicator of a block scalar that starts with a space as ``4`` whatever column it writes the
    content at (``- |4``, ``- key: |4``), so its decrypt shifts the leading spaces of every line of
    that string, and ends the block at a line with fewer leading spaces than the shift (the
    "# text" lines from there on are comments in its text: added to ``lost``). ``mine`` with each
    string that differs from ``theirs`` only so replaced by theirs' (the caller applies it only
    when sops's text has such an indicator)."""
    if mine == theirs:
        return mine
    if isinstance(mine, tuple) and isinstance(theirs, tuple) and mine[:1] == theirs[:1]:
        if mine[0] in ("map", "seq") and len(mine[1]) == len(theirs[1]):
            if mine[0] == "map":
                return (
                    "map",
                    [
                        (k, yaml_block_indicator_shift(v, tv, lost))
                        for (k, v), (_, tv) in zip(mine[1], theirs[1], strict=True)
                    ],
                )
            return ("seq", [yaml_block_indicator_shift(x, y, lost) for x, y in zip(mine[1], theirs[1], strict=True)])
        strings = mine[0] == "str" and isinstance(mine[1], str) and isinstance(theirs[1], str)
        if strings and _shifted_lines(mine[1], theirs[1]):
            return theirs
        comments = _shifted_truncated(mine[1], theirs[1]) if strings and lost is not None else None
        if comments is not None:
            assert lost is not None
            lost.extend(comments)
            return theirs
    return mine


def yaml_alias_empty_comments(source: bytes) -> int:
    """docs/formats.md#yaml-sops-alias-empty-comment: sops copies an anchored collection's comments
    to each alias copy, and holds an empty comment in a list as a ``- ""`` item; pysops's copies
    carry no comments. How many extra ``""`` items that may give sops's decrypt of its own file
    (the empty comments of ``source`` times its aliases; 0 when it has no alias)."""
    aliases = len(re.findall(rb"(?:^|[\s\[{,])\*[^\s,\[\]{}]+", source))
    if not aliases:
        return 0
    try:
        empty = sum(1 for c in oracle.parse_yaml(source).comments if not c.strip())
    except oracle.OracleError:
        return 0
    return empty * aliases


def _read_with_events(source: bytes) -> tuple[Any, str, list[Any], Callable[[Any], int]] | None:
    """The oracle's reading of ``source``, its text, PyYAML's events of it and a function from
    an event mark to a character offset (None where either reader refuses it)."""
    import yaml  # type: ignore[import-untyped]

    try:
        parsed = oracle.parse_yaml(source)
        text = source.decode("utf-8").removeprefix("\ufeff")
        events = list(yaml.parse(text, Loader=yaml.CSafeLoader))
    except (oracle.OracleError, UnicodeDecodeError, yaml.YAMLError):
        return None
    starts = [0] + [m.end() for m in re.finditer(r"\r\n|\r|\n|\x85|\u2028|\u2029", text)]

    def pos(mark: Any) -> int:
        return starts[mark.line] + mark.column if mark.line < len(starts) else len(text)

    return parsed, text, events, pos


def yaml_alias_copied_comments(source: bytes) -> Counter[str]:
    """docs/formats.md#yaml-alias-copy-comments: sops (go-yaml v3) repeats the comments of an
    anchored node at each alias copy it expands; pysops's copies carry no comments. The comments
    (texts, right-stripped) that sops's decrypt may hold more often than pysops's: each comment of
    ``source`` (the case's input) inside an anchored node, once per alias of that anchor."""
    try:
        parsed = oracle.parse_yaml(source)
    except oracle.OracleError:
        return Counter()
    found: Counter[str] = Counter()
    for start, end in parsed.alias_regions:
        for text, at in zip(parsed.comments, parsed.comment_at, strict=True):
            if start <= at < end:
                found[text.rstrip()] += 1
    return found


_EMPTY_FLOW_COMMENTS = re.compile(rb"\{[ \t]*\r?\n((?:[ \t]*#[^\n]*\n)+)[ \t]*\}")


def yaml_empty_flow_comments(data: bytes) -> list[str]:
    """docs/formats.md#yaml-empty-flow-comment ("Where sops is lossy"): sops writes a comment on
    the line of an empty flow mapping (``z: {}  # c``, ``port: {} #``) inside its braces
    (``z: {\n    # c\n}``) and drops it when it decrypts its own file; pysops keeps it. The
    texts of the comments that ``data`` (a decrypted YAML text) holds inside otherwise empty
    braces, which sops's decrypt of its own file may lack."""
    found: list[str] = []
    for match in _EMPTY_FLOW_COMMENTS.finditer(data):
        for line in match.group(1).decode("utf-8", "replace").splitlines():
            found.append(line.strip()[1:])
    return found


_EMPTY_FLOW_LINE_COMMENT = re.compile(rb"(?:^|[\s:,\[-])\{[ \t]*\}[ \t]+#([^\r\n]*)", re.M)


def yaml_empty_flow_line_comments(source: bytes) -> list[str]:
    """docs/formats.md#yaml-empty-flow-comment, seen from the input: the comments on the line of
    an empty flow mapping in ``source`` (``z: {}  # c``), which sops drops in its decrypt (and
    ``--extract``) of its own file and pysops keeps (``--extract``: ``# c`` then ``{}``)."""
    return [m.group(1).decode("utf-8", "replace") for m in _EMPTY_FLOW_LINE_COMMENT.finditer(source)]


_YAML_DASH = re.compile(r"(?<![^ \t\r\n])-(?=[ \t\r\n]|$)")


def yaml_first_item_lost_comments(source: bytes) -> Counter[str]:
    """docs/formats.md#yaml-first-item-comment: sops's decrypt prints no own-line comment that
    stands above the first ``-`` of a block list holding a mapping's value when that first item
    is a block collection (no anchor or tag) with a comment of its own between its ``-`` and the
    end of its first content line (``k:\n  # c\n  -\n    # d\n    z: 1``, ``- z: 1  # d``); the
    comment is in sops's tree (its rotate, set and --extract keep it), only go-yaml's printing
    drops it, and pysops keeps the input's layout. The comments (texts, right-stripped) of
    ``source`` (the case's input) that sops's decrypt of pysops's file may lack."""
    read = _read_with_events(source)
    if read is None:
        return Counter()
    parsed, text, events, pos = read

    def own_line(at: int) -> bool:
        return not text[text.rfind("\n", 0, at) + 1 : at].strip()

    comments = list(zip(parsed.comment_at, parsed.comments, strict=True))
    # the text with each comment blanked out (a "-" inside one is no list entry)
    pieces, last = [], 0
    for at, c in comments:
        pieces += [text[last:at], " " * (len(c) + 1)]
        last = at + len(c) + 1
    masked = "".join(pieces) + text[last:]
    found: Counter[str] = Counter()
    stack: list[list[Any]] = []  # [kind, children so far]
    prev_end = 0
    for i, ev in enumerate(events):
        name = type(ev).__name__
        parent = stack[-1] if stack else None
        if (
            name == "SequenceStartEvent"
            and not ev.flow_style
            and parent is not None
            and parent[0] == "map"
            and parent[1] % 2 == 1
            and i + 1 < len(events)
        ):
            first = events[i + 1]
            if (
                type(first).__name__ in ("MappingStartEvent", "SequenceStartEvent")
                and not first.flow_style
                and first.anchor is None
                and first.tag is None
            ):
                content = next((e for e in events[i + 2 :] if type(e).__name__ in ("ScalarEvent", "AliasEvent")), None)
                # the list's first "-" (outside comments and the list's own anchor or tag)
                dash = next(
                    (m.start() for m in _YAML_DASH.finditer(masked, pos(ev.start_mark), pos(first.start_mark))),
                    -1,
                )
                if dash >= 0 and content is not None:
                    line_end = text.find("\n", pos(content.start_mark))
                    line_end = len(text) if line_end < 0 else line_end
                    if any(dash < at <= line_end for at, _ in comments):
                        for at, c in comments:
                            if prev_end <= at < dash and own_line(at):
                                found[c.rstrip()] += 1
        if name in ("ScalarEvent", "AliasEvent", "MappingStartEvent", "SequenceStartEvent") and parent is not None:
            parent[1] += 1
        if name in ("MappingStartEvent", "SequenceStartEvent"):
            stack.append(["map" if name == "MappingStartEvent" else "seq", 0])
        elif name in ("MappingEndEvent", "SequenceEndEvent"):
            stack.pop()
        if name in ("ScalarEvent", "AliasEvent", "MappingEndEvent", "SequenceEndEvent"):
            prev_end = pos(ev.end_mark)
    return found


def yaml_empty_tail_comments(source: bytes) -> Counter[str]:
    """docs/formats.md#yaml-empty-tail-comment: a comment before the trailing empty items of a
    block list that ends the document (``k:\n- 1\n# c\n-``, ``k: &m\n  # c\n  -``, or on an
    empty item's line ``- # c``): sops's own round trip drops it, pysops keeps it (sealed in the
    enclosing mapping, where sops decrypts it in pysops's file). The comments (texts,
    right-stripped) of ``source`` (the case's input) that sops's decrypt of its own file may lack."""
    read = _read_with_events(source)
    if read is None:
        return Counter()
    parsed, text, events, pos = read

    found: Counter[str] = Counter()
    # per open collection: [is a block list, start of the gap before it, its items as (start, end, empty)]
    stack: list[list[Any]] = []
    prev_end = 0
    for i, ev in enumerate(events):
        name = type(ev).__name__
        if name in ("ScalarEvent", "AliasEvent", "MappingStartEvent", "SequenceStartEvent") and stack:
            empty = name == "ScalarEvent" and ev.value == "" and not ev.style and ev.tag is None
            stack[-1][2].append([pos(ev.start_mark), pos(ev.end_mark), empty])
        if name in ("MappingStartEvent", "SequenceStartEvent"):
            stack.append([name == "SequenceStartEvent" and not ev.flow_style, prev_end, []])
        elif name in ("MappingEndEvent", "SequenceEndEvent"):
            is_list, gap_start, items = stack.pop()
            if stack:
                stack[-1][2][-1][1] = pos(ev.end_mark)
            rest = events[i + 1 :]
            doc_ends = next((k for k, e in enumerate(rest) if type(e).__name__ == "DocumentEndEvent"), len(rest))
            at_end = all(type(e).__name__.endswith("EndEvent") for e in rest[:doc_ends])
            cut = len(items)
            while cut and items[cut - 1][2]:
                cut -= 1
            if is_list and at_end and cut < len(items):
                start = items[cut - 1][1] if cut else gap_start
                line_end = text.find("\n", items[-1][0])
                stop = len(text) if line_end < 0 else line_end
                for at, c in zip(parsed.comment_at, parsed.comments, strict=True):
                    if start <= at < stop:
                        found[c.rstrip()] += 1
        if name in ("ScalarEvent", "AliasEvent", "MappingEndEvent", "SequenceEndEvent"):
            prev_end = pos(ev.end_mark)
    return found


def yaml_last_document_lost_comments(source: bytes) -> Counter[str]:
    """docs/formats.md#yaml-last-empty-document-comment: when the last document of a file is
    empty but for own-line comments (``---\n# c2``, no ``...`` after it), sops (go-yaml) reads
    its comments into the document before and drops that document's last group of own-line
    comments (after its last blank line) before ``---`` (``a: 1\n# c1\n---\n# c2``: ``# c1``;
    ``# c1\n---\n# c2``: ``# c1``); pysops keeps them. The comments (texts, right-stripped) of
    ``source`` (the case's input) that sops's own round trip may lack."""
    read = _read_with_events(source)
    if read is None:
        return Counter()
    parsed, text, events, pos = read
    names = [type(e).__name__ for e in events]
    starts = [i for i, n in enumerate(names) if n == "DocumentStartEvent"]
    if not starts:
        return Counter()
    last = starts[-1]
    start, end = events[last], events[last + 2] if last + 2 < len(events) else None
    body = events[last + 1]
    if not (
        start.explicit
        and type(body).__name__ == "ScalarEvent"
        and body.value == ""
        and body.anchor is None
        and body.tag is None
        and end is not None
        and type(end).__name__ == "DocumentEndEvent"
        and not end.explicit
    ):
        return Counter()
    marker = pos(start.start_mark)
    marker_end = text.find("\n", marker)
    if marker_end < 0 or not any(at > marker_end for at in parsed.comment_at):
        return Counter()  # no own-line comment in the last document
    # the end of the last content before the marker (a block collection's end mark is the next
    # token's: only scalars, aliases and closing brackets count)
    prev_end = max(
        (
            pos(e.end_mark)
            for e in events[:last]
            if type(e).__name__ in ("ScalarEvent", "AliasEvent")
            or (
                type(e).__name__ in ("MappingEndEvent", "SequenceEndEvent")
                and text[pos(e.end_mark) - 1 : pos(e.end_mark)] in "]}"
            )
        ),
        default=0,
    )
    blank = max((m.end() for m in re.finditer(r"\n[ \t]*\r?\n", text, 0) if m.end() <= marker), default=0)
    group_start = max(prev_end, blank)
    found: Counter[str] = Counter()
    for at, c in zip(parsed.comment_at, parsed.comments, strict=True):
        line_start = text.rfind("\n", 0, at) + 1
        if group_start <= at < marker and not text[line_start:at].strip():
            found[c.rstrip()] += 1
    return found


_EMPTY_SEQ_COMMENTS = re.compile(rb"^([ \t]*)\[\][ \t]*\r?\n((?:\1#[^\n]*\n)+)(?=([ \t]*)#)", re.M)


def yaml_empty_list_comments(data: bytes) -> list[str]:
    """docs/formats.md#yaml-empty-list-comment: sops holds a comment on the line of an empty flow
    list (``db: []  # c``) as the list's only items (``- ENC[...,type:comment]``) and drops it
    when it decrypts (either tool's file) if a comment follows it at a lesser indentation (the
    next key's head or line comment); pysops prints ``[]`` and the comments below it. The
    comments that ``data`` (pysops's decrypted text) holds so, which sops's decrypt may lack."""
    found: list[str] = []
    for m in _EMPTY_SEQ_COMMENTS.finditer(data):
        if len(m.group(3)) < len(m.group(1)):
            for line in m.group(2).decode("utf-8", "replace").splitlines():
                found.append(line.strip()[1:])
    return found


def yaml_sops_encrypted_comments(comments: list[str]) -> list[str]:
    """docs/formats.md#yaml-sops-own-comment-encrypted: in a few layouts sops writes a comment
    where go-yaml reads it into another container, and its decrypt of its own file leaves that
    comment encrypted (``#ENC[...,type:comment]``, with a warning); pysops decrypts it. The
    comments of sops's output that are such ciphertexts."""
    return [c for c in comments if c.strip().startswith("ENC[AES256_GCM,") and c.strip().endswith("type:comment]")]


def ini_double_marker(text: str) -> str | None:
    """docs/formats.md#ini Round trips: a comment whose first line holds two markers (``; #double``)
    is printed so by pysops, as ``# double`` by sops (read back as ``double``): the text sops
    prints for the comment pysops prints as ``text``, when it starts with a second marker."""
    if len(text) > 1 and text[0] in ";#" and text[1:].strip():
        return text[1:].strip()
    return None


#: format -> comment rule for (b): the comment text sops prints for one pysops prints otherwise
COMMENT_RULES: dict[str, Callable[[str], str | None]] = {"ini": ini_double_marker}
SEMANTIC_RULES["yaml-empty-comment-list-item"] = (
    'docs/formats.md#yaml Where sops is lossy: an empty comment in a list, which sops decrypts to `- ""`'
)
SEMANTIC_RULES["yaml-empty-flow-comment"] = (
    "docs/formats.md#yaml-empty-flow-comment: a comment on the line of an empty flow mapping, which"
    " sops writes inside the braces and drops when it decrypts its own file"
)
SEMANTIC_RULES["yaml-alias-copy-comments"] = (
    "docs/formats.md#yaml-alias-copy-comments: sops repeats an anchored node's comments at each alias"
    " copy; pysops's copies carry no comments"
)
SEMANTIC_RULES["yaml-sops-own-comment-encrypted"] = (
    "docs/formats.md#yaml-sops-own-comment-encrypted: a comment sops leaves encrypted when it decrypts"
    " its own file, which pysops decrypts"
)
SEMANTIC_RULES["yaml-first-item-comment"] = (
    "docs/formats.md#yaml-first-item-comment: comments above a list's first item that sops's decrypt"
    " does not print when that item's first line has a comment of its own"
)
SEMANTIC_RULES["yaml-empty-tail-comment"] = (
    "docs/formats.md#yaml-empty-tail-comment: a comment before the trailing empty items of a list that"
    " ends the document, which sops's own round trip drops"
)
SEMANTIC_RULES["yaml-empty-list-comment"] = (
    "docs/formats.md#yaml-empty-list-comment: a comment on the line of an empty flow list that a"
    " less indented comment follows, which sops's decrypt drops"
)
SEMANTIC_RULES["yaml-last-empty-document-comment"] = (
    "docs/formats.md#yaml-last-empty-document-comment: comments before the `---` of a last document that"
    " holds only comments, which sops's own round trip drops"
)
SEMANTIC_RULES["json-clear-int"] = (
    "docs/formats.md#json Numbers: an integer up to 2^53 is an int, also when left in clear in a sops file"
)
SEMANTIC_RULES["ini-double-marker-comment"] = (
    "docs/formats.md#ini Round trips: `; #double` decrypts to `; #double` (sops: `# double`)"
)


def dotenv_use_value(v: str) -> str:
    """A dotenv value as docs/formats.md#dotenv "Using a value" says pysops reads it outside dotenv
    (exec-env, conversion): quotes processed, an unquoted value cut at `` #`` and trimmed."""
    s = v.lstrip(" \t")
    if s[:1] == '"':
        out, i = [], 1
        while i < len(s):
            c = s[i]
            if c == "\\" and i + 1 < len(s):
                nxt = s[i + 1]
                out.append({"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}.get(nxt, "\\" + nxt))
                i += 2
                continue
            if c == '"':
                rest = s[i + 1 :]
                if re.fullmatch(r"[ \t]*(#.*)?", rest, re.S):
                    return "".join(out)
                break
            out.append(c)
            i += 1
    elif s[:1] == "'":
        end = s.find("'", 1)
        if end > 0 and re.fullmatch(r"[ \t]*(#.*)?", s[end + 1 :], re.S):
            return s[1:end]
    m = re.search(r"[ \t]#", s)
    if m:
        s = s[: m.start()]
    return s.strip()


def normalize_dotenv_use(tree: object) -> object:
    """Top-level string values of a tree converted from dotenv, read with ``dotenv_use_value``."""
    if isinstance(tree, tuple) and tree[0] == "map":
        return ("map", [(k, ("str", dotenv_use_value(v[1])) if v[0] == "str" else v) for k, v in tree[1]])
    return tree


#: refusals docs/formats.md documents where sops accepts (or fails differently):
#: name -> (doc section, predicate(fmt, step, pysops run, sops run, input))
def _is_binary_wrapper(data: bytes) -> bool:
    try:
        obj = json.loads(data)
    except ValueError:
        return False
    return isinstance(obj, dict) and isinstance(obj.get("sops"), dict) and isinstance(obj.get("data"), str)


DOCUMENTED_REFUSALS: dict[str, tuple[str, Callable[[str, str, Any, Any, bytes], bool]]] = {
    "binary-json-wrapper-is-encrypted": (
        "docs/formats.md#binary: a plaintext file that is such a JSON object is seen as already encrypted",
        lambda fmt, step, p, s, data: (
            fmt == "binary" and step == "encrypt" and p.code == 203 and _is_binary_wrapper(data)
        ),
    ),
    "ini-duplicate-key-refused": (
        "docs/formats.md#ini Reading: a key repeated in one section is refused (go-ini keeps the last)",
        lambda fmt, step, p, s, data: fmt == "ini" and p.code == 2 and "appears twice" in p.stderr,
    ),
    "json-data-after-the-value-refused": (
        "docs/formats.md#json: data after the top-level object is refused (sops drops it)",
        lambda fmt, step, p, s, data: (
            fmt == "json"
            and step == "encrypt"
            and p.code == 2
            and s.ok
            and "unexpected data after the top-level" in p.stderr
        ),  # fmt: skip
    ),
    "several-documents-to-json": (
        "docs/formats.md#json: several YAML documents cannot be written as one JSON file (exit 4)",
        lambda fmt, step, p, s, data: step == "output-type-json" and p.code == 4 and "document" in p.stderr,
    ),
}


def yaml_negative_zero(mine: Any, theirs: Any) -> Any:
    """docs/formats.md#yaml-negative-zero: where sops (go-yaml) writes the float -0.0 as ``-0``,
    which reads back as the integer 0, pysops writes ``-0.0``. ``mine`` with each float -0.0
    that stands where ``theirs`` holds the integer 0 replaced by theirs' value (the caller applies
    it only when sops's text has a ``-0`` scalar)."""
    if mine == theirs:
        return mine
    if mine == ("float", "-0.0") and theirs == ("int", 0):
        return theirs
    if (
        isinstance(mine, tuple)
        and isinstance(theirs, tuple)
        and mine[:1] == theirs[:1]
        and mine[0] in ("map", "seq")
        and len(mine[1]) == len(theirs[1])
    ):
        if mine[0] == "map":
            return (
                "map",
                [(k, yaml_negative_zero(v, tv)) for (k, v), (_, tv) in zip(mine[1], theirs[1], strict=True)],
            )
        return ("seq", [yaml_negative_zero(x, y) for x, y in zip(mine[1], theirs[1], strict=True)])
    return mine


#: a ``-0`` plain scalar (go-yaml's spelling of the float -0.0)
YAML_MINUS_ZERO = re.compile(rb"(?:^|[\s:\[{,-])-0(?:\r?$|[\s,\]}])", re.M)


_YAML_FLOAT_MINUS_ZERO = re.compile(rb"(?<![\w.+-])-0\.0(?=\r?$|[ \t,\]}])", re.M)


def yaml_minus_zero_as_sops(text: bytes) -> bytes:
    """docs/formats.md#yaml-negative-zero: pysops's YAML text with each ``-0.0`` scalar spelled as
    sops writes it (``-0``), for the rules that compare texts."""
    return _YAML_FLOAT_MINUS_ZERO.sub(b"-0", text)


def yaml_first_key_block_comments(data: bytes) -> Counter[str]:
    """docs/formats.md#yaml-set-value-comments: ``set``/``unset`` of a key drop the comments inside
    its value, as each tool reads the file: pysops by the text (the lines below the key indented
    deeper than it, up to its next sibling, without the less indented comments that end the
    block), sops by go-yaml's reading, which its decrypt writes at the value's indentation. The
    comments (oracle texts) of ``data`` (a decrypted text) in the block of the first key of the
    first document, counted by this layout rule."""
    import yaml  # type: ignore[import-untyped]

    try:
        parsed = oracle.parse("yaml", data)
        text = data.decode("utf-8")
        events = yaml.parse(text.lstrip("\ufeff"), Loader=yaml.CSafeLoader)
        key = None
        for ev in events:
            name = type(ev).__name__
            if name == "MappingStartEvent" and not ev.flow_style:
                key = next(events)
                break
            if name in ("SequenceStartEvent", "ScalarEvent", "DocumentEndEvent"):
                break
    except (oracle.OracleError, UnicodeDecodeError, StopIteration, yaml.YAMLError):
        return Counter()
    if key is None or type(key).__name__ != "ScalarEvent":
        return Counter()
    text = text.lstrip("\ufeff")  # the oracle's offsets skip a BOM too
    lines = re.findall(r"[^\n]*\n|[^\n]+$", text)  # LF lines, as the decrypted texts have them
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    column, first = key.start_mark.column, text.count("\n", 0, key.start_mark.index) + 1

    def indent(line: str) -> int:
        return len(line) - len(line.lstrip(" \t"))

    def comment_or_blank(line: str) -> bool:
        return not line.strip() or line.lstrip(" \t").startswith("#")

    def dash(line: str) -> bool:  # an item of an indentless list (its dashes at the key's column)
        body = line.lstrip(" \t")
        return indent(line) == column and (body.rstrip("\r\n") == "-" or body.startswith(("- ", "-\t")))

    indentless = next((dash(line) for line in lines[first:] if not comment_or_blank(line)), False)
    end = first
    while end < len(lines) and (
        comment_or_blank(lines[end]) or indent(lines[end]) > column or (indentless and dash(lines[end]))
    ):
        end += 1
    # the comments that end the block are not inside; after an indentless list, at any indentation
    # (they are the next key's, or the mapping's: docs/formats.md#yaml-trailing-comments)
    while end > first and comment_or_blank(lines[end - 1]) and (indentless or indent(lines[end - 1]) <= column):
        end -= 1
    lo, hi = starts[first], starts[end]
    return Counter(c.rstrip() for c, at in zip(parsed.comments, parsed.comment_at, strict=True) if lo <= at < hi)


_EMPTY_LIST_LINE_COMMENT = re.compile(
    rb"^[ \t]*[^#\s][^#\n]*:[ \t]+\[\]([ \t]+)#([^\r\n]*)\r?\n([ \t]*)#[^\n]*\n(?:[ \t]*#[^\n]*\n)*[ \t]*[^#\s]", re.M
)


def yaml_empty_list_line_comments(data: bytes) -> Counter[str]:
    """docs/formats.md#yaml-empty-list-comment, in a text a tool is handed (the edit check):
    the comment on the line of an empty flow list value (``db: []  # c``) that a less indented
    comment follows directly, itself (with the comment lines after it) followed by content (the
    next key): sops's decrypt of the file written from that text drops it. The comments (oracle
    texts) so placed in ``data``."""
    found: Counter[str] = Counter()
    for m in _EMPTY_LIST_LINE_COMMENT.finditer(data):
        if len(m.group(3)) < m.start(2) - 1 - m.start(0):
            found[m.group(2).decode("utf-8", "replace").rstrip()] += 1
    return found


SEMANTIC_RULES["yaml-set-value-comments"] = (
    "docs/formats.md#yaml-set-value-comments: set/unset drop the comments inside the key's value, as"
    " each tool's own file places them (sops: where go-yaml read them on encrypt)"
)
SEMANTIC_RULES["yaml-edit-comments"] = (
    "docs/formats.md#yaml-edit-comments: after edit, a comment of the text sops's editor saved that"
    " sops's file lacks, or one sops's decrypt drops from pysops's by #yaml-empty-list-comment"
)
