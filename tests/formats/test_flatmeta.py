"""Flattening of the metadata block for dotenv/INI, checked against files the sops binary wrote."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pyrage
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.conftest import sops_binary

from pysops.errors import ParseError
from pysops.formats import dotenv, ini
from pysops.formats.flatmeta import flatten, unflatten


def test_flatten_separators_sorting_and_leaf_types() -> None:
    metadata = {
        "shamir_threshold": 2,
        "key_groups": [
            {"pgp": [{"fp": "F1"}], "hc_vault": None, "age": [{"recipient": "age1x", "enc": "A\nB\n"}]},
            {"age": [], "kms": [{"arn": "arn", "context": {"Env": "prod", "App": "a b"}, "aws_profile": ""}]},
        ],
        "lastmodified": "2026-01-02T03:04:05Z",
        "mac": "ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]",
        "mac_only_encrypted": True,
        "unencrypted_suffix": None,
        "version": "3.11.0",
    }
    assert flatten(metadata) == [
        ("key_groups__list_0__map_age__list_0__map_enc", "A\\nB\\n"),
        ("key_groups__list_0__map_age__list_0__map_recipient", "age1x"),
        ("key_groups__list_0__map_pgp__list_0__map_fp", "F1"),
        ("key_groups__list_1__map_kms__list_0__map_arn", "arn"),
        ("key_groups__list_1__map_kms__list_0__map_aws_profile", ""),
        ("key_groups__list_1__map_kms__list_0__map_context__map_App", "a b"),
        ("key_groups__list_1__map_kms__list_0__map_context__map_Env", "prod"),
        ("lastmodified", "2026-01-02T03:04:05Z"),
        ("mac", "ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]"),
        ("mac_only_encrypted", "true"),
        ("shamir_threshold", "2"),
        ("version", "3.11.0"),
    ]
    assert flatten({"mac_only_encrypted": False}) == [("mac_only_encrypted", "false")]


def test_list_indices_sort_bytewise_and_unflatten_by_index() -> None:
    metadata = {"age": [{"recipient": f"r{i}"} for i in range(12)]}
    keys = [key for key, _ in flatten(metadata)]
    assert keys[:4] == [
        "age__list_0__map_recipient",
        "age__list_10__map_recipient",
        "age__list_11__map_recipient",
        "age__list_1__map_recipient",
    ]
    assert unflatten(flatten(metadata)) == metadata
    # Order of the pairs does not matter.
    assert unflatten(list(reversed(flatten(metadata)))) == metadata


def test_unflatten_decodes_newlines_keeps_strings_and_fills_holes() -> None:
    pairs = [
        ("age__list_2__map_enc", "a\\nb"),
        ("age__list_0__map_recipient", "r"),
        ("shamir_threshold", "3"),
        ("mac_only_encrypted", "true"),
    ]
    assert unflatten(pairs) == {
        "age": [{"recipient": "r"}, None, {"enc": "a\nb"}],
        "shamir_threshold": "3",
        "mac_only_encrypted": "true",
    }


@pytest.mark.parametrize(
    "pairs",
    [
        [("age__list_x__map_enc", "v")],
        [("age__list_-1", "v")],
        [("age", "v"), ("age__list_0__map_enc", "w")],
        [("age__list_0__map_enc", "w"), ("age", "v")],
        [("age__map_x", "v"), ("age__list_0", "w")],
        [("age__list_99999999", "v")],
    ],
)
def test_unflatten_rejects_malformed_keys(pairs: list[tuple[str, str]]) -> None:
    with pytest.raises(ParseError):
        unflatten(pairs)


_name = st.text(st.characters(codec="utf-8", exclude_characters="_\n"), min_size=1, max_size=8)
_leaf = st.text(st.characters(codec="utf-8", exclude_characters="\\"), max_size=20)
_meta = st.recursive(
    _leaf,
    lambda children: st.one_of(
        st.lists(children, min_size=1, max_size=4), st.dictionaries(_name, children, min_size=1, max_size=4)
    ),
    max_leaves=12,
)


@given(st.dictionaries(_name, _meta, max_size=5))
def test_unflatten_inverts_flatten(metadata: dict[str, Any]) -> None:
    assert unflatten(flatten(metadata)) == metadata


# ------------------------------------------------------------------------------------------------
# Against files written by sops 3.11


def _sops(args: list[str], env: dict[str, str], cwd: Path) -> bytes:
    proc = subprocess.run([sops_binary(), *args], env=env, cwd=cwd, capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout


@pytest.fixture(scope="module")
def sops_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A JSON file sops encrypted for two key groups (Shamir 2), with crafted PGP and KMS (context)
    stanzas added to its metadata, then rewritten by ``sops set`` as dotenv and as INI."""
    tmp = tmp_path_factory.mktemp("flatmeta")
    identities = [pyrage.x25519.Identity.generate() for _ in range(2)]
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp),
        "SOPS_DISABLE_VERSION_CHECK": "1",
        "SOPS_AGE_KEY": "\n".join(str(identity) for identity in identities),
    }
    recipients = [str(identity.to_public()) for identity in identities]
    (tmp / ".sops.yaml").write_text(
        "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n"
        f"      - age: [{recipients[0]}]\n      - age: [{recipients[1]}]\n"
    )
    results: dict[str, Any] = {}
    for name, tree, fmt in [
        ("flat", {"A": "1", "B": "two\nlines"}, "dotenv"),
        ("sections", {"s": {"a": "1"}}, "ini"),
    ]:
        (tmp / f"{name}.json").write_text(json.dumps(tree))
        encrypted = json.loads(_sops(["encrypt", f"{name}.json"], env, tmp))
        meta = encrypted["sops"]
        meta["key_groups"][0]["pgp"] = [
            {
                "created_at": "2026-01-01T00:00:00Z",
                "enc": "-----BEGIN PGP MESSAGE-----\n\nwcBM\n=ab\n-----END PGP MESSAGE-----",
                "fp": "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4",
            }
        ]
        meta["key_groups"][1]["kms"] = [
            {
                "arn": "arn:aws:kms:us-east-1:123456789012:key/k",
                "role": "arn:aws:iam::1:role/r",
                "context": {"Zeta": "z", "App": "a b", "Environment": "production"},
                "created_at": "2026-01-01T00:00:00Z",
                "enc": "QUJD",
                "aws_profile": "",
            }
        ]
        target = tmp / f"{name}.conv"
        target.write_text(json.dumps(encrypted))
        _sops(
            [
                "set",
                "--input-type",
                "json",
                "--output-type",
                fmt,
                target.name,
                '["x"]' if fmt == "dotenv" else '["s"]["x"]',
                '"y"',
            ],
            env,
            tmp,
        )
        results[fmt] = (target.read_bytes(), meta)
    results["env"] = env
    results["dir"] = tmp
    return results


