"""The matching stage: the rules that survived the prefilter, run over one file.

Imported by the engine on the first file that holds a keyword, so a scan of clean files (the
usual pre-commit run) never loads the regexes, path heuristics and filters that live here.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterable, Sequence

from keyguard.context import (
    PUBLIC_BUILD_VARIABLE,
    BrowserSpans,
    is_client_side,
    is_server_template,
    is_test_path,
    is_third_party,
    may_assign_build_variables,
    public_build_assignment,
    suffix_of,
)
from keyguard.engine import FileResult, ScanPlan
from keyguard.filters import (
    finds_provider_keys,
    is_exempt_url,
    is_placeholder_value,
    is_published_docs_key,
    keep_match,
    parse_suppressions,
)
from keyguard.lazyre import lazy_compile
from keyguard.lines import LineIndex
from keyguard.logs import logger
from keyguard.models import Finding, Hit, Location, Match, Rule, ScanStats, Severity
from keyguard.redact import fingerprint, redact, redact_text, secret_digest
from keyguard.text import (
    BEFORE_LIMIT,
    is_endpoint_context,
    is_prose_file,
    keyword_windows,
    scan_text,
    secret_span,
)

__all__ = ["match_file"]

PYTHON_SUFFIXES = frozenset({".py", ".pyi", ".pyw"})
QUOTES = ('"', "'")
IDENTIFIER_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789_")
# Part of a key body, the end of its string, then the start of another string literal whose
# text goes on with letters or digits (over lowered bytes: prefixes r/b/u/f in lower case).
KEY_PIECE_THEN_LITERAL = lazy_compile(
    rb"""[a-z0-9]+["'][ \t]*(?:\+[ \t]*)?(?:\\?[ \t]*(?:#[^\n]*)?\r?\n[ \t]*)*"""
    rb"""(?:\+[ \t]*)?\(?[ \t]*[rbuf]{0,2}["'][a-z0-9]"""
)


def _candidate_rules(
    data: bytes, present: frozenset[bytes], plan: ScanPlan, path: str, python: bool
) -> list[Rule]:
    """Rules whose keyword occurs (case-insensitively) and that may apply to this file.

    Whether a file is client-side is settled here only for Python, where it is a matter of the
    path and a rule left in would cost a parse. Elsewhere the question waits for a hit of a
    client or server rule (`_in_context`): its answer may scan the whole file for markers, and
    most candidate files (a `network_` that holds `rk_`) have no such hit.
    """
    rules = [rule for rule in plan.rules if not present.isdisjoint(rule.keywords)]
    if any(rule.code_only for rule in rules) and is_test_path(path):
        rules = [rule for rule in rules if not rule.code_only]
    if python and any(rule.applies_to != "any" for rule in rules):
        client, public_only = _context(data, path, plan)
        wanted = {"any", "client" if client else "server"} | ({"client"} if public_only else set())
        rules = [rule for rule in rules if rule.applies_to in wanted]
    return rules


def _context(data: bytes, path: str, plan: ScanPlan) -> tuple[bool, bool]:
    """(client-side?, assigns public build variables?) of a server file.

    Client rules apply to a server file only on lines that assign a public build variable
    (`REACT_APP_…=`): bundlers copy those into the browser.
    """
    client = is_client_side(path, data, plan.context)
    public_only = (
        not client
        and may_assign_build_variables(path)
        and PUBLIC_BUILD_VARIABLE.search(data) is not None
    )
    return client, public_only


def _in_context(
    hits: list[Hit], data: bytes, path: str, plan: ScanPlan, index: LineIndex
) -> list[Hit]:
    """Drop hits of client rules outside client code and of server rules inside it.

    Each hit gets one context, so a client secret in client code is KG201 and never also
    KG202: a line that assigns a public build variable, and the parts of a server template
    that reach the browser (`BrowserSpans`), are client-side within a server file.
    """
    if all(hit.rule.applies_to == "any" for hit in hits):
        return hits
    client, public_only = _context(data, path, plan)
    spans = BrowserSpans(data) if not client and is_server_template(path, plan.context) else None
    kept = []
    for hit in hits:
        if hit.rule.applies_to == "any":
            kept.append(hit)
            continue
        here = client
        if spans is not None:
            here = spans.inside(index.offset(hit.line, hit.column))
        elif public_only:
            here = public_build_assignment(index.line_text(hit.line))
        if (hit.rule.applies_to == "client") == here:
            kept.append(hit)
    return kept


