"""Recipient types (master keys) and their registry.

A recipient type is one module exposing a ``KEY_TYPE`` object that satisfies ``KeyType``:

* ``parse_recipient(text)`` — one recipient from a CLI flag, env var or ``.sops.yaml`` string
  (``age1…``, a PGP fingerprint, an ARN…) or ``recipient_from_config(item)`` for the structured
  entries of ``key_groups`` (KMS dicts, Azure dicts…); both return a ``Recipient``.
* ``Recipient.wrap(data_key, created_at) -> WrappedKey`` encrypts the data key (or a Shamir share).
* ``unwrap(wrapped, context) -> bytes`` recovers it, raising ``NotMyKey`` when no local identity
  fits (try the next key) and a ``PysopsError`` for anything really broken.

Everything else — metadata (de)serialisation, CLI flags, config keys, decryption order — loops over
``REGISTRY``. Adding a type means adding its module and one line below.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from pysops._typing import TYPE_CHECKING, NamedTuple, Protocol
from pysops.values import GoTime

if TYPE_CHECKING:
    from typing import Any


class KeyTypeSpec(NamedTuple):
    """Registry line: metadata name, module, and names used by the CLI and configuration."""

    name: str  # metadata key, e.g. "age", "gcp_kms"
    module: str
    cli_flag: str  # --age / --add-age / --rm-age
    env_recipients: str  # SOPS_AGE_RECIPIENTS
    rule_key: str  # flat creation-rule key (age, azure_keyvault, hc_vault_transit_uri)
    group_key: str  # key inside a key_groups entry (age, azure_keyvault, hc_vault)
    sops_compatible: bool = True  # False for our extensions (pkcs11), which sops cannot use


#: One line per recipient type. Order = sops's internal order inside a key group.
REGISTRY: tuple[KeyTypeSpec, ...] = (
    KeyTypeSpec("age", "pysops.keys.age", "age", "SOPS_AGE_RECIPIENTS", "age", "age"),
    KeyTypeSpec("pgp", "pysops.keys.pgp", "pgp", "SOPS_PGP_FP", "pgp", "pgp"),
    KeyTypeSpec("gcp_kms", "pysops.keys.gcp_kms", "gcp_kms", "SOPS_GCP_KMS_IDS", "gcp_kms", "gcp_kms"),
    KeyTypeSpec(
        "pkcs11", "pysops.keys.pkcs11", "pkcs11", "PYSOPS_PKCS11_URIS", "pkcs11", "pkcs11", sops_compatible=False
    ),  # noqa: E501
    KeyTypeSpec("kms", "pysops.keys.kms", "kms", "SOPS_KMS_ARN", "kms", "kms"),
    KeyTypeSpec(
        "hc_vault", "pysops.keys.hc_vault", "hc_vault_transit", "SOPS_VAULT_URIS", "hc_vault_transit_uri", "hc_vault"
    ),  # noqa: E501
    KeyTypeSpec(
        "azure_kv", "pysops.keys.azure_kv", "azure_kv", "SOPS_AZURE_KEYVAULT_URLS", "azure_keyvault", "azure_keyvault"
    ),  # noqa: E501
)

SPECS: dict[str, KeyTypeSpec] = {spec.name: spec for spec in REGISTRY}

#: Field order sops uses in the metadata block: flat (one group) and inside a key group.
#: Types unknown to sops go last. Only names in REGISTRY are ever emitted.
FLAT_ORDER_BEFORE_DATES = ("kms", "gcp_kms", "azure_kv", "hc_vault", "age")
FLAT_ORDER_AFTER_MAC = ("pgp",)
GROUP_ORDER = ("pgp", "kms", "gcp_kms", "azure_kv", "hc_vault", "age")
#: Types sops writes as present-but-empty inside key groups.
GROUP_ALWAYS = ("hc_vault", "age")
#: sops 3.11 decryption order default: these first, then the rest in file order.
DEFAULT_DECRYPTION_ORDER = ("age", "pgp")


class WrappedKey(NamedTuple):
    """One master-key stanza as stored in the metadata: its type and its fields in on-disk order
    (locator fields such as ``recipient``/``fp``/``arn``, plus ``created_at`` and ``enc``)."""

    type: str
    fields: Mapping[str, Any]

    @property
    def enc(self) -> str:
        return str(self.fields.get("enc", ""))


class KeyContext:
    """What unwrapping may consult: the environment and per-type caches (identities loaded once)."""

    __slots__ = ("env", "cache")

    def __init__(self, env: Mapping[str, str], cache: dict[str, Any] | None = None) -> None:
        self.env = env
        self.cache: dict[str, Any] = {} if cache is None else cache


class Recipient(Protocol):
    @property
    def type(self) -> str: ...

    @property
    def id(self) -> str:
        """A stable text naming the recipient (recipient string, fingerprint, ARN…)."""
        ...

    def wrap(self, data_key: bytes, created_at: GoTime) -> WrappedKey: ...


#: Options given beside recipients on the command line, passed to every type's parse_recipient;
#: a type uses the ones it knows: "encryption_context" ("k:v,k2:v2"), "aws_profile".
RecipientOptions = Mapping[str, str]


class KeyType(Protocol):
    name: str

    def parse_recipient(self, text: str, options: RecipientOptions | None = None) -> Recipient: ...

    def recipient_from_config(self, item: Any) -> Recipient: ...

    def from_metadata(self, stanza: Mapping[str, Any]) -> WrappedKey: ...

    def recipient_of(self, wrapped: WrappedKey) -> Recipient:
        """The recipient a stanza was wrapped for (to compare with config in updatekeys/check)."""
        ...

    def unwrap(self, wrapped: WrappedKey, context: KeyContext) -> bytes: ...


def key_type(name: str) -> KeyType:
    """Import the module of a registered type and return its ``KEY_TYPE``."""
    spec = SPECS[name]
    module = importlib.import_module(spec.module)
    kt: KeyType = module.KEY_TYPE
    return kt


def stanza_fields(stanza: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, str]:
    """The fields ``names`` of a metadata stanza, in that order, as text (a missing one is "")."""
    return {name: str(stanza.get(name, "")) for name in names}


def split_recipients(text: str) -> list[str]:
    """A comma-separated list as sops reads it: items trimmed, empty items skipped."""
    return [item.strip() for item in text.split(",") if item.strip()]
