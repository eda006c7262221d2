"""Number forms (issue 10 §2): JSON integers typed int like sops 3.13.2 (up to 2**53, where sops
3.11 agrees on their text), every float written in Go's form in every output, and MAC
compatibility both ways with the sops 3.11 binary."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import AgeKey, run_sops
from tests.helpers import age_env

from pysops import tree
from pysops.document import Scalar, walk_leaves
from pysops.formats import json as json_store
from pysops.values import format_float_json, format_float_yaml, parse_json_number, to_plaintext, value_to_string

# ------------------------------------------------------------------------------------ unit level


@pytest.mark.parametrize(
    ("raw", "value", "kind"),
    [
        ("7", 7, int),
        ("-3", -3, int),
        ("0", 0, int),
        ("9007199254740992", 2**53, int),
        ("-9007199254740992", -(2**53), int),
        # past 2**53 a float64 rounds, as in sops 3.11, so an unencrypted value's MAC text agrees
        ("9007199254740993", 9007199254740992.0, float),
        ("9223372036854775807", 9.223372036854776e18, float),
        ("-9223372036854775809", -9.223372036854776e18, float),
        ("12345678901234567890", 1.2345678901234567e19, float),
        ("-0", -0.0, float),  # keeps its sign, as sops 3.11 does
        ("1.0", 1.0, float),
        ("1e2", 100.0, float),
        ("1E+2", 100.0, float),
        ("0.5", 0.5, float),
        ("1" * 308, float("1" * 308), float),  # long literals never meet int()'s digit limit
        ("0." + "1" * 5000, float("0." + "1" * 5000), float),
    ],
)
def test_json_number_typing(raw: str, value: float, kind: type) -> None:
    parsed = parse_json_number(raw)
    assert type(parsed) is kind and parsed == value
    if kind is float:
        assert math.copysign(1.0, parsed) == math.copysign(1.0, value)


def test_json_numbers_out_of_range_are_refused_without_the_number() -> None:
    with pytest.raises(ValueError):
        parse_json_number("1e400")
    with pytest.raises(Exception) as info:
        json_store.parse(b'{"a": 1e400}')
    assert "1e400" not in str(info.value)  # a value may be a secret: errors never show it


@pytest.mark.parametrize(
    ("value", "yaml", "json_text", "env"),
    [
        # Go: FormatFloat 'g' -1 (go-yaml), encoding/json, and sops's ValToString ('G' + ".0")
        (7.0, "7", "7", "7.0"),
        (-3.0, "-3", "-3", "-3.0"),
        (0.5, "0.5", "0.5", "0.5"),
        (1e6, "1e+06", "1000000", "1E+06"),
        (123456789.0, "1.23456789e+08", "123456789", "1.23456789E+08"),
        (1e20, "1e+20", "100000000000000000000", "1E+20"),
        (1e21, "1e+21", "1e+21", "1E+21"),
        (1e-7, "1e-07", "1e-7", "1E-07"),
        (0.000001, "1e-06", "0.000001", "1E-06"),
        (-0.0, "-0", "-0", "-0.0"),
        (1.5e300, "1.5e+300", "1.5e+300", "1.5E+300"),
        (math.inf, ".inf", None, "+Inf"),
        (-math.inf, "-.inf", None, "-Inf"),
        (math.nan, ".nan", None, "NaN"),
    ],
)
def test_float_forms_per_output(value: float, yaml: str, json_text: str | None, env: str) -> None:
    assert format_float_yaml(value) == yaml
    if json_text is None:
        with pytest.raises(ValueError):
            format_float_json(value)
    else:
        assert format_float_json(value) == json_text
    assert value_to_string(value) == env


def test_integers_and_integral_floats_share_their_plaintext() -> None:
    # The MAC hashes the plaintext: type:int 42 (pysops) and type:float 42 (sops 3.11) agree.
    for number in (0, 7, -3, 1000000, 2**53 - 1, -(2**53)):
        assert to_plaintext(number) == to_plaintext(float(number)) == str(number).encode()
        assert to_plaintext(parse_json_number(str(number))) == to_plaintext(float(str(number)))
    assert to_plaintext(parse_json_number(str(2**53 + 1))) == to_plaintext(float(2**53 + 1)) == b"9007199254740992"


def test_set_values_are_typed_like_sops_3_13() -> None:
    bare = tree.parse_json_value("7")  # Go's json.Unmarshal: float64
    assert isinstance(bare, Scalar) and type(bare.value) is float
    nested = tree.parse_json_value('{"a": [7, 7.5, 9007199254740993]}')  # the JSON store
    values = [leaf.value for _, leaf in walk_leaves(nested) if isinstance(leaf, Scalar)]
    assert [type(v) for v in values] == [int, float, float]


# ----------------------------------------------------------------------------- against sops 3.11

NUMBERS = (
    b'{"a": 7, "b": -3, "c": 1000000, "d": 0.5, "e": 1e21, "f": 1.0, "g": -0, "h": 12345678901234567890,'
    b' "i": 9007199254740993, "j": 1E2, "k": 1e-7, "l": 0.000001, "m": 123456789, "n": 1.5e300, "o": -0.0,'
    b' "p": 9223372036854775807, "q": [1, 2.5, {"r": 5432}]}\n'
)
INT_KEYS = {"a", "b", "c", "m", "r"}


def _types(encrypted: bytes) -> dict[str, str]:
    return dict(re.findall(rb'"(\w)": "ENC\[[^"]*type:(\w+)\]"', encrypted))  # type: ignore[arg-type]


@pytest.fixture
def files(tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any) -> dict[str, Any]:
    env = age_env(clean_env, age_key)
    plain = tmp_path / "n.json"
    plain.write_bytes(NUMBERS)
    ours = pysops(["encrypt", "--age", age_key.recipient, str(plain)], env)
    assert ours.code == 0, ours.stderr
    theirs = run_sops(["encrypt", "--age", age_key.recipient, str(plain)], env)
    assert theirs.code == 0, theirs.stderr
    (tmp_path / "p.json").write_bytes(ours.stdout)
    (tmp_path / "s.json").write_bytes(theirs.stdout)
    return {"env": env, "ours": tmp_path / "p.json", "theirs": tmp_path / "s.json"}


def test_pysops_keeps_integers_and_sops_reads_them(files: dict[str, Any]) -> None:
    encrypted = files["ours"].read_bytes()
    types = {key.decode(): kind.decode() for key, kind in re.findall(rb'"(\w)": "ENC\[[^"]*type:(\w+)\]"', encrypted)}
    assert {key for key, kind in types.items() if kind == "int"} == INT_KEYS
    assert {kind for key, kind in types.items() if key not in INT_KEYS} == {"float"}
    # sops 3.11 decrypts it with the MAC checked, and prints every integer exactly
    theirs = run_sops(["decrypt", str(files["ours"])], files["env"])
    assert theirs.code == 0, theirs.stderr
    data = json.loads(theirs.stdout)
    assert (data["c"], data["m"], data["q"][2]["r"]) == (1000000, 123456789, 5432)
    # past 2**53: float64 in both tools, rounded the same way
    assert b'"h": 12345678901234567000' in theirs.stdout and b'"i": 9007199254740992' in theirs.stdout


def test_sops_float_files_decrypt_in_pysops_exactly_like_sops(files: dict[str, Any], pysops: Any) -> None:
    # sops 3.11 wrote every number as type:float; pysops verifies its MAC and prints what sops prints
    assert set(_types(files["theirs"].read_bytes()).values()) == {b"float"}
    ours = pysops(["decrypt", str(files["theirs"])], files["env"])
    theirs = run_sops(["decrypt", str(files["theirs"])], files["env"])
    assert ours.code == theirs.code == 0, ours.stderr
    assert ours.stdout == theirs.stdout


def test_dotenv_output_of_json_numbers(tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    """sops's ValToString: floats get ".0" (`7.0`), ints do not; pysops files carry JSON ints."""
    env = age_env(clean_env, age_key)
    plain = tmp_path / "f.json"
    plain.write_bytes(b'{"a": 7, "c": 1000000, "d": 0.5, "f": 1.0}\n')
    (tmp_path / "p.json").write_bytes(pysops(["encrypt", "--age", age_key.recipient, str(plain)], env).stdout)
    (tmp_path / "s.json").write_bytes(run_sops(["encrypt", "--age", age_key.recipient, str(plain)], env).stdout)
    args = ["decrypt", "--output-type", "dotenv"]
    sops_own = run_sops([*args, str(tmp_path / "s.json")], env).stdout
    assert sops_own == b"a=7.0\nc=1E+06\nd=0.5\nf=1.0\n"
    assert pysops([*args, str(tmp_path / "s.json")], env).stdout == sops_own
    ours = pysops([*args, str(tmp_path / "p.json")], env).stdout
    assert ours == b"a=7\nc=1000000\nd=0.5\nf=1.0\n" == run_sops([*args, str(tmp_path / "p.json")], env).stdout


