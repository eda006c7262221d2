"""The PysopsError hierarchy.

Every error a user can meet is a ``PysopsError`` carrying the sops 3.11 exit code (format.md §8.4)
and an optional hint. Library code raises these; only ``pysops.cli`` turns them into the
``pysops: error: ...`` line and the process exit status. Messages never contain plaintext.
"""

from __future__ import annotations


class PysopsError(Exception):
    """Base class: ``exit_code`` follows sops's table, ``hint`` is an optional second line."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


class GenericError(PysopsError):
    exit_code = 1


class MetadataNotFound(PysopsError):
    """The input has no ``sops`` block (it is not an encrypted file)."""

    exit_code = 1


class ConfigError(PysopsError):
    exit_code = 1


class NoMatchingCreationRule(ConfigError):
    exit_code = 1


class CouldNotReadInputFile(PysopsError):
    exit_code = 2


class ParseError(CouldNotReadInputFile):
    """The input text is not valid in its format."""


class InputTooComplex(ParseError):
    """The input passes a bound on hostile input (nesting depth, alias expansion): see
    ``pysops.limits``."""


class CouldNotWriteOutputFile(PysopsError):
    exit_code = 3


class ErrorDumpingTree(PysopsError):
    """The tree cannot be written in the output format (e.g. a nested value to dotenv)."""

    exit_code = 4


class InvalidSetFormat(PysopsError):
    exit_code = 7


class ConflictingParameters(PysopsError):
    exit_code = 8


class ErrorEncryptingTree(PysopsError):
    """A value cannot be encrypted (e.g. a non-string key, an unsupported integer)."""

    exit_code = 23


class DecryptionFailed(PysopsError):
    """A value failed authentication or is malformed: tampered data, a moved value, a bad type."""

    exit_code = 25


class MacMismatch(PysopsError):
    exit_code = 51


class InvalidTreePath(PysopsError):
    exit_code = 91


class NeedAtLeastOneDocument(PysopsError):
    exit_code = 92


class NoFileSpecified(PysopsError):
    exit_code = 100


class DuplicateDecryptionKeyType(PysopsError):
    exit_code = 112


class CouldNotRetrieveKey(PysopsError):
    """The data key could not be recovered from any key group (exit 128)."""

    exit_code = 128


class FileAlreadyEncrypted(PysopsError):
    exit_code = 203


class WriteVerificationFailed(PysopsError):
    """An encrypted output did not read back (design invariant 7): a bug in pysops, never the
    user's input. Nothing was written; the original file is untouched."""

    exit_code = 1


class MissingDependency(PysopsError):
    exit_code = 1


class NotMyKey(Exception):
    """Raised by an identity's ``unwrap`` to mean "this wrapped key is not for me, try the next".

    Deliberately not a PysopsError: it never reaches a user on its own.
    """


class KeySourceError(PysopsError):
    """A key source was found but is broken (bad identity file, gpg failure...)."""

    exit_code = 128


# --- edit (pysops.edit): sops's edit exit codes, the file lock and the on-disk change check


class FileHasNotBeenModified(PysopsError):
    """``edit``: the editor left the plaintext unchanged; nothing is written."""

    exit_code = 200


class NoEditorFound(PysopsError):
    """``edit``: no editor could be run, or the editor exited with an error."""

    exit_code = 201


class FailedToCompareVersions(PysopsError):
    """``edit``: the metadata ``version`` is not a version number."""

    exit_code = 202


class FileBusy(CouldNotWriteOutputFile):
    """Another pysops process holds the file's lock (an ``edit`` or ``set`` in progress)."""


class FileChangedOnDisk(CouldNotWriteOutputFile):
    """The file changed on disk since it was read: writing would lose that change."""


class Interrupted(PysopsError):
    """A signal (SIGINT, SIGTERM, SIGHUP) stopped a command after it cleaned up; exit 128+N."""

    def __init__(self, signum: int, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint, exit_code=128 + signum)
        self.signum = signum


class ErrorInvalidKMSEncryptionContextFormat(PysopsError):
    """``--encryption-context`` is not a comma list of ``key:value`` pairs (sops exit 6)."""

    exit_code = 6
