"""The shipped pre-commit hook, run by the real ``pre-commit`` tool in a temp git repository.

The hook is configured as ``repo: local`` with ``language: system`` (the documented, network-free
setup) and runs this checkout's ``pysops``; the manifest ``.pre-commit-hooks.yaml`` is validated
with pre-commit's own loader and the local hook copies its entry and settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import AgeKey
from tests.helpers import age_encrypt_file

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]
pytest.importorskip("pre_commit", reason="pre-commit is not installed (test extra)")


def manifest_hook() -> dict[str, Any]:
    from pre_commit.clientlib import load_manifest  # type: ignore[import-untyped,import-not-found,unused-ignore]

    hooks = load_manifest(str(ROOT / ".pre-commit-hooks.yaml"))
    (hook,) = [h for h in hooks if h["id"] == "pysops-check"]
    return dict(hook)


def test_manifest() -> None:
    hook = manifest_hook()
    assert (hook["entry"], hook["language"], hook["pass_filenames"]) == ("pysops check", "python", True)


@pytest.fixture
def repo(tmp_path: Path, age_key: AgeKey) -> tuple[Path, dict[str, str]]:
    root = tmp_path / "repo"
    root.mkdir()
    gitconfig = tmp_path / "gitconfig"
    gitconfig.write_text("[user]\n\tname = t\n\temail = t@example.com\n[init]\n\tdefaultBranch = main\n")
    env = {
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(tmp_path),
        "GIT_CONFIG_GLOBAL": str(gitconfig),
        "GIT_CONFIG_NOSYSTEM": "1",
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "SOPS_DISABLE_VERSION_CHECK": "1",
    }
    hook = manifest_hook()
    (root / ".pre-commit-config.yaml").write_text(
        "repos:\n  - repo: local\n    hooks:\n"
        f"      - id: {hook['id']}\n        name: {hook['id']}\n        entry: {BIN / 'pysops'} check\n"
        f"        language: system\n        pass_filenames: {str(hook['pass_filenames']).lower()}\n"
        "        require_serial: true\n"
    )
    (root / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: secrets/.*\\.yaml$\n    age: {age_key.recipient}\n"
    )
    (root / "secrets").mkdir()
    run(root, env, "git", "init", "-q", ".")
    run(root, env, str(BIN / "pre-commit"), "install")
    run(root, env, "git", "add", ".pre-commit-config.yaml", ".sops.yaml")
    run(root, env, "git", "commit", "-q", "-m", "config")
    return root, env


def run(root: Path, env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(args), cwd=root, env=env, capture_output=True, text=True, timeout=60)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def test_plaintext_commit_refused_encrypted_passes(repo: tuple[Path, dict[str, str]], age_key: AgeKey) -> None:
    root, env = repo
    (root / "secrets" / "db.yaml").write_text("password: Zx8Qp2Lm9Rt4Vw7Ks3Nb\n")
    run(root, env, "git", "add", "secrets/db.yaml")
    refused = run(root, env, "git", "commit", "-q", "-m", "oops", check=False)
    assert refused.returncode == 1
    assert (
        "secrets/db.yaml:1: PS001 not encrypted, but creation rule 1 says it must be" in refused.stdout + refused.stderr
    )
    assert "Zx8Qp2Lm9Rt4Vw7Ks3Nb" not in refused.stdout + refused.stderr
    assert run(root, env, "git", "rev-list", "--count", "HEAD").stdout == "1\n"

    age_encrypt_file(root / "secrets" / "db.yaml", (root / "secrets" / "db.yaml").read_bytes(), age_key)
    run(root, env, "git", "add", "secrets/db.yaml")
    run(root, env, "git", "commit", "-q", "-m", "encrypted")
    assert run(root, env, "git", "rev-list", "--count", "HEAD").stdout == "2\n"


def test_plaintext_secret_outside_rules_refused(repo: tuple[Path, dict[str, str]]) -> None:
    root, env = repo
    (root / "app.env").write_text("AWS_ID=AKIAABCDEFGHIJKLMNOP\n")
    run(root, env, "git", "add", "app.env")
    refused = run(root, env, str(BIN / "pre-commit"), "run", "--files", "app.env", check=False)
    assert refused.returncode == 1
    assert "app.env:1: PS102 plaintext secret: AWS access key id" in refused.stdout + refused.stderr
    (root / "app.env").write_text("AWS_ID=AKIAABCDEFGHIJKLMNOP # pysops: allow (documented test key)\n")
    run(root, env, "git", "add", "app.env")
    run(root, env, "git", "commit", "-q", "-m", "allowed")
