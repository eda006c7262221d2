"""The library surface: encrypt and decrypt documents, bytes and files.

Each public function is a short composition of the stores (``pysops.formats``), the selection
rules (``pysops.policy``), the value codec and MAC (``pysops.crypto``) and the recipient types
(``pysops.keys``). Time, randomness and the environment come in as arguments so tests can pin
exact bytes; the defaults read the clock, ``os.urandom`` and ``os.environ``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import chain

from pysops import policy
from pysops._lazyre import LazyPattern
from pysops._typing import TYPE_CHECKING, NamedTuple
from pysops.crypto import shamir
from pysops.crypto.cipher import IV_SIZE, EncryptedValue, ValueCipher, is_encrypted
from pysops.crypto.mac import encrypt_mac, mac_hash, mac_hex, verify_mac
from pysops.crypto.stash import IVStash
from pysops.document import Comment, Document, Entry, GcPaused, Node, Scalar
from pysops.document import Mapping as MappingNode
from pysops.document import Sequence as SeqNode
from pysops.errors import (
    CouldNotRetrieveKey,
    DecryptionFailed,
    DuplicateDecryptionKeyType,
    ErrorEncryptingTree,
    FileAlreadyEncrypted,
    GenericError,
    InvalidTreePath,
    MacMismatch,
    MetadataNotFound,
    NotMyKey,
    PysopsError,
    WriteVerificationFailed,
)
from pysops.formats import get_store
from pysops.keys import DEFAULT_DECRYPTION_ORDER, SPECS, KeyContext, Recipient, WrappedKey, key_type
from pysops.metadata import VERSION, Metadata
from pysops.policy import SELECTION_KEYS
from pysops.values import GoTime, Value, from_plaintext, to_plaintext, type_name

if TYPE_CHECKING:
    from typing import Any

DATA_KEY_SIZE = 32
RandBytes = Callable[[int], bytes]


def now_utc() -> GoTime:
    t = time.gmtime()  # (datetime costs a small encrypt 1.5 ms of imports)
    return GoTime(t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, 0, 0)


class EncryptOptions:
    """What ``encrypt`` needs besides the document: key groups and the selection settings.
    Checked on construction (exit 1 for no recipients or a bad Shamir threshold)."""

    def __init__(
        self,
        key_groups: Sequence[Sequence[Recipient]],
        shamir_threshold: int = 0,
        selection: tuple[str, str] | None = None,
        mac_only_encrypted: bool = False,
        allow_hsm_only: bool = False,
    ) -> None:
        self.key_groups = key_groups
        self.shamir_threshold = shamir_threshold
        self.selection = selection
        self.mac_only_encrypted = mac_only_encrypted
        groups = list(self.key_groups)
        if not groups or not any(groups):
            raise GenericError(
                "no recipients: nothing to encrypt the data key for",
                hint="pass --age/--pgp, set SOPS_AGE_RECIPIENTS, or add a creation rule to .sops.yaml",
            )
        if any(not g for g in groups):
            raise GenericError("a key group has no keys")
        if not allow_hsm_only and not any(SPECS[r.type].sops_compatible for g in groups for r in g if r.type in SPECS):
            raise GenericError(
                "every recipient is of a type sops cannot use (e.g. pkcs11): sops could not open this file",
                hint="add an age or PGP recipient, or pass --allow-hsm-only if only pysops will read it",
            )
        if self.selection is not None and self.selection[0] not in SELECTION_KEYS:
            raise GenericError(f"unknown selection option {self.selection[0]}")
        if len(groups) > 1:
            threshold = self.shamir_threshold or len(groups)
            if threshold < 2 or threshold > len(groups):
                raise GenericError(
                    f"Shamir threshold {threshold} is invalid for {len(groups)} key groups",
                    hint="use a threshold from 2 to the number of key groups",
                )


class DecryptOptions:
    """``env`` defaults to os.environ; a shared ``context`` lets several files reuse loaded
    identities, and a shared ``key_cache`` (``pysops.bulk.DataKeyCache``: anything with
    ``data_key(meta, options)``) unwraps each distinct set of wrapped stanzas once."""

    def __init__(
        self,
        ignore_mac: bool = False,
        decryption_order: Sequence[str] | None = None,
        env: Mapping[str, str] | None = None,
        context: KeyContext | None = None,
        key_cache: Any = None,
    ) -> None:
        self.ignore_mac = ignore_mac
        self.decryption_order = decryption_order
        self.env = env
        self.context = context
        self.key_cache = key_cache

    def data_key(self, meta: Metadata) -> bytes:
        """The file's data key, through the shared cache when there is one."""
        if self.key_cache is not None:
            key: bytes = self.key_cache.data_key(meta, self)
            return key
        return recover_data_key(meta, self)


# --------------------------------------------------------------------------------------------
# Walking the tree


class _Visit(NamedTuple):
    path: tuple[str, ...]
    leaf: Scalar | Comment
    comments: tuple[str, ...] = ()


_Leaf = tuple[tuple[str, ...], str, Scalar | Comment, tuple[str, ...]]


def _leaves(node: MappingNode | SeqNode, path: tuple[str, ...], prefix: str, stack: tuple[str, ...]) -> Iterator[_Leaf]:
    """Leaves and comments in document order with their path, AAD and active comment stack
    (format.md §1.5): ``(path, aad, leaf, comments)``; ``prefix`` is the container's AAD, "" at
    the top.

    A generator that recurses only into containers and builds nothing per leaf but the tuple it
    yields: on a 20,000-value file a list of records, or a call per leaf, costs twice as much."""
    own_aad = prefix or ":"
    pending: list[str] = []
    for item in node.items:
        kind = type(item)
        if kind is Comment:
            # the stack holds the comment as written: read before the consumer seals it
            pending.append(item.text)  # type: ignore[union-attr]
            # a comment's own stack ends with itself (sops's walk; policy.should_encrypt_comment)
            yield path, own_aad, item, stack + tuple(pending)  # type: ignore[misc]
            continue
        active = stack + tuple(pending) if pending else stack
        if pending:
            pending = []
        if kind is Entry:
            key = item.key  # type: ignore[union-attr]
            value = item.value  # type: ignore[union-attr]
            if type(value) is Scalar:
                yield path + (key,), prefix + key + ":", value, active
            else:
                yield from _leaves(value, path + (key,), prefix + key + ":", active)  # type: ignore[arg-type]
        elif kind is Scalar:
            yield path, own_aad, item, active  # type: ignore[misc]
        else:
            yield from _leaves(item, path, prefix, active)  # type: ignore[arg-type]


