"""YAML disagreements with sops 3.11 found by the differential fuzzer (issue 10, section 2), one
named regression each, checked against the real sops binary both ways; and the places where sops
is lossy and pysops deliberately differs (docs/formats.md, YAML)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyrage
import pytest
from tests.helpers import yaml_comments as comments_of
from tests.helpers import yaml_data as data_of

from pysops import api
from pysops.document import Comment, walk_leaves
from pysops.errors import NeedAtLeastOneDocument, ParseError
from pysops.formats import yaml as Y
from pysops.keys.age import AgeRecipient

SOPS = Path(sys.executable).parent / "sops"
pytestmark = pytest.mark.skipif(not SOPS.exists(), reason="sops binary not installed")

IDENTITY = pyrage.x25519.Identity.generate()
RECIPIENT = str(IDENTITY.to_public())
ENV = dict(os.environ, SOPS_AGE_KEY=str(IDENTITY), SOPS_DISABLE_VERSION_CHECK="1")

Selection = tuple[str, str] | None


def sops(args: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(SOPS), *args], capture_output=True, env=ENV, timeout=60, cwd=cwd)


def encrypt(text: str, selection: Selection = None) -> bytes:
    options = api.EncryptOptions([[AgeRecipient(RECIPIENT)]], selection=selection)
    return api.encrypt_bytes(text.encode(), options, input_format="yaml", env=ENV)


def decrypt(data: bytes) -> str:
    return api.decrypt_bytes(data, input_format="yaml", options=api.DecryptOptions(env=ENV)).decode()


def sops_encrypt(tmp_path: Path, text: str, selection: Selection = None) -> bytes:
    rule = f"  - age: {RECIPIENT}\n" + (f"    {selection[0]}: {selection[1]}\n" if selection else "")
    (tmp_path / ".sops.yaml").write_text("creation_rules:\n" + rule)
    (tmp_path / "plain.yaml").write_text(text)
    result = sops(["encrypt", "plain.yaml"], tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


def sops_decrypt(tmp_path: Path, data: bytes) -> bytes:
    (tmp_path / "enc.yaml").write_bytes(data)
    result = sops(["decrypt", "enc.yaml"], tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    assert b"unencrypted comment" not in result.stderr  # every comment's AAD is sops's
    return result.stdout


def both_ways(tmp_path: Path, text: str, selection: Selection = None) -> tuple[bytes, str]:
    """pysops's file decrypted by sops equals sops's own round trip; sops's file decrypted by
    pysops equals sops's decrypt of it. Returns (pysops's encrypted file, its pysops decrypt)."""
    ours = encrypt(text, selection)
    theirs = sops_encrypt(tmp_path, text, selection)
    sops_own = sops_decrypt(tmp_path, theirs)
    assert data_of(sops_decrypt(tmp_path, ours)) == data_of(sops_own)
    assert data_of(decrypt(theirs)) == data_of(sops_own)
    return ours, decrypt(ours)


# --- files sops could not decrypt (MAC mismatch) or pysops could not write -----------------------


@pytest.mark.parametrize(
    "text",
    [
        "port: &m1\n  a: 1\nlist:\n  # sops:noenc\n  - *m1\n",  # a collection alias
        "a: &s x\n# sops:noenc\nb: *s\n",  # a scalar alias
        "a: &s x\n# sops:noenc\nb: [*s, 1]\n",  # in a flow collection
    ],
)
def test_alias_left_in_clear_under_an_encrypted_anchor_is_written_out(text: str, tmp_path: Path) -> None:
    """`*name` stands for the anchored node as written: when unencrypted_comment_regex leaves the
    copy in clear while its anchor is encrypted, the alias used to stay and read back as the
    anchor's ciphertext (the write was refused: MAC mismatch on read-back)."""
    selection = ("unencrypted_comment_regex", "sops:noenc")
    ours, decrypted = both_ways(tmp_path, text, selection)
    assert b"*m1" not in ours and b"*s" not in ours
    assert data_of(decrypted) == data_of(text)


def test_unchanged_alias_of_an_unchanged_anchor_is_kept() -> None:
    text = "a: &s x\nb: *s\nc: &m {d: 1}\ne: *m\n"
    doc = Y.parse(text.encode())
    assert Y.render(doc, None).decode() == text


