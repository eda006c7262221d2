"""Azure Key Vault recipients (``azure_kv``) via azure-keyvault-keys and azure-identity.

``enc`` is the RSA-OAEP-256 encryption of the data key by a Key Vault RSA key, base64url without
padding (format.md §4). A recipient is a key URL ``https://<vault>/keys/<name>[/<version>]`` or a
``key_groups`` entry ``{vaultUrl, key, version}``; an omitted version is resolved (GetKey) when
wrapping and the resolved version is stored, like sops.

Credentials follow sops: azure-identity's ``DefaultAzureCredential`` (``AZURE_CLIENT_ID`` /
``AZURE_CLIENT_SECRET`` / ``AZURE_TENANT_ID``, certificates, workload identity, managed identity,
``az login``...). The SDK is imported lazily; settings of ours (docs/keys/azure_kv.md):

* ``PYSOPS_AZURE_KV_TIMEOUT`` — connect and read timeout per HTTP request, seconds (default 10);
* ``PYSOPS_AZURE_KV_RETRIES`` — retries after a failed request (default 2);
* ``PYSOPS_AZURE_KV_VERIFY_CHALLENGE_RESOURCE=false`` — accept a vault whose host does not look
  like a Key Vault domain (emulators, tests on 127.0.0.1);
* ``PYSOPS_AZURE_DISABLE_INSTANCE_DISCOVERY=true`` — let ``AZURE_AUTHORITY_HOST`` name an identity
  endpoint Microsoft does not know (emulators, Azure Stack).

``REQUESTS_CA_BUNDLE`` (a CA file) is honoured for both the vault and the identity endpoint.
"""

from __future__ import annotations

import binascii
import os
import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from pysops.errors import ConfigError, KeySourceError, MissingDependency
from pysops.keys import KeyContext, RecipientOptions, WrappedKey
from pysops.values import GoTime

NAME = "azure_kv"

#: ``https://<vault>/keys/<name>[/<version>]`` (a trailing slash is tolerated)
_KEY_URL = re.compile(r"^(https://[^/\s]+)/keys/([^/\s]+)(?:/([^/\s]*))?/?$")

_DEFAULT_TIMEOUT = 10.0
_DEFAULT_RETRIES = 2
_ALGORITHM = "RSA-OAEP-256"

#: Environment variables that change how the SDK connects or authenticates (session cache key).
_ENV_PREFIXES = ("AZURE_", "PYSOPS_AZURE_", "REQUESTS_CA_BUNDLE", "IDENTITY_", "MSI_")

#: ``credential_factory(env)`` returning an azure-core ``TokenCredential``; None means
#: ``DefaultAzureCredential``. An injection point for embedders (and tests of static tokens).
CredentialFactory = Callable[[Mapping[str, str]], Any]


def _missing() -> MissingDependency:
    return MissingDependency(
        "azure_kv keys need the azure-keyvault-keys and azure-identity packages (requires pysops[azure])",
        hint="pip install 'pysops[azure]'",
    )


def _b64url_encode(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii").rstrip("=").replace("+", "-").replace("/", "_")


def _b64url_decode(text: str) -> bytes:
    body = text.strip().rstrip("=")
    if not re.fullmatch(r"[A-Za-z0-9_-]*", body) or len(body) % 4 == 1:
        raise ValueError("not base64url")
    body = body.replace("-", "+").replace("_", "/")
    return binascii.a2b_base64(body + "=" * (-len(body) % 4))


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = env.get(name, "").strip().lower()
    if not value:
        return default
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"azure_kv: {name} must be true or false, not {value!r}")


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    value = env.get(name, "").strip()
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"azure_kv: {name} must be a number, not {value!r}") from None
    if number < 0 or number != number:
        raise ConfigError(f"azure_kv: {name} must not be negative")
    return number


