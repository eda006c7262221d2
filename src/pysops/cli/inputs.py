"""What every command does with files: read the input, pick formats, find config, write output."""

from __future__ import annotations

import os
import sys

from pysops._typing import TYPE_CHECKING, NamedTuple
from pysops.errors import ConflictingParameters

if TYPE_CHECKING:
    from typing import Any

FORMATS = ("yaml", "json", "dotenv", "ini", "binary")


class Input(NamedTuple):
    data: bytes
    path: str | None  # None for stdin
    name_for_rules: str | None  # --filename-override or the path


def read_input(file: str | None, filename_override: str | None) -> Input:
    if file is None or file == "-":
        data = sys.stdin.buffer.read()
        return Input(data, None, filename_override)
    from pysops.bulk import read_file

    data = read_file(file)
    return Input(data, file, filename_override or file)


def pick_format(explicit: str | None, name: str | None, default: str = "binary") -> str:
    """``--input-type``/``--output-type`` if valid, else the file name's extension (as sops does)."""
    if explicit:
        if explicit in FORMATS:
            return explicit
        if explicit == "env":
            return "dotenv"
    if name:
        from pysops.formats import format_for_path

        return format_for_path(name)
    return default


def pick_formats(input_type: str | None, output_type: str | None, name: str | None) -> tuple[str, str]:
    """The input and output formats: the flags, else the name's extension; the output defaults
    to the input's format."""
    in_fmt = pick_format(input_type, name)
    return in_fmt, pick_format(output_type, None, default=in_fmt)


def recipient_options(encryption_context: str | None, aws_profile: str | None) -> dict[str, str]:
    """The RecipientOptions given on the command line for new keys (``--encryption-context``,
    ``--aws-profile``), without the ones not given."""
    given = (("encryption_context", encryption_context), ("aws_profile", aws_profile))
    return {name: value for name, value in given if value}


def check_output_flags(in_place: bool, output: str | None, inp: Input) -> None:
    if in_place and output:
        raise ConflictingParameters("--in-place and --output cannot be used together")
    if in_place and inp.path is None:
        raise ConflictingParameters("--in-place needs a file, not standard input")


def pick_selection(selection: dict[str, str | None]) -> tuple[str, str] | None:
    """The one suffix/regex selection option given (option name, value), or None; more is an error."""
    chosen = [(k, v) for k, v in selection.items() if v is not None]
    if len(chosen) > 1:
        raise ConflictingParameters(
            "only one of the suffix/regex selection options can be used",
            hint=f"got {', '.join(k for k, _ in chosen)}",
        )
    if not chosen:
        return None
    from pysops import re2compat

    problem = re2compat.selection_problem(chosen[0], "--" + chosen[0][0].replace("_", "-"))
    if problem is not None:
        from pysops.errors import ConfigError

        raise ConfigError(problem, hint=re2compat.HINT)
    return chosen[0]


def write_output(data: bytes, *, in_place: bool, output: str | None, inp: Input, private: bool) -> None:
    if in_place or output:
        from pysops.atomic import write_atomic

        target = inp.path if in_place else output
        assert target is not None
        write_atomic(target, data, private=private)
    else:
        write_stdout(data)


def write_stdout(data: bytes) -> None:
    """Write a command's output to standard output; a closed or full one is a GenericError (exit
    1, like sops on a full device), a closed pipe stays BrokenPipeError (``main`` handles it)."""
    from pysops.errors import GenericError

    if sys.stdout is None:
        raise GenericError("cannot write the output: standard output is closed", hint="use --output FILE")
    try:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise GenericError(f"cannot write to standard output: {exc.strerror}") from None


def load_config(name: str | None, config_flag: str | None) -> Any:
    """The Config for a file (None when there is none). Imported lazily: decrypt stays light."""
    from pysops import config

    cfg = config.discover_config(name, explicit=config_flag, env=os.environ, cwd=os.getcwd())
    for warning in cfg.warnings:
        sys.stderr.write(f"pysops: warning: {warning}\n")
    return cfg


