"""``pysops groups add`` / ``pysops groups delete``: change the key groups of a file.

The same data key is split again over the new groups (Shamir) and wrapped for their keys;
values, ``lastmodified`` and ``mac`` are untouched. Prints the file unless ``-i``.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from pysops.cli.app import InPlace, Threshold, app, with_key_type_options
from pysops.errors import GenericError

groups_app = typer.Typer(
    name="groups",
    help="Add or delete key groups (Shamir secret sharing) of an encrypted file.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(groups_app, name="groups")

FileOption = Annotated[str, typer.Option("--file", "-f", help="the encrypted file")]


def _write(file: str, data: bytes, opened: Any, in_place: bool) -> None:
    from pysops.cli.inputs import pick_format, write_stdout
    from pysops.cli.mutate import store_options_for, write_back

    fmt = pick_format(None, file)
    result = opened.with_metadata(data, output_format=fmt, store_options=store_options_for(file, fmt))
    if in_place:
        write_back(file, data, result)
    else:
        write_stdout(result)


def _open(file: str) -> tuple[bytes, Any]:
    from pysops.cli.inputs import pick_format
    from pysops.cli.mutate import open_encrypted, read_encrypted

    data = read_encrypted(file)
    return data, open_encrypted(data, pick_format(None, file))


@groups_app.command("add")
@with_key_type_options(
    ("recipients", "recipient_", "", lambda spec: f"a {spec.name} recipient of the new group (repeatable)"),
    repeatable=True,
)
def add(
    file: FileOption,
    in_place: InPlace = False,
    shamir_secret_sharing_threshold: Threshold = 0,
    encryption_context: Annotated[
        str | None, typer.Option("--encryption-context", help="KMS encryption context for --kms keys: key:value,...")
    ] = None,
    aws_profile: Annotated[str | None, typer.Option("--aws-profile", help="AWS profile for --kms keys")] = None,
    recipients: dict[str, list[str]] | None = None,
) -> None:
    """Add a key group made of the given keys."""
    from pysops.cli.inputs import recipient_options
    from pysops.cli.mutate import rewrappable
    from pysops.keys import key_type, split_recipients

    options = recipient_options(encryption_context, aws_profile)
    group = [
        key_type(name).parse_recipient(item, options)
        for name, values in (recipients or {}).items()
        for value in values
        for item in split_recipients(value)
    ]
    if not group:
        raise GenericError(
            "a new key group needs at least one key", hint="e.g. pysops groups add -f FILE --age age1..."
        )
    data, opened = _open(file)
    groups = [*rewrappable(opened), group]
    threshold = shamir_secret_sharing_threshold or opened.meta.shamir_threshold
    opened.rewrap(groups, threshold)
    _write(file, data, opened, in_place)


@groups_app.command("delete")
def delete(
    index: Annotated[int, typer.Argument(help="the index of the group to delete (0 is the first)")],
    file: FileOption,
    in_place: InPlace = False,
    shamir_secret_sharing_threshold: Threshold = 0,
) -> None:
    """Delete the key group at INDEX."""
    from pysops.cli.mutate import rewrappable

    data, opened = _open(file)
    groups = rewrappable(opened)
    if not 0 <= index < len(groups):
        raise GenericError(f"there is no key group {index}: the file has {len(groups)} (numbered from 0)")
    if len(groups) == 1:
        raise GenericError("cannot delete the only key group: nobody could decrypt the file")
    del groups[index]
    threshold = shamir_secret_sharing_threshold or opened.meta.shamir_threshold
    if len(groups) == 1:
        threshold = 0
    elif threshold > len(groups):
        raise GenericError(
            "removing this key group will make the Shamir threshold impossible to satisfy: "
            f"Shamir threshold is {threshold}, but we only have {len(groups)} key groups",
            hint="pass a lower --shamir-secret-sharing-threshold",
        )
    opened.rewrap(groups, threshold)
    _write(file, data, opened, in_place)
