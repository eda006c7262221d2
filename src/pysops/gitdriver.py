"""Git integration: a textconv diff driver, a 3-way merge driver, conflict resolution, setup.

Contracts (docs/git.md):

* ``textconv`` shows the decrypted text of a file (same format, no metadata). A file it cannot
  decrypt (no key, not a sops file, broken) is shown unchanged: ``git log -p`` never fails.
  Git's ``cachetextconv`` must stay off: it would store the plaintext under ``refs/notes/textconv``.
* ``merge_files`` decrypts base, ours and theirs, merges the plaintexts with ``git merge-file``
  (in a private 0700 directory, removed afterwards) and, when that is clean, encrypts the result
  with ours' data key and IV stash, so it differs from ours only where theirs changed a value
  (plus ``lastmodified`` and ``mac``). On a conflict nothing is produced: the caller leaves ours
  (encrypted, valid) in place and reports the conflicting keys, never their values.
* Which data key and which metadata the result gets (``choose_sealing``): each file carries its
  own metadata, so each side is decrypted with its own wrapped key. The recipients and settings
  (key groups, Shamir threshold, selection, ``mac_only_encrypted``) are taken 3-way: from the
  side that changed them relative to base (ours when both agree, a conflict when they changed
  them differently). The data key is ours unless only theirs rotated it (then theirs', so a
  rotation that removed a recipient is not undone). When the chosen metadata does not wrap the
  chosen data key, that key is wrapped again for the chosen recipients.
* ``resolve_file`` rebuilds the conflict from the index stages 1/2/3, shows the plaintext with
  conflict markers in the editor (same private directory as ``edit``), refuses a text that
  still has markers, encrypts the result like the merge driver and ``git add``s it.

Library code: no printing, no exiting; git is run as a subprocess.
"""

from __future__ import annotations

import copy
import os
import re
import shlex
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from pysops import api
from pysops.crypto.stash import IVStash
from pysops.document import Comment, Scalar
from pysops.errors import (
    CouldNotReadInputFile,
    FileChangedOnDisk,
    GenericError,
    PysopsError,
    WriteVerificationFailed,
)
from pysops.formats import format_for_path, get_store
from pysops.metadata import Metadata
from pysops.values import GoTime, Value

#: The name of the drivers in git's configuration (``diff.pysops.*``, ``merge.pysops.*``).
DRIVER = "pysops"
#: Labels of the three sides in conflict markers.
LABELS = ("ours", "base", "theirs")
_MARKER = re.compile(rb"^(<{7} |={7}$|>{7} |\|{7} )", re.MULTILINE)


class GitFailed(GenericError):
    """A git command failed (exit 1)."""


class MergeConflict(GenericError):
    """The plaintexts (or the metadata) of the two sides conflict (exit 1)."""


def run_git(
    args: Sequence[str], *, cwd: str | os.PathLike[str] | None = None, input: bytes | None = None, check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    """Run ``git ARGS`` and capture its output; ``GitFailed`` when it fails and ``check``."""
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True)
    except OSError as exc:
        raise GitFailed(f"cannot run git: {exc.strerror}", hint="install git and put it on PATH") from None
    if check and proc.returncode != 0:
        detail = proc.stderr.decode("utf-8", "replace").strip() or f"exit status {proc.returncode}"
        raise GitFailed(f"git {args[0]} failed: {detail}")
    return proc


# --------------------------------------------------------------------------------------------
# Diff: textconv


def textconv(data: bytes, path: str, options: api.DecryptOptions | None = None) -> bytes:
    """The decrypted text of ``data`` (format from ``path``), or ``data`` itself when it cannot
    be decrypted for any reason: a diff driver must never break ``git diff``/``git log -p``."""
    try:
        return api.decrypt_bytes(data, input_format=format_for_path(path), options=options)
    except Exception:  # deliberately broad: see the docstring
        return data


# --------------------------------------------------------------------------------------------
# The three sides of a merge


class Side(NamedTuple):
    """One side of a merge: its bytes, the decrypted file (None when empty) and its plaintext."""

    name: str
    data: bytes
    opened: api.OpenedFile | None
    plain: bytes


def is_sops_file(data: bytes, fmt: str) -> bool:
    """True when ``data`` parses in ``fmt`` and has a ``sops`` metadata block."""
    try:
        return get_store(fmt).parse(data).metadata is not None
    except PysopsError:
        return False


