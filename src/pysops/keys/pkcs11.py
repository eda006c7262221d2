"""PKCS#11 HSM recipients (our extension ``pkcs11``; sops cannot read it) via python-pkcs11.

A recipient is an RFC 7512 URI naming a token and a key on it, e.g.
``pkcs11:token=pysops;object=sops-key`` or ``pkcs11:token=pysops;object=sops-aes;type=secret-key``.
The stanza written to the file is ``uri``, ``mechanism``, ``created_at``, ``enc`` (standard base64).

Mechanisms (the stanza records which one wrapped the key, so decryption never guesses):

* ``RSA-PKCS-OAEP-SHA256`` — CKM_RSA_PKCS_OAEP, hash SHA-256, MGF1-SHA-256, no label; encrypted
  with the token's RSA public key object, decrypted with the private key (CKA_DECRYPT).
* ``RSA-PKCS-OAEP-SHA1`` — the same with SHA-1/MGF1-SHA-1. Used only when the token refuses the
  SHA-256 parameters (SoftHSM2 up to 2.6 implements OAEP with SHA-1 only); OAEP's security does
  not rest on the hash's collision resistance, so this is a compatibility fallback, not a downgrade
  to something broken.
* ``AES-KEY-WRAP-PAD`` — CKM_AES_KEY_WRAP_PAD (RFC 5649) under an AES secret key on the token
  (CKA_WRAP/CKA_UNWRAP): the data key is imported as a session-only generic secret, wrapped, and
  on decryption unwrapped into a session object whose value is read back and then destroyed.

Where the module and PIN come from: ``PYSOPS_PKCS11_MODULE`` / ``PYSOPS_PKCS11_PIN`` when set,
otherwise the URI's query attributes ``module-path``, ``pin-value``, ``pin-source`` (a file path
or ``file:`` URI). The environment wins so that a file written on one machine (whose stored URI may
carry that machine's ``module-path``) opens on another. ``pin-value`` is never written to a file:
the stored URI drops it.

One login per token per process: the logged-in session is kept (with a digest of its PIN) in a
process-wide table and reused by every ``KeyContext`` that presents the same PIN; a different PIN
logs the old session out first, so a wrong PIN is always checked by the token. Each context also
remembers the data keys it unwrapped, so a stanza shared by many files is decrypted once.
PKCS#11 calls are synchronous C calls without a timeout of their own: a network HSM's timeouts are
those of its module's configuration.
"""

from __future__ import annotations

import binascii
import contextlib
import hashlib
import hmac
import os
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote_to_bytes

from pysops.errors import ConfigError, KeySourceError, MissingDependency, NotMyKey
from pysops.keys import KeyContext, RecipientOptions, WrappedKey, stanza_fields
from pysops.values import GoTime

RSA_OAEP_SHA256 = "RSA-PKCS-OAEP-SHA256"
RSA_OAEP_SHA1 = "RSA-PKCS-OAEP-SHA1"
AES_KEY_WRAP_PAD = "AES-KEY-WRAP-PAD"
MECHANISMS = (RSA_OAEP_SHA256, RSA_OAEP_SHA1, AES_KEY_WRAP_PAD)

ENV_MODULE = "PYSOPS_PKCS11_MODULE"
ENV_PIN = "PYSOPS_PKCS11_PIN"

#: RFC 7512 path attributes (``x-`` vendor attributes are accepted and ignored).
_PATH_ATTRS = (
    "token", "manufacturer", "serial", "model", "library-manufacturer", "library-description",
    "library-version", "object", "type", "id", "slot-description", "slot-manufacturer", "slot-id",
)  # fmt: skip
_QUERY_ATTRS = ("pin-source", "pin-value", "module-name", "module-path")
_KEY_OBJECT_TYPES = ("public", "private", "secret-key")
#: Characters RFC 7512 lets a value keep unescaped (pchar without ';', '/', '?', '&', '=').
_SAFE = "-._~!$'()*+,:@"

#: Calls made to tokens in this process (tests count them): logins, encrypts/wraps, decrypts.
STATS: Counter[str] = Counter()


# --------------------------------------------------------------------------------------------
# URIs


