"""What the YAML store imports: libyaml's binding only when needed, never ruamel.yaml's package.

Each check runs in a fresh interpreter, since what matters is what a process imports.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import new_age_key
from tests.helpers import age_encrypt_file


def run_python(code: str, cwd: Path | None = None) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60, cwd=cwd
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_plain_block_yaml_needs_no_binding() -> None:
    out = run_python(
        """
        import sys
        from pysops.formats import yaml
        doc = yaml.parse(b"a: 1\\nb:\\n  - x\\n  - 'y'\\nc: |\\n  text\\n")
        print(sorted(m for m in sys.modules if "ruamel" in m))
        """
    )
    assert out.strip() == "[]"


def test_binding_loads_without_the_ruamel_yaml_package() -> None:
    out = run_python(
        """
        import sys
        from pysops.errors import ParseError
        from pysops.formats import libyaml, yaml
        doc = yaml.parse(b"a: [1, {b: c}]\\nd: &x 1\\ne: *x\\n")  # outside yamlscan's subset
        assert "_ruamel_yaml" in sys.modules
        assert "ruamel.yaml.main" not in sys.modules and "ruamel.yaml.cyaml" not in sys.modules
        assert libyaml.is_bare(sys.modules["ruamel.yaml"])
        try:
            yaml.parse(b"a: [")
        except ParseError as exc:
            print("error:", exc.message.split(":")[0])
        # Code that imports ruamel.yaml later gets the whole package, with the same submodules.
        import ruamel.yaml
        from ruamel.yaml import YAML
        import ruamel.yaml.error
        assert not libyaml.is_bare(sys.modules["ruamel.yaml"])
        assert ruamel.yaml.error is sys.modules["ruamel.yaml.error"]
        from pysops.formats import yamlcore
        assert yamlcore.event_source("a: [")[2] is ruamel.yaml.error.YAMLError
        print(YAML(typ="safe").load("a: [1, 2]"), YAML().load("b: 1  # c")["b"], ruamel.yaml.__version__ > "0")
        """
    )
    assert out.splitlines() == ["error: Error unmarshaling input YAML", "{'a': [1, 2]} 1 True"]


def test_ruamel_yaml_imported_first_is_used_as_it_is() -> None:
    out = run_python(
        """
        import sys
        import ruamel.yaml
        from pysops.formats import libyaml, yaml
        package = sys.modules["ruamel.yaml"]
        doc = yaml.parse(b"a: [1]\\n")
        assert sys.modules["ruamel.yaml"] is package and not libyaml.is_bare(package)
        print(doc.branches[0].items[0].key)
        """
    )
    assert out.strip() == "a"


def test_failed_binding_import_leaves_nothing_behind() -> None:
    out = run_python(
        """
        import sys
        sys.modules["_ruamel_yaml"] = None  # makes "import _ruamel_yaml" fail
        from pysops.formats import libyaml
        try:
            libyaml.load()
        except ImportError:
            print("ImportError")
        print(sorted(m for m in sys.modules if m.startswith("ruamel.yaml")))
        del sys.modules["_ruamel_yaml"]
        import ruamel.yaml
        print(ruamel.yaml.YAML(typ="safe").load("a: 1"))
        """
    )
    assert out.splitlines() == ["ImportError", "[]", "{'a': 1}"]


def test_small_decrypt_with_a_config_file_stays_light(tmp_path: Path) -> None:
    """A small decrypt next to a .sops.yaml reads both without libyaml, ruamel.yaml, pathlib,
    dataclasses or calendar (each costs a few ms of start-up)."""
    key = new_age_key()
    (tmp_path / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: .*\n    key_groups:\n      - age:\n          - {key.recipient}\n"
        "stores:\n  json:\n    indent: 2\n"
    )
    files = {
        "s.yaml": b"# c\na: 1\nb:\n  - x # y\nc: |\n  text\n",
        "s.json": b'{"a": 1, "b": ["x"]}\n',
        "s.env": b"A=1\n#c\nB=two\n",
    }
    for name, plain in files.items():
        age_encrypt_file(tmp_path / name, plain, key)
    env = {"SOPS_AGE_KEY": key.identity, "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    for name in files:
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "from pysops.cli import console_main; console_main()",
             "decrypt", name],
            capture_output=True, env=env, cwd=tmp_path, timeout=60, text=True,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
        assert "pysops.cli" in imported, proc.stderr  # the import report is there to be checked
        heavy = sorted(
            name for name in imported
            if name.startswith(("ruamel", "_ruamel_yaml")) or name in ("pathlib", "dataclasses", "calendar")
        )  # fmt: skip
        assert heavy == [], name
