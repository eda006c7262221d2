"""``pysops decrypt`` and ``pysops encrypt`` without typer.

Decrypting a small file is the hottest path (CI steps, Terraform, exec wrappers); importing
typer (with click, rich and pydantic) alone costs more than sops's whole run. ``try_run``
recognises the decrypt and encrypt command lines with the flags below and runs them directly;
anything else (help, unknown flags, other commands) returns None and goes through the typer
app, whose commands call the same ``run_decrypt`` / ``run_encrypt``. A test checks that these
flag tables equal the options the typer commands declare.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from pysops._typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

    from pysops.api import DecryptOptions, EncryptOptions
    from pysops.document import Document

#: decrypt's flags: name -> takes a value. Kept in step with ``app.decrypt`` (tests compare them).
DECRYPT_FLAGS = {
    "--in-place": False,
    "-i": False,
    "--output": True,
    "--input-type": True,
    "--output-type": True,
    "--filename-override": True,
    "--extract": True,
    "--ignore-mac": False,
    "--decryption-order": True,
    "--recursive": False,
    "--output-dir": True,
    "--terraform": False,
}
SELECTION_FLAGS = {
    "--unencrypted-suffix": "unencrypted_suffix",
    "--encrypted-suffix": "encrypted_suffix",
    "--unencrypted-regex": "unencrypted_regex",
    "--encrypted-regex": "encrypted_regex",
    "--unencrypted-comment-regex": "unencrypted_comment_regex",
    "--encrypted-comment-regex": "encrypted_comment_regex",
}


def encrypt_flags() -> dict[str, bool]:
    """encrypt's flags: the shared file flags, the selection options, one flag per key type."""
    from pysops.keys import REGISTRY

    flags = {name: takes for name, takes in DECRYPT_FLAGS.items() if name not in _DECRYPT_ONLY}
    flags.update({name: True for name in SELECTION_FLAGS})
    flags.update({"--mac-only-encrypted": False, "--shamir-secret-sharing-threshold": True})
    flags.update({"--encryption-context": True, "--aws-profile": True, "--allow-hsm-only": False})
    flags.update({f"--{spec.cli_flag.replace('_', '-')}": True for spec in REGISTRY})
    return flags


_DECRYPT_ONLY = ("--extract", "--ignore-mac", "--decryption-order", "--terraform")
GLOBAL_FLAGS = {"--config": True, "--verbose": False, "--disable-version-check": False}


def parse_flags(
    args: Sequence[str], flags: dict[str, bool], *, interspersed: bool = True
) -> tuple[dict[str, str | bool], list[str]] | None:
    """Parse ``args`` against ``flags`` (name -> takes a value); returns the values and the
    positional arguments, or None for anything unknown (typer then reports or handles it).
    With ``interspersed=False`` parsing stops at the first positional argument and the rest is
    returned untouched (exec-env's command line)."""
    values: dict[str, str | bool] = {}
    positional: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            positional.extend(args[i + 1 :])
            break
        if arg.startswith("-") and arg != "-":
            name, eq, inline = arg.partition("=")
            if name not in flags:
                return None
            if flags[name]:
                if eq:
                    values[name] = inline
                elif i + 1 < len(args):
                    i += 1
                    values[name] = args[i]
                else:
                    return None
            elif eq:
                return None
            else:
                values[name] = True
        elif not interspersed:
            positional.extend(args[i:])
            break
        else:
            positional.append(arg)
        i += 1
    return values, positional


def parse_command(
    args: Sequence[str],
    verbs: Sequence[str],
    flags_for: Callable[[str], dict[str, bool]],
    *,
    interspersed: bool = True,
) -> tuple[str, str | None, dict[str, str | bool], list[str]] | None:
    """``[global flags] VERB [flags] ...`` for the first of ``verbs`` in ``args``: the verb, the
    ``--config`` value (else ``$SOPS_CONFIG``), and ``parse_flags``'s values and positional
    arguments against ``flags_for(verb)``; None when anything is unknown."""
    verb_at = next((i for i, a in enumerate(args) if a in verbs), None)
    if verb_at is None:
        return None
    parsed = parse_flags(args[:verb_at], GLOBAL_FLAGS)
    if parsed is None or parsed[1]:
        return None
    config = parsed[0].get("--config") or os.environ.get("SOPS_CONFIG")
    verb = args[verb_at]
    command = parse_flags(args[verb_at + 1 :], flags_for(verb), interspersed=interspersed)
    if command is None:
        return None
    return verb, config if isinstance(config, str) else None, *command


