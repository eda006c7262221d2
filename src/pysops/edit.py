"""``edit``: decrypt into a private temporary file, run an editor, encrypt the result back.

Safety contract (design.md invariant 4, docs/edit.md):

* The plaintext only ever lives in a fresh 0700 directory (under ``/dev/shm`` when it exists,
  RAM-backed, else the temp dir) as a 0600 file named like the original (editors pick the
  syntax from the name). The directory is removed on every exit path: success, errors, and
  SIGINT / SIGTERM / SIGHUP (the handlers stop the editor, remove the directory and raise
  ``Interrupted``, exit 128+N). A SIGKILL cannot be caught: the next ``edit`` on the same
  machine removes directories left by dead pysops processes.
* The edited plaintext is encrypted with the file's data key and IV stash, so every value that
  did not change keeps its exact ciphertext: ``git diff`` shows the changed lines plus
  ``lastmodified`` and ``mac``.
* Nothing is written when the file changed on disk while the editor was open (``FileChangedOnDisk``,
  exit 3), and a lock next to the file (``file_lock``, shared with ``set``/``unset``) makes a
  second concurrent edit fail at once (``FileBusy``, exit 3) instead of losing the first one's change.

Library code: no printing, no exiting. Terminal interaction (the "press a key to return to the
editor" loop) is a callback the CLI supplies.
"""

from __future__ import annotations

import contextlib
import copy
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import FrameType
from typing import Any

from pysops import api
from pysops.errors import (
    CouldNotReadInputFile,
    CouldNotWriteOutputFile,
    FailedToCompareVersions,
    FileBusy,
    FileChangedOnDisk,
    FileHasNotBeenModified,
    GenericError,
    InputTooComplex,
    Interrupted,
    MetadataNotFound,
    NeedAtLeastOneDocument,
    NoEditorFound,
    NoFileSpecified,
    ParseError,
    PysopsError,
    WriteVerificationFailed,
)
from pysops.formats import get_store
from pysops.metadata import VERSION, Metadata
from pysops.values import GoTime

#: The document a new file starts from, per format (the text sops 3.11 shows).
EXAMPLES: dict[str, bytes] = {
    "yaml": (
        b"hello: Welcome to SOPS! Edit this file as you please!\n"
        b"example_key: example_value\n"
        b"# Example comment\n"
        b"example_array:\n"
        b"    - example_value1\n"
        b"    - example_value2\n"
        b"example_number: 1234.56789\n"
        b"example_booleans:\n"
        b"    - true\n"
        b"    - false\n"
    ),
    "json": (
        b'{\n\t"hello": "Welcome to SOPS! Edit this file as you please!",\n'
        b'\t"example_key": "example_value",\n'
        b'\t"example_array": [\n\t\t"example_value1",\n\t\t"example_value2"\n\t],\n'
        b'\t"example_number": 1234.56789,\n'
        b'\t"example_booleans": [\n\t\ttrue,\n\t\tfalse\n\t]\n}\n'
    ),
    "dotenv": (
        b"# This is an example file.\n"
        b"hello=Welcome to SOPS! Edit this file as you please!\n"
        b"example_key=example_value\n"
        b"example_multiline=foo\\nbar\\nbaz\n"
    ),
    "ini": (
        b"; This is an example file.\n"
        b"[Welcome!]\n"
        b"hello       = Welcome to SOPS! Edit this file as you please!\n"
        b"example_key = example_value\n"
    ),
    "binary": b"Welcome to SOPS! Edit this file as you please!",
}

#: Editors tried, in order, when neither SOPS_EDITOR nor EDITOR is set (as sops does).
FALLBACK_EDITORS = ("vim", "nano", "vi")
#: Signals that clean up and end an edit (exit 128+N).
HANDLED_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")
_DIR_PREFIX = "pysops-edit."
#: Seconds the editor gets to exit after it was sent SIGTERM because pysops was stopped.
EDITOR_GRACE = 2.0

#: ``prompt(message) -> bool``: show why the edited text was refused; True reopens the editor.
Prompt = Callable[[str], bool]


# --------------------------------------------------------------------------------------------
# Where and with what