@dataclass(frozen=True)
class PKCS11URI:
    """A parsed RFC 7512 URI: path attributes (token and object selection) and query attributes
    (module and PIN), values percent-decoded (``id`` stays bytes)."""

    path: tuple[tuple[str, str], ...]
    query: tuple[tuple[str, str], ...]
    key_id: bytes | None = None

    def get(self, name: str) -> str | None:
        for key, value in self.path + self.query:
            if key == name:
                return value
        return None

    def text(self, *, with_pin_value: bool = False) -> str:
        """The URI in canonical form (attributes as given, values re-encoded); ``pin-value`` only
        on request (it is a secret and never stored)."""
        parts = []
        for key, value in self.path:
            if key == "id" and self.key_id is not None:
                parts.append("id=" + "".join(f"%{b:02x}" for b in self.key_id))
            else:
                parts.append(f"{key}={quote(value, safe=_SAFE)}")
        query = [
            f"{key}={quote(value, safe=_SAFE + '/')}"
            for key, value in self.query
            if with_pin_value or key != "pin-value"
        ]
        return "pkcs11:" + ";".join(parts) + ("?" + "&".join(query) if query else "")


def _decode(value: str, what: str, text: str) -> bytes:
    if "%" in value:
        pieces = value.split("%")
        for piece in pieces[1:]:
            if len(piece) < 2 or any(c not in "0123456789abcdefABCDEF" for c in piece[:2]):
                raise ConfigError(f"pkcs11: bad percent-encoding in {what} of {text!r}")
    return unquote_to_bytes(value)


def parse_uri(text: str) -> PKCS11URI:
    """Parse and validate a PKCS#11 URI naming one key (``object`` and/or ``id``)."""
    stripped = text.strip()
    if not stripped[:7].lower() == "pkcs11:":
        raise ConfigError(
            f"pkcs11: {text!r} is not a PKCS#11 URI", hint="write it as pkcs11:token=<label>;object=<key label>"
        )
    body = stripped[7:]
    path_text, _, query_text = body.partition("?")
    path: list[tuple[str, str]] = []
    query: list[tuple[str, str]] = []
    key_id: bytes | None = None
    for raw in path_text.split(";") if path_text else []:
        name, sep, value = raw.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ConfigError(f"pkcs11: {raw!r} in {text!r} is not an attribute=value pair")
        if name in _QUERY_ATTRS:
            raise ConfigError(
                f"pkcs11: {name} is a query attribute in {text!r}",
                hint=f"put it after '?': pkcs11:token=...;object=...?{name}=...",
            )
        if name not in _PATH_ATTRS and not name.startswith("x-"):
            raise ConfigError(f"pkcs11: unknown attribute {name!r} in {text!r}")
        if any(name == seen for seen, _ in path):
            raise ConfigError(f"pkcs11: attribute {name!r} appears twice in {text!r}")
        decoded = _decode(value, name, text)
        if name == "id":
            key_id = decoded
            path.append((name, decoded.hex()))
            continue
        try:
            path.append((name, decoded.decode("utf-8")))
        except UnicodeDecodeError:
            raise ConfigError(f"pkcs11: {name} in {text!r} is not UTF-8") from None
    for raw in query_text.split("&") if query_text else []:
        name, sep, value = raw.partition("=")
        if not sep or name not in _QUERY_ATTRS and not name.startswith("x-"):
            raise ConfigError(f"pkcs11: unknown query attribute {raw!r} in {text!r}")
        try:
            query.append((name, _decode(value, name, text).decode("utf-8")))
        except UnicodeDecodeError:
            raise ConfigError(f"pkcs11: {name} in {text!r} is not UTF-8") from None
    uri = PKCS11URI(tuple(path), tuple(query), key_id)
    if uri.get("object") is None and key_id is None:
        raise ConfigError(
            f"pkcs11: {text!r} does not name a key", hint="add object=<key label> (or id=%xx...) to the URI"
        )
    kind = uri.get("type")
    if kind is not None and kind not in _KEY_OBJECT_TYPES:
        raise ConfigError(f"pkcs11: type={kind} in {text!r} is not a key type (public, private, secret-key)")
    return uri


# --------------------------------------------------------------------------------------------
# Talking to the module


def _pkcs11() -> Any:
    try:
        import pkcs11
    except ImportError:
        raise MissingDependency(
            "pkcs11 keys need the python-pkcs11 package", hint="pip install 'pysops[hsm]'"
        ) from None
    return pkcs11


