"""GCP Cloud KMS recipients: a symmetric CryptoKey named by its resource id.

``enc`` is the standard base64 of the ciphertext Cloud KMS returns for
``Encrypt(name=resource_id, plaintext=data_key)`` (format.md §4); the stanza is
``resource_id``, ``created_at``, ``enc`` (§3.2).

Credentials are found as sops 3.11 finds them: ``GOOGLE_CREDENTIALS`` (a path to a credentials
JSON file, or the JSON itself), else ``GOOGLE_OAUTH_ACCESS_TOKEN`` (a bare OAuth2 access token),
else Application Default Credentials (``GOOGLE_APPLICATION_CREDENTIALS``, gcloud's ADC file, the
metadata server). The official ``google-cloud-kms`` client is used with its REST transport,
imported only when a GCP key is actually used.

pysops-only settings (sops 3.11 has no endpoint override):

* ``PYSOPS_GCP_KMS_ENDPOINT`` — API endpoint, ``host[:port]`` or ``http(s)://host[:port]``
  (default ``cloudkms.googleapis.com``; a private endpoint, a proxy or a test fake).
* ``PYSOPS_GCP_KMS_TIMEOUT`` — seconds one Cloud KMS call may take, connecting included, and the
  bound on retries of ``503 UNAVAILABLE`` (default 20).
"""

from __future__ import annotations

import binascii
import json
import os
import re
import warnings
from collections.abc import Mapping
from typing import Any, NamedTuple

from pysops.errors import ConfigError, KeySourceError, MissingDependency, NotMyKey
from pysops.keys import KeyContext, RecipientOptions, WrappedKey, stanza_fields
from pysops.values import GoTime

ENDPOINT_ENV = "PYSOPS_GCP_KMS_ENDPOINT"
TIMEOUT_ENV = "PYSOPS_GCP_KMS_TIMEOUT"
DEFAULT_ENDPOINT = "cloudkms.googleapis.com"
DEFAULT_TIMEOUT = 20.0
SCOPE = "https://www.googleapis.com/auth/cloud-platform"

#: sops's check (gcpkms.newKMSClient), applied here when the recipient is parsed.
_RESOURCE_ID = re.compile(r"projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")

#: Clients by (endpoint, credential source): one HTTP session per process and setting.
_CLIENTS: dict[tuple[str, str, str], Any] = {}


class _Settings(NamedTuple):
    endpoint: str
    timeout: float
    cred_kind: str  # "GOOGLE_CREDENTIALS" | "GOOGLE_OAUTH_ACCESS_TOKEN" | "ADC"
    cred_value: str


def _settings(env: Mapping[str, str]) -> _Settings:
    endpoint = env.get(ENDPOINT_ENV, "").strip() or DEFAULT_ENDPOINT
    raw_timeout = env.get(TIMEOUT_ENV, "").strip()
    timeout = DEFAULT_TIMEOUT
    if raw_timeout:
        try:
            timeout = float(raw_timeout)
        except ValueError:
            timeout = -1.0
        if not 0 < timeout < 86400:
            raise ConfigError(f"{TIMEOUT_ENV} must be a positive number of seconds, not {raw_timeout!r}")
    if env.get("GOOGLE_CREDENTIALS"):
        return _Settings(endpoint, timeout, "GOOGLE_CREDENTIALS", env["GOOGLE_CREDENTIALS"])
    if env.get("GOOGLE_OAUTH_ACCESS_TOKEN"):
        return _Settings(endpoint, timeout, "GOOGLE_OAUTH_ACCESS_TOKEN", env["GOOGLE_OAUTH_ACCESS_TOKEN"])
    return _Settings(endpoint, timeout, "ADC", "")


def _missing_sdk() -> MissingDependency:
    return MissingDependency(
        "gcp_kms keys need the google-cloud-kms package (requires pysops[gcp])",
        hint="pip install 'pysops[gcp]'",
    )


