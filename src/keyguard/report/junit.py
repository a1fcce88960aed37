"""JUnit XML report: CI dashboards (GitLab, Jenkins, Azure DevOps, CircleCI) show it as tests.

The layout is the one Ant's JUnit formatter made common and every dashboard reads:
`<testsuites>` holding one `<testsuite>` per rule that ran, holding one `<testcase>` per file
the rule found something in (classname = rule id, name = path), each with one `<failure>` whose
message counts the findings and whose text lists them, redacted. A rule with no finding gets
one passing test case, so a dashboard shows that it ran and passed. There is no official
schema; the tests check the document against the rules of the common one (Jenkins' junit-4
XSD and Ant's formatter): required attributes, counts that add up, well-formed XML 1.0.

Every finding is a failure, whatever its level (the level is the failure's `type`): the report
says what was found; `--fail-on` alone decides the exit code.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from typing import IO

from keyguard.models import Finding, ScanResult

__all__ = ["write"]

# Characters XML 1.0 cannot hold at all, even escaped; a scanned file's text may contain them.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(value: str) -> str:
    """File-derived text made safe for XML 1.0: control characters as visible escapes."""
    return NOT_XML.sub(lambda match: f"\\x{ord(match.group()):02x}", value)


def _failure_text(findings: list[Finding]) -> str:
    lines = []
    for finding in findings:
        loc = finding.location
        lines.append(f"{loc.path}:{loc.line}:{loc.column}: [{finding.severity.value}] ")
        lines[-1] += finding.message
        snippet = finding.snippet.strip()
        if snippet:
            lines.append(f"    {snippet}")
    return _text("\n".join(lines))


def write(result: ScanResult, stream: IO[str]) -> None:
    """Write the document: UTF-8, two-space indent, byte-identical for the same result."""
    by_rule: dict[str, dict[str, list[Finding]]] = defaultdict(lambda: defaultdict(list))
    for finding in result.findings:
        by_rule[finding.rule.id][finding.location.path].append(finding)
    rule_ids = [rule.id for rule in result.rules]
    rule_ids += sorted(set(by_rule) - set(rule_ids))  # a finding's rule always has a suite
    names = {rule.id: rule.name for rule in result.rules}
    names.update({finding.rule.id: finding.rule.name for finding in result.findings})
    scope = (
        f"{result.commits_scanned} commits"
        if result.commits_scanned is not None
        else f"{result.files_scanned} files"
    )

    root = ET.Element("testsuites", name="keyguard")
    total_tests = total_failures = 0
    for rule_id in rule_ids:
        files = by_rule.get(rule_id, {})
        suite = ET.SubElement(root, "testsuite", name=f"{rule_id} {names[rule_id]}")
        if not files:
            ET.SubElement(
                suite, "testcase", classname=rule_id, name=f"no findings in {scope}", time="0"
            )
        for path, findings in files.items():
            case = ET.SubElement(suite, "testcase", classname=rule_id, name=_text(path), time="0")
            count = "1 finding" if len(findings) == 1 else f"{len(findings)} findings"
            failure = ET.SubElement(
                case,
                "failure",
                message=_text(f"{count}: {findings[0].rule.summary}"),
                type=max(findings, key=lambda f: f.severity.rank).severity.value,
            )
            failure.text = _failure_text(findings)
        tests, failures = max(1, len(files)), len(files)
        suite.attrib.update(
            tests=str(tests), failures=str(failures), errors="0", skipped="0", time="0"
        )
        total_tests += tests
        total_failures += failures
    root.attrib.update(
        tests=str(total_tests), failures=str(total_failures), errors="0", skipped="0", time="0"
    )
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode")
    stream.write('<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n")