def open_side(name: str, data: bytes, fmt: str, options: api.DecryptOptions | None) -> Side:
    """Decrypt one side (an empty file is an empty side: a file added on both branches)."""
    if not data.strip():
        return Side(name, data, None, b"")
    try:
        opened = api.open_file(data, input_format=fmt, options=options)
    except PysopsError as exc:
        exc.message = f"{name}: {exc.message}"
        exc.args = (exc.message,)
        raise
    plain = api.render(copy.deepcopy(opened.doc), fmt, None)
    return Side(name, data, opened, plain)


def _signature(meta: Metadata) -> tuple[Any, ...]:
    """What the merge compares of the metadata: recipients (not their wrapped keys), Shamir
    threshold and the selection settings."""
    groups = tuple(
        tuple(sorted((k.type, tuple(sorted((f, str(v)) for f, v in k.fields.items() if f not in ("enc", "created_at"))))
                     for k in group))
        for group in meta.key_groups
    )  # fmt: skip
    return (groups, meta.shamir_threshold if len(groups) > 1 else 0, meta.selection, meta.mac_only_encrypted)


class _MergedStash(IVStash):
    """Ours' IVs first, then theirs' (only for the same data key): a value theirs changed keeps
    theirs' exact ciphertext, so the result also differs minimally from theirs."""

    def __init__(self, first: IVStash, second: IVStash) -> None:
        super().__init__()
        self._first = first
        self._second = second

    def get(self, aad: str, value: Value, kind: str | None = None) -> bytes | None:
        found = self._first.get(aad, value, kind)
        other = self._second.get(aad, value, kind)  # always: keeps both occurrence counters in step
        return found or other

    def __len__(self) -> int:
        return len(self._first) + len(self._second)


class Sealing(NamedTuple):
    """How the merged plaintext is encrypted: ``key_side`` gives the data key and IV stash,
    ``meta_side`` the metadata; ``rewrap`` when the metadata must be wrapped for the key again.
    ``notes`` say what was decided (for the user)."""

    key_side: Side
    meta_side: Side
    same_key: Side | None  # the other side when it has the same data key (its IVs are reused too)
    rewrap: bool
    notes: tuple[str, ...]

    def seal(
        self,
        text: bytes,
        fmt: str,
        *,
        store_options: dict[str, Any] | None = None,
        now: GoTime | None = None,
        randbytes: api.RandBytes = os.urandom,
    ) -> bytes:
        """Encrypt a merged plaintext (``ParseError`` and friends when it is not valid ``fmt``)."""
        key = self.key_side.opened
        source = self.meta_side.opened
        assert key is not None and source is not None
        doc = get_store(fmt).parse(text)
        if doc.metadata is not None:
            raise GenericError("the merged document has a top-level 'sops' entry; remove it")
        stash: IVStash = copy.deepcopy(key.stash)
        if self.same_key is not None and self.same_key.opened is not None:
            stash = _MergedStash(stash, copy.deepcopy(self.same_key.opened.stash))
        meta = copy.deepcopy(source.meta)
        opened = api.OpenedFile(doc, meta, key.data_key, stash, key.context)
        if self.rewrap:
            from pysops.keys import SPECS

            unknown = sorted({k.type for group in meta.key_groups for k in group if k.type not in SPECS})
            if unknown:
                raise MergeConflict(
                    f"the merge needs the data key wrapped again, and pysops cannot wrap for {', '.join(unknown)} keys",
                    hint="merge this file with sops, or take one side and run `pysops updatekeys`",
                )
            threshold = meta.shamir_threshold if len(meta.key_groups) > 1 else 0
            opened.rewrap(opened.recipients(), threshold, now=now, randbytes=randbytes)
        return opened.seal(output_format=fmt, store_options=store_options, now=now, randbytes=randbytes)


