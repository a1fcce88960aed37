"""The HTML report: self-contained, escaped, redacted, and sortable in a real headless browser."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from keyguard.models import ScanResult
from tests.test_report import (
    LIVE_KEY,
    LIVE_REDACTED,
    RULE,
    RULES,
    URL,
    make_finding,
    render,
    sample_result,
)

CHROMIUM = next(
    (path for name in ("chromium", "chromium-browser") if (path := shutil.which(name))), None
)


class Collector(HTMLParser):
    """Every tag with its attributes, and every text node."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parsed(text: str) -> Collector:
    collector = Collector()
    collector.feed(text)
    return collector


def test_the_page_is_self_contained_and_fetches_nothing() -> None:
    text = render("html", sample_result())
    assert text.startswith("<!DOCTYPE html>\n")
    page = parsed(text)
    (csp,) = [a for tag, a in page.tags if tag == "meta" and a.get("http-equiv")]
    assert csp["content"] is not None and csp["content"].startswith("default-src 'none'")
    for tag, attributes in page.tags:
        assert tag not in ("link", "iframe", "object", "embed", "img")
        for name in ("src", "href", "action"):
            value = attributes.get(name)
            assert value is None or value.startswith("#"), (tag, name, value)


def test_summary_table_and_rule_explanations() -> None:
    text = render("html", sample_result())
    assert "<title>keyguard report: 5 findings</title>" in text
    assert '<span class="level level-error">3 error</span>' in text
    rows = re.findall(r'<tr data-order="(\d+)"><td><code>([^<]*)</code>', text)
    assert [path for _, path in rows] == [
        "app/settings.py",
        "config/app.yaml",
        "web/public/app.js",
        "web/public/app.js",
        "src/Zahlungsdienst über/pay #1.ts",
    ]
    for rule_id in ("KG101", "KG102", "KG201", "KG301"):
        assert f'<section class="rule" id="{rule_id}">' in text
    assert RULE["KG101"].remediation.split("`")[0].replace("'", "&#x27;")[:30] in text
    assert '<section class="rule" id="KG103">' not in text  # only rules that found something


def test_nothing_from_a_scanned_file_is_markup_and_no_secret_is_shown() -> None:
    hostile = make_finding(
        "KG301",
        'evil<script>alert(1)</script>"onload="x.yaml',
        1,
        "u: <img src=x onerror=alert(1)> ",
        URL,
        secret_length=len(URL),
        message="</td><script>alert(2)</script>",
    )
    text = render("html", ScanResult(findings=(hostile,), rules=RULES))
    page = parsed(text)
    scripts = [a for tag, a in page.tags if tag == "script"]
    assert len(scripts) == 1  # the page's own
    assert not any(tag == "img" for tag, _ in page.tags)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;onload=&quot;x.yaml" in text
    full = render("html", sample_result())
    assert LIVE_KEY not in full and LIVE_REDACTED in full


def test_no_findings_says_so() -> None:
    text = render("html", ScanResult(findings=(), files_scanned=7, rules=RULES))
    assert '<p class="empty">No findings.</p>' in text and 'id="findings"' not in text


def browser_dom(page: Path, fragment: str, tmp_path: Path) -> str:
    """Load the page in headless Chromium and return the DOM after its script ran."""
    assert CHROMIUM is not None
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'chromium-profile'}",
            "--dump-dom",
            page.as_uri() + fragment,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.slow
@pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (Debian: apt install chromium)"
)
@pytest.mark.parametrize(
    ("fragment", "expected"),
    [
        ("", ["0", "1", "2", "3", "4"]),
        ("#sort=path", ["0", "1", "4", "2", "3"]),
        ("#sort=line-desc", ["4", "0", "1", "2", "3"]),
        ("#sort=level", ["0", "2", "3", "1", "4"]),
    ],
)
def test_the_table_sorts_in_a_real_browser(
    fragment: str, expected: list[str], tmp_path: Path
) -> None:
    page = tmp_path / "report.html"
    page.write_text(render("html", sample_result()), encoding="utf-8")
    dom = browser_dom(page, fragment, tmp_path)
    assert '<body data-ready="1">' in dom  # the script ran to the end, without an error
    assert re.findall(r'<tr data-order="(\d+)"', dom) == expected


@pytest.mark.slow
@pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (Debian: apt install chromium)"
)
def test_hostile_file_text_does_not_run_in_a_real_browser(tmp_path: Path) -> None:
    hostile = make_finding(
        "KG301",
        "x.yaml",
        1,
        "u: <img src=x onerror=\"document.body.setAttribute('pwned','1')\"> ",
        URL,
        secret_length=len(URL),
        message="<script>document.body.setAttribute('pwned','2')</script>",
    )
    page = tmp_path / "report.html"
    page.write_text(render("html", ScanResult(findings=(hostile,), rules=RULES)), encoding="utf-8")
    dom = browser_dom(page, "", tmp_path)
    assert '<body data-ready="1">' in dom and "pwned=" not in dom
