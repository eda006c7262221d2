"""The INI store: go-ini's reading rules (checked against the sops binary), splicing render,
comment grouping, the [sops] section, conversion, and interop both ways."""

from __future__ import annotations

import base64
import json
import os
import random
import re
import subprocess
from typing import Any
from unittest import mock

import pyrage
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.conftest import FIXTURES, sops_binary

from pysops import api
from pysops.document import Comment, Document, Entry, Mapping, Scalar, Sequence, walk_leaves
from pysops.errors import ErrorDumpingTree, ParseError
from pysops.formats import ini

META = {
    "lastmodified": "2026-01-02T03:04:05Z",
    "mac": "ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]",
    "version": "3.11.0",
    "age": [{"recipient": "age1r", "enc": "-----BEGIN-----\nAB\n-----END-----\n"}],
    "encrypted_regex": "^(a|b);c#d",
}
META_SECTION = (
    "[sops]\n"
    "age__list_0__map_enc = -----BEGIN-----\\nAB\\n-----END-----\\n\n"
    "age__list_0__map_recipient = age1r\n"
    "encrypted_regex = `^(a|b);c#d`\n"
    "lastmodified = 2026-01-02T03:04:05Z\n"
    "mac = ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]\n"
    "version = 3.11.0\n"
)


def tree(doc: Document) -> list[tuple[str, list[tuple[str, Any]]]]:
    """Sections and their keys/values, comments left out (duplicate sections kept apart)."""
    out = []
    for section in doc.branches[0].entries():
        assert isinstance(section.value, Mapping)
        keys = []
        for entry in section.value.entries():
            assert isinstance(entry.value, Scalar)
            keys.append((entry.key, entry.value.value))
        out.append((section.key, keys))
    return out


def shape(doc: Document) -> list[tuple[tuple[str, ...], str]]:
    return [(path, "comment" if isinstance(leaf, Comment) else "value") for path, leaf in walk_leaves(doc.branches[0])]


def comments(doc: Document) -> list[tuple[tuple[str, ...], str]]:
    return [(path, leaf.text) for path, leaf in walk_leaves(doc.branches[0]) if isinstance(leaf, Comment)]


# ------------------------------------------------------------------------------------------------
# Reading


def test_parse_model_and_comment_grouping() -> None:
    text = (
        '; file comment\ntop = 1\n# about db\n\n; more\n[db] ; header note\nuser = "s3cr3t"\n'
        "pass: x y ; inline\n  spaced   =   v  \n; before\nurl = http://x/?a=b;c\nempty =\n; trailing\n"
    )
    doc = ini.parse(text.encode())
    assert tree(doc) == [
        ("DEFAULT", [("top", "1")]),
        ("db", [("user", "s3cr3t"), ("pass", "x y"), ("spaced", "v"), ("url", "http://x/?a=b"), ("empty", "")]),
    ]
    # One comment per key or section, as go-ini groups them; a key's comment comes after the key,
    # a section's first in the section (sops's tree); the last one is kept (go-ini drops it).
    # The text is sops's: the first line without its marker and the spaces after it.
    assert comments(doc) == [
        (("DEFAULT",), "file comment"),
        (("db",), "about db\n; more\n; header note"),  # blank lines are left out, as in go-ini
        (("db",), "inline"),
        (("db",), "before\n;c"),
        (("db",), "trailing"),
    ]
    assert shape(doc)[:4] == [
        (("DEFAULT", "top"), "value"),
        (("DEFAULT",), "comment"),
        (("db",), "comment"),
        (("db", "user"), "value"),
    ]
    assert doc.metadata is None
    assert ini.render(doc, None) == text.encode()


def test_empty_file_has_an_empty_default_section() -> None:
    doc = ini.parse(b"")
    assert tree(doc) == [("DEFAULT", [])]
    assert ini.render(doc, None) == b""
    assert ini.render(doc, META) == META_SECTION.encode()


