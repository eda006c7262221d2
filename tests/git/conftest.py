"""Real git repositories in temp directories for the git integration tests.

HOME, GIT_CONFIG_GLOBAL and GIT_CONFIG_NOSYSTEM point into the test's temp dir, so the user's
git configuration is never read or touched; the venv's ``bin`` comes first on PATH so the
drivers git runs (``pysops git ...``) are this checkout's."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import AgeKey, run_pysops

BIN = Path(sys.executable).parent


class Repo:
    def __init__(self, path: Path, env: dict[str, str], key: AgeKey, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.path = path
        self.env = env
        self.key = key

    def git(
        self, *args: str, check: bool = True, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            ["git", *args], cwd=self.path, env=env or self.env, capture_output=True, text=True, timeout=60
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def pysops(
        self, *args: str, check: bool = True, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """The CLI in-process (fast) in the repository; git itself runs the drivers as processes."""
        with self.monkeypatch.context() as m:
            m.chdir(self.path)
            result = run_pysops(list(args), m, env or self.env)
        proc = subprocess.CompletedProcess(
            list(args), result.code, result.stdout.decode("utf-8", "surrogateescape"), result.stderr
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"pysops {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def write(self, name: str, data: bytes | str) -> Path:
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data.encode() if isinstance(data, str) else data)
        return target

    def read(self, name: str) -> bytes:
        return (self.path / name).read_bytes()

    def commit(self, message: str) -> None:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)

    def show(self, rev: str, name: str) -> bytes:
        proc = subprocess.run(["git", "show", f"{rev}:{name}"], cwd=self.path, env=self.env, capture_output=True)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout


@pytest.fixture
def git_env(
    tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    home = Path(clean_env["HOME"])
    values = {
        "HOME": str(home),
        "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
        "GIT_PAGER": "cat",
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', os.defpath)}",
        "SOPS_AGE_KEY": age_key.identity,
        "SOPS_DISABLE_VERSION_CHECK": "1",
    }
    for name in list(os.environ):
        if name.startswith("GIT_") and name not in values:
            monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return dict(os.environ)


def sops_yaml(*recipients: str, regex: str = r"\.enc\.(yaml|json)$") -> str:
    return f"creation_rules:\n  - path_regex: '{regex}'\n    age: '{','.join(recipients)}'\n"


@pytest.fixture
def repo(tmp_path: Path, git_env: dict[str, str], age_key: AgeKey, monkeypatch: pytest.MonkeyPatch) -> Iterator[Repo]:
    """A repository on branch main with a .sops.yaml for ``age_key``, the drivers configured and
    ``*.enc.yaml``/``*.enc.json`` attributed to them; the working directory is its top."""
    path = tmp_path / "repo"
    path.mkdir()
    r = Repo(path, git_env, age_key, monkeypatch)
    r.git("init", "-q", "-b", "main")
    r.write(".sops.yaml", sops_yaml(age_key.recipient))
    setup = r.pysops("git", "setup")
    r.write(".gitattributes", setup.stdout)
    monkeypatch.chdir(path)
    yield r


def encrypt(r: Repo, name: str, plain: str | bytes) -> bytes:
    r.write(name, plain)
    r.pysops("encrypt", "-i", name)
    return r.read(name)


def changed_lines(before: bytes, after: bytes) -> list[tuple[str, str]]:
    """(old, new) of every line that differs; both texts must have the same line count."""
    a, b = before.decode().splitlines(), after.decode().splitlines()
    assert len(a) == len(b), (before.decode(), after.decode())
    return [(x, y) for x, y in zip(a, b, strict=True) if x != y]


def keys_of(lines: list[tuple[str, str]]) -> list[str]:
    return [new.split(":")[0].strip() for _, new in lines]
