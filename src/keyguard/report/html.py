"""HTML report for a security review: one self-contained file, no external assets.

A summary (findings per rule and level, drawn as CSS bars), a findings table that sorts by any
column (a few lines of inline script; without script it is still a readable table, in report
order) and each reported rule's explanation and fix. Everything that comes from a scanned file
(paths, redacted lines, messages) is HTML-escaped; the page's Content-Security-Policy allows no
network access at all, so opening it never fetches anything. Values are the redacted ones:
the report can be attached to a ticket.

A fragment `#sort=COLUMN` or `#sort=COLUMN-desc` (path, line, rule, level, message) opens the
table sorted, so a link can point at a view.
"""

from __future__ import annotations

import html
from collections import Counter
from typing import IO

from keyguard import __version__
from keyguard.models import Finding, Rule, ScanResult, Severity

__all__ = ["write"]

CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"
COLORS = {Severity.ERROR: "#c62828", Severity.WARNING: "#ef6c00", Severity.NOTE: "#1565c0"}

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; color: #222;
       padding: 0 1rem; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
.meta { color: #555; margin-top: 0; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #ddd;
         vertical-align: top; }
th { background: #f4f4f4; }
#findings th { cursor: pointer; user-select: none; white-space: nowrap; }
#findings th[aria-sort=ascending]::after { content: " \\25B2"; }
#findings th[aria-sort=descending]::after { content: " \\25BC"; }
code, .snippet { font-family: ui-monospace, monospace; font-size: 12.5px; }
.snippet { white-space: pre-wrap; word-break: break-all; color: #333; }
.level { font-weight: 600; } .level-error { color: #c62828; }
.level-warning { color: #ef6c00; } .level-note { color: #1565c0; }
.bar { display: inline-block; height: .9rem; vertical-align: middle; margin-right: 1px; }
.chart td:first-child { white-space: nowrap; }
.rule { border-left: 4px solid #ccc; padding: .2rem 1rem; margin: 1rem 0; }
.empty { color: #2e7d32; font-weight: 600; }
"""

SCRIPT = """
(function () {
  var table = document.getElementById("findings");
  if (!table) { document.body.setAttribute("data-ready", "1"); return; }
  var body = table.tBodies[0];
  var heads = table.tHead.rows[0].cells;
  function key(row, index) {
    var cell = row.cells[index];
    var value = cell.getAttribute("data-key");
    return value === null ? cell.textContent : value;
  }
  function sort(index, descending) {
    var rows = Array.prototype.slice.call(body.rows);
    var numeric = heads[index].getAttribute("data-type") === "number";
    rows.sort(function (a, b) {
      var x = key(a, index), y = key(b, index);
      var order = numeric ? Number(x) - Number(y) : x.localeCompare(y);
      if (descending) { order = -order; }
      // Ties keep the report's order (path, line, column, rule) in both directions.
      return order || Number(a.getAttribute("data-order")) - Number(b.getAttribute("data-order"));
    });
    rows.forEach(function (row) { body.appendChild(row); });
    for (var i = 0; i < heads.length; i++) { heads[i].removeAttribute("aria-sort"); }
    heads[index].setAttribute("aria-sort", descending ? "descending" : "ascending");
  }
  Array.prototype.forEach.call(heads, function (head, index) {
    head.addEventListener("click", function () {
      sort(index, head.getAttribute("aria-sort") === "ascending");
    });
  });
  var match = /^#sort=([a-z]+)(-desc)?$/.exec(window.location.hash);
  if (match) {
    for (var i = 0; i < heads.length; i++) {
      if (heads[i].getAttribute("data-column") === match[1]) { sort(i, Boolean(match[2])); }
    }
  }
  document.body.setAttribute("data-ready", "1");
})();
"""

COLUMNS = (
    ("path", "File", "text"),
    ("line", "Line", "number"),
    ("rule", "Rule", "text"),
    ("level", "Level", "number"),
    ("message", "Finding", "text"),
)


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def write(result: ScanResult, stream: IO[str]) -> None:
    """Write the page; the same result always gives the same bytes (no timestamps)."""
    scope = (
        f"{result.commits_scanned:,} commits"
        if result.commits_scanned is not None
        else f"{result.files_scanned:,} files ({result.bytes_scanned / 1_000_000:,.1f} MB)"
    )
    count = len(result.findings)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>keyguard report: {count} finding{'' if count == 1 else 's'}</title>",
        f"<style>{STYLE}</style>",
        "</head>",
        "<body>",
        "<h1>keyguard report</h1>",
        f'<p class="meta">keyguard {_e(__version__)} scanned {_e(scope)}: '
        f"{count} finding{'' if count == 1 else 's'}"
        + (f", {result.suppressed} suppressed" if result.suppressed else "")
        + (f", {len(result.skipped)} files skipped" if result.skipped else "")
        + ". Secrets are shown redacted.</p>",
        *_summary(result),
        *_table(result.findings),
        *_rules(result),
        f"<script>{SCRIPT}</script>",
        "</body>",
        "</html>",
    ]
    stream.write("\n".join(parts) + "\n")


def _summary(result: ScanResult) -> list[str]:
    if not result.findings:
        return ['<p class="empty">No findings.</p>']
    levels = Counter(finding.severity for finding in result.findings)
    by_rule: dict[str, Counter[Severity]] = {}
    for finding in result.findings:
        by_rule.setdefault(finding.rule.id, Counter())[finding.severity] += 1
    names = {finding.rule.id: finding.rule.name for finding in result.findings}
    widest = max(sum(counts.values()) for counts in by_rule.values())
    rows = []
    for rule_id in sorted(by_rule):
        counts = by_rule[rule_id]
        bars = "".join(
            f'<span class="bar" title="{counts[level]} {level.value}" style="width:'
            f"{max(4, round(240 * counts[level] / widest))}px;"
            f'background:{COLORS[level]}"></span>'
            for level in Severity
            if counts[level]
        )
        rows.append(
            f"<tr><td><code>{_e(rule_id)}</code> {_e(names[rule_id])}</td>"
            f"<td>{sum(counts.values())}</td><td>{bars}</td></tr>"
        )
    totals = ", ".join(
        f'<span class="level level-{level.value}">{levels[level]} {level.value}</span>'
        for level in Severity
        if levels[level]
    )
    return [
        "<h2>Summary</h2>",
        f"<p>{totals}</p>",
        '<table class="chart" id="summary"><thead><tr><th>Rule</th><th>Findings</th>'
        "<th>By level</th></tr></thead><tbody>",
        *rows,
        "</tbody></table>",
    ]


def _table(findings: tuple[Finding, ...]) -> list[str]:
    if not findings:
        return []
    heads = "".join(
        f'<th data-column="{column}" data-type="{kind}" scope="col">{title}</th>'
        for column, title, kind in COLUMNS
    )
    rows = []
    for order, finding in enumerate(findings):
        loc = finding.location
        level = finding.severity
        snippet = finding.snippet.strip()
        rows.append(
            f'<tr data-order="{order}"><td><code>{_e(loc.path)}</code></td>'
            f'<td data-key="{loc.line}">{loc.line}:{loc.column}</td>'
            f'<td><a href="#{_e(finding.rule.id)}"><code>{_e(finding.rule.id)}</code></a></td>'
            f'<td data-key="{3 - level.rank}" '  # ascending: errors first
            f'class="level level-{level.value}">{level.value}</td>'
            f"<td>{_e(finding.message)}"
            + (f'<div class="snippet">{_e(snippet)}</div>' if snippet else "")
            + "</td></tr>"
        )
    return [
        "<h2>Findings</h2>",
        f'<table id="findings"><thead><tr>{heads}</tr></thead><tbody>',
        *rows,
        "</tbody></table>",
    ]


def _rules(result: ScanResult) -> list[str]:
    reported: dict[str, Rule] = {}
    for finding in result.findings:
        reported.setdefault(finding.rule.id, finding.rule)
    if not reported:
        return []
    parts = ["<h2>Rules</h2>"]
    for rule_id in sorted(reported):
        rule = reported[rule_id]
        parts.append(
            f'<section class="rule" id="{_e(rule.id)}"><h3><code>{_e(rule.id)}</code> '
            f"{_e(rule.name)}: {_e(rule.summary)}</h3>"
            f"<p>{_e(rule.description)}</p><p><strong>Fix:</strong> {_e(rule.remediation)}</p>"
            f"<p>Default level: {_e(rule.severity.value)}; {_e(rule.cwe)}.</p></section>"
        )
    return parts