@pytest.mark.parametrize(
    "text, line, reason",
    [
        (b"[s]\nk = v\nsecret\n", 3, "no '=' or ':'"),
        (b"[s\n", 1, "unclosed section"),
        (b"\n[]\n", 2, "empty section name"),
        (b"[s]\n = secret\n", 2, "empty key name"),
        (b'[s]\nk = """secret\nmore\n', 2, "missing closing quote"),
        (b'[s]\n"k = secret\n', 2, "missing closing quote of a key"),
        (b"[s]\nk = 1\nk = secret\n", 3, "appears twice"),
    ],
)
def test_parse_errors_name_the_line_not_the_value(text: bytes, line: int, reason: str) -> None:
    with pytest.raises(ParseError) as caught:
        ini.parse(text)
    assert caught.value.exit_code == 2
    assert f"line {line}:" in str(caught.value) and reason in str(caught.value)
    assert "secret" not in str(caught.value)


def test_sops_functional_fixtures() -> None:
    if not FIXTURES.is_dir():
        pytest.skip("../shared/fixtures (sops's functional-test files) is not beside this checkout")
    for name, version in [("format.enc.ini", "3.13.2"), ("format-2.enc.ini", "3.13.1")]:
        data = (FIXTURES / name).read_bytes()
        doc = ini.parse(data)
        (default, foo) = tree(doc)
        assert default == ("DEFAULT", [])
        assert foo[0] == "foo" and str(foo[1][0][1]).startswith("ENC[AES256_GCM,data:")
        assert doc.metadata is not None and doc.metadata["version"] == version
        enc = doc.metadata["pgp"][0]["enc"]
        assert enc.startswith("-----BEGIN PGP MESSAGE-----\n\nwcBMAyUpShfNkFB/AQf")  # \n or """ multi-line
        assert enc.endswith("\n-----END PGP MESSAGE-----")
        rendered = ini.render(doc, doc.metadata)
        assert rendered.startswith(data[: data.index(b"[sops]")])
        assert ini.parse(rendered).metadata == doc.metadata
        assert ini.render(doc, None) == data[: data.index(b"\n[sops]")]


# ------------------------------------------------------------------------------------------------
# Writing


def test_metadata_section_removed_anywhere_and_appended_last() -> None:
    text = b"[a]\nx = 1\n\n[sops]\nversion = 3.0.0\n\n[b]\ny = 2\n"
    doc = ini.parse(text)
    assert doc.metadata == {"version": "3.0.0"}
    assert tree(doc) == [("DEFAULT", []), ("a", [("x", "1")]), ("b", [("y", "2")])]
    assert ini.render(doc, None) == b"[a]\nx = 1\n\n[b]\ny = 2\n"
    assert ini.render(doc, META) == b"[a]\nx = 1\n\n[b]\ny = 2\n\n" + META_SECTION.encode()
    again = ini.parse(ini.render(doc, META))
    assert again.metadata == META
    assert ini.render(again, None) == b"[a]\nx = 1\n\n[b]\ny = 2\n"


def _set(doc: Document, section: str, key: str, value: Any) -> None:
    for entry in doc.branches[0].entries():
        if entry.key == section:
            assert isinstance(entry.value, Mapping)
            node = entry.value.get(key)
            assert isinstance(node, Scalar)
            node.set(value)
            return
    raise KeyError(section)


@pytest.mark.parametrize(
    "value, line",
    [
        ("plain", "a = plain ; c"),
        ("p;q", "; c\na = `p;q`"),
        (" padded ", 'a = " padded " ; c'),
        ('"quoted"', "a = '\"quoted\"' ; c"),
        ("two\nlines", '; c\na = """two\nlines"""'),
        ("ends with \\", "a = ends with \\ ; c"),  # the comment ends the line: no continuation
        ("", "a =  ; c"),
    ],
)
def test_changed_values_are_quoted_so_they_read_back(value: str, line: str) -> None:
    doc = ini.parse(b'[s]\na = x ; c\nb = "y"\n')
    _set(doc, "s", "a", value)
    rendered = ini.render(doc, None)
    assert rendered == f'[s]\n{line}\nb = "y"\n'.encode()
    again = ini.parse(rendered)
    assert tree(again)[1] == ("s", [("a", value), ("b", "y")])
    assert comments(again) == [(("s",), "c")]


