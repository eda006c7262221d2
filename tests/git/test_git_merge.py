"""The merge driver and ``pysops git resolve`` in real git repositories (git runs the driver)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.conftest import AgeKey, new_age_key, run_sops
from tests.git.conftest import Repo, changed_lines, encrypt, keys_of, sops_yaml
from tests.helpers import age_decrypt, age_encrypt, age_options

from pysops import api, gitdriver
from pysops.errors import PysopsError
from pysops.keys import key_type
from pysops.metadata import Metadata

PLAIN = "# settings\na: one\nb: two\nc:\n  d: three\nlist:\n  - x\n  - y\n"


def editor(tmp_path: Path, body: str) -> str:
    script = tmp_path / "editor.sh"
    script.write_text(f'#!/bin/sh\nF="$1"\ncp "$F" "{tmp_path}/shown.txt"\n{body}\n')
    script.chmod(0o755)
    return str(script)


def branches(repo: Repo, name: str, ours: list[list[str]], theirs: list[list[str]]) -> bytes:
    """Commit the file, run ``theirs`` commands on branch ``feature`` and ``ours`` on main, each
    committed; returns ours' bytes before the merge."""
    repo.commit("init")
    repo.git("checkout", "-q", "-b", "feature")
    for args in theirs:
        repo.pysops(*args)
    repo.commit("theirs")
    repo.git("checkout", "-q", "main")
    for args in ours:
        repo.pysops(*args)
    repo.commit("ours")
    return repo.read(name)


def test_clean_merge_of_two_set_commands(repo: Repo, age_key: AgeKey, git_env: dict[str, str]) -> None:
    encrypt(repo, "s.enc.yaml", PLAIN)
    ours = branches(
        repo, "s.enc.yaml",
        ours=[["set", "s.enc.yaml", '["c"]["d"]', '"THREE"']],
        theirs=[["set", "s.enc.yaml", '["a"]', '"ONE"']],
    )  # fmt: skip
    theirs = repo.show("feature", "s.enc.yaml")
    merge = repo.git("merge", "--no-edit", "feature")
    assert "CONFLICT" not in merge.stdout
    result = repo.read("s.enc.yaml")
    assert age_decrypt(result, "yaml", age_key) == PLAIN.replace("one", "ONE").replace("three", "THREE").encode()
    # Against ours only theirs' value, lastmodified and mac changed; theirs' ciphertext is reused.
    assert set(keys_of(changed_lines(ours, result))) <= {"a", "lastmodified", "mac"}
    assert {"a", "mac"} <= set(keys_of(changed_lines(ours, result)))
    assert [line for line in changed_lines(theirs, result) if not line[1].lstrip().startswith(("lastm", "mac"))] == [
        (old, new) for old, new in changed_lines(theirs, result) if new.startswith("  d:")
    ]
    assert repo.git("status", "--porcelain").stdout == ""
    sops = run_sops(["decrypt", "s.enc.yaml"], git_env, cwd=repo.path)
    assert sops.code == 0, sops.stderr
    assert sops.stdout == b'# settings\na: ONE\nb: two\nc:\n    d: THREE\nlist:\n    - x\n    - "y"\n'