def test_yaml_output_of_json_numbers_matches_sops(files: dict[str, Any], pysops: Any) -> None:
    ours = pysops(["decrypt", "--output-type", "yaml", str(files["theirs"])], files["env"])
    theirs = run_sops(["decrypt", "--output-type", "yaml", str(files["theirs"])], files["env"])
    assert ours.code == theirs.code == 0
    # The YAML store quotes keys the same way (`"n"` is a YAML 1.1 bool to go-yaml): compare values.
    # Negative zero is the one deliberate difference (docs/formats.md#yaml-negative-zero): go-yaml's
    # `-0` reads back as the integer 0, pysops writes `-0.0`.
    assert b": -0\n" in theirs.stdout and b": -0\n" not in ours.stdout
    assert ours.stdout.replace(b'"n":', b"n:").replace(b": -0.0\n", b": -0\n") == theirs.stdout.replace(b'"n":', b"n:")
    assert b"c: 1e+06\n" in ours.stdout and b"a: 7\n" in ours.stdout and b"f: 1\n" in ours.stdout


def test_documented_difference_integers_in_yaml(files: dict[str, Any], pysops: Any) -> None:
    """docs/formats.md: pysops keeps JSON integers as integers (sops 3.13.2), so 1000000 stays
    `1000000` in YAML, where sops 3.11 on its own file prints `1e+06`."""
    ours = pysops(["decrypt", "--output-type", "yaml", str(files["ours"])], files["env"])
    theirs_own = run_sops(["decrypt", "--output-type", "yaml", str(files["theirs"])], files["env"])
    assert b"c: 1000000\n" in ours.stdout and b"m: 123456789\n" in ours.stdout
    assert b"c: 1e+06\n" in theirs_own.stdout and b"m: 1.23456789e+08\n" in theirs_own.stdout
    # sops 3.11 reading the type:int file agrees with pysops
    theirs = run_sops(["decrypt", "--output-type", "yaml", str(files["ours"])], files["env"])
    assert b"c: 1000000\n" in theirs.stdout


