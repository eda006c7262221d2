"""yamlscan, the pure-Python stand-in for libyaml's event parser on small files.

The contract: for any text, ``scan`` either raises ``Unsupported`` or returns exactly the events
(types, character offsets, values, styles) that libyaml's ``CParser`` returns for it. Checked on
generated documents (valid ones in the supported style, and line soup that is often invalid), on
sops's functional fixtures and on edge cases; plus: what sops writes takes the fast path.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pysops.formats import yaml as Y
from pysops.formats import yamlcore, yamlscan

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "sops-functional"

Row = tuple[Any, ...]


def _row(event: Any, name: str) -> Row:
    scalar = name == "ScalarEvent"
    collection = name in ("MappingStartEvent", "SequenceStartEvent")
    return (
        name,
        event.start_mark.index,
        event.end_mark.index,
        event.value if scalar else None,
        (event.style or "") if scalar else None,
        getattr(event, "tag", None),
        getattr(event, "anchor", None),
        bool(event.flow_style) if collection else None,
    )


def libyaml_events(text: str) -> list[Row] | None:
    """libyaml's events for ``text``, or None when libyaml refuses it."""
    lib = yamlcore._libyaml()
    from ruamel.yaml.error import YAMLError

    parser = lib.CParser(text)
    rows = []
    try:
        while True:
            event = parser.get_event()
            name = type(event).__name__
            rows.append(_row(event, name))
            if name == "StreamEndEvent":
                return rows
    except YAMLError:
        return None


def scan_events(text: str) -> list[Row] | None:
    try:
        return [_row(event, type(event).__name__) for event in yamlscan.scan(text)]
    except yamlscan.Unsupported:
        return None


def check(text: str) -> bool:
    """Assert the contract for ``text``; True when the fast path took it."""
    ours = scan_events(text)
    if ours is None:
        return False
    assert ours == libyaml_events(text), text
    return True


# --- generated documents ---------------------------------------------------------------------------

WORDS = [
    "a", "value", "x y  z", "http://h:1/p", "-1", "0x1F", "yes", "2024-01-01", "~", "null", "1.5", "é ü",
    "ENC[AES256_GCM,data:abc=,iv:x,tag:y,type:str]", "a#b", "a # b", "a: b", "k:v", "it's", "tab\there", "---x",
]  # fmt: skip
KEYS = ["a", "b", "key", "k y", "sops", "<<", "-k", "é", "1", "true"]


def _scalar(rng: random.Random, word: str) -> str:
    if word in ("[]", "{}", "[ ]", "{  }"):
        return word
    roll = rng.random()
    if roll < 0.6:
        return word
    if roll < 0.8:
        return "'" + word.replace("'", "''") + "'"
    return '"' + word + '"'


def _tree(rng: random.Random, depth: int) -> tuple[str, Any]:
    roll = rng.random()
    if depth > 3 or roll < 0.5:
        kind = rng.random()
        if kind < 0.1:
            return ("empty", None)
        if kind < 0.15:
            return ("s", rng.choice(["[]", "{}", "[ ]", "{  }"]))
        if kind < 0.3:
            return ("lit", [rng.choice(["line", "  more", "# not", "x: y", ""]) for _ in range(rng.randint(1, 4))])
        return ("s", rng.choice(WORDS))
    if roll < 0.8:
        return ("map", [(rng.choice(KEYS) + str(i), _tree(rng, depth + 1)) for i in range(rng.randint(1, 4))])
    return ("seq", [_tree(rng, depth + 1) for _ in range(rng.randint(1, 4))])


def _emit(rng: random.Random, node: tuple[str, Any], indent: int, step: int, lines: list[str],
          prefix: str | None = None) -> None:  # fmt: skip
    pad = " " * indent
    kind, items = node
    for index, item in enumerate(items):
        if rng.random() < 0.15:
            lines.append(" " * rng.choice([0, indent, indent + 2]) + "#" + rng.choice(["", " c", " x: y"]))
        if rng.random() < 0.1:
            lines.append(" " * rng.randint(0, 6) if rng.random() < 0.5 else "")
        lead = prefix if (index == 0 and prefix is not None) else pad
        if kind == "map":
            key, value = item
            head = lead + _scalar(rng, key) + rng.choice([":", ":", " :"])
        else:
            value = item
            head = lead + "-"
        vkind = value[0]
        if vkind == "s":
            lines.append(head + " " + _scalar(rng, value[1]) + rng.choice(["", "", " ", "  # c"]))
        elif vkind == "empty":
            lines.append(head + rng.choice(["", " ", " # e"]))
        elif vkind == "lit":
            lines.append(head + " |" + rng.choice(["", "-", "+"]) + rng.choice(["", " # h"]))
            body = indent + step
            for text in value[1]:
                lines.append(" " * body + text if text else " " * rng.randint(0, body))
        elif vkind == "map" and kind == "seq" and value[1] and rng.random() < 0.6:
            _emit(rng, value, indent + 2, step, lines, prefix=lead + "- ")
        elif vkind in ("map", "seq") and value[1]:
            lines.append(head + rng.choice(["", " # s"]))
            indentless = vkind == "seq" and kind == "map" and rng.random() < 0.4
            _emit(rng, value, indent if indentless else indent + step, step, lines)
        else:
            lines.append(head)


