"""Scan many repositories (`keyguard org`): tasks on local processes or Dask.

A task runs where it is scheduled: it clones a URL there if need be, scans the tree, or with
`history` one range of a local clone's commits (a URL's whole history), and returns findings
as reporters see them (redacted, fingerprinted), never a raw secret. Finished tasks go to a
state directory as they arrive, so a re-run does only what is left. Dask is imported here
only, and only for a Dask executor: a plain user pays for no dependency they do not use.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from keyguard.config import Config
from keyguard.engine import report_order, resolve_rules, scan
from keyguard.models import Finding, Location, Rule
from keyguard.provenance import Revision

__all__ = [
    "DEFAULT_RANGE_SIZE",
    "Outcome",
    "RepoTask",
    "SourceError",
    "expand_sources",
    "inside",
    "join_parts",
    "merge",
    "plan_ranges",
    "run_org",
    "scan_repository",
    "state_key",
]

DASK_RETRIES = 2  # a task whose worker dies is run again this many times
# Commits per history task: big enough that a range costs far more than starting its task,
# small enough that one huge repository keeps every worker busy and a new commit is cheap.
DEFAULT_RANGE_SIZE = 500


class SourceError(ValueError):
    """A SOURCES argument that names no repository: a usage error, not a failed task."""


@dataclass(frozen=True, slots=True)
class RepoTask:
    """One task: a repository's report name, where git finds it (a path or a URL), and what of
    it to scan.

    `part` is `all` (the work tree, and with `history` every commit: one task per repository),
    `range` (the commits reachable from `until` and not from `since`; from the root when
    `since` is None) or `tree` (the work tree, the last range, and whether HEAD still holds the
    secrets named in `recheck`: (commit, path, fingerprint) of ranges stored before HEAD moved).
    The tree goes with the last range so that a small repository is still one task.
    """

    name: str
    location: str
    history: bool = False
    part: str = "all"
    since: str | None = None
    until: str | None = None
    recheck: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a task sends back: redacted findings and counts, or why the repository failed.

    A `range` task's findings (a `tree` task's `past`) are its repository's, paths not yet
    under its name, with their provenance in that range and the rule's message; `in_head` is
    a `tree` task's answer to its `recheck`. `run_org` merges a repository's parts into one
    `all` outcome.
    """

    name: str
    findings: tuple[Finding, ...] = ()
    files: int = 0
    commits: int | None = None
    error: str | None = None
    revision: Revision | None = None  # the repository and the HEAD that was scanned
    task: RepoTask | None = None
    in_head: frozenset[str] = frozenset()
    past: tuple[Finding, ...] = ()


def _is_url(text: str) -> bool:
    return "://" in text or (text.endswith(".git") and ":" in text and not Path(text).exists())


def _is_repository(path: Path) -> bool:
    return (path / ".git").exists() or ((path / "HEAD").is_file() and (path / "objects").is_dir())


def expand_sources(sources: Sequence[str], *, history: bool = False) -> list[RepoTask]:
    """Repositories from local clones, directories of clones, and files listing paths or URLs.

    Names are the last path component (without `.git`), numbered where two repositories share
    one, so every finding's path says which repository it is in.
    """
    locations: list[str] = []
    for source in sources:
        path = Path(source)
        if _is_url(source):
            locations.append(source)
        elif path.is_dir() and _is_repository(path):
            locations.append(str(path.resolve()))
        elif path.is_dir():
            clones = sorted(child for child in path.iterdir() if child.is_dir())
            locations.extend(str(c.resolve()) for c in clones if _is_repository(c))
        elif path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                entry = line.strip()
                if entry and not entry.startswith("#"):
                    local = Path(entry) if Path(entry).is_absolute() else path.parent / entry
                    locations.append(entry if _is_url(entry) else str(local.resolve()))
        else:
            raise SourceError(f"not a repository, a directory of clones or a list: {source}")
    tasks: list[RepoTask] = []
    used: set[str] = set()
    for location in locations:
        base = location.rstrip("/").rpartition("/")[2].removesuffix(".git") or "repository"
        name, number = base, 1
        while name in used:
            number += 1
            name = f"{base}-{number}"
        used.add(name)
        tasks.append(RepoTask(name, location, history))
    return tasks


