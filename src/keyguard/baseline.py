"""Baselines: record today's findings, report only new ones, review the old ones over time.

A baseline file is the filter stage's memory. It holds, per finding, the rule id, the path (relative
to the baseline's root: see `Scope`), the line (for people), the fingerprint (no line number, so
moved lines keep it) and a salted hash of the secret (never the secret): sha256 of the file's
random salt followed by the secret's sha256. The salt keeps the hash from being looked up in a
list of leaked keys' hashes; the pair (rule id, salted hash) recognises a finding whose file was
renamed or moved, whose fingerprint (which includes the path) changed.

Reading is lock-free (writes are atomic: a temp file in the same directory, fsync, rename), and
every read-modify-write holds an exclusive lock, so concurrent `update` runs lose nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, NoReturn, TypeVar

from keyguard.atomic import locked, replace_atomically
from keyguard.models import Finding, ScanResult
from keyguard.redact import digest_fingerprint


@dataclass(frozen=True, slots=True)
class StaleEntry:
    """A baseline entry that matched nothing in this scan's scope: what reports may say of it."""

    rule_id: str
    path: str  # posix, relative to the baseline file's directory
    line: int


@dataclass(frozen=True, slots=True)
class BaselineOutcome:
    """What a baseline did to a scan: how many findings it hid, which entries matched nothing."""

    suppressed: int = 0
    stale: tuple[StaleEntry, ...] = ()


__all__ = [
    "DEFAULT_NAME",
    "STATUSES",
    "VERSION",
    "Baseline",
    "BaselineEntry",
    "BaselineError",
    "Changes",
    "Matching",
    "Scope",
    "Status",
    "apply_baseline",
    "dumps",
    "load",
    "match",
    "outside",
    "overwrite",
    "parse",
    "prune",
    "save",
    "scope_for",
    "set_status",
    "transact",
    "update",
]

VERSION = 1
DEFAULT_NAME = ".keyguard-baseline.json"
Status = Literal["unreviewed", "accepted", "false-positive"]
STATUSES: tuple[Status, ...] = ("unreviewed", "accepted", "false-positive")
TOP_KEYS = ("version", "salt", "entries")
ENTRY_KEYS = ("rule_id", "path", "line", "fingerprint", "secret_hash", "status", "reason")
ENTRY_KEY_SET = frozenset(ENTRY_KEYS)
REQUIRED_KEYS = ENTRY_KEY_SET - {"reason"}
DIGEST_LENGTH = 64
DIGEST = re.compile(r"[0-9a-f]{64}")
HEX_DIGITS = b"0123456789abcdef"
SALT = re.compile(r"^[0-9a-f]{16,128}$")
T = TypeVar("T")


class BaselineError(ValueError):
    """A baseline file that cannot be used; the one-line message names the file."""


@dataclass(frozen=True, slots=True)
class BaselineEntry:
    """One recorded finding. `line` is for people; matching uses the fingerprint and hash."""

    rule_id: str
    path: str  # posix, relative to the baseline's root (see Scope)
    line: int
    fingerprint: str
    secret_hash: str
    status: Status = "unreviewed"
    reason: str | None = None

    @property
    def sort_key(self) -> tuple[str, int, str, str]:
        return (self.path, self.line, self.rule_id, self.fingerprint)

    def stale(self) -> StaleEntry:
        return StaleEntry(self.rule_id, self.path, self.line)


@dataclass(frozen=True, slots=True)
class Baseline:
    """A whole baseline file: format version, the salt of its hashes, entries in file order."""

    version: int
    salt: str
    entries: tuple[BaselineEntry, ...]

    @classmethod
    def new(cls) -> Baseline:
        """An empty baseline with a fresh random salt."""
        import secrets

        return cls(VERSION, secrets.token_hex(16), ())

    def secret_hash(self, digest: str) -> str:
        """The salted hash stored for a secret whose sha256 is `digest`."""
        return hashlib.sha256((self.salt + digest).encode("ascii")).hexdigest()

    def with_entries(self, entries: Sequence[BaselineEntry]) -> Baseline:
        """The same baseline holding `entries`, sorted so that files diff well in review."""
        return replace(self, entries=tuple(sorted(entries, key=lambda entry: entry.sort_key)))


# --- reading and writing ---------------------------------------------------------------------


