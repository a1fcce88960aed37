"""SARIF 2.1.0 report, as GitHub code scanning reads it, built with sarif-om's classes."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePath, PurePosixPath
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote

import attr
import sarif_om as om

from keyguard import __version__
from keyguard.models import Finding, Rule, ScanResult, Severity, Skipped

if TYPE_CHECKING:  # only annotations: the reports of plain scans never load these modules
    from keyguard.baseline import BaselineOutcome
    from keyguard.provenance import Revision

__all__ = ["SCHEMA_URI", "SRCROOT", "to_json", "to_sarif", "write"]

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
SRCROOT = "%SRCROOT%"
INFORMATION_URI = "https://github.com/keyguard-dev/keyguard"
FINGERPRINT_KEY = "keyguard/v1"

# GitHub sorts alerts by this number (0-10): 9.0 and up is "critical", 7.0 "high",
# 4.0 "medium", below that "low".
SECURITY_SEVERITY = {Severity.ERROR: "9.0", Severity.WARNING: "6.5", Severity.NOTE: "3.0"}

# Written even when equal to the schema's default ("warning"): readers (jq, dashboards) look
# the level up directly rather than knowing SARIF's defaulting rules.
ALWAYS_WRITTEN = frozenset({"level"})

# RFC 3986 sub-delimiters and "@" are legal in a path and read better unescaped; ":" is not
# kept, because in the first segment of a relative reference it would read as a URI scheme.
_URI_SAFE = "/!$&'()*+,;=@"


def to_json(value: Any) -> Any:
    """Turn a tree of sarif-om objects into JSON data.

    sarif-om has no writer of its own. Each attrs field is renamed to the SARIF property in its
    `schema_property_name` metadata, and fields that hold their default are dropped: the
    defaults are the schema's own, so dropping them changes no meaning, and writing them would
    fill the log with noise such as `newlineSequences`, `language` and `rank: -1` (the
    `attrs.Factory` defaults need calling to be compared). None is never written.
    """
    if attr.has(type(value)):
        out: dict[str, Any] = {}
        for field in attr.fields(type(value)):
            item = getattr(value, field.name)
            if item is None:
                continue
            name = field.metadata.get("schema_property_name", field.name)
            if name not in ALWAYS_WRITTEN and _is_default(field, item, value):
                continue
            out[name] = to_json(item)
        return out
    if isinstance(value, dict):
        return {str(key): to_json(item) for key, item in value.items() if item is not None}
    if isinstance(value, (list, tuple)):
        return [to_json(item) for item in value]
    return value


def _is_default(field: Any, item: Any, owner: Any) -> bool:
    default = field.default
    if default is attr.NOTHING:
        return False
    if isinstance(default, attr.Factory):  # type: ignore[arg-type]
        default = default.factory(owner) if default.takes_self else default.factory()
    return type(item) is type(default) and bool(item == default)


def artifact_uri(path: str) -> str:
    """A finding's path as a URI reference: relative to %SRCROOT%, percent-encoded."""
    return quote(PurePosixPath(path).as_posix(), safe=_URI_SAFE)


def _artifact_location(path: str) -> Any:
    posix = PurePosixPath(path)
    if posix.is_absolute():
        # Outside every scan root (should not happen): an absolute file URI needs no base.
        return om.ArtifactLocation(uri=posix.as_uri())
    return om.ArtifactLocation(uri=artifact_uri(path), uri_base_id=SRCROOT)


def _root_uri(root: PurePath | None) -> str:
    if root is None:
        root = Path.cwd()
    if isinstance(root, Path):
        root = root.resolve()
    uri = root.as_uri()
    # A base URI must end in "/", or resolving "src/app.py" against it drops its last segment.
    return uri if uri.endswith("/") else uri + "/"


def _help(rule: Rule) -> Any:
    text = f"{rule.description}\n\nHow to fix: {rule.remediation}"
    markdown = (
        f"**{rule.id} {rule.name}**: {rule.summary}\n\n{rule.description}\n\n"
        f"## How to fix\n\n{rule.remediation}"
    )
    return om.MultiformatMessageString(text=text, markdown=markdown)


def _descriptor(rule: Rule) -> Any:
    return om.ReportingDescriptor(
        id=rule.id,
        name=rule.name,
        short_description=om.MultiformatMessageString(text=rule.summary),
        full_description=om.MultiformatMessageString(text=rule.description),
        help=_help(rule),
        default_configuration=om.ReportingConfiguration(level=rule.severity.value),
        # sarif-om's PropertyBag knows only `tags`; the bag is open, so a dict says the rest.
        properties={
            "tags": ["security", f"external/cwe/{rule.cwe.lower()}"],
            "precision": "high",
            "security-severity": SECURITY_SEVERITY[rule.severity],
        },
    )


def _driver_rules(result: ScanResult) -> list[Rule]:
    """Every rule of the run, then any a finding names that the run did not list.

    ruleIndex must point into this list, so a finding's rule can never be missing from it;
    the first rule with an id wins.
    """
    rules: dict[str, Rule] = {}
    for rule in (*result.rules, *(finding.rule for finding in result.findings)):
        rules.setdefault(rule.id, rule)
    return list(rules.values())


