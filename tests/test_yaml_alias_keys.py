"""Aliases used as mapping keys (``a: &k key`` then ``*k : 2``), found by hand-written inputs
outside the fuzzer's generator (issue 10): once the anchored value is encrypted, the alias would
name the ciphertext, so the key is written out, as sops writes every alias. pysops's read-back
refused the file (exit 1); sops writes it. Compared with the real sops binary."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from tests.helpers import AGE_ENV, AGE_RECIPIENT, SOPS_EXE, encrypt_yaml, sops_yaml
from tests.helpers import yaml_data as data_of

from pysops import api
from pysops.errors import ParseError, PysopsError
from pysops.formats import yaml as yaml_store

pytestmark = pytest.mark.skipif(not SOPS_EXE.exists(), reason="sops binary not installed")


@pytest.mark.parametrize(
    "text",
    [
        b"a: &k key\n*k : 2\n",
        b'a: &k "key x"\n*k : 2\n',
        b'a: &k "#k"\n*k : 2\n',  # a key that must be quoted
        b"a: &k key\nm: {*k : 2}\n",  # in a flow mapping
        b"a_unencrypted: &k key\n*k : 2\n",  # the anchored value stays in clear: the alias stays
    ],
)
def test_an_alias_key_keeps_its_key_when_the_anchored_value_is_encrypted(text: bytes, tmp_path: Path) -> None:
    expected = data_of(sops_yaml(tmp_path, sops_yaml(tmp_path, text, "encrypt", "--age", AGE_RECIPIENT), "decrypt"))
    assert expected == data_of(text)
    ours = encrypt_yaml(text)  # read back and verified before it is returned
    assert data_of(sops_yaml(tmp_path, ours, "decrypt")) == expected
    decrypted = api.decrypt_bytes(ours, input_format="yaml", options=api.DecryptOptions(env=AGE_ENV))
    assert data_of(decrypted) == expected


@pytest.mark.parametrize("text", [b"b: &m {x: 1}\n*m : 2\n", b"b: &m [1]\n*m : 2\n"])
def test_an_alias_key_to_a_collection_is_refused_with_sops_exit_code(text: bytes, tmp_path: Path) -> None:
    (tmp_path / "f.yaml").write_bytes(text)
    sops = subprocess.run(
        [str(SOPS_EXE), "encrypt", "--age", AGE_RECIPIENT, "f.yaml"], capture_output=True, env=AGE_ENV, cwd=tmp_path
    )
    with pytest.raises(ParseError) as info:
        yaml_store.parse(text)
    assert info.value.exit_code == sops.returncode == 2
    assert "cannot unmarshal" in info.value.message and "line 2" in info.value.message


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (b"p: &s 1e+06\n*s : 1\n", 23),  # a non-string key: refused when the tree is walked
        (b"l:\n- &s 1.5\n- {*s : 1}\n", 23),
        # a later syntax error is reported first, as by sops
        (b"a:\n  -\n    - &s 1\n  -\n    *s : 1\n   - b\n", 2),
    ],
)
def test_an_alias_key_to_a_non_string_is_refused_as_by_sops(text: bytes, code: int, tmp_path: Path) -> None:
    (tmp_path / "f.yaml").write_bytes(text)
    sops = subprocess.run(
        [str(SOPS_EXE), "encrypt", "--age", AGE_RECIPIENT, "f.yaml"], capture_output=True, env=AGE_ENV, cwd=tmp_path
    )
    assert sops.returncode == code, sops.stderr
    with pytest.raises(PysopsError) as info:
        encrypt_yaml(text)
    assert info.value.exit_code == code