def temp_base() -> str:
    """``/dev/shm`` (RAM-backed, never written to disk) when usable, else the system temp dir."""
    shm = "/dev/shm"
    if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK):
        return shm
    return tempfile.gettempdir()


def editor_command(env: Mapping[str, str]) -> list[str]:
    """``$SOPS_EDITOR`` or ``$EDITOR`` split like a shell would (``code --wait``), else the first
    of vim, nano, vi on PATH; ``NoEditorFound`` (exit 201) when there is none."""
    for name in ("SOPS_EDITOR", "EDITOR"):
        text = env.get(name, "")
        if text.strip():
            try:
                argv = shlex.split(text)
            except ValueError as exc:
                raise NoEditorFound(f"Could not run editor: ${name} cannot be parsed: {exc}") from None
            if argv:
                return argv
    for candidate in FALLBACK_EDITORS:
        found = shutil.which(candidate, path=env.get("PATH", os.defpath))
        if found:
            return [found]
    raise NoEditorFound(
        "Could not run editor: no editor available: pysops uses $SOPS_EDITOR or $EDITOR, "
        "else the first of vim, nano, vi on PATH, and none of them could be found",
        hint="e.g. export EDITOR='code --wait'",
    )


# --------------------------------------------------------------------------------------------
# The lock shared by every command that rewrites a file in place


def lock_path(path: str | os.PathLike[str]) -> Path:
    """The lock file of ``path``: ``.<name>.pysops.lock`` in the same directory."""
    target = Path(path)
    return target.with_name(f".{target.name}.pysops.lock")


@contextlib.contextmanager
def file_lock(path: str | os.PathLike[str], *, wait: float = 0.0) -> Iterator[None]:
    """Hold the exclusive lock of ``path`` (a file that need not exist yet) for the block.

    The lock is an ``flock`` on ``.<name>.pysops.lock`` next to the file, created on demand and
    removed on release; the kernel drops it when the process dies, so a stale lock file never
    blocks anyone. ``wait`` seconds are spent retrying before ``FileBusy`` (exit 3) is raised:
    0 for ``edit`` (an editor session may last long), a few seconds suit ``set``/``unset``.
    """
    import fcntl

    lock = lock_path(path)
    deadline = time.monotonic() + wait
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        except FileNotFoundError:
            raise CouldNotWriteOutputFile(f"cannot write {path}: the directory {lock.parent} does not exist") from None
        except OSError as exc:
            raise CouldNotWriteOutputFile(f"cannot create the lock file {lock}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            if time.monotonic() < deadline:
                time.sleep(0.05)
                continue
            who = f" (pid {holder})" if holder else ""
            raise FileBusy(
                f"{path} is being modified by another pysops process{who}; nothing was changed",
                hint="wait for the other edit to finish and try again",
            ) from None
        # The holder we waited for may have removed the lock file after we opened it: then we
        # hold a lock nobody else looks at, and must start again with the current file.
        try:
            current = os.stat(lock, follow_symlinks=False)
        except FileNotFoundError:
            os.close(fd)
            continue
        mine = os.fstat(fd)
        if (current.st_dev, current.st_ino) != (mine.st_dev, mine.st_ino):
            os.close(fd)
            continue
        break
    try:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        # Unlink while still holding the lock, then release (a waiter re-checks the inode).
        # Signals wait until both are done, so an interrupt never leaves the lock half released.
        with _signals_blocked():
            with contextlib.suppress(OSError):
                os.unlink(lock)
            os.close(fd)


@contextlib.contextmanager
def _signals_blocked() -> Iterator[None]:
    """Delay the handled signals (they are delivered, and handled, when the block ends)."""
    wanted = {getattr(signal, name) for name in HANDLED_SIGNALS if hasattr(signal, name)}
    try:
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, wanted)
    except (AttributeError, OSError, ValueError):
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


# --------------------------------------------------------------------------------------------
# Signals


