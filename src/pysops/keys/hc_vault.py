"""HashiCorp Vault / OpenBao transit recipients (``hc_vault``) through hvac.

A recipient is a transit key named by a URI ``https://host:8200/v1/<engine>/keys/<name>`` (the
engine path may contain slashes). ``enc`` is the Vault ciphertext string verbatim (``vault:v1:…``):
``POST <address>/v1/<engine>/encrypt/<name>`` with ``{"plaintext": base64(key)}`` wraps, and
``…/decrypt/<name>`` with ``{"ciphertext": enc}`` unwraps (format.md §4).

As in sops, the address stored in the stanza is the server contacted (``VAULT_ADDR`` plays no part)
and the token is ``VAULT_TOKEN``, else the content of ``~/.vault-token``. The Vault client's TLS and
namespace variables are honoured (``VAULT_CACERT``, ``VAULT_CAPATH``, ``VAULT_SKIP_VERIFY``,
``VAULT_CLIENT_CERT``/``VAULT_CLIENT_KEY``, ``VAULT_NAMESPACE``). Every request is bounded by
``PYSOPS_VAULT_TIMEOUT`` seconds (else ``VAULT_CLIENT_TIMEOUT``, else 20 s) and is not retried.

hvac (and with it requests) is imported only when a Vault key is used: ``pip install 'pysops[vault]'``.
"""

from __future__ import annotations

import binascii
import os
import posixpath
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from pysops.errors import ConfigError, KeySourceError, MissingDependency
from pysops.keys import KeyContext, RecipientOptions, WrappedKey, stanza_fields
from pysops.values import GoTime

NAME = "hc_vault"
DEFAULT_TIMEOUT = 20.0
_EXAMPLE = "https://vault.example.com:8200/v1/transit/keys/keyName"

#: sops's checks on the URI's path: a segment before ``/v<digits>/`` means Vault behind a path
#: prefix (refused), and at least three segments must follow ``/v<digits>``.
_PREFIXED = re.compile(r"/[^/]+/v\d+/[^/]+/[^/]+/[^/]+")
_WELL_FORMED = re.compile(r"/v\d+/[^/]+/[^/]+/[^/]+")
#: standard base64 with padding, as Go's StdEncoding.DecodeString accepts it
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_GO_DURATION = re.compile(r"(\d+(?:\.\d*)?)(ms|s|m|h)?")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


class HCVaultRecipient(NamedTuple):
    """One transit key: the server address (scheme://host[:port]), engine mount path, key name."""

    address: str
    engine_path: str
    key_name: str
    type: str = NAME

    @property
    def id(self) -> str:
        return f"{self.address}/v1/{self.engine_path}/keys/{self.key_name}"

    def wrap(self, data_key: bytes, created_at: GoTime) -> WrappedKey:
        session = _VaultSession(os.environ)
        body = session.post(self, "encrypt", {"plaintext": _b64encode(data_key)}, exit_code=1)
        ciphertext = _data_field(body, "ciphertext", self, exit_code=1)
        return WrappedKey(
            NAME,
            {
                "vault_address": self.address,
                "engine_path": self.engine_path,
                "key_name": self.key_name,
                "created_at": created_at.rfc3339(),
                "enc": ciphertext,
            },
        )