def store_options(cfg: Any, fmt: str) -> dict[str, Any]:
    if cfg is None:
        return {}
    from pysops import config

    opts: dict[str, Any] = config.store_options(cfg, fmt)
    return opts


def absolute(name: str | None) -> str | None:
    """The name made absolute against the working directory (config discovery and rule matching
    normalise it further). os.path, not pathlib: importing pathlib costs a small decrypt ~4 ms."""
    if not name:
        return None
    if os.path.isabs(name):
        return name
    return os.path.join(os.getcwd(), name)


def encryption_options(
    cfg: Any,
    name: str | None,
    *,
    recipient_flags: dict[str, str | None],
    env: Any,
    selection: tuple[str, str] | None,
    shamir_threshold: int,
    mac_only_encrypted: bool,
    recipient_options: dict[str, str] | None = None,
    allow_hsm_only: bool = False,
) -> Any:
    """Combine CLI flags, SOPS_*_RECIPIENTS variables and the creation rule like sops does:
    recipients from flags (an empty flag counts as not given), else from the environment, else
    from the matching creation rule; selection/threshold/mac_only_encrypted from flags, else
    from the rule."""
    from pysops import api, config
    from pysops.errors import NoMatchingCreationRule

    given = {name: text for name, text in recipient_flags.items() if text}
    recipients = config.recipients_from_flags(given, env, recipient_options)
    rule = None
    if cfg is not None:
        try:
            rule = cfg.rule_for(name or "", with_keys=not recipients)
        except NoMatchingCreationRule:
            if not recipients:
                raise
    if recipients:
        groups: list[list[Any]] = [list(recipients)]
    elif rule is not None:
        groups = [list(g) for g in rule.key_groups]
        if recipient_options:
            # Command-line options (e.g. --encryption-context) reach the rule's keys through
            # each type's optional `with_options` hook.
            from pysops.keys import SPECS, key_type

            groups = [
                [
                    getattr(key_type(r.type), "with_options", lambda key, _opts: key)(r, recipient_options)
                    if r.type in SPECS
                    else r
                    for r in group
                ]
                for group in groups
            ]
    else:
        from pysops.errors import GenericError

        raise GenericError(
            "no recipients: nothing to encrypt the data key for",
            hint="pass --age/--pgp, set SOPS_AGE_RECIPIENTS, or add a creation rule to .sops.yaml",
        )
    # pkcs11 (issue 4): `.sops-policy.yaml` may allow files that only pysops can open (every
    # recipient an HSM key) with `policy: {allow_hsm_only: true}`, like --allow-hsm-only.
    from collections.abc import Mapping

    policy_section = getattr(cfg, "policy", None)
    if isinstance(policy_section, Mapping) and policy_section.get("allow_hsm_only") is True:
        allow_hsm_only = True
    return api.EncryptOptions(
        key_groups=groups,
        shamir_threshold=shamir_threshold or (rule.shamir_threshold if rule is not None else 0),
        selection=selection or (rule.selection if rule is not None else None),
        mac_only_encrypted=mac_only_encrypted or (rule.mac_only_encrypted if rule is not None else False),
        allow_hsm_only=allow_hsm_only,
    )


class ConfigCache:
    """``load_config`` for many files: one discovery per directory (the search only depends on
    the file's directory), each warning printed once."""

    def __init__(self, config_flag: str | None) -> None:
        self.config_flag = config_flag
        self._by_dir: dict[str, Any] = {}
        self._warned: set[str] = set()

    def get(self, path: str) -> Any:
        from pysops import config

        directory = os.path.dirname(absolute(path) or "")
        if directory not in self._by_dir:
            cfg = config.discover_config(
                os.path.join(directory, "_"), explicit=self.config_flag, env=os.environ, cwd=os.getcwd()
            )
            for warning in cfg.warnings:
                if warning not in self._warned:
                    self._warned.add(warning)
                    sys.stderr.write(f"pysops: warning: {warning}\n")
            self._by_dir[directory] = cfg
        return self._by_dir[directory]

    def store_options(self, path: str, fmt: str) -> dict[str, Any]:
        return store_options(self.get(path), fmt)
