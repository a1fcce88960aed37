"""Regular expressions compiled on first use, for module-level constants.

`re.compile` costs 0.1 to 1 ms per pattern, paid at import. keyguard's matching stage holds
some forty such constants and a typical file needs a handful of them, so compiling them all
was a tenth of a pre-commit run. A `LazyPattern` reads like a compiled pattern at the call
site and compiles itself the first time it is used.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from typing import AnyStr, Generic

__all__ = ["LazyPattern", "lazy_compile"]


class LazyPattern(Generic[AnyStr]):
    """The methods of `re.Pattern` keyguard uses, on a pattern compiled when first needed."""

    __slots__ = ("_compiled", "_flags", "_source")

    def __init__(self, source: AnyStr, flags: int = 0) -> None:
        self._source: AnyStr = source
        self._flags = flags
        self._compiled: re.Pattern[AnyStr] | None = None

    @property
    def compiled(self) -> re.Pattern[AnyStr]:
        if self._compiled is None:
            self._compiled = re.compile(self._source, self._flags)
        return self._compiled

    def search(
        self, string: AnyStr, pos: int = 0, endpos: int = sys.maxsize
    ) -> re.Match[AnyStr] | None:
        return self.compiled.search(string, pos, endpos)

    def match(
        self, string: AnyStr, pos: int = 0, endpos: int = sys.maxsize
    ) -> re.Match[AnyStr] | None:
        return self.compiled.match(string, pos, endpos)

    def fullmatch(
        self, string: AnyStr, pos: int = 0, endpos: int = sys.maxsize
    ) -> re.Match[AnyStr] | None:
        return self.compiled.fullmatch(string, pos, endpos)

    def finditer(
        self, string: AnyStr, pos: int = 0, endpos: int = sys.maxsize
    ) -> Iterator[re.Match[AnyStr]]:
        return self.compiled.finditer(string, pos, endpos)

    def sub(
        self,
        repl: AnyStr | Callable[[re.Match[AnyStr]], AnyStr],
        string: AnyStr,
        count: int = 0,
    ) -> AnyStr:
        return self.compiled.sub(repl, string, count)


def lazy_compile(source: AnyStr, flags: int = 0) -> LazyPattern[AnyStr]:
    """`re.compile`, deferred to the pattern's first use."""
    return LazyPattern(source, flags)
