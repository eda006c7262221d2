"""``pysops exec-env`` and ``pysops exec-file``: the typer declarations (help, parsing).

The work is in ``exec_run`` (typer-free, so the common command lines start fast); see there
for the two command forms (``FILE 'cmd string'`` and ``FILE -- PROGRAM ARGS...``).
"""

from __future__ import annotations

from typing import Annotated

import typer

from pysops.cli.app import DecryptionOrder, IgnoreMac, InputType, OutputType, _state, app

#: Flags go before FILE (as in sops): everything after it belongs to the command.
_EXEC_CONTEXT = {"allow_interspersed_args": False}

CommandArgs = Annotated[
    list[str] | None,
    typer.Argument(help="a command string for /bin/sh -c, or -- followed by the program and its arguments"),
]
User = Annotated[str | None, typer.Option("--user", help="the user to run the command as (needs root)")]
Background = Annotated[
    bool, typer.Option("--background", help="deprecated (sops): do not wait for the command to finish")
]


@app.command("exec-env", context_settings=_EXEC_CONTEXT)
def exec_env(
    file: Annotated[str, typer.Argument(help="the encrypted file")],
    command: CommandArgs = None,
    pristine: Annotated[
        bool, typer.Option("--pristine", help="pass only the decrypted values, none of our environment")
    ] = False,
    same_process: Annotated[
        bool | None,
        typer.Option(
            "--same-process/--no-same-process",
            help="replace pysops with the command instead of running a child (default: yes for the -- form)",
        ),
    ] = None,
    user: User = None,
    background: Background = False,
    flatten: Annotated[
        bool, typer.Option("--flatten", help="turn nested keys into NAME_CHILD variables (lists: NAME_0, ...)")
    ] = False,
    input_type: InputType = None,
    ignore_mac: IgnoreMac = False,
    decryption_order: DecryptionOrder = None,
) -> None:
    """Run a command with the decrypted top-level keys in its environment."""
    from pysops.cli.exec_run import run_exec_env

    status = run_exec_env(
        file=file,
        command=command or [],
        pristine=pristine,
        same_process=same_process,
        user=user,
        background=background,
        flatten=flatten,
        input_type=input_type,
        ignore_mac=ignore_mac,
        decryption_order=decryption_order,
    )
    raise typer.Exit(status)


@app.command("exec-file", context_settings=_EXEC_CONTEXT)
def exec_file(
    file: Annotated[str, typer.Argument(help="the encrypted file")],
    command: CommandArgs = None,
    no_fifo: Annotated[
        bool, typer.Option("--no-fifo", help="a regular 0600 file instead of a FIFO holds the plaintext")
    ] = False,
    user: User = None,
    background: Background = False,
    input_type: InputType = None,
    output_type: OutputType = None,
    filename: Annotated[str, typer.Option("--filename", help="name of the temporary file (no '/')")] = "tmp-file",
    ignore_mac: IgnoreMac = False,
    decryption_order: DecryptionOrder = None,
) -> None:
    """Run a command with {} replaced by the path of a temporary file holding the plaintext."""
    from pysops.cli.exec_run import run_exec_file

    status = run_exec_file(
        file=file,
        command=command or [],
        no_fifo=no_fifo,
        user=user,
        background=background,
        input_type=input_type,
        output_type=output_type,
        filename=filename,
        ignore_mac=ignore_mac,
        decryption_order=decryption_order,
        config_flag=_state.get("config"),
    )
    raise typer.Exit(status)
