"""Regular expressions that mean the same to pysops (Python's ``re``) and to sops (Go's RE2).

Selection regexes (``encrypted_regex`` and its siblings) decide which values are encrypted, and
that decision is part of the file format: sops and pysops must pick the same values or neither can
read the other's file (the MAC covers the choice). sops compiles them with Go's RE2; pysops with
Python's ``re``. ``re2_problem`` refuses every pattern the two would not read alike:

* patterns Python cannot compile (``^(password|key``, and RE2-only syntax such as ``\\pL``,
  ``\\z``, ``[[:alpha:]]``, ``(?U)``);
* Python-only syntax that RE2 refuses: lookaround ``(?=`` ``(?!`` ``(?<=`` ``(?<!``,
  back-references ``\\1`` ``(?P=name)``, conditionals ``(?(1)...)``, atomic groups ``(?>``,
  possessive quantifiers ``*+``, comments ``(?#``, the flags ``a`` ``L`` ``u`` ``x``, the escapes
  ``\\u`` ``\\U`` ``\\N{...}`` ``\\Z``, and repeat counts above 1,000.

sops itself does not refuse an invalid selection regex: it treats every key as "no match", so
``--encrypted-regex '^(password|key'`` leaves every secret in clear. pysops refuses instead
(docs/exit-codes.md). Remaining, documented differences are in semantics only: ``\\d``, ``\\w``,
``\\s`` and ``\\b`` are Unicode-aware in Python and ASCII in RE2, and ``$`` also matches before a
final newline in Python.
"""

from __future__ import annotations

#: RE2's largest repeat count (``a{1001}`` is "invalid repeat count" in Go).
MAX_REPEAT = 1000

_FLAGS_RE2 = frozenset("imsU-")
_GROUP_PROBLEMS = (
    ("?=", "lookahead (?=...)"),
    ("?!", "negative lookahead (?!...)"),
    ("?<=", "lookbehind (?<=...)"),
    ("?<!", "negative lookbehind (?<!...)"),
    ("?P=", "a back-reference (?P=name)"),
    ("?(", "a conditional group (?(...)...)"),
    ("?>", "an atomic group (?>...)"),
    ("?#", "a comment group (?#...)"),
)


def re2_problem(pattern: str) -> str | None:
    """Why ``pattern`` cannot be used where sops compiles it with RE2, or None when it is fine."""
    import re
    import warnings

    with warnings.catch_warnings():
        # Python warns (FutureWarning) about sets that may change meaning; the scan below refuses
        # the one whose meaning differs from RE2 today (``[[:alpha:]]``).
        warnings.simplefilter("ignore")
        try:
            re.compile(pattern)
        except (re.error, OverflowError, RecursionError) as exc:
            return f"Python cannot compile it ({exc})"
    return _scan(pattern)


def _scan(p: str) -> str | None:
    """The first Python-only construct in ``p`` (which Python compiles), or None."""
    n = len(p)
    i = 0
    in_class = False
    class_start = 0
    while i < n:
        c = p[i]
        if c == "\\":
            escaped = p[i + 1 : i + 2]
            if escaped in ("u", "U", "N", "Z"):
                return f"the escape \\{escaped} (RE2 has no such escape)"
            if not in_class and escaped.isdigit() and escaped != "0":
                return f"a back-reference \\{escaped}"
            i += 2
            continue
        if in_class:
            if c == "[" and p[i + 1 : i + 2] == ":":
                return "a '[:' inside a character class (RE2 reads [[:alpha:]] as a POSIX class, Python does not)"
            if c == "]" and i > class_start:
                in_class = False
            i += 1
            continue
        if c == "[":
            in_class = True
            i += 1
            if p[i : i + 1] == "^":
                i += 1
            class_start = i  # a ']' right here is a literal in both
            continue
        if c == "(" and p[i + 1 : i + 2] == "?":
            rest = p[i + 1 :]
            for prefix, what in _GROUP_PROBLEMS:
                if rest.startswith(prefix):
                    return f"{what} (RE2 does not support it)"
            if not rest.startswith("?P<"):
                j = i + 2
                while j < n and p[j] not in ":)":
                    if p[j] not in _FLAGS_RE2:
                        return f"the inline flag {p[j]!r} (RE2 knows only i, m, s and U)"
                    j += 1
            i += 2
            continue
        repeat = _repeat(p, i) if c == "{" else None
        if repeat == "{,n}":
            return "a repeat {,n} (RE2 reads it as literal text)"
        if c in "*+?" or isinstance(repeat, tuple):
            if isinstance(repeat, tuple):
                end, counts = repeat
                if any(count > MAX_REPEAT for count in counts):
                    return f"a repeat count above {MAX_REPEAT} (RE2's limit)"
                i = end
            else:
                i += 1
            if p[i : i + 1] == "?":
                i += 1
            if p[i : i + 1] == "+":
                return "a possessive quantifier (RE2 does not support it)"
            continue
        i += 1
    return None


def _repeat(p: str, i: int) -> tuple[int, list[int]] | str | None:
    """For ``{m}``, ``{m,}``, ``{m,n}`` at ``i``: the index after ``}`` and the counts;
    ``"{,n}"`` for Python's ``{,n}`` (a repeat in Python, literal text in RE2); else None (a ``{``
    that starts no repeat is a literal, in Python and in RE2)."""
    close = p.find("}", i)
    if close < 0:
        return None
    low, _, high = p[i + 1 : close].partition(",")
    if not _digits(low):
        return "{,n}" if not low and _digits(high) else None
    if high and not _digits(high):
        return None
    counts = [int(low)] + ([int(high)] if high else [])
    return close + 1, counts


def _digits(text: str) -> bool:
    return bool(text) and text.isascii() and text.isdigit()


def selection_problem(selection: tuple[str, str] | None, label: str | None = None) -> str | None:
    """For a selection option ``(name, value)``: why its regex cannot be used, or None (suffix
    options and None are always fine). ``label`` names the option in the message (default: its
    name)."""
    if selection is None or not selection[0].endswith("_regex"):
        return None
    problem = re2_problem(selection[1])
    if problem is None:
        return None
    return f"{label or selection[0]} {selection[1]!r} is not a valid regular expression for sops: {problem}"


#: The hint printed with a refused selection regex.
HINT = "sops (Go RE2) and pysops must select the same values: see docs/exit-codes.md, 'Regular expressions'"
