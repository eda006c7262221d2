"""The typer application: one function per command, each a thin layer over ``pysops.api``."""

from __future__ import annotations

import inspect
import json
import os
import sys
from collections.abc import Callable
from functools import wraps
from typing import Annotated, Any

import typer

from pysops.cli.inputs import (
    pick_format,
    read_input,
)
from pysops.errors import GenericError, PysopsError
from pysops.keys import REGISTRY, KeyTypeSpec

app = typer.Typer(
    name="pysops",
    help="Encrypted, git-friendly secrets files in the SOPS format (compatible with sops 3.11).",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_state: dict[str, Any] = {}


@app.callback()
def _global(
    config: Annotated[str | None, typer.Option("--config", help="path to .sops.yaml / .sops-policy.yaml")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", help="more log output")] = False,
    disable_version_check: Annotated[
        bool, typer.Option("--disable-version-check", help="accepted for sops compatibility (pysops never phones home)")
    ] = False,
) -> None:
    _state["config"] = config or os.environ.get("SOPS_CONFIG")
    _state["verbose"] = verbose


#: One group of per-key-type options for ``with_key_type_options``: the argument the command
#: receives (type name -> value), the prefix of the generated parameter names, the prefix of the
#: flags (``--<prefix><type>``) and the help text for a type.
KeyTypeOptions = tuple[str, str, str, Callable[[KeyTypeSpec], str]]


def with_key_type_options(
    *groups: KeyTypeOptions, repeatable: bool = False
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add one option per registered key type for each of ``groups``; the command gets each
    group's values as its argument: type name -> the value, None when not given (``repeatable``:
    the list of values given, empty when none)."""
    arguments = {argument for argument, *_ in groups}

    def option(flag: str, help_text: str) -> Any:
        if repeatable:
            return Annotated[list[str] | None, typer.Option(flag, help=help_text)]
        return Annotated[str | None, typer.Option(flag, help=help_text)]

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        sig = inspect.signature(fn, eval_str=True)
        params = [p for p in sig.parameters.values() if p.name not in arguments]
        extra = [
            inspect.Parameter(
                f"{name_prefix}{spec.name}",
                inspect.Parameter.KEYWORD_ONLY,
                default=None,
                annotation=option(f"--{flag_prefix}{spec.cli_flag.replace('_', '-')}", help_for(spec)),
            )
            for spec in REGISTRY
            for _, name_prefix, flag_prefix, help_for in groups
        ]

        @wraps(fn)
        def wrapper(**kwargs: Any) -> Any:
            for argument, name_prefix, _, _ in groups:
                values = {spec.name: kwargs.pop(f"{name_prefix}{spec.name}", None) for spec in REGISTRY}
                if repeatable:
                    values = {name: value or [] for name, value in values.items()}
                kwargs[argument] = values
            return fn(**kwargs)

        wrapper.__signature__ = sig.replace(parameters=[*params, *extra])  # type: ignore[attr-defined]
        return wrapper

    return decorate


#: One ``--<type>`` option per registered key type, passed as ``recipients`` (type name -> the
#: comma separated recipients, or None).
with_recipient_flags = with_key_type_options(
    (
        "recipients",
        "recipient_",
        "",
        lambda spec: f"comma separated {spec.name} recipients [env {spec.env_recipients}]",
    )
)


FileArg = Annotated[str | None, typer.Argument(help="the file ('-' or none: standard input)")]
FilesArg = Annotated[
    list[str] | None,
    typer.Argument(help="the file ('-' or none: standard input), or several (with -i or --output-dir)"),
]
Recursive = Annotated[
    bool, typer.Option("--recursive", help="process the files with a known extension in the named directories")
]
OutputDir = Annotated[
    str | None,
    typer.Option("--output-dir", help="write each result under this directory, with the same relative name"),
]
InPlace = Annotated[bool, typer.Option("--in-place", "-i", help="write the result back to the file")]
Output = Annotated[str | None, typer.Option("--output", help="write the result to this file")]
InputType = Annotated[str | None, typer.Option("--input-type", help="yaml, json, dotenv, ini or binary")]
OutputType = Annotated[str | None, typer.Option("--output-type", help="yaml, json, dotenv, ini or binary")]
FilenameOverride = Annotated[
    str | None, typer.Option("--filename-override", help="file name used for config rules and formats")
]
IgnoreMac = Annotated[bool, typer.Option("--ignore-mac", help="do not verify the MAC")]
DecryptionOrder = Annotated[
    str | None,
    typer.Option("--decryption-order", help="comma separated key types to try first", envvar="SOPS_DECRYPTION_ORDER"),
]
Threshold = Annotated[
    int, typer.Option("--shamir-secret-sharing-threshold", help="number of key groups needed to decrypt")
]


@app.command()
@with_recipient_flags
def encrypt(
    files: FilesArg = None,
    in_place: InPlace = False,
    output: Output = None,
    input_type: InputType = None,
    output_type: OutputType = None,
    filename_override: FilenameOverride = None,
    unencrypted_suffix: Annotated[str | None, typer.Option(help="keys ending with this stay plaintext")] = None,
    encrypted_suffix: Annotated[str | None, typer.Option(help="only keys ending with this are encrypted")] = None,
    unencrypted_regex: Annotated[str | None, typer.Option(help="keys matching this stay plaintext")] = None,
    encrypted_regex: Annotated[str | None, typer.Option(help="only keys matching this are encrypted")] = None,
    unencrypted_comment_regex: Annotated[
        str | None, typer.Option(help="values after a comment matching this stay plaintext")
    ] = None,
    encrypted_comment_regex: Annotated[
        str | None, typer.Option(help="only values after a comment matching this are encrypted")
    ] = None,
    mac_only_encrypted: Annotated[bool, typer.Option(help="compute the MAC over encrypted values only")] = False,
    shamir_secret_sharing_threshold: Threshold = 0,
    recursive: Recursive = False,
    output_dir: OutputDir = None,
    encryption_context: Annotated[
        str | None, typer.Option(help="KMS encryption context for --kms keys: key:value,key2:value2")
    ] = None,
    aws_profile: Annotated[str | None, typer.Option(help="AWS profile for --kms keys")] = None,
    allow_hsm_only: Annotated[
        bool, typer.Option(help="allow files that only pysops can open (all recipients pkcs11)")
    ] = False,
    recipients: dict[str, str | None] | None = None,
) -> None:
    """Encrypt a file and print it (or write it with -i / --output); several files or --recursive
    directories in one run with -i or --output-dir."""
    from pysops.cli import fast

    fast.run_encrypt(
        files=files or [],
        recursive=recursive,
        output_dir=output_dir,
        in_place=in_place,
        output=output,
        input_type=input_type,
        output_type=output_type,
        filename_override=filename_override,
        selection={
            "unencrypted_suffix": unencrypted_suffix,
            "encrypted_suffix": encrypted_suffix,
            "unencrypted_regex": unencrypted_regex,
            "encrypted_regex": encrypted_regex,
            "unencrypted_comment_regex": unencrypted_comment_regex,
            "encrypted_comment_regex": encrypted_comment_regex,
        },
        mac_only_encrypted=mac_only_encrypted,
        shamir_threshold=shamir_secret_sharing_threshold,
        recipients=recipients or {},
        encryption_context=encryption_context,
        aws_profile=aws_profile,
        allow_hsm_only=allow_hsm_only,
        config_flag=_state.get("config"),
    )


@app.command()
def decrypt(
    files: FilesArg = None,
    in_place: InPlace = False,
    output: Output = None,
    input_type: InputType = None,
    output_type: OutputType = None,
    filename_override: FilenameOverride = None,
    extract: Annotated[str | None, typer.Option(help="""print one value or branch, e.g. '["a"][0]'""")] = None,
    ignore_mac: IgnoreMac = False,
    decryption_order: DecryptionOrder = None,
    recursive: Recursive = False,
    output_dir: OutputDir = None,
    terraform: Annotated[
        bool, typer.Option("--terraform", help="print a flat JSON object of strings (Terraform's external source)")
    ] = False,
) -> None:
    """Decrypt a file and print it (or write it with -i / --output); several files or --recursive
    directories in one run with -i or --output-dir; --terraform for Terraform."""
    from pysops.cli import fast

    fast.run_decrypt(
        files=files or [],
        recursive=recursive,
        output_dir=output_dir,
        terraform=terraform,
        in_place=in_place,
        output=output,
        input_type=input_type,
        output_type=output_type,
        filename_override=filename_override,
        extract=extract,
        ignore_mac=ignore_mac,
        decryption_order=decryption_order,
        config_flag=_state.get("config"),
    )


@app.command()
def filestatus(
    file: Annotated[str, typer.Argument(help="the file")],
    input_type: InputType = None,
) -> None:
    """Print {"encrypted":true} when the file has complete sops metadata, else {"encrypted":false}."""
    from pysops.errors import InputTooComplex, MetadataNotFound, NeedAtLeastOneDocument
    from pysops.formats import get_store

    # As sops 3.11: a file that cannot be read or parsed is exit 1 ("cannot check file status"),
    # one without metadata is {"encrypted":false}. An encrypted binary file is JSON, and sops
    # reads it as such: a plain binary file fails to parse.
    try:
        inp = read_input(file, None)
        fmt = pick_format(input_type, inp.name_for_rules)
        doc = get_store("json" if fmt == "binary" else fmt).parse(inp.data)
        meta = doc.metadata
        encrypted = bool(meta) and bool(meta.get("version")) and bool(meta.get("mac"))  # type: ignore[union-attr]
    except MetadataNotFound:
        encrypted = False
    except NeedAtLeastOneDocument:
        if fmt != "yaml":  # sops reads an empty YAML file as one without metadata, not JSON
            raise GenericError("cannot check file status: the file is empty") from None
        encrypted = False
    except InputTooComplex:
        raise
    except PysopsError as exc:
        raise GenericError(f"cannot check file status: {exc.message}", hint=exc.hint) from None
    sys.stdout.write(json.dumps({"encrypted": encrypted}, separators=(",", ":")) + "\n")


@app.command()
def keygen(
    output: Annotated[
        str | None,
        typer.Option("--output", "-o", help="identity file to create (default: sops's keys.txt location)"),
    ] = None,
) -> None:
    """Create an age identity file (mode 0600) and print its public recipient."""
    from pysops.keys.age import generate_identity_file

    path = generate_identity_file(output, os.environ)
    sys.stderr.write(f"pysops: wrote identity to {path}\n")
    sys.stdout.write(path.read_text().splitlines()[1].removeprefix("# public key: ") + "\n")


def run(args: list[str]) -> int:
    """Run the typer app in non-standalone mode so errors come back to ``cli.main``.

    typer vendors click, so its exceptions are recognised by their shape, not imported.
    """
    command = typer.main.get_command(app)
    try:
        result = command.main(args=args, prog_name="pysops", standalone_mode=False)
    except PysopsError:
        raise
    except Exception as exc:
        kind = type(exc).__name__
        if kind == "NoArgsIsHelpError":
            sys.stdout.write(exc.ctx.get_help() + "\n")  # type: ignore[attr-defined]
            return 0
        if kind == "Exit":
            return int(getattr(exc, "exit_code", 0))
        if kind == "Abort":
            raise GenericError("aborted") from None
        if hasattr(exc, "format_message"):
            raise GenericError(exc.format_message(), hint="see `pysops --help`") from None
        raise
    return int(result) if isinstance(result, int) else 0


#: Commands that live in their own module (each registers itself on ``app``): one line each.
COMMAND_MODULES: tuple[str, ...] = (
    "pysops.cli.cmd_exec",
    "pysops.cli.cmd_set",
    "pysops.cli.cmd_rotate",
    "pysops.cli.cmd_updatekeys",
    "pysops.cli.cmd_groups",
    "pysops.cli.cmd_edit",
    "pysops.cli.cmd_git",
    "pysops.cli.cmd_config",
    "pysops.cli.cmd_check",
)


def _register_commands() -> None:
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(name)


_register_commands()
