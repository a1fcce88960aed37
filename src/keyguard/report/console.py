"""Human-readable report: findings grouped by file, each with its redacted line and a caret.

Grouped like ESLint's "stylish" output: a file's path once, then `line:col` per finding, so a
file with many findings reads as one block. `finding_lines` keeps the one-line
`path:line:col:` form for places that show a single finding (the baseline audit).
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from typing import IO, TYPE_CHECKING, Literal

from keyguard.models import Finding, ScanResult, Severity, Skipped

Detail = Literal["quiet", "normal", "verbose"]

if TYPE_CHECKING:  # only annotations: the reports of plain scans never load these modules
    from keyguard.baseline import BaselineOutcome

__all__ = ["finding_lines", "write"]

INDENT = "    "
# Widest source excerpt shown, in terminal cells: minified bundles have lines of megabytes.
MAX_WIDTH = 120
# Skipped files at note level (binaries, ignored sizes) are common and dull: name only a few.
NOTES_SHOWN = 3
# Stale baseline entries are listed so they can be found, but a stale tree must not flood a log.
STALE_SHOWN = 10

_RESET = "\x1b[0m"
_STYLES = {
    "error": "\x1b[1;31m",
    "warning": "\x1b[1;33m",
    "note": "\x1b[1;36m",
    "bold": "\x1b[1m",
    "dim": "\x1b[2m",
}

Paint = Callable[[str, str], str]


def write(
    result: ScanResult,
    stream: IO[str],
    *,
    color: bool = False,
    show_secrets: bool = False,
    detail: Detail = "normal",
    grouped: bool = True,
) -> None:
    """Write every finding, then a summary, to `stream`.

    `grouped` writes each file's path once with its findings under it; without it (the
    `concise` format) each finding is one `path:line:col:` line that editors can jump to.

    `color` adds ANSI styles (the cli decides from --color, isatty and NO_COLOR). `show_secrets`
    only adds a warning to the summary: the engine already decided what text each Finding holds.
    `detail` "quiet" writes the summary alone; "verbose" lists every skipped file and why.
    """
    paint = _painter(color)
    lines: list[str] = []
    if detail != "quiet":
        if grouped:
            lines.extend(_grouped(result.findings, paint))
        else:
            for finding in result.findings:
                lines.extend(finding_lines(finding, paint))
    if result.findings:
        if lines:
            lines.append("")
        lines.extend(_summary(result, paint, verbose=detail == "verbose"))
    else:
        lines.append(_no_findings(result))
        lines.extend(_baseline(result.baseline))
        lines.extend(_skipped_warnings(result.skipped, paint))
        if detail == "verbose":
            lines.extend(_skipped_notes(result.skipped, every=True))
        lines.extend(_gitignored(result))
    if show_secrets:
        lines.append(
            paint(
                "Secrets are shown unredacted (--show-secrets): do not share or store this output.",
                "warning",
            )
        )
    stream.write("\n".join(lines) + "\n")


def finding_lines(finding: Finding, paint: Paint | None = None) -> list[str]:
    """One finding as the report shows it: the `path:line:col:` headline, then the excerpt."""
    paint = paint or _painter(False)
    return [_headline(finding, paint), *_excerpt(finding, paint)]


def _grouped(findings: Iterable[Finding], paint: Paint) -> list[str]:
    """Findings by file, in report order: the path, then `line:col` lines with their excerpts."""
    lines: list[str] = []
    path: str | None = None
    for finding in findings:
        loc = finding.location
        if loc.path != path:
            if path is not None:
                lines.append("")
            path = loc.path
            lines.append(paint(_clean(path), "bold"))
        where = paint(f"{loc.line}:{loc.column}", "dim")
        lines.append(f"  {where}  {_rule_and_message(finding, paint)}")
        lines.extend(_excerpt(finding, paint))
    return lines


def _painter(enabled: bool) -> Paint:
    def paint(text: str, style: str) -> str:
        return f"{_STYLES[style]}{text}{_RESET}" if enabled and text else text

    return paint


def _clean(text: str) -> str:
    """Make file-derived text safe for a terminal.

    A scanned file (or its name) can hold escape sequences that would restyle or rewrite the
    user's terminal; show control characters as visible escapes instead. Tabs become four
    spaces so the caret line can be aligned by counting cells.
    """
    out: list[str] = []
    for char in text:
        if char == "\t":
            out.append("    ")
        elif unicodedata.category(char) == "Cc":
            out.append(f"\\x{ord(char):02x}" if ord(char) <= 0xFF else f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return "".join(out)


def _width(text: str) -> int:
    """Terminal cells `text` takes: wide East Asian characters take two, combining marks none."""
    cells = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        cells += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return cells


def _headline(finding: Finding, paint: Paint) -> str:
    loc = finding.location
    where = paint(f"{_clean(loc.path)}:{loc.line}:{loc.column}:", "bold")
    return f"{where} {_rule_and_message(finding, paint)}"


def _rule_and_message(finding: Finding, paint: Paint) -> str:
    level = finding.severity.value
    message = _clean(" ".join(finding.message.splitlines()))
    return f"{finding.rule.id} {paint(f'[{level}]', level)} {message}"


def _span(finding: Finding, line: str) -> tuple[int, int] | None:
    """Where in the (redacted) line to put the caret, or None when it cannot be placed honestly.

    The location's columns measure the original line, but the snippet holds the redacted form
    (usually shorter than the secret) and may have lost its indentation, which moves
    everything left. So underline the redacted form itself: its last occurrence at or before
    the original column, else its first anywhere. Only a finding without a redacted form is
    underlined by its columns, and only when they lie within the line.
    """
    loc = finding.location
    start = loc.column - 1
    redacted = finding.redacted
    if redacted:
        position = line.rfind(redacted, 0, max(start, 0) + len(redacted))
        if position == -1:
            position = line.find(redacted)
        return None if position == -1 else (position, position + len(redacted))
    if start < 0 or start >= len(line):
        return None
    end = loc.end_column - 1 if loc.end_line == loc.line else len(line)
    if end <= start or end > len(line):
        return None
    return start, end


def _excerpt(finding: Finding, paint: Paint) -> list[str]:
    """The offending line, clipped around the span, with a caret line under the span."""
    line = finding.snippet.rstrip("\r\n")
    if not line.strip():
        return []
    span = _span(finding, line)
    if span is None:
        text = _clean(line)
        if len(text) > MAX_WIDTH:
            text = text[: MAX_WIDTH - 1] + "…"
        return [INDENT + text]
    start, end = span
    before, inside, after = _clean(line[:start]), _clean(line[start:end]), _clean(line[end:])
    if len(inside) > MAX_WIDTH:
        inside = inside[: MAX_WIDTH - 1] + "…"
    room = max(MAX_WIDTH - len(inside), 20)
    before_room = max(room - len(after), room // 2)
    if len(before) > before_room:
        before = "…" + before[len(before) - before_room + 1 :]
    after_room = max(room - len(before), 1)
    if len(after) > after_room:
        after = after[: after_room - 1] + "…"
    level = finding.severity.value
    caret = " " * _width(before) + "^" * max(1, _width(inside))
    return [INDENT + before + inside + after, INDENT + paint(caret, level)]


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _size(count: int) -> str:
    """Bytes in the largest binary unit that keeps the number readable."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{count} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def _scope(result: ScanResult) -> str:
    """What was scanned: files, or for a history scan the commits."""
    if result.commits_scanned is not None:
        return _plural(result.commits_scanned, "commit")
    return _plural(result.files_scanned, "file")


