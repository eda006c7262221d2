"""YAML data and refusal classes of the differential fuzzer (issue 10, seed 1208) on pysops's own
files, one named regression each, checked against the real sops binary."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pyrage
import pytest
from tests.conftest import Result
from tests.helpers import yaml_data as data_of

SOPS = Path(sys.executable).parent / "sops"
pytestmark = pytest.mark.skipif(not SOPS.exists(), reason="sops binary not installed")

IDENTITY = pyrage.x25519.Identity.generate()
RECIPIENT = str(IDENTITY.to_public())
ENV = dict(os.environ, SOPS_AGE_KEY=str(IDENTITY), SOPS_DISABLE_VERSION_CHECK="1")


def sops(args: list[str], cwd: Path) -> bytes:
    result = subprocess.run([str(SOPS), *args], capture_output=True, env=ENV, timeout=60, cwd=cwd)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


# --- pysops-refuses:unset / e.unset.data: unset moves a selecting comment onto other values -------


@pytest.mark.parametrize(
    ("option", "text", "clear", "secret"),
    [
        # 1208:580 (CRLF there): the marker now precedes z, whose values become encrypted
        ("encrypted_comment_regex", b'# sops:enc\r\nk: >-\r\nz:\r\n    - p: "multi\\nline\\n"\r\n', None, b"p:"),
        ("encrypted_comment_regex", b"a: 1\n# sops:enc\nk: x\nz: secret\n", b"a: 1", b"z:"),
        # the marker now precedes an encrypted value, which becomes clear
        ("unencrypted_comment_regex", b"a: 1\n# sops:noenc\nk: 2\nz: secret\n", b"z: secret", b"a:"),
    ],
)
def test_unset_of_the_key_after_a_selecting_comment_selects_the_next_key_as_sops(
    option: str, text: bytes, clear: bytes | None, secret: bytes, tmp_path: Path, pysops: Callable[..., Result]
) -> None:
    """sops keeps the comment of an unset key, so it selects the next key's values, which sops
    re-encrypts (or writes clear). pysops's patched text kept those values as they were: it
    refused its own file (exit 25, "should be encrypted but is not") or read an ENC[...] string
    as the clear value (data lost). Such a change is now emitted afresh, as sops does."""
    (tmp_path / ".sops.yaml").write_text(f"creation_rules:\n  - age: {RECIPIENT}\n    {option}: 'sops:'\n")
    ours, theirs = tmp_path / "p.yaml", tmp_path / "s.yaml"
    (tmp_path / "t.yaml").write_bytes(text)
    result = pysops(["encrypt", "--output", str(ours), str(tmp_path / "t.yaml")], env=ENV)
    assert result.code == 0, result.stderr
    theirs.write_bytes(sops(["encrypt", "t.yaml"], tmp_path))
    result = pysops(["unset", str(ours), '["k"]'], env=ENV)
    assert result.code == 0, result.stderr
    sops(["unset", theirs.name, '["k"]'], tmp_path)
    expected = data_of(sops(["decrypt", theirs.name], tmp_path))
    assert data_of(sops(["decrypt", ours.name], tmp_path)) == expected
    assert data_of(pysops(["decrypt", str(ours)], env=ENV).stdout) == expected
    assert "k" not in expected[0]
    # the same values are encrypted in both files
    for tool_file in (ours.read_bytes(), theirs.read_bytes()):
        lines = tool_file.split(b"\nsops:")[0].splitlines()
        if clear is not None:
            assert clear in lines
        assert any(secret + b" ENC[" in line for line in lines)


# --- exit-code:encrypt: which error sops reports first -------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (b"api_key:\n  - 9223372036854775808\n  - *s2\n", 2),  # 4242:87: unknown anchor
        (b"a: 9223372036854775808\nb: {c: 1\n", 2),  # 1208:904: a syntax error after it
        (b"a: 9223372036854775808\na: 1\n", 2),  # a duplicate key after it
        (b"a: 9223372036854775808\n1: x\n", 23),
        (b"a: [1, 9223372036854775808]\n", 23),
    ],
)
def test_an_integer_beyond_int64_is_refused_after_the_whole_file_is_read(
    text: bytes, code: int, tmp_path: Path, pysops: Callable[..., Result]
) -> None:
    """sops refuses an integer beyond int64 (exit 23) when it walks the tree, after the whole
    file decoded: a later syntax error, unknown anchor or duplicate key is reported (exit 2).
    pysops refused it as soon as it read it."""
    (tmp_path / "t.yaml").write_bytes(text)
    theirs = subprocess.run(
        [str(SOPS), "encrypt", "--age", RECIPIENT, "t.yaml"], capture_output=True, env=ENV, timeout=60, cwd=tmp_path
    )
    assert theirs.returncode == code, theirs.stderr.decode()
    result = pysops(["encrypt", "--age", RECIPIENT, str(tmp_path / "t.yaml")], env=ENV)
    assert result.code == code, result.stderr
    assert result.stdout == b""


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (b"Null\n", 0),  # 1208:114 (c.bytes: docs/formats.md#yaml-null-root)
        (b"!!null ~\n", 0),
        (b'!!null ""\n', 0),
        (b"! null\n", 0),
        (b"&a !!null\n", 0),
        (b"!!null foo\n", 2),
        (b"! ''\n", 2),
        (b"!!str ~\n", 2),
        (b"''\n", 2),
    ],
)
def test_a_null_document_is_an_empty_mapping_like_sops(
    text: bytes, code: int, tmp_path: Path, pysops: Callable[..., Result]
) -> None:
    """go-yaml reads a tagged null document (`!!null ~`, `! null`) as null, which sops takes as an
    empty mapping (written `{}`); pysops refused every tagged or quoted scalar document."""
    (tmp_path / "t.yaml").write_bytes(text)
    theirs = subprocess.run(
        [str(SOPS), "encrypt", "--age", RECIPIENT, "t.yaml"], capture_output=True, env=ENV, timeout=60, cwd=tmp_path
    )
    assert theirs.returncode == code, theirs.stderr.decode()
    result = pysops(["encrypt", "--age", RECIPIENT, str(tmp_path / "t.yaml")], env=ENV)
    assert result.code == code, result.stderr
    if code == 0:
        (tmp_path / "s.yaml").write_bytes(theirs.stdout)
        (tmp_path / "p.yaml").write_bytes(result.stdout)
        assert sops(["decrypt", "p.yaml"], tmp_path) == sops(["decrypt", "s.yaml"], tmp_path) == b"{}\n"
        assert pysops(["decrypt", str(tmp_path / "p.yaml")], env=ENV).stdout == b"{}\n"