def test_changed_value_keeps_its_quotes_when_possible() -> None:
    doc = ini.parse(b'[s]\nb = "y" ; note\nc = `z`\nd = """w"""\ne =\n')
    for key in "bcde":
        _set(doc, "s", key, "ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]")
    enc = "ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]"
    assert ini.render(doc, None) == (f'[s]\nb = "{enc}" ; note\nc = `{enc}`\nd = """{enc}"""\ne = {enc}\n'.encode())


def test_added_and_removed_keys_and_sections() -> None:
    doc = ini.parse(b"[a]\n; about x\nx = 1\ny = 2\n\n[b]\nz = 3\n")
    a = doc.branches[0].items[1]
    assert isinstance(a, Entry) and isinstance(a.value, Mapping)
    del a.value.items[0:2]  # unset x and its comment
    a.value.items.append(Entry("new key", Scalar(True)))
    doc.branches[0].items.append(Entry("c", Mapping([Comment("; fresh"), Entry("n", Scalar(1.5))])))
    # an added section is written as sops writes one: its leading comment above its header
    assert ini.render(doc, None) == b"[a]\ny = 2\nnew key = true\n\n[b]\nz = 3\n\n; fresh\n[c]\nn = 1.5\n"


def test_conversion_from_another_tree() -> None:
    source = Mapping(
        [
            Entry("DEFAULT", Mapping([Entry("top", Scalar(1))])),
            Comment(" between"),
            Entry(
                "db",
                Mapping(
                    [
                        Comment(" a yaml comment"),
                        Entry("user", Scalar("admin")),
                        Entry("port", Scalar(5432)),
                        Entry("ratio", Scalar(2.0)),
                        Entry("on", Scalar(False)),
                        Entry("none", Scalar(None)),
                        Entry("tricky", Scalar("a;b")),
                        Entry("key=with:delims", Scalar(" x ")),
                    ]
                ),
            ),
        ]
    )
    rendered = ini.render(Document("yaml", [source]), None)
    # sops's layout (go-ini's writer): a section's comment above its header, "=" aligned, keys
    # and values quoted as go-ini quotes them; sops would drop the comment outside any section.
    assert rendered == (
        b"top = 1\n\n; between\n;  a yaml comment\n[db]\nuser              = admin\nport              = 5432\n"
        b"ratio             = 2.0\non                = false\nnone              = \ntricky            = `a;b`\n"
        b'`key=with:delims` = " x "\n'
    )
    assert tree(ini.parse(rendered))[1][1][-2:] == [("tricky", "a;b"), ("key=with:delims", " x ")]


@pytest.mark.parametrize(
    "source",
    [
        Mapping([Entry("flat", Scalar("x"))]),
        Mapping([Entry("s", Mapping([Entry("nested", Mapping([Entry("a", Scalar("b"))]))]))]),
        Mapping([Entry("s", Mapping([Entry("list", Sequence([Scalar("a")]))]))]),
        Mapping([Entry("sops", Mapping([Entry("a", Scalar("b"))]))]),
        Mapping([Entry("", Mapping())]),
        Mapping([Entry("s", Mapping([Entry("-", Scalar("b"))]))]),
    ],
)
def test_conversion_errors(source: Mapping) -> None:
    with pytest.raises(ErrorDumpingTree) as caught:
        ini.render(Document("json", [source]), None)
    assert caught.value.exit_code == 4


# ------------------------------------------------------------------------------------------------
# Properties: untouched and fake-cipher round trips for the common INI styles

_word = st.text(
    st.characters(codec="utf-8", categories=["L", "N"], include_characters="_.-"), min_size=1, max_size=6
).filter(lambda w: w != "-")
_text = st.text(
    st.characters(
        codec="utf-8",
        categories=["L", "N", "Zs", "P", "S"],
        exclude_characters="#;\"'`\\[]\u0085\u00a0\u1680\u2028\u2029\u202f\u205f\u3000"
        + "".join(map(chr, range(0x2000, 0x200B))),
    ),
    max_size=10,
).map(str.strip)


