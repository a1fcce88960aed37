"""Baselines: record today's findings, report only new ones, and never leak or lose the file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from keyguard import baseline as baseline_module
from keyguard.baseline import (
    Baseline,
    BaselineEntry,
    BaselineError,
    apply_baseline,
    dumps,
    load,
    save,
    scope_for,
    transact,
    update,
)
from keyguard.cli import cli
from keyguard.config import Config
from keyguard.engine import scan
from keyguard.redact import secret_digest
from tests.conftest import fake, located

NAME = ".keyguard-baseline.json"
IDENTITY = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
}


def kg(*args: str, input: str | None = None) -> Result:
    """Run the CLI in-process, in the current directory (tests chdir to their tree)."""
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def live() -> str:
    return fake("sk_live_{{alnum:24}}")


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict[str, str]]:
    """A project with three findings; the working directory is its root. Returns the secrets."""
    secrets = {"live": live(), "test": fake("sk_test_{{alnum:32}}")}
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "settings.py").write_text(
        f'API_KEY = "{secrets["live"]}"\nBASE = "http://api.example.com/v1"\n'
    )
    (tmp_path / "deploy.env").write_text(f"KEY={secrets['test']}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NO_COLOR", "1")
    return tmp_path, secrets


def entries(root: Path) -> list[dict[str, object]]:
    document = json.loads((root / NAME).read_text())
    found: list[dict[str, object]] = document["entries"]
    return found


def set_statuses(root: Path, status: str, reason: str) -> None:
    """Review every entry by hand-editing the file, as a person in a pull request would."""
    document = json.loads((root / NAME).read_text())
    for entry in document["entries"]:
        entry["status"], entry["reason"] = status, reason
    (root / NAME).write_text(json.dumps(document, indent=2) + "\n")


# --- round trip ---------------------------------------------------------------------------------


def test_round_trip_create_edit_code_scan(repo: tuple[Path, dict[str, str]]) -> None:
    root, secrets = repo
    assert kg("scan").exit_code == 1
    created = kg("baseline", "create")
    assert created.exit_code == 0, created.output
    assert "3 entries" in created.output
    assert [(e["rule_id"], e["path"], e["line"]) for e in entries(root)] == [
        ("KG101", "app/settings.py", 1),
        ("KG301", "app/settings.py", 2),
        ("KG102", "deploy.env", 1),
    ]
    clean = kg("scan", "--baseline", NAME)
    assert clean.exit_code == 0, clean.output
    assert clean.output.splitlines()[-1] == "3 findings suppressed by the baseline."

    # Lines inserted above move every finding; the fingerprints do not move.
    settings = root / "app" / "settings.py"
    settings.write_text("import os\n\n# settings\n" + settings.read_text())
    assert kg("scan", "--baseline", NAME).exit_code == 0

    # A new secret is reported, and only it.
    new_key = live()
    settings.write_text(settings.read_text() + f'OTHER = "{new_key}"\n')
    found = kg("scan", "--baseline", NAME, "--format", "json")
    assert found.exit_code == 1
    document = json.loads(found.output)
    assert [(f["rule_id"], f["line"]) for f in document["findings"]] == [("KG101", 6)]
    assert document["baseline"] == {"suppressed": 3, "stale": []}
    for secret in (*secrets.values(), new_key):
        assert secret not in found.output


def test_changed_secret_reappears(repo: tuple[Path, dict[str, str]]) -> None:
    root, secrets = repo
    kg("baseline", "create")
    env = root / "deploy.env"
    env.write_text(env.read_text().replace(secrets["test"], fake("sk_test_{{alnum:32}}")))
    result = kg("scan", "--baseline", NAME)
    assert result.exit_code == 1
    assert "deploy.env:1:5: KG102" in located(result.output)
    # The old entry no longer matches: it is stale, and says so without the secret.
    assert "1 baseline entry is stale" in result.output
    assert "  deploy.env:1: KG102" in result.output
    assert secrets["test"] not in result.output


def test_renamed_file_still_matches_and_update_follows_it(
    repo: tuple[Path, dict[str, str]],
) -> None:
    root, _ = repo
    kg("baseline", "create")
    set_statuses(root, "accepted", "rotated in March")
    (root / "app").rename(root / "config")
    result = kg("scan", "--baseline", NAME)
    assert result.exit_code == 0, result.output
    assert "stale" not in result.output
    updated = kg("baseline", "update")
    assert "0 new, 2 moved, 3 entries in all" in updated.output
    moved = [e for e in entries(root) if e["rule_id"] in ("KG101", "KG301")]
    assert {e["path"] for e in moved} == {"config/settings.py"}
    assert {(e["status"], e["reason"]) for e in entries(root)} == {("accepted", "rotated in March")}
    # The rewritten fingerprint is the one a scan of the new path computes.
    assert kg("scan", "--baseline", NAME).exit_code == 0


def test_copied_secret_is_new_while_the_original_still_holds_it(
    repo: tuple[Path, dict[str, str]],
) -> None:
    root, secrets = repo
    kg("baseline", "create")
    (root / "copy.env").write_text(f"KEY={secrets['test']}\n")
    result = kg("scan", "--baseline", NAME)
    assert result.exit_code == 1
    assert "copy.env:1:5: KG102" in located(result.output)


def git(*args: str, cwd: Path) -> None:
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, **IDENTITY},
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
def test_git_mv_keeps_a_baselined_finding_suppressed(repo: tuple[Path, dict[str, str]]) -> None:
    root, _ = repo
    git("init", "-q", cwd=root)
    git("add", "-A", cwd=root)
    git("commit", "-q", "-m", "legacy", cwd=root)
    kg("baseline", "create")
    git("mv", "app/settings.py", "app/config.py", cwd=root)
    git("mv", "deploy.env", "app/deploy.env", cwd=root)
    # The whole tree, as CI scans it...
    assert kg("scan", "--baseline", NAME).exit_code == 0
    # ...and only the renamed files, as pre-commit passes them: the old paths are gone.
    precommit = kg("scan", "app/config.py", "app/deploy.env", "--baseline", NAME)
    assert precommit.exit_code == 0, precommit.output
    assert "3 findings suppressed by the baseline." in precommit.output
    kg("baseline", "update")
    assert sorted({str(e["path"]) for e in entries(root)}) == ["app/config.py", "app/deploy.env"]


# --- stale entries ----------------------------------------------------------------------------


def test_stale_entries_are_listed_only_in_scope_and_pruned(
    repo: tuple[Path, dict[str, str]],
) -> None:
    root, _ = repo
    kg("baseline", "create")
    (root / "deploy.env").write_text("KEY=read-from-the-vault\n")
    result = kg("scan", "--baseline", NAME, "--format", "json")
    assert result.exit_code == 0
    stale = json.loads(result.output)["baseline"]["stale"]
    assert stale == [{"rule_id": "KG102", "path": "deploy.env", "line": 1}]
    # A scan of other files (pre-commit passing a few) says nothing about deploy.env.
    partial = kg("scan", "app/settings.py", "--baseline", NAME, "--format", "json")
    assert json.loads(partial.output)["baseline"] == {"suppressed": 2, "stale": []}
    # Pruning app/ alone cannot drop the entry for a file it did not scan.
    assert "Removed 0 stale entries" in kg("baseline", "prune", "app").output
    assert len(entries(root)) == 3
    pruned = kg("baseline", "prune")
    assert pruned.exit_code == 0
    assert "Removed 1 stale entry" in pruned.output
    assert [e["rule_id"] for e in entries(root)] == ["KG101", "KG301"]
    assert "stale" not in kg("scan", "--baseline", NAME).output


def test_entries_of_disabled_rules_and_skipped_files_are_not_stale(
    repo: tuple[Path, dict[str, str]],
) -> None:
    root, _ = repo
    kg("baseline", "create")
    (root / ".keyguard.toml").write_text('disable = ["KG301"]\nmax_file_size = 100\n')
    (root / "deploy.env").write_text("# padding to pass the limit\n" * 4 + "KEY=x\n")
    result = kg("scan", "--baseline", NAME, "--format", "json")
    assert json.loads(result.output)["baseline"] == {"suppressed": 1, "stale": []}


def test_update_adds_new_findings_and_keeps_statuses(repo: tuple[Path, dict[str, str]]) -> None:
    root, _ = repo
    kg("baseline", "create")
    set_statuses(root, "false-positive", "a fixture")
    (root / "more.env").write_text(f"KEY={live()}\n")
    updated = kg("baseline", "update")
    assert updated.exit_code == 0
    assert "1 new, 0 moved, 4 entries in all" in updated.output
    statuses = {e["path"]: (e["status"], e.get("reason")) for e in entries(root)}
    assert statuses["more.env"] == ("unreviewed", None)
    assert statuses["deploy.env"] == ("false-positive", "a fixture")
    before = (root / NAME).read_bytes()
    assert "0 new" in kg("baseline", "update").output
    assert (root / NAME).read_bytes() == before, "an update that changes nothing writes nothing"


def test_create_refuses_to_overwrite_without_force(repo: tuple[Path, dict[str, str]]) -> None:
    root, _ = repo
    kg("baseline", "create")
    set_statuses(root, "accepted", "")
    again = kg("baseline", "create")
    assert again.exit_code == 2
    assert "already exists" in again.output and "--force" in again.output
    assert {e["status"] for e in entries(root)} == {"accepted"}
    assert kg("baseline", "create", "--force").exit_code == 0
    assert {e["status"] for e in entries(root)} == {"unreviewed"}


def test_paths_are_relative_to_the_baseline_from_any_directory(
    repo: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _ = repo
    (root / ".keyguard.toml").write_text(f'baseline = "{NAME}"\n')
    monkeypatch.chdir(root / "app")
    created = kg("baseline", "create")
    assert created.exit_code == 0, created.output
    assert (root / NAME).is_file()
    assert {e["path"] for e in entries(root)} == {"app/settings.py", "deploy.env"}
    # From app/, the config finds the baseline; the scan covers app/ only.
    result = kg("scan", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["baseline"] == {"suppressed": 2, "stale": []}
    outside = kg("baseline", "update", str(root.parent))
    assert outside.exit_code == 2 and "outside the baseline's root" in outside.output


def test_config_points_at_the_baseline_and_no_baseline_ignores_it(
    repo: tuple[Path, dict[str, str]],
) -> None:
    root, _ = repo
    (root / "ci").mkdir()
    (root / ".keyguard.toml").write_text('baseline = "ci/keyguard-baseline.json"\n')
    assert kg("baseline", "create").exit_code == 0
    assert (root / "ci" / "keyguard-baseline.json").is_file()
    assert not (root / NAME).exists()
    assert kg("scan").exit_code == 0
    assert kg("scan", "--no-baseline").exit_code == 1
    both = kg("scan", "--baseline", "x.json", "--no-baseline")
    assert both.exit_code == 2
    (root / "ci" / "keyguard-baseline.json").unlink()
    missing = kg("scan")
    assert missing.exit_code == 2
    assert "ci/keyguard-baseline.json: baseline file not found" in missing.output


# --- the file itself ----------------------------------------------------------------------------


def test_file_is_stable_json_and_holds_no_secret(repo: tuple[Path, dict[str, str]]) -> None:
    root, secrets = repo
    kg("baseline", "create")
    text = (root / NAME).read_text()
    assert text.endswith("}\n") and text.startswith('{\n  "version": 1,\n  "salt": "')
    document = json.loads(text)
    assert json.dumps(document, indent=2) + "\n" == text
    keys = [(e["path"], e["line"], e["rule_id"]) for e in document["entries"]]
    assert keys == sorted(keys)
    assert dumps(load(root / NAME)) == text
    for secret in secrets.values():
        assert secret not in text
        assert secret[-12:] not in text
        assert secret_digest(secret) not in text, "only the salted hash may be stored"
    assert not list(root.glob(f"{NAME}*.lock")) and not list(root.glob(f".{NAME}*"))


def test_salted_hash_is_sha256_of_salt_and_digest(repo: tuple[Path, dict[str, str]]) -> None:
    root, secrets = repo
    kg("baseline", "create")
    baseline = load(root / NAME)
    (entry,) = [e for e in baseline.entries if e.rule_id == "KG102"]
    assert entry.secret_hash == baseline.secret_hash(secret_digest(secrets["test"]))
    kg("baseline", "create", "--force")
    assert load(root / NAME).salt != baseline.salt, "every baseline gets its own salt"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{\n  "version": 1,\n  "salt": "ab",,\n}', "not valid JSON (line 3, column 16)"),
        ("", "not valid JSON (line 1, column 1)"),
        ('{"version": 7, "salt": "00", "entries": []}', "unknown version 7 (this keyguard reads"),
        ('{"version": "1", "entries": []}', 'unknown version "1"'),
        ("[]", "not a keyguard baseline"),
        ('{"salt": "00", "entries": []}', "no 'version'"),
        ('{"version": 1, "salt": "zz", "entries": []}', "'salt' must be a string of hex digits"),
        ('{"version": 1, "salt": "0011223344556677", "entries": {}}', "'entries' must be a list"),
        ('{"version": 1, "salt": "0011223344556677", "entries": [], "x": 1}', "unknown key 'x'"),
    ],
)
def test_corrupted_baseline_is_one_clear_error(
    repo: tuple[Path, dict[str, str]], text: str, message: str
) -> None:
    root, _ = repo
    (root / NAME).write_text(text)
    for command in (
        ("scan", "--baseline", NAME),
        ("baseline", "update"),
        ("baseline", "prune"),
        ("baseline", "audit", "--non-interactive"),
    ):
        result = kg(*command)
        assert result.exit_code == 2, (command, result.output)
        assert result.output.startswith(f"keyguard: error: {NAME}: "), result.output
        assert message in result.output
        assert len(result.output.splitlines()) == 1, result.output
    assert (root / NAME).read_text() == text, "a broken baseline is never overwritten"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"status": "ignored"}, "entry 1: 'status' must be one of: unreviewed, accepted, false-"),
        ({"line": 0}, "entry 1: 'line' must be a positive integer"),
        ({"fingerprint": "abc"}, "entry 1: 'fingerprint' must be 64 lowercase hex digits"),
        ({"secret_hash": "F" * 64}, "entry 1: 'secret_hash' must be 64 lowercase hex digits"),
        ({"path": ""}, "entry 1: 'path' must be a file path"),
        ({"line": True}, "entry 1: 'line' must be a positive integer"),
        ({"reason": 3}, "entry 1: 'reason' must be a string"),
        ({"secret": "x"}, "entry 1: unknown key 'secret'"),
    ],
)
def test_hand_edited_entries_are_validated(
    repo: tuple[Path, dict[str, str]], change: dict[str, object], message: str
) -> None:
    root, _ = repo
    kg("baseline", "create")
    document = json.loads((root / NAME).read_text())
    document["entries"][0].update(change)
    (root / NAME).write_text(json.dumps(document))
    result = kg("scan", "--baseline", NAME)
    assert result.exit_code == 2
    assert message in result.output and len(result.output.splitlines()) == 1


def test_duplicate_and_missing_entries_are_errors(repo: tuple[Path, dict[str, str]]) -> None:
    root, _ = repo
    kg("baseline", "create")
    document = json.loads((root / NAME).read_text())
    document["entries"].append(dict(document["entries"][0]))
    (root / NAME).write_text(json.dumps(document))
    assert "entry 4: duplicate fingerprint (entry 1" in kg("scan", "--baseline", NAME).output
    del document["entries"][3]["secret_hash"]
    (root / NAME).write_text(json.dumps(document))
    assert "entry 4: missing 'secret_hash'" in kg("scan", "--baseline", NAME).output


def test_a_subprocess_of_the_real_cli_reports_a_bad_baseline_without_traceback(
    repo: tuple[Path, dict[str, str]],
) -> None:
    root, _ = repo
    (root / NAME).write_text('{"version": 1,')
    done = subprocess.run(
        [sys.executable, "-m", "keyguard", "scan", "--baseline", NAME],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr == f"keyguard: error: {NAME}: not valid JSON (line 1, column 15)\n"


# --- interrupted writes ------------------------------------------------------------------------


def test_interrupted_write_keeps_the_old_file(
    repo: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _ = repo
    kg("baseline", "create")
    before = (root / NAME).read_bytes()
    (root / "more.env").write_text(f"KEY={live()}\n")

    def disk_full(handle: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    result = kg("baseline", "update")
    assert result.exit_code == 2
    assert result.output == "keyguard: error: No space left on device\n"
    assert (root / NAME).read_bytes() == before
    assert sorted(p.name for p in root.iterdir()) == [NAME, "app", "deploy.env", "more.env"]


def test_a_write_killed_midway_leaves_the_old_file_whole(tmp_path: Path) -> None:
    """SIGKILL a real process in the middle of writing a large baseline."""
    path = tmp_path / NAME
    old = Baseline.new().with_entries([entry(n) for n in range(3)])
    save(path, old)
    before = path.read_bytes()
    ready = tmp_path / "mid-write"
    child = f"""
