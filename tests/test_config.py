"""Tests for pysops.config: discovery, loading, creation rules, flags, stores (format.md §7)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyrage
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pysops.config import (
    SELECTION_KEYS,
    Config,
    CreationRule,
    discover_config,
    find_config,
    load_config,
    recipients_from_flags,
    store_options,
)
from pysops.errors import ConfigError, NoMatchingCreationRule
from pysops.keys import Recipient

FIXTURE = Path("/work/shared/fixtures/sops-functional/functional.sops.yaml")
SOPS = Path(sys.executable).parent / "sops"
FP1 = "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4"
FP2 = "D7229043384BCC60326C6FB9D8720D957C3D3074"


def _age_recipient() -> str:
    return str(pyrage.x25519.Identity.generate().to_public())


A1, A2, A3 = (_age_recipient() for _ in range(3))


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def ids(group: tuple[Recipient, ...]) -> list[tuple[str, str]]:
    return [(r.type, r.id) for r in group]


def rule_from(tmp_path: Path, text: str, file: str = "f.yaml", **kwargs: Any) -> CreationRule:
    cfg = load_config(write(tmp_path / ".sops.yaml", text))
    return cfg.rule_for(file, cwd=str(tmp_path), **kwargs)


# --- discovery --------------------------------------------------------------------------------------


def test_file_directory_is_searched_before_cwd(tmp_path: Path) -> None:
    project = write(tmp_path / "project" / ".sops.yaml", "creation_rules: []\n")
    write(tmp_path / "work" / ".sops.yaml", "creation_rules: []\n")
    found = find_config("../project/deep/er/s.yaml", explicit=None, env={}, cwd=str(tmp_path / "work"))
    assert found == str(project)


def test_cwd_is_searched_when_the_file_tree_has_none(tmp_path: Path) -> None:
    work = write(tmp_path / "work" / ".sops.yaml", "creation_rules: []\n")
    (tmp_path / "elsewhere").mkdir()
    # Shares tmp_path and its ancestors with the cwd search: they are only checked once.
    found = find_config(str(tmp_path / "elsewhere" / "s.yaml"), explicit=None, env={}, cwd=str(tmp_path / "work" / "a"))
    assert found == str(work)
    assert find_config(None, explicit=None, env={}, cwd=str(tmp_path / "work" / "a" / "b")) == str(work)


def test_nothing_found(tmp_path: Path) -> None:
    assert find_config("x.yaml", explicit=None, env={}, cwd=str(tmp_path)) is None
    cfg = discover_config("x.yaml", explicit=None, env={}, cwd=str(tmp_path))
    assert cfg == Config()
    with pytest.raises(NoMatchingCreationRule, match="no configuration file found"):
        cfg.rule_for("x.yaml", cwd=str(tmp_path))


def test_policy_file_wins_at_the_same_level(tmp_path: Path) -> None:
    write(tmp_path / ".sops.yaml", "creation_rules: []\n")
    policy = write(tmp_path / ".sops-policy.yaml", "creation_rules: []\n")
    assert find_config("s.yaml", explicit=None, env={}, cwd=str(tmp_path)) == str(policy)


def test_nearer_sops_yaml_wins_over_policy_file_higher_up(tmp_path: Path) -> None:
    write(tmp_path / ".sops-policy.yaml", "creation_rules: []\n")
    near = write(tmp_path / "sub" / ".sops.yaml", "creation_rules: []\n")
    assert find_config("sub/s.yaml", explicit=None, env={}, cwd=str(tmp_path)) == str(near)


def test_sops_config_env_and_explicit_flag(tmp_path: Path) -> None:
    write(tmp_path / ".sops.yaml", "creation_rules: []\n")
    env_cfg = write(tmp_path / "conf" / "env.yaml", "creation_rules: []\n")
    flag_cfg = write(tmp_path / "conf" / "flag.yaml", "creation_rules: []\n")
    env = {"SOPS_CONFIG": "conf/env.yaml"}
    assert find_config("s.yaml", explicit=None, env=env, cwd=str(tmp_path)) == str(env_cfg)
    assert find_config("s.yaml", explicit="conf/flag.yaml", env=env, cwd=str(tmp_path)) == str(flag_cfg)
    assert find_config("s.yaml", explicit=str(flag_cfg), env={}, cwd="/") == str(flag_cfg)
    # An empty SOPS_CONFIG is as good as unset.
    assert find_config("s.yaml", explicit=None, env={"SOPS_CONFIG": ""}, cwd=str(tmp_path)) == str(
        tmp_path / ".sops.yaml"
    )


def test_explicit_config_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"could not read config file nope\.yaml \(from --config\)") as exc:
        find_config("s.yaml", explicit="nope.yaml", env={}, cwd=str(tmp_path))
    assert exc.value.exit_code == 1
    with pytest.raises(ConfigError, match=r"\(from SOPS_CONFIG\)"):
        find_config("s.yaml", explicit=None, env={"SOPS_CONFIG": "nope.yaml"}, cwd=str(tmp_path))


def test_sops_yml_is_ignored_with_a_warning(tmp_path: Path) -> None:
    yml = write(tmp_path / "sub" / ".sops.yml", f"creation_rules:\n  - age: {A1}\n")
    top = write(tmp_path / ".sops.yaml", f"creation_rules:\n  - age: {A2}\n")
    cfg = discover_config("sub/s.yaml", explicit=None, env={}, cwd=str(tmp_path))
    assert cfg.path == str(top)
    assert cfg.warnings == (
        f'ignoring "{yml}" when searching for config file; '
        'the config file must be called ".sops.yaml" (or ".sops-policy.yaml")',
    )
    top.unlink()
    empty = discover_config("sub/s.yaml", explicit=None, env={}, cwd=str(tmp_path))
    assert empty.path is None and len(empty.warnings) == 1


# --- loading ---------------------------------------------------------------------------------------


def test_broken_yaml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / ".sops.yaml", "creation_rules: [\n")
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert exc.value.exit_code == 1
    assert exc.value.message.startswith(f"could not parse config file {path}: ")


def test_duplicate_keys_are_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / ".sops.yaml", "stores: {}\nstores: {}\n")
    with pytest.raises(ConfigError, match="could not parse config file"):
        load_config(path)


@pytest.mark.parametrize(("text", "kind"), [("- a\n", "list"), ("just text\n", "string"), ("5\n", "int")])
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str, kind: str) -> None:
    path = write(tmp_path / ".sops.yaml", text)
    with pytest.raises(ConfigError, match=f"must be a mapping .* not a {kind}$"):
        load_config(path)


def test_empty_file_and_unknown_keys(tmp_path: Path) -> None:
    empty = load_config(write(tmp_path / "a.yaml", ""))
    assert empty.creation_rules is None and empty.stores == {} and not empty.has_creation_rules
    with pytest.raises(NoMatchingCreationRule, match="has no creation_rules"):
        empty.rule_for("x.yaml")
    cfg = load_config(write(tmp_path / "b.yaml", "foo: 1\ncreation_rules:\n  - age: x\n    bar: 2\n"))
    assert cfg.creation_rules == ({"age": "x", "bar": 2},)


def test_anchors_merge_keys_and_typing(tmp_path: Path) -> None:
    """The config is read like sops reads it (go-yaml v3): aliases, merge keys, YAML 1.2 types."""
    cfg = load_config(
        write(
            tmp_path / ".sops.yaml",
            f"keys:\n  - &admin {A1}\n"
            "defaults: &defaults\n  shamir_threshold: 2\n  mac_only_encrypted: yes\n"
            "creation_rules:\n"
            "  - path_regex: \\.env$\n    <<: *defaults\n    shamir_threshold: 1\n"
            "    key_groups:\n      - age: [*admin]\n      - age:\n          - *admin\n"
            "  - {path_regex: x, age: *admin, when: 2024-01-02, n: 0x10, f: 1.5, z: ~}\n",
        )
    )
    assert cfg.creation_rules is not None
    first, second = cfg.creation_rules
    assert first == {
        "path_regex": "\\.env$",
        "shamir_threshold": 1,
        "mac_only_encrypted": "yes",
        "key_groups": [{"age": [A1]}, {"age": [A1]}],
    }
    assert second["age"] == A1 and second["n"] == 16 and second["f"] == 1.5 and second["z"] is None
    assert str(second["when"]) == "2024-01-02T00:00:00Z"
    rule = cfg.rule_for("prod.env", cwd=str(tmp_path))
    assert (rule.shamir_threshold, rule.mac_only_encrypted) == (1, True)


def test_only_the_first_document_is_read(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path / ".sops.yaml", f"creation_rules:\n  - age: {A1}\n---\nstores: {{}}\n"))
    assert cfg.creation_rules == ({"age": A1},) and cfg.stores == {}


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("a: 1\na: 2\n", 'line 2: mapping key "a" already defined'),
        ("a:\n  - 1\n  b: 2\n", "did not find expected '-' indicator"),
        ("a: *nope\n", "line 1: unknown anchor 'nope' referenced"),
        ("a: {<<: [1]}\n", "line 1: a merge key (<<) must refer to mappings"),
        ("? [a]\n: 1\n", "line 1: complex (non-scalar) mapping keys are not supported"),
    ],
)
def test_yaml_errors_name_the_file(tmp_path: Path, text: str, detail: str) -> None:
    path = write(tmp_path / ".sops.yaml", text)
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert exc.value.message.startswith(f"could not parse config file {path}: ")
    assert detail in exc.value.message
    assert exc.value.hint == "fix the YAML syntax of the file"


def test_fixture_reads_like_ruamel_safe_loader() -> None:
    """The functional-test config gives the same data as a generic YAML loader."""
    from ruamel.yaml import YAML

    from pysops.formats.yamlcore import load_data

    text = FIXTURE.read_text(encoding="utf-8")
    assert load_data(text) == YAML(typ="safe").load(text)


def test_creation_rules_must_be_a_list(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="creation_rules must be a list of rules, not a mapping"):
        load_config(write(tmp_path / "a.yaml", "creation_rules: {age: x}\n"))


def test_policy_and_destination_rules_are_kept_raw(tmp_path: Path) -> None:
    cfg = load_config(
        write(tmp_path / ".sops-policy.yaml", "policy:\n  require: [a]\ndestination_rules:\n  - s3_bucket: b\n")
    )
    assert cfg.policy == {"require": ["a"]}
    assert cfg.destination_rules == [{"s3_bucket": "b"}]
    assert cfg.dir == str(tmp_path)


# --- stores ----------------------------------------------------------------------------------------


def test_store_options(tmp_path: Path) -> None:
    cfg = load_config(
        write(
            tmp_path / "c.yaml",
            "stores:\n  yaml: {indent: 2}\n  json: {indent: 3}\n  json_binary: {indent: 4}\n  dotenv:\n",
        )
    )
    assert store_options(cfg, "yaml") == {"indent": 2}
    assert store_options(cfg, "json") == {"indent": 3}
    assert store_options(cfg, "binary") == {"indent": 4}
    assert store_options(cfg, "dotenv") == {}
    assert store_options(cfg, "ini") == {}
    assert store_options(None, "yaml") == {}
    # A copy: callers may change it freely.
    store_options(cfg, "yaml")["indent"] = 9
    assert store_options(cfg, "yaml") == {"indent": 2}


def test_bad_stores(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="stores must be a mapping"):
        load_config(write(tmp_path / "a.yaml", "stores: [yaml]\n"))
    with pytest.raises(ConfigError, match=r"stores\.yaml must be a mapping"):
        load_config(write(tmp_path / "b.yaml", "stores:\n  yaml: 2\n"))


# --- matching --------------------------------------------------------------------------------------


def test_path_regex_is_relative_to_the_config_directory(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    cfg = load_config(
        write(
            repo / ".sops.yaml",
            "creation_rules:\n"
            f"  - path_regex: ^prod/.*\\.yaml$\n    age: {A1}\n"
            f"  - path_regex: ^{tmp_path}/outside/\n    age: {A2}\n"
            f"  - path_regex: ^repo/\n    age: {A3}\n",
        )
    )
    # Relative names are resolved against cwd before the config dir is stripped.
    assert ids(cfg.rule_for("prod/a.yaml", cwd=str(repo)).key_groups[0]) == [("age", A1)]
    assert ids(cfg.rule_for("../prod/a.yaml", cwd=str(repo / "dev")).key_groups[0]) == [("age", A1)]
    assert ids(cfg.rule_for(str(repo / "prod" / "a.yaml"), cwd="/").key_groups[0]) == [("age", A1)]
    # Files outside the config directory keep their absolute path.
    assert ids(cfg.rule_for("outside/x.yaml", cwd=str(tmp_path)).key_groups[0]) == [("age", A2)]
    # The config dir's own name is stripped, so ^repo/ never matches a file inside it.
    with pytest.raises(NoMatchingCreationRule) as exc:
        cfg.rule_for("repo/x.yaml", cwd=str(tmp_path))
    assert exc.value.message == "no matching creation rules found"
    assert "'x.yaml'" in (exc.value.hint or "")


def test_path_regex_is_searched_not_anchored_and_first_match_wins(tmp_path: Path) -> None:
    text = (
        "creation_rules:\n"
        f"  - path_regex: secret\n    age: {A1}\n"
        f"  - path_regex: \\.yaml$\n    age: {A2}\n"
        f"  - age: {A3}\n"
        "  - path_regex: '['\n"  # never reached: later rules are not even compiled
    )
    assert rule_from(tmp_path, text, "a/my-secret.yaml").position == 0
    assert rule_from(tmp_path, text, "a/other.yaml").position == 1
    last = rule_from(tmp_path, text, "a/other.json")
    assert (last.position, last.path_regex, ids(last.key_groups[0])) == (2, None, [("age", A3)])


def test_empty_path_regex_is_a_catch_all(tmp_path: Path) -> None:
    assert rule_from(tmp_path, f"creation_rules:\n  - path_regex: ''\n    age: {A1}\n").position == 0


def test_invalid_path_regex(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"creation rule 1: path_regex '\[' is not a valid regular"):
        rule_from(tmp_path, f"creation_rules:\n  - path_regex: '['\n    age: {A1}\n")
    with pytest.raises(ConfigError, match="path_regex must be a string, not a int"):
        rule_from(tmp_path, f"creation_rules:\n  - path_regex: 5\n    age: {A1}\n")


def test_filename_regex_alone_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="filename_regex was removed") as exc:
        rule_from(tmp_path, f"creation_rules:\n  - filename_regex: x\n    age: {A1}\n")
    assert exc.value.hint == "rename filename_regex to path_regex"
    # Next to a path_regex it is just an unknown key.
    rule = rule_from(tmp_path, f"creation_rules:\n  - filename_regex: x\n    path_regex: f\n    age: {A1}\n")
    assert rule.path_regex == "f"


def test_non_mapping_rule(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="creation rule 1: a creation rule must be a mapping"):
        rule_from(tmp_path, "creation_rules:\n  - just a string\n")


# --- recipients ------------------------------------------------------------------------------------


def test_flat_comma_string(tmp_path: Path) -> None:
    rule = rule_from(tmp_path, f"creation_rules:\n  - age: ' , {A1} ,{A2},, '\n    pgp: '{FP1}, {FP2}'\n")
    assert [ids(g) for g in rule.key_groups] == [[("age", A1), ("age", A2), ("pgp", FP1), ("pgp", FP2)]]
    assert rule.shamir_threshold == 0 and rule.selection is None and rule.mac_only_encrypted is False


def test_flat_list_of_strings(tmp_path: Path) -> None:
    # Items may themselves be comma lists (as in sops); duplicates are dropped (sops keeps them).
    rule = rule_from(tmp_path, f"creation_rules:\n  - age: ['{A1}, {A2}', ' {A2} ', '']\n    pgp: [{FP1}]\n")
    assert [ids(g) for g in rule.key_groups] == [[("age", A1), ("age", A2), ("pgp", FP1)]]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("5", "age must be a string or a list of strings, not a int"),
        ("{a: b}", "age must be a string or a list of strings, not a mapping"),
        ("[1]", "age must be a string or a list of strings; found a int item"),
        ("not-a-recipient", "creation rule 1: age: malformed recipient 'not-a-recipient'"),
    ],
)
def test_bad_flat_values(tmp_path: Path, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        rule_from(tmp_path, f"creation_rules:\n  - age: {value}\n")


def test_rule_without_keys(tmp_path: Path) -> None:
    text = "creation_rules:\n  - path_regex: x\n    encrypted_regex: ^data$\n"
    with pytest.raises(ConfigError, match="creation rule 1: the rule has no keys"):
        rule_from(tmp_path, text, "x.yaml")
    # With recipients from the command line the rule still gives its other settings.
    rule = rule_from(tmp_path, text, "x.yaml", with_keys=False)
    assert rule == CreationRule(key_groups=(), selection=("encrypted_regex", "^data$"), path_regex="x")


def test_key_groups_merge_and_dedupe(tmp_path: Path) -> None:
    text = f"""\