def parse_uri(text: str) -> HCVaultRecipient:
    """``https://host:8200/v1/<engine>/keys/<name>`` -> recipient, with sops's rules.

    Stricter than sops in two places, both cases where sops silently builds a key that cannot
    work: the segment before the key name must be ``keys``, and a query or fragment is refused.
    """
    from urllib.parse import urlsplit

    uri = text.strip()
    try:
        parts = urlsplit(uri)
    except ValueError as exc:
        raise ConfigError(f"hc_vault: {uri!r} is not a URL ({exc})") from None
    if not parts.scheme or not parts.netloc:
        raise ConfigError(f"hc_vault: missing scheme or host in Vault URL {uri!r}", hint=f"write it like {_EXAMPLE}")
    if parts.query or parts.fragment:
        raise ConfigError(f"hc_vault: the Vault URL {uri!r} must not have a query or fragment")
    path = parts.path or "/"
    if _PREFIXED.search(path):
        raise ConfigError(
            f"hc_vault: running Vault with a prefixed URL is not supported ({uri!r})",
            hint=f"write it like {_EXAMPLE}",
        )
    if not _WELL_FORMED.search(path):
        raise ConfigError(
            f"hc_vault: the Vault URL path of {uri!r} is not formatted correctly",
            hint=f"write it like {_EXAMPLE}",
        )
    dirs = path.strip("/").split("/")
    if dirs[-2] != "keys":
        raise ConfigError(
            f"hc_vault: the Vault URL {uri!r} does not name a transit key (…/keys/<name>)",
            hint=f"write it like {_EXAMPLE}",
        )
    # Go's path.Join: empty elements dropped, the result cleaned.
    joined = "/".join(d for d in dirs[1:-2] if d)
    engine = posixpath.normpath(joined) if joined else ""
    return HCVaultRecipient(f"{parts.scheme}://{parts.netloc}", engine, dirs[-1])


# --- talking to Vault ------------------------------------------------------------------------------


