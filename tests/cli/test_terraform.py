"""``pysops decrypt --terraform``: the flat JSON object Terraform's ``external`` data source reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import AgeKey
from tests.helpers import age_encrypt

from pysops import terraform
from pysops.document import Entry, Mapping, Scalar

NESTED_YAML = """\
# service settings
db:
  user: admin
  password: "p@ss word"
  port: 5432
  ratio: 0.25
  big: 1e21
  enabled: true
  nothing: null
  created: 2024-01-02T03:04:05Z
servers:
  - name: a
    tags: [x, y]
  - name: b
    tags: []
empty: {}
"""

NESTED_EXPECTED = {
    "db.user": "admin",
    "db.password": "p@ss word",
    "db.port": "5432",
    "db.ratio": "0.25",
    "db.big": "1e+21",
    "db.enabled": "true",
    "db.nothing": "null",
    "db.created": "2024-01-02T03:04:05Z",
    "servers.0.name": "a",
    "servers.0.tags.0": "x",
    "servers.0.tags.1": "y",
    "servers.1.name": "b",
}


def _encrypt(name: str, text: str, recipient: str, fmt: str) -> Path:
    path = Path(name)
    path.write_bytes(age_encrypt(text.encode(), fmt, recipient))
    return path


def test_nested_yaml_flattens_like_the_provider(env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    _encrypt("secrets.enc.yaml", NESTED_YAML, age_key.recipient, "yaml")
    r = pysops(["decrypt", "--terraform", "secrets.enc.yaml"], env)
    assert (r.code, r.stderr) == (0, "")
    assert r.stdout == (json.dumps(NESTED_EXPECTED, separators=(",", ":")) + "\n").encode()


def test_query_on_stdin_names_the_file(env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    """Terraform runs `pysops decrypt --terraform` with the query object on stdin."""
    _encrypt("secrets.enc.yaml", NESTED_YAML, age_key.recipient, "yaml")
    r = pysops(["decrypt", "--terraform"], env, stdin=b'{"file":"secrets.enc.yaml"}')
    assert (r.code, r.stderr) == (0, "")
    assert json.loads(r.stdout) == NESTED_EXPECTED
    # the query may name the input type of a file whose extension does not tell it
    Path("secrets.sops").write_bytes(Path("secrets.enc.yaml").read_bytes())
    r = pysops(["decrypt", "--terraform"], env, stdin=b'{"file": "secrets.sops", "input_type": "yaml"}')
    assert (r.code, json.loads(r.stdout)) == (0, NESTED_EXPECTED)
    r = pysops(["decrypt", "--terraform"], env, stdin=b'{"file": "missing.yaml"}')
    assert (r.code, r.stdout, r.stderr) == (
        100, b"", 'pysops: error: cannot operate on non-existent file "missing.yaml"\n'
    )  # fmt: skip


def test_encrypted_document_on_stdin(env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    enc = _encrypt("s.json", '{"file": "not a query", "n": [1, {"k": false}]}', age_key.recipient, "json")
    r = pysops(["decrypt", "--terraform", "--input-type", "json"], env, stdin=enc.read_bytes())
    assert (r.code, r.stderr) == (0, "")
    assert r.stdout == b'{"file":"not a query","n.0":"1","n.1.k":"false"}\n'


def test_dotenv_quotes_are_interpreted_and_output_file_is_private(
    env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    _encrypt("app.env", "PLAIN=a b\nQUOTED=\"line\\nnext\"\nSINGLE='x'\n", age_key.recipient, "dotenv")
    r = pysops(["decrypt", "--terraform", "--output", "flat.json", "app.env"], env)
    assert (r.code, r.stdout, r.stderr) == (0, b"", "")
    assert json.loads(Path("flat.json").read_text()) == {"PLAIN": "a b", "QUOTED": "line\nnext", "SINGLE": "x"}
    assert Path("flat.json").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("extra", "what"),
    [
        (["-i"], "--in-place"),
        (["--extract", '["a"]'], "--extract"),
        (["--output-type", "yaml"], "--output-type"),
        (["--output-dir", "o"], "--output-dir"),
        (["x.yaml"], "several files"),
    ],
)
def test_terraform_conflicts(env: dict[str, str], pysops: Any, extra: list[str], what: str) -> None:
    r = pysops(["decrypt", "--terraform", *extra, "s.yaml"], env)
    assert (r.code, r.stdout) == (8, b"")
    prefix = "pysops: error: --terraform prints one JSON object for one file; it cannot be used with"
    assert r.stderr == f"{prefix} {what}\n"


def test_flatten_units() -> None:
    # a later path flattening to the same key wins
    root = Mapping([Entry("a.b", Scalar(1)), Entry("a", Mapping([Entry("b", Scalar(2))]))])
    assert terraform.flatten(root) == {"a.b": "2"}
    assert terraform.value_text(-0.0) == "-0"
    assert terraform.value_text(1.0) == "1"
    assert terraform.value_text(1e-7) == "1e-07"
    assert terraform.parse_query(b'{"file": "x", "sops": {}}') is None
    assert terraform.parse_query(b'{"file": 1}') is None
    assert terraform.parse_query(b"a: b") is None
    assert terraform.parse_query(b' {"file": "f.yaml"}\n') == {"file": "f.yaml"}
