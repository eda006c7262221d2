"""sops's legacy global-flag invocations, translated into the verb form (format.md §8.2).

Scripts still run ``sops -d file``, ``sops -e -i file``, ``sops -r --add-age X -i file``,
``sops --set '["k"] "v"' file`` and ``sops file`` (edit). ``translate`` turns such an argument
list into ``[global flags] VERB [flags] FILE...`` and leaves every verb-form command line as it
is. Differences from sops: more than one of ``-d/-e/-r/--set`` is an error (sops warned and
kept the last); ``--add-*``/``--rm-*`` without a mode mean ``rotate -i`` (sops opened the
editor); ``--indent`` is ignored with a warning.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence

#: Commands of the verb form; a first positional argument naming one is never a legacy file.
COMMANDS = frozenset({
    "encrypt", "decrypt", "edit", "exec-env", "exec-file", "publish", "keyservice", "groups", "updatekeys",
    "rotate", "set", "unset", "filestatus", "completion", "keygen", "help", "check", "textconv", "merge", "git",
})  # fmt: skip

#: Flags that stay before the verb.
GLOBAL_VALUE = {"--config"}
GLOBAL_BOOL = {"--verbose", "--disable-version-check", "--check-for-updates", "--debug"}

MODES = {"-d": "decrypt", "--decrypt": "decrypt", "-e": "encrypt", "--encrypt": "encrypt",
         "-r": "rotate", "--rotate": "rotate"}  # fmt: skip

#: Legacy flags that take a value, with the name the verb form uses.
VALUE_FLAGS = {
    "--output": "--output", "--extract": "--extract", "--input-type": "--input-type",
    "--output-type": "--output-type", "--indent": "--indent", "-k": "--kms", "--kms": "--kms",
    "-p": "--pgp", "--pgp": "--pgp", "-a": "--age", "--age": "--age", "--gcp-kms": "--gcp-kms",
    "--azure-kv": "--azure-kv", "--hc-vault-transit": "--hc-vault-transit", "--hckms": "--hckms",
    "--aws-profile": "--aws-profile", "--encryption-context": "--encryption-context",
    "--unencrypted-suffix": "--unencrypted-suffix", "--encrypted-suffix": "--encrypted-suffix",
    "--unencrypted-regex": "--unencrypted-regex", "--encrypted-regex": "--encrypted-regex",
    "--unencrypted-comment-regex": "--unencrypted-comment-regex",
    "--encrypted-comment-regex": "--encrypted-comment-regex",
    "--shamir-secret-sharing-threshold": "--shamir-secret-sharing-threshold",
    "--decryption-order": "--decryption-order", "--filename-override": "--filename-override",
    "--keyservice": "--keyservice",
}  # fmt: skip
BOOL_FLAGS = {
    "-i": "--in-place", "--in-place": "--in-place", "--ignore-mac": "--ignore-mac",
    "-s": "--show-master-keys", "--show-master-keys": "--show-master-keys",
    "--mac-only-encrypted": "--mac-only-encrypted", "--enable-local-keyservice": "--enable-local-keyservice",
}  # fmt: skip

#: What each verb accepts of the translated flags (others are dropped for that verb).
_ACCEPTS = {
    "decrypt": {"--in-place", "--output", "--extract", "--input-type", "--output-type", "--ignore-mac",
                "--decryption-order", "--filename-override"},
    "rotate": {"--in-place", "--output", "--input-type", "--output-type", "--decryption-order",
               "--filename-override", "--encryption-context"},
    "set": {"--ignore-mac", "--input-type", "--output-type", "--decryption-order",
            "--shamir-secret-sharing-threshold"},
}  # fmt: skip

_SET_VALUE = re.compile(r"\s*((?:\[[^\]]*\])+)\s+(.*)\Z", re.DOTALL)


def _is_add_remove(flag: str) -> bool:
    return flag.startswith(("--add-", "--rm-"))


def translate(args: Sequence[str]) -> list[str]:
    """The verb-form equivalent of a legacy command line (``args`` unchanged when not legacy)."""
    from pysops.errors import ConflictingParameters, InvalidSetFormat

    args = list(args)
    globals_: list[str] = []
    i = 0
    while i < len(args) and (args[i] in GLOBAL_VALUE or args[i] in GLOBAL_BOOL or args[i].startswith("--config=")):
        if args[i] in GLOBAL_VALUE and i + 1 < len(args):
            globals_ += args[i : i + 2]
            i += 2
        else:
            globals_.append(args[i])
            i += 1
    rest = args[i:]
    if not rest or rest[0] in COMMANDS:
        return args
    first = rest[0]
    if not first.startswith("-") and not _looks_like_file(first):
        return args
    known = first in MODES or first in VALUE_FLAGS or first in BOOL_FLAGS or first.partition("=")[0] == "--set"
    if first.startswith("-") and not known and not _is_add_remove(first):
        return args  # --help, --version and anything else the app handles itself
    modes: list[str] = []
    flags: list[tuple[str, str | None]] = []
    positional: list[str] = []
    set_value: str | None = None
    j = 0
    while j < len(rest):
        arg = rest[j]
        name, eq, inline = arg.partition("=")
        if arg == "--":
            positional += rest[j + 1 :]
            break
        if arg in MODES:
            modes.append(MODES[arg])
        elif name == "--set":
            modes.append("set")
            if eq:
                set_value = inline
            elif j + 1 < len(rest):
                j += 1
                set_value = rest[j]
        elif name in VALUE_FLAGS or _is_add_remove(name):
            value = inline if eq else (rest[j + 1] if j + 1 < len(rest) else "")
            if not eq:
                j += 1
            flags.append((VALUE_FLAGS.get(name, name), value))
        elif arg in BOOL_FLAGS:
            flags.append((BOOL_FLAGS[arg], None))
        elif arg in GLOBAL_BOOL:
            globals_.append(arg)
        elif name in GLOBAL_VALUE:
            value = inline if eq else (rest[j + 1] if j + 1 < len(rest) else "")
            if not eq:
                j += 1
            globals_ += [name, value]
        elif arg.startswith("-") and arg != "-":
            flags.append((arg, None))
        else:
            positional.append(arg)
        j += 1
    if len(set(modes)) > 1:
        raise ConflictingParameters(
            "More than one command (--encrypt, --decrypt, --rotate, --set) has been specified",
            hint="use one of them, or the verb form: pysops decrypt FILE",
        )
    mode = modes[0] if modes else None
    if mode is None:
        mode = "rotate" if any(_is_add_remove(f) for f, _ in flags) else "edit"
        if mode == "rotate" and ("--in-place", None) not in flags:
            flags.append(("--in-place", None))
    out: list[str] = [*globals_, mode]
    for flag, argument in flags:
        if flag == "--indent":
            sys.stderr.write("pysops: warning: --indent is ignored; set stores.<format>.indent in .sops.yaml\n")
            continue
        accepted = _ACCEPTS.get(mode)
        if accepted is not None and flag not in accepted and not (mode == "rotate" and _is_add_remove(flag)):
            continue
        out += [flag] if argument is None else [flag, argument]
    if mode == "set":
        match = _SET_VALUE.match(set_value or "")
        if match is None:
            raise InvalidSetFormat("Invalid --set format", hint="""use --set '["key"] "json value"'""")
        out += ["--", *positional, match.group(1), match.group(2)]
    else:
        out += positional
    return out


def _looks_like_file(arg: str) -> bool:
    """``pysops secrets.yaml`` (edit): a path, never a command name."""
    return "." in arg or os.sep in arg or "/" in arg or os.path.exists(arg)