def _module_path(uri: PKCS11URI, env: Mapping[str, str]) -> str | None:
    return env.get(ENV_MODULE) or uri.get("module-path")


def _pin(uri: PKCS11URI, env: Mapping[str, str]) -> str | None:
    if env.get(ENV_PIN):
        return env[ENV_PIN]
    value = uri.get("pin-value")
    if value is not None:
        return value
    source = uri.get("pin-source")
    if source is None:
        return None
    path = source[len("file:") :] if source.startswith("file:") else source
    if path.startswith("//"):
        path = path[2:]
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().rstrip("\r\n")
    except OSError as exc:
        raise KeySourceError(f"pkcs11: cannot read pin-source {path}: {exc.strerror}") from None


def _b64decode(text: str) -> bytes:
    """Standard base64, strictly (no stray characters)."""
    import base64

    return base64.b64decode(text.encode("ascii"), validate=True)


def _error_name(exc: BaseException) -> str:
    return type(exc).__name__ if not str(exc) else f"{type(exc).__name__}: {exc}"


def _load(module: str) -> Any:
    lib = _pkcs11()
    try:
        return lib.lib(module)
    except lib.PKCS11Error as exc:
        raise KeySourceError(
            f"pkcs11: cannot load the PKCS#11 module {module} ({exc})",
            hint=f"point {ENV_MODULE} (or module-path=) at the HSM vendor's PKCS#11 library",
        ) from None


def _token(lib: Any, uri: PKCS11URI) -> Any:
    """The one token matching the URI's token/slot attributes."""
    pkcs11 = _pkcs11()
    wanted: dict[str, Callable[[Any], Any]] = {
        "token": lambda t: t.label,
        "manufacturer": lambda t: t.manufacturer_id,
        "model": lambda t: t.model,
        "serial": lambda t: t.serial.decode("ascii", "replace") if isinstance(t.serial, bytes) else t.serial,
        "slot-id": lambda t: str(t.slot.slot_id),
        "slot-description": lambda t: t.slot.slot_description,
        "slot-manufacturer": lambda t: t.slot.manufacturer_id,
    }
    try:
        tokens = [slot.get_token() for slot in lib.get_slots(token_present=True)]
        # an uninitialised token (SoftHSM's spare slot) holds no keys
        tokens = [t for t in tokens if t.flags & pkcs11.TokenFlag.TOKEN_INITIALIZED]
    except pkcs11.PKCS11Error as exc:
        raise KeySourceError(f"pkcs11: cannot list the module's tokens ({_error_name(exc)})") from None
    found = [
        t for t in tokens
        if all(uri.get(name) is None or str(get(t)).strip() == uri.get(name) for name, get in wanted.items())
    ]  # fmt: skip
    if not found:
        present = ", ".join(repr(t.label) for t in tokens) or "none"
        raise KeySourceError(f"pkcs11: no token matches {uri.text()} (tokens present: {present})")
    if len(found) > 1:
        raise KeySourceError(f"pkcs11: {len(found)} tokens match {uri.text()}; add token= or serial= to the URI")
    return found[0]


class _Login:
    __slots__ = ("session", "pin_digest")

    def __init__(self, session: Any, pin_digest: bytes) -> None:
        self.session = session
        self.pin_digest = pin_digest


#: Logged-in sessions of this process, by (module, slot id): PKCS#11 login state is per token and
#: process, so there is at most one, and it is only handed to callers presenting the same PIN.
_LOGINS: dict[tuple[str, int], _Login] = {}


def _digest(module: str, slot: int, pin: str) -> bytes:
    return hashlib.sha256(f"{module}\0{slot}\0{pin}".encode()).digest()


