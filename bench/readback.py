"""What the read-back of every encrypted write costs, in-process (bench/README.md).

    PYTHONPATH=src .venv/bin/python bench/readback.py [--repeat N] [FORMAT ...]

For each format (yaml, json, dotenv: the 20,000-value files of ``run.py``), times
``api.encrypt_bytes`` by ``time.process_time()``, best of N after one untimed run, first as it
is, then with ``api.verify_sealed`` (the read-back) replaced by a no-op. The machine this runs
on is shared and noisy: compare two checkouts by alternating runs of this script (each with
its own ``PYTHONPATH``) and keep the best of each. Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pyrage

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as bench  # noqa: E402  (the generators of the side-by-side benchmark)

from pysops import api  # noqa: E402
from pysops.keys import key_type  # noqa: E402

GENERATORS = {"yaml": bench.gen_yaml, "json": bench.gen_json, "dotenv": bench.gen_dotenv}


def best_of(repeat: int, run: Callable[[], None]) -> float:
    run()
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("formats", nargs="*", default=list(GENERATORS))
    args = parser.parse_args()
    identity = pyrage.x25519.Identity.generate()
    os.environ["SOPS_AGE_KEY"] = str(identity)  # the read-back unwraps the data key with it
    options = api.EncryptOptions([[key_type("age").parse_recipient(str(identity.to_public()))]])
    print(f"{'format':<8} {'encrypt s':>10} {'no read-back s':>15} {'read-back s':>12}")
    for fmt in args.formats:
        data = GENERATORS[fmt](20000, random.Random(1)).encode()

        def encrypt(fmt: str = fmt, data: bytes = data) -> None:
            api.encrypt_bytes(data, options, input_format=fmt)

        with_check = best_of(args.repeat, encrypt)
        verify = api.verify_sealed
        api.verify_sealed = lambda *_args, **_kwargs: None  # type: ignore[assignment]
        try:
            without = best_of(args.repeat, encrypt)
        finally:
            api.verify_sealed = verify
        print(f"{fmt:<8} {with_check:>10.3f} {without:>15.3f} {with_check - without:>12.3f}")


if __name__ == "__main__":
    main()