def text_value(values: dict[str, str | bool], name: str) -> str | None:
    """A value flag's text from ``parse_flags``'s result, or None when it was not given."""
    value = values.get(name)
    return value if isinstance(value, str) else None


def try_run(args: Sequence[str]) -> int | None:
    """Run ``[global flags] decrypt|encrypt [flags] [file...]`` directly; None if it needs typer."""
    parsed = parse_command(
        args, ("decrypt", "encrypt"), lambda verb: DECRYPT_FLAGS if verb == "decrypt" else encrypt_flags()
    )
    if parsed is None:
        return None
    verb, config_flag, values, positional = parsed

    def text(name: str) -> str | None:
        return text_value(values, name)

    if verb == "encrypt":
        from pysops.keys import REGISTRY

        threshold = text("--shamir-secret-sharing-threshold") or "0"
        if not threshold.isdigit():
            return None  # let typer report the bad number
        run_encrypt(
            files=positional,
            in_place=bool(values.get("--in-place") or values.get("-i")),
            output=text("--output"),
            input_type=text("--input-type"),
            output_type=text("--output-type"),
            filename_override=text("--filename-override"),
            selection={key: text(flag) for flag, key in SELECTION_FLAGS.items()},
            mac_only_encrypted=bool(values.get("--mac-only-encrypted")),
            shamir_threshold=int(threshold),
            recipients={spec.name: text(f"--{spec.cli_flag.replace('_', '-')}") for spec in REGISTRY},
            config_flag=config_flag,
            recursive=bool(values.get("--recursive")),
            output_dir=text("--output-dir"),
            encryption_context=text("--encryption-context"),
            aws_profile=text("--aws-profile"),
            allow_hsm_only=bool(values.get("--allow-hsm-only")),
        )
        return 0
    run_decrypt(
        files=positional,
        in_place=bool(values.get("--in-place") or values.get("-i")),
        output=text("--output"),
        input_type=text("--input-type"),
        output_type=text("--output-type"),
        filename_override=text("--filename-override"),
        extract=text("--extract"),
        ignore_mac=bool(values.get("--ignore-mac")),
        decryption_order=text("--decryption-order") or os.environ.get("SOPS_DECRYPTION_ORDER"),
        config_flag=config_flag,
        recursive=bool(values.get("--recursive")),
        output_dir=text("--output-dir"),
        terraform=bool(values.get("--terraform")),
    )
    return 0


def _retained(doc: Document) -> Document:
    from pysops.cli import keep_until_exit

    keep_until_exit(doc)
    return doc


def run_decrypt(
    *,
    files: Sequence[str],
    in_place: bool,
    output: str | None,
    input_type: str | None,
    output_type: str | None,
    filename_override: str | None,
    extract: str | None,
    ignore_mac: bool,
    decryption_order: str | None,
    config_flag: str | None,
    recursive: bool = False,
    output_dir: str | None = None,
    terraform: bool = False,
) -> None:
    from pysops import api
    from pysops.cli.inputs import (
        absolute,
        check_output_flags,
        load_config,
        pick_formats,
        read_input,
        store_options,
        write_output,
    )
    from pysops.formats import get_store

    options = api.DecryptOptions(ignore_mac=ignore_mac, decryption_order=api.parse_decryption_order(decryption_order))
    if terraform:
        _run_terraform(files, in_place, output, input_type, output_type, extract, recursive, output_dir, options)
        return
    if _is_bulk(files, recursive, output_dir):
        if extract is not None:
            from pysops.errors import ConflictingParameters

            raise ConflictingParameters("--extract works on one file, not with several files or --output-dir")
        _check_bulk_flags(in_place, output, output_dir, filename_override)
        _run_bulk("decrypt", files, recursive, output_dir, input_type, output_type, config_flag, options=options)
        return
    inp = read_input(files[0] if files else None, filename_override)
    check_output_flags(in_place, output, inp)
    in_fmt, out_fmt = pick_formats(input_type, output_type, inp.name_for_rules)
    cfg = load_config(absolute(inp.name_for_rules), config_flag)
    doc = _retained(get_store(in_fmt).parse(inp.data))
    api.decrypt_document(doc, options)
    if extract is not None:
        result = api.extract_value(doc, api.parse_tree_path(extract), out_fmt)
    else:
        result = api.render(doc, out_fmt, None, store_options(cfg, out_fmt))
    write_output(result, in_place=in_place, output=output, inp=inp, private=True)


