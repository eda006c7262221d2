"""age identity discovery (keys/age.py): where sops looks, with os.path instead of pathlib."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pyrage
import pytest

from pysops.errors import KeySourceError
from pysops.keys.age import default_keys_path, generate_identity_file, load_identities


@pytest.mark.skipif(sys.platform in ("darwin", "win32"), reason="XDG layout")
def test_default_keys_path() -> None:
    assert default_keys_path({"XDG_CONFIG_HOME": "/x/cfg", "HOME": "/h"}) == "/x/cfg/sops/age/keys.txt"
    assert default_keys_path({"HOME": "/h"}) == "/h/.config/sops/age/keys.txt"
    assert default_keys_path({}) == os.path.expanduser("~/.config/sops/age/keys.txt")


def test_identities_from_every_file_source(tmp_path: Path) -> None:
    ids = [pyrage.x25519.Identity.generate() for _ in range(3)]
    key_file = tmp_path / "k.txt"
    key_file.write_text(f"# comment\n{ids[0]}\n")
    default = tmp_path / ".config" / "sops" / "age" / "keys.txt"
    default.parent.mkdir(parents=True)
    default.write_text(f"{ids[1]}\n")
    env = {"HOME": str(tmp_path), "SOPS_AGE_KEY_FILE": str(key_file), "SOPS_AGE_KEY": str(ids[2])}
    found, errors = load_identities(env)
    assert errors == []
    assert sorted(str(i.to_public()) for i in found) == sorted(str(i.to_public()) for i in ids)


def test_unreadable_sources_are_reported(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "SOPS_AGE_KEY_FILE": str(tmp_path / "missing.txt"),
           "SOPS_AGE_SSH_PRIVATE_KEY_FILE": str(tmp_path / "missing_ssh")}  # fmt: skip
    found, errors = load_identities(env)
    assert found == []
    assert errors == [
        f"age: cannot read SOPS_AGE_SSH_PRIVATE_KEY_FILE {tmp_path / 'missing_ssh'}: No such file or directory",
        f"age: cannot read SOPS_AGE_KEY_FILE {tmp_path / 'missing.txt'}: No such file or directory",
    ]


def test_generate_identity_file(tmp_path: Path) -> None:
    target = generate_identity_file(None, {"XDG_CONFIG_HOME": str(tmp_path)})
    assert isinstance(target, Path) and target == tmp_path / "sops" / "age" / "keys.txt"
    assert target.stat().st_mode & 0o777 == 0o600
    found, _ = load_identities({"HOME": str(tmp_path / "nohome"), "SOPS_AGE_KEY_FILE": str(target)})
    assert len(found) == 1
    with pytest.raises(KeySourceError, match="already exists"):
        generate_identity_file(str(target), {})