common: &common
  age: [{A3}]
creation_rules:
  - age: {A1}   # ignored: key_groups wins
    key_groups:
      - age: [{A1}, '{A2}, {A1}']
        pgp: [{FP1}, {FP1}]
        merge:
          - *common
          - merge:
              - age: [{A2}]
      - pgp: [{FP2}]
        unknown_key: [1]
    shamir_threshold: 2
"""
    rule = rule_from(tmp_path, text)
    # merge entries come first (recursively, in order), then the group's own keys by type.
    assert [ids(g) for g in rule.key_groups] == [
        [("age", A3), ("age", A2), ("age", A1), ("pgp", FP1)],
        [("pgp", FP2)],
    ]
    assert rule.shamir_threshold == 2


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ("[]", "creation rule 1: key_groups is empty"),
        ("[{}]", "creation rule 1: key group 1 has no keys"),
        (f"[{{age: [{A1}]}}, {{age: []}}]", "creation rule 1: key group 2 has no keys"),
        ("[{merge: []}]", "key group 1 has no keys"),
        ("{age: [x]}", "key_groups must be a list of key groups, not a mapping"),
        ("[x]", "key group 1 must be a mapping of key types to lists, not a string"),
        (f"[{{age: {A1}}}]", "key group 1: age must be a list, not a string"),
        ("[{merge: {}}]", "key group 1: merge must be a list of key groups, not a mapping"),
        ("[{age: [bogus]}]", "key group 1: age: malformed recipient 'bogus'"),
        ("[{age: [{a: 1}]}]", "key group 1: age: a key group's age entries must be recipient strings"),
    ],
)
def test_bad_key_groups(tmp_path: Path, groups: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        rule_from(tmp_path, f"creation_rules:\n  - key_groups: {groups}\n")


def test_cloud_recipient_entries_are_checked_by_their_types(tmp_path: Path) -> None:
    """Every sops recipient type is registered now: its rule keys are read and checked by the
    type's module, and errors name the file, rule and group."""
    with pytest.raises(ConfigError, match=r"creation rule 1: kms: no valid ARN found in 'arn:aws:kms:x'"):
        rule_from(tmp_path, f"creation_rules:\n  - age: {A1}\n    kms: arn:aws:kms:x\n")
    with pytest.raises(ConfigError, match=r"rule 1: key group 1: azure_kv: an azure_keyvault entry needs a vaultUrl"):
        rule_from(tmp_path, f"creation_rules:\n  - key_groups:\n    - age: [{A1}]\n      azure_keyvault: [{{}}]\n")
    with pytest.raises(ConfigError, match=r"rule 1: key group 1 \(merged\): hc_vault: missing scheme or host"):
        rule_from(
            tmp_path,
            f"creation_rules:\n  - key_groups:\n    - age: [{A1}]\n      merge: [{{hc_vault: [u]}}]\n",
        )
    # Empty values are harmless, as is aws_profile on its own.
    rule = rule_from(
        tmp_path,
        f"creation_rules:\n  - age: {A1}\n    kms: []\n    gcp_kms: ''\n    hc_vault_transit_uri:\n"
        "    aws_profile: prod\n",
    )
    assert [ids(g) for g in rule.key_groups] == [[("age", A1)]]
    # Recipients from the command line replace the rule's keys, valid or not.
    assert rule_from(tmp_path, "creation_rules:\n  - kms: arn:x\n", with_keys=False).key_groups == ()