def _split_key_prefix(lowered: bytes, keywords: Iterable[bytes]) -> bool:
    """A key that a string ends and another literal may go on with: `"sk_live_" "4eC3…"`,
    `"sk_live_4eC3" "9fQ…"` (a formatter wrapping a long key), `"rk_" + b`.

    Only the syntax tree can join such pieces, so a file holding one is worth a parse. A key
    prefix right before a closing quote always is one; a prefix with part of a body is one only
    when another string literal follows (`+`, a line continuation or comments between), since a
    whole key in one literal is found as text.
    """
    for keyword in keywords:
        position = lowered.find(keyword)
        while position != -1:
            end = position + len(keyword)
            starts_token = position == 0 or lowered[position - 1] not in IDENTIFIER_BYTES
            if starts_token:
                if lowered[end : end + 1] in (b'"', b"'"):
                    return True
                if KEY_PIECE_THEN_LITERAL.match(lowered, end):
                    return True
            position = lowered.find(keyword, end)
    return False


def may_hit(
    text: bytes, lowered: bytes, present: frozenset[bytes], path: str, plan: ScanPlan
) -> bool:
    """Could these lines of the file `path`, holding the keywords in `present`, hold a hit?

    Asked of the lines a commit added, before the whole file is read. Every hit starts as a
    match of its rule's pattern near a keyword (Python is parsed only after one, see
    `_python_needs_parse`), so keywords and then patterns decide, as they do for a file; the
    exception is a key prefix split off a Python literal, which only libcst joins. An endpoint
    match counts only where its own line could make it one (`_may_be_endpoint`): a URL in a
    comment or in prose on an added line is never an endpoint, whatever the rest of the file
    holds. Whether the file is client-side is left to the scan of the whole file.
    """
    python = suffix_of(path.lower()) in PYTHON_SUFFIXES
    code: bytes | None = None  # `text` without its comments' tails, once an endpoint rule asks
    code_lowered = b""
    for rule in plan.rules:
        if present.isdisjoint(rule.keywords):
            continue
        if rule.kind == "endpoint":
            if (rule.code_only and is_test_path(path)) or is_prose_file(path):
                continue  # the file scan never applies the rule here
            if code is None:
                code = (PYTHON_COMMENT_TAIL if python else COMMENT_TAIL).sub(KEEP_CODE, text)
                code_lowered = code.lower()
            for start, end in keyword_windows(code_lowered, rule.keywords):
                for match in rule.pattern.finditer(code, start, end):
                    if _may_be_endpoint(code, match, path, rule, python):
                        return True
            continue
        if (
            python
            and _is_plain_key_rule(rule)
            and _joins_literals(rule)
            and _split_key_prefix(lowered, rule.keywords)
        ):
            return True
        for start, end in keyword_windows(lowered, rule.keywords):
            if rule.pattern.search(text, start, end):
                return True
    return False


# The tail of a line from where a comment plainly starts: no quote or backslash before it, and
# the marker where the endpoint context checks see a comment start (`text._comment_starts`:
# `#` or `//` at the line's start or after a blank, `/*` or `<!--` anywhere; in Python only
# `#`, where `ast` agrees). Nothing in such a tail is an endpoint, so a commit's added lines are
# judged without them (`may_hit`); only in lines shorter than BEFORE_LIMIT, whose whole start
# the file scan's checks read. Group 1 is what stays of the line. Possessive, so each line is
# read once: the marker is the first character the prefix may not take.
COMMENT_TAIL = re.compile(
    rb"(?m)^(?![^\n]{%d})((?:[^\n\"'`\\#/<]++|(?<=[^ \t\n])\#|(?<=[^ \t\n])/(?!\*)|/(?![/*])"
    rb"|<(?!!--))*+)(?://|\#|/\*|<!--)[^\n]*" % BEFORE_LIMIT
)
# What replaces a comment tail: its group 1. A C-level callable, where a `\1` template costs
# a Python-level expansion per match (one per added line of every commit).
KEEP_CODE = operator.methodcaller("group", 1)
PYTHON_COMMENT_TAIL = re.compile(
    rb"(?m)^(?![^\n]{%d})((?:[^\n\"'`\\#]++|(?<=[^ \t\n])\#)*+)\#[^\n]*" % BEFORE_LIMIT
)


