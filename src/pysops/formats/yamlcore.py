"""Reading YAML: the event source and go-yaml v3 scalar typing shared by the YAML store and
the configuration loader (``load_data``).

Kept apart from the store (``pysops.formats.yaml``) so that reading a ``.sops.yaml`` next to a
JSON or dotenv file does not import the store's renderer. Events come from ``yamlscan`` (pure
Python, the plain block style of most files) or libyaml's binding (everything else, see
``libyaml``); both give the same events and character offsets.
"""

from __future__ import annotations

import binascii
import math
import re
import sys
from collections.abc import Callable

from pysops._typing import TYPE_CHECKING
from pysops.errors import ParseError
from pysops.formats import libyaml, yamlscan
from pysops.limits import MAX_DEPTH, alias_budget, excessive_aliasing, too_deep
from pysops.values import GoTime, Value

if TYPE_CHECKING:
    from typing import Any

# --------------------------------------------------------------------------------------------
# Event sources
# --------------------------------------------------------------------------------------------

_binding: Any = None


def _libyaml() -> Any:
    """libyaml's binding, imported on first use (without ruamel.yaml's package, see libyaml.py)."""
    global _binding
    if _binding is None:
        binding = libyaml.load()
        _flatten_events(binding)
        _binding = binding
    return _binding


def _flatten_events(binding: Any) -> None:
    """Give the binding event classes that set their attributes in one ``__init__``.

    The binding creates each event by calling the class it finds under that name in its own
    module, and ruamel's event classes initialise through two or three ``__init__`` frames and
    read ``tag`` through a property (8 % of the instructions of a large file's parse). The
    classes put in their place are subclasses (``isinstance`` and every attribute as before, so
    ruamel.yaml's own composer, if something else in the process uses the binding, reads them
    unchanged) whose ``tag`` is a slot holding the same string."""
    base = sys.modules.get("ruamel.yaml.events")
    if base is None or getattr(binding, "_pysops_flat", False):
        return

    def scalar_init(
        self: Any,
        anchor: Any,
        tag: Any,
        implicit: Any,
        value: Any,
        start_mark: Any = None,
        end_mark: Any = None,
        style: Any = None,
        comment: Any = None,
    ) -> None:
        self.start_mark = start_mark
        self.end_mark = end_mark
        self.comment = comment
        self.anchor = anchor
        self.ctag = tag
        self.tag = tag if tag is None or type(tag) is str else str(tag)
        self.implicit = implicit
        self.value = value
        self.style = style

    def start_init(
        self: Any,
        anchor: Any,
        tag: Any,
        implicit: Any,
        start_mark: Any = None,
        end_mark: Any = None,
        flow_style: Any = None,
        comment: Any = None,
        nr_items: int | None = None,
    ) -> None:
        self.start_mark = start_mark
        self.end_mark = end_mark
        self.comment = comment
        self.anchor = anchor
        self.ctag = tag
        self.tag = tag if tag is None or type(tag) is str else str(tag)
        self.implicit = implicit
        self.flow_style = flow_style
        self.nr_items = nr_items

    def end_init(self: Any, start_mark: Any = None, end_mark: Any = None, comment: Any = None) -> None:
        self.start_mark = start_mark
        self.end_mark = end_mark
        self.comment = comment

    def flat(name: str, init: Any, slots: tuple[str, ...]) -> type:
        return type(name, (getattr(base, name),), {"__slots__": slots, "__init__": init, "__module__": __name__})

    try:
        replacements = {
            "ScalarEvent": flat("ScalarEvent", scalar_init, ("tag",)),
            "MappingStartEvent": flat("MappingStartEvent", start_init, ("tag",)),
            "SequenceStartEvent": flat("SequenceStartEvent", start_init, ("tag",)),
            "MappingEndEvent": flat("MappingEndEvent", end_init, ()),
            "SequenceEndEvent": flat("SequenceEndEvent", end_init, ()),
        }
        for name in replacements:
            if getattr(binding, name, None) is not getattr(base, name, None):
                return  # not the classes this was written for: leave the binding as it is
        for name, cls in replacements.items():
            setattr(binding, name, cls)
        binding._pysops_flat = True
    except Exception:  # an unexpected ruamel version: the original classes work, only slower
        return