def test_conflict_leaves_ours_encrypted_then_resolve(
    repo: Repo, age_key: AgeKey, git_env: dict[str, str], tmp_path: Path
) -> None:
    encrypt(repo, "s.enc.yaml", PLAIN)
    ours = branches(
        repo, "s.enc.yaml",
        ours=[["set", "s.enc.yaml", '["b"]', '"ours-secret"'], ["set", "s.enc.yaml", '["list"][0]', '"X"']],
        theirs=[["set", "s.enc.yaml", '["b"]', '"theirs-secret"']],
    )  # fmt: skip
    merge = repo.git("merge", "--no-edit", "feature", check=False)
    assert merge.returncode == 1
    assert "CONFLICT (content): Merge conflict in s.enc.yaml" in merge.stdout
    assert 'pysops: merge conflict in s.enc.yaml: ["b"]' in merge.stderr
    assert "secret" not in merge.stderr + merge.stdout  # names, never values
    assert repo.read("s.enc.yaml") == ours  # still ours: encrypted and valid
    assert repo.git("status", "--porcelain").stdout == "UU s.enc.yaml\n"

    # An editor that keeps the markers is refused: nothing written, still unmerged.
    env = {**git_env, "EDITOR": editor(tmp_path, "true")}
    kept = repo.pysops("git", "resolve", "s.enc.yaml", env=env, check=False)
    assert kept.returncode == 1
    assert "conflict markers remain (line 3)" in kept.stderr
    assert (tmp_path / "shown.txt").read_text() == (
        "# settings\na: one\n<<<<<<< ours\nb: ours-secret\n=======\nb: theirs-secret\n>>>>>>> theirs\n"
        "c:\n  d: three\nlist:\n  - X\n  - y\n"
    )
    assert repo.read("s.enc.yaml") == ours
    assert repo.git("status", "--porcelain").stdout == "UU s.enc.yaml\n"

    # Pick theirs: the result is encrypted, added to the index, and only b (+ metadata) changed.
    pick_theirs = "sed -i -e '/^<<<<<<< /,/^=======/d' -e '/^>>>>>>> /d' \"$F\""
    env = {**git_env, "EDITOR": editor(tmp_path, pick_theirs)}
    done = repo.pysops("git", "resolve", "s.enc.yaml", env=env)
    assert done.stderr == "pysops: resolved s.enc.yaml and added it to the index\n"
    result = repo.read("s.enc.yaml")
    assert age_decrypt(result, "yaml", age_key) == PLAIN.replace("- x", "- X").replace("two", "theirs-secret").encode()
    assert set(keys_of(changed_lines(ours, result))) <= {"b", "lastmodified", "mac"}
    assert repo.git("status", "--porcelain").stdout == "M  s.enc.yaml\n"
    assert b"secret" not in result
    repo.git("commit", "-q", "--no-edit")
    sops = run_sops(["decrypt", "s.enc.yaml"], git_env, cwd=repo.path)
    assert sops.code == 0, sops.stderr
    assert sops.stdout == b'# settings\na: one\nb: theirs-secret\nc:\n    d: three\nlist:\n    - X\n    - "y"\n'


def test_recipient_added_on_theirs_values_on_ours(repo: Repo, age_key: AgeKey, git_env: dict[str, str]) -> None:
    second = new_age_key()
    encrypt(repo, "s.enc.yaml", PLAIN)
    repo.commit("init")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write(".sops.yaml", sops_yaml(age_key.recipient, second.recipient))
    repo.pysops("updatekeys", "-y", "s.enc.yaml")
    repo.commit("add a recipient")
    repo.git("checkout", "-q", "main")
    repo.pysops("set", "s.enc.yaml", '["b"]', '"TWO"')
    repo.commit("ours")
    ours = repo.read("s.enc.yaml")
    repo.git("merge", "--no-edit", "feature")
    result = repo.read("s.enc.yaml")
    expected = PLAIN.replace("two", "TWO").encode()
    assert age_decrypt(result, "yaml", second) == expected  # the new recipient can open the merged file
    assert age_decrypt(result, "yaml", age_key) == expected
    # Same data key: the values are ours' ciphertexts; only the recipients and mac changed.
    assert [old for old, _ in changed_lines(ours[: ours.index(b"sops:")], result[: result.index(b"sops:")])] == []
    meta = Metadata.from_dict(api.get_store("yaml").parse(result).metadata)
    assert sorted(k.fields["recipient"] for k in meta.key_groups[0]) == sorted([age_key.recipient, second.recipient])


def test_ours_added_recipient_theirs_changed_values(repo: Repo, age_key: AgeKey) -> None:
    second = new_age_key()
    encrypt(repo, "s.enc.yaml", PLAIN)
    repo.commit("init")
    repo.git("checkout", "-q", "-b", "feature")
    repo.pysops("set", "s.enc.yaml", '["a"]', '"ONE"')
    repo.commit("theirs")
    repo.git("checkout", "-q", "main")
    repo.write(".sops.yaml", sops_yaml(age_key.recipient, second.recipient))
    repo.pysops("updatekeys", "-y", "s.enc.yaml")
    repo.commit("add a recipient")
    repo.git("merge", "--no-edit", "feature")
    assert age_decrypt(repo.read("s.enc.yaml"), "yaml", second) == PLAIN.replace("one", "ONE").encode()


