"""Run the rules over discovered files: prefilter, match, filter, redact; in-process or in a pool.

The prefilter is where the speed is: a file whose lowercased bytes hold no keyword of any enabled
rule costs one pass and nothing else, and libcst is imported only when a Python file still has a
candidate after the cheap text checks.
"""

from __future__ import annotations

import codecs
import logging
import os
import re
import sys
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from keyguard.config import Config, ConfigError
from keyguard.context import (
    PUBLIC_BUILD_VARIABLE,
    ContextRules,
    is_client_side,
    is_test_path,
    may_assign_build_variables,
    public_build_assignment,
    suffix_of,
)
from keyguard.discover import Pending, discover, read_file
from keyguard.filters import (
    is_exempt_url,
    is_placeholder_value,
    keep_match,
    parse_suppressions,
)
from keyguard.lines import LineIndex
from keyguard.models import (
    INTERNAL_ERROR,
    Finding,
    Hit,
    Location,
    Match,
    Rule,
    ScanResult,
    Severity,
    Skipped,
    Source,
)
from keyguard.redact import fingerprint, redact, redact_text
from keyguard.ruleset import RuleError, builtin_rules, load_rule_file
from keyguard.text import keyword_windows, scan_text

if TYPE_CHECKING:
    import multiprocessing.context
    from concurrent.futures import Future

__all__ = [
    "FileResult",
    "ScanPlan",
    "may_hit",
    "plan_for",
    "report_order",
    "resolve_rules",
    "scan",
    "scan_items",
    "scan_source",
]

log = logging.getLogger(__name__)

PYTHON_SUFFIXES = frozenset({".py", ".pyi", ".pyw"})
IN_PROCESS_MAX_FILES = 64  # below this a pool costs more to start than it saves
CHUNK_BYTES = 4 * 1024 * 1024
CHUNK_FILES = 256
QUOTES = ('"', "'")
IDENTIFIER_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789_")


