"""Reporters: console lines, JSON stability, GitHub escaping and SARIF against the official schema.

Findings are built by hand and only ever hold redacted forms, as the engine hands them over;
the raw fake key exists only in memory, to prove that no reporter output contains it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any
from xml.etree import ElementTree

import pytest

from keyguard import __version__
from keyguard.baseline import BaselineOutcome, StaleEntry
from keyguard.models import (
    Finding,
    Location,
    ScanResult,
    Severity,
    Skipped,
)
from keyguard.redact import secret_digest
from keyguard.report import FORMATS, write_report
from keyguard.report import console as console_report
from keyguard.report import github as github_report
from keyguard.report import sarif as sarif_report
from keyguard.ruleset import builtin_rules, expand_fakes
from tests.conftest import located

TESTS = Path(__file__).resolve().parent
GOLDEN = TESTS / "golden"
SARIF_SCHEMA = (
    Path(__file__).resolve().parents[2] / "shared" / "schemas" / "sarif-schema-2.1.0.json"
)
UPDATE_GOLDEN = os.environ.get("KEYGUARD_UPDATE_GOLDEN") == "1"
ROOT = PurePosixPath("/srv/shop")

RULE = {rule.id: rule for rule in builtin_rules()}
# A fixed selection, so a rule added later changes no golden file and no ruleIndex here.
RULES = tuple(RULE[rule_id] for rule_id in ("KG101", "KG102", "KG103", "KG201", "KG202", "KG301"))
# Generated at run time, never written down: only its redacted form goes into findings.
LIVE_KEY = expand_fakes("sk_live_{{alnum:24}}")
LIVE_REDACTED = "sk_live_…Qx7z"
TEST_REDACTED = "sk_test_…m4Pa"
URL = "http://api.example.com/v1"
MESSAGES = {
    "KG101": "Live secret key",
    "KG102": "Test-mode secret key",
    "KG201": "Secret in client-side code",
    "KG301": "Plain-http endpoint",
}


def fake_fingerprint(rule_id: str, path: str) -> str:
    """Shaped like the engine's fingerprint, but from fixed text so golden files are stable."""
    return hashlib.sha256(f"{rule_id}\0{path}\0not-a-secret".encode()).hexdigest()


def make_finding(
    rule_id: str,
    path: str,
    line: int,
    prefix: str,
    redacted: str,
    *,
    suffix: str = "",
    secret_length: int,
    severity: Severity | None = None,
    message: str | None = None,
) -> Finding:
    """A finding whose snippet is `prefix + redacted + suffix`, spanning the original secret."""
    rule = RULE[rule_id]
    column = len(prefix) + 1
    return Finding(
        rule=rule,
        location=Location(path, line, column, line, column + secret_length),
        severity=severity or rule.severity,
        redacted=redacted,
        fingerprint=fake_fingerprint(rule_id, path),
        # Not from the rule's text: golden files must not change when a rule is reworded.
        message=message or f"{MESSAGES[rule_id]}: {redacted}",
        snippet=prefix + redacted + suffix,
        # What the engine hands the baseline: no reporter may write it out.
        secret_digest=secret_digest(LIVE_KEY),
    )


def sample_result() -> ScanResult:
    findings = (
        make_finding(
            "KG101",
            "app/settings.py",
            3,
            'STRIPE_KEY = "',
            LIVE_REDACTED,
            suffix='"',
            secret_length=len(LIVE_KEY),
        ),
        make_finding(
            "KG301",
            "config/app.yaml",
            2,
            "  base_url: ",
            URL,
            secret_length=len(URL),
        ),
        make_finding(
            "KG101",
            "web/public/app.js",
            1,
            '\tconst stripe = Stripe("',
            LIVE_REDACTED,
            suffix='");',
            secret_length=len(LIVE_KEY),
        ),
        make_finding(
            "KG201",
            "web/public/app.js",
            1,
            '\tconst stripe = Stripe("',
            LIVE_REDACTED,
            suffix='");',
            secret_length=len(LIVE_KEY),
        ),
        make_finding(
            "KG102",
            "src/Zahlungsdienst über/pay #1.ts",
            7,
            "const key = '",
            TEST_REDACTED,
            suffix="';",
            secret_length=32,
            severity=Severity.NOTE,
        ),
    )
    skipped = (
        Skipped("assets/logo.png", "binary file"),
        Skipped("data/dump.sql", "larger than max_file_size (1048576 bytes)", "warning"),
        Skipped("assets/font.woff2", "binary file"),
        Skipped("assets/hero.jpg", "binary file"),
        Skipped("assets/video.mp4", "binary file"),
    )
    return ScanResult(
        findings=findings,
        skipped=skipped,
        files_scanned=42,
        bytes_scanned=123_456,
        suppressed=2,
        rules=RULES,
        gitignored_files=3,
        gitignored_directories=1,
    )