def _may_be_endpoint(
    text: bytes, match: re.Match[bytes], path: str, rule: Rule, python: bool
) -> bool:
    """Could this endpoint match on an added line be a finding of the whole file's scan?

    `text` holds whole lines, so the line's own bytes before the URL are what the file scan's
    context checks read (`text.is_endpoint_context`, up to BEFORE_LIMIT bytes back; a longer
    run before the URL is left to the file scan). Those checks only ever rule a URL out, and
    what rules it out on its own line (a comment, prose, a namespace; a comment or example
    region that opens on the line before it) rules it out in the file too. In Python, `ast`
    decides instead once the file is parsed, and it only rules out what a comment holds:
    there a URL counts as settled only when both say no (the text checks decide a file that
    does not parse).
    """
    span = secret_span(match)
    if span is None:
        return False
    start = span[0]
    line_start = text.rfind(b"\n", 0, start) + 1
    if start - line_start >= BEFORE_LIMIT:
        return True
    line_end = text.find(b"\n", start)
    line = text[line_start : len(text) if line_end == -1 else line_end + 1]
    if is_endpoint_context(line, start - line_start, path, rule):
        return True
    if not python:
        return False
    from keyguard.python import comment_before

    return not comment_before(line[: start - line_start])


def _is_plain_key_rule(rule: Rule) -> bool:
    """A rule whose whole match the text regex finds exactly where the syntax tree would."""
    return rule.kind == "secret" and rule.assigned_to is None and rule.check is None


def _is_text_rule(rule: Rule) -> bool:
    """A rule decided on the text alone, in Python too: a key, or a check over the lines around
    a match (`oauth.py`), which spans several literals that no single node of the tree holds.
    """
    return _is_plain_key_rule(rule) or rule.kind == "oauth" or rule.check is not None


def _joins_literals(rule: Rule) -> bool:
    """Is a key of this rule worth a libcst parse to join literals split off its prefix?

    Only for the provider's keys (`sk_live_`, `rk_`: KEY_PREFIX), which code wraps and splits
    (`"sk_live_" "4eC3…"`). Third-party keywords include plain words (`asia` for AWS's ASIA…
    ids, `key-` for Mailgun) that end a literal all the time, and a parse costs a file 100 times
    a text scan; their keys are matched as text, whole.
    """
    return finds_provider_keys(rule)


def _python_needs_parse(hits: Iterable[Hit], index: LineIndex) -> bool:
    """Cheap text checks that decide whether parsing could add a finding.

    `hits` are the text hits of the rules the parsers decide. A file is parsed only when a hit
    survives what text alone can settle: a client-secret assignment whose value is not a
    placeholder, or an http:// URL that starts a string literal and names a non-exempt host.
    """
    for hit in hits:
        if hit.rule.kind == "endpoint":
            before = index.line_text(hit.line)[: hit.column - 1]
            if before.endswith(QUOTES) and not is_exempt_url(hit.secret):
                return True
        elif not is_placeholder_value(hit.secret):
            return True
    return False