def choose_sealing(base: Side, ours: Side, theirs: Side) -> Sealing:
    """Decide the data key and metadata of the merge result (see the module docstring).
    ``MergeConflict`` when both sides changed the recipients or settings differently."""
    o, t = ours.opened, theirs.opened
    assert o is not None and t is not None
    b = base.opened
    notes: list[str] = []
    sig_o, sig_t = _signature(o.meta), _signature(t.meta)
    sig_b = _signature(b.meta) if b is not None else None
    if sig_o == sig_t or sig_t == sig_b:
        meta_side = ours
    elif sig_o == sig_b:
        meta_side = theirs
        notes.append("the recipients/settings changed on theirs: the result uses theirs'")
    else:
        raise MergeConflict(
            "both sides changed the file's recipients or settings (sops metadata) differently",
            hint="merge the key changes by hand: take one side, then run `pysops updatekeys`",
        )
    same_key: Side | None = None
    if o.data_key == t.data_key:
        key_side, same_key = ours, theirs
    elif b is not None and o.data_key == b.data_key:
        key_side = theirs
        notes.append("the data key was rotated on theirs: the result uses theirs' data key")
    else:
        key_side = ours
    meta_opened = meta_side.opened
    assert meta_opened is not None
    key_opened = key_side.opened
    assert key_opened is not None
    rewrap = meta_opened.data_key != key_opened.data_key
    if rewrap:
        notes.append(f"the data key of {key_side.name} is wrapped for the recipients of {meta_side.name}")
    return Sealing(key_side, meta_side, same_key, rewrap, tuple(notes))


# --------------------------------------------------------------------------------------------
# Merging text


class TextMerge(NamedTuple):
    text: bytes  # with conflict markers when ``conflicts`` > 0
    conflicts: int


def merge_text(
    base: bytes,
    ours: bytes,
    theirs: bytes,
    *,
    name: str = "file",
    tmp_base: str | None = None,
    labels: Sequence[str] = LABELS,
    style: str | None = None,
) -> TextMerge:
    """``git merge-file -p`` on the three plaintexts, written to a private 0700 directory that
    is removed afterwards. ``style`` ``"diff3"``/``"zdiff3"`` adds the base to conflicts."""
    from pysops.edit import _write_private, private_dir

    stem = os.path.basename(name) or "file"
    with private_dir(tmp_base) as directory:
        paths = []
        for label, data in zip(LABELS, (ours, base, theirs), strict=True):
            path = directory / f"{label}.{stem}"
            _write_private(path, data)
            paths.append(str(path))
        args = ["merge-file", "-p"]
        if style in ("diff3", "zdiff3"):
            args.append(f"--{style}")
        for label in labels:
            args += ["-L", label]
        proc = run_git([*args, *paths], cwd=directory, check=False)
    if proc.returncode < 0 or proc.returncode > 127:
        detail = proc.stderr.decode("utf-8", "replace").strip()
        raise GitFailed(f"git merge-file failed: {detail or proc.returncode}")
    return TextMerge(proc.stdout, proc.returncode)


def merge_plaintexts(
    base: Side,
    ours: Side,
    theirs: Side,
    fmt: str,
    *,
    name: str = "file",
    tmp_base: str | None = None,
    style: str | None = None,
) -> TextMerge:
    """Merge the plaintexts line by line (``merge_text``); when that conflicts but the three
    documents have the same shape (same keys and items in the same order, only values differ),
    merge value by value instead: changes to neighbouring lines are then no conflict."""
    merged = merge_text(base.plain, ours.plain, theirs.plain, name=name, tmp_base=tmp_base, style=style)
    if merged.conflicts:
        by_value = merge_values(base, ours, theirs, fmt)
        if by_value is not None:
            return TextMerge(by_value, 0)
    return merged


def _leaves(side: Side) -> list[tuple[tuple[str, ...], str, object]] | None:
    if side.opened is None:
        return None
    out: list[tuple[tuple[str, ...], str, object]] = []
    for visit in api.walk_document(side.opened.doc):
        leaf = visit.leaf
        if isinstance(leaf, Comment):
            out.append((visit.path, "#", leaf.text))
        else:
            out.append((visit.path, type(leaf.value).__name__, leaf.value))
    return out


def merge_values(base: Side, ours: Side, theirs: Side, fmt: str) -> bytes | None:
    """The value-by-value merge (see ``merge_plaintexts``) rendered on ours' text, or None when
    the shapes differ or a value changed differently on both sides."""
    b, o, t = _leaves(base), _leaves(ours), _leaves(theirs)
    if b is None or o is None or t is None or not len(b) == len(o) == len(t):
        return None
    if any(x[0] != y[0] or x[0] != z[0] for x, y, z in zip(b, o, t, strict=True)):
        return None
    take: list[int] = []
    for index, (vb, vo, vt) in enumerate(zip(b, o, t, strict=True)):
        if vo == vt or vt == vb:
            continue
        if vo != vb:
            return None
        take.append(index)
    assert ours.opened is not None and theirs.opened is not None
    doc = copy.deepcopy(ours.opened.doc)
    leaves = [visit.leaf for visit in api.walk_document(doc)]
    for index in take:
        leaf, value = leaves[index], t[index][2]
        if isinstance(leaf, Comment):
            leaf.set(str(value))
        else:
            leaf.set(value)  # type: ignore[arg-type]
    return api.render(doc, fmt, None)