def _document_leaves(doc: Document) -> Iterator[_Leaf]:
    return chain.from_iterable([_leaves(branch, (), "", ()) for branch in doc.branches])


def walk_document(doc: Document) -> list[_Visit]:
    return [_Visit(path, leaf, comments) for path, _, leaf, comments in _document_leaves(doc)]


def _aad(path: tuple[str, ...]) -> str:
    return "".join(component + ":" for component in path) if path else ":"


def _iv_stream(randbytes: RandBytes) -> Iterator[bytes]:
    """IVs drawn from ``randbytes`` a block at a time (one call per 256 values, not per value)."""
    while True:
        block = randbytes(IV_SIZE * 256)
        for start in range(0, IV_SIZE * 256, IV_SIZE):
            yield block[start : start + IV_SIZE]


# --------------------------------------------------------------------------------------------
# Tree encryption / decryption


class _Sealer:
    """Encrypts one document's values and comments, called in walk order, and hashes the MAC as
    it goes: the per-leaf half of ``encrypt_tree``, also handed to stores that walk their own
    text (``encrypt_text``), so both ways give the same bytes.

    ``value`` is the cost of encrypting a large file, so it is a closure over locals rather than
    a method reading attributes, and written flat: IVs sliced from blocks drawn 256 at a time,
    one selection closure, str (the common type) handled inline."""

    __slots__ = ("value", "comment", "known", "_mac")

    def __init__(
        self,
        data_key: bytes,
        *,
        selection: tuple[str, str] | None,
        mac_only_encrypted: bool,
        randbytes: RandBytes,
        stash: IVStash | None,
    ) -> None:
        cipher = ValueCipher(data_key)
        seal = cipher.seal
        decide = policy.selector(selection)
        self._mac = mac_hash(mac_only_encrypted)
        add_mac = self._mac.update
        ivs = _iv_stream(randbytes)
        #: every ENC string sealed, with its (AAD, plaintext, type) (a comment's plaintext is
        #: left out: b""): ``verify_sealed`` reads the written file back without decrypting
        #: these again
        self.known: dict[str, tuple[str, bytes, str]] = {}
        remember = self.known.__setitem__

        def value(path: tuple[str, ...], aad: str, value: Value | None, comments: tuple[str, ...]) -> Value | None:
            """What to store for a leaf: its ENC string when the selection encrypts it, else
            the value itself (the same object)."""
            if type(value) is str:
                plaintext = value.encode("utf-8", "surrogateescape")
                tag = "str"
            elif value is None:
                return None
            else:
                if type(value) is int and not -(2**63) <= value < 2**63:
                    raise ErrorEncryptingTree(f"the integer at {_display_path(path)} does not fit in 64 bits")
                plaintext = to_plaintext(value)
                tag = type_name(value)
            if not decide(path, comments):
                if not mac_only_encrypted:
                    add_mac(plaintext)
                return value
            add_mac(plaintext)
            if value == "":
                return value
            sealed = seal(plaintext, next(ivs) if stash is None else stash.get(aad, value) or next(ivs), aad, tag)
            remember(sealed, (aad, plaintext, tag))
            return sealed

        def comment(aad: str, text: str, path: tuple[str, ...] = (), comments: tuple[str, ...] | None = None) -> str:
            """What to store for a comment: its ENC string when the selection encrypts it (as
            sops decides: ``policy.should_encrypt_comment`` over the comment's container
            ``path`` and its comment stack ``comments``, which ends with the comment itself;
            None stands for a comment alone in its stack), else the text itself."""
            if not policy.should_encrypt_comment(path, (text,) if comments is None else comments, selection):
                return text
            iv = stash.get(aad, text, "comment") if stash is not None else None
            sealed = cipher.encrypt_comment(text, aad, iv or next(ivs))
            remember(sealed, (aad, b"", "comment"))
            if (
                selection is not None
                and selection[0] == "unencrypted_comment_regex"
                and not policy.should_encrypt((), (sealed,), selection)
            ):
                # it would read back as a comment the rule keeps in clear (sops refuses too)
                raise ErrorEncryptingTree(
                    f"the encrypted form of a comment matches unencrypted_comment_regex {selection[1]!r}",
                    hint="use a regex that cannot match ENC[AES256_GCM,...] text",
                )
            return sealed

        self.value = value
        self.comment = comment

    def mac_hex(self) -> str:
        return mac_hex(self._mac)


def encrypt_tree(
    doc: Document,
    data_key: bytes,
    *,
    selection: tuple[str, str] | None,
    mac_only_encrypted: bool,
    randbytes: RandBytes = os.urandom,
    stash: IVStash | None = None,
) -> str:
    """Encrypt the selected leaves and comments in place; returns the MAC (hex) of the plaintexts."""
    sealer = _Sealer(
        data_key, selection=selection, mac_only_encrypted=mac_only_encrypted, randbytes=randbytes, stash=stash
    )
    _seal_document(doc, sealer)
    return sealer.mac_hex()


def _seal_document(doc: Document, sealer: _Sealer) -> None:
    seal_value = sealer.value
    seal_comment = sealer.comment
    for path, aad, leaf, comments in _document_leaves(doc):
        if type(leaf) is Comment:
            text = seal_comment(aad, leaf.text, path, comments)
            if text is not leaf.text:
                leaf.set(text)
            continue
        value = leaf.value  # type: ignore[union-attr]
        sealed = seal_value(path, aad, value, comments)
        if sealed is not value:
            leaf.value = sealed  # type: ignore[union-attr]
            leaf.changed = True


