"""The documented differences of a pysops round trip (encrypt -> decrypt), one named predicate per
rule of docs/formats.md. ``explain(fmt, before, after)`` returns the rules that account for every
changed hunk, or None when a hunk is not explained by any documented rule.

The harness calls this only after the two texts were found semantically equal (same typed data,
same comments), so a rule only has to say that the *kind* of textual change is documented.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable
from typing import Any

from tests.fuzz import oracle

#: changes the rules recognise but docs/formats.md does not document (yet): each one is reported
#: as its own class ``c.bytes.<name>`` so a fix or a doc line can be dispatched for it
UNDOCUMENTED = {
    "yaml-bool-spelling": "True/FALSE written as true/false",
    "yaml-null-spelling": "~/Null/NULL written as null",
    "yaml-flow-top-reemitted": "a top-level flow collection comes back in block style",
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
    a, b = _yaml_scalar(old), _yaml_scalar(new)
    if a is None or b is None:
        return None
    if a == b and old.startswith("!"):
        return "yaml-tag-dropped"
    if a == b:
        if a[0] in ("int", "float"):
            return "yaml-number-canonical"
        if a[0] == "time":
            return "yaml-timestamp-rfc3339"
        if a[0] == "bool":
            return "yaml-bool-spelling"
        if a[0] == "null":
            return "yaml-null-spelling"
        return "yaml-quoting"
    if a[0] in ("int", "float") and b[0] in ("int", "float"):
        try:
            if float(str(a[1])) == float(str(b[1])):
                return "yaml-number-canonical"
        except ValueError:
            return None
    return None


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


def _yaml_hunk(old: str, new: str) -> set[str] | None:
    if re.search(r"(^|\s)\*\w", old):
        return {"yaml-alias-expanded"}
    a, b = _yaml_tokens(old), _yaml_tokens(new)
    # a tag and the scalar after it are compared as one typed value: "!!str 1" -> "'1'"
    merged: list[str] = []
    for t in a:
        if merged and merged[-1].startswith("!") and " " not in merged[-1] and t not in ",[]{}:-?":
            merged[-1] = merged[-1] + " " + t
        else:
            merged.append(t)
    return _tokens_explained(merged, b, _yaml_pair, _yaml_dropped)


def _json_pair(old: str, new: str) -> str | None:
    try:
        a, b = json.loads(old), json.loads(new)
    except ValueError:
        return None
    if isinstance(a, str) and isinstance(b, str):
        return "json-escape-canonical" if _fffd(a) == _fffd(b) else None
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return "json-number-canonical" if float(a) == float(b) else None
    return None


def _json_hunk(old: str, new: str) -> set[str] | None:
    return _tokens_explained(_JSON_TOKEN.findall(old), _JSON_TOKEN.findall(new), _json_pair, lambda t: None)


def _ini_hunk(old: str, new: str) -> set[str] | None:
    o = [line for line in old.splitlines()]
    n = [line for line in new.splitlines()]
    if [x for x in o if x.strip()] == [x for x in n if x.strip()]:
        return {"ini-blank-lines-moved"}
    if [x.strip() for x in o] == [x.strip() for x in n] and any(x.lstrip()[:1] in (";", "#") for x in o):
        return {"ini-comment-indent-lost"}
    if any(re.match(r"\s*\[.*\]\s*[;#]", x) for x in o):
        return {"ini-header-comment-moved"}
    if any(x.rstrip().endswith("\\") for x in o):
        return {"ini-continuation-joined"}
    return None


def _ini_move_header_comments(data: bytes) -> bytes:
    """``[name] ; note`` -> ``; note`` on its own line above ``[name]`` (the documented layout)."""
    out: list[bytes] = []
    for line in data.splitlines(keepends=True):
        m = re.match(rb"(\s*\[.*\])([ \t]*)([;#].*?)(\r?\n?)$", line)
        if m and b"]" not in m.group(3):
            k = len(out)
            while k and not out[k - 1].strip():
                k -= 1  # the comment goes above the blank lines before the header
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
    if (
        fmt != "json"
        and not before.endswith(b"\n")
        and after.startswith(before)
        and after[len(before) :] in (b"\n", b"\r\n")
    ):
        return {"final-newline-added"}
    if not before.endswith(b"\n") and before and fmt != "json":  # JSON keeps what followed the `}`
        nl = b"\r\n" if after.endswith(b"\r\n") else b"\n"
        before += nl
        rules.add("final-newline-added")
    hunk = _HUNKS.get(fmt)
    if hunk is None:
        return None
    if fmt == "ini":
        moved = _ini_move_header_comments(before)
        if moved != before:
            before = moved
            rules.add("ini-header-comment-moved")
            if before == after:
                return rules
    a = before.decode("utf-8", "surrogateescape").splitlines(keepends=True)
    b = after.decode("utf-8", "surrogateescape").splitlines(keepends=True)
    blocks = _yaml_block_lines(before) if fmt == "yaml" else set()
    if fmt == "yaml" and _flow_top(a):
        return rules | {"yaml-flow-top-reemitted"}
    sm = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal":
            continue
        if blocks and (set(range(i1, max(i2, i1 + 1))) & blocks):
            # hunks touching a block scalar: restyled/re-indented blocks are documented; the
            # rest of the hunk is checked by tokens with the block's lines left out
            rest_a = "".join(x for k, x in enumerate(a[i1:i2], i1) if k not in blocks)
            rules.add("yaml-block-scalar-restyled")
            if not rest_a.strip():
                continue
            got = hunk(rest_a, "".join(x for x in b[j1:j2] if not x.startswith(" ") or ":" in x))
            if got is None:
                continue  # the new side holds the block's new text: no finer check here
            rules |= got
            continue
        got = hunk("".join(a[i1:i2]), "".join(b[j1:j2]))
        if got is None:
            last_unexplained[0] = f"{''.join(a[i1:i2])!r} -> {''.join(b[j1:j2])!r}"[:300]
            return None
        rules |= got
    return rules


def _yaml_block_lines(data: bytes) -> set[int]:
    """Line numbers (0-based) of block scalars (header line included) in a YAML text."""
    import yaml  # type: ignore[import-untyped]

    try:
        text = data.decode("utf-8").lstrip("\ufeff")
        events = list(yaml.parse(text, Loader=yaml.CSafeLoader))
    except (UnicodeDecodeError, yaml.YAMLError):
        return set()
    lines: set[int] = set()
    for ev in events:
        if type(ev).__name__ == "ScalarEvent" and ev.style in ("|", ">"):
            lines.update(range(ev.start_mark.line, ev.end_mark.line + 1))
    return lines


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
    "json-float64": "docs/formats.md#json: every number is a float64 as in sops 3.11 (beyond 2^53 rounds)",
    "json-lone-surrogate": "docs/formats.md#json: an escaped lone surrogate becomes U+FFFD as in Go",
}


def _fffd(s: str) -> str:
    return (
        s.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        if any(0xD800 <= ord(c) <= 0xDFFF for c in s)
        else s
    )


def normalize_json(tree: object) -> object:
    """``tree`` with the documented JSON changes applied: numbers as float64, lone surrogates
    as U+FFFD (an independent model of what sops 3.11 reads)."""
    if isinstance(tree, tuple) and len(tree) == 2:
        kind, value = tree
        if kind in ("int", "float"):
            try:
                return ("num", repr(float(value)))
            except (ValueError, OverflowError):
                return tree
        if kind == "str":
            return ("str", _fffd(value))
        if kind == "map":
            return ("map", [(normalize_json(k), normalize_json(v)) for k, v in value])
        if kind == "seq":
            return ("seq", [normalize_json(v) for v in value])
    return tree


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
    "several-documents-to-json": (
        "docs/formats.md#json: several YAML documents cannot be written as one JSON file (exit 4)",
        lambda fmt, step, p, s, data: step == "output-type-json" and p.code == 4 and "document" in p.stderr,
    ),
}
