"""``pysops set FILE INDEX [VALUE]`` and ``pysops unset FILE INDEX``: change one value in place.

Only the touched value (plus ``lastmodified`` and ``mac``) changes in the file: every other
ciphertext is kept (``api.open_file`` / ``OpenedFile.seal``), and for YAML the text is patched
around an added or removed item (``api.apply_change``).
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from pysops.cli.app import DecryptionOrder, IgnoreMac, InputType, OutputType, Threshold, app
from pysops.errors import GenericError, InvalidSetFormat, InvalidTreePath, NoFileSpecified


def _path(index: str, verb: str) -> list[str | int]:
    from pysops.api import parse_tree_path

    try:
        return parse_tree_path(index)
    except InvalidTreePath:
        raise InvalidSetFormat(
            f"Invalid {verb} index format", hint="""use a path like '["key"]' or '["list"][0]["key"]'"""
        ) from None


def _open(
    file: str, input_type: str | None, output_type: str | None, ignore_mac: bool, decryption_order: str | None
) -> tuple[bytes, Any, str]:
    """The file's bytes, the file opened with its data key, and the output format."""
    from pysops.cli.inputs import pick_formats
    from pysops.cli.mutate import open_encrypted, read_encrypted

    in_fmt, out_fmt = pick_formats(input_type, output_type, file)
    data = read_encrypted(file)
    return data, open_encrypted(data, in_fmt, ignore_mac=ignore_mac, decryption_order=decryption_order), out_fmt


def _seal_and_write(file: str, data: bytes, opened: Any, change: Any, out_fmt: str, threshold: int) -> None:
    from pysops import api
    from pysops.cli.mutate import rewrappable, store_options_for, write_back

    ready = api.apply_change(opened, change) if change is not None else opened
    if threshold and len(ready.meta.key_groups) > 1 and threshold != ready.meta.shamir_threshold:
        ready.rewrap(rewrappable(ready), threshold)
    write_back(file, data, ready.seal(output_format=out_fmt, store_options=store_options_for(file, out_fmt)))


def _check_depth(path: list[str | int], text: str | bytes) -> None:
    """Refuse (exit 2) a set whose result nests deeper than ``limits.MAX_DEPTH``: the value at a
    path of n keys sits in a container of depth n, and a JSON value adds its own nesting. Checked
    on the text, before anything is built from it."""
    from pysops.limits import MAX_DEPTH, too_deep

    if len(path) + json_depth(text) > MAX_DEPTH:
        raise too_deep("the document after this set")


def json_depth(text: str | bytes) -> int:
    """The deepest ``[``/``{`` nesting of a JSON text (0 for a scalar), without parsing it."""
    chars = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    depth = deepest = 0
    in_string = escaped = False
    for char in chars:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


@app.command("set")
def set_command(
    file: Annotated[str, typer.Argument(help="the encrypted file (changed in place)")],
    index: Annotated[str, typer.Argument(help="""where to put the value, e.g. '["db"]["password"]'""")],
    value: Annotated[str | None, typer.Argument(help="the value as JSON ('\"text\"', 5, {...})")] = None,
    value_file: Annotated[
        bool, typer.Option("--value-file", help="VALUE is a file whose content (JSON) is the value")
    ] = False,
    value_stdin: Annotated[bool, typer.Option("--value-stdin", help="read the value (JSON) from stdin")] = False,
    idempotent: Annotated[
        bool, typer.Option("--idempotent", help="do not write the file if the value is already there")
    ] = False,
    ignore_mac: IgnoreMac = False,
    input_type: InputType = None,
    output_type: OutputType = None,
    shamir_secret_sharing_threshold: Threshold = 0,
    decryption_order: DecryptionOrder = None,
) -> None:
    """Set a value (JSON) at INDEX in an encrypted file, creating missing keys."""
    from pysops import tree
    from pysops.cli.mutate import read_encrypted

    if value_file and value_stdin:
        raise GenericError("cannot use both --value-file and --value-stdin")
    if value_stdin and value is not None:
        raise NoFileSpecified(
            "file specified, or index and value are missing. "
            "Need precisely 2 positional arguments since --value-stdin is used."
        )
    if not value_stdin and value is None:
        raise NoFileSpecified(
            "no file specified, or index and value are missing. Need precisely 3 positional arguments."
        )
    path = _path(index, "set")
    if value_stdin:
        text: str | bytes = sys.stdin.buffer.read()
    elif value_file:
        assert value is not None
        text = read_encrypted(value)
    else:
        assert value is not None
        text = value
    _check_depth(path, text)
    node = tree.parse_json_value(text)
    data, opened, out_fmt = _open(file, input_type, output_type, ignore_mac, decryption_order)
    root = opened.doc.branches[0]
    if idempotent and tree.same_value(tree.lookup(root, path), node):
        return
    change = tree.set_path(root, path, node)
    _seal_and_write(file, data, opened, change, out_fmt, shamir_secret_sharing_threshold)


@app.command("unset")
def unset_command(
    file: Annotated[str, typer.Argument(help="the encrypted file (changed in place)")],
    index: Annotated[str, typer.Argument(help="""the key or element to remove, e.g. '["db"]["password"]'""")],
    idempotent: Annotated[
        bool, typer.Option("--idempotent", help="succeed without writing if INDEX is absent")
    ] = False,
    ignore_mac: IgnoreMac = False,
    input_type: InputType = None,
    output_type: OutputType = None,
    shamir_secret_sharing_threshold: Threshold = 0,
    decryption_order: DecryptionOrder = None,
) -> None:
    """Remove the key or list element at INDEX from an encrypted file."""
    from pysops import tree

    path = _path(index, "unset")
    data, opened, out_fmt = _open(file, input_type, output_type, ignore_mac, decryption_order)
    try:
        change = tree.unset_path(opened.doc.branches[0], path)
    except tree.PathNotFound:
        if idempotent:
            return
        raise
    _seal_and_write(file, data, opened, change, out_fmt, shamir_secret_sharing_threshold)
