"""Plain helpers several test modules share (the fixtures are in conftest.py): age-keyed
environments, in-process age encryption/decryption through ``pysops.api``, and what a YAML
text holds (its data, its comments)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyrage
from tests.conftest import AgeKey, run_sops

from pysops import api
from pysops.document import Comment, to_python, walk_leaves
from pysops.formats import yaml as yaml_store
from pysops.keys import KeyContext, key_type


def age_env(base: dict[str, str], *keys: AgeKey) -> dict[str, str]:
    """``base`` with SOPS_AGE_KEY holding the identities of ``keys``."""
    return {**base, "SOPS_AGE_KEY": "\n".join(k.identity for k in keys)}


def age_options(*keys: AgeKey) -> api.DecryptOptions:
    """Decrypt options that see only the identities of ``keys`` (no key files of a HOME)."""
    return api.DecryptOptions(context=KeyContext({**age_env({}, *keys), "HOME": "/nonexistent"}))


def age_encrypt(plain: bytes, fmt: str, *recipients: str) -> bytes:
    """``plain`` encrypted in-process for one key group of age ``recipients``."""
    options = api.EncryptOptions(key_groups=[[key_type("age").parse_recipient(r) for r in recipients]])
    return api.encrypt_bytes(plain, options, input_format=fmt)


def age_encrypt_file(path: Path, plain: bytes, key: AgeKey, fmt: str | None = None) -> bytes:
    """Writes ``plain`` encrypted for ``key`` to ``path`` (format from the name unless given);
    returns the bytes written."""
    from pysops.formats import format_for_path

    data = age_encrypt(plain, fmt or format_for_path(path.name), key.recipient)
    path.write_bytes(data)
    return data


def age_decrypt(data: bytes, fmt: str, *keys: AgeKey) -> bytes:
    return api.decrypt_bytes(data, input_format=fmt, options=age_options(*keys))


def yaml_data(text: str | bytes) -> list[object]:
    """The documents of a YAML text as Python values."""
    raw = text.encode() if isinstance(text, str) else text
    return [to_python(branch) for branch in yaml_store.parse(raw).branches]


def yaml_comments(text: str | bytes) -> list[str]:
    """The comment texts of a YAML text, sorted (where they sit is not compared)."""
    raw = text.encode() if isinstance(text, str) else text
    branches = yaml_store.parse(raw).branches
    return sorted(leaf.text for b in branches for _, leaf in walk_leaves(b) if isinstance(leaf, Comment))


# ---- one age identity and the real sops binary, for YAML interop tests -------------------------

#: the Go sops binary's wrapper next to the interpreter (tests skip without it)
SOPS_EXE = Path(sys.executable).parent / "sops"
AGE_IDENTITY = pyrage.x25519.Identity.generate()
AGE_RECIPIENT = str(AGE_IDENTITY.to_public())
AGE_ENV = dict(os.environ, SOPS_AGE_KEY=str(AGE_IDENTITY), SOPS_DISABLE_VERSION_CHECK="1")


def sops_yaml(tmp_path: Path, data: bytes, *args: str) -> bytes:
    """``sops ARGS f.yaml`` on ``data`` (in ``tmp_path``) with ``AGE_ENV``: its stdout; it must succeed."""
    return sops_yaml_run(tmp_path, data, *args)[0]


def sops_yaml_run(tmp_path: Path, data: bytes, *args: str) -> tuple[bytes, str]:
    """``sops_yaml``'s run: its stdout and its stderr (sops's warnings); it must succeed."""
    (tmp_path / "f.yaml").write_bytes(data)
    result = subprocess.run(
        [str(SOPS_EXE), *args, "f.yaml"], capture_output=True, env=AGE_ENV, timeout=60, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout, result.stderr.decode()


def encrypt_yaml(text: bytes) -> bytes:
    """pysops's encryption of a YAML text for ``AGE_RECIPIENT``."""
    from pysops.keys.age import AgeRecipient

    options = api.EncryptOptions([[AgeRecipient(AGE_RECIPIENT)]])
    return api.encrypt_bytes(text, options, input_format="yaml", env=AGE_ENV)


def assert_comment_regex_selects_as_sops(
    text: str, flag: str, tmp_path: Path, env: dict[str, str], recipient: str, pysops: Any
) -> None:
    """pysops's encryption of the YAML ``text`` with ``flag`` (``--encrypted-comment-regex`` or
    ``--unencrypted-comment-regex``) set to ``sops:enc`` / ``sops:noenc`` selects the values sops
    selects: sops decrypts pysops's file (so its MAC saw the same values) to the text's data, and
    sops's own encryption of the text encrypts as many values of each type."""
    marker = "sops:enc" if flag == "--encrypted-comment-regex" else "sops:noenc"
    plain = tmp_path / "t.yaml"
    plain.write_text(text)
    ours = tmp_path / "ours.yaml"
    r = pysops(["encrypt", "--age", recipient, flag, marker, "--output", str(ours), str(plain)], env)
    assert r.code == 0, r.stderr
    s = run_sops(["decrypt", str(ours)], env)
    assert s.code == 0, s.stderr
    assert yaml_data(s.stdout) == yaml_data(text)
    theirs = run_sops([flag, marker, "--age", recipient, "-e", str(plain)], env)
    assert theirs.code == 0, theirs.stderr

    def body(written: str, indented: bool) -> str:
        found = re.search(r"^ *sops:\r?$" if indented else r"^sops:\r?$", written, re.M)
        return written if found is None else written[: found.start()]

    kinds = re.compile(r"type:(\w+)\]")
    assert sorted(kinds.findall(body(ours.read_text(), True))) == sorted(
        kinds.findall(body(theirs.stdout.decode(), False))
    )
