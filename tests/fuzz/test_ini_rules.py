"""The fuzzer's INI round-trip rules (tests/fuzz/rules.py) on layouts the fuzzer met: each
documented change is explained, and an undocumented one is not."""

from __future__ import annotations

from tests.fuzz import rules


def test_comment_indent_lost_and_blank_lines_moved_together() -> None:
    """Seed 20261207 case 411 (--formats ini): both documented changes in one file."""
    before = b"  # comment\nx = 1\n[s]\nenv : v # c\n#\t tab\n#\t tab\n\ny =v # c\n"
    after = b"# comment\nx = 1\n[s]\nenv : v # c\n\n#\t tab\n#\t tab\ny =v # c\n"
    assert rules.explain("ini", before, after) == {"ini-comment-indent-lost", "ini-blank-lines-moved"}
    assert rules.explain("ini", before, after.replace(b"x = 1", b"x = 2")) is None
    assert rules.explain("ini", before, after.replace(b"x = 1\n", b"x = 1\n\n")) is None  # a blank added


def test_an_empty_header_comment_stays_inline() -> None:
    """Seed 99 case 222: `[y] ;` is an empty comment, left as it is; a real one moves above."""
    before = b"[y] ;\n[user95] ;\t tab\n"
    assert rules.explain("ini", before, b"[y] ;\n;\t tab\n[user95]\n") == {"ini-header-comment-moved"}
    assert rules.explain("ini", b"[y] ;\n", b";\n[y]\n") is None
    # (seed 7 case 688) with a comment block above, the empty inline part belongs to a real
    # comment, which is encrypted and moves above the header with it
    assert rules.explain("ini", b"# comment\n[n] ;\n", b"# comment\n;\n[n]\n") == {"ini-header-comment-moved"}