@dataclass(frozen=True, slots=True)
class ScanPlan:
    """Everything scanning one file needs; small and picklable, sent once to each worker."""

    rules: tuple[Rule, ...]
    severity: dict[str, Severity] = field(default_factory=dict)
    allowlist: tuple[re.Pattern[str], ...] = ()
    context: ContextRules = field(default_factory=ContextRules)
    show_secrets: bool = False
    # Derived from `rules` (see `anchor_groups`), never passed in.
    anchors: tuple[tuple[bytes, tuple[bytes, ...]], ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        keywords = {keyword for rule in self.rules for keyword in rule.keywords}
        object.__setattr__(self, "anchors", anchor_groups(keywords))

    def present_keywords(self, lowered: bytes) -> set[bytes]:
        """The keywords in `lowered`: one pass per anchor, more only where an anchor occurs."""
        present: set[bytes] = set()
        for anchor, members in self.anchors:
            if anchor in lowered:
                present.update(member for member in members if member in lowered)
        return present


ANCHOR_MIN = 3


def anchor_groups(keywords: Iterable[bytes]) -> tuple[tuple[bytes, tuple[bytes, ...]], ...]:
    """Group keywords under a shared prefix (`sk_live_`, `sk_test_` under `sk_`).

    Every file is searched for every anchor, so fewer anchors mean fewer passes over all the
    bytes of a tree; a group's members are searched only in files where the anchor occurs.
    """
    groups: dict[bytes, list[bytes]] = {}
    for keyword in sorted(set(keywords)):
        groups.setdefault(keyword[:ANCHOR_MIN], []).append(keyword)
    anchors: list[tuple[bytes, tuple[bytes, ...]]] = []
    for members in groups.values():
        anchor = members[0]
        for member in members[1:]:
            while not member.startswith(anchor):
                anchor = anchor[:-1]
        anchors.append((anchor, tuple(members)))
    return tuple(anchors)


@dataclass(frozen=True, slots=True)
class FileResult:
    """One file's outcome: findings, how many the suppressions dropped, or why it failed."""

    findings: tuple[Finding, ...] = ()
    suppressed: int = 0
    skipped: Skipped | None = None
    scanned_bytes: int | None = None  # set when the file was read and scanned


def resolve_rules(config: Config) -> tuple[Rule, ...]:
    """Built-in plus `extra_rules`, narrowed by `enable` / `disable`; unknown ids are errors."""
    rules = list(builtin_rules())
    for path in config.extra_rules:
        try:
            rules.extend(load_rule_file(path))
        except RuleError as error:
            raise ConfigError(f"{config.source or path}: extra_rules: {error}") from None
    known = {rule.id for rule in rules}
    if len(known) != len(rules):
        raise ConfigError(f"{config.source}: extra_rules: a rule id is defined twice")
    for key, ids in (
        ("enable", config.enable),
        ("disable", config.disable),
        ("severity", tuple(config.severity)),
    ):
        unknown = [rule_id for rule_id in ids if rule_id not in known]
        if unknown:
            raise ConfigError(f"{config.source}: {key}: unknown rule id '{unknown[0]}'")
    selected = [
        rule
        for rule in rules
        if (not config.enable or rule.id in config.enable) and rule.id not in config.disable
    ]
    return tuple(sorted(selected, key=lambda rule: rule.id))


def plan_for(config: Config, rules: Sequence[Rule], *, show_secrets: bool = False) -> ScanPlan:
    return ScanPlan(
        rules=tuple(rules),
        severity=dict(config.severity),
        allowlist=tuple(config.allowlist),
        context=ContextRules.from_globs(config.client_paths, config.server_paths),
        show_secrets=show_secrets,
    )


def normalise(data: bytes) -> bytes:
    """UTF-16/32 with a BOM become UTF-8 and a UTF-8 BOM goes, so offsets map to lines."""
    for bom, encoding in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            try:
                return data.decode(encoding).encode("utf-8", "surrogatepass")
            except UnicodeError:
                return data
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :]
    return data


def _candidate_rules(
    data: bytes, lowered: bytes, plan: ScanPlan, path: str
) -> tuple[list[Rule], bool]:
    """Rules whose keyword occurs (case-insensitively) and whose context fits the file.

    The flag says that client rules were kept for a server file only because it assigns public
    build variables (`REACT_APP_…=`): their hits then count on those lines alone.
    """
    present = plan.present_keywords(lowered)
    if not present:
        return [], False
    rules = [rule for rule in plan.rules if not present.isdisjoint(rule.keywords)]
    if any(rule.code_only for rule in rules) and is_test_path(path):
        rules = [rule for rule in rules if not rule.code_only]
    public_only = False
    if any(rule.applies_to != "any" for rule in rules):
        client = is_client_side(path, data, plan.context)
        wanted = {"any", "client" if client else "server"}
        if not client and may_assign_build_variables(path) and PUBLIC_BUILD_VARIABLE.search(data):
            wanted.add("client")
            public_only = True
        rules = [rule for rule in rules if rule.applies_to in wanted]
    return rules, public_only


def _split_key_prefix(lowered: bytes, keywords: Iterable[bytes]) -> bool:
    """A key prefix that starts a token and ends a string (`"sk_live_" "4eC3…"`, `"rk_" + b`).

    Only the syntax tree can join such pieces, so a file holding one is worth a parse.
    """
    for keyword in keywords:
        position = lowered.find(keyword)
        while position != -1:
            end = position + len(keyword)
            starts_token = position == 0 or lowered[position - 1] not in IDENTIFIER_BYTES
            if starts_token and lowered[end : end + 1] in (b'"', b"'"):
                return True
            position = lowered.find(keyword, end)
    return False


