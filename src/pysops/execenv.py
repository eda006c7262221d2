"""Hand decrypted secrets to another program: as environment variables or as a private file.

Two halves, both used by ``pysops exec-env`` / ``pysops exec-file``:

* turning a decrypted ``Document`` into environment variables (``environment_from_document``):
  top-level keys become variables; nested values are an error unless ``flatten`` joins their
  keys with ``_`` in upper case (list items by index); dotenv values are read with the dotenv
  quoting dialect; other types are written as sops writes them to dotenv;
* running the program: replacing this process (``exec_same_process``), or as a child whose exit
  status is returned unchanged (killed by signal N gives 128+N) while SIGINT, SIGTERM and SIGHUP
  sent to us are forwarded to it (``run_child``); for files, a private 0700 directory holding a
  FIFO (default) or a 0600 file, removed on every exit path we control (``run_with_file``).

Secrets only ever travel through the environment, a FIFO or the private file: never argv.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from types import FrameType

from pysops._typing import TYPE_CHECKING
from pysops.document import Comment, Document, Node, Scalar
from pysops.document import Mapping as MappingNode
from pysops.errors import GenericError, PysopsError
from pysops.values import value_to_string

if TYPE_CHECKING:
    from typing import NoReturn

#: The signals forwarded to a child process.
FORWARDED_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

#: The placeholder replaced by the temporary file's path in exec-file's command.
PLACEHOLDER = "{}"

DEFAULT_FILENAME = "tmp-file"


class ComplexValueInEnvironment(GenericError):
    """A nested mapping or list where only a string can go (exec-env without ``--flatten``)."""


class InvalidEnvironmentName(GenericError):
    """A key that cannot be an environment variable name (``=``, NUL, empty)."""


class CommandNotFound(PysopsError):
    """The program to run does not exist (exit 127, as a shell reports it)."""

    exit_code = 127


class CommandNotExecutable(PysopsError):
    """The program exists but cannot be executed (exit 126, as a shell reports it)."""

    exit_code = 126


class Interrupted(PysopsError):
    """A forwarded signal arrived before the child was started: exit 128+N like a shell."""

    def __init__(self, signum: int) -> None:
        name = signal.Signals(signum).name
        super().__init__(f"interrupted by {name}", exit_code=128 + signum)


# --------------------------------------------------------------------------------------------
# Document -> environment


def environment_from_document(doc: Document, *, flatten: bool = False) -> dict[str, str]:
    """The variables for a decrypted document, in document order.

    Only the first document of a multi-document YAML file is used (as sops does). Comments are
    skipped. Without ``flatten`` a nested value raises ``ComplexValueInEnvironment``; with it,
    ``database: {password: x}`` gives ``DATABASE_PASSWORD=x`` and ``hosts: [a, b]`` gives
    ``HOSTS_0=a`` and ``HOSTS_1=b``. Top-level scalars keep their key verbatim in both modes, so
    turning ``flatten`` on never renames a variable that worked without it; two values that end
    up with the same flattened name are an error rather than one silently winning.
    """
    env: dict[str, str] = {}
    if not doc.branches:
        return env
    dotenv = doc.format == "dotenv"
    flattened: set[str] = set()
    for item in doc.branches[0].items:
        if isinstance(item, Comment):
            continue
        _check_name(item.key)
        if isinstance(item.value, Scalar):
            _add(env, item.key, _string(item.value, dotenv), flattened, from_flatten=False)
            continue
        if not flatten:
            raise ComplexValueInEnvironment(
                f"cannot use complex value in environment; offending key {item.key}",
                hint="pass --flatten to turn nested keys into NAME_CHILD variables",
            )
        for name, value in _flatten(item.value, item.key.upper()):
            _check_name(name)
            _add(env, name, _string(value, dotenv), flattened, from_flatten=True)
    return env


def _flatten(node: Node, prefix: str) -> Iterator[tuple[str, Scalar]]:
    """The scalars under ``node`` with their flattened names, in document order. Iterative (an
    explicit stack, not recursion): any depth the stores accept works in constant stack."""
    stack: list[tuple[Node, str]] = [(node, prefix)]
    while stack:
        current, name = stack.pop()
        if isinstance(current, Scalar):
            yield name, current
        elif isinstance(current, MappingNode):
            children = [(entry.value, f"{name}_{entry.key.upper()}") for entry in current.entries()]
            stack.extend(reversed(children))
        else:
            elements = [element for element in current.items if not isinstance(element, Comment)]
            stack.extend(reversed([(element, f"{name}_{index}") for index, element in enumerate(elements)]))


def _add(env: dict[str, str], name: str, value: str, flattened: set[str], *, from_flatten: bool) -> None:
    if name in env and (from_flatten or name in flattened):
        raise InvalidEnvironmentName(
            f"--flatten gives two values the environment variable name {name}",
            hint="rename one of the keys",
        )
    if "\0" in value:
        raise InvalidEnvironmentName(f"the value of {name} contains a NUL byte, which an environment cannot hold")
    env[name] = value
    if from_flatten:
        flattened.add(name)


def _check_name(name: str) -> None:
    if "=" in name:
        raise InvalidEnvironmentName(f"cannot use keys with '=' in environment: {name}")
    if not name or "\0" in name:
        raise InvalidEnvironmentName(f"cannot use key {name!r} as an environment variable name")


def _string(leaf: Scalar, dotenv: bool) -> str:
    value = leaf.value
    if dotenv and isinstance(value, str):
        from pysops.formats.dotenv import parse_dotenv_value

        return parse_dotenv_value(value)
    return value_to_string(value)


def build_environment(
    secrets: Mapping[str, str], *, pristine: bool, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The child's environment: ``base`` (default ``os.environ``) overlaid with the secrets, or
    only the secrets when ``pristine``."""
    env = {} if pristine else dict(os.environ if base is None else base)
    env.update(secrets)
    return env


