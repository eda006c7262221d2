"""``pysops updatekeys FILE...``: make each file's recipients those of its creation rule.

The change is shown on stderr (per key group: ``+++`` added, ``---`` removed, unchanged keys
indented) and confirmed on a terminal unless ``-y``; without a terminal and without ``-y`` nothing
is written. When recipients are only added, the data key, every value, ``lastmodified`` and
``mac`` stay as they are (like sops). **Unlike sops, removing a recipient also rotates the data
key**: the removed holder may have kept the old data key, so the values are encrypted again
under a new one (this rewrites every value, ``lastmodified`` and ``mac``).
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer

from pysops.cli.app import InputType, app
from pysops.errors import GenericError


def describe_change(old: list[list[Any]], new: list[list[Any]], policy: Any = None) -> str:
    """sops's listing: each group of the result with its kept, added and removed keys; with a
    ``policy`` (``pysops.policyfile.Policy``), recipients it does not allow are marked."""
    lines = ["The following changes will be made to the file's groups:"]

    def mark(key: tuple[str, str]) -> str:
        if policy is not None and not policy.allows(f"{key[0]}:{key[1]}"):
            return f"  (not allowed by the policy: {key[0]}:{key[1]})"
        return ""

    for index in range(max(len(old), len(new))):
        before = old[index] if index < len(old) else []
        after = new[index] if index < len(new) else []
        before_ids = [(r.type, r.id) for r in before]
        after_ids = [(r.type, r.id) for r in after]
        lines.append(f"Group {index + 1}")
        for key in after_ids:
            lines.append(("    " if key in before_ids else "+++ ") + key[1] + mark(key))
        for key in before_ids:
            if key not in after_ids:
                lines.append("--- " + key[1])
    return "\n".join(lines) + "\n"


def _interactive() -> bool:
    return sys.stdin.isatty()


def _confirm(question: str) -> bool:
    sys.stderr.write(question)
    sys.stderr.flush()
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")


def update_file(
    file: str, *, input_type: str | None, yes: bool, shared: Any = None, accept_file_recipients: bool = False
) -> None:
    from pysops.cli.inputs import absolute, load_config, pick_format, store_options
    from pysops.cli.mutate import (
        config_flag,
        open_encrypted,
        read_encrypted,
        rewrappable,
        write_back,
    )
    from pysops.errors import ConfigError
    from pysops.policyfile import enforce, load_policy

    if not os.path.exists(file):
        # exit 1, as sops updatekeys reports it (decrypt/encrypt use 100 for a missing file)
        raise GenericError(f"stat {os.path.abspath(file)}: no such file or directory")
    sys.stderr.write(f"pysops: syncing keys for file {file}\n")
    cfg = load_config(absolute(file), config_flag())
    try:
        rule = cfg.rule_for(absolute(file) or file)
    except ConfigError as exc:
        raise type(exc)(f"error loading config: {exc.message}", hint=exc.hint) from None
    policy = load_policy(cfg)
    fmt = pick_format(input_type, file)
    data = read_encrypted(file)
    opened = open_encrypted(data, fmt, shared=shared)
    old = rewrappable(opened)
    new = [list(group) for group in rule.key_groups]
    threshold = rule.shamir_threshold if len(new) > 1 else 0
    old_threshold = opened.meta.shamir_threshold if len(old) > 1 else 0
    ids = [[(r.type, r.id) for r in group] for group in old]
    new_ids = [[(r.type, r.id) for r in group] for group in new]
    same_threshold = (threshold or len(new)) == (old_threshold or len(old)) or len(new) == 1
    if [sorted(g) for g in ids] == [sorted(g) for g in new_ids] and same_threshold:
        sys.stderr.write(f"pysops: file {file} already up to date\n")
        return
    sys.stderr.write(describe_change(old, new, policy))
    enforce(policy, old, new, file=file, accept_file_recipients=accept_file_recipients)
    if not yes:
        if not _interactive():
            raise GenericError(
                f"not updating {file}: confirmation needed and standard input is not a terminal",
                hint="run `pysops updatekeys -y` to approve the change non-interactively",
            )
        if not _confirm("Is this okay? (y/n): "):
            sys.stderr.write(f"pysops: file {file} left unchanged\n")
            return
    removed = {key for group in ids for key in group} - {key for group in new_ids for key in group}
    options = store_options(cfg, fmt)
    if removed:
        opened.rotate_data_key()
        opened.rewrap(new, threshold)
        result = opened.seal(store_options=options)
        sys.stderr.write(f"pysops: a recipient was removed, so the data key of {file} was rotated\n")
    else:
        opened.rewrap(new, threshold)
        result = opened.with_metadata(data, output_format=fmt, store_options=options)
    write_back(file, data, result)
    sys.stderr.write(f"pysops: file {file} synced with new keys\n")


@app.command()
def updatekeys(
    files: Annotated[list[str], typer.Argument(help="the encrypted files (directories with --recursive)")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="approve the changes without asking")] = False,
    input_type: InputType = None,
    recursive: Annotated[
        bool, typer.Option("--recursive", "-r", help="update every encrypted file under the given directories")
    ] = False,
    accept_file_recipients: Annotated[
        bool,
        typer.Option(
            "--accept-file-recipients",
            help="keep recipients already in a file even when the policy does not allow them",
        ),
    ] = False,
) -> None:
    """Sync the recipients of encrypted files with their creation rules (rotates the data key
    when a recipient is removed); refuses changes the config's policy forbids."""
    from pysops.cli.mutate import expand_paths, shared_keys

    if not recursive:
        for file in files:
            if os.path.isdir(file):
                # exit 1 as in sops (rotate, set... report a directory with exit 2, as sops does)
                raise GenericError(f"{file}: can't operate on a directory", hint="use --recursive")
    shared = shared_keys()
    for file in expand_paths(files, recursive=recursive):
        update_file(file, input_type=input_type, yes=yes, shared=shared, accept_file_recipients=accept_file_recipients)
