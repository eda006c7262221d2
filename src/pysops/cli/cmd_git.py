"""``pysops git setup|textconv|merge-driver|resolve``: git diff and merge drivers (docs/git.md)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from pysops.cli.app import InputType, app

git_app = typer.Typer(
    name="git",
    help="Git integration: a diff driver (textconv) and a merge driver for encrypted files.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(git_app, name="git")


@git_app.command("setup")
def setup_command(
    global_: Annotated[bool, typer.Option("--global", help="configure git for your user, not this repository")] = False,
    check: Annotated[bool, typer.Option("--check", help="only report what is missing (exit 1 if anything is)")] = False,
    command: Annotated[str, typer.Option("--command", help="how git runs pysops (e.g. an absolute path)")] = "pysops",
) -> None:
    """Configure the pysops diff and merge drivers (idempotent) and print the .gitattributes
    lines still to add; never enables diff.pysops.cachetextconv (turns it off if on)."""
    from pysops.cli.mutate import config_flag
    from pysops.gitdriver import setup

    report = setup(global_=global_, check=check, command=command, config_flag=config_flag())
    where = "global" if global_ else "repository"
    for line in report.changed:
        sys.stderr.write(f"pysops: set ({where}) {line}\n")
    for note in report.notes:
        sys.stderr.write(f"pysops: note: {note}\n")
    if check:
        for problem in report.problems:
            sys.stdout.write(f"missing: {problem}\n")
        if report.problems:
            sys.stderr.write("pysops: git integration is incomplete; run `pysops git setup`\n")
            raise typer.Exit(1)
        sys.stdout.write("pysops: git integration is set up\n")
        return
    for problem in report.problems:
        sys.stderr.write(f"pysops: warning: {problem}\n")
    if not report.changed:
        sys.stderr.write(f"pysops: git drivers already configured ({where})\n")
    if report.attributes:
        sys.stderr.write("pysops: add these lines to .gitattributes:\n")
        sys.stdout.write("".join(line + "\n" for line in report.attributes))
    elif not global_:
        sys.stderr.write("pysops: .gitattributes already has the pysops lines\n")


@git_app.command("textconv")
def textconv_command(file: Annotated[str, typer.Argument(help="the file git wants shown as text")]) -> None:
    """Print the decrypted text of FILE; a file that cannot be decrypted is printed unchanged."""
    from pysops.cli.git_fast import run_textconv

    run_textconv(file)


@git_app.command("merge-driver")
def merge_driver_command(
    base: Annotated[str, typer.Argument(help="%O: the common ancestor")],
    ours: Annotated[str, typer.Argument(help="%A: ours, replaced by the result")],
    theirs: Annotated[str, typer.Argument(help="%B: theirs")],
    path: Annotated[str | None, typer.Argument(help="%P: the file's path in the repository")] = None,
    input_type: InputType = None,
) -> None:
    """Merge an encrypted file 3-way on its plaintext (git's merge driver: %O %A %B %P).

    Clean: ours is replaced by the merge, encrypted with ours' data key; exit 0. Conflict: ours
    is left as it is (encrypted), the conflicting keys are listed; exit 1."""
    from pysops.atomic import write_atomic
    from pysops.cli.git_fast import decrypt_options
    from pysops.cli.inputs import pick_format
    from pysops.cli.mutate import store_options_for
    from pysops.errors import PysopsError
    from pysops.gitdriver import merge_files

    name = path or ours
    fmt = pick_format(input_type, name)
    with open(base, "rb") as b, open(ours, "rb") as o, open(theirs, "rb") as t:
        data = (b.read(), o.read(), t.read())
    try:
        result = merge_files(
            *data, name, fmt=fmt, options=decrypt_options(), store_options=store_options_for(name, fmt)
        )
    except PysopsError as exc:
        sys.stderr.write(f"pysops: cannot merge {name}: {exc.message}\n")
        if exc.hint:
            sys.stderr.write(f"pysops: hint: {exc.hint}\n")
        sys.stderr.write(f"pysops: {name} was left as ours; resolve it with `pysops git resolve {name}`\n")
        raise typer.Exit(1) from None
    for note in result.notes:
        sys.stderr.write(f"pysops: {name}: {note}\n")
    if result.output is not None:
        write_atomic(ours, result.output, private=False)
    if not result.clean:
        sys.stderr.write(f"pysops: merge conflict in {name}: {', '.join(result.conflicts)}\n")
        if result.output is None:
            sys.stderr.write(
                f"pysops: {name} was left as ours (encrypted); resolve it with `pysops git resolve {name}`\n"
            )
        raise typer.Exit(1)


@git_app.command("resolve")
def resolve_command(
    file: Annotated[str, typer.Argument(help="the conflicted encrypted file")],
    no_edit: Annotated[
        bool, typer.Option("--no-edit", help="write the plaintext merge without an editor when it has no conflict")
    ] = False,
    diff3: Annotated[bool, typer.Option("--diff3", help="show the base version in conflicts too")] = False,
    input_type: InputType = None,
) -> None:
    """Resolve a merge conflict of an encrypted file: edit the plaintext with conflict markers
    (from the index stages), then encrypt it with ours' data key and `git add` it."""
    from pysops.cli.cmd_edit import terminal_prompt
    from pysops.cli.git_fast import decrypt_options
    from pysops.cli.inputs import pick_format
    from pysops.cli.mutate import store_options_for
    from pysops.gitdriver import resolve_file

    fmt = pick_format(input_type, file)
    resolve_file(
        file,
        fmt=fmt,
        options=decrypt_options(),
        store_options=store_options_for(file, fmt),
        prompt=terminal_prompt,
        edit=not no_edit,
        style="diff3" if diff3 else None,
    )
    sys.stderr.write(f"pysops: resolved {file} and added it to the index\n")
