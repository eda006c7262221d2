"""Every command handles a document nested ``limits.MAX_DEPTH`` (200) deep without a
RecursionError, and a ``set`` that would nest deeper is refused (exit 2) before anything is built.
The stores refuse deeper input with exit 2 (their own tests); here: the code paths after them."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import AgeKey, run_sops
from tests.helpers import age_decrypt, age_encrypt_file, age_env

from pysops.limits import MAX_DEPTH

#: Keys from the top-level mapping (depth 1) down to the deepest mapping (depth MAX_DEPTH).
DEEP_PATH = '["top"]' + '["a"]' * (MAX_DEPTH - 2)


def deep_document(fmt: str) -> bytes:
    """A document whose deepest mapping is at depth MAX_DEPTH, holding ``leaf: v`` and ``n: 1``."""
    if fmt == "json":
        inner = '{"leaf": "v", "n": 1}'
        return ('{"top": ' + '{"a": ' * (MAX_DEPTH - 2) + inner + "}" * (MAX_DEPTH - 2) + ', "x": "y"}\n').encode()
    lines = ["top:"] + ["  " * i + "a:" for i in range(1, MAX_DEPTH - 1)]
    lines += ["  " * (MAX_DEPTH - 1) + "leaf: v", "  " * (MAX_DEPTH - 1) + "n: 1", "x: y"]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture(params=["yaml", "json"])
def deep(request: pytest.FixtureRequest, clean_env: dict[str, str], age_key: AgeKey) -> tuple[Path, str]:
    fmt = request.param
    f = Path(f"deep.{fmt}")
    try:
        age_encrypt_file(f, deep_document(fmt), age_key, fmt)
    except RecursionError:  # pragma: no cover - depends on the store work (issue 10)
        pytest.skip(f"the {fmt} store cannot encrypt a {MAX_DEPTH}-deep document yet")
    return f, fmt


def _ok(r: Any) -> None:
    assert r.code == 0 and "Traceback" not in r.stderr and "RecursionError" not in r.stderr, r.stderr


def test_decrypt_extract_and_conversions(
    deep: tuple[Path, str], clean_env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    f, fmt = deep
    env = age_env(clean_env, age_key)
    r = pysops(["decrypt", str(f)], env)
    _ok(r)
    assert r.stdout == deep_document(fmt)
    r = pysops(["decrypt", "--extract", DEEP_PATH + '["leaf"]', str(f)], env)
    _ok(r)
    assert r.stdout == b"v"
    r = pysops(["decrypt", "--extract", DEEP_PATH, str(f)], env)
    _ok(r)
    for out in ("json", "yaml"):
        _ok(pysops(["decrypt", "--output-type", out, str(f)], env))
    r = pysops(["decrypt", "--output-type", "dotenv", str(f)], env)
    assert r.code == 4 and "Traceback" not in r.stderr
    os.mkdir("out")
    _ok(pysops(["decrypt", "--output-dir", "out", str(f)], env))
    assert (Path("out") / f.name).read_bytes() == deep_document(fmt)


def test_exec_env_flatten_and_exec_file(
    deep: tuple[Path, str], clean_env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    f, _ = deep
    env = age_env(clean_env, age_key)
    _ok(pysops(["exec-env", "--flatten", str(f), "env > env.txt"], env))
    name = "TOP" + "_A" * (MAX_DEPTH - 2)  # a top-level scalar keeps its name (x=y)
    variables = Path("env.txt").read_text().splitlines()
    assert f"{name}_LEAF=v" in variables and f"{name}_N=1" in variables and "x=y" in variables
    r = pysops(["exec-env", str(f), "true"], env)
    assert r.code == 1 and "--flatten" in r.stderr  # a nested value without --flatten
    _ok(pysops(["exec-file", str(f), "cp {} copy.txt"], env))


def test_set_unset_rotate_check_filestatus(
    deep: tuple[Path, str], clean_env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    f, fmt = deep
    env = age_env(clean_env, age_key)
    _ok(pysops(["set", str(f), DEEP_PATH + '["leaf"]', '"w"'], env))
    _ok(pysops(["set", str(f), '["new"]' + '["a"]' * (MAX_DEPTH - 2), '{"b": 1}'], env))  # exactly MAX_DEPTH
    _ok(pysops(["unset", str(f), DEEP_PATH + '["n"]'], env))
    _ok(pysops(["unset", str(f), '["new"]'], env))
    _ok(pysops(["rotate", "-i", str(f)], env))
    _ok(pysops(["check", str(f)], env))
    r = pysops(["filestatus", str(f)], env)
    _ok(r)
    assert r.stdout == b'{"encrypted":true}\n'
    # The same data, read by pysops and by sops (the layout of a rewritten YAML file may differ).
    expected = json.loads(
        '{"top": ' + '{"a": ' * (MAX_DEPTH - 2) + '{"leaf": "w"}' + "}" * (MAX_DEPTH - 2) + ', "x": "y"}'
    )
    for reader in (pysops, run_sops):
        r = reader(["decrypt", "--output-type", "json", str(f)], env)
        assert r.code == 0 and json.loads(r.stdout) == expected


@pytest.mark.parametrize(
    ("index", "value"),
    [
        ('["new"]' + '["a"]' * (MAX_DEPTH - 1), '{"b": 1}'),  # the path alone
        ('["x"]', '{"a": ' * MAX_DEPTH + "1" + "}" * MAX_DEPTH),  # the value
        ('["x"]', "[" * 5000 + "]" * 5000),  # a value Python's json cannot even parse
    ],
)
def test_set_deeper_than_the_limit_is_refused(
    index: str, value: str, deep: tuple[Path, str], clean_env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    f, _ = deep
    before = f.read_bytes()
    r = pysops(["set", str(f), index, value], age_env(clean_env, age_key))
    assert r.code == 2 and r.stderr.startswith(
        f"pysops: error: the document after this set nests deeper than {MAX_DEPTH}"
    )
    assert f.read_bytes() == before


def test_edit_reparses_a_deep_document(
    deep: tuple[Path, str], tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    f, fmt = deep
    editor = tmp_path / "ed.sh"
    editor.write_text('#!/bin/sh\nsed -i \'s/leaf: v/leaf: edited/; s/"leaf": "v"/"leaf": "edited"/\' "$1"\n')
    editor.chmod(0o755)
    _ok(pysops(["edit", str(f)], {**age_env(clean_env, age_key), "EDITOR": str(editor)}))
    assert b"edited" in age_decrypt(f.read_bytes(), fmt, age_key)


def test_merge_driver_on_deep_documents(
    deep: tuple[Path, str], clean_env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    f, fmt = deep
    env = age_env(clean_env, age_key)
    data = f.read_bytes()
    for name in ("base", "theirs"):
        Path(f"{name}.{fmt}").write_bytes(data)
    _ok(pysops(["set", str(f), '["x"]', '"ours"'], env))
    r = pysops(["git", "merge-driver", f"base.{fmt}", str(f), f"theirs.{fmt}", f.name], env)
    _ok(r)
    assert b"ours" in age_decrypt(f.read_bytes(), fmt, age_key)
