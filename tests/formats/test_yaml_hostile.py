"""Hostile YAML (design invariant 8, issue 10 section 3): alias bombs and deep nesting are refused
at parse time with one error line and exit 2 on every command that reads YAML; depth
``MAX_DEPTH`` itself works everywhere."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import AgeKey, Result
from tests.helpers import age_encrypt

from pysops import api, limits
from pysops.errors import InputTooComplex
from pysops.formats import yaml as Y
from pysops.formats.yamlcore import load_data


def billion_laughs(levels: int = 9) -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    previous = "a"
    for name in "bcdefghijklmnop"[: levels - 1]:
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
        previous = name
    return "\n".join(lines) + "\n"


def flow_nest(depth: int) -> str:
    """A root mapping holding ``depth - 1`` nested flow sequences: ``depth`` levels in all."""
    return "a: " + "[" * (depth - 1) + "1" + "]" * (depth - 1) + "\n"


def block_nest(depth: int) -> str:
    """``depth`` nested block mappings, the root included."""
    return "".join(" " * i + f"k{i}:\n" for i in range(depth - 1)) + " " * (depth - 1) + "v: 1\n"


def with_metadata(body: str, key: AgeKey) -> bytes:
    """``body`` followed by a real metadata block: what an attacker could commit."""
    encrypted = age_encrypt(b"x: 1\n", "yaml", key.recipient).decode()
    return (body + encrypted[encrypted.index("sops:") :]).encode()


def test_billion_laughs_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    """Measured in a child process capped at 500 MB of address space: before the bound, encrypt
    grew past 5 GB."""
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(billion_laughs())
    assert len(bomb.read_bytes()) < 400
    script = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (500 * 2**20, 500 * 2**20))\n"
        "from pysops.formats import yaml\n"
        "from pysops.errors import InputTooComplex\n"
        "try:\n"
        "    yaml.parse(open(sys.argv[1], 'rb').read())\n"
        "except InputTooComplex as exc:\n"
        "    print('refused', exc.exit_code)\n"
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss over execve from the forking process
        # (a large pytest process would be measured instead of this child)
        "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:')))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, str(bomb)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    refused, peak_kb = proc.stdout.split("\n")[:2]
    assert refused == "refused 2"
    assert int(peak_kb) < 200 * 1024


def test_alias_budget_grows_with_the_input() -> None:
    """A big file that really reuses an anchor many times is not an alias bomb."""
    body = "base: &b {" + ", ".join(f"k{i}: v{i}" for i in range(50)) + "}\n"
    body += "".join(f"use{i}: *b\n" for i in range(3000))  # 153,000 nodes through aliases
    doc = Y.parse(body.encode())
    assert len(doc.branches[0].items) == 3001
    with pytest.raises(InputTooComplex, match="excessive aliasing"):
        Y.parse(billion_laughs(6).encode())  # 9**6 nodes from 250 bytes


@pytest.mark.parametrize("command", ["encrypt", "decrypt", "filestatus", "set", "exec-env", "merge"])
def test_alias_bomb_is_refused_by_every_command(
    command: str, pysops, clean_env, age_key: AgeKey, tmp_path: Path
) -> None:
    plain = tmp_path / "bomb.yaml"
    plain.write_text(billion_laughs())
    encrypted = tmp_path / "bomb.enc.yaml"
    encrypted.write_bytes(with_metadata(billion_laughs(), age_key))
    env = {**clean_env, "SOPS_AGE_KEY": age_key.identity}
    result: Result = run_command(pysops, command, plain, encrypted, env, age_key)
    if command == "merge":
        assert_merge_refused(result, encrypted)
        return
    assert result.code == 2, result.stderr
    assert "excessive aliasing" in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.count("error:") == 1


def assert_merge_refused(result: Result, encrypted: Path) -> None:
    """The merge driver takes a side it cannot read for a file that is not a sops file: it merges
    the text as git does (here a conflict, exit 1), within the same bounds."""
    assert result.code == 1, result.stderr
    assert "Traceback" not in result.stderr


def run_command(pysops, command: str, plain: Path, encrypted: Path, env: dict[str, str], key: AgeKey) -> Result:
    if command == "encrypt":
        return pysops(["encrypt", "--age", key.recipient, str(plain)], env=env)
    if command == "merge":
        # three different sides, so that the driver has to read them
        ours, theirs = encrypted.with_name("ours.yaml"), encrypted.with_name("theirs.yaml")
        ours.write_bytes(encrypted.read_bytes() + b"# ours\n")
        theirs.write_bytes(encrypted.read_bytes() + b"# theirs\n")
        return pysops(["git", "merge-driver", str(encrypted), str(ours), str(theirs), "x.yaml"], env=env)
    if command == "set":
        return pysops(["set", str(encrypted), '["n"]', "1"], env=env)
    if command == "exec-env":
        return pysops(["exec-env", str(encrypted), "true"], env=env)
    return pysops([command, str(encrypted)], env=env)


@pytest.mark.parametrize("text", [flow_nest(2000), block_nest(2000), flow_nest(201), block_nest(201)])
@pytest.mark.parametrize("command", ["encrypt", "decrypt", "filestatus", "set", "exec-env", "merge"])
def test_nesting_past_the_limit_is_refused(
    text: str, command: str, pysops, clean_env, age_key: AgeKey, tmp_path: Path
) -> None:
    plain = tmp_path / "deep.yaml"
    plain.write_text(text)
    encrypted = tmp_path / "deep.enc.yaml"
    encrypted.write_bytes(with_metadata(text, age_key))
    env = {**clean_env, "SOPS_AGE_KEY": age_key.identity}
    result = run_command(pysops, command, plain, encrypted, env, age_key)
    if command == "merge":
        assert_merge_refused(result, encrypted)
        return
    assert result.code == 2, result.stderr
    assert f"nests deeper than {limits.MAX_DEPTH} levels" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("text", [flow_nest(limits.MAX_DEPTH), block_nest(limits.MAX_DEPTH)], ids=["flow", "block"])
def test_nesting_at_the_limit_works_everywhere(text: str, pysops, clean_env, age_key: AgeKey, tmp_path: Path) -> None:
    env = {**clean_env, "SOPS_AGE_KEY": age_key.identity}
    path = tmp_path / "deep.yaml"
    path.write_text(text)
    assert pysops(["encrypt", "--age", age_key.recipient, "-i", str(path)], env=env).code == 0
    encrypted = path.read_bytes()
    decrypted = pysops(["decrypt", str(path)], env=env)
    assert decrypted.code == 0, decrypted.stderr
    assert decrypted.stdout.decode() == text
    ran = pysops(["exec-env", "--flatten", str(path), "true"], env=env)
    assert ran.code == 0, ran.stderr
    theirs = tmp_path / "theirs.yaml"
    theirs.write_bytes(encrypted)
    assert pysops(["set", str(theirs), '["added"]', '"x"'], env=env).code == 0
    base, ours = tmp_path / "base.yaml", tmp_path / "ours.yaml"
    base.write_bytes(encrypted)
    ours.write_bytes(encrypted)
    merged = pysops(["git", "merge-driver", str(base), str(ours), str(theirs), "deep.yaml"], env=env)
    assert merged.code == 0, merged.stderr
    out = pysops(["decrypt", str(ours)], env=env)
    assert out.code == 0 and out.stdout.decode() == text + "added: x\n"


def test_alias_expansion_counts_towards_the_depth() -> None:
    """An anchor 150 levels deep used 100 levels deep would build a 250-level tree."""
    anchored = "x: &deep " + "[" * 150 + "1" + "]" * 150 + "\n"
    used = "y: " + "[" * 99 + "*deep" + "]" * 99 + "\n"
    with pytest.raises(InputTooComplex, match="nests deeper"):
        Y.parse((anchored + used).encode())
    Y.parse((anchored + "y: " + "[" * 40 + "*deep" + "]" * 40 + "\n").encode())


def test_configuration_loader_is_bounded_too() -> None:
    with pytest.raises(InputTooComplex, match="excessive aliasing"):
        load_data(billion_laughs())
    with pytest.raises(InputTooComplex, match="nests deeper"):
        load_data(flow_nest(limits.MAX_DEPTH + 1))
    assert load_data(flow_nest(limits.MAX_DEPTH))["a"] is not None
    assert load_data("a: &x {p: 1}\nb: *x\nc: {<<: *x, q: 2}\n") == {
        "a": {"p": 1},
        "b": {"p": 1},
        "c": {"q": 2, "p": 1},
    }


def test_api_encrypt_of_a_bomb_raises_input_too_complex(age_key: AgeKey) -> None:
    from pysops.keys.age import AgeRecipient

    with pytest.raises(InputTooComplex) as caught:
        api.encrypt_bytes(
            billion_laughs().encode(), api.EncryptOptions([[AgeRecipient(age_key.recipient)]]), input_format="yaml"
        )
    assert caught.value.exit_code == 2
