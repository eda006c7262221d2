"""``edit`` against sops 3.11 on the cases the differential fuzzer's edit checks found (issue 10
§2(e), tests/fuzz/harness.py ``Harness._edit``): the same editor script runs in both tools on
their own copy of one file; both must succeed and sops must decrypt both results alike."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path
from typing import Any

from tests.conftest import AgeKey, run_sops

from pysops.values import GoTime


def _edit_both(
    tmp_path: Path, env: dict[str, str], pysops: Any, recipient: str, name: str, plain: bytes, sed: str
) -> None:
    source = tmp_path / f"plain-{name}"
    source.write_bytes(plain)
    enc = run_sops(["encrypt", "--age", recipient, str(source)], env)
    assert enc.code == 0, enc.stderr
    mine, theirs = tmp_path / "p" / name, tmp_path / "s" / name
    for f in (mine, theirs):
        f.parent.mkdir()
        f.write_bytes(enc.stdout)
    script = tmp_path / "ed.sh"
    script.write_text(f'#!/bin/sh\nsed -i "{sed}" "$1"\n')
    script.chmod(0o755)
    r = pysops(["edit", str(mine)], {**env, "EDITOR": str(script)})
    assert (r.code, r.stderr) == (0, ""), r.stderr
    s = run_sops(["edit", str(theirs)], {**env, "EDITOR": str(script)})
    assert s.code == 0, s.stderr
    a, b = run_sops(["decrypt", str(mine)], env), run_sops(["decrypt", str(theirs)], env)
    assert a.code == 0 and b.code == 0, a.stderr
    assert a.stdout == b.stdout


def test_edit_of_a_file_with_timestamps(tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    """Fuzz seed 31 case 5: editing any value of a YAML file holding a timestamp raised
    ``AttributeError: GoTime is immutable`` (a traceback): the IV stash, copied for each try of
    the edited text, holds the timestamp values, and ``copy.deepcopy`` could not copy them."""
    plain = b"when: 2024-01-01 10:00:00\nname: x\nl:\n  - 2024-01-02\n  - k: 2024-01-03T04:05:06.5+02:00\n"
    _edit_both(tmp_path, env, pysops, age_key.recipient, "t.yaml", plain, "s/^name: x$/name: z/")


def test_gotime_copies_are_itself() -> None:
    t = GoTime(2024, 1, 2, 3, 4, 5, 6, 3600)
    assert copy.deepcopy(t) is t and copy.copy(t) is t
    assert copy.deepcopy({t: [t]}) == {t: [t]}
    assert pickle.loads(pickle.dumps(t)) == t