import os, sys, time
from pathlib import Path
from keyguard import baseline as b
from tests.test_baseline import entry

bigger = b.load(Path({str(path)!r})).with_entries([entry(n) for n in range(5000)])
real_write = os.write
def write_slowly(handle, data):
    written = real_write(handle, bytes(data[:4096]))
    Path({str(ready)!r}).touch()
    time.sleep(60)
    return written
os.write = write_slowly
b.save(Path({str(path)!r}), bigger)
"""
    process = subprocess.Popen([sys.executable, "-c", child], cwd=Path(__file__).parents[1])
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert process.poll() is None, "the writer exited before it was killed"
            assert time.monotonic() < deadline, "the writer never started writing"
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait(timeout=60)
    assert path.read_bytes() == before
    assert load(path) == old
    (partial,) = (p for p in tmp_path.iterdir() if p.name.endswith(".tmp"))
    assert (
        0 < partial.stat().st_size < len(dumps(old.with_entries([entry(n) for n in range(5000)])))
    )


def entry(number: int) -> BaselineEntry:
    """A made-up entry (hashes of nothing secret) for tests that need many."""
    digest = secret_digest(f"entry {number}")
    return BaselineEntry("KG101", f"src/m{number}.py", 1, digest, digest)


# --- concurrency ------------------------------------------------------------------------------


def test_concurrent_updates_lose_no_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Eight threads update one baseline, each from its own directory, with a slow read.

    The read is slowed so that, without the lock, every writer would read the same old file
    and all but the last one's entries would be lost.
    """
    parts = [tmp_path / f"part{n}" for n in range(8)]
    for part in parts:
        part.mkdir()
        (part / "keys.env").write_text(f"A={live()}\nB={live()}\n")
    path = tmp_path / NAME
    results = [scan([part], Config(root=tmp_path), jobs=1) for part in parts]
    scopes = [scope_for(tmp_path, [part]) for part in parts]
    real_load = baseline_module.load

    def slow_load(target: Path) -> Baseline:
        loaded = real_load(target)
        time.sleep(0.05)
        return loaded

    monkeypatch.setattr(baseline_module, "load", slow_load)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            transact(
                path,
                lambda current: update(current or Baseline.new(), results[index], scopes[index]),
            )
        except BaseException as error:  # pragma: no cover - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(parts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    final = real_load(path)
    assert len(final.entries) == 16
    assert {e.path for e in final.entries} == {f"part{n}/keys.env" for n in range(8)}
    # Every writer hashed with the salt of the file it read under the lock.
    for result in results:
        for finding in result.findings:
            assert any(
                e.secret_hash == final.secret_hash(finding.secret_digest) for e in final.entries
            )
    assert not (tmp_path / f"{NAME}.lock").exists()


