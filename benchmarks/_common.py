"""Helpers the benchmark scripts share (run them as `python benchmarks/<script>.py`)."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table: first column left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        )

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])


def disk_usage(root: Path) -> tuple[int, int]:
    """Regular files under `root` (symlinks not followed) and their total size in bytes."""
    files = size = 0
    for directory, _, names in os.walk(root):
        for name in names:
            path = Path(directory, name)
            if path.is_file() and not path.is_symlink():
                files += 1
                size += path.stat().st_size
    return files, size


def reuse_or_build(
    root: Path,
    manifest_path: Path,
    params: dict[str, Any],
    *,
    regenerate: bool,
    announce: str,
    build: Callable[[Path], dict[str, Any]],
) -> tuple[Path, dict[str, Any]]:
    """A generated corpus at `root`, reused when its manifest records these `params`.

    Otherwise `root` is rebuilt from nothing by `build(root)`, whose result joins the params in
    the manifest (written last, so an interrupted build is never taken for a finished one).
    """
    if not regenerate and root.is_dir() and manifest_path.is_file():
        manifest: dict[str, Any] = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("params") == params:
            print(f"reusing {root} (seed {params.get('seed')})")
            return root, manifest
    print(f"generating {root}: {announce} ...")
    started = time.perf_counter()
    if root.exists():
        shutil.rmtree(root)
    manifest_path.unlink(missing_ok=True)
    root.mkdir(parents=True)
    manifest = {"params": params, **build(root)}
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    print(f"  done in {time.perf_counter() - started:.1f} s")
    return root, manifest
