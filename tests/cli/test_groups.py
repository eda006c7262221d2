"""``pysops groups add/delete``: the same data key re-split; values, lastmodified and mac kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import AgeKey, run_sops
from tests.helpers import age_env

PLAIN = "a: one\nb: [1, 2]\n"
SOPS_PLAIN = b"a: one\nb:\n    - 1\n    - 2\n"  # PLAIN as sops writes it


def _sops_decrypts(path: Path, env: dict[str, str]) -> None:
    r = run_sops(["decrypt", str(path)], env)
    assert (r.code, r.stdout) == (0, SOPS_PLAIN), r.stderr


def _data_lines(text: str) -> list[str]:
    return text.split("sops:")[0].splitlines() + [
        ln for ln in text.splitlines() if "lastmodified" in ln or "mac:" in ln
    ]


def test_groups_add_and_delete(tmp_path: Path, clean_env: dict[str, str], age_keys: list[AgeKey], pysops: Any) -> None:
    k0, k1, k2 = age_keys
    f = tmp_path / "s.yaml"
    f.write_text(PLAIN)
    assert pysops(["encrypt", "-i", "--age", k0.recipient, str(f)], clean_env).code == 0
    original = f.read_text()
    env = age_env(clean_env, *age_keys)
    r = pysops(["groups", "add", "--file", str(f), "--age", k1.recipient], env)
    assert (r.code, r.stderr) == (0, "") and f.read_text() == original  # printed, not written
    assert pysops(["groups", "add", "-i", "-f", str(f), "--age", k1.recipient], env).code == 0
    two = f.read_text()
    assert _data_lines(two) == _data_lines(original)
    assert "shamir_threshold: 2" in two and "key_groups:" in two
    _sops_decrypts(f, env)
    assert run_sops(["decrypt", str(f)], age_env(clean_env, k0)).code == 128  # one share is not enough
    r = pysops(["groups", "add", "-i", "-f", str(f), "--age", k2.recipient, "--shamir-secret-sharing-threshold", "2"],
               env)  # fmt: skip
    assert r.code == 0
    _sops_decrypts(f, age_env(clean_env, k0, k2))  # 2 of 3
    assert pysops(["groups", "delete", "-i", "-f", str(f), "1"], env).code == 0
    text = f.read_text()
    assert k1.recipient not in text and _data_lines(text) == _data_lines(original)
    _sops_decrypts(f, age_env(clean_env, k0, k2))


def test_groups_errors(tmp_path: Path, clean_env: dict[str, str], age_keys: list[AgeKey], pysops: Any) -> None:
    k0, k1, _ = age_keys
    f = tmp_path / "s.yaml"
    f.write_text(PLAIN)
    assert pysops(["encrypt", "-i", "--age", k0.recipient, str(f)], clean_env).code == 0
    env = age_env(clean_env, *age_keys)
    before = f.read_bytes()
    r = pysops(["groups", "delete", "-i", "-f", str(f), "0"], env)
    assert (r.code, r.stderr) == (1, "pysops: error: cannot delete the only key group: nobody could decrypt the file\n")
    assert pysops(["groups", "add", "-i", "-f", str(f)], env).code == 1
    r = pysops(["groups", "add", "-i", "-f", str(f), "--age", k1.recipient, "--shamir-secret-sharing-threshold", "5"],
               env)  # fmt: skip
    assert r.code == 1 and "threshold" in r.stderr
    assert f.read_bytes() == before
    assert pysops(["groups", "add", "-i", "-f", str(f), "--age", k1.recipient], env).code == 0
    r = pysops(["groups", "delete", "-i", "-f", str(f), "5"], env)
    assert r.code == 1 and "there is no key group 5" in r.stderr