def _no_findings(result: ScanResult) -> str:
    line = f"No findings in {_scope(result)}."
    if result.suppressed:
        line = line[:-1] + f" ({result.suppressed} suppressed)."
    return "\n".join([line, *_third_party(result)])


def _third_party(result: ScanResult) -> list[str]:
    """The KG301 and OAuth policy for vendored and generated code, said out loud (README)."""
    lines = []
    if result.stats.third_party_endpoints:
        count = _plural(result.stats.third_party_endpoints, "http:// endpoint")
        lines.append(f"{count} in vendored or generated code not reported.")
    if result.stats.third_party_oauth:
        count = _plural(result.stats.third_party_oauth, "OAuth finding")
        lines.append(f"{count} in vendored or generated code not reported.")
    return lines


def _summary(result: ScanResult, paint: Paint, *, verbose: bool = False) -> list[str]:
    levels = Counter(finding.severity for finding in result.findings)
    by_level = ", ".join(
        paint(_plural(levels[level], level.value), level.value)
        for level in Severity
        if levels[level]
    )
    found = _plural(len(result.findings), "finding")
    lines = [
        f"{paint('Found ' + found, 'bold')} ({by_level}) in "
        f"{_scope(result)} ({_size(result.bytes_scanned)})."
    ]
    rules = Counter((finding.rule.id, finding.rule.name) for finding in result.findings)
    number_width = len(str(max(rules.values())))
    for (rule_id, name), count in sorted(rules.items()):
        lines.append(f"  {count:>{number_width}}  {rule_id}  {name}")
    if result.suppressed:
        lines.append(f"{_plural(result.suppressed, 'finding')} suppressed.")
    lines.extend(_third_party(result))
    lines.extend(_baseline(result.baseline))
    lines.extend(_skipped_warnings(result.skipped, paint))
    lines.extend(_skipped_notes(result.skipped, every=verbose))
    lines.extend(_gitignored(result))
    return lines


