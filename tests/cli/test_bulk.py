"""Several files in one process: ``encrypt``/``decrypt`` of many files, ``--recursive``,
``--output-dir``, per-file errors, and one unwrap per distinct wrapped data key."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import AgeKey, new_age_key, run_sops
from tests.helpers import age_encrypt

from pysops import api, bulk
from pysops.errors import ConflictingParameters
from pysops.formats import format_for_path

#: In sops's own layout, so both tools decrypt them to the same bytes.
PLAIN = {
    "a.yaml": "# config\ndb:\n    user: admin\n    # secret\n    password: hunter2\nports:\n    - 1\n    - 2\n",
    "b.json": '{\n\t"token": "abc",\n\t"n": 1.5,\n\t"list": [\n\t\ttrue,\n\t\tnull\n\t]\n}\n',
    "c.env": 'API_KEY=xyz\nQUOTED="a b"\n',
}


def _write_tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _encrypted(text: str, name: str, recipient: str) -> bytes:
    return age_encrypt(text.encode(), format_for_path(name), recipient)


# --------------------------------------------------------------------------------------------
# Both directions, in place


def test_encrypt_and_decrypt_several_files_in_place(env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    _write_tree(Path.cwd(), PLAIN)
    names = list(PLAIN)
    r = pysops(["encrypt", "--age", age_key.recipient, "-i", *names], env)
    assert (r.code, r.stdout, r.stderr) == (0, b"", "")
    encs = {name: Path(name).read_text() for name in names}
    for name, text in encs.items():
        assert "ENC[AES256_GCM," in text and "hunter2" not in text and "abc" not in text, name
        # sops reads every file the bulk run wrote
        assert run_sops(["decrypt", name], env).stdout.decode() == PLAIN[name]
    # every file has its own data key (sops semantics): no wrapped stanza is shared
    stanzas = [t[t.index("BEGIN AGE") :][:200] for t in encs.values()]
    assert len(set(stanzas)) == 3
    r = pysops(["decrypt", "-i", *names], env)
    assert (r.code, r.stdout, r.stderr) == (0, b"", "")
    assert {name: Path(name).read_text() for name in names} == PLAIN


def test_typer_path_takes_several_files(
    env: dict[str, str], age_key: AgeKey, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The typer command (used when the fast path declines, e.g. with --help nearby) declares the
    same list argument and flags."""
    from pysops.cli.app import run

    _write_tree(Path.cwd(), PLAIN)
    monkeypatch.setenv("SOPS_AGE_KEY", age_key.identity)
    assert run(["encrypt", "--age", age_key.recipient, "--output-dir", "enc", *PLAIN]) == 0
    assert run(["decrypt", "--recursive", "enc", "--output-dir", "dec"]) == 0
    assert {name: Path("dec", name).read_text() for name in PLAIN} == PLAIN
    assert capsys.readouterr().err == ""