def test_theirs_rotated_and_removed_a_recipient_ours_changed_a_value(repo: Repo, age_key: AgeKey) -> None:
    second = new_age_key()
    repo.write(".sops.yaml", sops_yaml(age_key.recipient, second.recipient))
    encrypt(repo, "s.enc.yaml", PLAIN)
    repo.commit("init")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write(".sops.yaml", sops_yaml(age_key.recipient))
    repo.pysops("updatekeys", "-y", "s.enc.yaml")  # removes `second`: pysops rotates the data key
    repo.commit("remove a recipient")
    theirs = repo.read("s.enc.yaml")
    repo.git("checkout", "-q", "main")
    repo.pysops("set", "s.enc.yaml", '["a"]', '"ONE"')
    repo.commit("ours")
    repo.git("merge", "--no-edit", "feature")
    result = repo.read("s.enc.yaml")
    assert age_decrypt(result, "yaml", age_key) == PLAIN.replace("one", "ONE").encode()
    with pytest.raises(PysopsError):
        age_decrypt(result, "yaml", second)  # the removal (and rotation) is not undone by the merge
    # Theirs' data key: every value except ours' change keeps theirs' ciphertext.
    assert set(keys_of(changed_lines(theirs, result))) <= {"a", "lastmodified", "mac"}


def test_both_sides_changed_recipients_differently_is_a_conflict(repo: Repo, age_key: AgeKey) -> None:
    encrypt(repo, "s.enc.yaml", PLAIN)
    repo.commit("init")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write(".sops.yaml", sops_yaml(age_key.recipient, new_age_key().recipient))
    repo.pysops("updatekeys", "-y", "s.enc.yaml")
    repo.commit("theirs")
    repo.git("checkout", "-q", "main")
    repo.write(".sops.yaml", sops_yaml(age_key.recipient, new_age_key().recipient))
    repo.pysops("updatekeys", "-y", "s.enc.yaml")
    repo.commit("ours")
    ours = repo.read("s.enc.yaml")
    merge = repo.git("merge", "--no-edit", "feature", check=False)
    assert merge.returncode == 1
    assert "both sides changed the file's recipients or settings" in merge.stderr
    assert repo.read("s.enc.yaml") == ours


def test_merge_driver_without_a_key_leaves_ours(repo: Repo, age_key: AgeKey, git_env: dict[str, str]) -> None:
    encrypt(repo, "s.enc.yaml", PLAIN)
    ours = branches(
        repo, "s.enc.yaml",
        ours=[["set", "s.enc.yaml", '["a"]', '"A"']],
        theirs=[["set", "s.enc.yaml", '["b"]', '"B"']],
    )  # fmt: skip
    env = {k: v for k, v in git_env.items() if k != "SOPS_AGE_KEY"}
    merge = repo.git("merge", "--no-edit", "feature", check=False, env=env)
    assert merge.returncode == 1
    assert "pysops: cannot merge s.enc.yaml: ours: could not recover the data key" in merge.stderr
    assert repo.read("s.enc.yaml") == ours
    # With the key back, `resolve --no-edit` merges without an editor: a and b are neighbouring
    # lines (a line merge conflicts) but the value-by-value merge is clean.
    done = repo.pysops("git", "resolve", "--no-edit", "s.enc.yaml")
    assert done.returncode == 0
    expected = PLAIN.replace("one", "A").replace("two", "B").encode()
    assert age_decrypt(repo.read("s.enc.yaml"), "yaml", age_key) == expected
    assert repo.git("status", "--porcelain").stdout == "M  s.enc.yaml\n"


# --------------------------------------------------------------------------------------------
# The library on bytes (no git repository needed beyond `git merge-file`)


