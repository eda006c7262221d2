"""A fuzz case: ``(seed, index)`` -> format, input bytes and selection options, deterministically."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.fuzz import gen_binary, gen_dotenv, gen_ini, gen_json, gen_yaml

FORMATS = ("yaml", "json", "dotenv", "ini", "binary")
EXTENSIONS = {"yaml": "yaml", "json": "json", "dotenv": "env", "ini": "ini", "binary": "bin"}
GENERATORS: dict[str, Callable[[random.Random], bytes]] = {
    "yaml": gen_yaml.generate,
    "json": gen_json.generate,
    "dotenv": gen_dotenv.generate,
    "ini": gen_ini.generate,
    "binary": gen_binary.generate,
}
#: share of the cases per format when all are fuzzed
WEIGHTS = {"yaml": 45, "json": 20, "dotenv": 12, "ini": 15, "binary": 8}

#: selection options and their share; the regexes match names and comments the generators emit
#: (sops 3.11 has no flags for the comment regexes and mac_only_encrypted: those go in .sops.yaml)
SELECTIONS: list[tuple[float, list[str], dict[str, object]]] = [
    (0.62, [], {}),
    (0.08, ["--encrypted-regex", "^(password|api_key|key|data)"], {}),
    (0.06, ["--unencrypted-suffix", "_u"], {}),
    (0.06, [], {"encrypted_comment_regex": "sops:enc"}),
    (0.06, [], {"unencrypted_comment_regex": "sops:noenc"}),
    (0.06, [], {"mac_only_encrypted": True}),
    (0.03, ["--unencrypted-regex", "^(x|y|z)"], {}),
    (0.03, [], {"mac_only_encrypted": True, "encrypted_regex": "password"}),
]


@dataclass
class Case:
    seed: int
    index: int
    fmt: str
    data: bytes
    options: list[str] = field(default_factory=list)
    #: creation-rule settings written to .sops.yaml (the age recipient is added by the harness)
    config: dict[str, object] = field(default_factory=dict)
    #: the formats of the run the case came from (they decide which generator an index uses)
    formats: tuple[str, ...] = FORMATS

    @property
    def name(self) -> str:
        return f"{self.seed}:{self.index}"

    @property
    def filename(self) -> str:
        return "input." + EXTENSIONS[self.fmt]


def case_rng(seed: int, index: int) -> random.Random:
    return random.Random(f"pysops-fuzz:{seed}:{index}")


def make_case(seed: int, index: int, formats: tuple[str, ...] = FORMATS) -> Case:
    rng = case_rng(seed, index)
    weights = [WEIGHTS[f] for f in formats]
    fmt = rng.choices(formats, weights)[0]
    x = rng.random()
    options: list[str] = []
    config: dict[str, object] = {}
    for share, opts, conf in SELECTIONS:
        if x < share:
            options, config = list(opts), dict(conf)
            break
        x -= share
    data = GENERATORS[fmt](random.Random(rng.getrandbits(64)))
    return Case(seed, index, fmt, data, options, config, tuple(formats))
