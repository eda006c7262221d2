"""Never write what cannot be read back (design invariant 7, issue 10 §1).

Every encrypted write is parsed again by the same store and checked before it leaves pysops:
metadata present and equal to what was sealed, every value that should be encrypted is, the MAC
verifies, and the data key unwraps from the stanzas where an age identity is at hand. These tests
inject store bugs (the store's ``render``/``encrypt_text`` output is corrupted the way real bugs
did it: a lost metadata block, a value left in plaintext, an unencrypted value changed) and check
that every write command refuses with exit 1, one error line, and the file untouched.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import AgeKey, new_age_key
from tests.helpers import age_decrypt, age_encrypt, age_env, age_options

from pysops import api, gitdriver
from pysops.errors import WriteVerificationFailed
from pysops.formats import get_store
from pysops.keys import key_type

Fault = Callable[[bytes], bytes]

_ENC = re.compile(rb"ENC\[AES256_GCM,[^\]]*,type:(?:str|int|float|bool)\]")  # values, not comments


def drop_metadata(data: bytes) -> bytes:
    """The flow-style YAML bug of issue 10: values encrypted, no ``sops`` block written."""
    cut = data.find(b"\nsops:")
    return data[: cut + 1] if cut >= 0 else data


def leak_first_value(data: bytes) -> bytes:
    """A value that should be encrypted is written in plaintext."""
    return _ENC.sub(b"leaked", data, count=1)


def change_clear_value(data: bytes) -> bytes:
    """An unencrypted (but MAC-covered) value is written differently from what was MACed."""
    return re.sub(rb"(port_unencrypted\W+)5432", rb"\g<1>5433", data)


def swap_two_values(data: bytes) -> bytes:
    """Two ciphertexts written at each other's place (AAD mismatch)."""
    found = _ENC.findall(data)
    first, second = found[0], found[1]
    return data.replace(first, b"\0").replace(second, first).replace(b"\0", second)


def rename_a_key(data: bytes) -> bytes:
    """A value written under another key than the one it was sealed for: the MAC (over the
    plaintexts in order) cannot see it, only the value's AAD does."""
    return re.sub(rb"(?m)^(\s*\"?)(user|USER)\b", rb"\g<1>\g<2>_renamed", data, count=1)


def inject(monkeypatch: pytest.MonkeyPatch, fmt: str, fault: Fault) -> list[int]:
    """Corrupt every encrypted output of the ``fmt`` store (``render`` with metadata, and the
    ``encrypt_text`` fast path); returns a list that counts the corruptions made."""
    store: Any = get_store(fmt)
    made: list[int] = []
    real_render = store.render

    def render(doc: Any, metadata: Any, options: Any = None) -> bytes:
        out: bytes = real_render(doc, metadata, options)
        if metadata is None:
            return out
        made.append(1)
        return fault(out)

    monkeypatch.setattr(store, "render", render)
    real_text = getattr(store, "encrypt_text", None)
    if real_text is not None:

        def encrypt_text(*args: Any) -> bytes | None:
            out: bytes | None = real_text(*args)
            if out is None:
                return None
            made.append(1)
            return fault(out)

        monkeypatch.setattr(store, "encrypt_text", encrypt_text)
    return made


def _options(key: AgeKey) -> api.EncryptOptions:
    return api.EncryptOptions(key_groups=[[key_type("age").parse_recipient(key.recipient)]])


PLAIN = {
    "yaml": b"# db\ndb:\n  user: admin\n  password: hunter2\nport_unencrypted: 5432\n",
    "json": b'{\n  "user": "admin",\n  "password": "hunter2",\n  "port_unencrypted": 5432\n}\n',
    "dotenv": b"USER=admin\nPASSWORD=hunter2\nport_unencrypted=5432\n",
    "ini": b"[db]\nuser = admin\npassword = hunter2\nport_unencrypted = 5432\n",
    "binary": b"hunter2 and more\n",
}


# --------------------------------------------------------------------------------------------
# The check itself, per format and per fault


