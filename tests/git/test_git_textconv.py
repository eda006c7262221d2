"""``pysops git textconv``: decrypted diffs in ``git diff`` / ``git log -p``, never a failure."""

from __future__ import annotations

from tests.conftest import AgeKey, new_age_key
from tests.git.conftest import Repo, encrypt
from tests.helpers import age_encrypt

from pysops import gitdriver


def test_git_diff_and_log_show_decrypted_values(repo: Repo, age_key: AgeKey) -> None:
    encrypt(repo, "s.enc.yaml", "a: one\nb: two\n")
    repo.commit("init")
    repo.pysops("set", "s.enc.yaml", '["b"]', '"TWO"')
    diff = repo.git("diff").stdout
    assert diff.endswith(" a: one\n-b: two\n+b: TWO\n")
    assert "ENC[" not in diff and "lastmodified" not in diff
    repo.commit("change b")
    log = repo.git("log", "-p", "--format=%s").stdout
    assert "change b\n" in log and "+b: TWO\n" in log
    assert "init\n" in log and "+a: one\n+b: two\n" in log
    assert "ENC[" not in log
    # cachetextconv stays off: no plaintext is stored in git's notes.
    assert repo.git("for-each-ref", "refs/notes").stdout == ""


def test_undecryptable_file_is_shown_encrypted(repo: Repo, age_key: AgeKey, git_env: dict[str, str]) -> None:
    encrypt(repo, "s.enc.yaml", "a: one\n")
    repo.commit("init")
    repo.pysops("set", "s.enc.yaml", '["a"]', '"ONE"')
    env = {k: v for k, v in git_env.items() if k != "SOPS_AGE_KEY"}
    diff = repo.git("diff", env=env)
    assert diff.returncode == 0
    assert "-a: ENC[AES256_GCM" in diff.stdout and "+a: ENC[AES256_GCM" in diff.stdout
    assert repo.git("log", "-p", env=env).returncode == 0


def test_textconv_command(repo: Repo, age_key: AgeKey, git_env: dict[str, str]) -> None:
    data = encrypt(repo, "s.enc.yaml", "# c\na: one\n")
    assert repo.pysops("git", "textconv", "s.enc.yaml").stdout == "# c\na: one\n"
    other = new_age_key()
    out = repo.pysops("git", "textconv", "s.enc.yaml", env={**git_env, "SOPS_AGE_KEY": other.identity})
    assert (out.returncode, out.stdout, out.stderr) == (0, data.decode(), "")
    for name, content in (("plain.yaml", "a: 1\n"), ("broken.json", "{not json"), ("x.enc.yaml", "sops: [1]\n")):
        repo.write(name, content)
        out = repo.pysops("git", "textconv", name)
        assert (out.returncode, out.stdout, out.stderr) == (0, content, "")
    assert gitdriver.textconv(b"\xff\x00", "x.yaml") == b"\xff\x00"
    tampered = data.replace(b"a: ENC[AES256_GCM,data:", b"a: ENC[AES256_GCM,data:A")
    assert gitdriver.textconv(tampered, "s.enc.yaml") == tampered
    missing = repo.pysops("git", "textconv", "nope.yaml", check=False)
    assert missing.returncode == 2


def test_textconv_library_formats(age_key: AgeKey, git_env: dict[str, str]) -> None:
    for fmt, name, plain in (
        ("json", "x.json", b'{\n  "a": 1\n}\n'),
        ("dotenv", "x.env", b"A=1\n"),
        ("binary", "x.bin", b"\x00raw\n"),
    ):
        data = age_encrypt(plain, fmt, age_key.recipient)
        assert gitdriver.textconv(data, name) == plain
        assert gitdriver.textconv(plain, name) == plain
