"""Where identities come from, checked against sops: SSH keys, SOPS_AGE_KEY_FILE, SOPS_AGE_KEY_CMD,
SOPS_GPG_EXEC, and mixed age+PGP key groups."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import SOPS_PGP_FP, AgeKey, run_sops

DOC = b"user: alice\npassword: hunter2\n"


def _ssh_key(tmp_path: Path, kind: str) -> tuple[Path, str]:
    key = tmp_path / f"id_{kind}"
    args = ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", "me@example", "-f", str(key)]
    if kind == "rsa":
        args[4:4] = ["-b", "2048"]
    try:
        subprocess.run(args, check=True, capture_output=True)
    except FileNotFoundError:
        pytest.skip("ssh-keygen is not installed")
    return key, (tmp_path / f"id_{kind}.pub").read_text().strip()


@pytest.mark.parametrize("kind", ["ed25519", "rsa"])
def test_ssh_recipients_both_directions(kind: str, tmp_path: Path, clean_env: dict[str, str], pysops: Any) -> None:
    key, public = _ssh_key(tmp_path, kind)
    plain = tmp_path / "s.yaml"
    plain.write_bytes(DOC)
    ours = pysops(["encrypt", "--age", public, str(plain)], clean_env)
    assert ours.code == 0, ours.stderr
    assert public in ours.stdout.decode()  # the whole public-key line, comment included, like sops
    (tmp_path / "ours.yaml").write_bytes(ours.stdout)
    theirs = run_sops(["encrypt", "--age", public, str(plain)], clean_env)
    assert theirs.code == 0, theirs.stderr
    (tmp_path / "theirs.yaml").write_bytes(theirs.stdout)
    env = {**clean_env, "SOPS_AGE_SSH_PRIVATE_KEY_FILE": str(key)}
    for name in ("ours.yaml", "theirs.yaml"):
        assert run_sops(["decrypt", str(tmp_path / name)], env).stdout == DOC
        r = pysops(["decrypt", str(tmp_path / name)], env)
        assert (r.code, r.stdout) == (0, DOC), r.stderr
    # ~/.ssh/id_<kind> is found without any variable, as sops does
    ssh_dir = Path(clean_env["HOME"]) / ".ssh"
    ssh_dir.mkdir()
    (ssh_dir / f"id_{kind}").write_bytes(key.read_bytes())
    r = pysops(["decrypt", str(tmp_path / "ours.yaml")], clean_env)
    assert (r.code, r.stdout) == (0, DOC), r.stderr


def test_age_key_file_and_key_cmd(tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    plain = tmp_path / "s.yaml"
    plain.write_bytes(DOC)
    enc = pysops(["encrypt", "--age", age_key.recipient, str(plain)], clean_env)
    path = tmp_path / "e.yaml"
    path.write_bytes(enc.stdout)
    keys = tmp_path / "keys.txt"
    keys.write_text(f"# created: now\n# public key: {age_key.recipient}\n{age_key.identity}\n")
    r = pysops(["decrypt", str(path)], {**clean_env, "SOPS_AGE_KEY_FILE": str(keys)})
    assert (r.code, r.stdout) == (0, DOC)
    cmd = f'{sys.executable} -c "print(open({str(keys)!r}).read())"'
    r = pysops(["decrypt", str(path)], {**clean_env, "SOPS_AGE_KEY_CMD": cmd})
    assert (r.code, r.stdout) == (0, DOC), r.stderr
    assert run_sops(["decrypt", str(path)], {**clean_env, "SOPS_AGE_KEY_CMD": cmd}).stdout == DOC
    # A broken key file is reported (not a traceback), and the file stays closed.
    bad = tmp_path / "bad.txt"
    bad.write_text("AGE-SECRET-KEY-1NOTAKEY\n")
    r = pysops(["decrypt", str(path)], {**clean_env, "SOPS_AGE_KEY_FILE": str(bad)})
    assert r.code == 128 and "malformed identity" in r.stderr and r.stdout == b""


def test_recipients_from_environment(tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    plain = tmp_path / "s.yaml"
    plain.write_bytes(DOC)
    r = pysops(["encrypt", str(plain)], {**clean_env, "SOPS_AGE_RECIPIENTS": f" {age_key.recipient} ,"})
    assert r.code == 0, r.stderr
    path = tmp_path / "e.yaml"
    path.write_bytes(r.stdout)
    assert run_sops(["decrypt", str(path)], {**clean_env, "SOPS_AGE_KEY": age_key.identity}).stdout == DOC


def test_gpg_exec_and_mixed_groups(
    tmp_path: Path, clean_env: dict[str, str], gnupg_home: Path, age_key: AgeKey, pysops: Any
) -> None:
    wrapper = tmp_path / "mygpg"
    log = tmp_path / "gpg.log"
    wrapper.write_text(f'#!/bin/sh\necho called >> "{log}"\nexec gpg "$@"\n')
    wrapper.chmod(0o755)
    (tmp_path / ".sops.yaml").write_text(
        f"creation_rules:\n  - key_groups:\n      - pgp: [{SOPS_PGP_FP}]\n      - age: [{age_key.recipient}]\n"
    )
    plain = tmp_path / "s.yaml"
    plain.write_bytes(DOC)
    env = {**clean_env, "GNUPGHOME": str(gnupg_home), "SOPS_GPG_EXEC": str(wrapper)}
    r = pysops(["encrypt", str(plain)], env)
    assert r.code == 0, r.stderr
    assert log.exists()
    path = tmp_path / "e.yaml"
    path.write_bytes(r.stdout)
    both = {**env, "SOPS_AGE_KEY": age_key.identity}
    assert run_sops(["decrypt", str(path)], both).stdout == DOC
    assert pysops(["decrypt", str(path)], both).stdout == DOC
    # Threshold 2 of 2: the PGP key alone is not enough.
    r = pysops(["decrypt", str(path)], env)
    assert r.code == 128 and "group 1" in r.stderr
