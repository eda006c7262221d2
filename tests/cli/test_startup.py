"""`pysops decrypt` of a small file stays light: no typer, rich, gnupg or cloud SDK imports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import AgeKey

FORBIDDEN = (
    "typer",
    "rich",
    "click",
    "gnupg",
    "boto3",
    "botocore",
    "google",
    "azure",
    "hvac",
    "pkcs11",
    "pydantic",
    "pysops.cli.app",
    "pysops.formats.json",
    "pysops.formats.dotenv",
    "pysops.formats.ini",
    # OpenSSL through hashlib/hmac and cryptography's Python layer cost more than the rest
    # of the run; the MAC uses CPython's built-in SHA-512, AES-GCM the compiled binding
    "hashlib",
    "_hashlib",
    "hmac",
    "cryptography.utils",
    "cryptography.hazmat.primitives",
)


def test_decrypt_imports_only_what_it_needs(
    tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    plain = tmp_path / "small.yaml"
    plain.write_text("a: 1\nb: secret\n")
    enc = pysops(["encrypt", "--age", age_key.recipient, str(plain)], clean_env)
    assert enc.code == 0, enc.stderr
    path = tmp_path / "small.enc.yaml"
    path.write_bytes(enc.stdout)
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "pysops", "decrypt", str(path)],
        capture_output=True,
        env={**clean_env, "SOPS_AGE_KEY": age_key.identity},
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "a: 1\nb: secret\n"
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    leaked = sorted(m for m in imported if m.split(".")[0] in FORBIDDEN or m in FORBIDDEN)
    assert leaked == []


def test_encrypt_does_not_import_typer(tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey) -> None:
    plain = tmp_path / "small.json"
    plain.write_text('{"a": "b"}\n')
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "pysops", "encrypt", "--age", age_key.recipient, str(plain)],
        capture_output=True,
        env=clean_env,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert '"data"' not in proc.stdout and "ENC[AES256_GCM" in proc.stdout
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert not {m for m in imported if m.split(".")[0] in ("typer", "rich", "click", "pydantic")}


def test_dotenv_round_trip_imports_no_typing_regex_or_datetime(
    tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey
) -> None:
    """typing, re (with enum), datetime and OpenSSL's hashlib are a third of a small file's run:
    encrypting and decrypting a dotenv file needs none of them (pysops._typing, _lazyre)."""
    plain = tmp_path / "small.env"
    plain.write_text("A=1\n# note\nB=two words\n")
    env = {**clean_env, "SOPS_AGE_KEY": age_key.identity}
    outputs = []
    for args in (["encrypt", "--age", age_key.recipient, str(plain)], ["decrypt", str(tmp_path / "enc.env")]):
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "pysops", *args],
            capture_output=True,
            env=env,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        outputs.append(proc.stdout)
        (tmp_path / "enc.env").write_text(proc.stdout)
        imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
        assert imported & {"typing", "re", "enum", "datetime", "hashlib", "_hashlib"} == set(), args[0]
        assert "pyrage" in imported  # the listing is complete
    assert "ENC[AES256_GCM" in outputs[0] and outputs[1] == plain.read_text()


def test_console_exit_without_teardown_flushes_everything(
    tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    """console_main leaves the document to the process exit and skips the interpreter's
    teardown: output larger than a pipe buffer still arrives whole, with the right status; the
    in-process runner keeps nothing."""
    from pysops import cli

    plain = tmp_path / "big.env"
    plain.write_text("".join(f"KEY_{i}=value number {i}\n" for i in range(5000)))
    env = {**clean_env, "SOPS_AGE_KEY": age_key.identity}
    enc = subprocess.run(
        [sys.executable, "-m", "pysops", "encrypt", "--age", age_key.recipient, str(plain)],
        capture_output=True,
        env=env,
        timeout=60,
    )
    assert enc.returncode == 0 and enc.stdout.count(b"ENC[AES256_GCM") == 5001  # values + MAC
    (tmp_path / "big.enc.env").write_bytes(enc.stdout)
    dec = subprocess.run(
        [sys.executable, "-m", "pysops", "decrypt", str(tmp_path / "big.enc.env")],
        capture_output=True,
        env=env,
        timeout=60,
    )
    assert dec.returncode == 0 and dec.stdout == plain.read_bytes() and dec.stderr == b""
    bad = subprocess.run(
        [sys.executable, "-m", "pysops", "decrypt", str(plain)], capture_output=True, env=env, timeout=60
    )
    assert bad.returncode == 1 and bad.stdout == b"" and bad.stderr.startswith(b"pysops: error: ")
    assert pysops(["decrypt", str(tmp_path / "big.enc.env")], env).code == 0
    assert cli._kept is None


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_unwritable_standard_output_is_one_error_line(
    tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey
) -> None:
    """stdout on a full device (sops: exit 1, "no space left on device") or closed: exit 1 and
    one `pysops: error:` line, not a traceback."""
    plain = tmp_path / "a.env"
    plain.write_text("A=1\n")
    args = [sys.executable, "-m", "pysops", "encrypt", "--age", age_key.recipient, str(plain)]
    with open("/dev/full", "wb") as full:
        proc = subprocess.run(args, stdout=full, stderr=subprocess.PIPE, env=clean_env, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr == b"pysops: error: cannot write to standard output: No space left on device\n"
    closed = subprocess.run(["sh", "-c", '"$@" >&-', "sh", *args], stderr=subprocess.PIPE, env=clean_env, timeout=60)
    assert closed.returncode == 1
    assert closed.stderr.startswith(b"pysops: error: cannot write the output: standard output is closed\n")
