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
    done = _org(tmp_path, str(listing), "--format", "json")
    assert done.returncode == 2, done.stderr
    failures = [line for line in done.stderr.splitlines() if "gone: clone failed" in line]
    assert len(failures) == 1
    assert "Traceback" not in done.stderr
    report = json.loads(done.stdout)
    assert [f["path"] for f in report["findings"]] == ["repo-03/app/settings.py"]
    assert [entry["repository"] for entry in report["failed"]] == ["gone"]
    assert report["failed"][0]["reason"].startswith("clone failed")
    console = _org(tmp_path, str(listing))
    assert console.returncode == 2
    assert console.stdout.splitlines()[-1].startswith("failed: gone: clone failed: ")


def _org(cwd: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keyguard", "org", *arguments],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=300,
    )


def _counting(calls: Path, task: RepoTask, config: Config | None) -> Outcome:
    (calls / f"{task.name}.{task.part}.{task.since}.{os.getpid()}.{os.urandom(4).hex()}").touch()
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
    assert len(list(calls.iterdir())) == 4  # a short history is one range, with the tree
    again = _run(tasks, jobs=2, state=state, runner=runner)
    assert len(list(calls.iterdir())) == 4  # nothing scanned twice
    assert _report(again) == _report(first)
    # A new commit in one repository: its tree and the one new commit are scanned, no more.
    repo = root / "repo-00"
    old_head = git("rev-parse", "HEAD", cwd=repo).stdout.strip()
    (repo / "new.py").write_text(f'KEY = "{fake("sk_live_{{alnum:24}}")}"\n')
    _commit(repo, "new key")
    try:
        third = _run(tasks, jobs=2, state=state, runner=runner)
        ran = sorted(p.name.rsplit(".", 2)[0] for p in calls.iterdir())
        assert len(ran) == 5
        assert ran.count(f"repo-00.tree.{old_head}") == 1  # the tree, and old HEAD..HEAD
        assert ("repo-00/new.py", "KG101") in _found(third)
        assert _found(first) <= _found(third)
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
    missing = (tmp_path / "gone.git").as_uri()
    listing.write_text(f"{root / 'repo-04'}\n{(root / 'repo-05').as_uri()}\n{missing}\n")
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
    assert done.returncode == 2, done.stderr  # one repository failed
    log = json.loads(out.read_text())
    jsonschema.validate(log, json.loads(SCHEMA.read_text()))
    gone, *runs = log["runs"]  # in name order
    assert gone["invocations"][0]["executionSuccessful"] is False
    note = gone["invocations"][0]["toolExecutionNotifications"][0]["message"]["text"]
    assert note.startswith("clone failed")
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
    # Each part (the tree, its range alone too) is stored before its repository is handed on.
    assert len(list(state.rglob("*.task"))) == 4
    scanned = len(list(calls.iterdir()))  # those two, and any a worker had already started
    rest = _run(tasks, jobs=2, state=state, runner=runner)
    assert len(list(calls.iterdir())) == scanned + 4  # the two stored are not scanned again
    assert sorted(o.name for o in rest) == sorted(task.name for task in tasks)
    names = {task.name for task in tasks}
    assert {o.name for o in finished} <= names
    assert _found(rest) == {(p, r) for p, r in expected if p.split("/")[0] in names}


