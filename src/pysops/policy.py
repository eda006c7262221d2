"""Which leaves are encrypted (format.md §1.5): one pure function over a leaf's path and comments."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache

from pysops._typing import TYPE_CHECKING

if TYPE_CHECKING:
    import re

#: The selection options, in sops's metadata field order. At most one may be set per file/rule.
SELECTION_KEYS: tuple[str, ...] = (
    "unencrypted_suffix",
    "encrypted_suffix",
    "unencrypted_regex",
    "encrypted_regex",
    "unencrypted_comment_regex",
    "encrypted_comment_regex",
)


@lru_cache(maxsize=64)
def _compile(pattern: str) -> re.Pattern[str]:
    import re

    return re.compile(pattern)


def should_encrypt(path: Sequence[str], comments: Sequence[str], selection: tuple[str, str] | None) -> bool:
    """Whether the leaf at ``path`` (mapping keys from the root) is encrypted.

    ``comments`` are the texts of the comments in the active comment stack (the comments directly
    before the leaf or one of its ancestors). ``selection`` is ``(option, value)`` or None for the
    default ``unencrypted_suffix: _unencrypted``.
    """
    option, value = selection or ("unencrypted_suffix", "_unencrypted")
    if option == "unencrypted_suffix":
        return not any(component.endswith(value) for component in path)
    if option == "encrypted_suffix":
        return any(component.endswith(value) for component in path)
    if option == "unencrypted_regex":
        pattern = _compile(value)
        return not any(pattern.search(component) for component in path)
    if option == "encrypted_regex":
        pattern = _compile(value)
        return any(pattern.search(component) for component in path)
    if option == "unencrypted_comment_regex":
        pattern = _compile(value)
        return not any(pattern.search(comment) for comment in comments)
    if option == "encrypted_comment_regex":
        pattern = _compile(value)
        return any(pattern.search(comment) for comment in comments)
    raise ValueError(f"unknown selection option {option}")


def selector(selection: tuple[str, str] | None) -> Callable[[Sequence[str], Sequence[str]], bool]:
    """``should_encrypt`` with the selection bound, specialised for speed on large files."""
    option, value = selection or ("unencrypted_suffix", "_unencrypted")
    if option == "unencrypted_suffix":

        def unencrypted_suffix(path: Sequence[str], comments: Sequence[str]) -> bool:
            for component in path:  # noqa: SIM110 (a plain loop: this runs once per leaf)
                if component.endswith(value):
                    return False
            return True

        return unencrypted_suffix
    if option not in SELECTION_KEYS:
        raise ValueError(f"unknown selection option {option}")
    return lambda path, comments: should_encrypt(path, comments, selection)


def should_encrypt_comment(path: Sequence[str], comments: Sequence[str], selection: tuple[str, str] | None) -> bool:
    """Whether a comment is encrypted, as sops 3.11 decides it (checked against the binary).

    A comment is a leaf of the container it sits in: ``path`` is that container's path (mapping
    keys from the root, ``()`` at the top) and ``comments`` is the active comment stack *ending
    with the comment itself*. So under the suffix and key-regex modes a comment is encrypted
    exactly when a value at ``path`` would be (``encrypted_regex: ^data$`` leaves a top-level
    comment in clear and encrypts one inside ``data:``); under ``unencrypted_comment_regex`` it
    stays in clear when it or a comment before it in the stack matches (the marker stays
    readable); under ``encrypted_comment_regex`` it is encrypted only when a comment *before* it
    in the stack matches (the marker line itself stays in clear). An empty comment (``#`` alone)
    is never encrypted: sops writes nothing to encrypt and could not read ``ENC[...,data:,...]``.
    """
    if not comments or comments[-1] == "":
        return False
    if selection is not None and selection[0] == "encrypted_comment_regex":
        pattern = _compile(selection[1])
        return any(pattern.search(comment) for comment in comments[:-1])
    return should_encrypt(path, comments, selection)