@pytest.mark.parametrize(
    "text",
    [
        "host: !custom 123\n",
        "a: !custom 1.5\nb: !custom true\nc: !custom\nd: !custom null\n",
        "e: !!foo 12\nf: !<tag:x> 7\ng: !custom 'q'\n",
        "h: ! 123\n",  # the non-specific tag: resolved like a plain scalar (an int)
    ],
)
def test_unknown_tag_makes_a_string_like_go_yaml(text: str, tmp_path: Path) -> None:
    """go-yaml decodes a scalar with an unknown tag as its text: sops encrypts `!custom 123` as
    the string "123". pysops typed it 123, so sops found a MAC mismatch in pysops's file."""
    _, decrypted = both_ways(tmp_path, text)
    assert data_of(decrypted) == data_of(text)
    assert data_of("host: !custom 123\n") == [{"host": "123"}]
    assert data_of("c: !custom\n") == [{"c": ""}]
    assert data_of("h: ! 123\n") == [{"h": 123}]


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\n---\n{name: x-y_z, name: ~}\n",
        "a: 1\n---\nb: 1\nb: 2\nc:\n  d: 1\n  d: 2\n",
    ],
)
def test_duplicate_keys_after_the_first_document_are_kept_like_sops(text: str, tmp_path: Path) -> None:
    """sops checks duplicate keys only in the first document (it decodes that one into Go maps):
    pysops refused sops's file of such a text."""
    _, decrypted = both_ways(tmp_path, text)
    assert data_of(decrypted) == data_of(text)
    keys = [entry.key for entry in Y.parse(decrypted.encode()).branches[1].entries()]
    assert keys[0] == keys[1]  # both entries kept, as sops keeps them


def test_duplicate_keys_in_the_first_document_are_still_refused(tmp_path: Path) -> None:
    text = "name: x\nname: y\n"
    (tmp_path / "plain.yaml").write_text(text)
    assert sops(["encrypt", "--age", RECIPIENT, "plain.yaml"], tmp_path).returncode == 2
    with pytest.raises(Exception, match='mapping key "name" already defined') as caught:
        encrypt(text)
    assert getattr(caught.value, "exit_code", None) == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("db:\n", {"db": "v"}),
        ("a:\n  db:\n  x: 1\n", {"a": {"db": "v", "x": 1}}),
        ("db: # c\n", {"db": "v"}),
        ("l:\n-\n- 1\n", {"l": ["v", 1]}),
        ("db:", {"db": "v"}),
    ],
)
def test_a_null_value_right_after_its_indicator_can_be_set(text: str, expected: object) -> None:
    """`db:` set to a value was written `db:ENC[...]` (one plain key): the write was refused."""
    doc = Y.parse(text.encode())
    for _, leaf in walk_leaves(doc.branches[0]):
        if not isinstance(leaf, Comment) and leaf.value is None:
            leaf.set("v")
    assert data_of(Y.render(doc, None)) == [expected]


def test_set_on_a_null_value_of_an_encrypted_file(tmp_path: Path, pysops: object) -> None:
    path = tmp_path / "f.yaml"
    path.write_bytes(encrypt("db:\nx: 1\n"))
    result = pysops(["set", str(path), '["db"]', '"fuzz-set"'], env=ENV)  # type: ignore[operator]
    assert result.code == 0, result.stderr
    assert data_of(sops_decrypt(tmp_path, path.read_bytes())) == [{"db": "fuzz-set", "x": 1}]


@pytest.mark.parametrize("verb", ["set", "unset"])
def test_set_and_unset_of_a_nested_mapping_keep_the_next_key(verb: str, tmp_path: Path, pysops: object) -> None:
    """A block mapping's span ended at the next key's indentation, so replacing or removing it
    took the next line (`a: hello`) with it."""
    text = "  plain_u:\n      enabled:\n  a: hello\n"
    path = tmp_path / "f.yaml"
    path.write_bytes(encrypt(text))
    args = [verb, str(path), '["plain_u"]'] + (['"fuzz-set"'] if verb == "set" else [])
    result = pysops(args, env=ENV)  # type: ignore[operator]
    assert result.code == 0, result.stderr
    expected = {"plain_u": "fuzz-set", "a": "hello"} if verb == "set" else {"a": "hello"}
    assert data_of(sops_decrypt(tmp_path, path.read_bytes())) == [expected]
    assert data_of(decrypt(path.read_bytes())) == [expected]


def test_anchored_block_mapping_does_not_set_the_indentation_step() -> None:
    """`port: &m1` + a block mapping: the mapping's column is its first key's, not the anchor's
    (the step was read as 6 and the metadata block indented by 6)."""
    doc = Y.parse(b"port: &m1\n  a: 1\nlist:\n  - *m1\n")
    assert doc.state.step == 2  # type: ignore[union-attr]
    assert b"\nsops:\n  age:\n" in encrypt("port: &m1\n  a: 1\nlist:\n  - *m1\n")


