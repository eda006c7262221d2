"""Minimizes a failing case: delete chunks of lines, then chunks of comma-separated pieces (flow
collections and one-line JSON), then trailing comments, while the same class still reproduces.
Deterministic, bounded by ``max_checks``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from tests.fuzz.cases import Case
from tests.fuzz.harness import Harness


def _ddmin(pieces: list[bytes], joiner: bytes, ok: Callable[[bytes], bool], budget: list[int]) -> list[bytes]:
    n = max(1, len(pieces) // 2)
    while n >= 1 and budget[0] > 0:
        i = 0
        removed = False
        while i < len(pieces) and budget[0] > 0:
            candidate = pieces[:i] + pieces[i + n :]
            budget[0] -= 1
            if candidate and ok(joiner.join(candidate)):
                pieces = candidate
                removed = True
            else:
                i += n
        if not removed:
            n //= 2
    return pieces


def shrink(h: Harness, case: Case, cls: str, max_checks: int = 200) -> Case:
    """The smallest variant of ``case`` found that still shows ``cls``."""
    extended = cls not in h.check(case, extended=False).classes

    def ok(data: bytes) -> bool:
        return cls in h.check(replace(case, data=data), extended=extended).classes

    budget = [max_checks]
    lines = _ddmin(case.data.splitlines(keepends=True), b"", ok, budget)
    data = b"".join(lines)
    if b"," in data:
        data = b",".join(_ddmin(data.split(b","), b",", ok, budget))
    lines = data.splitlines(keepends=True)
    for idx in range(len(lines)):
        if budget[0] <= 0:
            break
        line = lines[idx]
        cut = line.find(b" #")
        if cut > 0:
            nl = b"\r\n" if line.endswith(b"\r\n") else b"\n" if line.endswith(b"\n") else b""
            candidate = lines[:idx] + [line[:cut] + nl] + lines[idx + 1 :]
            budget[0] -= 1
            if ok(b"".join(candidate)):
                lines = candidate
    return replace(case, data=b"".join(lines))