@pytest.mark.parametrize("fmt", sorted(PLAIN))
@pytest.mark.parametrize("fault", [leak_first_value, swap_two_values, change_clear_value, drop_metadata, rename_a_key])
def test_encrypt_refuses_output_that_does_not_read_back(
    fmt: str, fault: Fault, age_key: AgeKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    if fault in (swap_two_values, rename_a_key) and fmt == "binary":
        pytest.skip("a binary file has one value")
    if fault is change_clear_value and fmt == "binary":
        pytest.skip("a binary file has no unencrypted value")
    if fault is drop_metadata and fmt != "yaml":
        pytest.skip("the block is cut the YAML way")
    made = inject(monkeypatch, fmt, fault)
    with pytest.raises(WriteVerificationFailed, match="does not read back") as info:
        api.encrypt_bytes(PLAIN[fmt], _options(age_key), input_format=fmt)
    assert made, "the fault was not injected"
    assert info.value.exit_code == 1
    assert b"hunter2".decode() not in info.value.message


@pytest.mark.parametrize("fmt", sorted(PLAIN))
def test_every_format_reads_back_clean(fmt: str, age_key: AgeKey) -> None:
    data = api.encrypt_bytes(PLAIN[fmt], _options(age_key), input_format=fmt)
    assert age_decrypt(data, fmt, age_key) == PLAIN[fmt]


def test_metadata_other_than_sealed_is_refused(age_key: AgeKey, monkeypatch: pytest.MonkeyPatch) -> None:
    inject(monkeypatch, "yaml", lambda out: out.replace(b"unencrypted_suffix: _unencrypted", b"encrypted_suffix: _x"))
    with pytest.raises(WriteVerificationFailed):
        api.encrypt_bytes(PLAIN["yaml"], _options(age_key), input_format="yaml")


def test_an_encrypted_comment_written_under_another_mapping_is_refused(
    age_key: AgeKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The read-back takes a comment it just sealed as it is only where it was sealed for (its
    container's AAD, ``decrypt_tree(known=)``): one written under another mapping, out of reach
    of the AADs a reader tries, is decrypted and fails there."""
    plain = b"a:\n    # note a\n    x: 1\nb:\n    # note b\n    y: 2\nc:\n    # note c\n    z: 3\n"
    found: list[bytes] = []

    def move_first_comment_to_the_third_mapping(out: bytes) -> bytes:
        comments = re.findall(rb"ENC\[AES256_GCM,[^\]]*,type:comment\]", out)
        found.extend(comments)
        first, third = comments[0], comments[2]
        return out.replace(first, b"\0").replace(third, first).replace(b"\0", third)

    clean = api.encrypt_bytes(plain, _options(age_key), input_format="yaml")
    assert age_decrypt(clean, "yaml", age_key) == plain
    inject(monkeypatch, "yaml", move_first_comment_to_the_third_mapping)
    with pytest.raises(WriteVerificationFailed, match="does not read back"):
        api.encrypt_bytes(plain, _options(age_key), input_format="yaml")
    assert len(found) == 3, "the three comments were encrypted"


def test_a_dropped_key_stanza_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A metadata block that lost a recipient still decrypts for the others (MAC fine, data key
    fine): only the comparison with what was sealed sees it."""
    keys = [new_age_key(), new_age_key()]
    store: Any = get_store("yaml")
    real_render = store.render

    def render(doc: Any, metadata: Any, options: Any = None) -> bytes:
        if metadata is not None:
            metadata = {**metadata, "age": metadata["age"][:1]}
        out: bytes = real_render(doc, metadata, options)
        return out

    monkeypatch.setattr(store, "render", render)
    options = api.EncryptOptions(key_groups=[[key_type("age").parse_recipient(k.recipient) for k in keys]])
    with pytest.raises(WriteVerificationFailed, match="metadata block differs"):
        api.encrypt_bytes(PLAIN["yaml"], options, input_format="yaml", env=age_env({}, keys[0]))


def test_a_stanza_for_another_data_key_is_caught_when_an_identity_is_at_hand(
    age_key: AgeKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wrap bug (the stanza holds another key) is visible only by unwrapping it."""
    from pysops.keys import age

    real_wrap = age.AgeRecipient.wrap

    def wrong_wrap(self: Any, data_key: bytes, created_at: Any) -> Any:
        return real_wrap(self, bytes(32), created_at)

    monkeypatch.setattr(age.AgeRecipient, "wrap", wrong_wrap)
    with pytest.raises(WriteVerificationFailed, match="data key unwrapped"):
        api.encrypt_bytes(PLAIN["yaml"], _options(age_key), input_format="yaml", env=age_env({}, age_key))
    # With no identity at hand only the stanza's presence and form can be checked.
    stranger = new_age_key()
    data = api.encrypt_bytes(PLAIN["yaml"], _options(age_key), input_format="yaml", env=age_env({}, stranger))
    assert b"sops:" in data


def test_shamir_shares_are_checked_once_enough_identities_are_at_hand(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = [new_age_key() for _ in range(3)]
    groups = [[key_type("age").parse_recipient(k.recipient)] for k in keys]
    options = api.EncryptOptions(key_groups=groups, shamir_threshold=2)
    data = api.encrypt_bytes(PLAIN["yaml"], options, input_format="yaml", env=age_env({}, *keys))
    assert age_decrypt(data, "yaml", keys[0], keys[2]) == PLAIN["yaml"]
    from pysops.crypto import shamir

    monkeypatch.setattr(shamir, "combine", lambda shares: bytes(32))
    with pytest.raises(WriteVerificationFailed, match="data key unwrapped"):
        api.encrypt_bytes(PLAIN["yaml"], options, input_format="yaml", env=age_env({}, *keys))


def test_key_cmd_is_never_run_to_check_a_write(age_key: AgeKey, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    script = tmp_path / "cmd.sh"
    script.write_text(f"#!/bin/sh\ntouch {marker}\necho {age_key.identity}\n")
    script.chmod(0o755)
    env = {"SOPS_AGE_KEY_CMD": str(script), "HOME": str(tmp_path)}
    api.encrypt_bytes(PLAIN["yaml"], _options(age_key), input_format="yaml", env=env)
    assert not marker.exists()


# --------------------------------------------------------------------------------------------
# Every write command: exit 1, one error line, the file untouched


def _editor(tmp_path: Path) -> str:
    script = tmp_path / "editor.sh"
    script.write_text('#!/bin/sh\nsed -i "s/admin/root/" "$1"\n')
    script.chmod(0o755)
    return str(script)


WRITES: dict[str, Callable[[str, AgeKey, Path], list[str]]] = {
    "encrypt -i": lambda f, k, t: ["encrypt", "-i", "--age", k.recipient, f],
    "set": lambda f, k, t: ["set", f, '["db"]["user"]', '"root"'],
    "unset": lambda f, k, t: ["unset", f, '["db"]["user"]'],
    "rotate -i": lambda f, k, t: ["rotate", "-i", f],
    "rotate --add-age": lambda f, k, t: ["rotate", "-i", "--add-age", new_age_key().recipient, f],
    "updatekeys": lambda f, k, t: ["updatekeys", "-y", f],
    "groups add": lambda f, k, t: ["groups", "add", "--file", f, "-i", "--age", new_age_key().recipient],
    "edit": lambda f, k, t: ["edit", f],
    "encrypt --recursive": lambda f, k, t: ["encrypt", "--recursive", "-i", "--age", k.recipient, str(Path(f).parent)],
}


@pytest.mark.parametrize("command", sorted(WRITES))
def test_every_write_command_refuses_to_write_what_does_not_read_back(
    command: str, clean_env: dict[str, str], pysops: Any, age_key: AgeKey, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    folder = tmp_path / "files"
    folder.mkdir()
    target = folder / "s.yaml"
    if command.startswith("encrypt"):
        target.write_bytes(PLAIN["yaml"])
    else:
        target.write_bytes(age_encrypt(PLAIN["yaml"], "yaml", age_key.recipient))
    if command == "updatekeys":  # a creation rule with another recipient: updatekeys has work to do
        (folder / ".sops.yaml").write_text(f"creation_rules:\n  - age: {age_key.recipient},{new_age_key().recipient}\n")
    before = target.read_bytes()
    env = {**age_env(clean_env, age_key), "EDITOR": _editor(tmp_path)}
    made = inject(monkeypatch, "yaml", drop_metadata)
    result = pysops(WRITES[command](str(target), age_key, tmp_path), env)
    assert made, "the fault was not injected"
    assert result.code == 1, result.stderr
    assert target.read_bytes() == before
    errors = [line for line in result.stderr.splitlines() if line.startswith("pysops: error:")]
    # one line per failed file (bulk prefixes the file's name and adds its count line)
    assert len(errors) == (2 if "--recursive" in command else 1), result.stderr
    assert "internal error: the encrypted yaml output does not read back" in errors[0]
    assert "Traceback" not in result.stderr and "hunter2" not in result.stderr
    assert sorted(p.name for p in folder.iterdir() if p.name != ".sops.yaml") == ["s.yaml"]  # no temp files


def test_merge_driver_refuses_a_merge_that_does_not_read_back(
    age_key: AgeKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = age_encrypt(b"a: one\nb: two\n", "yaml", age_key.recipient)
    opened = api.open_file(base, input_format="yaml", options=age_options(age_key))
    ours_doc = api.open_file(base, input_format="yaml", options=age_options(age_key))
    opened.doc.branches[0].items[0].value.value = "ONE"  # type: ignore[union-attr]
    opened.doc.branches[0].items[0].value.changed = True  # type: ignore[union-attr]
    theirs = opened.seal()
    ours_doc.doc.branches[0].items[1].value.value = "TWO"  # type: ignore[union-attr]
    ours_doc.doc.branches[0].items[1].value.changed = True  # type: ignore[union-attr]
    ours = ours_doc.seal()
    inject(monkeypatch, "yaml", drop_metadata)
    with pytest.raises(WriteVerificationFailed):
        gitdriver.merge_files(base, ours, theirs, "x.yaml", options=age_options(age_key), tmp_base=str(tmp_path))


def test_cli_flow_style_yaml_encrypts_to_a_file_both_tools_decrypt(
    clean_env: dict[str, str], pysops: Any, age_key: AgeKey, tmp_path: Path
) -> None:
    """The issue's reproduction, at the CLI: ``encrypt -i`` of a top-level flow mapping writes a
    file with its metadata, which pysops and sops both decrypt to the same data."""
    from tests.conftest import run_sops

    target = tmp_path / "t.yaml"
    target.write_bytes(b'{"a": 2, "b": "ba", "c": [1,2]}')
    env = age_env(clean_env, age_key)
    assert pysops(["encrypt", "-i", "--age", age_key.recipient, str(target)], env).code == 0
    assert b"\nsops:\n" in target.read_bytes()
    ours = pysops(["decrypt", "--output-type", "json", str(target)], env)
    theirs = run_sops(["decrypt", "--output-type", "json", str(target)], env)
    assert ours.code == 0 and theirs.code == 0
    assert ours.stdout == theirs.stdout
    assert b'"b": "ba"' in ours.stdout


def test_sops_reads_what_passed_verification(clean_env: dict[str, str], age_key: AgeKey, tmp_path: Path) -> None:
    from tests.conftest import run_sops

    for fmt, plain in PLAIN.items():
        path = tmp_path / ("s.bin" if fmt == "binary" else f"s.{'env' if fmt == 'dotenv' else fmt}")
        path.write_bytes(api.encrypt_bytes(plain, _options(age_key), input_format=fmt))
        result = run_sops(["decrypt", str(path)], age_env(clean_env, age_key))
        assert result.code == 0, (fmt, result.stderr)
        assert b"hunter2" in result.stdout


def test_fault_helpers_really_break_the_file(age_key: AgeKey) -> None:
    """Each injected fault makes a file that a plain decrypt rejects (so the tests above test
    the verification, not a harmless change)."""
    data = api.encrypt_bytes(PLAIN["yaml"], _options(age_key), input_format="yaml")
    for fault in (drop_metadata, leak_first_value, change_clear_value, swap_two_values):
        broken = fault(data)
        assert broken != data
        with pytest.raises(Exception):  # noqa: B017 (any refusal: metadata, 25, 51)
            age_decrypt(broken, "yaml", age_key)


def test_sealing_twice_keeps_checking(age_key: AgeKey, monkeypatch: pytest.MonkeyPatch) -> None:
    """``OpenedFile.seal`` and ``with_metadata`` (set/rotate/updatekeys/groups) verify too."""
    data = age_encrypt(PLAIN["yaml"], "yaml", age_key.recipient)
    opened = api.open_file(data, input_format="yaml", options=age_options(age_key))
    inject(monkeypatch, "yaml", drop_metadata)
    with pytest.raises(WriteVerificationFailed):
        opened.seal()
    with pytest.raises(WriteVerificationFailed):
        opened.with_metadata(data, output_format="yaml")
