"""``pysops exec-env``: the child's environment, exit statuses, signal forwarding, argv hygiene.

Process-level behaviour (exec, signals, exit statuses) runs ``python -m pysops`` as a real
subprocess; argument and decryption errors, which happen before anything is started, use the
in-process runner.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from tests.cli.conftest import FLAT
from tests.conftest import AgeKey, run_sops
from tests.helpers import age_encrypt_file

NESTED = b"user: alice\ndatabase:\n  password: hunter2\n  hosts: [db1, db2]\n"


def encrypt_file(path: Path, plain: bytes, key: AgeKey, fmt: str | None = None) -> Path:
    age_encrypt_file(path, plain, key, fmt)
    return path


def run(
    args: list[str], env: dict[str, str], *, timeout: float = 20, **kwargs: Any
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "pysops", *args], env=env, capture_output=True, timeout=timeout, **kwargs
    )


def test_child_sees_the_variables(flat: Path, env: dict[str, str]) -> None:
    r = run(
        ["exec-env", str(flat), 'printf "%s|%s|%s|%s|%s|%s" "$user" "$password" "$port" "$ratio" "$debug" "$HOME"'], env
    )
    assert (r.returncode, r.stdout, r.stderr) == (0, f"alice|hunter2|5432|2.0|true|{env['HOME']}".encode(), b"")


def test_same_as_sops(flat: Path, env: dict[str, str]) -> None:
    cmd = "env | grep -E '^(user|password|port|ratio|debug)=' | sort"
    ours = run(["exec-env", str(flat), cmd], env)
    theirs = run_sops(["exec-env", str(flat), cmd], env)
    assert ours.returncode == theirs.code == 0
    assert ours.stdout == theirs.stdout == b"debug=true\npassword=hunter2\nport=5432\nratio=2.0\nuser=alice\n"


def test_argv_form_replaces_the_process(flat: Path, env: dict[str, str]) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pysops", "exec-env", str(flat), "--", "sh", "-c", 'echo "$$ $user"'],
        env=env,
        stdout=subprocess.PIPE,
    )
    out, _ = proc.communicate(timeout=20)
    assert (proc.returncode, out) == (0, f"{proc.pid} alice\n".encode())


def test_same_process_restores_default_signal_dispositions(flat: Path, env: dict[str, str]) -> None:
    # Python ignores SIGPIPE and SIGXFSZ; the exec'd program must not inherit that
    r = run(["exec-env", str(flat), "--", "grep", "SigIgn", "/proc/self/status"], env)
    assert r.returncode == 0 and r.stdout.startswith(b"SigIgn:\t")
    ignored = int(r.stdout.split()[1], 16)
    assert ignored & (1 << (signal.SIGPIPE - 1) | 1 << (signal.SIGXFSZ - 1)) == 0


def test_same_process_with_a_command_string(flat: Path, env: dict[str, str]) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pysops", "exec-env", "--same-process", str(flat), 'echo "$$ $user"; exit 3'],
        env=env,
        stdout=subprocess.PIPE,
    )
    out, _ = proc.communicate(timeout=20)
    assert (proc.returncode, out) == (3, f"{proc.pid} alice\n".encode())


def test_argv_form_as_a_child(flat: Path, env: dict[str, str]) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pysops",
            "exec-env",
            "--no-same-process",
            str(flat),
            "--",
            "sh",
            "-c",
            "echo $$; exit 6",
        ],
        env=env,
        stdout=subprocess.PIPE,
    )
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 6 and int(out) != proc.pid


def test_pristine(flat: Path, env: dict[str, str]) -> None:
    r = run(["exec-env", "--pristine", str(flat), "--", "env"], env)
    assert (r.returncode, r.stdout) == (0, b"user=alice\npassword=hunter2\nport=5432\nratio=2.0\ndebug=true\n")
    r = run(["exec-env", "--pristine", str(flat), "echo ${HOME:-none} $user"], env)
    assert (r.returncode, r.stdout) == (0, b"none alice\n")


def test_flatten(tmp_path: Path, env: dict[str, str], age_key: AgeKey) -> None:
    nested = encrypt_file(tmp_path / "nested.yaml", NESTED, age_key)
    r = run(["exec-env", "--pristine", "--flatten", str(nested), "--", "env"], env)
    assert (r.returncode, r.stdout, r.stderr) == (
        0,
        b"user=alice\nDATABASE_PASSWORD=hunter2\nDATABASE_HOSTS_0=db1\nDATABASE_HOSTS_1=db2\n",
        b"",
    )


def test_nested_without_flatten_fails_like_sops(
    tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    nested = encrypt_file(tmp_path / "nested.yaml", NESTED, age_key)
    r = pysops(["exec-env", str(nested), "echo should-not-run"], env)
    assert (r.code, r.stdout) == (1, b"")
    assert r.stderr == (
        "pysops: error: cannot use complex value in environment; offending key database\n"
        "pysops: hint: pass --flatten to turn nested keys into NAME_CHILD variables\n"
    )
    theirs = run_sops(["exec-env", str(nested), "echo should-not-run"], env)
    assert (theirs.code, theirs.stdout) == (1, b"")
    assert "cannot use complex value in environment; offending key database" in theirs.stderr


def test_key_with_equals_sign(tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    f = encrypt_file(tmp_path / "eq.json", b'{"a=b": "x"}', age_key)
    r = pysops(["exec-env", str(f), "true"], env)
    assert (r.code, r.stdout, r.stderr) == (1, b"", "pysops: error: cannot use keys with '=' in environment: a=b\n")


def test_dotenv_quotes_are_interpreted(tmp_path: Path, env: dict[str, str], age_key: AgeKey) -> None:
    f = encrypt_file(tmp_path / "q.env", b"A=\"two words\"\nB='$x'\nC=plain\n", age_key)
    r = run(["exec-env", "--pristine", str(f), "--", "env"], env)
    assert (r.returncode, r.stdout) == (0, b"A=two words\nB=$x\nC=plain\n")


@pytest.mark.parametrize(
    ("command", "status"),
    [("exit 7", 7), ("exit 0", 0), ("kill -KILL $$", 128 + 9), ("kill -TERM $$", 128 + 15)],
)
def test_exit_status_is_propagated(flat: Path, env: dict[str, str], command: str, status: int) -> None:
    r = run(["exec-env", str(flat), command], env)
    assert (r.returncode, r.stdout, r.stderr) == (status, b"", b"")


def test_exit_status_in_the_argv_form(flat: Path, env: dict[str, str]) -> None:
    assert run(["exec-env", str(flat), "--", "sh", "-c", "exit 9"], env).returncode == 9


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_signals_are_forwarded(flat: Path, env: dict[str, str], tmp_path: Path, sig: signal.Signals) -> None:
    marker = tmp_path / "marker"
    name = sig.name.removeprefix("SIG")
    script = f'trap "echo got-{name} > {marker}; exit 5" {name}; echo up > {marker}; while :; do sleep 0.02; done'
    # a new session: no controlling terminal, so SIGINT counts as sent by a process, not a keyboard
    proc = subprocess.Popen(
        [sys.executable, "-m", "pysops", "exec-env", str(flat), script], env=env, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 15
        while not (marker.exists() and marker.read_text() == "up\n") and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(sig)
        assert proc.wait(10) == 5
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert marker.read_text() == f"got-{name}\n"


def test_secrets_never_in_argv(flat: Path, env: dict[str, str]) -> None:
    script = (
        'cat /proc/$PPID/cmdline; echo; cat /proc/$$/cmdline; echo; tr "\\0" "\\n" < /proc/$$/environ | grep ^password='
    )
    r = run(["exec-env", str(flat), script], env)
    assert r.returncode == 0
    parent_argv, child_argv, environ = r.stdout.split(b"\n")[:3]
    assert b"exec-env" in parent_argv and b"hunter2" not in parent_argv
    assert child_argv.startswith(b"/bin/sh\0-c\0") and b"hunter2" not in child_argv
    assert environ == b"password=hunter2"
    r = run(["exec-env", str(flat), "--", "cat", "/proc/self/cmdline"], env)
    assert (r.returncode, r.stdout) == (0, b"cat\0/proc/self/cmdline\0")


def test_background(flat: Path, env: dict[str, str], tmp_path: Path) -> None:
    marker = tmp_path / "bg"
    start = time.monotonic()
    r = run(["exec-env", "--background", str(flat), f"sleep 0.3; echo $user > {marker}"], env)
    assert time.monotonic() - start < 10
    assert (r.returncode, r.stdout) == (0, b"")
    assert r.stderr == (
        b"pysops: warning: exec-env's --background option is deprecated and will be removed in a future version\n"
    )
    deadline = time.monotonic() + 10
    while not (marker.exists() and marker.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.read_text() == "alice\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")
def test_user_as_root(flat: Path, env: dict[str, str]) -> None:
    import pwd

    nobody = pwd.getpwnam("nobody")
    r = run(["exec-env", "--user", "nobody", str(flat), 'echo "$(id -u) $user"'], env)
    assert (r.returncode, r.stdout) == (0, f"{nobody.pw_uid} alice\n".encode())
    r = run(["exec-env", "--user", "nobody", str(flat), "--", "id", "-u"], env)
    assert (r.returncode, r.stdout) == (0, f"{nobody.pw_uid}\n".encode())


def test_user_errors(flat: Path, env: dict[str, str], pysops: Any) -> None:
    r = pysops(["exec-env", "--user", "no-such-user-x", str(flat), "true"], env)
    assert (r.code, r.stderr) == (1, "pysops: error: unknown user no-such-user-x\n")


def test_command_errors(flat: Path, env: dict[str, str], pysops: Any) -> None:
    r = pysops(["exec-env", str(flat)], env)
    assert (r.code, r.stderr) == (
        1,
        "pysops: error: exec-env: missing command to run\n"
        "pysops: hint: pysops exec-env FILE 'command string'  or  pysops exec-env FILE -- PROGRAM ARGS...\n",
    )
    r = pysops(["exec-env", str(flat), "--"], env)
    assert (r.code, r.stderr) == (1, "pysops: error: exec-env: missing command after --\n")
    r = pysops(["exec-env", str(flat), "echo", "hi"], env)
    assert r.code == 1
    assert r.stderr.startswith("pysops: error: exec-env: expected one command string or -- PROGRAM ARGS..., got 2")
    r = pysops(["exec-env", "--same-process", "--background", str(flat), "true"], env)
    assert (r.code, r.stderr) == (8, "pysops: error: --same-process and --background cannot be used together\n")
    r = run(["exec-env", str(flat), "--", "no-such-program-x"], env)
    assert (r.returncode, r.stderr) == (127, b"pysops: error: command not found: no-such-program-x\n")


def test_file_errors(tmp_path: Path, env: dict[str, str], pysops: Any) -> None:
    r = pysops(["exec-env", str(tmp_path / "missing.yaml"), "true"], env)
    assert r.code == 2 == run_sops(["exec-env", str(tmp_path / "missing.yaml"), "true"], env).code
    plain = tmp_path / "plain.yaml"
    plain.write_bytes(FLAT)
    r = pysops(["exec-env", str(plain), "true"], env)
    assert r.code == 1 and r.stderr.startswith("pysops: error: sops metadata not found\n")


def test_input_type_and_ignore_mac(tmp_path: Path, env: dict[str, str], age_key: AgeKey) -> None:
    f = encrypt_file(tmp_path / "secrets.enc", b'{"token": "t0k"}', age_key, fmt="json")
    r = run(["exec-env", "--input-type", "json", str(f), 'printf %s "$token"'], env)
    assert (r.returncode, r.stdout) == (0, b"t0k")
    text = f.read_text()
    mac_start = text.index('"mac": "') + len('"mac": "ENC[AES256_GCM,data:')
    tampered = text[:mac_start] + ("A" if text[mac_start] != "A" else "B") + text[mac_start + 1 :]
    f.write_text(tampered)
    assert run(["exec-env", "--input-type", "json", str(f), "true"], env).returncode == 51
    r = run(["exec-env", "--input-type", "json", "--ignore-mac", str(f), 'printf %s "$token"'], env)
    assert (r.returncode, r.stdout) == (0, b"t0k")


def test_keyboard_interrupt_reaches_the_child_once(flat: Path, env: dict[str, str], tmp_path: Path) -> None:
    """Ctrl-C on a terminal signals the whole foreground group, the child included: pysops must
    not forward that SIGINT a second time."""
    import pty

    marker = tmp_path / "marker"
    # set_wakeup_fd writes one byte per delivered signal, so two deliveries are counted as two
    # (a shell trap would merge them). The kernel still merges a forwarded SIGINT that arrives
    # while the terminal's one is pending, so a regression is caught often, not always; the
    # test never fails for correct code.
    script = f"""
