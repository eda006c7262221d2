"""Safe writes (temp file fsynced before the rename, directory fsynced after, nothing left on a
failure, modes kept or private), strict key loading (age keys files), and data-key recovery
(Shamir duplicate shares, the threshold, the key length). Each test fails when the protection it
names is removed (scripts/mutants.py)."""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path
from typing import Any

import pyrage
import pytest
from tests.conftest import AgeKey, new_age_key, run_sops
from tests.helpers import age_encrypt, age_env, age_options

from pysops import api, atomic
from pysops.crypto import shamir
from pysops.errors import CouldNotRetrieveKey, CouldNotWriteOutputFile
from pysops.keys import key_type
from pysops.keys.age import armor

# --------------------------------------------------------------------------------------------
# atomic writes


class Recorder:
    """Wraps os.fsync / os.replace and records, in order, what was synced and renamed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.events: list[tuple[str, Any]] = []
        real_fsync, real_replace = os.fsync, os.replace

        def fsync(fd: int) -> None:
            info = os.fstat(fd)
            self.events.append(("fsync", (info.st_dev, info.st_ino, stat.S_ISDIR(info.st_mode))))
            real_fsync(fd)

        def replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
            info = os.stat(src)
            self.events.append(("replace", (info.st_dev, info.st_ino, str(dst))))
            real_replace(src, dst, *args, **kwargs)

        monkeypatch.setattr(os, "fsync", fsync)
        monkeypatch.setattr(os, "replace", replace)

    def replace_of(self, target: Path) -> int:
        found = [i for i, (kind, info) in enumerate(self.events) if kind == "replace" and info[2] == str(target)]
        assert len(found) == 1, self.events
        return found[0]


def test_temp_file_is_fsynced_before_the_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "f.yaml"
    target.write_bytes(b"old\n")
    rec = Recorder(monkeypatch)
    atomic.write_atomic(target, b"new\n")
    assert target.read_bytes() == b"new\n"
    at = rec.replace_of(target)
    dev, ino, _ = rec.events[at][1]
    synced_before = [info for kind, info in rec.events[:at] if kind == "fsync"]
    assert (dev, ino, False) in synced_before, rec.events
    assert (os.stat(target).st_dev, os.stat(target).st_ino) == (dev, ino)


def test_directory_is_fsynced_after_the_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "f.yaml"
    rec = Recorder(monkeypatch)
    atomic.write_atomic(target, b"new\n")
    at = rec.replace_of(target)
    directory = os.stat(tmp_path)
    assert ("fsync", (directory.st_dev, directory.st_ino, True)) in rec.events[at + 1 :], rec.events


def test_bulk_run_syncs_each_directory_once_after_its_renames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, age_key: AgeKey
) -> None:
    """A bulk run fsyncs every file before its rename, and each output directory once, after
    the last rename into it (not once per file)."""
    from pysops import bulk

    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    names = [f"f{i}.yaml" for i in range(4)] + [f"sub/g{i}.yaml" for i in range(3)]
    for name in names:
        (src / name).write_text(f"password: p-{name}\n")
    out = tmp_path / "out"
    jobs = bulk.plan([str(src)], recursive=True, output_dir=str(out))
    rec = Recorder(monkeypatch)
    options = api.EncryptOptions([[key_type("age").parse_recipient(age_key.recipient)]])
    outcomes = list(bulk.encrypt_files(jobs, lambda _path: options))
    monkeypatch.undo()
    assert [o.status for o in outcomes] == ["done"] * len(names)
    renames = [i for i, (kind, _) in enumerate(rec.events) if kind == "replace"]
    assert len(renames) == len(names)
    for at in renames:  # each file's own bytes were synced before its rename
        dev, ino, _ = rec.events[at][1]
        assert ("fsync", (dev, ino, False)) in rec.events[:at]
    dir_syncs = [(i, info) for i, (kind, info) in enumerate(rec.events) if kind == "fsync" and info[2]]
    expected = {(os.stat(d).st_dev, os.stat(d).st_ino, True) for d in (out, out / "sub")}
    assert sorted(info for _, info in dir_syncs) == sorted(expected)  # once per directory
    assert all(i > renames[-1] for i, _ in dir_syncs)  # after the last rename
    # outside a bulk run, every write syncs its directory itself again
    rec = Recorder(monkeypatch)
    atomic.write_atomic(out / "single.yaml", b"x: 1\n")
    assert ("fsync", (os.stat(out).st_dev, os.stat(out).st_ino, True)) in rec.events


@pytest.mark.parametrize("fault", ["replace", "fsync"])
def test_failed_write_leaves_no_temp_file_and_the_original(
    fault: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "f.yaml"
    target.write_bytes(b"original\n")

    def fail(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, fault, fail)
    with pytest.raises(CouldNotWriteOutputFile):
        atomic.write_atomic(target, b"secret plaintext\n", private=True)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.yaml"]
    assert target.read_bytes() == b"original\n"


def test_modes_are_kept_or_private(tmp_path: Path) -> None:
    existing = tmp_path / "existing"
    existing.write_bytes(b"x")
    existing.chmod(0o640)
    atomic.write_atomic(existing, b"y")
    assert stat.S_IMODE(existing.stat().st_mode) == 0o640
    atomic.write_atomic(existing, b"z", private=True)  # an existing file keeps its mode
    assert stat.S_IMODE(existing.stat().st_mode) == 0o640
    old = os.umask(0o022)
    try:
        atomic.write_atomic(tmp_path / "private", b"plain", private=True)
        atomic.write_atomic(tmp_path / "public", b"enc")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "private").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "public").stat().st_mode) == 0o644


# --------------------------------------------------------------------------------------------
# age keys files


@pytest.mark.parametrize(
    "extra, message",
    [
        ("hello garbage", "holds a line that is not an age identity (line 3)"),
        ("AGE-SECRET-KEY-1NOTAKEY", "holds a malformed identity (line 3)"),
    ],
)
def test_garbage_in_an_age_keys_file_is_an_error(
    extra: str, message: str, tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    """A keys file with a line that is not an identity is refused (sops refuses it too), naming
    the line by number and never echoing its content; it is not skipped silently."""
    enc = tmp_path / "f.yaml"
    enc.write_bytes(age_encrypt(b"secret: hunter2\n", "yaml", age_key.recipient))
    keys = tmp_path / "keys.txt"
    keys.write_text(f"# created: today\n{age_key.identity}\n{extra}\n")
    env = {**clean_env, "SOPS_AGE_KEY_FILE": str(keys)}
    r = pysops(["decrypt", str(enc)], env)
    assert r.code == 128 and r.stdout == b"", r.stderr
    assert message in r.stderr and extra not in r.stderr and "Traceback" not in r.stderr
    assert run_sops(["decrypt", str(enc)], env).code == 128
    keys.write_text(f"# created: today\n{age_key.identity}\n")
    assert pysops(["decrypt", str(enc)], env).code == 0


def test_a_passphrase_protected_keys_file_is_named_as_such(
    tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    enc = tmp_path / "f.yaml"
    enc.write_bytes(age_encrypt(b"secret: hunter2\n", "yaml", age_key.recipient))
    keys = tmp_path / "keys.txt"
    keys.write_text(armor(pyrage.passphrase.encrypt(age_key.identity.encode(), "pw")))
    r = pysops(["decrypt", str(enc)], {**clean_env, "SOPS_AGE_KEY_FILE": str(keys)})
    assert r.code == 128 and "passphrase-protected" in r.stderr, r.stderr


# --------------------------------------------------------------------------------------------
# data-key recovery


def _age(key: AgeKey) -> Any:
    return key_type("age").parse_recipient(key.recipient)


def test_duplicate_shamir_shares_give_a_clean_error(tmp_path: Path, clean_env: dict[str, str], pysops: Any) -> None:
    share = shamir.split(bytes(range(32)), 2, 2)[0]
    with pytest.raises(ValueError, match="duplicate share"):
        shamir.combine([share, share])
    # a file whose second key group is a copy of the first: two copies of one share
    a, b = new_age_key(), new_age_key()
    data = api.encrypt_bytes(
        b'{"secret": "hunter2"}', api.EncryptOptions([[_age(a)], [_age(b)]], 2), input_format="json"
    )
    forged = json.loads(data)
    forged["sops"]["key_groups"][1] = forged["sops"]["key_groups"][0]
    path = tmp_path / "dup.json"
    path.write_text(json.dumps(forged))
    r = pysops(["decrypt", str(path)], age_env(clean_env, a))
    assert r.code == 128, r.stderr
    assert "duplicate share" in r.stderr and "Traceback" not in r.stderr and r.stdout == b""
    assert run_sops(["decrypt", str(path)], age_env(clean_env, a)).code != 0


def test_shamir_refuses_a_threshold_of_one() -> None:
    with pytest.raises(ValueError):
        shamir.split(bytes(32), 3, 1)
    shares = shamir.split(bytes(range(32)), 3, 2)
    assert all(s[:-1] != bytes(range(32)) for s in shares)
    assert shamir.combine(shares[1:]) == bytes(range(32))


def test_fewer_shares_than_the_threshold_is_exit_128() -> None:
    keys = [new_age_key() for _ in range(3)]
    data = api.encrypt_bytes(
        b"secret: hunter2\n", api.EncryptOptions([[_age(k)] for k in keys], 3), input_format="yaml"
    )
    with pytest.raises(CouldNotRetrieveKey) as info:
        api.decrypt_bytes(data, input_format="yaml", options=age_options(*keys[:2]))
    assert info.value.exit_code == 128
    assert api.decrypt_bytes(data, input_format="yaml", options=age_options(*keys)) == b"secret: hunter2\n"


def test_a_data_key_of_the_wrong_length_is_refused(
    tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    """A stanza that unwraps to 16 bytes is not used as an AES-128 data key."""
    data = age_encrypt(b"secret: hunter2\n", "yaml", age_key.recipient).decode()
    begin, end = data.index("-----BEGIN AGE"), data.index("-----END AGE ENCRYPTED FILE-----")
    end += len("-----END AGE ENCRYPTED FILE-----")
    old = data[begin:end]
    indent = data[:begin].rsplit("\n", 1)[1]
    short = armor(pyrage.encrypt(bytes(16), [pyrage.x25519.Recipient.from_str(age_key.recipient)])).strip()
    path = tmp_path / "short.yaml"
    path.write_text(data.replace(old, short.replace("\n", "\n" + " " * len(indent))))
    r = pysops(["decrypt", str(path)], age_env(clean_env, age_key))
    assert r.code == 128, r.stderr
    assert "wrong length" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("name", ["f.yaml", "f.json", "f.env"])
def test_encrypting_an_encrypted_file_is_refused(
    name: str, tmp_path: Path, clean_env: dict[str, str], age_key: AgeKey, pysops: Any
) -> None:
    plain = {"f.yaml": b"a: 1\n", "f.json": b'{"a": 1}\n', "f.env": b"A=1\n"}[name]
    path = tmp_path / name
    path.write_bytes(plain)
    env = age_env(clean_env, age_key)
    assert pysops(["encrypt", "-i", "--age", age_key.recipient, str(path)], env).code == 0
    once = path.read_bytes()
    r = pysops(["encrypt", "-i", "--age", age_key.recipient, str(path)], env)
    assert r.code == run_sops(["encrypt", "--age", age_key.recipient, str(path)], env).code == 203
    assert path.read_bytes() == once
