"""Encrypt or decrypt many files in one process.

``plan`` turns the command line's paths (files, and directories with ``recursive``) into
``Job``s: where to read, where to write (in place or under an output directory, same relative
names). ``decrypt_files`` and ``encrypt_files`` run the jobs one by one and yield one
``FileOutcome`` per file; a failing file never stops the others, and nothing here prints.

Decryption shares one ``KeyContext`` (age identities are loaded once, one gpg driver) and a
``DataKeyCache``: files whose key groups hold exactly the same wrapped stanzas (copies of one
file, or files sealed from one ``OpenedFile``) unwrap their data key once. Encryption gives each
file its own fresh data key, as sops does.

What ``recursive`` picks up: regular files with a known text extension (``.yaml``, ``.yml``,
``.json``, ``.env``, ``.ini``); names starting with a dot (``.git``, ``.sops.yaml``) and the
output directory are never entered; symbolic links are skipped with a note. Decrypt skips found
files without a ``sops`` block, encrypt skips found files that have one (both with a note). A file
named explicitly is always processed, so its errors are reported.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence

from pysops._typing import TYPE_CHECKING, NamedTuple
from pysops.errors import (
    ConflictingParameters,
    CouldNotReadInputFile,
    CouldNotRetrieveKey,
    CouldNotWriteOutputFile,
    NoFileSpecified,
    PysopsError,
)

if TYPE_CHECKING:
    from typing import Any

    from pysops.api import DecryptOptions, EncryptOptions
    from pysops.document import Document
    from pysops.metadata import Metadata

#: Extensions ``recursive`` looks for (the binary store would accept any file at all).
RECURSIVE_EXTENSIONS = (".yaml", ".yml", ".json", ".env", ".ini")


def read_file(path: str) -> bytes:
    """A file's bytes, with sops's exit codes for a missing (100) or unreadable (2) file."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise NoFileSpecified(f'cannot operate on non-existent file "{path}"') from None
    except IsADirectoryError:
        raise CouldNotReadInputFile(
            f"{path} is a directory", hint="use --recursive to process the files in a directory"
        ) from None
    except OSError as exc:
        raise CouldNotReadInputFile(f"cannot read {path}: {exc.strerror}") from None


# --------------------------------------------------------------------------------------------
# Planning


class Job(NamedTuple):
    """One file: read ``source``, write ``target`` (``source`` itself when in place).

    ``explicit``: named on the command line rather than found in a directory. ``root``: the
    output directory the target lies under (None in place); missing directories between it and
    the target are created on write.
    """

    source: str
    target: str
    explicit: bool
    root: str | None = None


def _walk(top: str, exclude: str | None) -> Iterator[str]:
    """Candidate files under ``top`` in sorted order (see the module docstring for the rules)."""
    for dirpath, dirnames, filenames in os.walk(top):
        kept = []
        for name in sorted(dirnames):
            full = os.path.join(dirpath, name)
            if name.startswith(".") or (exclude is not None and os.path.realpath(full) == exclude):
                continue
            kept.append(name)
        dirnames[:] = kept  # os.walk descends only into these, in this order
        for name in sorted(filenames):
            if not name.startswith(".") and name.endswith(RECURSIVE_EXTENSIONS):
                yield os.path.join(dirpath, name)


def _relative_name(path: str, cwd: str) -> str:
    """The name an explicitly named file gets under the output directory: its path relative to
    the working directory, or its base name when it lies outside it."""
    rel = os.path.relpath(os.path.normpath(os.path.join(cwd, path)), cwd)
    if rel == os.pardir or rel.startswith(os.pardir + os.sep):
        return os.path.basename(path)
    return rel