def _python_hits(
    data: bytes,
    lowered: bytes,
    present: frozenset[bytes],
    rules: Sequence[Rule],
    path: str,
    index: LineIndex,
    parses: list[tuple[str, float]],
) -> list[Hit]:
    """Python: the parsers where they decide something, the regexes where they agree.

    A whole key in a string, a docstring or a comment is found by its regex exactly where the
    syntax tree would find it, so keys are matched as text unless a key prefix is split off a
    literal (`"sk_live_" "4eC3…"`), which only libcst can join. Endpoints (is the URL a string
    that is not a docstring?) and client secrets (what name is the literal bound to?) need the
    parsers: `ast` for the first, libcst for the second, and only after the text check. The
    text runs once over the file for every rule: its hits are the keys, the parse check's
    input, and the whole answer when the file does not parse.
    """
    plain = [rule for rule in rules if _is_plain_key_rule(rule)]
    text_hits: list[Hit] | None = None
    if any(_split_key_prefix(lowered, rule.keywords) for rule in plain if _joins_literals(rule)):
        checked = [rule for rule in rules if _is_text_rule(rule) and not _is_plain_key_rule(rule)]
        hits: list[Hit] = scan_text(data, checked, path, index, lowered, present) if checked else []
        parsed_rules = [rule for rule in rules if rule not in checked]
        needs_parse = True
    else:
        text_hits = scan_text(data, rules, path, index, lowered, present)
        hits = [hit for hit in text_hits if _is_text_rule(hit.rule)]
        parsed_rules = [rule for rule in rules if not _is_text_rule(rule)]
        needs_parse = bool(parsed_rules) and _python_needs_parse(
            (hit for hit in text_hits if not _is_text_rule(hit.rule)), index
        )
    if needs_parse:
        from keyguard.python import scan_python

        parsed = scan_python(data, parsed_rules, parses)
        if parsed is None:
            logger(__name__).debug("%s: not valid Python, scanned as text", path)
            if text_hits is None:
                text_hits = scan_text(data, rules, path, index, lowered, present)
            return text_hits
        hits.extend(parsed)
    return hits


def match_file(
    path: str,
    data: bytes,
    lowered: bytes,
    present: frozenset[bytes],
    plan: ScanPlan,
    secrets: list[str] | None = None,
) -> FileResult:
    """Match, filter and redact one file whose bytes hold the keywords in `present`.

    `secrets`, when given, receives the raw secret of each finding, in order (see
    `engine.scan_source`).
    """
    python = suffix_of(path.lower()) in PYTHON_SUFFIXES
    rules = _candidate_rules(data, present, plan, path, python)
    if not rules:
        return FileResult(stats=CANDIDATE)
    index = LineIndex(data)
    parses: list[tuple[str, float]] = []
    if python:
        hits = _python_hits(data, lowered, present, rules, path, index, parses)
        if any(hit.rule.kind == "oauth" for hit in hits):
            from keyguard.python import string_statement_lines

            prose = string_statement_lines(data, parses)
            hits = [hit for hit in hits if hit.rule.kind != "oauth" or hit.line not in prose]
    else:
        hits = scan_text(data, rules, path, index, lowered, present)
    stats = _stats(parses)
    if not python:  # Python files had their rules narrowed to their context already
        hits = _in_context(hits, data, path, plan, index)
    if any(hit.rule.check is not None for hit in hits):
        hits = _one_finding_per_value(hits)
    if not hits:
        return FileResult(stats=stats)
    matches = []
    seen: set[tuple[str, int, int, str]] = set()
    for hit in hits:
        key = (hit.rule.id, hit.line, hit.column, hit.secret)
        if key in seen:
            continue
        seen.add(key)
        matches.append(
            Match(
                rule=hit.rule,
                location=Location(path, hit.line, hit.column, hit.end_line, hit.end_column),
                secret=hit.secret,
                line_text=index.excerpt(
                    hit.line, hit.column, hit.end_column if hit.end_line == hit.line else None
                ),
                severity=(
                    Severity.NOTE
                    if is_published_docs_key(hit.secret)
                    else plan.severity.get(hit.rule.id, hit.rule.severity)
                ),
                note=hit.note,
            )
        )
    kept = [match for match in matches if keep_match(match, plan.allowlist)]
    suppressed = 0
    if kept and b"keyguard:" in data:
        suppressions = parse_suppressions(
            [index.line_text(line) for line in range(1, index.line_count + 1)]
        )
        before = len(kept)
        kept = [m for m in kept if not suppressions.covers(m.rule.id, m.location.line)]
        suppressed = before - len(kept)
    secrets_by_line: dict[int, list[str]] = {}
    for match in matches:
        if match.rule.kind == "secret":
            for line in range(match.location.line, match.location.end_line + 1):
                secrets_by_line.setdefault(line, []).append(match.secret)
    if any(m.rule.code_only for m in kept) and is_third_party(path, data):
        endpoints = sum(m.rule.kind == "endpoint" for m in kept)
        oauth = sum(m.rule.kind == "oauth" for m in kept)
        kept = [m for m in kept if not m.rule.code_only]
        stats += ScanStats(third_party_endpoints=endpoints, third_party_oauth=oauth)
    findings = tuple(_finding(match, secrets_by_line, plan.show_secrets) for match in kept)
    if secrets is not None:
        secrets.extend(match.secret for match in kept)
    return FileResult(findings=findings, suppressed=suppressed, stats=stats)


