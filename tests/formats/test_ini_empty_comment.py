"""INI comments whose first line is only a marker (``#`` then ``; note``), against sops 3.11.

sops's text for such a comment starts with an empty line, and go-ini's writer panics on it
("index out of range", exit 2) whenever sops writes the file. Where the selection rules encrypt
comments (the default, ``unencrypted_regex``) pysops encrypts a stand-in text that sops decrypts;
where they leave the comment in clear (``encrypted_regex``, ``encrypted_suffix``, the comment
regexes) sops's own encrypt panics, and pysops refuses the input the same way (exit 2) instead of
writing a file sops cannot decrypt (docs/formats.md, INI). Found by the differential fuzzer
(``python -m tests.fuzz --replay 20261207:340``).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import AgeKey, run_sops

#: layouts whose comment sops reads as starting with an empty line
PANICKING = {
    "lone-hash-then-line": b"[s]\n#\n; c\nk = v\n",
    "lone-semicolon-then-line": b"[s]\n;\n# c\nk = v\n",
    "lone-marker-then-inline": b"[s]\n#\nk = v ; c\n",
    "marker-and-spaces": b"[s]\n#   \n# c\nk = v\n",
    "marker-space-marker": b"[s]\n# #\n; c\nk = v\n",
    "two-lone-markers": b"[s]\n;\n;\n; c\nk = v\n",
    "default-section": b"#\n; c\nk = v\n[s]\nm = w\n",
    "above-a-section": b"[a]\nx = 1\n#\n; c\n[s]\nk = v\n",
    "above-a-section-inline": b"[a]\nx = 1\n;\n[s] ; c\nk = v\n",
}
#: selection rules under which sops leaves these comments in clear
CLEAR_COMMENTS = {
    "encrypted_regex": "^k",
    "encrypted_suffix": "k",
    "encrypted_comment_regex": "c",
    "unencrypted_comment_regex": "c",
}
#: the fuzzer's find (seed 20261207, case 340), with --encrypted-regex
FUZZ_340 = base64.b64decode(
    "W25vdGVfdW5lbmNyeXB0ZWRdIDsJIHRhYgogIHg9dmFsdWUgOyB0YWIKcmF0aW8xNyA6ICIiInRyaXBsZSIiIgojCmFwaV9rZXk1OD0nc2luZ2xlJy"
    "A7IGNvbW1lbnQKCmVuYWJsZWQgOiBzYXkgImhpIgpbcG9ydF0KOyDDvG7DryDwn5SRCiMgYTogYgpyYXRpbyA6ICJ1bnRlcm1pbmF0ZWQKcGxhaW5f"
    "dT1zYXkgImhpIgpuYW1lIDogImEjYiIK"
)


@pytest.fixture
def work(clean_env: dict[str, str], age_key: AgeKey) -> dict[str, Any]:
    env = {**clean_env, "SOPS_AGE_KEY": age_key.identity}
    return {"env": env, "dir": Path.cwd(), "recipient": age_key.recipient}


def _rules(work: dict[str, Any], mode: str | None, regex: str = "") -> None:
    rule = f"    {mode}: '{regex}'\n" if mode else ""
    (work["dir"] / ".sops.yaml").write_text(f"creation_rules:\n  - age: {work['recipient']}\n{rule}")


@pytest.mark.parametrize("mode", sorted(CLEAR_COMMENTS))
@pytest.mark.parametrize("layout", sorted(PANICKING))
def test_lone_marker_comment_left_in_clear_is_refused_like_sops(
    work: dict[str, Any], pysops: Any, layout: str, mode: str
) -> None:
    plain = PANICKING[layout]
    _rules(work, mode, CLEAR_COMMENTS[mode])
    target = work["dir"] / "t.ini"
    target.write_bytes(plain)
    theirs = run_sops(["encrypt", "t.ini"], work["env"], cwd=work["dir"])
    assert theirs.code == 2 and "index out of range" in theirs.stderr  # sops panics on the input
    ours = pysops(["encrypt", "-i", "t.ini"], env=work["env"])
    assert ours.code == 2
    lines = ours.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith("pysops: error: cannot write the comment")
    assert "sops 3.11 cannot read back" in lines[0] and lines[1].startswith("pysops: hint: ")
    assert target.read_bytes() == plain  # the input is untouched


def test_fuzzer_case_340_is_refused_like_sops(work: dict[str, Any], pysops: Any) -> None:
    target = work["dir"] / "t.ini"
    target.write_bytes(FUZZ_340)
    args = ["encrypt", "--age", work["recipient"], "--encrypted-regex", "^(password|api_key|key|data)"]
    assert run_sops([*args, "t.ini"], work["env"], cwd=work["dir"]).code == 2
    ours = pysops([*args, "-i", "t.ini"], env=work["env"])
    assert (ours.code, target.read_bytes()) == (2, FUZZ_340)
    assert "comment of key 'api_key58' in section [note_unencrypted]" in ours.stderr


@pytest.mark.parametrize("mode", [None, "unencrypted_regex"])
@pytest.mark.parametrize("layout", ["lone-hash-then-line", "lone-marker-then-inline", "above-a-section"])
def test_lone_marker_comment_encrypted_is_decrypted_by_sops(
    work: dict[str, Any], pysops: Any, layout: str, mode: str | None
) -> None:
    """Comments encrypted: pysops writes a file sops decrypts (sops cannot decrypt its own)."""
    plain = PANICKING[layout]
    _rules(work, mode, "^zz")
    (work["dir"] / "t.ini").write_bytes(plain)
    ours = pysops(["encrypt", "t.ini"], env=work["env"])
    assert ours.code == 0, ours.stderr
    (work["dir"] / "p.ini").write_bytes(ours.stdout)
    theirs = run_sops(["decrypt", "p.ini"], work["env"], cwd=work["dir"])
    assert theirs.code == 0, theirs.stderr
    assert b"k = v" in theirs.stdout
    assert pysops(["decrypt", "p.ini"], env=work["env"]).stdout == plain


@pytest.mark.parametrize(
    "plain",
    [
        b"[s]\n#\t\n; c\nk = v\n",  # a tab after the marker stays in sops's text
        b"[s]\r\n#\r\n; c\r\nk = v\r\n",  # CRLF: the line holds "\r"
        b"[s]\n#\nk = v\n",  # a lone marker alone: an empty comment, which sops skips
        b"[s]\nk = v\n#\n; c\n",  # after the last key: go-ini drops it
    ],
)
def test_similar_layouts_sops_reads_stay_accepted(work: dict[str, Any], pysops: Any, plain: bytes) -> None:
    _rules(work, "encrypted_regex", "^k")
    (work["dir"] / "t.ini").write_bytes(plain)
    assert run_sops(["encrypt", "t.ini"], work["env"], cwd=work["dir"]).code == 0
    ours = pysops(["encrypt", "t.ini"], env=work["env"])
    assert ours.code == 0, ours.stderr
    (work["dir"] / "p.ini").write_bytes(ours.stdout)
    assert run_sops(["decrypt", "p.ini"], work["env"], cwd=work["dir"]).code == 0
    assert pysops(["decrypt", "p.ini"], env=work["env"]).stdout == plain


def test_set_refuses_to_rewrite_a_file_holding_such_a_comment(work: dict[str, Any], pysops: Any) -> None:
    """Every write path checks: a file of an older pysops with the comment in clear (made here by
    editing a comment, which the MAC does not cover) is not rewritten either."""
    _rules(work, "encrypted_regex", "^k")
    (work["dir"] / "t.ini").write_bytes(b"[s]\n#x\n; c\nk = v\n")
    ours = pysops(["encrypt", "t.ini"], env=work["env"])
    assert ours.code == 0, ours.stderr
    old = ours.stdout.replace(b"\n#x\n", b"\n#\n", 1)
    target = work["dir"] / "p.ini"
    target.write_bytes(old)
    assert pysops(["decrypt", "p.ini"], env=work["env"]).stdout == b"[s]\n#\n; c\nk = v\n"
    assert run_sops(["decrypt", "p.ini"], work["env"], cwd=work["dir"]).code == 2  # sops panics on it
    result = pysops(["set", "p.ini", '["s"]["k"]', '"w"'], env=work["env"])
    assert result.code == 2 and "cannot write the comment of key 'k' in section [s]" in result.stderr
    assert target.read_bytes() == old


def test_blank_first_comment_from_another_format_is_not_written(work: dict[str, Any], pysops: Any) -> None:
    """YAML -> INI: a blank comment (`# `) above others would make sops's text of the key's
    comment start with an empty line; it is left out, so sops decrypts the output."""
    (work["dir"] / "t.yaml").write_bytes(b"s:\n  k: v\n  # \n  # d\n  m: w\n")
    args = ["encrypt", "--age", work["recipient"], "--encrypted-regex", "^k", "--output-type", "ini", "t.yaml"]
    ours = pysops(args, env=work["env"])
    assert ours.code == 0, ours.stderr
    (work["dir"] / "p.ini").write_bytes(ours.stdout)
    theirs = run_sops(["decrypt", "p.ini"], work["env"], cwd=work["dir"])
    assert theirs.code == 0, theirs.stderr
    assert theirs.stdout == b"[s]\n; d\nk = v\nm = w\n"
    assert pysops(["decrypt", "p.ini"], env=work["env"]).stdout == b"[s]\n; d\nk = v\nm = w\n"


@pytest.mark.parametrize(
    ("plain", "expected"),
    [
        (b"[DEFAULT]\n", b""),
        (b"[DEFAULT]\na = 1\n[s]\nb = 2\n", b"a = 1\n[s]\nb = 2\n"),
        (b"a = 1\n\n[DEFAULT]\nc = 3\n[s]\nb = 2\n", b"c = 3\n[s]\nb = 2\n"),
    ],
)
def test_unset_of_the_implicit_default_section_leaves_one_default(
    work: dict[str, Any], pysops: Any, plain: bytes, expected: bytes
) -> None:
    """(Fuzzer, seed 20261207 case 25 with --formats ini.) The implicit DEFAULT section is the
    first path `["DEFAULT"]`; after unsetting it, an explicit `[DEFAULT]` comes first and is
    written without its header, as sops writes it: with it, it would read back as a second
    section after an empty implicit one (sops decrypts the two tools' files differently)."""
    (work["dir"] / "t.ini").write_bytes(plain)
    for name, tool in (("p.ini", "pysops"), ("s.ini", "sops")):
        args = ["encrypt", "--age", work["recipient"], "t.ini"]
        result = pysops(args, env=work["env"]) if tool == "pysops" else run_sops(args, work["env"], cwd=work["dir"])
        assert result.code == 0, result.stderr
        (work["dir"] / name).write_bytes(result.stdout)
    assert pysops(["unset", "p.ini", '["DEFAULT"]'], env=work["env"]).code == 0
    assert run_sops(["unset", "s.ini", '["DEFAULT"]'], work["env"], cwd=work["dir"]).code == 0
    ours = run_sops(["decrypt", "p.ini"], work["env"], cwd=work["dir"])
    theirs = run_sops(["decrypt", "s.ini"], work["env"], cwd=work["dir"])
    assert (ours.code, ours.stdout) == (0, theirs.stdout)
    assert pysops(["decrypt", "p.ini"], env=work["env"]).stdout == expected