@pytest.fixture(scope="module")
def merged_history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40-odd commits with a branch merged in, and keys that cross range boundaries.

    One key is added early and deleted later, one is added early and still in HEAD, one comes
    in on the branch, and one is added, removed and added again in the same file.
    """
    repo = tmp_path_factory.mktemp("ranges") / "big"
    repo.mkdir()
    assert git("init", "-q", "-b", "main", cwd=repo).returncode == 0
    tick = iter(range(1_700_000_000, 1_800_000_000, 60))

    def commit(message: str) -> None:
        date = f"@{next(tick)} +0000"
        env = {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
        assert git("add", "-A", cwd=repo).returncode == 0
        assert git("commit", "-q", "-m", message, cwd=repo, env=env).returncode == 0

    again = fake("sk_live_{{alnum:24}}")
    for number in range(40):
        if number == 3:
            (repo / "gone.py").write_text(f'KEY = "{fake("sk_live_{{alnum:24}}")}"\n')
        if number == 5:
            (repo / "kept.py").write_text(f'TOKEN = "{fake("sk_test_{{alnum:32}}")}"\n')
        if number in (7, 29):
            (repo / "again.py").write_text(f'KEY = "{again}"\n')
        if number == 12:
            (repo / "again.py").unlink()
        if number == 30:
            (repo / "gone.py").unlink()
        if number == 15:  # a branch of six commits, merged at 22
            assert git("checkout", "-q", "-b", "feature", cwd=repo).returncode == 0
            for step in range(6):
                (repo / "feature.txt").write_text(f"step {step}\n")
                if step == 2:
                    (repo / "branch.py").write_text(f'KEY = "{fake("rk_live_{{alnum:24}}")}"\n')
                commit(f"feature {step}")
            assert git("checkout", "-q", "main", cwd=repo).returncode == 0
        if number == 22:
            date = f"@{next(tick)} +0000"
            env = {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
            merging = git(
                "merge", "-q", "--no-ff", "-m", "merge feature", "feature", cwd=repo, env=env
            )
            assert merging.returncode == 0, merging.stderr
        (repo / "log.txt").write_text(f"change {number}\n")
        commit(f"commit {number}")
    return repo


def _everything(outcomes: list[Outcome]) -> list[tuple[str, int, str, str, str, str]]:
    return [
        (f.location.path, f.location.line, f.rule.id, f.redacted, f.fingerprint, f.message)
        for f in merge(outcomes, builtin_rules())
    ]


@pytest.mark.parametrize("size", [1, 4, 7])
def test_ranges_cover_every_commit_once(merged_history: Path, size: int) -> None:
    from keyguard.org import plan_ranges

    ranges = plan_ranges(merged_history, size)
    assert len(ranges) > 1 and ranges[0][0] is None
    everything = git("rev-list", "HEAD", cwd=merged_history).stdout.split()
    listed: list[str] = []
    for since, until in ranges:
        exclude = [f"^{since}"] if since else []
        listed += git("rev-list", *exclude, until, cwd=merged_history).stdout.split()
    assert sorted(listed) == sorted(everything)  # none missed, none twice
    assert ranges[-1][1] == everything[0]  # the last range ends at HEAD


def test_split_history_reports_exactly_what_one_task_does(merged_history: Path) -> None:
    tasks = expand_sources([str(merged_history)], history=True)
    whole = _run(tasks, jobs=1, range_size=0)
    split = _run(tasks, jobs=2, range_size=4)
    assert all(outcome.error is None for outcome in whole + split)
    assert _everything(split) == _everything(whole)
    assert split[0].commits == whole[0].commits == 47  # 40, the branch's 6 and the merge
    messages = {f.location.path: f.message for f in merge(split, builtin_rules())}
    assert "not in HEAD" in messages["big/gone.py"]
    assert "still in HEAD" in messages["big/kept.py"]
    assert "in 2 commits" in messages["big/again.py"]
    assert "big/branch.py" in messages


@pytest.mark.slow
@pytest.mark.dask
@skip_without_dask
def test_ranges_on_dask_are_futures_and_merge_as_locally(merged_history: Path) -> None:
    tasks = expand_sources([str(merged_history)], history=True)
    on_dask = _run(tasks, executor="dask-local", jobs=2, range_size=4)
    assert _everything(on_dask) == _everything(_run(tasks, jobs=1, range_size=0))


def test_ranges_stored_before_head_moved_are_asked_again_about_head(
    tmp_path: Path, merged_history: Path
) -> None:
    tasks = expand_sources([str(merged_history)], history=True)
    state = tmp_path / "state"
    _run(tasks, jobs=2, state=state, range_size=4)
    (merged_history / "kept.py").unlink()
    _commit(merged_history, "remove the kept key")
    try:
        again = _run(tasks, jobs=2, state=state, range_size=4)
        whole = _run(tasks, jobs=1, range_size=0)
        assert _everything(again) == _everything(whole)
        kept = [f for f in merge(again, builtin_rules()) if f.location.path == "big/kept.py"]
        assert "not in HEAD" in kept[0].message
    finally:
        assert git("reset", "-q", "--hard", "HEAD~1", cwd=merged_history).returncode == 0


def test_a_run_killed_between_a_trees_two_files_rewrites_neither_range(
    tmp_path: Path, clones: tuple[Path, set[tuple[str, str]]]
) -> None:
    """A tree task stores its range, then itself: a kill between the two leaves the range
    file only. The re-run scans the tree again and leaves the range file as it was."""
    root, expected = clones
    tasks = expand_sources([str(root)], history=True)
    state = tmp_path / "state"
    _run(tasks[:2], jobs=1, state=state)
    for tree in state.rglob("tree.*.task"):
        tree.unlink()  # what a kill between the two writes leaves
    ranges = {path: path.stat().st_ino for path in state.rglob("range.*.task")}
    assert len(ranges) == 2
    again = _run(tasks[:2], jobs=1, state=state)
    assert _found(again) == {item for item in expected if item[0][:7] in ("repo-00", "repo-01")}
    assert {path: path.stat().st_ino for path in state.rglob("range.*.task")} == ranges
    assert len(list(state.rglob("tree.*.task"))) == 2


def test_a_killed_org_run_loses_no_finished_task(
    tmp_path: Path, clones: tuple[Path, set[tuple[str, str]]]
) -> None:
    import signal
    import time

    root, expected = clones
    state = tmp_path / "state"
    command = [sys.executable, "-m", "keyguard", "org", str(root), "--history", "--jobs", "1"]
    command += ["--state", str(state), "--format", "json"]
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not list(state.rglob("*.task")) and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the whole run, its workers too
        process.wait()
    kept = {path: path.stat().st_ino for path in state.rglob("*.task")}
    assert kept  # something finished before the kill
    assert len(kept) < 2 * REPOSITORIES  # and something was left
    done = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, check=False, timeout=300
    )
    assert done.returncode == 1, done.stderr
    found = {(f["path"], f["rule_id"]) for f in json.loads(done.stdout)["findings"]}
    assert found == expected
    # A finished task is not run again: its file is the one the killed run wrote.
    assert all(path.stat().st_ino == inode for path, inode in kept.items())
    assert len(list(state.rglob("*.task"))) == 2 * REPOSITORIES
