"""Typed leaf values and their Go-compatible text forms.

sops is written in Go; the bytes it encrypts and hashes for a value are Go's formatting of that
value (format.md §1.3). This module is the one place that knows those rules:

* ``to_plaintext`` / ``from_plaintext``: the bytes under encryption and in the MAC, per type tag;
* ``format_float_*``: Go's ``strconv.FormatFloat`` modes used by the stores (one function per
  output: plaintext/MAC, JSON, YAML, dotenv/INI via ``value_to_string``);
* ``parse_json_number``: JSON numbers typed as int where sops 3.13.2 and 3.11 agree on their text;
* ``GoTime``: a timestamp with nanosecond precision and Go's RFC3339 text forms.
"""

from __future__ import annotations

import math

from pysops._lazyre import LazyPattern
from pysops.errors import DecryptionFailed

_RFC3339 = LazyPattern(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))\Z"
)


class GoTime:
    """A Go ``time.Time`` as sops sees it: civil fields, nanoseconds and a UTC offset in seconds.

    Immutable and hashable (it is part of IV-stash keys).
    """

    __slots__ = ("year", "month", "day", "hour", "minute", "second", "nanosecond", "offset")
    year: int
    month: int
    day: int
    hour: int
    minute: int
    second: int
    nanosecond: int
    offset: int

    def __init__(
        self,
        year: int,
        month: int,
        day: int,
        hour: int = 0,
        minute: int = 0,
        second: int = 0,
        nanosecond: int = 0,
        offset: int = 0,
    ) -> None:
        values = (year, month, day, hour, minute, second, nanosecond, offset)
        for name, value in zip(self.__slots__, values, strict=True):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("GoTime is immutable")

    # Immutable: a copy is the object itself. Without these, ``copy.deepcopy`` of a document or an
    # IV stash holding a timestamp (edit, the merge driver) fails in ``__setattr__``.
    def __copy__(self) -> GoTime:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> GoTime:
        return self

    def __reduce__(self) -> tuple[type[GoTime], tuple[int, ...]]:
        return (GoTime, self._key())

    def _key(self) -> tuple[int, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GoTime) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(("GoTime", *self._key()))

    def __repr__(self) -> str:
        return f"GoTime({self.rfc3339nano()!r})"

    @classmethod
    def parse_rfc3339(cls, text: str) -> GoTime:
        """Parse RFC3339 with an optional fraction (Go ``time.UnmarshalText``)."""
        if len(text) == 20 and text.isascii():
            # sops's own ``lastmodified`` form (seconds, UTC), read on every decrypt: no regex needed
            fields = (text[0:4], text[5:7], text[8:10], text[11:13], text[14:16], text[17:19])
            if (
                text[4] == text[7] == "-"
                and text[10] in "Tt"
                and text[13] == text[16] == ":"
                and text[19] in "Zz"
                and all(field.isdigit() for field in fields)
            ):
                year, month, day, hour, minute, second = map(int, fields)
                return cls(year, month, day, hour, minute, second, 0, 0)
        m = _RFC3339.match(text)
        if m is None:
            raise ValueError(f"not an RFC3339 time: {text!r}")
        frac = m.group(7) or ""
        offset = 0
        if m.group(9):
            offset = (int(m.group(10)) * 3600 + int(m.group(11)) * 60) * (1 if m.group(9) == "+" else -1)
        return cls(
            int(m.group(1)),
            int(m.group(2)),
            int(m.group(3)),
            int(m.group(4)),
            int(m.group(5)),
            int(m.group(6)),
            int(frac.ljust(9, "0")) if frac else 0,
            offset,
        )

    def _zone(self) -> str:
        if self.offset == 0:
            return "Z"
        sign = "+" if self.offset > 0 else "-"
        minutes = abs(self.offset) // 60
        return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"

    def rfc3339(self) -> str:
        """Go ``time.RFC3339``: seconds precision (used for ``lastmodified`` and the MAC's AAD)."""
        return (
            f"{self.year:04d}-{self.month:02d}-{self.day:02d}T"
            f"{self.hour:02d}:{self.minute:02d}:{self.second:02d}{self._zone()}"
        )

    def rfc3339nano(self) -> str:
        """Go ``time.MarshalText``: RFC3339 with a fraction without trailing zeros."""
        frac = ""
        if self.nanosecond:
            frac = "." + f"{self.nanosecond:09d}".rstrip("0")
        return (
            f"{self.year:04d}-{self.month:02d}-{self.day:02d}T"
            f"{self.hour:02d}:{self.minute:02d}:{self.second:02d}{frac}{self._zone()}"
        )

    def __str__(self) -> str:
        return self.rfc3339nano()