def _logged_in(module: str, token: Any, pin: str) -> Any:
    pkcs11 = _pkcs11()
    slot_id = int(token.slot.slot_id)
    key = (module, slot_id)
    digest = _digest(module, slot_id, pin)
    current = _LOGINS.get(key)
    if current is not None:
        if hmac.compare_digest(current.pin_digest, digest):
            return current.session
        del _LOGINS[key]
        with contextlib.suppress(pkcs11.PKCS11Error):
            current.session.close()  # C_Logout + C_CloseSession: the new PIN must be checked
    try:
        STATS["logins"] += 1
        session = token.open(user_pin=pin)
    except pkcs11.PinIncorrect:
        raise KeySourceError(
            f"pkcs11: wrong PIN for token {token.label!r} (CKR_PIN_INCORRECT)",
            hint=f"check {ENV_PIN} or the URI's pin-source",
        ) from None
    except pkcs11.PinLocked:
        raise KeySourceError(f"pkcs11: the user PIN of token {token.label!r} is locked") from None
    except pkcs11.PKCS11Error as exc:
        raise KeySourceError(f"pkcs11: cannot log in to token {token.label!r} ({_error_name(exc)})") from None
    _LOGINS[key] = _Login(session, digest)
    return session


def logout_all() -> None:
    """Log out of every token this process logged in to and close those sessions (a library user
    done with the HSM, or a test that wants to count logins from zero)."""
    pkcs11 = _pkcs11()
    while _LOGINS:
        _, login = _LOGINS.popitem()
        with contextlib.suppress(pkcs11.PKCS11Error):
            login.session.close()


def _find_key(session: Any, uri: PKCS11URI, classes: tuple[Any, ...]) -> Any:
    pkcs11 = _pkcs11()
    attrs: dict[Any, Any] = {}
    label = uri.get("object")
    if label is not None:
        attrs[pkcs11.Attribute.LABEL] = label
    if uri.key_id is not None:
        attrs[pkcs11.Attribute.ID] = uri.key_id
    found = []
    for object_class in classes:
        try:
            found += list(session.get_objects({**attrs, pkcs11.Attribute.CLASS: object_class}))
        except pkcs11.PKCS11Error as exc:
            raise KeySourceError(f"pkcs11: cannot search the token for {uri.text()} ({_error_name(exc)})") from None
    if not found:
        return None
    if len(found) > 1:
        raise KeySourceError(f"pkcs11: {len(found)} keys match {uri.text()}; add id= or type= to the URI")
    return found[0]


def _not_found(uri: PKCS11URI, what: str) -> KeySourceError:
    return KeySourceError(
        f"pkcs11: no {what} matching {uri.text()} on the token",
        hint="list the token's objects with `pkcs11-tool --list-objects --login` and check object=/id=",
    )


def _oaep_param(mechanism: str) -> tuple[Any, Any, None]:
    pkcs11 = _pkcs11()
    if mechanism == RSA_OAEP_SHA256:
        return (pkcs11.Mechanism.SHA256, pkcs11.MGF.SHA256, None)
    return (pkcs11.Mechanism.SHA_1, pkcs11.MGF.SHA1, None)


def _secret_template(pkcs11: Any) -> dict[Any, Any]:
    return {
        pkcs11.Attribute.TOKEN: False,
        pkcs11.Attribute.EXTRACTABLE: True,
        pkcs11.Attribute.SENSITIVE: False,
    }


def _aes_unwrap(key: Any, enc: bytes) -> bytes:
    """Unwrap into a session-only generic secret, read its value, destroy it."""
    pkcs11 = _pkcs11()
    unwrapped = key.unwrap_key(
        pkcs11.ObjectClass.SECRET_KEY,
        pkcs11.KeyType.GENERIC_SECRET,
        enc,
        mechanism=pkcs11.Mechanism.AES_KEY_WRAP_PAD,
        template=_secret_template(pkcs11),
    )
    try:
        return bytes(unwrapped[pkcs11.Attribute.VALUE])
    finally:
        unwrapped.destroy()


# --------------------------------------------------------------------------------------------
# Recipient and key type


