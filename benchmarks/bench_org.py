"""`keyguard org` benchmark: many repositories with their histories, local processes vs Dask.

Builds (once, under ``benchmarks/corpus/org/``, git-ignored) ``--repos`` repositories (default
200) of ``--commits`` commits each (default 200) with ``git fast-import``: each commit adds or
rewrites one of a few dozen small Python files, and every repository gets one key in its
history (removed again later) and one in HEAD. Then, for each executor, one run of::

    keyguard org <dir> --history --executor E --jobs J --format json -o <tmpfile>

and prints wall time, repositories/s and commits/s, and checks that every planted key was
reported. The per-task overhead is measured the same way over ``--repos`` one-commit
repositories holding one empty file: wall time over the number of tasks (for dask-local the
LocalCluster's start is included once, and printed alone too).

``--big N`` (default 5000; 0 skips it) also builds one repository of N commits and scans its
history on local processes, ``--jobs`` of them, whole (``--range-size 0``: one task) and split
into ranges of ``--range-size`` commits: does splitting one big history pay on these cores?

No key-shaped literal appears in this file: secrets come from ``bench_throughput.make_secret``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import table
from bench_throughput import make_secret

HERE = Path(__file__).resolve().parent
KEYGUARD = [sys.executable, "-m", "keyguard"]


SHAPE = "loopback-endpoint-per-commit"  # cached corpora of another shape are rebuilt


def _blob(text: str) -> bytes:
    data = text.encode()
    return b"data %d\n%s\n" % (len(data), data)


def build_repository(path: Path, commits: int, rng: random.Random) -> int:
    """One repository of `commits` commits; returns how many keys its history planted."""
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    stream = bytearray()
    when = 1_700_000_000
    removed_at = commits // 2
    for number in range(1, commits + 1):
        name = f"pkg/module_{rng.randrange(40)}.py"
        lines = [f"def handler_{number}_{n}(value):\n    return value + {n}\n" for n in range(8)]
        # Every added line set holds rule keywords whose patterns match (a loopback endpoint),
        # so each changed file takes the expensive path: a whole-blob scan, not the shortcut.
        lines.append(f'LOCAL_API = "http://localhost:8000/v1/handler_{number}"\n')
        stream += b"commit refs/heads/main\n"
        stream += b"committer bench <bench@example.invalid> %d +0000\n" % (when + number)
        stream += _blob(f"commit {number}")
        stream += b"M 100644 inline %s\n" % name.encode()
        stream += _blob("".join(lines))
        if number == 3:
            stream += b"M 100644 inline old_settings.py\n"
            stream += _blob(f'API_KEY = "{make_secret("sk_live", rng)}"\n')
        if number == removed_at:
            stream += b"D old_settings.py\n"
        if number == commits:
            stream += b"M 100644 inline app/settings.py\n"
            stream += _blob(f'TOKEN = "{make_secret("sk_test", rng)}"\n')
        stream += b"\n"
    subprocess.run(["git", "fast-import", "--quiet"], input=bytes(stream), cwd=path, check=True)
    subprocess.run(["git", "checkout", "-q", "-f", "main"], cwd=path, check=True)
    return 2


def build(root: Path, repos: int, commits: int) -> int:
    marker = root / "done"
    if marker.exists() and marker.read_text() == f"{repos} {commits} {SHAPE}":
        return repos * 2
    subprocess.run(["rm", "-rf", str(root)], check=True)
    rng = random.Random(13)
    planted = sum(
        build_repository(root / f"repo-{n:04d}", commits, rng) if commits else _empty(root, n)
        for n in range(repos)
    )
    marker.write_text(f"{repos} {commits} {SHAPE}")
    return planted


def _empty(root: Path, number: int) -> int:
    path = root / f"repo-{number:04d}"
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    (path / "empty.py").write_text("")
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.invalid"}
    env |= {"GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.invalid"}
    subprocess.run(["git", "add", "-A"], cwd=path, check=True)
    subprocess.run(["git", "commit", "-qm", "empty"], cwd=path, check=True, env=env)
    return 0


def run(
    root: Path, executor: str, jobs: int, range_size: int = 500
) -> tuple[float, dict[str, object]]:
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "report.json"
        command = [*KEYGUARD, "org", str(root), "--history", "--executor", executor]
        command += ["--jobs", str(jobs), "--range-size", str(range_size)]
        command += ["--format", "json", "-o", str(out)]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - started
        if done.returncode not in (0, 1):
            raise SystemExit(f"keyguard org failed ({done.returncode}): {done.stderr.strip()}")
        return seconds, json.loads(out.read_text())


def cluster_start(jobs: int) -> float:
    code = (
        "import time; t = time.perf_counter()\n"
        "from distributed import Client, LocalCluster\n"
        f"c = LocalCluster(n_workers={jobs}, threads_per_worker=1, dashboard_address=None)\n"
        "cl = Client(c); cl.close(); c.close(); print(time.perf_counter() - t)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(done.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=200)
    parser.add_argument("--commits", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--corpus", type=Path, default=HERE / "corpus" / "org")
    parser.add_argument("--range-size", type=int, default=500)
    parser.add_argument("--big", type=int, default=5000)
    parser.add_argument("--skip-many", action="store_true", help="only the --big measurement")
    arguments = parser.parse_args()
    missed = big(arguments.corpus, arguments.big, arguments.jobs, arguments.range_size)
    if arguments.skip_many:
        sys.exit(1 if missed else 0)
    jobs, repos, commits = arguments.jobs, arguments.repos, arguments.commits
    tree = arguments.corpus / f"{repos}x{commits}"
    empty = arguments.corpus / f"{repos}x0"
    started = time.perf_counter()
    planted = build(tree, repos, commits)
    build(empty, repos, 0)
    print(
        f"corpus: {repos} repositories x {commits} commits ({time.perf_counter() - started:.1f} s)"
    )
    rows = []
    for executor in ("local", "dask-local"):
        seconds, report = run(tree, executor, jobs, arguments.range_size)
        summary = report["summary"]
        assert isinstance(summary, dict)
        found = int(summary["findings"])
        missed |= found != planted
        idle, _ = run(empty, executor, jobs)
        rows.append(
            [
                executor,
                jobs,
                f"{seconds:.1f}",
                f"{repos / seconds:.1f}",
                f"{repos * commits / seconds:.0f}",
                f"{found}/{planted}",
                f"{idle / repos * 1000:.0f}",
            ]
        )
    headers = ["executor", "jobs", "wall s", "repos/s", "commits/s", "keys", "ms/task (empty)"]
    print(table(headers, rows))
    print(f"dask-local: LocalCluster start and stop alone {cluster_start(jobs):.1f} s")
    sys.exit(1 if missed else 0)


def big(corpus: Path, commits: int, jobs: int, range_size: int) -> bool:
    """One repository of `commits` commits, whole and split; True if a planted key was missed."""
    if commits <= 0:
        return False
    root = corpus / f"big-{commits}"
    marker = root / "done"
    if not (marker.exists() and marker.read_text() == f"{commits} {SHAPE}"):
        subprocess.run(["rm", "-rf", str(root)], check=True)
        build_repository(root / "big", commits, random.Random(13))
        marker.write_text(f"{commits} {SHAPE}")
    rows = []
    missed = False
    for size in (0, range_size):
        seconds, report = run(root, "local", jobs, size)
        summary = report["summary"]
        assert isinstance(summary, dict)
        missed |= int(summary["findings"]) != 2
        tasks = -(-commits // size) if size else 1  # the tree goes with the newest range
        label = f"{size} ({tasks} tasks)" if size else "0 (whole, 1 task)"
        rows.append(
            [label, jobs, f"{seconds:.1f}", f"{commits / seconds:.0f}", summary["findings"]]
        )
    print(f"one repository of {commits} commits, local processes:")
    print(table(["--range-size", "jobs", "wall s", "commits/s", "keys"], rows))
    return missed


if __name__ == "__main__":
    main()