Value = str | int | float | bool | GoTime | bytes


def type_name(value: Value) -> str:
    """The sops type tag of a value (``bool`` is checked before ``int``: Python's bool is an int)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, GoTime):
        return "time"
    if isinstance(value, bytes):
        return "bytes"
    raise TypeError(f"unsupported value type {type(value).__name__}")


def _decimal_digits(x: float) -> tuple[str, int]:
    """Shortest round-trip digits of a finite, non-zero float and its decimal point position.

    Returns ``(digits, point)`` with ``value = 0.digits * 10**point`` (Go's ``decimalSlice``).
    Python's ``repr`` gives the same shortest digits as Go; only the layout differs.
    """
    mantissa, _, exponent = repr(abs(x)).partition("e")
    integer, _, fraction = mantissa.partition(".")
    all_digits = integer + fraction
    significant = all_digits.lstrip("0")
    point = len(integer) + (int(exponent) if exponent else 0) - (len(all_digits) - len(significant))
    return significant.rstrip("0") or "0", point


def _special_float(x: float) -> str | None:
    """Go's text for NaN, infinities and (signed) zero, which every FormatFloat mode shares."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    if x == 0:
        return "-0" if math.copysign(1.0, x) < 0 else "0"
    return None


def format_float_f(x: float) -> str:
    """Go ``strconv.FormatFloat(x, 'f', -1, 64)``: never an exponent (the plaintext/MAC form)."""
    special = _special_float(x)
    if special is not None:
        return special
    digits, point = _decimal_digits(x)
    sign = "-" if x < 0 else ""
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"


def _format_float_e(x: float, upper: bool = False) -> str:
    digits, point = _decimal_digits(x)
    sign = "-" if x < 0 else ""
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    exp = point - 1
    e = "E" if upper else "e"
    return f"{sign}{mantissa}{e}{'+' if exp >= 0 else '-'}{abs(exp):02d}"


def format_float_g(x: float, upper: bool = False) -> str:
    """Go ``strconv.FormatFloat(x, 'g' or 'G', -1, 64)``."""
    special = _special_float(x)
    if special is not None:
        return special
    digits, point = _decimal_digits(x)
    exp = point - 1
    eprec = 6
    if eprec > len(digits) and len(digits) >= point:
        eprec = len(digits)
    if exp < -4 or exp >= eprec:
        return _format_float_e(x, upper)
    return format_float_f(x)


def format_float_json(x: float) -> str:
    """Go ``encoding/json`` float encoding (``'f'`` in [1e-6, 1e21), else short ``'e'``)."""
    if math.isnan(x) or math.isinf(x):
        raise ValueError("JSON cannot represent NaN or infinity")
    ax = abs(x)
    if ax != 0 and (ax < 1e-6 or ax >= 1e21):
        text = _format_float_e(x)
        if len(text) >= 4 and text[-4] == "e" and text[-3] == "-" and text[-2] == "0":
            text = text[:-2] + text[-1]
        return text
    return format_float_f(x)


def format_float_yaml(x: float) -> str:
    """A float as sops writes it in YAML: go-yaml v3 uses ``FormatFloat(x, 'g', -1, 64)``, with
    ``.inf``/``-.inf``/``.nan`` for the special values (``2.0`` -> ``2``, ``1e6`` -> ``1e+06``)."""
    if math.isnan(x):
        return ".nan"
    if math.isinf(x):
        return ".inf" if x > 0 else "-.inf"
    return format_float_g(x)


#: JSON integers up to this magnitude are typed ``int``: exactly the ones a float64 holds exactly.
_EXACT_FLOAT_INT = 2**53
#: ... so a literal longer than this (sign and 16 digits) is never one.
_EXACT_INT_LITERAL_MAX_LEN = 17


def parse_json_number(raw: str) -> int | float:
    """The value of a JSON number literal (already checked against the JSON grammar).

    An integer literal (no fraction, no exponent) whose magnitude is at most 2**53 is an ``int``,
    as sops 3.13.2 types it; anything else is a float64 as in sops 3.11 (``1.0``, ``1e2``, ``-0``
    which keeps its sign, and integers beyond 2**53). The bound keeps the MAC compatible both ways
    with sops 3.11, which reads every JSON number as a float64 and hashes an unencrypted value's
    text: up to 2**53 the int and the float have the same text (``42``), beyond it the float64 is
    rounded (``9007199254740993`` reads as ``9007199254740992``) and so must ours be.
    Raises ValueError past the float64 range.
    """
    if len(raw) <= _EXACT_INT_LITERAL_MAX_LEN and raw.lstrip("-").isdigit() and raw != "-0":
        number = int(raw)
        if -_EXACT_FLOAT_INT <= number <= _EXACT_FLOAT_INT:
            return number
    value = float(raw)
    if value - value != 0.0:  # inf (NaN is no JSON literal)
        raise ValueError("a number is out of the float64 range")  # never the number: it may be a secret
    return value


def sprint(value: Value | None) -> str:
    """Go's ``fmt.Sprint`` of a decoded value: how ``--extract`` prints a scalar and how the
    Terraform provider shows a leaf (``null``, ``true``/``false``, floats in ``%g`` form)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format_float_g(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return str(value)


def value_to_string(value: Value | None) -> str:
    """sops's ``ValToString``: how a typed value reads in dotenv/INI output and in exec-env."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = format_float_g(value, upper=True)
        if text.removeprefix("-").isdecimal() and text.isascii():  # an integral value: "-?[0-9]+"
            text += ".0"
        return text
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return str(value)


def to_plaintext(value: Value) -> bytes:
    """The bytes sops encrypts and hashes for a value (format.md §1.3)."""
    if isinstance(value, bool):
        return b"True" if value else b"False"
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, float):
        return format_float_f(value).encode()
    if isinstance(value, str):
        # Binary files are carried as str with surrogate escapes so non-UTF-8 bytes survive.
        return value.encode("utf-8", "surrogateescape")
    if isinstance(value, GoTime):
        return value.rfc3339nano().encode()
    if isinstance(value, bytes):
        return value
    raise TypeError(f"unsupported value type {type(value).__name__}")


