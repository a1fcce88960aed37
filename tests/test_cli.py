"""The command line as a user runs it: exit codes, one-line errors, reports that never leak."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from keyguard.redact import secret_digest
from keyguard.ruleset import builtin_rules
from tests.conftest import REPO, SHARED, fake, located

SCHEMA = SHARED / "schemas" / "sarif-schema-2.1.0.json"


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keyguard", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
        check=False,
        timeout=120,
    )


@pytest.fixture
def leaky(tmp_path: Path) -> tuple[Path, list[str]]:
    """A small tree with one secret of each kind; returns (root, the raw secrets)."""
    live, test, restricted = (
        fake("sk_live_{{alnum:24}}"),
        fake("sk_test_{{alnum:32}}"),
        fake("rk_live_{{alnum:28}}"),
    )
    client_secret = fake("{{alnum:40}}")
    (tmp_path / "server").mkdir()
    (tmp_path / "server" / "settings.py").write_text(
        f'API_KEY = "{live}"\nCLIENT_SECRET = "{client_secret}"\nBASE = "http://api.example.com"\n'
    )
    (tmp_path / "public").mkdir()
    (tmp_path / "public" / "app.js").write_text(f"const key = '{test}';\n")
    (tmp_path / ".env").write_text(f"RESTRICTED={restricted}\n")
    (tmp_path / "notes.md").write_text("Nothing to see at http://api.example.com\n")
    return tmp_path, [live, test, restricted, client_secret]


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(path.relative_to(root)): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_console_report_and_exit_code(leaky: tuple[Path, list[str]]) -> None:
    root, secrets = leaky
    before = snapshot(root)
    result = run("scan", ".", cwd=root)
    assert result.returncode == 1, result.stderr
    out = located(result.stdout)
    for expected in (
        ".env:1:12: KG103 [error]",
        "public/app.js:1:14: KG102 [warning]",
        "public/app.js:1:14: KG201 [error]",
        "server/settings.py:1:12: KG101 [error]",
        "server/settings.py:2:18: KG202 [warning]",
        "server/settings.py:3:9: KG301 [warning]",
    ):
        assert expected in out
    assert f"sk_live_…{secrets[0][-4:]}" in out
    for secret in secrets:
        assert secret not in out + result.stderr
    assert snapshot(root) == before, "a scan must never modify the tree"


@pytest.mark.parametrize("fmt", ["console", "concise", "json", "sarif", "github", "junit", "html"])
def test_no_format_leaks_a_secret(leaky: tuple[Path, list[str]], fmt: str) -> None:
    root, secrets = leaky
    result = run("scan", ".", "--format", fmt, cwd=root)
    assert result.returncode == 1
    for secret in secrets:
        assert secret not in result.stdout + result.stderr
        assert secret[-12:] not in result.stdout
        assert secret_digest(secret) not in result.stdout


@pytest.mark.parametrize("fmt", ["console", "json", "sarif", "github"])
def test_no_format_and_no_baseline_file_leaks_a_secret(
    leaky: tuple[Path, list[str]], fmt: str
) -> None:
    root, secrets = leaky
    assert run("baseline", "create", cwd=root).returncode == 0
    (root / "server" / "settings.py").unlink()  # stale entries are reported too
    newer = fake("sk_live_{{alnum:24}}")
    (root / "new.env").write_text(f"KEY={newer}\n")
    result = run("scan", ".", "--format", fmt, "--baseline", ".keyguard-baseline.json", cwd=root)
    assert result.returncode == 1
    assert "new.env" in result.stdout
    stored = (root / ".keyguard-baseline.json").read_text()
    for secret in [*secrets, newer]:
        for text in (result.stdout + result.stderr, stored):
            assert secret not in text
            assert secret[-12:] not in text
            assert secret_digest(secret) not in text


def test_scan_imports_no_baseline_code_without_a_baseline(tmp_path: Path) -> None:
    """pre-commit runs without a baseline must not pay for reading one."""
    (tmp_path / "a.py").write_text("x = 1\n")
    code = (
        "import sys\n"
        "from keyguard.cli import cli\n"
        "try:\n"
        "    cli.main(['scan', 'a.py'], standalone_mode=False)\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('keyguard.baseline' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert done.stdout.splitlines()[-1] == "False"


def test_show_secrets_is_opt_in(leaky: tuple[Path, list[str]]) -> None:
    root, secrets = leaky
    result = run("scan", ".", "--show-secrets", cwd=root)
    assert secrets[0] in result.stdout


def test_sarif_file_validates_against_the_schema(leaky: tuple[Path, list[str]]) -> None:
    root, _ = leaky
    result = run("scan", ".", "--format", "sarif", "-o", "out.sarif", cwd=root)
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    document = json.loads((root / "out.sarif").read_text())
    run_ = document["runs"][0]
    assert {rule["id"] for rule in run_["tool"]["driver"]["rules"]} == {
        rule.id for rule in builtin_rules()
    }
    assert len(run_["results"]) == 6, [r["ruleId"] for r in run_["results"]]
    if not SCHEMA.exists():
        pytest.skip("../shared/schemas is absent (a user's clone): cannot validate SARIF")
    import jsonschema

    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator(schema).validate(document)


def test_json_report_is_stable(leaky: tuple[Path, list[str]]) -> None:
    root, _ = leaky
    first = run("scan", ".", "--format", "json", "--jobs", "1", cwd=root).stdout
    second = run("scan", ".", "--format", "json", "--jobs", "2", cwd=root).stdout
    assert first == second
    findings = json.loads(first)["findings"]
    assert [f["rule_id"] for f in findings] == [
        "KG103",
        "KG102",
        "KG201",
        "KG101",
        "KG202",
        "KG301",
    ]


def test_fail_on_threshold(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("url: http://api.example.com/v1\n")
    assert run("scan", ".", cwd=tmp_path).returncode == 1
    assert run("scan", ".", "--fail-on", "error", cwd=tmp_path).returncode == 0
    (tmp_path / "a.yaml").write_text("url: https://api.example.com/v1\n")
    clean = run("scan", ".", cwd=tmp_path)
    assert clean.returncode == 0 and "No findings" in clean.stdout


@pytest.mark.parametrize(
    ("args", "files", "message"),
    [
        (("scan", "missing-dir"), {}, "path does not exist"),
        (("scan", ".", "--format", "xml"), {}, "Invalid value for '--format'"),
        (("scan", ".", "--jobs", "0"), {}, "Invalid value for '--jobs'"),
        (("scan", "."), {".keyguard.toml": "exlude = []\n"}, ".keyguard.toml"),
        (("scan", "."), {".keyguard.toml": "exclude = [\n"}, ".keyguard.toml"),
        (("scan", "."), {".keyguard.toml": 'disable = ["KG999"]\n'}, "KG999"),
        (("scan", ".", "--config", "nope.toml"), {}, "nope.toml"),
        (("scan", ".", "-o", "no/such/dir/out.json"), {}, "cannot write"),
        (("explain", "KG999"), {}, "unknown rule"),
        (("rules", "--check", "nope.toml"), {}, "nope.toml"),
    ],
)
def test_errors_are_one_line_with_exit_2(
    tmp_path: Path, args: tuple[str, ...], files: dict[str, str], message: str
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert message in result.stderr
    if not args[-1].startswith(("xml", "0")) and "--format" not in args and "--jobs" not in args:
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_rules_and_explain() -> None:
    listing = run("rules", cwd=REPO)
    assert listing.returncode == 0
    for rule in builtin_rules():
        assert rule.id in listing.stdout and rule.name in listing.stdout
    explained = run("explain", "kg301", cwd=REPO)
    assert explained.returncode == 0
    assert "Use HTTPS" in explained.stdout and "How to fix it" in explained.stdout


def test_rules_check_runs_a_user_rule_file(tmp_path: Path) -> None:
    good = tmp_path / "acme.toml"
    good.write_text(
        """
