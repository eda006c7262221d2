"""libyaml's binding creates pysops's flat event classes (yamlcore._flatten_events), which
carry exactly what ruamel's own classes carry, so anything else using the binding is unaffected."""

from __future__ import annotations

from typing import Any

from pysops.formats import yamlcore

TEXT = "a: &x 1\nb: !!str 2\nc: [x, {d: 'e'}]\nf: !custom\n  - |\n    block\n  - *x\ng: {}\n"
FIELDS = ("anchor", "tag", "ctag", "implicit", "value", "style", "flow_style", "nr_items", "comment")


def _events(lib: Any) -> list[tuple[Any, ...]]:
    parser = lib.CParser(TEXT)
    out = []
    while True:
        event = parser.get_event()
        row = (type(event).__name__, event.start_mark.index, event.end_mark.index)
        out.append(row + tuple(getattr(event, name, "-") for name in FIELDS))
        if type(event) is lib.StreamEndEvent:
            return out


def test_flat_events_carry_what_ruamels_carry() -> None:
    lib = yamlcore._libyaml()
    import ruamel.yaml.events as base

    assert lib._pysops_flat is True
    for name in ("ScalarEvent", "MappingStartEvent", "SequenceStartEvent", "MappingEndEvent", "SequenceEndEvent"):
        flat = getattr(lib, name)
        assert flat is not getattr(base, name) and issubclass(flat, getattr(base, name))
    flat_events = _events(lib)
    saved = {name: getattr(lib, name) for name in ("ScalarEvent", "MappingStartEvent", "SequenceStartEvent")}
    saved.update({name: getattr(lib, name) for name in ("MappingEndEvent", "SequenceEndEvent")})
    try:
        for name in saved:
            setattr(lib, name, getattr(base, name))
        ruamel_events = _events(lib)
    finally:
        for name, cls in saved.items():
            setattr(lib, name, cls)
    assert flat_events == ruamel_events
    assert any(row[0] == "ScalarEvent" and row[4] == "tag:yaml.org,2002:str" for row in flat_events)


def test_ruamel_loader_still_reads_through_the_binding() -> None:
    yamlcore._libyaml()
    from ruamel.yaml import YAML

    data = YAML(typ="safe", pure=False).load(TEXT.replace("!custom\n", "\n"))
    assert data == {"a": 1, "b": "2", "c": ["x", {"d": "e"}], "f": ["block\n", 1], "g": {}}