@st.composite
def ini_files(draw: st.DrawFn, exact: bool) -> str:
    """INI text in the styles people write; with ``exact``, only layouts whose encrypted form
    decrypts back to the same bytes (see docs/formats.md for the exceptions)."""
    lines: list[str] = []
    sections = [""] + draw(st.lists(_word.filter(lambda w: w != "sops"), max_size=3))
    for index, name in enumerate(sections):
        comment_pending = blank_after_comment = False
        if index > 0:
            if lines and draw(st.booleans()):
                lines.append("")
            header = f"[{name}]"
            if not exact and draw(st.booleans()):
                header += " ; " + draw(_text)
            lines.append(header)
        for key in draw(st.lists(_word, unique=True, max_size=4)):
            for _ in range(draw(st.integers(0, 2))):
                kind = draw(st.sampled_from(["comment", "hash", "blank"]))
                if kind == "blank":
                    lines.append("")
                    blank_after_comment = comment_pending
                else:
                    lines.append(("; " if kind == "comment" else "#") + draw(_text))
                    comment_pending, blank_after_comment = True, False
            delimiter = draw(st.sampled_from(["=", " = ", ":", " : ", "  =   "]))
            value = draw(_text)
            style = draw(st.sampled_from(["plain", "double", "single", "backtick", "triple", "empty"]))
            rendered = {
                "plain": value,
                "double": f'"{value}"',
                "single": f"'{value}'",
                "backtick": f"`{value};#`",
                "triple": f'"""{value}"""',
                "empty": "",
            }[style]
            if style == "plain" and not value:
                rendered = "x"
            line = f"{draw(st.sampled_from(['', '  ']))}{key}{delimiter}{rendered}"
            inline_ok = style in ("plain", "double", "single", "empty") and not (exact and blank_after_comment)
            if inline_ok and draw(st.booleans()):
                line += draw(st.sampled_from([" ; ", " # ", ";"])) + draw(_text)
            lines.append(line + draw(st.sampled_from(["", "  "])))
            comment_pending = blank_after_comment = False
    if draw(st.booleans()):
        lines.append("; " + draw(_text))
    eol = draw(st.sampled_from(["\n", "\r\n"]))
    return eol.join(lines) + (eol if lines and draw(st.booleans()) else "")


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


@given(ini_files(exact=False))
def test_untouched_render_is_identical(text: str) -> None:
    data = text.encode()
    assert ini.render(ini.parse(data), None) == data


def _parsed_state(data: bytes) -> Any:
    doc = ini.parse(data)
    state = doc.state
    sections = [
        (record.name, record.header, record.name_span, record.line_start, repr(record.comment),
         [(k.key, k.key_span, k.line_start, k.value_start, k.chunk, k.value, repr(k.comment))
          for k in record.keys.values()],
         sorted(record.names), repr(record.trailers))
        for record in state.sections.values()
    ]  # fmt: skip
    return repr(doc.branches), doc.metadata, state.head, sections


@given(ini_files(exact=False), st.sampled_from(["", "\n[sops]\nversion = 3.11.0\n", "\n- = x\nk_2=v=w\n"]))
def test_fast_line_path_reads_like_the_general_path(text: str, extra: str) -> None:
    data = (text + extra).encode()
    fast = _parsed_state(data)
    with mock.patch.object(ini, "_SIMPLE_LINE", re.compile(r"(?!)")):
        assert _parsed_state(data) == fast


