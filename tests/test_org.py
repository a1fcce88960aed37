"""`keyguard org`: many repositories, locally and on a real Dask LocalCluster, resumable."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from keyguard.config import Config
from keyguard.org import Outcome, RepoTask, expand_sources, merge, run_org, scan_repository
from keyguard.ruleset import builtin_rules
from tests.conftest import fake, git

REPOSITORIES = 20

try:
    import distributed  # noqa: F401

    HAVE_DASK = True
except ImportError:  # pragma: no cover - CI installs the dask extra
    HAVE_DASK = False

skip_without_dask = pytest.mark.skipif(
    not HAVE_DASK, reason='the dask extra is not installed (pip install "keyguard[dask]")'
)


def _commit(repo: Path, message: str) -> None:
    assert git("add", "-A", cwd=repo).returncode == 0
    assert git("commit", "-q", "-m", message, cwd=repo).returncode == 0


@pytest.fixture(scope="module")
def clones(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[tuple[str, str]]]:
    """20 repositories, each with a key only its history holds and one still in HEAD.

    Returns the directory of clones and the (path, rule id) every run must report.
    """
    root = tmp_path_factory.mktemp("org") / "clones"
    expected: set[tuple[str, str]] = set()
    for number in range(REPOSITORIES):
        repo = root / f"repo-{number:02d}"
        repo.mkdir(parents=True)
        assert git("init", "-q", cwd=repo).returncode == 0
        (repo / "old.py").write_text(f'KEY = "{fake("sk_live_{{alnum:24}}")}"\n')
        _commit(repo, "add a key")
        (repo / "old.py").unlink()
        (repo / "README.md").write_text("nothing here\n")
        _commit(repo, "remove it")
        (repo / "app").mkdir()
        (repo / "app" / "settings.py").write_text(f'TOKEN = "{fake("sk_test_{{alnum:32}}")}"\n')
        _commit(repo, "another one")
        expected |= {(f"{repo.name}/old.py", "KG101"), (f"{repo.name}/app/settings.py", "KG102")}
    return root, expected


def _run(tasks: list[RepoTask], **options: object) -> list[Outcome]:
    return list(run_org(tasks, None, **options))  # type: ignore[arg-type]


def _found(outcomes: list[Outcome]) -> set[tuple[str, str]]:
    return {(f.location.path, f.rule.id) for f in merge(outcomes, builtin_rules())}


def _report(outcomes: list[Outcome]) -> list[tuple[str, int, str, str, str]]:
    return [
        (f.location.path, f.location.line, f.rule.id, f.redacted, f.fingerprint)
        for f in merge(outcomes, builtin_rules())
    ]


def test_local_finds_every_key_in_trees_and_histories(
    clones: tuple[Path, set[tuple[str, str]]],
) -> None:
    root, expected = clones
    outcomes = _run(expand_sources([str(root)], history=True), jobs=2)
    assert all(outcome.error is None for outcome in outcomes)
    assert len(outcomes) == REPOSITORIES
    assert _found(outcomes) == expected


def test_tasks_return_redacted_findings_only(clones: tuple[Path, set[tuple[str, str]]]) -> None:
    root, _ = clones
    outcome = scan_repository(RepoTask("repo-00", str(root / "repo-00"), True), None)
    secrets = [line.split('"')[1] for line in (root / "repo-00" / "app" / "settings.py").open()]
    shipped = repr(outcome)
    assert outcome.findings
    assert not any(secret in shipped for secret in secrets)


def test_sources_clones_lists_and_urls(
    tmp_path: Path, clones: tuple[Path, set[tuple[str, str]]]
) -> None:
    root, _ = clones
    listing = tmp_path / "repos.txt"
    listing.write_text(
        f"# the team's repositories\n{(root / 'repo-01').as_uri()}\n{root / 'repo-02'}\n"
    )
    tasks = expand_sources([str(root / "repo-01"), str(listing)])
    assert [task.name for task in tasks] == ["repo-01", "repo-01-2", "repo-02"]
    outcomes = _run(tasks, jobs=1)
    assert {o.name for o in outcomes if o.error is None} == {"repo-01", "repo-01-2", "repo-02"}
    assert ("repo-01-2/app/settings.py", "KG102") in _found(outcomes)


def test_a_repository_that_fails_is_one_line_and_the_run_goes_on(
    tmp_path: Path, clones: tuple[Path, set[tuple[str, str]]]
) -> None:
    root, _ = clones
    listing = tmp_path / "repos.txt"
    missing = (tmp_path / "gone.git").as_uri()
    listing.write_text(f"{missing}\n{(root / 'repo-03').as_uri()}\n")
    done = subprocess.run(
        [sys.executable, "-m", "keyguard", "org", str(listing), "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    failures = [line for line in done.stderr.splitlines() if "gone: clone failed" in line]
    assert len(failures) == 1
    assert "Traceback" not in done.stderr
    report = json.loads(done.stdout)
    assert [f["path"] for f in report["findings"]] == ["repo-03/app/settings.py"]


def _counting(calls: Path, task: RepoTask, config: Config | None) -> Outcome:
    (calls / f"{task.name}.{os.getpid()}.{os.urandom(4).hex()}").touch()
    return scan_repository(task, config)


def _counted(tmp_path: Path) -> tuple[Path, Path, functools.partial[Outcome]]:
    """(state directory, directory of one file per task run, a runner that leaves them)."""
    calls = tmp_path / "calls"
    calls.mkdir()
    return tmp_path / "state", calls, functools.partial(_counting, calls)


def test_a_resumed_run_does_no_repeated_work_and_a_new_commit_is_scanned(
    tmp_path: Path, clones: tuple[Path, set[tuple[str, str]]]
) -> None:
    root, expected = clones
    tasks = expand_sources([str(root)], history=True)[:4]
    state, calls, runner = _counted(tmp_path)
    first = _run(tasks, jobs=2, state=state, runner=runner)
    assert len(list(calls.iterdir())) == 4
    again = _run(tasks, jobs=2, state=state, runner=runner)
    assert len(list(calls.iterdir())) == 4  # nothing scanned twice
    assert _report(again) == _report(first)
    # A new commit in one repository: that repository alone is scanned again.
    repo = root / "repo-00"
    (repo / "new.py").write_text(f'KEY = "{fake("sk_live_{{alnum:24}}")}"\n')
    _commit(repo, "new key")
    try:
        third = _run(tasks, jobs=2, state=state, runner=runner)
        assert sorted(p.name.split(".")[0] for p in calls.iterdir()).count("repo-00") == 2
        assert len(list(calls.iterdir())) == 5
        assert ("repo-00/new.py", "KG101") in _found(third)
    finally:
        assert git("reset", "-q", "--hard", "HEAD~1", cwd=repo).returncode == 0
    assert {(p, r) for p, r in _found(first)} <= expected


def test_plain_scan_imports_neither_dask_nor_the_org_module(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from keyguard.cli import main\n"
        "try:\n"
        "    main(['scan', '.'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print([m for m in ('dask', 'distributed', 'keyguard.org') if m in sys.modules])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stderr


def _dying(marker: Path, task: RepoTask, config: Config | None) -> Outcome:
    """On its first attempt, the task for repo-07 kills its worker process outright."""
    if task.name == "repo-07" and not marker.exists():
        marker.touch()
        os._exit(1)
    return scan_repository(task, config)


@pytest.fixture(scope="module")
def dask_tests_by_value() -> None:
    """Dask workers unpickle the runners defined here by value: tests/ need not be importable."""
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    cloudpickle.register_pickle_by_value(sys.modules["tests.conftest"])


@pytest.mark.slow
@pytest.mark.dask
@skip_without_dask
@pytest.mark.usefixtures("dask_tests_by_value")
def test_dask_local_cluster_identical_to_local_and_survives_a_killed_worker(
    tmp_path: Path, clones: tuple[Path, set[tuple[str, str]]]
) -> None:
    root, expected = clones
    tasks = expand_sources([str(root)], history=True)
    local = _run(tasks, jobs=2)
    marker = tmp_path / "died-once"
    on_dask = _run(tasks, executor="dask-local", jobs=2, runner=functools.partial(_dying, marker))
    assert marker.exists()  # a worker really died mid-run
    assert all(outcome.error is None for outcome in on_dask), [o.error for o in on_dask]
    assert _found(on_dask) == expected
    assert _report(on_dask) == _report(local)


def test_sarif_has_one_valid_run_per_repository(
    tmp_path: Path, clones: tuple[Path, set[tuple[str, str]]]
) -> None:
    from tests.test_cli import SCHEMA

    if not SCHEMA.exists():
        pytest.skip("../shared/schemas is absent (a user's clone): cannot validate SARIF")
    import jsonschema

    root, _ = clones
    listing = tmp_path / "repos.txt"
    listing.write_text(f"{root / 'repo-04'}\n{(root / 'repo-05').as_uri()}\n")
    out = tmp_path / "org.sarif"
    command = ["org", str(listing), "--history", "--format", "sarif", "-o", str(out)]
    done = subprocess.run(
        [sys.executable, "-m", "keyguard", *command],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    log = json.loads(out.read_text())
    jsonschema.validate(log, json.loads(SCHEMA.read_text()))
    runs = log["runs"]
    assert len(runs) == 2
    for run in runs:
        paths = {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]
        }
        assert paths == {"old.py", "app/settings.py"}
    assert runs[0]["originalUriBaseIds"]["%SRCROOT%"]["uri"] == (root / "repo-04").as_uri() + "/"
    assert runs[1]["versionControlProvenance"][0]["repositoryUri"] == (root / "repo-05").as_uri()


def test_a_cancelled_run_keeps_what_finished_and_the_next_does_the_rest(
    tmp_path: Path, clones: tuple[Path, set[tuple[str, str]]]
) -> None:
    root, expected = clones
    tasks = expand_sources([str(root)], history=True)[:6]
    state, calls, runner = _counted(tmp_path)
    run = run_org(tasks, None, jobs=1, state=state, runner=runner)
    finished = [next(run), next(run)]
    run.close()  # the job is cancelled after two repositories
    assert len(list(state.iterdir())) == 2  # each result is stored before it is handed on
    scanned = len(list(calls.iterdir()))  # those two, and any a worker had already started
    rest = _run(tasks, jobs=2, state=state, runner=runner)
    assert len(list(calls.iterdir())) == scanned + 4  # the two stored are not scanned again
    assert sorted(o.name for o in rest) == sorted(task.name for task in tasks)
    names = {task.name for task in tasks}
    assert {o.name for o in finished} <= names
    assert _found(rest) == {(p, r) for p, r in expected if p.split("/")[0] in names}