# --------------------------------------------------------------------------------------------
# Commands


def shell_command(command: str) -> list[str]:
    """sops's form: one command string run by ``/bin/sh -c``."""
    return ["/bin/sh", "-c", command]


def substitute_path(argv: Sequence[str], path: str, *, shell: bool) -> list[str]:
    """Replace every ``{}`` by ``path``. In a shell command string the path is quoted when it
    needs quoting (``--filename`` may contain spaces)."""
    replacement = shlex.quote(path) if shell else path
    return [arg.replace(PLACEHOLDER, replacement) for arg in argv]


def resolve_program(program: str, path_env: str | None) -> str:
    """The file ``program`` names, searched in ``path_env`` (the caller's PATH, not the child's:
    a ``--pristine`` environment has no PATH) unless it contains a slash."""
    if os.sep in program:
        found: str | None = program
    else:
        found = shutil.which(program, path=path_env if path_env is not None else os.defpath)
    if found is None or not os.path.exists(found):
        raise CommandNotFound(f"command not found: {program}")
    if os.path.isdir(found) or not os.access(found, os.X_OK):
        raise CommandNotExecutable(f"cannot execute {program}: permission denied")
    return found


class User:
    """Who to run the command as (``--user``): uid, gid and supplementary groups."""

    __slots__ = ("name", "uid", "gid", "groups")

    def __init__(self, name: str, uid: int, gid: int, groups: list[int]) -> None:
        self.name = name
        self.uid = uid
        self.gid = gid
        self.groups = groups

    @property
    def switches(self) -> bool:
        """Whether running as this user needs a uid/gid change."""
        return self.uid != os.geteuid()


def resolve_user(name: str) -> User:
    """Look ``name`` (or a numeric uid) up. Switching to another user needs root; asking for
    the current user is allowed and changes nothing."""
    import pwd

    try:
        entry = pwd.getpwuid(int(name)) if name.isdigit() else pwd.getpwnam(name)
    except (KeyError, OverflowError):
        raise GenericError(f"unknown user {name}") from None
    user = User(entry.pw_name, entry.pw_uid, entry.pw_gid, os.getgrouplist(entry.pw_name, entry.pw_gid))
    if user.switches and os.geteuid() != 0:
        raise GenericError(
            f"--user {name} needs root: this process runs as uid {os.geteuid()}",
            hint="run pysops as root (e.g. with sudo), or leave --user out",
        )
    return user


