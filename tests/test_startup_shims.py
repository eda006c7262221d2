"""The light stand-ins that keep typing and re off the decrypt path behave like the real thing."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pysops._lazyre import LazyPattern
from pysops._typing import NamedTuple, Protocol
from pysops.crypto.cipher import EncryptedValue, _well_formed
from pysops.errors import DecryptionFailed
from pysops.keys.age import _is_base64
from pysops.values import _RFC3339, GoTime


class _Point(NamedTuple):
    """A point."""

    x: int
    y: int = 0
    label: str = "p"

    @classmethod
    def origin(cls) -> _Point:
        return cls(0)

    def norm1(self) -> int:
        return abs(self.x) + abs(self.y)


def test_named_tuple_stand_in_is_a_namedtuple_with_the_class_body() -> None:
    p = _Point(3, -4)
    assert p == (3, -4, "p") and hash(p) == hash((3, -4, "p"))
    assert (p.x, p.y, p.label) == (3, -4, "p") and p.norm1() == 7
    assert _Point.origin() == _Point(0, 0) and p._replace(label="q").label == "q"
    assert repr(p) == "_Point(x=3, y=-4, label='p')" and _Point.__doc__ == "A point."
    assert _Point._fields == ("x", "y", "label") and _Point.__module__ == __name__
    x, y, _ = p
    assert (x, y) == (3, -4)
    with pytest.raises(AttributeError):
        p.z = 1  # type: ignore[attr-defined]


def test_named_tuple_stand_in_rejects_a_required_field_after_a_default() -> None:
    with pytest.raises(TypeError):

        class _Bad(NamedTuple):
            a: int = 1
            b: int  # type: ignore[misc]


def test_protocol_stand_in_is_a_plain_base() -> None:
    class _Greeter(Protocol):
        def greet(self) -> str: ...

    class _Impl(_Greeter):
        def greet(self) -> str:
            return "hi"

    assert _Impl().greet() == "hi"


def test_lazy_pattern_compiles_on_first_use() -> None:
    pattern = LazyPattern(r"(\d+)-(\d+)")
    assert pattern.pattern == r"(\d+)-(\d+)" and pattern._compiled is None
    match = pattern.fullmatch("12-34")
    assert match is not None and match.groups() == ("12", "34")
    assert pattern.compiled is pattern.compiled  # compiled once
    assert pattern.findall("1-2 3-4") == [("1", "2"), ("3", "4")] and pattern.sub("x", "a 1-2 b") == "a x b"
    assert pattern.search("a 5-6") is not None and pattern.match("a 5-6") is None


_B64 = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=!:, ]é", max_size=12)


@given(_B64)
def test_age_base64_check_equals_the_regex(text: str) -> None:
    assert _is_base64(text) == (text.isascii() and re.fullmatch(r"[A-Za-z0-9+/]*={0,2}", text) is not None)


_GOOD = "ENC[AES256_GCM,data:AAEC,iv:" + "A" * 43 + "=,tag:" + "B" * 22 + "==,type:str]"
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="


def _agree(text: str) -> None:
    """The str-method fast path either declines (None) or agrees with EncryptedValue.parse (sops's
    pattern), including on what is malformed."""
    try:
        reference: EncryptedValue | None = EncryptedValue.parse(text)
    except DecryptionFailed:
        reference = None
    try:
        fast = _well_formed(text)
    except DecryptionFailed:
        assert reference is None or len(reference.tag) != 16 or not reference.iv
        return
    if fast is not None:
        assert reference is not None and tuple(reference) == fast


@given(
    st.lists(
        st.tuples(st.integers(0, len(_GOOD)), st.sampled_from(["", "=", ",", "A", "é", "]", "iv:", "x", "AAAA"])),
        max_size=3,
    ),
    st.integers(0, 3),
)
def test_enc_fast_split_agrees_with_the_sops_pattern(edits: list[tuple[int, str]], cut: int) -> None:
    text = _GOOD
    for position, insert in edits:
        text = text[:position] + insert + text[position + cut :]
    _agree(text)


@given(
    st.text(alphabet=_ALPHABET + "é!", max_size=10),
    st.text(alphabet=_ALPHABET, max_size=48),
    st.text(alphabet=_ALPHABET, max_size=26),
    st.text(alphabet="strSTR1", max_size=4),
)
def test_enc_fast_split_agrees_on_generated_fields(data: str, iv: str, tag: str, kind: str) -> None:
    _agree(f"ENC[AES256_GCM,data:{data},iv:{iv},tag:{tag},type:{kind}]")


@given(
    st.integers(0, 9999),
    st.integers(0, 99),
    st.integers(0, 99),
    st.integers(0, 99),
    st.integers(0, 99),
    st.integers(0, 99),
    st.sampled_from(["T", "t", " ", "X"]),
    st.sampled_from(["Z", "z", "+01:00", "", "Q"]),
)
def test_rfc3339_fast_path_equals_the_regex(
    year: int, month: int, day: int, hour: int, minute: int, second: int, t: str, zone: str
) -> None:
    text = f"{year:04d}-{month:02d}-{day:02d}{t}{hour:02d}:{minute:02d}:{second:02d}{zone}"
    try:
        got: GoTime | None = GoTime.parse_rfc3339(text)
    except ValueError:
        got = None
    m = _RFC3339.match(text)
    if m is None:
        assert got is None
    elif got is not None:
        assert got.rfc3339() == f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}" + (
            "Z" if zone in "Zz" else zone
        )
