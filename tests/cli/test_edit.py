"""``pysops edit``: the CLI called in-process with EDITOR scripts, compared with sops 3.11."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import AgeKey, new_age_key, run_sops
from tests.helpers import age_decrypt, age_encrypt_file, age_options

from pysops import edit
from pysops.errors import FileBusy, FileHasNotBeenModified, ParseError

SAMPLES = {
    "yaml": ("s.yaml", b"# top\na: one\nb: two  # inline\nl: [x, y, x]\nn:\n  deep: 3\n"),
    "json": ("s.json", b'{\n  "a": "one",\n  "b": "two",\n  "l": ["x", "y", "x"]\n}\n'),
    "dotenv": ("s.env", b"# top\nA=one\nB=two\nC=x\n"),
    "ini": ("s.ini", b"; top\n[s]\na = one\nb = two\n"),
}


def editor(tmp_path: Path, body: str, name: str = "ed") -> str:
    """An EDITOR script: appends the path it was given to ``<name>.log``, then runs ``body``."""
    script = tmp_path / f"{name}.sh"
    script.write_text(f'#!/bin/sh\nF="$1"\necho "$F" >> "{tmp_path}/{name}.log"\n{body}\n')
    script.chmod(0o755)
    return str(script)


def seen_paths(tmp_path: Path, name: str = "ed") -> list[str]:
    log = tmp_path / f"{name}.log"
    return log.read_text().splitlines() if log.exists() else []


def changed_lines(before: bytes, after: bytes) -> list[str]:
    a, b = before.decode().splitlines(), after.decode().splitlines()
    assert len(a) == len(b), (before.decode(), after.decode())
    return [y for x, y in zip(a, b, strict=True) if x != y]


# --------------------------------------------------------------------------------------------
# Existing files


@pytest.mark.parametrize("fmt", list(SAMPLES))
def test_one_changed_value_changes_one_line(
    fmt: str, tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    name, plain = SAMPLES[fmt]
    f = tmp_path / name
    before = age_encrypt_file(f, plain, age_key, fmt)
    f.chmod(0o640)
    ed = editor(tmp_path, 'grep -q "two" "$F" || exit 9\nsed -i "s/two/TWO/" "$F"')
    r = pysops(["edit", str(f)], {**env, "EDITOR": ed})
    assert (r.code, r.stdout, r.stderr) == (0, b"", "")
    after = f.read_bytes()
    changed = changed_lines(before, after)
    # the value's line, the mac, and lastmodified unless the clock is still in the same second
    assert len(changed) in (2, 3) and re.match(r"(b|B) *= *ENC\[|\s*\"?b\"?: \"?ENC\[", changed[0]), changed
    assert re.search(r"mac", changed[-1]) and all(re.search(r"lastmodified|mac", c) for c in changed[1:]), changed
    assert age_decrypt(after, fmt, age_key) == plain.replace(b"two", b"TWO")
    assert stat.S_IMODE(f.stat().st_mode) == 0o640
    # the temporary plaintext: private, named like the file, gone afterwards
    (temp,) = seen_paths(tmp_path)
    assert Path(temp).name == name and not Path(temp).parent.exists()
    # sops reads the result
    s = run_sops(["decrypt", str(f)], env)
    assert s.code == 0 and b"TWO" in s.stdout


def test_temp_file_is_private_and_shows_the_plaintext(
    tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    f = tmp_path / "s.yaml"
    age_encrypt_file(f, SAMPLES["yaml"][1], age_key, "yaml")
    ed = editor(tmp_path, f'stat -c "%a" "$(dirname "$F")" "$F" > {tmp_path}/modes\ncat "$F" > {tmp_path}/shown')
    r = pysops(["edit", str(f)], {**env, "EDITOR": ed})
    assert (r.code, r.stderr) == (200, "pysops: error: File has not changed, exiting.\n")
    assert (tmp_path / "modes").read_text() == "700\n600\n"
    assert (tmp_path / "shown").read_bytes() == SAMPLES["yaml"][1]
    temp = Path(seen_paths(tmp_path)[0])
    expected_base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    if expected_base:
        assert str(temp).startswith(expected_base + "/pysops-edit.")
    assert not temp.parent.exists()


def test_unchanged_file_is_not_written(tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    f = tmp_path / "s.json"
    before = age_encrypt_file(f, SAMPLES["json"][1], age_key, "json")
    mtime = f.stat().st_mtime_ns
    r = pysops(["edit", str(f)], {**env, "EDITOR": editor(tmp_path, "true")})
    assert (r.code, r.stdout, r.stderr) == (200, b"", "pysops: error: File has not changed, exiting.\n")
    assert f.read_bytes() == before and f.stat().st_mtime_ns == mtime
    assert run_sops(["edit", str(f)], {**env, "EDITOR": editor(tmp_path, "true", "sops")}).code == 200


def test_editor_failure_exit_201(tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    f = tmp_path / "s.yaml"
    before = age_encrypt_file(f, SAMPLES["yaml"][1], age_key, "yaml")
    ed = editor(tmp_path, 'echo "junk" >> "$F"\nexit 3')
    r = pysops(["edit", str(f)], {**env, "EDITOR": ed})
    assert (r.code, r.stderr) == (201, "pysops: error: Could not run editor: exit status 3\n")
    assert f.read_bytes() == before
    assert not Path(seen_paths(tmp_path)[0]).parent.exists()
    assert run_sops(["edit", str(f)], {**env, "EDITOR": editor(tmp_path, "exit 3", "sops")}).code == 201


def test_missing_editor_exit_201(tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    f = tmp_path / "s.yaml"
    age_encrypt_file(f, SAMPLES["yaml"][1], age_key, "yaml")
    r = pysops(["edit", str(f)], {**env, "EDITOR": str(tmp_path / "nope")})
    assert (r.code, r.stderr) == (
        201,
        f"pysops: error: Could not run editor: {tmp_path}/nope: No such file or directory\n",
    )
    bare = {k: v for k, v in env.items() if k not in ("EDITOR", "SOPS_EDITOR")}
    r = pysops(["edit", str(f)], {**bare, "PATH": str(tmp_path / "empty")})
    assert r.code == 201 and r.stderr.startswith("pysops: error: Could not run editor: no editor available")


def test_sops_editor_wins_and_is_shell_split(tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    f = tmp_path / "s.yaml"
    age_encrypt_file(f, SAMPLES["yaml"][1], age_key, "yaml")
    script = tmp_path / "code"
    script.write_text(f'#!/bin/sh\nprintf "%s|" "$@" > {tmp_path}/argv\nsed -i "s/one/ONE/" "$3"\n')
    script.chmod(0o755)
    e = {**env, "SOPS_EDITOR": f"{script} --wait 'a b'", "EDITOR": "false"}
    r = pysops(["edit", str(f)], e)
    assert r.code == 0, r.stderr
    args = (tmp_path / "argv").read_text().split("|")
    assert args[:2] == ["--wait", "a b"] and args[2].endswith("/s.yaml")
    assert b"a: ONE\n" in age_decrypt(f.read_bytes(), "yaml", age_key)


def test_invalid_edit_without_terminal_fails_and_keeps_the_file(
    tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    f = tmp_path / "s.yaml"
    before = age_encrypt_file(f, SAMPLES["yaml"][1], age_key, "yaml")
    r = pysops(["edit", str(f)], {**env, "EDITOR": editor(tmp_path, "printf 'a: [\\n' > \"$F\"")})
    assert r.code == 2
    assert r.stderr.startswith("pysops: error: the edited file is invalid: ")
    assert r.stderr.endswith(
        f"; {f} was not changed\npysops: hint: run the edit again; with a terminal the editor reopens to fix it\n"
    )
    assert f.read_bytes() == before
    assert len(seen_paths(tmp_path)) == 1 and not Path(seen_paths(tmp_path)[0]).parent.exists()


def test_invalid_edit_with_prompt_reopens_the_editor(tmp_path: Path, env: dict[str, str], age_key: AgeKey) -> None:
    """The terminal loop, through the library's prompt callback: first a syntax error, then a fix."""
    f = tmp_path / "s.yaml"
    age_encrypt_file(f, SAMPLES["yaml"][1], age_key, "yaml")
    ed = editor(
        tmp_path,
        f'if [ -f {tmp_path}/once ]; then sed -i "s/^a: \\[$/a: fixed/" "$F"; '
        f"else touch {tmp_path}/once; sed -i 's/^a: one$/a: [/' \"$F\"; fi",
    )
    messages: list[str] = []

    def prompt(message: str) -> bool:
        messages.append(message)
        return True

    edit.edit_file(f, input_format="yaml", env={**env, "EDITOR": ed}, prompt=prompt)
    assert len(messages) == 1 and messages[0].startswith("Error unmarshaling input YAML")
    assert len(seen_paths(tmp_path)) == 2
    assert age_decrypt(f.read_bytes(), "yaml", age_key).startswith(b"# top\na: fixed\n")


