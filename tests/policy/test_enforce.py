"""The policy on ``rotate`` and ``updatekeys``: recipients outside ``allowed_recipients`` (also
ones already in the file), missing ``required_recipients`` and too few key groups are refused
with exit 1 and nothing written; several files and ``--recursive`` share one key context."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import pytest
from tests.conftest import AgeKey, run_sops
from tests.helpers import age_env

PLAIN = "a: one\nb: two\n"


def _config(rule: list[AgeKey], allowed: list[AgeKey] | None = None, **policy: Any) -> str:
    text = "creation_rules:\n  - path_regex: \\.yaml$\n    age: " + ",".join(k.recipient for k in rule) + "\n"
    lines = []
    if allowed is not None:
        lines.append("  allowed_recipients:\n" + "".join(f"    - age:{k.recipient}\n" for k in allowed))
    for name, value in policy.items():
        if isinstance(value, list):
            lines.append(f"  {name}:\n" + "".join(f"    - {v}\n" for v in value))
        else:
            lines.append(f"  {name}: {value}\n")
    return text + ("policy:\n" + "".join(lines) if lines else "")


def _encrypt(pysops: Any, env: dict[str, str], name: str, *recipients: AgeKey) -> Path:
    path = Path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(PLAIN)
    args = ["encrypt", "-i"]
    if recipients:
        args += ["--age", ",".join(k.recipient for k in recipients)]
    r = pysops([*args, name], env)
    assert r.code == 0, r.stderr
    return path


def _data_key_line(path: Path) -> list[str]:
    return [ln for ln in path.read_text().splitlines() if ln.startswith(("a:", "b:"))]


def test_rotate_refuses_a_recipient_injected_into_the_file(
    clean_env: dict[str, str], age_keys: list[AgeKey], pysops: Any
) -> None:
    k0, _, k2 = age_keys
    Path(".sops-policy.yaml").write_text(_config([k0], allowed=[k0]))
    f = _encrypt(pysops, clean_env, "s.yaml", k0, k2)  # k2 slipped into the metadata
    before = f.read_bytes()
    r = pysops(["rotate", "-i", "s.yaml"], age_env(clean_env, k0))
    assert r.code == 1 and r.stdout == b""
    assert r.stderr == (
        f"pysops: recipients of s.yaml against the policy of {Path.cwd() / '.sops-policy.yaml'}:\n"
        "The following changes will be made to the file's groups:\n"
        f"Group 1\n    {k0.recipient}\n    {k2.recipient}  (not allowed by the policy: age:{k2.recipient})\n"
        f"pysops: error: s.yaml: policy violation: recipient age:{k2.recipient} is already in the file "
        "but not in the policy's allowed_recipients\n"
        "pysops: hint: if you trust the file's current recipients, pass --accept-file-recipients\n"
    )
    assert f.read_bytes() == before
    r = pysops(["rotate", "-i", "--accept-file-recipients", "s.yaml"], age_env(clean_env, k0))
    assert r.code == 0, r.stderr
    assert _data_key_line(f) != [ln for ln in before.decode().splitlines() if ln.startswith(("a:", "b:"))]
    assert run_sops(["decrypt", str(f)], age_env(clean_env, k2)).stdout == PLAIN.encode()


def test_rotate_refuses_adding_a_recipient_outside_the_policy(
    clean_env: dict[str, str], age_keys: list[AgeKey], pysops: Any
) -> None:
    k0, k1, _ = age_keys
    Path(".sops-policy.yaml").write_text(_config([k0], allowed=[k0]))
    f = _encrypt(pysops, clean_env, "s.yaml")
    before = f.read_bytes()
    args = ["rotate", "-i", "--add-age", k1.recipient, "--accept-file-recipients", "s.yaml"]
    r = pysops(args, age_env(clean_env, k0))
    assert r.code == 1
    assert r.stderr.endswith(
        f"pysops: error: s.yaml: policy violation: recipient age:{k1.recipient} is not in the policy's "
        "allowed_recipients\npysops: hint: change the recipients, or the policy section of the config file\n"
    )
    assert f"+++ {k1.recipient}  (not allowed by the policy: age:{k1.recipient})\n" in r.stderr
    assert f.read_bytes() == before


def test_rotate_refuses_dropping_a_required_recipient_and_too_few_groups(
    clean_env: dict[str, str], age_keys: list[AgeKey], pysops: Any
) -> None:
    k0, k1, _ = age_keys
    Path(".sops-policy.yaml").write_text(_config([k0, k1], required_recipients=[f"age:{k0.recipient}"]))
    f = _encrypt(pysops, clean_env, "s.yaml")
    before = f.read_bytes()
    r = pysops(["rotate", "-i", "--rm-age", k0.recipient, "s.yaml"], age_env(clean_env, k1))
    assert r.code == 1
    assert f"pysops: error: s.yaml: policy violation: required recipient age:{k0.recipient} would be missing\n" in (
        r.stderr
    )
    assert f.read_bytes() == before
    Path(".sops-policy.yaml").write_text(_config([k0, k1], min_key_groups=2))
    r = pysops(["rotate", "-i", "s.yaml"], age_env(clean_env, k1))
    assert r.code == 1
    assert (
        "pysops: error: s.yaml: policy violation: the policy requires at least 2 key groups; the result has 1\n"
        in r.stderr
    )
    assert f.read_bytes() == before


def test_without_a_policy_rotate_output_is_unchanged(
    clean_env: dict[str, str], age_keys: list[AgeKey], pysops: Any
) -> None:
    k0 = age_keys[0]
    Path(".sops.yaml").write_text(_config([k0]))
    _encrypt(pysops, clean_env, "s.yaml")
    r = pysops(["rotate", "-i", "s.yaml"], age_env(clean_env, k0))
    assert (r.code, r.stdout, r.stderr) == (0, b"", "")


def test_updatekeys_refuses_a_rule_recipient_outside_the_policy(
    clean_env: dict[str, str], age_keys: list[AgeKey], pysops: Any
) -> None:
    k0, k1, _ = age_keys
    Path(".sops-policy.yaml").write_text(_config([k0], allowed=[k0]))
    f = _encrypt(pysops, clean_env, "s.yaml")
    before = f.read_bytes()
    Path(".sops-policy.yaml").write_text(_config([k0, k1], allowed=[k0]))
    r = pysops(["updatekeys", "-y", "s.yaml"], age_env(clean_env, k0))
    assert r.code == 1
    assert r.stderr == (
        "pysops: syncing keys for file s.yaml\n"
        "The following changes will be made to the file's groups:\n"
        f"Group 1\n    {k0.recipient}\n+++ {k1.recipient}  (not allowed by the policy: age:{k1.recipient})\n"
        f"pysops: error: s.yaml: policy violation: recipient age:{k1.recipient} is not in the policy's "
        "allowed_recipients\n"
        "pysops: hint: change the recipients, or the policy section of the config file\n"
    )
    assert f.read_bytes() == before


def test_updatekeys_removing_an_injected_recipient_is_allowed(
    clean_env: dict[str, str], age_keys: list[AgeKey], pysops: Any
) -> None:
    k0, _, k2 = age_keys
    Path(".sops-policy.yaml").write_text(_config([k0], allowed=[k0]))
    f = _encrypt(pysops, clean_env, "s.yaml", k0, k2)
    r = pysops(["updatekeys", "-y", "s.yaml"], age_env(clean_env, k0))
    assert r.code == 0, r.stderr
    assert f"--- {k2.recipient}\n" in r.stderr
    assert run_sops(["decrypt", str(f)], age_env(clean_env, k2)).code != 0
    assert run_sops(["decrypt", str(f)], age_env(clean_env, k0)).stdout == PLAIN.encode()


def test_updatekeys_recursive(clean_env: dict[str, str], age_keys: list[AgeKey], pysops: Any) -> None:
    k0, k1, _ = age_keys
    Path(".sops.yaml").write_text(_config([k0]))
    files = [_encrypt(pysops, clean_env, name) for name in ("d/one.yaml", "d/sub/two.yaml")]
    Path("d/plain.yaml").write_text(PLAIN)
    Path("d/.hidden").mkdir()
    Path("d/.hidden/x.yaml").write_bytes(files[0].read_bytes())
    Path(".sops.yaml").write_text(_config([k0, k1]))
    r = pysops(["updatekeys", "-y", "d"], age_env(clean_env, k0))
    assert r.code == 1 and "can't operate on a directory" in r.stderr  # sops 3.11: exit 1
    r = pysops(["updatekeys", "-y", "--recursive", "d"], age_env(clean_env, k0))
    assert r.code == 0, r.stderr
    assert [ln for ln in r.stderr.splitlines() if ln.endswith("synced with new keys")] == [
        "pysops: file d/one.yaml synced with new keys",
        "pysops: file d/sub/two.yaml synced with new keys",
    ]
    for f in files:
        assert run_sops(["decrypt", str(f)], age_env(clean_env, k1)).stdout == PLAIN.encode()
    assert Path("d/plain.yaml").read_text() == PLAIN
    assert Path("d/.hidden/x.yaml").read_bytes() != files[0].read_bytes()


def test_rotate_several_files_and_recursive(clean_env: dict[str, str], age_keys: list[AgeKey], pysops: Any) -> None:
    k0 = age_keys[0]
    Path(".sops.yaml").write_text(_config([k0]))
    files = [_encrypt(pysops, clean_env, name) for name in ("a.yaml", "b.yaml", "d/c.yaml")]
    r = pysops(["rotate", "a.yaml", "b.yaml"], age_env(clean_env, k0))
    assert r.code == 1
    assert r.stderr.startswith("pysops: error: rotating several files (or a directory) needs -i/--in-place\n")
    before = [_data_key_line(f) for f in files]
    r = pysops(["rotate", "-i", "a.yaml", "b.yaml"], age_env(clean_env, k0))
    assert (r.code, r.stderr) == (0, "")
    assert [_data_key_line(f) != old for f, old in zip(files, before, strict=True)] == [True, True, False]
    r = pysops(["rotate", "-i", "--recursive", "d"], age_env(clean_env, k0))
    assert (r.code, r.stderr) == (0, "")
    assert _data_key_line(files[2]) != before[2]
    for f in files:
        assert run_sops(["decrypt", str(f)], age_env(clean_env, k0)).stdout == PLAIN.encode()


@pytest.mark.parametrize("command", ["rotate", "updatekeys"])
def test_policy_with_an_unknown_setting_is_an_error(
    command: str, clean_env: dict[str, str], age_keys: list[AgeKey], pysops: Any
) -> None:
    k0 = age_keys[0]
    Path(".sops-policy.yaml").write_text(_config([k0]))
    _encrypt(pysops, clean_env, "s.yaml")
    Path(".sops-policy.yaml").write_text(_config([k0]) + "policy:\n  allowed_recipient: []\n")
    args = ["rotate", "-i", "s.yaml"] if command == "rotate" else ["updatekeys", "-y", "s.yaml"]
    Path(".sops-policy.yaml").write_text(_config([k0]) + "policy:\n  allowed_recipient: []\n")
    r = pysops(args, age_env(clean_env, k0))
    assert r.code == 1
    assert "unknown policy setting allowed_recipient" in r.stderr


class _R(NamedTuple):
    type: str
    id: str


def test_violations_unit() -> None:
    from pysops.policyfile import Policy, violations

    a, b, h = _R("age", "age1a"), _R("age", "age1b"), _R("pkcs11", "pkcs11:token=t;object=o")
    policy = Policy(allowed_recipients=("age:age1a", "pkcs11:pkcs11:token=t;object=o"))
    assert violations(policy, [[a]], [[a]]) == []
    assert violations(Policy(), [[a, b]], [[a, b, h]]) == []
    assert violations(policy, [[a, b]], [[a, b]]) == [
        "recipient age:age1b is already in the file but not in the policy's allowed_recipients"
    ]
    assert violations(policy, [[a, b]], [[a, b]], accept_file_recipients=True) == []
    assert violations(policy, [[a]], [[a, b]], accept_file_recipients=True) == [
        "recipient age:age1b is not in the policy's allowed_recipients"
    ]
    assert violations(Policy(required_recipients=("age:age1a",), min_key_groups=2), [[a], [b]], [[b]]) == [
        "required recipient age:age1a would be missing",
        "the policy requires at least 2 key groups; the result has 1",
    ]
    assert violations(policy, [[a]], [[h]]) == []  # allow_hsm_only: checked by pysops.api
