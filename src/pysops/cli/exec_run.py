"""``exec-env`` / ``exec-file`` without typer: the work behind both commands, and a small parser.

exec-env is a wrapper started before an application (``pysops exec-env s.yaml -- server``), so
its start-up counts as much as decrypt's: importing typer costs more than sops's whole run.
``try_run`` recognises ``[global flags] exec-env|exec-file [flags] FILE COMMAND...`` and runs it
directly; anything else (help, unknown flags, a missing file) returns None and goes through the
typer commands in ``cmd_exec``, which call the same ``run_exec_env`` / ``run_exec_file``.
A test checks that these flag tables equal the options the typer commands declare.

Two command forms, told apart by a literal ``--`` after the file (flags go before the file, as
in sops, so everything after it belongs to the command):

* ``exec-env FILE 'cmd string'`` (sops's form): ``/bin/sh -c 'cmd string'`` as a child process;
* ``exec-env FILE -- CMD ARGS...`` (ours): the program itself, no shell; on POSIX pysops
  replaces itself with it (``--same-process``) unless ``--no-same-process`` is given.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from pysops._typing import TYPE_CHECKING
from pysops.errors import GenericError

if TYPE_CHECKING:
    from typing import Any

#: exec-env's flags: name -> takes a value. Kept in step with ``cmd_exec.exec_env``.
EXEC_ENV_FLAGS = {
    "--pristine": False,
    "--same-process": False,
    "--no-same-process": False,
    "--user": True,
    "--background": False,
    "--flatten": False,
    "--input-type": True,
    "--ignore-mac": False,
    "--decryption-order": True,
}
#: exec-file's flags. Kept in step with ``cmd_exec.exec_file``.
EXEC_FILE_FLAGS = {
    "--no-fifo": False,
    "--user": True,
    "--background": False,
    "--input-type": True,
    "--output-type": True,
    "--filename": True,
    "--ignore-mac": False,
    "--decryption-order": True,
}


def split_command(verb: str, command: Sequence[str]) -> str | list[str]:
    """The sops form (one string) or our argv form (what follows ``--``)."""
    args = list(command)
    if args[:1] == ["--"]:
        if len(args) == 1:
            raise GenericError(f"{verb}: missing command after --")
        return args[1:]
    if len(args) == 1:
        return args[0]
    if not args:
        raise GenericError(
            f"{verb}: missing command to run",
            hint=f"pysops {verb} FILE 'command string'  or  pysops {verb} FILE -- PROGRAM ARGS...",
        )
    raise GenericError(
        f"{verb}: expected one command string or -- PROGRAM ARGS..., got {len(args)} arguments",
        hint=f"quote the command (pysops {verb} FILE 'cmd args'), use -- before it, and put flags before FILE",
    )


def _decrypt(file: str, input_type: str | None, ignore_mac: bool, decryption_order: str | None) -> Any:
    """Read, parse and decrypt ``file``; returns the decrypted Document."""
    from pysops import api
    from pysops.cli.inputs import pick_format, read_input
    from pysops.errors import CouldNotReadInputFile, NoFileSpecified
    from pysops.formats import get_store

    try:
        inp = read_input(file, None)
    except NoFileSpecified as exc:  # sops exec-env/exec-file report a missing file as exit 2
        raise CouldNotReadInputFile(exc.message) from None
    fmt = pick_format(input_type, inp.name_for_rules)
    doc = get_store(fmt).parse(inp.data)
    api.decrypt_document(
        doc,
        api.DecryptOptions(ignore_mac=ignore_mac, decryption_order=api.parse_decryption_order(decryption_order)),
    )
    return doc


def _warn_background(verb: str) -> None:
    sys.stderr.write(
        f"pysops: warning: {verb}'s --background option is deprecated and will be removed in a future version\n"
    )


def run_exec_env(
    *,
    file: str,
    command: Sequence[str],
    pristine: bool = False,
    same_process: bool | None = None,
    user: str | None = None,
    background: bool = False,
    flatten: bool = False,
    input_type: str | None = None,
    ignore_mac: bool = False,
    decryption_order: str | None = None,
) -> int:
    """exec-env; returns the child's exit status (or never returns: same-process)."""
    from pysops import execenv
    from pysops.errors import ConflictingParameters

    form = split_command("exec-env", command)
    argv = execenv.shell_command(form) if isinstance(form, str) else form
    if same_process is None:  # our argv form replaces the process where exec really does that
        same_process = not isinstance(form, str) and not background and os.name == "posix"
    if same_process and background:
        raise ConflictingParameters("--same-process and --background cannot be used together")
    run_as = execenv.resolve_user(user) if user else None
    doc = _decrypt(file, input_type, ignore_mac, decryption_order)
    secrets = execenv.environment_from_document(doc, flatten=flatten)
    del doc
    env = execenv.build_environment(secrets, pristine=pristine)
    if background:
        _warn_background("exec-env")
    if same_process:
        execenv.exec_same_process(argv, env, user=run_as)
    return execenv.run_child(argv, env, user=run_as, background=background)


