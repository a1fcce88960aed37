"""Baseline overhead benchmark: what `--baseline` costs a scan when the baseline is large.

Generates a tree of ``--files`` ``.env`` files holding ``--per-file`` freshly generated live keys
each (default 1,000 x 10 = 10,000 findings, plus filler lines), then times, as child processes of
the installed console script, with one warm-up and ``--repeat`` timed runs each:

    keyguard scan . --format json -o OUT --no-baseline       # the scan alone
    keyguard baseline create --force -o BASE                 # record every finding
    keyguard scan . --format json -o OUT --baseline BASE     # every finding suppressed
    keyguard baseline update -b BASE                         # nothing new: no write
    keyguard scan FIVE FILES [--baseline BASE]               # what pre-commit runs

and prints median, min and max wall seconds, median CPU seconds (keyguard and its pool
workers, from ``RUSAGE_CHILDREN``) and the overhead of ``--baseline`` on both scans. The scans
with and without ``--baseline`` run in alternation, so that a busy machine slows both alike.
Only the standard library is used; keyguard runs as a child process. No key-shaped literal
appears in this file: keys are built at run time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import statistics
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from _common import table

ALPHABET = string.ascii_letters + string.digits
# Bodies that keyguard would take for a placeholder are redrawn (the odds are tiny anyway).
AVOID = ("xxxx", "your", "example", "sample", "placeholder", "dummy", "fake", "redacted")
FILLER = (
    "# service settings, read at start-up\n",
    "LOG_LEVEL=info\n",
    "DATABASE_URL=postgres://db.internal:5432/app\n",
    "CACHE_TTL_SECONDS=300\n",
)


def key(prefix: str = "sk_live_", length: int = 32) -> str:
    while True:
        body = "".join(secrets.choice(ALPHABET) for _ in range(length))
        classes = (set(body) & set(cls) for cls in (string.ascii_lowercase, string.digits))
        if all(classes) and not any(word in body.lower() for word in AVOID):
            return prefix + body


def write_tree(root: Path, files: int, per_file: int) -> list[str]:
    """The tree; returns five of its files for the pre-commit case."""
    (root / ".keyguard.toml").write_text("# keyguard's defaults\n")
    names = []
    for number in range(files):
        directory = root / f"service{number // 50:03d}"
        directory.mkdir(exist_ok=True)
        lines = list(FILLER)
        lines.extend(f"PAYMENTS_KEY_{k}={key()}\n" for k in range(per_file))
        path = directory / f"settings{number:04d}.env"
        path.write_text("".join(lines))
        names.append(path.relative_to(root).as_posix())
    return names[:: max(1, files // 5)][:5]


@dataclass
class Timing:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # user + system of keyguard and its workers


def timed(
    commands: dict[str, list[str]], cwd: Path, env: dict[str, str], warmup: int, repeat: int
) -> dict[str, Timing]:
    """Run the commands in turn, round after round, so that load on a shared machine hits all."""
    timings = {name: Timing() for name in commands}
    for run in range(warmup + repeat):
        for name, command in commands.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            done = subprocess.run(
                command, cwd=cwd, env=env, capture_output=True, text=True, check=False
            )
            elapsed = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if done.returncode not in (0, 1):
                raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr}")
            if run >= warmup:
                timings[name].wall.append(elapsed)
                cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
                timings[name].cpu.append(cpu)
    return timings


def summary(path: Path) -> tuple[int, dict[str, object] | None]:
    document = json.loads(path.read_text())
    return document["summary"]["findings"], document.get("baseline")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--files", type=int, default=1000, help="files (default: %(default)s)")
    parser.add_argument("--per-file", type=int, default=10, help="keys per file (default: 10)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs (default: 5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs (default: 1)")
    parser.add_argument(
        "--hook-repeat", type=int, default=20, help="timed pre-commit runs (default: 20)"
    )
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="run with the environment as it is (by default a temporary PYTHONPYCACHEPREFIX "
        "lets Python cache bytecode, as an installed package has it)",
    )
    parser.add_argument("--jobs", type=int, help="--jobs for keyguard (default: its own)")
    parser.add_argument(
        "--keyguard",
        type=Path,
        default=Path(sys.executable).parent / "keyguard",
        help="the console script to time (default: the one next to this Python)",
    )
    args = parser.parse_args(argv)
    if min(args.files, args.per_file, args.repeat, args.hook_repeat) < 1 or args.warmup < 0:
        parser.error("--files, --per-file, --repeat and --hook-repeat must be positive")
    if not args.keyguard.exists():
        parser.error(f"{args.keyguard} not found; pass --keyguard")
    kg = [str(args.keyguard)]
    jobs = ["--jobs", str(args.jobs)] if args.jobs else []

    with tempfile.TemporaryDirectory(prefix="keyguard-baseline-") as scratch:
        root = Path(scratch, "tree")
        root.mkdir()
        env = dict(os.environ)
        if not args.no_bytecode_cache:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(Path(scratch, "pycache"))
        five = write_tree(root, args.files, args.per_file)
        size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
        base = Path(scratch, "baseline.json")
        out = Path(scratch, "out.json")
        print(f"tree: {args.files} files, {size / 1e6:.1f} MB, {args.per_file} keys per file")
        print(f"load average before timing: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")

        plain = [*kg, "scan", ".", "--format", "json", "-o", str(out), "--no-baseline", *jobs]
        create = [*kg, "baseline", "create", "--force", "-o", str(base), *jobs]
        with_baseline = [*kg, "scan", ".", "--format", "json", "-o", str(out)]
        with_baseline += ["--baseline", str(base), *jobs]
        update = [*kg, "baseline", "update", "-b", str(base), *jobs]
        hook = [*kg, "scan", *five, "--no-baseline"]
        hook_baseline = [*kg, "scan", *five, "--baseline", str(base)]

        results: dict[str, Timing] = {}
        results.update(timed({"baseline create": create}, root, env, args.warmup, args.repeat))
        entries = len(json.loads(base.read_text())["entries"])
        base_bytes = base.stat().st_size
        full = {"scan, no baseline": plain, "scan --baseline": with_baseline}
        results.update(timed(full, root, env, args.warmup, args.repeat))
        subprocess.run(plain, cwd=root, env=env, capture_output=True, check=False)
        findings, _ = summary(out)
        subprocess.run(with_baseline, cwd=root, env=env, capture_output=True, check=False)
        left, outcome = summary(out)
        before = base.stat().st_mtime_ns
        nothing_new = {"baseline update (nothing new)": update}
        results.update(timed(nothing_new, root, env, args.warmup, args.repeat))
        rewritten = base.stat().st_mtime_ns != before
        precommit = {
            "pre-commit, 5 files, no baseline": hook,
            "pre-commit, 5 files, --baseline": hook_baseline,
        }
        results.update(timed(precommit, root, env, max(args.warmup, 3), args.hook_repeat))
        print(f"load average after timing: {os.getloadavg()[0]:.2f}")

    print(f"findings: {findings}; baseline: {entries} entries, {base_bytes / 1e6:.1f} MB")
    suppressed = outcome.get("suppressed") if outcome else None
    print(f"scan --baseline: {left} findings left, {suppressed} suppressed")
    print(f"update with nothing new rewrote the file: {rewritten}")
    print()
    rows = [
        (
            name,
            f"{statistics.median(t.wall):.3f}",
            f"{min(t.wall):.3f}",
            f"{max(t.wall):.3f}",
            f"{statistics.median(t.cpu):.3f}",
        )
        for name, t in results.items()
    ]
    print(
        f"Seconds, median of {args.repeat} runs ({args.hook_repeat} for pre-commit) after "
        f"warm-ups; pairs interleaved; bytecode cached: {not args.no_bytecode_cache}"
    )
    print()
    print(table(("command", "median", "min", "max", "CPU"), rows))
    print()
    for label, without, with_ in (
        ("full scan", "scan, no baseline", "scan --baseline"),
        ("pre-commit", "pre-commit, 5 files, no baseline", "pre-commit, 5 files, --baseline"),
    ):
        for kind in ("wall", "cpu"):
            a = statistics.median(getattr(results[without], kind))
            b = statistics.median(getattr(results[with_], kind))
            print(f"--baseline overhead, {label}, {kind}: {b - a:+.3f} s ({(b - a) / a:+.0%})")
    ok = left == 0 and suppressed == findings and entries == findings and not rewritten
    if not ok:
        print("WARNING: expected every finding in the baseline and suppressed by it")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
