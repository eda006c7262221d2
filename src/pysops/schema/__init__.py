"""The JSON Schema of ``.sops-policy.yaml`` / ``.sops.yaml`` and a small validator for it.

``sops-policy.schema.json`` (shipped beside this module) describes sops's ``creation_rules``,
``destination_rules`` and ``stores`` plus pysops's ``policy`` section; unknown keys are errors
(sops ignores them, so a typo such as ``filename_regex`` turns a rule into a catch-all).

The validator implements the part of JSON Schema (2020-12) the file uses: ``type`` (one name or a
list), ``properties``, ``additionalProperties`` (false or a schema), ``required``, ``items``,
``minItems``, ``enum``, ``minimum``, ``maximum``, ``pattern``, ``anyOf`` and local ``$ref``
(``#/$defs/NAME``). ``validate_config_text`` adds the checks a schema cannot state (one selection
setting per rule, regular expressions that compile, recipients that parse) and gives every
problem the line of the YAML file it is on.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from typing import Any, NamedTuple

from pysops.errors import ConfigError, PysopsError

SCHEMA_FILE = "sops-policy.schema.json"

Path = tuple[str | int, ...]


class Problem(NamedTuple):
    """One validation problem: where in the data (keys and indexes from the root) and what."""

    path: Path
    message: str


@lru_cache(maxsize=1)
def load_schema() -> dict[str, Any]:
    """The shipped schema."""
    text = resources.files(__package__).joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def describe(path: Path) -> str:
    """``creation_rules[0].key_groups[1].age`` (``top level`` for the root)."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "top level"


_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


def _is_type(value: Any, name: str) -> bool:
    if name == "object":
        return isinstance(value, Mapping)
    if name == "array":
        return isinstance(value, list)
    if name == "string":
        return isinstance(value, str)
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "null":
        return value is None
    raise ValueError(f"unsupported schema type {name!r}")


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    seen = 0
    while "$ref" in schema:
        ref = schema["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#/"):
            raise ValueError(f"unsupported $ref {ref!r}")
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        schema = target
        seen += 1
        if seen > 64:
            raise ValueError(f"$ref loop at {ref!r}")
    return schema


def _show(value: Any) -> str:
    return "null" if value is None else json.dumps(value) if isinstance(value, str) else str(value)


def validate(instance: Any, schema: Mapping[str, Any] | None = None) -> list[Problem]:
    """Every problem of ``instance`` against ``schema`` (default: the shipped one), in document
    order. Under a failed ``type`` check nothing deeper is reported."""
    root = schema if schema is not None else load_schema()
    problems: list[Problem] = []
    _check(instance, root, root, (), problems)
    return problems


def _check(value: Any, schema: Mapping[str, Any], root: Mapping[str, Any], path: Path, out: list[Problem]) -> None:
    schema = _resolve(schema, root)
    where = describe(path)
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        if not any(_is_type(value, name) for name in names):
            wanted = " or ".join(_TYPE_NAMES[name] for name in names if name != "null")
            out.append(Problem(path, f"{where} must be {wanted or 'null'}, not {_kind(value)}"))
            return
    if "enum" in schema and not any(value == item and type(value) is type(item) for item in schema["enum"]):
        allowed = ", ".join(_show(item) for item in schema["enum"] if item is not None)
        out.append(Problem(path, f"{where} must be one of {allowed}, not {_show(value)}"))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            out.append(Problem(path, f"{where} must be at least {schema['minimum']}, not {value}"))
        if "maximum" in schema and value > schema["maximum"]:
            out.append(Problem(path, f"{where} must be at most {schema['maximum']}, not {value}"))
    if isinstance(value, str) and "pattern" in schema and re.search(schema["pattern"], value) is None:
        out.append(Problem(path, f"{where}: {_show(value)} does not match {schema['pattern']}"))
    if "anyOf" in schema:
        branches = schema["anyOf"]
        if not any(not _sub(value, branch, root, path) for branch in branches):
            out.append(Problem(path, f"{where} matches none of the allowed forms"))
    if isinstance(value, Mapping):
        _check_mapping(value, schema, root, path, out)
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            out.append(Problem(path, f"{where} must have at least {schema['minItems']} item(s)"))
        items = schema.get("items")
        if items is not None:
            for index, item in enumerate(value):
                _check(item, items, root, (*path, index), out)


