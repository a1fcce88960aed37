"""`keyguard scan --stdin`: one file from standard input, judged by the name it stands for."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import fake


def scan_stdin(
    data: bytes | None, *args: str, cwd: Path
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any] | None]:
    done = subprocess.run(
        [sys.executable, "-m", "keyguard", "scan", "--stdin", *args, "--format", "json"],
        cwd=cwd,
        input=None if data is None else data.decode("latin-1"),
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        check=False,
        timeout=120,
    )
    document = json.loads(done.stdout) if done.stdout.startswith("{") else None
    return done, document


def rules_at(document: dict[str, Any] | None) -> list[tuple[str, str, int, int]]:
    assert document is not None
    return [(f["rule_id"], f["path"], f["line"], f["column"]) for f in document["findings"]]


def test_the_filename_decides_client_side_context(tmp_path: Path) -> None:
    code = f'const key = "{fake("sk_live_{{alnum:24}}")}";\n'.encode()
    done, document = scan_stdin(code, "--stdin-filename", "web/public/app.js", cwd=tmp_path)
    assert done.returncode == 1
    assert rules_at(document) == [
        ("KG101", "web/public/app.js", 1, 14),
        ("KG201", "web/public/app.js", 1, 14),
    ]
    done, document = scan_stdin(code, "--stdin-filename", "server/app.js", cwd=tmp_path)
    assert rules_at(document) == [("KG101", "server/app.js", 1, 14)]


def test_the_filename_decides_the_language(tmp_path: Path) -> None:
    """Python through the Python matcher: a key split over two literals is joined."""
    head, tail = fake("sk_live_{{alnum:12}}"), fake("{{alnum:12}}")
    code = f'KEY = (\n    "{head}"\n    "{tail}"\n)\n'.encode()
    _, document = scan_stdin(code, "--stdin-filename", "app/settings.py", cwd=tmp_path)
    assert rules_at(document) == [("KG101", "app/settings.py", 2, 5)]  # the whole expression
    assert document is not None and all(head + tail not in str(f) for f in document["findings"])


def test_a_nameless_stdin_is_plain_text(tmp_path: Path) -> None:
    done, document = scan_stdin(
        f"{fake('sk_test_{{alnum:24}}')}\n".encode(), "--fail-on", "error", cwd=tmp_path
    )
    assert done.returncode == 0
    assert rules_at(document) == [("KG102", "-", 1, 1)]


def test_an_absolute_filename_inside_the_working_directory_is_reported_relative(
    tmp_path: Path,
) -> None:
    code = f'KEY = "{fake("sk_live_{{alnum:24}}")}"\n'.encode()
    name = str(tmp_path / "src" / "keys.py")
    _, document = scan_stdin(code, "--stdin-filename", name, cwd=tmp_path)
    assert rules_at(document) == [("KG101", "src/keys.py", 1, 8)]


def test_the_config_next_to_the_file_applies_with_its_exclude(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.keyguard]\nexclude = ["vendor/"]\n')
    code = f'KEY = "{fake("sk_live_{{alnum:24}}")}"\n'.encode()
    done, document = scan_stdin(code, "--stdin-filename", "vendor/lib.py", cwd=tmp_path)
    assert done.returncode == 0 and rules_at(document) == []
    _, document = scan_stdin(code, "--stdin-filename", "src/lib.py", cwd=tmp_path)
    assert [rule for rule, *_ in rules_at(document)] == ["KG101"]


def test_binary_and_oversized_input_is_skipped_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / ".keyguard.toml").write_text('max_file_size = "1KiB"\n')
    _, document = scan_stdin(b"\0\x01\x02" * 10, "--stdin-filename", "a.bin", cwd=tmp_path)
    assert document is not None
    assert [s["reason"] for s in document["skipped"]] == ["binary file"]
    _, document = scan_stdin(b"x" * 2048, "--stdin-filename", "big.txt", cwd=tmp_path)
    assert document is not None
    assert [s["reason"] for s in document["skipped"]] == ["larger than max_file_size (1.0 KiB)"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--stdin", "a.py"], "--stdin scans standard input"),
        (["--stdin", "--staged"], "--stdin scans standard input"),
        (["--stdin-filename", "a.py"], "--stdin-filename names the file that --stdin reads"),
    ],
)
def test_conflicting_options_are_usage_errors(
    tmp_path: Path, args: list[str], message: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "keyguard", "scan", *args],
        cwd=tmp_path,
        input="x\n",
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
