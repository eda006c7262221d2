"""The ``pysops`` command line: argument parsing and error rendering only; the work is in ``api``.

``main()`` is the one exit path: a ``PysopsError`` becomes ``pysops: error: …`` (and ``hint: …``)
on stderr with the sops exit code; nothing else reaches the user as a traceback unless ``--debug``.
``pysops decrypt`` of a plain file takes a fast path that does not import typer (see ``fast``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

#: sops's legacy global-flag mode (``sops -d file``) mapped to verbs.
_LEGACY = {"-d": "decrypt", "--decrypt": "decrypt", "-e": "encrypt", "--encrypt": "encrypt"}


def _report(message: str, hint: str | None) -> None:
    sys.stderr.write(f"pysops: error: {message}\n")
    if hint:
        sys.stderr.write(f"pysops: hint: {hint}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns (and exits with) the process status."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("PYSOPS_DEBUG") == "1"
    args = [a for a in args if a != "--debug"]
    if args and args[0] in _LEGACY:
        args = [_LEGACY[args[0]], *args[1:]]
    from pysops.errors import PysopsError

    try:
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
        status = exc.exit_code
    except KeyboardInterrupt:
        _report("interrupted", None)
        status = 85
    except BrokenPipeError:
        status = 1
    sys.stdout.flush()
    return status


def console_main() -> None:
    sys.exit(main())