def _gitignored(result: ScanResult) -> list[str]:
    """What .gitignore kept out, so a scan of an archive never hides an ignored `.env`."""
    files, directories = result.gitignored_files, result.gitignored_directories
    counts = [
        *([_plural(files, "file")] if files else []),
        *([f"{directories} director{'y' if directories == 1 else 'ies'}"] if directories else []),
    ]
    if not counts:
        return []
    return [
        f"Not scanned: {' and '.join(counts)} that .gitignore excludes (--no-gitignore scans them)."
    ]


def _baseline(outcome: BaselineOutcome | None) -> list[str]:
    """How many findings the baseline hid, and its entries that matched nothing (never a secret)."""
    if outcome is None:
        return []
    lines = [f"{_plural(outcome.suppressed, 'finding')} suppressed by the baseline."]
    stale = outcome.stale
    if stale:
        count = "1 baseline entry is" if len(stale) == 1 else f"{len(stale)} baseline entries are"
        lines.append(f"{count} stale (nothing matched; `keyguard baseline prune` removes them):")
        lines.extend(
            f"  {_clean(entry.path)}:{entry.line}: {entry.rule_id}" for entry in stale[:STALE_SHOWN]
        )
        if len(stale) > STALE_SHOWN:
            lines.append(f"  and {len(stale) - STALE_SHOWN} more.")
    return lines


def _skipped_warnings(skipped: Iterable[Skipped], paint: Paint) -> list[str]:
    """Every file skipped with a warning: it was not scanned, and the user must know which."""
    warnings = [entry for entry in skipped if entry.level == "warning"]
    if not warnings:
        return []
    lines = [paint(f"Skipped {_plural(len(warnings), 'file')} with a warning:", "warning")]
    lines.extend(f"  {_clean(entry.path)}: {_clean(entry.reason)}" for entry in warnings)
    return lines


def _skipped_notes(skipped: Iterable[Skipped], *, every: bool = False) -> list[str]:
    """Files skipped at note level, as a count and the first few: they are expected, not news.

    `every` (--verbose) lists them all, one per line, with the reason.
    """
    notes = [entry for entry in skipped if entry.level == "note"]
    if not notes:
        return []
    if every:
        lines = [f"Skipped {_plural(len(notes), 'file')}:"]
        lines.extend(f"  {_clean(entry.path)}: {_clean(entry.reason)}" for entry in notes)
        return lines
    shown = ", ".join(
        f"{_clean(entry.path)} ({_clean(entry.reason)})" for entry in notes[:NOTES_SHOWN]
    )
    more = len(notes) - NOTES_SHOWN
    tail = f", and {more} more" if more > 0 else ""
    return [f"Skipped {_plural(len(notes), 'file')}: {shown}{tail}."]