# --- settings --------------------------------------------------------------------------------------


def test_shamir_threshold(tmp_path: Path) -> None:
    base = f"creation_rules:\n  - age: {A1}\n    shamir_threshold: "
    assert rule_from(tmp_path, base + "3\n").shamir_threshold == 3
    assert rule_from(tmp_path, base + "\n").shamir_threshold == 0
    for bad in ("'2'", "1.5", "true", "-1"):
        with pytest.raises(ConfigError, match="shamir_threshold must be a non-negative integer"):
            rule_from(tmp_path, base + bad + "\n")


@pytest.mark.parametrize(
    "setting",
    [
        "unencrypted_suffix",
        "encrypted_suffix",
        "unencrypted_regex",
        "encrypted_regex",
        "unencrypted_comment_regex",
        "encrypted_comment_regex",
    ],
)
def test_selection(tmp_path: Path, setting: str) -> None:
    rule = rule_from(tmp_path, f"creation_rules:\n  - age: {A1}\n    {setting}: ^x\n")
    assert rule.selection == (setting, "^x")


def test_selection_conflict(tmp_path: Path) -> None:
    text = f"creation_rules:\n  - age: {A1}\n    encrypted_suffix: _x\n    unencrypted_regex: ^y\n"
    with pytest.raises(ConfigError) as exc:
        rule_from(tmp_path, text)
    assert exc.value.message == (
        f"{tmp_path / '.sops.yaml'}: creation rule 1: cannot use more than one of unencrypted_suffix, "
        "encrypted_suffix, unencrypted_regex, encrypted_regex, unencrypted_comment_regex, "
        "encrypted_comment_regex in the same rule (found encrypted_suffix and unencrypted_regex)"
    )
    # An empty value counts as unset, as in sops (Go's zero value).
    ok = f"creation_rules:\n  - age: {A1}\n    encrypted_suffix: ''\n    unencrypted_regex: ^y\n"
    assert rule_from(tmp_path, ok).selection == ("unencrypted_regex", "^y")


