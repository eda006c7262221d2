"""The YAML store: typing like go-yaml v3, comment placement like sops, byte-exact splicing."""

from __future__ import annotations

import base64
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pysops.document import Comment, Document, Scalar, to_python, walk_leaves
from pysops.errors import ErrorEncryptingTree, NeedAtLeastOneDocument, ParseError
from pysops.formats import yaml as Y
from pysops.values import GoTime, from_plaintext, to_plaintext, type_name


def leaves(doc: Document) -> list[tuple[str, Scalar | Comment]]:
    return [(":".join(path) + ":", leaf) for branch in doc.branches for path, leaf in walk_leaves(branch)]


def comment_aads(text: str) -> list[tuple[str, str]]:
    return [(leaf.text, aad) for aad, leaf in leaves(Y.parse(text.encode())) if isinstance(leaf, Comment)]


def fake_encrypt(doc: Document) -> None:
    for _, leaf in leaves(doc):
        if isinstance(leaf, Comment):
            data = base64.b64encode(leaf.text.encode()).decode()
            leaf.set(f"ENC[AES256_GCM,data:{data},iv:AA==,tag:AA==,type:comment]")
        elif leaf.value is not None and leaf.value != "":
            data = base64.b64encode(to_plaintext(leaf.value)).decode()
            leaf.set(f"ENC[AES256_GCM,data:{data},iv:AAAA,tag:AAAA,type:{type_name(leaf.value)}]")


def fake_decrypt(doc: Document) -> None:
    for _, leaf in leaves(doc):
        if isinstance(leaf, Comment):
            if leaf.text.startswith("ENC["):
                leaf.set(base64.b64decode(leaf.text.split("data:")[1].split(",")[0]).decode())
        elif isinstance(leaf.value, str) and leaf.value.startswith("ENC["):
            data = leaf.value.split("data:")[1].split(",")[0]
            tag = leaf.value.rsplit("type:", 1)[1][:-1]
            leaf.set(from_plaintext(base64.b64decode(data), tag))


def roundtrip(text: str, metadata: dict[str, object] | None = None) -> tuple[str, str]:
    doc = Y.parse(text.encode())
    fake_encrypt(doc)
    metadata = metadata or {"lastmodified": "2026-01-01T00:00:00Z", "version": "3.11.0"}
    encrypted = Y.render(doc, metadata).decode()
    doc2 = Y.parse(encrypted.encode())
    fake_decrypt(doc2)
    return encrypted, Y.render(doc2, None).decode()


# ---------------------------------------------------------------------------------------------
# typing (go-yaml v3 resolve)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", None), ("~", None), ("null", None), ("Null", None), ("NULL", None), ("nULL", "nULL"),
        ("true", True), ("True", True), ("TRUE", True), ("false", False), ("yes", "yes"), ("on", "on"),
        ("0x1F", 31), ("0o17", 15), ("017", 15), ("1_000", 1000), ("-5", -5), ("+7", 7), ("08", 8.0),
        ("0b101", 5), ("-0b11", -3), ("1.5", 1.5), ("1e3", 1000.0), (".5", 0.5), ("1.", 1.0),
        ("1e400", "1e400"), ("99999999999999999999999", 1e23), (".inf", math.inf), ("-.Inf", -math.inf),
        ("+.INF", math.inf), (".iNf", ".iNf"), ("3.11.0", "3.11.0"), ("0x", "0x"), ("1_2.5", 12.5),
        ("2024-01-01", GoTime(2024, 1, 1)), ("2024-1-2", GoTime(2024, 1, 2)),
        ("2024-01-01T10:00:00Z", GoTime(2024, 1, 1, 10)),
        ("2024-01-01t10:00:00.5+02:00", GoTime(2024, 1, 1, 10, 0, 0, 500_000_000, 7200)),
        ("2024-01-01 10:00:00", GoTime(2024, 1, 1, 10)), ("2024-01-01T10:00:00", "2024-01-01T10:00:00"),
        ("2024-02-30", "2024-02-30"), ("2024-01-01 10:00:00Z", "2024-01-01 10:00:00Z"), ("é", "é"),
    ],
)  # fmt: skip
def test_plain_resolution(text: str, expected: object) -> None:
    value = Y.resolve_plain(text)
    if isinstance(expected, float) and math.isnan(expected):
        assert isinstance(value, float) and math.isnan(value)
    else:
        assert value == expected and type(value) is type(expected)


