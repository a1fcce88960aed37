"""Run the rules over discovered files: prefilter, match, filter, redact; in-process or in a pool.

The prefilter is where the speed is: a file whose lowercased bytes hold no keyword of any enabled
rule costs one pass and nothing else, and libcst is imported only when a Python file still has a
candidate after the cheap text checks.
"""

from __future__ import annotations

import codecs
import os
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from keyguard.config import Config, ConfigError
from keyguard.discover import IgnoreTally, Pending, discover, read_file
from keyguard.logs import logger
from keyguard.models import (
    INTERNAL_ERROR,
    Finding,
    Rule,
    ScanResult,
    ScanStats,
    Severity,
    Skipped,
    Source,
)
from keyguard.prefilter import Backend, StdlibPrefilter, backend_from_env, prefilter_for
from keyguard.ruleset import RuleError, builtin_rules, load_rule_file

if TYPE_CHECKING:
    import multiprocessing
    import multiprocessing.context
    from multiprocessing.process import BaseProcess

    from keyguard.context import ContextRules
    from keyguard.progress import Progress

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


BOM_FIRST_BYTES = frozenset({b"\xef", b"\xff", b"\xfe", b"\x00"})
IN_PROCESS_MAX_FILES = 64  # below this a pool costs more to start than it saves
CHUNK_FILES = 64  # small enough that no core waits long for the last chunk of a run
WORKER_CHUNKS_AHEAD = 8


@dataclass(frozen=True, slots=True)
class ScanPlan:
    """Everything scanning one file needs; small and picklable, sent once to each worker.

    `prefilter` names the backend (see `prefilter.py`): `scan()` picks `auto` (Hyperscan when it
    loads) for large scans and keeps the stdlib one for a handful of files, where importing
    Hyperscan would cost more than it saves. Either way the findings are the same.
    """

    rules: tuple[Rule, ...]
    severity: dict[str, Severity] = field(default_factory=dict)
    allowlist: tuple[re.Pattern[str], ...] = ()
    context: ContextRules | None = None  # the config's client/server path overrides
    show_secrets: bool = False
    prefilter: Backend = "stdlib"
    # Derived from `rules`, never passed in.
    keywords: tuple[bytes, ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        keywords = {keyword.lower() for rule in self.rules for keyword in rule.keywords}
        object.__setattr__(self, "keywords", tuple(sorted(keywords)))

    def present_keywords(self, data: bytes) -> tuple[frozenset[bytes], bytes]:
        """The keywords in `data`, and `data` lowercased when any occurs (else empty)."""
        prefilter = prefilter_for(self.keywords, self.prefilter)
        if isinstance(prefilter, StdlibPrefilter):
            lowered = data.lower()
            present = prefilter.present_in_lowered(lowered)
            return present, lowered if present else b""
        present = prefilter.present(data)
        return present, data.lower() if present else b""


@dataclass(frozen=True, slots=True)
class FileResult:
    """One file's outcome: findings, how many the suppressions dropped, or why it failed."""

    findings: tuple[Finding, ...] = ()
    suppressed: int = 0
    skipped: Skipped | None = None
    scanned_bytes: int | None = None  # set when the file was read and scanned
    stats: ScanStats | None = None  # set for a candidate (a file the prefilter let through)


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
        context=_context_rules(config),
        show_secrets=show_secrets,
    )


def _context_rules(config: Config) -> ContextRules | None:
    if not config.client_paths and not config.server_paths:
        return None
    from keyguard.context import ContextRules

    return ContextRules.from_globs(config.client_paths, config.server_paths)


def normalise(data: bytes) -> bytes:
    """UTF-16/32 with a BOM become UTF-8 and a UTF-8 BOM goes, so offsets map to lines."""
    if data[:1] not in BOM_FIRST_BYTES:  # nearly every file: one slice, one set lookup
        return data
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


