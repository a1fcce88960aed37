"""LazyPattern behaves as the compiled pattern would, and compiles once, on first use."""

from __future__ import annotations

import re

from keyguard.lazyre import lazy_compile


def test_lazy_pattern_compiles_on_first_use_only() -> None:
    pattern = lazy_compile(r"(?P<word>[a-z]+)-(\d+)", re.IGNORECASE)
    assert pattern._compiled is None
    assert pattern.search("x ABC-12 y") is not None
    compiled = pattern._compiled
    assert compiled is not None
    pattern.match("abc-1")
    assert pattern._compiled is compiled


def test_lazy_pattern_answers_like_re() -> None:
    source, text = r"(\w+)=(\d+)", "a=1 bb=22 ccc=x d=4"
    lazy, eager = lazy_compile(source), re.compile(source)
    assert [m.groups() for m in lazy.finditer(text)] == [m.groups() for m in eager.finditer(text)]
    assert lazy.sub(r"\2", text) == eager.sub(r"\2", text)
    assert lazy.sub(lambda m: m.group(1).upper(), text, count=1) == "A bb=22 ccc=x d=4"
    assert lazy.search(text, 4, 9) is not None and lazy.search(text, 4, 5) is None
    assert lazy.fullmatch("a=1") is not None and lazy.fullmatch("a=1 ") is None
    assert lazy.match(text, 4) is not None
    assert lazy_compile(rb"^x", re.MULTILINE).search(b"a\nx") is not None