def test_concurrent_update_processes_lose_no_entry(tmp_path: Path) -> None:
    parts = [f"part{n}" for n in range(4)]
    for part in parts:
        (tmp_path / part).mkdir()
        (tmp_path / part / "keys.env").write_text(f"A={live()}\n")
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "keyguard", "baseline", "update", part, "--jobs", "1"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for part in parts
    ]
    for process in processes:
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
    assert sorted(str(e.path) for e in load(tmp_path / NAME).entries) == [
        f"{part}/keys.env" for part in parts
    ]


# --- audit ------------------------------------------------------------------------------------


def test_audit_non_interactive_lists_unreviewed_entries_redacted(
    repo: tuple[Path, dict[str, str]],
) -> None:
    root, secrets = repo
    kg("baseline", "create")
    document = json.loads((root / NAME).read_text())
    document["entries"][1]["status"] = "accepted"
    (root / NAME).write_text(json.dumps(document, indent=2) + "\n")
    result = kg("baseline", "audit", "--non-interactive")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0] == f"2 unreviewed entries in {NAME}."
    assert "app/settings.py:1:12: KG101 [error]" in result.output
    assert f'    API_KEY = "sk_live_…{secrets["live"][-4:]}"' in lines
    assert "deploy.env:1:5: KG102" in located(result.output)
    assert "KG301" not in result.output
    for secret in secrets.values():
        assert secret not in result.output
    # A finding that is gone is still listed, as the baseline recorded it.
    (root / "deploy.env").write_text("KEY=\n")
    gone = kg("baseline", "audit", "--non-interactive").output
    assert "deploy.env:1: KG102 (not found as the file is now" in gone


