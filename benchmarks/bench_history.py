"""History benchmark for `keyguard history`: commits/s, MB/s of patch, peak memory and recall.

Builds (once, under ``benchmarks/corpus/history/``, git-ignored) a synthetic repository of
``--commits`` commits (default 5,000) touching ``--files`` files (default 2,000) with
``git fast-import``: files are created over the whole history, most commits edit one to three
files (a block of code added, sometimes one removed), a few rename or delete a file. ``--keys``
secrets (default 200) are planted by ordinary edits, and 40 % of them are removed again by a
later commit (or go with their file): they are only in the history. A tag every 100
commits (``c100``, ``c200`` and on) marks the history's first N commits, so any multiple of 100
can be measured (``--checkpoints``).

For each checkpoint it runs, one warm-up then ``--repeat`` timed runs of::

    keyguard history --range cN --format json -o <tmpfile>     # the last checkpoint: no --range

and prints median wall time, commits/s and MB/s (bytes of `git log -p` output keyguard read over
the median wall time, start-up included; MB = 10^6 bytes), and memory: keyguard's own peak RSS
(``RUSAGE_SELF`` at exit, through a wrapper that runs ``keyguard.cli.main``), the largest single
process including the ``git`` children (``ru_maxrss`` from ``os.wait4``), and the peak summed PSS
of the whole tree (sampled from ``/proc``). Then ``git log -p`` alone, with keyguard's options,
for scale. Recall: every planted secret must be reported at the path and line where its commit
put it, with that commit's id, a count of one, and "in HEAD" exactly when it survived.

No key-shaped literal appears in this file: secrets come from ``bench_throughput.make_secret``.

Exit status: 0, or 1 when a planted secret was missed or misattributed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import reuse_or_build, table
from bench_throughput import (
    ENV,
    EXPECTED_RULES,
    JSON,
    KIND_SHARES,
    LANGUAGES,
    MB,
    NOUNS,
    VERBS,
    Language,
    TreeSampler,
    _eligible,
    _plant_group,
    available_cores,
    fill,
    make_secret,
)

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_CORPUS_DIR = BENCH_DIR / "corpus"
GENERATOR_VERSION = 2
TAG_EVERY = 100
# JSON files are whole documents, not blocks of code: the history edits the other languages.
HISTORY_LANGUAGES = tuple(language for language in LANGUAGES if language is not JSON)
AUTHORS = ("Ann Dev", "Bob Ops", "Chen Lee", "Dana Roe")
START = 1_577_836_800  # 2020-01-01, one commit an hour after it
REMOVED_SHARE = 0.4
WRAPPER = """
import atexit, resource, sys
atexit.register(lambda: sys.stderr.write(
    f"\\nmaxrss_kib={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}\\n"))
