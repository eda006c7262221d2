"""Regular expressions compiled on first use.

Importing ``re`` (with ``enum`` and the regex compiler) takes about 6 ms, and a module-level
``re.compile`` more; most runs of pysops never use most patterns (decrypting a dotenv file uses
none). ``LazyPattern`` has the methods of ``re.Pattern`` that pysops calls and compiles the pattern,
importing ``re``, the first time one of them runs.
"""

from __future__ import annotations

from pysops._typing import TYPE_CHECKING

if TYPE_CHECKING:
    import re
    from collections.abc import Callable


class LazyPattern:
    __slots__ = ("_source", "_compiled")

    def __init__(self, source: str) -> None:
        self._source = source
        self._compiled: re.Pattern[str] | None = None

    @property
    def compiled(self) -> re.Pattern[str]:
        if self._compiled is None:
            import re

            self._compiled = re.compile(self._source)
        return self._compiled

    @property
    def pattern(self) -> str:
        return self._source

    def match(self, text: str, pos: int = 0) -> re.Match[str] | None:
        return self.compiled.match(text, pos)

    def fullmatch(self, text: str) -> re.Match[str] | None:
        return self.compiled.fullmatch(text)

    def search(self, text: str, pos: int = 0) -> re.Match[str] | None:
        return self.compiled.search(text, pos)

    def findall(self, text: str) -> list[str]:
        return self.compiled.findall(text)

    def sub(self, replacement: str | Callable[[re.Match[str]], str], text: str) -> str:
        return self.compiled.sub(replacement, text)


__all__ = ["LazyPattern"]