def test_bad_selection_values(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="encrypted_regex '\\(' is not a valid regular expression"):
        rule_from(tmp_path, f"creation_rules:\n  - age: {A1}\n    encrypted_regex: '('\n")
    with pytest.raises(ConfigError, match="unencrypted_suffix must be a string, not a list"):
        rule_from(tmp_path, f"creation_rules:\n  - age: {A1}\n    unencrypted_suffix: [a]\n")


@pytest.mark.parametrize(
    ("value", "expected"), [("true", True), ("false", False), ("yes", True), ("'Off'", False), ("", False)]
)
def test_mac_only_encrypted(tmp_path: Path, value: str, expected: bool) -> None:
    rule = rule_from(tmp_path, f"creation_rules:\n  - age: {A1}\n    mac_only_encrypted: {value}\n")
    assert rule.mac_only_encrypted is expected


def test_mac_only_encrypted_invalid(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="mac_only_encrypted must be true or false, not 2"):
        rule_from(tmp_path, f"creation_rules:\n  - age: {A1}\n    mac_only_encrypted: 2\n")


# --- command-line recipients -----------------------------------------------------------------------


def test_recipients_from_flags_and_env() -> None:
    env = {"SOPS_AGE_RECIPIENTS": f"{A1},{A2}", "SOPS_PGP_FP": FP1}
    assert [(r.type, r.id) for r in recipients_from_flags({}, env)] == [
        ("age", A1),
        ("age", A2),
        ("pgp", FP1),
    ]
    # A flag replaces its type's environment variable only.
    got = recipients_from_flags({"age": f" {A3}, ,{A3}"}, env)
    assert [(r.type, r.id) for r in got] == [("age", A3), ("pgp", FP1)]
    assert recipients_from_flags({"age": None, "pgp": ""}, {"SOPS_AGE_RECIPIENTS": A1}) == recipients_from_flags(
        {}, {"SOPS_AGE_RECIPIENTS": A1}
    )
    assert recipients_from_flags({}, {}) == []
    with pytest.raises(ConfigError, match="age: malformed recipient"):
        recipients_from_flags({"age": "nope"}, {})


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from([A1, A2, A3]), min_size=1, max_size=5),
    st.lists(st.sampled_from([" ", "\t", "", ", ", " ,"]), min_size=12, max_size=12),
)
def test_flag_lists_tolerate_spaces_and_empty_items(chosen: list[str], pads: list[str]) -> None:
    text = ",".join(pads[i % 12] + r + pads[(i + 5) % 12] for i, r in enumerate(chosen))
    got = [r.id for r in recipients_from_flags({"age": text}, {})]
    assert got == list(dict.fromkeys(chosen))