def _display(path: Path) -> str:
    """Name a file as the user would type it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (OSError, ValueError):
        return str(path)


def load(path: Path) -> Baseline:
    """Read and validate a baseline file; every problem is one BaselineError naming the file."""
    name = _display(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise BaselineError(
            f"{name}: baseline file not found (create one with `keyguard baseline create`)"
        ) from None
    except IsADirectoryError:
        raise BaselineError(f"{name}: baseline file is a directory") from None
    except OSError as error:
        raise BaselineError(f"{name}: cannot read baseline: {error.strerror or error}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BaselineError(f"{name}: baseline is not UTF-8 text") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise BaselineError(
            f"{name}: not valid JSON (line {error.lineno}, column {error.colno})"
        ) from None
    return parse(document, name)


def parse(document: object, name: str) -> Baseline:
    """Validate a decoded baseline document; `name` prefixes every error message."""
    if not isinstance(document, dict):
        raise BaselineError(f"{name}: not a keyguard baseline (expected a JSON object)")
    version = document.get("version")
    if version is None:
        raise BaselineError(f"{name}: no 'version' (is this a keyguard baseline?)")
    if version != VERSION or isinstance(version, bool):
        shown = json.dumps(version)
        raise BaselineError(f"{name}: unknown version {shown} (this keyguard reads version 1)")
    unknown = sorted(set(document) - set(TOP_KEYS))
    if unknown:
        raise BaselineError(f"{name}: unknown key '{unknown[0]}'")
    salt = document.get("salt")
    if not isinstance(salt, str) or not SALT.match(salt):
        raise BaselineError(f"{name}: 'salt' must be a string of hex digits")
    items = document.get("entries")
    if not isinstance(items, list):
        raise BaselineError(f"{name}: 'entries' must be a list")
    entries: list[BaselineEntry] = []
    for number, item in enumerate(items, start=1):
        entries.append(_entry(item) or _invalid_entry(item, f"{name}: entry {number}"))
    if not _all_hex("".join(entry.fingerprint + entry.secret_hash for entry in entries)):
        for number, entry in enumerate(entries, start=1):
            if not (_is_digest(entry.fingerprint) and _is_digest(entry.secret_hash)):
                _invalid_entry(items[number - 1], f"{name}: entry {number}")
    seen: dict[str, int] = {}
    for number, entry in enumerate(entries, start=1):
        first = seen.setdefault(entry.fingerprint, number)
        if first != number:
            raise BaselineError(
                f"{name}: entry {number}: duplicate fingerprint (entry {first} has it too)"
            )
    return Baseline(VERSION, salt, tuple(entries))


def _all_hex(text: str) -> bool:
    """Whether `text` holds only lowercase hex digits.

    Every digest of a baseline is checked in one call: bytes.translate runs about ten times
    faster than a regex, and a pre-commit run may read ten thousand entries.
    """
    return text.isascii() and not text.encode("ascii").translate(None, HEX_DIGITS)


def _is_digest(value: object) -> bool:
    return type(value) is str and DIGEST.fullmatch(value) is not None


def _entry(item: object) -> BaselineEntry | None:
    """A valid entry, checked quickly (a pre-commit run may read ten thousand); else None.

    The digests' characters are checked by the caller, for all entries at once.
    """
    if type(item) is not dict or len(item) - ("reason" in item) != len(REQUIRED_KEYS):
        return None
    if not item.keys() <= ENTRY_KEY_SET:
        return None
    rule_id, path, line = item["rule_id"], item["path"], item["line"]
    fingerprint, secret_hash = item["fingerprint"], item["secret_hash"]
    status, reason = item["status"], item.get("reason")
    if (
        type(rule_id) is str
        and rule_id
        and type(path) is str
        and path
        and type(line) is int
        and line > 0
        and type(fingerprint) is str
        and len(fingerprint) == DIGEST_LENGTH
        and type(secret_hash) is str
        and len(secret_hash) == DIGEST_LENGTH
        and status in STATUSES
        and (reason is None or type(reason) is str)
    ):
        return BaselineEntry(rule_id, path, line, fingerprint, secret_hash, status, reason or None)
    return None


def _invalid_entry(item: object, where: str) -> NoReturn:
    """Say what is wrong with an entry `_entry` refused."""
    if not isinstance(item, dict):
        raise BaselineError(f"{where}: must be an object")
    unknown = sorted(set(item) - ENTRY_KEY_SET)
    if unknown:
        raise BaselineError(f"{where}: unknown key '{unknown[0]}'")
    for key in ENTRY_KEYS:
        if key not in item and key in REQUIRED_KEYS:
            raise BaselineError(f"{where}: missing '{key}'")
    rule_id, path, line = item["rule_id"], item["path"], item["line"]
    if not isinstance(rule_id, str) or not rule_id:
        raise BaselineError(f"{where}: 'rule_id' must be a rule id such as KG101")
    if not isinstance(path, str) or not path:
        raise BaselineError(f"{where}: 'path' must be a file path")
    if type(line) is not int or line < 1:
        raise BaselineError(f"{where}: 'line' must be a positive integer")
    for key in ("fingerprint", "secret_hash"):
        if not _is_digest(item[key]):
            raise BaselineError(f"{where}: '{key}' must be 64 lowercase hex digits")
    if item["status"] not in STATUSES:
        raise BaselineError(f"{where}: 'status' must be one of: {', '.join(STATUSES)}")
    raise BaselineError(f"{where}: 'reason' must be a string")


def dumps(baseline: Baseline) -> str:
    """The file's text: entries sorted, two-space indent, ASCII, trailing newline.

    The same baseline always gives the same bytes, and one new finding adds one block, so
    baseline changes read well in review.
    """
    entries = []
    for entry in sorted(baseline.entries, key=lambda entry: entry.sort_key):
        item: dict[str, Any] = {
            "rule_id": entry.rule_id,
            "path": entry.path,
            "line": entry.line,
            "fingerprint": entry.fingerprint,
            "secret_hash": entry.secret_hash,
            "status": entry.status,
        }
        if entry.reason:
            item["reason"] = entry.reason
        entries.append(item)
    document = {"version": baseline.version, "salt": baseline.salt, "entries": entries}
    return json.dumps(document, indent=2, ensure_ascii=True) + "\n"


def save(path: Path, baseline: Baseline) -> None:
    """Write the baseline atomically: an interrupted run leaves the old file whole, never half."""
    replace_atomically(path, dumps(baseline).encode("ascii"))


def overwrite(path: Path, baseline: Baseline) -> None:
    """Replace whatever is at `path` (even a broken file), under the lock: `create --force`."""
    with locked(path):
        save(path, baseline)


def transact(path: Path, change: Callable[[Baseline | None], tuple[Baseline | None, T]]) -> T:
    """Read, change and write the baseline at `path` under its lock; return what `change` says.

    `change` receives None when there is no file yet; the file is written only when the
    baseline it returns differs from the one read (None: leave the file alone).
    """
    with locked(path):
        current = load(path) if os.path.lexists(path) else None
        updated, outcome = change(current)
        if updated is not None and updated != current:
            save(path, updated)
        return outcome


# --- where a scan looked ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scope:
    """Where a scan looked, in the baseline's frame: paths there are relative to `root`.

    The root is the config file's directory (the one `exclude` is relative to), or the
    baseline file's own directory when there is no config. Findings' paths are relative to
    `display_root` (the working directory) or absolute; the baseline's are relative to its
    root, so `keyguard scan sub/` run from anywhere meets the same entries.

    `targets` are the scanned paths in the baseline's frame ("" is the whole root). Only
    entries under a target can be stale: pre-commit scans a few files, and an entry for a file
    it did not scan says nothing. `exists` tells whether an entry's file is still there; it is
    asked only about a possible rename, so a pre-commit run with a large baseline costs no stat
    per entry.
    """

    root: str
    display_root: str
    targets: tuple[str, ...]
    exists: Callable[[str], bool]
    # Derived from `targets`: asked once per entry, so precomputed.
    whole: bool = field(init=False, default=False)
    prefixes: tuple[str, ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "whole", "" in self.targets)
        object.__setattr__(self, "prefixes", tuple(f"{target}/" for target in self.targets))

    def key_path(self, path: str) -> str | None:
        """A finding's path in the baseline's frame; None when outside the baseline's root."""
        # os.path, not pathlib: this runs once per finding, and a PurePath costs microseconds.
        absolute = os.path.normpath(os.path.join(self.display_root, path))  # noqa: PTH118
        if absolute == self.root:
            return ""
        prefix = self.root.rstrip(os.sep) + os.sep
        if not absolute.startswith(prefix):
            return None
        return absolute[len(prefix) :].replace(os.sep, "/")

    def covers(self, path: str) -> bool:
        """Whether `path` (in the baseline's frame) is a target or lies under one."""
        return self.whole or path in self.targets or path.startswith(self.prefixes)