def test_audit_saves_after_each_answer(repo: tuple[Path, dict[str, str]]) -> None:
    root, secrets = repo
    kg("baseline", "create")
    # accept the first with a reason, skip the second, then input ends (as Ctrl-D would).
    result = kg("baseline", "audit", input="a\nrotated already\ns\n")
    assert result.exit_code == 0, result.output
    assert "[1/3]" in result.output and "[2/3]" in result.output and "[3/3]" in result.output
    assert "Saved: accepted." in result.output
    assert "1 answered, 2 still unreviewed." in result.output
    statuses = [(e["rule_id"], e["status"], e.get("reason")) for e in entries(root)]
    assert statuses == [
        ("KG101", "accepted", "rotated already"),
        ("KG301", "unreviewed", None),
        ("KG102", "unreviewed", None),
    ]
    for secret in secrets.values():
        assert secret not in result.output
    # The accepted entry is not asked again; a false positive without a reason, then quit.
    again = kg("baseline", "audit", input="F\n\nq\n")
    assert again.output.startswith(f"2 unreviewed entries in {NAME}.")
    assert [e["status"] for e in entries(root)] == ["accepted", "false-positive", "unreviewed"]
    assert "reason" not in entries(root)[1]
    # Every status still hides its finding: baselined means "not new".
    assert kg("scan", "--baseline", NAME).exit_code == 0