#: Up to this many lines, ``yamlscan`` (about 3 µs an event) beats importing libyaml's binding
#: (about 8 ms) and parsing there (about 1 µs an event); sops-encrypted files have ~2 events a line.
SCAN_MAX_LINES = 2000


def event_source(text: str) -> tuple[Any, Callable[[], Any], type[BaseException]]:
    """The events of ``text``: (module with the event classes, get_event, its YAML error class).

    While libyaml's binding is not imported, a small text in the plain block style most files use
    is read by the pure-Python ``yamlscan``, which gives the same events; anything else (and
    every syntax error) goes to libyaml.
    """
    if _binding is None and text.count("\n", 0, 200 * SCAN_MAX_LINES) < SCAN_MAX_LINES:
        try:
            events = yamlscan.scan(text)
        except yamlscan.Unsupported:
            pass
        else:
            return yamlscan, iter(events).__next__, yamlscan.YAMLError
    lib = _libyaml()
    from ruamel.yaml.error import YAMLError  # loaded with the binding, which raises it

    error: type[BaseException] = YAMLError
    return lib, lib.CParser(text).get_event, error


# --------------------------------------------------------------------------------------------
# Scalar resolution (go-yaml v3 ``resolve``)
# --------------------------------------------------------------------------------------------

_TAG_PREFIX = "tag:yaml.org,2002:"
NULLS = frozenset(("", "~", "null", "Null", "NULL"))
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_SPECIAL_FLOATS = {
    ".nan": math.nan, ".NaN": math.nan, ".NAN": math.nan,
    ".inf": math.inf, ".Inf": math.inf, ".INF": math.inf,
    "+.inf": math.inf, "+.Inf": math.inf, "+.INF": math.inf,
    "-.inf": -math.inf, "-.Inf": -math.inf, "-.INF": -math.inf,
}  # fmt: skip
#: first characters for which go-yaml tries anything but a string
PLAIN_HINTED = _HINTED = frozenset("+-0123456789yYnNtTfFoO~.")
_YAML_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z")
_DOT_FLOAT = re.compile(r"\.[0-9]+([eE][-+]?[0-9]+)?\Z")
_TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})"
    r"(?:(?:([Tt])|( ))([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:[.,]([0-9]+))?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})?)?\Z"
)
_INT64_MIN, _INT64_MAX, _UINT64_MAX = -(2**63), 2**63 - 1, 2**64 - 1


class Uint64Overflow(Exception):
    """A plain integer that only fits Go's uint64: sops cannot encrypt it."""


def go_parse_int(text: str) -> int | None:
    """Go ``strconv.ParseInt(text, 0, 64)`` (underscores already removed); None on any error."""
    body = text
    sign = 1
    if body[:1] in ("+", "-"):
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    if not body:
        return None
    base = 10
    lowered = body[:2].lower()
    if lowered == "0x":
        base, body = 16, body[2:]
    elif lowered == "0o":
        base, body = 8, body[2:]
    elif lowered == "0b":
        base, body = 2, body[2:]
    elif body[0] == "0" and len(body) > 1:
        base, body = 8, body[1:]
    if not body or not body.isascii() or not body.isalnum():
        return None
    try:
        number = sign * int(body, base)
    except ValueError:
        return None
    return number


_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _days_in_month(year: int, month: int) -> int:
    """Days of a proleptic Gregorian month (calendar.monthrange without importing calendar)."""
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        return 29
    return _MONTH_DAYS[month - 1]


def parse_timestamp(text: str) -> GoTime | None:
    """go-yaml's ``parseTimestamp`` over its four accepted layouts (quick check done by caller)."""
    m = _TIMESTAMP.match(text)
    if m is None:
        return None
    year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if not 1 <= month <= 12 or not 1 <= day <= _days_in_month(year, month):
        return None
    if m.group(6) is None:
        return GoTime(year, month, day)
    zone = m.group(10)
    if m.group(4) is not None and zone is None:  # the 'T' layouts require a zone
        return None
    if m.group(5) is not None and zone is not None:  # the ' ' layout has no zone
        return None
    hour, minute, second = int(m.group(6)), int(m.group(7)), int(m.group(8))
    if hour > 23 or minute > 59 or second > 59:
        return None
    frac = m.group(9) or ""
    nanos = int(frac[:9].ljust(9, "0")) if frac else 0
    offset = 0
    if zone and zone != "Z":
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        if hours > 24 or minutes > 60:
            return None
        offset = (hours * 3600 + minutes * 60) * (-1 if zone[0] == "-" else 1)
    return GoTime(year, month, day, hour, minute, second, nanos, offset)


