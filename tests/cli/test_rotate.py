"""``pysops rotate``: a new data key, every value re-encrypted, recipients added/removed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.conftest import AgeKey, run_sops
from tests.helpers import age_env

PLAIN = "a: one\nb:\n  c: 2\nl:\n  - x\n"
SOPS_PLAIN = b"a: one\nb:\n    c: 2\nl:\n    - x\n"  # PLAIN as sops writes it


@pytest.fixture
def enc(tmp_path: Path, clean_env: dict[str, str], age_keys: list[AgeKey], pysops: Any) -> Path:
    f = tmp_path / "s.yaml"
    f.write_text(PLAIN)
    assert pysops(["encrypt", "-i", "--age", age_keys[0].recipient, str(f)], clean_env).code == 0
    return f


def _sops_decrypts(path: Path, env: dict[str, str]) -> None:
    r = run_sops(["decrypt", str(path)], env)
    assert (r.code, r.stdout) == (0, SOPS_PLAIN), r.stderr


def _values(text: str) -> set[str]:
    return {ln.strip() for ln in text.splitlines() if "ENC[" in ln and "mac:" not in ln}


def test_rotate_prints_a_file_with_new_ciphertexts(
    enc: Path, clean_env: dict[str, str], age_keys: list[AgeKey], pysops: Any
) -> None:
    env = age_env(clean_env, age_keys[0])
    before = enc.read_text()
    r = pysops(["rotate", str(enc)], env)
    assert (r.code, r.stderr) == (0, "")
    assert enc.read_text() == before
    out = r.stdout.decode()
    assert len(_values(out)) == 3 and not _values(out) & _values(before)
    rotated = enc.parent / "r.yaml"
    rotated.write_bytes(r.stdout)
    assert run_sops(["decrypt", str(rotated)], env).stdout == SOPS_PLAIN


def test_rotate_in_place_with_added_and_removed_keys(
    enc: Path, clean_env: dict[str, str], age_keys: list[AgeKey], pysops: Any
) -> None:
    env = age_env(clean_env, age_keys[0])
    r = pysops(["rotate", "-i", "--add-age", f"{age_keys[1].recipient},{age_keys[2].recipient}", str(enc)], env)
    assert r.code == 0, r.stderr
    text = enc.read_text()
    assert all(k.recipient in text for k in age_keys)
    r = pysops(["rotate", "-i", "--rm-age", age_keys[0].recipient, str(enc)], env)
    assert r.code == 0, r.stderr
    assert age_keys[0].recipient not in enc.read_text()
    assert run_sops(["decrypt", str(enc)], age_env(clean_env, age_keys[0])).code == 128
    _sops_decrypts(enc, age_env(clean_env, age_keys[2]))


def test_rotate_output_file_and_errors(
    enc: Path, tmp_path: Path, clean_env: dict[str, str], age_keys: list[AgeKey], pysops: Any
) -> None:
    env = age_env(clean_env, age_keys[0])
    out = tmp_path / "out.yaml"
    assert pysops(["rotate", "--output", str(out), str(enc)], env).code == 0
    _sops_decrypts(out, env)
    r = pysops(["rotate", "-i", "--output", str(out), str(enc)], env)
    assert r.code == 8
    missing = tmp_path / "missing.yaml"
    r = pysops(["rotate", "--add-age", age_keys[1].recipient, str(missing)], env)
    assert r.code == 49 and "use the `edit` subcommand instead" in r.stderr
    assert pysops(["rotate", str(missing)], env).code == 2
    before = enc.read_bytes()
    r = pysops(["rotate", "-i", "--rm-age", age_keys[0].recipient, str(enc)], env)
    assert r.code == 1 and "without keys" in r.stderr
    r = pysops(["rotate", "-i", str(enc)], age_env(clean_env, age_keys[1]))  # no identity for the file
    assert r.code == 128
    assert enc.read_bytes() == before


def test_rotate_keeps_key_groups(enc: Path, clean_env: dict[str, str], age_keys: list[AgeKey], pysops: Any) -> None:
    env = age_env(clean_env, *age_keys)
    assert pysops(["groups", "add", "-i", "-f", str(enc), "--age", age_keys[1].recipient], env).code == 0
    assert pysops(["rotate", "-i", "--add-age", age_keys[2].recipient, str(enc)], env).code == 0
    text = enc.read_text()
    assert "shamir_threshold: 2" in text and text.count("recipient:") == 3
    _sops_decrypts(enc, env)
    assert run_sops(["decrypt", str(enc)], age_env(clean_env, age_keys[0], age_keys[2])).code == 128


@pytest.mark.parametrize(
    "command",
    [
        ["rotate", "-i", "--add-pgp", "0000000000000000000000000000000000000000"],
        ["updatekeys", "-y"],
        ["groups", "add", "-i", "--pgp", "0000000000000000000000000000000000000000", "--file"],
    ],
)
def test_failing_key_service_leaves_the_file_untouched(
    command: list[str], tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    """A recipient whose wrap fails (a PGP key gpg does not have: the key service refuses)
    makes the command fail with one error line; the encrypted file keeps its exact bytes."""
    gnupg = tmp_path / "empty-gnupg"
    gnupg.mkdir(mode=0o700)
    env = {**clean_env, "SOPS_AGE_KEY": age_key.identity, "GNUPGHOME": str(gnupg)}
    f = tmp_path / "s.yaml"
    f.write_text("a: 1\nb: two\n")
    assert pysops(["encrypt", "-i", "--age", age_key.recipient, str(f)], env).code == 0
    (tmp_path / ".sops.yaml").write_text(
        f"creation_rules:\n  - age: {age_key.recipient}\n    pgp: '0000000000000000000000000000000000000000'\n"
    )
    before = f.read_bytes()
    r = pysops([*command, str(f)], env)
    assert r.code != 0
    errors = [line for line in r.stderr.splitlines() if line.startswith("pysops: error:")]
    assert len(errors) == 1 and "pgp" in errors[0] and "Traceback" not in r.stderr
    assert f.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [".sops.yaml", "empty-gnupg", "home", "s.yaml", "work"]
