"""AES-GCM nonce hygiene under one data key: no two values, comments or MACs share an IV, a
changed value never reuses its old IV, the MAC gets a fresh IV on every write, and every IV is
32 bytes as sops writes them. A repeated nonce under one GCM key leaks the XOR of plaintexts and
the authentication key, so each of these tests fails when the protection is removed
(scripts/mutants.py)."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import AgeKey, run_sops
from tests.helpers import age_env, age_options

from pysops import api

YAML = b"""\
# a comment
# another comment
user: alice
password: hunter2
same1: repeated
same2: repeated
list:
  # in the list
  - repeated
  - repeated
  - 1
  - 2.5
  - true
nested:
  # nested comment
  a: repeated
  b: other
"""
DOTENV = b"# c1\nA=repeated\nB=repeated\n# c2\nC=x\n"

_IV = re.compile(r"iv:([A-Za-z0-9+/=]+)")
_MAC_IV = re.compile(r"mac[\"']?\s*[:=]\s*[\"']?ENC\[AES256_GCM,data:[^,]*,iv:([A-Za-z0-9+/=]+)")
_VALUE = r"{key}[\"']?\s*[:=]\s*[\"']?ENC\[AES256_GCM,data:[^,]*,iv:([A-Za-z0-9+/=]+)"


def ivs(data: bytes) -> list[bytes]:
    return [base64.b64decode(m) for m in _IV.findall(data.decode())]


def mac_iv(data: bytes) -> bytes:
    found = _MAC_IV.findall(data.decode())
    assert len(found) == 1
    return base64.b64decode(found[0])


def value_iv(data: bytes, key: str) -> bytes:
    found = re.findall(_VALUE.format(key=re.escape(key)), data.decode())
    assert len(found) == 1, (key, found)
    return base64.b64decode(found[0])


@pytest.fixture
def env(clean_env: dict[str, str], age_key: AgeKey) -> dict[str, str]:
    return age_env(clean_env, age_key)


def encrypted(tmp_path: Path, name: str, plain: bytes, key: AgeKey, pysops: Any, env: dict[str, str]) -> Path:
    src = tmp_path / ("plain-" + name)
    src.write_bytes(plain)
    out = tmp_path / name
    r = pysops(["encrypt", "--age", key.recipient, "--output", str(out), str(src)], env)
    assert r.code == 0, r.stderr
    return out


@pytest.mark.parametrize("name, plain", [("f.yaml", YAML), ("f.env", DOTENV)])
def test_no_two_values_or_comments_share_an_iv(
    name: str, plain: bytes, tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    """Equal plaintexts included: every value, every comment and the MAC have their own IV."""
    data = encrypted(tmp_path, name, plain, age_key, pysops, env).read_bytes()
    found = ivs(data)
    assert len(found) >= 6 and data.count(b"type:comment") >= 2
    assert len(set(found)) == len(found)


def test_every_iv_is_32_bytes_like_sops(tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    ours = encrypted(tmp_path, "f.yaml", YAML, age_key, pysops, env).read_bytes()
    theirs = run_sops(["encrypt", "--age", age_key.recipient, str(tmp_path / "plain-f.yaml")], env)
    assert theirs.code == 0, theirs.stderr
    assert {len(iv) for iv in ivs(theirs.stdout)} == {32}
    assert {len(iv) for iv in ivs(ours)} == {32}


def test_a_changed_value_gets_a_fresh_iv(tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    path = encrypted(tmp_path, "f.yaml", YAML, age_key, pysops, env)
    before = path.read_bytes()
    assert pysops(["set", str(path), '["password"]', '"hunter3"'], env).code == 0
    after = path.read_bytes()
    assert value_iv(after, "password") != value_iv(before, "password")
    assert value_iv(after, "user") == value_iv(before, "user")  # unchanged: same ciphertext
    assert value_iv(after, "password") not in ivs(before)
    found = ivs(after)
    assert len(set(found)) == len(found)
    # a value changed inside a list, and a value changed to its neighbour's value
    assert pysops(["set", str(path), '["list"][0]', '"changed"'], env).code == 0
    assert pysops(["set", str(path), '["same1"]', '"other"'], env).code == 0
    latest = path.read_bytes()
    found = ivs(latest)
    assert len(set(found)) == len(found)
    assert value_iv(latest, "same1") not in ivs(after)


def test_an_equal_value_under_another_key_gets_its_own_iv(
    tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    """A value copied under another key is sealed with another AAD: it must not reuse the IV
    of the key it was copied from (same nonce, same plaintext, other AAD)."""
    path = encrypted(tmp_path, "f.yaml", YAML, age_key, pysops, env)
    before = path.read_bytes()
    assert pysops(["set", str(path), '["copy"]', '"hunter2"'], env).code == 0
    data = path.read_bytes()
    assert value_iv(data, "copy") != value_iv(data, "password")
    found = ivs(data)
    assert len(set(found)) == len(found)
    # a key before `password` in the file takes its value: a new IV, not password's old one
    assert pysops(["set", str(path), '["user"]', '"hunter2"'], env).code == 0
    data = path.read_bytes()
    assert value_iv(data, "user") not in ivs(before)
    found = ivs(data)
    assert len(set(found)) == len(found)


def test_every_edit_seals_the_mac_with_a_fresh_iv(
    tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    first = encrypted(tmp_path, "f.yaml", YAML, age_key, pysops, env)
    second = encrypted(tmp_path, "g.yaml", YAML, age_key, pysops, env)
    macs = [mac_iv(first.read_bytes()), mac_iv(second.read_bytes())]
    for value in ('"v1"', '"v2"', "3"):
        assert pysops(["set", str(first), '["password"]', value], env).code == 0
        macs.append(mac_iv(first.read_bytes()))
    assert pysops(["unset", str(first), '["user"]'], env).code == 0
    macs.append(mac_iv(first.read_bytes()))
    assert len(set(macs)) == len(macs)
    found = ivs(first.read_bytes())
    assert len(set(found)) == len(found)


def test_rotate_uses_a_new_data_key_and_new_ivs(
    tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    path = encrypted(tmp_path, "f.yaml", YAML, age_key, pysops, env)
    before = path.read_bytes()
    assert pysops(["rotate", "-i", str(path)], env).code == 0
    after = path.read_bytes()
    old_key = api.open_file(before, input_format="yaml", options=age_options(age_key)).data_key
    new_key = api.open_file(after, input_format="yaml", options=age_options(age_key)).data_key
    assert old_key != new_key
    assert not set(ivs(before)) & set(ivs(after))
    assert pysops(["decrypt", str(path)], env).stdout == YAML
