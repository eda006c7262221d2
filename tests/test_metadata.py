"""The metadata block: field order, key groups, normalisation of dotenv/INI strings."""

from __future__ import annotations

import pytest

from pysops.errors import GenericError, MetadataNotFound
from pysops.keys import WrappedKey
from pysops.metadata import Metadata

AGE = {"recipient": "age1xyz", "enc": "-----BEGIN AGE ENCRYPTED FILE-----\nx\n-----END AGE ENCRYPTED FILE-----\n"}
PGP = {
    "created_at": "2026-01-01T00:00:00Z",
    "enc": "-----BEGIN PGP MESSAGE-----\nx\n-----END PGP MESSAGE-----",
    "fp": "ABCD",
}


def test_flat_field_order_is_sops_struct_order() -> None:
    meta = Metadata(
        key_groups=[[WrappedKey("pgp", PGP), WrappedKey("age", AGE)]],
        lastmodified="2026-11-22T19:04:23Z",
        mac="ENC[...]",
        selection=("encrypted_regex", "^data$"),
        mac_only_encrypted=True,
    )
    d = meta.to_dict()
    assert list(d) == ["age", "lastmodified", "mac", "pgp", "encrypted_regex", "mac_only_encrypted", "version"]
    assert d["version"] == "3.11.0"


def test_key_groups_layout() -> None:
    meta = Metadata(
        key_groups=[[WrappedKey("age", AGE)], [WrappedKey("pgp", PGP)], [WrappedKey("age", AGE)]],
        lastmodified="2026-11-22T19:04:23Z",
        shamir_threshold=2,
    )
    d = meta.to_dict()
    assert list(d)[:2] == ["shamir_threshold", "key_groups"]
    assert [list(g) for g in d["key_groups"]] == [["hc_vault", "age"], ["pgp", "hc_vault", "age"], ["hc_vault", "age"]]
    back = Metadata.from_dict(d)
    assert back.shamir_threshold == 2 and [[k.type for k in g] for g in back.key_groups] == [["age"], ["pgp"], ["age"]]


def test_strings_from_dotenv_are_normalised() -> None:
    raw = {
        "age": [AGE],
        "lastmodified": "2026-11-22T19:04:23Z",
        "mac": "m",
        "shamir_threshold": "2",
        "mac_only_encrypted": "true",
        "version": "3.11.0",
        "unencrypted_suffix": "_unencrypted",
    }
    meta = Metadata.from_dict(raw)
    assert meta.shamir_threshold == 2 and meta.mac_only_encrypted is True
    assert meta.selection == ("unencrypted_suffix", "_unencrypted")


def test_unknown_key_types_and_fields_are_kept() -> None:
    kms = {"arn": "arn:aws:kms:us-east-1:1:key/x", "created_at": "2026-01-01T00:00:00Z", "enc": "e", "aws_profile": ""}
    raw = {"kms": [kms], "age": [AGE], "lastmodified": "t", "mac": "m", "enc_ts": 5, "version": "3.11.0"}
    meta = Metadata.from_dict(raw)
    assert [k.type for k in meta.key_groups[0]] == ["kms", "age"]
    d = meta.to_dict()
    assert d["kms"] == [kms] and d["enc_ts"] == 5 and list(d).index("kms") < list(d).index("age")


def test_errors() -> None:
    with pytest.raises(MetadataNotFound):
        Metadata.from_dict(None)
    with pytest.raises(GenericError, match="sops 1.x"):
        Metadata.from_dict({"version": 1.0, "lastmodified": "t"})
    with pytest.raises(GenericError, match="at most one"):
        Metadata.from_dict({"encrypted_regex": "a", "unencrypted_suffix": "b", "lastmodified": "t"})
    assert Metadata.from_dict({"lastmodified": "t", "mac": "m"}).effective_selection() == (
        "unencrypted_suffix",
        "_unencrypted",
    )