def scan_source(source: Source, plan: ScanPlan, secrets: list[str] | None = None) -> FileResult:
    """Scan one file. Never raises: an internal error becomes a warning for that file.

    The prefilter runs here; only a file with a candidate pays for the matching stage
    (`match.py`), and only the first such file of a run pays for importing it. `secrets`, when
    given, receives the raw secret of each finding, in order: the history scan asks git where a
    secret still is with them. They stay in the engine, never in a report.
    """
    try:
        data = normalise(source.data)
        present, lowered = plan.present_keywords(data)
        if not present:
            return FileResult()
        from keyguard.match import match_file

        return match_file(source.path, data, lowered, present, plan, secrets)
    except Exception as error:
        logger(__name__).debug("internal error scanning %s", source.path, exc_info=True)
        # The exception's text could quote file content (a secret): name its type only.
        reason = f"{INTERNAL_ERROR}{type(error).__name__} (a keyguard bug: please report it)"
        return FileResult(skipped=Skipped(source.path, reason, "warning"))


# --- running many files ---------------------------------------------------------------------

Work = Pending | Source  # a file to read and scan, or one already in memory (from git)


def read_and_scan(item: Work, plan: ScanPlan, limit: int) -> FileResult | None:
    """Read one discovered file (if not in memory yet) and scan it; None for an empty file."""
    source = item if isinstance(item, Source) else read_file(item, limit)
    if source is None:
        return None
    if isinstance(source, Skipped):
        return FileResult(skipped=source)
    result = scan_source(source, plan)
    return FileResult(
        result.findings, result.suppressed, result.skipped, len(source.data), result.stats
    )


@dataclass(frozen=True, slots=True)
class ChunkResult:
    """What a worker sends back for a chunk: totals, plus the files that have something to say.

    Most files of a tree have no finding: sending one object per file back through the pipe
    cost the main process more than walking the tree.
    """

    files: int
    size: int
    notable: list[FileResult]
    stats: ScanStats


def _summarise(results: Iterable[FileResult | None]) -> ChunkResult:
    files = size = 0
    notable: list[FileResult] = []
    stats = ScanStats()
    for result in results:
        if result is None:
            continue
        if result.scanned_bytes is not None:
            files += 1
            size += result.scanned_bytes
        if result.stats is not None:
            stats += result.stats
        if result.findings or result.suppressed or result.skipped is not None:
            notable.append(FileResult(result.findings, result.suppressed, result.skipped))
    return ChunkResult(files, size, notable, stats)


Task = tuple[str, str] | Source  # (path, display) of a file to read, or one in memory


def _scan_chunk_with(chunk: list[Task], plan: ScanPlan, limit: int) -> ChunkResult:
    return _summarise(
        read_and_scan(task if isinstance(task, Source) else Pending(*task), plan, limit)
        for task in chunk
    )


def _chunks(items: Iterable[Work]) -> Iterator[list[Task]]:
    """Plain (path, display) tuples, the cheapest thing to pickle, CHUNK_FILES at a time."""
    chunk: list[Task] = []
    for item in items:
        chunk.append(item if isinstance(item, Source) else (item.path, item.display))
        if len(chunk) >= CHUNK_FILES:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS and Windows
        return max(1, os.cpu_count() or 1)


def _pool_context() -> multiprocessing.context.ForkContext | multiprocessing.context.DefaultContext:
    import multiprocessing

    # fork starts workers in milliseconds and shares the loaded rules; elsewhere use the default.
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