def run_encrypt(
    *,
    files: Sequence[str],
    in_place: bool,
    output: str | None,
    input_type: str | None,
    output_type: str | None,
    filename_override: str | None,
    selection: dict[str, str | None],
    mac_only_encrypted: bool,
    shamir_threshold: int,
    recipients: dict[str, str | None],
    config_flag: str | None,
    recursive: bool = False,
    output_dir: str | None = None,
    encryption_context: str | None = None,
    aws_profile: str | None = None,
    allow_hsm_only: bool = False,
) -> None:
    from pysops import api
    from pysops.cli.inputs import (
        absolute,
        check_output_flags,
        encryption_options,
        load_config,
        pick_formats,
        pick_selection,
        read_input,
        recipient_options,
        store_options,
        write_output,
    )
    from pysops.errors import ConflictingParameters

    chosen = pick_selection(selection)
    options = recipient_options(encryption_context, aws_profile)

    def options_for(cfg: Any, name: str | None) -> EncryptOptions:
        result: EncryptOptions = encryption_options(
            cfg,
            name,
            recipient_flags=recipients,
            env=os.environ,
            selection=chosen,
            shamir_threshold=shamir_threshold,
            mac_only_encrypted=mac_only_encrypted,
            recipient_options=options,
            allow_hsm_only=allow_hsm_only,
        )
        return result

    if _is_bulk(files, recursive, output_dir):
        _check_bulk_flags(in_place, output, output_dir, filename_override)
        _run_bulk(
            "encrypt", files, recursive, output_dir, input_type, output_type, config_flag, options_for=options_for
        )
        return
    inp = read_input(files[0] if files else None, filename_override)
    check_output_flags(in_place, output, inp)
    if inp.name_for_rules is None and not input_type:
        raise ConflictingParameters(
            "reading from standard input needs --filename-override (or --input-type)",
            hint="e.g. pysops encrypt --filename-override secrets.yaml < secrets.yaml",
        )
    in_fmt, out_fmt = pick_formats(input_type, output_type, inp.name_for_rules)
    cfg = load_config(absolute(inp.name_for_rules), config_flag)
    result = api.encrypt_bytes(
        inp.data,
        options_for(cfg, absolute(inp.name_for_rules)),
        input_format=in_fmt,
        output_format=out_fmt,
        store_options=store_options(cfg, out_fmt),
    )
    write_output(result, in_place=in_place, output=output, inp=inp, private=False)


# --------------------------------------------------------------------------------------------
# Several files: pysops decrypt|encrypt A B C, --recursive DIR, --output-dir OUT


def _is_bulk(files: Sequence[str], recursive: bool, output_dir: str | None) -> bool:
    """One file without --recursive/--output-dir keeps the single-file behaviour (stdout)."""
    return len(files) > 1 or recursive or output_dir is not None


def _check_bulk_flags(
    in_place: bool, output: str | None, output_dir: str | None, filename_override: str | None
) -> None:
    from pysops.errors import ConflictingParameters

    if output is not None:
        raise ConflictingParameters("--output names one file; with several files use --in-place or --output-dir")
    if filename_override is not None:
        raise ConflictingParameters("--filename-override works on one file, not with several files")
    if in_place and output_dir is not None:
        raise ConflictingParameters("--in-place and --output-dir cannot be used together")
    if not in_place and output_dir is None:
        raise ConflictingParameters(
            "with several files (or --recursive) the output goes in place or to a directory",
            hint="add --in-place (-i) or --output-dir DIR",
        )