class _Settings(NamedTuple):
    timeout: float
    retries: int
    verify_challenge_resource: bool
    disable_instance_discovery: bool
    ca_bundle: str | None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> _Settings:
        return cls(
            timeout=_number(env, "PYSOPS_AZURE_KV_TIMEOUT", _DEFAULT_TIMEOUT),
            retries=int(_number(env, "PYSOPS_AZURE_KV_RETRIES", _DEFAULT_RETRIES)),
            verify_challenge_resource=_flag(env, "PYSOPS_AZURE_KV_VERIFY_CHALLENGE_RESOURCE", True),
            disable_instance_discovery=_flag(env, "PYSOPS_AZURE_DISABLE_INSTANCE_DISCOVERY", False),
            ca_bundle=env.get("REQUESTS_CA_BUNDLE") or None,
        )

    def transport_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "connection_timeout": self.timeout,
            "read_timeout": self.timeout,
            "retry_total": self.retries,
        }
        if self.ca_bundle:
            kwargs["connection_verify"] = self.ca_bundle
        return kwargs


class _Session:
    """One credential and the SDK clients built on it, reused for every key of a process/context."""

    def __init__(self, env: Mapping[str, str], credential_factory: CredentialFactory | None) -> None:
        _quiet_sdk_logging()
        self.env = dict(env)
        self.settings = _Settings.from_env(env)
        self._credential_factory = credential_factory
        self._credential: Any = None
        self._key_clients: dict[str, Any] = {}
        self._crypto_clients: dict[str, Any] = {}

    def credential(self) -> Any:
        if self._credential is None:
            if self._credential_factory is not None:
                self._credential = self._credential_factory(self.env)
            else:
                try:
                    from azure.identity import DefaultAzureCredential
                except ImportError:
                    raise _missing() from None
                kwargs = self.settings.transport_kwargs()
                if self.settings.disable_instance_discovery:
                    kwargs["disable_instance_discovery"] = True
                self._credential = DefaultAzureCredential(**kwargs)
        return self._credential

    def _client_kwargs(self) -> dict[str, Any]:
        kwargs = self.settings.transport_kwargs()
        kwargs["verify_challenge_resource"] = self.settings.verify_challenge_resource
        return kwargs

    def key_client(self, vault_url: str) -> Any:
        client = self._key_clients.get(vault_url)
        if client is None:
            try:
                from azure.keyvault.keys import KeyClient
            except ImportError:
                raise _missing() from None
            client = KeyClient(vault_url, self.credential(), **self._client_kwargs())
            self._key_clients[vault_url] = client
        return client

    def crypto_client(self, key: Any, key_id: str) -> Any:
        """A CryptographyClient for ``key`` (a key URL or a fetched KeyVaultKey), one per key id."""
        client = self._crypto_clients.get(key_id)
        if client is None:
            try:
                from azure.keyvault.keys.crypto import CryptographyClient
            except ImportError:
                raise _missing() from None
            client = CryptographyClient(key, self.credential(), **self._client_kwargs())
            self._crypto_clients[key_id] = client
        return client

    def encrypt(self, recipient: AzureRecipient, data_key: bytes) -> tuple[str, bytes]:
        """The key version used and the ciphertext. A versionless recipient is resolved first."""
        algorithm = _algorithm()
        if recipient.version:
            version = recipient.version
            key: Any = _key_id(recipient.vault_url, recipient.name, version)
        else:
            key = self.key_client(recipient.vault_url).get_key(recipient.name)
            version = str(key.properties.version or "")
            if not version:
                raise _Malformed("GetKey returned no key version")
        client = self.crypto_client(key, _key_id(recipient.vault_url, recipient.name, version))
        result = client.encrypt(algorithm, data_key)
        ciphertext = result.ciphertext
        if not isinstance(ciphertext, bytes) or not ciphertext:
            raise _Malformed("the encrypt response holds no ciphertext")
        return version, ciphertext

    def decrypt(self, vault_url: str, name: str, version: str, ciphertext: bytes) -> bytes:
        algorithm = _algorithm()
        key_id = _key_id(vault_url, name, version)
        client = self.crypto_client(key_id, key_id)
        plaintext = client.decrypt(algorithm, ciphertext).plaintext
        if not isinstance(plaintext, bytes) or not plaintext:
            raise _Malformed("the decrypt response holds no plaintext")
        return plaintext


