"""The shipped JSON Schema and the small validator: exact problems and their lines."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest

from pysops.config import SELECTION_KEYS
from pysops.keys import REGISTRY
from pysops.policyfile import FIELDS
from pysops.schema import Problem, config_problems, load_schema, validate, yaml_lines

AGE = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if "$ref" in node else []
        return own + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_schema_is_package_data_and_every_ref_resolves() -> None:
    text = resources.files("pysops.schema").joinpath("sops-policy.schema.json").read_text()
    schema = json.loads(text)
    assert schema == load_schema()
    for ref in _refs(schema):
        assert ref.startswith("#/$defs/") and ref.removeprefix("#/$defs/") in schema["$defs"]


def test_schema_knows_every_setting_pysops_reads() -> None:
    defs = load_schema()["$defs"]
    rule = set(defs["creation_rule"]["properties"])
    group = set(defs["key_group"]["properties"])
    assert set(SELECTION_KEYS) <= rule
    assert {spec.rule_key for spec in REGISTRY} <= rule
    assert {spec.group_key for spec in REGISTRY} | {"merge"} == group
    assert set(FIELDS) == set(defs["policy"]["properties"])
    assert set(load_schema()["properties"]) == {"creation_rules", "destination_rules", "stores", "policy"}


def test_a_full_valid_config_has_no_problem() -> None:
    data = {
        "creation_rules": [
            {"path_regex": r"\.yaml$", "age": AGE, "encrypted_regex": "^data$", "mac_only_encrypted": True},
            {
                "shamir_threshold": 2,
                "key_groups": [
                    {"age": [AGE], "pgp": ["FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4"]},
                    {
                        "kms": [{"arn": "arn:aws:kms:us-east-1:1:key/x", "role": "r", "context": {"a": "b"}}],
                        "gcp_kms": [{"resource_id": "projects/p/locations/l/keyRings/r/cryptoKeys/k"}],
                        "azure_keyvault": [{"vaultUrl": "https://v.vault.azure.net", "key": "k", "version": ""}],
                        "hc_vault": ["https://vault:8200/v1/transit/keys/k"],
                        "pkcs11": ["pkcs11:token=t;object=o", {"uri": "pkcs11:token=t;object=p"}],
                        "merge": [{"age": [AGE]}],
                    },
                ],
            },
        ],
        "destination_rules": [{"path_regex": "", "vault_path": "x/", "vault_kv_version": 1, "recreation_rule": {}}],
        "stores": {"yaml": {"indent": 2}, "json": {"indent": -1}, "json_binary": None, "dotenv": {}, "ini": {}},
        "policy": {
            "must_encrypt": ["secrets/**"],
            "required_recipients": f"age:{AGE}",
            "allowed_recipients": [f"age:{AGE}"],
            "min_key_groups": 1,
            "allow_hsm_only": False,
            "forbid_unencrypted_suffix": True,
        },
    }
    assert validate(data) == []


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"creation_rules": [{"filename_regex": "x"}]},
            [
                Problem(
                    ("creation_rules", 0, "filename_regex"),
                    'creation_rules[0]: unknown key "filename_regex" (did you mean "path_regex"?)',
                )
            ],
        ),
        (
            {"creation_rule": []},
            [Problem(("creation_rule",), 'top level: unknown key "creation_rule" (did you mean "creation_rules"?)')],
        ),
        (
            {"creation_rules": {"age": AGE}},
            [Problem(("creation_rules",), "creation_rules must be a list, not a mapping")],
        ),
        (
            {"creation_rules": [{"key_groups": [{"kms": [{"role": "r"}]}]}]},
            [
                Problem(
                    ("creation_rules", 0, "key_groups", 0, "kms", 0),
                    'creation_rules[0].key_groups[0].kms[0]: missing required key "arn"',
                )
            ],
        ),
        (
            {"creation_rules": [{"key_groups": []}]},
            [Problem(("creation_rules", 0, "key_groups"), "creation_rules[0].key_groups must have at least 1 item(s)")],
        ),
        (
            {"creation_rules": [{"shamir_threshold": True}]},
            [
                Problem(
                    ("creation_rules", 0, "shamir_threshold"),
                    "creation_rules[0].shamir_threshold must be an integer, not a boolean",
                )
            ],
        ),
        (
            {"stores": {"yaml": {"indent": 1}}},
            [Problem(("stores", "yaml", "indent"), "stores.yaml.indent must be at least 2, not 1")],
        ),
        (
            {"destination_rules": [{"vault_kv_version": 3}]},
            [
                Problem(
                    ("destination_rules", 0, "vault_kv_version"),
                    "destination_rules[0].vault_kv_version must be one of 1, 2, not 3",
                )
            ],
        ),
        (
            {"creation_rules": [{"key_groups": [{"pkcs11": [3]}]}]},
            [
                Problem(
                    ("creation_rules", 0, "key_groups", 0, "pkcs11", 0),
                    "creation_rules[0].key_groups[0].pkcs11[0] matches none of the allowed forms",
                )
            ],
        ),
        (
            {"policy": {"allowed_recipients": ["age1abc"], "min_key_groups": -1, "allow_hsm_only": "yes"}},
            [
                Problem(
                    ("policy", "allowed_recipients", 0),
                    'policy.allowed_recipients[0]: "age1abc" does not match '
                    "^(age|pgp|kms|gcp_kms|azure_kv|hc_vault|pkcs11):.+",
                ),
                Problem(("policy", "min_key_groups"), "policy.min_key_groups must be at least 0, not -1"),
                Problem(("policy", "allow_hsm_only"), "policy.allow_hsm_only must be true or false, not a string"),
            ],
        ),
        ([1], [Problem((), "top level must be a mapping, not a list")]),
    ],
)
def test_problems(data: Any, expected: list[Problem]) -> None:
    assert validate(data) == expected


def test_yaml_lines_gives_each_key_and_item_its_line() -> None:
    text = "a:\n  - x: 1\n    y: [2, 3]\n  - z\nb: {c: 1}\n"
    assert yaml_lines(text) == {
        (): 1,
        ("a",): 1,
        ("a", 0): 2,
        ("a", 0, "x"): 2,
        ("a", 0, "y"): 3,
        ("a", 0, "y", 0): 3,
        ("a", 0, "y", 1): 3,
        ("a", 1): 4,
        ("b",): 5,
        ("b", "c"): 5,
    }


def test_config_problems_have_lines_and_include_what_the_schema_cannot_say() -> None:
    text = (
        "# config\n"
        "creation_rules:\n"
        "  - path_regex: '['\n"
        f"    age: {AGE}\n"
        "  - path_regex: x\n"
        "    age: age1nope\n"
        "  - encrypted_regex: a\n"
        "    unencrypted_suffix: b\n"
        f"    age: {AGE}\n"
        "  - pgp: FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4\n"
        "    filename_regx: a\n"
        "policy:\n"
        "  allowed_recipients:\n"
        "    - age:age1nope\n"
    )
    assert config_problems(text) == [
        (3, "creation rule 1: path_regex '[' is not a valid regular expression for sops: "
            "Python cannot compile it (unterminated character set at position 0)"),
        (5, "creation rule 2: age: malformed recipient 'age1nope'"),
        (7, "creation rule 3: cannot use more than one of unencrypted_suffix, encrypted_suffix, "
            "unencrypted_regex, encrypted_regex, unencrypted_comment_regex, encrypted_comment_regex "
            "in the same rule (found unencrypted_suffix and encrypted_regex)"),
        (11, 'creation_rules[3]: unknown key "filename_regx"'),
        (14, "policy.allowed_recipients: \"age:age1nope\": age: malformed recipient 'age1nope'"),
    ]  # fmt: skip


def test_config_problems_of_broken_yaml_and_duplicate_keys() -> None:
    assert config_problems("a: 1\na: 2\n") == [(2, 'mapping key "a" already defined')]
    [(line, message)] = config_problems("a: [1\n")
    assert (line, message) == (2, "invalid YAML: while parsing a flow sequence did not find expected ',' or ']'")
    assert config_problems("") == []
