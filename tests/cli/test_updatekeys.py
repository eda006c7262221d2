"""``pysops updatekeys``: recipients synced to the creation rule; adding keeps values and MAC,
removing a recipient also rotates the data key (unlike sops)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.conftest import AgeKey, run_sops
from tests.helpers import age_env

PLAIN = "a: one\nb: two\n"


def _rule(*recipients: str) -> str:
    return "creation_rules:\n  - path_regex: \\.yaml$\n    age: " + ",".join(recipients) + "\n"


def _body(text: str) -> str:
    return text.split("sops:")[0]


@pytest.fixture
def files(clean_env: dict[str, str], age_keys: list[AgeKey], pysops: Any) -> list[Path]:
    work = Path.cwd()
    (work / ".sops.yaml").write_text(_rule(age_keys[0].recipient))
    out = []
    for name in ("one.yaml", "two.yaml"):
        f = work / name
        f.write_text(PLAIN)
        assert pysops(["encrypt", "-i", name], clean_env).code == 0
        out.append(f)
    return out


def test_adding_a_recipient_keeps_values_lastmodified_and_mac(
    files: list[Path], clean_env: dict[str, str], age_keys: list[AgeKey], pysops: Any
) -> None:
    k0, k1, _ = age_keys
    (Path.cwd() / ".sops.yaml").write_text(_rule(k0.recipient, k1.recipient))
    before = [f.read_text() for f in files]
    r = pysops(["updatekeys", "-y", "one.yaml", "two.yaml"], age_env(clean_env, k0))
    assert r.code == 0 and r.stdout == b""
    change = (
        f"The following changes will be made to the file's groups:\nGroup 1\n    {k0.recipient}\n+++ {k1.recipient}\n"
    )
    assert r.stderr == (
        f"pysops: syncing keys for file one.yaml\n{change}pysops: file one.yaml synced with new keys\n"
        f"pysops: syncing keys for file two.yaml\n{change}pysops: file two.yaml synced with new keys\n"
    )
    for f, old in zip(files, before, strict=True):
        new = f.read_text()
        assert _body(new) == _body(old)
        kept = [ln for ln in old.splitlines() if "lastmodified" in ln or "mac:" in ln]
        assert all(ln in new.splitlines() for ln in kept)
        assert run_sops(["decrypt", str(f)], age_env(clean_env, k1)).stdout == PLAIN.encode()
    r = pysops(["updatekeys", "-y", "one.yaml"], age_env(clean_env, k0))
    expected = "pysops: syncing keys for file one.yaml\npysops: file one.yaml already up to date\n"
    assert (r.code, r.stderr) == (0, expected)


def test_removing_a_recipient_rotates_the_data_key(
    files: list[Path], clean_env: dict[str, str], age_keys: list[AgeKey], pysops: Any
) -> None:
    k0, k1, _ = age_keys
    (Path.cwd() / ".sops.yaml").write_text(_rule(k1.recipient))
    before = files[0].read_text()
    r = pysops(["updatekeys", "--yes", "one.yaml"], age_env(clean_env, k0))
    assert r.code == 0, r.stderr
    assert "--- " + k0.recipient in r.stderr and "data key of one.yaml was rotated" in r.stderr
    after = files[0].read_text()
    old_values = {ln for ln in _body(before).splitlines() if "ENC[" in ln}
    assert old_values and not old_values & set(_body(after).splitlines())
    assert run_sops(["decrypt", "one.yaml"], age_env(clean_env, k0)).code == 128
    assert run_sops(["decrypt", "one.yaml"], age_env(clean_env, k1)).stdout == PLAIN.encode()


def test_confirmation(
    files: list[Path], clean_env: dict[str, str], age_keys: list[AgeKey], pysops: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from pysops.cli import cmd_updatekeys

    k0, k1, _ = age_keys
    (Path.cwd() / ".sops.yaml").write_text(_rule(k0.recipient, k1.recipient))
    before = files[0].read_bytes()
    r = pysops(["updatekeys", "one.yaml"], age_env(clean_env, k0))
    assert r.code == 1 and "standard input is not a terminal" in r.stderr
    assert files[0].read_bytes() == before
    monkeypatch.setattr(cmd_updatekeys, "_interactive", lambda: True)
    r = pysops(["updatekeys", "one.yaml"], age_env(clean_env, k0), stdin=b"n\n")
    assert r.code == 0 and r.stderr.endswith("Is this okay? (y/n): pysops: file one.yaml left unchanged\n")
    assert files[0].read_bytes() == before
    r = pysops(["updatekeys", "one.yaml"], age_env(clean_env, k0), stdin=b"y\n")
    assert r.code == 0 and k1.recipient in files[0].read_text()


def test_errors(files: list[Path], clean_env: dict[str, str], age_keys: list[AgeKey], pysops: Any) -> None:
    env = age_env(clean_env, age_keys[0])
    r = pysops(["updatekeys", "-y", "missing.yaml"], env)
    assert r.code == run_sops(["updatekeys", "-y", "missing.yaml"], env).code == 1  # as sops, not 100
    other = Path.cwd() / "x.json"
    other.write_text("{}")
    r = pysops(["updatekeys", "-y", "x.json"], env)
    assert r.code == 1 and "error loading config: no matching creation rules found" in r.stderr


def test_several_files_load_identities_once(
    tmp_path: Path, clean_env: dict[str, str], age_keys: list[AgeKey], pysops: Any
) -> None:
    """One `updatekeys` over many files shares one key context: SOPS_AGE_KEY_CMD runs once."""
    import sys

    work = Path.cwd()  # clean_env chdir-ed into a temp dir
    (work / ".sops.yaml").write_text(_rule(age_keys[0].recipient, age_keys[1].recipient))
    keyfile = tmp_path / "keys.txt"
    keyfile.write_text(age_keys[0].identity + "\n")
    counter = tmp_path / "calls"
    script = tmp_path / "keycmd.py"
    script.write_text(
        f"import pathlib\np = pathlib.Path({str(counter)!r})\n"
        "p.write_text(p.read_text() + 'x' if p.exists() else 'x')\n"
        f"print(pathlib.Path({str(keyfile)!r}).read_text())\n"
    )
    paths = []
    for i in range(5):
        f = work / f"s{i}.yaml"
        f.write_text(f"a: {i}\n")
        assert pysops(["encrypt", "-i", "--age", age_keys[0].recipient, str(f)], clean_env).code == 0
        paths.append(str(f))
    env = {**clean_env, "SOPS_AGE_KEY_CMD": f"{sys.executable} {script}"}
    r = pysops(["updatekeys", "-y", *paths], env)
    assert r.code == 0, r.stderr
    assert counter.read_text() == "x"
    for p in paths:
        assert age_keys[1].recipient in Path(p).read_text()
