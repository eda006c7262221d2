"""JSON inputs where pysops and sops 3.11 could disagree (issue 10 §2, §3): escapes, top-level
values, duplicate keys, whitespace, BOM, trailing data, a non-object "sops" member, and nesting
depth. Each either matches the real binary or is a documented difference (docs/formats.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import AgeKey, run_sops
from tests.helpers import age_env

from pysops.errors import InputTooComplex, ParseError
from pysops.formats import json as store
from pysops.limits import MAX_DEPTH


def _write(tmp_path: Path, data: bytes, name: str = "in.json") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# ------------------------------------------------------------------------------ same as sops

ACCEPTED = [
    b'{"a": "x\\/y", "k\\/": ["\\/"]}\n',  # the \/ escape
    b'{"a": "\\b\\f\\n\\r\\t\\"\\\\\\u0041\\u00E9"}\n',
    b'{"a": "\\ud83d\\ude00", "\\ud83d\\ude01": 1}\n',  # surrogate pairs, in values and keys
    b'{"a": "\\ud800", "b": "\\udc00x"}\n',  # lone surrogates become U+FFFD in both tools
    b'{"a": "x\\u0000y", "b": "x\\u2028y"}\n',
    b'{"a": 1, "a": {"b": 2, "b": 3}}\n',  # duplicate keys are kept
    b' \t\r\n{ \t\r\n"a" \t\r\n: \t\r\n1 \t\r\n, "b":[ 1 , 2 ] } \t\r\n',  # every JSON whitespace
    b'{"a": [], "b": {}, "c": [[]], "d": [{}], "e": "", "f": null, "g": true}',
    b'{"a": {"sops": 1}}',  # a nested "sops" key is ordinary data
]


@pytest.mark.parametrize("data", ACCEPTED)
def test_inputs_both_tools_accept_round_trip_both_ways(
    tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any, data: bytes
) -> None:
    env = age_env(clean_env, age_key)
    plain = _write(tmp_path, data)
    ours = pysops(["encrypt", "--age", age_key.recipient, str(plain)], env)
    theirs = run_sops(["encrypt", "--age", age_key.recipient, str(plain)], env)
    assert ours.code == theirs.code == 0, ours.stderr
    p, s = _write(tmp_path, ours.stdout, "p.json"), _write(tmp_path, theirs.stdout, "s.json")
    results = {
        "sops(pysops)": run_sops(["decrypt", str(p)], env),
        "pysops(sops)": pysops(["decrypt", str(s)], env),
        "sops(sops)": run_sops(["decrypt", str(s)], env),
        "pysops(pysops)": pysops(["decrypt", str(p)], env),
    }
    assert all(r.code == 0 for r in results.values()), {k: r.stderr for k, r in results.items()}
    # Same data everywhere (duplicate keys compared as pairs), and sops's own layout where pysops
    # re-emits a file sops wrote.
    pairs = {k: json.loads(r.stdout, object_pairs_hook=list) for k, r in results.items()}
    assert len({json.dumps(v) for v in pairs.values()}) == 1, pairs
    assert _go_escaped(results["pysops(sops)"].stdout) == results["sops(sops)"].stdout


def _go_escaped(text: bytes) -> bytes:
    """pysops's JSON output with the characters Go escapes and pysops leaves raw (docs/formats.md)."""
    for raw, escaped in ((b"<", b"\\u003c"), (b">", b"\\u003e"), (b"&", b"\\u0026")):
        text = text.replace(raw, escaped)
    return text.replace("\u2028".encode(), b"\\u2028").replace("\u2029".encode(), b"\\u2029")


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", 2),  # sops: "Could not unmarshal input data: EOF"
        (b"  \n", 2),
        (b"[1, 2]\n", 2),  # top-level arrays and scalars
        (b'"x"\n', 2),
        (b"1\n", 2),
        (b"null\n", 2),
        (b'\xef\xbb\xbf{"a": 1}\n', 2),  # a BOM
        (b'{"a": 1,}', 2),
        (b'{"a": 01}', 2),
        (b'{"a": +1}', 2),
        (b'{"a": .5}', 2),
        (b'{"a": 1.}', 2),
        (b'{"a": NaN}', 2),
        (b'{"a": 1e400}', 2),
        (b'{"a": "\\x"}', 2),
        (b'{"a": "x\ty"}', 2),  # a raw control character in a string
        (b'{"a":\x0c1}', 2),  # not JSON whitespace
        (b'{"a": 1, "sops": 2}', 203),  # a top-level "sops" that is not an object
        (b'{"a": 1, "sops": []}', 203),
        (b'{"a": 1, "sops": null}', 203),
        (b'{"a": 1, "sops": {}}', 203),
    ],
)
def test_inputs_both_tools_refuse_with_the_same_exit_code(
    tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any, data: bytes, code: int
) -> None:
    env = age_env(clean_env, age_key)
    plain = _write(tmp_path, data)
    ours = pysops(["encrypt", "--age", age_key.recipient, str(plain)], env)
    theirs = run_sops(["encrypt", "--age", age_key.recipient, str(plain)], env)
    assert (ours.code, theirs.code) == (code, code), (ours.stderr, theirs.stderr)
    assert ours.stdout == b"" and "Traceback" not in ours.stderr


# ------------------------------------------------------------------ documented differences