def _result(finding: Finding, index: int) -> Any:
    loc = finding.location
    return om.Result(
        rule_id=finding.rule.id,
        rule_index=index,
        level=finding.severity.value,
        message=om.Message(text=finding.message),
        locations=[
            om.Location(
                physical_location=om.PhysicalLocation(
                    artifact_location=_artifact_location(loc.path),
                    # No snippet: for a secret rule the snippet is the secret.
                    region=om.Region(
                        start_line=loc.line,
                        start_column=loc.column,
                        end_line=loc.end_line,
                        end_column=loc.end_column,
                    ),
                )
            )
        ],
        partial_fingerprints={FINGERPRINT_KEY: finding.fingerprint},
        properties=_provenance(finding),
    )


def _provenance(finding: Finding) -> dict[str, Any] | None:
    """Where a history finding came from: the commit that added it, and what became of it."""
    if finding.provenance is None:
        return None
    commit = finding.provenance.commit
    return {
        "commit": commit.sha,
        "commitShort": commit.short,
        "author": commit.author,
        "authorEmail": commit.email,
        "date": commit.date,
        "commits": finding.provenance.commits,
        "inHead": finding.provenance.in_head,
    }


def _version_control(revision: Revision | None) -> list[Any] | None:
    """The repository and the commit HEAD named when history was scanned."""
    if revision is None:
        return None
    return [
        om.VersionControlDetails(
            repository_uri=revision.repository_uri,
            revision_id=revision.commit,
            branch=revision.branch,
            mapped_to=om.ArtifactLocation(uri_base_id=SRCROOT),
        )
    ]


def _notifications(
    skipped: Iterable[Skipped], baseline: BaselineOutcome | None
) -> list[Any] | None:
    notes = [
        om.Notification(
            level=entry.level,
            message=om.Message(text=f"skipped: {entry.reason}"),
            locations=[
                om.Location(
                    physical_location=om.PhysicalLocation(
                        artifact_location=_artifact_location(entry.path)
                    )
                )
            ],
        )
        for entry in skipped
    ]
    for stale in baseline.stale if baseline else ():
        notes.append(
            om.Notification(
                level="note",
                message=om.Message(
                    text=f"stale baseline entry: {stale.rule_id} matched nothing "
                    "(`keyguard baseline prune` removes it)"
                ),
                locations=[
                    om.Location(
                        physical_location=om.PhysicalLocation(
                            artifact_location=_artifact_location(stale.path),
                            region=om.Region(start_line=stale.line),
                        )
                    )
                ],
            )
        )
    return notes or None


def _properties(baseline: BaselineOutcome | None) -> dict[str, Any] | None:
    if baseline is None:
        return None
    return {"keyguard/baseline": {"suppressed": baseline.suppressed, "stale": len(baseline.stale)}}


def to_sarif(result: ScanResult, *, root: PurePath | None = None) -> dict[str, Any]:
    """The SARIF log as JSON data.

    `root` is the directory finding paths are relative to (default: the current directory);
    it becomes `%SRCROOT%` in `originalUriBaseIds`. `results` is written even when empty:
    an empty list tells code scanning that earlier alerts are fixed. Findings a baseline
    suppressed are not results (code scanning would alert on them); the run's properties
    count them, and stale baseline entries are notifications.
    """
    rules = _driver_rules(result)
    index = {rule.id: position for position, rule in enumerate(rules)}
    run = om.Run(
        tool=om.Tool(
            driver=om.ToolComponent(
                name="keyguard",
                version=__version__,
                semantic_version=__version__,
                information_uri=INFORMATION_URI,
                rules=[_descriptor(rule) for rule in rules],
            )
        ),
        original_uri_base_ids={SRCROOT: om.ArtifactLocation(uri=_root_uri(root))},
        version_control_provenance=_version_control(result.revision),
        column_kind="unicodeCodePoints",
        invocations=[
            om.Invocation(
                execution_successful=not any(skip.internal_error for skip in result.skipped),
                tool_execution_notifications=_notifications(result.skipped, result.baseline),
            )
        ],
        results=[_result(finding, index[finding.rule.id]) for finding in result.findings],
        properties=_properties(result.baseline),
    )
    log = to_json(om.SarifLog(runs=[run], version=SARIF_VERSION, schema_uri=SCHEMA_URI))
    # "$schema" and "version" first, as every SARIF producer writes them.
    return {"$schema": log.pop("$schema"), "version": log.pop("version"), **log}


def write(result: ScanResult, stream: IO[str], *, root: PurePath | None = None) -> None:
    """Write the SARIF log with 2-space indent and a trailing newline; ASCII-only, stable."""
    stream.write(json.dumps(to_sarif(result, root=root), indent=2, ensure_ascii=True) + "\n")


def write_runs(
    results: Sequence[tuple[ScanResult, PurePath | None, str | None]], stream: IO[str]
) -> None:
    """One SARIF log with one run per (result, root, error): `keyguard org`'s report, one run
    per repository, each with its own `%SRCROOT%` and version control provenance, as code
    scanning expects of a repository's results. A repository that could not be scanned (its
    error given) has a run whose invocation failed, with the reason as a notification."""
    logs = []
    for result, root, error in results:
        log = to_sarif(result, root=root)
        if error is not None:
            invocation = log["runs"][0]["invocations"][0]
            invocation["executionSuccessful"] = False
            invocation["toolExecutionNotifications"] = [
                {"level": "error", "message": {"text": error}}
            ]
        logs.append(log)
    if not logs:
        logs = [to_sarif(ScanResult(()))]
    combined = {**logs[0], "runs": [run for log in logs for run in log["runs"]]}
    stream.write(json.dumps(combined, indent=2, ensure_ascii=True) + "\n")
