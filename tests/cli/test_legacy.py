"""sops's legacy global-flag invocations (``sops -d file``, ``sops --set '...' file``, ``sops file``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.conftest import AgeKey, run_sops

from pysops.cli.legacy import translate
from pysops.errors import ConflictingParameters, InvalidSetFormat


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-d", "f.yaml"], ["decrypt", "f.yaml"]),
        (["--decrypt", "--extract", '["a"]', "f.yaml"], ["decrypt", "--extract", '["a"]', "f.yaml"]),
        (["-d", "-i", "f.yaml"], ["decrypt", "--in-place", "f.yaml"]),
        (["-d", "--output", "o.yaml", "f.yaml"], ["decrypt", "--output", "o.yaml", "f.yaml"]),
        (["-e", "-a", "age1x", "-i", "f.yaml"], ["encrypt", "--age", "age1x", "--in-place", "f.yaml"]),
        (["-e", "--mac-only-encrypted", "f.yaml"], ["encrypt", "--mac-only-encrypted", "f.yaml"]),
        (["-r", "-i", "--add-age", "age1x", "f.yaml"], ["rotate", "--in-place", "--add-age", "age1x", "f.yaml"]),
        (["--rm-pgp", "FP", "f.yaml"], ["rotate", "--rm-pgp", "FP", "--in-place", "f.yaml"]),
        (["--set", '["a"]["b"] {"x": 1}', "f.yaml"], ["set", "--", "f.yaml", '["a"]["b"]', '{"x": 1}']),
        (["--set", '["a b"] -5', "f.yaml"], ["set", "--", "f.yaml", '["a b"]', "-5"]),
        (["f.yaml"], ["edit", "f.yaml"]),
        (["-s", "f.yaml"], ["edit", "--show-master-keys", "f.yaml"]),
        (["--config", "c.yaml", "-d", "f.yaml"], ["--config", "c.yaml", "decrypt", "f.yaml"]),
        (["-d", "--verbose", "f.yaml"], ["--verbose", "decrypt", "f.yaml"]),
        (["-d", "--indent", "2", "f.json"], ["decrypt", "f.json"]),
        # the verb form is left alone
        (["decrypt", "-i", "f.yaml"], ["decrypt", "-i", "f.yaml"]),
        (["--disable-version-check", "set", "f", "[0]", "1"], ["--disable-version-check", "set", "f", "[0]", "1"]),
        (["groups", "add", "-f", "x"], ["groups", "add", "-f", "x"]),
        (["--help"], ["--help"]),
        ([], []),
    ],
)
def test_translate(args: list[str], expected: list[str]) -> None:
    assert translate(args) == expected


def test_translate_errors() -> None:
    with pytest.raises(ConflictingParameters):
        translate(["-d", "-e", "f.yaml"])
    with pytest.raises(InvalidSetFormat) as info:
        translate(["--set", '["a"]', "f.yaml"])
    assert info.value.exit_code == 7 and info.value.message == "Invalid --set format"


def test_legacy_commands_end_to_end(tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    env = {**clean_env, "SOPS_AGE_KEY": age_key.identity}
    f = tmp_path / "s.yaml"
    f.write_text("a: one\nb: two\n")
    assert pysops(["-e", "-i", "--age", age_key.recipient, str(f)], env).code == 0
    assert pysops(["-d", str(f)], env).stdout == b"a: one\nb: two\n"
    assert pysops(["-d", "--extract", '["b"]', str(f)], env).stdout == b"two"
    assert pysops(["--set", '["b"] "TWO"', str(f)], env).code == 0
    assert run_sops(["decrypt", str(f)], env).stdout == b"a: one\nb: TWO\n"
    before = {ln for ln in f.read_text().splitlines() if ln.startswith("a:")}
    assert pysops(["-r", "-i", str(f)], env).code == 0
    assert not before & set(f.read_text().splitlines())
    out = tmp_path / "out.yaml"
    assert pysops(["-d", "--output", str(out), str(f)], env).code == 0
    assert out.read_text() == "a: one\nb: TWO\n"
    r = pysops(["-d", "-e", str(f)], env)
    assert r.code == 8
