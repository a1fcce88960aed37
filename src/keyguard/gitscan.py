"""Scan what git holds: the index (`scan --staged`), the lines a branch added since a base
(`scan --diff`), and the lines every commit added (`keyguard history`).

A change to a file is worth a look only when its added lines could hold a hit (a rule's keyword,
then its pattern); then the whole file is scanned, so context, parsing and suppressions are
exactly a file scan's, and only the findings that touch an added line are kept.
"""

from __future__ import annotations

import os
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace

from keyguard.config import Config
from keyguard.discover import ConfigPaths
from keyguard.engine import (
    ScanPlan,
    may_hit,
    plan_for,
    report_order,
    resolve_rules,
    scan,
    scan_items,
    scan_source,
)
from keyguard.git import (
    COMMIT_FORMAT,
    PATCH_CONFIG,
    PATCH_OPTIONS,
    Blobs,
    FileDiff,
    Repository,
    parse_patch,
    read_staged,
)
from keyguard.models import Finding, Location, Rule, ScanResult, Skipped
from keyguard.prefilter import backend_from_env
from keyguard.provenance import Commit, Provenance

__all__ = ["annotate", "changed_since", "history", "staged", "still_in_head"]

# After this many changed files a history is long enough that Hyperscan's import (tens of ms)
# pays: it answers a patch's few added lines in about 2 us, the stdlib backend in about 50 us.
LARGE_HISTORY_CHANGES = 256


def staged(
    repository: Repository,
    config: Config,
    *,
    pathspecs: Sequence[str] = (),
    jobs: int | None = None,
    show_secrets: bool = False,
) -> ScanResult:
    """Scan the staged files as the index holds them: exactly what the next commit records."""
    with Blobs(repository, config.max_file_size) as blobs:
        items = read_staged(repository, pathspecs, ConfigPaths(config), blobs)
        # The pool (if any) is shut down inside scan_items, before the blob reader closes.
        return scan_items(items, config, jobs=jobs, show_secrets=show_secrets)


def changed_since(
    repository: Repository,
    base: str,
    config: Config,
    *,
    pathspecs: Sequence[str] = (),
    jobs: int | None = None,
    show_secrets: bool = False,
) -> ScanResult:
    """Scan the work tree, keeping only findings on lines added since commit `base`.

    Untracked files (not ignored) count as added whole. A file git shows as binary has no
    lines: what its version at `base` already held is dropped instead.
    """
    selected = resolve_rules(config)
    plan = plan_for(config, selected, show_secrets=show_secrets)
    added: dict[str, list[int]] = {}
    before: dict[str, set[str]] = {}
    whole: set[str] = set()
    command = [*PATCH_CONFIG, *_size_limit(config), "diff", *PATCH_OPTIONS, base, "--"]
    with (
        repository.stream(*command, *pathspecs) as git,
        Blobs(repository, config.max_file_size) as blobs,
    ):
        for change in parse_patch(git.stdout):
            if not isinstance(change, FileDiff) or not change.is_file:
                continue
            if not change.binary:
                if change.lines:
                    added[change.path] = change.lines
            elif change.old is None:
                whole.add(change.path)
            else:
                old = _scan_blob(change.old, change.path, plan, blobs, None)
                before[change.path] = {finding.fingerprint for finding, _ in old}
    untracked = repository.git("ls-files", "-z", "--others", "--exclude-standard", "--", *pathspecs)
    whole.update(name.decode("utf-8", "surrogateescape") for name in untracked.split(b"\0") if name)
    files = sorted({*added, *before, *whole})
    result = scan(
        [repository.top / name for name in files],
        config,
        jobs=jobs,
        display_root=repository.top,
        show_secrets=show_secrets,
        rules=selected,
    )

    def new(finding: Finding) -> bool:
        path = finding.location.path
        if path in added:
            return _touches(finding.location, added[path])
        if path in before:
            return finding.fingerprint not in before[path]
        return True

    return replace(result, findings=tuple(filter(new, result.findings)))


