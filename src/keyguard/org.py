"""Scan many repositories (`keyguard org`): one task per repository, on local processes or Dask.

A task runs where it is scheduled: it clones a URL there if need be, scans the tree (and with
`history` every commit), and returns findings as reporters see them (redacted, fingerprinted),
never a raw secret. Finished tasks go to a state directory as they arrive, so a re-run does
only what is left. Dask is imported here only, and only for a Dask executor: a plain user pays
for no dependency they do not use.
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
    "Outcome",
    "RepoTask",
    "SourceError",
    "expand_sources",
    "inside",
    "merge",
    "run_org",
    "scan_repository",
    "state_key",
]

DASK_RETRIES = 2  # a task whose worker dies is run again this many times


class SourceError(ValueError):
    """A SOURCES argument that names no repository: a usage error, not a failed task."""


@dataclass(frozen=True, slots=True)
class RepoTask:
    """One repository to scan: its report name and where git finds it (a path or a URL)."""

    name: str
    location: str
    history: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a task sends back: redacted findings and counts, or why the repository failed."""

    name: str
    findings: tuple[Finding, ...] = ()
    files: int = 0
    commits: int | None = None
    error: str | None = None
    revision: Revision | None = None  # the repository and the HEAD that was scanned


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
    """The name a finished task has in the state directory; None when HEAD is unknown."""
    if head is None:
        return None
    text = f"{task.location}\0{task.history}\0{head}\0{rules_digest}"
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def scan_repository(task: RepoTask, config: Config | None) -> Outcome:
    """Scan one repository where this runs (a worker); never raises, never returns a secret.

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
                return Outcome(task.name, error=_reason(process, "clone failed"))
            top = clone / "r"
        else:
            top = Path(task.location)
        repository = open_repository(top)
        if config is None:
            config = load_config(repository.top)
        else:
            config = replace(config, root=repository.top)
        rules = resolve_rules(config)
        tree = scan([repository.top], config, jobs=1, display_root=repository.top, rules=rules)
        findings = list(tree.findings)
        commits = None
        if task.history:
            head = repository.head()
            past = gitscan.history(
                repository, config, revisions=[head] if head else [], rules=rules
            )
            commits = past.commits_scanned
            # One finding per secret and file: the history's, which says where it came from.
            known = {finding.fingerprint for finding in past.findings}
            findings = [f for f in findings if f.fingerprint not in known] + list(past.findings)
        return Outcome(
            task.name,
            _under(task.name, findings),
            tree.files_scanned,
            commits,
            revision=repository.describe(),
        )
    except (GitError, ConfigError) as error:
        return Outcome(task.name, error=str(error))
    except Exception as error:
        # The text of an unexpected error could quote scanned content: name its type only.
        return Outcome(task.name, error=f"internal error: {type(error).__name__}")
    finally:
        if clone is not None:
            shutil.rmtree(clone, ignore_errors=True)


def _under(name: str, findings: Sequence[Finding]) -> tuple[Finding, ...]:
    """Findings with their paths inside the repository's name: one report holds many."""
    moved = [replace(f, location=_prefixed(f.location, name)) for f in findings]
    return tuple(sorted(moved, key=report_order))


def _prefixed(location: Location, name: str) -> Location:
    return replace(location, path=f"{name}/{location.path}")


TaskRunner = Callable[[RepoTask, "Config | None"], Outcome]


def run_org(
    tasks: Sequence[RepoTask],
    config: Config | None,
    *,
    executor: str = "local",
    jobs: int | None = None,
    state: Path | None = None,
    runner: TaskRunner = scan_repository,
) -> Iterator[Outcome]:
    """Run every task not already in `state`; yield outcomes as they finish (stored ones first).

    `executor` is `local` (processes on this machine), `dask-local` (a Dask LocalCluster, for
    testing) or `dask://HOST:PORT` (a running scheduler). Each finished, successful outcome is
    written to `state` atomically before it is yielded, so a killed run loses none.
    """
    digest = ruleset_hash(config, resolve_rules(config or Config(root=Path())))
    pending: list[tuple[RepoTask, str | None]] = []
    for task in tasks:
        key = state_key(task, remote_head(task), digest) if state is not None else None
        stored = _load(state, key)
        if stored is not None:
            yield stored
        else:
            pending.append((task, key))
    if not pending:
        return
    if executor == "local":
        outcomes = _run_local(pending, config, jobs, runner)
    elif executor == "dask-local" or executor.startswith("dask://"):
        outcomes = _run_dask(pending, config, executor, jobs, runner)
    else:
        raise SourceError(f"unknown executor '{executor}' (local, dask-local or dask://HOST:PORT)")
    for outcome, key in outcomes:
        if outcome.error is None:
            _store(state, key, outcome)
        yield outcome


def _load(state: Path | None, key: str | None) -> Outcome | None:
    if state is None or key is None:
        return None
    try:
        # The state directory is keyguard's own, written only by keyguard (see README).
        outcome = pickle.loads((state / f"{key}.task").read_bytes())
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
        return None
    return outcome if isinstance(outcome, Outcome) else None


def _store(state: Path | None, key: str | None, outcome: Outcome) -> None:
    if state is None or key is None:
        return
    from keyguard.atomic import replace_atomically

    state.mkdir(parents=True, exist_ok=True)
    replace_atomically(state / f"{key}.task", pickle.dumps(outcome))


def _run_local(
    pending: Sequence[tuple[RepoTask, str | None]],
    config: Config | None,
    jobs: int | None,
    runner: TaskRunner,
) -> Iterator[tuple[Outcome, str | None]]:
    """Today's local processes: one task per repository, on `jobs` processes (all cores)."""
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
                yield Outcome(task.name, error="a worker process died"), key
    finally:
        # A cancelled run (Ctrl-C, a closed iterator) starts no more tasks; what finished is
        # already in the state directory.
        pool.shutdown(wait=True, cancel_futures=True)


def _run_dask(
    pending: Sequence[tuple[RepoTask, str | None]],
    config: Config | None,
    executor: str,
    jobs: int | None,
    runner: TaskRunner,
) -> Iterator[tuple[Outcome, str | None]]:
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
                yield Outcome(task.name, error=f"task failed: {type(error).__name__}"), key
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