import os, signal, time
r, w = os.pipe()
os.set_blocking(w, False)
signal.set_wakeup_fd(w)
signal.signal(signal.SIGINT, lambda *a: None)
stop = []
signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
open({str(marker)!r}, "w").write("up\\n")
while not stop:
    time.sleep(0.02)
count = os.read(r, 100).count(signal.SIGINT)
open({str(marker)!r}, "w").write(f"{{count}}\\n")
"""
    args = ["exec-env", "--no-same-process", str(flat), "--", sys.executable, "-c", script]
    pid, master = pty.fork()
    if pid == 0:  # pragma: no cover - the child becomes pysops
        os.execve(sys.executable, [sys.executable, "-m", "pysops", *args], env)
    try:
        deadline = time.monotonic() + 15
        while not (marker.exists() and marker.read_text() == "up\n") and time.monotonic() < deadline:
            time.sleep(0.02)
        os.write(master, b"\x03")
        time.sleep(0.4)
        os.kill(pid, signal.SIGTERM)
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(master)
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert marker.read_text() == "1\n"


# --------------------------------------------------------------------------------------------
# The typer-free path (pysops.cli.exec_run.try_run)

FAST_RUNNER = """
import sys
from pysops.cli import exec_run
from pysops.errors import PysopsError
try:
    status = exec_run.try_run(sys.argv[1:])
