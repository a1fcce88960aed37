"""The engine end to end on in-memory files and small trees: encodings, filters, redaction."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from keyguard.config import Config
from keyguard.engine import ScanPlan, scan, scan_bytes
from keyguard.filters import is_exempt_url, is_placeholder_key, is_placeholder_value
from keyguard.models import Severity
from keyguard.redact import fingerprint, redact, redact_text
from keyguard.ruleset import builtin_rules, expand_fakes
from tests.conftest import ScanText, fake


def test_positions_are_one_based_code_points(scan_text: ScanText) -> None:
    [finding] = scan_text("app.js", "// héllo\nconst é = 'sk_live_{{alnum:24}}';\n")
    loc = finding.location
    assert (loc.line, loc.column, loc.end_line, loc.end_column) == (2, 12, 2, 44)


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [
        ("utf-16-le", codecs.BOM_UTF16_LE),
        ("utf-16-be", codecs.BOM_UTF16_BE),
        ("utf-8", codecs.BOM_UTF8),
    ],
)
def test_files_with_a_bom(encoding: str, bom: bytes) -> None:
    key = fake("sk_live_{{alnum:24}}")
    data = bom + f"line one\r\nKEY={key}\r\n".encode(encoding)
    [finding] = scan_bytes("app.env", data, ScanPlan(rules=builtin_rules()))
    assert (finding.location.line, finding.location.column) == (2, 5)


def test_latin1_invalid_utf8_and_crlf_keep_line_numbers() -> None:
    key = fake("sk_test_{{alnum:24}}")
    data = b"caf\xe9 = 1\r\n\xff\xfe\xfd junk\r\nKEY = '" + key.encode() + b"'\r\n"
    [finding] = scan_bytes("legacy.php", data, ScanPlan(rules=builtin_rules()))
    assert (finding.location.line, finding.location.column) == (3, 8)
    assert "\r" not in finding.snippet


def test_client_side_key_is_reported_twice(scan_text: ScanText) -> None:
    found = scan_text("src/components/Pay.jsx", "const k = 'sk_live_{{alnum:24}}';")
    assert sorted(f.rule.id for f in found) == ["KG101", "KG201"]
    assert {f.fingerprint for f in found} and found[0].fingerprint != found[1].fingerprint


def test_inline_suppressions(scan_text: ScanText) -> None:
    code = (
        "A = 'http://api.example.com'  # keyguard: ignore[KG301]\n"
        "// keyguard: ignore\n"
        "B = 'sk_live_{{alnum:24}}'\n"
        "C = 'sk_live_{{alnum:24}}'  /* keyguard: ignore[KG301] */\n"
        "<!-- keyguard: ignore[KG101, KG301] -->\n"
        "D = 'sk_live_{{alnum:24}}'\n"
    )
    found = scan_text("app.txt.js", code)
    assert [(f.rule.id, f.location.line) for f in found] == [("KG101", 4)]


def test_redaction_never_shows_the_secret() -> None:
    live, restricted = fake("sk_live_{{alnum:32}}"), fake("rk_test_{{alnum:30}}")
    code = f'KEY = "{live}"; OTHER = "{restricted}"\n'
    found = scan_bytes("app.rb", code.encode(), ScanPlan(rules=builtin_rules()))
    assert sorted(f.rule.id for f in found) == ["KG101", "KG103"]
    for finding in found:
        text = " ".join((finding.redacted, finding.message, finding.snippet))
        for secret in (live, restricted):
            assert secret[8:] not in text and secret[-12:] not in text
        assert finding.redacted.endswith(("…" + live[-4:], "…" + restricted[-4:]))


def test_redaction_of_fragments() -> None:
    key = fake("sk_live_{{alnum:24}}")
    body = key[len("sk_live_") :]
    assert redact(key) == f"sk_live_…{key[-4:]}"
    assert body not in redact_text(f'K = "sk_live_" "{body}"', [key])
    assert redact("short12") == "…"
    assert redact("http://u:pw@api.example.com/x?token=abc", "endpoint") == (
        "http://u:…@api.example.com/x?token=…"
    )


def test_fingerprint_is_stable_and_hides_the_secret() -> None:
    key = fake("sk_live_{{alnum:24}}")
    assert fingerprint("KG101", "a.py", key) == fingerprint("KG101", "a.py", key)
    assert fingerprint("KG101", "a.py", key) != fingerprint("KG101", "b.py", key)
    assert key not in fingerprint("KG101", "a.py", key)


def test_severity_override_allowlist_and_disable(tmp_path: Path) -> None:
    key = fake("sk_live_{{alnum:24}}")
    (tmp_path / "a.env").write_text(f"KEY={key}\nURL=http://api.example.com\n")
    base = Config(root=tmp_path)
    result = scan([tmp_path], base, jobs=1, display_root=tmp_path)
    assert [f.rule.id for f in result.findings] == ["KG101", "KG301"]
    lowered = Config(root=tmp_path, severity={"KG301": Severity.NOTE}, disable=("KG101",))
    result = scan([tmp_path], lowered, jobs=1, display_root=tmp_path)
    assert [(f.rule.id, f.severity) for f in result.findings] == [("KG301", Severity.NOTE)]
    import re

    allowed = Config(root=tmp_path, allowlist=(re.compile(re.escape(key[-6:]) + "$"),))
    result = scan([tmp_path], allowed, jobs=1, display_root=tmp_path)
    assert [f.rule.id for f in result.findings] == ["KG301"]


def test_pool_and_in_process_agree(tmp_path: Path) -> None:
    for number in range(150):
        body = f"KEY{number}=sk_test_{fake('{{alnum:24}}')}\n" if number % 7 == 0 else "x = 1\n"
        (tmp_path / f"f{number:03}.env").write_text(body)
    config = Config(root=tmp_path)
    serial = scan([tmp_path], config, jobs=1, display_root=tmp_path)
    pooled = scan([tmp_path], config, jobs=2, display_root=tmp_path)
    assert serial.findings == pooled.findings
    assert serial.files_scanned == pooled.files_scanned == 150
    assert len(serial.findings) == 22


@pytest.mark.parametrize(
    ("value", "placeholder"),
    [
        ("sk_live_XXXXXXXXXXXXXXXXXXXXXXXX", True),
        ("sk_live_abcdefghijklmnopqrstuvwx", True),
        ("sk_test_12345678901234567890", True),
        ("sk_live_ab12ab12ab12ab12ab12", True),
        (fake("sk_test_{{alnum:24}}"), False),
    ],
)
def test_is_placeholder_key(value: str, placeholder: bool) -> None:
    assert is_placeholder_key(value) is placeholder


@pytest.mark.parametrize(
    ("value", "placeholder"),
    [
        ("YOUR_CLIENT_SECRET", True),
        ("process.env.CLIENT_SECRET", True),
        ("${CLIENT_SECRET}", True),
        ("{{ client_secret }}", True),
        ("<your-client-secret>", True),
        ("changeme123", True),
        ("clientSecret", True),
        ("/etc/keyguard/secret.json", True),
        ("GOCSPX-1a2B3c4D5e6F7g8H9i0J", False),
        ("8f14e45fceea167a5a36dedd4bea2543", False),
    ],
)
def test_is_placeholder_value(value: str, placeholder: bool) -> None:
    assert is_placeholder_value(value) is placeholder


@pytest.mark.parametrize(
    ("url", "exempt"),
    [
        ("http://localhost:8000", True),
        ("http://127.0.0.53/", True),
        ("http://[::1]/", True),
        ("http://0.0.0.0:80", True),
        ("http://169.254.169.254/latest/meta-data/", True),
        ("http://dev.localhost/", True),
        ("http://redis:6379", True),
        ("http://www.w3.org/2000/svg", True),
        ("http://www.apache.org/licenses/LICENSE-2.0", True),
        ("http://maven.apache.org/xsd/maven-4.0.0.xsd", True),
        ("http://api.example.com/v1", False),
        ("http://example.com", False),
        ("http://10.0.0.7:8080", True),  # RFC 1918: private, treated like loopback
        ("http://192.168.1.20/api", True),
        ("http://10.0.2.2:8000/api", True),  # the Android emulator's alias for the host
        ("http://host.docker.internal:8000", True),
        ("http://printer.local/", True),
        ("http://172.32.0.1/", False),  # just outside 172.16.0.0/12
        ("http://100.64.0.1/", False),  # carrier-grade NAT is not this network
        ("http://cloudfront.amazonaws.com/doc/2016-11-25/", True),  # an XML namespace
        ("http://lambda.example.com/2015-03-31/functions", False),  # a dated API version
        ("http://api.example.com/doc/2016-11-25/upload", False),
    ],
)
def test_is_exempt_url(url: str, exempt: bool) -> None:
    assert is_exempt_url(url) is exempt


def test_libcst_is_imported_only_for_files_with_a_candidate(tmp_path: Path) -> None:
    """Fast by construction: no parse for clean files, placeholders or comment-only URLs."""
    import subprocess
    import sys

    (tmp_path / "clean.py").write_text("import os\nKEY = os.environ['API_KEY']\n")
    (tmp_path / "placeholder.py").write_text("# export API_KEY=sk_test_XXXXXXXXXXXXXXXXXXXXXXXX\n")
    (tmp_path / "doc.py").write_text(
        '"""See http://api.example.com/docs."""\n# http://x.example.com\n'
    )
    (tmp_path / "work.py").write_text("work_dir = network_timeout = 1\n")
    probe = (
        "import sys\nfrom pathlib import Path\nfrom keyguard.config import Config\n"
        "from keyguard.engine import scan\n"
        f"r = scan([Path({str(tmp_path)!r})], Config(root=Path({str(tmp_path)!r})), jobs=1)\n"
        "print(len(r.findings), 'libcst' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "False"]
    (tmp_path / "split.py").write_text(f'KEY = "sk_live_" "{fake("{{alnum:24}}")}"\n')
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "True"]