@pytest.mark.parametrize("output", ["json", "yaml", "ini", "dotenv", "binary"])
def test_extract_of_numbers_and_lists_matches_sops(files: dict[str, Any], pysops: Any, output: str) -> None:
    # (INI: sops prints a mapping inside a list as Go's [{"Key":..,"Value":..}] pairs; pysops as an
    # object, docs/formats.md, so that list is left out for INI)
    for path in ('["c"]', '["e"]', '["q"][1]') + (() if output == "ini" else ('["q"]',)):
        args = ["decrypt", "--output-type", output, "--extract", path, str(files["theirs"])]
        ours = pysops(args, files["env"])
        theirs = run_sops(args, files["env"])
        assert ours.code == theirs.code, (path, ours.stderr, theirs.stderr)
        if theirs.code == 0:
            assert ours.stdout == theirs.stdout, path
        else:
            assert ours.code == 4 and "Traceback" not in ours.stderr


def test_set_a_number_prints_like_sops(tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    env = age_env(clean_env, age_key)
    plain = tmp_path / "s.yaml"
    plain.write_bytes(b"port: 1\n")
    enc = tmp_path / "e.yaml"
    ours_enc = pysops(["encrypt", "--age", age_key.recipient, str(plain)], env)
    enc.write_bytes(ours_enc.stdout)
    other = tmp_path / "o.yaml"
    other.write_bytes(run_sops(["encrypt", "--age", age_key.recipient, str(plain)], env).stdout)
    for value in ("7", "1000000", "2.50", '{"k": [1, 1.5]}'):
        assert pysops(["set", str(enc), '["port"]', value], env).code == 0
        assert run_sops(["set", str(other), '["port"]', value], env).code == 0
        ours = pysops(["decrypt", str(enc)], env).stdout
        theirs = run_sops(["decrypt", str(other)], env).stdout
        if value.startswith("{"):
            # same data (the YAML layout of a new mapping is the YAML store's), ints in both
            assert b"- 1\n" in ours and b"- 1\n" in theirs and b"- 1.5\n" in ours
        else:
            assert ours == theirs, value  # 7 -> `port: 7` (not 7.0), 1000000 -> `1e+06` like sops
        # sops reads the file pysops wrote (MAC verified) and prints the same values
        by_sops = run_sops(["decrypt", str(enc)], env)
        assert by_sops.code == 0, by_sops.stderr
        assert by_sops.stdout == ours or value.startswith("{") and b"- 1\n" in by_sops.stdout


@pytest.mark.parametrize("encrypt_numbers", [False, True])
def test_mac_agrees_both_ways_for_clear_and_encrypted_numbers(
    tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any, encrypt_numbers: bool
) -> None:
    """Fuzz finding json:sops-cannot-decrypt-pysops: numbers left in clear (``--encrypted-regex``)
    are in the MAC as text; past 2**53 sops 3.11 hashes the float64-rounded number, so pysops must
    too, or neither tool could verify the other's file. Checked for encrypt, rotate and set."""
    env = age_env(clean_env, age_key)
    plain = tmp_path / "m.json"
    plain.write_bytes(
        b'{ "port": { "port": 1e300 , "id_u": 9007199254740993 , "x": 1e-7, "big": 9223372036854775807,'
        b' "n": -9007199254740992, "m": 18446744073709551616 } , "b": [ 0.1e1 , 1.5e10, -0, 5e-324 ] }'
    )
    regex = "^(port|b|big)$" if encrypt_numbers else "^(password|api_key|key|data)$"
    args = ["encrypt", "--age", age_key.recipient, "--encrypted-regex", regex, str(plain)]
    ours, theirs = tmp_path / "p.json", tmp_path / "s.json"
    ours.write_bytes(pysops(args, env).stdout)
    theirs.write_bytes(run_sops(args, env).stdout)
    assert (b"ENC[" in ours.read_bytes().split(b'"sops"')[0]) is encrypt_numbers
    by_sops, by_us = run_sops(["decrypt", str(ours)], env), pysops(["decrypt", str(theirs)], env)
    assert by_sops.code == 0, by_sops.stderr
    assert by_us.code == 0, by_us.stderr
    # the same data (9007199254740993 rounds to ...992 in both; pysops's own decrypt keeps clear text)
    assert json.loads(by_sops.stdout) == json.loads(by_us.stdout)
    for command in (["rotate", "-i"], ["set", str(ours), '["b"][0]', "2"]):
        full = command if command[0] == "set" else [*command, str(ours)]
        assert pysops(full, env).code == 0
        assert run_sops(["decrypt", str(ours)], env).code == 0, command