except PysopsError as exc:
    sys.stderr.write(f"pysops: error: {exc.message}\\n")
    status = exc.exit_code
sys.exit(99 if status is None else status)
"""


def run_fast(args: list[str], env: dict[str, str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-X", "importtime", "-c", FAST_RUNNER, *args],
        env=env,
        capture_output=True,
        timeout=20,
        **kwargs,
    )


def _imported(stderr: bytes) -> set[str]:
    return {line.split("|")[-1].strip() for line in stderr.decode().splitlines() if "import time:" in line}


def test_fast_path_without_typer(flat: Path, env: dict[str, str], tmp_path: Path) -> None:
    r = run_fast(["--disable-version-check", "exec-env", "--pristine", str(flat), "--", "env"], env)
    assert (r.returncode, r.stdout) == (0, b"user=alice\npassword=hunter2\nport=5432\nratio=2.0\ndebug=true\n")
    r = run_fast(["exec-env", str(flat), 'printf %s "$user"; exit 4'], env)
    assert (r.returncode, r.stdout) == (4, b"alice")
    imported = _imported(r.stderr)
    assert "pysops.cli.exec_run" in imported  # the import report is there to be checked
    assert not {m for m in imported if m.split(".")[0] in ("typer", "click", "rich", "pydantic")}
    config = tmp_path / "config.yaml"
    config.write_text("creation_rules: []\n")
    r = run_fast(["--config", str(config), "exec-file", "--no-fifo", str(flat), "head -n 2 {}"], env)
    assert (r.returncode, r.stdout) == (0, b"# comment\nuser: alice\n")
    r = run_fast(["--config", str(tmp_path / "missing.yaml"), "exec-file", str(flat), "true"], env)
    assert r.returncode == 1 and b"could not read config file" in r.stderr
    r = run_fast(["exec-env", "--user=no-such-user-x", str(flat), "true"], env)
    assert r.returncode == 1 and r.stderr.endswith(b"pysops: error: unknown user no-such-user-x\n")


@pytest.mark.parametrize(
    "args",
    [
        ["exec-env", "--help"],
        ["exec-env", "--pristine"],
        ["exec-env", "--unknown", "f", "true"],
        ["exec-env", "--user"],
        ["exec-env", "--pristine=yes", "f", "true"],
        ["--unknown-global", "exec-env", "f", "true"],
        ["--config"],
        ["decrypt", "f"],
        [],
    ],
)
def test_fast_path_hands_over_to_typer(args: list[str]) -> None:
    from pysops.cli.exec_run import try_run

    assert try_run(args) is None


def test_fast_path_parses_like_typer(monkeypatch: pytest.MonkeyPatch) -> None:
    from pysops.cli import exec_run

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(exec_run, "run_exec_env", lambda **kw: calls.append(kw) or 0)
    monkeypatch.setattr(exec_run, "run_exec_file", lambda **kw: calls.append(kw) or 0)
    monkeypatch.setenv("SOPS_DECRYPTION_ORDER", "age")
    assert exec_run.try_run(["exec-env", "--no-same-process", "--user", "u", "f", "--", "ls", "-l"]) == 0
    assert calls.pop() == {
        "file": "f",
        "command": ["--", "ls", "-l"],
        "pristine": False,
        "same_process": False,
        "user": "u",
        "background": False,
        "flatten": False,
        "input_type": None,
        "ignore_mac": False,
        "decryption_order": "age",
    }
    assert exec_run.try_run(["--config=c.yaml", "exec-file", "--filename=x.json", "--", "f", "cat {}"]) == 0
    call = calls.pop()
    assert (call["file"], call["command"], call["filename"], call["config_flag"]) == (
        "f",
        ["cat {}"],
        "x.json",
        "c.yaml",
    )


def test_fast_path_flags_match_the_typer_commands() -> None:
    import typer

    from pysops.cli.app import app
    from pysops.cli.exec_run import EXEC_ENV_FLAGS, EXEC_FILE_FLAGS

    group = typer.main.get_command(app)
    for name, table in (("exec-env", EXEC_ENV_FLAGS), ("exec-file", EXEC_FILE_FLAGS)):
        command = group.commands[name]  # type: ignore[attr-defined]
        declared: dict[str, bool] = {}
        for param in command.params:
            if param.param_type_name != "option" or "--help" in param.opts:
                continue
            for opt in [*param.opts, *param.secondary_opts]:
                declared[opt] = not param.is_flag
        assert declared == table, name