def _credentials(settings: _Settings) -> Any:
    """google-auth credentials for the source sops would use (never logged: they are secrets)."""
    try:
        import google.auth
        import google.auth.exceptions
        import google.oauth2.credentials
    except ImportError:
        raise _missing_sdk() from None
    if settings.cred_kind == "GOOGLE_OAUTH_ACCESS_TOKEN":
        return google.oauth2.credentials.Credentials(token=settings.cred_value.strip())  # type: ignore[no-untyped-call]
    if settings.cred_kind == "GOOGLE_CREDENTIALS":
        text = settings.cred_value
        source = "GOOGLE_CREDENTIALS"
        if _is_file(text):  # sops: a path if it exists, the JSON itself otherwise
            source = f"GOOGLE_CREDENTIALS file {text}"
            try:
                with open(text, encoding="utf-8") as handle:
                    text = handle.read()
            except (OSError, UnicodeDecodeError) as exc:
                raise KeySourceError(f"gcp_kms: cannot read {source}: {exc}") from None
        try:
            info = json.loads(text)
            if not isinstance(info, dict):
                raise ValueError("not a JSON object")
            with warnings.catch_warnings():
                # google-auth warns that any credential type is accepted: so does sops, and the
                # JSON comes from the user's own environment.
                warnings.simplefilter("ignore", DeprecationWarning)
                creds, _project = google.auth.load_credentials_from_dict(  # type: ignore[no-untyped-call]
                    info, scopes=[SCOPE]
                )
        except (ValueError, google.auth.exceptions.GoogleAuthError) as exc:
            raise KeySourceError(
                f"gcp_kms: {source} does not hold usable credentials JSON ({_first_line(exc)})",
                hint="set GOOGLE_CREDENTIALS to a service-account key file (or its JSON content)",
            ) from None
        return creds
    try:
        creds, _project = google.auth.default(scopes=[SCOPE])
    except google.auth.exceptions.DefaultCredentialsError:
        raise NotMyKey(
            "gcp_kms: no Google credentials found (GOOGLE_CREDENTIALS, GOOGLE_OAUTH_ACCESS_TOKEN "
            "and Application Default Credentials are all unset)"
        ) from None
    return creds


def _is_file(text: str) -> bool:
    try:
        return os.path.isfile(text)
    except (ValueError, OSError):
        return False


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _client(settings: _Settings) -> Any:
    key = (settings.endpoint, settings.cred_kind, settings.cred_value)
    client = _CLIENTS.get(key)
    if client is not None:
        return client
    try:
        from google.cloud.kms_v1.services.key_management_service.client import KeyManagementServiceClient
    except ImportError:
        raise _missing_sdk() from None
    credentials = _credentials(settings)
    try:
        client = KeyManagementServiceClient(
            credentials=credentials,
            transport="rest",
            client_options={"api_endpoint": settings.endpoint},
        )
    except Exception as exc:  # the SDK raises ValueError, MutualTLSChannelError...
        raise KeySourceError(f"gcp_kms: cannot create the Cloud KMS client: {_first_line(exc)}") from None
    _CLIENTS[key] = client
    return client


def _retry(timeout: float) -> Any:
    from google.api_core import exceptions, retry

    return retry.Retry(
        predicate=retry.if_exception_type(exceptions.ServiceUnavailable),
        initial=0.1,
        maximum=2.0,
        multiplier=2.0,
        timeout=timeout,
    )


def _call(settings: _Settings, method: str, resource_id: str, request: dict[str, Any]) -> Any:
    """One Cloud KMS call; every failure becomes a KeySourceError naming the key and the cause."""
    client = _client(settings)  # first: it raises MissingDependency when the SDK is absent
    from google.api_core import exceptions as gexc
    from google.auth import exceptions as auth_exc
    from google.protobuf import json_format  # type: ignore[import-untyped]
    from requests import exceptions as rexc

    where = f"gcp_kms: {method} with {resource_id} at {settings.endpoint}"
    hint: str | None = None
    try:
        return getattr(client, method)(request=request, retry=_retry(settings.timeout), timeout=settings.timeout)
    except (gexc.PermissionDenied, gexc.Forbidden) as exc:
        cause = f"permission denied ({_api_message(exc)})"
    except (gexc.Unauthenticated, gexc.Unauthorized, auth_exc.RefreshError) as exc:
        detail = _api_message(exc) if isinstance(exc, gexc.GoogleAPICallError) else "the credentials were refused"
        cause = f"not authenticated ({detail})"
        hint = "check GOOGLE_CREDENTIALS / GOOGLE_OAUTH_ACCESS_TOKEN (an access token expires after an hour)"
    except gexc.NotFound as exc:
        cause = f"key not found ({_api_message(exc)})"
    except gexc.RetryError:
        cause = f"still unavailable after {settings.timeout:g} s of retries"
        hint = f"raise {TIMEOUT_ENV} to wait longer"
    except gexc.GoogleAPICallError as exc:
        cause = f"HTTP {exc.code} ({_api_message(exc)})"
    except rexc.Timeout:
        cause = f"no answer within {settings.timeout:g} s"
        hint = f"raise {TIMEOUT_ENV} to wait longer, or check {ENDPOINT_ENV}"
    except rexc.ConnectionError as exc:
        cause = f"cannot connect ({_connection_cause(exc)})"
    except rexc.RequestException as exc:
        cause = f"HTTP error ({type(exc).__name__})"
    except (json_format.ParseError, ValueError, KeyError, TypeError):
        cause = "malformed response from the server"
    except auth_exc.GoogleAuthError as exc:
        cause = f"cannot authenticate ({_first_line(exc)})"
    raise KeySourceError(f"{where}: {cause}", hint=hint) from None


