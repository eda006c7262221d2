"""cli/inputs.py helpers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pysops.cli.inputs import absolute, pick_format


def test_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert absolute(None) is None and absolute("") is None
    assert absolute("a.yaml") == os.path.join(os.getcwd(), "a.yaml")
    assert absolute("/abs/b.json") == "/abs/b.json"
    # config discovery and rule matching normalise it as Path.absolute() + abspath did
    assert os.path.abspath(absolute("./x/../c.env") or "") == str(Path("c.env").absolute())


def test_pick_format() -> None:
    assert pick_format("env", "x.yaml") == "dotenv"
    assert pick_format(None, "x.yaml") == "yaml"
    assert pick_format(None, "x.YAML") == "binary"
    assert pick_format(None, None, default="json") == "json"
