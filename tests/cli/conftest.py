"""Fixtures the CLI tests share: an age-keyed environment and the flat YAML file that the
``exec-env``/``exec-file`` tests run with."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import AgeKey
from tests.helpers import age_encrypt_file, age_env

FLAT = b"# comment\nuser: alice\npassword: hunter2\nport: 5432\nratio: 2.0\ndebug: true\n"


@pytest.fixture
def env(clean_env: dict[str, str], age_key: AgeKey) -> dict[str, str]:
    """``clean_env`` with SOPS_AGE_KEY set to ``age_key``'s identity."""
    return age_env(clean_env, age_key)


@pytest.fixture
def flat(tmp_path: Path, age_key: AgeKey) -> Path:
    """``FLAT`` encrypted for ``age_key`` as ``flat.yaml``."""
    path = tmp_path / "flat.yaml"
    age_encrypt_file(path, FLAT, age_key)
    return path
