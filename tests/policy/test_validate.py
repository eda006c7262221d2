"""``pysops config validate [FILE]``: ``FILE:LINE: message`` lines, exit 1 on problems, 0 when valid."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

AGE = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
VALID = f"creation_rules:\n  - path_regex: \\.yaml$\n    age: {AGE}\npolicy:\n  allowed_recipients: ['age:{AGE}']\n"


def test_valid_given_file(clean_env: dict[str, str], pysops: Any) -> None:
    Path("conf.yaml").write_text(VALID)
    r = pysops(["config", "validate", "conf.yaml"], clean_env)
    assert (r.code, r.stdout, r.stderr) == (0, b"", "pysops: conf.yaml is valid\n")


def test_problems_are_line_numbered(clean_env: dict[str, str], pysops: Any) -> None:
    Path(".sops-policy.yaml").write_text(
        "creation_rules:\n"
        "  - path_regex: \\.yaml$\n"
        "    filename_regex: x\n"
        f"    age: {AGE}\n"
        "stores:\n"
        "  yaml:\n"
        "    indnet: 2\n"
        "policy:\n"
        "  must_encrpyt: ['*.yaml']\n"
    )
    r = pysops(["config", "validate"], clean_env)
    assert r.code == 1
    assert r.stdout.decode() == (
        '.sops-policy.yaml:3: creation_rules[0]: unknown key "filename_regex" (did you mean "path_regex"?)\n'
        '.sops-policy.yaml:7: stores.yaml: unknown key "indnet" (did you mean "indent"?)\n'
        '.sops-policy.yaml:9: policy: unknown key "must_encrpyt" (did you mean "must_encrypt"?)\n'
    )
    assert r.stderr == "pysops: .sops-policy.yaml: 3 problems\n"


def test_discovers_the_config_from_a_subdirectory(
    clean_env: dict[str, str], pysops: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = Path(".sops.yaml").resolve()
    config.write_text("creation_rules:\n  - shamir_threshold: x\n    age: " + AGE + "\n")
    sub = Path("a/b")
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    r = pysops(["config", "validate"], clean_env)
    assert r.code == 1
    assert r.stdout.decode() == f"{config}:2: creation_rules[0].shamir_threshold must be an integer, not a string\n"
    r = pysops(["--config", "../../.sops.yaml", "config", "validate"], clean_env)
    assert r.code == 1 and r.stdout.decode().startswith("../../.sops.yaml:2: ")


def test_no_config_and_missing_file(clean_env: dict[str, str], pysops: Any) -> None:
    r = pysops(["config", "validate"], clean_env)
    assert r.code == 1 and r.stdout == b""
    assert r.stderr.startswith("pysops: error: no configuration file found (.sops-policy.yaml or .sops.yaml)\n")
    r = pysops(["config", "validate", "nope.yaml"], clean_env)
    assert r.code == 1
    assert r.stderr.startswith("pysops: error: could not read config file nope.yaml: No such file or directory\n")


def test_invalid_yaml(clean_env: dict[str, str], pysops: Any) -> None:
    Path("c.yaml").write_text("creation_rules:\n  - age: [x\n")
    r = pysops(["config", "validate", "c.yaml"], clean_env)
    assert r.code == 1
    assert r.stdout.decode() == (
        "c.yaml:3: invalid YAML: while parsing a flow sequence did not find expected ',' or ']'\n"
    )
