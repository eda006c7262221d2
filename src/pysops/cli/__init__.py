"""The ``pysops`` command line: argument parsing and error rendering only; the work is in ``api``.

``main()`` is the one exit path: a ``PysopsError`` becomes ``pysops: error: …`` (and ``hint: …``)
on stderr with the sops exit code; nothing else reaches the user as a traceback unless ``--debug``.
``pysops decrypt`` of a plain file takes a fast path that does not import typer (see ``fast``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

#: verbs that need no legacy translation (checked without importing ``legacy``: decrypt stays fast)
_VERBS = frozenset(("decrypt", "encrypt", "exec-env", "exec-file"))


def _report(message: str, hint: str | None) -> None:
    sys.stderr.write(f"pysops: error: {message}\n")
    if hint:
        sys.stderr.write(f"pysops: hint: {hint}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns (and exits with) the process status."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("PYSOPS_DEBUG") == "1"
    args = [a for a in args if a != "--debug"]
    from pysops.errors import PysopsError

    if not args:
        # sops with no arguments fails with "no file specified" and exit 100; pysops shows
        # what it can do instead, on stderr, with sops's exit status.
        _usage()
        return 100
    try:
        if args[0].startswith("-") or args[0] not in _VERBS:
            from pysops.cli.legacy import translate

            args = translate(args)
        status = None
        if "exec-env" in args or "exec-file" in args:  # also after global flags (--config X exec-env ...)
            from pysops.cli.exec_run import try_run as try_exec

            status = try_exec(args)
        if status is None and args[:2] == ["git", "textconv"]:
            from pysops.cli.git_fast import try_run as try_textconv

            status = try_textconv(args)
        if status is None:
            from pysops.cli import fast

            status = fast.try_run(args)
        if status is None:
            from pysops.cli.app import run

            status = run(args)
    except PysopsError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        _report(exc.message, exc.hint)
        status = _exit_code(exc, args)
    except KeyboardInterrupt:
        _report("interrupted", None)
        status = 85
    except BrokenPipeError:
        status = 1
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except OSError:
        status = status or 1
    return status


#: Verbs that open an existing encrypted file. sops reports an input it cannot parse there
#: (an empty or malformed file) with exit 1, and only ``encrypt`` with exit 2 / 92: checked
#: against the sops 3.11 binary (tests/cli/test_exit_codes.py). ``edit`` does this itself: a
#: syntax error in the edited text keeps exit 2 (docs/edit.md).
_OPENING_VERBS = frozenset(
    ("decrypt", "exec-env", "exec-file", "set", "unset", "rotate", "updatekeys", "groups", "filestatus")
)


def _exit_code(exc: Exception, args: Sequence[str]) -> int:
    """The process status for ``exc``: its sops exit code, except that a parse failure of the
    file a command opens is exit 1 as in sops. A documented hostile-input bound
    (``InputTooComplex``) keeps its own code, 2."""
    from pysops.errors import InputTooComplex, NeedAtLeastOneDocument, ParseError, PysopsError

    code = exc.exit_code if isinstance(exc, PysopsError) else 1
    parse_failure = isinstance(exc, (ParseError, NeedAtLeastOneDocument)) and not isinstance(exc, InputTooComplex)
    if parse_failure and _verb(args) in _OPENING_VERBS:
        return 1
    return code


def _verb(args: Sequence[str]) -> str | None:
    """The command of a (translated) command line: the first argument after the global flags."""
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--config":
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def _usage() -> None:
    sys.stderr.write(
        "usage: pysops [--config FILE] COMMAND [OPTIONS] [FILE...]\n"
        "commands: encrypt, decrypt, edit, set, unset, rotate, updatekeys, groups, exec-env, exec-file,\n"
        "          filestatus, check, git, config, keygen (and sops's legacy -d, -e, -r, -i, --set)\n"
        "pysops: error: no file specified\n"
        "pysops: hint: see `pysops --help`\n"
    )


#: What ``keep_until_exit`` keeps; a list only in a ``console_main`` process.
_kept: list[object] | None = None


def keep_until_exit(obj: object) -> None:
    """Leave ``obj`` to the process exit instead of freeing it when the caller is done with it:
    freeing a 20,000-value document object by object costs 4 ms that an exit without teardown
    (``_exit``) skips. Does nothing unless the process runs ``console_main`` (so the in-process
    tests, and any library caller of the CLI functions, keep nothing)."""
    if _kept is not None:
        _kept.append(obj)


def console_main() -> None:
    # A command is a short-lived process whose objects live until it exits: the cyclic garbage
    # collector only costs time here (a quarter of decrypting a 20,000-value YAML file).
    import gc

    global _kept
    gc.disable()
    _kept = []
    _exit(main())


def _exit(status: int) -> None:
    """Exit, skipping the interpreter's teardown (freeing every module and object: 4 ms, a tenth
    of a small file's decrypt) when it has nothing left to do: output flushed, no atexit handler
    registered, no other thread running. Otherwise exit normally."""
    import atexit

    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        sys.exit(status)
    handlers = getattr(atexit, "_ncallbacks", None)  # CPython's count of registered handlers
    threading = sys.modules.get("threading")
    if handlers is not None and handlers() == 0 and (threading is None or threading.active_count() == 1):
        os._exit(status)
    sys.exit(status)