[[rule]]
id = "ACME001"
name = "acme-token"
severity = "error"
summary = "ACME token"
description = "An ACME deploy token."
remediation = "Rotate it."
keywords = ["acme_"]
pattern = '''(?P<secret>acme_[A-Za-z0-9]{20})'''
true_positives = ['TOKEN = "acme_{{alnum:20}}"']
false_positives = ['TOKEN = "acme_short"']
"""
    )
    ok = run("rules", "--check", str(good), cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "1 rule(s) checked, 0 example(s) failed." in ok.stdout
    good.write_text(good.read_text().replace("acme_short", "acme_{{alnum:20}}"))
    bad = run("rules", "--check", str(good), cwd=tmp_path)
    assert bad.returncode == 1 and "false positive reported" in bad.stdout


def test_extra_rules_from_config(tmp_path: Path) -> None:
    (tmp_path / "acme.toml").write_text(
        '[[rule]]\nid = "ACME001"\nname = "acme-token"\nseverity = "error"\n'
        'summary = "ACME token"\ndescription = "d"\nremediation = "r"\nkeywords = ["acme_"]\n'
        "pattern = '''(?P<secret>acme_[A-Za-z0-9]{20})'''\n"
    )
    (tmp_path / ".keyguard.toml").write_text('extra_rules = ["acme.toml"]\n')
    (tmp_path / "deploy.sh").write_text(f"TOKEN={fake('acme_{{alnum:20}}')}\n")
    result = run("scan", ".", cwd=tmp_path)
    assert result.returncode == 1 and "ACME001" in result.stdout


def test_docs_rules_md_is_generated_from_the_rule_files() -> None:
    generated = run("rules", "--format", "markdown", cwd=REPO).stdout
    assert (REPO / "docs" / "rules.md").read_text() == generated, (
        "docs/rules.md is stale: run `keyguard rules --format markdown > docs/rules.md`"
    )


def test_robustness_end_to_end(tmp_path: Path) -> None:
    key = fake("sk_live_{{alnum:24}}")
    (tmp_path / "wide.ps1").write_bytes(f"\ufeff# setup\r\n$key = '{key}'\r\n".encode("utf-16-le"))
    (tmp_path / "legacy.php").write_bytes(b"<?php // caf\xe9\n$k = '" + key.encode() + b"';\n")
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0" + key.encode())
    (tmp_path / "huge.txt").write_text("x" * 2048 + key)
    (tmp_path / ".keyguard.toml").write_text('max_file_size = "1KiB"\n')
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    result = run("scan", ".", "--format", "json", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout)
    found = [(f["path"], f["line"], f["column"]) for f in document["findings"]]
    assert found == [("legacy.php", 2, 7), ("wide.ps1", 2, 9)]
    skipped = {s["path"]: (s["reason"], s["level"]) for s in document["skipped"]}
    assert skipped["image.png"] == ("binary file", "note")
    assert skipped["huge.txt"][0].startswith("larger than max_file_size")
    assert skipped["dangling"][1] == "warning"
    assert "loop" in skipped
    assert key not in result.stdout


def test_the_project_scans_itself_clean() -> None:
    """What the project's own pre-commit hook runs: its config keeps the deliberate leaks out."""
    result = run("scan", ".", cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_closed_pipe_is_not_an_error(tmp_path: Path) -> None:
    # Far more output than a pipe buffers, so writing goes on after `head` has exited.
    lines = (f'URL_{n} = "http://api{n}.example.com/v1"\n' for n in range(3000))
    (tmp_path / "urls.env").write_text("".join(lines))
    root = tmp_path
    result = subprocess.run(
        f"{sys.executable} -m keyguard scan . --format github | head -1",
        shell=True,
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.stdout.startswith("::")
    assert result.stderr == ""


def test_stats_go_to_stderr_as_name_value_pairs(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text('import requests\nrequests.get("http://api.example.com/x")\n')
    done = run("scan", "--stats", "--format", "json", ".", cwd=tmp_path)
    assert done.returncode == 1
    json.loads(done.stdout)  # the report itself is untouched
    [line] = [line for line in done.stderr.splitlines() if line.startswith("keyguard stats:")]
    pairs = dict(pair.split("=") for pair in line.removeprefix("keyguard stats: ").split())
    assert pairs["files"] == "1" and pairs["candidates"] == "1" and pairs["ast_parses"] == "1"
    assert pairs["libcst_parses"] == "0" and float(pairs["seconds"]) > 0


def test_junit_report_from_the_cli_lists_failing_cases_and_never_the_secret(
    leaky: tuple[Path, list[str]],
) -> None:
    from tests.test_report import check_junit

    root, secrets = leaky
    done = run("scan", ".", "--format", "junit", "-o", "report.xml", cwd=root)
    assert done.returncode == 1, done.stderr
    text = (root / "report.xml").read_text(encoding="utf-8")
    document = check_junit(text)
    failing = {
        (case.get("classname"), case.get("name"))
        for case in document.iter("testcase")
        if case.find("failure") is not None
    }
    assert ("KG101", "server/settings.py") in failing
    assert ("KG102", "public/app.js") in failing
    assert not any(secret in text for secret in secrets)


def test_color_option_wins_over_the_environment(leaky: tuple[Path, list[str]]) -> None:
    root, _ = leaky
    always = run("scan", ".", "--color", "always", cwd=root)  # run() sets NO_COLOR
    assert "\x1b[1;31m" in always.stdout
    never = run("scan", ".", "--color", "never", cwd=root, env={"FORCE_COLOR": "1"})
    assert "\x1b[" not in never.stdout
    auto = run("scan", ".", cwd=root, env={"FORCE_COLOR": "1"})  # NO_COLOR wins in auto
    assert "\x1b[" not in auto.stdout
    # An empty NO_COLOR is unset (no-color.org); FORCE_COLOR colors a pipe.
    forced = run("scan", ".", cwd=root, env={"NO_COLOR": "", "FORCE_COLOR": "1"})
    assert "\x1b[" in forced.stdout


def test_quiet_and_verbose(leaky: tuple[Path, list[str]]) -> None:
    root, secrets = leaky
    (root / "logo.png").write_bytes(b"\x89PNG\0\0\0")
    quiet = run("scan", ".", "-q", cwd=root)
    assert quiet.returncode == 1
    assert quiet.stdout.startswith("Found ")
    assert "server/settings.py" not in quiet.stdout
    verbose = run("scan", ".", "--verbose", cwd=root)
    assert "  logo.png: binary file" in verbose.stdout.splitlines()
    both = run("scan", ".", "-q", "-v", cwd=root)
    assert both.returncode == 2
    assert "--quiet and --verbose cannot be used together" in both.stderr
    for done in (quiet, verbose):
        assert not any(secret in done.stdout for secret in secrets)