def _without_volatile(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return sorted((key, value) for key, value in pairs if key not in ("lastmodified", "mac"))


def test_sops_written_dotenv_metadata(sops_files: dict[str, Any]) -> None:
    data, meta = sops_files["dotenv"]
    lines = [line for line in data.decode().splitlines() if line.startswith("sops_")]
    pairs = [(line[5:].split("=", 1)[0], line.split("=", 1)[1]) for line in lines]
    # sops writes the pairs sorted bytewise, and they are exactly what flatten makes of the block.
    assert [key for key, _ in pairs] == sorted(key for key, _ in pairs)
    assert _without_volatile(pairs) == _without_volatile(flatten(meta))
    assert ("shamir_threshold", "2") in pairs
    assert ("key_groups__list_1__map_kms__list_0__map_context__map_Environment", "production") in pairs
    doc = dotenv.parse(data)
    assert doc.metadata is not None
    assert doc.metadata["key_groups"][1]["kms"][0]["context"] == {
        "Zeta": "z",
        "App": "a b",
        "Environment": "production",
    }
    assert doc.metadata["key_groups"][0]["pgp"][0]["enc"] == meta["key_groups"][0]["pgp"][0]["enc"]
    assert doc.metadata["key_groups"][0]["age"][0]["enc"].startswith("-----BEGIN AGE ENCRYPTED FILE-----\n")
    assert doc.metadata["shamir_threshold"] == "2"


def test_sops_written_ini_metadata(sops_files: dict[str, Any]) -> None:
    data, meta = sops_files["ini"]
    doc = ini.parse(data)
    assert doc.metadata is not None
    assert _without_volatile(flatten(doc.metadata)) == _without_volatile(flatten(meta))
    assert doc.metadata["key_groups"][1]["kms"][0]["role"] == "arn:aws:iam::1:role/r"


@pytest.mark.parametrize("fmt", ["dotenv", "ini"])
def test_sops_reads_metadata_we_write(sops_files: dict[str, Any], fmt: str) -> None:
    """Re-render the metadata in our layout (sorted, unaligned): sops still decrypts (MAC included)."""
    data, _ = sops_files[fmt]
    store = dotenv if fmt == "dotenv" else ini
    doc = store.parse(data)
    ours = store.render(doc, doc.metadata)
    if fmt == "ini":
        assert ours != data  # sops aligns '=' and orders keys at random; we sort and do not align
    tmp: Path = sops_files["dir"]
    suffix = ".env" if fmt == "dotenv" else ".ini"
    (tmp / f"theirs{suffix}").write_bytes(data)
    (tmp / f"ours{suffix}").write_bytes(ours)
    env = sops_files["env"]
    theirs_plain = _sops(["decrypt", f"theirs{suffix}"], env, tmp)
    assert _sops(["decrypt", f"ours{suffix}"], env, tmp) == theirs_plain
    assert b"y" in theirs_plain