def _b64encode(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def _go_bool(text: str) -> bool:
    """Go's strconv.ParseBool, as the Vault client reads VAULT_SKIP_VERIFY (bad text = false)."""
    return text in ("1", "t", "T", "TRUE", "true", "True")


def timeout_from_env(env: Mapping[str, str]) -> float:
    """``PYSOPS_VAULT_TIMEOUT`` (seconds), else Vault's ``VAULT_CLIENT_TIMEOUT`` (seconds or a Go
    duration such as ``30s``/``2m``), else 20 seconds."""
    for name in ("PYSOPS_VAULT_TIMEOUT", "VAULT_CLIENT_TIMEOUT"):
        raw = env.get(name, "").strip()
        if not raw:
            continue
        match = _GO_DURATION.fullmatch(raw)
        value = float(match.group(1)) * _DURATION_UNITS[match.group(2)] if match else 0.0
        if value <= 0:
            raise ConfigError(f"hc_vault: {name}={raw!r} is not a positive number of seconds")
        return value
    return DEFAULT_TIMEOUT


def token_from_env(env: Mapping[str, str]) -> str:
    """``VAULT_TOKEN``, else ``$HOME/.vault-token`` (trimmed); empty when neither exists."""
    token = env.get("VAULT_TOKEN", "").strip()
    if token:
        return token
    path = os.path.join(os.path.expanduser(env.get("HOME", "~")), ".vault-token")
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except FileNotFoundError:
        return ""
    except (OSError, UnicodeDecodeError) as exc:
        detail = exc.strerror if isinstance(exc, OSError) else "not text"
        raise KeySourceError(f"hc_vault: cannot read the Vault token file {path}: {detail}") from None


def _import_requests_and_hvac() -> tuple[Any, Any]:
    try:
        import hvac.adapters  # type: ignore[import-untyped]  # hvac ships no type hints
        import requests
    except ImportError:
        raise MissingDependency(
            "hc_vault keys need the hvac package (requires pysops[vault])", hint="pip install 'pysops[vault]'"
        ) from None
    return hvac.adapters, requests


def _clean(text: str, limit: int = 200) -> str:
    """Server text made safe for one error line."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class _VaultSession:
    """Vault clients (one HTTP session per address) for one environment.

    The token and TLS settings are read once; addresses that could not be reached are remembered
    so that a run over many files does not wait for a dead server once per file.
    """

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.adapters, self.requests = _import_requests_and_hvac()
        self.token = token_from_env(env)
        self.timeout = timeout_from_env(env)
        self._clients: dict[str, Any] = {}
        self.unreachable: dict[str, str] = {}

    def _client(self, address: str) -> Any:
        client = self._clients.get(address)
        if client is None:
            env = self.env
            verify: bool | str = True
            if _go_bool(env.get("VAULT_SKIP_VERIFY", "")):
                verify = False
            elif env.get("VAULT_CACERT"):
                verify = env["VAULT_CACERT"]
            elif env.get("VAULT_CAPATH"):
                verify = env["VAULT_CAPATH"]
            cert = None
            if env.get("VAULT_CLIENT_CERT") and env.get("VAULT_CLIENT_KEY"):
                cert = (env["VAULT_CLIENT_CERT"], env["VAULT_CLIENT_KEY"])
            client = self.adapters.RawAdapter(
                base_uri=address,
                token=self.token or None,
                cert=cert,
                verify=verify,
                timeout=self.timeout,
                namespace=env.get("VAULT_NAMESPACE") or None,
                allow_redirects=False,
            )
            self._clients[address] = client
        return client

    def post(
        self, key: HCVaultRecipient, action: str, payload: Mapping[str, str], *, exit_code: int | None = None
    ) -> Mapping[str, Any]:
        """POST ``/v1/<engine>/<action>/<key>`` and return the decoded JSON body of a 2xx answer."""
        where = f"hc_vault: {key.id}"
        earlier = self.unreachable.get(key.address)
        if earlier is not None:
            raise KeySourceError(f"{where}: {earlier} (not retried)", exit_code=exit_code)
        url = "/v1/" + posixpath.join(key.engine_path, action, key.key_name)
        exceptions = self.requests.exceptions
        hint: str | None = None
        try:
            response = self._client(key.address).request("post", url, json=dict(payload), raise_exception=False)
        except exceptions.Timeout:
            cause = f"no answer from the Vault server within {self.timeout:g} s"
            hint = "check the server, or raise PYSOPS_VAULT_TIMEOUT"
        except exceptions.SSLError as exc:
            cause = f"TLS error talking to the Vault server ({_ssl_reason(exc)})"
            hint = "set VAULT_CACERT to the server's CA certificate"
        except exceptions.ConnectionError as exc:
            cause = f"cannot connect to the Vault server ({_connection_reason(exc)})"
        except exceptions.RequestException as exc:
            raise KeySourceError(f"{where}: request failed ({type(exc).__name__})", exit_code=exit_code) from None
        else:
            return _decode_response(response, key, action, self.token, exit_code)
        # The server could not be reached: remember it for the rest of the run.
        self.unreachable[key.address] = cause
        raise KeySourceError(f"{where}: {cause}", hint=hint, exit_code=exit_code) from None


def _connection_reason(exc: Exception) -> str:
    text = str(exc)
    for needle, reason in (
        ("Connection refused", "connection refused"),
        ("Name or service not known", "unknown host"),
        ("nodename nor servname", "unknown host"),
        ("Temporary failure in name resolution", "unknown host"),
        ("RemoteDisconnected", "the server closed the connection"),
        ("Connection reset", "connection reset"),
        ("Network is unreachable", "network unreachable"),
    ):
        if needle in text:
            return reason
    return "connection failed"


def _ssl_reason(exc: Exception) -> str:
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return "certificate verify failed"
    if "WRONG_VERSION_NUMBER" in text:
        return "the server does not speak TLS"
    return "handshake failed"


def _decode_response(
    response: Any, key: HCVaultRecipient, action: str, token: str, exit_code: int | None
) -> Mapping[str, Any]:
    where = f"hc_vault: {key.id}"
    status = int(response.status_code)
    body: Any = None
    try:
        body = response.json()
    except ValueError:
        body = None
    if 200 <= status < 300:
        if not isinstance(body, Mapping):
            raise KeySourceError(
                f"{where}: malformed response from the Vault server (HTTP {status}, not a JSON object)",
                exit_code=exit_code,
            )
        return body
    errors = body.get("errors") if isinstance(body, Mapping) else None
    if isinstance(errors, list) and errors:
        detail = _clean("; ".join(str(e) for e in errors))
    else:
        detail = _clean(str(getattr(response, "text", "") or "")) or "no detail"
    path = posixpath.join(key.engine_path, action, key.key_name)
    hint = None
    if status in (401, 403):
        kind = "access denied"
        hint = (
            f"the token needs a policy allowing update on {path}"
            if token
            else "no Vault token: set VAULT_TOKEN or log in (vault login writes ~/.vault-token)"
        )
    elif status == 404:
        kind = "not found"
        hint = f"is a transit engine mounted at {key.engine_path}?"
    elif status == 400:
        kind = "refused"
    elif status == 503:
        kind = "Vault server unavailable (sealed or in standby)"
    else:
        kind = f"HTTP {status}"
    raise KeySourceError(f"{where}: {kind}: {detail}", hint=hint, exit_code=exit_code)


def _data_field(body: Mapping[str, Any], field: str, key: HCVaultRecipient, exit_code: int | None = None) -> str:
    data = body.get("data")
    value = data.get(field) if isinstance(data, Mapping) else None
    if not isinstance(value, str) or not value:
        raise KeySourceError(
            f"hc_vault: {key.id}: malformed response from the Vault server (no {field} in its data)",
            exit_code=exit_code,
        )
    return value


# --- the key type ----------------------------------------------------------------------------------


class _VaultCache:
    """What one ``KeyContext`` keeps for Vault: the session and the data keys already unwrapped."""

    def __init__(self, session: _VaultSession) -> None:
        self.session = session
        self.data_keys: dict[tuple[str, str, str, str], bytes] = {}
        self.requests = 0  # decrypt calls sent (tests count them)


class _HCVaultKeyType:
    name = NAME

    def parse_recipient(self, text: str, options: RecipientOptions | None = None) -> HCVaultRecipient:
        return parse_uri(text)

    def recipient_from_config(self, item: Any) -> HCVaultRecipient:
        if not isinstance(item, str):
            raise ConfigError("hc_vault: a key group's hc_vault entries must be Vault key URIs (strings)")
        return parse_uri(item)

    def from_metadata(self, stanza: Mapping[str, Any]) -> WrappedKey:
        return WrappedKey(
            NAME, stanza_fields(stanza, ("vault_address", "engine_path", "key_name", "created_at", "enc"))
        )

    def recipient_of(self, wrapped: WrappedKey) -> HCVaultRecipient:
        fields = wrapped.fields
        return HCVaultRecipient(
            str(fields.get("vault_address", "")), str(fields.get("engine_path", "")), str(fields.get("key_name", ""))
        )

    def unwrap(self, wrapped: WrappedKey, context: KeyContext) -> bytes:
        key = self.recipient_of(wrapped)
        if not key.address or not key.key_name:
            raise KeySourceError("hc_vault: the stanza has no vault_address or key_name")
        cache = context.cache.get(NAME)
        if cache is None:
            cache = _VaultCache(_VaultSession(context.env))
            context.cache[NAME] = cache
        lookup = (key.address, key.engine_path, key.key_name, wrapped.enc)
        found: bytes | None = cache.data_keys.get(lookup)
        if found is not None:
            return found
        cache.requests += 1
        body = cache.session.post(key, "decrypt", {"ciphertext": wrapped.enc})
        plaintext = _data_field(body, "plaintext", key)
        try:
            if _BASE64.fullmatch(plaintext) is None or len(plaintext) % 4:
                raise ValueError
            data_key = binascii.a2b_base64(plaintext)
        except (binascii.Error, ValueError):
            raise KeySourceError(
                f"hc_vault: {key.id}: malformed response from the Vault server (plaintext is not base64)"
            ) from None
        cache.data_keys[lookup] = data_key
        return data_key


KEY_TYPE = _HCVaultKeyType()
