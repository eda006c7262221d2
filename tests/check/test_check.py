"""``pysops check``: rule/policy classification, structure and policy checks of sops files, the
plaintext-secret detectors, text and JSON output, exit codes and ``--decrypt``."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import AgeKey

from pysops import api
from pysops.check import CODES, glob_regex, scan_plaintext, shannon_entropy
from pysops.keys import key_type

SECRET = "Zx8Qp2Lm9Rt4Vw7Ks3Nb"  # a high-entropy value that must never be printed


def encrypt(data: bytes, fmt: str, *recipients: str, groups: list[list[str]] | None = None, **kw: Any) -> bytes:
    age = key_type("age")
    key_groups = (
        [[age.parse_recipient(r) for r in g] for g in groups]
        if groups
        else [[age.parse_recipient(r) for r in recipients]]
    )
    return api.encrypt_bytes(data, api.EncryptOptions(key_groups, **kw), input_format=fmt)


def config(root: Path, recipient: str, policy: str = "") -> None:
    text = f"creation_rules:\n  - path_regex: secrets/.*\n    age: {recipient}\n"
    if policy:
        text += "policy:\n" + "".join(f"  {line}\n" for line in policy.strip().splitlines())
    (root / ".sops.yaml").write_text(text)


@pytest.fixture
def repo(clean_env: dict[str, str], age_key: AgeKey) -> Path:
    root = Path.cwd()
    (root / "secrets").mkdir()
    config(root, age_key.recipient)
    return root


def test_clean_tree_exit_0(repo: Path, pysops: Any, age_key: AgeKey) -> None:
    (repo / "secrets" / "a.yaml").write_bytes(encrypt(f"db_password: {SECRET}\n".encode(), "yaml", age_key.recipient))
    (repo / "README.md").write_text("password: see the vault\n")
    result = pysops(["check", "secrets", "README.md", ".sops.yaml"])
    assert (result.code, result.stdout, result.stderr) == (0, b"", "")


def test_plaintext_file_under_rule(repo: Path, pysops: Any) -> None:
    (repo / "secrets" / "plain.yaml").write_text(f"db_password: {SECRET}\n")
    (repo / "secrets" / "bad.json").write_text("{not json")
    result = pysops(["check", "secrets/plain.yaml", "secrets/bad.json"])
    assert result.code == 1
    lines = result.stdout.decode().splitlines()
    assert lines[0] == "secrets/plain.yaml:1: PS001 not encrypted, but creation rule 1 says it must be"
    assert lines[1].startswith("secrets/bad.json:1: PS002 cannot parse as json (creation rule 1): ")
    assert len(lines) == 2
    assert result.stderr == "pysops: check found 2 problem(s) in 2 file(s)\n"
    assert SECRET not in result.stdout.decode() + result.stderr


def test_must_encrypt_globs(repo: Path, pysops: Any, age_key: AgeKey) -> None:
    config(repo, age_key.recipient, "must_encrypt: ['*.key.json', 'deploy/**']")
    (repo / "deploy" / "sub").mkdir(parents=True)
    (repo / "deploy" / "sub" / "x.env").write_text("A=1\n")
    (repo / "nested").mkdir()
    (repo / "nested" / "a.key.json").write_text('{"a": 1}')
    (repo / "a.json").write_text('{"a": 1}')
    result = pysops(["check", "deploy", "nested", "a.json"])
    assert result.stdout.decode().splitlines() == [
        "deploy/sub/x.env:1: PS001 not encrypted, but must_encrypt 'deploy/**' says it must be",
        "nested/a.key.json:1: PS001 not encrypted, but must_encrypt '*.key.json' says it must be",
    ]
    assert result.code == 1


def test_glob_regex() -> None:
    assert glob_regex("*.enc.yaml").match("a/b/c.enc.yaml")
    assert not glob_regex("*.enc.yaml").match("a/b/c.enc.yml")
    assert glob_regex("secrets/**").match("secrets/x/y.json")
    assert not glob_regex("secrets/**").match("other/secrets.json")
    assert glob_regex("secrets/").match("secrets/a")
    assert glob_regex("a/**/b.txt").match("a/b.txt")
    assert glob_regex("a/**/b.txt").match("a/x/y/b.txt")
    assert not glob_regex("a/*.txt").match("a/x/b.txt")
    assert glob_regex("k[0-9].env").match("k1.env")
    assert not glob_regex("k[!0-9].env").match("k1.env")


def test_plaintext_values_and_malformed_enc(repo: Path, pysops: Any, age_key: AgeKey) -> None:
    enc = encrypt(b"a: 1\nb: two\nc_unencrypted: 3\n", "yaml", age_key.recipient).decode()
    lines = enc.splitlines()
    assert lines[1].startswith("b: ENC[")
    lines[1] = f"b: {SECRET}"  # a value put back in plaintext
    lines[0] = lines[0].replace("data:", "data:!!")  # broken base64
    (repo / "secrets" / "x.yaml").write_text("\n".join(lines) + "\n# a new plaintext comment\n")
    result = pysops(["check", "secrets/x.yaml"])
    assert result.stdout.decode().splitlines() == [
        "secrets/x.yaml:1: PS005 malformed ENC[...] value at ['a']",
        "secrets/x.yaml:2: PS004 plaintext value at ['b']",
        f"secrets/x.yaml:{len(lines) + 1}: PS004 plaintext value at a comment under (top)",
    ]
    assert SECRET not in result.stdout.decode()


@pytest.mark.parametrize(
    ("fmt", "plain", "line"),
    [
        ("json", b'{\n  "a": "x",\n  "b": "y"\n}\n', 3),
        ("dotenv", b"A=x\nB=y\n", 2),
        ("ini", b"[s]\na = x\nb = y\n", 3),
    ],
)
def test_plaintext_value_other_formats(
    repo: Path, pysops: Any, age_key: AgeKey, fmt: str, plain: bytes, line: int
) -> None:
    enc = encrypt(plain, fmt, age_key.recipient).decode().splitlines()
    index = line - 1
    head, _, _ = enc[index].partition("ENC[")
    enc[index] = head + ("y" + ('",' if fmt == "json" and enc[index].endswith(",") else '"' if fmt == "json" else ""))
    ext = {"dotenv": "env"}.get(fmt, fmt)
    (repo / "secrets" / f"f.{ext}").write_text("\n".join(enc) + "\n")
    result = pysops(["check", f"secrets/f.{ext}"])
    out = result.stdout.decode().splitlines()
    assert len(out) == 1
    assert out[0].startswith(f"secrets/f.{ext}:{line}: PS004 plaintext value at ")
    assert result.code == 1


def test_incomplete_metadata(repo: Path, pysops: Any, age_key: AgeKey) -> None:
    enc = encrypt(b"a: 1\n", "yaml", age_key.recipient).decode()
    stripped = "\n".join(line for line in enc.splitlines() if not line.lstrip().startswith(("mac:", "version:")))
    (repo / "secrets" / "m.yaml").write_text(stripped + "\n")
    result = pysops(["check", "--format", "json", "secrets/m.yaml"])
    assert json.loads(result.stdout) == [
        {"path": "secrets/m.yaml", "line": 1, "code": "PS003", "message": "incomplete sops metadata: no version, mac"}
    ]
    assert result.code == 1


def test_policy_recipients(repo: Path, pysops: Any, age_keys: list[AgeKey]) -> None:
    ok, required, intruder = (k.recipient for k in age_keys)
    config(
        repo,
        ok,
        f"required_recipients: ['age:{required}']\n"
        f"allowed_recipients: ['age:{ok}', 'age:{required}']\n"
        "min_key_groups: 2",
    )
    enc = encrypt(b"a: 1\n", "yaml", ok, intruder).decode()
    (repo / "secrets" / "p.yaml").write_text(enc)
    result = pysops(["check", "secrets/p.yaml"])
    intruder_line = next(i for i, line in enumerate(enc.splitlines(), 1) if intruder in line)
    assert result.stdout.decode().splitlines() == [
        f"secrets/p.yaml:1: PS010 required recipient age:{required} is missing",
        f"secrets/p.yaml:{intruder_line}: PS011 recipient age:{intruder} is not allowed by the policy",
        "secrets/p.yaml:1: PS012 1 key group(s), the policy requires 2",
    ]
    good = encrypt(b"a: 1\n", "yaml", groups=[[ok], [required]])
    (repo / "secrets" / "p.yaml").write_bytes(good)
    assert pysops(["check", "secrets/p.yaml"]).code == 0


def test_injected_recipient_outside_rules(repo: Path, pysops: Any, age_keys: list[AgeKey]) -> None:
    """A sops file outside every rule still gets the policy checks."""
    config(repo, age_keys[0].recipient, f"allowed_recipients: ['age:{age_keys[0].recipient}']")
    (repo / "other.yaml").write_bytes(encrypt(b"a: 1\n", "yaml", age_keys[0].recipient, age_keys[2].recipient))
    result = pysops(["check", "other.yaml"])
    assert b"PS011 recipient age:" + age_keys[2].recipient.encode() in result.stdout
    assert result.code == 1


def test_forbid_unencrypted_suffix(repo: Path, pysops: Any, age_key: AgeKey) -> None:
    config(repo, age_key.recipient, "forbid_unencrypted_suffix: true")
    (repo / "secrets" / "u.yaml").write_bytes(encrypt(b"a: 1\nhost_unencrypted: db\n", "yaml", age_key.recipient))
    result = pysops(["check", "secrets/u.yaml"])
    assert result.stdout.decode() == (
        "secrets/u.yaml:2: PS014 ['host_unencrypted'] is kept in plaintext by the suffix '_unencrypted'\n"
    )


def test_rule_selection_is_enforced(repo: Path, pysops: Any, age_key: AgeKey) -> None:
    """The rule says every value is encrypted; a file that exempted one by a regex is refused."""
    enc = encrypt(b"a: 1\nb: 2\n", "yaml", age_key.recipient, selection=("unencrypted_regex", "^b$"))
    (repo / "secrets" / "r.yaml").write_bytes(enc)
    (repo / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: secrets/.*\n    age: {age_key.recipient}\n    encrypted_regex: '.*'\n"
    )
    assert pysops(["check", "secrets/r.yaml"]).stdout == b"secrets/r.yaml:2: PS004 plaintext value at ['b']\n"


def test_decrypt_verifies_mac(repo: Path, pysops: Any, age_keys: list[AgeKey], clean_env: dict[str, str]) -> None:
    one = encrypt(b"a: 1\nb: 2\n", "yaml", age_keys[0].recipient).decode().splitlines()
    (repo / "secrets" / "d.yaml").write_text("\n".join(one) + "\n")
    env = {**clean_env, "SOPS_AGE_KEY": age_keys[0].identity}
    assert pysops(["check", "--decrypt", "secrets/d.yaml"], env=env).code == 0
    one[0], one[1] = "b" + one[1][1:], "a" + one[0][1:]  # swap two ciphertexts: structure fine, MAC/AAD not
    (repo / "secrets" / "d.yaml").write_text("\n".join(one) + "\n")
    assert pysops(["check", "secrets/d.yaml"], env=env).code == 0  # no key needed, no MAC check
    result = pysops(["check", "--decrypt", "secrets/d.yaml"], env=env)
    assert result.code == 1
    assert result.stdout.startswith(b"secrets/d.yaml:1: PS006 cannot decrypt: ")
    wrong = {**clean_env, "SOPS_AGE_KEY": age_keys[1].identity}
    (repo / "secrets" / "d.yaml").write_bytes(encrypt(b"a: 1\n", "yaml", age_keys[0].recipient))
    assert pysops(["check", "--decrypt", "secrets/d.yaml"], env=wrong).stdout.startswith(
        b"secrets/d.yaml:1: PS006 cannot decrypt: "
    )


def test_detectors() -> None:
    text = (
        f"api_key: {SECRET}\n"
        "aws = AKIAABCDEFGHIJKLMNOP\n"
        "password: hunter2\n"
        f"token: {SECRET} # pysops: allow\n"
        "-----BEGIN RSA PRIVATE KEY-----\n"
        "key: " + "AGE-SECRET-KEY-1" + "Q" * 58 + "\n"
        '{"DB_SECRET": "${FROM_ENV_VARIABLE_XYZ}"}\n'
        f'"githubToken": "{SECRET}",\n'
        "monkey: Zx8Qp2Lm9Rt4Vw7Ks3Nb\n"
    )
    assert [(p.line, p.code, p.message) for p in scan_plaintext("f", text.encode())] == [
        (1, "PS103", "plaintext secret: high-entropy value of 'api_key'"),
        (2, "PS102", "plaintext secret: AWS access key id"),
        (5, "PS101", "plaintext secret: PEM private key block"),
        (6, "PS104", "plaintext secret: age secret key"),
        (8, "PS103", "plaintext secret: high-entropy value of 'githubToken'"),
    ]
    assert scan_plaintext("bin", b"\0" + text.encode()) == []
    assert shannon_entropy("aaaa") == 0.0
    assert shannon_entropy("abcd") == 2.0


def test_codes_documented() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "check.md").read_text()
    for code in CODES:
        assert f"`{code}`" in doc


def test_default_is_git_tracked_files(repo: Path, pysops: Any, clean_env: dict[str, str]) -> None:
    (repo / "secrets" / "tracked.yaml").write_text("a: 1\n")
    (repo / "secrets" / "untracked.yaml").write_text("a: 1\n")
    git = {**clean_env, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null"}
    subprocess.run(["git", "init", "-q", "."], cwd=repo, env=git, check=True)
    subprocess.run(["git", "add", "secrets/tracked.yaml", ".sops.yaml"], cwd=repo, env=git, check=True)
    result = pysops(["check"])
    assert result.stdout == b"secrets/tracked.yaml:1: PS001 not encrypted, but creation rule 1 says it must be\n"
    result = pysops(["check", "--format", "xml"])
    assert (result.code, result.stderr) == (
        1,
        "pysops: error: unknown --format 'xml'\npysops: hint: use text or json\n",
    )


def test_not_a_repository(clean_env: dict[str, str], pysops: Any) -> None:
    result = pysops(["check"], env={**clean_env, "GIT_CEILING_DIRECTORIES": str(Path.cwd().parent)})
    assert result.code == 1
    assert result.stderr.startswith("pysops: error: not inside a git repository\n")


def test_hsm_only(repo: Path, pysops: Any, age_key: AgeKey) -> None:
    """A file whose only recipient is a PKCS#11 key (metadata written by hand: no HSM needed)."""
    enc = encrypt(b"a: 1\n", "yaml", age_key.recipient).decode()
    body, _, _ = enc.partition("sops:\n")
    mac = next(line for line in enc.splitlines() if line.lstrip().startswith("mac:"))
    uri = "pkcs11:token=pysops;object=sops-aes;type=secret-key"
    meta = (
        "sops:\n    pkcs11:\n"
        f"        - uri: {uri}\n          mechanism: AES-KEY-WRAP-PAD\n"
        "          created_at: '2026-01-01T00:00:00Z'\n          enc: AAAA\n"
        f"    lastmodified: '2026-01-01T00:00:00Z'\n{mac}\n    version: 3.11.0\n"
    )
    (repo / "secrets" / "h.yaml").write_text(body + meta)
    result = pysops(["check", "secrets/h.yaml"])
    assert result.stdout == b"secrets/h.yaml:1: PS013 every recipient is a PKCS#11 key (allow_hsm_only is off)\n"
    config(repo, age_key.recipient, "allow_hsm_only: true")
    assert pysops(["check", "secrets/h.yaml"]).code == 0