def scope_for(
    root_dir: Path, targets: Sequence[Path], *, display_root: Path | None = None
) -> Scope:
    """The scope of a scan of `targets` (as given on the command line), `root_dir` its root."""
    root = os.path.normpath(root_dir.absolute().resolve())
    shown = os.path.normpath((display_root or Path.cwd()).resolve())
    scope = Scope(root=root, display_root=shown, targets=(), exists=lambda _: True)
    keys = []
    for target in targets:
        key = _target_key(scope, target)
        if key is not None:
            keys.append(key)
    base = Path(root)
    return replace(scope, targets=tuple(keys), exists=lambda key: os.path.lexists(base / key))


def _absolutes(target: Path) -> tuple[str, str]:
    """A target as typed (made absolute) and with symlinks resolved."""
    return os.path.normpath(target.absolute()), os.path.normpath(target.resolve())


def _target_key(scope: Scope, target: Path) -> str | None:
    """A scanned path in the baseline's frame: "" when it holds the whole root, None outside."""
    for absolute in _absolutes(target):
        key = scope.key_path(absolute)
        if key is not None:
            return key
        if scope.root.startswith(absolute.rstrip(os.sep) + os.sep):
            return ""  # a directory above the root: everything in the baseline is in scope
    return None


def outside(scope: Scope, targets: Sequence[Path]) -> list[Path]:
    """The targets not inside the baseline's root: the baseline could not name all their files."""
    return [
        target
        for target in targets
        if all(scope.key_path(absolute) is None for absolute in _absolutes(target))
    ]


