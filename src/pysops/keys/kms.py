"""AWS KMS recipients (``kms``) through boto3, imported lazily (extra ``pysops[aws]``).

``enc`` is the standard base64 of the ``CiphertextBlob`` that ``kms:Encrypt`` returns for the data
key (format.md §4). A recipient is a key or alias ARN, optionally with an IAM role to assume
(``arn+roleArn`` on the command line), an encryption context (``--encryption-context k:v,k2:v2``,
or ``context:`` in a ``key_groups`` entry) and a named AWS profile. The region comes from the ARN.

Endpoints and credentials follow the AWS SDK rules, as sops's aws-sdk-go-v2 does:
``AWS_ENDPOINT_URL_KMS`` then ``AWS_ENDPOINT_URL`` (``AWS_ENDPOINT_URL_STS`` for AssumeRole), the
standard credential chain (``AWS_ACCESS_KEY_ID``…, ``~/.aws/credentials``, profiles, instance
roles). A role is assumed with STS ``AssumeRole`` under the session name ``sops@<hostname>``.

Network behaviour is bounded: ``PYSOPS_KMS_TIMEOUT`` (seconds, default 3) is both the connect and
the read timeout of each attempt, ``PYSOPS_KMS_MAX_ATTEMPTS`` (default 3, as the SDKs) the number of
attempts (botocore "standard" retry mode: connection errors, throttling and 5xx are retried).

Clients (one per region, profile, role and endpoint) and unwrapped keys are cached per
``KeyContext``: many files wrapped by the same stanza cost one ``kms:Decrypt``.
"""

from __future__ import annotations

import binascii
import os
import re
import time
from collections.abc import Mapping
from typing import Any, NamedTuple

from pysops.errors import (
    ConfigError,
    ErrorInvalidKMSEncryptionContextFormat,
    KeySourceError,
    MissingDependency,
)
from pysops.keys import KeyContext, RecipientOptions, WrappedKey, split_recipients
from pysops.values import GoTime

#: sops's ARN check; group 1 is the region. Go's ``\w`` is ASCII and ``$`` is the very end.
_ARN = re.compile(r"arn:aws[\w-]*:kms:(.+):[0-9]+:(?:key|alias)/.+\Z", re.ASCII)
#: Where the role starts in ``arn+roleArn`` (sops looks for exactly this text).
_ROLE_MARK = "+arn:aws:iam::"
#: Characters AWS allows in a role session name (``[\w+=,.@-]``, at most 64).
_SESSION_UNSAFE = re.compile(r"[^\w+=,.@-]", re.ASCII)
#: Standard base64 with padding, as Go's StdEncoding accepts it.
_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")

DEFAULT_TIMEOUT = 3.0
DEFAULT_MAX_ATTEMPTS = 3
#: Refresh assumed-role credentials this long before they expire.
_CREDENTIAL_MARGIN = 300.0

#: Environment variables botocore reads credentials from (the process environment).
_CREDENTIAL_VARIABLES = (
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
    "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
)  # fmt: skip

Context = tuple[tuple[str, str], ...]


def region_of(arn: str) -> str:
    match = _ARN.match(arn)
    if match is None:
        raise ConfigError(
            f"kms: no valid ARN found in {arn!r}",
            hint="use a key or alias ARN such as arn:aws:kms:us-east-1:111122223333:key/<key-id>",
        )
    return match.group(1)


def parse_encryption_context(text: str) -> Context:
    """``k:v,k2:v2`` as sops reads it: no trimming, exactly one ``:`` per pair, a later
    duplicate key wins, the empty string means no context."""
    if text == "":
        return ()
    pairs: dict[str, str] = {}
    for item in text.split(","):
        parts = item.split(":")
        if len(parts) != 2:
            raise ErrorInvalidKMSEncryptionContextFormat(
                "Invalid KMS encryption context format",
                hint="use --encryption-context key:value,key2:value2",
            )
        pairs[parts[0]] = parts[1]
    return tuple(sorted(pairs.items()))


def _context_from_mapping(raw: Any, where: str) -> Context:
    if raw is None or raw == "":
        return ()
    if not isinstance(raw, Mapping):
        raise ConfigError(f"kms: {where} context must be a mapping of strings to strings")
    pairs: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not isinstance(value, str):
            # sops drops the whole context with a warning here; losing it silently would make
            # files decryptable without it, so refuse instead.
            raise ConfigError(
                f"kms: {where} context must map strings to strings; {key!r}: {value!r} is not",
                hint='quote the value, e.g. Environment: "1"',
            )
        pairs[key] = value
    return tuple(sorted(pairs.items()))


