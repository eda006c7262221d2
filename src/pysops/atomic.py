"""Safe file writes: temp file in the target directory, fsync, rename; modes kept or 0600.

A crash, a full disk or a signal leaves either the old file or the new one, never a mix, and
never a stray plaintext copy (the temp file is removed on every failure path).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from pysops.errors import CouldNotWriteOutputFile


def write_atomic(path: str | os.PathLike[str], data: bytes, *, private: bool = False) -> None:
    """Replace ``path`` with ``data`` atomically.

    An existing file keeps its mode; a new file gets 0600 when ``private`` (plaintext output),
    else the umask default for a new file (0666 & ~umask).
    """
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        if private:
            mode = 0o600
        else:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
    except OSError as exc:
        raise CouldNotWriteOutputFile(f"cannot write {target}: {exc.strerror}") from None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise CouldNotWriteOutputFile(f"cannot write {target}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise CouldNotWriteOutputFile(f"cannot write {target}: {exc.strerror}") from None
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
