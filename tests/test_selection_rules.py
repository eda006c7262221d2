"""Which leaves are encrypted, checked against sops 3.11 on a document built to tell the rules'
scopes apart: regexes that match in the middle of a key, the children of a mapping whose key
matches, comment markers on mappings. A rule that leaves a secret in clear (or encrypts what
must stay readable) makes these tests fail (scripts/mutants.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import AgeKey, run_sops
from tests.helpers import age_env, age_options

from pysops import api
from pysops.crypto.cipher import ValueCipher
from pysops.document import Comment, Scalar
from pysops.formats import get_store

DOC = """\
password: p1
db_password: p2
mypassword_hash: p3
pub_host: h1
host_pub: h2
config_unencrypted:
  nested: n1
  deeper:
    leaf: n2
creds_encrypted:
  user: u1
  inner:
    token: t1
# sops:enc
marked:
  child: c1
  grand:
    leaf: c2
plainmap:
  # sops:enc
  x: x1
  y: y1
other: o1
list:
  - l1
  - l2
"""

MODES = [
    ("default", []),
    ("encrypted_suffix", ["--encrypted-suffix", "_encrypted"]),
    ("encrypted_regex", ["--encrypted-regex", "password|creds"]),
    ("unencrypted_regex", ["--unencrypted-regex", "pub|config"]),
    ("encrypted_comment_regex", ["--encrypted-comment-regex", "sops:enc"]),
    ("unencrypted_comment_regex", ["--unencrypted-comment-regex", "sops:enc"]),
]


def encrypted_leaves(data: bytes) -> dict[tuple[str, ...], list[bool]]:
    """For each leaf path (list items share their list's path): whether each value is encrypted."""
    leaves: dict[tuple[str, ...], list[bool]] = {}
    for visit in api.walk_document(get_store("yaml").parse(data)):
        if isinstance(visit.leaf, Scalar):
            leaves.setdefault(visit.path, []).append(str(visit.leaf.value).startswith("ENC["))
    return leaves


@pytest.mark.parametrize("mode, flags", MODES, ids=[m for m, _ in MODES])
def test_selection_matches_sops(
    mode: str, flags: list[str], tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    env = age_env(clean_env, age_key)
    plain = tmp_path / "doc.yaml"
    plain.write_text(DOC)
    r = pysops(["encrypt", "--age", age_key.recipient, *flags, str(plain)], env)
    assert r.code == 0, r.stderr
    # sops 3.11 takes the comment regexes only as global flags (legacy form)
    s = run_sops([*flags, "--age", age_key.recipient, "-e", str(plain)], env)
    assert s.code == 0, s.stderr
    ours, theirs = encrypted_leaves(r.stdout), encrypted_leaves(s.stdout)
    assert ours == theirs
    assert any(any(v) for v in ours.values()) and not all(all(v) for v in ours.values())
    # and each tool decrypts the other's file to the same data
    (tmp_path / "ours.yaml").write_bytes(r.stdout)
    (tmp_path / "theirs.yaml").write_bytes(s.stdout)
    expected = None
    for path in ("ours.yaml", "theirs.yaml"):
        a = run_sops(["decrypt", "--output-type", "json", str(tmp_path / path)], env)
        b = pysops(["decrypt", "--output-type", "json", str(tmp_path / path)], env)
        assert a.code == 0 and b.code == 0, (a.stderr, b.stderr)
        assert json.loads(a.stdout) == json.loads(b.stdout) == (expected or json.loads(a.stdout))
        expected = json.loads(a.stdout)


def test_check_uses_the_same_selection(tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    """`pysops check` expects in clear exactly what the rules leave in clear (children of a
    `_unencrypted` mapping included) in a file sops wrote."""
    env = age_env(clean_env, age_key)
    plain = tmp_path / "doc.yaml"
    plain.write_text(DOC)
    s = run_sops(["encrypt", "--age", age_key.recipient, str(plain)], env)
    assert s.code == 0, s.stderr
    enc = tmp_path / "enc.yaml"
    enc.write_bytes(s.stdout)
    r = pysops(["check", str(enc)], env)
    assert r.code == 0, r.stdout.decode() + r.stderr
    # and it does flag a value that the rules want encrypted
    enc.write_text(s.stdout.decode().replace("password: ENC[", "password: p1\nx_was: ENC[", 1))
    assert pysops(["check", str(enc)], env).code != 0


def test_comments_sops_attaches_one_level_off_decrypt(
    tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    """A comment sealed with the AAD of an enclosing mapping (where another writer attached it)
    still decrypts to its text; it is not printed as ciphertext."""
    env = age_env(clean_env, age_key)
    plain = b"outer:\n  inner:\n    # the note\n    key: v\n"
    src = tmp_path / "c.yaml"
    src.write_bytes(plain)
    r = pysops(["encrypt", "--age", age_key.recipient, str(src)], env)
    assert r.code == 0, r.stderr
    doc = get_store("yaml").parse(r.stdout)
    opened = api.open_file(r.stdout, input_format="yaml", options=age_options(age_key))
    cipher = ValueCipher(opened.data_key)
    comments = [v for v in api.walk_document(doc) if isinstance(v.leaf, Comment)]
    assert len(comments) == 1 and comments[0].path == ("outer", "inner")
    sealed = comments[0].leaf.text
    for aad in ("outer:", ":"):  # one and two levels off
        moved = cipher.encrypt_comment(" the note", aad, bytes(range(32)))
        enc = tmp_path / "moved.yaml"
        enc.write_bytes(r.stdout.replace(sealed.encode(), moved.encode()))
        out = pysops(["decrypt", str(enc)], env)
        assert out.code == 0, out.stderr
        assert out.stdout == plain
