"""dotenv against the sops 3.11 binary: generated dialect variants (quotes, ``export``, comments,
empty values and keys, ``=`` in values, duplicate keys, no final newline, CRLF, unicode) both ways,
and the inputs both tools refuse."""

from __future__ import annotations

import os
import random
import subprocess

import pyrage
import pytest
from tests.conftest import sops_binary
from tests.formats.dialects import Checker, dotenv_file, real_sops

from pysops import api
from pysops.errors import PysopsError
from pysops.keys.age import AgeRecipient

DIALECT_CASES = int(os.environ.get("PYSOPS_DIALECT_CASES", "20"))


@pytest.mark.parametrize("exact", [True, False])
def test_generated_dotenv_dialects_agree_with_sops(exact: bool) -> None:
    """(a) pysops encrypt -> sops decrypt = sops's own; (b) sops encrypt -> pysops decrypt, same
    values and comments; (c) pysops round trip byte for byte (a missing final newline is added).
    A fixed seed and budget; ``python -m tests.formats.dialects dotenv COUNT SEED`` explores."""
    checker = Checker(real_sops(sops_binary()), pyrage.x25519.Identity.generate())
    for index in range(DIALECT_CASES // 2):
        checker.check(dotenv_file(random.Random(f"dotenv:{exact}:{index}"), exact=exact).encode(), "dotenv", exact)
    assert checker.failures == []


@pytest.mark.parametrize(
    "plain, code",
    [
        (b"A=1\nNOEQ\n", 2),  # a line without "="
        (b"A=1\r\n\r\nB=2\r\n", 2),  # a CRLF blank line holds "\r"
        (b"A=1\n \n", 2),  # a line of spaces
        (b"sops_x=1\n", 203),  # a metadata key in a plain file
        (b"", 0),
        (b"=v\n =w\n", 0),  # empty and blank keys
    ],
)
def test_dotenv_inputs_are_refused_where_sops_refuses_them(plain: bytes, code: int) -> None:
    identity = pyrage.x25519.Identity.generate()
    env = {"PATH": os.environ.get("PATH", ""), "HOME": "/nonexistent", "SOPS_DISABLE_VERSION_CHECK": "1"}
    args = ["encrypt", "--age", str(identity.to_public()), "--input-type", "dotenv", "--output-type", "dotenv"]
    proc = subprocess.run([real_sops(sops_binary()), *args, "/dev/stdin"], input=plain, env=env, capture_output=True)
    assert proc.returncode == code
    options = api.EncryptOptions(key_groups=[[AgeRecipient(str(identity.to_public()))]])
    if code == 0:
        api.encrypt_bytes(plain, options, input_format="dotenv")
    else:
        with pytest.raises(PysopsError) as caught:
            api.encrypt_bytes(plain, options, input_format="dotenv")
        assert caught.value.exit_code == code
