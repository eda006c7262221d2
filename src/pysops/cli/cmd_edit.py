"""``pysops edit FILE``: edit an encrypted file (or create one) in $SOPS_EDITOR / $EDITOR."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from pysops.cli.app import DecryptionOrder, IgnoreMac, InputType, OutputType, app, with_recipient_flags

#: What the terminal shows when the edited text cannot be used (sops: "Press a key ...").
REOPEN_PROMPT = "Press Enter to return to the editor, or Ctrl+C to exit."


def terminal_prompt(message: str) -> bool:
    """With a terminal on stdin and stdout: show the error and wait for Enter, then reopen the
    editor. Without one (scripts, CI) never loop: the edit fails and the file stays unchanged."""
    try:
        interactive = sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError):
        interactive = False
    if not interactive:
        return False
    sys.stderr.write(f"pysops: error: {message}\n{REOPEN_PROMPT}\n")
    sys.stderr.flush()
    return sys.stdin.readline() != ""


@app.command()
@with_recipient_flags
def edit(
    file: Annotated[str | None, typer.Argument(help="the encrypted file (created when it does not exist)")] = None,
    input_type: InputType = None,
    output_type: OutputType = None,
    show_master_keys: Annotated[
        bool, typer.Option("--show-master-keys", "-s", help="edit the sops metadata block too")
    ] = False,
    ignore_mac: IgnoreMac = False,
    decryption_order: DecryptionOrder = None,
    unencrypted_suffix: Annotated[
        str | None, typer.Option(help="new file: keys ending with this stay plaintext")
    ] = None,
    encrypted_suffix: Annotated[
        str | None, typer.Option(help="new file: only keys ending with this are encrypted")
    ] = None,
    unencrypted_regex: Annotated[str | None, typer.Option(help="new file: keys matching this stay plaintext")] = None,
    encrypted_regex: Annotated[str | None, typer.Option(help="new file: only keys matching this are encrypted")] = None,
    unencrypted_comment_regex: Annotated[
        str | None, typer.Option(help="new file: values after a comment matching this stay plaintext")
    ] = None,
    encrypted_comment_regex: Annotated[
        str | None, typer.Option(help="new file: only values after a comment matching this are encrypted")
    ] = None,
    mac_only_encrypted: Annotated[
        bool, typer.Option(help="new file: compute the MAC over encrypted values only")
    ] = False,
    shamir_secret_sharing_threshold: Annotated[
        int, typer.Option(help="new file: number of key groups needed to decrypt")
    ] = 0,
    recipients: dict[str, str | None] | None = None,
) -> None:
    """Edit an encrypted file in $SOPS_EDITOR / $EDITOR; a new file starts from an example.

    Exit 200 when nothing changed, 201 when the editor fails, 3 when the file is being edited
    by another pysops process or changed on disk meanwhile (docs/edit.md)."""
    from pysops import api
    from pysops.cli.inputs import (
        absolute,
        encryption_options,
        load_config,
        pick_formats,
        pick_selection,
        store_options,
    )
    from pysops.cli.mutate import config_flag
    from pysops.edit import edit_file
    from pysops.errors import CouldNotReadInputFile, NoFileSpecified

    if not file or file == "-":
        raise NoFileSpecified("no file specified", hint="pysops edit FILE")
    if os.path.isdir(file):
        raise CouldNotReadInputFile(f"cannot read {file}: it is a directory")
    in_fmt, out_fmt = pick_formats(input_type, output_type, file)
    cfg = load_config(absolute(file), config_flag())
    new_options = None
    if not os.path.lexists(file):
        selection = pick_selection(
            {
                "unencrypted_suffix": unencrypted_suffix,
                "encrypted_suffix": encrypted_suffix,
                "unencrypted_regex": unencrypted_regex,
                "encrypted_regex": encrypted_regex,
                "unencrypted_comment_regex": unencrypted_comment_regex,
                "encrypted_comment_regex": encrypted_comment_regex,
            }
        )
        new_options = encryption_options(
            cfg,
            absolute(file),
            recipient_flags=recipients or {},
            env=os.environ,
            selection=selection,
            shamir_threshold=shamir_secret_sharing_threshold,
            mac_only_encrypted=mac_only_encrypted,
        )
    edit_file(
        file,
        input_format=in_fmt,
        output_format=out_fmt,
        options=api.DecryptOptions(
            ignore_mac=ignore_mac, decryption_order=api.parse_decryption_order(decryption_order)
        ),
        new_file_options=new_options,
        show_master_keys=show_master_keys,
        store_options=store_options(cfg, out_fmt),
        prompt=terminal_prompt,
    )