_GO_INT = LazyPattern(r"[+-]?[0-9]+\Z")
_GO_BOOL = {
    "1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
    "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False,
}  # fmt: skip


def from_plaintext(data: bytes, type_tag: str) -> Value:
    """Decode decrypted bytes according to the ``type:`` tag (the inverse of ``to_plaintext``).

    Raises DecryptionFailed for an unknown tag or bytes that do not parse as the tagged type.
    """
    try:
        if type_tag == "str" or type_tag == "comment":
            return data.decode("utf-8", "surrogateescape")
        text = data.decode("utf-8")
        if type_tag == "int":
            if not _GO_INT.match(text):
                raise ValueError(text)
            number = int(text)
            if not -(2**63) <= number < 2**63:
                raise ValueError(text)
            return number
        if type_tag == "float":
            return _parse_go_float(text)
        if type_tag == "bool":
            return _GO_BOOL[text]
        if type_tag == "time":
            return GoTime.parse_rfc3339(text)
        if type_tag == "bytes":
            return data
    except (ValueError, KeyError, UnicodeDecodeError):
        raise DecryptionFailed(f"a value of type {type_tag} has a malformed plaintext") from None
    raise DecryptionFailed(f"unknown value type {type_tag!r} in an encrypted value")


_GO_FLOAT = LazyPattern(r"[+-]?(\d[\d_]*\.?[\d_]*|\.\d[\d_]*)([eE][+-]?\d+)?|[+-]?0[xX][0-9a-fA-F_.]+[pP][+-]?\d+")


def _parse_go_float(text: str) -> float:
    lowered = text.lower().lstrip("+-")
    if lowered in ("inf", "infinity", "nan"):
        return float(text)
    if not _GO_FLOAT.fullmatch(text):
        raise ValueError(text)
    if text.lstrip("+-")[:2].lower() == "0x":
        return float.fromhex(text.replace("_", ""))
    return float(text.replace("_", ""))
