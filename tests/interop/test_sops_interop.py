"""Interop with the real sops 3.11.0 binary, both directions, for every format.

* pysops encrypts -> sops decrypts (MAC checked) to the same data as sops's own encryption of
  the same plaintext decrypts to;
* sops encrypts -> pysops decrypts to the same data as sops decrypts to.
"Same data" is compared on ``--output-type json`` output parsed with Python's json, except for
dotenv/INI/binary whose text output is compared directly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import SOPS_PGP_FP, AgeKey, run_sops

YAML_DOC = """\
# top comment
name: Alice   # inline
unicode: "héllo wörld ✓"
empty: ""
nothing: null
count: 42
negative: -7
ratio: 3.5
flag: true
when: 2024-01-02T03:04:05Z
nested:
  deeper:
    secret: s3cr3t
    list: [a, 1, true]
  # foot of nested
lists:
  - - x
    - y
  - {k: v, n: 2}
  - plain
block: |
  line one
  line two
public_unencrypted: visible
"""

JSON_DOC = """{
  "name": "Alice",
  "unicode": "héllo ✓",
  "empty": "",
  "nothing": null,
  "count": 42,
  "ratio": 3.5,
  "flag": false,
  "nested": {"deeper": {"secret": "s3cr3t", "list": ["a", 1, true]}},
  "lists": [["x", "y"], {"k": "v"}, []],
  "public_unencrypted": "visible"
}
"""

DOTENV_DOC = """\
# a comment
DATABASE_URL=postgres://u:p@h/db
export TOKEN="quoted value"
EMPTY=
UNICODE=héllo ✓
WITH_EQUALS=a=b=c
"""

INI_DOC = """\
; top comment
[database]
user = admin
password = s3cr3t
empty =

[smtp]
host = mail.example.com
port = 25
"""

BINARY_DOC = bytes(range(256)) + b"\x00\xff binary tail"

DOCS: dict[str, tuple[str, bytes]] = {
    "yaml": ("secrets.yaml", YAML_DOC.encode()),
    "json": ("secrets.json", JSON_DOC.encode()),
    "dotenv": ("secrets.env", DOTENV_DOC.encode()),
    "ini": ("secrets.ini", INI_DOC.encode()),
    "binary": ("secrets.bin", BINARY_DOC),
}


def _env(base: dict[str, str], key: AgeKey | None = None, gnupg: Path | None = None) -> dict[str, str]:
    env = dict(base)
    if key is not None:
        env["SOPS_AGE_KEY"] = key.identity
    if gnupg is not None:
        env["GNUPGHOME"] = str(gnupg)
    return env


def _data(output: bytes, fmt: str) -> Any:
    """Data, not layout: sops aligns INI `=` and re-indents; we keep the input's text."""
    if fmt in ("yaml", "json"):
        return json.loads(output)
    if fmt == "ini":
        from pysops.document import to_python
        from pysops.formats import get_store

        return [to_python(b) for b in get_store("ini").parse(output).branches]
    return output


def _decrypt_args(fmt: str) -> list[str]:
    # YAML/JSON are compared as JSON data; the others as their own text.
    return ["--output-type", "json"] if fmt in ("yaml", "json") else []


def _both_decrypt(path: Path, fmt: str, env: dict[str, str], pysops: Any) -> tuple[Any, Any]:
    s = run_sops(["decrypt", *_decrypt_args(fmt), str(path)], env)
    assert s.code == 0, s.stderr
    p = pysops(["decrypt", *_decrypt_args(fmt), str(path)], env)
    assert p.code == 0, p.stderr
    return _data(s.stdout, fmt), _data(p.stdout, fmt)