# --- comments --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "        plain_u:\n          - 1.50\n       # a: b\n",
        "  a:\n    - 1\n # c\n",
        "  a: 1\n  # c\n",
        "  a: 1\n  # c\n\n",
        "  a: 1\n\n",
        "  a:\n    - 1\n # c\n\n\n",
        " api_key: &m2 \n - '?'\n # password here\n",
        "  k: |+\n    #x\n\n",  # not a comment: no blank line added (it would be content)
        "a:\n- x\n# c\n",  # a root at column 0: the comment is the list's
        "a:\n- x\n# c\n\n",
        "a:\n  b:\n  - 1\n  # c\n",
        "a: 1\n# c\n",  # the root's own comment: no blank line needed
    ],
)
def test_comment_before_the_metadata_block_keeps_its_container(text: str, tmp_path: Path) -> None:
    """go-yaml reads a comment directly above `sops:` as the root's, or left of an indented
    root's column as the block's before it (sops then warned and left it encrypted): a blank line
    separates them, and goes with the metadata block on every read."""
    ours, decrypted = both_ways(tmp_path, text)
    assert decrypted == text.replace("1.50", "1.5")
    assert comments_of(sops_decrypt(tmp_path, ours)) == comments_of(text)
    # rewriting the file does not pile up blank lines
    path = tmp_path / "r.yaml"
    path.write_bytes(ours)
    doc = Y.parse(ours)
    assert Y.render(doc, doc.metadata) == ours


@pytest.mark.parametrize("text", ["# a: b\n", "\n\n", "  \n", "# a\n# b\n"])
def test_a_file_of_comments_or_blank_lines_only_is_exit_2_like_sops(text: str, tmp_path: Path, pysops: object) -> None:
    (tmp_path / "plain.yaml").write_text(text)
    assert sops(["encrypt", "--age", RECIPIENT, "plain.yaml"], tmp_path).returncode == 2
    result = pysops(["encrypt", "--age", RECIPIENT, str(tmp_path / "plain.yaml")], env=ENV)  # type: ignore[operator]
    assert result.code == 2, result.stderr
    assert pysops(["decrypt", str(tmp_path / "plain.yaml")], env=ENV).code == 1  # type: ignore[operator]


def test_an_empty_file_is_exit_92_like_sops(tmp_path: Path) -> None:
    (tmp_path / "plain.yaml").write_text("")
    result = sops(["encrypt", "--age", RECIPIENT, "plain.yaml"], tmp_path)
    assert result.returncode == 92
    with pytest.raises(NeedAtLeastOneDocument) as caught:
        encrypt("")
    assert caught.value.exit_code == 92


# --- where sops is lossy and pysops deliberately differs (docs/formats.md) -------------------------


def test_line_comment_of_an_empty_flow_collection_is_kept(tmp_path: Path) -> None:
    """sops writes `z: {}  # c` as `z: {\\n    # c\\n}` and loses the comment when it decrypts its
    own file; pysops keeps it in both files (sops reads pysops's file with the comment)."""
    text = "z: {}  # password here\ny: 1\n"
    ours = encrypt(text)
    assert decrypt(ours) == text
    assert comments_of(sops_decrypt(tmp_path, ours)) == [" password here"]
    theirs = sops_encrypt(tmp_path, text)
    assert comments_of(sops_decrypt(tmp_path, theirs)) == []  # sops's own round trip drops it
    assert comments_of(decrypt(theirs)) == [" password here"]
    assert data_of(decrypt(theirs)) == data_of(text)


def test_empty_comment_before_a_list_item_stays_a_comment(tmp_path: Path) -> None:
    """sops keeps an empty comment (`#`) above a list item as a list item of its tree and its
    decrypt turns it into an empty string item (`- ""`); pysops keeps the comment."""
    text = "env:\n-\n  #\n  db:\n"
    theirs = sops_encrypt(tmp_path, text)
    assert data_of(sops_decrypt(tmp_path, theirs)) == [{"env": ["", {"db": None}]}]
    assert data_of(decrypt(theirs)) == data_of(text) == [{"env": [{"db": None}]}]
    assert data_of(sops_decrypt(tmp_path, encrypt(text))) == data_of(text)
    assert decrypt(encrypt(text)) == text


def test_bool_spelling_is_normalised_like_sops(tmp_path: Path) -> None:
    """The ciphertext of a bool holds `true`/`false` (sops's and the MAC's form), so `True`,
    `FALSE` come back lowercase, as from sops; a null is never encrypted and keeps its spelling."""
    text = "a: True\nb: FALSE\nc: ~\nd: Null\n"
    decrypted = decrypt(encrypt(text))
    assert decrypted == "a: true\nb: false\nc: ~\nd: Null\n"
    assert sops_decrypt(tmp_path, sops_encrypt(tmp_path, text)) == b"a: true\nb: false\nc: null\nd: null\n"


