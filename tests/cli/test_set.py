"""``pysops set`` / ``unset``: sops's flags and exit codes, minimal diffs, safe writes, interop."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import AgeKey, new_age_key, run_sops

PLAIN_YAML = "# top\na: one\nb:\n  c: 2\nl:\n  - x\n  - y\n"


def _encrypt(tmp_path: Path, name: str, text: str, env: dict[str, str], age_key: AgeKey, pysops: Any) -> Path:
    f = tmp_path / name
    f.write_text(text)
    r = pysops(["encrypt", "-i", "--age", age_key.recipient, str(f)], env)
    assert r.code == 0, r.stderr
    return f


def _changed(before: str, after: str) -> list[str]:
    """New lines, lastmodified left out (it only changes when the second did)."""
    a, b = before.splitlines(), after.splitlines()
    return [ln for ln in b if ln not in a and "lastmodified" not in ln]


@pytest.mark.parametrize(
    ("name", "text", "index", "value", "expect"),
    [
        ("s.yaml", PLAIN_YAML, '["b"]["c"]', '"TWO"', "b:\n    c: TWO\n"),
        ("s.json", '{\n  "a": "one",\n  "b": "two"\n}\n', '["b"]', '"TWO"', '"b": "TWO"'),
        ("s.env", "A=one\nB=two\n", '["B"]', '"TWO"', "B=TWO\n"),
        ("s.ini", "[s]\na = one\nb = two\n", '["s"]["b"]', '"TWO"', "b = TWO\n"),
    ],
)
def test_set_changes_one_value_line(
    tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any,
    name: str, text: str, index: str, value: str, expect: str,
) -> None:  # fmt: skip
    f = _encrypt(tmp_path, name, text, env, age_key, pysops)
    before = f.read_text()
    r = pysops(["set", str(f), index, value], env)
    assert (r.code, r.stdout, r.stderr) == (0, b"", "")
    changed = _changed(before, f.read_text())
    assert len(changed) == 2, changed  # the value and the mac
    assert sum(1 for ln in changed if "mac" in ln) == 1
    assert expect in run_sops(["decrypt", str(f)], env).stdout.decode()


def test_set_new_nested_key_in_yaml_adds_only_its_lines(
    tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    f = _encrypt(tmp_path, "s.yaml", PLAIN_YAML, env, age_key, pysops)
    before = f.read_text()
    r = pysops(["set", str(f), '["new"]["deep"][3]', '{"k": [1, "s", true, null]}'], env)
    assert r.code == 0, r.stderr
    after = f.read_text()
    gone = [ln for ln in before.splitlines() if ln not in after.splitlines() and "lastmodified" not in ln]
    assert len(gone) == 1 and "mac:" in gone[0]
    out = run_sops(["decrypt", str(f)], env).stdout.decode()
    tail = "new:\n    deep:\n        - k:\n            - 1\n            - s\n            - true\n            - null\n"
    assert out.endswith(tail)


def test_set_gives_the_same_data_as_sops_set(tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    plain = tmp_path / "p.yaml"
    plain.write_text(PLAIN_YAML)
    enc = run_sops(["encrypt", "--age", age_key.recipient, str(plain)], env).stdout
    cases = [
        ('["new"]["deep"][3]', '{"k": [1, "s", true, null, 2.5]}'),
        ('["l"][5]', '"z"'),
        ('["b"]', '"flat"'),
        ('["a"]["x"]', "1"),
        ('["l"][0]["q"]', "1"),
    ]
    for index, value in cases:
        ours, theirs = tmp_path / "ours.yaml", tmp_path / "theirs.yaml"
        ours.write_bytes(enc)
        theirs.write_bytes(enc)
        assert pysops(["set", str(ours), index, value], env).code == 0
        assert run_sops(["set", str(theirs), index, value], env).code == 0
        a = run_sops(["decrypt", "--output-type", "json", str(ours)], env)
        b = run_sops(["decrypt", "--output-type", "json", str(theirs)], env)
        assert (a.code, a.stdout) == (0, b.stdout), index


def test_unset_and_idempotent(tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    f = _encrypt(tmp_path, "s.yaml", PLAIN_YAML, env, age_key, pysops)
    assert pysops(["unset", str(f), '["l"][0]'], env).code == 0
    assert run_sops(["decrypt", str(f)], env).stdout.decode() == '# top\na: one\nb:\n    c: 2\nl:\n    - "y"\n'
    before = f.read_bytes()
    r = pysops(["unset", str(f), '["zz"]'], env)
    assert (r.code, r.stderr) == (1, "pysops: error: Key not found: zz\n")
    r = pysops(["unset", str(f), '["l"][7]'], env)
    assert (r.code, r.stderr) == (1, "pysops: error: Index 7 out of bounds\n")
    assert pysops(["unset", "--idempotent", str(f), '["zz"]'], env).code == 0
    assert f.read_bytes() == before


def test_set_idempotent_does_not_write(tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    f = _encrypt(tmp_path, "s.yaml", PLAIN_YAML, env, age_key, pysops)
    before = f.read_bytes()
    assert pysops(["set", "--idempotent", str(f), '["a"]', '"one"'], env).code == 0
    assert f.read_bytes() == before
    # a JSON number is a float: the int 2 differs, so this writes (as sops does)
    assert pysops(["set", "--idempotent", str(f), '["b"]["c"]', "2"], env).code == 0
    assert f.read_bytes() != before
    assert "type:float" in f.read_text()


def test_value_file_and_stdin(tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    f = _encrypt(tmp_path, "s.yaml", PLAIN_YAML, env, age_key, pysops)
    value = tmp_path / "v.json"
    value.write_text('{"v": "from file"}\n')
    assert pysops(["set", "--value-file", str(f), '["a"]', str(value)], env).code == 0
    assert pysops(["set", "--value-stdin", str(f), '["b"]'], env, stdin=b'"from stdin"').code == 0
    out = run_sops(["decrypt", str(f)], env).stdout.decode()
    assert "a:\n    v: from file\nb: from stdin\n" in out


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["set", "{f}", "bad", "1"], 7, "Invalid set index format"),
        (["set", "{f}", '["a"]', "notjson"], 7, "Value for --set is not valid JSON"),
        (
            ["set", "{f}", '["a"]'],
            100,
            "no file specified, or index and value are missing. Need precisely 3 positional arguments.",
        ),
        (
            ["set", "--value-stdin", "{f}", '["a"]', '"x"'],
            100,
            "file specified, or index and value are missing. "
            "Need precisely 2 positional arguments since --value-stdin is used.",
        ),
        (
            ["set", "--value-file", "--value-stdin", "{f}", '["a"]', "x"],
            1,
            "cannot use both --value-file and --value-stdin",
        ),
        (["unset", "{f}", "x"], 7, "Invalid unset index format"),
        (["set", "{f}", "[0]", "1"], 7, "cannot use the list index [0] on the mapping at the top level"),
    ],
)
def test_errors_leave_the_file_alone(
    tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any, args: list[str], code: int, message: str
) -> None:
    f = _encrypt(tmp_path, "s.yaml", PLAIN_YAML, env, age_key, pysops)
    before = f.read_bytes()
    r = pysops([a.replace("{f}", str(f)) for a in args], env)
    assert r.code == code
    assert r.stderr.splitlines()[0] == f"pysops: error: {message}"
    assert f.read_bytes() == before


def test_missing_file_plain_file_and_missing_identity(
    tmp_path: Path, env: dict[str, str], clean_env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    missing = tmp_path / "nope.yaml"
    r = pysops(["set", str(missing), '["a"]', "1"], env)
    assert (r.code, r.stderr) == (2, f"pysops: error: Error reading file: open {missing}: no such file or directory\n")
    plain = tmp_path / "plain.yaml"
    plain.write_text(PLAIN_YAML)
    r = pysops(["set", str(plain), '["a"]', "1"], env)
    assert r.code == 1 and r.stderr.startswith("pysops: error: sops metadata not found\n")
    f = _encrypt(tmp_path, "s.yaml", PLAIN_YAML, env, age_key, pysops)
    before = f.read_bytes()
    other = new_age_key()
    r = pysops(["set", str(f), '["a"]', '"x"'], {**clean_env, "SOPS_AGE_KEY": other.identity})
    assert r.code == 128 and f.read_bytes() == before


def test_dotenv_nested_value_is_exit_4_and_file_untouched(
    tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    f = _encrypt(tmp_path, "s.env", "A=1\n", env, age_key, pysops)
    before = f.read_bytes()
    assert pysops(["set", str(f), '["C"]', '{"x": 1}'], env).code == 4
    assert f.read_bytes() == before
    assert pysops(["set", str(f), '["C"]', "3"], env).code == 0
    assert run_sops(["decrypt", str(f)], env).stdout == b"A=1\nC=3.0\n"  # like sops: a JSON number is a float


def test_write_refused_when_the_file_changed_meanwhile(
    tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two concurrent writers: the second one fails instead of losing the first one's change."""
    from pysops.cli import mutate

    f = _encrypt(tmp_path, "s.yaml", PLAIN_YAML, env, age_key, pysops)
    first = tmp_path / "first.yaml"
    shutil.copy(f, first)
    assert pysops(["set", str(first), '["a"]', '"first"'], env).code == 0
    real_open = mutate.open_encrypted

    def open_then_race(*args: Any, **kwargs: Any) -> Any:
        opened = real_open(*args, **kwargs)
        shutil.copy(first, f)  # another writer finishes while we work
        return opened

    monkeypatch.setattr(mutate, "open_encrypted", open_then_race)
    r = pysops(["set", str(f), '["a"]', '"second"'], env)
    assert r.code == 3 and "changed on disk" in r.stderr
    assert f.read_bytes() == first.read_bytes()