def test_fast_line_path_on_line_soup() -> None:
    """Lines the fast path takes, next to every kind of line it must leave to the general path."""
    pieces = [
        "k = v", "k=v", "  k  =  v  ", "k = v ; c", "k = v#c", "k: v", "- = x", "k = 'q'", 'k = "q"', "k = a b",
        "[s]", "[sops]", "; c", "# c", "", "k = v\\", "  cont", "k = `x", "x`", 'k = """a', 'b"""', "k =",
        "k = ENC[AES256_GCM,data:YQ==,iv:AA==,tag:AA==,type:str]", "k = \u00e9", "k\t=\tv", "k = v\r",
        "k.x-y_z = {a}(b)<c>!$%&*?^|~", "=v", "k = =", "\u00e9 = v", "k = v\x0b",
    ]  # fmt: skip
    rng = random.Random(11)
    taken = 0
    for _ in range(400):
        lines = [rng.choice(pieces) for _ in range(rng.randint(1, 12))]
        data = ("\n".join(f"{line}{i}" if line.startswith("k ") and rng.random() < 0.8 else line
                           for i, line in enumerate(lines)) + rng.choice(["", "\n"])).encode()  # fmt: skip
        outcomes = []
        for pattern in (ini._SIMPLE_LINE, re.compile(r"(?!)")):
            with mock.patch.object(ini, "_SIMPLE_LINE", pattern):
                try:
                    outcomes.append(_parsed_state(data))
                except ParseError as exc:
                    outcomes.append(exc.message)
        assert outcomes[0] == outcomes[1], data
        taken += any(ini._SIMPLE_LINE.match(line) for line in data.decode().split("\n"))
    assert taken > 100


@pytest.mark.parametrize("line", ["k = v", "k=v  ", "k = v ; c", "k = 'v'", 'k = "v"', "k =", "k = a b", "k = `v`"])
@pytest.mark.parametrize("new", ["x", "ENC[AES256_GCM,data:YQ==,iv:AA==,tag:AA==,type:str]", "a b", "#", "'q'", "",
                                 "v\\", "{x}(y)<z>!$%&*?^|~:=,"])  # fmt: skip
def test_fast_value_splice_writes_like_the_general_path(line: str, new: str) -> None:
    results = []
    for pattern in (ini._PLAIN_VALUE, re.compile(r"(?!)")):
        with mock.patch.object(ini, "_PLAIN_VALUE", pattern):
            doc = ini.parse(f"[s]\n{line}\nz = 1\n".encode())
            section = doc.branches[0].items[1]
            assert isinstance(section, Entry) and isinstance(section.value, Mapping)
            entry = section.value.items[0]
            assert isinstance(entry, Entry) and isinstance(entry.value, Scalar)
            entry.value.set(new)
            results.append(ini.render(doc, None))
    assert results[0] == results[1]


@given(ini_files(exact=True))
def test_fake_cipher_round_trip_is_byte_identical(text: str) -> None:
    data = text.encode()
    doc = ini.parse(data)
    before = tree(doc)
    fake_cipher(doc, encrypt=True)
    encrypted = ini.render(doc, META)
    eol = "\r\n" if "\r\n" in text else "\n"  # new lines follow the file's line endings
    assert encrypted.endswith(META_SECTION.replace("\n", eol).encode())
    again = ini.parse(encrypted)
    assert again.metadata == META
    assert shape(again) == shape(ini.parse(data))
    for _, leaf in walk_leaves(again.branches[0]):  # nothing left in clear
        assert (leaf.text if isinstance(leaf, Comment) else leaf.value) in ("",) or str(
            leaf.text if isinstance(leaf, Comment) else leaf.value
        ).startswith("ENC[AES256_GCM,")
    fake_cipher(again, encrypt=False)
    assert tree(again) == before
    restored = ini.render(again, None)
    # The [sops] section needs a newline before it: a file without a final newline gains one.
    assert restored == (data if not data or data.endswith(b"\n") else data + eol.encode())


# ------------------------------------------------------------------------------------------------
# Against the sops binary