def test_sops_key_in_the_edited_plaintext_is_refused(
    tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    f = tmp_path / "s.yaml"
    before = age_encrypt_file(f, SAMPLES["yaml"][1], age_key, "yaml")
    r = pysops(["edit", str(f)], {**env, "EDITOR": editor(tmp_path, 'echo "sops: 1" >> "$F"')})
    assert r.code == 1 and "top-level 'sops' entry" in r.stderr
    assert f.read_bytes() == before


def test_output_type_edits_in_another_format(tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    f = tmp_path / "s.yaml"
    age_encrypt_file(f, b"a: one\nb: two\n", age_key, "yaml")
    ed = editor(tmp_path, f'cp "$F" {tmp_path}/shown\nsed -i "s/two/TWO/" "$F"')
    r = pysops(["edit", "--output-type", "json", str(f)], {**env, "EDITOR": ed})
    assert r.code == 0, r.stderr
    assert (tmp_path / "shown").read_bytes() == b'{\n\t"a": "one",\n\t"b": "two"\n}\n'
    assert age_decrypt(f.read_bytes(), "json", age_key) == b'{\n\t"a": "one",\n\t"b": "TWO"\n}\n'


def test_ignore_mac_and_decryption_errors(tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    f = tmp_path / "s.yaml"
    data = age_encrypt_file(f, b"a: one\n", age_key, "yaml")
    tampered = re.sub(
        rb"mac: ENC\[AES256_GCM,data:(.)",
        lambda m: b"mac: ENC[AES256_GCM,data:" + (b"A" if m.group(1) != b"A" else b"B"),
        data,
    )
    f.write_bytes(tampered)
    ed = editor(tmp_path, 'sed -i "s/one/ONE/" "$F"')
    r = pysops(["edit", str(f)], {**env, "EDITOR": ed})
    assert r.code == 51 and f.read_bytes() == tampered and seen_paths(tmp_path) == []
    r = pysops(["edit", "--ignore-mac", str(f)], {**env, "EDITOR": ed})
    assert r.code == 0, r.stderr
    assert age_decrypt(f.read_bytes(), "yaml", age_key) == b"a: ONE\n"
    other = new_age_key()
    r = pysops(["edit", str(f)], {**env, "SOPS_AGE_KEY": other.identity, "EDITOR": ed})
    assert r.code == 128


def test_errors_before_the_editor(tmp_path: Path, env: dict[str, str], pysops: Any) -> None:
    ed = editor(tmp_path, "true")
    e = {**env, "EDITOR": ed}
    assert pysops(["edit"], e).code == 100
    r = pysops(["edit", str(tmp_path)], e)
    assert (r.code, r.stderr) == (2, f"pysops: error: cannot read {tmp_path}: it is a directory\n")
    plain = tmp_path / "p.yaml"
    plain.write_text("a: 1\n")
    r = pysops(["edit", str(plain)], e)
    assert (r.code, r.stderr.splitlines()[0]) == (1, "pysops: error: sops metadata not found")
    (tmp_path / "empty.yaml").write_text("")
    assert pysops(["edit", str(tmp_path / "empty.yaml")], e).code == 1
    assert seen_paths(tmp_path) == []


def test_version_is_raised_and_a_bad_version_is_exit_202(
    tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    f = tmp_path / "s.yaml"
    data = age_encrypt_file(f, b"a: one\n", age_key, "yaml")
    ed = editor(tmp_path, 'sed -i "s/one/ONE/" "$F"')
    f.write_bytes(data.replace(b"version: 3.11.0", b"version: 3.7.3"))
    assert pysops(["edit", str(f)], {**env, "EDITOR": ed}).code == 0
    assert b"    version: 3.11.0\n" in f.read_bytes()
    f.write_bytes(data.replace(b"version: 3.11.0", b"version: banana"))
    r = pysops(["edit", str(f)], {**env, "EDITOR": ed})
    assert r.code == 202 and "banana" in r.stderr


# --------------------------------------------------------------------------------------------
# --show-master-keys


def test_show_master_keys_adds_a_recipient(tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    f = tmp_path / "s.yaml"
    age_encrypt_file(f, b"a: one\n", age_key, "yaml")
    other = new_age_key()
    ed = editor(
        tmp_path,
        f'cp "$F" {tmp_path}/shown\nsed -i "s/^    age:$/    age:\\n        - recipient: {other.recipient}/" "$F"',
    )
    r = pysops(["edit", "-s", str(f)], {**env, "EDITOR": ed})
    assert r.code == 0, r.stderr
    shown = (tmp_path / "shown").read_text()
    assert shown.startswith("a: one\nsops:\n    age:\n        - recipient: " + age_key.recipient)
    assert "    mac: ENC[AES256_GCM," in shown
    assert age_decrypt(f.read_bytes(), "yaml", other) == b"a: one\n"
    s = run_sops(["decrypt", str(f)], {**env, "SOPS_AGE_KEY": other.identity})
    assert (s.code, s.stdout) == (0, b"a: one\n")


def test_show_master_keys_without_metadata_is_refused(
    tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    f = tmp_path / "s.yaml"
    before = age_encrypt_file(f, b"a: one\n", age_key, "yaml")
    r = pysops(["edit", "-s", str(f)], {**env, "EDITOR": editor(tmp_path, "printf 'a: two\\n' > \"$F\"")})
    assert r.code == 1 and "metadata block was removed" in r.stderr
    assert f.read_bytes() == before


# --------------------------------------------------------------------------------------------
# New files


@pytest.mark.parametrize("name", ["n.yaml", "n.json", "n.env", "n.ini", "n.bin"])
def test_new_file_template_is_sops_s(
    name: str, tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    ours = editor(tmp_path, f'cp "$F" {tmp_path}/ours', "ours")
    theirs = editor(tmp_path, f'cp "$F" {tmp_path}/theirs', "theirs")
    r = pysops(["edit", "--age", age_key.recipient, str(tmp_path / name)], {**env, "EDITOR": ours})
    assert r.code == 200
    assert run_sops(["edit", "--age", age_key.recipient, str(tmp_path / name)], {**env, "EDITOR": theirs}).code == 200
    assert (tmp_path / "ours").read_bytes() == (tmp_path / "theirs").read_bytes()
    assert not (tmp_path / name).exists()


def test_new_file_from_creation_rule(tmp_path: Path, env: dict[str, str], age_keys: list[AgeKey], pysops: Any) -> None:
    work = tmp_path / "work"
    (work / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: \\.yaml$\n    encrypted_regex: ^secret\n    age: {age_keys[1].recipient}\n"
    )
    ed = editor(tmp_path, "printf 'secret: s\\nplain: p\\n' > \"$F\"")
    r = pysops(["edit", "new.yaml"], {**env, "SOPS_AGE_KEY": age_keys[1].identity, "EDITOR": ed})
    assert r.code == 0, r.stderr
    data = (work / "new.yaml").read_bytes()
    assert b"plain: p\n" in data and b"secret: ENC[" in data and b"encrypted_regex: ^secret" in data
    assert stat.S_IMODE((work / "new.yaml").stat().st_mode) == 0o666 & ~_umask()
    s = run_sops(["decrypt", "new.yaml"], {**env, "SOPS_AGE_KEY": age_keys[1].identity}, cwd=work)
    assert (s.code, s.stdout) == (0, b"secret: s\nplain: p\n")


def test_new_file_without_recipients_fails_before_the_editor(tmp_path: Path, env: dict[str, str], pysops: Any) -> None:
    r = pysops(["edit", str(tmp_path / "n.yaml")], {**env, "EDITOR": editor(tmp_path, "true")})
    assert r.code == 1 and r.stderr.startswith("pysops: error: ")
    assert seen_paths(tmp_path) == [] and not (tmp_path / "n.yaml").exists()


def test_new_file_with_show_master_keys(tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    f = tmp_path / "n.yaml"
    ed = editor(tmp_path, f'cp "$F" {tmp_path}/shown\nsed -i "s/example_value$/changed/" "$F"')
    r = pysops(["edit", "-s", "--age", age_key.recipient, str(f)], {**env, "EDITOR": ed})
    assert r.code == 0, r.stderr
    assert "\nsops:\n    age:\n        - recipient: " + age_key.recipient in (tmp_path / "shown").read_text()
    assert b"example_key: changed\n" in age_decrypt(f.read_bytes(), "yaml", age_key)


# --------------------------------------------------------------------------------------------
# Conflicts: the file changed meanwhile, another edit holds the lock


def test_file_changed_while_editing_exit_3(tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    f = tmp_path / "s.yaml"
    age_encrypt_file(f, b"a: one\n", age_key, "yaml")
    other = age_encrypt_file(tmp_path / "other.yaml", b"a: other\n", age_key, "yaml")
    ed = editor(tmp_path, f'sed -i "s/one/ONE/" "$F"\ncp {tmp_path}/other.yaml {f}')
    r = pysops(["edit", str(f)], {**env, "EDITOR": ed})
    assert (r.code, r.stderr) == (
        3,
        f"pysops: error: {f} changed on disk while the editor was open; your edit was discarded so that "
        "the other change is not lost\npysops: hint: run the edit again on the current file\n",
    )
    assert f.read_bytes() == other
    assert not Path(seen_paths(tmp_path)[0]).parent.exists()
    assert not edit.lock_path(f).exists()


def test_new_file_created_meanwhile_exit_3(tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    f = tmp_path / "n.yaml"
    ed = editor(tmp_path, f'echo "x: 1" > "$F"\necho "made: elsewhere" > {f}')
    r = pysops(["edit", "--age", age_key.recipient, str(f)], {**env, "EDITOR": ed})
    assert r.code == 3 and f.read_text() == "made: elsewhere\n"


def test_locked_file_fails_at_once(tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    f = tmp_path / "s.yaml"
    before = age_encrypt_file(f, b"a: one\n", age_key, "yaml")
    with edit.file_lock(f):
        assert edit.lock_path(f).read_text() == f"{os.getpid()}\n"
        r = pysops(["edit", str(f)], {**env, "EDITOR": editor(tmp_path, 'sed -i "s/one/ONE/" "$F"')})
        assert (r.code, r.stderr) == (
            3,
            f"pysops: error: {f} is being modified by another pysops process (pid {os.getpid()}); nothing was "
            "changed\npysops: hint: wait for the other edit to finish and try again\n",
        )
        with pytest.raises(FileBusy), edit.file_lock(f, wait=0.1):
            pass
    assert seen_paths(tmp_path) == [] and f.read_bytes() == before
    assert not edit.lock_path(f).exists()
    with edit.file_lock(f):  # released: free again
        pass


# --------------------------------------------------------------------------------------------
# Library pieces


def test_editor_command() -> None:
    assert edit.editor_command({"SOPS_EDITOR": "code --wait", "EDITOR": "vim"}) == ["code", "--wait"]
    assert edit.editor_command({"SOPS_EDITOR": " ", "EDITOR": "nano -w"}) == ["nano", "-w"]


def test_library_edit_result_and_errors(tmp_path: Path, age_key: AgeKey) -> None:
    f = tmp_path / "s.yaml"
    age_encrypt_file(f, b"a: one\n", age_key, "yaml")
    options = age_options(age_key)

    def change(argv: list[str], path: Path) -> None:
        path.write_bytes(path.read_bytes().replace(b"one", b"two"))

    written = edit.edit_file(
        f, input_format="yaml", options=options, editor=change, env={"EDITOR": "x"}, tmp_base=str(tmp_path)
    )
    assert written == f.read_bytes() and age_decrypt(written, "yaml", age_key) == b"a: two\n"
    with pytest.raises(FileHasNotBeenModified):
        edit.edit_file(f, input_format="yaml", options=options, editor=lambda a, p: None, env={"EDITOR": "x"})

    def broken(argv: list[str], path: Path) -> None:
        path.write_bytes(b"a: [\n")

    with pytest.raises(ParseError) as info:
        edit.edit_file(f, input_format="yaml", options=options, editor=broken, env={"EDITOR": "x"})
    assert info.value.exit_code == 2
    assert [p.name for p in tmp_path.iterdir()] == ["s.yaml"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# --------------------------------------------------------------------------------------------
# A real terminal: the error is shown and Enter reopens the editor


def test_terminal_loop_reopens_the_editor(tmp_path: Path, env: dict[str, str], age_key: AgeKey) -> None:
    import subprocess
    import sys
    import time

    f = tmp_path / "s.yaml"
    age_encrypt_file(f, b"a: one\n", age_key, "yaml")
    ed = editor(
        tmp_path,
        f'if [ -f {tmp_path}/once ]; then printf "a: fixed\\n" > "$F"; '
        f'else touch {tmp_path}/once; printf "a: [\\n" > "$F"; fi',
    )
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pysops", "edit", str(f)],
            env={**env, "EDITOR": ed}, stdin=slave, stdout=slave, stderr=subprocess.PIPE,
        )  # fmt: skip
        assert proc.stderr is not None
        first = proc.stderr.readline().decode()
        second = proc.stderr.readline().decode()
        assert first.startswith("pysops: error: Error unmarshaling input YAML")
        while not second.startswith("Press Enter"):  # the YAML error spans several lines
            second = proc.stderr.readline().decode()
            assert second, "no prompt"
        assert second == "Press Enter to return to the editor, or Ctrl+C to exit.\n"
        time.sleep(0.05)
        os.write(master, b"\n")
        assert proc.wait(timeout=15) == 0
    finally:
        os.close(master)
        os.close(slave)
    assert len(seen_paths(tmp_path)) == 2
    assert age_decrypt(f.read_bytes(), "yaml", age_key) == b"a: fixed\n"


@pytest.mark.parametrize("name", ["s.yaml", "s.json", "s.env"])
def test_edit_of_a_sops_file_changes_one_line(
    name: str, tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    fmt = {"yaml": "yaml", "json": "json", "env": "dotenv"}[name.rsplit(".", 1)[1]]
    plain = tmp_path / f"plain.{name.rsplit('.', 1)[1]}"
    plain.write_bytes(SAMPLES[fmt][1])
    s = run_sops(["encrypt", "--age", age_key.recipient, str(plain)], env)
    assert s.code == 0, s.stderr
    f = tmp_path / name
    f.write_bytes(s.stdout)
    r = pysops(["edit", str(f)], {**env, "EDITOR": editor(tmp_path, 'sed -i "s/two/TWO/" "$F"')})
    assert r.code == 0, r.stderr
    changed = changed_lines(s.stdout, f.read_bytes())
    assert len(changed) in (2, 3) and "ENC[" in changed[0] and "mac" in changed[-1], changed
    d = run_sops(["decrypt", str(f)], env)
    assert d.code == 0 and b"TWO" in d.stdout and b"two" not in d.stdout