def _sub(value: Any, schema: Mapping[str, Any], root: Mapping[str, Any], path: Path) -> list[Problem]:
    found: list[Problem] = []
    _check(value, schema, root, path, found)
    return found


#: Keys sops once read under another name (sops now ignores them: a rule with only
#: ``filename_regex`` matches every file).
_RENAMED = {"filename_regex": "path_regex"}


def _check_mapping(
    value: Mapping[Any, Any], schema: Mapping[str, Any], root: Mapping[str, Any], path: Path, out: list[Problem]
) -> None:
    where = describe(path)
    properties: Mapping[str, Any] = schema.get("properties", {})
    for name in schema.get("required", ()):
        if name not in value:
            out.append(Problem(path, f"{where}: missing required key {json.dumps(name)}"))
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        child: Path = (*path, str(key))
        if isinstance(key, str) and key in properties:
            _check(item, properties[key], root, child, out)
        elif extra is False:
            close = [_RENAMED[key]] if key in _RENAMED else difflib.get_close_matches(str(key), list(properties), n=1)
            hint = f" (did you mean {json.dumps(close[0])}?)" if close else ""
            out.append(Problem(child, f"{where}: unknown key {json.dumps(str(key))}{hint}"))
        elif isinstance(extra, Mapping):
            _check(item, extra, root, child, out)


# --------------------------------------------------------------------------------------------
# Line numbers: where each key and item of a YAML file starts
# --------------------------------------------------------------------------------------------


def yaml_lines(text: str) -> dict[Path, int]:
    """1-based line of every mapping key and sequence item of the first document, by path.

    Read from the same event stream ``pysops.formats.yamlcore.load_data`` reads, so the paths
    match its data (entries brought in by a merge key ``<<`` keep the line of the ``<<``)."""
    from pysops.formats.yamlcore import event_source, resolve_plain

    lib, get_event, yaml_error = event_source(text[1:] if text.startswith("\ufeff") else text)
    starts = (lib.MappingStartEvent, lib.SequenceStartEvent)
    ends = (lib.MappingEndEvent, lib.SequenceEndEvent)
    lines: dict[Path, int] = {}
    # frames: [path, is_mapping, next index (sequences) or pending key (mappings; None: a key is next)]
    stack: list[list[Any]] = []

    def child_path(event: Any) -> Path | None:
        """The path of a node that starts now, or None when it is a mapping key."""
        if not stack:
            return ()
        frame = stack[-1]
        if frame[1]:
            if frame[2] is None:
                return None
            key = frame[2]
            frame[2] = None
            return (*frame[0], key)
        index = frame[2]
        frame[2] += 1
        path: Path = (*frame[0], index)
        lines.setdefault(path, event.start_mark.line + 1)
        return path

    try:
        while True:
            event = get_event()
            cls = type(event)
            if cls is lib.ScalarEvent:
                path = child_path(event)
                if path is None:
                    plain = not event.style and event.tag is None
                    key: Any = resolve_plain(event.value) if plain else event.value
                    name = event.value if key is None or isinstance(key, bool) else str(key)
                    stack[-1][2] = name
                    lines.setdefault((*stack[-1][0], name), event.start_mark.line + 1)
                elif not stack:
                    lines.setdefault((), event.start_mark.line + 1)
                    break
            elif cls in starts:
                path = child_path(event)
                if path is None:  # a complex key: load_data refuses it anyway
                    break
                lines.setdefault(path, event.start_mark.line + 1)
                stack.append([path, cls is lib.MappingStartEvent, None if cls is lib.MappingStartEvent else 0])
            elif cls in ends:
                stack.pop()
                if not stack:
                    break
            elif cls is lib.AliasEvent:
                path = child_path(event)
                if path is None:
                    stack[-1][2] = f"*{event.anchor}"
                elif not stack:
                    break
            elif cls is lib.StreamEndEvent:
                break
    except yaml_error:
        pass
    return lines


