"""The YAML store against the real sops 3.11 binary (types, comments' AAD, metadata, aliases)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pyrage
import pytest

from pysops import api
from pysops.document import Comment, Scalar, to_python, walk_leaves
from pysops.formats import yaml as Y
from pysops.keys.age import AgeRecipient
from pysops.values import type_name

SOPS = Path(sys.executable).parent / "sops"
pytestmark = pytest.mark.skipif(not SOPS.exists(), reason="sops binary not installed")

IDENTITY = pyrage.x25519.Identity.generate()
ENV = dict(os.environ, SOPS_AGE_KEY=str(IDENTITY), SOPS_DISABLE_VERSION_CHECK="1")

TEXT = """\
# top of file
a: 1 # inline
b: "quoted"
c: 'single'
d: plain string
e: |
  line1
  line2
f: >-
  folded
  text
g: [1, two, "three", {x: y}]
h: {k: v, n: 2.5}
i: true
j: 2024-01-01
k: 0x1F
l: null
m: ""
when: 2024-01-01T10:00:00.5+02:00
nested: # after key
  # head
  x: 1.5
  list:
    - a # item
    # between
    - b: c
      d: 3
  # foot
base: &b
  p: 1
  q: two
ref: *b
merged:
  <<: *b
  r: 3
s: &s scalar
t: *s
u: yes
# end
"""


def sops(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(SOPS), *args], capture_output=True, env=ENV, input=stdin, timeout=60)


def encrypt_with_pysops(text: str) -> bytes:
    options = api.EncryptOptions([[AgeRecipient(str(IDENTITY.to_public()))]])
    return api.encrypt_bytes(text.encode(), options, input_format="yaml")


def test_sops_decrypts_what_pysops_encrypts(tmp_path: Path) -> None:
    encrypted = encrypt_with_pysops(TEXT)
    path = tmp_path / "enc.yaml"
    path.write_bytes(encrypted)
    result = sops("decrypt", str(path))
    assert result.returncode == 0, result.stderr.decode()
    # every comment decrypted with the AAD sops computes (no "possibly unencrypted comment")
    assert b"unencrypted comment" not in result.stderr
    theirs = Y.parse(result.stdout)
    ours = Y.parse(TEXT.encode())
    assert [to_python(b) for b in theirs.branches] == [to_python(b) for b in ours.branches]
    comments = [leaf.text for b in theirs.branches for _, leaf in walk_leaves(b) if isinstance(leaf, Comment)]
    assert sorted(comments) == sorted(
        [" top of file", " inline", " after key", " head", " item", " between", " foot", " end"]
    )


def test_pysops_roundtrip_keeps_text() -> None:
    decrypted = api.decrypt_bytes(
        encrypt_with_pysops(TEXT), input_format="yaml", options=api.DecryptOptions(env=ENV)
    ).decode()
    expected = (
        TEXT.replace("f: >-\n  folded\n  text\n", "f: folded text\n")
        .replace("j: 2024-01-01\n", "j: 2024-01-01T00:00:00Z\n")
        .replace("k: 0x1F\n", "k: 31\n")
        .replace("ref: *b\n", "ref: {p: 1, q: two}\n")
        .replace("  <<: *b\n", "  <<: {p: 1, q: two}\n")
        .replace("t: *s\n", "t: scalar\n")
    )
    assert decrypted == expected


def test_pysops_decrypts_what_sops_encrypts(tmp_path: Path) -> None:
    path = tmp_path / "plain.yaml"
    path.write_text(TEXT)
    result = sops("encrypt", "--age", str(IDENTITY.to_public()), str(path))
    assert result.returncode == 0, result.stderr.decode()
    doc = Y.parse(result.stdout)
    assert doc.metadata is not None and doc.metadata["version"] == "3.11.0"
    # the type sops wrote for each value is the type our parser gives the plaintext
    plain = [
        leaf.value
        for b in Y.parse(TEXT.encode()).branches
        for _, leaf in walk_leaves(b)
        if isinstance(leaf, Scalar) and leaf.value not in (None, "")
    ]
    tags = re.findall(r"type:(\w+)\]", result.stdout.decode().split("\nsops:")[0])
    tags = [t for t in tags if t != "comment"]
    assert tags == [type_name(v) for v in plain]
    decrypted = api.decrypt_bytes(result.stdout, input_format="yaml", options=api.DecryptOptions(env=ENV))
    assert [to_python(b) for b in Y.parse(decrypted).branches] == [
        to_python(b) for b in Y.parse(TEXT.encode()).branches
    ]


def test_large_file_parses_and_renders() -> None:
    """20,000 values through parse, replace and render (speed is bench/'s job)."""
    lines = []
    for i in range(2000):
        lines += [f"# section {i}", f"svc{i}:"] + [f"  key{j}: value-{i}-{j}" for j in range(8)]
        lines += ["  list:", f"    - {i}", f"    - 'q{i}' # note"]
    data = ("\n".join(lines) + "\n").encode()
    doc = Y.parse(data)
    count = 0
    for branch in doc.branches:
        for _, leaf in walk_leaves(branch):
            if isinstance(leaf, Scalar):
                leaf.set("ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:str]")
                count += 1
    out = Y.render(doc, {"version": "3.11.0"})
    assert count == 20000 and out.count(b"ENC[") == 20000