def _run_pool(
    items: Iterable[Work], plan: ScanPlan, limit: int, jobs: int
) -> Iterator[ChunkResult]:
    """Scan on `jobs` cores: `jobs - 1` worker processes, and this process between walk steps.

    All processes take chunks from one bounded queue that the walk fills. When the queue is
    full the workers are busy, and this process scans the chunk in hand itself; when the walk
    is over it takes chunks from the queue like any worker. So every core scans until the
    queue is empty, and no process ends up waiting for chunks committed to another (a
    process pool hands each worker its next chunks in advance: on the benchmark tree that idle
    tail was a tenth of a --jobs 2 run).
    """
    import queue

    # No preparation before the fork: each process imports the matching stage and builds its
    # prefilter on its first chunk, the workers while this process is still walking.
    context = _pool_context()
    tasks: multiprocessing.Queue[list[Task] | None] = context.Queue(
        maxsize=(jobs - 1) * WORKER_CHUNKS_AHEAD
    )
    results: multiprocessing.Queue[ChunkResult | str] = context.Queue()
    workers = [
        context.Process(
            target=_worker, args=(tasks, results, plan, limit), name=f"keyguard-{n}", daemon=True
        )
        for n in range(1, jobs)
    ]
    for worker in workers:
        worker.start()
    queued = 0  # chunks on the queue or with a worker whose result has not come back
    done = False  # every result came back: the workers have their end markers and are exiting
    try:
        for chunk in _chunks(items):
            while queued and not results.empty():
                queued -= 1
                yield _received(results.get())
            try:
                tasks.put_nowait(chunk)
                queued += 1
            except queue.Full:
                yield _scan_chunk_with(chunk, plan, limit)
        while True:  # the walk is over: empty the queue alongside the workers
            try:
                chunk_or_end = tasks.get_nowait()
            except queue.Empty:
                break
            if chunk_or_end is not None:
                queued -= 1
                yield _scan_chunk_with(chunk_or_end, plan, limit)
        for _ in workers:
            tasks.put(None)
        while queued:
            queued -= 1
            yield _received(_next_result(results, workers))
        done = True
    finally:
        if not done:
            # An error, Ctrl-C or an abandoned scan: chunks still queued will never be read,
            # so exiting must not wait to flush them, and a worker may be waiting for chunks or
            # an end marker that will never come. Nobody waits for their results.
            tasks.cancel_join_thread()
            for worker in workers:
                if worker.is_alive():
                    worker.terminate()
        for worker in workers:
            worker.join()


def _worker(
    tasks: multiprocessing.Queue[list[Task] | None],
    results: multiprocessing.Queue[ChunkResult | str],
    plan: ScanPlan,
    limit: int,
) -> None:
    """A worker process: scan chunks until the end marker; report a crash instead of dying."""
    try:
        while (chunk := tasks.get()) is not None:
            results.put(_scan_chunk_with(chunk, plan, limit))
    except KeyboardInterrupt:
        pass
    except BaseException as error:  # scan_source never raises: this is a keyguard bug
        results.put(type(error).__name__)


def _received(result: ChunkResult | str) -> ChunkResult:
    if isinstance(result, str):
        raise RuntimeError(f"a worker process failed: {result}")
    return result


def _next_result(
    results: multiprocessing.Queue[ChunkResult | str], workers: Sequence[BaseProcess]
) -> ChunkResult | str:
    """The next result; an error, not a hang, if every worker died without sending it."""
    import queue

    while True:
        try:
            return results.get(timeout=0.5)
        except queue.Empty:
            if not any(worker.is_alive() for worker in workers):
                return "a worker exited unexpectedly"


def _in_process(items: Iterable[Work], plan: ScanPlan, limit: int) -> Iterator[ChunkResult]:
    for item in items:
        yield _summarise([read_and_scan(item, plan, limit)])


def scan(
    paths: Sequence[Path],
    config: Config,
    *,
    jobs: int | None = None,
    display_root: Path | None = None,
    show_secrets: bool = False,
    rules: Sequence[Rule] | None = None,
    prefilter: Backend | None = None,
    progress: Progress | None = None,
) -> ScanResult:
    """Discover, scan and filter; the result is sorted and ready for any reporter."""
    tally = IgnoreTally()
    found = discover(paths, config, display_root=display_root, defer_reads=True, tally=tally)
    result = scan_items(
        found,
        config,
        jobs=jobs,
        show_secrets=show_secrets,
        rules=rules,
        prefilter=prefilter,
        progress=progress,
    )
    # scan_items has exhausted the discovery iterator: the tally is complete.
    return replace(result, gitignored_files=tally.files, gitignored_directories=tally.directories)