@pytest.mark.parametrize("data", [b'{"a": 1} x', b'{"a": 1}{"b": 2}', b'{"a": 1}\n// comment\n'])
def test_data_after_the_object_is_refused_where_sops_drops_it(
    tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any, data: bytes
) -> None:
    """docs/formats.md: sops 3.11 reads the first object and silently drops what follows it
    (a second object's keys are lost); pysops refuses such a file (exit 2)."""
    env = age_env(clean_env, age_key)
    plain = _write(tmp_path, data)
    theirs = run_sops(["encrypt", "--age", age_key.recipient, str(plain)], env)
    assert theirs.code == 0 and b'"b"' not in theirs.stdout and b"comment" not in theirs.stdout
    ours = pysops(["encrypt", "--age", age_key.recipient, str(plain)], env)
    assert ours.code == 2 and ours.stdout == b""
    assert "unexpected data after the top-level object" in ours.stderr


# ------------------------------------------------------------------------------ nesting depth


def _nested(depth: int, kind: str) -> bytes:
    """A document whose deepest container is at ``depth`` (the top-level object is depth 1)."""
    if kind == "array":
        return b'{"a": ' + b"[" * (depth - 1) + b"1" + b"]" * (depth - 1) + b"}"
    return b'{"a": ' * depth + b"1" + b"}" * depth


@pytest.mark.parametrize("kind", ["array", "object"])
def test_depth_past_the_limit_is_refused_at_parse_time(kind: str) -> None:
    store.parse(_nested(MAX_DEPTH, kind))
    for depth in (MAX_DEPTH + 1, 2000, 100_000):
        with pytest.raises(InputTooComplex) as info:
            store.parse(_nested(depth, kind))
        assert info.value.exit_code == 2 and isinstance(info.value, ParseError)


@pytest.mark.parametrize("kind", ["array", "object"])
def test_deep_documents_on_every_command(
    tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any, kind: str
) -> None:
    env = age_env(clean_env, age_key)
    deep = _write(tmp_path, _nested(MAX_DEPTH, kind), "deep.json")
    enc = pysops(["encrypt", "--age", age_key.recipient, str(deep)], env)
    assert enc.code == 0, enc.stderr
    enc_path = _write(tmp_path, enc.stdout, "enc.json")
    dec = pysops(["decrypt", str(enc_path)], env)
    assert dec.code == 0 and json.loads(dec.stdout) == json.loads(deep.read_bytes())
    assert json.loads(run_sops(["decrypt", str(enc_path)], env).stdout) == json.loads(deep.read_bytes())
    # set at the deepest level
    path = '["a"]' * MAX_DEPTH if kind == "object" else '["a"]' + "[0]" * (MAX_DEPTH - 1)
    assert pysops(["set", str(enc_path), path, '"new"'], env).code == 0
    assert b'"new"' in pysops(["decrypt", str(enc_path)], env).stdout
    # json -> yaml -> json at depth 200
    as_yaml = pysops(["decrypt", "--output-type", "yaml", str(enc_path)], env)
    assert as_yaml.code == 0, as_yaml.stderr
    yaml_path = _write(tmp_path, as_yaml.stdout, "deep.yaml")
    yaml_enc = pysops(["encrypt", "--age", age_key.recipient, str(yaml_path)], env)
    assert yaml_enc.code == 0, yaml_enc.stderr
    back = pysops(["decrypt", "--output-type", "json", str(_write(tmp_path, yaml_enc.stdout, "e.yaml"))], env)
    assert back.code == 0 and json.loads(back.stdout) == json.loads(pysops(["decrypt", str(enc_path)], env).stdout)
    # deeper: refused with one error line and exit 2 by encrypt, decrypt and set
    too_deep = _write(tmp_path, _nested(2000, kind), "deeper.json")
    sops_enc = run_sops(["encrypt", "--age", age_key.recipient, str(too_deep)], env)
    assert sops_enc.code == 0  # sops itself accepts it (Go's decoder allows 10000 levels)
    sops_file = _write(tmp_path, sops_enc.stdout, "sops-deeper.json")
    for args in (
        ["encrypt", "--age", age_key.recipient, str(too_deep)],
        ["decrypt", str(sops_file)],
        ["set", str(sops_file), '["b"]', "1"],
    ):
        r = pysops(args, env)
        assert r.code == 2, (args[0], r.stderr)
        assert "nests deeper than 200 levels" in r.stderr and "Traceback" not in r.stderr
    assert sops_file.read_bytes() == sops_enc.stdout  # set refused before writing anything


def test_line_separators_survive_json_to_yaml(
    tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    """Fuzz finding json:e.output-type-yaml.unreadable: a JSON string holding U+2028 (or U+2029,
    U+0085, which YAML 1.1 readers take as line breaks) converted to YAML must read back, by both
    tools, as the same string."""
    env = age_env(clean_env, age_key)
    values = {"a": "\u2028\u00fc", "b": "x\u2029", "c": "\u0085y", "d": "l\u2028m\nn"}
    plain = _write(tmp_path, json.dumps(values).encode())
    enc = _write(tmp_path, pysops(["encrypt", "--age", age_key.recipient, str(plain)], env).stdout, "e.json")
    as_yaml = pysops(["decrypt", "--output-type", "yaml", str(enc)], env)
    assert as_yaml.code == 0, as_yaml.stderr
    yaml_path = _write(tmp_path, as_yaml.stdout, "c.yaml")
    for tool in (pysops, lambda args, env: run_sops(args, env)):
        yaml_enc = tool(["encrypt", "--age", age_key.recipient, str(yaml_path)], env)
        assert yaml_enc.code == 0, yaml_enc.stderr
        back = pysops(["decrypt", "--output-type", "json", str(_write(tmp_path, yaml_enc.stdout, "e.yaml"))], env)
        assert back.code == 0 and json.loads(back.stdout) == values
