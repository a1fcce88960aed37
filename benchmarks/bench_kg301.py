"""KG301 precision on real code: every finding, grouped so that a person can judge a sample.

Scans a tree (by default `benchmarks/corpus/real`, the tree `build_tree.py` pins) with the
installed keyguard, keeps the KG301 findings, and prints them grouped by top directories and by
the construct that made the URL count as an endpoint (an HTTP client call, a value assigned to
a `*_URL` name, a config value, a CSS `url()`, ...), plus how many endpoint findings keyguard
counted in vendored or generated code instead of reporting them. `--sample N --seed S` prints a
reproducible random sample to judge by hand (real plain-http endpoint, or dismiss).

    .venv/bin/python benchmarks/bench_kg301.py /work/bench/corpus/real --sample 30 --seed 9
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _common import table

HERE = Path(__file__).resolve().parent
# What stands before the URL on its line, most specific first: (heuristic, pattern).
CONTEXTS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        (
            "http client call",
            r"(?:\b(?:fetch|get|post|put|patch|delete|head|request|urlopen|urlretrieve|Request"
            r"|ajax|open|connect|Get|Post|NewRequest)\s*\(|\b(?:curl|wget|svn|git)\b.*)"
            r"[^()]*[\"'`]?$",
        ),
        ("CSS url()", r"\burl\(\s*[\"']?$"),
        ("markup attribute", r"\b(?:src|href|action|data)\s*=\s*[\"']?$"),
        (
            "assigned to *_URL / endpoint name",
            r"(?:url|uri|endpoint|base|host|api|server|proxy|registry|callback|redirect)\w*"
            r"[\"'\]]?\s*(?:=>|:=|=|:)\s*[\"'`]?$",
        ),
        ("assigned to another name", r"[\w$.-]+[\"'\]]?\s*(?:=>|:=|=|:)\s*[\"'`]?$"),
        ("call argument", r"[(,]\s*[\"'`]?$"),
        ("list element", r"\[\s*[\"'`]?$"),
        ("string literal", r"[\"'`]$"),
    )
)


def heuristic(snippet: str, url: str) -> str:
    """The construct that let the URL through, read from the text before it on its line."""
    position = snippet.find(url)
    before = snippet[:position] if position != -1 else snippet
    for name, pattern in CONTEXTS:
        if pattern.search(before):
            return name
    return "bare text (command, config line)"


def top_directory(path: str, depth: int) -> str:
    parts = path.split("/")
    return "/".join(parts[: min(depth, len(parts) - 1)]) or "."


def run_scan(keyguard: Path, root: Path) -> tuple[list[dict[str, Any]], int]:
    """KG301 findings of a scan of `root`, and the endpoints counted in vendored code."""
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch, "report.json")
        command = [str(keyguard), "scan", str(root), "--format", "json", "-o", str(report)]
        done = subprocess.run([*command, "--stats"], capture_output=True, text=True, check=False)
        if done.returncode not in (0, 1):
            sys.exit(f"keyguard failed ({done.returncode}): {done.stderr.strip()}")
        document = json.loads(report.read_text(encoding="utf-8"))
    counted = re.search(r"third_party_endpoints=(\d+)", done.stderr)
    findings = [f for f in document["findings"] if f["rule_id"] == "KG301"]
    for finding in findings:
        path = Path(finding["path"])
        finding["path"] = (path.relative_to(root) if path.is_absolute() else path).as_posix()
        finding["heuristic"] = heuristic(finding["snippet"], finding["redacted"])
    return findings, int(counted.group(1)) if counted else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", nargs="?", type=Path, default=HERE / "corpus" / "real")
    parser.add_argument("--keyguard", type=Path, default=Path(sys.executable).parent / "keyguard")
    parser.add_argument("--depth", type=int, default=2, help="path components per group [2]")
    parser.add_argument("--sample", type=int, default=0, help="print N random findings")
    parser.add_argument("--seed", type=int, default=9)
    args = parser.parse_args(argv)
    root = args.root.resolve()
    if not root.is_dir():
        print(f"error: {root} is not a directory (build it with build_tree.py)", file=sys.stderr)
        return 2
    findings, vendored = run_scan(args.keyguard, root)
    print(f"{len(findings)} KG301 findings under {root}")
    print(f"{vendored} endpoint findings in vendored or generated code counted, not reported\n")
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for finding in findings:
        groups[top_directory(finding["path"], args.depth)].append(finding)
    for directory in sorted(groups):
        print(f"{directory}  ({len(groups[directory])})")
        for f in groups[directory]:
            print(f"  {f['path']}:{f['line']}  [{f['heuristic']}]  {f['redacted'][:90]}")
    by_heuristic = Counter(f["heuristic"] for f in findings)
    print("\nby heuristic\n" + table(["heuristic", "findings"], by_heuristic.most_common()))
    if args.sample:
        chosen = random.Random(args.seed).sample(findings, min(args.sample, len(findings)))
        print(f"\nsample of {len(chosen)} (seed {args.seed}): judge each real / dismiss")
        for number, f in enumerate(chosen, 1):
            print(f"{number:>3}. {f['path']}:{f['line']}  [{f['heuristic']}]")
            print(f"       {f['snippet'].strip()[:160]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