def may_hit(text: bytes, path: str, plan: ScanPlan) -> bool:
    """Could these lines of the file `path` hold a hit? Asked of the lines a commit added, before
    the whole file is read.

    Every hit starts as a match of its rule's pattern near a keyword (Python is parsed only
    after one, see `_python_needs_parse`), so keywords and then patterns decide, as they do for
    a file; the exception is a key prefix split off a Python literal, which only libcst joins.
    Whether the file is client-side is left to the scan of the whole file.
    """
    lowered = text.lower()
    present = plan.present_keywords(lowered)
    if not present:
        return False
    python = suffix_of(path.lower()) in PYTHON_SUFFIXES
    for rule in plan.rules:
        if present.isdisjoint(rule.keywords):
            continue
        if rule.pattern is None:
            return True
        if python and _is_plain_key_rule(rule) and _split_key_prefix(lowered, rule.keywords):
            return True
        for start, end in keyword_windows(lowered, rule.keywords):
            if rule.pattern.search(text, start, end):
                return True
    return False


def _is_plain_key_rule(rule: Rule) -> bool:
    """A rule whose whole match the text regex finds exactly where the syntax tree would."""
    return rule.kind == "secret" and rule.assigned_to is None


def _python_needs_parse(
    data: bytes, lowered: bytes, rules: Sequence[Rule], path: str, index: LineIndex
) -> bool:
    """Cheap text checks that decide whether parsing could add a finding for `rules`.

    A file is parsed only when a hit survives what text alone can settle: a client-secret
    assignment whose value is not a placeholder, or an http:// URL that starts a string literal
    and names a non-exempt host.
    """
    for hit in scan_text(data, rules, path, index, lowered):
        if hit.rule.kind == "endpoint":
            before = index.line_text(hit.line)[: hit.column - 1]
            if before.endswith(QUOTES) and not is_exempt_url(hit.secret):
                return True
        elif not is_placeholder_value(hit.secret):
            return True
    return False


def _python_hits(
    data: bytes, lowered: bytes, rules: Sequence[Rule], path: str, index: LineIndex
) -> list[Hit]:
    """Python: the parsers where they decide something, the regexes where they agree.

    A whole key in a string, a docstring or a comment is found by its regex exactly where the
    syntax tree would find it, so keys are matched as text unless a key prefix is split off a
    literal (`"sk_live_" "4eC3…"`), which only libcst can join. Endpoints (is the URL a string
    that is not a docstring?) and client secrets (what name is the literal bound to?) need the
    parsers: `ast` for the first, libcst for the second, and only after the text check.
    """
    plain = [rule for rule in rules if _is_plain_key_rule(rule)]
    if any(_split_key_prefix(lowered, rule.keywords) for rule in plain):
        hits: list[Hit] = []
        parsed_rules = list(rules)
        needs_parse = True
    else:
        hits = scan_text(data, plain, path, index, lowered)
        parsed_rules = [rule for rule in rules if not _is_plain_key_rule(rule)]
        needs_parse = bool(parsed_rules) and _python_needs_parse(
            data, lowered, parsed_rules, path, index
        )
    if needs_parse:
        from keyguard.python import scan_python

        parsed = scan_python(data, parsed_rules)
        if parsed is None:
            log.debug("%s: not valid Python, scanned as text", path)
            return scan_text(data, rules, path, index, lowered)
        hits.extend(parsed)
    return hits


def _hits(
    data: bytes, lowered: bytes, rules: Sequence[Rule], path: str, index: LineIndex
) -> list[Hit]:
    if suffix_of(path.lower()) in PYTHON_SUFFIXES:
        return _python_hits(data, lowered, rules, path, index)
    return scan_text(data, rules, path, index, lowered)


def scan_source(source: Source, plan: ScanPlan, secrets: list[str] | None = None) -> FileResult:
    """Scan one file. Never raises: an internal error becomes a warning for that file.

    `secrets`, when given, receives the raw secret of each finding, in order: the history scan
    asks git where a secret still is with them. They stay in the engine, never in a report.
    """
    try:
        return _scan_source(source, plan, secrets)
    except Exception as error:
        log.debug("internal error scanning %s", source.path, exc_info=True)
        # The exception's text could quote file content (a secret): name its type only.
        reason = f"{INTERNAL_ERROR}{type(error).__name__} (a keyguard bug: please report it)"
        return FileResult(skipped=Skipped(source.path, reason, "warning"))


