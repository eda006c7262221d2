"""The dotenv store: sops's dialect, verbatim text, splicing render, metadata lines, interop."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyrage
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from pysops.document import Comment, Document, Entry, Mapping, Scalar, Sequence, walk_leaves
from pysops.errors import ErrorDumpingTree, ParseError, PysopsError
from pysops.formats import dotenv
from pysops.formats.dotenv import parse_dotenv_value
from pysops.values import GoTime

SOPS = Path(sys.executable).parent / "sops"
FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "sops-functional"
META = {
    "lastmodified": "2026-01-02T03:04:05Z",
    "mac": "ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]",
    "version": "3.11.0",
    "age": [{"recipient": "age1r", "enc": "-----BEGIN-----\nAB\n-----END-----\n"}],
}
META_LINES = (
    "sops_age__list_0__map_enc=-----BEGIN-----\\nAB\\n-----END-----\\n\n"
    "sops_age__list_0__map_recipient=age1r\n"
    "sops_lastmodified=2026-01-02T03:04:05Z\n"
    "sops_mac=ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]\n"
    "sops_version=3.11.0\n"
)


def items(doc: Document) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for item in doc.branches[0].items:
        if isinstance(item, Comment):
            out.append(("#", item.text))
        else:
            assert isinstance(item.value, Scalar)
            out.append((item.key, item.value.value))
    return out


def test_parse_is_sops_dialect() -> None:
    text = (
        b'# top comment\n\nexport X=1\nSPACED = v \nQ="hello world"\nH=a # not a comment\n'
        b"EQ=a=b=c\nNL=line1\\nline2\nEMPTY=\n=nokey\nU=\xc3\xa9\xe2\x82\xac\n#\n"
    )
    doc = dotenv.parse(text)
    assert items(doc) == [
        ("#", " top comment"),
        ("export X", "1"),
        ("SPACED ", " v "),
        ("Q", '"hello world"'),
        ("H", "a # not a comment"),
        ("EQ", "a=b=c"),
        ("NL", "line1\nline2"),
        ("EMPTY", ""),
        ("", "nokey"),
        ("U", "é€"),
        ("#", ""),
    ]
    assert doc.metadata is None
    assert dotenv.render(doc, None) == text


def test_crlf_keeps_carriage_return_in_values() -> None:
    text = b"A=1\r\n#c\r\nB=two\r\n"
    doc = dotenv.parse(text)
    assert items(doc) == [("A", "1\r"), ("#", "c\r"), ("B", "two\r")]
    leaf = doc.branches[0].items[0]
    assert isinstance(leaf, Entry) and isinstance(leaf.value, Scalar)
    assert leaf.value.span == (2, 4)
    assert dotenv.render(doc, None) == text


@pytest.mark.parametrize("text, line", [(b"A=1\nnot a pair\n", 2), (b"A=1\n\r\nB=2\n", 2), (b"secret", 1)])
def test_line_without_equals_is_a_parse_error_naming_the_line(text: bytes, line: int) -> None:
    with pytest.raises(ParseError) as caught:
        dotenv.parse(text)
    assert caught.value.exit_code == 2
    assert f"line {line}" in str(caught.value)
    assert "secret" not in str(caught.value) and "not a pair" not in str(caught.value)


def test_metadata_lines_are_taken_out_and_unflattened() -> None:
    doc = dotenv.parse(b"A=ENC[x]\n" + META_LINES.encode())
    assert items(doc) == [("A", "ENC[x]")]
    assert doc.metadata == META


def test_sops_functional_fixture() -> None:
    if not FIXTURES.is_dir():
        pytest.skip("../shared/fixtures (sops's functional-test files) is not beside this checkout")
    data = (FIXTURES / "format.enc.env").read_bytes()
    doc = dotenv.parse(data)
    (entry,) = doc.branches[0].items
    assert isinstance(entry, Entry) and entry.key == "foo "
    assert isinstance(entry.value, Scalar) and str(entry.value.value).startswith("ENC[AES256_GCM,data:XBV7lQ==")
    assert doc.metadata is not None
    assert doc.metadata["pgp"][0]["fp"] == "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4"
    assert doc.metadata["pgp"][0]["enc"].startswith("-----BEGIN PGP MESSAGE-----\n\nwcBMAyUpShfNkFB")
    assert doc.metadata["version"] == "3.13.1"
    # Our metadata layout is sops's: sorted lines at the end, so the file comes back identical.
    assert dotenv.render(doc, doc.metadata) == data


def test_render_splices_only_changed_values() -> None:
    text = b"\n# head\nA=1\r\n\nexport B = two\nC=3"
    doc = dotenv.parse(text)
    entry = doc.branches[0].items[2]
    assert isinstance(entry, Entry) and isinstance(entry.value, Scalar)
    entry.value.set("new\nline")
    assert dotenv.render(doc, None) == b"\n# head\nA=1\r\n\nexport B =new\\nline\nC=3"
    comment = doc.branches[0].items[0]
    assert isinstance(comment, Comment)
    comment.set("ENC[c]")
    assert dotenv.render(doc, None) == b"\n#ENC[c]\nA=1\r\n\nexport B =new\\nline\nC=3"


def test_metadata_replaced_appended_and_removed() -> None:
    text = b"A=1\nsops_version=3.0.0\n\nB=2"
    doc = dotenv.parse(text)
    assert doc.metadata == {"version": "3.0.0"}
    assert dotenv.render(doc, META) == b"A=1\nB=2\n" + META_LINES.encode()
    assert dotenv.render(doc, None) == b"A=1\nB=2"
    assert dotenv.render(dotenv.parse(b""), META) == META_LINES.encode()


def test_added_removed_and_renamed_entries() -> None:
    doc = dotenv.parse(b"A=1\n\nB=2\n#c\n")
    root = doc.branches[0]
    root.items.pop(0)  # unset A (and the blank line it owned)
    root.items.insert(1, Entry("NEW", Scalar(5)))
    first = root.items[0]
    assert isinstance(first, Entry)
    first.key = "B2"
    assert dotenv.render(doc, None) == b"B2=2\nNEW=5\n#c\n"


def test_moved_last_line_without_line_break() -> None:
    doc = dotenv.parse(b"A=1\nB=2")
    root = doc.branches[0]
    root.items.reverse()
    assert dotenv.render(doc, None) == b"B=2\nA=1\n"
    second = root.items[1]
    assert isinstance(second, Entry) and isinstance(second.value, Scalar)
    second.value.set("x")
    assert dotenv.render(doc, None) == b"B=2\nA=x\n"


def test_items_in_parsed_order_edges() -> None:
    """The tree still holds the parsed items in order (the common case, rendered in runs of
    source text): a renamed key, a metadata line in the middle, an emptied last line."""
    doc = dotenv.parse(b"A=1\nsops_version=3.0.0\n\nB=2\n#c\nC=3")
    a, b, comment, c = doc.branches[0].items
    assert isinstance(a, Entry) and isinstance(c, Entry) and isinstance(c.value, Scalar)
    a.key = "A2"
    c.value.set("")
    assert dotenv.render(doc, None) == b"A2=1\nB=2\n#c\nC="
    assert dotenv.render(doc, META) == b"A2=1\nB=2\n#c\nC=\n" + META_LINES.encode()
    assert isinstance(comment, Comment)
    comment.set("x\ny")
    assert dotenv.render(doc, None) == b"A2=1\nB=2\n#x\n#y\nC="


@pytest.mark.parametrize("data", [b"", b"\n", b"\n\n"])
def test_entry_added_to_a_file_without_lines(data: bytes) -> None:
    doc = dotenv.parse(data)
    doc.branches[0].items.append(Entry("A", Scalar("1")))
    assert dotenv.render(doc, None) == data + b"A=1\n"


def test_conversion_from_another_tree() -> None:
    tree = Mapping(
        [
            Comment(" from yaml"),
            Entry("s", Scalar("multi\nline")),
            Entry("i", Scalar(42)),
            Entry("f", Scalar(2.0)),
            Entry("big", Scalar(1e20)),
            Entry("b", Scalar(True)),
            Entry("t", Scalar(GoTime(2024, 1, 2))),
            Entry("n", Scalar(None)),
        ]
    )
    doc = Document("yaml", [tree])
    assert dotenv.render(doc, None) == (
        b"# from yaml\ns=multi\\nline\ni=42\nf=2.0\nbig=1E+20\nb=true\nt=2024-01-02T00:00:00Z\nn=\n"
    )


@pytest.mark.parametrize(
    "tree",
    [
        Mapping([Entry("nested", Mapping([Entry("a", Scalar("b"))]))]),
        Mapping([Entry("list", Sequence([Scalar("a")]))]),
        Mapping([Entry("a=b", Scalar("x"))]),
        Mapping([Entry("sops_x", Scalar("x"))]),
        Mapping([Entry("#x", Scalar("x"))]),
    ],
)
def test_conversion_errors(tree: Mapping) -> None:
    with pytest.raises(ErrorDumpingTree) as caught:
        dotenv.render(Document("yaml", [tree]), None)
    assert caught.value.exit_code == 4


def test_several_documents_cannot_be_one_dotenv_file() -> None:
    with pytest.raises(ErrorDumpingTree):
        dotenv.render(Document("yaml", [Mapping(), Mapping()]), None)


@pytest.mark.parametrize(
    "raw, used",
    [
        ('"a b"', "a b"),
        ('"a\\nb\\t\\"q\\" \\\\ \\x"', 'a\nb\t"q" \\ \\x'),
        ('"a # b" # comment', "a # b"),
        ("'a \\n b'", "a \\n b"),
        ("  'x'  ", "x"),
        ("plain value   ", "plain value"),
        ("value # comment", "value"),
        ("value#notcomment", "value#notcomment"),
        ("#novalue", "#novalue"),
        (" #comment", ""),
        ('"unterminated', '"unterminated'),
        ('"a"b', '"a"b'),
        ("", ""),
        ("v\r", "v"),
    ],
)
def test_parse_dotenv_value(raw: str, used: str) -> None:
    assert parse_dotenv_value(raw) == used


# ------------------------------------------------------------------------------------------------
# Properties

_key = st.text(st.characters(codec="utf-8", exclude_characters="\n="), min_size=0, max_size=8).filter(
    lambda k: not k.startswith(("#", "sops_")) and k != ""
)
_value = st.text(st.characters(codec="utf-8", exclude_characters="\n"), max_size=12)
_line = st.one_of(
    st.tuples(_key, _value).map(lambda kv: f"{kv[0]}={kv[1]}"),
    _value.map(lambda c: "#" + c),
    st.just(""),
    st.sampled_from(["export A=1", 'Q="quoted # x"', "E=", "S=a\\nb", "X = y ", "U=é€"]),
)


@st.composite
def dotenv_files(draw: st.DrawFn) -> bytes:
    lines = draw(st.lists(_line, max_size=10))
    eol = draw(st.sampled_from(["\n", "\r\n"]))
    if eol == "\r\n":
        lines = [line for line in lines if line]  # a CRLF blank line is "\r": sops rejects it
    text = eol.join(lines) + (draw(st.sampled_from(["", eol])) if lines else "")
    return text.encode("utf-8", "surrogateescape")


def fake_encrypt(value: str) -> str:
    data = base64.b64encode(value.encode("utf-8", "surrogateescape")).decode()
    return f"ENC[AES256_GCM,data:{data},iv:AAAA,tag:AAAA,type:str]"


def fake_decrypt(value: str) -> str:
    data = value[len("ENC[AES256_GCM,data:") : value.index(",iv:")]
    return base64.b64decode(data).decode("utf-8", "surrogateescape")


def fake_cipher(doc: Document, encrypt: bool) -> None:
    for _, leaf in walk_leaves(doc.branches[0]):
        if isinstance(leaf, Comment):
            leaf.set(fake_encrypt(leaf.text) if encrypt else fake_decrypt(leaf.text))
        elif isinstance(leaf.value, str) and leaf.value != "":
            leaf.set(fake_encrypt(leaf.value) if encrypt else fake_decrypt(leaf.value))


@given(dotenv_files())
def test_untouched_render_is_identical(data: bytes) -> None:
    assert dotenv.render(dotenv.parse(data), None) == data


@given(dotenv_files())
def test_fake_cipher_round_trip_is_byte_identical(data: bytes) -> None:
    doc = dotenv.parse(data)
    fake_cipher(doc, encrypt=True)
    encrypted = dotenv.render(doc, META)
    assert encrypted.endswith(META_LINES.encode())
    again = dotenv.parse(encrypted)
    assert again.metadata == META
    for _, leaf in walk_leaves(again.branches[0]):
        text = leaf.text if isinstance(leaf, Comment) else leaf.value
        assert text == "" or str(text).startswith("ENC[AES256_GCM,")
    fake_cipher(again, encrypt=False)
    restored = dotenv.render(again, None)
    # The metadata lines need a newline before them: a file without a final newline gains one.
    assert restored == (data if not data or data.endswith(b"\n") else data + b"\n")


# ------------------------------------------------------------------------------------------------
# Interop with the sops binary (pysops.api for our side)


@pytest.fixture(scope="module")
def sops_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if not SOPS.exists():
        pytest.skip("sops binary not installed")
    identity = pyrage.x25519.Identity.generate()
    tmp = tmp_path_factory.mktemp("dotenv")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp),
        "SOPS_DISABLE_VERSION_CHECK": "1",
        "SOPS_AGE_KEY": str(identity),
    }
    return {"env": env, "recipient": str(identity.to_public()), "dir": tmp}


def run_sops(args: list[str], env: dict[str, str], data: bytes) -> bytes:
    proc = subprocess.run([str(SOPS), *args, "/dev/stdin"], input=data, env=env, capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout


PLAIN = (
    b'# database settings\nDB_USER=admin\nexport DB_PASS="p@ss word"\nEMPTY=\nURL=http://x/?a=b#frag\n'
    b"\n#\xc3\xa9 comment\nMULTI=line1\\nline2\nSPACED = v \nNAME_unencrypted=visible\n"
)


def test_sops_encrypted_file_reads_back_in_pysops(sops_env: dict[str, Any]) -> None:
    api = pytest.importorskip("pysops.api")
    env = sops_env["env"]
    encrypted = run_sops(
        ["encrypt", "--input-type", "dotenv", "--output-type", "dotenv", "--age", sops_env["recipient"]], env, PLAIN
    )
    doc = dotenv.parse(encrypted)
    assert doc.metadata is not None and doc.metadata["age"][0]["recipient"] == sops_env["recipient"]
    assert [key for key, _ in items(doc) if key != "#"] == [
        "DB_USER",
        "export DB_PASS",
        "EMPTY",
        "URL",
        "MULTI",
        "SPACED ",
        "NAME_unencrypted",
    ]
    ours = api.decrypt_bytes(encrypted, input_format="dotenv", options=api.DecryptOptions(env=env))
    assert ours == PLAIN.replace(b"\n\n", b"\n")  # sops re-emits its tree: the blank line is gone
    assert run_sops(["decrypt", "--input-type", "dotenv", "--output-type", "dotenv"], env, encrypted) == ours


@pytest.mark.parametrize("plain", [PLAIN, PLAIN.replace(b"\n", b"\r\n").replace(b"\r\n\r\n", b"\r\n")])
def test_pysops_encrypted_file_reads_back_in_sops(sops_env: dict[str, Any], plain: bytes) -> None:
    api = pytest.importorskip("pysops.api")
    from pysops.keys.age import AgeRecipient

    env = sops_env["env"]
    options = api.EncryptOptions(key_groups=[[AgeRecipient(sops_env["recipient"])]])
    encrypted = api.encrypt_bytes(plain, options, input_format="dotenv")
    lines = encrypted.split(b"\n")
    assert lines[1].startswith(b"DB_USER=ENC[AES256_GCM,")
    # An empty value is never encrypted; in a CRLF file the value is "\r", which is.
    assert (b"EMPTY=" in lines) == (b"\r" not in plain)
    assert b"NAME_unencrypted=visible" in encrypted
    sops_plain = run_sops(["decrypt", "--input-type", "dotenv", "--output-type", "dotenv"], env, encrypted)
    # sops re-emits from its tree (blank lines dropped); the values and comments are the same.
    assert sops_plain == b"\n".join(line for line in plain.split(b"\n") if line) + b"\n"
    ours = api.decrypt_bytes(encrypted, input_format="dotenv", options=api.DecryptOptions(env=env))
    assert ours == plain


def test_invalid_utf8_keys_and_comments_both_ways(sops_env: dict[str, Any]) -> None:
    """Bytes that are not UTF-8 in a key or a comment go into the AAD and the comment as they
    are, as in sops (Go strings are bytes), instead of failing with a traceback."""
    api = pytest.importorskip("pysops.api")
    from pysops.keys.age import AgeRecipient

    env = sops_env["env"]
    plain = b"#caf\xe9\nK\xe9Y=v\xe9l\n"
    options = api.EncryptOptions(key_groups=[[AgeRecipient(sops_env["recipient"])]])
    ours = api.encrypt_bytes(plain, options, input_format="dotenv")
    assert b"\xe9" not in ours.split(b"=")[1] and ours.startswith(b"#ENC[AES256_GCM,")
    assert run_sops(["decrypt", "--input-type", "dotenv", "--output-type", "dotenv"], env, ours) == plain
    theirs = run_sops(
        ["encrypt", "--input-type", "dotenv", "--output-type", "dotenv", "--age", sops_env["recipient"]], env, plain
    )
    for encrypted in (ours, theirs):
        assert api.decrypt_bytes(encrypted, input_format="dotenv", options=api.DecryptOptions(env=env)) == plain


# ------------------------------------------------------------------------------------------------
# encrypt_text: the tree-less encryption api.encrypt_bytes uses for dotenv → dotenv


def _counter_rng() -> Any:
    count = iter(range(1, 1 << 30))

    def randbytes(n: int) -> bytes:
        out = b""
        while len(out) < n:
            out += hashlib.sha256(next(count).to_bytes(8, "big")).digest()
        return out[:n]

    return randbytes


_SELECTIONS = [
    None,
    ("unencrypted_suffix", "_unencrypted"),
    ("encrypted_suffix", "A"),
    ("unencrypted_regex", "^[EQ]"),
    ("encrypted_regex", "[xé]"),
    ("unencrypted_comment_regex", "[a-z]"),
    ("encrypted_comment_regex", "[a-m]"),
]
_RECIPIENT = str(pyrage.x25519.Identity.generate().to_public())


def _without_age_stanza(data: bytes) -> bytes:
    # age wraps the data key with its own randomness: the only line two runs may not share
    return b"\n".join(line for line in data.split(b"\n") if not line.startswith(b"sops_age__list_0__map_enc="))


@given(
    st.lists(st.one_of(_line, st.sampled_from(["K_unencrypted=plain", "#note a", "#ZZ", "AA="])), max_size=12),
    st.sampled_from(["", "\n"]),
    st.sampled_from(_SELECTIONS),
    st.booleans(),
)
# a comment the rule keeps in clear, then an entry: its comment stack holds the comment
@example(["#note a", "B=1"], "\n", ("unencrypted_comment_regex", "note"), False)
# an encrypted comment the rule would read back as clear: both ways refuse
@example(["#ZZ", "B=1"], "\n", ("unencrypted_comment_regex", "[a-z]"), False)
def test_text_path_writes_the_bytes_of_the_tree_path(
    lines: list[str], end: str, selection: tuple[str, str] | None, mac_only: bool
) -> None:
    from pysops import api
    from pysops.keys import key_type

    data = ("\n".join(lines) + end).encode("utf-8", "surrogateescape")
    options = api.EncryptOptions(
        key_groups=[[key_type("age").parse_recipient(_RECIPIENT)]], selection=selection, mac_only_encrypted=mac_only
    )
    now = GoTime(2026, 11, 22, 19, 4, 23)

    def text_path() -> bytes:
        return api.encrypt_bytes(data, options, input_format="dotenv", now=now, randbytes=_counter_rng())

    def tree_path() -> bytes:
        doc = dotenv.parse(data)
        meta = api.encrypt_document(doc, options, now=now, randbytes=_counter_rng())
        return dotenv.render(doc, meta.to_dict())

    outcomes = []
    for way in (text_path, tree_path):
        try:
            outcomes.append(_without_age_stanza(way()))
        except PysopsError as exc:
            outcomes.append((type(exc), exc.message))  # type: ignore[arg-type]
    assert outcomes[0] == outcomes[1]


def test_text_path_declines_what_parse_reports() -> None:
    """A line without '=' (a CRLF blank line too) or a metadata line: encrypt_text declines, and
    api.encrypt_bytes reports the error parse/encrypt_document give (nothing is written)."""
    from pysops import api
    from pysops.errors import FileAlreadyEncrypted
    from pysops.keys import key_type

    options = api.EncryptOptions(key_groups=[[key_type("age").parse_recipient(_RECIPIENT)]])
    cases: list[tuple[bytes, type[Exception]]] = [
        (b"A=1\nno equals sign\n", ParseError),
        (b"A=1\r\n\r\nB=2\r\n", ParseError),
        (b"A=1\nsops_version=3.11.0\n", FileAlreadyEncrypted),
        (b"sops_mac=x\n", FileAlreadyEncrypted),
    ]
    for data, error in cases:
        assert dotenv.encrypt_text(data, lambda *a: a[2], lambda aad, text: text, dict) is None
        with pytest.raises(error):
            api.encrypt_bytes(data, options, input_format="dotenv")


# ------------------------------------------------------------------------------------------------
# read_back_text: the tree-less read-back (api.verify_sealed) of what encrypt_text wrote


def _mutate(data: bytes, kind: str, index: int) -> bytes:
    """One store bug's worth of damage to an encrypted dotenv output (or none)."""
    lines = data.split(b"\n")
    body = [i for i, line in enumerate(lines) if line and not line.startswith(b"sops_")]
    if kind == "none" or not body:
        return data
    at = body[index % len(body)]
    line = lines[at]
    key, _, value = line.partition(b"=")
    if kind == "leak":  # an ENC value or comment written back in clear
        lines[at] = line.replace(b"ENC[AES256_GCM,", b"plain[", 1)
    elif kind == "swap":  # two lines' values exchanged
        other = body[(index + 1) % len(body)]
        okey, _, ovalue = lines[other].partition(b"=")
        if line.startswith(b"#") or lines[other].startswith(b"#"):
            lines[at], lines[other] = lines[other], lines[at]
        else:
            lines[at], lines[other] = key + b"=" + ovalue, okey + b"=" + value
    elif kind == "drop":
        del lines[at]
    elif kind == "duplicate":
        lines.insert(at, line)
    elif kind == "rename":
        lines[at] = (b"#" if line.startswith(b"#") else b"R") + line
    elif kind == "change":  # a ciphertext damaged, a clear value changed
        cut = line.find(b",data:") + 6
        if cut > 6 and line[cut : cut + 1] not in (b",", b""):
            lines[at] = line[:cut] + (b"A" if line[cut : cut + 1] != b"A" else b"B") + line[cut + 1 :]
        else:
            lines[at] = line + b"x"
    elif kind == "metadata-first":
        meta = [i for i, line in enumerate(lines) if line.startswith(b"sops_")]
        lines.insert(0, lines.pop(meta[index % len(meta)]))
    return b"\n".join(lines)