def decrypt_tree(
    doc: Document,
    data_key: bytes,
    *,
    selection: tuple[str, str] | None,
    mac_only_encrypted: bool,
    stash: IVStash | None = None,
    ignore_mac: bool = False,
    known: Mapping[str, tuple[str, bytes, str]] | None = None,
) -> str:
    """Decrypt every encrypted leaf and comment in place; returns the MAC (hex) of the plaintexts.

    ``known`` (``verify_sealed``) maps ENC strings this process just sealed to their (AAD,
    plaintext, type): such a value found at its own AAD is not decrypted again; any other value
    is (a value moved to another path still fails authentication). A known string is only
    hashed into the MAC and a known comment found in the container it was sealed for is taken
    as it is: both stay encrypted in the tree (the read-back discards it). A known value of any
    type is hashed as the sealer hashed it (its ``to_plaintext`` form, already canonical).

    Tampering that the MAC would not see is refused here: an encrypted comment that does not
    authenticate (``DecryptionFailed``, exit 25) and a value whose type tag was changed to
    ``comment`` (``MacMismatch``, 51, as sops reports it). ``ignore_mac`` keeps such a comment
    encrypted instead, as sops does with a warning; a value typed ``comment`` is refused even
    then (25), since it cannot be shown as the value it was."""
    cipher = ValueCipher(data_key)
    open_ = cipher.open
    known_get = None if known is None else known.get
    decide = policy.selector(selection)
    mac = mac_hash(mac_only_encrypted)
    add_mac = mac.update
    # Comments that decrypt under none of their enclosing paths nor the previous leaf's wait
    # for the next leaf's path (``_decrypt_comment``): (comment, aad, paths already tried).
    unresolved: list[tuple[Comment, str, tuple[str, ...], set[str]]] = []
    previous: tuple[str, ...] = ()
    for path, aad, leaf, comments in _document_leaves(doc):
        if type(leaf) is Comment:
            if is_encrypted(leaf.text):
                hit = None if known_get is None else known_get(leaf.text)
                if hit is not None and hit[0] == aad and hit[2] == "comment":
                    continue  # sealed here for this very container (comments are not in the MAC)
                tried: set[str] = set()
                if not _decrypt_comment(cipher, leaf, aad, (path, previous), tried, stash, ignore_mac):
                    unresolved.append((leaf, aad, path, tried))
            continue
        if unresolved:
            for waiting, waiting_aad, waiting_path, tried in unresolved:
                if not _decrypt_comment(cipher, waiting, waiting_aad, (path,), tried, stash, ignore_mac):
                    _tampered_comment(waiting, waiting_path, ignore_mac)
            unresolved = []
        previous = path
        value = leaf.value  # type: ignore[union-attr]
        if value is None:
            continue
        encrypted = decide(path, comments)
        if encrypted and type(value) is str and value != "":
            if not value.startswith("ENC[AES256_GCM,"):
                raise DecryptionFailed(
                    f"the value at {_display_path(path)} should be encrypted but is not",
                    hint="the file was edited by hand; encrypt the value again or use the matching rules",
                )
            hit = None if known_get is None else known_get(value)
            if hit is not None and hit[0] == aad:
                plaintext, kind, iv = hit[1], hit[2], b""
                if kind != "comment":
                    # the sealer hashed this very serialisation (``to_plaintext``) into the MAC
                    add_mac(plaintext)
                    continue
            else:
                plaintext, kind, iv = open_(value, aad)
            if kind == "str":
                plain: Value = plaintext.decode("utf-8", "surrogateescape")
                canonical = plaintext
            else:
                if kind == "comment":
                    # sops leaves a comment out of the MAC, so it reports a MAC mismatch here
                    message = f"the value at {_display_path(path)} is typed as a comment (type tag changed)"
                    hint = "the file was modified outside sops/pysops; restore it from version control"
                    if ignore_mac:
                        raise DecryptionFailed(message, hint=hint)
                    raise MacMismatch(message, hint=hint)
                plain = from_plaintext(plaintext, kind)
                if type(plain) is bytes:
                    raise DecryptionFailed(
                        f"the value at {_display_path(path)} has type 'bytes', which no store writes"
                    )
                # The MAC covers the canonical serialisation (a `type:int` "007" hashes as "7").
                canonical = to_plaintext(plain)
            if stash is not None:
                stash.put(aad, plain, iv)
            leaf.value = plain  # type: ignore[union-attr]
            leaf.changed = True
            add_mac(canonical)
            continue
        if encrypted and type(value) is not str:
            raise DecryptionFailed(
                f"the value at {_display_path(path)} should be encrypted but is a plain {type(value).__name__}",
                hint="the file was edited by hand; restore it from version control",
            )
        if encrypted or not mac_only_encrypted:
            add_mac(to_plaintext(value))
    for waiting, _, waiting_path, _ in unresolved:
        _tampered_comment(waiting, waiting_path, ignore_mac)
    return mac_hex(mac)


def _decrypt_comment(
    cipher: ValueCipher,
    leaf: Comment,
    aad: str,
    paths: Sequence[tuple[str, ...]],
    tried: set[str],
    stash: IVStash | None,
    ignore_mac: bool,
) -> bool:
    """Decrypt an encrypted comment in place; False when it authenticates under none of the
    candidate AADs: each of ``paths`` and its enclosing paths, deepest first, skipping those in
    ``tried`` (which gains the ones tried here).

    A comment's AAD is the path of the container the writing tool attached it to, and tools
    disagree on that for odd layouts (a comment after a nested block, or before its first key,
    belongs to the inner mapping for one and to the outer for the other). So ``decrypt_tree``
    tries the comment's own container and its parents, then the previous leaf's path, then the
    next leaf's. A comment that decrypts under none of them was tampered with (comments are not
    in the MAC: this is their only check). One that decrypts with a type other than
    ``comment`` had its tag changed: sops then hashes it into the MAC and reports a mismatch.
    """
    text = leaf.text
    for path in paths:
        for depth in range(len(path), -1, -1):
            candidate = _aad(path[:depth])
            if candidate in tried:
                continue
            tried.add(candidate)
            try:
                plaintext, kind, iv = cipher.open(text, candidate)
            except DecryptionFailed:
                continue
            if kind != "comment" and not ignore_mac:
                raise MacMismatch(
                    f"an encrypted comment under {_display_path(path[:depth])} is typed {kind!r} (type tag changed)",
                    hint="the file was modified outside sops/pysops; use --ignore-mac to decrypt it anyway",
                )
            plain = plaintext.decode("utf-8", "surrogateescape")
            if stash is not None:
                stash.put(aad, plain, iv, "comment")
            leaf.set(plain)
            return True
    return False