def _scan_source(source: Source, plan: ScanPlan, secrets: list[str] | None) -> FileResult:
    data = normalise(source.data)
    lowered = data.lower()
    rules, public_only = _candidate_rules(data, lowered, plan, source.path)
    if not rules:
        return FileResult()
    index = LineIndex(data)
    hits = _hits(data, lowered, rules, source.path, index)
    if public_only:
        hits = [
            hit
            for hit in hits
            if hit.rule.applies_to != "client" or public_build_assignment(index.line_text(hit.line))
        ]
    if not hits:
        return FileResult()
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
                location=Location(source.path, hit.line, hit.column, hit.end_line, hit.end_column),
                secret=hit.secret,
                line_text=index.excerpt(
                    hit.line, hit.column, hit.end_column if hit.end_line == hit.line else None
                ),
                severity=plan.severity.get(hit.rule.id, hit.rule.severity),
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
    findings = tuple(_finding(match, secrets_by_line, plan.show_secrets) for match in kept)
    if secrets is not None:
        secrets.extend(match.secret for match in kept)
    return FileResult(findings=findings, suppressed=suppressed)


def _finding(match: Match, secrets_by_line: dict[int, list[str]], show: bool) -> Finding:
    """Turn a match into what reporters see: from here on only the redacted form travels."""
    rule = match.rule
    shown = match.secret if show else redact(match.secret, rule.kind)
    snippet = match.line_text.rstrip()
    if not show:
        snippet = redact_text(snippet, secrets_by_line.get(match.location.line, ()))
    message = f"{rule.summary}: {shown}"
    return Finding(
        rule=rule,
        location=match.location,
        severity=match.severity,
        redacted=shown,
        fingerprint=fingerprint(rule.id, match.location.path, match.secret),
        message=message,
        snippet=snippet,
    )


# --- running many files ---------------------------------------------------------------------

Work = Pending | Source  # a file to read and scan, or one already in memory (from git)

_WORKER_PLAN: tuple[ScanPlan, int] | None = None


def _init_worker(plan: ScanPlan, limit: int) -> None:
    global _WORKER_PLAN  # noqa: PLW0603 - per-process state set once by the pool initializer
    _WORKER_PLAN = (plan, limit)


def read_and_scan(item: Work, plan: ScanPlan, limit: int) -> FileResult | None:
    """Read one discovered file (if not in memory yet) and scan it; None for an empty file."""
    source = item if isinstance(item, Source) else read_file(item, limit)
    if source is None:
        return None
    if isinstance(source, Skipped):
        return FileResult(skipped=source)
    result = scan_source(source, plan)
    return FileResult(result.findings, result.suppressed, result.skipped, len(source.data))


def _scan_chunk(chunk: list[Work]) -> list[FileResult | None]:
    assert _WORKER_PLAN is not None
    plan, limit = _WORKER_PLAN
    return [read_and_scan(item, plan, limit) for item in chunk]


def _chunks(items: Iterable[Work], jobs: int) -> Iterator[list[Work]]:
    """Chunks of about CHUNK_BYTES: few enough to keep IPC cheap, many enough to balance."""
    chunk: list[Work] = []
    size = 0
    for item in items:
        chunk.append(item)
        size += item.size if isinstance(item, Pending) else len(item.data)
        if size >= CHUNK_BYTES or len(chunk) >= CHUNK_FILES:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS and Windows
        return max(1, os.cpu_count() or 1)


def _pool_context() -> multiprocessing.context.BaseContext:
    import multiprocessing

    # fork starts workers in milliseconds and shares the loaded rules; elsewhere use the default.
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


