"""The progress line: only on a terminal, only after the delay, cleared before the report."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
from pathlib import Path

from keyguard.progress import Progress, for_terminal


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_nothing_is_drawn_before_the_delay_and_the_line_is_cleared_at_the_end() -> None:
    stream, clock = io.StringIO(), Clock()
    progress = Progress(stream, delay=1.0, clock=clock)
    progress.discovered(3)
    clock.now += 0.5
    progress.scanned(2, 1_000_000)
    assert stream.getvalue() == ""
    clock.now += 0.6
    progress.scanned(1, 1_000_000)
    assert stream.getvalue() == "\r\x1b[Kkeyguard: 3 of 3+ files, 2.0 MB, 1.8 MB/s"
    clock.now += 0.05  # within the redraw interval: no redraw
    progress.discovery_done()
    progress.scanned(0, 0)
    assert stream.getvalue().count("\r\x1b[K") == 1
    clock.now += 0.2
    progress.scanned(0, 0)
    assert stream.getvalue().endswith("keyguard: 3/3 files, 2.0 MB, 1.5 MB/s")
    progress.finish()
    assert stream.getvalue().endswith("\r\x1b[K")


def test_a_short_scan_prints_nothing_at_all() -> None:
    stream = io.StringIO()
    progress = Progress(stream, delay=1.0, clock=Clock())
    progress.scanned(5, 10)
    progress.finish()
    assert stream.getvalue() == ""


def test_no_progress_unless_stderr_is_a_terminal() -> None:
    assert for_terminal(io.StringIO()) is None


def keyguard_on_a_terminal(tree: Path, *args: str) -> tuple[str, str]:
    """Run a scan with stderr on a pseudo-terminal and stdout on a pipe."""
    controller, terminal = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "keyguard", "scan", *args, "."],
            cwd=tree,
            stdout=subprocess.PIPE,
            stderr=terminal,
            env={**os.environ, "KEYGUARD_PROGRESS_DELAY": "0", "TERM": "xterm", "NO_COLOR": "1"},
            check=False,
            timeout=300,
        )
        os.close(terminal)
        terminal = -1
        chunks = []
        while True:
            try:
                data = os.read(controller, 65536)
            except OSError:  # EIO once the terminal side is closed and drained
                break
            if not data:
                break
            chunks.append(data)
    finally:
        if terminal != -1:
            os.close(terminal)
        os.close(controller)
    return done.stdout.decode(), b"".join(chunks).decode()


def test_a_scan_draws_progress_on_a_terminal_and_keeps_it_out_of_the_report(
    tmp_path: Path,
) -> None:
    for n in range(300):
        (tmp_path / f"f{n}.txt").write_text("plain text\n" * 20)
    report, terminal = keyguard_on_a_terminal(tmp_path, "--jobs", "1")
    assert "files," in terminal and "MB/s" in terminal
    assert terminal.endswith("\r\x1b[K")  # cleared before the report
    assert report == "No findings in 300 files.\n"
    piped = subprocess.run(
        [sys.executable, "-m", "keyguard", "scan", "."],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "KEYGUARD_PROGRESS_DELAY": "0"},
        check=False,
        timeout=300,
    )
    assert piped.stderr == ""  # stderr is a pipe: no progress
