"""The ``sops`` metadata block as a dataclass, to and from the on-disk dict (format.md §3).

The on-disk dict is what a store reads and writes (plain data, field order = emission order).
dotenv/INI give every leaf as a string; ``Metadata.from_dict`` normalises those.
"""

from __future__ import annotations

from collections.abc import Mapping

from pysops._typing import TYPE_CHECKING
from pysops.errors import GenericError, MacMismatch, MetadataNotFound
from pysops.keys import (
    FLAT_ORDER_AFTER_MAC,
    FLAT_ORDER_BEFORE_DATES,
    GROUP_ALWAYS,
    GROUP_ORDER,
    SPECS,
    WrappedKey,
)
from pysops.policy import SELECTION_KEYS

if TYPE_CHECKING:
    from typing import Any

VERSION = "3.11.0"


_KNOWN_TOP = {"shamir_threshold", "key_groups", "lastmodified", "mac", "mac_only_encrypted", "version"}


class Metadata:
    """The metadata block. ``extra`` keeps top-level fields pysops does not know (kept on rewrite)."""

    __slots__ = (
        "key_groups", "lastmodified", "mac", "shamir_threshold", "selection", "mac_only_encrypted",
        "version", "extra",
    )  # fmt: skip

    def __init__(
        self,
        key_groups: list[list[WrappedKey]],
        lastmodified: str,
        mac: str = "",
        shamir_threshold: int = 0,
        selection: tuple[str, str] | None = None,
        mac_only_encrypted: bool = False,
        version: str = VERSION,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.key_groups = key_groups
        self.lastmodified = lastmodified
        self.mac = mac
        self.shamir_threshold = shamir_threshold
        self.selection = selection
        self.mac_only_encrypted = mac_only_encrypted
        self.version = version
        self.extra: dict[str, Any] = {} if extra is None else extra

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> Metadata:
        if raw is None:
            raise MetadataNotFound("sops metadata not found", hint="the file is not encrypted (no 'sops' block)")
        if not isinstance(raw, Mapping):
            raise GenericError("the sops metadata block is not a mapping")
        version = raw.get("version")
        if version is not None and not isinstance(version, str):
            raise GenericError(
                "the sops metadata version is not a string: this file was written by sops 1.x",
                hint="decrypt it with sops 1.x and encrypt it again",
            )
        groups_raw = raw.get("key_groups")
        groups: list[list[WrappedKey]] = []
        if groups_raw:
            if not isinstance(groups_raw, list):
                raise GenericError("sops metadata: key_groups is not a list")
            for group in groups_raw:
                if not isinstance(group, Mapping):
                    raise GenericError("sops metadata: a key group is not a mapping")
                groups.append(_read_group(group))
        else:
            groups.append(_read_group(raw))
        selection = None
        for name in SELECTION_KEYS:
            value = raw.get(name)
            if value not in (None, ""):
                if selection is not None:
                    raise GenericError(f"sops metadata has both {selection[0]} and {name}; at most one is allowed")
                selection = (name, str(value))
        if selection is not None and selection[0].endswith("_regex"):
            _check_regex(selection)
        threshold = raw.get("shamir_threshold") or 0
        try:
            threshold = int(threshold)
        except (TypeError, ValueError):
            raise GenericError("sops metadata: shamir_threshold is not a number") from None
        mac_only = raw.get("mac_only_encrypted", False)
        if isinstance(mac_only, str):
            mac_only = mac_only.lower() == "true"
        mac = raw.get("mac") or ""
        extra = {
            k: v
            for k, v in raw.items()
            if k not in _KNOWN_TOP and k not in SELECTION_KEYS and k not in SPECS and not _is_key_list_name(k)
        }
        return cls(
            key_groups=groups,
            lastmodified=str(raw.get("lastmodified") or ""),
            mac=str(mac),
            shamir_threshold=threshold,
            selection=selection,
            mac_only_encrypted=bool(mac_only),
            version=str(version or ""),
            extra=extra,
        )

    def effective_selection(self) -> tuple[str, str]:
        """A file without a selection option is read as ``unencrypted_suffix: _unencrypted``."""
        return self.selection or ("unencrypted_suffix", "_unencrypted")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.shamir_threshold:
            out["shamir_threshold"] = self.shamir_threshold
        multi = len(self.key_groups) > 1
        if multi:
            out["key_groups"] = [_write_group(g) for g in self.key_groups]
        flat = _by_type(self.key_groups[0]) if not multi and self.key_groups else {}
        for name in FLAT_ORDER_BEFORE_DATES:
            if flat.get(name):
                out[name] = flat.pop(name)
        out["lastmodified"] = self.lastmodified
        out["mac"] = self.mac
        for name in FLAT_ORDER_AFTER_MAC:
            if flat.get(name):
                out[name] = flat.pop(name)
        for name, stanzas in flat.items():  # types sops does not know (kept last)
            if stanzas:
                out[name] = stanzas
        if self.selection is not None:
            out[self.selection[0]] = self.selection[1]
        if self.mac_only_encrypted:
            out["mac_only_encrypted"] = True
        out.update(self.extra)
        out["version"] = self.version or VERSION
        return out


def _check_regex(selection: tuple[str, str]) -> None:
    """Refuse a file whose selection regex sops (Go RE2) and pysops would not read alike, with
    sops's exit code for it (51): sops matches no key with an invalid regex, so it reads every
    value of such a file as unencrypted and fails on the MAC. Refusing up front means no command
    ever walks the values under a selection the two tools disagree on."""
    from pysops import re2compat

    problem = re2compat.selection_problem(selection, f"the file's {selection[0]}")
    if problem is not None:
        raise MacMismatch(problem, hint="the sops metadata was edited by hand, or written with a broken regex")


def _is_key_list_name(name: str) -> bool:
    return name in FLAT_ORDER_BEFORE_DATES or name in FLAT_ORDER_AFTER_MAC or name in GROUP_ORDER


def _read_group(group: Mapping[str, Any]) -> list[WrappedKey]:
    keys: list[WrappedKey] = []
    names = [n for n in GROUP_ORDER if n in group] + [n for n in group if n in SPECS and n not in GROUP_ORDER]
    for name in names:
        stanzas = group.get(name) or []
        if not isinstance(stanzas, list):
            raise GenericError(f"sops metadata: {name} is not a list")
        for stanza in stanzas:
            if not isinstance(stanza, Mapping):
                raise GenericError(f"sops metadata: an entry of {name} is not a mapping")
            if name in SPECS:
                from pysops.keys import key_type

                keys.append(key_type(name).from_metadata(stanza))
            else:
                # A type pysops does not implement (yet): keep the stanza as it is.
                keys.append(WrappedKey(name, dict(stanza)))
    return keys


def _by_type(group: list[WrappedKey]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for key in group:
        out.setdefault(key.type, []).append(dict(key.fields))
    return out


def _write_group(group: list[WrappedKey]) -> dict[str, Any]:
    by_type = _by_type(group)
    out: dict[str, Any] = {}
    for name in GROUP_ORDER:
        stanzas = by_type.pop(name, [])
        if stanzas or name in GROUP_ALWAYS:
            out[name] = stanzas
    for name, stanzas in by_type.items():
        out[name] = stanzas
    return out
