"""Render a ScanResult in one of the output formats; each format lives in its own module."""

from __future__ import annotations

from pathlib import PurePath
from typing import IO, Literal

from keyguard.models import ScanResult

__all__ = ["FORMATS", "write_report"]

FORMATS = ("console", "concise", "json", "sarif", "github", "junit", "html")


def write_report(
    fmt: str,
    result: ScanResult,
    stream: IO[str],
    *,
    color: bool = False,
    show_secrets: bool = False,
    root: PurePath | None = None,
    detail: Literal["quiet", "normal", "verbose"] = "normal",
) -> None:
    """Write `result` to `stream` in format `fmt` (one of FORMATS).

    Each reporter is imported only when asked for: the SARIF writer pulls in sarif-om and attrs,
    which a pre-commit run printing to the console must not pay for. `color`, `show_secrets` and
    `detail` (quiet: the summary only; verbose: every skipped file) only affect the console;
    `root` is the directory SARIF's `%SRCROOT%` points at (the directory finding paths are
    relative to; default: the current directory).
    Raise ValueError for an unknown format.
    """
    if fmt in ("console", "concise"):
        from keyguard.report import console

        console.write(
            result,
            stream,
            color=color,
            show_secrets=show_secrets,
            detail=detail,
            grouped=fmt == "console",
        )
    elif fmt == "json":
        from keyguard.report import json as json_report

        json_report.write(result, stream)
    elif fmt == "sarif":
        from keyguard.report import sarif

        sarif.write(result, stream, root=root)
    elif fmt == "github":
        from keyguard.report import github

        github.write(result, stream)
    elif fmt == "junit":
        from keyguard.report import junit

        junit.write(result, stream)
    elif fmt == "html":
        from keyguard.report import html

        html.write(result, stream)
    else:
        raise ValueError(f"unknown report format {fmt!r} (expected one of: {', '.join(FORMATS)})")
