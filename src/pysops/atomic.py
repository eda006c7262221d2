"""Safe file writes: temp file in the target directory, fsync, rename; modes kept or 0600.

A crash, a full disk or a signal leaves either the old file or the new one, never a mix, and
never a stray plaintext copy (the temp file is removed on every failure path). Only ``kill -9``
(or a power cut) can leave the writer's temp file, ``.NAME.XXXXXXXX.tmp``, behind: the next write
to ``NAME`` removes such leftovers. A writer holds an ``flock`` on its temp file from creation to
rename, so a leftover is a temp file of that target that nobody holds locked; a live writer's
temp file is never touched (see ``_remove_leftovers``).

The directory is fsynced after the rename, so that the rename itself survives a power cut. A
bulk run writing many files (``deferred_directory_sync``) syncs each directory once at its end
instead of once per file: every file's own bytes are still synced before its rename.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from pysops._typing import TYPE_CHECKING
from pysops.errors import CouldNotWriteOutputFile

if TYPE_CHECKING:
    from collections.abc import Iterator


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
    _remove_leftovers(directory, target.name)
    fd, tmp = _locked_temp(target, directory)
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
    if _deferred is not None:
        _deferred.add(os.path.abspath(directory))
    else:
        _sync_directory(directory)


def _sync_directory(directory: str | os.PathLike[str]) -> None:
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


#: directories written to while a ``deferred_directory_sync`` block runs (None outside one)
_deferred: set[str] | None = None


@contextlib.contextmanager
def deferred_directory_sync() -> Iterator[None]:
    """Within this block, ``write_atomic`` leaves the fsync of the directories it renamed into
    to the block's end, one per directory (100 files written to one directory: one sync, not
    100). Also at an exception's exit: the files renamed so far are durable too."""
    global _deferred
    if _deferred is not None:  # nested: the outer block syncs
        yield
        return
    _deferred = set()
    try:
        yield
    finally:
        directories, _deferred = _deferred, None
        for directory in sorted(directories):
            _sync_directory(directory)


#: ``tempfile.mkstemp``'s random part: 8 characters from this set.
_RANDOM_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")
_RANDOM_LEN = 8

#: Leftover temp files per directory, found by one scan per directory and process (a bulk run
#: writing many files to one directory lists it once): directory -> target name -> temp names.
_leftovers: dict[str, dict[str, list[str]]] = {}


def _locked_temp(target: Path, directory: Path) -> tuple[int, str]:
    """A new temp file for ``target`` in ``directory``, open and ``flock``-ed (the mark of a live
    writer). A cleaner in another process may have removed it between its creation and the lock
    (it was unlocked then): that is seen by its name no longer naming the open file, and a new one
    is made."""
    import fcntl

    for _ in range(100):
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
        except OSError as exc:
            raise CouldNotWriteOutputFile(f"cannot write {target}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if _same_file(tmp, fd):
                return fd, tmp
        except OSError:
            pass
        os.close(fd)
    raise CouldNotWriteOutputFile(f"cannot write {target}: its temporary files keep disappearing")


def _same_file(path: str, fd: int) -> bool:
    try:
        named = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    opened = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)


def _temp_target(name: str) -> str | None:
    """The target name of a temp file name ``.TARGET.XXXXXXXX.tmp``, else None."""
    if not (name.startswith(".") and name.endswith(".tmp")):
        return None
    stem = name[1:-4]
    target, dot, random_part = stem[: -_RANDOM_LEN - 1], stem[-_RANDOM_LEN - 1], stem[-_RANDOM_LEN:]
    if not target or dot != "." or len(random_part) != _RANDOM_LEN or not set(random_part) <= _RANDOM_CHARS:
        return None
    return target


def _remove_leftovers(directory: Path, name: str) -> None:
    """Remove the temp files of ``name`` that a killed writer left in ``directory``.

    Only regular files of this user named ``.NAME.XXXXXXXX.tmp`` are candidates, and one is
    removed only while this process holds its ``flock``: a live writer holds that lock from the
    temp file's creation to its rename, so its file is skipped. Best effort: any error leaves the
    file alone."""
    key = os.path.abspath(directory)
    by_target = _leftovers.get(key)
    if by_target is None:
        by_target = _leftovers[key] = {}
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    owner = _temp_target(entry.name)
                    if owner is not None:
                        by_target.setdefault(owner, []).append(entry.name)
        except OSError:
            return
    for candidate in by_target.pop(name, []):
        _remove_if_abandoned(os.path.join(directory, candidate))


def _remove_if_abandoned(path: str) -> None:
    import fcntl

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return  # a live writer holds it
        if _same_file(path, fd):
            os.unlink(path)
    except OSError:
        pass
    finally:
        os.close(fd)