def _tampered_comment(leaf: Comment, path: tuple[str, ...], ignore_mac: bool) -> None:
    """Refuse a comment that is malformed or failed authentication (exit 25), unless the MAC is
    ignored: then it is kept encrypted, as sops keeps it (with a warning)."""
    if ignore_mac:
        return
    EncryptedValue.parse(leaf.text)  # a malformed one says so
    raise DecryptionFailed(
        f"an encrypted comment under {_display_path(path)} failed authentication "
        "(tampered ciphertext, or moved to another place)",
        hint="the file was modified outside sops/pysops; restore it, or use --ignore-mac to keep it encrypted",
    )


def _display_path(path: tuple[str, ...]) -> str:
    return "".join(f"[{p!r}]" for p in path) or "the top level"


# --------------------------------------------------------------------------------------------
# Data key wrapping


def wrap_data_key(
    data_key: bytes,
    groups: Sequence[Sequence[Recipient]],
    threshold: int,
    created_at: GoTime,
    randbytes: RandBytes = os.urandom,
) -> list[list[WrappedKey]]:
    if len(groups) == 1:
        return [[r.wrap(data_key, created_at) for r in groups[0]]]
    shares = shamir.split(data_key, len(groups), threshold or len(groups), randbytes)
    return [[r.wrap(share, created_at) for r in group] for share, group in zip(shares, groups, strict=True)]


def parse_decryption_order(text: str | None) -> list[str]:
    if not text:
        return list(DEFAULT_DECRYPTION_ORDER)
    order = [t.strip() for t in text.split(",") if t.strip()]
    if len(set(order)) != len(order):
        raise DuplicateDecryptionKeyType("the decryption order names a key type twice")
    return order


def _ordered(group: list[WrappedKey], order: Sequence[str]) -> list[WrappedKey]:
    rank = {name: i for i, name in enumerate(order)}
    return sorted(group, key=lambda k: rank.get(k.type, len(rank)))


def recover_data_key(meta: Metadata, options: DecryptOptions) -> bytes:
    """Unwrap the data key (or enough Shamir shares) from the key groups (exit 128 on failure)."""
    context = options.context or KeyContext(dict(options.env if options.env is not None else os.environ))
    order = list(options.decryption_order) if options.decryption_order else list(DEFAULT_DECRYPTION_ORDER)
    groups = meta.key_groups
    needed = 1 if len(groups) == 1 else (meta.shamir_threshold or len(groups))
    recovered: list[bytes] = []
    report: list[str] = []
    hints: list[str] = []
    for index, group in enumerate(groups):
        errors: list[str] = []
        for wrapped in _ordered(group, order):
            if wrapped.type not in SPECS:
                errors.append(f"{wrapped.type}: pysops does not support this key type yet")
                continue
            try:
                recovered.append(key_type(wrapped.type).unwrap(wrapped, context))
                break
            except NotMyKey as exc:
                errors.append(str(exc))
            except PysopsError as exc:
                errors.append(exc.message)
                if exc.hint and exc.hint not in hints:
                    hints.append(exc.hint)
        else:
            report.append(f"group {index}: " + ("; ".join(errors) or "no keys"))
        if len(recovered) >= needed:
            break
    if len(recovered) < needed:
        # A key that failed for a reason (denied, unreachable) knows the better hint.
        raise CouldNotRetrieveKey(
            "could not recover the data key: " + " | ".join(report),
            hint=hints[0]
            if hints
            else "make an identity for one of the file's recipients available (e.g. SOPS_AGE_KEY_FILE)",
        )
    if len(groups) == 1:
        key = recovered[0]
    else:
        try:
            key = shamir.combine(recovered)
        except ValueError as exc:
            raise CouldNotRetrieveKey(f"could not combine the key shares: {exc}") from None
    if len(key) != DATA_KEY_SIZE:
        raise CouldNotRetrieveKey("the recovered data key has the wrong length")
    return key


def lastmodified_aad(lastmodified: str) -> str:
    """sops re-formats the stored lastmodified as Go RFC3339 before using it as the MAC's AAD."""
    try:
        return GoTime.parse_rfc3339(lastmodified).rfc3339()
    except ValueError:
        raise GenericError("sops metadata: lastmodified is not an RFC3339 time") from None


# --------------------------------------------------------------------------------------------
# Reading back what is about to be written (design invariant 7)