class KMSKey(NamedTuple):
    """An AWS KMS master key: ARN, optional role to assume, encryption context, profile."""

    arn: str
    role: str = ""
    context: Context = ()
    aws_profile: str = ""
    type: str = "kms"

    @property
    def id(self) -> str:
        return f"{self.arn}+{self.role}" if self.role else self.arn

    def wrap(self, data_key: bytes, created_at: GoTime) -> WrappedKey:
        client = _PROCESS_CLIENTS.kms(self, os.environ)
        kwargs: dict[str, Any] = {"KeyId": self.arn, "Plaintext": data_key}
        if self.context:
            kwargs["EncryptionContext"] = dict(self.context)
        try:
            response = client.encrypt(**kwargs)
        except Exception as exc:  # noqa: BLE001 - every SDK failure becomes one named error
            raise _failure("encrypt the data key", self, exc, encrypting=True) from None
        blob = response.get("CiphertextBlob") if isinstance(response, Mapping) else None
        if not isinstance(blob, bytes) or not blob:
            raise KeySourceError(
                f"kms: could not encrypt the data key with {self.id}: "
                "the endpoint sent a malformed response (no CiphertextBlob)",
                exit_code=1,
            )
        enc = binascii.b2a_base64(blob, newline=False).decode("ascii")
        return WrappedKey("kms", _stanza(self, created_at.rfc3339(), enc))


def _stanza(key: KMSKey, created_at: str, enc: str) -> dict[str, Any]:
    """The on-disk fields in sops's order (format.md §3.2)."""
    fields: dict[str, Any] = {"arn": key.arn}
    if key.role:
        fields["role"] = key.role
    if key.context:
        fields["context"] = dict(key.context)
    fields["created_at"] = created_at
    fields["enc"] = enc
    fields["aws_profile"] = key.aws_profile
    return fields


# --------------------------------------------------------------------------------------------
# SDK access


def _boto3() -> Any:
    try:
        import boto3  # type: ignore[import-untyped]
    except ImportError:
        raise MissingDependency(
            "kms keys need the boto3 package (pysops[aws])", hint="pip install 'pysops[aws]'"
        ) from None
    return boto3