def plan(
    paths: Sequence[str],
    *,
    recursive: bool,
    output_dir: str | None,
    cwd: str | None = None,
) -> list[Job]:
    """The jobs for ``paths``: files as given, directories walked when ``recursive``.

    In place (``output_dir`` None) a file reached twice is done once. Under an output directory,
    a file named explicitly keeps its path relative to the working directory and a file found
    in directory D its path relative to D; two inputs that would write the same output file are
    refused (``ConflictingParameters``) before anything is done.
    """
    cwd = cwd or os.getcwd()
    exclude = os.path.realpath(output_dir) if output_dir is not None else None
    found: list[tuple[str, str, bool]] = []  # (source, name under the output dir, explicit)
    for path in paths:
        if path == "-":
            raise ConflictingParameters("standard input cannot be one of several files")
        if recursive and os.path.isdir(path):
            found.extend((file, os.path.relpath(file, path), False) for file in _walk(path, exclude))
        else:
            found.append((path, _relative_name(path, cwd), True))
    jobs: list[Job] = []
    seen: dict[str, str] = {}
    for source, name, explicit in found:
        if output_dir is None:
            key = os.path.realpath(source)
            if key in seen:
                continue
            seen[key] = source
            jobs.append(Job(source, source, explicit))
            continue
        target = os.path.join(output_dir, name)
        key = os.path.normpath(target)
        if key in seen:
            raise ConflictingParameters(
                f"{seen[key]} and {source} would both be written to {target}",
                hint="process them in separate runs or into separate --output-dir directories",
            )
        seen[key] = source
        jobs.append(Job(source, target, explicit, output_dir))
    return jobs


# --------------------------------------------------------------------------------------------
# Outcomes


class FileOutcome(NamedTuple):
    """What happened to one job: ``status`` is "done", "skipped" (``note`` says why) or
    "failed" (``error`` says why)."""

    job: Job
    status: str
    error: PysopsError | None = None
    note: str | None = None


def _skip(job: Job, note: str) -> FileOutcome:
    return FileOutcome(job, "skipped", note=note)


def _is_symlink(path: str) -> bool:
    try:
        return stat.S_ISLNK(os.lstat(path).st_mode)
    except OSError:
        return False


def _make_dirs(directory: str, root: str, mode: int) -> None:
    """Create ``directory`` and the missing ones above it up to ``root`` (inclusive), each with
    ``mode`` (``os.makedirs`` gives the mode to the last one only)."""
    missing: list[str] = []
    current = directory
    while not os.path.isdir(current):
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current or os.path.normpath(current) == os.path.normpath(root):
            break
        current = parent
    for path in reversed(missing):
        try:
            os.mkdir(path, mode)
        except FileExistsError:
            pass
        except OSError as exc:
            raise CouldNotWriteOutputFile(f"cannot create directory {path}: {exc.strerror}") from None


def _write(job: Job, data: bytes, *, private: bool) -> None:
    """Write one output atomically. Under an output directory, plaintext (``private``) lands in
    0700 directories as a 0600 file, even when an older output file had a wider mode."""
    from pysops.atomic import write_atomic

    if job.root is not None:
        parent = os.path.dirname(job.target) or "."
        _make_dirs(parent, job.root, 0o700 if private else 0o777)
        if private:
            try:
                if stat.S_IMODE(os.stat(job.target).st_mode) & 0o077:
                    os.chmod(job.target, 0o600)
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise CouldNotWriteOutputFile(f"cannot write {job.target}: {exc.strerror}") from None
    write_atomic(job.target, data, private=private)


# --------------------------------------------------------------------------------------------
# Decryption with one unwrap per distinct wrapped data key


def _stanza_fingerprint(meta: Metadata) -> tuple[Any, ...]:
    """Everything that decides which data key the key groups unwrap to."""
    return (
        meta.shamir_threshold,
        tuple(
            tuple((key.type, tuple(sorted((name, str(value)) for name, value in key.fields.items()))) for key in group)
            for group in meta.key_groups
        ),
    )


class DataKeyCache:
    """Data keys by the exact set of wrapped stanzas they were recovered from.

    Identical stanzas hold the same data key, so a second file with them needs no unwrap (no
    gpg run, no cloud call). A failure is remembered too: a hundred files for an identity that
    is not there fail after one attempt. ``unwraps`` counts the real recoveries.
    """

    def __init__(self) -> None:
        self._keys: dict[tuple[Any, ...], bytes | CouldNotRetrieveKey] = {}
        self.unwraps = 0

    def data_key(self, meta: Metadata, options: DecryptOptions) -> bytes:
        from pysops.api import recover_data_key

        fingerprint = _stanza_fingerprint(meta)
        found = self._keys.get(fingerprint)
        if found is None:
            self.unwraps += 1
            try:
                found = recover_data_key(meta, options)
            except CouldNotRetrieveKey as exc:
                found = exc
            self._keys[fingerprint] = found
        if isinstance(found, CouldNotRetrieveKey):
            raise CouldNotRetrieveKey(found.message, hint=found.hint)
        return found