sys.argv[0] = "keyguard"
from keyguard.cli import main
main()
"""

# --------------------------------------------------------------------------------------------
# The synthetic history
# --------------------------------------------------------------------------------------------


@dataclass(eq=False)  # one file is one object: compared and found by identity
class File:
    """A file as the history goes along: its current path and its text as chunks."""

    path: str
    language: Language
    chunks: list[str]

    def data(self) -> bytes:
        return "".join(self.chunks).encode("utf-8")


@dataclass
class Plant:
    """A planted secret: which commit added it, where, and whether HEAD still has it."""

    kind: str
    value: str
    chunk: str = ""
    file: File | None = None
    commit: int = 0
    path: str = ""
    line: int = 0
    in_head: bool = True

    def record(self, shas: dict[int, str]) -> dict[str, Any]:
        """What the manifest keeps: never the secret, only what identifies its finding."""
        return {
            "kind": self.kind,
            "commit": shas[self.commit],
            "path": self.path,
            "line": self.line,
            "rules": list(EXPECTED_RULES[self.kind]),
            "tail": self.value if self.kind == "http" else self.value[-4:],
            "in_head": self.in_head,
        }


def _new_file(index: int, rng: random.Random, average: float) -> File:
    language = rng.choices(HISTORY_LANGUAGES, weights=[lang.weight for lang in HISTORY_LANGUAGES])[
        0
    ]
    directory = fill(rng.choice(language.dirs), rng)
    stem = f"{rng.choice(VERBS)}_{rng.choice(NOUNS)}_{index:04d}"
    path = f"{directory}/{stem}/.env" if language is ENV else f"{directory}/{stem}{language.suffix}"
    chunks = [fill(language.header, rng)]
    target = average * language.size * rng.uniform(0.25, 1.75)
    size = len(chunks[0])
    while size < target and language.blocks:
        chunks.append(fill(rng.choice(language.blocks), rng))
        size += len(chunks[-1])
    return File(path, language, chunks)


def _edit(file: File, rng: random.Random, plants: set[str]) -> None:
    """Add a block or two of code; sometimes remove one (never a planted line)."""
    for _ in range(rng.randint(1, 2)):
        if file.language.blocks:
            file.chunks.insert(
                rng.randint(1, len(file.chunks)), fill(rng.choice(file.language.blocks), rng)
            )
    removable = [i for i, chunk in enumerate(file.chunks[1:], start=1) if chunk not in plants]
    if removable and rng.random() < 0.3:
        del file.chunks[rng.choice(removable)]


def _line_of(file: File, value: str) -> int:
    text = "".join(file.chunks)
    return text.count("\n", 0, text.index(value)) + 1


def generate(repo: Path, *, commits: int, files: int, keys: int, seed: int) -> dict[str, Any]:
    """Write the history into a new repository at `repo`; return its manifest."""
    rng = random.Random(seed)
    average = 6000.0
    live: list[File] = []
    created = 0
    counts = {kind: int(keys * share) for kind, share in KIND_SHARES.items()}
    counts["sk_live"] += keys - sum(counts.values())
    plants = [Plant(kind, make_secret(kind, rng)) for kind, n in counts.items() for _ in range(n)]
    # Planted from the tenth commit on (files exist by then); 40 % removed by a later commit.
    due: dict[int, list[Plant]] = {}
    removals: dict[int, list[Plant]] = {}
    for plant in plants:
        at = rng.randint(max(1, commits // 10), commits)
        due.setdefault(at, []).append(plant)
        if at < commits and rng.random() < REMOVED_SHARE:
            removals.setdefault(rng.randint(at + 1, commits), []).append(plant)
    planted_chunks: set[str] = set()
    paths_touched: set[str] = set()
    blob_bytes = 0
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    marks = repo / ".git" / "keyguard-bench-marks"
    importer = subprocess.Popen(
        ["git", "fast-import", "--quiet", f"--export-marks={marks}"],
        cwd=repo,
        stdin=subprocess.PIPE,
    )
    assert importer.stdin is not None
    out = importer.stdin
    for number in range(1, commits + 1):
        changed: dict[int, File] = {}
        ops: list[bytes] = []
        while created < files * number // commits:  # files appear all along the history
            file = _new_file(created, rng, average)
            created += 1
            live.append(file)
            changed[id(file)] = file
        for file in rng.sample(live, min(len(live), rng.randint(1, 3))):
            _edit(file, rng, planted_chunks)
            changed[id(file)] = file
        for plant in due.get(number, []):
            eligible = [f for f in live if _eligible(plant.kind, f.language, f.path)]
            if not eligible and number < commits:
                due.setdefault(number + 1, []).append(plant)  # no such file yet
                continue
            plant.file = rng.choice(eligible)
            template = rng.choice(plant.file.language.plants[_plant_group(plant.kind)])
            plant.chunk = f"\n{fill(template, rng, {'secret': plant.value})}\n"
            planted_chunks.add(plant.chunk)
            plant.file.chunks.insert(rng.randint(1, len(plant.file.chunks)), plant.chunk)
            plant.commit, plant.path = number, plant.file.path
            plant.line = _line_of(plant.file, plant.value)
            changed[id(plant.file)] = plant.file
        for plant in removals.get(number, []):
            # A plant that waited for a file, or whose file is gone, has nothing to remove.
            if plant.file in live and plant.commit < number and plant.chunk in plant.file.chunks:
                plant.file.chunks.remove(plant.chunk)
                changed[id(plant.file)] = plant.file
        if number % 97 == 0 and len(live) > 50:  # a rename, with nothing else in that file
            file = rng.choice([f for f in live if id(f) not in changed])
            old = file.path
            head, _, name = old.rpartition("/")
            file.path = f"{head}/moved/{name}"
            ops.append(f"R {old} {file.path}\n".encode())
            paths_touched.add(file.path)
        if number % 211 == 0 and len(live) > 50:  # a deleted file
            file = rng.choice([f for f in live if id(f) not in changed])
            live.remove(file)
            ops.append(f"D {file.path}\n".encode())
        for file in changed.values():
            data = file.data()
            blob_bytes += len(data)
            paths_touched.add(file.path)
            ops.append(f"M 100644 inline {file.path}\ndata {len(data)}\n".encode() + data + b"\n")
        author = rng.choice(AUTHORS)
        who = (
            f"{author} <{author.split()[0].lower()}@example.invalid> {START + number * 3600} +0000"
        )
        message = f"change {number}\n".encode()
        out.write(
            f"commit refs/heads/main\nmark :{number}\nauthor {who}\ncommitter {who}\n".encode()
            + f"data {len(message)}\n".encode()
            + message
            + b"".join(ops)
            + b"\n"
        )
        if number % TAG_EVERY == 0:
            out.write(f"reset refs/tags/c{number}\nfrom :{number}\n\n".encode())
    out.close()
    if importer.wait() != 0:
        raise SystemExit("git fast-import failed")
    live_chunks = {chunk for file in live for chunk in file.chunks}
    for plant in plants:
        plant.in_head = plant.chunk in live_chunks
    shas = {
        int(mark[1:]): sha
        for mark, sha in (line.split() for line in marks.read_text().splitlines())
    }
    marks.unlink()
    return {
        "commits": commits,
        "paths_touched": len(paths_touched),
        "blob_bytes": blob_bytes,
        "plants": [plant.record(shas) for plant in sorted(plants, key=lambda p: p.commit)],
    }


def ensure_history(
    corpus_dir: Path,
    *,
    commits: int,
    files: int,
    keys: int,
    seed: int,
    regenerate: bool,
) -> tuple[Path, dict[str, Any]]:
    """Reuse the repository when its manifest matches these parameters, else rebuild it."""
    repo = corpus_dir / "history"
    manifest_path = corpus_dir / "history.manifest.json"
    params = {
        "generator": GENERATOR_VERSION,
        "commits": commits,
        "files": files,
        "keys": keys,
        "seed": seed,
    }
    return reuse_or_build(
        repo,
        manifest_path,
        params,
        regenerate=regenerate,
        announce=f"{commits} commits, {files} files, {keys} planted secrets",
        build=lambda target: generate(target, commits=commits, files=files, keys=keys, seed=seed),
    )


# --------------------------------------------------------------------------------------------
# Running keyguard
# --------------------------------------------------------------------------------------------


@dataclass
class Run:
    wall: float
    self_kib: int  # keyguard's own peak RSS
    largest_kib: int  # the largest single process, git included (os.wait4)
    tree_kib: int | None  # peak summed PSS of keyguard and its git children
    report: dict[str, Any]


@dataclass
class Series:
    commits: int
    runs: list[Run] = field(default_factory=list)
    load: float = 0.0

    @property
    def median(self) -> float:
        return statistics.median(run.wall for run in self.runs)

    @property
    def report(self) -> dict[str, Any]:
        return self.runs[-1].report


def history_command(python: Path, output: Path, checkpoint: int | None) -> list[str]:
    command = [str(python), "-c", WRAPPER, "history", "--format", "json", "-o", str(output)]
    return command + ([] if checkpoint is None else ["--range", f"c{checkpoint}"])


def run_once(command: list[str], repo: Path, output: Path, interval: float) -> Run:
    with tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=repo, stdout=subprocess.DEVNULL, stderr=stderr)
        sampler = TreeSampler(process.pid, interval) if interval > 0 else None
        if sampler is not None:
            sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        if sampler is not None:
            sampler.stop()
        stderr.seek(0)
        errors = stderr.read().decode("utf-8", "replace")
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"keyguard failed (exit {code}):\n{errors}")
    self_kib = int(errors.rsplit("maxrss_kib=", 1)[1].split()[0])
    report = json.loads(output.read_text(encoding="utf-8"))
    tree = sampler.peak_kib if sampler is not None else None
    return Run(wall, self_kib, usage.ru_maxrss, tree, report)


def git_log_alone(repo: Path) -> float:
    """`git log -p` with keyguard's options, output thrown away: the floor under keyguard."""
    from keyguard.git import COMMIT_FORMAT, PATCH_CONFIG, PATCH_OPTIONS

    command = ["git", *PATCH_CONFIG, "log", *PATCH_OPTIONS, "-p", "--cc"]
    command.append(f"--format={COMMIT_FORMAT}")
    started = time.perf_counter()
    subprocess.run(command, cwd=repo, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def check_recall(manifest: dict[str, Any], findings: list[dict[str, Any]]) -> tuple[bool, str]:
    """Every plant found where its commit put it, with that commit and the right HEAD state."""
    by_place: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for finding in findings:
        by_place.setdefault((finding["path"], finding["line"]), []).append(finding)
    misses: list[str] = []
    wrong: list[str] = []
    for plant in manifest["plants"]:
        candidates = [
            f
            for f in by_place.get((plant["path"], plant["line"]), [])
            if f["rule_id"] in plant["rules"] and f["redacted"].endswith(plant["tail"])
        ]
        if not candidates:
            misses.append(f"{plant['kind']} {plant['path']}:{plant['line']}")
            continue
        commit = candidates[0]["commit"]
        expected = (plant["commit"], 1, plant["in_head"])
        if (commit["sha"], commit["commits"], commit["in_head"]) != expected:
            wrong.append(f"{plant['path']}:{plant['line']}: {commit} != {expected}")
    planted = {(p["path"], p["line"]) for p in manifest["plants"]}
    extra = [f for f in findings if (f["path"], f["line"]) not in planted]
    total = len(manifest["plants"])
    removed = sum(not p["in_head"] for p in manifest["plants"])
    lines = [
        f"Recall: {total - len(misses)}/{total} planted secrets found "
        f"({removed} of them only in the history); {len(wrong)} with a wrong commit, count or "
        f"HEAD state; {len(extra)} findings on lines with no plant"
    ]
    lines += [f"  MISSED {miss}" for miss in misses[:20]]
    lines += [f"  WRONG {item}" for item in wrong[:20]]
    lines += [f"  EXTRA {f['rule_id']} {f['path']}:{f['line']}" for f in extra[:10]]
    return not misses and not wrong, "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--corpus-dir", type=Path, default=DEFAULT_CORPUS_DIR, help="default: %(default)s"
    )
    parser.add_argument("--repeat", "-r", type=int, default=3, help="timed runs per checkpoint")
    parser.add_argument("--commits", type=int, default=5000, help="commits in the history")
    parser.add_argument("--files", type=int, default=2000, help="files the history creates")
    parser.add_argument("--keys", type=int, default=200, help="planted secrets")
    parser.add_argument(
        "--checkpoints",
        default="1000",
        help="comma-separated commit counts measured besides the whole history [%(default)s]",
    )
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--regenerate", action="store_true", help="rebuild the repository")
    parser.add_argument(
        "--sample-interval",
        type=float,
        default=0.05,
        help="seconds between /proc memory samples; 0 turns sampling off [%(default)s]",
    )
    args = parser.parse_args(argv)
    points = sorted({int(n) for n in args.checkpoints.split(",") if n} | {args.commits})
    if args.repeat < 1 or points[0] < 1 or points[-1] > args.commits:
        parser.error("--repeat must be positive, checkpoints within 1..--commits")
    if any(point % TAG_EVERY for point in points[:-1]):
        parser.error(f"checkpoints must be multiples of {TAG_EVERY}")
    interval = args.sample_interval if Path("/proc/self/smaps_rollup").exists() else 0.0
    repo, manifest = ensure_history(
        args.corpus_dir,
        commits=args.commits,
        files=args.files,
        keys=args.keys,
        seed=args.seed,
        regenerate=args.regenerate,
    )
    python = Path(sys.executable)
    print(
        f"{manifest['commits']} commits touching {manifest['paths_touched']} paths; "
        f"{manifest['blob_bytes'] / MB:.0f} MB of file versions; {available_cores()} core(s)"
    )
    load = os.getloadavg()[0]
    if load > 0.5:
        print(f"WARNING: load average {load:.2f} before the first run: timings will be noisy")
    series: list[Series] = []
    with tempfile.TemporaryDirectory(prefix="keyguard-bench-") as scratch:
        output = Path(scratch, "report.json")
        for point in points:
            command = history_command(python, output, None if point == args.commits else point)
            print(f"  keyguard {' '.join(command[3:])}")
            current = Series(point, load=os.getloadavg()[0])
            run_once(command, repo, output, interval)  # warm-up: page cache, imports
            for _ in range(args.repeat):
                current.runs.append(run_once(command, repo, output, interval))
            print(f"    median {current.median:.2f} s over {args.repeat} run(s)")
            series.append(current)
        alone = statistics.median(git_log_alone(repo) for _ in range(args.repeat))

    rows = []
    for s in series:
        summary = s.report["summary"]
        megabytes = summary["bytes_scanned"] / MB
        tree = [run.tree_kib for run in s.runs if run.tree_kib is not None]
        rows.append(
            [
                s.commits,
                f"{megabytes:.1f}",
                len(s.report["findings"]),
                f"{s.median:.2f}",
                f"{min(run.wall for run in s.runs):.2f}",
                f"{summary['commits_scanned'] / s.median:.0f}",
                f"{megabytes / s.median:.1f}",
                f"{max(run.self_kib for run in s.runs) / 1024:.0f}",
                f"{max(run.largest_kib for run in s.runs) / 1024:.0f}",
                f"{max(tree) / 1024:.0f}" if tree else "-",
                f"{s.load:.2f}",
            ]
        )
    print()
    headers = ["commits", "patch MB", "findings", "median s", "min s", "commits/s", "MB/s"]
    headers += ["keyguard RSS MiB", "largest MiB", "tree PSS MiB", "load"]
    print(table(headers, rows))
    print(f"\n`git log -p` alone over all {args.commits} commits, output discarded: {alone:.2f} s")
    ok, text = check_recall(manifest, series[-1].report["findings"])
    print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
