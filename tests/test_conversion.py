"""Format conversion on decrypt (and encrypt) with --input-type/--output-type, checked against sops."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import AgeKey, run_sops
from tests.helpers import age_env

YAML = b"a: 1\nb: [x, 2.5, true]\nc:\n  d: text\nn: null\n"


def _encrypt(pysops: Any, plain: Path, data: bytes, out: str, age_key: AgeKey, env: dict[str, str]) -> Path:
    """``data`` written to ``plain``, encrypted by the CLI for ``age_key`` into ``out`` beside it."""
    plain.write_bytes(data)
    r = pysops(["encrypt", "--age", age_key.recipient, str(plain)], env)
    assert r.code == 0, r.stderr
    path = plain.parent / out
    path.write_bytes(r.stdout)
    return path


@pytest.fixture
def enc_yaml(tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any) -> tuple[Path, dict[str, str]]:
    return _encrypt(pysops, tmp_path / "s.yaml", YAML, "e.yaml", age_key, clean_env), age_env(clean_env, age_key)


def test_yaml_to_json_matches_sops(enc_yaml: tuple[Path, dict[str, str]], pysops: Any) -> None:
    path, env = enc_yaml
    ours = pysops(["decrypt", "--output-type", "json", str(path)], env)
    theirs = run_sops(["decrypt", "--output-type", "json", str(path)], env)
    assert ours.code == 0, ours.stderr
    assert ours.stdout == theirs.stdout  # fresh emission follows sops's JSON layout
    assert json.loads(ours.stdout) == {"a": 1, "b": ["x", 2.5, True], "c": {"d": "text"}, "n": None}


def test_json_to_yaml(tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    env = age_env(clean_env, age_key)
    path = _encrypt(pysops, tmp_path / "s.json", b'{"a": 1, "b": ["x", {"c": "y"}]}\n', "e.json", age_key, env)
    ours = pysops(["decrypt", "--output-type", "yaml", str(path)], env)
    theirs = run_sops(["decrypt", "--output-type", "yaml", str(path)], env)
    assert ours.code == 0, ours.stderr
    # Same data. (pysops does not quote `y`, which YAML 1.2 reads as a string; JSON integers are
    # int64 in both outputs here because pysops wrote the file with `type:int`.)
    from pysops.document import to_python
    from pysops.formats import get_store

    def data(text: bytes) -> Any:
        return to_python(get_store("yaml").parse(text).branches[0])

    assert data(ours.stdout) == data(theirs.stdout) == {"a": 1, "b": ["x", {"c": "y"}]}
    assert isinstance(data(ours.stdout)["a"], int) and ours.stdout.startswith(b"a: 1\n")


def test_nested_yaml_to_dotenv_is_refused(enc_yaml: tuple[Path, dict[str, str]], pysops: Any) -> None:
    path, env = enc_yaml
    r = pysops(["decrypt", "--output-type", "dotenv", str(path)], env)
    assert r.code == 4 and r.stdout == b"" and "text" not in r.stderr
    assert run_sops(["decrypt", "--output-type", "dotenv", str(path)], env).code == 4


def test_dotenv_values_are_unquoted_when_they_leave_dotenv(
    tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    plain = tmp_path / "s.env"
    env = age_env(clean_env, age_key)
    path = _encrypt(pysops, plain, b"A=\"quoted value\"\nB='single'\nC=plain\n", "e.env", age_key, env)
    ours = pysops(["decrypt", "--output-type", "json", str(path)], env)
    assert json.loads(ours.stdout) == {"A": "quoted value", "B": "single", "C": "plain"}
    # dotenv -> dotenv keeps the text verbatim, as sops does
    assert pysops(["decrypt", str(path)], env).stdout == plain.read_bytes()
    assert run_sops(["decrypt", str(path)], env).stdout == plain.read_bytes()


def test_encrypt_with_output_type(tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    plain = tmp_path / "s.yaml"
    plain.write_bytes(YAML)
    env = {**clean_env, "SOPS_AGE_KEY": age_key.identity}
    r = pysops(["encrypt", "--age", age_key.recipient, "--output-type", "json", str(plain)], env)
    assert r.code == 0, r.stderr
    assert json.loads(r.stdout)["sops"]["age"][0]["recipient"] == age_key.recipient
    path = tmp_path / "e.json"
    path.write_bytes(r.stdout)
    assert json.loads(run_sops(["decrypt", str(path)], env).stdout)["c"] == {"d": "text"}


def test_stores_indent_from_config(enc_yaml: tuple[Path, dict[str, str]], pysops: Any) -> None:
    path, env = enc_yaml
    (path.parent / ".sops.yaml").write_text("stores:\n  json:\n    indent: 2\n")
    ours = pysops(["decrypt", "--output-type", "json", str(path)], env)
    assert ours.code == 0, ours.stderr
    assert ours.stdout.startswith(b'{\n  "a": 1,')


def test_binary_round_trip_and_to_yaml(tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    plain = tmp_path / "blob.bin"
    env = age_env(clean_env, age_key)
    path = _encrypt(pysops, plain, b"\x00\x01binary\xff", "blob.enc", age_key, env)
    assert json.loads(path.read_bytes())["data"].startswith("ENC[")
    assert pysops(["decrypt", str(path)], env).stdout == plain.read_bytes()
    assert run_sops(["decrypt", str(path)], env).stdout == plain.read_bytes()


def test_ini_section_holding_only_a_comment_converts_to_an_empty_mapping(
    tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    """A section with nothing but a comment is an empty mapping, not null, in the YAML written
    from it (go-yaml's `x: {` … `}` around the comment); found by the fuzzer
    (ini:e.output-type-yaml.data)."""
    path = _encrypt(pysops, tmp_path / "s.ini", b"; c\n[x]\n[y]\nk = 1\n", "e.ini", age_key, clean_env)
    env = age_env(clean_env, age_key)
    ours = pysops(["decrypt", "--output-type", "yaml", str(path)], env)
    assert ours.code == 0, ours.stderr
    assert b"x: {\n    #c\n}\n" in ours.stdout
    back = tmp_path / "back.yaml"
    back.write_bytes(ours.stdout)
    as_json = pysops(
        [
            "decrypt",
            "--input-type",
            "yaml",
            "--output-type",
            "json",
            str(_encrypt(pysops, back, ours.stdout, "b.yaml", age_key, clean_env)),
        ],
        env,
    )
    theirs = run_sops(["decrypt", "--output-type", "json", str(path)], env)
    assert json.loads(as_json.stdout) == json.loads(theirs.stdout) == {"DEFAULT": {}, "x": {}, "y": {"k": "1"}}