StoreOptionsFor = Callable[[str, str], "dict[str, Any]"]


def _no_store_options(path: str, fmt: str) -> dict[str, Any]:
    return {}


def _format_of(path: str, explicit: str | None) -> str:
    from pysops.formats import format_for_path

    return explicit or format_for_path(path)


def _run(
    jobs: Iterable[Job],
    input_format: str | None,
    *,
    encrypted: bool,
    skip_note: str,
    convert: Callable[[Job, Document, str], None],
) -> Iterator[FileOutcome]:
    """Parse each job's file and ``convert(job, doc, input format)`` it. A file found in a
    directory is skipped when it is a symbolic link, or unless its having a ``sops`` block
    is ``encrypted`` (``skip_note`` says why)."""
    from pysops.formats import get_store

    for job in jobs:
        if not job.explicit and _is_symlink(job.source):
            yield _skip(job, "a symbolic link")
            continue
        try:
            in_fmt = _format_of(job.source, input_format)
            doc = get_store(in_fmt).parse(read_file(job.source))
            if (doc.metadata is not None) != encrypted and not job.explicit:
                yield _skip(job, skip_note)
                continue
            convert(job, doc, in_fmt)
        except PysopsError as exc:
            yield FileOutcome(job, "failed", error=exc)
            continue
        yield FileOutcome(job, "done")


def decrypt_files(
    jobs: Iterable[Job],
    *,
    input_format: str | None = None,
    output_format: str | None = None,
    options: DecryptOptions | None = None,
    store_options_for: StoreOptionsFor = _no_store_options,
    cache: DataKeyCache | None = None,
) -> Iterator[FileOutcome]:
    """Decrypt each job's file (MAC checked unless ``options.ignore_mac``) and write the
    plaintext; formats default to each file's extension."""
    from pysops import api
    from pysops.keys import KeyContext

    options = options or api.DecryptOptions()
    options = api.DecryptOptions(
        ignore_mac=options.ignore_mac,
        decryption_order=options.decryption_order,
        env=options.env,
        context=options.context or KeyContext(dict(options.env if options.env is not None else os.environ)),
        key_cache=cache if cache is not None else DataKeyCache(),
    )

    def convert(job: Job, doc: Document, in_fmt: str) -> None:
        api.decrypt_document(doc, options)
        out_fmt = output_format or in_fmt
        _write(job, api.render(doc, out_fmt, None, store_options_for(job.source, out_fmt)), private=True)

    from pysops.atomic import deferred_directory_sync

    with deferred_directory_sync():
        yield from _run(
            jobs, input_format, encrypted=True, skip_note="not encrypted (no sops metadata)", convert=convert
        )


def encrypt_files(
    jobs: Iterable[Job],
    options_for: Callable[[str], EncryptOptions],
    *,
    input_format: str | None = None,
    output_format: str | None = None,
    store_options_for: StoreOptionsFor = _no_store_options,
) -> Iterator[FileOutcome]:
    """Encrypt each job's file with its own new data key, for the recipients and selection
    ``options_for(path)`` gives (the creation rule matching that path, or the CLI flags)."""
    from pysops import api

    def convert(job: Job, doc: Document, in_fmt: str) -> None:
        out_fmt = output_format or in_fmt
        out = api.encrypt_parsed(
            doc, options_for(job.source), output_format=out_fmt, store_options=store_options_for(job.source, out_fmt)
        )
        _write(job, out, private=False)

    from pysops.atomic import deferred_directory_sync

    with deferred_directory_sync():
        yield from _run(jobs, input_format, encrypted=False, skip_note="already encrypted", convert=convert)
