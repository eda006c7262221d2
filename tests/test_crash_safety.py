"""Crash safety of ``edit`` and of atomic writes, with real processes and real signals.

* SIGINT / SIGTERM / SIGHUP while the editor is open: exit 128+N, the temporary plaintext
  directory is gone, the editor was stopped, the file is unchanged, no lock file is left.
* SIGKILL cannot be handled: the directory stays, and the next ``edit`` removes it.
* Two edits at once: the second fails at once (exit 3), the first's change is kept; a sops
  write meanwhile makes the first fail (exit 3) instead of being overwritten.
* A full disk (RLIMIT_FSIZE) during the write: the original is intact, no temp file is left.
* ``kill -9`` in the middle of ``write_atomic``, ``set`` or ``rotate -i``: the target is always a
  whole old or new version that decrypts; the next write removes the killed writer's temp file.
* Eight concurrent ``set``s: no update is lost (each one is in the file or its command failed).
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


# --------------------------------------------------------------------------------------------
# kill -9 loops over the mutating commands, and the temp files a killed write leaves

#: Kills per command: a few in CI (well under a minute for both commands), 200 locally with
#: PYSOPS_KILL_LOOPS=200.
KILL_LOOPS = int(os.environ.get("PYSOPS_KILL_LOOPS", "6"))
PLAIN = b"# settings\na: 0\nb: two\nnested:\n    list: [1, 2, 3]\n" + b"".join(
    b"k%d: value number %d\n" % (i, i) for i in range(300)
)


def _leftovers(directory: Path, name: str) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(f".{name}.") and p.name.endswith(".tmp"))


def _plain_value(data: bytes, key: AgeKey) -> tuple[bytes, str]:
    """The plaintext of an encrypted YAML file and its ``a:`` line; raises if it does not decrypt."""
    plain = age_decrypt(data, "yaml", key)
    line = next(x for x in plain.decode().splitlines() if x.startswith("a: "))
    return plain, line


@pytest.mark.parametrize("command", ["set", "rotate"])
def test_kill_9_during_set_and_rotate_leaves_a_whole_file(
    command: str, tmp_path: Path, env: dict[str, str], age_key: AgeKey
) -> None:
    f = tmp_path / "s.yaml"
    age_encrypt_file(f, PLAIN, age_key, "yaml")

    def argv(i: int) -> list[str]:
        if command == "set":
            return [PYTHON, "-m", "pysops", "set", str(f), '["a"]', str(i)]
        return [PYTHON, "-m", "pysops", "rotate", "-i", str(f)]

    # One whole run tells roughly how long a run takes, so that the kills spread over the whole
    # run and its end (where the file is written); the time is never asserted.
    start = time.monotonic()
    assert subprocess.run(argv(10_000), env=env, capture_output=True, timeout=60).returncode == 0
    duration = time.monotonic() - start
    rng = random.Random(20240611 + len(command))
    completed = 0
    for i in range(KILL_LOOPS):
        before = f.read_bytes()
        old_plain, old_line = _plain_value(before, age_key)
        proc = subprocess.Popen(argv(i), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.3 * duration, 1.2 * duration))
        proc.kill()
        proc.wait(timeout=60)
        after = f.read_bytes()
        new_plain, new_line = _plain_value(after, age_key)  # always a whole file that decrypts
        if after != before:
            completed += 1
            if command == "set":
                assert new_line == f"a: {i}" and new_plain.replace(new_line.encode(), old_line.encode()) == old_plain
            else:
                assert new_plain == old_plain and new_plain.startswith(b"# settings\n")
        # Every run that reached its write first removed the temp files earlier kills left:
        # at most the one of the run just killed remains.
        assert len(_leftovers(tmp_path, "s.yaml")) <= 1
    assert run_sops(["decrypt", str(f)], env).code == 0
    # A write that is not killed leaves nothing behind, and removes what a killed one left.
    assert subprocess.run(argv(KILL_LOOPS), env=env, capture_output=True, timeout=60).returncode == 0
    assert _leftovers(tmp_path, "s.yaml") == []
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == []


def test_the_next_write_removes_abandoned_temp_files_only(tmp_path: Path) -> None:
    """Leftovers of the target are removed; a temp file a live writer holds (flock), the temp
    files of other targets and names that are not ``.NAME.XXXXXXXX.tmp`` are kept."""
    from pysops.atomic import write_atomic

    target = tmp_path / "s.yaml"
    target.write_bytes(b"old\n")
    abandoned = [tmp_path / ".s.yaml.abc_1234.tmp", tmp_path / ".s.yaml.zzzzzzzz.tmp"]
    kept = [
        tmp_path / ".s.yaml.abc1234.tmp",  # 7 random characters: not mkstemp's
        tmp_path / ".s.yaml.ABCDEFGH.tmp",  # upper case: not mkstemp's
        tmp_path / ".x.s.yaml.abcdefgh.tmp",  # another target's
        tmp_path / ".s.yaml.abcdefgh.tmp.bak",
        tmp_path / "s.yaml.abcdefgh.tmp",
    ]
    for path in abandoned + kept:
        path.write_bytes(b"secret plaintext\n")
    live = tmp_path / ".s.yaml.livelive.tmp"
    live.write_bytes(b"being written\n")
    holder = subprocess.Popen(
        [PYTHON, "-c", "import fcntl, os, sys\nfd = os.open(sys.argv[1], os.O_RDWR)\n"
         "fcntl.flock(fd, fcntl.LOCK_EX)\nprint('held', flush=True)\nsys.stdin.read()\n", str(live)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        write_atomic(target, b"new\n")
        assert target.read_bytes() == b"new\n"
        assert [p for p in abandoned if p.exists()] == []
        assert [p for p in kept if not p.exists()] == []
        assert live.read_bytes() == b"being written\n"
    finally:
        holder.communicate(b"", timeout=15)
    # Once its writer is gone, the next write (in a new process: one scan per directory and
    # process) removes that one too.
    code = "import sys\nfrom pysops.atomic import write_atomic\nwrite_atomic(sys.argv[1], b'newer\\n')\n"
    subprocess.run([PYTHON, "-c", code, str(target)], check=True, timeout=30)
    assert not live.exists() and target.read_bytes() == b"newer\n"
    assert [p for p in kept if not p.exists()] == []


def test_a_temp_file_removed_before_its_writer_locked_it_is_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The window between creating the temp file and locking it: another process's cleanup may
    remove the file then (it is not locked yet). The writer sees its name no longer names its
    file and starts over with a new temp file, instead of renaming nothing into place."""
    import tempfile

    from pysops import atomic

    target = tmp_path / "s.yaml"
    real_mkstemp = tempfile.mkstemp
    made: list[str] = []

    def mkstemp_then_lose_it(*args: object, **kwargs: object) -> tuple[int, str]:
        fd, name = real_mkstemp(*args, **kwargs)  # type: ignore[call-overload]
        made.append(name)
        if len(made) == 1:
            os.unlink(name)  # what a concurrent cleanup could do before the flock
        return fd, name  # type: ignore[no-any-return]

    monkeypatch.setattr(atomic.tempfile, "mkstemp", mkstemp_then_lose_it)
    atomic.write_atomic(target, b"data\n")
    assert target.read_bytes() == b"data\n" and len(made) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["s.yaml"]