@dataclass(frozen=True)
class PKCS11Recipient:
    """A key on a token. ``uri`` is the stored form (no ``pin-value``); the parsed URI, with the
    PIN if one was given inline, is kept aside for wrapping and never compared or shown."""

    uri: str
    parsed: PKCS11URI = field(compare=False, repr=False)
    type: str = "pkcs11"

    @property
    def id(self) -> str:
        return self.uri

    def wrap(self, data_key: bytes, created_at: GoTime) -> WrappedKey:
        try:
            mechanism, enc = self._wrap(data_key, os.environ)
        except (KeySourceError, NotMyKey) as exc:
            message = (exc.message if isinstance(exc, KeySourceError) else str(exc)).removeprefix("pkcs11: ")
            hint = exc.hint if isinstance(exc, KeySourceError) else None
            raise KeySourceError(f"pkcs11: cannot wrap the data key for {self.uri}: {message}", hint=hint) from None
        return WrappedKey(
            "pkcs11",
            {
                "uri": self.uri,
                "mechanism": mechanism,
                "created_at": created_at.rfc3339(),
                "enc": binascii.b2a_base64(enc, newline=False).decode("ascii"),
            },
        )

    def _wrap(self, data_key: bytes, env: Mapping[str, str]) -> tuple[str, bytes]:
        pkcs11 = _pkcs11()
        uri = self.parsed
        module = _module_path(uri, env)
        if not module:
            raise KeySourceError(f"no PKCS#11 module configured (set {ENV_MODULE} or module-path=)")
        token = _token(_load(module), uri)
        kind = uri.get("type")
        if kind != "secret-key":
            # The public key object is readable without logging in.
            try:
                with token.open() as session:
                    public = _find_key(session, uri, (pkcs11.ObjectClass.PUBLIC_KEY,))
                    if public is not None:
                        return self._rsa_encrypt(public, data_key)
            except pkcs11.PKCS11Error as exc:
                raise KeySourceError(f"token error ({_error_name(exc)})") from None
            if kind in ("public", "private"):
                raise _not_found(uri, "RSA public key")
        pin = _pin(uri, env)
        if pin is None:
            raise _not_found(uri, "public key (an AES key would need a PIN: set PYSOPS_PKCS11_PIN)")
        session = _logged_in(module, token, pin)
        secret = _find_key(session, uri, (pkcs11.ObjectClass.SECRET_KEY,))
        if secret is None:
            raise _not_found(uri, "RSA public key or AES secret key")
        try:
            temporary = session.create_object(
                {
                    pkcs11.Attribute.CLASS: pkcs11.ObjectClass.SECRET_KEY,
                    pkcs11.Attribute.KEY_TYPE: pkcs11.KeyType.GENERIC_SECRET,
                    pkcs11.Attribute.VALUE: data_key,
                    **_secret_template(pkcs11),
                }
            )
            try:
                STATS["encrypts"] += 1
                wrapped = bytes(secret.wrap_key(temporary, mechanism=pkcs11.Mechanism.AES_KEY_WRAP_PAD))
            finally:
                temporary.destroy()
            if len(data_key) % 8:
                # Only padded lengths (a 33-byte Shamir share) can go wrong: SoftHSM2 up to 2.6
                # writes the padded length into the RFC 5649 header. Check before trusting it.
                STATS["decrypts"] += 1
                check = _aes_unwrap(secret, wrapped)
        except pkcs11.PKCS11Error as exc:
            raise KeySourceError(f"the token could not wrap with {AES_KEY_WRAP_PAD} ({_error_name(exc)})") from None
        if len(data_key) % 8 and check != data_key:
            raise KeySourceError(
                f"the token's {AES_KEY_WRAP_PAD} does not follow RFC 5649 for {len(data_key)}-byte values "
                "(a known SoftHSM2 2.6 bug)",
                hint="use an RSA key on this token for files with several key groups (Shamir shares)",
            )
        return AES_KEY_WRAP_PAD, wrapped

    @staticmethod
    def _rsa_encrypt(public: Any, data_key: bytes) -> tuple[str, bytes]:
        pkcs11 = _pkcs11()
        refused = (pkcs11.ArgumentsBad, pkcs11.MechanismInvalid, pkcs11.MechanismParamInvalid)
        for mechanism in (RSA_OAEP_SHA256, RSA_OAEP_SHA1):
            try:
                STATS["encrypts"] += 1
                ciphertext = public.encrypt(
                    data_key, mechanism=pkcs11.Mechanism.RSA_PKCS_OAEP, mechanism_param=_oaep_param(mechanism)
                )
                return mechanism, bytes(ciphertext)
            except refused:
                if mechanism == RSA_OAEP_SHA1:
                    raise KeySourceError("the token refuses RSA-OAEP with SHA-256 and with SHA-1") from None
            except pkcs11.PKCS11Error as exc:
                raise KeySourceError(f"the token could not encrypt with RSA-OAEP ({_error_name(exc)})") from None
        raise AssertionError("unreachable")  # pragma: no cover