def _algorithm() -> Any:
    try:
        from azure.keyvault.keys.crypto import EncryptionAlgorithm
    except ImportError:
        raise _missing() from None
    return EncryptionAlgorithm.rsa_oaep_256


class _Malformed(Exception):
    """The vault answered 2xx with something that is not a usable result."""


def _quiet_sdk_logging() -> None:
    """azure-identity logs a multi-line WARNING when a credential chain fails; pysops reports the
    failure itself, so keep those records off stderr unless the application configured logging
    (a NullHandler only stops Python's last-resort printing)."""
    import logging

    for name in ("azure.identity", "azure.core"):
        logger = logging.getLogger(name)
        if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
            logger.addHandler(logging.NullHandler())


def _key_id(vault_url: str, name: str, version: str) -> str:
    base = f"{vault_url.rstrip('/')}/keys/{name}"
    return f"{base}/{version}" if version else base


def _first_line(text: str, limit: int = 300) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def describe(exc: BaseException, settings: _Settings) -> str:
    """A one-line cause for an SDK failure: network, timeout, denied, not found, malformed…"""
    from azure.core.exceptions import (
        ClientAuthenticationError,
        DecodeError,
        HttpResponseError,
        ServiceRequestError,
        ServiceResponseError,
    )

    if isinstance(exc, _Malformed):
        return f"malformed response from the vault: {exc}"
    if isinstance(exc, ServiceRequestError):
        return f"cannot reach the vault (network error: {_first_line(str(exc), 160)})"
    if isinstance(exc, ServiceResponseError):
        text = str(exc)
        if "timed out" in text.lower() or "timeout" in text.lower():
            return f"the vault did not answer within {settings.timeout:g}s (PYSOPS_AZURE_KV_TIMEOUT)"
        return f"the vault connection failed (network error: {_first_line(text, 160)})"
    if isinstance(exc, DecodeError):
        return "malformed response from the vault (not valid JSON)"
    if isinstance(exc, ClientAuthenticationError) and exc.status_code in (None, 401):
        return f"Azure authentication failed: {_first_line(exc.message or str(exc))}"
    if isinstance(exc, HttpResponseError):
        status = exc.status_code
        detail = _first_line(exc.message or str(exc))
        if status == 403:
            return f"access denied (HTTP 403): {detail}"
        if status == 404:
            return f"key not found (HTTP 404): {detail}"
        if status is not None and 200 <= status < 300:
            return f"malformed response from the vault: {detail}"
        return f"HTTP {status}: {detail}"
    if isinstance(exc, (ValueError, KeyError, TypeError, AttributeError)):
        return f"malformed response from the vault ({type(exc).__name__})"
    return f"{type(exc).__name__}: {_first_line(str(exc))}"


def _session_key(env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in env.items() if k.startswith(_ENV_PREFIXES)))


class AzureRecipient(NamedTuple):
    vault_url: str
    name: str
    version: str = ""
    type: str = NAME

    @property
    def id(self) -> str:
        return _key_id(self.vault_url, self.name, self.version)

    def wrap(self, data_key: bytes, created_at: GoTime) -> WrappedKey:
        session = KEY_TYPE.session(os.environ)
        try:
            version, ciphertext = session.encrypt(self, data_key)
        except (MissingDependency, ConfigError):
            raise
        except Exception as exc:  # the SDK raises many types; each becomes one clear line
            raise KeySourceError(
                f"azure_kv: could not encrypt the data key with {self.id}: {describe(exc, session.settings)}",
                hint="check the key URL, the vault's access policy/RBAC role (keys/get, keys/encrypt) "
                "and the Azure credentials (AZURE_CLIENT_ID, AZURE_TENANT_ID, az login)",
                exit_code=1,
            ) from None
        return WrappedKey(
            NAME,
            {
                "vault_url": self.vault_url,
                "name": self.name,
                "version": version,
                "created_at": created_at.rfc3339(),
                "enc": _b64url_encode(ciphertext),
            },
        )


