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
from collections.abc import Sequence

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
    flags.update({f"--{spec.cli_flag.replace('_', '-')}": True for spec in REGISTRY})
    return flags


_DECRYPT_ONLY = ("--extract", "--ignore-mac", "--decryption-order")
GLOBAL_FLAGS = {"--config": True, "--verbose": False, "--disable-version-check": False}


def _parse(args: Sequence[str], flags: dict[str, bool]) -> tuple[dict[str, str | bool], list[str]] | None:
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
        else:
            positional.append(arg)
        i += 1
    return values, positional


def try_run(args: Sequence[str]) -> int | None:
    """Run ``[global flags] decrypt|encrypt [flags] [file]`` directly; None if it needs typer."""
    verb_at = next((i for i, a in enumerate(args) if a in ("decrypt", "encrypt")), None)
    if verb_at is None:
        return None
    verb = args[verb_at]
    parsed_global = _parse(args[:verb_at], GLOBAL_FLAGS)
    parsed = _parse(args[verb_at + 1 :], DECRYPT_FLAGS if verb == "decrypt" else encrypt_flags())
    if parsed_global is None or parsed is None or parsed_global[1] or len(parsed[1]) > 1:
        return None
    values, positional = parsed
    config_flag = parsed_global[0].get("--config") or os.environ.get("SOPS_CONFIG")

    def text(name: str) -> str | None:
        value = values.get(name)
        return value if isinstance(value, str) else None

    if verb == "encrypt":
        from pysops.keys import REGISTRY

        threshold = text("--shamir-secret-sharing-threshold") or "0"
        if not threshold.isdigit():
            return None  # let typer report the bad number
        run_encrypt(
            file=positional[0] if positional else None,
            in_place=bool(values.get("--in-place") or values.get("-i")),
            output=text("--output"),
            input_type=text("--input-type"),
            output_type=text("--output-type"),
            filename_override=text("--filename-override"),
            selection={key: text(flag) for flag, key in SELECTION_FLAGS.items()},
            mac_only_encrypted=bool(values.get("--mac-only-encrypted")),
            shamir_threshold=int(threshold),
            recipients={spec.name: text(f"--{spec.cli_flag.replace('_', '-')}") for spec in REGISTRY},
            config_flag=config_flag if isinstance(config_flag, str) else None,
        )
        return 0
    run_decrypt(
        file=positional[0] if positional else None,
        in_place=bool(values.get("--in-place") or values.get("-i")),
        output=text("--output"),
        input_type=text("--input-type"),
        output_type=text("--output-type"),
        filename_override=text("--filename-override"),
        extract=text("--extract"),
        ignore_mac=bool(values.get("--ignore-mac")),
        decryption_order=text("--decryption-order") or os.environ.get("SOPS_DECRYPTION_ORDER"),
        config_flag=config_flag if isinstance(config_flag, str) else None,
    )
    return 0


def run_decrypt(
    *,
    file: str | None,
    in_place: bool,
    output: str | None,
    input_type: str | None,
    output_type: str | None,
    filename_override: str | None,
    extract: str | None,
    ignore_mac: bool,
    decryption_order: str | None,
    config_flag: str | None,
) -> None:
    from pysops import api
    from pysops.cli.inputs import (
        absolute,
        check_output_flags,
        load_config,
        pick_format,
        read_input,
        store_options,
        write_output,
    )

    inp = read_input(file, filename_override)
    check_output_flags(in_place, output, inp)
    in_fmt = pick_format(input_type, inp.name_for_rules)
    out_fmt = pick_format(output_type, None, default=in_fmt) if output_type else in_fmt
    cfg = load_config(absolute(inp.name_for_rules), config_flag)
    result = api.decrypt_bytes(
        inp.data,
        input_format=in_fmt,
        output_format=out_fmt,
        options=api.DecryptOptions(
            ignore_mac=ignore_mac, decryption_order=api.parse_decryption_order(decryption_order)
        ),
        extract=extract,
        store_options=store_options(cfg, out_fmt),
    )
    write_output(result, in_place=in_place, output=output, inp=inp, private=True)


def run_encrypt(
    *,
    file: str | None,
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
) -> None:
    from pysops import api
    from pysops.cli.inputs import (
        absolute,
        check_output_flags,
        encryption_options,
        load_config,
        pick_format,
        read_input,
        store_options,
        write_output,
    )
    from pysops.errors import ConflictingParameters

    inp = read_input(file, filename_override)
    check_output_flags(in_place, output, inp)
    if inp.name_for_rules is None and not input_type:
        raise ConflictingParameters(
            "reading from standard input needs --filename-override (or --input-type)",
            hint="e.g. pysops encrypt --filename-override secrets.yaml < secrets.yaml",
        )
    chosen = [(k, v) for k, v in selection.items() if v is not None]
    if len(chosen) > 1:
        raise ConflictingParameters(
            "only one of the suffix/regex selection options can be used",
            hint=f"got {', '.join(k for k, _ in chosen)}",
        )
    in_fmt = pick_format(input_type, inp.name_for_rules)
    out_fmt = pick_format(output_type, None, default=in_fmt) if output_type else in_fmt
    cfg = load_config(absolute(inp.name_for_rules), config_flag)
    options = encryption_options(
        cfg,
        absolute(inp.name_for_rules),
        recipient_flags={k: v for k, v in recipients.items() if v},
        env=os.environ,
        selection=chosen[0] if chosen else None,
        shamir_threshold=shamir_threshold,
        mac_only_encrypted=mac_only_encrypted,
    )
    result = api.encrypt_bytes(
        inp.data, options, input_format=in_fmt, output_format=out_fmt, store_options=store_options(cfg, out_fmt)
    )
    write_output(result, in_place=in_place, output=output, inp=inp, private=False)
