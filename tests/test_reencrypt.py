"""Re-encryption keeps every unchanged ciphertext: only the changed value, lastmodified and mac
lines differ (the minimal-diff invariant behind edit/set/unset)."""

from __future__ import annotations

import pytest
from tests.conftest import new_age_key
from tests.helpers import age_options

from pysops import api
from pysops.document import Scalar
from pysops.keys import key_type
from pysops.values import GoTime

KEY = new_age_key()
CTX = age_options(KEY)
OPTS = api.EncryptOptions(key_groups=[[key_type("age").parse_recipient(KEY.recipient)]])

SAMPLES = {
    "yaml": (b"# top\na: one\nb: two  # inline\nl: [x, y, x]\nn:\n  deep: 3\n", ("b",)),
    "json": (b'{\n  "a": "one",\n  "b": "two",\n  "l": ["x", "y", "x"]\n}\n', ("b",)),
    "dotenv": (b"# top\nA=one\nB=two\nC=x\n", ("B",)),
    "ini": (b"; top\n[s]\na = one\nb = two\n", ("s", "b")),
}


def _changed_lines(before: bytes, after: bytes) -> list[str]:
    a, b = before.decode().splitlines(), after.decode().splitlines()
    assert len(a) == len(b)
    return [y for x, y in zip(a, b, strict=True) if x != y]


@pytest.mark.parametrize("fmt", list(SAMPLES))
def test_unchanged_document_keeps_every_ciphertext(fmt: str) -> None:
    text, _ = SAMPLES[fmt]
    enc = api.encrypt_bytes(text, OPTS, input_format=fmt, now=GoTime(2026, 1, 1))
    opened = api.open_file(enc, input_format=fmt, options=CTX)
    again = opened.seal(now=GoTime(2026, 1, 2))
    changed = _changed_lines(enc, again)
    assert len(changed) == 2 and all("lastmodified" in c or "mac" in c for c in changed), changed
    assert api.decrypt_bytes(again, input_format=fmt, options=CTX) == text


@pytest.mark.parametrize("fmt", list(SAMPLES))
def test_one_changed_value_changes_one_line(fmt: str) -> None:
    text, path = SAMPLES[fmt]
    enc = api.encrypt_bytes(text, OPTS, input_format=fmt, now=GoTime(2026, 1, 1))
    opened = api.open_file(enc, input_format=fmt, options=CTX)
    leaf = api.lookup(opened.doc, list(path))
    assert isinstance(leaf, Scalar)
    leaf.set("TWO")
    again = opened.seal(now=GoTime(2026, 1, 2))
    changed = _changed_lines(enc, again)
    assert len(changed) == 3, changed
    assert sum(1 for c in changed if "lastmodified" in c or "mac" in c) == 2
    assert b"TWO" in api.decrypt_bytes(again, input_format=fmt, options=CTX)


def test_rotate_changes_every_value_and_keeps_plaintext() -> None:
    text = SAMPLES["yaml"][0]
    enc = api.encrypt_bytes(text, OPTS, input_format="yaml")
    opened = api.open_file(enc, input_format="yaml", options=CTX)
    old_key = opened.data_key
    opened.rotate_data_key()
    opened.rewrap(opened.recipients())
    again = opened.seal()
    assert opened.data_key != old_key
    assert not set(enc.decode().splitlines()) & {ln for ln in again.decode().splitlines() if "ENC[" in ln}
    assert api.decrypt_bytes(again, input_format="yaml", options=CTX) == text