def verify_sealed(
    data: bytes,
    output_format: str,
    data_key: bytes,
    meta: Metadata,
    *,
    known: Mapping[str, tuple[str, bytes, str]] | None = None,
    context: KeyContext | None = None,
    env: Mapping[str, str] | None = None,
) -> None:
    """Raise ``WriteVerificationFailed`` unless ``data`` reads back as the file just sealed.

    The same store parses it; its metadata block is there and says exactly what ``meta`` says
    (every key stanza, selection, MAC, dates); every value the file's selection rules encrypt is
    encrypted and decrypts under ``data_key``; the MAC verifies. Where an age identity is at
    hand (already loaded in ``context``, else from ``env``'s SOPS_AGE_KEY, SOPS_AGE_KEY_FILE, the
    default keys.txt or ~/.ssh: never by running SOPS_AGE_KEY_CMD), the data key is also unwrapped
    from the stanzas just written and compared. Callers run this before the bytes leave pysops,
    so a store or metadata bug is an internal error (exit 1) and never a file without its key.
    ``known`` is the sealer's record of the ENC strings it made (``_Sealer.known``): those are
    not decrypted again, which halves the cost on a large file.
    """
    try:
        store = get_store(output_format)
        read_back_text = getattr(store, "read_back_text", None)
        if (
            read_back_text is not None
            and known is not None
            and _verify_sealed_text(read_back_text, data, data_key, meta, known, context, env)
        ):
            return
        doc = store.parse(data)
        if doc.metadata is None:
            raise MetadataNotFound("the sops metadata block is missing")
        written = _written_metadata(doc.metadata, meta)
        computed = decrypt_tree(
            doc,
            data_key,
            selection=written.effective_selection(),
            mac_only_encrypted=written.mac_only_encrypted,
            known=known,
        )
        verify_mac(written.mac, computed, data_key, lastmodified_aad(written.lastmodified))
        _verify_unwrap(written, data_key, context, env)
    except WriteVerificationFailed:
        raise
    except Exception as exc:  # a store bug may raise anything: it must stop the write, not crash
        detail = exc.message if isinstance(exc, PysopsError) else type(exc).__name__
        raise WriteVerificationFailed(
            f"internal error: the encrypted {output_format} output does not read back ({detail}); nothing was written",
            hint="this is a pysops bug: please report it with the layout of the input (not its values)",
        ) from None


def _verify_sealed_text(
    read_back_text: Callable[..., dict[str, Any] | None],
    data: bytes,
    data_key: bytes,
    meta: Metadata,
    known: Mapping[str, tuple[str, bytes, str]],
    context: KeyContext | None,
    env: Mapping[str, str] | None,
) -> bool:
    """``verify_sealed`` for a store that walks its own text (``read_back_text``): the same
    checks without a tree, for output whose encrypted values and comments are all ones this
    process just sealed. False when the walk meets anything else (a value or comment it would
    have to decrypt, a line its parser would refuse): the tree path then decides.

    The walk calls ``value(path, aad, value, comments)`` and ``comment(aad, text, path,
    comments)`` in ``decrypt_tree``'s order with its arguments (``_leaves``: a comment's stack
    ends with itself; an entry's holds the comments since the previous entry, as written);
    each returns False to give up. The rules mirror ``decrypt_tree``'s for a known string.
    """
    decide = policy.selector(meta.effective_selection())
    only_encrypted = meta.mac_only_encrypted
    mac = mac_hash(only_encrypted)
    add_mac = mac.update
    known_get = known.get

    def value(path: tuple[str, ...], aad: str, value: Value | None, comments: tuple[str, ...]) -> bool:
        if value is None:
            return True
        encrypted = decide(path, comments)
        if encrypted and type(value) is str and value != "":
            hit = known_get(value)
            if hit is None or hit[0] != aad or hit[2] != "str":
                return False
            add_mac(hit[1])
            return True
        if encrypted and type(value) is not str:
            return False
        if encrypted or not only_encrypted:
            add_mac(to_plaintext(value))
        return True

    def comment(aad: str, text: str, path: tuple[str, ...], comments: tuple[str, ...]) -> bool:
        if not is_encrypted(text):
            return True
        hit = known_get(text)
        return hit is not None and hit[0] == aad and hit[2] == "comment"

    found = read_back_text(data, value, comment)
    if found is None:
        return False
    written = _written_metadata(found, meta)
    verify_mac(written.mac, mac_hex(mac), data_key, lastmodified_aad(written.lastmodified))
    _verify_unwrap(written, data_key, context, env)
    return True


def _written_metadata(found: dict[str, Any], meta: Metadata) -> Metadata:
    """The metadata block read back, which must say exactly what ``meta`` says and hold an
    encrypted data key in every stanza."""
    written = Metadata.from_dict(found)
    if written.to_dict() != Metadata.from_dict(meta.to_dict()).to_dict():
        raise GenericError("the metadata block differs from the one sealed")
    for group in written.key_groups:
        for wrapped in group:
            if not wrapped.enc:
                raise GenericError(f"a {wrapped.type} key stanza has no encrypted data key")
    return written


def _verify_unwrap(meta: Metadata, data_key: bytes, context: KeyContext | None, env: Mapping[str, str] | None) -> None:
    """Unwrap the data key (or enough Shamir shares) from the age stanzas an identity at hand
    opens, and compare; nothing to check when no identity fits."""
    ages = [(index, k) for index, group in enumerate(meta.key_groups) for k in group if k.type == "age"]
    if not ages:
        return
    if context is None or "age" not in context.cache:
        source = os.environ if env is None else env
        context = KeyContext({name: value for name, value in source.items() if name != "SOPS_AGE_KEY_CMD"})
    age = key_type("age")
    shares: dict[int, bytes] = {}
    for index, wrapped in ages:
        if index not in shares:
            try:
                shares[index] = age.unwrap(wrapped, context)
            except NotMyKey:
                continue
    if not shares:
        return
    if len(meta.key_groups) == 1:
        recovered = shares[0]
    elif len(shares) >= (meta.shamir_threshold or len(meta.key_groups)):
        recovered = shamir.combine(list(shares.values()))
    else:
        return
    if recovered != data_key:
        raise GenericError("the data key unwrapped from the written key stanzas is not the one used")


# --------------------------------------------------------------------------------------------
# Documents


def encrypt_document(
    doc: Document,
    options: EncryptOptions,
    *,
    now: GoTime | None = None,
    randbytes: RandBytes = os.urandom,
) -> Metadata:
    """Encrypt a parsed plaintext document in place; returns the new metadata. (The bytes to
    write come from ``encrypt_parsed``, which also reads them back.)"""
    return _encrypt_document(doc, options, now=now, randbytes=randbytes)[0]


def _encrypt_document(
    doc: Document, options: EncryptOptions, *, now: GoTime | None, randbytes: RandBytes
) -> tuple[Metadata, bytes, _Sealer]:
    if doc.metadata is not None:
        raise FileAlreadyEncrypted(
            "the file is already encrypted (it has a sops metadata block)",
            hint="decrypt it first, or use `pysops rotate`/`updatekeys` to change its keys",
        )
    sealer, finish, data_key = _new_encryption(options, binary=doc.format == "binary", now=now, randbytes=randbytes)
    _seal_document(doc, sealer)
    return finish(), data_key, sealer