class _PKCS11KeyType:
    name = "pkcs11"

    def parse_recipient(self, text: str, options: RecipientOptions | None = None) -> PKCS11Recipient:
        parsed = parse_uri(text)
        return PKCS11Recipient(parsed.text(), parsed)

    def recipient_from_config(self, item: Any) -> PKCS11Recipient:
        if isinstance(item, Mapping) and isinstance(item.get("uri"), str):
            return self.parse_recipient(item["uri"])
        if not isinstance(item, str):
            raise ConfigError("pkcs11: a key group's pkcs11 entries must be URI strings (or {uri: ...})")
        return self.parse_recipient(item)

    def from_metadata(self, stanza: Mapping[str, Any]) -> WrappedKey:
        return WrappedKey("pkcs11", stanza_fields(stanza, ("uri", "mechanism", "created_at", "enc")))

    def recipient_of(self, wrapped: WrappedKey) -> PKCS11Recipient:
        return self.parse_recipient(str(wrapped.fields.get("uri", "")))

    def unwrap(self, wrapped: WrappedKey, context: KeyContext) -> bytes:
        text = str(wrapped.fields.get("uri", ""))
        mechanism = str(wrapped.fields.get("mechanism", ""))
        try:
            uri = parse_uri(text)
        except ConfigError as exc:
            raise KeySourceError(f"pkcs11: the file's uri is invalid: {exc.message}") from None
        if mechanism not in MECHANISMS:
            raise KeySourceError(
                f"pkcs11: unsupported mechanism {mechanism!r} for {text}", hint="supported: " + ", ".join(MECHANISMS)
            )
        try:
            enc = _b64decode(wrapped.enc)
        except (binascii.Error, UnicodeEncodeError):
            raise KeySourceError(f"pkcs11: the wrapped data key for {text} is not valid base64") from None
        cache: dict[Any, Any] = context.cache.setdefault("pkcs11", {})
        remembered = cache.get(("unwrapped", text, mechanism, enc))
        if remembered is not None:
            return bytes(remembered)
        module = _module_path(uri, context.env)
        if not module:
            raise NotMyKey(f"pkcs11: no PKCS#11 module configured for {text} (set {ENV_MODULE})")
        pin = _pin(uri, context.env)
        if pin is None:
            raise KeySourceError(f"pkcs11: no PIN for {text}", hint=f"set {ENV_PIN} or add pin-source= to the URI")
        token = cache.get(("token", module, uri.text()))
        if token is None:
            token = _token(_load(module), uri)
            cache[("token", module, uri.text())] = token
        session = _logged_in(module, token, pin)
        data_key = self._decrypt(session, uri, mechanism, enc, text)
        cache[("unwrapped", text, mechanism, enc)] = data_key
        return data_key

    @staticmethod
    def _decrypt(session: Any, uri: PKCS11URI, mechanism: str, enc: bytes, text: str) -> bytes:
        pkcs11 = _pkcs11()
        if mechanism == AES_KEY_WRAP_PAD:
            key = _find_key(session, uri, (pkcs11.ObjectClass.SECRET_KEY,))
            if key is None:
                raise _not_found(uri, "AES secret key")
            try:
                STATS["decrypts"] += 1
                return _aes_unwrap(key, enc)
            except pkcs11.PKCS11Error as exc:
                raise KeySourceError(
                    f"pkcs11: the token could not unwrap the data key for {text} ({_error_name(exc)}): "
                    "another key with the same label, or a damaged enc"
                ) from None
        key = _find_key(session, uri, (pkcs11.ObjectClass.PRIVATE_KEY,))
        if key is None:
            raise _not_found(uri, "RSA private key")
        try:
            STATS["decrypts"] += 1
            plain = key.decrypt(enc, mechanism=pkcs11.Mechanism.RSA_PKCS_OAEP, mechanism_param=_oaep_param(mechanism))
        except pkcs11.PKCS11Error as exc:
            raise KeySourceError(
                f"pkcs11: the token could not decrypt the data key for {text} ({_error_name(exc)}): "
                "another key with the same label, or a damaged enc"
            ) from None
        return bytes(plain)


KEY_TYPE = _PKCS11KeyType()
