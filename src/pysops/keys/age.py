"""age recipients (X25519 ``age1…`` and SSH ``ssh-ed25519``/``ssh-rsa`` public keys) via pyrage.

``enc`` is an ASCII-armored age file whose payload is the data key (format.md §4). Identities are
gathered from every source sops reads (format.md §6.2) once per ``KeyContext``.
"""

from __future__ import annotations

import binascii
import os
from collections.abc import Mapping

import pyrage

from pysops._typing import TYPE_CHECKING, NamedTuple
from pysops.errors import ConfigError, KeySourceError, NotMyKey
from pysops.keys import KeyContext, RecipientOptions, WrappedKey, stanza_fields
from pysops.values import GoTime

if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

_ARMOR_BEGIN = "-----BEGIN AGE ENCRYPTED FILE-----"
_ARMOR_END = "-----END AGE ENCRYPTED FILE-----"

_Identity = pyrage.x25519.Identity | pyrage.ssh.Identity


#: base64 as ``base64.b64decode(validate=True)`` accepts it, checked with str methods: the base64
#: and re modules cost a small decrypt several ms of imports
_BASE64_ALPHABET = dict.fromkeys(map(ord, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"))


def _is_base64(text: str) -> bool:
    """``[A-Za-z0-9+/]*={0,2}``: the alphabet, then at most two padding characters."""
    core = text.rstrip("=")
    return len(text) - len(core) <= 2 and not core.translate(_BASE64_ALPHABET)


def armor(data: bytes) -> str:
    b64 = binascii.b2a_base64(data, newline=False).decode("ascii")
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return _ARMOR_BEGIN + "\n" + "\n".join(lines) + "\n" + _ARMOR_END + "\n"


def dearmor(text: str) -> bytes:
    body = text.strip()
    if not (body.startswith(_ARMOR_BEGIN) and body.endswith(_ARMOR_END)):
        raise KeySourceError("age: the wrapped data key is not an armored age file")
    inner = body[len(_ARMOR_BEGIN) : -len(_ARMOR_END)]
    payload = "".join(inner.split())
    if not _is_base64(payload):
        raise KeySourceError("age: the wrapped data key has invalid base64")
    try:
        return binascii.a2b_base64(payload)
    except binascii.Error:
        raise KeySourceError("age: the wrapped data key has invalid base64") from None


class AgeRecipient(NamedTuple):
    recipient: str
    type: str = "age"

    @property
    def id(self) -> str:
        return self.recipient

    def _pyrage(self) -> pyrage.x25519.Recipient | pyrage.ssh.Recipient:
        try:
            if self.recipient.startswith("ssh-"):
                return pyrage.ssh.Recipient.from_str(self.recipient)
            return pyrage.x25519.Recipient.from_str(self.recipient)
        except pyrage.RecipientError:
            raise ConfigError(f"age: malformed recipient {self.recipient!r}") from None

    def wrap(self, data_key: bytes, created_at: GoTime) -> WrappedKey:
        enc = armor(pyrage.encrypt(data_key, [self._pyrage()]))
        return WrappedKey("age", {"recipient": self.recipient, "enc": enc})


def _parse_identities(text: str, source: str) -> list[_Identity]:
    identities: list[_Identity] = []
    stripped = text.lstrip()
    if stripped.startswith("age-encryption.org") or stripped.startswith(_ARMOR_BEGIN):
        raise KeySourceError(
            f"age: {source} is a passphrase-protected identity file, which pysops cannot use yet",
            hint="decrypt it with `age -d` into a file readable only by you and point SOPS_AGE_KEY_FILE at it",
        )
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("AGE-SECRET-KEY-1"):
            try:
                identities.append(pyrage.x25519.Identity.from_str(line))
            except pyrage.IdentityError:
                raise KeySourceError(f"age: {source} holds a malformed identity (line {number})") from None
        elif line.startswith("AGE-PLUGIN-"):
            raise KeySourceError(f"age: {source} holds a plugin identity, which pysops does not support yet")
        else:
            raise KeySourceError(f"age: {source} holds a line that is not an age identity (line {number})")
    return identities


def _ssh_identity(path: str, source: str) -> list[_Identity]:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise KeySourceError(f"age: cannot read {source} {path}: {exc.strerror}") from None
    try:
        return [pyrage.ssh.Identity.from_buffer(data)]
    except pyrage.IdentityError:
        raise KeySourceError(f"age: {source} {path} is not a usable unencrypted SSH private key") from None


def default_keys_path(env: Mapping[str, str]) -> str:
    """``<UserConfigDir>/sops/age/keys.txt`` as Go's os.UserConfigDir computes it.

    os.path rather than pathlib throughout this module: importing pathlib costs a small decrypt
    a few ms.
    """
    import sys

    if sys.platform == "darwin" and not env.get("XDG_CONFIG_HOME"):
        base = os.path.join(_home(env), "Library", "Application Support")
    elif os.name == "nt":
        base = env.get("APPDATA", "")
    else:
        xdg = env.get("XDG_CONFIG_HOME")
        base = xdg if xdg else os.path.join(_home(env), ".config")
    return os.path.join(base, "sops", "age", "keys.txt")


def _home(env: Mapping[str, str]) -> str:
    """``$HOME`` of ``env`` with ``~`` expanded (``Path(env["HOME"]).expanduser()``)."""
    return os.path.expanduser(env.get("HOME", "~"))


def _read_text(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def load_identities(env: Mapping[str, str]) -> tuple[list[_Identity], list[str]]:
    """All identities from sops's sources, and the errors met on the way (reported on failure)."""
    identities: list[_Identity] = []
    errors: list[str] = []

    def attempt(fn: Any, *args: Any) -> None:
        try:
            identities.extend(fn(*args))
        except KeySourceError as exc:
            errors.append(exc.message)

    home = _home(env)
    ssh_file = env.get("SOPS_AGE_SSH_PRIVATE_KEY_FILE")
    if ssh_file:
        attempt(_ssh_identity, ssh_file, "SOPS_AGE_SSH_PRIVATE_KEY_FILE")
    for name in ("id_ed25519", "id_rsa"):
        candidate = os.path.join(home, ".ssh", name)
        if os.path.isfile(candidate):
            attempt(_ssh_identity, candidate, "SSH key")
    if env.get("SOPS_AGE_KEY"):
        attempt(_parse_identities, env["SOPS_AGE_KEY"], "SOPS_AGE_KEY")
    key_file = env.get("SOPS_AGE_KEY_FILE")
    if key_file:
        try:
            attempt(_parse_identities, _read_text(key_file), "SOPS_AGE_KEY_FILE")
        except OSError as exc:
            errors.append(f"age: cannot read SOPS_AGE_KEY_FILE {key_file}: {exc.strerror}")
    key_cmd = env.get("SOPS_AGE_KEY_CMD")
    if key_cmd:
        import shlex
        import subprocess

        try:
            out = subprocess.run(
                shlex.split(key_cmd), capture_output=True, check=True, env=dict(env), timeout=120
            ).stdout
            attempt(_parse_identities, out.decode("utf-8"), "the output of SOPS_AGE_KEY_CMD")
        except (OSError, subprocess.SubprocessError, UnicodeDecodeError):
            errors.append("age: SOPS_AGE_KEY_CMD failed")
    default = default_keys_path(env)
    if os.path.isfile(default):
        try:
            attempt(_parse_identities, _read_text(default), default)
        except OSError as exc:
            errors.append(f"age: cannot read {default}: {exc.strerror}")
    return identities, errors


class _AgeKeyType:
    name = "age"

    def parse_recipient(self, text: str, options: RecipientOptions | None = None) -> AgeRecipient:
        recipient = AgeRecipient(text.strip())
        recipient._pyrage()  # validate now, not at wrap time (plugin recipients are refused here)
        return recipient

    def recipient_from_config(self, item: Any) -> AgeRecipient:
        if not isinstance(item, str):
            raise ConfigError("age: a key group's age entries must be recipient strings")
        return self.parse_recipient(item)

    def from_metadata(self, stanza: Mapping[str, Any]) -> WrappedKey:
        return WrappedKey("age", stanza_fields(stanza, ("recipient", "enc")))

    def recipient_of(self, wrapped: WrappedKey) -> AgeRecipient:
        return AgeRecipient(str(wrapped.fields.get("recipient", "")))

    def unwrap(self, wrapped: WrappedKey, context: KeyContext) -> bytes:
        cached = context.cache.get("age")
        if cached is None:
            cached = load_identities(context.env)
            context.cache["age"] = cached
        identities, errors = cached
        if not identities:
            detail = (
                "; ".join(errors)
                if errors
                else f"no identity found (looked in SOPS_AGE_KEY, "
                f"SOPS_AGE_KEY_FILE, SOPS_AGE_KEY_CMD, ~/.ssh and {default_keys_path(context.env)})"
            )
            raise NotMyKey(f"age: {detail}")
        try:
            return pyrage.decrypt(dearmor(wrapped.enc), identities)
        except pyrage.DecryptError:
            raise NotMyKey(f"age: no identity matches recipient {wrapped.fields.get('recipient')}") from None


KEY_TYPE = _AgeKeyType()


def generate_identity_file(path: str | None, env: Mapping[str, str], now: GoTime | None = None) -> Path:
    """Create a new age identity file (0600, like age-keygen) and return its path.

    The default location is sops's default keys.txt. An existing file is never overwritten.
    """
    from datetime import datetime, timezone
    from pathlib import Path

    target = Path(path if path else default_keys_path(env))
    identity = pyrage.x25519.Identity.generate()
    if now is None:
        t = datetime.now(timezone.utc)
        now = GoTime(t.year, t.month, t.day, t.hour, t.minute, t.second)
    text = f"# created: {now.rfc3339()}\n# public key: {identity.to_public()}\n{identity}\n"
    try:
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeySourceError(
            f"{target} already exists; pysops will not overwrite an identity file",
            hint="choose another file with --output",
            exit_code=1,
        ) from None
    except OSError as exc:
        raise KeySourceError(f"cannot create {target}: {exc.strerror}", exit_code=3) from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return target