def render(fmt: str, result: ScanResult, **options: Any) -> str:
    stream = io.StringIO()
    if fmt == "sarif":
        options.setdefault("root", ROOT)
    write_report(fmt, result, stream, **options)
    return stream.getvalue()


def check_golden(name: str, text: str) -> None:
    """Compare with tests/golden/NAME; KEYGUARD_UPDATE_GOLDEN=1 rewrites it for review."""
    path = GOLDEN / name
    # The version is not part of the format: a release must not need new golden files.
    text = text.replace(f'"{__version__}"', '"<version>"')
    if UPDATE_GOLDEN:
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
    assert path.is_file(), f"missing golden file {path}: run with KEYGUARD_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")


def walk(node: Any) -> Any:
    """Every (key, value) pair in a JSON tree."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


# --- write_report ----------------------------------------------------------------------------


def test_formats_are_the_documented_ones() -> None:
    assert FORMATS == ("console", "concise", "json", "sarif", "github", "junit", "html")


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_writes_and_never_holds_the_raw_secret(fmt: str) -> None:
    text = render(fmt, sample_result())
    assert text.endswith("\n")
    assert LIVE_KEY not in text
    assert LIVE_KEY[len("sk_live_") :] not in text
    assert secret_digest(LIVE_KEY) not in text


def baselined_result(stale: int = 2) -> ScanResult:
    entries = tuple(StaleEntry("KG102", f"old/file{n}.env", n + 1) for n in range(stale))
    return replace(sample_result(), baseline=BaselineOutcome(suppressed=7, stale=entries))


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_with_a_baseline_never_holds_the_raw_secret(fmt: str) -> None:
    text = render(fmt, baselined_result())
    assert LIVE_KEY[len("sk_live_") :] not in text
    assert secret_digest(LIVE_KEY) not in text


def test_console_baseline_summary_and_stale_entries() -> None:
    summary = render("console", baselined_result()).split("\n\n", 1)[1].splitlines()
    at = summary.index("7 findings suppressed by the baseline.")
    assert summary[at - 1] == "2 findings suppressed."
    assert summary[at + 1 : at + 4] == [
        "2 baseline entries are stale (nothing matched; `keyguard baseline prune` removes them):",
        "  old/file0.env:1: KG102",
        "  old/file1.env:2: KG102",
    ]
    many = render("console", baselined_result(stale=13)).splitlines()
    assert "  old/file9.env:10: KG102" in many
    assert "  old/file10.env:11: KG102" not in many
    assert "  and 3 more." in many
    clean = ScanResult(findings=(), files_scanned=2, baseline=BaselineOutcome(suppressed=1))
    assert render("console", clean) == (
        "No findings in 2 files.\n1 finding suppressed by the baseline.\n"
    )
    assert "baseline" not in render("console", sample_result())


def test_json_baseline_section_only_with_a_baseline() -> None:
    assert "baseline" not in json.loads(render("json", sample_result()))
    document = json.loads(render("json", baselined_result(stale=1)))
    assert list(document)[-1] == "baseline"
    assert document["baseline"] == {
        "suppressed": 7,
        "stale": [{"rule_id": "KG102", "path": "old/file0.env", "line": 1}],
    }


def test_sarif_with_a_baseline_counts_it_and_notes_stale_entries() -> None:
    document = sarif(baselined_result())
    validate_sarif(document)
    run = document["runs"][0]
    assert run["properties"] == {"keyguard/baseline": {"suppressed": 7, "stale": 2}}
    notes = run["invocations"][0]["toolExecutionNotifications"]
    stale = [note for note in notes if note["message"]["text"].startswith("stale baseline")]
    assert len(stale) == 2
    location = stale[0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "old/file0.env", "uriBaseId": "%SRCROOT%"}
    assert location["region"] == {"startLine": 1}
    assert "properties" not in sarif()["runs"][0]


def test_unknown_format_is_a_value_error_naming_the_choices() -> None:
    with pytest.raises(ValueError, match="console, concise, json, sarif, github"):
        write_report("xml", sample_result(), io.StringIO())


def test_console_path_does_not_import_sarif_om() -> None:
    """pre-commit runs print to the console: they must not pay for sarif-om and attrs."""
    code = (
        "import io, sys\n"
        "from keyguard.models import ScanResult\n"
        "from keyguard.report import write_report\n"
        "write_report('console', ScanResult(findings=()), io.StringIO())\n"
        "write_report('json', ScanResult(findings=()), io.StringIO())\n"
        "write_report('github', ScanResult(findings=()), io.StringIO())\n"
        "loaded = [m for m in ('sarif_om', 'attr', 'keyguard.report.sarif') if m in sys.modules]\n"
        "print(','.join(loaded))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


# --- console ---------------------------------------------------------------------------------


def test_console_golden() -> None:
    check_golden("report_console.txt", render("console", sample_result()))


def test_console_golden_in_color() -> None:
    check_golden("report_console_color.txt", render("console", sample_result(), color=True))


def test_console_quiet_is_the_summary_alone() -> None:
    quiet = render("console", sample_result(), detail="quiet")
    normal = render("console", sample_result())
    assert quiet == normal[normal.index("Found ") :]
    assert quiet.startswith("Found 5 findings")
    assert "app/settings.py" not in quiet
    clean = ScanResult(findings=(), files_scanned=3)
    assert render("console", clean, detail="quiet") == "No findings in 3 files.\n"


def test_console_verbose_lists_every_skipped_file_and_why() -> None:
    verbose = render("console", sample_result(), detail="verbose").splitlines()
    at = verbose.index("Skipped 4 files:")
    assert verbose[at + 1 : at + 5] == [
        "  assets/logo.png: binary file",
        "  assets/font.woff2: binary file",
        "  assets/hero.jpg: binary file",
        "  assets/video.mp4: binary file",
    ]
    assert not any("and 1 more" in line for line in verbose)
    clean = replace(sample_result(), findings=())
    lines = render("console", clean, detail="verbose").splitlines()
    assert "Skipped 4 files:" in lines and "  assets/video.mp4: binary file" in lines
    assert "Skipped 4 files:" not in render("console", clean).splitlines()


def test_console_finding_line_has_its_location_and_a_caret_under_the_redacted_key() -> None:
    lines = located(render("console", sample_result())).splitlines()
    assert lines[0] == (f"app/settings.py:3:15: KG101 [error] Live secret key: {LIVE_REDACTED}")
    assert lines[1] == f'    STRIPE_KEY = "{LIVE_REDACTED}"'
    assert lines[2] == "    " + " " * len('STRIPE_KEY = "') + "^" * len(LIVE_REDACTED)


def test_console_groups_findings_under_their_file() -> None:
    lines = render("console", sample_result()).splitlines()
    assert lines[0] == "app/settings.py"
    assert lines[1] == f"  3:15  KG101 [error] Live secret key: {LIVE_REDACTED}"
    assert lines.count("web/public/app.js") == 1
    block = lines[lines.index("web/public/app.js") :]
    assert block[1].startswith("  1:25  KG101 [error] ")
    assert block[4].startswith("  1:25  KG201 [error] ")
    assert lines[lines.index("config/app.yaml") - 1] == "", "a blank line between files"


def test_concise_is_one_jumpable_line_per_finding() -> None:
    """`--format concise`: jumpable `path:line:col:` lines, the same excerpts and summary."""
    concise = render("concise", sample_result())
    assert concise == located(render("console", sample_result())).replace("\n\n", "\n", 3)
    assert concise.splitlines()[0] == (
        f"app/settings.py:3:15: KG101 [error] Live secret key: {LIVE_REDACTED}"
    )


def test_console_caret_follows_tabs_and_levels_are_named() -> None:
    lines = located(render("console", sample_result())).splitlines()
    # Tabs are shown as four spaces, so the caret can be aligned by counting characters.
    excerpt = '    const stripe = Stripe("' + LIVE_REDACTED + '");'
    row = lines.index(f"    {excerpt}")
    assert lines[row - 1].startswith("web/public/app.js:1:25: KG101 [error] ")
    assert lines[row + 1].index("^") == lines[row].index(LIVE_REDACTED)
    assert any(
        line.startswith("src/Zahlungsdienst über/pay #1.ts:7:14: KG102 [note] ") for line in lines
    )


def test_console_summary_counts_levels_rules_files_and_suppressed() -> None:
    text = render("console", sample_result())
    summary = text[text.index("Found ") :].splitlines()
    assert summary[0] == ("Found 5 findings (3 errors, 1 warning, 1 note) in 42 files (120.6 KiB).")
    assert summary[1:5] == [
        "  2  KG101  live-secret-key",
        "  1  KG102  test-secret-key",
        "  1  KG201  secret-in-client-code",
        "  1  KG301  insecure-http-endpoint",
    ]
    assert "2 findings suppressed." in summary
    # Warnings are always listed in full; notes are counted, with the first few named.
    assert "Skipped 1 file with a warning:" in summary
    assert "  data/dump.sql: larger than max_file_size (1048576 bytes)" in summary
    assert summary[-2] == (
        "Skipped 4 files: assets/logo.png (binary file), assets/font.woff2 (binary file), "
        "assets/hero.jpg (binary file), and 1 more."
    )
    assert summary[-1] == (
        "Not scanned: 3 files and 1 directory that .gitignore excludes (--no-gitignore scans them)."
    )


def test_console_no_findings_is_one_line() -> None:
    result = ScanResult(findings=(), files_scanned=3, bytes_scanned=10)
    assert render("console", result) == "No findings in 3 files.\n"
    one = ScanResult(findings=(), files_scanned=1, suppressed=4)
    assert render("console", one) == "No findings in 1 file (4 suppressed).\n"


def test_console_no_findings_still_lists_skipped_warnings_but_not_notes() -> None:
    result = ScanResult(
        findings=(),
        files_scanned=3,
        skipped=(Skipped("big.sql", "too large", "warning"), Skipped("a.png", "binary file")),
    )
    assert render("console", result).splitlines() == [
        "No findings in 3 files.",
        "Skipped 1 file with a warning:",
        "  big.sql: too large",
    ]


def test_console_colour_only_when_asked() -> None:
    assert "\x1b[" not in render("console", sample_result())
    coloured = render("console", sample_result(), color=True)
    assert "\x1b[1;31m[error]\x1b[0m" in coloured
    assert "\x1b[1;33m[warning]\x1b[0m" in coloured


def test_console_show_secrets_is_said_in_the_summary() -> None:
    assert "--show-secrets" not in render("console", sample_result())
    assert (
        "--show-secrets" in render("console", sample_result(), show_secrets=True).splitlines()[-1]
    )
    empty = render("console", ScanResult(findings=()), show_secrets=True)
    assert "--show-secrets" in empty


def test_console_neutralises_terminal_escapes_from_scanned_files() -> None:
    finding = make_finding(
        "KG301",
        "evil\x1b[2J.py",
        1,
        "x = '\x1b]0;pwned\x07",
        URL,
        suffix="'",
        secret_length=len(URL),
        message="Plain http\nendpoint",
    )
    text = render("console", ScanResult(findings=(finding,), files_scanned=1))
    assert "\x1b" not in text
    assert "\x07" not in text
    lines = located(text).splitlines()
    assert lines[0] == "evil\\x1b[2J.py:1:16: KG301 [warning] Plain http endpoint"
    assert lines[2].index("^") == lines[1].index(URL)


def test_console_clips_long_minified_lines_around_the_span() -> None:
    prefix = "var a=1;" * 500 + 'k="'
    finding = make_finding(
        "KG101",
        "dist/app.min.js",
        1,
        prefix,
        LIVE_REDACTED,
        suffix='";' + "b()," * 500,
        secret_length=len(LIVE_KEY),
    )
    lines = located(render("console", ScanResult(findings=(finding,)))).splitlines()
    excerpt, caret = lines[1], lines[2]
    assert len(excerpt) <= len(console_report.INDENT) + console_report.MAX_WIDTH
    assert excerpt.startswith("    …") and excerpt.endswith("…")
    assert caret.index("^") == excerpt.index(LIVE_REDACTED)
    assert caret.count("^") == len(LIVE_REDACTED)


def test_console_puts_no_caret_where_it_does_not_fit() -> None:
    finding = Finding(
        rule=RULE["KG101"],
        location=Location("a.py", 1, 40, 1, 72),
        severity=Severity.ERROR,
        redacted=LIVE_REDACTED,
        fingerprint="0" * 64,
        message="m",
        snippet="short line",
    )
    lines = located(render("console", ScanResult(findings=(finding,)))).splitlines()
    assert lines[1] == "    short line"
    assert lines[2] == ""


def test_console_caret_finds_the_redacted_form_in_a_snippet_without_its_indentation() -> None:
    """The engine may strip indentation from the snippet; the columns still count it."""
    # The original line: 8 spaces, then `a = "KEY"; b = "KEY"`; the finding is the second key.
    second = 8 + len('a = "') + len(LIVE_KEY) + len('"; b = "') + 1
    finding = Finding(
        rule=RULE["KG101"],
        location=Location("a.py", 1, second, 1, second + len(LIVE_KEY)),
        severity=Severity.ERROR,
        redacted=LIVE_REDACTED,
        fingerprint="0" * 64,
        message="m",
        snippet=f'a = "{LIVE_REDACTED}"; b = "{LIVE_REDACTED}"',
    )
    lines = located(render("console", ScanResult(findings=(finding,)))).splitlines()
    assert lines[2].index("^") == lines[1].rindex(LIVE_REDACTED)
    assert lines[2].count("^") == len(LIVE_REDACTED)


def test_console_without_a_redacted_form_underlines_the_columns() -> None:
    finding = Finding(
        rule=RULE["KG301"],
        location=Location("a.py", 1, 5, 1, 8),
        severity=Severity.WARNING,
        redacted="",
        fingerprint="0" * 64,
        message="m",
        snippet="abc defgh",
    )
    lines = located(render("console", ScanResult(findings=(finding,)))).splitlines()
    assert lines[2] == "        ^^^"


def test_console_wide_characters_take_two_cells() -> None:
    finding = make_finding(
        "KG101", "a.py", 1, 'キー = "', LIVE_REDACTED, suffix='"', secret_length=len(LIVE_KEY)
    )
    lines = located(render("console", ScanResult(findings=(finding,)))).splitlines()
    assert lines[2] == "    " + " " * (2 + 2 + 4) + "^" * len(LIVE_REDACTED)


# --- json ------------------------------------------------------------------------------------


def test_json_golden() -> None:
    check_golden("report.json", render("json", sample_result()))


def test_json_is_byte_identical_for_the_same_input() -> None:
    assert render("json", sample_result()) == render("json", sample_result())


def test_json_structure() -> None:
    text = render("json", sample_result())
    assert text.startswith('{\n  "version": 1,\n  "tool": {\n    "name": "keyguard",')
    assert text.endswith("}\n")
    document = json.loads(text)
    assert list(document) == ["version", "tool", "summary", "findings", "skipped"]
    assert document["tool"] == {"name": "keyguard", "version": __version__}
    assert document["summary"] == {
        "files_scanned": 42,
        "bytes_scanned": 123_456,
        "findings": 5,
        "by_level": {"error": 3, "warning": 1, "note": 1},
        "by_rule": {"KG101": 2, "KG102": 1, "KG201": 1, "KG301": 1},
        "suppressed": 2,
        "skipped": 5,
        "gitignored": {"files": 3, "directories": 1},
    }
    first = document["findings"][0]
    assert first == {
        "rule_id": "KG101",
        "rule_name": "live-secret-key",
        "level": "error",
        "path": "app/settings.py",
        "line": 3,
        "column": 15,
        "end_line": 3,
        "end_column": 15 + len(LIVE_KEY),
        "message": f"Live secret key: {LIVE_REDACTED}",
        "redacted": LIVE_REDACTED,
        "snippet": f'STRIPE_KEY = "{LIVE_REDACTED}"',
        "fingerprint": fake_fingerprint("KG101", "app/settings.py"),
    }
    # Order as given by the engine, levels as the finding (not the rule) says.
    assert [f["path"] for f in document["findings"]] == [
        f.location.path for f in sample_result().findings
    ]
    assert document["findings"][4]["level"] == "note"
    assert document["skipped"][1] == {
        "path": "data/dump.sql",
        "reason": "larger than max_file_size (1048576 bytes)",
        "level": "warning",
    }


def test_json_is_ascii_so_any_stream_encoding_takes_it() -> None:
    text = render("json", sample_result())
    assert text.isascii()
    assert json.loads(text)["findings"][4]["path"] == "src/Zahlungsdienst über/pay #1.ts"


# --- github ----------------------------------------------------------------------------------


def test_github_golden() -> None:
    check_golden("report_github.txt", render("github", sample_result()))


def test_github_command_per_finding() -> None:
    lines = render("github", sample_result()).splitlines()
    assert len(lines) == 5
    end = 15 + len(LIVE_KEY)
    assert lines[0] == (
        f"::error file=app/settings.py,line=3,col=15,endLine=3,endColumn={end},"
        f"title=KG101 live-secret-key::Live secret key: {LIVE_REDACTED}"
    )
    assert lines[1].startswith("::warning file=config/app.yaml,")
    assert lines[4].startswith("::notice file=src/Zahlungsdienst über/pay #1.ts,")


def test_github_escaping() -> None:
    assert github_report.escape_data("100% done\r\nnext: a,b") == "100%25 done%0D%0Anext: a,b"
    assert github_report.escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"
    finding = make_finding(
        "KG301",
        "odd,name:50%.py",
        1,
        "u = '",
        URL,
        suffix="'",
        secret_length=len(URL),
        message="first line\n::error ::injected",
    )
    (line,) = render("github", ScanResult(findings=(finding,))).splitlines()
    assert line.startswith("::warning file=odd%2Cname%3A50%25.py,line=1,col=6,")
    assert ",title=KG301 insecure-http-endpoint::" in line
    assert line.endswith("::first line%0A::error ::injected")


# --- junit -----------------------------------------------------------------------------------

# What the common JUnit schema (Jenkins' junit-4.xsd, after Ant's XMLJUnitResultFormatter)
# allows: element -> (required attributes, optional attributes, allowed children).
JUNIT_RULES: dict[str, tuple[set[str], set[str], set[str]]] = {
    "testsuites": (set(), {"name", "tests", "failures", "errors", "skipped", "time", "disabled"},
                   {"testsuite"}),
    "testsuite": ({"name", "tests"},
                  {"failures", "errors", "skipped", "time", "disabled", "timestamp", "hostname",
                   "id", "package"},
                  {"properties", "testcase", "system-out", "system-err"}),
    "testcase": ({"name"}, {"classname", "time", "assertions", "status"},
                 {"skipped", "error", "failure", "system-out", "system-err"}),
    "failure": (set(), {"message", "type"}, set()),
}  # fmt: skip


def check_junit(text: str) -> ElementTree.Element:
    """Well-formed XML 1.0, only what the schema allows, and counts that add up."""
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    root = ElementTree.fromstring(text.encode("utf-8"))
    assert root.tag == "testsuites"
    for element in root.iter():
        required, optional, children = JUNIT_RULES[element.tag]
        assert required <= set(element.attrib), (element.tag, element.attrib)
        assert set(element.attrib) <= required | optional, (element.tag, element.attrib)
        assert {child.tag for child in element} <= children, element.tag
    suites = root.findall("testsuite")
    for suite in suites:
        cases = suite.findall("testcase")
        assert int(suite.get("tests", "")) == len(cases) >= 1
        assert int(suite.get("failures", "")) == len(suite.findall("testcase/failure"))
        for case in cases:
            assert len(case.findall("failure")) <= 1
    assert int(root.get("tests", "")) == sum(int(s.get("tests", "")) for s in suites)
    assert int(root.get("failures", "")) == sum(int(s.get("failures", "")) for s in suites)
    return root


def test_junit_golden() -> None:
    check_golden("report_junit.xml", render("junit", sample_result()))


def test_junit_one_suite_per_rule_and_one_case_per_rule_and_file() -> None:
    root = check_junit(render("junit", sample_result()))
    suites = {suite.get("name"): suite for suite in root.findall("testsuite")}
    assert list(suites) == [f"{rule.id} {rule.name}" for rule in RULES]
    live = suites["KG101 live-secret-key"]
    assert [(case.get("classname"), case.get("name")) for case in live] == [
        ("KG101", "app/settings.py"),
        ("KG101", "web/public/app.js"),
    ]
    failure = live.find("testcase/failure")
    assert failure is not None and failure.get("type") == "error"
    assert failure.get("message") == "1 finding: " + RULE["KG101"].summary
    assert failure.text is not None and failure.text.startswith("app/settings.py:3:15: [error] ")
    assert LIVE_REDACTED in failure.text
    (passing,) = suites["KG103 restricted-key"]
    assert passing.get("name") == "no findings in 42 files" and len(passing) == 0
    note = suites["KG102 test-secret-key"].find("testcase/failure")
    assert note is not None and note.get("type") == "note"


def test_junit_counts_several_findings_in_one_file_as_one_failing_case() -> None:
    first = make_finding("KG301", "a.yaml", 1, "u: ", URL, secret_length=len(URL), message="first")
    second = replace(first, location=replace(first.location, line=9), message="second")
    root = check_junit(render("junit", ScanResult(findings=(first, second), rules=RULES)))
    (case,) = root.findall("testsuite/testcase[failure]")
    failure = case.find("failure")
    assert failure is not None and failure.get("message", "").startswith("2 findings: ")
    assert failure.text is not None
    assert [line.split(": ")[0] for line in failure.text.splitlines()[::2]] == [
        "a.yaml:1:4",
        "a.yaml:9:4",
    ]


def test_junit_keeps_file_text_that_xml_cannot_hold_visible_and_the_document_valid() -> None:
    finding = make_finding(
        "KG301",
        "odd\x1bname<&>.yaml",
        1,
        "u: \x00\x07",
        URL,
        suffix=']]>"',
        secret_length=len(URL),
        message="bell \x07 and <tag>",
    )
    text = render("junit", ScanResult(findings=(finding,), rules=RULES))
    root = check_junit(text)
    case = root.find("testsuite/testcase[failure]")
    assert case is not None and case.get("name") == "odd\\x1bname<&>.yaml"
    failure = case.find("failure")
    assert failure is not None and failure.text is not None
    assert "\\x00\\x07" in failure.text and "bell \\x07 and <tag>" in failure.text


def test_junit_for_a_history_scan_counts_commits() -> None:
    result = ScanResult(findings=(), rules=RULES, commits_scanned=12)
    root = check_junit(render("junit", result))
    assert {case.get("name") for case in root.iter("testcase")} == {"no findings in 12 commits"}


# --- sarif -----------------------------------------------------------------------------------


def sarif(result: ScanResult | None = None) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(render("sarif", result or sample_result()))
    return document


def validate_sarif(document: dict[str, Any]) -> None:
    if not SARIF_SCHEMA.is_file():
        pytest.skip(
            "../shared/schemas not present (a user's clone): SARIF schema validation needs it"
        )
    import jsonschema

    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(document), key=lambda error: list(error.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_sarif_golden() -> None:
    """Everything but the rule descriptors, whose text belongs to the rule files.

    The descriptors are checked field by field against the loaded rules instead.
    """
    document = sarif()
    driver = document["runs"][0]["tool"]["driver"]
    driver["rules"] = [rule["id"] for rule in driver["rules"]]
    check_golden("report.sarif", json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def test_sarif_is_valid_against_the_official_schema() -> None:
    validate_sarif(sarif())


def test_sarif_without_findings_or_rules_is_valid_and_keeps_empty_results() -> None:
    document = sarif(ScanResult(findings=()))
    validate_sarif(document)
    run = document["runs"][0]
    assert run["results"] == []  # an empty list closes fixed alerts; a missing one does not
    assert run["tool"]["driver"]["rules"] == []
    assert "toolExecutionNotifications" not in run["invocations"][0]


def test_sarif_header_and_driver() -> None:
    document = sarif()
    assert list(document)[:2] == ["$schema", "version"]
    assert document["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert document["version"] == "2.1.0"
    (run,) = document["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "keyguard"
    assert driver["version"] == __version__
    assert driver["semanticVersion"] == __version__
    assert driver["informationUri"] == "https://github.com/keyguard-dev/keyguard"
    assert run["columnKind"] == "unicodeCodePoints"
    assert run["originalUriBaseIds"] == {"%SRCROOT%": {"uri": "file:///srv/shop/"}}


def test_sarif_lists_every_rule_and_rule_index_matches() -> None:
    run = sarif()["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [rule["id"] for rule in rules] == [rule.id for rule in RULES]
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    assert [r["ruleIndex"] for r in run["results"]] == [
        [rule.id for rule in RULES].index(f.rule.id) for f in sample_result().findings
    ]


def test_sarif_rule_descriptor() -> None:
    rules = {rule["id"]: rule for rule in sarif()["runs"][0]["tool"]["driver"]["rules"]}
    kg101, kg301 = rules["KG101"], rules["KG301"]
    source = RULE["KG101"]
    assert kg101["name"] == "live-secret-key"
    assert kg101["shortDescription"] == {"text": source.summary}
    assert kg101["fullDescription"] == {"text": source.description}
    assert source.description in kg101["help"]["text"]
    assert source.remediation in kg101["help"]["text"]
    assert source.remediation in kg101["help"]["markdown"]
    assert kg101["defaultConfiguration"] == {"level": "error"}
    assert kg101["properties"] == {
        "tags": ["security", "external/cwe/cwe-798"],
        "precision": "high",
        "security-severity": "9.0",
    }
    assert kg301["defaultConfiguration"] == {"level": "warning"}
    assert kg301["properties"]["tags"] == ["security", "external/cwe/cwe-319"]
    assert kg301["properties"]["security-severity"] == "6.5"


def test_sarif_result() -> None:
    results = sarif()["runs"][0]["results"]
    first = results[0]
    assert first["ruleId"] == "KG101"
    assert first["level"] == "error"
    assert first["message"] == {"text": f"Live secret key: {LIVE_REDACTED}"}
    assert first["partialFingerprints"] == {
        "keyguard/v1": fake_fingerprint("KG101", "app/settings.py")
    }
    (location,) = first["locations"]
    assert location == {
        "physicalLocation": {
            "artifactLocation": {"uri": "app/settings.py", "uriBaseId": "%SRCROOT%"},
            "region": {
                "endColumn": 15 + len(LIVE_KEY),
                "endLine": 3,
                "startColumn": 15,
                "startLine": 3,
            },
        }
    }
    # The level is the finding's, written even when it is SARIF's default ("warning").
    assert [r["level"] for r in results] == ["error", "warning", "error", "error", "note"]


def test_sarif_uris_are_percent_encoded() -> None:
    uri = sarif()["runs"][0]["results"][4]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert uri == {"uri": "src/Zahlungsdienst%20%C3%BCber/pay%20%231.ts", "uriBaseId": "%SRCROOT%"}
    assert sarif_report.artifact_uri("a:b/c d.py") == "a%3Ab/c%20d.py"


def test_sarif_skipped_files_are_notifications() -> None:
    invocation = sarif()["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is True
    notes = invocation["toolExecutionNotifications"]
    assert len(notes) == 5
    assert notes[1] == {
        "level": "warning",
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": "data/dump.sql", "uriBaseId": "%SRCROOT%"}
                }
            }
        ],
        "message": {"text": "skipped: larger than max_file_size (1048576 bytes)"},
    }
    assert notes[0]["level"] == "note"


def test_sarif_leaks_no_defaults_and_no_snippet() -> None:
    leaked = {
        "newlineSequences",
        "language",
        "contents",
        "kind",
        "rank",
        "byteOffset",
        "charOffset",
        "index",
        "enabled",
        "snippet",
    }
    for key, value in walk(sarif()):
        assert key not in leaked
        assert value != -1, key
        assert value is not None, key


def test_sarif_lists_every_builtin_rule() -> None:
    everything = builtin_rules()
    document = sarif(ScanResult(findings=sample_result().findings, rules=everything))
    validate_sarif(document)
    run = document["runs"][0]
    assert [rule["id"] for rule in run["tool"]["driver"]["rules"]] == [r.id for r in everything]
    for result in run["results"]:
        assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == result["ruleId"]


def test_sarif_adds_rules_that_findings_name_but_the_run_does_not_list() -> None:
    finding = sample_result().findings[1]
    document = sarif(ScanResult(findings=(finding,), rules=(RULE["KG101"],)))
    validate_sarif(document)
    run = document["runs"][0]
    assert [rule["id"] for rule in run["tool"]["driver"]["rules"]] == ["KG101", "KG301"]
    assert run["results"][0]["ruleIndex"] == 1


def test_sarif_root_defaults_to_the_current_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    stream = io.StringIO()
    write_report("sarif", ScanResult(findings=()), stream)
    base = json.loads(stream.getvalue())["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"]
    assert base == tmp_path.resolve().as_uri() + "/"


def test_sarif_serializer_drops_factory_defaults() -> None:
    import sarif_om

    run = sarif_om.Run(tool=sarif_om.Tool(driver=sarif_om.ToolComponent(name="x")))
    assert sarif_report.to_json(run) == {"tool": {"driver": {"name": "x"}}}
