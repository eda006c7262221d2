"""Which comments are encrypted, per format and selection option, exactly as sops 3.11 decides.

sops treats a comment as a leaf of the container it sits in: under the suffix and key-regex
options it is encrypted exactly when a value at the container's path would be (so
``encrypted_regex: ^data$`` leaves a top-level comment in clear and encrypts one inside
``data:``); under the comment-regex options it follows its comment stack; an empty comment is
never encrypted. Each case here is compared with the real binary both ways, and ``pysops check``
must not flag what sops writes.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import AgeKey, run_sops
from tests.helpers import age_env

YAML = """\
# top comment
a: 1
# before data
data:
    # inside data
    x: secret
    nested:
        # deep
        k: v
other:
    # inside other
    y: 2
#
#${SPACE}
z: 3
"""

DOTENV = """\
# top
A=1
#
#${SPACE}
data_x=2
# last
"""

INI = """\
; top
[data]
; in data
x = 1
[other]
# in other
y = 2
"""

COMMENT_REGEX_YAML = """\
# sops:enc
# follows marker
a: 1
# plain
b: 2
nested:
    # sops:enc
    x: secret
    # after x
    y: other
# sops:enc
block:
    # inner note
    k: v
#
# sops:noenc
# after noenc
z: 3
"""

COMMENT_REGEX_DOTENV = """\
# sops:enc
# follows marker
A=1
# plain
B=2
#
# sops:noenc
# after noenc
Z=3
"""

DOCS = {"yaml": ("c.yaml", YAML), "dotenv": ("c.env", DOTENV), "ini": ("c.ini", INI)}
KEY_SELECTIONS = [
    [],
    ["--encrypted-regex", "^data$"],
    ["--unencrypted-regex", "^data$"],
    ["--encrypted-suffix", "x"],
    ["--unencrypted-suffix", "x"],
]
_CIPHER = re.compile(r"data:[^,]*,iv:[^,]*,tag:[^,]*,")


def _body_comments(text: str) -> list[str]:
    """The comment lines before the metadata, ciphertext fields blanked (they are random)."""
    out = []
    for line in text.splitlines():
        if line.startswith(("sops:", "sops_", "[sops]")):
            break
        stripped = line.strip()
        if stripped.startswith(("#", ";")):
            # INI: sops rewrites `#` markers as `;`, pysops keeps the user's marker
            out.append(_CIPHER.sub("", "#" + stripped[1:]))
    return out


def _encrypt_both(
    tmp_path: Path, name: str, text: str, flags: list[str], env: dict[str, str], recipient: str, pysops: Any
) -> tuple[Path, Path]:
    plain = tmp_path / name
    plain.write_text(text.replace("${SPACE}", " "))
    ours = tmp_path / ("ours." + name)
    r = pysops(["encrypt", "--age", recipient, *flags, "--output", str(ours), str(plain)], env)
    assert r.code == 0, r.stderr
    # legacy mode: sops 3.11 takes the comment-regex options only as global flags
    s = run_sops([*flags, "--age", recipient, "-e", str(plain)], env)
    assert s.code == 0, s.stderr
    theirs = tmp_path / ("theirs." + name)
    theirs.write_bytes(s.stdout)
    return ours, theirs


def _assert_interop(ours: Path, theirs: Path, env: dict[str, str], pysops: Any) -> None:
    # the same comments are left in clear and the same are encrypted
    assert _body_comments(ours.read_text()) == _body_comments(theirs.read_text())
    # sops reads every comment pysops encrypted (no ENC left, no "possibly unencrypted" warning)
    s = run_sops(["decrypt", str(ours)], env)
    assert s.code == 0, s.stderr
    assert b"ENC[" not in s.stdout and "possibly unencrypted comment" not in s.stderr
    # pysops reads every comment sops encrypted
    r = pysops(["decrypt", str(theirs)], env)
    assert r.code == 0, r.stderr
    assert b"ENC[" not in r.stdout
    # and `pysops check` does not flag the file sops wrote (PS004 on a comment left in clear)
    c = pysops(["check", str(theirs)], env)
    assert "PS004" not in c.stdout.decode() + c.stderr, c.stdout


@pytest.mark.parametrize("flags", KEY_SELECTIONS, ids=lambda f: f[0].strip("-") if f else "default")
@pytest.mark.parametrize("fmt", list(DOCS))
def test_comment_encryption_matches_sops(
    fmt: str, flags: list[str], tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    name, text = DOCS[fmt]
    env = age_env(clean_env, age_key)
    ours, theirs = _encrypt_both(tmp_path, name, text, flags, env, age_key.recipient, pysops)
    _assert_interop(ours, theirs, env, pysops)


@pytest.mark.parametrize("flag", ["--encrypted-comment-regex", "--unencrypted-comment-regex"])
@pytest.mark.parametrize("fmt", ["yaml", "dotenv"])
def test_comment_stack_rules_match_sops(
    fmt: str, flag: str, tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    """A comment after a matching marker follows the marker (encrypted under
    encrypted_comment_regex, clear under unencrypted_comment_regex); the marker itself stays clear."""
    name, text = ("c.yaml", COMMENT_REGEX_YAML) if fmt == "yaml" else ("c.env", COMMENT_REGEX_DOTENV)
    env = age_env(clean_env, age_key)
    marker = "sops:enc" if flag == "--encrypted-comment-regex" else "sops:noenc"
    ours, theirs = _encrypt_both(tmp_path, name, text, [flag, marker], env, age_key.recipient, pysops)
    _assert_interop(ours, theirs, env, pysops)
    comments = _body_comments(ours.read_text())
    if flag == "--encrypted-comment-regex":
        assert comments[:2] == ["# sops:enc", "#ENC[AES256_GCM,type:comment]"]
    else:
        assert comments[-2:] == ["# sops:noenc", "# after noenc"]


def test_top_level_comment_under_encrypted_regex_stays_clear(
    tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    """The day-one case of mixed teams: sops leaves it readable, so must pysops."""
    env = age_env(clean_env, age_key)
    ours, _ = _encrypt_both(tmp_path, "c.yaml", YAML, ["--encrypted-regex", "^data$"], env, age_key.recipient, pysops)
    comments = _body_comments(ours.read_text())
    assert comments[:2] == ["# top comment", "# before data"]
    assert comments[2:4] == ["#ENC[AES256_GCM,type:comment]"] * 2  # inside data, deep


@pytest.mark.parametrize("fmt", ["yaml", "dotenv"])
def test_empty_comments_are_not_encrypted(
    fmt: str, tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    """`#` alone has nothing to encrypt: sops leaves it as is (it cannot read `ENC[...,data:,...]`);
    `# ` (a space) is a comment with text and is encrypted by both."""
    name, text = DOCS[fmt]
    env = age_env(clean_env, age_key)
    ours, _ = _encrypt_both(tmp_path, name, text, [], env, age_key.recipient, pysops)
    encrypted = ours.read_text()
    assert "\n#\n" in encrypted
    assert "data:," not in encrypted
    back = pysops(["decrypt", str(ours)], env)
    assert back.stdout.decode() == text.replace("${SPACE}", " ")


def test_files_with_empty_encrypted_comments_from_older_pysops_still_decrypt(
    tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    """Older pysops wrote `#ENC[AES256_GCM,data:,...,type:comment]` for `#`; it still decrypts."""
    from tests.helpers import age_encrypt, age_options

    from pysops import api
    from pysops.crypto.cipher import ValueCipher
    from pysops.formats import get_store

    data = age_encrypt(b"a: 1\n#\nb: 2\n", "yaml", age_key.recipient)
    doc = get_store("yaml").parse(data)
    opened = api.open_file(data, input_format="yaml", options=age_options(age_key))
    empty = ValueCipher(opened.data_key).encrypt_comment("", ":", b"\1" * 32)
    path = tmp_path / "old.yaml"
    path.write_bytes(data.replace(b"\n#\n", b"\n#" + empty.encode() + b"\n"))
    assert doc.metadata is not None
    r = pysops(["decrypt", str(path)], age_env(clean_env, age_key))
    assert r.code == 0, r.stderr
    assert r.stdout == b"a: 1\n#\nb: 2\n"