def _set(data: bytes, fmt: str, key: AgeKey, old: bytes, new: bytes) -> bytes:
    from pysops.edit import _seal

    opened = api.open_file(data, input_format=fmt, options=age_options(key))
    plain = api.render(opened.doc, fmt, None)
    assert old in plain
    opened = api.open_file(data, input_format=fmt, options=age_options(key))
    return _seal(opened, plain.replace(old, new), fmt=fmt, show_master_keys=False, store_options=None,
                 now=None, randbytes=os.urandom)  # fmt: skip


SAMPLES = {
    "json": ('{\n  "a": "one",\n  "b": "two",\n  "c": {\n    "d": 3\n  }\n}\n', b'"one"', b'"ONE"', b"3", b"4"),
    "dotenv": ("A=one\nB=two\nC=three\n", b"one", b"ONE", b"three", b"THREE"),
    "ini": ("[s]\na = one\nb = two\n\n[t]\nc = three\n", b"one", b"ONE", b"three", b"THREE"),
    "yaml": ("a: one\nl:\n  - x\n  - x\n  - y\n", b"one", b"ONE", b"- y", b"- z"),
}


@pytest.mark.parametrize("fmt", sorted(SAMPLES))
def test_merge_files_every_format(fmt: str, age_key: AgeKey, tmp_path: Path) -> None:
    plain, old1, new1, old2, new2 = SAMPLES[fmt]
    base = age_encrypt(plain.encode(), fmt, age_key.recipient)
    theirs = _set(base, fmt, age_key, old1, new1)
    ours = _set(base, fmt, age_key, old2, new2)
    result = gitdriver.merge_files(base, ours, theirs, f"x.{fmt}", fmt=fmt, options=age_options(age_key),
                                   tmp_base=str(tmp_path))  # fmt: skip
    assert result.clean and result.output is not None
    expected = plain.encode().replace(old1, new1).replace(old2, new2)
    assert api.decrypt_bytes(result.output, input_format=fmt, options=age_options(age_key)) == expected
    ours_lines = [line for line in ours.splitlines() if line not in result.output.splitlines()]
    assert len(ours_lines) <= 4, ours_lines  # theirs' value, lastmodified, mac (ini/dotenv: flat)
    assert os.listdir(tmp_path) == []  # the private merge directory is gone


def test_merge_files_shortcuts_and_plain_files(age_key: AgeKey, tmp_path: Path) -> None:
    base = age_encrypt(b"a: 1\n", "yaml", age_key.recipient)
    other = _set(base, "yaml", age_key, b"1", b"2")
    assert gitdriver.merge_files(base, base, other, "x.yaml") == gitdriver.MergeResult(True, other)
    assert gitdriver.merge_files(base, other, base, "x.yaml") == gitdriver.MergeResult(True, None)
    clean = gitdriver.merge_files(b"a\nb\nc\n", b"A\nb\nc\n", b"a\nb\nC\n", "x.txt", tmp_base=str(tmp_path))
    assert clean == gitdriver.MergeResult(True, b"A\nb\nC\n")
    conflict = gitdriver.merge_files(b"a\n", b"b\n", b"c\n", "x.txt", tmp_base=str(tmp_path))
    assert not conflict.clean
    assert conflict.output == b"<<<<<<< ours\nb\n=======\nc\n>>>>>>> theirs\n"
    with pytest.raises(gitdriver.MergeConflict, match="theirs is not an encrypted sops file"):
        gitdriver.merge_files(base, other, b"a: 3\n", "x.yaml", options=age_options(age_key))


def test_added_on_both_sides_merges_without_base(age_key: AgeKey, tmp_path: Path) -> None:
    ours = age_encrypt(b"a: 1\nb: 2\n", "yaml", age_key.recipient)
    theirs = age_encrypt(b"a: 1\nb: 2\n", "yaml", age_key.recipient)  # same plaintext, another data key
    result = gitdriver.merge_files(b"", ours, theirs, "x.yaml", options=age_options(age_key), tmp_base=str(tmp_path))
    assert result.clean and result.output is None  # identical plaintext: ours is kept as it is