def has_markers(text: bytes) -> int | None:
    """The 1-based line of the first conflict marker left in ``text``, or None."""
    found = _MARKER.search(text)
    if found is None:
        return None
    return text.count(b"\n", 0, found.start()) + 1


def _flat(side: Side) -> dict[tuple[str, ...], list[Value | None]]:
    """Values by path (list items share their list's path; comments are ignored)."""
    out: dict[tuple[str, ...], list[Value | None]] = {}
    if side.opened is None:
        return out
    for visit in api.walk_document(side.opened.doc):
        if isinstance(visit.leaf, Scalar):
            out.setdefault(visit.path, []).append(visit.leaf.value)
    return out


def display_path(path: tuple[str, ...]) -> str:
    return "".join(f'["{p}"]' for p in path) or "(top level)"


_KEY_OF_LINE = (
    re.compile(r'^\s*"((?:[^"\\]|\\.)*)"\s*:'),  # JSON
    re.compile(r"^\s*(?:-\s+)?([^\s:#=\[\]{},][^:#=]*?)\s*:(?:\s|$)"),  # YAML
    re.compile(r"^\s*(?:export\s+)?([A-Za-z_][^=\s]*)\s*="),  # dotenv / INI
    re.compile(r"^\s*(\[[^\]]+\])\s*$"),  # INI section
)


def conflicting_keys(base: Side, ours: Side, theirs: Side, merged: TextMerge) -> list[str]:
    """Names (never values) of what conflicts: the paths both sides changed differently, else
    the keys written on the lines of the conflict hunks (``line N`` when a line names none)."""
    b, o, t = _flat(base), _flat(ours), _flat(theirs)
    names = [
        display_path(path)
        for path in dict.fromkeys([*o, *t, *b])
        if o.get(path) != b.get(path) and t.get(path) != b.get(path) and o.get(path) != t.get(path)
    ]
    if names:
        return names
    found: list[str] = []
    inside = False
    for number, raw in enumerate(merged.text.decode("utf-8", "replace").splitlines(), start=1):
        if raw.startswith("<<<<<<< "):
            inside = True
            continue
        if raw.startswith(">>>>>>> "):
            inside = False
            continue
        if not inside or raw.startswith(("=======", "||||||| ")) or not raw.strip():
            continue
        for pattern in _KEY_OF_LINE:
            match = pattern.match(raw)
            if match:
                found.append(match.group(1).strip())
                break
        else:
            found.append(f"line {number}")
    return list(dict.fromkeys(found))


# --------------------------------------------------------------------------------------------
# The merge driver


