"""``pysops git setup [--global] [--check]`` and the .gitattributes patterns it derives."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import AgeKey
from tests.git.conftest import Repo, encrypt

from pysops.gitdriver import glob_for_regex

DRIVER_LINES = (
    "diff.pysops.textconv=pysops git textconv\n"
    "merge.pysops.name=pysops: merge decrypted sops files, re-encrypt with minimal changes\n"
    "merge.pysops.driver=pysops git merge-driver %O %A %B %P\n"
)


def pysops_config(repo: Repo, scope: str = "--local") -> str:
    out = repo.git("config", scope, "--list").stdout
    return "".join(line + "\n" for line in out.splitlines() if "pysops" in line)


def test_setup_is_idempotent(repo: Repo) -> None:
    assert pysops_config(repo) == DRIVER_LINES
    assert (repo.path / ".gitattributes").read_text() == "*.enc.yaml diff=pysops merge=pysops\n" + (
        "*.enc.json diff=pysops merge=pysops\n"
    )
    again = repo.pysops("git", "setup")
    assert again.stdout == ""
    assert again.stderr == (
        "pysops: git drivers already configured (repository)\npysops: .gitattributes already has the pysops lines\n"
    )
    assert pysops_config(repo) == DRIVER_LINES
    check = repo.pysops("git", "setup", "--check")
    assert (check.returncode, check.stdout) == (0, "pysops: git integration is set up\n")


def test_check_reports_what_is_missing(repo: Repo, age_key: AgeKey) -> None:
    repo.git("config", "--local", "--unset", "merge.pysops.driver")
    (repo.path / ".gitattributes").write_text("*.enc.yaml diff=pysops merge=pysops\n")
    encrypt(repo, "s.enc.json", '{"a": 1}')
    repo.commit("init")
    check = repo.pysops("git", "setup", "--check", check=False)
    assert check.returncode == 1
    assert check.stdout == (
        "missing: git config merge.pysops.driver is not set (expected 'pysops git merge-driver %O %A %B %P')\n"
        "missing: .gitattributes lacks: *.enc.json diff=pysops merge=pysops\n"
        "missing: s.enc.json: matches a creation rule but its diff/merge attributes are not pysops\n"
    )
    assert check.stderr == "pysops: git integration is incomplete; run `pysops git setup`\n"
    fixed = repo.pysops("git", "setup")
    assert fixed.stdout == "*.enc.json diff=pysops merge=pysops\n"
    assert fixed.stderr.startswith("pysops: set (repository) merge.pysops.driver = pysops git merge-driver")


def test_cachetextconv_is_turned_off(repo: Repo) -> None:
    repo.git("config", "--local", "diff.pysops.cachetextconv", "true")
    check = repo.pysops("git", "setup", "--check", check=False)
    assert check.returncode == 1
    assert check.stdout == (
        "missing: git config diff.pysops.cachetextconv is true: git would store decrypted text in refs/notes\n"
    )
    out = repo.pysops("git", "setup")
    assert out.stderr.startswith("pysops: set (repository) diff.pysops.cachetextconv = false\n")
    assert repo.git("config", "--type=bool", "--get", "diff.pysops.cachetextconv").stdout == "false\n"
    assert repo.pysops("git", "setup", "--check").returncode == 0


def test_global_setup_outside_a_repository(repo: Repo, tmp_path: Path, git_env: dict[str, str]) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    repo.path, inside = outside, repo.path
    refused = repo.pysops("git", "setup", check=False)
    assert (refused.returncode, refused.stderr) == (
        1,
        "pysops: error: not inside a git repository\n"
        "pysops: hint: run it in the repository, or use --global for your user\n",
    )
    done = repo.pysops("git", "setup", "--global", "--command", "/opt/my tools/pysops")
    assert done.returncode == 0 and done.stdout == ""
    text = Path(git_env["GIT_CONFIG_GLOBAL"]).read_text()
    assert "textconv = '/opt/my tools/pysops' git textconv" in text
    assert "driver = '/opt/my tools/pysops' git merge-driver %O %A %B %P" in text
    assert repo.pysops("git", "setup", "--global").stderr.startswith("pysops: set (global) diff.pysops.textconv")
    assert repo.pysops("git", "setup", "--global", "--check").returncode == 0
    repo.path = inside


def test_attribute_lines_from_a_config_in_a_subdirectory(repo: Repo, age_key: AgeKey) -> None:
    (repo.path / ".sops.yaml").unlink()
    repo.write(
        "deploy/.sops.yaml",
        "creation_rules:\n"
        f"  - path_regex: ^secrets/.*\\.yaml$\n    age: {age_key.recipient}\n"
        f"  - path_regex: (prod|staging)\\.env$\n    age: {age_key.recipient}\n"
        f"  - path_regex: '(?i)weird'\n    age: {age_key.recipient}\n",
    )
    (repo.path / ".gitattributes").unlink()
    repo.path = repo.path / "deploy"  # run it from the directory of the config
    out = repo.pysops("git", "setup")
    repo.path = repo.path.parent
    assert out.stdout == (
        "deploy/secrets/**/*.yaml diff=pysops merge=pysops\n"
        "deploy/**/*prod.env diff=pysops merge=pysops\n"
        "deploy/**/*staging.env diff=pysops merge=pysops\n"
    )
    assert "pysops: note: path_regex '(?i)weird' has no simple glob equivalent: add a line for its files\n" in (
        out.stderr
    )


@pytest.mark.parametrize(
    ("regex", "globs"),
    [
        (r"\.enc\.yaml$", ["*.enc.yaml"]),
        (r".*\.enc\.json", ["*.enc.json"]),
        (r"^secrets/.*", ["secrets/*"]),
        (r"secrets/.*\.yaml$", ["**/secrets/**/*.yaml"]),
        (r"^config/.*/secret\.yaml$", ["config/**/secret.yaml"]),
        (r"^app\.env$", ["/app.env"]),
        (r"\.(yaml|json)$", ["*.yaml", "*.json"]),
        (r"(?:dev|prod)/.*\.ya?ml$", None),
        (r"[a-z]+\.yaml", None),
        (r".*", None),
        (r"", None),
        (r"data[0-9]\.json$", ["*data[0-9].json"]),
        (r"\d\.json$", ["*[0-9].json"]),
    ],
)
def test_glob_for_regex(regex: str, globs: list[str] | None) -> None:
    assert glob_for_regex(regex) == globs