VARIANTS = {
    "basic": ("[db]\nuser = admin\npass = s3cr3t\n", True),
    "default": ("; top\ntop = 1\n# c\n[a]\nk=v\n", True),
    "quotes": (
        '[q]\ndq = "a b"\nsq = \'c d\'\nbt = `e;f`\ntq = """g#h"""\nmixed = "a"b"\nlone = "\nempty =\nempty2 = ""\n',
        True,
    ),
    "inline": ('[c]\na = x ; one\nb = y # two\nc = "z" ; three\nd = http://x/?a=b;c\ne = "a#b"\n', True),
    "delims": ("[d]\nk1:v1\nk2 : v2\n  k3   =   v3   \nk4=\nk5 = = x\nk6 : a=b\n", True),
    "duplicates": ("a = 1\n[s]\nx = 1\n[s]\ny = 2\n[DEFAULT]\nz = 3\n", True),
    "multiline": ('[m]\nml = """line1\nline2\n  line3"""\nafter = 1\n', True),
    "continuation": ("[m]\ncont = a \\\n  b \\\n c\nafter = 1\n", False),
    "keys": ('[k]\n"quoted key" = 1\n`back:tick` = 2\n"""tri"ple""" = 3\n', True),
    "crlf": ('[w]\r\nk = v\r\n; c\r\nq = "x"\r\n\r\n[x]\r\ny = 1\r\n', True),
    "unicode": ("\ufeff[\u00fc]\nkey = \u00e9\u20ac ; \u00e7\n", True),
    "header_comments": ("; a\n\n; b\n[s] # inline\n\nk = v\n", False),
    "empty": ("", True),
    "spaced_section": ("[ spaced ]\nk = v\n", True),
    "block_and_inline": ("[s]\n; c1\n# c2\nk = v ; c3\n\n; c4\nl = w\n", True),
    "suffix": ("[s]\npassword_unencrypted = visible\nother = hidden\n", True),
}


@pytest.fixture(scope="module")
def sops_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    identity = pyrage.x25519.Identity.generate()
    tmp = tmp_path_factory.mktemp("ini")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp),
        "SOPS_DISABLE_VERSION_CHECK": "1",
        "SOPS_AGE_KEY": str(identity),
    }
    return {"env": env, "recipient": str(identity.to_public())}