def test_clean_line_merge_that_is_not_a_valid_document_is_a_conflict(age_key: AgeKey, tmp_path: Path) -> None:
    base = age_encrypt(b"a: 1\nb: 2\nc: 3\nd: 4\n", "yaml", age_key.recipient)
    ours = _set(base, "yaml", age_key, b"a: 1\n", b"x: 0\na: 1\n")
    theirs = _set(base, "yaml", age_key, b"d: 4\n", b"d: 4\nx: 9\n")
    result = gitdriver.merge_files(base, ours, theirs, "x.yaml", options=age_options(age_key), tmp_base=str(tmp_path))
    assert result == gitdriver.MergeResult(
        False, None, ('the merged text is not valid yaml: Error unmarshaling input YAML: line 6: mapping key "x" '
                      "already defined",),
    )  # fmt: skip


def test_neighbouring_values_merge_value_by_value(age_key: AgeKey, tmp_path: Path) -> None:
    base = age_encrypt(b"a: 1\nb: 2\nl: [x, y]\n", "yaml", age_key.recipient)
    ours = _set(base, "yaml", age_key, b"a: 1", b"a: 10")
    theirs = _set(_set(base, "yaml", age_key, b"b: 2", b"b: 20"), "yaml", age_key, b"[x, y]", b"[x, z]")
    result = gitdriver.merge_files(base, ours, theirs, "x.yaml", options=age_options(age_key), tmp_base=str(tmp_path))
    assert result.clean and result.output is not None
    got = api.decrypt_bytes(result.output, input_format="yaml", options=age_options(age_key))
    assert got == b"a: 10\nb: 20\nl: [x, z]\n"
    both = _set(base, "yaml", age_key, b"b: 2", b"b: 30")
    conflict = gitdriver.merge_files(base, both, theirs, "x.yaml", options=age_options(age_key), tmp_base=str(tmp_path))
    assert conflict == gitdriver.MergeResult(False, None, ('["b"]',))


def test_conflicting_keys_names_lines_without_values() -> None:
    empty = gitdriver.Side("x", b"", None, b"")
    text = gitdriver.TextMerge(b"a: 1\n<<<<<<< ours\nkey: v1\n  - item\n=======\nkey: v2\n>>>>>>> theirs\n", 1)
    assert gitdriver.conflicting_keys(empty, empty, empty, text) == ["key", "line 4"]
    assert gitdriver.has_markers(b"a\n=======\n") == 2
    assert gitdriver.has_markers(b"a: '======='\n") is None


def test_resolve_outside_a_conflict_is_an_error(repo: Repo, age_key: AgeKey) -> None:
    encrypt(repo, "s.enc.yaml", PLAIN)
    repo.commit("init")
    out = repo.pysops("git", "resolve", "s.enc.yaml", check=False)
    assert out.returncode == 1
    assert out.stderr.startswith("pysops: error: s.enc.yaml has no merge conflict in the index\n")


def test_ours_rotated_theirs_added_a_recipient_wraps_ours_key_for_theirs_recipients(
    age_key: AgeKey, tmp_path: Path
) -> None:
    second = new_age_key()
    base = age_encrypt(b"a: 1\nb: 2\n", "yaml", age_key.recipient)
    opened = api.open_file(base, input_format="yaml", options=age_options(age_key))
    recipients = [key_type("age").parse_recipient(r) for r in (age_key.recipient, second.recipient)]
    opened.rewrap([recipients])
    theirs = opened.seal()  # same data key, one more recipient
    opened = api.open_file(
        _set(base, "yaml", age_key, b"b: 2", b"b: 3"), input_format="yaml", options=age_options(age_key)
    )
    opened.rotate_data_key()
    opened.rewrap(opened.recipients())
    ours = opened.seal()
    result = gitdriver.merge_files(base, ours, theirs, "x.yaml", options=age_options(age_key), tmp_base=str(tmp_path))
    assert result.clean and result.output is not None
    assert result.notes == ("the recipients/settings changed on theirs: the result uses theirs'",
                            "the data key of ours is wrapped for the recipients of theirs")  # fmt: skip
    assert api.decrypt_bytes(result.output, input_format="yaml", options=age_options(second)) == b"a: 1\nb: 3\n"
    # Ours' data key: the values keep ours' ciphertexts.
    assert result.output.split(b"sops:")[0] == ours.split(b"sops:")[0]
