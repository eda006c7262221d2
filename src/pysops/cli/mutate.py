"""What the commands that change an encrypted file share (set, unset, rotate, updatekeys, groups):
read it, open it with its data key, and write it back safely.

A write back is atomic (``pysops.atomic``) and refuses to replace a file that changed on disk
since it was read (another ``set`` or ``edit`` finished in between): the second writer fails
with exit 3 and the first one's change is kept.
"""

from __future__ import annotations

import os
from typing import Any

from pysops.errors import CouldNotReadInputFile, CouldNotWriteOutputFile, GenericError


def read_encrypted(path: str) -> bytes:
    """The file's bytes; a missing file is exit 2, as ``sops set``/``rotate`` report it."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise CouldNotReadInputFile(
            f"Error reading file: open {os.path.abspath(path)}: no such file or directory"
        ) from None
    except IsADirectoryError:
        raise CouldNotReadInputFile(f"Error reading file: {path} is a directory") from None
    except OSError as exc:
        raise CouldNotReadInputFile(f"Error reading file: {path}: {exc.strerror}") from None


def open_encrypted(
    data: bytes,
    fmt: str,
    *,
    ignore_mac: bool = False,
    decryption_order: str | None = None,
    shared: Any = None,
) -> Any:
    """Decrypt for modification. ``shared`` (from ``shared_keys()``) lets a command working on
    several files load identities once and unwrap each distinct data key once."""
    from pysops import api

    order = api.parse_decryption_order(decryption_order or os.environ.get("SOPS_DECRYPTION_ORDER"))
    context, cache = shared if shared is not None else (None, None)
    return api.open_file(
        data,
        input_format=fmt,
        options=api.DecryptOptions(ignore_mac=ignore_mac, decryption_order=order, context=context, key_cache=cache),
    )


def shared_keys() -> tuple[Any, Any]:
    """One key context and data-key cache for the files of one command invocation."""
    from pysops.bulk import DataKeyCache
    from pysops.keys import KeyContext

    return KeyContext(dict(os.environ)), DataKeyCache()


def write_back(path: str, original: bytes, data: bytes) -> None:
    """Replace ``path`` with ``data`` unless someone else changed it since we read ``original``.

    The check and the write happen under the file's pysops lock (the one ``edit`` holds while
    its editor is open), so a concurrent pysops writer is either waited for (a few seconds) or
    refused with exit 3; either way no change is lost."""
    from pysops.atomic import write_atomic
    from pysops.edit import file_lock

    with file_lock(path, wait=5.0):
        try:
            with open(path, "rb") as handle:
                current = handle.read()
        except OSError:
            current = None
        if current != original:
            raise CouldNotWriteOutputFile(
                f"{path} changed on disk while pysops was working on it; nothing was written",
                hint="run the command again on the new version",
            )
        write_atomic(path, data)


def config_flag() -> str | None:
    from pysops.cli.app import _state

    flag = _state.get("config")
    return flag if isinstance(flag, str) else None


def store_options_for(path: str | None, fmt: str) -> dict[str, Any]:
    from pysops.cli.inputs import absolute, load_config, store_options

    return store_options(load_config(absolute(path), config_flag()), fmt)


def rewrappable(opened: Any) -> list[list[Any]]:
    """The recipients of every key group; an error when a key type cannot be wrapped again."""
    from pysops.keys import SPECS

    unknown = sorted({k.type for group in opened.meta.key_groups for k in group if k.type not in SPECS})
    if unknown:
        raise GenericError(
            f"the file has {', '.join(unknown)} keys, which pysops cannot wrap a data key for yet",
            hint="change this file's keys with sops",
        )
    recipients: list[list[Any]] = opened.recipients()
    return recipients


def looks_encrypted(path: str) -> bool:
    """Whether a file looks like a sops-encrypted file (has an ``ENC[AES256_GCM,`` value and a
    ``sops`` metadata key); ``--recursive`` picks files with this cheap test."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return False
    return b"ENC[AES256_GCM," in data and b"sops" in data


def expand_paths(paths: list[str], *, recursive: bool) -> list[str]:
    """The files to work on: files as given, and with ``recursive`` every encrypted-looking file
    under each directory (sorted; hidden directories such as ``.git`` are skipped). A directory
    without ``recursive`` is an error (exit 2, like a file that cannot be read)."""
    result: list[str] = []
    for path in paths:
        if not os.path.isdir(path):
            result.append(path)
            continue
        if not recursive:
            raise CouldNotReadInputFile(f"Error reading file: {path} is a directory", hint="use --recursive")
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                candidate = os.path.join(root, name)
                if looks_encrypted(candidate):
                    result.append(candidate)
    return result