def _run_bulk(
    verb: str,
    files: Sequence[str],
    recursive: bool,
    output_dir: str | None,
    input_type: str | None,
    output_type: str | None,
    config_flag: str | None,
    *,
    options: DecryptOptions | None = None,
    options_for: Callable[[Any, str | None], EncryptOptions] | None = None,
) -> None:
    """Run every file; report each failure as ``pysops: error: FILE: ...`` and each skipped file
    as ``pysops: skipped FILE: ...`` on stderr, then fail with the first failure's exit code."""
    import sys

    from pysops import bulk
    from pysops.cli.inputs import ConfigCache, pick_format
    from pysops.errors import GenericError, NoFileSpecified

    if not files:
        raise NoFileSpecified("no file or directory given", hint="name the files, or a directory with --recursive")
    in_fmt = pick_format(input_type, None, default="") or None  # None: each file's extension
    out_fmt = pick_format(output_type, None, default="") or None
    jobs = bulk.plan(files, recursive=recursive, output_dir=output_dir)
    configs = ConfigCache(config_flag)
    if verb == "decrypt":
        outcomes = bulk.decrypt_files(
            jobs,
            input_format=in_fmt,
            output_format=out_fmt,
            options=options,
            store_options_for=configs.store_options,
        )
    else:
        from pysops.cli.inputs import absolute

        assert options_for is not None

        def encryption_for(path: str) -> EncryptOptions:
            return options_for(configs.get(path), absolute(path))

        outcomes = bulk.encrypt_files(
            jobs,
            encryption_for,
            input_format=in_fmt,
            output_format=out_fmt,
            store_options_for=configs.store_options,
        )
    failures: list[int] = []
    done = 0
    err = sys.stderr
    for outcome in outcomes:
        name = outcome.job.source
        if outcome.error is not None:
            failures.append(outcome.error.exit_code)
            err.write(f"pysops: error: {name}: {outcome.error.message}\n")
            if outcome.error.hint:
                err.write(f"pysops: hint: {outcome.error.hint}\n")
        elif outcome.status == "skipped":
            err.write(f"pysops: skipped {name}: {outcome.note}\n")
        else:
            done += 1
    if failures:
        raise GenericError(
            f"{len(failures)} of {len(failures) + done} files failed ({verb}ed {done})",
            exit_code=failures[0],
        )


# --------------------------------------------------------------------------------------------
# decrypt --terraform


def _run_terraform(
    files: Sequence[str],
    in_place: bool,
    output: str | None,
    input_type: str | None,
    output_type: str | None,
    extract: str | None,
    recursive: bool,
    output_dir: str | None,
    options: DecryptOptions,
) -> None:
    """One flat JSON object of strings for Terraform's ``external`` data source. With no FILE,
    standard input (when it is not a terminal) is Terraform's query ``{"file": "..."}``, or else
    the encrypted document itself."""
    import sys

    from pysops import api, terraform
    from pysops.cli.inputs import Input, pick_format, read_input, write_output
    from pysops.errors import ConflictingParameters, NoFileSpecified
    from pysops.formats import get_store

    clash = [
        flag
        for flag, used in (
            ("--in-place", in_place),
            ("--extract", extract is not None),
            ("--output-type", output_type is not None),
            ("--recursive", recursive),
            ("--output-dir", output_dir is not None),
        )
        if used
    ]
    if clash or len(files) > 1:
        raise ConflictingParameters(
            "--terraform prints one JSON object for one file; it cannot be used with "
            + (", ".join(clash) or "several files")
        )
    file = files[0] if files else None
    if file is None or file == "-":
        if sys.stdin.isatty():
            raise NoFileSpecified(
                "--terraform needs a FILE, or Terraform's query on standard input",
                hint='e.g. query = { file = "secrets.enc.yaml" } in an external data source',
            )
        data = sys.stdin.buffer.read()
        query = terraform.parse_query(data)
        if query is not None:
            inp = read_input(query["file"], None)
            input_type = input_type or query.get("input_type")
        else:
            inp = Input(data, None, None)
    else:
        inp = read_input(file, None)
    doc = get_store(pick_format(input_type, inp.name_for_rules)).parse(inp.data)
    api.decrypt_document(doc, options)
    write_output(terraform.render(doc), in_place=False, output=output, inp=inp, private=True)
