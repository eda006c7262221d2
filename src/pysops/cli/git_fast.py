"""``pysops git textconv FILE`` without typer: git runs it once per blob in ``git log -p``, so it
starts like ``pysops decrypt`` does (typer and its imports cost ~0.3 s per call)."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from pysops._typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pysops.api import DecryptOptions


def try_run(args: Sequence[str]) -> int | None:
    """Run ``git textconv FILE``; None for anything else (the typer app handles it)."""
    if len(args) != 3 or list(args[:2]) != ["git", "textconv"] or args[2].startswith("-"):
        return None
    run_textconv(args[2])
    return 0


def decrypt_options() -> DecryptOptions:
    """The git drivers' options: no flags, only ``$SOPS_DECRYPTION_ORDER``."""
    from pysops.api import DecryptOptions, parse_decryption_order

    return DecryptOptions(decryption_order=parse_decryption_order(os.environ.get("SOPS_DECRYPTION_ORDER")))


def run_textconv(path: str) -> None:
    """Print the decrypted text of the file, or the file unchanged when it cannot be decrypted."""
    from pysops.errors import CouldNotReadInputFile
    from pysops.gitdriver import textconv

    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise CouldNotReadInputFile(f"cannot read {path}: {exc.strerror}") from None
    out = sys.stdout.buffer
    out.write(textconv(data, path, decrypt_options()))
    out.flush()
