"""INI against the sops 3.11 binary: comment-regex selection both ways, the layout of INI written
from another format, and a generated corpus of dialect variants (pysops encrypt -> sops decrypt,
sops encrypt -> pysops decrypt, pysops round trip)."""

from __future__ import annotations

import os
import random
import re
import subprocess
from pathlib import Path
from typing import Any

import pyrage
import pytest
from tests.conftest import sops_binary
from tests.formats.dialects import Checker, ini_file, real_sops

from pysops import api
from pysops.document import Comment, walk_leaves
from pysops.formats import ini
from pysops.keys.age import AgeRecipient

ENC = re.compile(r"ENC\[AES256_GCM,data:[^\]]*\]")


@pytest.fixture(scope="module")
def sops_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    identity = pyrage.x25519.Identity.generate()
    tmp = tmp_path_factory.mktemp("ini-interop")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp), "SOPS_DISABLE_VERSION_CHECK": "1",
           "SOPS_AGE_KEY": str(identity)}  # fmt: skip
    return {"env": env, "recipient": str(identity.to_public()), "tmp": tmp}


def sops(args: list[str], env: dict[str, str], data: bytes, cwd: Path | None = None, ext: str = "ini") -> bytes:
    proc = subprocess.run(
        [sops_binary(), *args, "--input-type", ext, "/dev/stdin"],
        input=data, env=env, capture_output=True, timeout=60, cwd=cwd,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout


def pysops_encrypt(sops_env: dict[str, Any], data: bytes, selection: tuple[str, str] | None = None,
                   fmt: str = "ini") -> bytes:  # fmt: skip
    options = api.EncryptOptions(key_groups=[[AgeRecipient(sops_env["recipient"])]], selection=selection)
    return api.encrypt_bytes(data, options, input_format=fmt)


def pysops_decrypt(sops_env: dict[str, Any], data: bytes, fmt: str = "ini", output: str | None = None) -> bytes:
    options = api.DecryptOptions(env=sops_env["env"])
    if output is None:
        return api.decrypt_bytes(data, input_format=fmt, options=options)
    return api.decrypt_bytes(data, input_format=fmt, output_format=output, options=options)


def encrypted_items(data: bytes) -> list[tuple[tuple[str, ...], str, bool]]:
    """Every value and comment of an encrypted INI file: (path, kind, encrypted?)."""
    doc = ini.parse(data)
    out = []
    for path, leaf in walk_leaves(doc.branches[0]):
        text = leaf.text if isinstance(leaf, Comment) else str(leaf.value)  # type: ignore[attr-defined]
        kind = "comment" if isinstance(leaf, Comment) else "value"
        out.append((path, kind, text.startswith("ENC[AES256_GCM,")))
    return out


# ------------------------------------------------------------------------------------------------
# Comment regexes: sops matches a comment's text without its marker, and a key's comment (the
# comment lines above it) sits after the key in sops's tree, so it selects the NEXT key.

COMMENT_FILES = {
    "brief": "[db]\n; secret stuff\npass = hunter2\nuser = admin\n",
    "markers": "; top\n[db]\n;   secret stuff\n# two\npass = hunter2 ; inl\nuser = admin\nlast = x\n",
    "hash": "[a]\n#secret\nk = 1\nl = 2\n##  secret too\nm = 3\nn = 4\n",
    "header": "# secret header\n[s]\nk = 1\nk2 = 2\n[t] ; secret inline header\nl = 2\nl2 = 3\n",
    "inline": "[s]\nk = 1 ; secret\nl = 2\nm = 3 # not this\nn = 4\n",
    "crlf": "[s]\r\n; secret\r\nk = 1\r\nl = 2\r\n",
}


@pytest.mark.parametrize("mode", ["encrypted_comment_regex", "unencrypted_comment_regex"])
@pytest.mark.parametrize("name", sorted(COMMENT_FILES))
def test_comment_regex_selection_matches_sops(sops_env: dict[str, Any], mode: str, name: str) -> None:
    plain = COMMENT_FILES[name].encode()
    regex = "^secret"
    rules = sops_env["tmp"] / f"rules-{mode}"
    rules.mkdir(exist_ok=True)
    (rules / ".sops.yaml").write_text(f"creation_rules:\n  - age: {sops_env['recipient']}\n    {mode}: '{regex}'\n")
    theirs = sops(["encrypt", "--output-type", "ini"], sops_env["env"], plain, cwd=rules)
    ours = pysops_encrypt(sops_env, plain, (mode, regex))
    # The same values and comments encrypted (sops drops nothing here: no trailing comments).
    assert encrypted_items(ours) == encrypted_items(theirs)
    assert any(encrypted for _, kind, encrypted in encrypted_items(ours) if kind == "value")
    # Each tool decrypts the other's file to what it decrypts from its own.
    decrypt = ["decrypt", "--output-type", "ini"]
    assert sops(decrypt, sops_env["env"], ours) == sops(decrypt, sops_env["env"], theirs)
    assert pysops_decrypt(sops_env, theirs) == sops(decrypt, sops_env["env"], theirs)
    # And pysops gives back its input byte for byte.
    assert pysops_decrypt(sops_env, ours) == plain


def test_brief_example_encrypts_the_key_after_the_comment(sops_env: dict[str, Any]) -> None:
    plain = COMMENT_FILES["brief"].encode()
    ours = pysops_encrypt(sops_env, plain, ("encrypted_comment_regex", "^secret"))
    lines = ours.decode().splitlines()
    assert lines[:3] == ["[db]", "; secret stuff", "pass = hunter2"]
    assert lines[3].startswith("user = ENC[AES256_GCM,")


def test_comment_text_is_sops_text_without_marker() -> None:
    doc = ini.parse(b"[s]\n;;  a  \n# b\nk = v ; c\n;# d\nl = w\n;\nm = x\n;\n; e\nn = y\n")
    texts = [leaf.text for _, leaf in walk_leaves(doc.branches[0]) if isinstance(leaf, Comment)]
    # sops: go-ini's comment trimmed, then the first line's run of marker and spaces removed; an
    # empty first line (a lone marker) is a line holding one space, as go-ini could not write it
    assert texts == ["a  \n# b\n; c", "# d", "", " \n; e"]


def test_encrypted_comment_keeps_its_marker_and_decrypts_exactly(sops_env: dict[str, Any]) -> None:
    plain = b"[s]\n#   spaced\nk = v\n;# hashed\nl = w\n;\nm = x\n;\n; two lines\nn = y\n"
    encrypted = pysops_encrypt(sops_env, plain)
    assert re.findall(rb"^([#;]*) *ENC\[", encrypted, re.M) == [b"#", b";", b";"]
    assert b"\n;\nm = " in encrypted  # an empty comment is left as it is (sops drops it)
    assert pysops_decrypt(sops_env, encrypted) == plain
    # sops decrypts our file (it would panic on its own encryption of the last comment, whose
    # text starts with an empty line) and writes the comments in its layout
    assert sops(["decrypt", "--output-type", "ini"], sops_env["env"], encrypted) == (
        b"[s]\n; spaced\nk = v\n# hashed\nl = w\nm = x\n; \n; two lines\nn = y\n"
    )


def test_comments_encrypted_with_their_marker_still_decrypt(sops_env: dict[str, Any]) -> None:
    """Files of older pysops versions hold the marker in the ciphertext: written back as is."""
    from pysops.crypto.cipher import encrypt_comment
    from pysops.metadata import Metadata

    plain = b"[s]\n; old style\nk = v\n# other\nl = w\n"
    encrypted = pysops_encrypt(sops_env, plain)
    doc = ini.parse(encrypted)
    key = api.recover_data_key(Metadata.from_dict(doc.metadata), api.DecryptOptions(env=sops_env["env"]))
    sealed = [leaf.text for _, leaf in walk_leaves(doc.branches[0]) if isinstance(leaf, Comment)]
    for text, old in zip(sealed, ["; old style", "# other"], strict=True):
        encrypted = encrypted.replace(text.encode(), encrypt_comment(old, key, "s:", os.urandom(32)).encode())
    assert pysops_decrypt(sops_env, encrypted) == plain


# ------------------------------------------------------------------------------------------------
# INI written from another format: sops's layout (go-ini's writer), byte for byte.

CONVERSIONS = {
    "yaml": (
        "db:\n    # about user\n    user: admin\n    longer_key_name: 5\n    f: 1.5\n    t: true\n    e: ''\n"
        "    semi: 'a;b'\n    sp: ' x '\n    bt: 'a`b'\n    nl: \"a\\nb\"\n    # after nl\n    last: 1\n"
        "other:\n    k: v\n    'q:k': 1\n    'q\"k': 2\n    'b`k': 3\n    'uni\u00e9': 4\n    t: 2024-01-01\n"
        "empty: {}\n"
    ),
    "json": '{"s": {"i": 1, "big": 1000000, "f": 2.5, "g": 2.0, "neg": -0.5, "t": false}, "DEFAULT": {"d": "x"}}',
    "default_first": "DEFAULT:\n    x: 1\na:\n    # c\n    k: 1\n",
}


@pytest.mark.parametrize("name", sorted(CONVERSIONS))
def test_ini_from_another_format_is_written_as_sops_writes_it(sops_env: dict[str, Any], name: str) -> None:
    fmt = "json" if name == "json" else "yaml"
    encrypted = sops(["encrypt", "--output-type", fmt, "--age", sops_env["recipient"]], sops_env["env"],
                     CONVERSIONS[name].encode(), ext=fmt)  # fmt: skip
    theirs = sops(["decrypt", "--output-type", "ini"], sops_env["env"], encrypted, ext=fmt)
    ours = pysops_decrypt(sops_env, encrypted, fmt=fmt, output="ini")
    assert ours == theirs
    if name == "yaml":
        assert b"user            = admin\n" in ours  # aligned


def test_encrypting_to_ini_from_yaml_has_sops_layout(sops_env: dict[str, Any], pysops: Any, tmp_path: Path) -> None:
    plain = b"a:\n    # c\n    k: 1\n    longer: two\n"
    source = tmp_path / "in.yaml"
    source.write_bytes(plain)
    result = pysops(
        ["encrypt", "--age", sops_env["recipient"], "--output-type", "ini", str(source)], env=sops_env["env"]
    )
    assert result.code == 0, result.stderr
    ours = result.stdout
    theirs = sops(["encrypt", "--output-type", "ini", "--age", sops_env["recipient"]], sops_env["env"], plain,
                  ext="yaml")  # fmt: skip
    body = re.compile(rb"\n\[sops\]\n.*", re.S)
    assert ENC.sub("ENC", body.sub(b"", ours).decode()) == ENC.sub("ENC", body.sub(b"", theirs).decode())
    decrypt = ["decrypt", "--output-type", "yaml"]
    assert sops(decrypt, sops_env["env"], ours) == sops(decrypt, sops_env["env"], theirs)


def test_ini_written_from_another_format_differs_from_sops_only_where_sops_loses_data(
    sops_env: dict[str, Any],
) -> None:
    """Deliberate differences (docs/formats.md): a comment outside any section is kept (sops drops
    it); a null is an empty value (sops writes ``<nil>``); several comments of one key are joined
    (sops keeps the last); values sops writes so that they read back changed (``"x"``, ``a\\``)
    are quoted so that they read back; a first section named ``default`` keeps its header."""
    plain = (
        b'# top\na:\n    k: 1\n    # one\n    # two\n    n: null\n    q: \'"x"\'\n    b: "a\\\\"\ndefault:\n    d: 1\n'
    )
    encrypted = sops(["encrypt", "--output-type", "yaml", "--age", sops_env["recipient"]], sops_env["env"], plain,
                     ext="yaml")  # fmt: skip
    ours = pysops_decrypt(sops_env, encrypted, fmt="yaml", output="ini")
    assert ours == (b'; top\n[a]\n; one\n; two\nk = 1\nn = \nq = \'"x"\'\nb = "a\\"\n\n[default]\nd = 1\n')
    doc = ini.parse(ours)
    values = [(e.key, [(k.key, k.value.value) for k in e.value.entries()])  # type: ignore[union-attr]
              for e in doc.branches[0].entries()]  # fmt: skip
    assert values == [("DEFAULT", []), ("a", [("k", "1"), ("n", ""), ("q", '"x"'), ("b", "a\\")]),
                      ("default", [("d", "1")])]  # fmt: skip
    theirs = sops(["decrypt", "--output-type", "ini"], sops_env["env"], encrypted, ext="yaml")
    assert theirs == b'[a]\n; two\nk = 1\nn = <nil>\nq = "x"\nb = a\\\n\n[default]\nd = 1\n'


# ------------------------------------------------------------------------------------------------
# Generated dialect variants (tests/formats/dialects.py), both ways against sops.

DIALECT_CASES = int(os.environ.get("PYSOPS_DIALECT_CASES", "20"))


@pytest.mark.parametrize("exact", [True, False])
def test_generated_ini_dialects_agree_with_sops(exact: bool) -> None:
    """A fixed seed and budget (about 10-20 s); PYSOPS_DIALECT_CASES raises the budget, and
    ``python -m tests.formats.dialects ini COUNT SEED`` explores further."""
    checker = Checker(real_sops(sops_binary()), pyrage.x25519.Identity.generate())
    for index in range(DIALECT_CASES // 2):
        checker.check(ini_file(random.Random(f"ini:{exact}:{index}"), exact=exact).encode(), "ini", exact)
    assert checker.failures == []


# ------------------------------------------------------------------------------------------------
# Differential-fuzzer findings (/tmp/h/fuzz-findings.md, run 1): one regression test per class.


def test_ini_comments_of_several_lines_convert_to_readable_yaml(sops_env: dict[str, Any]) -> None:
    """ini:e.output-type-yaml.unreadable: every line of an INI comment becomes a YAML comment."""
    plain = b"# - item\n; comment\ndata =v\n"
    encrypted = sops(["encrypt", "--output-type", "ini", "--age", sops_env["recipient"]], sops_env["env"], plain)
    ours = pysops_decrypt(sops_env, encrypted, output="yaml")
    assert ours == sops(["decrypt", "--output-type", "yaml"], sops_env["env"], encrypted)
    assert ours == b"DEFAULT:\n    data: v\n    #- item\n    # ; comment\n"


def test_comment_starting_with_the_other_marker_keeps_its_text(sops_env: dict[str, Any]) -> None:
    """ini:b.comments, a deliberate difference: sops reads ``; #double`` as the text ``#double``
    and writes it back as ``# double``, which reads as ``double``; pysops writes ``; #double``,
    which reads back as the same text, and round-trips its own file byte for byte."""
    plain = b"; #double\nnested=v\n"
    theirs = sops(["encrypt", "--output-type", "ini", "--age", sops_env["recipient"]], sops_env["env"], plain)
    assert sops(["decrypt", "--output-type", "ini"], sops_env["env"], theirs) == b"# double\nnested = v\n"
    ours = pysops_decrypt(sops_env, theirs)
    assert ours == b"; #double\nnested = v\n"
    comment = next(leaf for _, leaf in walk_leaves(ini.parse(ours).branches[0]) if isinstance(leaf, Comment))
    assert comment.text == "#double"
    assert pysops_decrypt(sops_env, pysops_encrypt(sops_env, plain)) == plain