def test_nan_and_types_in_document() -> None:
    doc = Y.parse(
        b"a: .nan\nb: '1'\nc: \"true\"\nd: |\n  5\ne: !!str 12\nf: !!int '7'\ng: !!binary aGVsbG8=\nh: !x 3\n"
    )
    values = {aad: leaf.value for aad, leaf in leaves(doc)}
    assert math.isnan(values["a:"])  # type: ignore[arg-type]
    assert [values[k] for k in ["b:", "c:", "d:", "e:", "f:", "g:", "h:"]] == [
        "1",
        "true",
        "5\n",
        "12",
        7,
        "hello",
        "3",
    ]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (b"a: 18446744073709551615\n", ErrorEncryptingTree),
        (b'a: !!int "18446744073709551615"\n', ErrorEncryptingTree),
        (b'a: !!int "abc"\n', ParseError),
        (b"1: x\n", ErrorEncryptingTree),
        (b"true: x\n", ErrorEncryptingTree),
        (b"a: 1\na: 2\n", ParseError),
        (b"n:\n  a: 1\n  a: 2\n", ParseError),
        (b"- a\n- b\n", ParseError),
        (b"just a scalar\n", ParseError),
        (b"a: [1\n", ParseError),
        (b"", NeedAtLeastOneDocument),
        (b"# only a comment\n\n", NeedAtLeastOneDocument),
        (b"\xff\xfe", ParseError),
    ],
)
def test_parse_errors(text: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        Y.parse(text)


def test_empty_documents_and_quoted_keys() -> None:
    doc = Y.parse(b"---\n---\n'1': x\n\"true\": y\n")
    assert [to_python(b) for b in doc.branches] == [{}, {"1": "x", "true": "y"}]


def test_aliases_are_expanded_with_own_paths() -> None:
    doc = Y.parse(b"base: &b {p: 1}\nref: *b\nm:\n  <<: *b\ns: &s x\nt: *s\n")
    paths = [(aad, leaf.value) for aad, leaf in leaves(doc)]
    assert paths == [("base:p:", 1), ("ref:p:", 1), ("m:<<:p:", 1), ("s:", "x"), ("t:", "x")]


# ---------------------------------------------------------------------------------------------
# comments: placement verified against sops 3.11 (AAD of each encrypted comment)

SOPS_PLACEMENT = [
    (
        "a: 1 # inline a\n# head b\nb: 2\nnested: # after nested key\n  # head x\n  x: 1 # inline x\n"
        "  # foot x indented\n# col0 after nested\nc: 3\nlist: # after list key\n  # head item\n"
        "  - i1 # inline i1\n  - k: v # inline kv\n    # after kv\n  # after list items\nd:\n  e:\n"
        "    f: 1\n    # deep foot\n  # mid foot\n# end\n",
        [(" inline a", ":"), (" head b", ":"), (" after nested key", ":"), (" head x", "nested:"),
         (" inline x", "nested:"), (" foot x indented", "nested:"), (" col0 after nested", ":"),
         (" after list key", ":"), (" head item", "list:"), (" inline i1", "list:"), (" inline kv", "list:"),
         (" after kv", "list:"), (" after list items", ":"), (" deep foot", "d:e:"), (" mid foot", "d:"),
         (" end", ":")],
    ),
    ("top:\n  l:\n  - a\n  # c\nb: 1\n", [(" c", "top:l:")]),
    ("top:\n  l:\n    - a\n    # c4\n  # c2\nb: 1\n", [(" c4", "top:l:"), (" c2", "top:")]),
    ("n:\n  x: 1\n\n  # c\nb: 2\n", [(" c", "n:")]),
    ("k: [a, b] # s\nm: {a: 1} # m\nz: 1\n", [(" s", "k:"), (" m", "m:")]),
    ("k: [a, # inside\n  b]\n", [(" inside", "k:")]),
    ("n:\n  s: |\n    text\n  # c\nz: 1\n", [(" c", "n:")]),
    ("n:\n  x: 1\n# c\nb: 2\n", [(" c", ":")]),
    ("n:\n  x: 1\n# c0\n\n  # c2\nb: 2\n", [(" c0", "n:"), (" c2", "n:")]),
    ("n:\n  x: 1\n  # first\n\n  # second\nb: 2\n", [(" first", "n:"), (" second", ":")]),
    ("n:\n  m:\n    x: 1\n# c0\n  # c2\nb: 1\n", [(" c0", "n:m:"), (" c2", "n:")]),
    ("n:\n  m:\n    x: 1\n\n  # c2\nb: 1\n", [(" c2", "n:m:")]),
    ("k:\n  # head\n  value\n", [(" head", ":")]),
    ("l:\n  - a\n  -\n    # c\n    k: v\n", [(" c", "l:")]),
    ("x:\n  - # dash\n    k: v\n", [(" dash", "x:")]),
    ("--- # start\na: 1\n", [(" start", ":")]),
    ("list:\n- k: v\n# c0\nd: 1\n", [(" c0", ":")]),
    ("k474:\n- s7\n# c4\n", [(" c4", "k474:")]),
    ("s: | # header\n  text\n", [(" header", ":")]),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), SOPS_PLACEMENT)