def _number(env: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    text = env.get(name, "")
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {text!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum:g}")
    return value


def _endpoint(env: Mapping[str, str], service: str) -> str | None:
    """The endpoint set in the environment (None: let botocore resolve it, e.g. from
    ``~/.aws/config``)."""
    if env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() == "true":
        return None
    return env.get(f"AWS_ENDPOINT_URL_{service}") or env.get("AWS_ENDPOINT_URL") or None


def session_name() -> str:
    import socket

    name = "sops@" + _SESSION_UNSAFE.sub("", socket.gethostname())
    return name[:64]


class _Clients:
    """boto3 clients by (region, profile, role, endpoint, timeouts), assumed roles refreshed
    before their credentials expire."""

    def __init__(self) -> None:
        self._clients: dict[tuple[Any, ...], tuple[Any, float]] = {}
        self.created = 0

    def kms(self, key: KMSKey, env: Mapping[str, str]) -> Any:
        region = region_of(key.arn)
        timeout = _number(env, "PYSOPS_KMS_TIMEOUT", DEFAULT_TIMEOUT, 0.01)
        attempts = int(_number(env, "PYSOPS_KMS_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS, 1))
        endpoint = _endpoint(env, "KMS")
        sts_endpoint = _endpoint(env, "STS")
        # The credential sources are part of the key: a changed environment gets a new client.
        sources = hash(tuple(os.environ.get(name, "") for name in _CREDENTIAL_VARIABLES))
        marker = (region, key.aws_profile, key.role, endpoint, sts_endpoint, timeout, attempts, sources)
        found = self._clients.get(marker)
        if found is not None and found[1] > time.time() + _CREDENTIAL_MARGIN:
            return found[0]
        boto3 = _boto3()
        from botocore.config import Config  # type: ignore[import-untyped]

        config = Config(
            connect_timeout=timeout,
            read_timeout=timeout,
            retries={"total_max_attempts": attempts, "mode": "standard"},
            user_agent_extra="pysops",
        )
        try:
            session = boto3.session.Session(profile_name=key.aws_profile or None, region_name=region)
        except Exception as exc:  # noqa: BLE001 - ProfileNotFound and friends
            raise _failure("load the AWS configuration", key, exc) from None
        expires = float("inf")
        credentials: dict[str, str] = {}
        if key.role:
            sts = session.client("sts", region_name=region, endpoint_url=sts_endpoint, config=config)
            try:
                response = sts.assume_role(RoleArn=key.role, RoleSessionName=session_name())
                granted = response["Credentials"]
                credentials = {
                    "aws_access_key_id": granted["AccessKeyId"],
                    "aws_secret_access_key": granted["SecretAccessKey"],
                    "aws_session_token": granted["SessionToken"],
                }
                expiration = granted.get("Expiration")
                if expiration is not None and hasattr(expiration, "timestamp"):
                    expires = float(expiration.timestamp())
            except Exception as exc:  # noqa: BLE001
                raise _failure(f"assume role {key.role}", key, exc) from None
        client = session.client("kms", region_name=region, endpoint_url=endpoint, config=config, **credentials)
        self.created += 1
        self._clients[marker] = (client, expires)
        return client


#: Clients for ``wrap``, which has no ``KeyContext``: an encrypt of many files reuses them.
_PROCESS_CLIENTS = _Clients()


def _failure(action: str, key: KMSKey, exc: BaseException, *, encrypting: bool = False) -> KeySourceError:
    """One readable error for an SDK exception: what failed, for which key, and why."""
    cause = _describe(exc)
    hint = None
    code = _error_code(exc)
    if code in ("AccessDeniedException", "AccessDenied", "UnrecognizedClientException"):
        hint = "the credentials in use need kms:Encrypt / kms:Decrypt on this key (and sts:AssumeRole for a role)"
    elif code in ("InvalidCiphertextException", "IncorrectKeyException"):
        hint = "the ciphertext does not match this key or its encryption context"
    elif "could not connect" in cause:
        hint = "check AWS_ENDPOINT_URL_KMS / AWS_ENDPOINT_URL and the network"
    elif "credentials" in cause:
        hint = "set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or use an instance role"
    return KeySourceError(
        f"kms: could not {action} with {key.id}: {cause}", hint=hint, exit_code=1 if encrypting else None
    )


def _error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):
        error = response.get("Error")
        if isinstance(error, Mapping):
            return str(error.get("Code", ""))
    return ""


def _describe(exc: BaseException) -> str:
    from botocore import exceptions as bx  # type: ignore[import-untyped]

    if isinstance(exc, bx.ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code", "error")
        message = error.get("Message", "")
        return f"{code}: {message}" if message else str(code)
    if isinstance(exc, bx.ConnectTimeoutError | bx.ReadTimeoutError):
        return f"the request timed out; raise PYSOPS_KMS_TIMEOUT (seconds) if the endpoint is slow ({exc})"
    if isinstance(exc, bx.EndpointConnectionError):
        return f"could not connect ({exc})"
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return f"no usable AWS credentials ({exc})"
    if isinstance(exc, bx.ProfileNotFound):
        return str(exc)
    if isinstance(exc, bx.ResponseParserError):
        return "the endpoint sent a malformed response"
    if isinstance(exc, bx.BotoCoreError):
        return str(exc)
    if isinstance(exc, KeySourceError | ConfigError):
        return exc.message
    return f"unexpected {type(exc).__name__}: {exc}"


# --------------------------------------------------------------------------------------------
# The key type


class _Unwrapper:
    """Per-``KeyContext`` state: clients and already unwrapped keys."""

    def __init__(self) -> None:
        self.clients = _Clients()
        self.keys: dict[tuple[Any, ...], bytes] = {}
        self.calls = 0


class _KMSKeyType:
    name = "kms"

    def parse_recipient(self, text: str, options: RecipientOptions | None = None) -> KMSKey:
        options = options or {}
        context = parse_encryption_context(options.get("encryption_context", ""))
        compact = "".join(text.split(" "))
        role = ""
        index = compact.find(_ROLE_MARK)
        if index > 0:
            compact, role = compact[:index], compact[index + 1 :]
        region_of(compact)
        return KMSKey(compact, role, context, options.get("aws_profile", ""))

    def with_options(self, key: KMSKey, options: RecipientOptions) -> KMSKey:
        """Apply command-line options to a key from a creation rule, as sops does: the CLI's
        --encryption-context fills a rule key that has none (a rule's own context wins)."""
        text = options.get("encryption_context", "")
        if text and not key.context:
            key = key._replace(context=parse_encryption_context(text))
        return key

    def recipients_from_rule(self, rule: Mapping[str, Any]) -> list[KMSKey]:
        """A flat creation rule: ``kms`` (comma list or list of strings) with the rule's
        ``aws_profile``."""
        raw = rule.get("kms")
        profile = rule.get("aws_profile") or ""
        if not isinstance(profile, str):
            raise ConfigError("aws_profile must be a string")
        if raw is None:
            return []
        items: list[str] = []
        if isinstance(raw, str):
            items = split_recipients(raw)
        elif isinstance(raw, list):
            for item in raw:
                if not isinstance(item, str):
                    raise ConfigError("kms must be a string or a list of strings (ARNs)")
                items.extend(split_recipients(item))
        else:
            raise ConfigError("kms must be a string or a list of strings (ARNs)")
        options = {"aws_profile": profile} if profile else {}
        return [self.parse_recipient(item, options) for item in items]

    def recipient_from_config(self, item: Any) -> KMSKey:
        if isinstance(item, str):
            return self.parse_recipient(item)
        if not isinstance(item, Mapping):
            raise ConfigError("kms entries must be mappings with arn (and role, context, aws_profile)")
        arn = item.get("arn")
        if not isinstance(arn, str) or not arn:
            raise ConfigError("a kms entry needs an arn")
        role = item.get("role") or ""
        profile = item.get("aws_profile") or ""
        if not isinstance(role, str) or not isinstance(profile, str):
            raise ConfigError(f"kms entry {arn}: role and aws_profile must be strings")
        region_of(arn)
        return KMSKey(arn, role, _context_from_mapping(item.get("context"), f"entry {arn}:"), profile)

    def from_metadata(self, stanza: Mapping[str, Any]) -> WrappedKey:
        key = self._key_of(stanza)
        return WrappedKey("kms", _stanza(key, str(stanza.get("created_at", "")), str(stanza.get("enc", ""))))

    @staticmethod
    def _key_of(fields: Mapping[str, Any]) -> KMSKey:
        raw_context = fields.get("context")
        context: Context = ()
        if isinstance(raw_context, Mapping):
            context = tuple(sorted((str(k), "" if v is None else str(v)) for k, v in raw_context.items()))
        return KMSKey(
            str(fields.get("arn", "")),
            str(fields.get("role") or ""),
            context,
            str(fields.get("aws_profile") or ""),
        )

    def recipient_of(self, wrapped: WrappedKey) -> KMSKey:
        return self._key_of(wrapped.fields)

    def unwrap(self, wrapped: WrappedKey, context: KeyContext) -> bytes:
        state = context.cache.get("kms")
        if not isinstance(state, _Unwrapper):
            state = _Unwrapper()
            context.cache["kms"] = state
        key = self._key_of(wrapped.fields)
        marker = (key, wrapped.enc)
        found = state.keys.get(marker)
        if found is not None:
            return found
        try:
            if not wrapped.enc.isascii() or _BASE64.fullmatch(wrapped.enc) is None:
                raise ValueError(wrapped.enc)
            blob = binascii.a2b_base64(wrapped.enc)
        except (binascii.Error, ValueError):
            raise KeySourceError(f"kms: the wrapped data key for {key.id} is not valid base64") from None
        if not blob:
            raise KeySourceError(f"kms: the wrapped data key for {key.id} is empty")
        try:
            client = state.clients.kms(key, context.env)
        except ConfigError as exc:
            raise KeySourceError(exc.message, hint=exc.hint) from None
        kwargs: dict[str, Any] = {"CiphertextBlob": blob}
        if key.context:
            kwargs["EncryptionContext"] = dict(key.context)
        state.calls += 1
        try:
            response = client.decrypt(**kwargs)
        except Exception as exc:  # noqa: BLE001 - every SDK failure becomes one named error
            raise _failure("decrypt the data key", key, exc) from None
        plaintext = response.get("Plaintext") if isinstance(response, Mapping) else None
        if not isinstance(plaintext, bytes) or not plaintext:
            raise KeySourceError(
                f"kms: could not decrypt the data key with {key.id}: "
                "the endpoint sent a malformed response (no Plaintext)"
            )
        state.keys[marker] = plaintext
        return plaintext


KEY_TYPE = _KMSKeyType()
