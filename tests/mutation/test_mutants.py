"""The bounded mutation run of CI (issue 10, section 5): the mutants of ``scripts/mutants.py``
marked ``ci`` each remove one safety check (a MAC check per store and command, IV freshness, the
selection rules' scopes, fsync before rename, strict age keys files, Shamir's duplicate-share
check), and each must be killed by its own test selection. Every mutant's snippet must still
match the source: a stale list fails here, not silently (update the snippet with the code).

The whole list runs on demand: ``python scripts/mutants.py --quick`` (or ``--full``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "mutants.py"

pytestmark = pytest.mark.skipif(
    "PYSOPS_MUTANT_ROOT" in os.environ, reason="already inside a mutation run (no nested runs)"
)


def _run(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def test_every_mutant_snippet_still_matches_the_source() -> None:
    proc = _run("--check", timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_ci_mutants_are_all_killed() -> None:
    # about a minute on two idle cores; the timeout leaves room for a loaded machine
    proc = _run("--ci", "--quick", "--no-baseline", "--jobs", "2", timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    score = [line for line in out.splitlines() if line.startswith("score: ")]
    assert score and " 0 survived, 0 stale, 0 error" in score[0], out
    assert "survived " not in out and "stale " not in out
