#!/usr/bin/env python3
"""Targeted mutation testing of pysops's safety-critical code (issue 10, section 5).

Each mutant below removes or weakens one protection: the file it lives in (under
``src/pysops``), the exact original snippet, its replacement, and the tests expected to kill it.
The tool applies each mutant to a COPY of ``src/`` in a temporary directory (the real tree is
never modified), runs pytest with ``PYTHONPATH`` pointing at the copy, and reports whether the
tests failed (``killed``) or stayed green (``survived``). A guard plugin checks in the child that
``pysops.__file__`` is inside the copy (the package is installed editable, so a wrong path would
silently test the real tree).

Modes (see docs/testing.md):
  --check         only check that every snippet still matches the source exactly once
  --quick         run each mutant against its own test selection (the default)
  --full          run the whole suite (minus tests/mutation and the lint/type checks) per mutant
  --ci            only the mutants marked ``ci`` (the ones tests/mutation/test_mutants.py runs)
  --only NAME     only the named mutant(s) (repeatable, or comma separated)
  --list          list the mutants

A snippet that no longer matches the source is ``stale``: the run fails loudly, and the list
must be updated together with the code. Exit status: 0 when every mutant is killed (or
survives and is written down here as equivalent, with the reason), 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"


@dataclass(frozen=True)
class Mutant:
    name: str
    file: str  # relative to src/pysops
    original: str
    replacement: str
    tests: tuple[str, ...]  # pytest arguments (node ids, paths, -k expressions)
    ci: bool = False  # part of the bounded set tests/mutation/test_mutants.py runs
    equivalent: str | None = None  # why a surviving mutant cannot be observed (and is harmless)
    what: str = ""


@dataclass
class Outcome:
    mutant: Mutant
    status: str  # killed, survived, equivalent, stale, error, timeout
    seconds: float = 0.0
    detail: str = ""
    extra: list[str] = field(default_factory=list)


T_MAC = "tests/test_mac_enforced.py"
T_IV = "tests/test_iv_uniqueness.py"
T_SEL = "tests/test_selection_rules.py"
T_SAFE = "tests/test_write_and_key_safety.py"
T_TAMPER = "tests/test_tamper.py"
T_VERIFY = "tests/test_write_verification.py"
T_READ_BACK = "tests/formats/test_dotenv.py::test_read_back_text_agrees_with_the_tree_read_back"

_VERIFY = "    if not options.ignore_mac:\n        verify_mac(meta.mac"


def _skip_mac_for(fmt: str) -> str:
    return f'    if not options.ignore_mac and doc.format != "{fmt}":\n        verify_mac(meta.mac'


MUTANTS: tuple[Mutant, ...] = (
    # ---------------------------------------------------------------- MAC checks, per store
    *(
        Mutant(
            f"mac_skipped_for_{fmt}",
            "api.py",
            _VERIFY,
            _skip_mac_for(fmt),
            (f"{T_MAC}::test_decrypt_rejects_a_tampered_file[{fmt}]",),
            ci=fmt in ("dotenv", "ini", "binary"),
            what=f"decrypt of a {fmt} file does not verify its MAC",
        )
        for fmt in ("dotenv", "ini", "binary", "yaml", "json")
    ),
    # ---------------------------------------------------------------- MAC checks, per command
    Mutant(
        "mac_skipped_in_bulk_decrypt",
        "bulk.py",
        "        ignore_mac=options.ignore_mac,\n",
        "        ignore_mac=True,\n",
        (f"{T_MAC}::test_bulk_and_recursive_decrypt_reject_a_tampered_file",),
        ci=True,
        what="decrypt of several files / --recursive / --output-dir skips the MAC",
    ),
    Mutant(
        "mac_skipped_in_single_decrypt",
        "cli/fast.py",
        "    options = api.DecryptOptions(ignore_mac=ignore_mac, decryption_order=",
        "    options = api.DecryptOptions(ignore_mac=True, decryption_order=",
        (f"{T_MAC}::test_decrypt_rejects_a_tampered_file",),
        what="`pysops decrypt FILE` skips the MAC",
    ),
    Mutant(
        "mac_skipped_in_set_unset",
        "cli/cmd_set.py",
        "open_encrypted(data, in_fmt, ignore_mac=ignore_mac,",
        "open_encrypted(data, in_fmt, ignore_mac=True,",
        (f"{T_MAC}::test_set_and_unset_refuse_a_tampered_file[dotenv]",),
        ci=True,
        what="set/unset re-seal a tampered file with a fresh valid MAC",
    ),
    Mutant(
        "mac_skipped_in_rotate",
        "cli/cmd_rotate.py",
        "opened = open_encrypted(data, in_fmt, decryption_order=decryption_order, shared=shared)",
        "opened = open_encrypted(data, in_fmt, ignore_mac=True, decryption_order=decryption_order, shared=shared)",
        (f"{T_MAC}::test_rotate_refuses_a_tampered_file",),
        ci=True,
        what="rotate re-seals a tampered file under a new data key",
    ),
    Mutant(
        "mac_skipped_in_updatekeys",
        "cli/cmd_updatekeys.py",
        "opened = open_encrypted(data, fmt, shared=shared)",
        "opened = open_encrypted(data, fmt, ignore_mac=True, shared=shared)",
        (f"{T_MAC}::test_updatekeys_refuses_a_tampered_file",),
        ci=True,
        what="updatekeys rewrites a tampered file",
    ),
    Mutant(
        "mac_skipped_in_groups",
        "cli/cmd_groups.py",
        "return data, open_encrypted(data, pick_format(None, file))",
        "return data, open_encrypted(data, pick_format(None, file), ignore_mac=True)",
        (f"{T_MAC}::test_groups_refuse_a_tampered_file",),
        ci=True,
        what="groups add/delete rewrite a tampered file",
    ),
    Mutant(
        "mac_skipped_in_merge_driver",
        "gitdriver.py",
        "        opened = api.open_file(data, input_format=fmt, options=options)\n",
        "        opened = api.open_file(data, input_format=fmt, options=api.DecryptOptions(ignore_mac=True, "
        "env=getattr(options, 'env', None), context=getattr(options, 'context', None)))\n",
        (f"{T_MAC}::test_merge_driver_refuses_a_tampered_side",),
        ci=True,
        what="the git merge driver merges tampered sides and re-MACs the result",
    ),
    Mutant(
        "mac_skipped_in_git_drivers_cli",
        "cli/git_fast.py",
        "    return DecryptOptions(decryption_order=",
        "    return DecryptOptions(ignore_mac=True, decryption_order=",
        (f"{T_MAC}::test_merge_driver_refuses_a_tampered_side",),
        what="`pysops git merge-driver` opens the sides without the MAC check",
    ),
    Mutant(
        "mac_skipped_in_exec",
        "cli/exec_run.py",
        "        api.DecryptOptions(ignore_mac=ignore_mac, decryption_order=",
        "        api.DecryptOptions(ignore_mac=True, decryption_order=",
        (f"{T_MAC}::test_exec_env_and_exec_file_refuse_a_tampered_file",),
        what="exec-env / exec-file hand a tampered file's values to a program",
    ),
    Mutant(
        "mac_skipped_in_edit",
        "cli/cmd_edit.py",
        "            ignore_mac=ignore_mac, decryption_order=",
        "            ignore_mac=True, decryption_order=",
        (f"{T_MAC}::test_edit_refuses_a_tampered_file",),
        what="edit re-seals a tampered file",
    ),
    # ---------------------------------------------------------------- the MAC itself
    Mutant(
        "mac_comparison_skipped",
        "crypto/mac.py",
        "    if not isinstance(value, str) or not compare_digest(value.encode(), computed.encode()):",
        "    if not isinstance(value, str):",
        (f"{T_TAMPER}::test_tampering_is_rejected",),
        what="a decryptable MAC is accepted whatever it says",
    ),
    Mutant(
        "mac_missing_accepted",
        "crypto/mac.py",
        "    if not stored:\n        raise MacMismatch(",
        "    if not stored:\n        return\n        raise MacMismatch(",
        (f"{T_TAMPER}::test_tampering_is_rejected",),
        what="a file without a MAC decrypts",
    ),
    Mutant(
        "mac_undecryptable_accepted",
        "crypto/mac.py",
        "    except DecryptionFailed:\n        raise MacMismatch(",
        "    except DecryptionFailed:\n        return\n        raise MacMismatch(",
        (f"{T_TAMPER}::test_tampering_is_rejected",),
        what="a MAC that fails authentication (lastmodified changed) is accepted",
    ),
    Mutant(
        "mac_only_encrypted_prefix_dropped",
        "crypto/mac.py",
        "    if mac_only_encrypted:\n        h.update(_ONLY_ENCRYPTED_PREFIX)",
        "    if False:\n        h.update(_ONLY_ENCRYPTED_PREFIX)",
        (f"{T_MAC}::test_mac_only_encrypted_files_interoperate_with_sops",),
        what="mac_only_encrypted files lose sops's MAC domain separation",
    ),
    Mutant(
        "mac_lowercase_hex",
        "crypto/mac.py",
        "    return h.hexdigest().upper()",
        "    return h.hexdigest()",
        (f"{T_MAC}::test_mac_only_encrypted_files_interoperate_with_sops",),
        what="the MAC text differs from sops's (files sops cannot verify)",
    ),
    Mutant(
        "unencrypted_values_not_in_mac_on_decrypt",
        "api.py",
        "        if encrypted or not mac_only_encrypted:\n",
        "        if encrypted:\n",
        (f"{T_TAMPER}::test_tampering_is_rejected",),
        what="a changed unencrypted value goes unnoticed",
    ),
    Mutant(
        "unencrypted_values_not_in_mac_on_encrypt",
        "api.py",
        "                if not mac_only_encrypted:\n                    add_mac(plaintext)",
        "                if False:\n                    add_mac(plaintext)",
        (f"{T_MAC}::test_decrypt_rejects_a_tampered_file[yaml]",),
        what="encrypt leaves unencrypted values out of the MAC",
    ),
    Mutant(
        "lastmodified_aad_not_normalised",
        "api.py",
        "        return GoTime.parse_rfc3339(lastmodified).rfc3339()",
        "        return lastmodified",
        (f"{T_MAC}::test_equivalent_lastmodified_spelling_still_verifies_like_sops",),
        what="the MAC's AAD is the stored text, not sops's RFC3339 form",
    ),
    Mutant(
        "plaintext_accepted_where_ciphertext_expected",
        "api.py",
        '            if not value.startswith("ENC[AES256_GCM,"):\n                raise DecryptionFailed(',
        '            if not value.startswith("ENC[AES256_GCM,"):\n                add_mac(value.encode())\n'
        "                continue\n                raise DecryptionFailed(",
        (f"{T_TAMPER}::test_tampering_is_rejected",),
        what="a value that must be encrypted may be written in clear",
    ),
    Mutant(
        "plain_number_accepted_where_ciphertext_expected",
        "api.py",
        "        if encrypted and type(value) is not str:\n            raise DecryptionFailed(",
        "        if False:\n            raise DecryptionFailed(",
        (f"{T_MAC}::test_plain_number_where_ciphertext_is_expected_is_rejected",),
        what="a number in clear where a ciphertext must be is accepted",
    ),
    # ---------------------------------------------------------------- IVs (GCM nonce reuse)
    Mutant(
        "same_iv_for_every_value",
        "api.py",
        "            yield block[start : start + IV_SIZE]",
        "            yield block[:IV_SIZE]",
        (f"{T_IV}::test_no_two_values_or_comments_share_an_iv",),
        ci=True,
        what="every value of a file is sealed with the same IV",
    ),
    Mutant(
        "changed_value_reuses_stash_iv",
        "crypto/stash.py",
        "        return (aad, kind or type_name(value), value)",
        "        return (aad, kind or type_name(value), None)",
        (f"{T_IV}::test_a_changed_value_gets_a_fresh_iv",),
        ci=True,
        what="a changed value reuses its old IV (keyed by path only)",
    ),
    Mutant(
        "stash_ignores_the_aad",
        "crypto/stash.py",
        "        return (aad, kind or type_name(value), value)",
        '        return ("", kind or type_name(value), value)',
        (f"{T_IV}::test_an_equal_value_under_another_key_gets_its_own_iv",),
        what="a value copied under another key reuses the other key's IV (same nonce, other AAD)",
    ),
    Mutant(
        "mac_sealed_with_same_iv_on_edit",
        "api.py",
        "        meta.mac = encrypt_mac(sealer.mac_hex(), self.data_key, meta.lastmodified, randbytes(32))",
        "        meta.mac = encrypt_mac(sealer.mac_hex(), self.data_key, meta.lastmodified, bytes(32))",
        (f"{T_IV}::test_every_edit_seals_the_mac_with_a_fresh_iv",),
        ci=True,
        what="set/edit/rotate seal the MAC with the same IV every time",
    ),
    Mutant(
        "mac_sealed_with_constant_iv_on_encrypt",
        "api.py",
        "            mac=encrypt_mac(sealer.mac_hex(), data_key, lastmodified, randbytes(32)),",
        "            mac=encrypt_mac(sealer.mac_hex(), data_key, lastmodified, bytes(32)),",
        (f"{T_IV}::test_every_edit_seals_the_mac_with_a_fresh_iv",),
        what="encrypt seals the MAC with a constant IV",
    ),
    Mutant(
        "comments_sealed_with_constant_iv",
        "api.py",
        "            sealed = cipher.encrypt_comment(text, aad, iv or next(ivs))",
        "            sealed = cipher.encrypt_comment(text, aad, iv or bytes(32))",
        (f"{T_IV}::test_no_two_values_or_comments_share_an_iv",),
        what="every comment is sealed with the same IV",
    ),
    Mutant(
        "iv_size_12_bytes",
        "crypto/cipher.py",
        "IV_SIZE = 32\n",
        "IV_SIZE = 12\n",
        (f"{T_IV}::test_every_iv_is_32_bytes_like_sops",),
        what="IVs are 12 bytes (sops writes 32)",
    ),
    Mutant(
        "rotate_keeps_the_data_key",
        "api.py",
        "        self.data_key = randbytes(DATA_KEY_SIZE)\n        self.stash = IVStash()",
        "        self.stash = IVStash()",
        (f"{T_IV}::test_rotate_uses_a_new_data_key_and_new_ivs",),
        what="rotate keeps the old data key",
    ),
    Mutant(
        "rotate_keeps_the_ivs",
        "api.py",
        "        self.data_key = randbytes(DATA_KEY_SIZE)\n        self.stash = IVStash()",
        "        self.data_key = randbytes(DATA_KEY_SIZE)",
        (f"{T_IV}::test_rotate_uses_a_new_data_key_and_new_ivs",),
        what="rotate re-uses every value's old IV under the new key",
    ),
    Mutant(
        "stash_occurrences_collapse",
        "crypto/stash.py",
        "        self._seen_put[base] += 1\n",
        "        pass\n",
        ("tests/test_reencrypt.py::test_unchanged_document_keeps_every_ciphertext",),
        what="equal values in a list collapse to one stash entry (sops's behaviour, not minimal diffs)",
    ),
    Mutant(
        "updatekeys_does_not_rotate_after_removal",
        "cli/cmd_updatekeys.py",
        "    if removed:\n        opened.rotate_data_key()",
        "    if False:\n        opened.rotate_data_key()",
        ("tests/cli/test_updatekeys.py::test_removing_a_recipient_rotates_the_data_key",),
        what="a removed recipient keeps a working copy of the data key",
    ),
    # ---------------------------------------------------------------- the value codec
    Mutant(
        "seal_ignores_the_aad",
        "crypto/cipher.py",
        '        sealed = self.aead.encrypt(iv, plaintext, aad.encode("utf-8", "surrogateescape"))',
        '        sealed = self.aead.encrypt(iv, plaintext, b"")',
        (f"{T_TAMPER}::test_tampering_is_rejected",),
        what="values are not bound to their key path (moved values decrypt)",
    ),
    Mutant(
        "open_ignores_the_aad",
        "crypto/cipher.py",
        '            plaintext = self.aead.decrypt(iv, data + tag, aad.encode("utf-8", "surrogateescape"))',
        '            plaintext = self.aead.decrypt(iv, data + tag, b"")',
        (f"{T_TAMPER}::test_tampering_is_rejected",),
        what="decryption does not check the key path",
    ),
    Mutant(
        "aad_without_trailing_colon",
        "api.py",
        '                yield path + (key,), prefix + key + ":", value, active',
        "                yield path + (key,), prefix + key, value, active",
        (f"{T_SEL}::test_selection_matches_sops",),
        what="the AAD of a value differs from sops's",
    ),
    Mutant(
        "dotenv_aad_without_colon",
        "formats/dotenv.py",
        '        sealed = seal_value((key,), key + ":", value,',
        "        sealed = seal_value((key,), key, value,",
        (f"{T_MAC}::test_decrypt_rejects_a_tampered_file[dotenv]",),
        what="dotenv's own encrypt walk uses another AAD than sops",
    ),
    Mutant(
        "type_tag_always_str",
        "api.py",
        "                tag = type_name(value)\n",
        '                tag = "str"\n',
        ("tests/interop/test_sops_interop.py::test_age_both_directions",),
        what="typed values lose their type tag",
    ),
    Mutant(
        "data_key_length_unchecked",
        "api.py",
        "    if len(key) != DATA_KEY_SIZE:\n",
        "    if False:\n",
        (f"{T_SAFE}::test_a_data_key_of_the_wrong_length_is_refused",),
        what="a 16-byte 'data key' is used as AES-128",
    ),
    Mutant(
        "encrypting_an_encrypted_file",
        "api.py",
        "    if doc.metadata is not None:\n        raise FileAlreadyEncrypted(",
        "    if False:\n        raise FileAlreadyEncrypted(",
        (f"{T_SAFE}::test_encrypting_an_encrypted_file_is_refused",),
        what="an encrypted file is encrypted again (its data key is lost)",
    ),
    # ---------------------------------------------------------------- selection rules
    Mutant(
        "encrypted_regex_anchored_at_start",
        "policy.py",
        "        return any(pattern.search(component) for component in path)",
        "        return any(pattern.match(component) for component in path)",
        (f"{T_SEL}::test_selection_matches_sops",),
        ci=True,
        what="encrypted_regex only matches at the start of a key (secrets left in clear)",
    ),
    Mutant(
        "unencrypted_regex_inverted",
        "policy.py",
        "        return not any(pattern.search(component) for component in path)",
        "        return any(pattern.search(component) for component in path)",
        (f"{T_SEL}::test_selection_matches_sops",),
        ci=True,
        what="unencrypted_regex encrypts what it should leave in clear and the reverse",
    ),
    Mutant(
        "unencrypted_regex_leaf_only",
        "policy.py",
        "        return not any(pattern.search(component) for component in path)",
        "        return not any(pattern.search(component) for component in path[-1:])",
        (f"{T_SEL}::test_selection_matches_sops",),
        what="unencrypted_regex does not cover the children of a matching mapping",
    ),
    Mutant(
        "key_unencrypted_children_encrypted",
        "policy.py",
        "            for component in path:  # noqa: SIM110",
        "            for component in path[-1:]:  # noqa: SIM110",
        (f"{T_SEL}::test_selection_matches_sops",),
        ci=True,
        what="children of a `key_unencrypted:` mapping get encrypted",
    ),
    Mutant(
        "unencrypted_suffix_leaf_only_in_should_encrypt",
        "policy.py",
        "        return not any(component.endswith(value) for component in path)",
        "        return not any(component.endswith(value) for component in path[-1:])",
        (f"{T_SEL}::test_check_uses_the_same_selection",),
        what="`pysops check` expects the children of `x_unencrypted:` to be encrypted",
    ),
    Mutant(
        "encrypted_suffix_leaf_only",
        "policy.py",
        "        return any(component.endswith(value) for component in path)",
        "        return any(component.endswith(value) for component in path[-1:])",
        (f"{T_SEL}::test_selection_matches_sops",),
        what="children of an `x_encrypted:` mapping are left in clear",
    ),
    Mutant(
        "unencrypted_comment_regex_inverted",
        "policy.py",
        "        return not any(pattern.search(comment) for comment in comments)",
        "        return any(pattern.search(comment) for comment in comments)",
        (f"{T_SEL}::test_selection_matches_sops",),
        what="unencrypted_comment_regex encrypts the marked values only",
    ),
    Mutant(
        "encrypted_comment_regex_inverted",
        "policy.py",
        '    if option == "encrypted_comment_regex":\n        pattern = _compile(value)\n'
        "        return any(pattern.search(comment) for comment in comments)",
        '    if option == "encrypted_comment_regex":\n        pattern = _compile(value)\n'
        "        return not any(pattern.search(comment) for comment in comments)",
        (f"{T_SEL}::test_selection_matches_sops",),
        what="encrypted_comment_regex leaves the marked values in clear",
    ),
    Mutant(
        "comment_selection_not_inherited",
        "api.py",
        '                yield from _leaves(value, path + (key,), prefix + key + ":", active)',
        '                yield from _leaves(value, path + (key,), prefix + key + ":", stack)',
        (f"{T_SEL}::test_selection_matches_sops",),
        ci=True,
        what="a comment marking a mapping does not select the mapping's leaves",
    ),
    Mutant(
        "comments_one_level_off_left_encrypted",
        "api.py",
        "    for depth in range(len(path), -1, -1):",
        "    for depth in range(len(path), len(path) - 1, -1):",
        (f"{T_SEL}::test_comments_sops_attaches_one_level_off_decrypt",),
        ci=True,
        what="a comment sops sealed under an enclosing path stays encrypted",
    ),
    # ---------------------------------------------------------------- Shamir
    Mutant(
        "shamir_duplicate_share_check_removed",
        "crypto/shamir.py",
        '    if len(set(xs)) != len(xs):\n        raise ValueError("duplicate share")',
        '    if False:\n        raise ValueError("duplicate share")',
        (f"{T_SAFE}::test_duplicate_shamir_shares_give_a_clean_error",),
        ci=True,
        what="two copies of one share crash with ZeroDivisionError",
    ),
    Mutant(
        "shamir_threshold_one_allowed",
        "crypto/shamir.py",
        "    if not 2 <= threshold <= parts <= 255:",
        "    if not 1 <= threshold <= parts <= 255:",
        (f"{T_SAFE}::test_shamir_refuses_a_threshold_of_one",),
        what="a threshold of 1 makes every share the secret itself",
    ),
    Mutant(
        "shamir_x_coordinate_shifted",
        "crypto/shamir.py",
        "            x = index + 1\n",
        "            x = index + 2\n",
        ("tests/interop/test_sops_interop.py::test_three_key_groups_threshold_two[yaml]",),
        what="shares evaluated at another x than they carry",
    ),
    Mutant(
        "shamir_fewer_shares_than_the_threshold",
        "api.py",
        "    needed = 1 if len(groups) == 1 else (meta.shamir_threshold or len(groups))",
        "    needed = 1 if len(groups) == 1 else 2",
        (f"{T_SAFE}::test_fewer_shares_than_the_threshold_is_exit_128",),
        what="fewer shares than the threshold are combined into a wrong key",
    ),
    # ---------------------------------------------------------------- atomic writes
    Mutant(
        "temp_file_not_fsynced",
        "atomic.py",
        "            os.fsync(handle.fileno())\n",
        "            pass\n",
        (f"{T_SAFE}::test_temp_file_is_fsynced_before_the_rename",),
        ci=True,
        what="the new content may not be on disk when the rename makes it the file",
    ),
    Mutant(
        "temp_file_fsynced_after_the_rename",
        "atomic.py",
        "            os.fsync(handle.fileno())\n        os.replace(tmp, target)\n",
        "        os.replace(tmp, target)\n        with open(target, 'rb') as synced:\n"
        "            os.fsync(synced.fileno())\n",
        (f"{T_SAFE}::test_temp_file_is_fsynced_before_the_rename",),
        what="the rename happens before the data is durable",
    ),
    Mutant(
        "directory_not_fsynced",
        "atomic.py",
        "            os.fsync(dir_fd)\n",
        "            pass\n",
        (f"{T_SAFE}::test_directory_is_fsynced_after_the_rename",),
        what="the rename itself may be lost on a crash",
    ),
    Mutant(
        "temp_file_left_on_failure",
        "atomic.py",
        "            os.unlink(tmp)\n",
        "            pass\n",
        (f"{T_SAFE}::test_failed_write_leaves_no_temp_file_and_the_original",),
        what="a failed write leaves a temp file (possibly plaintext) behind",
    ),
    Mutant(
        "existing_mode_not_kept",
        "atomic.py",
        "            os.fchmod(handle.fileno(), mode)\n",
        "            pass\n",
        (f"{T_SAFE}::test_modes_are_kept_or_private",),
        what="a rewritten file loses its mode",
    ),
    Mutant(
        "private_output_not_0600",
        "atomic.py",
        "            mode = 0o600\n",
        "            mode = 0o644\n",
        (f"{T_SAFE}::test_modes_are_kept_or_private",),
        what="plaintext output is world-readable",
    ),
    # ---------------------------------------------------------------- read back before writing
    Mutant(
        "write_not_read_back",
        "api.py",
        "    try:\n        store = get_store(output_format)\n",
        "    return\n    try:\n        store = get_store(output_format)\n",
        (T_VERIFY,),
        ci=True,
        what="an encrypted write is not read back before it leaves pysops (a file without metadata is written)",
    ),
    Mutant(
        "read_back_text_ignores_the_aad",
        "api.py",
        '            if hit is None or hit[0] != aad or hit[2] != "str":\n',
        '            if hit is None or hit[2] != "str":\n',
        (T_READ_BACK, f"{T_VERIFY}::test_encrypt_refuses_output_that_does_not_read_back"),
        what="the tree-less read-back (dotenv) takes a sealed value found under another key",
    ),
    Mutant(
        "read_back_text_trusts_every_comment",
        "api.py",
        '        return hit is not None and hit[0] == aad and hit[2] == "comment"\n',
        "        return True\n",
        (T_READ_BACK,),
        what="the tree-less read-back (dotenv) takes a damaged encrypted comment",
    ),
    Mutant(
        "read_back_text_leaves_clear_values_out_of_the_mac",
        "api.py",
        "        if encrypted or not only_encrypted:\n",
        "        if encrypted:\n",
        (T_READ_BACK,),
        what="the tree-less read-back (dotenv) checks a MAC that does not cover the unencrypted values",
    ),
    Mutant(
        "write_check_skips_values_and_mac",
        "api.py",
        "        verify_mac(written.mac, computed, data_key, lastmodified_aad(written.lastmodified))\n",
        "        pass\n",
        (f"{T_VERIFY}::test_encrypt_refuses_output_that_does_not_read_back",),
        what="the read-back check does not verify the MAC (an unencrypted value written wrongly passes)",
    ),
    Mutant(
        "write_check_ignores_metadata_changes",
        "api.py",
        "    if written.to_dict() != Metadata.from_dict(meta.to_dict()).to_dict():\n",
        "    if False:\n",
        (f"{T_VERIFY}::test_a_dropped_key_stanza_is_refused",),
        what="the read-back check accepts a metadata block other than the one sealed",
    ),
    Mutant(
        "write_check_never_unwraps",
        "api.py",
        '    ages = [(index, k) for index, group in enumerate(meta.key_groups) for k in group if k.type == "age"]\n',
        "    ages = []\n",
        (f"{T_VERIFY}::test_a_stanza_for_another_data_key_is_caught_when_an_identity_is_at_hand",),
        what="the read-back check never unwraps the data key from the stanzas just written",
    ),
    Mutant(
        "write_check_trusts_known_ciphertext_anywhere",
        "api.py",
        "            if hit is not None and hit[0] == aad:\n",
        "            if hit is not None:\n",
        (f"{T_VERIFY}::test_encrypt_refuses_output_that_does_not_read_back",),
        what="the read-back check accepts a just-sealed ciphertext at another path (swapped values pass)",
    ),
    Mutant(
        "write_check_trusts_known_comment_anywhere",
        "api.py",
        '                if hit is not None and hit[0] == aad and hit[2] == "comment":\n',
        '                if hit is not None and hit[2] == "comment":\n',
        (f"{T_VERIFY}::test_an_encrypted_comment_written_under_another_mapping_is_refused",),
        what="the read-back check accepts a just-sealed comment written under another mapping",
    ),
    # ---------------------------------------------------------------- hostile input bounds
    Mutant(
        "json_depth_limit_removed",
        "formats/json.py",
        "                    if len(stack) >= MAX_DEPTH:\n",
        "                    if False:\n",
        ("tests/formats/test_json_inputs.py::test_depth_past_the_limit_is_refused_at_parse_time",),
        ci=True,
        what="JSON nested past the limit is parsed (RecursionError tracebacks further on, unbounded stack)",
    ),
    Mutant(
        "alias_budget_unbounded",
        "limits.py",
        "    return MAX_ALIAS_NODES + ALIAS_NODES_PER_INPUT_BYTE * input_size\n",
        "    return 10**12\n",
        ("tests/formats/test_yaml_hostile.py::test_alias_budget_grows_with_the_input",),
        what="a YAML alias bomb is expanded (gigabytes of memory for a few hundred bytes)",
    ),
    Mutant(
        "re2_incompatible_regex_accepted",
        "re2compat.py",
        "    return _scan(pattern)\n",
        "    return None\n",
        ("tests/cli/test_regex.py::test_patterns_re2_would_read_otherwise_are_refused",),
        what="a regex that RE2 (sops) reads otherwise selects other values in pysops than in sops",
    ),
    # ---------------------------------------------------------------- tampering the MAC cannot see
    Mutant(
        "tampered_comment_kept_encrypted",
        "api.py",
        "    if ignore_mac:\n        return\n    EncryptedValue.parse(leaf.text)",
        "    if True:\n        return\n    EncryptedValue.parse(leaf.text)",
        (f"{T_TAMPER}::test_tampered_comment_fails_unless_mac_ignored",),
        ci=True,
        what="a tampered encrypted comment (comments are not in the MAC) is printed as ciphertext, exit 0",
    ),
    Mutant(
        "value_retyped_as_comment_accepted",
        "api.py",
        '                if kind == "comment":\n                    # sops leaves a comment out of the MAC',
        "                if False:\n                    # sops leaves a comment out of the MAC",
        (f"{T_TAMPER}::test_value_retyped_as_comment_is_a_mac_mismatch",),
        what="a value whose tag was changed to type:comment decrypts (its change escapes the MAC)",
    ),
    Mutant(
        "comment_retyped_as_value_accepted",
        "api.py",
        '            if kind != "comment" and not ignore_mac:\n',
        "            if False:\n",
        (f"{T_TAMPER}::test_comment_retyped_as_value_is_a_mac_mismatch",),
        what="an encrypted comment retagged as a value is accepted",
    ),
    # ---------------------------------------------------------------- concurrent and killed writers
    Mutant(
        "set_without_the_file_lock",
        "cli/mutate.py",
        "    with file_lock(path, wait=5.0):\n",
        '    with __import__("contextlib").nullcontext():\n',
        (
            "tests/test_crash_safety.py::test_a_write_back_waits_for_the_lock_and_never_overwrites_the_holders_change",
            "tests/test_crash_safety.py::test_eight_concurrent_sets_lose_no_update",
        ),
        ci=True,
        what="concurrent set/unset on one file lose updates (read-modify-write without the lock)",
    ),
    Mutant(
        "killed_writers_temp_files_kept",
        "atomic.py",
        "    _remove_leftovers(directory, target.name)\n",
        "    pass\n",
        ("tests/test_crash_safety.py::test_the_next_write_removes_abandoned_temp_files_only",),
        what="temp files a killed write left (possibly plaintext) pile up next to the file",
    ),
    Mutant(
        "live_writers_temp_file_removed",
        "atomic.py",
        "            return  # a live writer holds it\n",
        "            pass\n",
        ("tests/test_crash_safety.py::test_the_next_write_removes_abandoned_temp_files_only",),
        what="a concurrent writer's temp file is deleted under it (its rename then fails)",
    ),
    # ---------------------------------------------------------------- key loading
    Mutant(
        "age_garbage_line_skipped",
        "keys/age.py",
        '            raise KeySourceError(f"age: {source} holds a line that is not an age identity',
        "            continue\n"
        '            raise KeySourceError(f"age: {source} holds a line that is not an age identity',
        (f"{T_SAFE}::test_garbage_in_an_age_keys_file_is_an_error",),
        ci=True,
        what="a garbage line in keys.txt is skipped silently",
    ),
    Mutant(
        "age_malformed_identity_skipped",
        "keys/age.py",
        "            except pyrage.IdentityError:\n                raise KeySourceError(",
        "            except pyrage.IdentityError:\n                continue\n                raise KeySourceError(",
        (f"{T_SAFE}::test_garbage_in_an_age_keys_file_is_an_error",),
        what="a malformed AGE-SECRET-KEY line is skipped silently",
    ),
    Mutant(
        "age_passphrase_file_not_recognised",
        "keys/age.py",
        '    if stripped.startswith("age-encryption.org") or stripped.startswith(_ARMOR_BEGIN):',
        "    if False:",
        (f"{T_SAFE}::test_a_passphrase_protected_keys_file_is_named_as_such",),
        what="a passphrase-protected keys file gets a misleading error",
    ),
)


# --------------------------------------------------------------------------------------------


GUARD = '''\
"""pytest plugin: refuse to run unless pysops is imported from the mutated copy."""
import os

import pytest


def pytest_configure(config):
    import pysops

    root = os.path.realpath(os.environ["PYSOPS_MUTANT_ROOT"])
    where = os.path.realpath(pysops.__file__)
    if not where.startswith(root + os.sep):
        raise pytest.UsageError(f"mutants: pysops imported from {where}, not from the copy in {root}")
'''


def check_snippets(mutants: Sequence[Mutant], src: Path = SRC) -> list[Outcome]:
    """Outcomes for the mutants whose snippet is missing or ambiguous (``stale``)."""
    stale = []
    for m in mutants:
        path = src / "pysops" / m.file
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            stale.append(Outcome(m, "stale", detail=f"cannot read {m.file}: {exc.strerror}"))
            continue
        count = text.count(m.original)
        if count != 1:
            stale.append(Outcome(m, "stale", detail=f"snippet found {count} times in {m.file} (must be exactly once)"))
    return stale


def _pytest_command(tests: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-p", "_mutant_guard", *tests]


def _full_selection() -> list[str]:
    return ["tests", "--ignore=tests/mutation", "--deselect=tests/test_quality.py"]


def _run_pytest(copy_root: Path, tests: Sequence[str], timeout: float) -> tuple[str, int | None, str, float]:
    env = dict(os.environ)
    # the copy first (pysops), then the guard plugin next to the copies
    env["PYTHONPATH"] = os.pathsep.join([str(copy_root), str(copy_root.parent)])
    env["PYSOPS_MUTANT_ROOT"] = str(copy_root)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    start = time.monotonic()
    try:
        proc = subprocess.run(
            _pytest_command(tests), cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return "timeout", None, "", time.monotonic() - start
    return "done", proc.returncode, proc.stdout + proc.stderr, time.monotonic() - start


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _run_one(m: Mutant, copy_root: Path, *, full: bool, timeout: float) -> Outcome:
    target = copy_root / "pysops" / m.file
    original = target.read_text(encoding="utf-8")
    target.write_text(original.replace(m.original, m.replacement, 1), encoding="utf-8")
    try:
        status, code, output, seconds = _run_pytest(copy_root, _full_selection() if full else m.tests, timeout)
    finally:
        target.write_text(original, encoding="utf-8")
    if status == "timeout":
        return Outcome(m, "killed", seconds, "timeout (counted as killed)")
    if code == 1:
        failed = [line for line in output.splitlines() if line.startswith(("FAILED", "ERROR"))]
        return Outcome(m, "killed", seconds, failed[0] if failed else "tests failed")
    if code == 0:
        return Outcome(m, "equivalent" if m.equivalent else "survived", seconds, m.equivalent or "")
    return Outcome(m, "error", seconds, f"pytest exit {code}:\n{_tail(output)}")


def run(
    mutants: Sequence[Mutant], *, full: bool, timeout: float, baseline: bool, verbose: bool, jobs: int = 1
) -> list[Outcome]:
    """Run every mutant (``jobs`` at a time, each worker on its own copy of src/)."""
    stale = {o.mutant.name: o for o in check_snippets(mutants)}
    for o in stale.values():
        _report(o, verbose)
    live = [m for m in mutants if m.name not in stale]
    results: dict[str, Outcome] = dict(stale)
    with tempfile.TemporaryDirectory(prefix="pysops-mutants-") as tmp:
        work = Path(tmp)
        (work / "_mutant_guard.py").write_text(GUARD)
        copies: queue.Queue[Path] = queue.Queue()
        for index in range(max(1, jobs)):
            copy_root = work / f"w{index}"
            shutil.copytree(SRC / "pysops", copy_root / "pysops", ignore=shutil.ignore_patterns("__pycache__"))
            copies.put(copy_root)
        if baseline and live:
            selection = _full_selection() if full else sorted({t for m in live for t in m.tests})
            status, code, output, seconds = _run_pytest(work / "w0", selection, timeout * 4)
            if status != "done" or code != 0:
                print(f"baseline: the unmutated copy fails its selection ({status}, exit {code}) in {seconds:.0f}s:")
                print(_tail(output, 30))
                raise SystemExit(2)
            print(f"baseline: unmutated copy passes ({seconds:.0f}s)", flush=True)

        def work_on(m: Mutant) -> Outcome:
            copy_root = copies.get()
            try:
                outcome = _run_one(m, copy_root, full=full, timeout=timeout)
            finally:
                copies.put(copy_root)
            _report(outcome, verbose)
            return outcome

        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            for outcome in pool.map(work_on, live):
                results[outcome.mutant.name] = outcome
    return [results[m.name] for m in mutants]


def _report(o: Outcome, verbose: bool) -> None:
    line = f"{o.status:10} {o.mutant.name:50} {o.seconds:6.1f}s"
    if o.status != "killed" or verbose:
        line += f"  {o.detail}" if "\n" not in o.detail else "\n" + o.detail
    print(line, flush=True)


def summary(outcomes: Sequence[Outcome]) -> tuple[str, bool]:
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    killed = counts.get("killed", 0)
    equivalent = counts.get("equivalent", 0)
    total = len(outcomes)
    ok = killed + equivalent == total
    text = (
        f"score: {killed}/{total - equivalent} killed"
        f" ({equivalent} equivalent, {counts.get('survived', 0)} survived,"
        f" {counts.get('stale', 0)} stale, {counts.get('error', 0)} error)"
    )
    return text, ok


def select(args: argparse.Namespace) -> list[Mutant]:
    chosen = list(MUTANTS)
    if args.ci:
        chosen = [m for m in chosen if m.ci]
    if args.only:
        names = {n.strip() for item in args.only for n in item.split(",") if n.strip()}
        unknown = names - {m.name for m in MUTANTS}
        if unknown:
            raise SystemExit(f"unknown mutant(s): {', '.join(sorted(unknown))}")
        chosen = [m for m in chosen if m.name in names]
    return chosen


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="each mutant against its own tests (default)")
    mode.add_argument("--full", action="store_true", help="each mutant against the whole suite")
    mode.add_argument("--check", action="store_true", help="only check that every snippet matches")
    mode.add_argument("--list", action="store_true", help="list the mutants")
    parser.add_argument("--ci", action="store_true", help="only the bounded CI set")
    parser.add_argument("--only", action="append", default=[], metavar="NAME", help="only this mutant")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per mutant (default 300, full 1800)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the run of the unmutated copy")
    parser.add_argument("-j", "--jobs", type=int, default=1, help="mutants run at the same time (default 1)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    names = [m.name for m in MUTANTS]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise SystemExit(f"duplicate mutant names: {', '.join(sorted(duplicates))}")
    mutants = select(args)
    if args.list:
        for m in mutants:
            flag = "ci " if m.ci else "   "
            print(f"{flag}{m.name:50} {m.file:24} {m.what}")
        print(f"{len(mutants)} mutants ({sum(m.ci for m in mutants)} in the CI set)")
        return 0
    if args.check:
        stale = check_snippets(mutants)
        for o in stale:
            _report(o, True)
        print(f"{len(mutants) - len(stale)}/{len(mutants)} snippets match")
        return 1 if stale else 0
    timeout = args.timeout or (1800.0 if args.full else 300.0)
    outcomes = run(
        mutants, full=args.full, timeout=timeout, baseline=not args.no_baseline, verbose=args.verbose, jobs=args.jobs
    )
    text, ok = summary(outcomes)
    print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