def line_of(path: Path, lines: Mapping[Path, int]) -> int:
    """The line of ``path``, or of its nearest ancestor that has one (1 when none)."""
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get((), 1)


# --------------------------------------------------------------------------------------------
# A whole config file
# --------------------------------------------------------------------------------------------


def config_problems(text: str) -> list[tuple[int, str]]:
    """``(line, message)`` for every problem of a config file's text, sorted by line: YAML
    syntax, the schema, then what the schema cannot say (checked on parts the schema accepted)."""
    from pysops.formats.yamlcore import load_data

    try:
        data = load_data(text[1:] if text.startswith("\ufeff") else text)
    except PysopsError as exc:
        match = re.match(r"line (\d+): (.*)", exc.message)
        if match:
            return [(int(match.group(1)), match.group(2))]
        found = re.findall(r"line (\d+)", exc.message)
        message = re.sub(r' in "<unicode string>", line \d+, column \d+', "", exc.message)
        return [(int(found[-1]) if found else 1, f"invalid YAML: {message}")]
    if data is None:
        data = {}
    lines = yaml_lines(text)
    problems = validate(data)
    result = [(line_of(p.path, lines), p.message) for p in problems]
    if isinstance(data, Mapping):
        bad = {p.path[:2] for p in problems}
        result.extend(_semantic(data, bad, lines))
    result.sort(key=lambda item: item[0])
    return result


def _semantic(data: Mapping[str, Any], bad: set[Path], lines: Mapping[Path, int]) -> list[tuple[int, str]]:
    from pysops import config as config_module
    from pysops.policyfile import policy_from

    out: list[tuple[int, str]] = []
    rules = data.get("creation_rules")
    if isinstance(rules, list):
        for index, raw in enumerate(rules):
            path: Path = ("creation_rules", index)
            if path in bad or not isinstance(raw, Mapping):
                continue
            where = config_module._Where("", index)
            try:
                if raw.get("path_regex"):
                    config_module._rule_matches(raw, "", where)
                config_module._build_rule(raw, where, with_keys=True)
            except ConfigError as exc:
                out.append((line_of(path, lines), exc.message.removeprefix(": ")))
    policy = data.get("policy")
    if ("policy",) not in {p[:1] for p in bad} and policy is not None:
        try:
            parsed = policy_from(policy, "")
        except ConfigError as exc:
            out.append((line_of(("policy",), lines), exc.message.removeprefix(": ")))
        else:
            for field in ("required_recipients", "allowed_recipients"):
                for position, name in enumerate(getattr(parsed, field)):
                    message = recipient_name_problem(name)
                    if message:
                        raw_field = policy.get(field) if isinstance(policy, Mapping) else None
                        item: Path = ("policy", field, position) if isinstance(raw_field, list) else ("policy", field)
                        out.append((line_of(item, lines), f"policy.{field}: {message}"))
    return out


def recipient_name_problem(name: str) -> str | None:
    """Why ``TYPE:ID`` is not a recipient name pysops can compare, or None when it is."""
    from pysops.keys import SPECS, key_type

    kind, sep, ident = name.partition(":")
    if not sep or kind not in SPECS:
        return f"{json.dumps(name)} is not TYPE:ID with TYPE one of {', '.join(SPECS)}"
    try:
        recipient = key_type(kind).parse_recipient(ident)
    except PysopsError as exc:
        return f"{json.dumps(name)}: {exc.message}"
    if recipient.id != ident:
        return f"{json.dumps(name)} is not written as the file's metadata names it ({kind}:{recipient.id})"
    return None