def test_audit_with_nothing_to_review(repo: tuple[Path, dict[str, str]]) -> None:
    root, _ = repo
    kg("baseline", "create")
    set_statuses(root, "accepted", "")
    assert kg("baseline", "audit").output == f"No unreviewed entries in {NAME}.\n"


# --- the filter as a function ------------------------------------------------------------------


def test_apply_baseline_is_a_pure_filter(repo: tuple[Path, dict[str, str]]) -> None:
    root, _ = repo
    result = scan([root], Config(root=root), jobs=1, display_root=root)
    baseline, _ = update(Baseline.new(), result, scope_for(root, [root]))
    kept = apply_baseline(result, baseline, scope_for(root, [root]))
    assert kept.findings == ()
    assert kept.baseline is not None and kept.baseline.suppressed == len(result.findings)
    assert result.findings, "the input is left alone"


def test_load_of_a_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(BaselineError, match="baseline file not found"):
        load(tmp_path / NAME)


def test_scope_maps_paths_into_the_baseline_frame(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    scope = scope_for(root, [root / "src", root / "setup.py"], display_root=root / "src")
    assert scope.key_path("app.py") == "src/app.py"
    assert scope.key_path(str(root / "lib" / "x.py")) == "lib/x.py"
    assert scope.key_path("../../elsewhere.py") is None
    assert scope.targets == ("src", "setup.py")
    assert scope.covers("src/deep/a.py") and scope.covers("setup.py")
    assert not scope.covers("srcs/a.py") and not scope.covers("setup.py.bak")
    above = scope_for(root, [tmp_path])
    assert above.targets == ("",) and above.covers("anything/at/all.py")
    assert scope_for(root, [tmp_path / "other"]).targets == ()


def test_a_secret_moved_into_two_files_is_baselined_once(
    repo: tuple[Path, dict[str, str]],
) -> None:
    root, secrets = repo
    kg("baseline", "create")
    (root / "deploy.env").unlink()
    (root / "a.env").write_text(f"KEY={secrets['test']}\n")
    (root / "b.env").write_text(f"KEY={secrets['test']}\n")
    document = json.loads(kg("scan", "--baseline", NAME, "--format", "json").output)
    # The entry follows one of the new files (the first by path); the other copy is new.
    assert [f["path"] for f in document["findings"]] == ["b.env"]
    assert document["baseline"] == {"suppressed": 3, "stale": []}


def test_scanning_a_directory_above_the_baseline_root(repo: tuple[Path, dict[str, str]]) -> None:
    root, _ = repo
    (root / "sub").mkdir()
    (root / "sub" / "one.env").write_text(f"KEY={live()}\n")
    (root / "sub" / "two.env").write_text(f"KEY={live()}\n")
    # No config: the baseline's paths are relative to its own directory, sub/.
    assert kg("baseline", "create", "sub", "-o", "sub/base.json").exit_code == 0
    assert {e["path"] for e in json.loads((root / "sub/base.json").read_text())["entries"]} == {
        "one.env",
        "two.env",
    }
    (root / "sub" / "two.env").write_text("KEY=\n")
    result = kg("scan", ".", "--baseline", "sub/base.json", "--format", "json")
    document = json.loads(result.output)
    # Outside the baseline's root everything is new; inside, sub/ was scanned whole.
    assert [f["path"] for f in document["findings"]] == [
        "app/settings.py",
        "app/settings.py",
        "deploy.env",
    ]
    assert document["baseline"] == {
        "suppressed": 1,
        "stale": [{"rule_id": "KG101", "path": "two.env", "line": 1}],
    }