# --- matching ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Keyed:
    """A finding in the baseline's frame: its path, fingerprint and salted secret hash there."""

    finding: Finding
    path: str
    fingerprint: str
    secret_hash: str


@dataclass(frozen=True, slots=True)
class Matching:
    """The outcome of matching one scan's findings against a baseline.

    `entries[i]` is the entry that finding `i` is (None: a new finding, or one outside the
    baseline's root); `keyed[i]` is the finding in the baseline's frame (None: outside).
    `stale` are the entries under the scan's targets, for rules that ran, that nothing matched.
    """

    keyed: tuple[Keyed | None, ...]
    entries: tuple[BaselineEntry | None, ...]
    stale: tuple[BaselineEntry, ...]


def _keyed(finding: Finding, scope: Scope, baseline: Baseline) -> Keyed | None:
    path = scope.key_path(finding.location.path)
    if not path:
        return None
    if not finding.secret_digest:  # built without the engine: only its own fingerprint is known
        return Keyed(finding, path, finding.fingerprint, "")
    return Keyed(
        finding,
        path,
        digest_fingerprint(finding.rule.id, path, finding.secret_digest),
        baseline.secret_hash(finding.secret_digest),
    )


def match(result: ScanResult, baseline: Baseline, scope: Scope) -> Matching:
    """Decide which findings the baseline already holds, and which of its entries are stale.

    A finding is baselined when its fingerprint is an entry's (lines may have moved). Else,
    when an entry with the same rule and salted secret hash matched nothing and its file is
    gone or was scanned, the finding is that entry after a rename or move: one such entry per
    new path, paired in path order. A changed secret changes the hash, so it is new.
    """
    keyed = [_keyed(finding, scope, baseline) for finding in result.findings]
    by_fingerprint = {entry.fingerprint: entry for entry in baseline.entries}
    assigned: list[BaselineEntry | None] = [
        None if key is None else by_fingerprint.get(key.fingerprint) for key in keyed
    ]
    used = {entry.fingerprint for entry in assigned if entry is not None}

    # Findings no entry holds, grouped by what a rename keeps: rule id and salted hash.
    unmatched: dict[tuple[str, str], dict[str, list[int]]] = {}
    for index, key in enumerate(keyed):
        if key is not None and key.secret_hash and assigned[index] is None:
            paths = unmatched.setdefault((key.finding.rule.id, key.secret_hash), {})
            paths.setdefault(key.path, []).append(index)
    if unmatched:
        orphans: dict[tuple[str, str], list[BaselineEntry]] = {}
        for entry in baseline.entries:
            group = (entry.rule_id, entry.secret_hash)
            if (
                group in unmatched
                and entry.fingerprint not in used
                and (scope.covers(entry.path) or not scope.exists(entry.path))
            ):
                orphans.setdefault(group, []).append(entry)
        for group, entries in orphans.items():
            new_paths = sorted(unmatched[group])
            for entry, path in zip(sorted(entries, key=lambda e: e.path), new_paths, strict=False):
                used.add(entry.fingerprint)
                for index in unmatched[group][path]:
                    assigned[index] = entry

    # Entries for rules that did not run, or under files and directories that were skipped,
    # were not looked for: not finding them says nothing.
    ran = {rule.id for rule in result.rules} or None
    skipped = tuple(filter(None, (scope.key_path(entry.path) for entry in result.skipped)))
    skipped_under = tuple(f"{path}/" for path in skipped)
    stale = tuple(
        entry
        for entry in baseline.entries
        if entry.fingerprint not in used
        and scope.covers(entry.path)
        and (ran is None or entry.rule_id in ran)
        and entry.path not in skipped
        and not entry.path.startswith(skipped_under)
    )
    return Matching(tuple(keyed), tuple(assigned), stale)