def test_bulk_decrypts_files_written_by_sops(env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    _write_tree(Path.cwd(), PLAIN)
    for name in PLAIN:
        assert run_sops(["encrypt", "-i", "--age", age_key.recipient, name], env).code == 0
    r = pysops(["decrypt", "--output-dir", "out", *PLAIN], env)
    assert (r.code, r.stderr) == (0, "")
    assert {name: Path("out", name).read_text() for name in PLAIN} == PLAIN


# --------------------------------------------------------------------------------------------
# --recursive and --output-dir


def test_recursive_output_dir_tree_modes_and_skips(env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    tree = {
        "src/a.yaml": PLAIN["a.yaml"],
        "src/deep/er/b.json": PLAIN["b.json"],
        "src/deep/c.env": PLAIN["c.env"],
        "src/.hidden/h.yaml": "h: 1\n",  # dot directories are never entered
        "src/.sops.yaml": "creation_rules: []\n",  # nor dot files read
        "src/readme.txt": "not a known format\n",  # unknown extensions are ignored
    }
    _write_tree(Path.cwd(), tree)
    os.symlink("a.yaml", "src/link.yaml")
    r = pysops(["encrypt", "--age", age_key.recipient, "--recursive", "src", "--output-dir", "enc"], env)
    assert (r.code, r.stdout) == (0, b"")
    assert r.stderr == "pysops: skipped src/link.yaml: a symbolic link\n"
    found = sorted(str(p.relative_to("enc")) for p in Path("enc").rglob("*") if p.is_file())
    assert found == ["a.yaml", "deep/c.env", "deep/er/b.json"]
    # ciphertext is not private; plaintext is
    assert _mode(Path("enc/a.yaml")) == 0o666 & ~_umask()

    Path("dec/deep").mkdir(mode=0o700, parents=True)
    Path("dec/deep/c.env").write_text("old\n")
    Path("dec/deep/c.env").chmod(0o644)  # an older output with a wide mode is tightened
    Path("enc/plain.yaml").write_text("x: 1\n")  # found but not encrypted: skipped
    r = pysops(["decrypt", "--recursive", "enc", "--output-dir", "dec"], env)
    assert (r.code, r.stdout) == (0, b"")
    assert r.stderr == "pysops: skipped enc/plain.yaml: not encrypted (no sops metadata)\n"
    assert Path("dec/a.yaml").read_text() == tree["src/a.yaml"]
    assert Path("dec/deep/er/b.json").read_text() == tree["src/deep/er/b.json"]
    assert Path("dec/deep/c.env").read_text() == tree["src/deep/c.env"]
    for path in Path("dec").rglob("*"):
        assert _mode(path) == (0o700 if path.is_dir() else 0o600), path
    assert not Path("dec/plain.yaml").exists()


def test_recursive_in_place_round_trip_skips_the_other_kind(env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    _write_tree(Path.cwd(), {f"d/{name}": text for name, text in PLAIN.items()})
    Path("d/enc.yaml").write_bytes(_encrypted("k: v\n", "enc.yaml", age_key.recipient))
    r = pysops(["encrypt", "--age", age_key.recipient, "-i", "--recursive", "d"], env)
    assert (r.code, r.stderr) == (0, "pysops: skipped d/enc.yaml: already encrypted\n")
    r = pysops(["decrypt", "-i", "--recursive", "d"], env)
    assert (r.code, r.stderr) == (0, "")
    assert {name: Path("d", name).read_text() for name in PLAIN} == PLAIN
    assert Path("d/enc.yaml").read_text() == "k: v\n"


def test_output_dir_names_and_collisions(tmp_path: Path) -> None:
    cwd = tmp_path / "work"
    outside = str(tmp_path / "elsewhere" / "b.json")
    jobs = bulk.plan(["x/a.yaml", outside], recursive=False, output_dir="o", cwd=str(cwd))
    assert [(j.source, j.target, j.explicit) for j in jobs] == [
        ("x/a.yaml", "o/x/a.yaml", True),
        (outside, "o/b.json", True),
    ]
    with pytest.raises(ConflictingParameters, match="would both be written to o/a.yaml"):
        bulk.plan([str(tmp_path / "p" / "a.yaml"), str(tmp_path / "q" / "a.yaml")], recursive=False,
                  output_dir="o", cwd=str(cwd))  # fmt: skip
    # in place, one file named twice is done once
    assert len(bulk.plan(["a.yaml", "./a.yaml"], recursive=False, output_dir=None, cwd=str(cwd))) == 1


# --------------------------------------------------------------------------------------------
# Errors


def test_per_file_errors_continue_and_exit_with_the_first(env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    Path("good1.yaml").write_bytes(_encrypted("a: 1\n", "good1.yaml", age_key.recipient))
    Path("good2.json").write_bytes(_encrypted('{"b": 2}', "good2.json", age_key.recipient))
    Path("plain.yaml").write_text("p: 1\n")
    other = new_age_key()
    Path("other.yaml").write_bytes(_encrypted("o: 1\n", "other.yaml", other.recipient))
    r = pysops(["decrypt", "-i", "good1.yaml", "plain.yaml", "missing.yaml", "other.yaml", "good2.json"], env)
    assert r.code == 1  # the first failure: plain.yaml, no metadata (exit 1)
    assert r.stdout == b""
    assert r.stderr == (
        "pysops: error: plain.yaml: sops metadata not found\n"
        "pysops: hint: the file is not encrypted (no 'sops' block)\n"
        'pysops: error: missing.yaml: cannot operate on non-existent file "missing.yaml"\n'
        "pysops: error: other.yaml: could not recover the data key: group 0: age: no identity matches "
        f"recipient {other.recipient}\n"
        "pysops: hint: make an identity for one of the file's recipients available (e.g. SOPS_AGE_KEY_FILE)\n"
        "pysops: error: 3 of 5 files failed (decrypted 2)\n"
    )
    assert Path("good1.yaml").read_text() == "a: 1\n"
    assert Path("good2.json").read_text() == '{"b": 2}'
    assert Path("plain.yaml").read_text() == "p: 1\n"
    assert "sops:" in Path("other.yaml").read_text()  # untouched
    r = pysops(["decrypt", "-i", "missing.yaml", "plain.yaml"], env)
    assert r.code == 100  # exit code of the first failure, whatever it is


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["a.yaml", "b.yaml"], "with several files (or --recursive) the output goes in place or to a directory"),
        (["--recursive", "d"], "with several files (or --recursive) the output goes in place or to a directory"),
        (["-i", "--output-dir", "o", "a.yaml", "b.yaml"], "--in-place and --output-dir cannot be used together"),
        (["--output", "x", "a.yaml", "b.yaml"],
         "--output names one file; with several files use --in-place or --output-dir"),
        (["-i", "--filename-override", "x.yaml", "a.yaml", "b.yaml"],
         "--filename-override works on one file, not with several files"),
        (["-i", "-", "a.yaml"], "standard input cannot be one of several files"),
    ],
)  # fmt: skip
def test_bulk_flag_conflicts(env: dict[str, str], pysops: Any, args: list[str], message: str) -> None:
    for verb in ("decrypt", "encrypt"):
        r = pysops([verb, *args], env)
        assert (r.code, r.stdout) == (8, b""), (verb, r.stderr)
        assert r.stderr.splitlines()[0] == f"pysops: error: {message}"
    r = pysops(["decrypt", "--extract", '["a"]', "-i", "a.yaml", "b.yaml"], env)
    assert (r.code, r.stderr) == (
        8, "pysops: error: --extract works on one file, not with several files or --output-dir\n"
    )  # fmt: skip


def test_encrypt_without_rule_fails_per_file(clean_env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    Path(".sops.yaml").write_text(f"creation_rules:\n  - path_regex: ^keep/\n    age: {age_key.recipient}\n")
    _write_tree(Path.cwd(), {"keep/a.yaml": "a: 1\n", "other/b.yaml": "b: 2\n"})
    r = pysops(["encrypt", "-i", "--recursive", "keep", "other"], clean_env)
    assert r.code == 1
    assert r.stderr.startswith("pysops: error: other/b.yaml: ")
    assert r.stderr.endswith("pysops: error: 1 of 2 files failed (encrypted 1)\n")
    assert "sops:" in Path("keep/a.yaml").read_text()
    assert Path("other/b.yaml").read_text() == "b: 2\n"


# --------------------------------------------------------------------------------------------
# One unwrap per distinct wrapped data key


def test_identity_command_runs_once_for_twenty_files(
    clean_env: dict[str, str], age_key: AgeKey, pysops: Any, tmp_path: Path
) -> None:
    counter = tmp_path / "calls"
    keyfile = tmp_path / "key.txt"
    keyfile.write_text(age_key.identity + "\n")
    script = tmp_path / "key-cmd.sh"
    script.write_text(f"#!/bin/sh\necho call >> {counter}\ncat {keyfile}\n")
    script.chmod(0o700)
    for i in range(20):  # twenty files, twenty different data keys
        Path(f"f{i:02d}.yaml").write_bytes(_encrypted(f"v: {i}\n", "f.yaml", age_key.recipient))
    env = {**clean_env, "SOPS_AGE_KEY_CMD": str(script)}
    r = pysops(["decrypt", "--recursive", ".", "--output-dir", "../out"], env)
    assert (r.code, r.stderr) == (0, "")
    assert counter.read_text() == "call\n"
    assert [Path(f"../out/f{i:02d}.yaml").read_text() for i in range(20)] == [f"v: {i}\n" for i in range(20)]


def test_data_key_cache_unwraps_each_distinct_stanza_set_once(
    clean_env: dict[str, str], age_key: AgeKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pysops.keys.age import KEY_TYPE

    calls: list[str] = []
    real = KEY_TYPE.unwrap

    def counting(wrapped: Any, context: Any) -> bytes:
        calls.append(wrapped.enc)
        return real(wrapped, context)

    original = _encrypted("a: secret\n", "a.yaml", age_key.recipient)
    for i in range(20):  # copies share their wrapped stanzas
        Path(f"copy{i:02d}.yaml").write_bytes(original)
    for i in range(3):
        Path(f"own{i}.yaml").write_bytes(_encrypted(f"b: {i}\n", "b.yaml", age_key.recipient))
    stranger = new_age_key()
    Path("x0.yaml").write_bytes(_encrypted("c: 1\n", "c.yaml", stranger.recipient))
    for i in range(1, 5):  # no identity for these: one failed attempt serves all five
        shutil.copy("x0.yaml", f"x{i}.yaml")
    monkeypatch.setattr(KEY_TYPE, "unwrap", counting)  # after encrypting: count decrypt's unwraps only
    cache = bulk.DataKeyCache()
    options = api.DecryptOptions(env={**clean_env, "SOPS_AGE_KEY": age_key.identity})
    jobs = bulk.plan(["."], recursive=True, output_dir="out")
    outcomes = list(bulk.decrypt_files(jobs, options=options, cache=cache))
    assert [o.status for o in outcomes].count("done") == 23
    assert [o.error.exit_code for o in outcomes if o.error is not None] == [128] * 5
    assert cache.unwraps == 1 + 3 + 1
    assert len(calls) == 1 + 3 + 1
    assert Path("out/copy07.yaml").read_text() == "a: secret\n"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
