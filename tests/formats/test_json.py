"""The JSON store: parsing with spans, splicing render, metadata placement, conversion, interop."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from tests.conftest import AgeKey, run_sops
from tests.helpers import age_decrypt, age_encrypt, age_env

from pysops.document import Comment, Document, Entry, Mapping, Scalar, Sequence, to_python, walk_leaves
from pysops.errors import ErrorDumpingTree, ParseError
from pysops.formats import json as store
from pysops.values import (
    GoTime,
    Value,
    format_float_json,
    from_plaintext,
    parse_json_number,
    to_plaintext,
    type_name,
)

META = {
    "lastmodified": "2026-01-02T03:04:05Z",
    "mac": "ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]",
    "version": "3.11.0",
}
META_TAB = (
    '"sops": {\n\t\t"lastmodified": "2026-01-02T03:04:05Z",\n'
    '\t\t"mac": "ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]",\n\t\t"version": "3.11.0"\n\t}'
)


def leaves(doc: Document) -> list[Scalar]:
    return [leaf for _, leaf in walk_leaves(doc.branches[0]) if isinstance(leaf, Scalar)]


def roundtrip_changed(src: bytes, metadata: dict[str, Any] | None = None, **options: Any) -> bytes:
    """Parse, mark every leaf changed with its own value, render."""
    doc = store.parse(src)
    for leaf in leaves(doc):
        leaf.set(leaf.value)
    return store.render(doc, metadata, options or None)


_ENC = re.compile(r"ENC\[AES256_GCM,data:([^,]*),iv:AAAA,tag:AAAA,type:(\w+)\]\Z")


def fake_encrypt(doc: Document) -> None:
    for leaf in leaves(doc):
        if leaf.value is not None:
            data = base64.b64encode(to_plaintext(leaf.value)).decode()
            leaf.set(f"ENC[AES256_GCM,data:{data},iv:AAAA,tag:AAAA,type:{type_name(leaf.value)}]")


def fake_decrypt(doc: Document) -> None:
    for leaf in leaves(doc):
        if leaf.value is not None:
            assert isinstance(leaf.value, str)
            m = _ENC.match(leaf.value)
            assert m is not None, leaf.value
            leaf.set(from_plaintext(base64.b64decode(m.group(1)), m.group(2)))


def fake_cycle(src: bytes, **options: Any) -> tuple[bytes, bytes]:
    doc = store.parse(src)
    fake_encrypt(doc)
    encrypted = store.render(doc, META, options or None)
    doc2 = store.parse(encrypted)
    assert doc2.metadata == META
    fake_decrypt(doc2)
    return encrypted, store.render(doc2, None, options or None)


# ------------------------------------------------------------------------------------------ parse


def test_parse_types_order_duplicates_and_spans() -> None:
    src = '{"b": 1, "a": [2.5, -0, "x", true, false, null], "b": {"c": "é\\n"}, "e": {}, "f": []}'
    doc = store.parse(src.encode())
    root = doc.branches[0]
    assert [e.key for e in root.entries()] == ["b", "a", "b", "e", "f"]
    values = [leaf.value for leaf in leaves(doc)]
    assert values == [1.0, 2.5, -0.0, "x", True, False, None, "é\n"]
    assert [type(v) for v in values[:3]] == [int, float, float]  # -0 keeps its sign as a float
    assert str(values[2]) == "-0.0"
    for leaf in leaves(doc):
        assert leaf.span is not None
        raw = src[leaf.span[0] : leaf.span[1]]
        assert json.loads(raw) == leaf.value
    assert [leaf.style for leaf in leaves(doc)] == ["n", "n", "n", "s", "l", "l", "l", "s"]
    assert root.span == (0, len(src))
    assert doc.metadata is None and doc.format == "json" and doc.text == src


def test_parse_extracts_metadata_and_keeps_it_out_of_the_tree() -> None:
    src = b'{\n\t"a": "x",\n\t"sops": {"version": "3.11.0", "shamir_threshold": 2, "mac_only_encrypted": true}\n}\n'
    doc = store.parse(src)
    assert to_python(doc.branches[0]) == {"a": "x"}
    assert doc.metadata == {"version": "3.11.0", "shamir_threshold": 2, "mac_only_encrypted": True}
    assert type(doc.metadata["shamir_threshold"]) is int
    # Nested "sops" keys are ordinary data.
    nested = store.parse(b'{"a": {"sops": 1}}')
    assert nested.metadata is None and to_python(nested.branches[0]) == {"a": {"sops": 1.0}}


def test_duplicate_sops_members_last_wins_and_all_are_removed() -> None:
    src = b'{"sops": {"version": "1"}, "a": 1, "sops": {"version": "2"}}'
    doc = store.parse(src)
    assert doc.metadata == {"version": "2"}
    assert store.render(doc, None) == b'{"a": 1}'


def test_surrogate_escapes_follow_go() -> None:
    doc = store.parse(b'{"pair": "\\ud83d\\ude00", "lone": "a\\ud800b", "low": "\\udc80"}')
    assert [leaf.value for leaf in leaves(doc)] == ["\U0001f600", "a\ufffdb", "\ufffd"]


def test_non_utf8_bytes_survive_parse_and_render() -> None:
    src = b'{"a": "caf\xe9", "b": 1}\n'
    doc = store.parse(src)
    assert store.render(doc, None) == src
    assert to_plaintext(leaves(doc)[0].value or "") == b"caf\xe9"
    assert roundtrip_changed(src) == src


@pytest.mark.parametrize("src", [b"", b"  \n\t "])
def test_empty_input_is_a_parse_error_like_sops(src: bytes) -> None:
    # sops 3.11: "Could not unmarshal input data: EOF", exit 2 (92 is for an empty YAML file)
    with pytest.raises(ParseError) as info:
        store.parse(src)
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    ("src", "message"),
    [
        (b"[1, 2]", "line 1, column 1: the top level of a JSON file must be an object"),
        (b'"x"', "the top level of a JSON file must be an object"),
        (b'{"a": 1,}', "line 1, column 9: expected a string key"),
        (b'{"a": [1,]}', "line 1, column 10: expected a value"),
        (b'{"a" 1}', "expected ':' after an object key"),
        (b'{"a": 01}', "line 1, column 8: expected ',' or '}'"),
        (b'{"a": 1.}', "expected ',' or '}'"),
        (b'{"a": 1e400}', "line 1, column 7: a number is out of the float64 range"),
        (b'{"a": -1e400}', "out of the float64 range"),
        (b'{"a": NaN}', "expected a value"),
        (b'{"a": tru}', "expected a value"),
        (b'{"a": "\\x"}', "invalid string"),
        (b'{"a": "tab\there"}', "invalid string"),
        (b'{"a": "open', "invalid string"),
        (b'{"a": 1} {}', "unexpected data after the top-level object"),
        (b'{"a": 1', "expected ',' or '}'"),
        (b'{"a": [1, 2}', "expected ',' or ']'"),
        (b"{'a': 1}", "expected a string key"),
        (b'{"a": 1}\n// comment', "unexpected data"),
        (b'\xef\xbb\xbf{"a": 1}', "top level of a JSON file must be an object"),
        (b'{\n  "a": 1,\n  "b": x\n}', "line 3, column 8: expected a value"),
    ],
)
def test_parse_errors(src: bytes, message: str) -> None:
    with pytest.raises(ParseError) as info:
        store.parse(src)
    assert message in str(info.value)
    assert info.value.exit_code == 2


def test_tiny_numbers_underflow_like_go() -> None:
    doc = store.parse(b'{"a": 1e-400, "b": 4.9e-324}')
    assert [leaf.value for leaf in leaves(doc)] == [0.0, 5e-324]


# ------------------------------------------------------------------------------- render (splice)

SAMPLE = b"""{
    "name": "Alice",
    "age": 30,
    "ratio": 0.5,
    "ok": true,
    "none": null,
    "list": [1, "two", {"k": "v"}],
    "nested": {
        "deep": {"x": "y"}
    }
}
"""


def test_untouched_render_is_byte_identical() -> None:
    doc = store.parse(SAMPLE)
    assert store.render(doc, None) == SAMPLE
    assert roundtrip_changed(SAMPLE) == SAMPLE


def test_changed_leaves_are_spliced_with_minimal_escaping() -> None:
    doc = store.parse(SAMPLE)
    name, age, ratio, ok, _, _, two, v, y = leaves(doc)
    name.set('a"b\\c\n\x01<>&é\u2028')
    age.set(42.0)
    ratio.set(1e21)
    ok.set(False)
    two.set(GoTime(2024, 1, 2, 3, 4, 5, 500_000_000, 3600))
    v.set(None)
    y.set(7)
    out = store.render(doc, None)
    assert out == SAMPLE.replace(b'"Alice"', '"a\\"b\\\\c\\n\\u0001<>&é\\u2028"'.encode()).replace(
        b"30", b"42"
    ).replace(b"0.5", b"1e+21").replace(b"true", b"false").replace(b'"two"', b'"2024-01-02T03:04:05.5+01:00"').replace(
        b'"v"', b"null"
    ).replace(b'"y"', b"7")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (42.0, "42"),
        (-0.0, "-0"),
        (1e20, "100000000000000000000"),
        (1e21, "1e+21"),
        (1e-6, "0.000001"),
        (1e-7, "1e-7"),
        (-2.5e-10, "-2.5e-10"),
        (1e300, "1e+300"),
        (3.14159, "3.14159"),
        (True, "true"),
        (None, "null"),
        (12345678901234567890, "12345678901234567890"),
        (b"\x00\xff", '"AP8="'),
        ("", '""'),
    ],
)
def test_scalar_text(value: Value | None, text: str) -> None:
    assert store.scalar_text(value) == text


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_floats_cannot_be_written(value: float) -> None:
    doc = store.parse(b'{"a": 1}')
    leaves(doc)[0].set(value)
    with pytest.raises(ErrorDumpingTree):
        store.render(doc, None)


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        # TAB (sops's own layout).
        (b'{\n\t"a": 1\n}\n', b'{\n\t"a": 1,\n\t' + META_TAB.encode() + b"\n}\n"),
        # Two spaces, no trailing newline: both kept.
        (b'{\n  "a": 1\n}', b'{\n  "a": 1,\n  ' + META_TAB.replace("\t", "  ").encode() + b"\n}"),
        # Four spaces, CRLF.
        (
            b'{\r\n    "a": 1,\r\n    "b": 2\r\n}\r\n',
            b'{\r\n    "a": 1,\r\n    "b": 2,\r\n    '
            + META_TAB.replace("\t", "    ").replace("\n", "\r\n").encode()
            + b"\r\n}\r\n",
        ),
        # One line: the metadata stays on that line, with the file's separators.
        (
            b'{"a":1,"b":2}',
            b'{"a":1,"b":2,"sops":{"lastmodified":"2026-01-02T03:04:05Z",'
            b'"mac":"ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]","version":"3.11.0"}}',
        ),
        # Empty objects get sops's layout.
        (b"{}\n", b"{\n\t" + META_TAB.encode() + b"\n}\n"),
        (b"{ }", b"{\n\t" + META_TAB.encode() + b"\n}"),
    ],
)
def test_metadata_is_appended_in_the_file_layout(src: bytes, expected: bytes) -> None:
    doc = store.parse(src)
    out = store.render(doc, META)
    assert out == expected
    again = store.parse(out)
    assert again.metadata == META
    assert store.render(again, None) == (src if src != b"{ }" else b"{}")
    # Same metadata again: nothing changes.
    assert store.render(again, dict(META)) == out


def test_metadata_strings_are_escaped_like_go() -> None:
    out = store.render(store.parse(b'{"a": "<x>"}'), {"unencrypted_regex": "^<a>&\u2028$", "x": [1, {"y": None}]})
    assert out == (
        b'{"a": "<x>", "sops": {"unencrypted_regex": "^\\u003ca\\u003e\\u0026\\u2028$", "x": [1, {"y": null}]}}'
    )


def test_changed_metadata_replaces_the_old_block_in_place() -> None:
    src = b'{\n  "a": 1,\n  "sops": {\n    "version": "3.10.0"\n  }\n}\n'
    out = store.render(store.parse(src), {"version": "3.11.0"})
    assert out == b'{\n  "a": 1,\n  "sops": {\n    "version": "3.11.0"\n  }\n}\n'


def test_sops_member_in_the_middle_moves_to_the_end() -> None:
    src = b'{\n\t"sops": {"version": "x"},\n\t"a": 1,\n\t"b": 2\n}\n'
    doc = store.parse(src)
    assert store.render(doc, None) == b'{\n\t"a": 1,\n\t"b": 2\n}\n'
    assert store.render(doc, {"version": "y"}) == b'{\n\t"a": 1,\n\t"b": 2,\n\t"sops": {\n\t\t"version": "y"\n\t}\n}\n'
    # Unchanged metadata stays where it is.
    assert store.render(doc, {"version": "x"}) == src


def test_decrypting_a_file_with_only_metadata_gives_an_empty_object() -> None:
    assert store.render(store.parse(b'{\n\t"sops": {"version": "x"}\n}\n'), None) == b"{}\n"


@pytest.mark.parametrize(
    ("indent", "expected"),
    [
        (2, b'{\n\t"a": 1,\n  "sops": {\n    "version": "y"\n  }\n}\n'),
        (0, b'{\n\t"a": 1,\n"sops": {\n"version": "y"\n}\n}\n'),
        (-1, b'{\n\t"a": 1,\n\t"sops": {\n\t\t"version": "y"\n\t}\n}\n'),
    ],
)
def test_indent_option_applies_to_what_we_write(indent: int, expected: bytes) -> None:
    out = store.render(store.parse(b'{\n\t"a": 1\n}\n'), {"version": "y"}, {"indent": indent})
    assert out == expected


def test_structural_changes_are_reemitted_in_place() -> None:
    src = b'{\n  "keep": [1, 2],\n  "obj": {\n    "x": 1\n  },\n  "inline": {"p": 1}\n}\n'
    doc = store.parse(src)
    root = doc.branches[0]
    obj = root.get("obj")
    assert isinstance(obj, Mapping)
    obj.items.append(Entry("y", Sequence([Scalar("s"), Mapping()])))
    inline = root.get("inline")
    assert isinstance(inline, Mapping)
    inline.items.append(Entry("q", Scalar(True)))
    keep = root.get("keep")
    assert isinstance(keep, Sequence)
    keep.items[1] = Mapping([Entry("new", Scalar(3.0))])
    out = store.render(doc, None)
    assert out == (
        b'{\n  "keep": [1, {"new": 3}],\n  "obj": {\n    "x": 1,\n    "y": [\n      "s",\n      {}\n    ]\n  },'
        b'\n  "inline": {"p": 1, "q": true}\n}\n'
    )
    assert to_python(store.parse(out).branches[0]) == to_python(root)


def test_top_level_changes_reemit_the_document() -> None:
    src = b'  {\n  "a": [1, 2],\n  "sops": {"version": "x"}\n}\n'
    doc = store.parse(src)
    doc.branches[0].items.append(Entry("b", Scalar("new")))
    assert store.render(doc, {"version": "x"}) == (
        b'  {\n  "a": [\n    1,\n    2\n  ],\n  "b": "new",\n  "sops": {\n    "version": "x"\n  }\n}\n'
    )
    del doc.branches[0].items[0]
    assert store.render(doc, None) == b'  {\n  "b": "new"\n}\n'


# ------------------------------------------------------------------------------------ conversion


def test_conversion_emits_like_sops() -> None:
    tree = Mapping(
        [
            Comment(" dropped"),
            Entry("int", Scalar(30)),
            Entry("float", Scalar(2.0)),
            Entry("time", Scalar(GoTime(2024, 1, 1))),
            Entry("<<", Scalar("x")),
            Entry("list", Sequence([Scalar("a"), Comment("c"), Sequence([]), Mapping([])])),
            Entry("empty", Mapping([Comment("only a comment")])),
            Entry("null", Scalar(None)),
        ]
    )
    doc = Document("yaml", [tree], text="ignored: yes\n")
    expected = (
        '{\n\t"int": 30,\n\t"float": 2,\n\t"time": "2024-01-01T00:00:00Z",\n\t"<<": "x",\n'
        '\t"list": [\n\t\t"a",\n\t\t[],\n\t\t{}\n\t],\n\t"empty": {},\n\t"null": null\n}\n'
    )
    assert store.render(doc, None) == expected.encode()
    with_meta = store.render(doc, {"version": "3.11.0"}, {"indent": 4})
    assert with_meta.endswith(b'    "null": null,\n    "sops": {\n        "version": "3.11.0"\n    }\n}\n')
    assert store.render(Document("yaml", [Mapping()]), None) == b"{}\n"


def test_conversion_of_several_documents_fails() -> None:
    with pytest.raises(ErrorDumpingTree) as info:
        store.render(Document("yaml", [Mapping(), Mapping()]), None)
    assert info.value.exit_code == 4


def test_bad_indent_option() -> None:
    with pytest.raises(ErrorDumpingTree):
        store.render(Document("yaml", [Mapping()]), None, {"indent": "2"})


# ------------------------------------------------------------------------- fake-cipher round trips


@pytest.mark.parametrize(
    ("src", "decrypted"),
    [
        (b'{"a": 1.0}', b'{"a": 1}'),
        (b'{"a": 1e5}', b'{"a": 100000}'),
        (b'{"a": 1E2, "b": -0.0, "c": 0.1e1}', b'{"a": 100, "b": -0, "c": 1}'),
        (b'{"a": 12345678901234567890}', b'{"a": 12345678901234567000}'),
        (b'{"a": "\\u00e9\\/"}', '{"a": "é/"}'.encode()),
        (b'{"a": "<\\u003c"}', b'{"a": "<<"}'),
        (b'{"a": "\\ud800"}', '{"a": "\ufffd"}'.encode()),
    ],
)
def test_documented_non_exact_round_trips(src: bytes, decrypted: bytes) -> None:
    assert fake_cycle(src)[1] == decrypted


def test_fake_cipher_round_trip_of_the_sample() -> None:
    encrypted, decrypted = fake_cycle(SAMPLE)
    assert decrypted == SAMPLE
    assert encrypted.startswith(b'{\n    "name": "ENC[AES256_GCM,data:QWxpY2U=,iv:AAAA,tag:AAAA,type:str]",\n')
    assert b'"none": null,' in encrypted
    assert encrypted.endswith(META_TAB.replace("\t", "    ").encode() + b"\n}\n")


_ALPHABET = st.characters(exclude_categories=["Cs"])
_KEYS = st.text(_ALPHABET, max_size=6).filter(lambda k: k != "sops")
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-(2**53), 2**53).map(float),
    st.text(_ALPHABET, max_size=10),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.lists(st.tuples(_KEYS, children), max_size=4),  # duplicate keys allowed
    ),
    max_leaves=20,
)


@st.composite
def json_texts(draw: st.DrawFn) -> str:
    """A JSON object in a random layout; numbers in Go's canonical form, strings as json.dumps writes
    (values with U+2028/U+2029 escaped, as Go and pysops write a value: docs/formats.md#json)."""
    unit = draw(st.sampled_from([None, "\t", "  ", "    ", ""]))
    colon = draw(st.sampled_from([": ", ":", " : "]))
    comma = draw(st.sampled_from([", ", ","]))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    members = draw(st.lists(st.tuples(_KEYS, _VALUES), max_size=6))

    def dump(value: Any, prefix: str) -> str:
        if isinstance(value, float):
            return format_float_json(value)
        if not isinstance(value, list):
            return json.dumps(value, ensure_ascii=False).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
        is_object = bool(value) and isinstance(value[0], tuple)
        if not value:
            return draw(st.sampled_from(["[]", "{}", "[ ]", "{\n}"]))
        inner = prefix + (unit or "")
        parts = [
            (json.dumps(k, ensure_ascii=False) + colon if is_object else "") + dump(v, inner)
            for k, v in (value if is_object else [(None, v) for v in value])
        ]
        opener, closer = ("{", "}") if is_object else ("[", "]")
        if unit is None:
            return opener + comma.join(parts) + closer
        return opener + newline + inner + ("," + newline + inner).join(parts) + newline + prefix + closer

    body = dump(members, "") if members else "{}"
    if body.startswith("["):
        body = "{}"
    lead = draw(st.sampled_from(["", " ", "\n"]))
    trail = draw(st.sampled_from(["", "\n", newline + newline]))
    return lead + body + trail


@given(json_texts())
@settings(max_examples=300, deadline=None)
def test_parse_render_untouched_is_byte_identical(text: str) -> None:
    src = text.encode()
    doc = store.parse(src)
    assert to_python(doc.branches[0]) == json.loads(text, parse_int=parse_json_number)
    assert store.render(doc, None) == src
    assert roundtrip_changed(src) == src


@given(json_texts(), st.sampled_from([None, 2, 0, -1]))
@example('{"": "\\u2028"}', None)  # found by hypothesis: written escaped, as Go writes it
@settings(max_examples=300, deadline=None)
def test_fake_cipher_round_trip_is_exact(text: str, indent: int | None) -> None:
    options = {} if indent is None else {"indent": indent}
    encrypted, decrypted = fake_cycle(text.encode(), **options)
    assert decrypted == text.encode()
    assert json.loads(encrypted)["sops"] == META


# ------------------------------------------------------------------------------------------ speed


def test_twenty_thousand_values_parse_and_render() -> None:
    """A large file goes through parse, every value replaced, and render (speed is bench/'s job:
    no wall-clock assertion here)."""
    data = {
        f"service_{i}": {
            "name": f"svc{i}", "port": 8000 + i, "ratio": i / 7, "on": i % 2 == 0,
            "tags": ["a", "b", f"t{i}"], "password": f'p"w{i}', "nested": {"k": "v"}, "note": "n",
        }
        for i in range(2000)
    }  # fmt: skip
    src = json.dumps(data, indent="\t").encode()
    doc = store.parse(src)
    fake_encrypt(doc)
    out = store.render(doc, META)
    assert len(leaves(doc)) == 20000
    assert out.count(b"ENC[AES256_GCM") == 20000 + 1  # and the MAC


# --------------------------------------------------------------------------------- sops interop

PLAIN = """{
  "name": "x<y>&z é",
  "n": 42,
  "f": 1.5,
  "b": true,
  "z": null,
  "list": [1, "two", {"k": "v"}, [], {}],
  "empty": "",
  "plain_unencrypted": "visible",
  "dup": 1,
  "dup": 2
}
"""


def test_sops_encrypted_json_parses_and_renders_byte_identical(clean_env: dict[str, str], age_key: AgeKey) -> None:
    Path("p.json").write_text(PLAIN)
    result = run_sops(["encrypt", "--age", age_key.recipient, "p.json"], clean_env)
    assert result.code == 0, result.stderr
    doc = store.parse(result.stdout)
    assert doc.metadata is not None and doc.metadata["version"] == "3.11.0"
    assert [e.key for e in doc.branches[0].entries()] == [
        "name", "n", "f", "b", "z", "list", "empty", "plain_unencrypted", "dup", "dup"
    ]  # fmt: skip
    assert store.render(doc, doc.metadata) == result.stdout
    assert roundtrip_changed(result.stdout, doc.metadata) == result.stdout


def test_pysops_decrypts_what_sops_encrypts(clean_env: dict[str, str], age_key: AgeKey) -> None:
    Path("p.json").write_text(PLAIN)
    result = run_sops(["encrypt", "--age", age_key.recipient, "p.json"], clean_env)
    assert result.code == 0, result.stderr
    plain = age_decrypt(result.stdout, "json", age_key)
    # sops writes with TABs and expands the one-line list; the values are the same.
    assert (
        plain
        == PLAIN.replace("  ", "\t")
        .replace(
            '[1, "two", {"k": "v"}, [], {}]',
            '[\n\t\t1,\n\t\t"two",\n\t\t{\n\t\t\t"k": "v"\n\t\t},\n\t\t[],\n\t\t{}\n\t]',
        )
        .encode()
    )


def test_sops_decrypts_what_pysops_encrypts(clean_env: dict[str, str], age_key: AgeKey) -> None:
    encrypted = age_encrypt(PLAIN.encode(), "json", age_key.recipient)
    assert b'"plain_unencrypted": "visible"' in encrypted
    assert b'  "n": "ENC[AES256_GCM,' in encrypted  # our layout: the file's two spaces
    Path("e.json").write_bytes(encrypted)
    result = run_sops(["decrypt", "e.json"], age_env(clean_env, age_key))
    assert result.code == 0, result.stderr
    pairs = json.loads(result.stdout, object_pairs_hook=list)
    assert pairs == json.loads(PLAIN, object_pairs_hook=list)
    # And we decrypt our own file back to the exact original text.
    assert age_decrypt(encrypted, "json", age_key) == PLAIN.encode()
