"""A block scalar left in clear that ends the file without a final line break (fuzzer 31337:496,
``pysops-refuses:encrypt``): its value has no final line break whatever its chomping says, and
the metadata block that follows it must not give it one. pysops's read-back refused the file
(exit 1, "does not read back"); sops writes it. Compared with the real sops binary."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.helpers import AGE_ENV, AGE_RECIPIENT, SOPS_EXE, encrypt_yaml, sops_yaml
from tests.helpers import yaml_data as data_of

from pysops import api

pytestmark = pytest.mark.skipif(not SOPS_EXE.exists(), reason="sops binary not installed")


@pytest.mark.parametrize(
    "text",
    [
        b"note_unencrypted: >\n    # not a comment",
        b"a_unencrypted: |\n  x\n  y",
        b"a_unencrypted: |+\n  x",
        b"a_unencrypted: |+2\n   x",
        b"a_unencrypted: !!str |\n  x",
        b"l:\n- x_unencrypted: >\n    y",
        b"a: 1\nb_unencrypted: |2\n   x\n  y",
        b"a_unencrypted: |-\n  x",  # already stripped: unchanged
    ],
)
def test_a_clear_block_scalar_at_the_end_of_a_file_without_final_newline_keeps_its_value(
    text: bytes, tmp_path: Path
) -> None:
    expected = data_of(sops_yaml(tmp_path, sops_yaml(tmp_path, text, "encrypt", "--age", AGE_RECIPIENT), "decrypt"))
    ours = encrypt_yaml(text)  # read back and verified before it is returned
    assert data_of(sops_yaml(tmp_path, ours, "decrypt")) == expected
    decrypted = api.decrypt_bytes(ours, input_format="yaml", options=api.DecryptOptions(env=AGE_ENV))
    assert data_of(decrypted) == expected == data_of(text)
    # only the chomping indicator changed, the block stays a block
    assert decrypted.count(b"\n") == text.count(b"\n") + 1
