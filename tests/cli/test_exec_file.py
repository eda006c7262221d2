"""``pysops exec-file``: a FIFO or a 0600 file in a private directory that is always removed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from tests.cli.conftest import FLAT
from tests.cli.test_exec_env import encrypt_file, run
from tests.conftest import AgeKey

#: what the child reads: the float 2.0 prints as Go (and sops) print it (docs/formats.md, YAML)
SHOWN = FLAT.replace(b"ratio: 2.0", b"ratio: 2")


def _describe(marker: Path) -> str:
    """A shell snippet recording the path, the file type and modes, then the content."""
    return f'echo {{}} > {marker}; stat -c "%F %a" {{}} "$(dirname {{}})" >> {marker}; cat {{}}'


def test_fifo_by_default(flat: Path, env: dict[str, str], tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    r = run(["exec-file", str(flat), _describe(marker)], env)
    assert (r.returncode, r.stdout, r.stderr) == (0, SHOWN, b"")
    path, kind, directory = marker.read_text().splitlines()
    assert (kind, directory) == ("fifo 600", "directory 700")
    assert os.path.basename(path) == "tmp-file"
    if os.path.isdir("/dev/shm"):
        assert path.startswith("/dev/shm/.pysops-")
    assert not os.path.exists(os.path.dirname(path))


def test_no_fifo_regular_file(flat: Path, env: dict[str, str], tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    r = run(["exec-file", "--no-fifo", str(flat), _describe(marker)], env)
    assert (r.returncode, r.stdout) == (0, SHOWN)
    path, kind, directory = marker.read_text().splitlines()
    assert (kind, directory) == ("regular file 600", "directory 700")
    assert not os.path.exists(os.path.dirname(path))


@pytest.mark.parametrize("fifo", [True, False])
def test_directory_removed_when_the_child_fails(flat: Path, env: dict[str, str], tmp_path: Path, fifo: bool) -> None:
    marker = tmp_path / "marker"
    flags = [] if fifo else ["--no-fifo"]
    r = run(["exec-file", *flags, str(flat), f"echo {{}} > {marker}; exit 3"], env)
    assert r.returncode == 3
    assert not os.path.exists(os.path.dirname(marker.read_text().strip()))
    r = run(["exec-file", *flags, str(flat), f"echo {{}} > {marker}; kill -KILL $$"], env)
    assert r.returncode == 128 + signal.SIGKILL
    assert not os.path.exists(os.path.dirname(marker.read_text().strip()))


def test_directory_removed_when_pysops_is_terminated(flat: Path, env: dict[str, str], tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    script = f'trap "exit 4" TERM; echo {{}} > {marker}; while :; do sleep 0.02; done'
    proc = subprocess.Popen(
        [sys.executable, "-m", "pysops", "exec-file", "--no-fifo", str(flat), script], env=env, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 15
        while not (marker.exists() and marker.read_text().endswith("\n")) and time.monotonic() < deadline:
            time.sleep(0.02)
        path = marker.read_text().strip()
        assert Path(path).read_bytes() == SHOWN
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 4
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert not os.path.exists(os.path.dirname(path))


def test_child_that_never_opens_the_fifo(flat: Path, env: dict[str, str]) -> None:
    start = time.monotonic()
    r = run(["exec-file", str(flat), "exit 0"], env)
    assert r.returncode == 0 and time.monotonic() - start < 10


def test_large_content_through_the_fifo(tmp_path: Path, env: dict[str, str], age_key: AgeKey) -> None:
    plain = b"".join(b"key%05d: value%05d\n" % (i, i) for i in range(8000))  # > 64 KiB pipe buffer
    f = encrypt_file(tmp_path / "big.yaml", plain, age_key)
    r = run(["exec-file", str(f), "wc -c < {}"], env)
    assert (r.returncode, r.stdout) == (0, f"{len(plain)}\n".encode())


@pytest.mark.parametrize("name", ["../x", "a/b", "..", "/tmp/x"])
def test_filename_cannot_escape(flat: Path, env: dict[str, str], pysops: Any, tmp_path: Path, name: str) -> None:
    marker = tmp_path / "ran"
    r = pysops(["exec-file", "--filename", name, str(flat), f"touch {marker}"], env)
    assert (r.code, r.stdout) == (1, b"")
    assert r.stderr == (
        f"pysops: error: invalid --filename {name!r}: it must be a plain file name\n"
        "pysops: hint: no '/', and not '.' or '..' (the file is created in a private directory)\n"
    )
    assert not marker.exists()


def test_filename_and_output_type(flat: Path, env: dict[str, str]) -> None:
    r = run(
        ["exec-file", "--filename", "my secrets.json", "--output-type", "json", str(flat), "basename {}; cat {}"], env
    )
    assert r.returncode == 0
    assert r.stdout == (
        b'my secrets.json\n{\n\t"user": "alice",\n\t"password": "hunter2",\n\t"port": 5432,\n'
        b'\t"ratio": 2,\n\t"debug": true\n}\n'
    )


def test_argv_form(flat: Path, env: dict[str, str]) -> None:
    r = run(["exec-file", str(flat), "--", "sh", "-c", 'head -n 2 "$1"; exit 2', "sh", "{}"], env)
    assert (r.returncode, r.stdout) == (2, b"# comment\nuser: alice\n")


def test_input_type_and_exit_status(tmp_path: Path, env: dict[str, str], age_key: AgeKey) -> None:
    f = encrypt_file(tmp_path / "s.enc", b"A=1\nB='x y'\n", age_key, fmt="dotenv")
    r = run(["exec-file", "--input-type", "dotenv", "--no-fifo", str(f), "cat {}; exit 11"], env)
    assert (r.returncode, r.stdout) == (11, b"A=1\nB='x y'\n")


def test_background_runs_in_the_foreground(flat: Path, env: dict[str, str]) -> None:
    r = run(["exec-file", "--background", str(flat), "head -n 2 {}"], env)
    assert (r.returncode, r.stdout) == (0, b"# comment\nuser: alice\n")
    assert r.stderr == (
        b"pysops: warning: exec-file's --background option is deprecated and will be removed in a future version\n"
        b"pysops: warning: exec-file runs the command in the foreground\n"
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")
@pytest.mark.parametrize("fifo", [True, False])
def test_user_can_read_its_file(flat: Path, env: dict[str, str], fifo: bool) -> None:
    flags = [] if fifo else ["--no-fifo"]
    r = run(["exec-file", *flags, "--user", "nobody", str(flat), "id -un; head -n 2 {}"], env)
    assert (r.returncode, r.stdout) == (0, b"nobody\n# comment\nuser: alice\n")


def test_missing_file(tmp_path: Path, env: dict[str, str], pysops: Any) -> None:
    r = pysops(["exec-file", str(tmp_path / "missing.yaml"), "cat {}"], env)
    assert (r.code, r.stdout) == (2, b"")