def test_comment_placement_matches_sops(text: str, expected: list[tuple[str, str]]) -> None:
    assert sorted(comment_aads(text)) == sorted(expected)


def test_line_comment_precedes_its_item() -> None:
    doc = Y.parse(b"a: 1\nb: 2 # about b\n")
    items = doc.branches[0].items
    assert [type(i).__name__ for i in items] == ["Entry", "Comment", "Entry"]


# ---------------------------------------------------------------------------------------------
# rendering

SAMPLE = """\
---
# Service configuration
service:
  name: api   # inline
  port: 8080
  ratio: 0.25
  enabled: true
  started: 2024-01-01T10:00:00Z
  quoted: "a \\"b\\" c"
  single: 'it''s'
  empty: ""
  nothing: null
  script: |
    #!/bin/sh
    echo hi
  stripped: |-
    no final
    newline
  kept: |+
    keep

  indented: |2
      leading spaces
  tags: [a, b, "c d", 'e,f']
  map: {x: 1, y: two}

  hosts:
  - web1
  - web2   # second
    # foot of list
# last words
"""


def test_untouched_render_is_identical() -> None:
    assert Y.render(Y.parse(SAMPLE.encode()), None).decode() == SAMPLE


def test_encrypt_decrypt_is_exact() -> None:
    encrypted, decrypted = roundtrip(SAMPLE)
    assert decrypted == SAMPLE
    assert "  name: ENC[AES256_GCM,data:YXBp,iv:AAAA,tag:AAAA,type:str]   #ENC[" in encrypted
    assert '  quoted: "ENC[AES256_GCM,' in encrypted and "  single: 'ENC[AES256_GCM," in encrypted
    assert "  script: ENC[AES256_GCM," in encrypted and "echo hi" not in encrypted
    assert "  tags: ['ENC[AES256_GCM,data:YQ==,iv:AAAA,tag:AAAA,type:str]', 'ENC[" in encrypted
    assert '"ENC[AES256_GCM,data:YyBk,iv:AAAA,tag:AAAA,type:str]"' in encrypted
    assert '  empty: ""\n  nothing: null\n' in encrypted


def test_non_exact_cases_are_documented_ones() -> None:
    text = "a: 0x1F\nb: 1.50\nc: 2024-01-01\nd: >\n  folded\n  text\ne: 1e3\n"
    _, decrypted = roundtrip(text)
    # floats are written as go-yaml writes them: 1e3 -> 1000
    assert decrypted == "a: 31\nb: 1.5\nc: 2024-01-01T00:00:00Z\nd: |\n  folded text\ne: 1000\n"


