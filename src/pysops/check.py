"""``pysops check``: are the secrets of a repository really encrypted? (docs/check.md)

For each file:

* a file that a creation rule's ``path_regex`` matches (relative to the config file's directory),
  or that a ``policy.must_encrypt`` glob matches, must be a sops file with a complete metadata
  block, every value the selection says is encrypted must be an ``ENC[...]`` value, and its
  recipients must satisfy the policy. No key is needed; ``decrypt=True`` also decrypts it and
  verifies the MAC.
* any other file that turns out to be a sops file gets the same checks;
* every other file is scanned line by line for plaintext secrets (``DETECTORS``); a line holding
  ``pysops: allow`` is skipped.

Problems come back as ``Problem(path, line, code, message)``; messages never contain a value.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any, NamedTuple

from pysops.config import Config
from pysops.crypto.cipher import EncryptedValue, is_encrypted
from pysops.document import Comment, Document
from pysops.errors import ConfigError, NoMatchingCreationRule, PysopsError
from pysops.policyfile import Policy, load_policy

#: Every problem code with its one-line meaning (docs/check.md lists the same table).
CODES: dict[str, str] = {
    "PS001": "a file that must be encrypted is not a sops file (no metadata)",
    "PS002": "the file cannot be read or parsed",
    "PS003": "the sops metadata is incomplete (version, lastmodified, mac or keys missing)",
    "PS004": "a value that must be encrypted is in plaintext",
    "PS005": "a malformed ENC[...] value or MAC",
    "PS006": "decryption or MAC verification failed (--decrypt)",
    "PS010": "a required recipient is missing",
    "PS011": "a recipient outside the policy's allowed_recipients",
    "PS012": "fewer key groups than the policy's min_key_groups",
    "PS013": "every recipient is a PKCS#11 (HSM) key and the policy does not allow_hsm_only",
    "PS014": "a value kept in plaintext by the unencrypted suffix, forbidden by the policy",
    "PS101": "a PEM private key block",
    "PS102": "an AWS access key id",
    "PS103": "a high-entropy value of a secret-looking key (*_KEY, *_SECRET, *password*, *token*)",
    "PS104": "an age secret key",
}

#: A line holding this is never reported by the plaintext detectors.
ALLOW_MARKER = "pysops: allow"
#: Files larger than this (bytes) or holding a NUL byte in their first 8 KiB are not scanned.
MAX_SCAN_BYTES = 5 * 1024 * 1024
#: High-entropy detector: minimum length and Shannon entropy (bits per character) of the value.
MIN_SECRET_LENGTH = 12
MIN_ENTROPY = 3.3


class Problem(NamedTuple):
    path: str
    line: int
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.code} {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "code": self.code, "message": self.message}


# --------------------------------------------------------------------------------------------
# Plaintext secret detectors (files outside the rules)

_PEM = re.compile(r"-----BEGIN ((RSA|EC|DSA|OPENSSH|ENCRYPTED|PGP) )?PRIVATE KEY( BLOCK)?-----")
_AWS = re.compile(r"(?<![A-Z0-9])(AKIA|ASIA)[0-9A-Z]{16}(?![A-Z0-9])")
_AGE = re.compile(r"AGE-SECRET-KEY-1[0-9A-Z]{58}")
_KEYED = re.compile(
    r"""(?ix)
    (?P<key>[A-Za-z0-9_.-]*(?:_key|_secret|password|passwd|token)[A-Za-z0-9_.-]*)
    ["']?\s*[:=]\s*
    (?P<quote>["']?)(?P<value>[^\s"'#,;]+)"""
)
_PLACEHOLDER_PREFIXES = ("$", "{{", "%(", "<", "ENC[")


def shannon_entropy(text: str) -> float:
    """Bits per character of ``text`` (0 for the empty string)."""
    if not text:
        return 0.0
    counts: dict[str, int] = {}
    for char in text:
        counts[char] = counts.get(char, 0) + 1
    total = len(text)
    return -sum(n / total * math.log2(n / total) for n in counts.values())


def _high_entropy(line: str) -> str | None:
    for match in _KEYED.finditer(line):
        value = match.group("value")
        if value.startswith(_PLACEHOLDER_PREFIXES):
            continue
        if len(value) >= MIN_SECRET_LENGTH and shannon_entropy(value) >= MIN_ENTROPY:
            return match.group("key")
    return None


#: (code, test) pairs; a test returns a short description (never the value) or None.
DETECTORS: tuple[tuple[str, Callable[[str], str | None]], ...] = (
    ("PS101", lambda line: "PEM private key block" if _PEM.search(line) else None),
    ("PS102", lambda line: "AWS access key id" if _AWS.search(line) else None),
    ("PS104", lambda line: "age secret key" if _AGE.search(line) else None),
    ("PS103", lambda line: f"high-entropy value of {key!r}" if (key := _high_entropy(line)) else None),
)


def scan_plaintext(path: str, data: bytes) -> list[Problem]:
    """Problems found by ``DETECTORS`` in a file that is not a sops file."""
    if len(data) > MAX_SCAN_BYTES or b"\0" in data[:8192]:
        return []
    problems: list[Problem] = []
    for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
        if ALLOW_MARKER in line:
            continue
        for code, test in DETECTORS:
            found = test(line)
            if found:
                problems.append(Problem(path, number, code, f"plaintext secret: {found}"))
    return problems


# --------------------------------------------------------------------------------------------
# must_encrypt globs


@lru_cache(maxsize=256)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """A ``must_encrypt`` glob as a regex over a ``/``-separated relative path.

    ``**`` matches any number of directories, ``*`` and ``?`` stay within one name, ``[...]`` is a
    character class. A pattern without ``/`` matches the file name at any depth (like .gitignore).
    A pattern ending with ``/`` (or ``/**``) matches everything below that directory.
    """
    pat = pattern.strip().removeprefix("./")
    if pat.endswith("/"):
        pat += "**"
    anywhere = "/" not in pat
    out: list[str] = []
    i = 0
    while i < len(pat):
        char = pat[i]
        if pat.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pat.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pat.find("]", i + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = pat[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end + 1
                continue
        else:
            out.append(re.escape(char))
        i += 1
    body = "".join(out).removeprefix("/")
    prefix = "(?:.*/)?" if anywhere else ""
    return re.compile(f"{prefix}{body}\\Z")


def matches_glob(relative: str, patterns: Iterable[str]) -> str | None:
    """The first pattern matching ``relative`` (a ``/``-separated path), or None."""
    for pattern in patterns:
        if glob_regex(pattern).match(relative):
            return pattern
    return None


# --------------------------------------------------------------------------------------------
# Checking one file


class Target(NamedTuple):
    """What the configuration says about one file."""

    managed: bool  # a rule or a must_encrypt glob says it must be encrypted
    selection: tuple[str, str] | None  # the matching rule's selection, if any
    policy: Policy
    reason: str  # "creation rule 1" / "must_encrypt 'secrets/**'" / ""


def _relative(config: Config, absolute: str) -> str | None:
    base = config.dir
    if base is None:
        return None
    rel = os.path.relpath(absolute, base)
    if rel.startswith(".."):
        return None
    return rel.replace(os.sep, "/")


def classify(config: Config, absolute: str) -> Target:
    """Whether ``absolute`` must be encrypted under ``config`` (its rules and policy)."""
    policy = load_policy(config)
    if config.path is None:
        return Target(False, None, policy, "")
    if os.path.abspath(absolute) == os.path.abspath(config.path):
        return Target(False, None, policy, "")
    if config.creation_rules is not None:
        try:
            rule = config.rule_for(absolute, cwd="/", with_keys=False)
        except NoMatchingCreationRule:
            rule = None
        if rule is not None and rule.path_regex:
            return Target(True, rule.selection, policy, f"creation rule {rule.position + 1}")
    relative = _relative(config, absolute)
    if relative is not None:
        pattern = matches_glob(relative, policy.must_encrypt)
        if pattern is not None:
            return Target(True, None, policy, f"must_encrypt {pattern!r}")
    return Target(False, None, policy, "")


def _line_of(text: str | bytes | None, span: tuple[int, int] | None) -> int:
    if span is None or not isinstance(text, str):
        return 1
    return text.count("\n", 0, span[0]) + 1


def _line_of_string(text: str | bytes | None, needle: str) -> int:
    if not isinstance(text, str) or not needle:
        return 1
    index = text.find(needle)
    return 1 if index < 0 else text.count("\n", 0, index) + 1


def _display(path: Sequence[str]) -> str:
    return "".join(f"[{component!r}]" for component in path) or "(top)"


def _recipients(meta: Any) -> list[list[str]]:
    from pysops.keys import key_type

    groups: list[list[str]] = []
    for group in meta.key_groups:
        names: list[str] = []
        for wrapped in group:
            try:
                names.append(f"{wrapped.type}:{key_type(wrapped.type).recipient_of(wrapped).id}")
            except (KeyError, PysopsError, ValueError):
                names.append(f"{wrapped.type}:?")
        groups.append(names)
    return groups


def check_sops_file(
    path: str, doc: Document, target: Target, *, decrypt: Callable[[], None] | None = None
) -> list[Problem]:
    """Structure, selection and policy checks of a parsed sops file (``doc.metadata`` is set)."""
    from pysops.api import walk_document
    from pysops.metadata import Metadata
    from pysops.policy import should_encrypt, should_encrypt_comment

    problems: list[Problem] = []
    text = doc.text
    raw = doc.metadata or {}
    try:
        meta = Metadata.from_dict(raw)
    except PysopsError as exc:
        return [Problem(path, 1, "PS003", f"invalid sops metadata: {exc.message}")]
    missing = [name for name in ("version", "lastmodified", "mac") if not getattr(meta, name)]
    groups = _recipients(meta)
    if not any(groups):
        missing.append("keys")
    elif any(not group for group in groups):
        missing.append("keys of a key group")
    if missing:
        problems.append(Problem(path, 1, "PS003", f"incomplete sops metadata: no {', '.join(missing)}"))
    if meta.mac and not is_encrypted(meta.mac):
        problems.append(Problem(path, _line_of_string(text, meta.mac), "PS005", "the MAC is not an ENC[...] value"))
    elif meta.mac:
        try:
            EncryptedValue.parse(meta.mac)
        except PysopsError:
            problems.append(Problem(path, _line_of_string(text, meta.mac), "PS005", "malformed ENC[...] MAC"))

    file_selection = meta.selection
    suffix = file_selection or ("unencrypted_suffix", "_unencrypted")
    for visit in walk_document(doc):
        leaf = visit.leaf
        if isinstance(leaf, Comment):
            value: object = leaf.text
            # the comment's container path and its stack (ending with itself): sops's rule
            must = should_encrypt_comment(visit.path, visit.comments, file_selection)
            if target.selection is not None:
                must = must or should_encrypt_comment(visit.path, visit.comments, target.selection)
            what = f"a comment under {_display(visit.path)}"
        else:
            value = leaf.value
            if value in ("", None, b""):
                continue
            must = should_encrypt(visit.path, visit.comments, file_selection)
            if target.selection is not None:
                must = must or should_encrypt(visit.path, visit.comments, target.selection)
            what = _display(visit.path)
        line = _line_of(text, leaf.span)
        if is_encrypted(value):
            try:
                EncryptedValue.parse(str(value))
            except PysopsError:
                problems.append(Problem(path, line, "PS005", f"malformed ENC[...] value at {what}"))
            continue
        if must:
            problems.append(Problem(path, line, "PS004", f"plaintext value at {what}"))
        elif (
            target.policy.forbid_unencrypted_suffix
            and suffix[0] == "unencrypted_suffix"
            and not isinstance(leaf, Comment)
            and any(component.endswith(suffix[1]) for component in visit.path)
        ):
            problems.append(Problem(path, line, "PS014", f"{what} is kept in plaintext by the suffix {suffix[1]!r}"))

    policy = target.policy
    present = {name for group in groups for name in group}
    for required in policy.required_recipients:
        if required not in present:
            problems.append(Problem(path, 1, "PS010", f"required recipient {required} is missing"))
    for name in sorted(present):
        if not policy.allows(name):
            ident = name.split(":", 1)[1]
            problems.append(
                Problem(path, _line_of_string(text, ident), "PS011", f"recipient {name} is not allowed by the policy")
            )
    if len(groups) < policy.min_key_groups:
        problems.append(
            Problem(path, 1, "PS012", f"{len(groups)} key group(s), the policy requires {policy.min_key_groups}")
        )
    if present and not policy.allow_hsm_only and all(name.startswith("pkcs11:") for name in present):
        problems.append(Problem(path, 1, "PS013", "every recipient is a PKCS#11 key (allow_hsm_only is off)"))
    if decrypt is not None and not problems:
        try:
            decrypt()
        except PysopsError as exc:
            problems.append(Problem(path, 1, "PS006", f"cannot decrypt: {exc.message}"))
    return problems


def _looks_sops(data: bytes) -> bool:
    return b"ENC[AES256_GCM," in data


def check_file(
    path: str,
    absolute: str,
    data: bytes,
    config: Config,
    *,
    decrypt: bool = False,
    env: Mapping[str, str] | None = None,
) -> list[Problem]:
    """All problems of one file (``path`` is how it is shown, ``absolute`` where it is)."""
    from pysops.formats import format_for_path, get_store

    target = classify(config, absolute)
    fmt = format_for_path(absolute)
    doc: Document | None = None
    parse_error: str | None = None
    if target.managed or _looks_sops(data):
        try:
            doc = get_store(fmt).parse(data)
        except PysopsError as exc:
            parse_error = exc.message
        except (ValueError, UnicodeDecodeError) as exc:
            parse_error = str(exc) or type(exc).__name__
    if doc is not None and doc.metadata is not None:
        runner: Callable[[], None] | None = None
        if decrypt:
            parsed = doc

            def runner() -> None:
                # the last use of the parsed document: decrypting it in place costs no re-parse
                from pysops import api

                order = api.parse_decryption_order((env or os.environ).get("SOPS_DECRYPTION_ORDER"))
                api.decrypt_document(parsed, api.DecryptOptions(decryption_order=order))

        return check_sops_file(path, doc, target, decrypt=runner)
    if target.managed:
        if parse_error is not None:
            return [Problem(path, 1, "PS002", f"cannot parse as {fmt} ({target.reason}): {parse_error}")]
        return [Problem(path, 1, "PS001", f"not encrypted, but {target.reason} says it must be")]
    return scan_plaintext(path, data)


# --------------------------------------------------------------------------------------------
# Many files


def git_files(cwd: str) -> list[str]:
    """The tracked files of the repository containing ``cwd``, as paths relative to ``cwd``."""
    try:
        top = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"], cwd=cwd, capture_output=True, text=True, check=False
        )
    except OSError as exc:
        raise ConfigError(f"cannot run git: {exc.strerror}") from None
    if top.returncode != 0:
        raise ConfigError("not inside a git repository", hint="name the files to check: pysops check FILE...")
    root = top.stdout.strip()
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=False)
    if listed.returncode != 0:
        raise ConfigError(f"git ls-files failed: {listed.stderr.decode('utf-8', 'replace').strip()}")
    names = [name for name in listed.stdout.decode("utf-8", "surrogateescape").split("\0") if name]
    return [os.path.relpath(os.path.join(root, name), cwd) for name in names]


def check_paths(
    paths: Sequence[str],
    *,
    cwd: str,
    env: Mapping[str, str],
    config_flag: str | None = None,
    decrypt: bool = False,
) -> list[Problem]:
    """Check each file (directories are walked; missing files are reported as PS002)."""
    configs: dict[str | None, Config] = {}
    problems: list[Problem] = []
    for path in _expand(paths, cwd):
        absolute = os.path.abspath(os.path.join(cwd, path))
        try:
            with open(absolute, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            problems.append(Problem(path, 1, "PS002", f"cannot read the file: {exc.strerror}"))
            continue
        config = _config_for(absolute, cwd, env, config_flag, configs)
        problems.extend(check_file(path, absolute, data, config, decrypt=decrypt, env=env))
    return problems


def _expand(paths: Sequence[str], cwd: str) -> list[str]:
    out: list[str] = []
    for path in paths:
        absolute = os.path.join(cwd, path)
        if os.path.isdir(absolute):
            for root, dirs, files in os.walk(absolute):
                dirs[:] = sorted(d for d in dirs if d != ".git")
                out.extend(os.path.relpath(os.path.join(root, f), cwd) for f in sorted(files))
        else:
            out.append(path)
    return out


def _config_for(
    absolute: str, cwd: str, env: Mapping[str, str], flag: str | None, cache: dict[str | None, Config]
) -> Config:
    from pysops.config import find_config, load_config

    found = find_config(absolute, explicit=flag, env=env, cwd=cwd)
    if found not in cache:
        cache[found] = load_config(found) if found is not None else Config()
    return cache[found]


__all__ = [
    "CODES",
    "DETECTORS",
    "Problem",
    "check_file",
    "check_paths",
    "check_sops_file",
    "classify",
    "git_files",
    "glob_regex",
    "scan_plaintext",
    "shannon_entropy",
]