# --- the sops functional-test config ---------------------------------------------------------------


def test_sops_functional_config() -> None:
    cfg = load_config(FIXTURE)
    cwd = str(FIXTURE.parent)
    two = cfg.rule_for("test_roundtrip_keygroups.yaml", cwd=cwd)
    assert [ids(g) for g in two.key_groups] == [[("pgp", FP1)], [("pgp", FP2)]]
    missing = cfg.rule_for("test_roundtrip_keygroups_missing_decryption_key.yaml", cwd=cwd)
    assert (missing.position, [ids(g) for g in missing.key_groups]) == (
        1,
        [[("pgp", FP1)], [("pgp", "B611A2F9F11D0FF82568805119F9B5DAEA91FF86")]],
    )
    catch_all = cfg.rule_for(str(FIXTURE.parent / "sub" / "anything.json"), cwd="/")
    assert (catch_all.position, [ids(g) for g in catch_all.key_groups]) == (5, [[("pgp", FP1)]])
    for name, message in [
        ("test_no_keygroups.yaml", "creation rule 3: the rule has no keys"),
        ("test_zero_keygroups.yaml", "creation rule 4: key_groups is empty"),
        ("test_empty_keygroup.yaml", "creation rule 5: key group 1 has no keys"),
    ]:
        with pytest.raises(ConfigError, match=message):
            cfg.rule_for(name, cwd=cwd)
        # sops accepts these rules when recipients come from the command line; so do we.
        assert cfg.rule_for(name, cwd=cwd, with_keys=False).key_groups == ()
    assert cfg.destination_rules[0]["s3_bucket"] == "sops-publish-functional-tests"


