"""The CLI called like a function (real parsing, real exit codes), with an isolated environment."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import AgeKey, run_sops

PLAIN_JSON = '{\n  "user": "alice",\n  "password": "hunter2",\n  "list": [1, "two"]\n}\n'


@pytest.fixture
def enc_json(tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any) -> Path:
    plain = tmp_path / "s.json"
    plain.write_text(PLAIN_JSON)
    out = tmp_path / "s.enc.json"
    r = pysops(["encrypt", "--age", age_key.recipient, "--output", str(out), str(plain)], clean_env)
    assert r.code == 0, r.stderr
    return out


def test_filestatus(enc_json: Path, tmp_path: Path, clean_env: dict[str, str], pysops: Any) -> None:
    r = pysops(["filestatus", str(enc_json)], clean_env)
    assert (r.code, r.stdout) == (0, b'{"encrypted":true}\n')
    plain = tmp_path / "s.json"
    r = pysops(["filestatus", str(plain)], clean_env)
    assert (r.code, r.stdout) == (0, b'{"encrypted":false}\n')
    assert run_sops(["filestatus", str(enc_json)], clean_env).stdout.strip() == b'{"encrypted":true}'


def test_extract(enc_json: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    env = {**clean_env, "SOPS_AGE_KEY": age_key.identity}
    r = pysops(["decrypt", "--extract", '["password"]', str(enc_json)], env)
    assert (r.code, r.stdout) == (0, b"hunter2")
    r = pysops(["decrypt", "--extract", '["list"][0]', str(enc_json)], env)
    assert (r.code, r.stdout) == (0, b"1")
    assert run_sops(["decrypt", "--extract", '["list"][0]', str(enc_json)], env).stdout == b"1"
    r = pysops(["decrypt", "--extract", '["missing"]', str(enc_json)], env)
    assert r.code == 1 and r.stdout == b""
    r = pysops(["decrypt", "--extract", "password", str(enc_json)], env)
    assert r.code == 91


def test_in_place_round_trip_keeps_mode(
    tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    env = {**clean_env, "SOPS_AGE_KEY": age_key.identity}
    f = tmp_path / "x.json"
    f.write_text(PLAIN_JSON)
    f.chmod(0o640)
    assert pysops(["encrypt", "-i", "--age", age_key.recipient, str(f)], env).code == 0
    assert "ENC[AES256_GCM" in f.read_text()
    assert stat.S_IMODE(f.stat().st_mode) == 0o640
    assert pysops(["decrypt", "-i", str(f)], env).code == 0
    assert f.read_text() == PLAIN_JSON
    assert stat.S_IMODE(f.stat().st_mode) == 0o640


def test_plaintext_output_file_is_private(
    enc_json: Path, tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    env = {**clean_env, "SOPS_AGE_KEY": age_key.identity}
    out = tmp_path / "plain-out.json"
    assert pysops(["decrypt", "--output", str(out), str(enc_json)], env).code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert out.read_text() == PLAIN_JSON


def test_stdin_needs_filename_override_or_type(clean_env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    r = pysops(["encrypt", "--age", age_key.recipient], clean_env, stdin=PLAIN_JSON.encode())
    assert r.code == 8
    r = pysops(
        ["encrypt", "--age", age_key.recipient, "--filename-override", "x.json"], clean_env, stdin=PLAIN_JSON.encode()
    )
    assert r.code == 0 and b"ENC[AES256_GCM" in r.stdout
    env = {**clean_env, "SOPS_AGE_KEY": age_key.identity}
    d = pysops(["decrypt", "--input-type", "json", "--output-type", "json", "-"], env, stdin=r.stdout)
    assert d.code == 0 and d.stdout == PLAIN_JSON.encode()


def test_errors_are_one_line_with_exit_codes(
    enc_json: Path, tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    r = pysops(["decrypt", str(tmp_path / "nope.json")], clean_env)
    assert r.code == 100 and r.stderr.startswith("pysops: error: ")
    plain = tmp_path / "s.json"
    r = pysops(["decrypt", str(plain)], clean_env)
    assert r.code == 1 and "metadata not found" in r.stderr
    r = pysops(["encrypt", "--age", age_key.recipient, str(enc_json)], clean_env)
    assert r.code == 203
    r = pysops(["decrypt", str(enc_json)], clean_env)  # no identity anywhere
    assert r.code == 128 and "hunter2" not in r.stderr and r.stdout == b""
    r = pysops(["decrypt", "-i", "--output", "x", str(enc_json)], clean_env)
    assert r.code == 8
    r = pysops(
        ["encrypt", "--age", age_key.recipient, "--encrypted-regex", "a", "--unencrypted-regex", "b", str(plain)],
        clean_env,
    )
    assert r.code == 8
    r = pysops(["decrypt", "--decryption-order", "age,age", str(enc_json)], clean_env)
    assert r.code == 112
    empty = tmp_path / "empty.json"
    empty.write_text("")
    r = pysops(["encrypt", "--age", age_key.recipient, str(empty)], clean_env)
    assert r.code == 2  # an empty JSON file: sops 3.11 exits 2 ("unmarshal input data: EOF"); 92 is YAML's
    bad = tmp_path / "bad.json"
    bad.write_text('{"a": ')
    r = pysops(["encrypt", "--age", age_key.recipient, str(bad)], clean_env)
    assert r.code == 2
    r = pysops(["encrypt", str(plain)], clean_env)
    assert r.code == 1 and "hint" in r.stderr
    for result in (r,):
        assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) <= 2
    r = pysops(["decrypt", "--bogus", str(plain)], clean_env)
    assert r.code == 1 and r.stderr.startswith("pysops: error: ")


def test_unknown_flag_and_help(clean_env: dict[str, str], pysops: Any) -> None:
    r = pysops(["--help"], clean_env)
    assert r.code == 0 and b"encrypt" in r.stdout and b"decrypt" in r.stdout
    r = pysops(["decrypt", "--help"], clean_env)
    assert r.code == 0 and b"--extract" in r.stdout


def test_fast_path_flags_match_typer(clean_env: dict[str, str], pysops: Any) -> None:
    """The typer-free decrypt path knows exactly the options the typer command declares."""
    import typer

    from pysops.cli.app import app
    from pysops.cli.fast import DECRYPT_FLAGS, encrypt_flags

    for verb, flags in (("decrypt", DECRYPT_FLAGS), ("encrypt", encrypt_flags())):
        command = typer.main.get_command(app).commands[verb]  # type: ignore[attr-defined]
        declared = {opt: not p.is_flag for p in command.params for opt in p.opts if opt.startswith("-")}
        declared.pop("--help", None)
        declared.pop("-h", None)
        assert declared == flags, verb


def test_legacy_flags(enc_json: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    env = {**clean_env, "SOPS_AGE_KEY": age_key.identity}
    r = pysops(["-d", str(enc_json)], env)
    assert r.code == 0 and json.loads(r.stdout)["password"] == "hunter2"


def test_keygen(tmp_path: Path, clean_env: dict[str, str], pysops: Any) -> None:
    target = tmp_path / "keys" / "id.txt"
    r = pysops(["keygen", "-o", str(target)], clean_env)
    assert r.code == 0
    recipient = r.stdout.decode().strip()
    assert recipient.startswith("age1")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    text = target.read_text()
    assert f"# public key: {recipient}" in text and "AGE-SECRET-KEY-1" in text
    assert pysops(["keygen", "-o", str(target)], clean_env).code == 1  # never overwrites
    # The default location is where sops looks, and decrypt finds it there.
    r = pysops(["keygen"], clean_env)
    assert r.code == 0
    default = Path(clean_env["HOME"]) / ".config" / "sops" / "age" / "keys.txt"
    assert default.exists() and oct(default.stat().st_mode & 0o777) == "0o600"
    plain = tmp_path / "k.json"
    plain.write_text('{"a": "b"}\n')
    enc = pysops(["encrypt", "--age", r.stdout.decode().strip(), str(plain)], clean_env)
    (tmp_path / "k.enc.json").write_bytes(enc.stdout)
    assert pysops(["decrypt", str(tmp_path / "k.enc.json")], clean_env).stdout == b'{"a": "b"}\n'
    # and sops finds it there too
    theirs = run_sops(["decrypt", str(tmp_path / "k.enc.json")], clean_env)
    assert theirs.code == 0, theirs.stderr
    assert json.loads(theirs.stdout) == {"a": "b"}
    assert os.environ.get("SOPS_AGE_KEY") is None