def encrypt_parsed(
    doc: Document,
    options: EncryptOptions,
    *,
    output_format: str | None = None,
    store_options: dict[str, Any] | None = None,
    now: GoTime | None = None,
    randbytes: RandBytes = os.urandom,
    env: Mapping[str, str] | None = None,
) -> bytes:
    """Encrypt a parsed plaintext document and render it, read back and verified
    (``verify_sealed``; ``env`` is where an age identity for that may be found)."""
    with GcPaused():
        meta, data_key, sealer = _encrypt_document(doc, options, now=now, randbytes=randbytes)
        out_format = output_format or doc.format
        data = get_store(out_format).render(doc, meta.to_dict(), store_options)
        verify_sealed(data, out_format, data_key, meta, known=sealer.known, env=env)
    return data


def _new_encryption(
    options: EncryptOptions, *, binary: bool, now: GoTime | None, randbytes: RandBytes
) -> tuple[_Sealer, Callable[[], Metadata], bytes]:
    """A fresh data key's sealer, the function that, once every value went through it, wraps
    the data key for the recipients and returns the metadata (MAC included), and the key."""
    timestamp = now or now_utc()
    selection = None if binary else (options.selection or ("unencrypted_suffix", "_unencrypted"))
    mac_only = False if binary else options.mac_only_encrypted
    data_key = randbytes(DATA_KEY_SIZE)
    sealer = _Sealer(data_key, selection=selection, mac_only_encrypted=mac_only, randbytes=randbytes, stash=None)

    def finish() -> Metadata:
        groups = [list(g) for g in options.key_groups]
        threshold = options.shamir_threshold or (len(groups) if len(groups) > 1 else 0)
        wrapped = wrap_data_key(data_key, groups, threshold, timestamp, randbytes)
        lastmodified = timestamp.rfc3339()
        return Metadata(
            key_groups=wrapped,
            lastmodified=lastmodified,
            mac=encrypt_mac(sealer.mac_hex(), data_key, lastmodified, randbytes(32)),
            shamir_threshold=threshold if len(groups) > 1 else 0,
            selection=selection,
            mac_only_encrypted=mac_only,
            version=VERSION,
        )

    return sealer, finish, data_key


def _decrypt(doc: Document, options: DecryptOptions, stash: IVStash | None) -> tuple[Metadata, bytes]:
    """Recover the data key, decrypt the tree in place, verify the MAC (unless ignored)."""
    meta = Metadata.from_dict(doc.metadata)
    data_key = options.data_key(meta)
    computed = decrypt_tree(
        doc,
        data_key,
        selection=meta.effective_selection(),
        mac_only_encrypted=meta.mac_only_encrypted,
        stash=stash,
        ignore_mac=options.ignore_mac,
    )
    if not options.ignore_mac:
        verify_mac(meta.mac, computed, data_key, lastmodified_aad(meta.lastmodified))
    return meta, data_key


def decrypt_document(doc: Document, options: DecryptOptions | None = None) -> Metadata:
    """Decrypt a parsed encrypted document in place and verify its MAC; returns its metadata."""
    return _decrypt(doc, options or DecryptOptions(), None)[0]


# --------------------------------------------------------------------------------------------
# Bytes


def _convert_dotenv_values(doc: Document) -> None:
    """dotenv values are raw text; when they leave dotenv, apply the dotenv quoting dialect."""
    from pysops.formats.dotenv import parse_dotenv_value

    for visit in walk_document(doc):
        leaf = visit.leaf
        if isinstance(leaf, Scalar) and isinstance(leaf.value, str):
            leaf.value = parse_dotenv_value(leaf.value)


def render(
    doc: Document, output_format: str, metadata: dict[str, Any] | None, store_options: dict[str, Any] | None = None
) -> bytes:
    if doc.format == "dotenv" and output_format != "dotenv" and metadata is None:
        _convert_dotenv_values(doc)
    return get_store(output_format).render(doc, metadata, store_options)


def encrypt_bytes(
    data: bytes,
    options: EncryptOptions,
    *,
    input_format: str,
    output_format: str | None = None,
    store_options: dict[str, Any] | None = None,
    now: GoTime | None = None,
    randbytes: RandBytes = os.urandom,
    env: Mapping[str, str] | None = None,
) -> bytes:
    """Encrypt a plaintext file's bytes; the result is read back and verified before it is
    returned (``verify_sealed``; ``env``, default os.environ, is where an age identity for that
    may be found)."""
    store = get_store(input_format)
    encrypt_text = getattr(store, "encrypt_text", None)
    if encrypt_text is not None and (output_format or input_format) == input_format:
        # The store encrypts its own text without building the tree (same bytes, a fraction of
        # the time); it declines (None) what only ``parse`` reports properly.
        sealer, finish, data_key = _new_encryption(
            options, binary=input_format == "binary", now=now, randbytes=randbytes
        )
        sealed: list[Metadata] = []

        def metadata() -> dict[str, Any]:
            sealed.append(finish())
            return sealed[0].to_dict()

        with GcPaused():
            result: bytes | None = encrypt_text(data, sealer.value, sealer.comment, metadata)
            if result is not None:
                verify_sealed(result, input_format, data_key, sealed[0], known=sealer.known, env=env)
                return result
    return encrypt_parsed(
        store.parse(data),
        options,
        output_format=output_format or input_format,
        store_options=store_options,
        now=now,
        randbytes=randbytes,
        env=env,
    )


def decrypt_bytes(
    data: bytes,
    *,
    input_format: str,
    output_format: str | None = None,
    options: DecryptOptions | None = None,
    extract: str | None = None,
    store_options: dict[str, Any] | None = None,
) -> bytes:
    doc = get_store(input_format).parse(data)
    decrypt_document(doc, options)
    out_format = output_format or input_format
    if extract is not None:
        return extract_value(doc, parse_tree_path(extract), out_format)
    return render(doc, out_format, None, store_options)


# --------------------------------------------------------------------------------------------
# --extract paths