def _flush_stdio() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def exec_same_process(argv: Sequence[str], env: Mapping[str, str], *, user: User | None = None) -> NoReturn:
    """Replace this process with ``argv`` (the program is looked up in our PATH)."""
    program = resolve_program(argv[0], os.environ.get("PATH"))
    _flush_stdio()
    # Python ignores SIGPIPE and SIGXFSZ; an ignored signal stays ignored across exec, so give
    # the program the default dispositions a shell would (as subprocess's restore_signals does).
    for name in ("SIGPIPE", "SIGXFSZ"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)
    if user is not None and user.switches:
        try:
            os.setgroups(user.groups)
            os.setgid(user.gid)
            os.setuid(user.uid)
        except OSError as exc:
            raise GenericError(f"cannot switch to user {user.name}: {exc.strerror}") from None
    try:
        os.execve(program, list(argv), dict(env))
    except OSError as exc:
        raise CommandNotExecutable(f"cannot execute {argv[0]}: {exc.strerror}") from None


def exit_status(returncode: int) -> int:
    """A child's status as a shell reports it: its exit code, or 128+N when killed by signal N."""
    return 128 - returncode if returncode < 0 else returncode


def _terminal_signalled_group() -> bool:
    """Whether we are in the foreground process group of our controlling terminal.

    Then a SIGINT almost surely came from the keyboard, and the terminal sent it to the whole
    group, child included: forwarding it would deliver it twice.
    """
    try:
        fd = os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY)
    except OSError:
        return False
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return False
    finally:
        os.close(fd)