def _one_finding_per_value(hits: list[Hit]) -> list[Hit]:
    """Where a checked rule and another rule found the same value, keep the one that says more.

    A redirect URI over http:// is KG404, not also KG301. A provider key in a bearer header is
    KG104, which names the header, not also KG101 (KG201 still says it is in client code); a
    third-party token there (a GitHub token, a JWT) keeps its own rule, which names what it is.
    """
    redirects = {(hit.line, hit.column) for hit in hits if hit.rule.check == "http-redirect"}
    bearers = {(hit.line, hit.column) for hit in hits if hit.rule.check == "bearer-literal"}
    # Rules for any file that find plain values; a KG201 (the key is in client code) stands.
    shared = [
        hit
        for hit in hits
        if hit.rule.kind == "secret"
        and hit.rule.check is None
        and hit.rule.applies_to == "any"
        and (hit.line, hit.column) in bearers
    ]
    provider_keys = {id(hit) for hit in shared if _joins_literals(hit.rule)}  # KG101-KG103
    third_party = {(hit.line, hit.column) for hit in shared if id(hit) not in provider_keys}
    return [
        hit
        for hit in hits
        if id(hit) not in provider_keys
        and not (hit.rule.kind == "endpoint" and (hit.line, hit.column) in redirects)
        and not (hit.rule.check == "bearer-literal" and (hit.line, hit.column) in third_party)
    ]


CANDIDATE = ScanStats(candidates=1)
DOCS_KEY_NOTE = (
    "the provider's published documentation test key, public and shared by every reader of the "
    "docs: not a leak, but use your own test key from the environment"
)


def _stats(parses: Sequence[tuple[str, float]]) -> ScanStats:
    """One candidate file's stats from the (parser, seconds) of its parses."""
    if not parses:
        return CANDIDATE
    ast_seconds = [seconds for parser, seconds in parses if parser == "ast"]
    libcst_seconds = [seconds for parser, seconds in parses if parser == "libcst"]
    return ScanStats(
        candidates=1,
        ast_parses=len(ast_seconds),
        ast_seconds=sum(ast_seconds),
        libcst_parses=len(libcst_seconds),
        libcst_seconds=sum(libcst_seconds),
    )


def _finding(match: Match, secrets_by_line: dict[int, list[str]], show: bool) -> Finding:
    """Turn a match into what reporters see: from here on only the redacted form travels."""
    rule = match.rule
    shown = match.secret if show else redact(match.secret, rule.kind)
    snippet = match.line_text.rstrip()
    if not show:
        snippet = redact_text(snippet, secrets_by_line.get(match.location.line, ()))
    message = f"{rule.summary}: {shown}"
    if match.note:
        message += f" ({match.note})"
    if is_published_docs_key(match.secret):
        message += f" ({DOCS_KEY_NOTE})"
    return Finding(
        rule=rule,
        location=match.location,
        severity=match.severity,
        redacted=shown,
        fingerprint=fingerprint(rule.id, match.location.path, match.secret),
        message=message,
        snippet=snippet,
        secret_digest=secret_digest(match.secret),
    )
