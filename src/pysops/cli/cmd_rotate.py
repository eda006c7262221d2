"""``pysops rotate FILE``: a new data key, every value encrypted again, recipients optionally
changed with ``--add-<type>`` / ``--rm-<type>`` (one pair per registered key type; added keys
go to the first key group, as in sops)."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from pysops.cli.app import (
    DecryptionOrder,
    FilenameOverride,
    InPlace,
    InputType,
    Output,
    OutputType,
    app,
    with_key_type_options,
)
from pysops.errors import GenericError, PysopsError


def change_recipients(
    groups: list[list[Any]],
    add: dict[str, str | None],
    remove: dict[str, str | None],
    options: dict[str, str] | None = None,
) -> list[list[Any]]:
    """``groups`` without the removed recipients and with the added ones in group 0 (``options``:
    the RecipientOptions given for added keys, e.g. a KMS encryption context)."""
    from pysops.keys import key_type, split_recipients

    drop: set[tuple[str, str]] = set()
    for name, text in remove.items():
        for item in split_recipients(text or ""):
            drop.add((name, key_type(name).parse_recipient(item).id))
    result = [[r for r in group if (r.type, r.id) not in drop] for group in groups]
    present = {(r.type, r.id) for group in result for r in group}
    for name, text in add.items():
        for item in split_recipients(text or ""):
            recipient = key_type(name).parse_recipient(item, options)
            if (recipient.type, recipient.id) not in present:
                present.add((recipient.type, recipient.id))
                result[0].append(recipient)
    return result


@app.command()
@with_key_type_options(
    ("add", "add_", "add-", lambda spec: f"comma separated {spec.name} recipients to add"),
    ("remove", "rm_", "rm-", lambda spec: f"comma separated {spec.name} recipients to remove"),
)
def rotate(
    files: Annotated[
        list[str], typer.Argument(help="the encrypted files (several need -i; directories need --recursive)")
    ],
    in_place: InPlace = False,
    output: Output = None,
    input_type: InputType = None,
    output_type: OutputType = None,
    filename_override: FilenameOverride = None,
    encryption_context: Annotated[
        str | None, typer.Option("--encryption-context", help="KMS encryption context for --add-kms keys")
    ] = None,
    decryption_order: DecryptionOrder = None,
    recursive: Annotated[
        bool, typer.Option("--recursive", "-r", help="rotate every encrypted file under the given directories")
    ] = False,
    accept_file_recipients: Annotated[
        bool,
        typer.Option(
            "--accept-file-recipients",
            help="give the new data key to recipients already in the file even when the policy does not allow them",
        ),
    ] = False,
    add: dict[str, str | None] | None = None,
    remove: dict[str, str | None] | None = None,
) -> None:
    """Generate a new data key and encrypt every value with it (prints the file unless -i/--output);
    refuses recipients the config's policy does not allow."""
    from pysops.cli.mutate import expand_paths, shared_keys

    targets = expand_paths(files, recursive=recursive)
    if len(targets) != 1 or recursive:
        if not in_place:
            raise GenericError(
                "rotating several files (or a directory) needs -i/--in-place",
                hint="pysops rotate -i FILE...",
            )
        if output or filename_override:
            raise GenericError("--output and --filename-override take a single file")
    shared = shared_keys()
    for file in targets:
        rotate_file(
            file,
            in_place=in_place,
            output=output,
            input_type=input_type,
            output_type=output_type,
            filename_override=filename_override,
            encryption_context=encryption_context,
            decryption_order=decryption_order,
            accept_file_recipients=accept_file_recipients,
            add=add or {},
            remove=remove or {},
            shared=shared,
        )


def rotate_file(
    file: str,
    *,
    in_place: bool,
    output: str | None,
    input_type: str | None,
    output_type: str | None,
    filename_override: str | None,
    encryption_context: str | None,
    decryption_order: str | None,
    accept_file_recipients: bool,
    add: dict[str, str | None],
    remove: dict[str, str | None],
    shared: Any = None,
) -> None:
    """Rotate one file (the body of ``rotate``; ``shared`` from ``mutate.shared_keys()``)."""
    import sys

    from pysops.cli.inputs import (
        Input,
        absolute,
        check_output_flags,
        load_config,
        pick_formats,
        store_options,
        write_output,
    )
    from pysops.cli.mutate import config_flag, open_encrypted, read_encrypted, rewrappable, write_back
    from pysops.policyfile import Policy, enforce, load_policy

    changes_keys = any(add.values()) or any(remove.values())
    if changes_keys and not os.path.exists(file):
        raise PysopsError(
            f'cannot add or remove keys on non-existent file "{os.path.abspath(file)}", '
            "use the `edit` subcommand instead.",
            exit_code=49,
        )
    name = filename_override or file
    check_output_flags(in_place, output, Input(b"", file, name))
    in_fmt, out_fmt = pick_formats(input_type, output_type, name)
    data = read_encrypted(file)
    cfg = load_config(absolute(name), config_flag())
    policy = load_policy(cfg)
    opened = open_encrypted(data, in_fmt, decryption_order=decryption_order, shared=shared)
    options = {"encryption_context": encryption_context} if encryption_context else None
    old = rewrappable(opened)
    groups = change_recipients(old, add, remove, options)
    if any(not group for group in groups):
        raise GenericError(
            "removing these keys would leave a key group without keys",
            hint="add another key to the group, or delete the group with `pysops groups delete`",
        )
    if policy != Policy():
        from pysops.cli.cmd_updatekeys import describe_change

        sys.stderr.write(f"pysops: recipients of {file} against the policy of {cfg.path}:\n")
        sys.stderr.write(describe_change(old, groups, policy))
    enforce(policy, old, groups, file=file, accept_file_recipients=accept_file_recipients)
    opened.rotate_data_key()
    opened.rewrap(groups, opened.meta.shamir_threshold)
    result = opened.seal(output_format=out_fmt, store_options=store_options(cfg, out_fmt))
    if in_place:
        write_back(file, data, result)
    else:
        write_output(result, in_place=False, output=output, inp=Input(data, file, name), private=False)
