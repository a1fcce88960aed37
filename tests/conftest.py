"""Shared test helpers: fake keys are generated at load time, never stored in the repository."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from keyguard.engine import ScanPlan, scan_bytes
from keyguard.models import Finding, Rule
from keyguard.prefilter import hyperscan_available
from keyguard.ruleset import builtin_rules, expand_fakes

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


# Both prefilter backends must give the same findings: tests that scan run under each.
PREFILTERS = [
    pytest.param("stdlib", id="stdlib"),
    pytest.param(
        "hyperscan",
        id="hyperscan",
        marks=pytest.mark.skipif(
            not hyperscan_available(), reason="the hyperscan wheel is not installed or not usable"
        ),
    ),
]
IDENTITY = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
}


def git(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run git with a fixed identity; the caller checks the return code."""
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        env={**os.environ, **IDENTITY, **(env or {})},
    )


def fake(template: str) -> str:
    """`fake("sk_live_{{alnum:24}}")`: a key-shaped value made now, so no key sits in the repo."""
    return expand_fakes(template)


def rules_by_id() -> dict[str, Rule]:
    return {rule.id: rule for rule in builtin_rules()}


ScanText = Callable[[str, str], list[Finding]]


@pytest.fixture
def scan_text() -> ScanText:
    """Scan one in-memory file with every built-in rule; templates in `code` are expanded."""
    plan = ScanPlan(rules=builtin_rules())

    def run(path: str, code: str) -> list[Finding]:
        return list(scan_bytes(path, expand_fakes(code).encode("utf-8"), plan))

    return run


_FINDING_LINE = re.compile(r"^  (\d+):(\d+)  (.*)$")


def located(report: str) -> str:
    """The console report with each finding as one `path:line:col: RULE ...` line.

    The report groups findings under their file's path; tests that look for one finding by its
    location read this form, which says the same thing in one line.
    """
    lines = report.splitlines()
    out: list[str] = []
    path = ""
    for index, line in enumerate(lines):
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if line and not line.startswith(" ") and _FINDING_LINE.match(following):
            path = line
            continue
        match = _FINDING_LINE.match(line)
        if match and path:
            out.append(f"{path}:{match.group(1)}:{match.group(2)}: {match.group(3)}")
        else:
            out.append(line)
    return "\n".join(out) + "\n"