def run_exec_file(
    *,
    file: str,
    command: Sequence[str],
    no_fifo: bool = False,
    user: str | None = None,
    background: bool = False,
    input_type: str | None = None,
    output_type: str | None = None,
    filename: str = "tmp-file",
    ignore_mac: bool = False,
    decryption_order: str | None = None,
    config_flag: str | None = None,
) -> int:
    """exec-file; returns the child's exit status. The private directory is gone afterwards."""
    from pysops import api, execenv
    from pysops.cli.inputs import absolute, load_config, pick_format, store_options

    form = split_command("exec-file", command)
    execenv.check_filename(filename)
    run_as = execenv.resolve_user(user) if user else None
    doc = _decrypt(file, input_type, ignore_mac, decryption_order)
    out_fmt = pick_format(output_type, None, default=doc.format)
    cfg = load_config(absolute(file), config_flag)
    data = api.render(doc, out_fmt, None, store_options(cfg, out_fmt))
    del doc
    if background:
        # sops starts the command and deletes the file at once, so the command finds nothing;
        # we keep the file for as long as the command runs, which means waiting for it.
        _warn_background("exec-file")
        sys.stderr.write("pysops: warning: exec-file runs the command in the foreground\n")
    return execenv.run_with_file(form, data, filename=filename, fifo=not no_fifo, user=run_as)


def try_run(args: Sequence[str]) -> int | None:
    """Run ``[global flags] exec-env|exec-file [flags] FILE COMMAND...``; None if typer must."""
    from pysops.cli.fast import parse_command, text_value

    # flags up to the first positional argument (FILE); the rest is the command, untouched
    parsed = parse_command(
        args,
        ("exec-env", "exec-file"),
        lambda verb: EXEC_ENV_FLAGS if verb == "exec-env" else EXEC_FILE_FLAGS,
        interspersed=False,
    )
    if parsed is None or not parsed[3]:
        return None
    verb, config_flag, values, rest = parsed
    file, command = rest[0], rest[1:]

    def text(name: str) -> str | None:
        return text_value(values, name)

    decryption_order = text("--decryption-order") or os.environ.get("SOPS_DECRYPTION_ORDER")
    if verb == "exec-env":
        same_process = True if "--same-process" in values else False if "--no-same-process" in values else None
        return run_exec_env(
            file=file,
            command=command,
            pristine="--pristine" in values,
            same_process=same_process,
            user=text("--user"),
            background="--background" in values,
            flatten="--flatten" in values,
            input_type=text("--input-type"),
            ignore_mac="--ignore-mac" in values,
            decryption_order=decryption_order,
        )
    return run_exec_file(
        file=file,
        command=command,
        no_fifo="--no-fifo" in values,
        user=text("--user"),
        background="--background" in values,
        input_type=text("--input-type"),
        output_type=text("--output-type"),
        filename=str(values.get("--filename", "tmp-file")),
        ignore_mac="--ignore-mac" in values,
        decryption_order=decryption_order,
        config_flag=config_flag,
    )