@given(
    st.lists(st.one_of(_line, st.sampled_from(["K_unencrypted=plain", "#note a", "#ZZ", "AA="])), max_size=10),
    st.sampled_from(_SELECTIONS),
    st.booleans(),
    st.sampled_from(["none", "leak", "swap", "drop", "duplicate", "rename", "change", "metadata-first"]),
    st.integers(0, 20),
)
@example(["A=1", "#note a", "B=2"], ("encrypted_comment_regex", "[a-m]"), False, "leak", 1)
@example(["#note a", "B=1"], None, False, "change", 0)  # a damaged encrypted comment
@example(["A=1", "B_unencrypted=2"], ("unencrypted_suffix", "_unencrypted"), True, "change", 1)
def test_read_back_text_agrees_with_the_tree_read_back(
    lines: list[str], selection: tuple[str, str] | None, mac_only: bool, kind: str, index: int
) -> None:
    """The tree-less read-back passes a correct output (it does not fall back to the tree
    there), and on damaged output never passes what the tree path refuses nor refuses what it
    passes: where it gives up (False) the tree path decides."""
    from pysops import api
    from pysops.keys import key_type

    data = ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")
    options = api.EncryptOptions(
        key_groups=[[key_type("age").parse_recipient(_RECIPIENT)]], selection=selection, mac_only_encrypted=mac_only
    )
    sealer, finish, data_key = api._new_encryption(options, binary=False, now=None, randbytes=os.urandom)
    sealed: list[Any] = []

    def metadata() -> dict[str, Any]:
        sealed.append(finish())
        return sealed[0].to_dict()

    try:
        out = dotenv.encrypt_text(data, sealer.value, sealer.comment, metadata)
    except PysopsError:
        return  # refused before anything was written (both paths: test above)
    if out is None:
        return
    meta = sealed[0]
    damaged = _mutate(out, kind, index)
    env: dict[str, str] = {"HOME": "/nonexistent"}

    def outcome(way: Any) -> Any:
        try:
            return way()
        except PysopsError as exc:
            return type(exc)

    known = sealer.known
    fast = outcome(lambda: api._verify_sealed_text(dotenv.read_back_text, damaged, data_key, meta, known, None, env))
    tree = outcome(lambda: api.verify_sealed(damaged, "dotenv", data_key, meta, known=None, env=env))
    if damaged == out:
        assert (fast, tree) == (True, None)
    elif fast is True:
        assert tree is None
    elif fast is not False:
        assert tree is not None, (fast, damaged)