def generated_document(rng: random.Random) -> str:
    root = ("map", [(f"k{i}", _tree(rng, 1)) for i in range(rng.randint(1, 5))])
    lines: list[str] = []
    if rng.random() < 0.2:
        lines.append("# head")
    if rng.random() < 0.1:
        lines.append("---")
    _emit(rng, root, 0, rng.choice([2, 2, 4, 3]), lines)
    return "\n".join(lines) + rng.choice(["\n", "\n", "", "\n\n", "\n# tail\n"])


def line_soup(rng: random.Random) -> str:
    """Lines of YAML-ish pieces at random indentation: mostly invalid or outside the subset."""
    pieces = [
        "a:", "a: x", "- x", "-", "- k: v", "k: |", "k: |-", "  text", "# c", "", "---", "...", "[a]", "{}",
        "&x a", "*x", "!!str a", '"a\\n"', "'open", "? a", "k: >", "k: |2", "a: b: c", "- - x", ":x", "a:b",
        "k: 'it''s'", 'k: "q"', "k: []", "- []", "k:  # c", "-x: 1", "---a: 1", "k: v #c", "k: v#c",
    ]  # fmt: skip
    lines = [" " * rng.choice([0, 0, 1, 2, 2, 4]) + rng.choice(pieces) for _ in range(rng.randint(1, 10))]
    return "\n".join(lines) + rng.choice(["\n", ""])


def test_generated_documents_match_libyaml() -> None:
    rng = random.Random(20261122)
    taken = sum(check(generated_document(rng)) for _ in range(1500))
    assert taken > 400  # the fast path is exercised, not just refused


def test_line_soup_matches_libyaml_or_is_refused() -> None:
    rng = random.Random(7)
    taken = sum(check(line_soup(rng)) for _ in range(1500))
    assert taken >= 30  # some soups are compared with libyaml, not all refused


@settings(max_examples=150, deadline=None)
@given(st.randoms(use_true_random=False))
def test_generated_documents_hypothesis(rng: random.Random) -> None:
    check(generated_document(rng))


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.yaml")), ids=lambda p: p.name)
def test_sops_fixtures_take_the_fast_path(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert check(text.removeprefix("\ufeff"))


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\n",
        "a: 1",
        "# only a comment\na:\n",
        "---\na: 1\n",
        "a:\n- x\n-\n- k: v\n  l:\n  - y\nb: |+\n  keep\n\n\nc: '' # e\n",
        "a: |\n  x\n  \n    \n  y\n   \nb: 1\n",
        "a: |-\n  x\n\n\n# c\nb: []\nd: { }\n",
        'k: "ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]"\n',
        "\u00e9: \u00fc\n",
    ],
)
def test_edge_cases_take_the_fast_path(text: str) -> None:
    assert check(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "# nothing\n",
        "- a\n",
        "scalar\n",
        "a: 1\n---\nb: 2\n",
        "a: [1, 2]\n",
        "a: &x 1\nb: *x\n",
        "a: !!str 1\n",
        "a: >\n  folded\n",
        "a: |2\n   x\n",
        "a: |\n\n  x\n",
        "a: |\n  x",
        'a: "esc\\n"\n',
        "a: 'multi\n  line'\n",
        "a: plain\n  continued\n",
        "a:\tb\n",
        "a: b\r\n",
        "a: b\u2028c\n",
        "a: b\x85\n",
        "a: b: c\n",
        "a:\n  - x\n  b: 1\n",
        "? a\n: b\n",
    ],
)
def test_outside_the_subset_is_refused(text: str) -> None:
    assert scan_events(text) is None


def _parsed(text: str) -> str:
    try:
        doc = Y.parse(text.encode())
    except Exception as exc:  # the same error either way
        return f"{type(exc).__name__}: {exc}"
    return repr((doc.branches, doc.metadata, doc.state))


def test_store_parse_is_the_same_on_both_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(3)
    texts = [text for text in (generated_document(rng) for _ in range(300)) if scan_events(text) is not None]
    assert len(texts) >= 100  # enough documents inside the subset to compare
    fast = [_parsed(text) for text in texts]
    lib = yamlcore._libyaml()
    from ruamel.yaml.error import YAMLError

    monkeypatch.setattr(Y, "event_source", lambda text: (lib, lib.CParser(text).get_event, YAMLError))
    assert [_parsed(text) for text in texts] == fast


def test_large_or_already_loaded_uses_libyaml() -> None:
    small = "a: 1\n"
    big = "".join(f"k{i}: v\n" for i in range(yamlcore.SCAN_MAX_LINES + 1))
    assert yamlcore.event_source(big)[0] is not yamlscan
    # once the binding is loaded, libyaml is used for every text
    yamlcore._libyaml()
    assert yamlcore.event_source(small)[0] is not yamlscan