def _run_pool(
    items: Iterable[Work], plan: ScanPlan, limit: int, jobs: int
) -> Iterator[FileResult | None]:
    """Scan in `jobs` processes; results come back in discovery order, a bounded window ahead."""
    # Imported here: a pre-commit run over a handful of files never pays for a pool.
    import concurrent.futures

    with concurrent.futures.ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=_pool_context(),
        initializer=_init_worker,
        initargs=(plan, limit),
    ) as pool:
        pending: deque[Future[list[FileResult | None]]] = deque()
        for chunk in _chunks(items, jobs):
            pending.append(pool.submit(_scan_chunk, chunk))
            while len(pending) > jobs * 4:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()


def scan(
    paths: Sequence[Path],
    config: Config,
    *,
    jobs: int | None = None,
    display_root: Path | None = None,
    show_secrets: bool = False,
    rules: Sequence[Rule] | None = None,
) -> ScanResult:
    """Discover, scan and filter; the result is sorted and ready for any reporter.

    The main process only walks the tree; reading and scanning happen where the work runs, in
    process for a handful of files (pre-commit) and in a pool of `jobs` workers otherwise.
    """
    found = discover(paths, config, display_root=display_root, defer_reads=True)
    return scan_items(found, config, jobs=jobs, show_secrets=show_secrets, rules=rules)


def scan_items(
    items: Iterable[Source | Pending | Skipped],
    config: Config,
    *,
    jobs: int | None = None,
    show_secrets: bool = False,
    rules: Sequence[Rule] | None = None,
) -> ScanResult:
    """Scan files discovered on disk (`Pending`) or already in memory (`Source`, from git).

    `Skipped` items pass straight into the result. A handful of files is scanned in process;
    more go to a pool of `jobs` workers.
    """
    selected = tuple(rules) if rules is not None else resolve_rules(config)
    plan = plan_for(config, selected, show_secrets=show_secrets)
    jobs = default_jobs() if jobs is None else max(1, jobs)
    limit = config.max_file_size
    skipped: list[Skipped] = []

    def work() -> Iterator[Work]:
        for item in items:
            if isinstance(item, Skipped):
                skipped.append(item)
            else:
                yield item

    stream = work()
    first: list[Work] = []
    for item in stream:
        first.append(item)
        if len(first) > IN_PROCESS_MAX_FILES:
            break
    results: Iterable[FileResult | None]
    if jobs == 1 or len(first) <= IN_PROCESS_MAX_FILES:
        results = (read_and_scan(item, plan, limit) for item in _chain(first, stream))
    else:
        results = _run_pool(_chain(first, stream), plan, limit, jobs)
    findings: list[Finding] = []
    suppressed = files = size = 0
    for result in results:
        if result is None:
            continue
        findings.extend(result.findings)
        suppressed += result.suppressed
        if result.skipped is not None:
            skipped.append(result.skipped)
        if result.scanned_bytes is not None:
            files += 1
            size += result.scanned_bytes
    findings.sort(key=report_order)
    return ScanResult(
        findings=tuple(findings),
        skipped=tuple(sorted(skipped, key=lambda s: s.path)),
        files_scanned=files,
        bytes_scanned=size,
        suppressed=suppressed,
        rules=selected,
    )


def report_order(finding: Finding) -> tuple[str, int, int, str]:
    """Findings are reported by path, line, column and rule id."""
    loc = finding.location
    return (loc.path, loc.line, loc.column, finding.rule.id)


def _chain(first: list[Work], rest: Iterator[Work]) -> Iterator[Work]:
    yield from first
    yield from rest


def scan_bytes(path: str, data: bytes, plan: ScanPlan) -> tuple[Finding, ...]:
    """Scan one in-memory file; rule examples and `keyguard rules --check` use this."""
    result = scan_source(Source(path, data), plan)
    if result.skipped is not None:
        raise RuntimeError(result.skipped.reason)
    return result.findings