def test_a_crash_on_one_file_is_a_warning_and_marks_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from keyguard import match
    from keyguard.engine import FileResult
    from keyguard.report.sarif import to_sarif

    key = fake("sk_live_{{alnum:24}}")
    (tmp_path / "boom.env").write_text(f"KEY={key}\n")
    (tmp_path / "ok.env").write_text(f"KEY={key}\n")
    real = match.match_file

    def explode(
        path: str,
        data: bytes,
        lowered: bytes,
        present: frozenset[bytes],
        plan: ScanPlan,
        secrets: list[str] | None = None,
    ) -> FileResult:
        if path == "boom.env":
            raise ValueError(f"bug while looking at {key}")
        return real(path, data, lowered, present, plan, secrets)

    monkeypatch.setattr(match, "match_file", explode)
    result = scan([tmp_path], Config(root=tmp_path), jobs=1, display_root=tmp_path)
    assert [f.location.path for f in result.findings] == ["ok.env"]
    [skipped] = result.skipped
    assert skipped.internal_error and skipped.level == "warning"
    assert key not in skipped.reason
    invocation = to_sarif(result)["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False


def test_stats_count_candidates_and_parses(tmp_path: Path) -> None:
    """Only a file with a candidate that survives the text checks is parsed, at most once."""
    (tmp_path / "clean.py").write_text("import os\nKEY = os.environ['API_KEY']\n")
    (tmp_path / "doc.py").write_text('"""See http://api.example.com/docs."""\n')  # text settles it
    (tmp_path / "call.py").write_text('import requests\nrequests.get("http://api.example.com/x")\n')
    (tmp_path / "bound.py").write_text(f'CLIENT_SECRET = "{fake("{{alnum:32}}")}"\n')
    result = scan([tmp_path], Config(root=tmp_path), jobs=1, display_root=tmp_path)
    assert {f.location.path for f in result.findings} == {"call.py", "bound.py"}
    stats = result.stats
    assert stats.candidates == 3
    assert (stats.ast_parses, stats.libcst_parses) == (2, 1)  # call.py; bound.py by both
    assert stats.ast_seconds > 0 and stats.libcst_seconds > 0
    assert result.prefilter == "stdlib"  # four files: not worth importing Hyperscan


@pytest.mark.parametrize(
    ("path", "text", "expected"),
    [
        ("app.ts", "  work_limit?: number;\nconst network_id = 1;\n", False),
        ("app.ts", "const key = 'sk_live_{{alnum:24}}';\n", True),
        ("app.py", 'KEY = "sk_live_" \\\n', True),  # a split literal: only libcst joins it
        ("app.ts", 'KEY = "sk_live_" +\n', False),
        ("api.py", 'BASE = "http://api.example.com/v1"\n', True),
        ("api.py", "x = 1\n", False),
        ("conf.yaml", "client_secret: {{alnum:32}}\n", True),
    ],
)
def test_may_hit_asks_keywords_then_patterns(path: str, text: str, expected: bool) -> None:
    from keyguard.engine import may_hit

    plan = ScanPlan(rules=builtin_rules())
    assert may_hit(expand_fakes(text).encode(), path, plan) is expected


@pytest.mark.parametrize(
    ("failure", "message"),
    [("raise", "a worker process failed: ValueError"), ("die", "a worker exited unexpectedly")],
)
def test_a_failing_worker_fails_the_run_instead_of_hanging(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: str, message: str
) -> None:
    import os

    from keyguard import engine

    for number in range(300):  # enough for the pool
        (tmp_path / f"f{number}.txt").write_text("KEY=" + fake("sk_live_{{alnum:24}}") + "\n")
    parent, real = os.getpid(), engine._scan_chunk_with

    def broken(chunk: list[engine.Task], plan: ScanPlan, limit: int) -> engine.ChunkResult:
        if os.getpid() != parent:
            if failure == "raise":
                raise ValueError("boom")
            os._exit(3)
        return real(chunk, plan, limit)

    monkeypatch.setattr(engine, "_scan_chunk_with", broken)
    with pytest.raises(RuntimeError, match=message):
        scan([tmp_path], Config(root=tmp_path), jobs=2, display_root=tmp_path)


@pytest.mark.slow
def test_a_failing_worker_among_several_ends_the_run(tmp_path: Path) -> None:
    """With two workers, one failing must not leave the other waiting for work forever."""
    import subprocess
    import sys

    for number in range(600):
        (tmp_path / f"f{number}.txt").write_text("KEY=" + fake("sk_live_{{alnum:24}}") + "\n")
    probe = (
        "import multiprocessing\nfrom pathlib import Path\nfrom keyguard import engine\n"
        "from keyguard.config import Config\n"
        "real = engine._scan_chunk_with\n"
        "def broken(chunk, plan, limit):\n"
        "    if multiprocessing.current_process().name == 'keyguard-1':\n"
        "        raise ValueError('boom')\n"
        "    return real(chunk, plan, limit)\n"
        "engine._scan_chunk_with = broken\n"
        f"root = Path({str(tmp_path)!r})\n"
        "try:\n"
        "    engine.scan([root], Config(root=root), jobs=3)\n"
        "except RuntimeError as error:\n"
        "    print(error)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    # (Empty only if the other processes took every chunk before the failing worker started.)
    assert done.stdout.strip() in ("a worker process failed: ValueError", "")


@pytest.mark.parametrize(
    "layout",
    [
        'KEY = ("<HEAD>"\n       "<TAIL>")\n',
        'KEY = "<HEAD>" + "<TAIL>"\n',
        'KEY = "<HEAD>" \\\n    "<TAIL>"\n',
        'KEY = (\n    "<HEAD>"  # wrapped by a formatter\n    "<TAIL>"\n)\n',
        'stripe.api_key = ("<HEAD>"\n    f"<TAIL>")\n',
    ],
    ids=["implicit", "plus", "continuation", "comment-between", "f-string-piece"],
)
def test_a_key_split_inside_its_body_is_joined(layout: str) -> None:
    """A formatter that wraps long strings splits a key anywhere, not only after its prefix."""
    head, tail = fake("sk_live_{{alnum:12}}"), fake("{{alnum:14}}")
    code = layout.replace("<HEAD>", head).replace("<TAIL>", tail)
    findings = scan_bytes("settings.py", code.encode(), ScanPlan(rules=builtin_rules()))
    assert [finding.rule.id for finding in findings] == ["KG101"]
    assert findings[0].redacted.endswith(tail[-4:])
