"""The scripted editor of the fuzzer's edit checks (e): both tools run it as their editor
(``$EDITOR`` / ``$SOPS_EDITOR``), ``python -S -I editor.py SPEC FILE``.

SPEC is a JSON file naming one edit (``apply_edit``): ``none``; ``sub`` (the group ``v`` of the
first match of ``pattern``, multi-line mode, becomes ``value``); ``append`` (``text`` at the
end, after a newline when the file lacks one, or where the match of ``before`` starts);
``insert-before-last`` (``text`` before the last ``anchor``). The harness applies the same
function to both tools' texts beforehand, to keep only edits that are valid in the format for
both.

The editor saves what it was shown and what it wrote next to SPEC (``<spec>.shown``,
``<spec>.edited``) for ``--replay --show``, and fails (exit 3) when run a second time on the same
file: that is a tool reopening the editor after refusing the edited text (sops 3.11 waits for a
key and reopens for ever; pysops without a terminal never reopens).

Only the standard library: it runs with ``-S -I`` so that its start-up stays small.
"""

from __future__ import annotations

import json
import os
import re
import sys

MARKER = ".fuzz-editor-ran"


def apply_edit(spec: dict[str, str], text: str) -> str:
    op = spec["op"]
    if op == "sub":
        m = re.search(spec["pattern"], text, re.MULTILINE)
        if m is None:
            return text
        return text[: m.start("v")] + spec["value"] + text[m.end("v") :]
    if op == "append":
        at = len(text)
        if spec.get("before"):
            m = re.search(spec["before"], text, re.MULTILINE)
            at = len(text) if m is None else m.start()
        head, tail = text[:at], text[at:]
        if head and not head.endswith("\n"):
            head += "\n"
        return head + spec["text"] + tail
    if op == "insert-before-last":
        at = text.rfind(spec["anchor"])
        return text if at < 0 else text[:at] + spec["text"] + text[at:]
    return text


def main(argv: list[str]) -> int:
    spec_path, target = argv
    marker = os.path.join(os.path.dirname(os.path.abspath(target)), MARKER)
    if os.path.exists(marker):
        return 3
    with open(marker, "w"):
        pass
    with open(spec_path) as f:
        spec = json.load(f)
    with open(target, "rb") as f:
        data = f.read()
    base = os.path.splitext(spec_path)[0]
    with open(base + ".shown", "wb") as f:
        f.write(data)
    edited = apply_edit(spec, data.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape")
    with open(base + ".edited", "wb") as f:
        f.write(edited)
    if edited != data:
        with open(target, "wb") as f:
            f.write(edited)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
