"""Regex matching over the raw bytes of any file: every language that is not parsed as Python.

Secrets are searched everywhere, comments included (a key in a comment is still leaked). An
http:// URL only counts as an endpoint where code or configuration uses it: not on a comment
line, not inside a block comment, not in prose (Markdown, a sentence in a string), not as an
XML namespace, DOCTYPE, schema or JSON-LD identifier, not as a navigation link.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence

from keyguard.context import (
    browser_spans,
    is_server_template,
    is_source_map,
    split_path,
    suffix_of,
)
from keyguard.filters import (
    KEY_PREFIX,
    KEY_PREFIXES,
    finds_provider_keys,
    keyword_prefix,
    snake_name,
    trim_url,
)
from keyguard.lazyre import LazyPattern, lazy_compile
from keyguard.lines import LineIndex
from keyguard.models import Hit, Rule

__all__ = ["is_prose_file", "scan_text", "secret_span"]

# Translation catalogs (`.po`, `.pot`) hold sentences for people, URLs in them included.
PROSE_SUFFIXES = frozenset(
    {".md", ".markdown", ".mdown", ".rst", ".adoc", ".asciidoc", ".txt", ".po", ".pot"}
)
# Certificates carry http:// CRL and OCSP URLs by design (RFC 5280); packaging metadata is a
# long description in prose. Neither is code that sends requests.
NOT_CODE_SUFFIXES = frozenset({".pem", ".crt", ".cer", ".csr"})
NOT_CODE_NAMES = frozenset({"metadata", "pkg-info"})
MAN_PAGE = lazy_compile(r"\.[1-9][a-z]?$")
# Documentation trees: rendered manuals and guides quote URLs for readers to copy.
DOC_DIRS = frozenset({"docs", "doc", "man", "documentation"})
# Package manifests whose `url` keys only ever name a repository, a bug tracker, a person or a
# funding page (package.json's repository.url, bugs.url, author.url, funding.url).
MANIFESTS = frozenset({"package.json", "composer.json", "bower.json"})
MANIFEST_LINK = lazy_compile(r"""["'](?:url|web)["']\s*:\s*["']?$""")
MARKUP_SUFFIXES = frozenset({".html", ".htm", ".xhtml", ".vue", ".svelte"})
EXAMPLE_OPEN = lazy_compile(rb"<(?:pre|code)\b", re.IGNORECASE)
EXAMPLE_CLOSE = lazy_compile(rb"</(?:pre|code)\s*>", re.IGNORECASE)
# How much of the line before a URL the context checks read (bytes).
BEFORE_LIMIT = 256
# A bound name and its `=`/`:` sit right before the value: a short tail keeps that regex linear.
NAME_REACH = 96
# Names of a project's documents (`LICENSE-MIT`, `CHANGES.rst`, `NEWS`): prose, unless the
# name is a source file's (`history.js`, `news.py` are code).
PROSE_STEMS = (
    "license",
    "licence",
    "copying",
    "notice",
    "authors",
    "contributors",
    "changelog",
    "changes",
    "history",
    "news",
)
CONFIG_TXT = lazy_compile(r"^(?:requirements|constraints)[\w.-]*\.txt$")
COMMENT_LINE = lazy_compile(
    rb"^[ \t]*(?:#|//|/\*|\*(?:[ \t/]|$)|<!--|--(?:[ \t]|$)|;|rem[ \t]|\{-)", re.IGNORECASE
)
C_COMMENT_OPEN = lazy_compile(rb"(?m)^[ \t]*/\*")
C_COMMENT_CLOSE = lazy_compile(rb"\*/")
MARKUP_COMMENT_OPEN = lazy_compile(rb"<!--")
MARKUP_COMMENT_CLOSE = lazy_compile(rb"-->")
# What stands right before a URL that only names something, or is a comment or a sentence.
NOT_AN_ENDPOINT_BEFORE = lazy_compile(
    r"""(?ix)
    (?: xmlns(?::[\w.-]+)? | (?:\b|:)(?:noNamespace)?schemaLocation
      | rdf:(?:about|resource) | itemtype
      | ["']@(?:context|id|type|vocab)["'] | ["']\$(?:schema|id)["'] ) \s*[:=]\s*["']?[^"']*$
    | \.(?:startsWith|endsWith|startswith|endswith|indexOf|lastIndexOf|includes|split|replace
        |replaceAll|removeprefix|removesuffix)\(\s*["'`]$
    | \bstrings\.(?:HasPrefix|HasSuffix|Contains|TrimPrefix|TrimSuffix)\(\s*[\w.]+\s*,\s*["'`]$
    | <!DOCTYPE\b.*$
    | <a\b[^>]*\bhref\s*=\s*["']?$
    | <meta\b[^>]*$
    | (?:^|\s)(?://|\#|/\*|<!--|--)\s*$
    """
)
# The name a value is bound to, right before it: `homepage = "`, `"homepage": "`, `NS=`.
BOUND_NAME = lazy_compile(r"""([A-Za-z_$][\w$.-]*)["'\]]?\s*(?:=>|:=|=|:)\s*[`"']?$""")
# A word, or a sentence's last word and its stop ("… use X instead. http://…"), right before.
PROSE_BEFORE = lazy_compile(r"(?<![\w\-./$@])([A-Za-z]+)[.!?,]?[ \t]+$")
# The opening of an error, warning or log message: a parameter written there is what the
# message is about (`raise ValueError('response_type="token" is not allowed')`), not a request.
MESSAGE_BEFORE = lazy_compile(
    rb"\b(?:\w*(?:Error|Exception|Warning)|print|console\.\w+|warnings\.warn"
    rb"|log(?:ger|ging)?\.\w+)[ \t]*\([ \t]*[fbrFBRu]{0,2}[\"'`][^\"'`\n]*\Z"
)
# A quoted URL that a `:` follows, where an object key stands (after `{` or `,`): a key of a
# mapping from identifiers (claim or attribute type URIs to names), never a request target.
KEY_BEFORE = lazy_compile(r"""(?:^|[{,])\s*["']$""")
KEY_AFTER = lazy_compile(rb"""["']\s*:""")
COMMAND_WORDS = frozenset(
    {"curl", "wget", "http", "https", "get", "post", "put", "patch", "delete", "head", "options"}
    | {"add", "clone", "install", "fetch", "open", "proxy", "connect", "url", "uri", "endpoint"}
)


def is_prose_file(path: str) -> bool:
    """Documentation files: their URLs are references for readers, never requests."""
    directories, name = split_path(path.lower())
    if CONFIG_TXT.match(name):
        return False
    suffix = suffix_of(name)
    return (
        suffix in PROSE_SUFFIXES
        or bool(MAN_PAGE.search(name))
        or not DOC_DIRS.isdisjoint(directories)
        or suffix in NOT_CODE_SUFFIXES
        or name in NOT_CODE_NAMES
        or (name.startswith(PROSE_STEMS) and suffix not in QUOTED_VALUE_SUFFIXES)
    )


def secret_span(match: re.Match[bytes]) -> tuple[int, int] | None:
    """The span of the first `secret*` group that took part in the match."""
    for name, value in match.groupdict().items():
        if value is not None and name.startswith("secret"):
            return match.span(name)
    return None


NOTEBOOK_CELL_TYPE = lazy_compile(rb'"cell_type"\s*:\s*"(\w+)"')


class Regions:
    """Spans of one file that hold no endpoint: block comments, `<pre>`/`<code>` examples,
    notebook markdown cells. Each kind is found once per file, on first need, then looked up
    by bisection: a minified bundle with thousands of URLs must not rescan itself per hit.
    """

    __slots__ = ("_data", "_spans")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._spans: dict[str, tuple[list[int], list[int]]] = {}

    def inside(self, kind: str, offset: int) -> bool:
        spans = self._spans.get(kind)
        if spans is None:
            found = sorted(SPAN_FINDERS[kind](self._data))
            spans = self._spans[kind] = ([s for s, _ in found], [e for _, e in found])
        starts, ends = spans
        index = bisect_right(starts, offset) - 1
        return index >= 0 and offset < ends[index]


def _paired_spans(
    data: bytes, opener: LazyPattern[bytes], closer: LazyPattern[bytes]
) -> Iterator[tuple[int, int]]:
    """From each opener to the first closer after it (or the end); openers inside are skipped."""
    position = 0
    while (opened := opener.search(data, position)) is not None:
        closed = closer.search(data, opened.end())
        end = closed.end() if closed else len(data)
        yield opened.start(), end
        position = end


def _notebook_prose_spans(data: bytes) -> Iterator[tuple[int, int]]:
    cells = list(NOTEBOOK_CELL_TYPE.finditer(data))
    for number, cell in enumerate(cells):
        if cell.group(1) in (b"markdown", b"raw"):
            end = cells[number + 1].start() if number + 1 < len(cells) else len(data)
            yield cell.start(), end


SPAN_FINDERS: dict[str, Callable[[bytes], Iterable[tuple[int, int]]]] = {
    "c-comment": lambda data: _paired_spans(data, C_COMMENT_OPEN, C_COMMENT_CLOSE),
    "markup-comment": lambda data: _paired_spans(data, MARKUP_COMMENT_OPEN, MARKUP_COMMENT_CLOSE),
    "example": lambda data: _paired_spans(data, EXAMPLE_OPEN, EXAMPLE_CLOSE),
    "notebook-prose": _notebook_prose_spans,
    "browser": browser_spans,
}


def _line_state(before: str) -> tuple[str | None, bool]:
    """Scan a line up to a URL: (text of the string still open there, whether a comment began).

    Quotes are tracked so that `//` inside `"http://…"` is not a comment; a comment starts at
    `//` or `#` after white space, `/*` or `<!--`, outside any string.
    """
    quote: str | None = None
    start = 0
    escaped = False
    for position, char in enumerate(before):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif quote is not None:
            if char == quote:
                quote = None
        elif char in "\"'`":
            quote, start = char, position + 1
        elif _comment_starts(before, position):
            return None, True
    return (None if quote is None else before[start:]), False


def _comment_starts(line: str, position: int) -> bool:
    after_space = position == 0 or line[position - 1] in " \t"
    if line.startswith("//", position) or line[position] == "#":
        return after_space
    return line.startswith(("/*", "<!--"), position)


def _inside_a_sentence(before: str) -> bool:
    """A URL that a string holds after other words (`"see http://…"`) is text, not a target.

    The string must start with the URL (as in Python, where libcst settles it exactly): words
    and spaces before it make it a message, a description or a help text.
    """
    if before.endswith(("'", '"', "`")):
        return False  # the URL starts a string (also an escaped one, as in notebook JSON)
    content, _ = _line_state(before)
    if content is None or not content:
        return False
    # Leading white space is formatting (text assembled line by line), as in Python's rule.
    return not content.strip() or " " in content.strip()


def _exempt_by_name(rule: Rule, before: str) -> bool:
    if rule.exempt_names is None:
        return False
    bound = BOUND_NAME.search(before[-NAME_REACH:])
    return bound is not None and bool(rule.exempt_names.search(snake_name(bound.group(1))))


def _line_before(data: bytes, start: int) -> tuple[bytes, bool]:
    """Up to BEFORE_LIMIT bytes of the line before `start`, and whether they reach its start."""
    window = max(0, start - BEFORE_LIMIT)
    newline = data.rfind(b"\n", window, start)
    return data[newline + 1 if newline != -1 else window : start], newline != -1 or window == 0


def is_endpoint_context(
    data: bytes,
    start: int,
    path: str = "",
    rule: Rule | None = None,
    regions: Regions | None = None,
) -> bool:
    """Cheap checks that an http:// hit at byte `start` is used, not mentioned.

    Only the BEFORE_LIMIT bytes before the hit are read, so the cost per hit stays flat on a
    megabyte-long minified line.
    """
    regions = regions or Regions(data)
    before_bytes, at_line_start = _line_before(data, start)
    if at_line_start and COMMENT_LINE.match(before_bytes):
        return False
    if path.endswith(".ipynb") and regions.inside("notebook-prose", start):
        return False
    before = before_bytes.decode("utf-8", "replace")
    if NOT_AN_ENDPOINT_BEFORE.search(before):
        return False
    prose = PROSE_BEFORE.search(before)
    if prose and prose.group(1).lower() not in COMMAND_WORDS:
        return False
    if _inside_a_sentence(before) or _line_state(before)[1]:
        return False
    name = split_path(path.lower())[1]
    if name in MANIFESTS and MANIFEST_LINK.search(before):
        return False
    if suffix_of(name) in MARKUP_SUFFIXES and regions.inside("example", start):
        return False
    if rule is not None and _exempt_by_name(rule, before):
        return False
    if regions.inside("c-comment", start):
        return False
    return not regions.inside("markup-comment", start)


# A match must start at most REACH_BEFORE bytes before one of its rule's keywords and end at most
# REACH_AFTER bytes after it: true of every built-in rule (the keyword starts the match) and
# generous for user rules. Regexes then run around keyword hits instead of over whole files.
REACH_BEFORE = 256
REACH_AFTER = 2048


def keyword_windows(
    lowered: bytes, keywords: Sequence[bytes], found: dict[bytes, list[int]] | None = None
) -> list[tuple[int, int]]:
    """Merged byte ranges around every occurrence of the keywords in the lowercased data.

    `found` remembers each keyword's positions for the other rules of the same file: rules
    share keywords (`sk_live_` is KG101's and KG201's), and on a multi-megabyte bundle every
    search for a keyword is a pass over the whole file.
    """
    starts: list[int] = []
    for keyword in keywords:
        if found is not None and keyword in found:
            starts.extend(found[keyword])
            continue
        positions = []
        position = lowered.find(keyword)
        while position != -1:
            positions.append(position)
            position = lowered.find(keyword, position + 1)
        if found is not None:
            found[keyword] = positions
        starts.extend(positions)
    windows: list[tuple[int, int]] = []
    for position in sorted(starts):
        start, end = max(0, position - REACH_BEFORE), position + REACH_AFTER
        if windows and start <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(windows[-1][1], end))
        else:
            windows.append((start, end))
    return windows


def scan_text(
    data: bytes,
    rules: Sequence[Rule],
    path: str,
    index: LineIndex,
    lowered: bytes | None = None,
    present: frozenset[bytes] | None = None,
) -> list[Hit]:
    """Every hit of `rules` in `data`; endpoint rules only where the URL is used as one.

    `present`, the keywords the prefilter found in the whole file, spares a search for each
    keyword it did not find.
    """
    hits: list[Hit] = []
    lowered = data.lower() if lowered is None else lowered
    endpoint_file = not is_prose_file(path)
    regions = Regions(data)
    found: dict[bytes, list[int]] = {}
    if present is not None:
        found = {kw: [] for rule in rules for kw in rule.keywords if kw not in present}
    splits = suffix_of(split_path(path.lower())[1]) in SPLIT_KEY_SUFFIXES
    for rule in rules:
        if rule.code_only and not endpoint_file:
            continue
        joins = splits and finds_provider_keys(rule)
        for window_start, window_end in keyword_windows(lowered, rule.keywords, found):
            for match in rule.pattern.finditer(data, window_start, window_end):
                hit = _hit(rule, match, data, index, path, regions)
                if hit is not None:
                    hits.append(hit)
            if joins:
                hits = _joined_key_hits(rule, data, window_start, window_end, index, hits)
    return hits


# Code where a provider key split across string literals (`"sk_live_" + "4eC3…"`) is joined
# with `+` (JS, TS, Java, Kotlin, Go, C#, Swift, Dart) or `.` (PHP). Python's literals are joined
# on its syntax tree instead (`python.py`).
SPLIT_KEY_SUFFIXES = frozenset(
    {".js", ".mjs", ".cjs", ".jsx", ".ts", ".mts", ".cts", ".tsx", ".vue", ".svelte"}
    | {".java", ".kt", ".kts", ".scala", ".go", ".cs", ".swift", ".dart", ".php", ".rb"}
)
SPLIT_KEY = lazy_compile(
    rb"""(["'`])(?:%s)[A-Za-z0-9]*\1"""
    rb"""(?:[ \t]*(?:\r?\n[ \t]*)?[+.][ \t]*(?:\r?\n[ \t]*)?(["'`])[A-Za-z0-9]+\2)+"""
    % KEY_PREFIXES.encode()
)
PIECE = lazy_compile(rb"""(["'`])([A-Za-z0-9_]*)\1""")


def _joined_key_hits(
    rule: Rule, data: bytes, start: int, end: int, index: LineIndex, hits: list[Hit]
) -> list[Hit]:
    """Add the keys written as literals joined with `+` or `.`; each replaces a hit on its first
    piece.

    The joined value must be a whole key of the rule (its pattern matches all of it), so a
    prefix joined to a variable (`"sk_live_" + key`) or to a word is nothing.
    """
    for split in SPLIT_KEY.finditer(data, max(0, start - 1), end):
        pieces = list(PIECE.finditer(data, split.start(), split.end()))
        joined = b"".join(piece.group(2) for piece in pieces)
        whole = rule.pattern.fullmatch(joined)
        if whole is None or secret_span(whole) != (0, len(joined)):
            continue
        first, last = pieces[0].start(2), pieces[-1].end(2)
        line, column = index.position(first)
        end_line, end_column = index.position(last)
        hits = [h for h in hits if not (h.rule is rule and (h.line, h.column) == (line, column))]
        value = joined.decode("ascii")
        hits.append(Hit(rule, value, line, column, end_line, end_column))
    return hits


# Source files whose values are written in quotes: there, an unquoted word after `clientSecret:`
# or `client_secret =` is a name, an expression or a type (`clientSecret: SensitiveString2048;`),
# never a literal. Config files (.env, YAML, properties) do hold unquoted values.
QUOTED_VALUE_SUFFIXES = frozenset(
    {
        ".js",
        ".mjs",
        ".cjs",
        ".jsx",
        ".ts",
        ".mts",
        ".cts",
        ".tsx",
        ".py",
        ".pyi",
        ".java",
        ".kt",
        ".kts",
        ".scala",
        ".go",
        ".rs",
        ".rb",
        ".php",
        ".cs",
        ".swift",
        ".dart",
        ".c",
        ".h",
        ".cc",
        ".cpp",
        ".hpp",
        ".m",
        ".mm",
    }
)
QUOTES_BYTES = (b'"', b"'", b"`")
# A name made of words (`SensitiveString2048`, `secretFromVault2024`): a type or a variable. A
# drawn secret does not fall into capitalised words of three letters or more, one after another.
WORDS_NAME = lazy_compile(rb"^(?:[a-z]{2,}|[A-Z][a-z]{2,})(?:[A-Z][a-z]{2,})+[0-9]{0,6}$")
QUERY_PARAMETER_BEFORE = lazy_compile(rb"[?&][\w\-]+=\Z")


def _unquoted_in_code(
    data: bytes, start: int, raw: bytes, path: str, keywords: Sequence[bytes]
) -> bool:
    """An unquoted value bound to a secret name in source code: a name, not a secret; so is
    one made of capitalised words in documentation, which shows code (config files, where
    values go unquoted, keep theirs).

    Keys themselves (`sk_live_…`) are reported wherever they stand, quoted or not.
    """
    if data[start - 1 : start] in QUOTES_BYTES or _is_whole_key(raw, keywords):
        return False  # a key (`sk_live_…`, `ghp_…`, `postgres://u:p@h`) counts wherever it stands
    if QUERY_PARAMETER_BEFORE.search(data, max(0, start - NAME_REACH), start):
        return False  # `"…&client_secret=<value>"`: a query string inside a literal
    if is_prose_file(path) and WORDS_NAME.match(raw):
        return True  # a code sample in the docs: `clientSecret: SensitiveString2048;`
    return suffix_of(split_path(path.lower())[1]) in QUOTED_VALUE_SUFFIXES


def _is_whole_key(raw: bytes, keywords: Sequence[bytes]) -> bool:
    """A value that is a key by its own shape (`sk_live_…`, `ghp_…`), whatever names it."""
    text = raw.decode("ascii", "replace")
    return KEY_PREFIX.match(text) is not None or keyword_prefix(text, keywords) > 0


def _is_mapping_key(data: bytes, start: int) -> bool:
    line_start = data.rfind(b"\n", max(0, start - NAME_REACH), start) + 1
    if line_start == 0 and start > NAME_REACH:
        line_start = start - NAME_REACH
    return KEY_BEFORE.search(data[line_start:start].decode("utf-8", "replace")) is not None


def _hit(
    rule: Rule, match: re.Match[bytes], data: bytes, index: LineIndex, path: str, regions: Regions
) -> Hit | None:
    span = secret_span(match)
    if span is None:
        return None
    start, end = span
    raw = data[start:end]
    if (
        rule.kind == "secret"
        and rule.check is None
        and _unquoted_in_code(data, start, raw, path, rule.keywords)
    ):
        return None
    if rule.kind == "secret" and is_source_map(path) and not _is_whole_key(raw, rule.keywords):
        return None
    if rule.kind == "oauth" and not _in_code(data, start, path, regions):
        return None
    if rule.kind == "endpoint":
        raw = trim_url(raw.decode("utf-8", "replace")).encode("utf-8")
        end = start + len(raw)
        if not is_endpoint_context(data, start, path, rule, regions):
            return None
        if KEY_AFTER.match(data, end) and _is_mapping_key(data, start):
            return None
    value = raw.decode("utf-8", "replace")
    note = ""
    if rule.check is not None:
        from keyguard.checks import judge

        judged = judge(rule, data, start, end, path, value)
        if judged is None:
            return None
        note = judged
    line, column = index.position(start)
    end_line, end_column = index.position(end)
    return Hit(rule, value, line, column, end_line, end_column, note)


def _in_code(data: bytes, start: int, path: str, regions: Regions) -> bool:
    """Not in a comment (a line comment, one begun earlier on the line, a block comment), and in
    a page or a server template, inside a `<script>` block or a tag (`href`, `onclick`).

    An OAuth parameter in a comment, in a page's text or in an error or log message documents
    a request; it sends nothing.
    """
    name = split_path(path.lower())[1]
    if (suffix_of(name) in MARKUP_SUFFIXES or is_server_template(path)) and not regions.inside(
        "browser", start
    ):
        return False
    before, at_line_start = _line_before(data, start)
    if at_line_start and COMMENT_LINE.match(before):
        return False
    if _line_state(before.decode("utf-8", "replace"))[1] or MESSAGE_BEFORE.search(before):
        return False
    return not (regions.inside("c-comment", start) or regions.inside("markup-comment", start))