def apply_baseline(result: ScanResult, baseline: Baseline, scope: Scope) -> ScanResult:
    """The filter stage: keep only new findings; say how many were hidden and what is stale.

    Every baselined finding is hidden whatever its review status: a baseline means "fail only
    on new ones"; statuses are for the people reviewing it.
    """
    matching = match(result, baseline, scope)
    kept = tuple(
        finding
        for finding, entry in zip(result.findings, matching.entries, strict=True)
        if entry is None
    )
    outcome = BaselineOutcome(
        suppressed=len(result.findings) - len(kept),
        stale=tuple(entry.stale() for entry in matching.stale),
    )
    return replace(result, findings=kept, baseline=outcome)


# --- changing a baseline ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Changes:
    """What `update` did: entries added and moved (renamed file), and how many are stale."""

    added: int = 0
    moved: int = 0
    stale: int = 0
    entries: int = 0


def update(baseline: Baseline, result: ScanResult, scope: Scope) -> tuple[Baseline, Changes]:
    """Add the scan's new findings as unreviewed entries; keep every entry's status and reason.

    Entries that matched move with their finding (path and fingerprint after a rename, line
    after edits above it); stale entries stay until `prune` removes them.
    """
    matching = match(result, baseline, scope)
    lines: dict[str, int] = {}  # fingerprint in the baseline's frame -> first line found
    moves: dict[str, Keyed] = {}  # matched entry's fingerprint -> its finding now
    new: dict[str, BaselineEntry] = {}
    for key, old in zip(matching.keyed, matching.entries, strict=True):
        if key is None or not key.secret_hash:  # outside the root, or not from the engine
            continue
        line = key.finding.location.line
        lines[key.fingerprint] = min(line, lines.get(key.fingerprint, line))
        if old is not None:
            moves[old.fingerprint] = key
        elif key.fingerprint not in new:
            new[key.fingerprint] = BaselineEntry(
                key.finding.rule.id, key.path, line, key.fingerprint, key.secret_hash
            )
    entries: list[BaselineEntry] = []
    moved = 0
    for entry in baseline.entries:
        key = moves.get(entry.fingerprint)
        if key is None:
            entries.append(entry)
            continue
        moved += key.fingerprint != entry.fingerprint
        entries.append(
            replace(entry, path=key.path, fingerprint=key.fingerprint, line=lines[key.fingerprint])
        )
    entries.extend(replace(entry, line=lines[fp]) for fp, entry in new.items())
    changes = Changes(
        added=len(new),
        moved=moved,
        stale=len(matching.stale),
        entries=len(entries),
    )
    return baseline.with_entries(entries), changes


def prune(baseline: Baseline, result: ScanResult, scope: Scope) -> tuple[Baseline, int]:
    """Remove the entries that matched nothing in the scan's scope; return how many went."""
    stale = {entry.fingerprint for entry in match(result, baseline, scope).stale}
    kept = [entry for entry in baseline.entries if entry.fingerprint not in stale]
    return baseline.with_entries(kept), len(stale)


def set_status(
    baseline: Baseline, fingerprint: str, status: Status, reason: str | None
) -> tuple[Baseline, bool]:
    """Record a review decision; False when the entry is gone (pruned meanwhile)."""
    entries = list(baseline.entries)
    for index, entry in enumerate(entries):
        if entry.fingerprint == fingerprint:
            entries[index] = replace(entry, status=status, reason=reason or None)
            return baseline.with_entries(entries), True
    return baseline, False
