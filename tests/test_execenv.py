"""pysops.execenv: documents to environment variables, the child runner, the private file."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pysops import execenv
from pysops.document import Document
from pysops.errors import GenericError, PysopsError
from pysops.formats import get_store


def env_of(text: str, fmt: str = "yaml", *, flatten: bool = False) -> dict[str, str]:
    return execenv.environment_from_document(get_store(fmt).parse(text.encode()), flatten=flatten)


def test_top_level_scalars_as_sops_writes_them() -> None:
    text = (
        "# a comment\nstr: hello\nint: 5\nfloat: 1.5\nwhole: 2.0\nbig: 1e20\nyes: true\nno: false\n"
        "nothing: null\nwhen: 2024-01-02T03:04:05Z\nquoted: 'a b'\n"
    )
    assert env_of(text) == {
        "str": "hello",
        "int": "5",
        "float": "1.5",
        "whole": "2.0",
        "big": "1E+20",
        "yes": "true",
        "no": "false",
        "nothing": "",
        "when": "2024-01-02T03:04:05Z",
        "quoted": "a b",
    }
    assert list(env_of("z: 1\na: 2\nm: 3\n")) == ["z", "a", "m"]


def test_json_and_ini_and_binary() -> None:
    # JSON integers stay int64 (sops 3.13.2; sops 3.11 read them as float64 and printed "1.0")
    assert env_of('{"a": "x", "n": 1, "f": 0.5, "w": 2.0}', "json") == {"a": "x", "n": "1", "f": "0.5", "w": "2.0"}
    assert env_of("[s]\nk = v\n", "ini", flatten=True) == {"S_K": "v"}
    assert env_of("raw bytes\n", "binary") == {"data": "raw bytes\n"}


def test_dotenv_values_are_unquoted() -> None:
    text = 'A="quoted value"\nB=\'single $x\'\nC=plain # comment\nD="line\\nbreak"\n# skip\nE=\n'
    assert env_of(text, "dotenv") == {
        "A": "quoted value",
        "B": "single $x",
        "C": "plain",
        "D": "line\nbreak",
        "E": "",
    }


def test_nested_values_need_flatten() -> None:
    with pytest.raises(execenv.ComplexValueInEnvironment) as info:
        env_of("a: 1\ndb:\n  password: x\n")
    assert info.value.message == "cannot use complex value in environment; offending key db"
    assert info.value.exit_code == 1
    assert info.value.hint == "pass --flatten to turn nested keys into NAME_CHILD variables"
    with pytest.raises(execenv.ComplexValueInEnvironment, match="offending key hosts"):
        env_of("hosts: [a, b]\n")


def test_flatten_naming() -> None:
    text = (
        "top_level: kept\n"
        "database:\n  password: pw\n  port: 5432\n  replica:\n    host: r1\n"
        "hosts: [a, b]\n"
        "servers:\n  - name: s0\n    tags: [x]\n  - name: s1\n"
        "empty: {}\n"
    )
    assert env_of(text, flatten=True) == {
        "top_level": "kept",
        "DATABASE_PASSWORD": "pw",
        "DATABASE_PORT": "5432",
        "DATABASE_REPLICA_HOST": "r1",
        "HOSTS_0": "a",
        "HOSTS_1": "b",
        "SERVERS_0_NAME": "s0",
        "SERVERS_0_TAGS_0": "x",
        "SERVERS_1_NAME": "s1",
    }


def test_flatten_collision_is_an_error() -> None:
    with pytest.raises(execenv.InvalidEnvironmentName) as info:
        env_of("DB_HOST: a\ndb:\n  host: b\n", flatten=True)
    assert info.value.message == "--flatten gives two values the environment variable name DB_HOST"
    with pytest.raises(execenv.InvalidEnvironmentName):
        env_of("db:\n  host: b\nDB:\n  HOST: c\n", flatten=True)
    # without flattening, a repeated dotenv key behaves like the shell: the last one wins
    assert env_of("A=1\nA=2\n", "dotenv") == {"A": "2"}


def test_invalid_names_and_values() -> None:
    with pytest.raises(execenv.InvalidEnvironmentName) as info:
        env_of('{"a=b": "x"}', "json")
    assert info.value.message == "cannot use keys with '=' in environment: a=b"
    with pytest.raises(execenv.InvalidEnvironmentName, match="name"):
        env_of('{"": "x"}', "json")
    with pytest.raises(execenv.InvalidEnvironmentName, match="NUL"):
        env_of('{"a": "x\\u0000y"}', "json")
    with pytest.raises(execenv.InvalidEnvironmentName, match="'='"):
        env_of("d:\n  k=v: 1\n", flatten=True)


def test_multi_document_yaml_uses_the_first() -> None:
    assert env_of("a: 1\n---\nb: 2\n") == {"a": "1"}
    assert execenv.environment_from_document(Document("yaml", [])) == {}


_key = st.from_regex(r"[a-z][a-z0-9]{0,5}", fullmatch=True)
_tree = st.recursive(
    st.text(alphabet="abcxyz 019", max_size=6),
    lambda children: st.one_of(
        st.lists(children, min_size=1, max_size=3), st.dictionaries(_key, children, min_size=1, max_size=3)
    ),
    max_leaves=12,
)


def _reference(prefix: str, node: object) -> dict[str, str]:
    if isinstance(node, dict):
        out: dict[str, str] = {}
        for key, value in node.items():
            out.update(_reference(f"{prefix}_{key.upper()}", value))
        return out
    if isinstance(node, list):
        out = {}
        for index, value in enumerate(node):
            out.update(_reference(f"{prefix}_{index}", value))
        return out
    return {prefix: str(node)}


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(_key, _tree, min_size=1, max_size=4))
def test_flatten_matches_a_reference(tree: dict[str, object]) -> None:
    import json

    expected: dict[str, str] = {}
    collision = False
    for key, value in tree.items():
        part = {key: str(value)} if isinstance(value, str) else _reference(key.upper(), value)
        collision = collision or bool(set(part) & set(expected))
        expected.update(part)
    doc = get_store("json").parse(json.dumps(tree).encode())
    if collision:
        with pytest.raises(execenv.InvalidEnvironmentName):
            execenv.environment_from_document(doc, flatten=True)
    else:
        assert execenv.environment_from_document(doc, flatten=True) == expected


def test_build_environment() -> None:
    base = {"PATH": "/bin", "a": "old"}
    assert execenv.build_environment({"a": "new"}, pristine=False, base=base) == {"PATH": "/bin", "a": "new"}
    assert execenv.build_environment({"a": "new"}, pristine=True, base=base) == {"a": "new"}
    assert base == {"PATH": "/bin", "a": "old"}


def test_commands_and_placeholders() -> None:
    assert execenv.shell_command("echo $a") == ["/bin/sh", "-c", "echo $a"]
    assert execenv.substitute_path(["cat", "{}", "--x={}"], "/d/f", shell=False) == ["cat", "/d/f", "--x=/d/f"]
    assert execenv.substitute_path(["cat {}"], "/d/a b", shell=True) == ["cat '/d/a b'"]
    assert execenv.substitute_path(["cat {}"], "/d/plain", shell=True) == ["cat /d/plain"]


def test_exit_status() -> None:
    assert [execenv.exit_status(c) for c in (0, 7, 255, -9, -15)] == [0, 7, 255, 137, 143]


def test_resolve_program(tmp_path: Path) -> None:
    assert execenv.resolve_program("sh", "/usr/bin:/bin") in ("/usr/bin/sh", "/bin/sh")
    with pytest.raises(execenv.CommandNotFound) as found:
        execenv.resolve_program("no-such-program-x", "/usr/bin:/bin")
    assert (found.value.exit_code, found.value.message) == (127, "command not found: no-such-program-x")
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o600)
    with pytest.raises(execenv.CommandNotExecutable) as info:
        execenv.resolve_program(str(script), None)
    assert info.value.exit_code == 126


def test_resolve_user() -> None:
    import pwd

    me = pwd.getpwuid(os.geteuid()).pw_name
    user = execenv.resolve_user(me)
    assert (user.uid, user.switches) == (os.geteuid(), False)
    with pytest.raises(GenericError, match="unknown user no-such-user-x"):
        execenv.resolve_user("no-such-user-x")
    if os.geteuid() == 0:
        nobody = execenv.resolve_user("nobody")
        assert nobody.switches and nobody.uid == pwd.getpwnam("nobody").pw_uid
    else:
        with pytest.raises(GenericError, match="needs root"):
            execenv.resolve_user("root")


@pytest.mark.parametrize("name", ["", ".", "..", "../x", "a/b", "/etc/passwd", "x\0y"])
def test_check_filename_rejects_escapes(name: str) -> None:
    with pytest.raises(GenericError, match="invalid --filename"):
        execenv.check_filename(name)


@pytest.mark.parametrize("name", ["tmp-file", "x.json", "..hidden", "a b.yaml"])
def test_check_filename_accepts_plain_names(name: str) -> None:
    assert execenv.check_filename(name) == name


def test_private_directory_is_private_and_removed() -> None:
    with execenv.private_directory() as path:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
        if os.path.isdir("/dev/shm"):
            assert path.startswith("/dev/shm/.pysops-")
        Path(path, "f").write_text("x")
    assert not os.path.exists(path)
    with pytest.raises(RuntimeError), execenv.private_directory() as path:
        raise RuntimeError
    assert not os.path.exists(path)


def test_run_child_status_and_environment(tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = {"SECRET": "s3"}
    cmd = f'printf %s "$SECRET" > {out}; exit 4'
    assert execenv.run_child(execenv.shell_command(cmd), env) == 4
    assert out.read_text() == "s3"
    assert execenv.run_child(["/bin/sh", "-c", "kill -KILL $$"], {}) == 128 + signal.SIGKILL
    assert execenv.run_child(["/bin/sh", "-c", "kill -TERM $$"], {}) == 128 + signal.SIGTERM
    # the handlers of the caller are back afterwards
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_run_with_file_fifo_and_regular(tmp_path: Path) -> None:
    data = b"a: 1\n" * 30000  # more than a pipe buffer
    out = tmp_path / "out"
    status = execenv.run_with_file(f"test -p {{}} && cat {{}} > {out} && dirname {{}} >> {out}.dir", data)
    assert status == 0 and out.read_bytes() == data
    directory = Path(tmp_path / "out.dir").read_text().strip()
    assert not os.path.exists(directory)
    argv = ["/bin/sh", "-c", f'test -f "$0" && cat "$0" > {out}; exit 9', "{}"]
    status = execenv.run_with_file(argv, b"x", fifo=False)
    assert status == 9 and out.read_bytes() == b"x"


def test_fifo_never_opened_does_not_hang(tmp_path: Path) -> None:
    start = time.monotonic()
    assert execenv.run_with_file("exit 0", b"secret" * 100000) == 0
    assert time.monotonic() - start < 5


def test_fifo_writer_stops_when_reader_leaves_early(tmp_path: Path) -> None:
    # the reader takes one line and closes: the writer gets EPIPE and must not hang
    out = tmp_path / "out"
    assert execenv.run_with_file(f"head -c 3 {{}} > {out}", b"abcdef" * 100000) == 0
    assert out.read_bytes() == b"abc"


def test_interrupted_before_the_child_starts() -> None:
    with execenv.SignalForwarder(), pytest.raises(execenv.Interrupted) as info:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(1)
    assert (info.value.exit_code, info.value.message) == (143, "interrupted by SIGTERM")
    assert isinstance(info.value, PysopsError)


def test_forwarder_forwards_to_the_child(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    script = f'trap "echo TERM > {marker}; exit 3" TERM; echo up > {marker}; while :; do sleep 0.02; done'
    child = subprocess.Popen(["/bin/sh", "-c", script])
    try:
        with execenv.SignalForwarder() as forwarder:
            forwarder.starting()
            forwarder.started(child)
            deadline = time.monotonic() + 5
            while not marker.exists() and time.monotonic() < deadline:
                time.sleep(0.01)
            os.kill(os.getpid(), signal.SIGTERM)
            assert child.wait(5) == 3
    finally:
        if child.poll() is None:
            child.kill()
    assert marker.read_text() == "TERM\n"