_PATH_COMPONENT = LazyPattern(r"\[([^\[\]]*)\]")


def parse_tree_path(text: str) -> list[str | int]:
    """``["a"][0]['b']`` -> ``["a", 0, "b"]`` (sops's index syntax; quotes make a key)."""
    if not text.startswith("[") or _PATH_COMPONENT.sub("", text) != "":
        raise InvalidTreePath(f"invalid tree path {text!r}", hint="use a path like '[\"key\"][0]'")
    parts: list[str | int] = []
    for raw in _PATH_COMPONENT.findall(text):
        if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
            parts.append(raw[1:-1])
        elif raw.isdigit():
            parts.append(int(raw))
        else:
            raise InvalidTreePath(f"invalid tree path component [{raw}]", hint='quote keys: ["key"]')
    return parts


def lookup(doc: Document, path: Sequence[str | int]) -> Node:
    node: Node = doc.branches[0] if doc.branches else MappingNode()
    for part in path:
        if isinstance(node, MappingNode) and isinstance(part, str):
            found = node.get(part)
            if found is None:
                raise GenericError(f"component [{part!r}] not found")
            node = found
        elif isinstance(node, SeqNode) and isinstance(part, int):
            items = [i for i in node.items if not isinstance(i, Comment)]
            if part >= len(items):
                raise GenericError(f"index [{part}] is out of range")
            node = items[part]
        else:
            raise GenericError(f"component [{part!r}] not found")
    return node


def extract_value(doc: Document, path: Sequence[str | int], output_format: str) -> bytes:
    node = lookup(doc, path)
    if isinstance(node, Scalar) and isinstance(node.value, str):
        return node.value.encode("utf-8", "surrogateescape")
    if isinstance(node, MappingNode):
        # as sops: the mapping replaces the first document; YAML writes the other documents
        # after it, the other stores write the first document only
        rest = doc.branches[1:] if output_format == "yaml" else []
        sub = Document(format="extract", branches=[node, *rest])
        return get_store(output_format).render(sub, None, None)
    from pysops.formats.extract import emit_value  # other scalars and lists: the store's form

    return emit_value(node, output_format)


# --------------------------------------------------------------------------------------------
# Re-encryption with minimal changes (edit, set, unset, rotate, updatekeys, groups)


class OpenedFile:
    """A decrypted document that can be written back with minimal changes.

    ``open_file`` decrypts with the IV stash on; ``seal`` re-encrypts with the same data key and
    reuses every unchanged value's IV, so only changed values, ``lastmodified`` and ``mac``
    differ in the new text. ``rotate_data_key`` and ``rewrap`` change the key material.
    """

    __slots__ = ("doc", "meta", "data_key", "stash", "context")

    def __init__(
        self, doc: Document, meta: Metadata, data_key: bytes, stash: IVStash, context: KeyContext | None = None
    ) -> None:
        self.doc = doc
        self.meta = meta
        self.data_key = data_key
        self.stash = stash
        #: the key context the data key came from: its identities check what ``seal`` writes
        self.context = context

    def rewrap(
        self,
        key_groups: Sequence[Sequence[Recipient]],
        threshold: int = 0,
        *,
        now: GoTime | None = None,
        randbytes: RandBytes = os.urandom,
    ) -> None:
        """Wrap the (same) data key for new key groups; values, lastmodified and MAC stay."""
        groups = [list(g) for g in key_groups]
        # An HSM-only file (made with --allow-hsm-only) stays rewrappable; making a file HSM-only
        # by removing its last sops-compatible key is still refused (pkcs11, issue 4).
        hsm_only = not any(k.type in SPECS and SPECS[k.type].sops_compatible for g in self.meta.key_groups for k in g)
        EncryptOptions(groups, threshold, allow_hsm_only=hsm_only)  # validates groups and threshold
        threshold = threshold or (len(groups) if len(groups) > 1 else 0)
        self.meta.key_groups = wrap_data_key(self.data_key, groups, threshold, now or now_utc(), randbytes)
        self.meta.shamir_threshold = threshold if len(groups) > 1 else 0

    def rotate_data_key(self, randbytes: RandBytes = os.urandom) -> None:
        """Use a fresh data key: every value gets a new ciphertext on ``seal``. Call ``rewrap``
        afterwards (with the current recipients if they do not change)."""
        self.data_key = randbytes(DATA_KEY_SIZE)
        self.stash = IVStash()

    def recipients(self) -> list[list[Recipient]]:
        """The recipients of the current key groups (unknown key types are left out)."""
        return [[key_type(k.type).recipient_of(k) for k in group if k.type in SPECS] for group in self.meta.key_groups]

    def seal(
        self,
        *,
        output_format: str | None = None,
        store_options: dict[str, Any] | None = None,
        now: GoTime | None = None,
        randbytes: RandBytes = os.urandom,
    ) -> bytes:
        """Encrypt the document again and render it (same store keeps the original text)."""
        meta = self.meta
        selection = None if self.doc.format == "binary" else meta.effective_selection()
        sealer = _Sealer(
            self.data_key,
            selection=selection,
            mac_only_encrypted=meta.mac_only_encrypted,
            randbytes=randbytes,
            stash=self.stash,
        )
        with GcPaused():
            _seal_document(self.doc, sealer)
            meta.lastmodified = (now or now_utc()).rfc3339()
            meta.mac = encrypt_mac(sealer.mac_hex(), self.data_key, meta.lastmodified, randbytes(32))
            out_format = output_format or self.doc.format
            data = get_store(out_format).render(self.doc, meta.to_dict(), store_options)
            verify_sealed(data, out_format, self.data_key, meta, known=sealer.known, context=self.context)
        return data

    def with_metadata(self, data: bytes, *, output_format: str, store_options: dict[str, Any] | None = None) -> bytes:
        """``data`` (this file's encrypted bytes) with the current metadata block in place of its
        own: values, ``lastmodified`` and ``mac`` stay byte for byte (after ``rewrap``, when the
        data key did not change). Read back and verified like ``seal``."""
        store = get_store(output_format)
        with GcPaused():
            out = store.render(store.parse(data), self.meta.to_dict(), store_options)
            verify_sealed(out, output_format, self.data_key, self.meta, context=self.context)
        return out


