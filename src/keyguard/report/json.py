"""Machine-readable report: one stable JSON document (schema `version` 1)."""

from __future__ import annotations

import json
from collections import Counter
from typing import IO, TYPE_CHECKING, Any

from keyguard import __version__
from keyguard.models import Finding, ScanResult, Severity, Skipped

if TYPE_CHECKING:  # only annotations: the reports of plain scans never load these modules
    from keyguard.baseline import BaselineOutcome
    from keyguard.provenance import Provenance

__all__ = ["SCHEMA_VERSION", "to_dict", "write"]

# Bump when a field is renamed or removed; adding a field keeps the version.
SCHEMA_VERSION = 1


def to_dict(result: ScanResult) -> dict[str, Any]:
    """The report as plain data, findings and skipped files in the order the engine gave them.

    `baseline` is there only when the scan used one: how many findings it suppressed, and its
    stale entries (rule id, path relative to the baseline's directory, line).
    """
    document = {
        "version": SCHEMA_VERSION,
        "tool": {"name": "keyguard", "version": __version__},
        "summary": _summary(result),
        "findings": [_finding(finding) for finding in result.findings],
        "skipped": [_skipped(entry) for entry in result.skipped],
    }
    if result.baseline is not None:
        document["baseline"] = _baseline(result.baseline)
    return document


def write(result: ScanResult, stream: IO[str]) -> None:
    """Write the document with 2-space indent and a trailing newline.

    The same result always gives byte-identical output (no timestamps, no absolute paths, keys
    in a fixed order), so reports can be diffed and committed. Non-ASCII is escaped so the
    document survives any stream encoding (a Windows console, a pipe) unchanged.
    """
    stream.write(json.dumps(to_dict(result), indent=2, ensure_ascii=True) + "\n")


def _summary(result: ScanResult) -> dict[str, Any]:
    levels = Counter(finding.severity for finding in result.findings)
    rules = Counter(finding.rule.id for finding in result.findings)
    history = {} if result.commits_scanned is None else {"commits_scanned": result.commits_scanned}
    return {
        **history,
        "files_scanned": result.files_scanned,
        "bytes_scanned": result.bytes_scanned,
        "findings": len(result.findings),
        # Every level, even at zero: consumers can read a count without checking for the key.
        "by_level": {level.value: levels[level] for level in Severity},
        "by_rule": dict(sorted(rules.items())),
        "suppressed": result.suppressed,
        "skipped": len(result.skipped),
        # Untracked paths an ignore file kept out of the walk (counted, never read).
        "gitignored": {
            "files": result.gitignored_files,
            "directories": result.gitignored_directories,
        },
    }


def _finding(finding: Finding) -> dict[str, Any]:
    loc = finding.location
    history = {} if finding.provenance is None else {"commit": _commit(finding.provenance)}
    return {
        "rule_id": finding.rule.id,
        "rule_name": finding.rule.name,
        "level": finding.severity.value,
        "path": loc.path,
        "line": loc.line,
        "column": loc.column,
        "end_line": loc.end_line,
        "end_column": loc.end_column,
        "message": finding.message,
        "redacted": finding.redacted,
        "snippet": finding.snippet,
        "fingerprint": finding.fingerprint,
        **history,
    }


def _commit(provenance: Provenance) -> dict[str, Any]:
    """A history finding's origin: the first commit that added it, and what became of it."""
    commit = provenance.commit
    return {
        "sha": commit.sha,
        "short": commit.short,
        "author": commit.author,
        "email": commit.email,
        "date": commit.date,
        "commits": provenance.commits,
        "in_head": provenance.in_head,
    }


def _baseline(outcome: BaselineOutcome) -> dict[str, Any]:
    return {
        "suppressed": outcome.suppressed,
        "stale": [
            {"rule_id": entry.rule_id, "path": entry.path, "line": entry.line}
            for entry in outcome.stale
        ],
    }


def _skipped(entry: Skipped) -> dict[str, Any]:
    return {"path": entry.path, "reason": entry.reason, "level": entry.level}