class MergeResult(NamedTuple):
    """``output`` is the new content of ours (None: leave ours as it is). ``conflicts`` names the
    conflicting keys (empty when clean). ``notes`` explain choices made on the way."""

    clean: bool
    output: bytes | None
    conflicts: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def merge_files(
    base: bytes,
    ours: bytes,
    theirs: bytes,
    path: str,
    *,
    fmt: str | None = None,
    options: api.DecryptOptions | None = None,
    store_options: dict[str, Any] | None = None,
    tmp_base: str | None = None,
    now: GoTime | None = None,
    randbytes: api.RandBytes = os.urandom,
) -> MergeResult:
    """Merge three versions of the encrypted file ``path`` (see the module docstring).

    Files that are not sops files on any side are merged as text (markers included on a
    conflict, like git's own driver). Raises ``PysopsError`` when ours or theirs cannot be
    decrypted (the caller then leaves ours and reports a conflict)."""
    fmt = fmt or format_for_path(path)
    if ours == theirs or base == theirs:
        return MergeResult(True, None)
    if base == ours:
        return MergeResult(True, theirs)
    sops_sides = [is_sops_file(data, fmt) for data in (base, ours, theirs)]
    if not any(sops_sides):
        merged = merge_text(base, ours, theirs, name=path, tmp_base=tmp_base)
        if merged.conflicts:
            return MergeResult(False, merged.text, (f"{merged.conflicts} conflicting part(s) of the unencrypted file",))
        return MergeResult(True, merged.text)
    for name, encrypted in zip(("ours", "theirs"), sops_sides[1:], strict=True):
        if not encrypted:
            raise MergeConflict(f"{name} is not an encrypted sops file while the other side is")
    notes: list[str] = []
    o = open_side("ours", ours, fmt, options)
    t = open_side("theirs", theirs, fmt, options)
    try:
        b = open_side("base", base, fmt, options)
    except PysopsError as exc:
        notes.append(f"the common ancestor could not be decrypted ({exc.message}); merged without it")
        b = Side("base", b"", None, b"")
    sealing = choose_sealing(b, o, t)
    notes.extend(sealing.notes)
    merged = merge_plaintexts(b, o, t, fmt, name=path, tmp_base=tmp_base)
    if merged.conflicts:
        return MergeResult(False, None, tuple(conflicting_keys(b, o, t, merged)), tuple(notes))
    if merged.text == o.plain and sealing.meta_side is o and sealing.key_side is o:
        return MergeResult(True, None, (), tuple(notes))
    if merged.text == t.plain and sealing.meta_side is t and sealing.key_side is t:
        return MergeResult(True, theirs, (), tuple(notes))
    try:
        sealed = sealing.seal(merged.text, fmt, store_options=store_options, now=now, randbytes=randbytes)
    except WriteVerificationFailed:
        raise  # a pysops bug, not a conflict: the caller leaves ours and reports it
    except PysopsError as exc:
        # A line merge can be clean and still not be a valid document (two entries appended at
        # the end of a JSON object): that is a conflict to resolve by hand.
        return MergeResult(False, None, (f"the merged text is not valid {fmt}: {exc.message}",), tuple(notes))
    return MergeResult(True, sealed, (), tuple(notes))


# --------------------------------------------------------------------------------------------
# Resolving a conflict from the index


class Stages(NamedTuple):
    base: bytes
    ours: bytes
    theirs: bytes


def read_stages(path: str, *, cwd: str | None = None) -> Stages:
    """The blobs of stages 1 (base), 2 (ours) and 3 (theirs) of ``path`` from the index."""
    listing = run_git(["ls-files", "-u", "-z", "--", path], cwd=cwd).stdout
    blobs: dict[int, str] = {}
    for record in listing.split(b"\0"):
        if not record:
            continue
        info, _, _name = record.partition(b"\t")
        _mode, sha, stage = info.decode().split()
        blobs[int(stage)] = sha
    if not blobs:
        raise GenericError(
            f"{path} has no merge conflict in the index",
            hint="run `pysops git resolve` on a file that `git status` lists as unmerged",
        )
    for number, side in ((2, "ours"), (3, "theirs")):
        if number not in blobs:
            raise GenericError(
                f"{path} was deleted on {side}: there is nothing to merge",
                hint=f"keep one side with `git checkout --ours/--theirs {path}` or remove it with `git rm`",
            )

    def blob(stage: int) -> bytes:
        if stage not in blobs:
            return b""
        return run_git(["cat-file", "blob", blobs[stage]], cwd=cwd).stdout

    return Stages(blob(1), blob(2), blob(3))


