"""Tagged block scalars and ``!!binary`` data, as go-yaml (sops) reads them: found by hand-written
inputs outside the fuzzer's generator (issue 10). Each case is compared with the real sops."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from tests.helpers import AGE_ENV, AGE_RECIPIENT, SOPS_EXE, encrypt_yaml, sops_yaml
from tests.helpers import yaml_data as data_of

from pysops import api
from pysops.errors import ParseError
from pysops.formats import yaml as yaml_store
from pysops.formats.yamlcore import load_data

pytestmark = pytest.mark.skipif(not SOPS_EXE.exists(), reason="sops binary not installed")


@pytest.mark.parametrize(
    ("body", "value"),
    [
        (b"!!binary |\n  aGVsbG8g\n  d29ybGQ=\n", "hello world"),  # Go skips the line breaks
        (b"!!int |-\n  42\n", 42),
        (b"!!float >-\n  1.5\n", 1.5),
        (b"!!bool |-\n  true\n", True),
        (b"!!null |-\n  ~\n", None),
        (b"!!str |-\n  42\n", "42"),
        (b"!custom |-\n  42\n", "42"),  # an unknown tag: the text, a string
        (b"! |-\n  42\n", "42"),  # the non-specific tag on a block: a string
    ],
)
def test_a_tagged_block_scalar_is_typed_by_its_tag_as_in_sops(body: bytes, value: object, tmp_path: Path) -> None:
    """go-yaml resolves a tagged block scalar as it resolves a tagged quoted one; pysops read
    every block scalar as a string, so `!!binary |` data came back as its base64 text."""
    text = b"a: " + body + b"b: 1\n"
    assert load_data(text.decode()) == {"a": value, "b": 1}
    expected = data_of(sops_yaml(tmp_path, sops_yaml(tmp_path, text, "encrypt", "--age", AGE_RECIPIENT), "decrypt"))
    assert expected == [{"a": value, "b": 1}]
    ours = encrypt_yaml(text)
    assert data_of(sops_yaml(tmp_path, ours, "decrypt")) == expected  # sops reads pysops's file
    decrypted = api.decrypt_bytes(ours, input_format="yaml", options=api.DecryptOptions(env=AGE_ENV))
    assert data_of(decrypted) == expected


@pytest.mark.parametrize(
    "body",
    [
        b'!!binary "aGVs bG8="\n',  # a space: Go's decoder skips only line breaks
        b"!!binary aGVs bG8=\n",
        b"!!binary >\n  aGVs\n  bG8=\n",  # folding makes the line break a space
        b"!!binary |-\n  !!!\n",
        b"!!int |\n  42\n",  # "42\n" is no int
    ],
)
def test_a_value_that_is_not_what_its_tag_says_is_refused_as_by_sops(body: bytes, tmp_path: Path) -> None:
    text = b"x: 1\na: " + body
    (tmp_path / "f.yaml").write_bytes(text)
    result = subprocess.run(
        [str(SOPS_EXE), "encrypt", "--age", AGE_RECIPIENT, "f.yaml"], capture_output=True, env=AGE_ENV, cwd=tmp_path
    )
    assert result.returncode == 2, result
    with pytest.raises(ParseError) as info:
        yaml_store.parse(text)
    assert info.value.exit_code == 2
    assert "line 2" in info.value.message
    # the value is never shown (it may be a secret)
    assert "aGVs" not in info.value.message and "42" not in info.value.message


@pytest.mark.parametrize(
    "text",
    [
        b"k_unencrypted: !!binary |-\n",
        b"k_unencrypted: !!binary |-\n  aGk=\nb: 1\n",
        b"k_unencrypted: !!str |-  # c\n  x\nb: 1\n",
    ],
)
def test_set_replaces_a_tagged_block_scalar_whole(text: bytes, tmp_path: Path, pysops: Any) -> None:
    """A tagged block scalar left in clear: its text starts at its tag, and ``set`` wrote the new
    value before the tag (``k: x!!binary |-``), which the read-back refused (fuzzer 5550:35,
    exit 1)."""
    path = tmp_path / "f.yaml"
    path.write_bytes(encrypt_yaml(text))
    result = pysops(["set", str(path), '["k_unencrypted"]', '"x"'], env=AGE_ENV)
    assert result.code == 0, result.stderr
    expected = {**data_of(text)[0], "k_unencrypted": "x"}  # type: ignore[dict-item]
    assert data_of(sops_yaml(tmp_path, path.read_bytes(), "decrypt")) == [expected]
