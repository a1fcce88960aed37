"""GitHub Actions report: one workflow command per finding, shown as an annotation on the diff."""

from __future__ import annotations

from typing import IO

from keyguard.models import Finding, ScanResult, Severity

__all__ = ["command", "escape_data", "escape_property", "write"]

# GitHub's annotation commands are error, warning and notice; SARIF's "note" is a notice.
COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "notice"}


def escape_data(text: str) -> str:
    """Escape a command's message as GitHub's runner does (`escapeData` in actions/toolkit).

    Without it a newline in a message would end the command and let the rest of the line, which
    comes from a scanned file, be read as a new workflow command.
    """
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a property value (`escapeProperty`): also `:` and `,`, which delimit properties."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(finding: Finding) -> str:
    """The workflow command for one finding, without a trailing newline."""
    loc = finding.location
    properties = {
        "file": loc.path,
        "line": str(loc.line),
        "col": str(loc.column),
        "endLine": str(loc.end_line),
        "endColumn": str(loc.end_column),
        "title": f"{finding.rule.id} {finding.rule.name}",
    }
    props = ",".join(f"{key}={escape_property(value)}" for key, value in properties.items())
    return f"::{COMMANDS[finding.severity]} {props}::{escape_data(finding.message)}"


def write(result: ScanResult, stream: IO[str]) -> None:
    """Write one command line per finding, in the order given."""
    for finding in result.findings:
        stream.write(command(finding) + "\n")