def resolve_file(
    path: str,
    *,
    fmt: str | None = None,
    options: api.DecryptOptions | None = None,
    store_options: dict[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    editor: Callable[[list[str], Path], None] | None = None,
    prompt: Callable[[str], bool] | None = None,
    edit: bool = True,
    style: str | None = None,
    tmp_base: str | None = None,
    now: GoTime | None = None,
    randbytes: api.RandBytes = os.urandom,
) -> bytes:
    """Resolve the merge conflict of ``path`` (see the module docstring); returns the bytes
    written. With ``edit=False`` a plaintext merge without conflicts is written without an
    editor, and a conflicting one is an error. Nothing is written when an error is raised."""
    from pysops.atomic import write_atomic
    from pysops.edit import (
        SignalGuard,
        _write_private,
        edit_until_valid,
        editor_command,
        file_lock,
        private_dir,
        run_editor,
    )

    fmt = fmt or format_for_path(path)
    environ = os.environ if env is None else env
    options = options or api.DecryptOptions(env=environ)
    stages = read_stages(path)
    o = open_side("ours", stages.ours, fmt, options)
    t = open_side("theirs", stages.theirs, fmt, options)
    try:
        b = open_side("base", stages.base, fmt, options)
    except PysopsError:
        b = Side("base", b"", None, b"")
    sealing = choose_sealing(b, o, t)
    merged = merge_plaintexts(b, o, t, fmt, name=path, tmp_base=tmp_base, style=style)
    argv = editor_command(environ) if edit else []
    if not edit and merged.conflicts:
        keys = ", ".join(conflicting_keys(b, o, t, merged))
        raise MergeConflict(f"{path}: the plaintexts conflict ({keys}); nothing was written",
                            hint=f"run `pysops git resolve {path}` to edit the conflict")  # fmt: skip
    with SignalGuard(path) as guard, file_lock(path):
        original = _read(path)
        if not edit:
            sealed = sealing.seal(merged.text, fmt, store_options=store_options, now=now, randbytes=randbytes)
        else:
            with private_dir(tmp_base, guard) as directory:
                temp = directory / (os.path.basename(path) or "file")
                _write_private(temp, merged.text)

                def seal(edited: bytes) -> bytes:
                    line = has_markers(edited)
                    if line is not None:
                        raise MergeConflict(f"conflict markers remain (line {line})")
                    return sealing.seal(edited, fmt, store_options=store_options, now=now, randbytes=randbytes)

                sealed = edit_until_valid(
                    editor or run_editor, argv, temp, seal, prompt=prompt, target=path,
                    what="the resolved file is invalid", hint=f"run `pysops git resolve {path}` again",
                )  # fmt: skip
        with guard.deferred():
            if _read(path) != original:
                raise FileChangedOnDisk(
                    f"{path} changed on disk while the conflict was being resolved; nothing was written",
                    hint=f"run `pysops git resolve {path}` again",
                )
            write_atomic(path, sealed, private=False)
            guard.written = True
            run_git(["add", "--", path])
    return sealed


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CouldNotReadInputFile(f"cannot read {path}: {exc.strerror}") from None


# --------------------------------------------------------------------------------------------
# Setup


class Setting(NamedTuple):
    name: str
    value: str


def driver_settings(command: str = "pysops") -> list[Setting]:
    """The git configuration of the drivers (``command`` is how git finds pysops)."""
    program = shlex.quote(command)
    return [
        Setting(f"diff.{DRIVER}.textconv", f"{program} git textconv"),
        Setting(f"merge.{DRIVER}.name", "pysops: merge decrypted sops files, re-encrypt with minimal changes"),
        Setting(f"merge.{DRIVER}.driver", f"{program} git merge-driver %O %A %B %P"),
    ]


CACHE_SETTING = f"diff.{DRIVER}.cachetextconv"


class SetupReport(NamedTuple):
    changed: list[str]  # settings written (name = value)
    problems: list[str]  # what --check found missing or wrong
    attributes: list[str]  # .gitattributes lines still to add
    notes: list[str]  # comments to show (e.g. why a rule has no pattern)


def _scope(global_: bool) -> list[str]:
    return ["--global"] if global_ else ["--local"]


def _get(name: str, scope: list[str], cwd: str | None, *, bool_: bool = False) -> str | None:
    args = ["config", *scope, *(["--type=bool"] if bool_ else []), "--get", name]
    proc = run_git(args, cwd=cwd, check=False)
    if proc.returncode != 0:
        return None
    return proc.stdout.decode("utf-8", "replace").rstrip("\n")


def repo_root(cwd: str | None = None) -> str | None:
    proc = run_git(["rev-parse", "--show-toplevel"], cwd=cwd, check=False)
    if proc.returncode != 0:
        return None
    return proc.stdout.decode().strip() or None


def setup(
    *,
    global_: bool = False,
    check: bool = False,
    command: str = "pysops",
    cwd: str | None = None,
    config_flag: str | None = None,
    env: Mapping[str, str] | None = None,
) -> SetupReport:
    """Configure the drivers (idempotent) or, with ``check``, report what is missing.

    Outside a repository only ``global_`` is possible. ``cachetextconv`` is set to false
    whenever it is on. The ``.gitattributes`` lines come from the creation rules' ``path_regex``
    (see ``attribute_lines``) and are listed only when ``.gitattributes`` lacks them."""
    root = repo_root(cwd)
    if root is None and not global_:
        raise GenericError(
            "not inside a git repository", hint="run it in the repository, or use --global for your user"
        )
    scope = _scope(global_)
    changed: list[str] = []
    problems: list[str] = []
    for setting in driver_settings(command):
        current = _get(setting.name, [] if check and not global_ else scope, cwd)
        if current == setting.value:
            continue
        if check:
            if setting.name.endswith(".name") and current is not None:
                continue
            state = "is not set" if current is None else f"is {current!r}"
            problems.append(f"git config {setting.name} {state} (expected {setting.value!r})")
        else:
            run_git(["config", *scope, setting.name, setting.value], cwd=cwd)
            changed.append(f"{setting.name} = {setting.value}")
    cached = _get(CACHE_SETTING, [] if check and not global_ else scope, cwd, bool_=True)
    if cached == "true":
        if check:
            problems.append(f"git config {CACHE_SETTING} is true: git would store decrypted text in refs/notes")
        else:
            run_git(["config", *scope, "--type=bool", CACHE_SETTING, "false"], cwd=cwd)
            changed.append(f"{CACHE_SETTING} = false")
    if not check and root is not None and _get(CACHE_SETTING, [], cwd, bool_=True) == "true":
        problems.append(f"{CACHE_SETTING} is still true in another scope: turn it off there")
    attributes: list[str] = []
    notes: list[str] = []
    if root is not None:
        wanted, notes = attribute_lines(root, config_flag=config_flag, env=env)
        present = _present_attribute_lines(Path(root) / ".gitattributes")
        attributes = [line for line in wanted if tuple(line.split()) not in present]
        if check:
            problems.extend(f".gitattributes lacks: {line}" for line in attributes)
            problems.extend(_unattributed_files(root, config_flag=config_flag, env=env))
    return SetupReport(changed, problems, attributes, notes)


def _present_attribute_lines(path: Path) -> set[tuple[str, ...]]:
    try:
        text = path.read_text("utf-8")
    except OSError:
        return set()
    return {tuple(line.split()) for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")}


def _rules(root: str, config_flag: str | None, env: Mapping[str, str] | None) -> tuple[Any, list[Any]]:
    """The config of the repository: searched from its top, then from the working directory."""
    from pysops import config

    cfg = config.discover_config(
        os.path.join(root, "_"), explicit=config_flag, env=os.environ if env is None else env, cwd=os.getcwd()
    )
    rules = [r for r in (cfg.creation_rules or ()) if isinstance(r, Mapping)]
    return cfg, rules


#: Used when the creation rules give no pattern.
GENERIC_PATTERNS = ("*.enc.yaml", "*.enc.json")


def attribute_lines(
    root: str, *, config_flag: str | None = None, env: Mapping[str, str] | None = None
) -> tuple[list[str], list[str]]:
    """The ``.gitattributes`` lines for the encrypted files of the repository at ``root``, and
    notes about rules whose ``path_regex`` has no simple glob equivalent."""
    cfg, rules = _rules(root, config_flag, env)
    suffix = f"diff={DRIVER} merge={DRIVER}"
    notes: list[str] = []
    patterns: list[str] = []
    prefix = ""
    if cfg.dir is not None:
        relative = os.path.relpath(cfg.dir, root)
        if relative != "." and not relative.startswith(".."):
            prefix = relative.replace(os.sep, "/") + "/"
    for raw in rules:
        regex = raw.get("path_regex")
        if not isinstance(regex, str) or not regex:
            notes.append("a creation rule without path_regex matches every file: list its files' patterns yourself")
            continue
        globs = glob_for_regex(regex)
        if globs is None:
            notes.append(f"path_regex {regex!r} has no simple glob equivalent: add a line for its files")
            continue
        for glob in globs:
            if prefix:
                glob = prefix + ("**/" + glob if "/" not in glob else glob.lstrip("/"))
            patterns.append(glob)
    if not patterns:
        notes.append("no usable creation rule: these are example patterns, adjust them to your files")
        patterns = list(GENERIC_PATTERNS)
    return [f"{p} {suffix}" for p in dict.fromkeys(patterns)], notes


_WILD = "\0"


def glob_for_regex(regex: str) -> list[str] | None:
    """gitattributes patterns for a simple ``path_regex`` (None when it is not simple).

    Understood: literal text with escapes (``\\.``), ``.*``/``.+`` (any text), ``.`` (one
    character), ``[...]`` classes, ``^``/``$`` anchors and one level of ``(a|b)`` alternation.
    It is an approximation for the common cases: an unanchored regex matches in any directory,
    and a trailing ``$`` is implied."""
    body = regex
    anchored = body.startswith("^")
    body = body.removeprefix("^")
    if body.endswith("$") and not body.endswith("\\$"):
        body = body[:-1]
    alternatives = _expand(body)
    if alternatives is None:
        return None
    out: list[str] = []
    for alternative in alternatives:
        glob = _translate(alternative, anchored)
        if glob is None:
            return None
        out.append(glob)
    return out


def _expand(body: str, depth: int = 0) -> list[str] | None:
    match = re.search(r"\((?:\?:)?([^()]*)\)", body)
    if match is None:
        return None if any(c in body for c in "()|") else [body]
    if depth > 3:
        return None
    result: list[str] = []
    for choice in match.group(1).split("|"):
        expanded = _expand(body[: match.start()] + choice + body[match.end() :], depth + 1)
        if expanded is None:
            return None
        result.extend(expanded)
    return result


def _translate(body: str, anchored: bool) -> str | None:
    out = ""
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            n = body[i + 1]
            if n in "[]*?":
                out += "\\" + n
            elif n in ".-_/+(){}|^$ ":
                out += n
            elif n == "d":
                out += "[0-9]"
            else:
                return None
            i += 2
        elif body.startswith((".*", ".+"), i):
            out += _WILD
            i += 2
        elif c == ".":
            out += "?"
            i += 1
        elif c == "[":
            end = body.find("]", i + 2)
            if end < 0 or "\\" in body[i:end]:
                return None
            out += body[i : end + 1]
            i = end + 1
        elif c.isalnum() or c in "_-/~@%,=:":
            out += c
            i += 1
        else:
            return None
    if not out.replace(_WILD, "").strip("/?"):
        return None  # a catch-all such as ".*"
    parts = out.split("/")
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if part == _WILD:
            parts[index] = "*" if last else "**"
        elif part.startswith(_WILD) and last and index > 0:
            parts[index] = "**/*" + part[1:].replace(_WILD, "*")
        else:
            parts[index] = part.replace(_WILD, "*")
    glob = re.sub(r"(\*\*/)+", "**/", "/".join(parts))
    if anchored and "/" not in glob:
        glob = "/" + glob  # a pattern without a slash would match in every directory
    elif not anchored:
        if "/" in glob.rstrip("/"):
            glob = glob if glob.startswith("**/") else "**/" + glob
        elif not glob.startswith("*"):
            glob = "*" + glob
    return glob


def _unattributed_files(root: str, *, config_flag: str | None, env: Mapping[str, str] | None) -> list[str]:
    """Tracked files matched by a creation rule whose ``diff``/``merge`` attribute is not pysops."""
    cfg, rules = _rules(root, config_flag, env)
    if not rules:
        return []
    tracked = run_git(["ls-files", "-z"], cwd=root).stdout.decode("utf-8", "surrogateescape").split("\0")
    candidates = []
    for name in tracked:
        if not name:
            continue
        try:
            cfg.rule_for(os.path.join(root, name), cwd=root, with_keys=False)
        except PysopsError:
            continue
        if os.path.basename(name) in (".sops.yaml", ".sops-policy.yaml", ".gitattributes"):
            continue
        candidates.append(name)
    if not candidates:
        return []
    proc = run_git(["check-attr", "-z", "--stdin", "diff", "merge"], cwd=root,
                   input="\0".join(candidates).encode("utf-8", "surrogateescape") + b"\0")  # fmt: skip
    fields = proc.stdout.decode("utf-8", "surrogateescape").split("\0")
    values: dict[str, dict[str, str]] = {}
    for index in range(0, len(fields) - 2, 3):
        values.setdefault(fields[index], {})[fields[index + 1]] = fields[index + 2]
    return [
        f"{name}: matches a creation rule but its diff/merge attributes are not {DRIVER}"
        for name in candidates
        if values.get(name, {}).get("diff") != DRIVER or values.get(name, {}).get("merge") != DRIVER
    ]