@pytest.mark.parametrize(
    ("old", "value", "expected"),
    [
        ("k: x\n", "123", "k: '123'\n"),
        ("k: x\n", "true", "k: 'true'\n"),
        ("k: x\n", "a: b", "k: 'a: b'\n"),
        ("k: x\n", "it's #1", "k: 'it''s #1'\n"),
        ("k: x\n", "line1\nline2\n", "k: |\n  line1\n  line2\n"),
        ("k: x\n", " lead\nx", "k: |2-\n   lead\n  x\n"),
        ("k: x\n", "a\n\n", "k: |+\n  a\n\n"),
        ("k: x\n", "tab\there", "k: 'tab\there'\n"),
        ("k: 'x'\n", "new\nline", 'k: "new\\nline"\n'),
        ("k: \"x\"\n", "plain", 'k: "plain"\n'),
        ("k: [x]\n", "a,b", "k: ['a,b']\n"),
        ("k: x\n", 5, "k: 5\n"),
        ("k: x\n", 2.0, "k: 2\n"),  # go-yaml's FormatFloat 'g', as sops writes it
        ("k: x\n", -math.inf, "k: -.inf\n"),
        ("k: x\n", False, "k: false\n"),
        ("k: x\n", GoTime(2024, 5, 6, 7, 8, 9, 100), "k: 2024-05-06T07:08:09.0000001Z\n"),
        ("n:\n    k: x\n    j: y\n", "a\nb", "n:\n    k: |-\n        a\n        b\n    j: y\n"),
        ("k: | # keep me\n  old\n", "ENC[x]", "k: ENC[x] # keep me\n"),
        ("l:\n  - x\n", "a\nb\n", "l:\n  - |\n    a\n    b\n"),
    ],
)  # fmt: skip
def test_splice_rules(old: str, value: object, expected: str) -> None:
    doc = Y.parse(old.encode())
    scalar = next(leaf for _, leaf in leaves(doc) if isinstance(leaf, Scalar))
    scalar.set(value)  # type: ignore[arg-type]
    out = Y.render(doc, None).decode()
    assert out == expected
    reparsed = next(leaf for _, leaf in leaves(Y.parse(out.encode())) if isinstance(leaf, Scalar))
    assert reparsed.value == value


METADATA = {
    "age": [
        {"recipient": "age1xyz", "enc": "-----BEGIN AGE ENCRYPTED FILE-----\nAAAA\n-----END AGE ENCRYPTED FILE-----\n"}
    ],
    "lastmodified": "2026-11-22T19:04:23Z",
    "mac": "ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]",
    "unencrypted_suffix": "_unencrypted",
    "version": "3.11.0",
}
METADATA_BLOCK = """\
sops:
    age:
        - recipient: age1xyz
          enc: |
            -----BEGIN AGE ENCRYPTED FILE-----
            AAAA
            -----END AGE ENCRYPTED FILE-----
    lastmodified: "2026-11-22T19:04:23Z"
    mac: ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]
    unencrypted_suffix: _unencrypted
    version: 3.11.0
"""


def test_metadata_block_like_sops_and_stable() -> None:
    out = Y.render(Y.parse(b"a: 1\nb: 2"), METADATA)
    assert out.decode() == "a: 1\nb: 2\n" + METADATA_BLOCK
    doc = Y.parse(out)
    assert doc.metadata == METADATA
    assert to_python(doc.branches[0]) == {"a": 1, "b": 2}
    assert Y.render(doc, METADATA) == out
    assert Y.render(doc, None) == b"a: 1\nb: 2\n"


def test_metadata_in_every_document_and_indent_step() -> None:
    text = "a:\n  x: 1\n---\nb: 2\n...\n"
    out = Y.render(Y.parse(text.encode()), {"version": "3.11.0", "list": ["x"]}).decode()
    block = "sops:\n  version: 3.11.0\n  list:\n    - x\n"
    assert out == "a:\n  x: 1\n" + block + "---\nb: 2\n" + block + "...\n"
    doc = Y.parse(out.encode())
    assert len(doc.branches) == 2 and doc.metadata == {"version": "3.11.0", "list": ["x"]}
    assert Y.render(doc, None).decode() == text