def test_eight_concurrent_sets_lose_no_update(tmp_path: Path, env: dict[str, str], age_key: AgeKey) -> None:
    f = tmp_path / "s.yaml"
    age_encrypt_file(f, b"base: 0\n", age_key, "yaml")
    procs = [
        subprocess.Popen(
            [PYTHON, "-m", "pysops", "set", str(f), f'["k{i}"]', str(i)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        for i in range(8)
    ]
    results = [(p.wait(timeout=120), p.stderr.read().decode() if p.stderr else "") for p in procs]
    plain = age_decrypt(f.read_bytes(), "yaml", age_key).decode()
    for i, (code, err) in enumerate(results):
        # A set either is in the file, or failed cleanly because the file changed under it.
        assert (code == 0 and f"k{i}: {i}\n" in plain) or (code == 3 and f"k{i}:" not in plain), (i, code, err)
    assert any(code == 0 for code, _ in results)
    assert _leftovers(tmp_path, "s.yaml") == []


def test_a_write_back_waits_for_the_lock_and_never_overwrites_the_holders_change(tmp_path: Path) -> None:
    """The lost update the lock prevents, made deterministic: another pysops writer holds the
    file's lock and is about to write; our ``set`` (``write_back``) must wait for it, then see the
    file changed and refuse (exit 3) instead of writing over the other change. Eight concurrent
    processes hit this window too rarely to notice a missing lock."""
    import threading

    from pysops.cli.mutate import write_back
    from pysops.errors import CouldNotWriteOutputFile

    f = tmp_path / "s.yaml"
    f.write_bytes(b"original\n")
    outcome: list[BaseException | None] = []

    def ours() -> None:
        try:
            write_back(str(f), b"original\n", b"ours\n")
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome.append(exc)
        else:
            outcome.append(None)

    with edit.file_lock(f):
        thread = threading.Thread(target=ours)
        thread.start()
        thread.join(timeout=1.0)  # a writer without the lock would have written by now
        assert f.read_bytes() == b"original\n"
        f.write_bytes(b"theirs\n")  # the holder's write
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert isinstance(outcome[0], CouldNotWriteOutputFile), outcome
    assert outcome[0].exit_code == 3
    assert f.read_bytes() == b"theirs\n"
