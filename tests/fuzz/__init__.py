"""Differential fuzzer: generated documents thrown at pysops and at the real sops 3.11 binary.

Modules: ``gen_*`` (one generator per format, ``random.Random`` based so a case is replayable from
``(seed, index)``), ``cases`` (a case = format + bytes + selection options), ``oracle`` (independent
typed readers used to compare outputs semantically), ``rules`` (the documented round-trip
differences, one named predicate per rule of docs/formats.md), ``harness`` (runs one case through
both tools and classifies every disagreement), ``shrink`` (minimizes a repro) and ``__main__`` (long
runs and replays: ``python -m tests.fuzz --help``). See docs/fuzzing.md.
"""