def test_conversion_emits_fresh_yaml() -> None:
    doc = Y.parse(b"# c\na: {b: [1, 'x y', {c: null}]}\nt: |\n  two\n  lines\n")
    doc.format = "json"
    out = Y.render(doc, None).decode()
    assert out == "# c\na:\n    b:\n        - 1\n        - x y\n        - c: null\nt: |\n    two\n    lines\n"
    assert to_python(Y.parse(out.encode()).branches[0]) == to_python(doc.branches[0])


def test_alias_copy_is_rewritten_when_changed() -> None:
    text = "base: &b\n  p: 1\nref: *b\n"
    encrypted, decrypted = roundtrip(text)
    assert "ref: {p: 'ENC[AES256_GCM,data:MQ==,iv:AAAA,tag:AAAA,type:int]'}" in encrypted
    assert decrypted == "base: &b\n  p: 1\nref: {p: 1}\n"


# ---------------------------------------------------------------------------------------------
# property tests

words = st.sampled_from(["alpha", "beta", "x y", "42", "true", "a: b", "it's", "ñ", "0x1F", "", "1.5", "null"])
keys = st.sampled_from(["k", "key", "name", "list", "db", "user_unencrypted", "x1"])


def _scalar_text(value: str, style: str) -> str:
    if style == "plain" and Y.plain_ok(value, False):
        return value
    if style == "single":
        return Y.single_quoted(value)
    return Y.double_quoted(value)


@st.composite
def yaml_texts(draw: st.DrawFn) -> str:
    lines: list[str] = []
    if draw(st.booleans()):
        lines.append("---")

    def mapping(indent: int, depth: int) -> None:
        used: set[str] = set()
        for _ in range(draw(st.integers(1, 4))):
            key = draw(keys.filter(lambda k: k not in used))
            used.add(key)
            pad = " " * indent
            if draw(st.integers(0, 5)) == 0:
                lines.append(pad + "# " + draw(words))
            if draw(st.integers(0, 6)) == 0:
                lines.append("")
            inline = draw(st.sampled_from(["", "", " # note"]))
            kind = draw(st.integers(0, 6 if depth < 2 else 3))
            if kind <= 2:
                style = draw(st.sampled_from(["plain", "single", "double"]))
                lines.append(f"{pad}{key}: {_scalar_text(draw(words), style)}{inline}")
            elif kind == 3:
                drawn = draw(st.lists(words, min_size=1, max_size=3))
                items = ", ".join(w if Y.plain_ok(w, True) else _scalar_text(w, "single") for w in drawn)
                lines.append(f"{pad}{key}: [{items}]{inline}")
            elif kind == 4:
                lines.append(f"{pad}{key}: |")
                for word in draw(st.lists(st.sampled_from(["line", "two words", "#x"]), min_size=1, max_size=3)):
                    lines.append(pad + "  " + word)
            elif kind == 5:
                lines.append(f"{pad}{key}:{inline}")
                mapping(indent + 2, depth + 1)
            else:
                lines.append(f"{pad}{key}:")
                for word in draw(st.lists(words, min_size=1, max_size=3)):
                    lines.append(f"{pad}  - {_scalar_text(word, 'plain')}")

    mapping(0, 0)
    if draw(st.booleans()):
        lines.append("# end")
    text = "\n".join(lines) + "\n"
    if draw(st.integers(0, 4)) == 0:
        text += "---\nother: doc\n"
    return text


@settings(max_examples=150, deadline=None)
@given(yaml_texts())
def test_untouched_roundtrip_is_identical(text: str) -> None:
    assert Y.render(Y.parse(text.encode()), None).decode() == text


@settings(max_examples=150, deadline=None)
@given(yaml_texts())
def test_fake_encrypt_decrypt_is_identical(text: str) -> None:
    _, decrypted = roundtrip(text)
    assert decrypted == text
