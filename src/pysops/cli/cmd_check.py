"""``pysops check [PATHS...]``: pre-commit / CI check that secrets are encrypted (docs/check.md)."""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated

import typer

from pysops.cli.app import app


@app.command("check")
def check_command(
    paths: Annotated[
        list[str] | None, typer.Argument(help="files or directories to check (default: the repository's tracked files)")
    ] = None,
    output_format: Annotated[str, typer.Option("--format", help="text (path:line: CODE message) or json")] = "text",
    decrypt: Annotated[
        bool, typer.Option("--decrypt", help="also decrypt the encrypted files and verify their MAC (needs a key)")
    ] = False,
) -> int:
    """Check that the files the creation rules and the policy cover are encrypted sops files whose
    recipients satisfy the policy, and that other files hold no obvious plaintext secrets.
    Exit 1 on any problem."""
    from pysops.check import check_paths, git_files
    from pysops.cli.mutate import config_flag
    from pysops.errors import GenericError

    if output_format not in ("text", "json"):
        raise GenericError(f"unknown --format {output_format!r}", hint="use text or json")
    cwd = os.getcwd()
    targets = list(paths) if paths else git_files(cwd)
    problems = check_paths(targets, cwd=cwd, env=os.environ, config_flag=config_flag(), decrypt=decrypt)
    if output_format == "json":
        sys.stdout.write(json.dumps([p.as_dict() for p in problems], indent=2) + "\n")
    else:
        for problem in problems:
            sys.stdout.write(f"{problem}\n")
    if problems:
        sys.stderr.write(
            f"pysops: check found {len(problems)} problem(s) in {len({p.path for p in problems})} file(s)\n"
        )
        return 1
    return 0