def run_sops(args: list[str], env: dict[str, str], data: bytes) -> bytes:
    proc = subprocess.run([sops_binary(), *args, "/dev/stdin"], input=data, env=env, capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout


def sops_encrypt(sops_env: dict[str, Any], data: bytes) -> bytes:
    return run_sops(
        ["encrypt", "--input-type", "ini", "--output-type", "ini", "--age", sops_env["recipient"]],
        sops_env["env"],
        data,
    )


def sops_values(sops_env: dict[str, Any], encrypted: bytes) -> list[Any]:
    """What sops decrypts: sections and keys in order (JSON keeps duplicate sections apart)."""
    out = run_sops(["decrypt", "--input-type", "ini", "--output-type", "json"], sops_env["env"], encrypted)
    return json.loads(out, object_pairs_hook=lambda pairs: pairs)  # type: ignore[no-any-return]


def as_lists(doc: Document) -> list[Any]:
    return [(name, [(k, v) for k, v in keys]) for name, keys in tree(doc)]


def without_trailing_comment(kinds: list[tuple[tuple[str, ...], str]], doc: Document) -> list[Any]:
    last = doc.branches[0].items[-1]
    assert isinstance(last, Entry) and isinstance(last.value, Mapping)
    trailing = bool(last.value.items) and isinstance(last.value.items[-1], Comment)
    keyed = len(last.value.items) >= 2 and isinstance(last.value.items[-2], Entry)
    return kinds[:-1] if trailing and not keyed else kinds


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_plaintext_reading_matches_go_ini(sops_env: dict[str, Any], name: str) -> None:
    """Our parse of a plain file = what sops encrypts and decrypts, value for value, and the same
    tree shape (so the same AAD for every value and comment)."""
    data = VARIANTS[name][0].encode()
    ours = ini.parse(data)
    encrypted = sops_encrypt(sops_env, data)
    assert [[name, [list(kv) for kv in keys]] for name, keys in as_lists(ours)] == [
        [section, [list(kv) for kv in keys]] for section, keys in sops_values(sops_env, encrypted)
    ]
    theirs = ini.parse(encrypted)
    assert shape(theirs) == without_trailing_comment(shape(ours), ours)


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_pysops_encryption_reads_back_in_sops_and_pysops(sops_env: dict[str, Any], name: str) -> None:
    from pysops.keys.age import AgeRecipient

    data, exact = VARIANTS[name]
    plain = data.encode()
    options = api.EncryptOptions(key_groups=[[AgeRecipient(sops_env["recipient"])]])
    encrypted = api.encrypt_bytes(plain, options, input_format="ini")
    expected = sops_values(sops_env, sops_encrypt(sops_env, plain))
    assert sops_values(sops_env, encrypted) == expected
    # sops decrypts every comment we encrypted (a wrong AAD would fail it).
    run_sops(["decrypt", "--input-type", "ini", "--output-type", "ini"], sops_env["env"], encrypted)
    decrypted = api.decrypt_bytes(encrypted, input_format="ini", options=api.DecryptOptions(env=sops_env["env"]))
    if exact:
        assert decrypted == plain
    assert as_lists(ini.parse(decrypted)) == as_lists(ini.parse(plain))


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_sops_encryption_reads_back_in_pysops(sops_env: dict[str, Any], name: str) -> None:
    plain = VARIANTS[name][0].encode()
    encrypted = sops_encrypt(sops_env, plain)
    decrypted = api.decrypt_bytes(encrypted, input_format="ini", options=api.DecryptOptions(env=sops_env["env"]))
    assert as_lists(ini.parse(decrypted)) == as_lists(ini.parse(plain))
    sops_plain = run_sops(["decrypt", "--input-type", "ini", "--output-type", "ini"], sops_env["env"], encrypted)
    assert comments(ini.parse(decrypted)) == comments(ini.parse(sops_plain))


def test_trailing_comment_is_kept_and_ignored_by_sops(sops_env: dict[str, Any]) -> None:
    from pysops.keys.age import AgeRecipient

    plain = b"[s]\nk = v\n; the end\n"
    options = api.EncryptOptions(key_groups=[[AgeRecipient(sops_env["recipient"])]])
    encrypted = api.encrypt_bytes(plain, options, input_format="ini")
    assert b"; the end" not in encrypted and encrypted.count(b"type:comment]") == 1
    assert run_sops(["decrypt", "--input-type", "ini", "--output-type", "ini"], sops_env["env"], encrypted) == (
        b"[s]\nk = v\n"
    )
    decrypted = api.decrypt_bytes(encrypted, input_format="ini", options=api.DecryptOptions(env=sops_env["env"]))
    assert decrypted == plain


def test_changed_values_read_back_in_sops(sops_env: dict[str, Any]) -> None:
    doc = ini.parse(b'[s]\na = x ; c\nb = "y"\nc = z\nd = w\ne = v\n')
    values = {"a": "p;q", "b": ' "both" ', "c": "two\nlines", "d": "trailing \\", "e": "'single'"}
    for key, value in values.items():
        _set(doc, "s", key, value)
    rendered = ini.render(doc, None)
    assert sops_values(sops_env, sops_encrypt(sops_env, rendered)) == [("DEFAULT", []), ("s", list(values.items()))]


def test_auto_increment_keys() -> None:
    """go-ini numbers the keys named "-" per section (sops then writes "#1 = ...", which it reads
    back as a comment: such files do not survive sops; pysops keeps the "-" text)."""
    text = b"[k]\n- = first\n- = second\n[l]\n - = third\n"
    doc = ini.parse(text)
    assert tree(doc)[1:] == [("k", [("#1", "first"), ("#2", "second")]), ("l", [("#1", "third")])]
    fake_cipher(doc, encrypt=True)
    again = ini.parse(ini.render(doc, None))
    assert [key for key, _ in tree(again)[1][1]] == ["#1", "#2"]
    fake_cipher(again, encrypt=False)
    assert ini.render(again, None) == text
