"""Crash safety of ``edit`` and of atomic writes, with real processes and real signals.

* SIGINT / SIGTERM / SIGHUP while the editor is open: exit 128+N, the temporary plaintext
  directory is gone, the editor was stopped, the file is unchanged, no lock file is left.
* SIGKILL cannot be handled: the directory stays, and the next ``edit`` removes it.
* Two edits at once: the second fails at once (exit 3), the first's change is kept; a sops
  write meanwhile makes the first fail (exit 3) instead of being overwritten.
* A full disk (RLIMIT_FSIZE) during the write: the original is intact, no temp file is left.
* ``kill -9`` in the middle of ``write_atomic``: the target is always a whole old or new version.
"""

from __future__ import annotations

import os
import random
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.conftest import AgeKey, run_sops
from tests.helpers import age_decrypt, age_encrypt_file, age_env, age_options

from pysops import edit
from pysops.errors import Interrupted

PYTHON = sys.executable


def _waiting_editor(tmp_path: Path, name: str, change: str = "") -> tuple[str, Path, Path]:
    """An editor that applies ``change``, reports its file and pid in ``<name>.ready``, then
    waits until ``<name>.go`` exists. Returns (script, ready file, go file)."""
    ready, go = tmp_path / f"{name}.ready", tmp_path / f"{name}.go"
    script = tmp_path / f"{name}.sh"
    script.write_text(
        f'#!/bin/sh\n{change}\necho "$1 $$" > {ready}.tmp && mv {ready}.tmp {ready}\n'
        f"while [ ! -f {go} ]; do sleep 0.02; done\n"
    )
    script.chmod(0o755)
    return str(script), ready, go


def _wait_for(path: Path, proc: subprocess.Popen[bytes], timeout: float = 15.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"pysops ended early: {proc.returncode} {proc.stderr.read() if proc.stderr else ''!r}")
        if time.monotonic() > deadline:
            raise AssertionError("the editor did not start")
        time.sleep(0.01)
    return path.read_text().split()


def _start_edit(f: Path, env: dict[str, str], editor: str, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [PYTHON, "-m", "pysops", "edit", *extra, str(f)],
        env={**env, "EDITOR": editor},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.fixture
def env(clean_env: dict[str, str], age_key: AgeKey) -> dict[str, str]:
    return age_env(clean_env, age_key)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_signal_during_editor_cleans_up(
    sig: signal.Signals, tmp_path: Path, env: dict[str, str], age_key: AgeKey
) -> None:
    f = tmp_path / "s.yaml"
    before = age_encrypt_file(f, b"a: one\n", age_key, "yaml")
    script, ready, _ = _waiting_editor(tmp_path, "ed", 'sed -i "s/one/ONE/" "$1"')
    proc = _start_edit(f, env, script)
    temp, editor_pid = _wait_for(ready, proc)
    assert Path(temp).read_bytes() == b"a: ONE\n" and edit.lock_path(f).exists()
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=15)
    assert proc.returncode == 128 + sig
    assert err.decode() == (
        f"pysops: error: interrupted by {sig.name}: {f} was not changed and the temporary plaintext was removed\n"
    )
    assert not Path(temp).parent.exists()
    assert _gone(int(editor_pid))
    assert f.read_bytes() == before
    assert not edit.lock_path(f).exists()


def test_sigkill_leaves_the_directory_and_the_next_edit_removes_it(
    tmp_path: Path, env: dict[str, str], age_key: AgeKey
) -> None:
    f = tmp_path / "s.yaml"
    before = age_encrypt_file(f, b"a: one\n", age_key, "yaml")
    script, ready, go = _waiting_editor(tmp_path, "ed", 'sed -i "s/one/ONE/" "$1"')
    proc = _start_edit(f, env, script)
    temp, _ = _wait_for(ready, proc)
    proc.kill()
    proc.wait(timeout=15)  # not communicate(): the orphaned editor still holds the pipes
    go.touch()  # let the orphaned editor end
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
    # What is guaranteed after SIGKILL: the file is unchanged and its lock is free; the
    # plaintext directory cannot be removed by the dead process.
    assert f.read_bytes() == before
    assert Path(temp).exists()
    with edit.file_lock(f):
        pass
    # The next edit (here one that changes nothing) removes the dead process's directory.
    r = subprocess.run(
        [PYTHON, "-m", "pysops", "edit", str(f)], env={**env, "EDITOR": "true"}, capture_output=True, timeout=30
    )
    assert r.returncode == 200
    assert not Path(temp).parent.exists()


def test_concurrent_edits_second_fails_first_wins(tmp_path: Path, env: dict[str, str], age_key: AgeKey) -> None:
    f = tmp_path / "s.yaml"
    age_encrypt_file(f, b"a: one\n", age_key, "yaml")
    script, ready, go = _waiting_editor(tmp_path, "first", 'sed -i "s/one/FIRST/" "$1"')
    first = _start_edit(f, env, script)
    _wait_for(ready, first)
    second_editor = tmp_path / "second.sh"
    second_editor.write_text(f'#!/bin/sh\ntouch {tmp_path}/second-ran\nsed -i "s/one/SECOND/" "$1"\n')
    second_editor.chmod(0o755)
    second = subprocess.run(
        [PYTHON, "-m", "pysops", "edit", str(f)], env={**env, "EDITOR": str(second_editor)},
        capture_output=True, timeout=30,
    )  # fmt: skip
    assert second.returncode == 3
    assert second.stderr.decode() == (
        f"pysops: error: {f} is being modified by another pysops process (pid {first.pid}); nothing was changed\n"
        "pysops: hint: wait for the other edit to finish and try again\n"
    )
    assert not (tmp_path / "second-ran").exists()
    go.touch()
    assert first.wait(timeout=15) == 0
    assert age_decrypt(f.read_bytes(), "yaml", age_key) == b"a: FIRST\n"


