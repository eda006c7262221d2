"""Selection regexes that Python and Go's RE2 (sops) would not read alike are refused, in one
error line: exit 1 from a flag or a creation rule, exit 51 from a file's metadata (sops's code:
with an invalid regex it selects no value and fails on the MAC). sops itself accepts an invalid
flag or rule and silently encrypts nothing: pysops deliberately refuses (docs/exit-codes.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.conftest import AgeKey, run_sops
from tests.helpers import age_env

from pysops import re2compat

PLAIN = b"password: s3cret\nkey: k\n# note\nother: o\n"

REFUSED = [
    "^(password|key",  # Python cannot compile it (sops: matches nothing, leaves secrets in clear)
    "(?=pass)",
    "(?!pass)",
    "(?<=x)y",
    "(?<!x)y",
    "(a)\\1",
    "(?P<n>a)(?P=n)",
    "(?(1)a|b)",
    "(?>a)",
    "a*+",
    "a{2}+",
    "(?#c)a",
    "(?x)a b",
    "\\Z",
    "\\u0041",
    "[[:alpha:]]",
    "a{1001}",
    "a{,3}",
    "\\pL",  # RE2 only
]
ACCEPTED = ["^(password|key)$", "(?i)PASS", "(?s-i:a.b)", "[]a]+", "[^]a]", "a{2,5}?", "x{", "\\d+_key", "(?P<n>a)"]


@pytest.mark.parametrize("pattern", REFUSED)
def test_patterns_re2_would_read_otherwise_are_refused(pattern: str) -> None:
    assert re2compat.re2_problem(pattern) is not None


@pytest.mark.parametrize("pattern", ACCEPTED)
def test_patterns_both_engines_read_alike_are_accepted(pattern: str) -> None:
    assert re2compat.re2_problem(pattern) is None


FLAGS = ["--encrypted-regex", "--unencrypted-regex", "--encrypted-comment-regex", "--unencrypted-comment-regex"]


@pytest.mark.parametrize("flag", FLAGS)
@pytest.mark.parametrize("pattern", ["^(password|key", "(?=pass)"])
def test_invalid_regex_flag_is_one_error_line_and_exit_1(
    flag: str, pattern: str, clean_env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    env = age_env(clean_env, age_key)
    f = Path("p.yaml")
    f.write_bytes(PLAIN)
    r = pysops(["encrypt", "-i", "--age", age_key.recipient, flag, pattern, "p.yaml"], env)
    assert r.code == 1 and r.stdout == b""
    assert r.stderr.splitlines()[0].startswith(f"pysops: error: {flag} {pattern!r} is not a valid regular expression")
    assert len(r.stderr.splitlines()) == 2 and r.stderr.splitlines()[1].startswith("pysops: hint: ")
    assert f.read_bytes() == PLAIN
    r = pysops(["edit", "--age", age_key.recipient, flag, pattern, "new.yaml"], {**env, "EDITOR": "true"})
    assert r.code == 1 and "Traceback" not in r.stderr and not Path("new.yaml").exists()


def test_sops_silently_encrypts_nothing_with_an_invalid_regex(clean_env: dict[str, str], age_key: AgeKey) -> None:
    """Why pysops refuses: the difference from sops that docs/exit-codes.md documents."""
    Path("p.yaml").write_bytes(PLAIN)
    r = run_sops(["encrypt", "--age", age_key.recipient, "--encrypted-regex", "^(password|key", "p.yaml"], clean_env)
    assert r.code == 0 and r.stdout.startswith(b"password: s3cret\nkey: k\n")


@pytest.mark.parametrize(
    ("setting", "pattern", "sops_code"),
    [
        ("encrypted_regex", "^(password|key", 0),  # sops: encrypts nothing
        ("unencrypted_regex", "(?=x)", 0),
        ("path_regex", "(?=p)", 1),  # sops refuses RE2-invalid path regexes too
        ("path_regex", "^(p", 1),
    ],
)
def test_invalid_regex_in_a_creation_rule_is_exit_1(
    setting: str, pattern: str, sops_code: int, clean_env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    Path(".sops.yaml").write_text(f"creation_rules:\n  - {setting}: '{pattern}'\n    age: {age_key.recipient}\n")
    Path("p.yaml").write_bytes(PLAIN)
    assert run_sops(["encrypt", "p.yaml"], clean_env).code == sops_code
    r = pysops(["encrypt", "p.yaml"], clean_env)
    assert r.code == 1 and r.stdout == b""
    assert r.stderr.startswith(f"pysops: error: {Path.cwd() / '.sops.yaml'}: creation rule 1: {setting} ")
    assert "Traceback" not in r.stderr and len(r.stderr.splitlines()) == 2


@pytest.fixture
def broken_regex_file(clean_env: dict[str, str], age_key: AgeKey) -> Path:
    """A file sops encrypted with ``encrypted_regex: ^(password|key)``, whose metadata was then
    edited to the invalid ``^(password|key``."""
    Path("p.yaml").write_bytes(PLAIN)
    r = run_sops(["encrypt", "--age", age_key.recipient, "--encrypted-regex", "^(password|key)", "p.yaml"], clean_env)
    assert r.code == 0
    f = Path("bad.yaml")
    f.write_bytes(r.stdout.replace(b"encrypted_regex: ^(password|key)", b"encrypted_regex: ^(password|key"))
    assert f.read_bytes() != r.stdout
    return f


#: (argv, sops's exit code): every command that reads the file's selection.
METADATA_CASES = [
    (["decrypt", "bad.yaml"], 51),
    (["decrypt", "--extract", '["other"]', "bad.yaml"], 51),
    (["set", "bad.yaml", '["other"]', '"x"'], 51),
    (["unset", "bad.yaml", '["other"]'], 51),
    (["rotate", "-i", "bad.yaml"], 51),
    (["edit", "bad.yaml"], 51),
    (["exec-env", "bad.yaml", "true"], 51),
    (["exec-file", "bad.yaml", "true"], 51),
    # Deliberate differences: sops rewraps the data key / prints ciphertext as values without
    # reading the selection; pysops refuses a file whose selection it cannot read alike.
    (["decrypt", "--ignore-mac", "bad.yaml"], 0),
    (["updatekeys", "-y", "bad.yaml"], 0),
    (["groups", "add", "--file", "bad.yaml", "--age", "RECIPIENT"], 0),
]


@pytest.mark.parametrize(("argv", "sops_code"), METADATA_CASES, ids=[" ".join(a[:2]) for a, _ in METADATA_CASES])
def test_invalid_regex_in_metadata_is_exit_51(
    argv: list[str],
    sops_code: int,
    broken_regex_file: Path,
    clean_env: dict[str, str],
    age_key: AgeKey,
    pysops: Any,
) -> None:
    env = {**age_env(clean_env, age_key), "EDITOR": "true"}
    Path(".sops.yaml").write_text(f"creation_rules:\n  - age: {age_key.recipient}\n")
    argv = [age_key.recipient if a == "RECIPIENT" else a for a in argv]
    before = broken_regex_file.read_bytes()
    assert run_sops(argv, env).code == sops_code
    broken_regex_file.write_bytes(before)
    r = pysops(argv, env)
    assert r.code == 51 and r.stdout == b"", r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("pysops: error: ")]
    assert len(errors) == 1 and errors[0].startswith(
        "pysops: error: the file's encrypted_regex '^(password|key' is not a valid regular expression for sops: "
    )
    assert "Traceback" not in r.stderr
    assert broken_regex_file.read_bytes() == before


def test_invalid_regex_in_metadata_filestatus_and_check(
    broken_regex_file: Path, clean_env: dict[str, str], pysops: Any
) -> None:
    """filestatus only looks for the metadata block (as sops does); check reports the file."""
    r = pysops(["filestatus", "bad.yaml"], clean_env)
    assert (r.code, r.stdout) == (0, b'{"encrypted":true}\n')
    assert run_sops(["filestatus", "bad.yaml"], clean_env).stdout == r.stdout
    r = pysops(["check", "bad.yaml"], clean_env)
    assert r.code != 0 and b"encrypted_regex" in r.stdout and "Traceback" not in r.stderr


def test_invalid_regex_in_metadata_in_the_merge_driver(
    broken_regex_file: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    env = age_env(clean_env, age_key)
    data = broken_regex_file.read_bytes()

    def broken(plain: bytes) -> bytes:
        Path("p.yaml").write_bytes(plain)
        argv = ["encrypt", "--age", age_key.recipient, "--encrypted-regex", "^(password|key)", "p.yaml"]
        return run_sops(argv, clean_env).stdout.replace(b"regex: ^(password|key)", b"regex: ^(password|key")

    Path("base.yaml").write_bytes(data)
    Path("ours.yaml").write_bytes(broken(PLAIN.replace(b"other: o", b"other: ours")))
    Path("theirs.yaml").write_bytes(broken(PLAIN.replace(b"key: k", b"key: theirs")))
    ours = Path("ours.yaml").read_bytes()
    r = pysops(["git", "merge-driver", "base.yaml", "ours.yaml", "theirs.yaml", "s.yaml"], env)
    # A merge driver's status only says "conflict" to git: the file is left as ours, with why.
    assert r.code == 1 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith("pysops: cannot merge s.yaml: ours: the file's encrypted_regex '^(password|key' is")
    assert Path("ours.yaml").read_bytes() == ours
