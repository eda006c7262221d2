"""Configuration files: discovery, creation rules and store settings (format.md §7).

pysops reads sops's ``.sops.yaml`` and its own ``.sops-policy.yaml`` (a superset: the same
``creation_rules`` and ``stores`` plus a ``policy`` section used by ``check``/``rotate``/``updatekeys``).

Discovery (``find_config``) differs from sops on purpose: ``--config`` and ``SOPS_CONFIG`` bypass the
search as in sops, but the search starts at the directory of the file being worked on and only then
falls back to the working directory, so ``pysops encrypt other/project/secret.yaml`` uses that
project's rules. At each level ``.sops-policy.yaml`` wins over ``.sops.yaml``; ``.sops.yml`` is
ignored like sops does, with a warning.

Creation rules follow sops 3.11 (checked against the binary): ``path_regex`` is searched (not
anchored) in the file path made relative to the config file's directory, the first matching rule
wins, flat recipient keys are comma-separated strings or lists of strings, ``key_groups`` replaces
them, ``merge`` entries come before a group's own keys (recursively), duplicates in a group are
dropped. Deliberate differences: a rule with only the removed ``filename_regex`` is an error (sops
silently treats it as a catch-all), duplicates are dropped from flat rules too, and bad types and
malformed recipients are reported with the config file and rule number.

``path_regex`` uses Python's ``re`` where sops uses Go's RE2. Both agree on everything ordinary
config files use (classes, anchors, alternation, groups, repetition); they differ only in exotic
syntax: RE2 has ``\\z``, ``\\pL`` and ``[[:alpha:]]``, which Python's ``re`` lacks or reads otherwise,
while lookaround and back-references exist only in Python.

Recipient types come from the ``pysops.keys`` registry (``KeyTypeSpec.rule_key`` for flat keys,
``group_key`` inside ``key_groups``); a key type may offer ``recipients_from_rule(rule)`` to read a
flat rule itself (e.g. KMS applying ``aws_profile`` to its ARNs). Nothing here names a key type.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence

from pysops import keys
from pysops._typing import TYPE_CHECKING, NamedTuple
from pysops.errors import ConfigError, NoMatchingCreationRule, PysopsError
from pysops.keys import REGISTRY, KeyTypeSpec, Recipient, split_recipients
from pysops.policy import SELECTION_KEYS

if TYPE_CHECKING:
    import re
    from typing import Any, NoReturn

#: Config file names in priority order at one directory level.
CONFIG_NAMES: tuple[str, ...] = (".sops-policy.yaml", ".sops.yaml")
#: sops ignores this spelling; we do too, but say so.
IGNORED_NAME = ".sops.yml"
#: How many directory levels the search climbs (sops: 100).
MAX_DEPTH = 100


#: ``stores`` section names, and the one used for each format.
STORE_SECTIONS: dict[str, str] = {
    "yaml": "yaml",
    "json": "json",
    "binary": "json_binary",
    "dotenv": "dotenv",
    "ini": "ini",
}

#: Strings go-yaml accepts when decoding into a Go bool (sops reads ``mac_only_encrypted`` so).
_YAML11_BOOLS: dict[str, bool] = {
    "y": True, "yes": True, "on": True, "true": True,
    "n": False, "no": False, "off": False, "false": False,
}  # fmt: skip


class CreationRule(NamedTuple):
    """The settings a matching creation rule gives a new file.

    ``key_groups`` is empty when the caller asked for the rule without its keys (CLI flags
    replace them); otherwise it holds at least one group and no group is empty.
    ``shamir_threshold`` 0 means "default" (the number of groups).
    ``selection`` is ``(setting, value)`` for the one of ``SELECTION_KEYS`` that is set, if any.
    """

    key_groups: tuple[tuple[Recipient, ...], ...]
    shamir_threshold: int = 0
    selection: tuple[str, str] | None = None
    mac_only_encrypted: bool = False
    position: int = 0  # index in creation_rules, for messages
    path_regex: str | None = None


class Config(NamedTuple):
    """A loaded configuration file (or the empty configuration when none was found).

    ``creation_rules`` is the raw list as written (None when the file has none, like sops, which
    then treats the file as absent for key selection); ``stores`` maps a section name (``yaml``,
    ``json``, ``json_binary``, ``dotenv``, ``ini``) to its settings; ``policy`` and
    ``destination_rules`` are kept raw for the commands that use them. ``warnings`` are messages
    the CLI should print (e.g. an ignored ``.sops.yml``).
    """

    path: str | None = None
    creation_rules: tuple[Any, ...] | None = None
    stores: Mapping[str, Mapping[str, Any]] = {}
    policy: Any = None
    destination_rules: Any = None
    warnings: tuple[str, ...] = ()

    @property
    def dir(self) -> str | None:
        """The absolute directory of the config file: creation-rule paths are relative to it."""
        if self.path is None:
            return None
        return os.path.abspath(os.path.dirname(self.path))

    @property
    def has_creation_rules(self) -> bool:
        return self.creation_rules is not None

    def rule_for(self, path: str, *, cwd: str | None = None, with_keys: bool = True) -> CreationRule:
        """The first creation rule matching ``path`` (a file name, relative to ``cwd``).

        With ``with_keys=False`` the rule's recipients are not read (``key_groups`` is empty), for
        callers that were given recipients on the command line: as with sops, those replace the
        rule's keys, and the rule only contributes its other settings.
        Raises ``NoMatchingCreationRule`` when no rule matches (including when there is no config
        file or it has no ``creation_rules``: check ``has_creation_rules`` to tell these apart) and
        ``ConfigError`` when a rule on the way is invalid.
        """
        if self.path is None:
            raise NoMatchingCreationRule(
                "no configuration file found (.sops-policy.yaml or .sops.yaml)",
                hint="create one with creation_rules, or give recipients with --age/--pgp",
            )
        if self.creation_rules is None:
            raise NoMatchingCreationRule(
                f"{self.path}: the configuration has no creation_rules",
                hint="add creation_rules, or give recipients with --age/--pgp",
            )
        base = cwd if cwd is not None else os.getcwd()
        absolute = os.path.abspath(os.path.join(base, path))
        config_dir = self.dir or os.sep
        prefix = config_dir if config_dir.endswith(os.sep) else config_dir + os.sep
        relative = absolute[len(prefix) :] if absolute.startswith(prefix) else absolute
        for index, raw in enumerate(self.creation_rules):
            where = _Where(self.path, index)
            if not isinstance(raw, Mapping):
                where.fail("a creation rule must be a mapping")
            if _rule_matches(raw, relative, where):
                return _build_rule(raw, where, with_keys=with_keys)
        raise NoMatchingCreationRule(
            "no matching creation rules found",
            hint=f"no path_regex in {self.path} matches {relative!r}; add a rule for it or a catch-all rule",
        )


def find_config(
    file_path: str | None,
    *,
    explicit: str | None,
    env: Mapping[str, str],
    cwd: str,
    warnings: list[str] | None = None,
) -> str | None:
    """Locate the configuration file for working on ``file_path`` (None for stdin without a name).

    ``explicit`` (``--config``) wins, then ``SOPS_CONFIG``; both must exist. Otherwise the search
    climbs from the file's directory, then from ``cwd``, at most ``MAX_DEPTH`` levels each.
    Messages about ignored ``.sops.yml`` files are appended to ``warnings`` when given.
    """
    chosen = explicit or env.get("SOPS_CONFIG") or None
    if chosen is not None:
        candidate = os.path.join(cwd, chosen)
        if not os.path.isfile(candidate):
            source = "--config" if explicit else "SOPS_CONFIG"
            raise ConfigError(f"could not read config file {chosen} (from {source}): no such file")
        return candidate
    starts: list[str] = []
    if file_path is not None:
        starts.append(os.path.dirname(os.path.abspath(os.path.join(cwd, file_path))))
    starts.append(os.path.abspath(cwd))
    seen: set[str] = set()
    for start in starts:
        for directory in _ancestors(start):
            if directory in seen:
                continue
            seen.add(directory)
            for name in CONFIG_NAMES:
                candidate = os.path.join(directory, name)
                if os.path.isfile(candidate):
                    return candidate
            ignored = os.path.join(directory, IGNORED_NAME)
            if warnings is not None and os.path.isfile(ignored):
                warnings.append(
                    f'ignoring "{ignored}" when searching for config file; '
                    f'the config file must be called ".sops.yaml" (or ".sops-policy.yaml")'
                )
    return None


def load_config(path: str | os.PathLike[str], *, warnings: Sequence[str] = ()) -> Config:
    """Parse a configuration file. Errors name the file; unknown keys are ignored (like sops)."""
    config_path = os.fspath(path)
    try:
        with open(config_path, "rb") as handle:
            text = handle.read().decode("utf-8").removeprefix("\ufeff")
    except OSError as exc:
        raise ConfigError(f"could not read config file {config_path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"could not read config file {config_path}: it is not UTF-8 text") from None
    data = _parse_yaml(text, config_path)
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{config_path}: the configuration must be a mapping (creation_rules:, stores:, ...), not a {_kind(data)}"
        )
    rules = data.get("creation_rules")
    if rules is not None and not isinstance(rules, list):
        raise ConfigError(f"{config_path}: creation_rules must be a list of rules, not a {_kind(rules)}")
    return Config(
        path=config_path,
        creation_rules=None if rules is None else tuple(rules),
        stores=_parse_stores(data.get("stores"), config_path),
        policy=data.get("policy"),
        destination_rules=data.get("destination_rules"),
        warnings=tuple(warnings),
    )


def discover_config(file_path: str | None, *, explicit: str | None, env: Mapping[str, str], cwd: str) -> Config:
    """``find_config`` then ``load_config``; the empty ``Config`` (``path`` None) when none exists.
    Warnings met during the search end up in ``Config.warnings`` either way."""
    warnings: list[str] = []
    found = find_config(file_path, explicit=explicit, env=env, cwd=cwd, warnings=warnings)
    if found is None:
        return Config(warnings=tuple(warnings))
    return load_config(found, warnings=warnings)


def recipients_from_flags(
    flags: Mapping[str, str | None], env: Mapping[str, str], options: Mapping[str, str] | None = None
) -> list[Recipient]:
    """Recipients given on the command line (``flags[type name]``, a comma list) or, for a type
    whose flag is absent, in its environment variable (``SOPS_AGE_RECIPIENTS``, ``SOPS_PGP_FP``…).
    Duplicates are dropped; order is registry order, then the order given."""
    found: list[Recipient] = []
    for spec in REGISTRY:
        text = flags.get(spec.name)
        if text is None:
            text = env.get(spec.env_recipients, "")
        items = split_recipients(text)
        if items:
            kt = keys.key_type(spec.name)
            found.extend(kt.parse_recipient(item, options) for item in items)
    return list(_dedupe(found))


def store_options(config: Config | None, format_name: str) -> dict[str, Any]:
    """The ``stores.<section>`` settings for a format (binary files use ``json_binary``)."""
    if config is None:
        return {}
    section = STORE_SECTIONS.get(format_name, format_name)
    return dict(config.stores.get(section, {}))


# --- internals -------------------------------------------------------------------------------------


class _Where(NamedTuple):
    """Where in which file a rule lives, to prefix error messages."""

    path: str
    position: int

    def fail(self, message: str, hint: str | None = None) -> NoReturn:
        raise ConfigError(f"{self.path}: creation rule {self.position + 1}: {message}", hint=hint)


def _ancestors(start: str) -> Iterator[str]:
    directory = start
    for _ in range(MAX_DEPTH):
        yield directory
        parent = os.path.dirname(directory)
        if parent == directory:
            return
        directory = parent


def _parse_yaml(text: str, path: str) -> Any:
    """The data of the config file, read like the YAML store reads (typed like go-yaml v3, as
    sops reads it). Imported here: a decrypt without a config file does not pay for it."""
    from pysops.formats.yamlcore import load_data

    try:
        return load_data(text)
    except PysopsError as exc:
        raise ConfigError(
            f"could not parse config file {path}: {exc.message}", hint="fix the YAML syntax of the file"
        ) from None


def _parse_stores(raw: Any, path: str) -> dict[str, dict[str, Any]]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path}: stores must be a mapping of format names to settings")
    stores: dict[str, dict[str, Any]] = {}
    for name, settings in raw.items():
        if settings is None:
            settings = {}
        if not isinstance(settings, Mapping):
            raise ConfigError(f"{path}: stores.{name} must be a mapping of settings")
        stores[str(name)] = dict(settings)
    return stores


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        return "mapping"
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    return type(value).__name__


def _rule_matches(raw: Mapping[str, Any], relative: str, where: _Where) -> bool:
    pattern = raw.get("path_regex")
    if pattern is None or pattern == "":
        if raw.get("filename_regex") not in (None, ""):
            where.fail(
                "filename_regex was removed from sops (sops would treat this rule as matching every file)",
                hint="rename filename_regex to path_regex",
            )
        return True
    if not isinstance(pattern, str):
        where.fail(f"path_regex must be a string, not a {_kind(pattern)}")
    return _compile(pattern, "path_regex", where).search(relative) is not None


def _compile(pattern: str, setting: str, where: _Where) -> re.Pattern[str]:
    import re

    from pysops import re2compat

    # Refuse what Go's RE2 (sops) would read otherwise or not at all: sops refuses such a
    # path_regex, and an invalid selection regex silently selects nothing in sops.
    problem = re2compat.re2_problem(pattern)
    if problem is not None:
        where.fail(f"{setting} {pattern!r} is not a valid regular expression for sops: {problem}", hint=re2compat.HINT)
    return re.compile(pattern)


def _build_rule(raw: Mapping[str, Any], where: _Where, *, with_keys: bool) -> CreationRule:
    selection: tuple[str, str] | None = None
    for setting in SELECTION_KEYS:
        value = raw.get(setting)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            where.fail(f"{setting} must be a string, not a {_kind(value)}")
        if selection is not None:
            where.fail(
                f"cannot use more than one of {', '.join(SELECTION_KEYS)} in the same rule "
                f"(found {selection[0]} and {setting})",
                hint="keep one selection setting per rule",
            )
        if setting.endswith("_regex"):
            _compile(value, setting, where)
        selection = (setting, value)

    threshold = raw.get("shamir_threshold")
    if threshold is None:
        threshold = 0
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 0:
        where.fail(f"shamir_threshold must be a non-negative integer, not {threshold!r}")

    mac_only = _parse_bool(raw.get("mac_only_encrypted"), "mac_only_encrypted", where)

    groups: tuple[tuple[Recipient, ...], ...] = ()
    if with_keys:
        groups = _rule_key_groups(raw, where)
    pattern = raw.get("path_regex")
    return CreationRule(
        key_groups=groups,
        shamir_threshold=threshold,
        selection=selection,
        mac_only_encrypted=mac_only,
        position=where.position,
        path_regex=pattern if isinstance(pattern, str) and pattern else None,
    )


def _parse_bool(value: Any, setting: str, where: _Where) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _YAML11_BOOLS:
        return _YAML11_BOOLS[value.lower()]
    where.fail(f"{setting} must be true or false, not {value!r}")


def _rule_key_groups(raw: Mapping[str, Any], where: _Where) -> tuple[tuple[Recipient, ...], ...]:
    raw_groups = raw.get("key_groups")
    if raw_groups is not None:
        if not isinstance(raw_groups, list):
            where.fail(f"key_groups must be a list of key groups, not a {_kind(raw_groups)}")
        if not raw_groups:
            where.fail(
                "key_groups is empty: a file needs at least one key group",
                hint="list recipients under key_groups, or remove it and use age:/pgp: on the rule",
            )
        groups: list[tuple[Recipient, ...]] = []
        for number, raw_group in enumerate(raw_groups, start=1):
            group = tuple(_dedupe(_group_recipients(raw_group, where, f"key group {number}", depth=0)))
            if not group:
                where.fail(
                    f"key group {number} has no keys",
                    hint="every key group needs at least one recipient (age:, pgp:, ...)",
                )
            groups.append(group)
        return tuple(groups)
    flat = tuple(_dedupe(_flat_recipients(raw, where)))
    if not flat:
        where.fail(
            "the rule has no keys",
            hint="add recipients (age:, pgp:, key_groups:) to the rule, or give them with --age/--pgp",
        )
    return (flat,)


def _flat_recipients(raw: Mapping[str, Any], where: _Where) -> Iterator[Recipient]:
    for spec in REGISTRY:
        kt = keys.key_type(spec.name)
        reader = getattr(kt, "recipients_from_rule", None)
        if reader is not None:
            try:
                found: list[Recipient] = list(reader(raw))
            except PysopsError as exc:
                where.fail(exc.message, exc.hint)
            yield from found
            continue
        for text in _string_items(raw.get(spec.rule_key), spec.rule_key, where):
            try:
                recipient = kt.parse_recipient(text)
            except PysopsError as exc:
                where.fail(exc.message, exc.hint)
            yield recipient


def _group_recipients(raw_group: Any, where: _Where, label: str, depth: int) -> Iterator[Recipient]:
    if depth > 32:
        where.fail(f"{label}: merge is nested too deeply")
    if not isinstance(raw_group, Mapping):
        where.fail(f"{label} must be a mapping of key types to lists, not a {_kind(raw_group)}")
    merged = raw_group.get("merge")
    if merged is not None:
        if not isinstance(merged, list):
            where.fail(f"{label}: merge must be a list of key groups, not a {_kind(merged)}")
        for item in merged:
            yield from _group_recipients(item, where, f"{label} (merged)", depth + 1)
    for spec in REGISTRY:
        items = raw_group.get(spec.group_key)
        if items is None:
            continue
        if not isinstance(items, list):
            where.fail(f"{label}: {spec.group_key} must be a list, not a {_kind(items)}")
        yield from _group_items(spec, items, where, label)


def _group_items(spec: KeyTypeSpec, items: list[Any], where: _Where, label: str) -> Iterator[Recipient]:
    kt = keys.key_type(spec.name)
    for item in items:
        # A string item may hold a comma list, as sops's age parser allows; structured entries
        # (dicts of cloud key types) go to the type as they are.
        entries: Iterable[Any] = split_recipients(item) if isinstance(item, str) else [item]
        for entry in entries:
            try:
                recipient = kt.recipient_from_config(entry)
            except PysopsError as exc:
                where.fail(f"{label}: {exc.message}", exc.hint)
            yield recipient


def _string_items(value: Any, setting: str, where: _Where) -> list[str]:
    """A flat rule key: a comma list, or a YAML list of strings (each may itself be a comma list)."""
    if value is None:
        return []
    if isinstance(value, str):
        return split_recipients(value)
    if isinstance(value, list):
        result: list[str] = []
        for item in value:
            if not isinstance(item, str):
                where.fail(f"{setting} must be a string or a list of strings; found a {_kind(item)} item")
            result.extend(split_recipients(item))
        return result
    where.fail(f"{setting} must be a string or a list of strings, not a {_kind(value)}")


def _dedupe(recipients: Iterable[Recipient]) -> Iterator[Recipient]:
    seen: set[tuple[str, str]] = set()
    for recipient in recipients:
        marker = (recipient.type, recipient.id)
        if marker not in seen:
            seen.add(marker)
            yield recipient