def history(
    repository: Repository,
    config: Config,
    *,
    revisions: Sequence[str],
    pathspecs: Sequence[str] = (),
    follow: bool = False,
    show_secrets: bool = False,
    rules: Sequence[Rule] | None = None,
    annotated: bool = True,
) -> ScanResult:
    """Scan the lines each commit of `revisions` added (`git log` arguments: commit ids, `A..B`,
    `^A`, `--all`), with the rules, filters and suppressions of a file scan.

    The same secret in the same file is one finding however many commits added it, located as
    the oldest of them (the last that `git log` lists) put it there, with that commit, the count
    and whether HEAD still holds the secret anywhere. Paths are those in that commit, relative to
    the repository's top. Merges count the lines that are new against every parent. Without
    `annotated` messages stay the rule's: `keyguard org` merges the provenance of commit ranges
    first, then words it with `annotate`.
    """
    selected = tuple(rules) if rules is not None else resolve_rules(config)
    if not revisions:  # nothing committed yet
        return ScanResult((), rules=selected, commits_scanned=0, revision=repository.describe())
    plan = plan_for(config, selected, show_secrets=show_secrets)
    plan = replace(plan, prefilter=backend_from_env(plan.prefilter))
    paths = ConfigPaths(config)
    top = f"{repository.top}{os.sep}"  # a str: pathlib per change would cost and intern
    command = [
        *PATCH_CONFIG,
        *_size_limit(config),
        "log",
        *PATCH_OPTIONS,
        "-p",
        "--cc",
        f"--format={COMMIT_FORMAT}",
        *(["--follow"] if follow else []),
        *revisions,
        "--",
        *pathspecs,
    ]
    seen: dict[str, _Seen] = {}
    skipped: set[Skipped] = set()
    commits = changes = 0
    commit: Commit | None = None
    with repository.stream(*command) as git, Blobs(repository, config.max_file_size) as reader:
        blobs = _Scanned(plan, reader)
        counted = _Counted(git.stdout)
        for item in parse_patch(counted):
            if isinstance(item, Commit):
                commit = item
                commits += 1
            elif (
                commit is not None
                and item.is_file
                and (item.lines or item.binary)
                and paths.wanted(top + item.path)
            ):
                changes += 1
                if changes == LARGE_HISTORY_CHANGES:  # now worth importing Hyperscan for
                    plan = replace(plan, prefilter=backend_from_env("auto"))
                    blobs.plan = plan
                for finding, secret in _new_findings(item, plan, blobs, skipped):
                    _remember(seen, finding, secret, commit)
    in_head = _still_in_head(repository, [entry.secret for entry in seen.values()])
    findings = [
        _with_provenance(entry, entry.secret in in_head, annotated) for entry in seen.values()
    ]
    return ScanResult(
        findings=tuple(sorted(findings, key=report_order)),
        skipped=tuple(sorted(skipped, key=lambda s: (s.path, s.reason))),
        files_scanned=changes,
        bytes_scanned=counted.size,
        rules=selected,
        commits_scanned=commits,
        revision=repository.describe(),
    )


def _size_limit(config: Config) -> list[str]:
    # git shows a blob over this size as binary without diffing it: no more than a file scan
    # would read.
    return ["-c", f"core.bigFileThreshold={config.max_file_size}"]


class _Counted:
    """Lines of a stream, counting their bytes: the size of the patch that was scanned."""

    def __init__(self, lines: Iterable[bytes]) -> None:
        self.lines = lines
        self.size = 0

    def __iter__(self) -> Iterator[bytes]:
        for line in self.lines:
            self.size += len(line)
            yield line


def _touches(location: Location, lines: Sequence[int]) -> bool:
    """Does the span cover one of the (ascending) added line numbers?"""
    index = bisect_left(lines, location.line)
    return index < len(lines) and lines[index] <= location.end_line


def _new_findings(
    change: FileDiff, plan: ScanPlan, blobs: _Scanned, skipped: set[Skipped]
) -> list[tuple[Finding, str]]:
    """The findings, with their raw secrets, that one commit's change to one file brought in.

    A text change brings in what touches its added lines. A change git shows as binary (a
    binary blob, one over max_file_size, or text that .gitattributes marks binary) has no
    lines: its blob is read as a file scan reads a file, and what the old blob already held
    is not new.
    """
    if not change.binary:
        if not may_hit(b"".join(change.text), change.path, plan):
            return []
        found = blobs.scan(change.new, change.path, skipped)
        return [pair for pair in found if _touches(pair[0].location, change.lines)]
    found = blobs.scan(change.new, change.path, skipped)
    if not found or change.old is None:
        return found
    old = {finding.fingerprint for finding, _ in blobs.scan(change.old, change.path, None)}
    return [pair for pair in found if pair[0].fingerprint not in old]


def _scan_blob(
    object_id: str | None,
    path: str,
    plan: ScanPlan,
    blobs: Blobs,
    skipped: set[Skipped] | None,
) -> list[tuple[Finding, str]]:
    """Scan one blob as the file `path`; what was passed over goes to `skipped` if given."""
    found, passed_over = _scan_blob_once(object_id, path, plan, blobs)
    if passed_over is not None and skipped is not None:
        skipped.add(passed_over)
    return list(found)


def _scan_blob_once(
    object_id: str | None, path: str, plan: ScanPlan, blobs: Blobs
) -> tuple[tuple[tuple[Finding, str], ...], Skipped | None]:
    """One blob's findings as the file `path`, and why it was passed over (if it was)."""
    if object_id is None:
        return (), None
    source = blobs.source(object_id, path)
    if isinstance(source, Skipped):
        return (), source
    if source is None:
        return (), None
    secrets: list[str] = []
    result = scan_source(source, plan, secrets)
    return tuple(zip(result.findings, secrets, strict=True)), result.skipped