def test_flow_root_keeps_the_spelling_of_values_it_does_not_change(tmp_path: Path) -> None:
    """A flow root is written in block style; its nulls (never encrypted) and values left in
    clear keep their text (`~` used to come back as `null`)."""
    text = "{name: x, n: ~, m: Null, id_unencrypted: 0x1F, q_unencrypted: 'a b'}\n"
    decrypted = decrypt(encrypt(text))
    assert decrypted == "name: x\nn: ~\nm: Null\nid_unencrypted: 0x1F\nq_unencrypted: 'a b'\n"
    assert data_of(decrypted) == data_of(text)
    both_ways(tmp_path, text)


@pytest.mark.parametrize("col", [1, 3, 5, 7])
@pytest.mark.parametrize("after", ["    e: 1\n", "z: 1\n"])
def test_comment_after_a_list_at_no_mapping_column_stays_in_the_list(col: int, after: str, tmp_path: Path) -> None:
    """go-yaml keeps an own-line comment after a list in that list unless it is at the next
    key's column; pysops put one at a column between levels into an enclosing mapping, and sops
    left it encrypted in pysops's file."""
    text = "a:\n  b:\n    c:\n      - 1\n" + " " * col + "# x\n" + after
    ours, decrypted = both_ways(tmp_path, text)
    assert decrypted == text
    assert b"# x" in sops_decrypt(tmp_path, ours)
    assert [path for path, leaf in walk_leaves(Y.parse(text.encode()).branches[0]) if isinstance(leaf, Comment)] == [
        ("a", "b", "c")
    ]


def test_comment_after_a_list_at_a_mapping_column_is_that_mappings_as_sops_writes_it(tmp_path: Path) -> None:
    """sops writes the foot comment of a mapping at that mapping's column (and then cannot
    decrypt it itself: go-yaml reads it into the list before it); pysops reads it as sops wrote it."""
    text = "a:\n  b:\n    c:\n      - 1\n  # x\n\nz: 1\n"
    theirs = sops_encrypt(tmp_path, text)
    assert comments_of(decrypt(theirs)) == [" x"]


def test_time_in_a_flow_collection_is_written_so_that_it_reads_back(tmp_path: Path) -> None:
    """A decrypted time inside [...]/{...} was written plain (`{a: 2001-12-14T00:00:00Z}`), which
    libyaml cannot read (a `:` in a flow plain scalar): pysops's own output did not parse."""
    text = "x: {a: 2001-12-14}\ny: [2001-12-15, !!timestamp '2001-12-14T21:59:43.1-05:00']\n"
    ours, decrypted = both_ways(tmp_path, text)
    assert decrypted == (
        'x: {a: !!timestamp "2001-12-14T00:00:00Z"}\n'
        'y: [!!timestamp "2001-12-15T00:00:00Z", !!timestamp "2001-12-14T21:59:43.1-05:00"]\n'
    )
    assert data_of(decrypted) == data_of(text)
    assert data_of(decrypt(encrypt(decrypted))) == data_of(text)


@pytest.mark.parametrize(
    "text",
    [
        "y: [a:b, 1999-12-31T00:00:00.5Z]\n",
        "x: {a: 2001-12-14T00:00:00Z, b:c: 1}\n",
        'list: {"k": 2001-12-14t21:59:43.10-05:00, a: 1} # c\n',
    ],
)
def test_colon_in_a_flow_plain_scalar_is_read_like_go_yaml(text: str, tmp_path: Path) -> None:
    """libyaml refuses a `:` inside a plain scalar of a flow collection, go-yaml (sops) reads it
    as part of the scalar: pysops refused these files (exit 2) that sops encrypts."""
    ours, decrypted = both_ways(tmp_path, text)
    assert data_of(decrypted) == data_of(text)
    assert data_of("y: [a:b, 1999-12-31T00:00:00.5Z]\n")[0] == {
        "y": ["a:b", data_of("t: 1999-12-31T00:00:00.5Z")[0]["t"]]
    }


def test_too_many_colons_in_flow_plain_scalars_are_refused() -> None:
    text = "y: [" + ", ".join(f"a:{i}" for i in range(70)) + "]\n"
    with pytest.raises(ParseError, match="while scanning a plain scalar"):
        Y.parse(text.encode())


@pytest.mark.parametrize("text", ["~\n", "null\n", "&a ~\n", "&s1 null"])
def test_a_null_document_with_text_is_an_empty_mapping(text: str, tmp_path: Path) -> None:
    """`~`, `null`, `&a null` as a whole document: an empty mapping for sops; its text was kept
    before the appended `sops:` key, so the write was refused (the output was not YAML)."""
    ours, decrypted = both_ways(tmp_path, text)
    assert decrypted == "{}\n" == sops_decrypt(tmp_path, ours).decode()