class SignalForwarder:
    """Forward SIGINT, SIGTERM and SIGHUP to the child while it runs.

    Before the child starts (``starting`` not yet called), such a signal raises ``Interrupted``
    so the caller's cleanup runs; while it is being started, the signal is kept and sent as soon
    as it exists; after it exited, signals are ignored until the handlers are restored, so the
    cleanup is never cut short.
    """

    def __init__(self) -> None:
        self.child: subprocess.Popen[bytes] | None = None
        self.state = "before"
        self.pending: list[int] = []
        self._saved: dict[int, object] = {}

    def __enter__(self) -> SignalForwarder:
        if threading.current_thread() is threading.main_thread():
            for sig in FORWARDED_SIGNALS:
                self._saved[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, previous in self._saved.items():
            # None: the handler was not set from Python; the default is the best we can restore
            signal.signal(sig, signal.SIG_DFL if previous is None else previous)  # type: ignore[arg-type]

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.state == "before":
            self.state = "done"  # a second signal must not cut the cleanup short
            raise Interrupted(signum)
        if self.state == "starting":
            self.pending.append(signum)
        elif self.state == "running":
            self._forward(signum)

    def _forward(self, signum: int) -> None:
        if signum == signal.SIGINT and _terminal_signalled_group():
            return
        if self.child is not None and self.child.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.child.send_signal(signum)

    def starting(self) -> None:
        self.state = "starting"

    def started(self, child: subprocess.Popen[bytes]) -> None:
        self.child = child
        self.state = "running"
        for signum in self.pending:
            self._forward(signum)
        self.pending.clear()

    def finished(self) -> None:
        self.state = "done"


def _spawn(
    argv: Sequence[str], env: Mapping[str, str], user: User | None, *, background: bool
) -> subprocess.Popen[bytes]:
    program = resolve_program(argv[0], os.environ.get("PATH"))
    _flush_stdio()
    switch = user if user is not None and user.switches else None
    try:
        return subprocess.Popen(
            list(argv),
            executable=program,
            env=dict(env),
            start_new_session=background,
            user=None if switch is None else switch.uid,
            group=None if switch is None else switch.gid,
            extra_groups=None if switch is None else switch.groups,
        )
    except PermissionError as exc:
        raise CommandNotExecutable(f"cannot execute {argv[0]}: {exc.strerror}") from None
    except OSError as exc:
        raise GenericError(f"cannot start {argv[0]}: {exc.strerror}") from None


def run_child(
    argv: Sequence[str],
    env: Mapping[str, str],
    *,
    user: User | None = None,
    background: bool = False,
    forwarder: SignalForwarder | None = None,
) -> int:
    """Run ``argv`` as a child and return its exit status (128+N when killed by signal N).

    ``background``: start it in its own session and return 0 at once (sops's deprecated
    ``--background``). Otherwise SIGINT/SIGTERM/SIGHUP received meanwhile go to the child.
    """
    if background:
        _spawn(argv, env, user, background=True)
        return 0
    with contextlib.ExitStack() as stack:
        if forwarder is None:
            forwarder = stack.enter_context(SignalForwarder())
        forwarder.starting()
        child = _spawn(argv, env, user, background=False)
        forwarder.started(child)
        try:
            returncode = child.wait()
        finally:
            forwarder.finished()
    return exit_status(returncode)


# --------------------------------------------------------------------------------------------
# exec-file: a private directory with a FIFO or a file


def check_filename(name: str) -> str:
    """``--filename`` must name an entry of the private directory, nothing outside it."""
    if name in ("", ".", "..") or "/" in name or "\0" in name or (os.altsep and os.altsep in name):
        raise GenericError(
            f"invalid --filename {name!r}: it must be a plain file name",
            hint="no '/', and not '.' or '..' (the file is created in a private directory)",
        )
    return name


@contextlib.contextmanager
def private_directory(root: str | None = None) -> Iterator[str]:
    """A new 0700 directory (under ``/dev/shm`` when usable, else the temp dir, unless ``root``
    is given), removed with its content however the block is left."""
    from pysops.edit import temp_base

    try:
        path = tempfile.mkdtemp(prefix=".pysops-", dir=root or temp_base())
    except OSError as exc:
        from pysops.errors import CouldNotWriteOutputFile

        raise CouldNotWriteOutputFile(f"cannot create a private temporary directory: {exc.strerror}") from None
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


class FifoWriter:
    """Write ``data`` into the FIFO at ``path`` from a thread, once, for the first reader.

    A child that never opens the FIFO must not hang us: ``close`` stops the writer by opening
    the FIFO for reading itself (which releases the writer's blocking open) and closing it (the
    pending write then fails with EPIPE). A second open of the FIFO by the child finds no writer
    and waits forever (use ``--no-fifo`` for programs that read their file twice).
    """

    def __init__(self, path: str, data: bytes) -> None:
        self.path = path
        self.data = data
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._write, name="pysops-fifo-writer", daemon=True)

    def start(self) -> None:
        # The forwarded signals must reach the main thread (which waits for the child and runs
        # the Python handlers), so the writer thread starts with them blocked.
        blocked = set(FORWARDED_SIGNALS)
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
        try:
            self.thread.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)

    def _write(self) -> None:
        try:
            fd = os.open(self.path, os.O_WRONLY)
        except OSError:
            return
        try:
            if not self.stopping.is_set():
                view = memoryview(self.data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
        except OSError:
            pass  # the reader went away (EPIPE): nothing left to do
        finally:
            os.close(fd)

    def close(self) -> None:
        self.stopping.set()
        while self.thread.is_alive():
            with contextlib.suppress(OSError):
                os.close(os.open(self.path, os.O_RDONLY | os.O_NONBLOCK))
            self.thread.join(0.02)


def _chown(path: str, user: User | None) -> None:
    if user is not None and user.switches:
        os.chown(path, user.uid, user.gid)


def run_with_file(
    command: str | Sequence[str],
    data: bytes,
    *,
    filename: str = DEFAULT_FILENAME,
    fifo: bool = True,
    user: User | None = None,
    root: str | None = None,
) -> int:
    """Put ``data`` in a private directory, run ``command`` with ``{}`` replaced by its path,
    and return the child's exit status; the directory is gone afterwards.

    A ``str`` command is sops's form, run by ``/bin/sh -c`` (the path is shell-quoted when it
    needs it); a sequence is an argv run directly. With ``fifo`` the plaintext only passes
    through a pipe (never a disk, not even tmpfs).
    """
    check_filename(filename)
    with SignalForwarder() as forwarder, private_directory(root) as directory:
        _chown(directory, user)
        path = os.path.join(directory, filename)
        writer: FifoWriter | None = None
        if fifo:
            os.mkfifo(path, 0o600)
            _chown(path, user)
            writer = FifoWriter(path, data)
        else:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            try:
                _chown(path, user)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)
        if isinstance(command, str):
            argv = shell_command(substitute_path([command], path, shell=True)[0])
        else:
            argv = substitute_path(command, path, shell=False)
        try:
            if writer is not None:
                writer.start()
            return run_child(argv, os.environ, user=user, forwarder=forwarder)
        finally:
            if writer is not None:
                writer.close()


__all__ = [
    "CommandNotExecutable",
    "CommandNotFound",
    "ComplexValueInEnvironment",
    "Interrupted",
    "InvalidEnvironmentName",
    "SignalForwarder",
    "build_environment",
    "check_filename",
    "environment_from_document",
    "exec_same_process",
    "exit_status",
    "private_directory",
    "resolve_user",
    "run_child",
    "run_with_file",
    "shell_command",
    "substitute_path",
]