def resolve_plain(text: str) -> Value | None:
    """The typed value go-yaml v3 gives an untagged plain scalar (None for null).

    Raises ``Uint64Overflow`` for integers in (int64 max, uint64 max], which sops cannot encrypt.
    """
    if not text:
        return None
    first = text[0]
    if first not in _HINTED:
        return text
    if text in NULLS:
        return None
    if text in _BOOLS:
        return _BOOLS[text]
    if text in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[text]
    if first == ".":
        if _DOT_FLOAT.match(text):
            number = float(text)
            if not math.isinf(number):
                return number
        return text
    if first in "yYnNtTfFoO~":
        return text
    # digits or sign: timestamp, int, float, 0b/0o forms
    if len(text) > 4 and text[4] == "-" and text[:4].isdigit() and text[:4].isascii():
        stamp = parse_timestamp(text)
        if stamp is not None:
            return stamp
    plain = text.replace("_", "")
    parsed = go_parse_int(plain)
    if parsed is not None:
        if _INT64_MIN <= parsed <= _INT64_MAX:
            return parsed
        if 0 <= parsed <= _UINT64_MAX and plain[:1] != "-":
            raise Uint64Overflow(text)
    if _YAML_FLOAT.match(plain):
        value = float(plain)
        if not math.isinf(value):
            return value
    for prefix, base in (("0b", 2), ("-0b", 2), ("0o", 8), ("-0o", 8)):
        if plain.startswith(prefix):
            digits = plain[len(prefix) :]
            if digits and digits.isascii() and digits.isalnum():
                try:
                    based = int(digits, base) * (-1 if prefix[0] == "-" else 1)
                except ValueError:
                    break
                if _INT64_MIN <= based <= _INT64_MAX:
                    return based
            break
    return text


def resolve_tagged(text: str, tag: str, plain: bool) -> Value | None:
    """A scalar with an explicit tag (``!!int 5``). An unknown tag is dropped like sops drops it,
    and the scalar is then a string (``!custom 123`` is ``"123"``, ``!custom`` alone ``""``), as
    go-yaml decodes it."""
    short = tag[len(_TAG_PREFIX) :] if tag.startswith(_TAG_PREFIX) else None
    if short == "str":
        return text
    if short == "binary":
        try:
            import base64  # only for !!binary: not worth an import on every start

            # Go's decoder skips line breaks and nothing else: a space is invalid data for sops
            raw = base64.b64decode(text.replace("\r", "").replace("\n", ""), validate=True)
        except (binascii.Error, ValueError):
            # (sops's phrase; the value itself is never shown: it may be a secret)
            raise ParseError("!!binary value contains invalid base64 data") from None
        return raw.decode("utf-8", "surrogateescape")
    if short in ("int", "float", "bool", "null", "timestamp"):
        value = resolve_plain(text)
        if short == "float" and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        expected: dict[str, tuple[type, ...]] = {
            "int": (int,), "float": (float,), "bool": (bool,), "null": (type(None),), "timestamp": (GoTime,),
        }  # fmt: skip
        if not isinstance(value, expected[short]) or (short == "int" and isinstance(value, bool)):
            raise ParseError(f"cannot decode a value tagged !!{short}: it is not one")
        return value
    if tag == "!" and plain:
        return resolve_plain(text)  # the non-specific tag: go-yaml resolves the plain text
    # any other tag (!custom, !!foo, !<tag:x>): go-yaml decodes the scalar as its text, a string
    return text


def resolve_scalar(text: str, style: str, tag: str | None) -> Value | None:
    """The typed value of a scalar event: plain scalars are resolved, quoted and block scalars
    only when they carry a tag (go-yaml: ``!!int |-`` + ``42`` is the int 42, ``!!binary |`` is
    decoded). Raises ``Uint64Overflow`` like ``resolve_plain``."""
    if style == "":
        return resolve_plain(text) if tag is None else resolve_tagged(text, tag, True)
    if tag is not None:
        return resolve_tagged(text, tag, False)
    return text


# --------------------------------------------------------------------------------------------
# Plain data (configuration files)
# --------------------------------------------------------------------------------------------


