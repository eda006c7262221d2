"""``pysops config validate [FILE]``: check a ``.sops-policy.yaml`` / ``.sops.yaml`` against the
shipped JSON Schema (docs/policy.md); one ``FILE:LINE: message`` line per problem on stdout."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from pysops.cli.app import app

config_app = typer.Typer(
    name="config",
    help="Work with the configuration file (.sops-policy.yaml / .sops.yaml).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(config_app, name="config")


def _display(path: str) -> str:
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


@config_app.command("validate")
def validate_command(
    file: Annotated[str | None, typer.Argument(help="the config file (default: the one pysops would use here)")] = None,
) -> None:
    """Validate the config file: unknown keys, wrong types, invalid regular expressions and
    recipients are errors (exit 1); exit 0 when it is valid."""
    from pysops import config
    from pysops.cli.mutate import config_flag
    from pysops.errors import ConfigError
    from pysops.schema import config_problems

    if file is None:
        explicit = config_flag() or os.environ.get("SOPS_CONFIG") or None
        found = config.find_config(None, explicit=explicit, env=os.environ, cwd=os.getcwd())
        if found is None:
            raise ConfigError(
                "no configuration file found (.sops-policy.yaml or .sops.yaml)",
                hint="give the file to validate: pysops config validate FILE",
            )
        shown = explicit or _display(os.path.normpath(found))
    else:
        found, shown = file, file
    try:
        with open(found, "rb") as handle:
            text = handle.read().decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"could not read config file {shown}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"could not read config file {shown}: it is not UTF-8 text") from None
    problems = config_problems(text)
    for line, message in problems:
        sys.stdout.write(f"{shown}:{line}: {message}\n")
    if problems:
        count = len(problems)
        sys.stderr.write(f"pysops: {shown}: {count} problem{'s' if count != 1 else ''}\n")
        raise typer.Exit(1)
    sys.stderr.write(f"pysops: {shown} is valid\n")
