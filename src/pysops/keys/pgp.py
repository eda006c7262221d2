"""PGP recipients (fingerprints) through the ``gpg`` binary, driven by python-gnupg.

``enc`` is an ASCII-armored PGP message of the data key (format.md §4). ``SOPS_GPG_EXEC`` names
the gpg binary, ``GNUPGHOME`` the keyring, as for sops.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from pysops.errors import ConfigError, KeySourceError, MissingDependency, NotMyKey
from pysops.keys import KeyContext, RecipientOptions, WrappedKey, stanza_fields
from pysops.values import GoTime


def _gpg(env: Mapping[str, str]) -> Any:
    try:
        import gnupg
    except ImportError:  # pragma: no cover - python-gnupg is a core dependency
        raise MissingDependency("python-gnupg is not installed", hint="pip install python-gnupg") from None
    binary = env.get("SOPS_GPG_EXEC") or "gpg"
    try:
        gpg = gnupg.GPG(gpgbinary=binary, gnupghome=env.get("GNUPGHOME") or None, env=dict(env))
    except (OSError, ValueError, RuntimeError):
        raise KeySourceError(
            f"pgp: cannot run {binary}", hint="install GnuPG or set SOPS_GPG_EXEC to its path"
        ) from None
    gpg.encoding = "utf-8"
    return gpg


def _normalise_fingerprint(text: str) -> str:
    return "".join(text.split())


class PGPRecipient(NamedTuple):
    fingerprint: str
    type: str = "pgp"

    @property
    def id(self) -> str:
        return self.fingerprint

    def wrap(self, data_key: bytes, created_at: GoTime) -> WrappedKey:
        import os

        gpg = _gpg(os.environ)
        fp = self.fingerprint.rstrip("!")
        extra = ["--no-default-recipient", "--no-encrypt-to"]
        if len(fp) >= 16:
            extra += ["--trusted-key", fp[-16:]]
        result = gpg.encrypt(data_key, self.fingerprint, armor=True, always_trust=True, extra_args=extra)
        if not result.ok:
            raise KeySourceError(
                f"pgp: could not encrypt the data key to {self.fingerprint} ({result.status})",
                hint="import the public key into your keyring (gpg --import) or check GNUPGHOME",
            )
        return WrappedKey(
            "pgp",
            {"created_at": created_at.rfc3339(), "enc": str(result).strip("\n"), "fp": self.fingerprint},
        )


class _PGPKeyType:
    name = "pgp"

    def parse_recipient(self, text: str, options: RecipientOptions | None = None) -> PGPRecipient:
        fp = _normalise_fingerprint(text)
        core = fp.rstrip("!")
        if not core or not all(c in "0123456789abcdefABCDEF" for c in core.removeprefix("0x")):
            raise ConfigError(f"pgp: {text!r} is not a key fingerprint")
        return PGPRecipient(fp)

    def recipient_from_config(self, item: Any) -> PGPRecipient:
        if not isinstance(item, str):
            raise ConfigError("pgp: a key group's pgp entries must be fingerprint strings")
        return self.parse_recipient(item)

    def from_metadata(self, stanza: Mapping[str, Any]) -> WrappedKey:
        return WrappedKey("pgp", stanza_fields(stanza, ("created_at", "enc", "fp")))

    def recipient_of(self, wrapped: WrappedKey) -> PGPRecipient:
        return PGPRecipient(str(wrapped.fields.get("fp", "")))

    def unwrap(self, wrapped: WrappedKey, context: KeyContext) -> bytes:
        gpg = context.cache.get("pgp")
        if gpg is None:
            gpg = _gpg(context.env)
            context.cache["pgp"] = gpg
        result = gpg.decrypt(wrapped.enc)
        if result.ok:
            data: bytes = result.data
            return data
        status = str(result.status or "")
        if "no secret key" in status or "decryption failed" in status or not status:
            raise NotMyKey(f"pgp: no secret key for {wrapped.fields.get('fp')}")
        raise KeySourceError(f"pgp: gpg could not decrypt the data key for {wrapped.fields.get('fp')}: {status}")


KEY_TYPE = _PGPKeyType()