def scan_items(
    items: Iterable[Source | Pending | Skipped],
    config: Config,
    *,
    jobs: int | None = None,
    show_secrets: bool = False,
    rules: Sequence[Rule] | None = None,
    prefilter: Backend | None = None,
    progress: Progress | None = None,
) -> ScanResult:
    """Scan files discovered on disk (`Pending`) or already in memory (`Source`, from git).

    `Skipped` items pass straight into the result. A handful of files is scanned in process;
    more go to `jobs` processes (see `_run_pool`). `prefilter` forces a backend (tests); by
    default Hyperscan serves large scans and the stdlib a handful of files, unless
    `KEYGUARD_PREFILTER` says otherwise.
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
                if progress is not None:
                    progress.discovered()
                yield item
        if progress is not None:
            progress.discovery_done()

    stream = work()
    first: list[Work] = []
    for item in stream:
        first.append(item)
        if len(first) > IN_PROCESS_MAX_FILES:
            break
    large = len(first) > IN_PROCESS_MAX_FILES  # worth importing Hyperscan for
    backend = prefilter or backend_from_env("auto" if large else "stdlib")
    if backend != plan.prefilter:
        plan = replace(plan, prefilter=backend)
    chunks: Iterable[ChunkResult]
    if jobs == 1 or not large:  # (jobs == 2 is one worker process plus this one)
        chunks = _in_process(_chain(first, stream), plan, limit)
    else:
        chunks = _run_pool(_chain(first, stream), plan, limit, jobs)
    findings: list[Finding] = []
    suppressed = files = size = 0
    stats = ScanStats()
    try:
        for chunk in chunks:
            files += chunk.files
            size += chunk.size
            stats += chunk.stats
            if progress is not None:  # skipped files are done too (empty ones are not counted)
                passed = sum(1 for result in chunk.notable if result.skipped is not None)
                progress.scanned(chunk.files + passed, chunk.size)
            for result in chunk.notable:
                findings.extend(result.findings)
                suppressed += result.suppressed
                if result.skipped is not None:
                    skipped.append(result.skipped)
    finally:
        if progress is not None:
            progress.finish()  # the report must start on a clean line
    findings.sort(key=report_order)
    return ScanResult(
        findings=tuple(findings),
        skipped=tuple(sorted(skipped, key=lambda s: s.path)),
        files_scanned=files,
        bytes_scanned=size,
        suppressed=suppressed,
        rules=selected,
        stats=stats,
        prefilter=prefilter_for(plan.keywords, plan.prefilter).name,
    )


def report_order(finding: Finding) -> tuple[str, int, int, str]:
    """Findings are reported by path, line, column and rule id."""
    loc = finding.location
    return (loc.path, loc.line, loc.column, finding.rule.id)


def _chain(first: list[Work], rest: Iterator[Work]) -> Iterator[Work]:
    yield from first
    yield from rest


def may_hit(text: bytes, path: str, plan: ScanPlan) -> bool:
    """Could these lines of the file `path` hold a hit? Asked of the lines a commit added, before
    the whole file is read (see `match.may_hit`)."""
    present, lowered = plan.present_keywords(text)
    if not present:
        return False
    from keyguard.match import may_hit as candidate_may_hit

    return candidate_may_hit(text, lowered, present, path, plan)


def scan_bytes(path: str, data: bytes, plan: ScanPlan) -> tuple[Finding, ...]:
    """Scan one in-memory file; rule examples and `keyguard rules --check` use this."""
    result = scan_source(Source(path, data), plan)
    if result.skipped is not None:
        raise RuntimeError(result.skipped.reason)
    return result.findings