def load_data(text: str) -> Any:
    """Plain Python data of the first YAML document of ``text`` (for configuration files).

    Mappings become dicts, sequences lists, scalars are typed like the store types them (go-yaml
    v3, as sops reads its ``.sops.yaml``); the top level may be any node, an empty text gives None.
    Aliases share the anchored object; a merge key (``<<: *base`` or ``<<: [*a, *b]``) adds the
    entries the mapping does not define itself. Raises ``ParseError`` for invalid YAML and
    duplicate keys; messages have no "unmarshaling" prefix (callers name the file).
    """
    lib, get_event, YAMLError = event_source(text[1:] if text.startswith("\ufeff") else text)
    ScalarEvent = lib.ScalarEvent
    MappingStartEvent = lib.MappingStartEvent
    SequenceStartEvent = lib.SequenceStartEvent
    AliasEvent = lib.AliasEvent
    StreamEndEvent = lib.StreamEndEvent
    ends = (lib.MappingEndEvent, lib.SequenceEndEvent)
    anchors: dict[str, Any] = {}
    # Aliases share the anchored object here, but a consumer that walks the data walks every
    # copy: the nodes they stand for count against the same budget as in the YAML store.
    sizes: dict[str, int] = {}  # anchor -> nodes of the anchored value, aliases expanded
    alias_nodes = 0
    budget = alias_budget(len(text))
    # open containers: [container, pending key (maps), merge sources (maps), anchor, size]
    stack: list[list[Any]] = []
    result: Any = None
    has_root = False

    def add(value: Any, event: Any, size: int = 1) -> bool:
        """Put a finished value (of ``size`` nodes) into the open container; True when it
        completes the document."""
        nonlocal result, has_root
        if not stack:
            result, has_root = value, True
            return True
        top = stack[-1]
        top[4] += size
        container = top[0]
        if isinstance(container, list):
            container.append(value)
        elif top[1] is _NO_KEY:
            if isinstance(value, (dict, list)):
                raise ParseError(
                    f"line {event.start_mark.line + 1}: complex (non-scalar) mapping keys are not supported"
                )
            top[1] = value
        else:
            key = top[1]
            top[1] = _NO_KEY
            if key is _MERGE:
                top[2].extend(value if isinstance(value, list) else [value])
            elif key in container:
                raise ParseError(f'line {event.start_mark.line + 1}: mapping key "{key}" already defined')
            else:
                container[key] = value
        return False

    try:
        while True:
            event = get_event()
            cls = type(event)
            if cls is ScalarEvent:
                style = event.style or ""
                tag = event.tag
                try:
                    value = resolve_scalar(event.value, style, tag)
                except Uint64Overflow:
                    value = go_parse_int(event.value.replace("_", ""))
                item: Any = value
                if (
                    stack and isinstance(stack[-1][0], dict) and stack[-1][1] is _NO_KEY
                    and value == "<<" and style == "" and tag is None
                ):  # fmt: skip
                    item = _MERGE
                if event.anchor is not None:
                    anchors[event.anchor] = item
                    sizes[event.anchor] = 1
                if add(item, event):
                    break
            elif cls is MappingStartEvent or cls is SequenceStartEvent:
                if len(stack) >= MAX_DEPTH:
                    raise too_deep()
                new: Any = {} if cls is MappingStartEvent else []
                stack.append([new, _NO_KEY, [], event.anchor, 1])
            elif cls in ends:
                container, _, merges, anchor, size = stack.pop()
                for source in merges:
                    if not isinstance(source, dict):
                        raise ParseError(f"line {event.start_mark.line + 1}: a merge key (<<) must refer to mappings")
                    for key, value in source.items():
                        container.setdefault(key, value)
                if anchor is not None:
                    anchors[anchor] = container
                    sizes[anchor] = size
                if add(container, event, size):
                    break
            elif cls is AliasEvent:
                if event.anchor not in anchors:
                    raise ParseError(f"line {event.start_mark.line + 1}: unknown anchor '{event.anchor}' referenced")
                size = sizes[event.anchor]
                alias_nodes += size
                if alias_nodes > budget:
                    raise excessive_aliasing()
                if add(anchors[event.anchor], event, size):
                    break
            elif cls is StreamEndEvent:
                break
    except YAMLError as exc:
        raise ParseError(" ".join(str(exc).split())) from None
    return result if has_root else None


class _Marker:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


_NO_KEY = _Marker("<no key>")
_MERGE = _Marker("<<")