class SignalGuard:
    """While active, SIGINT/SIGTERM/SIGHUP raise ``Interrupted`` in the main thread, so ``finally``
    blocks remove the plaintext before the process ends with 128+N. Inside ``deferred()`` (the
    cleanup and the final write) a signal is only recorded and raised when the block ends, so a
    directory is never half removed and a file never half written. Outside the main thread
    (where Python cannot install handlers) it does nothing."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.armed = True
        self.pending: int | None = None
        self.fired = False
        #: Set once the target was written: a signal deferred past the write says so.
        self.written = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> SignalGuard:
        if threading.current_thread() is threading.main_thread():
            for name in HANDLED_SIGNALS:
                signum = getattr(signal, name, None)
                if signum is not None:
                    self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.fired or self.pending is not None:
            return
        if not self.armed:
            self.pending = signum
            return
        self.fired = True
        raise self.error(signum)

    def error(self, signum: int) -> Interrupted:
        name = signal.Signals(signum).name
        outcome = "was written" if self.written else "was not changed"
        return Interrupted(
            signum, f"interrupted by {name}: {self.path} {outcome} and the temporary plaintext was removed"
        )

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        was_armed = self.armed
        self.armed = False
        try:
            yield
        finally:
            self.armed = was_armed
            if was_armed and self.pending is not None and not self.fired:
                self.fired = True
                signum, self.pending = self.pending, None
                raise self.error(signum)


# --------------------------------------------------------------------------------------------
# The private directory


def _pid_namespace() -> int | None:
    try:
        return os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return None


@contextlib.contextmanager
def private_dir(base: str | None = None, guard: SignalGuard | None = None) -> Iterator[Path]:
    """A fresh 0700 directory under ``base`` (default ``temp_base()``), removed afterwards.

    Its name carries the pid namespace and pid, so a later call can recognise and remove
    directories left by pysops processes that were SIGKILLed (``remove_leftovers``)."""
    base = base or temp_base()
    namespace = _pid_namespace()
    if namespace is not None:
        remove_leftovers(base, namespace)
    tag = f"{namespace or 0}.{os.getpid()}."
    try:
        directory = Path(tempfile.mkdtemp(prefix=_DIR_PREFIX + tag, dir=base))
    except OSError as exc:
        raise CouldNotWriteOutputFile(f"cannot create a private directory in {base}: {exc.strerror}") from None
    try:
        yield directory
    finally:
        with guard.deferred() if guard is not None else contextlib.nullcontext():
            shutil.rmtree(directory, ignore_errors=True)


def remove_leftovers(base: str, namespace: int) -> list[str]:
    """Remove edit directories in ``base`` that belong to this user and to pysops processes of
    this pid namespace that no longer exist; returns the removed paths."""
    removed: list[str] = []
    try:
        entries = list(os.scandir(base))
    except OSError:
        return removed
    uid = os.getuid()
    for entry in entries:
        if not entry.name.startswith(_DIR_PREFIX):
            continue
        parts = entry.name[len(_DIR_PREFIX) :].split(".")
        if len(parts) < 3 or parts[0] != str(namespace) or not parts[1].isdigit():
            continue
        try:
            if not entry.is_dir(follow_symlinks=False) or entry.stat(follow_symlinks=False).st_uid != uid:
                continue
        except OSError:
            continue
        if _alive(int(parts[1])):
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        removed.append(entry.path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(data)


# --------------------------------------------------------------------------------------------
# Running the editor


def run_editor(argv: list[str], path: Path) -> None:
    """Run the editor on ``path`` and wait; ``NoEditorFound`` (201) if it cannot start or fails.

    When pysops is interrupted meanwhile (``Interrupted`` raised by the guard), the editor gets
    SIGTERM (then SIGKILL after ``EDITOR_GRACE`` s) before the plaintext is removed."""
    try:
        proc = subprocess.Popen([*argv, str(path)])
    except OSError as exc:
        raise NoEditorFound(f"Could not run editor: {argv[0]}: {exc.strerror}") from None
    try:
        status = proc.wait()
    except BaseException:
        with contextlib.suppress(OSError):
            proc.terminate()
        try:
            proc.wait(timeout=EDITOR_GRACE)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError):
                proc.kill()
            proc.wait()
        raise
    if status < 0:
        raise NoEditorFound(f"Could not run editor: killed by {signal.Signals(-status).name}")
    if status != 0:
        raise NoEditorFound(f"Could not run editor: exit status {status}")


def edit_until_valid(
    editor: Callable[[list[str], Path], None],
    argv: list[str],
    temp: Path,
    seal: Callable[[bytes], bytes],
    *,
    prompt: Prompt | None,
    target: str,
    what: str,
    hint: str,
    unchanged: bytes | None = None,
) -> bytes:
    """Run the editor on ``temp`` until ``seal`` accepts the text; returns what ``seal`` gave.

    ``FileHasNotBeenModified`` when the text comes back equal to ``unchanged``. A refused text
    (``PysopsError``, ``Interrupted`` excepted) reopens the editor when ``prompt(message)`` says
    so; otherwise the error is raised again, same class and exit code, with the context a user
    needs: "``what``: message; ``target`` was not changed" and ``hint``."""
    while True:
        editor(argv, temp)
        try:
            edited = temp.read_bytes()
        except OSError as exc:
            raise CouldNotReadInputFile(f"cannot read the edited file: {exc.strerror}") from None
        if edited == unchanged:
            raise FileHasNotBeenModified("File has not changed, exiting.")
        try:
            return seal(edited)
        except (Interrupted, WriteVerificationFailed):
            raise  # a pysops bug is not the edit's fault: reopening the editor would not help
        except PysopsError as exc:
            if prompt is not None and prompt(exc.message):
                continue
            exc.message = f"{what}: {exc.message}; {target} was not changed"
            exc.args = (exc.message,)
            exc.hint = hint
            raise exc from None


# --------------------------------------------------------------------------------------------
# Editing


def edit_file(
    path: str | os.PathLike[str],
    *,
    input_format: str,
    output_format: str | None = None,
    options: api.DecryptOptions | None = None,
    new_file_options: api.EncryptOptions | None = None,
    show_master_keys: bool = False,
    store_options: dict[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    prompt: Prompt | None = None,
    tmp_base: str | None = None,
    editor: Callable[[list[str], Path], None] = run_editor,
    now: GoTime | None = None,
    randbytes: api.RandBytes = os.urandom,
) -> bytes:
    """Edit ``path`` (an encrypted file, or a new one when ``new_file_options`` are given) and
    write it back; returns the bytes written.

    Raises ``FileHasNotBeenModified`` (200) when the plaintext comes back unchanged,
    ``NoEditorFound`` (201), ``FileBusy`` / ``FileChangedOnDisk`` (3), ``Interrupted`` (128+N),
    and the parse/metadata error of the edited text (exit 2 / 1) when ``prompt`` is missing or
    declines to reopen the editor. The file is unchanged whenever an error is raised.
    ``env`` (default os.environ) names the editor and, without ``options``, the key sources;
    the editor itself inherits the process environment.
    """
    target = os.fspath(path)
    fmt = output_format or input_format
    environ = os.environ if env is None else env
    argv = editor_command(environ)
    options = options or api.DecryptOptions(env=environ)
    with SignalGuard(target) as guard, file_lock(target):
        original = _read_current(target)
        if original is None:
            if new_file_options is None:
                raise NoFileSpecified(f'cannot operate on non-existent file "{target}"')
            opened = api.new_file(fmt, new_file_options, now=now, randbytes=randbytes)
            shown = EXAMPLES[fmt]
            if show_master_keys:
                store = get_store(fmt)
                shown = store.render(store.parse(shown), opened.meta.to_dict(), store_options)
        else:
            opened = _open(original, input_format, options)
            shown = api.render(opened.doc, fmt, opened.meta.to_dict() if show_master_keys else None, store_options)
        with private_dir(tmp_base, guard) as directory:
            temp = directory / (os.path.basename(target) or "file")
            _write_private(temp, shown)

            def seal(edited: bytes) -> bytes:
                return _seal(
                    opened, edited, fmt=fmt, show_master_keys=show_master_keys,
                    store_options=store_options, now=now, randbytes=randbytes,
                )  # fmt: skip

            sealed = edit_until_valid(
                editor, argv, temp, seal, prompt=prompt, target=target, what="the edited file is invalid",
                hint="run the edit again; with a terminal the editor reopens to fix it", unchanged=shown,
            )  # fmt: skip
            with guard.deferred():
                if _read_current(target) != original:
                    raise FileChangedOnDisk(
                        f"{target} changed on disk while the editor was open; your edit was discarded "
                        "so that the other change is not lost",
                        hint="run the edit again on the current file",
                    )
                from pysops.atomic import write_atomic

                write_atomic(target, sealed, private=False)
                guard.written = True
    return sealed


def _read_current(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise CouldNotReadInputFile(f"cannot read {path}: it is a directory") from None
    except OSError as exc:
        raise CouldNotReadInputFile(f"cannot read {path}: {exc.strerror}") from None


def _open(data: bytes, input_format: str, options: api.DecryptOptions | None) -> api.OpenedFile:
    """Open the existing file. sops reports one it cannot parse with exit 1 (checked against sops
    3.11), not with the parse error's 2, which ``edit`` keeps for a syntax error in the *edited*
    text (docs/edit.md); a hostile-input bound keeps its exit 2."""
    try:
        return api.open_file(data, input_format=input_format, options=options)
    except NeedAtLeastOneDocument:
        raise MetadataNotFound("sops metadata not found", hint="the file is empty, not encrypted") from None
    except InputTooComplex:
        raise
    except ParseError as exc:
        raise GenericError(exc.message, hint=exc.hint) from None


def _seal(
    opened: api.OpenedFile,
    edited: bytes,
    *,
    fmt: str,
    show_master_keys: bool,
    store_options: dict[str, Any] | None,
    now: GoTime | None,
    randbytes: api.RandBytes,
) -> bytes:
    """Encrypt the edited plaintext with the file's data key; unchanged values keep their IVs.

    Works on copies of the metadata and stash, so a refused text can be edited again."""
    doc = get_store(fmt).parse(edited)
    timestamp = now or api.now_utc()
    if show_master_keys:
        if doc.metadata is None:
            raise MetadataNotFound("the sops metadata block was removed from the edited file")
        meta = Metadata.from_dict(doc.metadata)
        _wrap_added_keys(meta, opened.data_key, timestamp)
    else:
        if doc.metadata is not None:
            raise GenericError(
                "the edited document has a top-level 'sops' entry, which holds the metadata of "
                "encrypted files; rename it (or use --show-master-keys to edit the metadata)"
            )
        meta = copy.deepcopy(opened.meta)
    if not any(meta.key_groups):
        raise GenericError("no master keys are left in the metadata, so the file cannot be encrypted")
    if _version_is_older(meta.version):
        meta.version = VERSION
    sealed = api.OpenedFile(doc, meta, opened.data_key, copy.deepcopy(opened.stash), opened.context)
    return sealed.seal(output_format=fmt, store_options=store_options, now=timestamp, randbytes=randbytes)


def _wrap_added_keys(meta: Metadata, data_key: bytes, now: GoTime) -> None:
    """With ``--show-master-keys`` a recipient may be added as a stanza without ``enc``: wrap the
    data key for it (sops 3.11 silently drops such stanzas). Shamir files hold a share per
    group, not the data key, so there it is refused."""
    from pysops.keys import SPECS, key_type

    for group in meta.key_groups:
        for index, key in enumerate(group):
            if key.enc or key.type not in SPECS:
                continue
            if len(meta.key_groups) > 1:
                raise GenericError(
                    "a key without 'enc' cannot be added to a file with several key groups by editing",
                    hint="use `pysops groups add` or `pysops rotate --add-...`",
                )
            group[index] = key_type(key.type).recipient_of(key).wrap(data_key, now)


_VERSION = re.compile(r"v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?")


def _version_key(text: str) -> tuple[int, int, int, int]:
    match = _VERSION.fullmatch(text.strip())
    if match is None:
        raise FailedToCompareVersions(f"Failed to compare document version {text!r} with program version {VERSION!r}")
    major, minor, patch, pre = match.group(1), match.group(2), match.group(3), match.group(4)
    return int(major), int(minor or 0), int(patch or 0), 0 if pre else 1


def _version_is_older(version: str) -> bool:
    """sops raises the metadata version to its own when it rewrites an older file."""
    if not version:
        return True
    return _version_key(version) < _version_key(VERSION)