def test_sops_write_during_edit_is_not_overwritten(tmp_path: Path, env: dict[str, str], age_key: AgeKey) -> None:
    f = tmp_path / "s.yaml"
    age_encrypt_file(f, b"a: one\n", age_key, "yaml")
    script, ready, go = _waiting_editor(tmp_path, "ed", 'sed -i "s/one/OURS/" "$1"')
    proc = _start_edit(f, env, script)
    temp, _ = _wait_for(ready, proc)
    assert run_sops(["set", str(f), '["a"]', '"SOPS"'], env).code == 0  # sops ignores our lock
    theirs = f.read_bytes()
    go.touch()
    _, err = proc.communicate(timeout=15)
    assert proc.returncode == 3 and "changed on disk while the editor was open" in err.decode()
    assert f.read_bytes() == theirs and age_decrypt(theirs, "yaml", age_key) == b"a: SOPS\n"
    assert not Path(temp).parent.exists()


def _limit_file_size(limit: int) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_full_disk_during_edit_keeps_the_original(tmp_path: Path, env: dict[str, str], age_key: AgeKey) -> None:
    f = tmp_path / "s.yaml"
    before = age_encrypt_file(f, b"a: one\n", age_key, "yaml")
    log = tmp_path / "ed.log"
    script = tmp_path / "ed.sh"
    script.write_text(f'#!/bin/sh\necho "$1" > {log}\necho "big: {"x" * 300}" >> "$1"\n')
    script.chmod(0o755)
    limit = len(before) + 100  # the plaintext fits, the encrypted file does not
    r = subprocess.run(
        [PYTHON, "-m", "pysops", "edit", str(f)], env={**env, "EDITOR": str(script)}, capture_output=True,
        timeout=30, preexec_fn=lambda: _limit_file_size(limit),
    )  # fmt: skip
    assert r.returncode == 3, r.stderr
    assert r.stderr.decode() == f"pysops: error: cannot write {f}: File too large\n"
    assert f.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ed.log", "ed.sh", "home", "s.yaml", "work"]
    assert not Path(log.read_text().strip()).parent.exists()


def test_full_disk_during_write_atomic(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old contents\n")
    code = (
        "import sys\nfrom pysops.atomic import write_atomic\nfrom pysops.errors import PysopsError\n"
        "try:\n    write_atomic(sys.argv[1], b'n' * 100000)\n"
        "except PysopsError as e:\n    print(e.exit_code, e.message)\n"
    )
    r = subprocess.run(
        [PYTHON, "-c", code, str(target)], capture_output=True, timeout=30,
        preexec_fn=lambda: _limit_file_size(4096),
    )  # fmt: skip
    assert r.stdout.decode() == f"3 cannot write {target}: File too large\n"
    assert target.read_bytes() == b"old contents\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_kill_9_during_write_atomic_never_leaves_a_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "target.bin"
    versions = {b"A" * 1_000_000, b"B" * 1_500_000, b"initial\n"}
    target.write_bytes(b"initial\n")
    code = (
        "import sys\nfrom pysops.atomic import write_atomic\n"
        "a, b = b'A' * 1_000_000, b'B' * 1_500_000\n"
        "print('ready', flush=True)\n"
        "while True:\n    write_atomic(sys.argv[1], a)\n    write_atomic(sys.argv[1], b)\n"
    )
    rng = random.Random(1234)
    seen: set[bytes] = set()
    for _ in range(8):
        proc = subprocess.Popen([PYTHON, "-c", code, str(target)], stdout=subprocess.PIPE)
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        time.sleep(rng.uniform(0.0, 0.05))
        proc.kill()
        proc.wait()
        data = target.read_bytes()
        assert data in versions, (len(data), data[:10])
        seen.add(data[:1])
    # Only whole versions were ever seen; a SIGKILL may leave the writer's own temp file
    # (.target.bin.XXXX.tmp) behind, never a partial target.
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "target.bin"]
    assert all(n.startswith(".target.bin.") and n.endswith(".tmp") for n in leftovers)


def test_signal_during_the_final_write_is_deferred(tmp_path: Path, age_key: AgeKey) -> None:
    """A signal that arrives while the file is being written waits until the write is complete."""
    from pysops import atomic

    f = tmp_path / "s.yaml"
    age_encrypt_file(f, b"a: one\n", age_key, "yaml")
    options = age_options(age_key)
    real_write = atomic.write_atomic

    def write_and_get_signalled(path: str, data: bytes, *, private: bool = False) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        real_write(path, data, private=private)

    def change(argv: list[str], path: Path) -> None:
        path.write_bytes(b"a: two\n")

    before = signal.getsignal(signal.SIGTERM)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(atomic, "write_atomic", write_and_get_signalled)
        with pytest.raises(Interrupted) as info:
            edit.edit_file(f, input_format="yaml", options=options, editor=change, env={"EDITOR": "x"})
    assert str(info.value) == f"interrupted by SIGTERM: {f} was written and the temporary plaintext was removed"
    assert info.value.exit_code == 143
    assert age_decrypt(f.read_bytes(), "yaml", age_key) == b"a: two\n"
    assert signal.getsignal(signal.SIGTERM) == before  # handlers restored