class _AzureKeyType:
    name = NAME

    def __init__(self) -> None:
        self.credential_factory: CredentialFactory | None = None
        self._sessions: dict[tuple[tuple[str, str], ...], _Session] = {}

    def session(self, env: Mapping[str, str]) -> _Session:
        """The process-wide session for these Azure settings (credential and clients reused)."""
        key = _session_key(env)
        found = self._sessions.get(key)
        if found is None or found._credential_factory is not self.credential_factory:
            found = _Session(env, self.credential_factory)
            self._sessions[key] = found
        return found

    def reset(self) -> None:
        """Forget cached credentials and clients (tests; after changing credential_factory)."""
        self._sessions.clear()

    def parse_recipient(self, text: str, options: RecipientOptions | None = None) -> AzureRecipient:
        match = _KEY_URL.match(text.strip())
        if match is None:
            raise ConfigError(
                f"azure_kv: could not parse {text.strip()!r} as an Azure Key Vault key URL",
                hint="expected https://<vault>.vault.azure.net/keys/<name>[/<version>]",
            )
        return AzureRecipient(match.group(1), match.group(2), match.group(3) or "")

    def recipient_from_config(self, item: Any) -> AzureRecipient:
        if isinstance(item, str):
            return self.parse_recipient(item)
        if not isinstance(item, Mapping):
            raise ConfigError("azure_kv: a key group's azure_keyvault entries must be {vaultUrl, key, version}")
        vault_url, name, version = item.get("vaultUrl"), item.get("key"), item.get("version", "")
        if not isinstance(vault_url, str) or not vault_url.strip():
            raise ConfigError("azure_kv: an azure_keyvault entry needs a vaultUrl")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError("azure_kv: an azure_keyvault entry needs a key name")
        if version is None:
            version = ""
        if not isinstance(version, str):
            raise ConfigError("azure_kv: an azure_keyvault entry's version must be a string")
        vault_url = vault_url.strip()
        if not vault_url.startswith("https://"):
            raise ConfigError(f"azure_kv: vaultUrl {vault_url!r} must be an https:// URL")
        return AzureRecipient(vault_url, name.strip(), version.strip())

    def from_metadata(self, stanza: Mapping[str, Any]) -> WrappedKey:
        fields = {
            name: "" if stanza.get(name) is None else str(stanza.get(name))
            for name in ("vault_url", "name", "version", "created_at", "enc")
        }
        return WrappedKey(NAME, fields)

    def recipient_of(self, wrapped: WrappedKey) -> AzureRecipient:
        f = wrapped.fields
        return AzureRecipient(str(f.get("vault_url", "")), str(f.get("name", "")), str(f.get("version", "")))

    def unwrap(self, wrapped: WrappedKey, context: KeyContext) -> bytes:
        recipient = self.recipient_of(wrapped)
        if not recipient.vault_url or not recipient.name:
            raise KeySourceError("azure_kv: a stanza lacks its vault_url or name")
        try:
            ciphertext = _b64url_decode(wrapped.enc)
        except (ValueError, binascii.Error):
            raise KeySourceError(f"azure_kv: the wrapped data key for {recipient.id} is not base64url") from None
        session = context.cache.get(NAME)
        if not isinstance(session, _Session) or session._credential_factory is not self.credential_factory:
            session = _Session(context.env, self.credential_factory)
            context.cache[NAME] = session
        try:
            return session.decrypt(recipient.vault_url, recipient.name, recipient.version, ciphertext)
        except (MissingDependency, ConfigError):
            raise
        except Exception as exc:  # the SDK raises many types; each becomes one clear line
            raise KeySourceError(f"azure_kv: {recipient.id}: {describe(exc, session.settings)}") from None


KEY_TYPE = _AzureKeyType()
