"""Tree edits behind set/unset: JSON values to typed nodes, path creation like sops, removals,
type-aware comparison, and YAML text patches that keep every other byte."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import new_age_key
from tests.helpers import age_options

from pysops import api, tree
from pysops.document import Comment, Mapping, Scalar, Sequence, to_python
from pysops.errors import InvalidSetFormat
from pysops.formats import get_store
from pysops.keys import key_type
from pysops.values import GoTime

KEY = new_age_key()
CTX = age_options(KEY)
OPTS = api.EncryptOptions(key_groups=[[key_type("age").parse_recipient(KEY.recipient)]])


def test_json_numbers_are_typed_like_sops_and_objects_keep_order_and_duplicates() -> None:
    bare = tree.parse_json_value("7")  # a bare number: Go's json.Unmarshal, a float64 (sops 3.11 and 3.13.2)
    assert isinstance(bare, Scalar) and type(bare.value) is float and bare.value == 7.0
    node = tree.parse_json_value('{"b": 1, "a": [true, null, "s", 2.5, {}, []], "b": 12345678901234567890}')
    assert isinstance(node, Mapping)
    assert [e.key for e in node.entries()] == ["b", "a", "b"]
    values = [e.value for e in node.entries()]
    # inside a container: the JSON store's typing, int64 integers stay ints (sops 3.13.2)
    assert isinstance(values[0], Scalar) and type(values[0].value) is int and values[0].value == 1
    assert isinstance(values[2], Scalar) and values[2].value == 1.2345678901234567e19
    seq = values[1]
    assert isinstance(seq, Sequence)
    assert [type(i).__name__ for i in seq.items] == ["Scalar"] * 4 + ["Mapping", "Sequence"]
    assert [i.value for i in seq.items[:4]] == [True, None, "s", 2.5]  # type: ignore[union-attr]


@pytest.mark.parametrize("text", ["notjson", "1 2", "", "1e400", "NaN", "[1,", "'x'"])
def test_invalid_json_is_exit_7(text: str) -> None:
    with pytest.raises(InvalidSetFormat) as info:
        tree.parse_json_value(text)
    assert info.value.exit_code == 7 and info.value.message == "Value for --set is not valid JSON"


def _root() -> Mapping:
    root = tree.parse_json_value('{"a": "one", "b": {"c": 2}, "l": ["x", "y"]}')
    assert isinstance(root, Mapping)
    return root


@pytest.mark.parametrize(
    ("path", "value", "expected", "kind"),
    [
        (["a"], '"TWO"', {"a": "TWO", "b": {"c": 2.0}, "l": ["x", "y"]}, "value"),
        (["n", "deep", 3], "1", {"n": {"deep": [1.0]}}, "add"),  # a new list gets one element
        (["l", 9], '"z"', {"l": ["x", "y", "z"]}, "add"),  # out of range appends
        (["l", 0, "q"], "1", {"l": [{"q": 1.0}, "y"]}, "replace"),  # a scalar becomes a mapping
        (["a", "x"], "1", {"a": {"x": 1.0}}, "replace"),
        (["b"], '"flat"', {"b": "flat"}, "replace"),
        (["a", 2], "1", {"a": [1.0]}, "replace"),
    ],
)
def test_set_path_like_sops(path: list[Any], value: str, expected: dict[str, Any], kind: str) -> None:
    root = _root()
    change = tree.set_path(root, path, tree.parse_json_value(value))
    assert change.kind == kind
    result = to_python(root)
    for key, want in expected.items():
        assert result[key] == want


def test_set_value_marks_the_scalar_changed_and_keeps_it() -> None:
    root = _root()
    old = root.get("a")
    change = tree.set_path(root, ["a"], tree.parse_json_value("5"))
    assert change.kind == "value" and root.get("a") is old
    assert isinstance(old, Scalar) and old.changed and old.value == 5.0


def test_set_with_wrong_index_kind_is_exit_7() -> None:
    with pytest.raises(InvalidSetFormat):
        tree.set_path(_root(), [0], tree.parse_json_value("1"))
    with pytest.raises(InvalidSetFormat):
        tree.set_path(_root(), ["l", "k"], tree.parse_json_value("1"))


def test_unset_path_and_its_errors() -> None:
    root = _root()
    root.items.insert(0, Comment(" head"))
    change = tree.unset_path(root, ["b", "c"])
    assert change.kind == "remove" and to_python(root)["b"] == {}
    tree.unset_path(root, ["l", 0])
    assert to_python(root)["l"] == ["y"]
    for path, message in [(["zz"], "Key not found: zz"), (["l", 7], "Index 7 out of bounds")]:
        with pytest.raises(tree.PathNotFound) as info:
            tree.unset_path(root, path)
        assert info.value.message == message and info.value.exit_code == 1
    with pytest.raises(tree.PathNotFound):
        tree.unset_path(root, ["a", "q"])


def test_same_value_is_type_aware() -> None:
    one_int = Scalar(1)
    assert not tree.same_value(one_int, tree.parse_json_value("1"))  # int 1 != float 1.0, as in Go
    assert tree.same_value(tree.parse_json_value('{"a": [1, "x"]}'), tree.parse_json_value('{"a": [1, "x"]}'))
    assert not tree.same_value(tree.parse_json_value('{"a": [1]}'), tree.parse_json_value('{"a": [1.0]}'))
    assert not tree.same_value(tree.parse_json_value('{"a": 1}'), tree.parse_json_value('{"b": 1}'))
    assert not tree.same_value(None, Scalar("x"))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.text(max_size=8) | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None)
@given(value=JSON_VALUES, key=st.text(min_size=1, max_size=5))
def test_set_then_lookup_gives_the_value(value: Any, key: str) -> None:
    import json

    root = _root()
    node = tree.parse_json_value(json.dumps(value))
    tree.set_path(root, ["b", key], node)
    assert tree.same_value(tree.lookup(root, ["b", key]), tree.parse_json_value(json.dumps(value)))


# --------------------------------------------------------------------------------------------
# YAML: structural changes patch the text, every other line is kept

YAML = "# top\na: one\nb:\n  c: 2\n  # foot of b\nl:\n  - x\n  - k: v\n    k2: v2\ne: {}\nf: [1, 2]\n# trailing\n"


def _apply(fmt: str, text: str, op: str, path: str, value: str | None = None) -> tuple[bytes, bytes, bool]:
    enc = api.encrypt_bytes(text.encode(), OPTS, input_format=fmt, now=GoTime(2026, 1, 1))
    opened = api.open_file(enc, input_format=fmt, options=CTX)
    parts = api.parse_tree_path(path)
    root = opened.doc.branches[0]
    if op == "set":
        assert value is not None
        change = tree.set_path(root, parts, tree.parse_json_value(value))
    else:
        change = tree.unset_path(root, parts)
    ready = api.apply_change(opened, change)
    out = ready.seal(now=GoTime(2026, 1, 2))
    return enc, out, ready.doc.state is None


def _diff(before: bytes, after: bytes) -> tuple[list[str], list[str]]:
    """Lines only in before / only in after, ignoring lastmodified and mac."""
    skip = ("lastmodified", "mac:", '"mac"', "sops_mac", "sops_lastmodified", "mac =", "mac=")

    def keep(lines: list[str]) -> list[str]:
        return [ln for ln in lines if not any(s in ln for s in skip)]

    a, b = keep(before.decode().splitlines()), keep(after.decode().splitlines())
    return [ln for ln in a if ln not in b], [ln for ln in b if ln not in a]


@pytest.mark.parametrize(
    ("op", "path", "value", "plain", "removed", "added"),
    [
        ("set", '["b"]["d"]', "5", "b:\n  c: 2\n  # foot of b\n  d: 5\nl:", 0, 1),
        ("set", '["l"][9]', '{"q": [1]}', "    k2: v2\n  - q:\n      - 1\ne: {}", 0, 2),
        ("set", '["new"]', '{"k": [1, "s"], "m": {}}', "# trailing\nnew:\n  k:\n    - 1\n    - s\n  m: {}\n", 0, 5),
        ("set", '["l"][1]["k3"]', '"z"', "    k2: v2\n    k3: z\ne:", 0, 1),
        ("set", '["e"]["n"]', "true", "e:\n  n: true\nf:", 1, 2),
        ("set", '["a"]', '{"x": 1}', "# top\na:\n  x: 1\nb:", 1, 2),
        ("set", '["f"][5]', '"z"', "f: [1, 2, z]", 1, 1),
        ("unset", '["a"]', None, "# top\nb:", 1, 0),
        ("unset", '["b"]["c"]', None, "a: one\nb: {}\nl:", 3, 1),
        ("unset", '["l"][1]["k"]', None, "  - x\n  - k2: v2\ne:", 2, 1),
        ("unset", '["l"][0]', None, "l:\n  - k: v", 1, 0),
        ("unset", '["f"][0]', None, "f: [2]", 1, 1),
    ],
)
def test_yaml_structural_change_touches_only_its_lines(
    op: str, path: str, value: str | None, plain: str, removed: int, added: int
) -> None:
    enc, out, fallback = _apply("yaml", YAML, op, path, value)
    assert not fallback
    only_before, only_after = _diff(enc, out)
    assert (len(only_before), len(only_after)) == (removed, added), (only_before, only_after)
    decrypted = api.decrypt_bytes(out, input_format="yaml", options=CTX).decode()
    assert plain in decrypted, decrypted


def test_yaml_new_values_keep_json_types() -> None:
    _, out, _ = _apply("yaml", YAML, "set", '["n"]', '[5, 1.5, "5", true, null, ""]')
    doc = get_store("yaml").parse(out)
    api.decrypt_document(doc, CTX)
    assert to_python(doc.branches[0])["n"] == [5, 1.5, "5", True, None, ""]
    n = doc.branches[0].get("n")
    assert isinstance(n, Sequence)
    assert [type(item.value) for item in n.items[:2]] == [int, float]  # type: ignore[union-attr]
    assert "type:int" in out.decode() and "type:float" in out.decode()


@pytest.mark.parametrize(
    ("fmt", "text", "op", "path", "value", "removed", "added"),
    [
        ("json", '{\n\t"a": "one",\n\t"b": "two"\n}\n', "set", '["b"]', '"TWO"', 1, 1),
        ("json", '{\n\t"a": "one",\n\t"b": {\n\t\t"c": "x"\n\t}\n}\n', "set", '["b"]["d"]', "1", 1, 2),
        ("dotenv", "# top\nA=one\nB=two\n", "set", '["C"]', "5", 0, 1),
        ("dotenv", "# top\nA=one\nB=two\n", "unset", '["A"]', None, 1, 0),
        ("ini", "; top\n[s]\na = one\nb = two\n\n[t]\nc = 3\n", "set", '["s"]["z"]', '"n"', 0, 1),
        ("ini", "; top\n[s]\na = one\nb = two\n\n[t]\nc = 3\n", "unset", '["s"]["a"]', None, 1, 0),
    ],
)
def test_other_formats_change_only_touched_lines(
    fmt: str, text: str, op: str, path: str, value: str | None, removed: int, added: int
) -> None:
    enc, out, _ = _apply(fmt, text, op, path, value)
    only_before, only_after = _diff(enc, out)
    assert (len(only_before), len(only_after)) == (removed, added), (only_before, only_after)
    api.decrypt_bytes(out, input_format=fmt, options=CTX)  # MAC verified
