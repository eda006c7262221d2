"""The ``policy:`` section of ``.sops-policy.yaml`` (pysops's own, not read by sops).

It states what must hold for the secrets of a repository, checked by ``pysops check`` (pre-commit
and CI) and enforced by ``rotate`` / ``updatekeys``:

```yaml
policy:
  must_encrypt: ["secrets/**", "*.enc.yaml"]   # globs, relative to the config file's directory
  required_recipients: ["age:age1ops..."]      # TYPE:ID that every encrypted file must have
  allowed_recipients: ["age:age1...", "kms:arn:aws:kms:..."]  # empty: anyone; else only these
  min_key_groups: 1                            # at least this many key groups
  allow_hsm_only: false                        # files whose recipients are all pkcs11
  forbid_unencrypted_suffix: false             # refuse files that keep `*_unencrypted` values
```

A recipient is named ``TYPE:ID`` with the ID as the file's metadata shows it (age recipient,
PGP fingerprint, KMS ARN, GCP resource id, Azure key URL, Vault URI, PKCS#11 URI).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from pysops.errors import ConfigError

FIELDS = (
    "must_encrypt",
    "required_recipients",
    "allowed_recipients",
    "min_key_groups",
    "allow_hsm_only",
    "forbid_unencrypted_suffix",
)


class Policy(NamedTuple):
    must_encrypt: tuple[str, ...] = ()
    required_recipients: tuple[str, ...] = ()
    allowed_recipients: tuple[str, ...] = ()
    min_key_groups: int = 0
    allow_hsm_only: bool = False
    forbid_unencrypted_suffix: bool = False

    def allows(self, recipient: str) -> bool:
        """Whether ``TYPE:ID`` may hold the data key (any recipient when no list is given)."""
        return not self.allowed_recipients or recipient in self.allowed_recipients


def _strings(value: Any, name: str, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ConfigError(f"{where}: policy.{name} must be a string or a list of strings")


def policy_from(section: Any, where: str = ".sops-policy.yaml") -> Policy:
    """Read a ``policy:`` section (None or missing: the empty policy). Unknown keys are errors:
    a typo must not silently weaken the policy."""
    if section is None:
        return Policy()
    if not isinstance(section, Mapping):
        raise ConfigError(f"{where}: policy must be a mapping")
    unknown = sorted(set(section) - set(FIELDS))
    if unknown:
        raise ConfigError(
            f"{where}: unknown policy setting {', '.join(map(str, unknown))}",
            hint=f"known settings: {', '.join(FIELDS)}",
        )
    groups = section.get("min_key_groups", 0)
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 0:
        raise ConfigError(f"{where}: policy.min_key_groups must be a non-negative integer")
    flags = {}
    for name in ("allow_hsm_only", "forbid_unencrypted_suffix"):
        value = section.get(name, False)
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: policy.{name} must be true or false")
        flags[name] = value
    return Policy(
        must_encrypt=_strings(section.get("must_encrypt"), "must_encrypt", where),
        required_recipients=_strings(section.get("required_recipients"), "required_recipients", where),
        allowed_recipients=_strings(section.get("allowed_recipients"), "allowed_recipients", where),
        min_key_groups=groups,
        **flags,
    )


def load_policy(cfg: Any) -> Policy:
    """The policy of a loaded ``pysops.config.Config`` (the empty policy when it has none)."""
    return policy_from(getattr(cfg, "policy", None), str(getattr(cfg, "path", None) or ".sops-policy.yaml"))


# ---------------------------------------------------------------------------------------------
# Enforcement on rotate / updatekeys
# ---------------------------------------------------------------------------------------------


def recipient_name(recipient: Any) -> str:
    """``TYPE:ID`` of a recipient (as ``allowed_recipients`` / ``required_recipients`` name it)."""
    return f"{recipient.type}:{recipient.id}"


def violations(
    policy: Policy,
    old_groups: Sequence[Sequence[Any]],
    new_groups: Sequence[Sequence[Any]],
    *,
    accept_file_recipients: bool = False,
) -> list[str]:
    """Why the key groups ``new_groups`` (replacing ``old_groups``, the file's current ones) break
    ``policy``: recipients outside ``allowed_recipients`` (those already in the file too, unless
    ``accept_file_recipients``: a recipient injected into the metadata would otherwise receive
    the new data key), missing ``required_recipients`` and fewer than ``min_key_groups`` groups.
    (``allow_hsm_only`` is enforced where the groups are rewrapped: ``pysops.api``.)
    Empty when the change is allowed."""
    before = {recipient_name(r) for group in old_groups for r in group}
    names: list[str] = []
    for group in new_groups:
        for recipient in group:
            name = recipient_name(recipient)
            if name not in names:
                names.append(name)
    problems: list[str] = []
    for name in names:
        if policy.allows(name):
            continue
        if name in before:
            if not accept_file_recipients:
                problems.append(f"recipient {name} is already in the file but not in the policy's allowed_recipients")
        else:
            problems.append(f"recipient {name} is not in the policy's allowed_recipients")
    for name in policy.required_recipients:
        if name not in names:
            problems.append(f"required recipient {name} would be missing")
    if len(new_groups) < policy.min_key_groups:
        problems.append(
            f"the policy requires at least {policy.min_key_groups} key groups; the result has {len(new_groups)}"
        )
    return problems


def enforce(
    policy: Policy,
    old_groups: Sequence[Sequence[Any]],
    new_groups: Sequence[Sequence[Any]],
    *,
    file: str,
    accept_file_recipients: bool = False,
) -> None:
    """Raise ``PolicyViolation`` (exit 1) naming every problem ``violations`` finds."""
    problems = violations(policy, old_groups, new_groups, accept_file_recipients=accept_file_recipients)
    if not problems:
        return
    injected = any("already in the file" in problem for problem in problems)
    hint = (
        "if you trust the file's current recipients, pass --accept-file-recipients"
        if injected
        else "change the recipients, or the policy section of the config file"
    )
    raise PolicyViolation(f"{file}: policy violation: {'; '.join(problems)}", hint=hint)


class PolicyViolation(ConfigError):
    """A change of recipients the policy forbids (exit 1)."""

    exit_code = 1
