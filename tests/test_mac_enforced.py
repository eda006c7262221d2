"""Every path that reads an encrypted file verifies its MAC: decrypt in every store, bulk and
recursive decrypt, and every command that writes the file back (set, unset, rotate, updatekeys,
groups, edit, the git merge driver) — so a tampered file is never re-sealed with a fresh valid
MAC. Each test here fails when one of those checks is removed (scripts/mutants.py).

The tampering is one sops's MAC exists to catch: an unencrypted value changed (for the binary
store, which has no unencrypted value, the ``lastmodified`` the MAC is bound to).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import AgeKey, new_age_key, run_sops
from tests.helpers import age_encrypt, age_env

SECRET = "s3cret-PLAIN"
CLEAR = "clear-value"
TAMPERED = "evil-value!"  # same length: only the MAC can tell

PLAIN: dict[str, tuple[str, bytes]] = {
    "yaml": ("f.yaml", f"secret: {SECRET}\nnote_unencrypted: {CLEAR}\nport: 5432\n".encode()),
    "json": ("f.json", json.dumps({"secret": SECRET, "note_unencrypted": CLEAR, "port": 5432}).encode()),
    "dotenv": ("f.env", f"SECRET={SECRET}\nnote_unencrypted={CLEAR}\n".encode()),
    "ini": ("f.ini", f"[main]\nsecret = {SECRET}\nnote_unencrypted = {CLEAR}\n".encode()),
    "binary": ("f.bin", f"\x00binary {SECRET}\n".encode()),
}
FORMATS = list(PLAIN)


def tamper(data: bytes, fmt: str) -> bytes:
    """``data`` with its unencrypted value changed, or (binary) its lastmodified year."""
    if fmt == "binary":
        out, n = re.subn(rb"(lastmodified[\"']?\s*[:=]\s*[\"']?)\d{4}", rb"\g<1>2001", data)
    else:
        out, n = data.replace(CLEAR.encode(), TAMPERED.encode()), data.count(CLEAR.encode())
    assert n == 1 and out != data
    return out


@pytest.fixture
def env(clean_env: dict[str, str], age_key: AgeKey) -> dict[str, str]:
    return age_env(clean_env, age_key)


def make(tmp_path: Path, fmt: str, key: AgeKey, *, tampered: bool = True, name: str | None = None) -> Path:
    """An encrypted file of ``fmt`` for ``key`` (tampered unless told otherwise)."""
    default_name, plain = PLAIN[fmt]
    data = age_encrypt(plain, fmt, key.recipient)
    path = tmp_path / (name or default_name)
    path.write_bytes(tamper(data, fmt) if tampered else data)
    return path


def assert_refused(r: Any, code: int = 51) -> None:
    assert r.code == code, (r.code, r.stderr)
    assert "pysops: error: MAC mismatch" in r.stderr if code == 51 else "pysops: error: " in r.stderr
    assert "Traceback" not in r.stderr
    assert SECRET.encode() not in r.stdout and SECRET not in r.stderr


# --------------------------------------------------------------------------------------------
# decrypt


@pytest.mark.parametrize("fmt", FORMATS)
def test_decrypt_rejects_a_tampered_file(
    fmt: str, tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    good = make(tmp_path, fmt, age_key, tampered=False, name="good." + PLAIN[fmt][0])
    r = pysops(["decrypt", str(good)], env)
    assert r.code == 0, r.stderr
    assert SECRET.encode() in r.stdout
    path = make(tmp_path, fmt, age_key)
    assert_refused(pysops(["decrypt", str(path)], env))
    assert run_sops(["decrypt", str(path)], env).code == 51  # sops agrees
    r = pysops(["decrypt", "--ignore-mac", str(path)], env)
    assert r.code == 0 and SECRET.encode() in r.stdout


def test_bulk_and_recursive_decrypt_reject_a_tampered_file(
    tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    good = make(tree, "yaml", age_key, tampered=False, name="good.yaml")
    bad = make(tree, "dotenv", age_key, name="bad.env")
    for args in (
        ["--output-dir", str(tmp_path / "out1"), str(good), str(bad)],
        ["--recursive", str(tree), "--output-dir", str(tmp_path / "out2")],
    ):
        r = pysops(["decrypt", *args], env)
        assert r.code != 0, r.stderr
        assert "Traceback" not in r.stderr and SECRET not in r.stderr
        outputs = [p for p in tmp_path.glob("out*/**/*") if p.is_file()]
        assert not any(p.name.startswith("bad") for p in outputs), outputs
    before = bad.read_bytes()
    r = pysops(["decrypt", "-i", str(good), str(bad)], env)
    assert r.code != 0 and bad.read_bytes() == before


def test_plain_number_where_ciphertext_is_expected_is_rejected(
    tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    """The MAC hashes the serialised value, so a number put back in clear in place of its own
    ciphertext matches the MAC: the 'must be encrypted' rule is what catches it (sops panics)."""
    path = make(tmp_path, "json", age_key, tampered=False)
    doc = json.loads(path.read_text())
    doc["port"] = 5432
    path.write_text(json.dumps(doc))
    assert_refused(pysops(["decrypt", str(path)], env), 25)
    assert run_sops(["decrypt", str(path)], env).code != 0


def test_equivalent_lastmodified_spelling_still_verifies_like_sops(
    tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    """sops binds the MAC to lastmodified re-formatted as RFC3339, so `+00:00` for `Z` (what
    some YAML/JSON tools write back) still verifies in both tools."""
    path = make(tmp_path, "json", age_key, tampered=False)
    text = path.read_text()
    respelled, n = re.subn(r'("lastmodified":\s*"[^"]*)Z"', r'\1+00:00"', text)
    assert n == 1
    path.write_text(respelled)
    assert run_sops(["decrypt", str(path)], env).code == 0
    r = pysops(["decrypt", str(path)], env)
    assert r.code == 0, r.stderr
    assert json.loads(r.stdout)["secret"] == SECRET


@pytest.mark.parametrize("fmt", ["yaml", "dotenv"])
def test_mac_only_encrypted_files_interoperate_with_sops(
    fmt: str, tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    name, plain = PLAIN[fmt]
    src = tmp_path / name
    src.write_bytes(plain)
    ours = tmp_path / ("ours." + name)
    r = pysops(["encrypt", "--age", age_key.recipient, "--mac-only-encrypted", "--output", str(ours), str(src)], env)
    assert r.code == 0, r.stderr
    s = run_sops(["--mac-only-encrypted", "--age", age_key.recipient, "-e", str(src)], env)
    assert s.code == 0, s.stderr
    theirs = tmp_path / ("theirs." + name)
    theirs.write_bytes(s.stdout)
    for path in (ours, theirs):
        assert run_sops(["decrypt", str(path)], env).code == 0
        r = pysops(["decrypt", str(path)], env)
        assert r.code == 0, r.stderr
        # an unencrypted value is outside such a MAC; an encrypted one is not
        path.write_bytes(tamper(path.read_bytes(), fmt))
        assert pysops(["decrypt", str(path)], env).code == 0


# --------------------------------------------------------------------------------------------
# commands that write the file back: refuse, write nothing (sops refuses too, except groups and
# updatekeys, which re-wrap the data key of a file whose MAC does not verify)


@pytest.mark.parametrize("fmt", ["dotenv", "ini", "yaml", "json"])
def test_set_and_unset_refuse_a_tampered_file(
    fmt: str, tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    path = make(tmp_path, fmt, age_key)
    before = path.read_bytes()
    key = "SECRET" if fmt == "dotenv" else "secret"
    index = f'["main"]["{key}"]' if fmt == "ini" else f'["{key}"]'
    assert_refused(pysops(["set", str(path), index, '"new"'], env))
    assert path.read_bytes() == before
    assert_refused(pysops(["unset", str(path), index], env))
    assert path.read_bytes() == before
    assert run_sops(["set", str(path), index, '"new"'], env).code == 51


def test_rotate_refuses_a_tampered_file(tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    for fmt in ("dotenv", "binary"):
        path = make(tmp_path, fmt, age_key)
        before = path.read_bytes()
        assert_refused(pysops(["rotate", "-i", str(path)], env))
        assert path.read_bytes() == before
        assert_refused(pysops(["rotate", str(path)], env))
        assert run_sops(["rotate", str(path)], env).code == 51


def test_updatekeys_refuses_a_tampered_file(tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    other = new_age_key()
    (tmp_path / ".sops.yaml").write_text(f"creation_rules:\n  - age: {age_key.recipient},{other.recipient}\n")
    path = make(tmp_path, "yaml", age_key)
    before = path.read_bytes()
    assert_refused(pysops(["updatekeys", "-y", str(path)], env))
    assert path.read_bytes() == before
    # Deliberate difference (docs/formats.md): sops 3.11 re-wraps the data key without a MAC check.
    assert run_sops(["updatekeys", "-y", str(path)], env, cwd=tmp_path).code == 0
    # the untampered file is updated: the refusal above is the MAC's doing
    good = make(tmp_path, "yaml", age_key, tampered=False, name="good.yaml")
    assert pysops(["updatekeys", "-y", str(good)], env).code == 0
    assert other.recipient in good.read_text()


def test_groups_refuse_a_tampered_file(tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    """Deliberate difference (docs/formats.md): sops 3.11's `groups add` re-wraps the data key of
    a file whose MAC does not verify; pysops refuses, like its other writing commands."""
    other = new_age_key()
    path = make(tmp_path, "ini", age_key)
    before = path.read_bytes()
    assert_refused(pysops(["groups", "add", "-f", str(path), "-i", "--age", other.recipient], env))
    assert path.read_bytes() == before
    assert_refused(pysops(["groups", "add", "-f", str(path), "--age", other.recipient], env))
    copy = tmp_path / "sops-copy.ini"
    shutil.copy(path, copy)
    assert run_sops(["groups", "add", "--file", str(copy), "--age", other.recipient], env).code == 0
    # a file with two groups: delete refuses too
    two = make(tmp_path, "yaml", age_key, tampered=False, name="two.yaml")
    assert pysops(["groups", "add", "-f", str(two), "-i", "--age", other.recipient], env).code == 0
    two.write_bytes(tamper(two.read_bytes(), "yaml"))
    before = two.read_bytes()
    assert_refused(pysops(["groups", "delete", "-f", str(two), "-i", "1"], age_env(env, age_key, other)))
    assert two.read_bytes() == before


def test_edit_refuses_a_tampered_file(tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\necho 'added: 1' >> \"$1\"\n")
    editor.chmod(0o755)
    path = make(tmp_path, "yaml", age_key)
    before = path.read_bytes()
    assert_refused(pysops(["edit", str(path)], {**env, "EDITOR": str(editor)}))
    assert path.read_bytes() == before


def test_exec_env_and_exec_file_refuse_a_tampered_file(
    tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    path = make(tmp_path, "dotenv", age_key)
    marker = tmp_path / "ran"
    assert_refused(pysops(["exec-env", str(path), f"touch {marker}"], env))
    assert_refused(pysops(["exec-file", str(path), f"touch {marker}"], env))
    assert not marker.exists()


@pytest.mark.parametrize("side", ["ours", "theirs"])
def test_merge_driver_refuses_a_tampered_side(
    side: str, tmp_path: Path, env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    """Tampered sides are not merged and re-MACed: the driver reports a conflict, ours stays."""
    base = make(tmp_path, "yaml", age_key, tampered=False, name="base.yaml")
    sides = {}
    for name, index, value in (("ours", '["secret"]', '"from-ours"'), ("theirs", '["port"]', "6543")):
        sides[name] = tmp_path / f"{name}.yaml"
        shutil.copy(base, sides[name])
        assert pysops(["set", str(sides[name]), index, value], env).code == 0
    good = pysops(["git", "merge-driver", str(base), str(tmp_path / "ours.yaml"), str(sides["theirs"]), "f.yaml"], env)
    assert good.code == 0, good.stderr  # the untampered merge is clean
    shutil.copy(base, sides["ours"])
    assert pysops(["set", str(sides["ours"]), '["secret"]', '"from-ours"'], env).code == 0
    sides[side].write_bytes(tamper(sides[side].read_bytes(), "yaml"))
    ours_before = sides["ours"].read_bytes()
    r = pysops(["git", "merge-driver", str(base), str(sides["ours"]), str(sides["theirs"]), "f.yaml"], env)
    assert r.code == 1, r.stderr
    assert "MAC" in r.stderr and "Traceback" not in r.stderr and SECRET not in r.stderr
    assert sides["ours"].read_bytes() == ours_before