def _git(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        check=False,
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
    )


def _reason(process: subprocess.CompletedProcess[bytes], what: str) -> str:
    lines = process.stderr.decode("utf-8", "replace").strip().splitlines()
    # git's first `fatal:` line says what went wrong; the lines after it are advice.
    fatal = [line for line in lines if line.startswith("fatal:")]
    return f"{what}: {(fatal or lines or [f'git exited with {process.returncode}'])[0]}"


def remote_head(task: RepoTask) -> str | None:
    """The commit the repository's HEAD names (asked of the remote for a URL); None if unknown."""
    if _is_url(task.location):
        process = _git("ls-remote", task.location, "HEAD")
    else:
        process = _git("rev-parse", "--verify", "--quiet", "HEAD", cwd=Path(task.location))
    if process.returncode != 0 or not process.stdout.strip():
        return None
    return process.stdout.split()[0].decode("ascii", "replace")


def ruleset_hash(config: Config | None, rules: Sequence[Rule]) -> str:
    """What decides a task's findings besides the repository (whose HEAD holds its own config):
    the rules, keyguard's version and a config given for every repository."""
    from keyguard import __version__

    digest = hashlib.sha256(__version__.encode())
    for rule in rules:
        digest.update(f"{rule.id}\0{rule.regex}\0{rule.severity.name}\0".encode())
    if config is not None:
        digest.update(repr(replace(config, root=Path())).encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def state_key(task: RepoTask, head: str | None, rules_digest: str) -> str | None:
    """The name a finished task has in the state directory; None when HEAD is unknown.

    `<repository and rules>/<part>.<commits>.task`: a range is named by its two ends alone, so
    it stays finished whatever HEAD becomes; the other parts by the HEAD they scanned.
    """
    if task.part == "range":
        name = f"range.{task.since or 'root'}.{task.until}"
    elif head is None:
        return None
    else:
        name = f"{task.part}.{task.history}.{head}"
    text = f"{task.location}\0{rules_digest}"
    return f"{hashlib.sha256(text.encode('utf-8', 'surrogateescape')).hexdigest()}/{name}"


def plan_ranges(
    top: Path, size: int, known: frozenset[str] = frozenset()
) -> list[tuple[str | None, str]]:
    """Split the history HEAD reaches into (since, until) ranges of about `size` commits each.

    Ends are commits of HEAD's first-parent chain, oldest first, so `since..until` ranges
    cover every commit exactly once: a merge's range holds the commits it brought in. A range
    ends where it reaches `size` commits (more only when one merge brings in more) or at a
    commit in `known`, an end already stored: after new commits the old ranges stay as they
    were, and only the new commits make a new one.
    """
    process = _git("rev-list", "--parents", "HEAD", cwd=top)
    if process.returncode != 0:
        return []
    parents: dict[str, list[str]] = {}
    for line in process.stdout.decode("ascii").splitlines():
        first, *rest = line.split()
        parents[first] = rest
    chain: list[str] = []
    commit: str | None = next(iter(parents), None)  # rev-list lists HEAD first
    while commit is not None:
        chain.append(commit)
        commit = parents[commit][0] if parents[commit] else None
    ranges: list[tuple[str | None, str]] = []
    since: str | None = None
    seen: set[str] = set()
    count = 0
    for end in reversed(chain):
        stack = [end]
        while stack:  # the commits this one reaches that no earlier one did
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                count += 1
                stack.extend(parents.get(current, ()))
        if count >= size or end in known or end == chain[0]:
            ranges.append((since, end))
            since, count = end, 0
    return ranges


def scan_repository(task: RepoTask, config: Config | None) -> Outcome:
    """Scan one repository (or one part of it) where this runs (a worker); never raises, never
    returns a secret.

    A URL is cloned into a temporary directory that goes when the task ends. Without `config`
    the repository's own config applies (as `keyguard scan` in it would find it); a given one
    applies to every repository, its paths relative to each repository's top.
    """
    from keyguard import gitscan
    from keyguard.config import ConfigError, load_config
    from keyguard.git import GitError, open_repository

    clone: Path | None = None
    try:
        if _is_url(task.location):
            clone = Path(tempfile.mkdtemp(prefix="keyguard-org-"))
            process = _git("clone", "--quiet", task.location, str(clone / "r"))
            if process.returncode != 0:
                return Outcome(task.name, error=_reason(process, "clone failed"), task=task)
            top = clone / "r"
        else:
            top = Path(task.location)
        repository = open_repository(top)
        if config is None:
            config = load_config(repository.top)
        else:
            config = replace(config, root=repository.top)
        rules = resolve_rules(config)
        past_range: tuple[Finding, ...] = ()
        commits = None
        if task.part != "all" and task.until is not None:
            revisions = [*([f"^{task.since}"] if task.since else []), task.until]
            walk = gitscan.history(
                repository, config, revisions=revisions, rules=rules, annotated=False
            )
            past_range, commits = walk.findings, walk.commits_scanned
            if task.part == "range":
                return Outcome(task.name, past_range, commits=commits, task=task)
        tree = scan([repository.top], config, jobs=1, display_root=repository.top, rules=rules)
        findings = list(tree.findings)
        in_head: frozenset[str] = frozenset()
        if task.part == "tree" and task.recheck:
            in_head = frozenset(gitscan.still_in_head(repository, config, rules, task.recheck))
        elif task.part == "all" and task.history:
            head = repository.head()
            past = gitscan.history(
                repository, config, revisions=[head] if head else [], rules=rules
            )
            commits = past.commits_scanned
            findings = _with_history(findings, past.findings)
        return Outcome(
            task.name,
            _under(task.name, findings) if task.part == "all" else tuple(findings),
            tree.files_scanned,
            commits,
            revision=repository.describe(),
            task=task,
            in_head=in_head,
            past=past_range,
        )
    except (GitError, ConfigError) as error:
        return Outcome(task.name, error=str(error), task=task)
    except Exception as error:
        # The text of an unexpected error could quote scanned content: name its type only.
        return Outcome(task.name, error=f"internal error: {type(error).__name__}", task=task)
    finally:
        if clone is not None:
            shutil.rmtree(clone, ignore_errors=True)


def _with_history(tree: Sequence[Finding], past: Sequence[Finding]) -> list[Finding]:
    """One finding per secret and file: the history's, which says where it came from."""
    known = {finding.fingerprint for finding in past}
    return [f for f in tree if f.fingerprint not in known] + list(past)


def join_parts(tree: Outcome, ranges: Sequence[Outcome]) -> Outcome:
    """A repository's outcome from its `tree` part (with the newest range) and its older
    `range` parts (oldest first), as one `all` task would have found it: a secret added in
    several ranges is one finding, located where the oldest range put it, counting the commits
    of every range. Whether HEAD holds it is the tree part's answer for ranges stored before
    HEAD moved, else the range's own."""
    from keyguard.gitscan import annotate
    from keyguard.provenance import Provenance

    rechecked = {fingerprint for _, _, fingerprint in tree.task.recheck} if tree.task else set()
    ranges = [*ranges, Outcome(tree.name, tree.past, commits=tree.commits)]
    merged: dict[str, tuple[Finding, Provenance]] = {}
    for part in ranges:
        for finding in part.findings:
            assert finding.provenance is not None
            provenance = finding.provenance
            if finding.fingerprint in rechecked:
                provenance = replace(provenance, in_head=finding.fingerprint in tree.in_head)
            first = merged.get(finding.fingerprint)
            if first is None:
                merged[finding.fingerprint] = (finding, provenance)
            else:
                commits = first[1].commits + provenance.commits
                in_head = first[1].in_head or provenance.in_head
                merged[finding.fingerprint] = (
                    first[0],
                    replace(first[1], commits=commits, in_head=in_head),
                )
    past = [annotate(finding, provenance) for finding, provenance in merged.values()]
    commits = sum(part.commits or 0 for part in ranges)
    findings = _with_history(tree.findings, past)
    return replace(
        tree,
        findings=_under(tree.name, findings),
        commits=commits,
        task=replace(tree.task, part="all") if tree.task else None,
        in_head=frozenset(),
        past=(),
    )


def _under(name: str, findings: Sequence[Finding]) -> tuple[Finding, ...]:
    """Findings with their paths inside the repository's name: one report holds many."""
    moved = [replace(f, location=_prefixed(f.location, name)) for f in findings]
    return tuple(sorted(moved, key=report_order))


def _prefixed(location: Location, name: str) -> Location:
    return replace(location, path=f"{name}/{location.path}")


TaskRunner = Callable[[RepoTask, "Config | None"], Outcome]
Tag = tuple[int, int, "str | None"]  # a part's repository, its place there, its state key


def run_org(
    tasks: Sequence[RepoTask],
    config: Config | None,
    *,
    executor: str = "local",
    jobs: int | None = None,
    state: Path | None = None,
    runner: TaskRunner = scan_repository,
    range_size: int = DEFAULT_RANGE_SIZE,
) -> Iterator[Outcome]:
    """Run every task not already in `state`; yield one outcome per repository as its last part
    finishes (wholly stored ones first).

    `executor` is `local` (processes on this machine), `dask-local` (a Dask LocalCluster, for
    testing) or `dask://HOST:PORT` (a running scheduler). A local clone's history is split into
    ranges of about `range_size` commits (0: one task per repository), each its own task. Each
    finished, successful part is written to `state` atomically before anything is yielded, so
    a killed run loses none.
    """
    if executor not in ("local", "dask-local") and not executor.startswith("dask://"):
        raise SourceError(f"unknown executor '{executor}' (local, dask-local or dask://HOST:PORT)")
    digest = ruleset_hash(config, resolve_rules(config or Config(root=Path())))
    plans: list[list[RepoTask]] = []
    done: list[dict[int, Outcome]] = []
    pending: list[tuple[RepoTask, Tag]] = []
    for number, task in enumerate(tasks):
        parts = _parts(task, state, digest, range_size)
        head = remote_head(task) if state is not None else None
        keys = [state_key(part, head, digest) if state is not None else None for part in parts]
        stored = {i: o for i, key in enumerate(keys) if (o := _load(state, key)) is not None}
        if parts[0].part == "tree" and 0 not in stored:
            # Ranges stored before HEAD moved said "in HEAD" of an older HEAD: ask again.
            recheck = tuple(
                (f.provenance.commit.sha, f.location.path, f.fingerprint)
                for i in sorted(stored)
                for f in stored[i].findings
                if f.provenance is not None
            )
            parts[0] = replace(parts[0], recheck=recheck)
        plans.append(parts)
        done.append(stored)
        if len(stored) == len(parts):
            yield _joined(plans[number], stored)
        pending.extend(
            (part, (number, i, keys[i])) for i, part in enumerate(parts) if i not in stored
        )
    if not pending:
        return
    if executor == "local":
        outcomes = _run_local(pending, config, jobs, runner)
    else:
        outcomes = _run_dask(pending, config, executor, jobs, runner)
    for outcome, (number, place, key) in outcomes:
        if outcome.error is None and outcome.task is not None and outcome.task.part == "tree":
            # The last range, stored alone too: after a new commit it is an older range. A run
            # killed between this file and the tree's left it whole; it is not written again.
            last = Outcome(outcome.name, outcome.past, commits=outcome.commits, task=outcome.task)
            range_key = state_key(replace(outcome.task, part="range"), None, digest)
            _store(state, range_key, last, keep_existing=True)
        if outcome.error is None:
            _store(state, key, outcome)
        done[number][place] = outcome
        if len(done[number]) == len(plans[number]):
            yield _joined(plans[number], done[number])


def _parts(task: RepoTask, state: Path | None, digest: str, size: int) -> list[RepoTask]:
    """The tasks one repository is scanned in: its tree with the newest range, then the older
    ranges (oldest first), for a local clone's history; else the one task it is."""
    if not task.history or size <= 0 or _is_url(task.location):
        return [task]
    known: set[str] = set()
    stem = state_key(replace(task, part="range"), None, digest)
    if state is not None and stem is not None:
        directory = state / stem.partition("/")[0]
        names = directory.glob("range.*.task") if directory.is_dir() else ()
        known = {name.name.split(".")[2] for name in names}
    ranges = plan_ranges(Path(task.location), size, frozenset(known))
    if not ranges:  # no commits yet, or not a repository: the one task says why
        return [task]
    tree = replace(task, part="tree", since=ranges[-1][0], until=ranges[-1][1])
    return [tree, *(replace(task, part="range", since=a, until=b) for a, b in ranges[:-1])]


def _joined(parts: Sequence[RepoTask], outcomes: dict[int, Outcome]) -> Outcome:
    """A repository's outcome from its parts' (the first failure if any part failed)."""
    ordered = [outcomes[i] for i in range(len(parts))]
    failed = next((o for o in ordered if o.error is not None), None)
    if failed is not None:
        return replace(failed, findings=(), task=parts[0])
    if parts[0].part != "tree":
        return ordered[0]
    return join_parts(ordered[0], ordered[1:])  # the tree's range is the newest


def _load(state: Path | None, key: str | None) -> Outcome | None:
    if state is None or key is None:
        return None
    try:
        # The state directory is keyguard's own, written only by keyguard (see README).
        outcome = pickle.loads((state / f"{key}.task").read_bytes())
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
        return None
    return outcome if isinstance(outcome, Outcome) else None


def _store(
    state: Path | None, key: str | None, outcome: Outcome, *, keep_existing: bool = False
) -> None:
    """Write `outcome` under `key`; with `keep_existing`, a file already there stays (a range
    is named by its two ends and the rules, so what it holds cannot change)."""
    if state is None or key is None:
        return
    from keyguard.atomic import replace_atomically

    path = state / f"{key}.task"
    if keep_existing and path.is_file():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_atomically(path, pickle.dumps(outcome))


def _run_local(
    pending: Sequence[tuple[RepoTask, Tag]],
    config: Config | None,
    jobs: int | None,
    runner: TaskRunner,
) -> Iterator[tuple[Outcome, Tag]]:
    """Local processes: the tasks on `jobs` processes (all cores), results as they finish."""
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    from keyguard.engine import _pool_context, default_jobs

    workers = min(jobs or default_jobs(), len(pending))
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context())
    try:
        futures = {pool.submit(runner, task, config): (task, key) for task, key in pending}
        for future in as_completed(futures):
            task, key = futures[future]
            try:
                yield future.result(), key
            except BrokenProcessPool:
                yield Outcome(task.name, error="a worker process died", task=task), key
    finally:
        # A cancelled run (Ctrl-C, a closed iterator) starts no more tasks; what finished is
        # already in the state directory.
        pool.shutdown(wait=True, cancel_futures=True)


