"""Bounds on hostile input (design invariant 8), in one place so docs and tests name the same numbers.

Every store checks these while it parses, before it builds anything proportional to the bound:
past a limit the input is refused with ``InputTooComplex`` (exit 2, one error line), never a
``RecursionError``, a traceback or unbounded memory. The numbers are documented in
docs/limitations.md.
"""

from __future__ import annotations

from pysops.errors import InputTooComplex

#: Deepest nesting of mappings and sequences a document may have (the top-level container is
#: depth 1). Real secrets files stay below 20; every command (encrypt, decrypt, set, exec-env,
#: the merge driver) handles this depth without touching Python's recursion limit.
MAX_DEPTH = 200

#: A YAML document may hold at most this many nodes reached through aliases, over and above
#: ``ALIAS_NODES_PER_INPUT_BYTE`` nodes per byte of input: an alias bomb of a few hundred bytes
#: ("billion laughs") is refused at once, a large file that really reuses anchors is not.
MAX_ALIAS_NODES = 100_000
ALIAS_NODES_PER_INPUT_BYTE = 10


def too_deep(where: str = "the input") -> InputTooComplex:
    """The error for a document nested deeper than ``MAX_DEPTH``."""
    return InputTooComplex(
        f"{where} nests deeper than {MAX_DEPTH} levels",
        hint="pysops refuses deeper documents to bound memory and stack use (docs/limitations.md)",
    )


def alias_budget(input_size: int) -> int:
    """How many nodes alias expansion may produce for an input of ``input_size`` bytes."""
    return MAX_ALIAS_NODES + ALIAS_NODES_PER_INPUT_BYTE * input_size


def excessive_aliasing() -> InputTooComplex:
    return InputTooComplex(
        "excessive aliasing: the document expands aliases into more nodes than its size allows",
        hint="a YAML alias bomb? pysops bounds alias expansion (docs/limitations.md)",
    )