# --- interop: the same rule as sops picks ----------------------------------------------------------


def _sops_settings(config: Path, file: Path) -> tuple[list[list[str]], dict[str, Any]]:
    """Encrypt with sops; the age recipients of each key group (or the flat list) and the
    rule settings it wrote into the metadata."""
    from ruamel.yaml import YAML

    env = {**os.environ, "SOPS_DISABLE_VERSION_CHECK": "1"}
    out = subprocess.run(
        [str(SOPS), "--config", str(config), "encrypt", str(file)],
        capture_output=True, check=True, env=env, cwd=str(file.parent),
    ).stdout  # fmt: skip
    meta = YAML(typ="safe").load(out)["sops"]
    if "key_groups" in meta:
        groups = [[k["recipient"] for k in g.get("age") or []] for g in meta["key_groups"]]
    else:
        groups = [[k["recipient"] for k in meta["age"]]]
    names = ("shamir_threshold", "mac_only_encrypted", *SELECTION_KEYS)
    return groups, {k: v for k, v in meta.items() if k in names}


def _our_settings(rule: CreationRule) -> tuple[list[list[str]], dict[str, Any]]:
    groups = [[r.id for r in g] for g in rule.key_groups]
    settings: dict[str, Any] = dict([rule.selection]) if rule.selection else {"unencrypted_suffix": "_unencrypted"}
    if rule.shamir_threshold:
        settings["shamir_threshold"] = rule.shamir_threshold
    if rule.mac_only_encrypted:
        settings["mac_only_encrypted"] = True
    return groups, settings


@pytest.mark.skipif(not SOPS.exists(), reason="sops binary not installed")
def test_rule_choice_groups_and_settings_match_sops(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    config = write(
        repo / ".sops.yaml",
        f"""\
creation_rules:
  - path_regex: ^prod/
    key_groups:
      - age: [{A1}]
        merge:
          - age: [{A2}]
      - age: ['{A3}, {A2}']
    shamir_threshold: 2
    encrypted_regex: ^k$
  - path_regex: dev.*\\.yaml$
    age: [' {A2} ', '{A3}']
    mac_only_encrypted: yes
    unencrypted_comment_regex: keep
  - age: ' , {A1} ,'
""",
    )
    for name in ("prod/a.yaml", "prod/dev.yaml", "x/dev1.yaml", "top.yaml"):
        file = write(repo / name, "k: v\n")
        ours = load_config(config).rule_for(name, cwd=str(repo))
        assert _sops_settings(config, file) == _our_settings(ours), name