def _run_dask(
    pending: Sequence[tuple[RepoTask, Tag]],
    config: Config | None,
    executor: str,
    jobs: int | None,
    runner: TaskRunner,
) -> Iterator[tuple[Outcome, Tag]]:
    """Dask futures: `client.submit` each task with retries, results as they complete."""
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise SourceError(
            'the Dask executor needs the dask extra: pip install "keyguard[dask]"'
        ) from None
    cluster = None
    if executor == "dask-local":
        from keyguard.engine import default_jobs

        cluster = LocalCluster(
            n_workers=jobs or default_jobs(),
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        )
        client = Client(cluster)
    else:
        client = Client(executor.removeprefix("dask://"), timeout="10s")
    try:
        shared = client.scatter(config, broadcast=True)
        futures = {
            client.submit(runner, task, shared, pure=False, retries=DASK_RETRIES): (task, key)
            for task, key in pending
        }
        for future in as_completed(futures):
            task, key = futures[future]
            try:
                yield future.result(), key
            except Exception as error:
                yield (
                    Outcome(task.name, error=f"task failed: {type(error).__name__}", task=task),
                    key,
                )
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def inside(outcome: Outcome) -> tuple[Finding, ...]:
    """An outcome's findings with paths relative to its repository again (a SARIF run's)."""
    prefix = f"{outcome.name}/"
    return tuple(
        replace(f, location=replace(f.location, path=f.location.path.removeprefix(prefix)))
        for f in outcome.findings
    )


def merge(outcomes: Sequence[Outcome], rules: Sequence[Rule]) -> tuple[Finding, ...]:
    """One report's findings: every repository's, once each, in report order."""
    seen: dict[tuple[str, str], Finding] = {}
    for outcome in outcomes:
        for finding in outcome.findings:
            seen.setdefault((outcome.name, finding.fingerprint), finding)
    return tuple(sorted(seen.values(), key=report_order))