def open_file(data: bytes, *, input_format: str, options: DecryptOptions | None = None) -> OpenedFile:
    """Decrypt an encrypted file for modification (MAC checked unless ``options.ignore_mac``)."""
    doc = get_store(input_format).parse(data)
    stash = IVStash()
    options = options or DecryptOptions()
    context = options.context
    if context is None:
        # kept on the OpenedFile: the identities that opened the file check what seal writes
        context = KeyContext(dict(options.env if options.env is not None else os.environ))
        options = DecryptOptions(
            ignore_mac=options.ignore_mac,
            decryption_order=options.decryption_order,
            env=options.env,
            context=context,
            key_cache=options.key_cache,
        )
    meta, data_key = _decrypt(doc, options, stash)
    return OpenedFile(doc, meta, data_key, stash, context)


# --------------------------------------------------------------------------------------------
# --- set / unset: one structural change with a minimal diff (pysops.tree, formats.yamlpatch)


def apply_change(opened: OpenedFile, change: Any) -> OpenedFile:
    """Make ``opened`` ready to ``seal`` after ``change`` (a ``pysops.tree.Change``, already
    applied to ``opened.doc``).

    JSON, dotenv and INI render added and removed items themselves. The YAML store only splices
    changed scalars, so for YAML the text is patched around the change (``formats.yamlpatch``),
    parsed again, decrypted with the same data key, and the new values are put into the
    placeholders: only the touched lines differ. When the layout cannot be patched, the whole
    document is emitted afresh (like sops does on every write).
    """
    if change.kind == "value" or opened.doc.format != "yaml":
        return opened
    from pysops.formats import yamlpatch
    from pysops.tree import container_at, same_value

    patched = yamlpatch.patch(opened.doc, change)
    if patched is None:
        opened.doc.state = None  # the store then emits the tree afresh
        return opened
    state = opened.doc.state
    text = ("\ufeff" if getattr(state, "bom", False) else "") + patched.text
    try:
        doc = get_store("yaml").parse(text.encode("utf-8"))
    except PysopsError:
        opened.doc.state = None  # a patch that does not read back: the tree is emitted afresh
        return opened
    new_state = doc.state
    if getattr(new_state, "step", 0) is None:
        new_state.step = getattr(state, "step", None)  # keep the metadata block's indentation
    if not doc.branches:
        opened.doc.state = None
        return opened
    holder: Any = None
    placeholder: Node | None = None
    if patched.node is not None:
        try:
            container = container_at(doc.branches[0], patched.container_path)
        except PysopsError:
            container = MappingNode()  # no container there: no member either
        members = [i for i, item in enumerate(container.items) if not isinstance(item, Comment)]
        if patched.ordinal >= len(members):
            opened.doc.state = None  # the placeholder is not where the patch put it: emit afresh
            return opened
        position = members[patched.ordinal]
        holder = container.items[position]
        if isinstance(holder, Entry):
            placeholder, holder.value = holder.value, Scalar(None)
        else:
            placeholder, container.items[position] = holder, Scalar(None)  # type: ignore[call-overload]
            holder = (container, position)
    meta = opened.meta
    try:
        decrypt_tree(
            doc, opened.data_key, selection=meta.effective_selection(), mac_only_encrypted=meta.mac_only_encrypted
        )
    except DecryptionFailed:
        # the change moved a comment that selects values (encrypted_comment_regex) onto
        # plaintext ones, which the patched text cannot hold: the tree is emitted afresh
        opened.doc.state = None
        return opened
    if placeholder is not None:
        if isinstance(holder, Entry):
            holder.value = placeholder
        else:
            holder[0].items[holder[1]] = placeholder
        if not yamlpatch.fill(placeholder, patched.node):  # type: ignore[arg-type]
            opened.doc.state = None
            return opened
    if len(doc.branches) != len(opened.doc.branches) or not all(
        same_value(a, b) for a, b in zip(doc.branches, opened.doc.branches, strict=False)
    ):
        # the patched text reads back as other data: e.g. an unset moved an
        # unencrypted_comment_regex comment onto an encrypted value, which then reads as its
        # ENC[...] text; the tree is emitted afresh
        opened.doc.state = None
        return opened
    return OpenedFile(doc, meta, opened.data_key, opened.stash, opened.context)


# --------------------------------------------------------------------------------------------
# --- edit: a file that does not exist yet


def new_file(
    output_format: str,
    options: EncryptOptions,
    *,
    now: GoTime | None = None,
    randbytes: RandBytes = os.urandom,
) -> OpenedFile:
    """An ``OpenedFile`` for a file that does not exist yet: a fresh data key wrapped for the
    options' key groups, an empty document and an empty IV stash. Replace ``doc`` with the
    plaintext document and ``seal`` it (``edit`` of a new file, like ``encrypt_document``)."""
    timestamp = now or now_utc()
    binary = output_format == "binary"
    selection = None if binary else (options.selection or ("unencrypted_suffix", "_unencrypted"))
    groups = [list(g) for g in options.key_groups]
    threshold = options.shamir_threshold or (len(groups) if len(groups) > 1 else 0)
    data_key = randbytes(DATA_KEY_SIZE)
    meta = Metadata(
        key_groups=wrap_data_key(data_key, groups, threshold, timestamp, randbytes),
        lastmodified=timestamp.rfc3339(),
        shamir_threshold=threshold if len(groups) > 1 else 0,
        selection=selection,
        mac_only_encrypted=False if binary else options.mac_only_encrypted,
        version=VERSION,
    )
    return OpenedFile(Document(format=output_format, branches=[MappingNode()]), meta, data_key, IVStash())


__all__ = [
    "DecryptOptions",
    "EncryptOptions",
    "OpenedFile",
    "decrypt_bytes",
    "decrypt_document",
    "encrypt_bytes",
    "encrypt_document",
    "encrypt_parsed",
    "new_file",
    "open_file",
    "verify_sealed",
]
