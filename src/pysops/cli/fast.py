"""``pysops decrypt`` without typer.

Decrypting a small file is the hottest path (CI steps, Terraform, exec wrappers); importing
typer/click alone costs more than sops's whole run. ``try_run`` recognises the decrypt command
line with the flags below and runs it directly; anything else (help, unknown flags, other
commands) returns None and goes through the typer app, which calls the same ``run_decrypt``.
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
    """Run ``[global flags] decrypt [flags] [file]`` directly; None if the line needs typer."""
    try:
        verb_at = args.index("decrypt")
    except ValueError:
        return None
    parsed_global = _parse(args[:verb_at], GLOBAL_FLAGS)
    parsed = _parse(args[verb_at + 1 :], DECRYPT_FLAGS)
    if parsed_global is None or parsed is None or parsed_global[1] or len(parsed[1]) > 1:
        return None
    values, positional = parsed
    config_flag = parsed_global[0].get("--config") or os.environ.get("SOPS_CONFIG")

    def text(name: str) -> str | None:
        value = values.get(name)
        return value if isinstance(value, str) else None

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