class _Scanned:
    """Blob scans remembered by (blob id, path), so a blob is read and scanned at most once.

    The same content under the same path comes back in a history: the old side of a binary
    change is the new side of the commit before it, a revert restores a blob, `--all` meets
    a cherry-picked change on two branches, and a merge's combined diff names its result
    again. The path is part of the key because findings carry it and context depends on it.
    Only the last CACHED scans are kept, so memory stays flat on any history.
    """

    CACHED = 4096

    def __init__(self, plan: ScanPlan, blobs: Blobs) -> None:
        self.plan = plan
        self.blobs = blobs
        self.done: OrderedDict[
            tuple[str, str], tuple[tuple[tuple[Finding, str], ...], Skipped | None]
        ] = OrderedDict()

    def scan(
        self, object_id: str | None, path: str, skipped: set[Skipped] | None
    ) -> list[tuple[Finding, str]]:
        """Scan one blob as the file `path`; what was passed over goes to `skipped` if given."""
        if object_id is None:
            return []
        key = (object_id, path)
        outcome = self.done.get(key)
        if outcome is None:
            outcome = _scan_blob_once(object_id, path, self.plan, self.blobs)
            self.done[key] = outcome
            if len(self.done) > self.CACHED:
                self.done.popitem(last=False)
        else:
            self.done.move_to_end(key)
        found, passed_over = outcome
        if passed_over is not None and skipped is not None:
            skipped.add(passed_over)
        return list(found)


@dataclass(slots=True)
class _Seen:
    """One secret in one file, as the walk has met it so far."""

    finding: Finding  # where the oldest commit seen so far put it
    secret: str
    commit: Commit
    commits: int
    last: str  # the commit counted last: a commit that adds it twice counts once


def _remember(seen: dict[str, _Seen], finding: Finding, secret: str, commit: Commit) -> None:
    entry = seen.get(finding.fingerprint)
    if entry is None:
        seen[finding.fingerprint] = _Seen(finding, secret, commit, 1, commit.sha)
    elif entry.last != commit.sha:
        # git log lists newer commits first, so this one is the oldest so far.
        entry.finding, entry.commit = finding, commit
        entry.commits += 1
        entry.last = commit.sha


def _still_in_head(repository: Repository, secrets: Sequence[str]) -> set[str]:
    """Which of `secrets` HEAD holds in any file.

    git grep reads the secrets from its stdin: they never appear on a command line, where
    other users of the machine could read them.
    """
    if not secrets or repository.head() is None:
        return set()
    wanted = sorted(set(secrets))
    patterns = "".join(f"{secret}\n" for secret in wanted).encode("utf-8", "surrogateescape")
    out = repository.git(
        "grep",
        "-I",
        "-F",
        "-h",
        "-o",
        "-z",
        "--no-color",
        "-f",
        "-",
        "HEAD",
        "--",
        stdin=patterns,
        ok=(0, 1),
    )
    # Each match is a line (after the line number, when the user's config asks for one).
    matched = {
        record.rpartition(b"\0")[2].decode("utf-8", "surrogateescape")
        for record in out.split(b"\n")
        if record
    }
    # -o prints one match where secrets overlap: a shorter one inside a longer is there too.
    return {secret for secret in wanted if any(secret in match for match in matched)}


def _with_provenance(entry: _Seen, in_head: bool, annotated: bool) -> Finding:
    provenance = Provenance(entry.commit, entry.commits, in_head)
    if not annotated:
        return replace(entry.finding, provenance=provenance)
    return annotate(entry.finding, provenance)


def annotate(finding: Finding, provenance: Provenance) -> Finding:
    """A history finding (its message still the rule's) with where it came from."""
    return replace(finding, message=_message(finding, provenance), provenance=provenance)


def still_in_head(
    repository: Repository,
    config: Config,
    rules: Sequence[Rule],
    wanted: Iterable[tuple[str, str, str]],
) -> set[str]:
    """Which of the findings named by (commit, path, fingerprint) HEAD still holds anywhere.

    For `keyguard org`: a commit range scanned before HEAD moved said "in HEAD" of the HEAD it
    saw. The secret is found again in the blob that commit gave the path, so it never has to
    leave the worker that scanned it.
    """
    plan = plan_for(config, rules, show_secrets=False)
    secrets: dict[str, str] = {}
    with Blobs(repository, config.max_file_size) as reader:
        for commit, path, fingerprint in wanted:
            blob = repository.git("rev-parse", "--verify", "--quiet", f"{commit}:{path}", ok=(0, 1))
            for finding, secret in _scan_blob(
                blob.decode().strip() or None, path, plan, reader, None
            ):
                if finding.fingerprint == fingerprint:
                    secrets[fingerprint] = secret
    in_head = _still_in_head(repository, list(secrets.values()))
    return {fingerprint for fingerprint, secret in secrets.items() if secret in in_head}


def _message(finding: Finding, provenance: Provenance) -> str:
    """The finding's message with where it came from, and for a secret what to do about it."""
    commit = provenance.commit
    origin = f"added in {commit.short} on {commit.day} by {commit.author}"
    if provenance.commits > 1:
        origin += f", in {provenance.commits} commits"
    state = "still in HEAD" if provenance.in_head else "not in HEAD"
    message = f"{finding.message} ({origin}; {state})"
    if finding.rule.kind != "secret":
        return message
    if provenance.in_head:
        return f"{message}. Revoke and rotate it, then remove it: removing it alone is not enough"
    return f"{message}. Revoke and rotate it: the history still holds it for anyone with a clone"