def _api_message(exc: Any) -> str:
    """The server's own message, without the ``POST <url>:`` prefix the REST transport adds."""
    text = str(exc.message or "").strip()
    if text.startswith(("POST ", "GET ")) and ": " in text:
        text = text.split(": ", 1)[1]
    return text or f"HTTP {exc.code}"


def _connection_cause(exc: BaseException) -> str:
    text = str(exc)
    for cause in (
        "Connection refused",
        "Name or service not known",
        "No route to host",
        "Temporary failure in name resolution",
        "Network is unreachable",
        "Connection reset",
    ):
        if cause in text:
            return cause.lower()
    return "connection failed"


class GCPKMSRecipient(NamedTuple):
    resource_id: str
    type: str = "gcp_kms"

    @property
    def id(self) -> str:
        return self.resource_id

    def wrap(self, data_key: bytes, created_at: GoTime) -> WrappedKey:
        settings = _settings(os.environ)
        response = _call(settings, "encrypt", self.resource_id, {"name": self.resource_id, "plaintext": data_key})
        ciphertext = bytes(response.ciphertext)
        if not ciphertext:
            raise KeySourceError(
                f"gcp_kms: encrypt with {self.resource_id} at {settings.endpoint}: empty ciphertext in the response"
            )
        return WrappedKey(
            "gcp_kms",
            {
                "resource_id": self.resource_id,
                "created_at": created_at.rfc3339(),
                "enc": binascii.b2a_base64(ciphertext, newline=False).decode("ascii"),
            },
        )


def parse_resource_id(text: str) -> str:
    """A resource id as sops reads it (every space removed), checked against sops's pattern."""
    resource_id = text.replace(" ", "")
    if _RESOURCE_ID.fullmatch(resource_id) is None:
        raise ConfigError(
            f"gcp_kms: {text!r} is not a Cloud KMS key resource id",
            hint="expected projects/<project>/locations/<location>/keyRings/<ring>/cryptoKeys/<key>",
        )
    return resource_id


class _GCPKMSKeyType:
    name = "gcp_kms"

    def parse_recipient(self, text: str, options: RecipientOptions | None = None) -> GCPKMSRecipient:
        return GCPKMSRecipient(parse_resource_id(text))

    def recipient_from_config(self, item: Any) -> GCPKMSRecipient:
        if not isinstance(item, Mapping) or not isinstance(item.get("resource_id"), str):
            raise ConfigError("gcp_kms: a key group's gcp_kms entries must be mappings with a resource_id string")
        return self.parse_recipient(item["resource_id"])

    def from_metadata(self, stanza: Mapping[str, Any]) -> WrappedKey:
        return WrappedKey("gcp_kms", stanza_fields(stanza, ("resource_id", "created_at", "enc")))

    def recipient_of(self, wrapped: WrappedKey) -> GCPKMSRecipient:
        return GCPKMSRecipient(str(wrapped.fields.get("resource_id", "")))

    def unwrap(self, wrapped: WrappedKey, context: KeyContext) -> bytes:
        resource_id = str(wrapped.fields.get("resource_id", ""))
        if _RESOURCE_ID.fullmatch(resource_id) is None:
            raise KeySourceError(f"gcp_kms: the file names an invalid key resource id {resource_id!r}")
        enc = wrapped.enc
        try:
            if not enc or not enc.isascii() or _BASE64.fullmatch(enc) is None:
                raise ValueError(enc)
            ciphertext = binascii.a2b_base64(enc)  # binascii.Error is a ValueError
        except ValueError:
            raise KeySourceError(f"gcp_kms: the wrapped data key for {resource_id} is not valid base64") from None
        settings = _settings(context.env)
        cache: dict[Any, Any] = context.cache.setdefault("gcp_kms", {})
        found = cache.get((resource_id, enc))
        if found is not None:
            return bytes(found)
        # An endpoint that could not be reached once in this process is not waited for again.
        dead = cache.get(("unreachable", settings.endpoint))
        if dead is not None:
            raise KeySourceError(dead)
        try:
            response = _call(settings, "decrypt", resource_id, {"name": resource_id, "ciphertext": ciphertext})
        except KeySourceError as exc:
            if "cannot connect" in exc.message or "no answer within" in exc.message:
                cache[("unreachable", settings.endpoint)] = exc.message
            raise
        plaintext = bytes(response.plaintext)
        cache[(resource_id, enc)] = plaintext
        return plaintext


KEY_TYPE = _GCPKMSKeyType()