def test_set_waits_for_then_refuses_a_file_locked_by_edit(
    tmp_path: Path, clean_env: dict[str, str], age_key: Any, pysops: Any
) -> None:
    """An `edit` in progress holds the file's lock: a concurrent `set` fails cleanly (exit 3)
    and the file keeps its bytes."""
    import time

    from pysops.edit import file_lock

    plain = tmp_path / "s.yaml"
    plain.write_text("a: 1\n")
    env = {**clean_env, "SOPS_AGE_KEY": age_key.identity}
    assert pysops(["encrypt", "-i", "--age", age_key.recipient, str(plain)], env).code == 0
    before = plain.read_bytes()
    start = time.monotonic()
    with file_lock(plain):
        r = pysops(["set", str(plain), '["a"]', "2"], env)
    assert r.code == 3 and "pysops: error:" in r.stderr
    assert time.monotonic() - start >= 4.5
    assert plain.read_bytes() == before


@pytest.mark.parametrize(
    ("text", "args"),
    [
        ('a: 1\nkey97: "true" # comment\nb: 2\n', []),
        ("a: 1\nid_u: -dash  # comment\nb: 2\n", ["--unencrypted-suffix", "_u"]),
        ('a: 1\nkey97: "true" # comment\n', []),
    ],
)
def test_unset_of_a_value_with_a_comment_on_its_line_removes_it_like_sops(
    tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any, text: str, args: list[str]
) -> None:
    """Found by the differential fuzzer (yaml:e.unset.data): the comment on the value's line sits
    before the entry in the tree but after it in the text, and unset used to leave the file as it
    was (exit 0)."""
    index = '["id_u"]' if "id_u" in text else '["key97"]'
    plain = tmp_path / "p.yaml"
    plain.write_text(text)
    ours, theirs = tmp_path / "ours.yaml", tmp_path / "theirs.yaml"
    assert pysops(["encrypt", *args, "--age", age_key.recipient, "--output", str(ours), str(plain)], env).code == 0
    r = run_sops(["encrypt", *args, "--age", age_key.recipient, str(plain)], env)
    theirs.write_bytes(r.stdout)
    assert pysops(["unset", str(ours), index], env).code == 0
    assert run_sops(["unset", str(theirs), index], env).code == 0
    a = run_sops(["decrypt", "--output-type", "json", str(ours)], env)
    b = run_sops(["decrypt", "--output-type", "json", str(theirs)], env)
    assert (a.code, a.stdout) == (0, b.stdout)
    assert b"key97" not in a.stdout and b"id_u" not in a.stdout
