"""The labelled corpus and the demo project: the engine reports exactly what a reviewer expects.

`tests/fixtures/corpus/manifest.toml` says how the corpus is labelled. Secrets in the corpus are
templates (`sk_live_{{alnum:24}}`) expanded into a temporary copy, so the repository holds no
key-shaped literal; the demo under `examples/acme-shop/` holds literal fakes and is scanned as is.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

from keyguard.prefilter import Backend
from keyguard.ruleset import builtin_rules, expand_fakes
from tests.conftest import PREFILTERS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "tests" / "fixtures" / "corpus"
MANIFEST = CORPUS / "manifest.toml"
DEMO = REPO / "examples" / "acme-shop"
DEMO_EXPECTED = DEMO / "expected.toml"
# Files in the corpus folder that are infrastructure, not fixtures.
NOT_FIXTURES = {"manifest.toml", "conftest.py"}
DEMO_NOT_FIXTURES = {"expected.toml", ".keyguard.toml"}
MIN_CORPUS_FILES = 60
# Fixed by default so a failure reproduces; set KEYGUARD_CORPUS_SEED to try other fakes.
SEED = int(os.environ.get("KEYGUARD_CORPUS_SEED", "20231128"))

Expected = tuple[str, str, int]  # (path, rule id, line)


@dataclass(frozen=True)
class Labels:
    expected: frozenset[Expected]
    negatives: tuple[str, ...]

    @property
    def labelled_paths(self) -> set[str]:
        return {path for path, _, _ in self.expected} | set(self.negatives)


def load_labels(path: Path) -> Labels:
    """Read a manifest: `[[expect]]` tables of path/rule/line, and `[negatives] paths`."""
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    expected: set[Expected] = set()
    for index, entry in enumerate(document.get("expect", [])):
        assert set(entry) == {"path", "rule", "line"}, f"{path.name}: expect #{index + 1}: {entry}"
        assert isinstance(entry["line"], int) and entry["line"] >= 1, f"{path.name}: {entry}"
        item = (entry["path"], entry["rule"], entry["line"])
        assert item not in expected, f"{path.name}: duplicate expectation {item}"
        expected.add(item)
    negatives = tuple(document.get("negatives", {}).get("paths", []))
    return Labels(frozenset(expected), negatives)


def fixture_files(root: Path, skip: set[str]) -> list[str]:
    """Every file under `root` as a posix path relative to it, minus the infrastructure files."""
    return sorted(
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file() and path.relative_to(root).as_posix() not in skip
    )


def materialise(source: Path, target: Path, files: Iterable[str], *, expand: bool) -> None:
    """Copy the fixtures, expanding `{{alnum:N}}` templates; every other byte stays the same.

    Files are decoded as UTF-8 without newline translation, so CRLF endings and a BOM survive;
    a file that is not UTF-8 is copied untouched.
    """
    rng = random.Random(SEED)
    for name in files:
        data = (source / name).read_bytes()
        if expand:
            with contextlib.suppress(UnicodeDecodeError):
                data = expand_fakes(data.decode("utf-8"), rng).encode("utf-8")
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(data)


def run_engine(root: Path, prefilter: Backend | None = None) -> set[Expected]:
    """Scan `root` with the real engine and default configuration, as a user would."""
    from keyguard.config import Config
    from keyguard.engine import scan

    result = scan([root], Config(root=root), jobs=1, display_root=root, prefilter=prefilter)
    return {(f.location.path, f.rule.id, f.location.line) for f in result.findings}


def line_of(root: Path, path: str, line: int) -> str:
    try:
        lines = (root / path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "<missing file>"
    text = lines[line - 1].strip() if 0 < line <= len(lines) else "<no such line>"
    return text if len(text) <= 110 else text[:107] + "..."


def compare(name: str, root: Path, found: set[Expected], expected: frozenset[Expected]) -> str:
    """Precision and recall, plus a readable list of every false positive and false negative."""
    true_positives = found & expected
    false_positives = sorted(found - expected)
    false_negatives = sorted(expected - found)
    precision = len(true_positives) / len(found) if found else 1.0
    recall = len(true_positives) / len(expected) if expected else 1.0
    lines = [
        f"{name}: precision {precision:.3f} ({len(true_positives)}/{len(found)} reported findings "
        f"expected), recall {recall:.3f} ({len(true_positives)}/{len(expected)} expected findings "
        "reported)"
    ]
    if false_positives:
        lines.append(f"false positives ({len(false_positives)}): reported, not in the manifest")
        lines += [f"  {p}:{n}  {r}  | {line_of(root, p, n)}" for p, r, n in false_positives]
    if false_negatives:
        lines.append(f"false negatives ({len(false_negatives)}): in the manifest, not reported")
        lines += [f"  {p}:{n}  {r}  | {line_of(root, p, n)}" for p, r, n in false_negatives]
    return "\n".join(lines)


# --- The corpus is well formed -------------------------------------------------------------


def test_corpus_is_large_enough() -> None:
    files = fixture_files(CORPUS, NOT_FIXTURES)
    assert len(files) >= MIN_CORPUS_FILES, f"only {len(files)} corpus files"


def test_manifest_names_only_existing_files_and_lines() -> None:
    labels = load_labels(MANIFEST)
    rule_ids = {rule.id for rule in builtin_rules()}
    problems = []
    for path, rule, line in sorted(labels.expected):
        file = CORPUS / path
        if path in NOT_FIXTURES or not file.is_file():
            problems.append(f"{path}: no such corpus file")
            continue
        if rule not in rule_ids:
            problems.append(f"{path}:{line}: unknown rule {rule}")
        if line > len(file.read_bytes().splitlines()):
            problems.append(f"{path}:{line}: past the end of the file")
    missing = [path for path in labels.negatives if not (CORPUS / path).is_file()]
    problems += [f"{path}: negative names no corpus file" for path in missing]
    assert not problems, "\n".join(problems)


def test_every_corpus_file_is_labelled() -> None:
    """A new fixture must come with a decision: expected findings, or a deliberate negative."""
    labels = load_labels(MANIFEST)
    files = set(fixture_files(CORPUS, NOT_FIXTURES))
    positives = {path for path, _, _ in labels.expected}
    unlabelled = sorted(files - labels.labelled_paths)
    both = sorted(positives & set(labels.negatives))
    assert not unlabelled, "in neither [[expect]] nor [negatives]:\n" + "\n".join(unlabelled)
    assert not both, "negatives with expected findings:\n" + "\n".join(both)
    assert len(labels.negatives) == len(set(labels.negatives)), "duplicate negative paths"


KEY_SHAPE = re.compile(
    rb"(?<![A-Za-z0-9_])(?:sk_live_|sk_test_|rk_live_|rk_test_|rk_)([A-Za-z0-9]{16,})"
)


def looks_real(body: bytes) -> bool:
    """What expand_fakes would produce: letters and digits, and not a run of a few characters."""
    text = body.decode()
    return (
        any(c.isdigit() for c in text)
        and any(c.isalpha() for c in text)
        and len(set(text)) > len(text) // 3
    )


def test_corpus_holds_no_key_shaped_literal() -> None:
    """Fixtures write keys as templates; a literal would trip push protection and our own scan."""
    offenders = []
    for name in fixture_files(CORPUS, set()):
        data = (CORPUS / name).read_bytes()
        for match in KEY_SHAPE.finditer(data):
            if looks_real(match.group(1)):
                line = data.count(b"\n", 0, match.start()) + 1
                offenders.append(f"{name}:{line}: use a template, e.g. sk_live_{{{{alnum:24}}}}")
    assert not offenders, "\n".join(offenders)


# --- The engine against the labels --------------------------------------------------------


@pytest.mark.parametrize("prefilter", PREFILTERS)
def test_corpus_precision_and_recall(tmp_path: Path, prefilter: Backend) -> None:
    labels = load_labels(MANIFEST)
    root = tmp_path / "corpus"
    root.mkdir()
    materialise(CORPUS, root, fixture_files(CORPUS, NOT_FIXTURES), expand=True)
    found = run_engine(root, prefilter)
    report = compare(f"corpus (seed {SEED})", root, found, labels.expected)
    print(report)
    assert found == labels.expected, report


def test_demo_project_findings(tmp_path: Path) -> None:
    """The demo holds literal fakes; scan a copy so no outer config or .gitignore applies."""
    labels = load_labels(DEMO_EXPECTED)
    files = fixture_files(DEMO, DEMO_NOT_FIXTURES)
    assert set(files) == labels.labelled_paths, (
        "demo files and expected.toml disagree: "
        f"unlabelled {sorted(set(files) - labels.labelled_paths)}, "
        f"missing {sorted(labels.labelled_paths - set(files))}"
    )
    root = tmp_path / "acme-shop"
    root.mkdir()
    materialise(DEMO, root, files, expand=False)
    found = run_engine(root)
    report = compare("examples/acme-shop", root, found, labels.expected)
    print(report)
    assert found == labels.expected, report


def test_demo_scanned_in_place_as_the_quickstart_does() -> None:
    """`keyguard scan examples/acme-shop` from the repository root: the demo's own config wins."""
    import json
    import subprocess
    import sys

    labels = load_labels(DEMO_EXPECTED)
    repo = DEMO.parents[1]
    result = subprocess.run(
        [sys.executable, "-m", "keyguard", "scan", "examples/acme-shop", "--format", "json"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    prefix = "examples/acme-shop/"
    found = {
        (f["path"].removeprefix(prefix), f["rule_id"], f["line"])
        for f in json.loads(result.stdout)["findings"]
    }
    assert found == labels.expected
