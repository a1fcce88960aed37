"""A progress line on a terminal's stderr for scans that take a while: files, total, MB/s.

Shown only when stderr is a terminal (never in a CI log, a pipe or a file) and only once a
scan has run for `delay` seconds: a pre-commit run over three files must print nothing extra.
It redraws at most ten times a second on one line, and clears that line when the scan ends,
so the report that follows starts on a clean line.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import IO

__all__ = ["Progress", "for_terminal"]

DELAY = 1.0  # seconds before the first line
INTERVAL = 0.1  # seconds between redraws
MB = 1_000_000


class Progress:
    """Counts what the engine reports and redraws the line when it is time to."""

    def __init__(
        self,
        stream: IO[str],
        *,
        delay: float = DELAY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.clock = clock
        self.started = clock()
        self.show_from = self.started + delay
        self.next_draw = self.show_from
        self.found = 0
        self.walked = False
        self.files = 0
        self.size = 0
        self.drawn = False

    def discovered(self, count: int = 1) -> None:
        """Discovery handed the engine `count` more files."""
        self.found += count

    def discovery_done(self) -> None:
        """Discovery is over: the total is known from now on."""
        self.walked = True

    def scanned(self, files: int, size: int) -> None:
        """The engine finished `files` more files holding `size` bytes."""
        self.files += files
        self.size += size
        now = self.clock()
        if now >= self.next_draw:
            self.next_draw = now + INTERVAL
            self._draw(now)

    def line(self, now: float) -> str:
        total = f"/{self.found:,}" if self.walked else f" of {self.found:,}+"
        seconds = max(now - self.started, 1e-9)
        return (
            f"keyguard: {self.files:,}{total} files, {self.size / MB:,.1f} MB, "
            f"{self.size / MB / seconds:,.1f} MB/s"
        )

    def finish(self) -> None:
        """Clear the line, if one was drawn."""
        if self.drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()

    def _draw(self, now: float) -> None:
        self.stream.write("\r\x1b[K" + self.line(now))
        self.stream.flush()
        self.drawn = True


def for_terminal(stream: IO[str] | None = None) -> Progress | None:
    """A Progress on stderr when it is a terminal (and TERM is not "dumb"), else None.

    `KEYGUARD_PROGRESS_DELAY` (seconds) changes when the line first appears; tests set it to 0.
    """
    stream = sys.stderr if stream is None else stream
    if stream is None or not stream.isatty() or os.environ.get("TERM") == "dumb":
        return None
    try:
        delay = float(os.environ.get("KEYGUARD_PROGRESS_DELAY", DELAY))
    except ValueError:
        delay = DELAY
    return Progress(stream, delay=delay)