@pytest.mark.parametrize("fmt", list(DOCS))
def test_age_both_directions(fmt: str, tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    name, content = DOCS[fmt]
    plain = tmp_path / name
    plain.write_bytes(content)
    env = _env(clean_env, age_key)

    ours = tmp_path / ("ours." + name)
    r = pysops(["encrypt", "--age", age_key.recipient, "--output", str(ours), str(plain)], env)
    assert r.code == 0, r.stderr
    theirs = tmp_path / ("theirs." + name)
    s = run_sops(["encrypt", "--age", age_key.recipient, "--output", str(theirs), str(plain)], env)
    assert s.code == 0, s.stderr

    # sops reads what we wrote (MAC checked) and sees what it sees in its own file.
    sops_of_ours, pysops_of_ours = _both_decrypt(ours, fmt, env, pysops)
    sops_of_theirs, pysops_of_theirs = _both_decrypt(theirs, fmt, env, pysops)
    assert sops_of_ours == sops_of_theirs
    assert pysops_of_theirs == sops_of_theirs
    assert pysops_of_ours == sops_of_theirs
    # pysops gives back the exact plaintext it encrypted.
    back = pysops(["decrypt", str(ours)], env)
    assert back.code == 0 and back.stdout == content


@pytest.mark.parametrize("fmt", list(DOCS))
def test_pgp_both_directions(
    fmt: str, tmp_path: Path, clean_env: dict[str, str], gnupg_home: Path, pysops: Any
) -> None:
    name, content = DOCS[fmt]
    plain = tmp_path / name
    plain.write_bytes(content)
    env = _env(clean_env, gnupg=gnupg_home)
    ours = tmp_path / ("ours." + name)
    r = pysops(["encrypt", "--pgp", SOPS_PGP_FP, "--output", str(ours), str(plain)], env)
    assert r.code == 0, r.stderr
    theirs = tmp_path / ("theirs." + name)
    assert run_sops(["encrypt", "--pgp", SOPS_PGP_FP, "--output", str(theirs), str(plain)], env).code == 0
    sops_of_ours, pysops_of_ours = _both_decrypt(ours, fmt, env, pysops)
    sops_of_theirs, pysops_of_theirs = _both_decrypt(theirs, fmt, env, pysops)
    assert sops_of_ours == sops_of_theirs == pysops_of_theirs == pysops_of_ours


def _groups_config(directory: Path, keys: list[AgeKey], threshold: int) -> None:
    groups = "".join(f"      - age:\n          - {k.recipient}\n" for k in keys)
    (directory / ".sops.yaml").write_text(
        f"creation_rules:\n  - shamir_threshold: {threshold}\n    key_groups:\n{groups}"
    )


@pytest.mark.parametrize("fmt", list(DOCS))
def test_three_key_groups_threshold_two(
    fmt: str, tmp_path: Path, clean_env: dict[str, str], age_keys: list[AgeKey], pysops: Any
) -> None:
    name, content = DOCS[fmt]
    work = tmp_path / "groups"
    work.mkdir()
    _groups_config(work, age_keys, 2)
    plain = work / name
    plain.write_bytes(content)
    ours, theirs = work / ("ours." + name), work / ("theirs." + name)
    r = pysops(["encrypt", "--output", str(ours), str(plain)], clean_env)
    assert r.code == 0, r.stderr
    assert run_sops(["encrypt", "--output", str(theirs), str(plain)], clean_env, cwd=work).code == 0
    # Any two of the three identities decrypt, with either tool, either file.
    two = "\n".join(k.identity for k in age_keys[1:])
    env = {**clean_env, "SOPS_AGE_KEY": two}
    s_ours, p_ours = _both_decrypt(ours, fmt, env, pysops)
    s_theirs, p_theirs = _both_decrypt(theirs, fmt, env, pysops)
    assert s_ours == p_ours == s_theirs == p_theirs
    # One identity is not enough: exit 128 from both tools.
    one = {**clean_env, "SOPS_AGE_KEY": age_keys[0].identity}
    assert run_sops(["decrypt", str(ours)], one).code == 128
    r = pysops(["decrypt", str(ours)], one)
    assert r.code == 128 and r.stdout == b""
    assert "group" in r.stderr


SELECTIONS = [
    ("--unencrypted-suffix", "_plain"),
    ("--encrypted-suffix", "_secret"),
    ("--unencrypted-regex", "^pub"),
    ("--encrypted-regex", "^(data|password)$"),
]

SELECTION_YAML = """\
pub_host: example.com
password: hunter2
user_plain: bob
token_secret: abc
data:
  inner: value
  list: [1, two]
other: x
"""


@pytest.mark.parametrize("flag, value", SELECTIONS)
def test_selection_rules(
    flag: str, value: str, tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    plain = tmp_path / "sel.yaml"
    plain.write_text(SELECTION_YAML)
    env = _env(clean_env, age_key)
    ours, theirs = tmp_path / "ours.yaml", tmp_path / "theirs.yaml"
    r = pysops(["encrypt", "--age", age_key.recipient, flag, value, "--output", str(ours), str(plain)], env)
    assert r.code == 0, r.stderr
    s = run_sops(["encrypt", "--age", age_key.recipient, flag, value, "--output", str(theirs), str(plain)], env)
    assert s.code == 0, s.stderr
    # Exactly the same leaves are encrypted by both tools (sops re-lays flow lists out, so
    # compare the leaves, not the lines).
    assert _encrypted_leaves(ours) == _encrypted_leaves(theirs)
    assert len(_encrypted_leaves(ours)) >= 2
    a, b = _both_decrypt(ours, "yaml", env, pysops)
    c, d = _both_decrypt(theirs, "yaml", env, pysops)
    assert a == b == c == d


def _encrypted_leaves(path: Path) -> list[tuple[tuple[str, ...], bool]]:
    from pysops.api import walk_document
    from pysops.document import Scalar
    from pysops.formats import get_store

    doc = get_store("yaml").parse(path.read_bytes())
    return [(v.path, str(v.leaf.value).startswith("ENC[")) for v in walk_document(doc) if isinstance(v.leaf, Scalar)]


COMMENT_YAML = """\
# plain comment
a: 1
# sops:enc
b: 2
c:
  # sops:enc
  d: 3
  e: 4
"""


@pytest.mark.parametrize("mode", ["unencrypted", "encrypted"])
def test_comment_regex_modes(
    mode: str, tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    plain = tmp_path / "c.yaml"
    plain.write_text(COMMENT_YAML)
    env = _env(clean_env, age_key)
    flag = f"--{mode}-comment-regex"
    r = pysops(["encrypt", "--age", age_key.recipient, flag, "sops:enc", str(plain)], env)
    assert r.code == 0, r.stderr
    ours = tmp_path / "ours.yaml"
    ours.write_bytes(r.stdout)
    # sops 3.11 only takes comment regexes as global flags (legacy mode).
    s = run_sops([flag, "sops:enc", "--age", age_key.recipient, "-e", str(plain)], env)
    assert s.code == 0, s.stderr
    theirs = tmp_path / "theirs.yaml"
    theirs.write_bytes(s.stdout)

    def encrypted_keys(text: str) -> list[str]:
        return [ln.strip().split(":")[0] for ln in text.splitlines() if ": ENC[" in ln]

    assert encrypted_keys(ours.read_text()) == encrypted_keys(theirs.read_text())
    a, b = _both_decrypt(ours, "yaml", env, pysops)
    c, d = _both_decrypt(theirs, "yaml", env, pysops)
    assert a == b == c == d
    back = pysops(["decrypt", str(ours)], env)
    assert back.stdout.decode() == COMMENT_YAML


@pytest.mark.parametrize("ext, text", [("yaml", "# db password\npass: hunter2\n"), ("env", "# db\nPASS=hunter2\n")])
def test_comment_regex_matching_encrypted_comments_is_refused(
    ext: str, text: str, tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    """An unencrypted_comment_regex that matches the ENC[...] text of an encrypted comment
    ("type" is in every one) would make that comment read back as a plain one: sops 3.11
    refuses with exit 23, and so does pysops, writing nothing."""
    plain = tmp_path / f"c.{ext}"
    plain.write_text(text)
    env = _env(clean_env, age_key)
    s = run_sops(["--unencrypted-comment-regex", "type", "--age", age_key.recipient, "-e", str(plain)], env)
    assert s.code == 23 and s.stdout == b""
    out = tmp_path / "out"
    flags = ["--age", age_key.recipient, "--unencrypted-comment-regex", "type", "--output", str(out)]
    r = pysops(["encrypt", *flags, str(plain)], env)
    assert r.code == 23 and r.stdout == b"" and not out.exists()
    assert r.stderr.startswith("pysops: error: the encrypted form of a comment matches unencrypted_comment_regex")
    assert "hunter2" not in r.stderr and plain.read_text() == text


@pytest.mark.parametrize("fmt", ["yaml", "json", "dotenv"])
def test_mac_only_encrypted(fmt: str, tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    name, content = DOCS[fmt]
    plain = tmp_path / name
    plain.write_bytes(content)
    env = _env(clean_env, age_key)
    ours = tmp_path / ("ours." + name)
    r = pysops(["encrypt", "--age", age_key.recipient, "--mac-only-encrypted", "--output", str(ours), str(plain)], env)
    assert r.code == 0, r.stderr
    assert "mac_only_encrypted" in ours.read_text()
    s = run_sops(["--mac-only-encrypted", "--age", age_key.recipient, "-e", str(plain)], env)
    assert s.code == 0, s.stderr
    theirs = tmp_path / ("theirs." + name)
    theirs.write_bytes(s.stdout)
    a, b = _both_decrypt(ours, fmt, env, pysops)
    c, d = _both_decrypt(theirs, fmt, env, pysops)
    assert a == b == c == d


MULTIDOC = """\
---
a: 1
secret: one
---
b: [x, y]
# comment in doc 2
secret: two
"""


def test_multi_document_yaml(tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any) -> None:
    plain = tmp_path / "multi.yaml"
    plain.write_text(MULTIDOC)
    env = _env(clean_env, age_key)
    ours = tmp_path / "ours.yaml"
    assert pysops(["encrypt", "--age", age_key.recipient, "--output", str(ours), str(plain)], env).code == 0
    theirs = tmp_path / "theirs.yaml"
    assert run_sops(["encrypt", "--age", age_key.recipient, "--output", str(theirs), str(plain)], env).code == 0
    s_ours = run_sops(["decrypt", str(ours)], env)
    s_theirs = run_sops(["decrypt", str(theirs)], env)
    assert s_ours.code == 0, s_ours.stderr
    assert s_ours.stdout == s_theirs.stdout
    p_theirs = pysops(["decrypt", str(theirs)], env)
    assert p_theirs.code == 0, p_theirs.stderr
    # Same data in every document (sops quotes `y`-like words, pysops keeps plain text plain).
    from pysops.document import to_python
    from pysops.formats import get_store

    def docs(data: bytes) -> list[Any]:
        return [to_python(b) for b in get_store("yaml").parse(data).branches]

    assert docs(p_theirs.stdout) == docs(s_theirs.stdout)
    assert pysops(["decrypt", str(ours)], env).stdout.decode() == MULTIDOC


def test_functional_fixtures_decrypt(clean_env: dict[str, str], gnupg_home: Path, pysops: Any) -> None:
    """Every encrypted file of sops's functional tests decrypts to what sops decrypts it to."""
    from tests.conftest import FIXTURES

    env = _env(clean_env, gnupg=gnupg_home)
    checked = 0
    for path in sorted(FIXTURES.iterdir()):
        if path.suffix not in (".yaml", ".json", ".env", ".ini"):
            continue
        s = run_sops(["decrypt", str(path)], env)
        p = pysops(["decrypt", str(path)], env)
        if s.code != 0:
            # e.g. plain files: both tools refuse with the same exit code.
            assert p.code == s.code, (path.name, p.stderr, s.stderr)
            continue
        assert p.code == 0, (path.name, p.stderr)
        fmt = {".yaml": "yaml", ".json": "json", ".env": "dotenv", ".ini": "ini"}[path.suffix]
        s_data, p_data = _both_decrypt(path, fmt, env, pysops)
        assert p_data == s_data, path.name
        checked += 1
    assert checked >= 5
