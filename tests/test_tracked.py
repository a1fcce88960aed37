"""Tracked files and .gitignore: git decides what is in the repository, .gitignore only what
untracked files a walk leaves out (and counts). Real repositories, so these are slow tests."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.test_git import Repo, key, where

pytestmark = pytest.mark.slow


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path / "repo")


def found(repo: Repo, *args: str, cwd: Path | None = None) -> dict[str, Any]:
    done = repo.keyguard("scan", *args, "--format", "json", cwd=cwd)
    assert done.returncode in (0, 1), done.stderr
    document: dict[str, Any] = json.loads(done.stdout)
    return document


def editor_settings(repo: Repo) -> str:
    """ruff's layout: `.vscode/` ignored, one file in it committed anyway (`git add -f`)."""
    repo.write(".gitignore", ".vscode/\n")
    repo.write(".vscode/settings.json", f'{{"k": "{key()}"}}\n')
    repo.ok("add", "-f", ".gitignore", ".vscode/settings.json")
    return repo.ok("commit", "-q", "-m", "settings")


def test_a_committed_file_in_an_ignored_directory_is_scanned(repo: Repo) -> None:
    editor_settings(repo)
    repo.write(".vscode/launch.json", f'{{"k": "{key()}"}}\n')  # untracked, ignored: left out
    document = found(repo, ".")
    assert where(document) == [("KG101", ".vscode/settings.json", 1)]
    assert document["summary"]["gitignored"] == {"files": 1, "directories": 0}
    console = repo.keyguard("scan", ".")
    assert console.returncode == 1
    assert "Not scanned: 1 file that .gitignore excludes (--no-gitignore scans them)." in (
        console.stdout
    )


def test_a_committed_file_that_a_file_pattern_ignores_is_scanned(repo: Repo) -> None:
    repo.write("config/prod.env", f"STRIPE_KEY={key()}\n")
    repo.commit("prod config")
    repo.write(".gitignore", "*.env\n")  # written after the file was committed
    repo.write("config/local.env", f"STRIPE_KEY={key()}\n")
    repo.commit("ignore env files")  # `add -A` leaves local.env out: it is ignored
    assert repo.ok("ls-files").split() == [".gitignore", "config/prod.env"]
    document = found(repo, ".")
    assert where(document) == [("KG101", "config/prod.env", 1)]
    assert document["summary"]["gitignored"] == {"files": 1, "directories": 0}


def test_only_the_tracked_files_of_an_ignored_tree_are_scanned(repo: Repo) -> None:
    repo.write(".gitignore", "build/\n")
    repo.write("build/gen/deep/config.js", f'const key = "{key()}";\n')
    repo.ok("add", "-f", ".gitignore", "build/gen/deep/config.js")
    repo.ok("commit", "-q", "-m", "generated config")
    repo.write("build/gen/other.js", f'const key = "{key()}";\n')
    repo.write("build/tmp/cache.js", f'const key = "{key()}";\n')
    document = found(repo, ".")
    assert where(document) == [("KG101", "build/gen/deep/config.js", 1)]
    # build/gen/other.js is a file; build/tmp/ holds nothing tracked, so it is not walked.
    assert document["summary"]["gitignored"] == {"files": 1, "directories": 1}


def test_a_subdirectory_scan_and_a_named_path_see_tracked_ignored_files(repo: Repo) -> None:
    editor_settings(repo)
    repo.write("src/app.py", "import os\n")
    repo.commit("code")
    assert where(found(repo, ".vscode")) == [("KG101", ".vscode/settings.json", 1)]
    assert where(found(repo, ".", cwd=repo.root / "src")) == []
    # Outside the working directory, paths are reported absolute.
    assert where(found(repo, "..", cwd=repo.root / "src")) == [
        ("KG101", str(repo.root / ".vscode" / "settings.json"), 1)
    ]


def test_the_config_exclude_still_wins_over_tracking(repo: Repo) -> None:
    editor_settings(repo)
    repo.write(".keyguard.toml", 'exclude = [".vscode/"]\n')
    repo.commit("exclude editor settings")
    assert where(found(repo, ".")) == []


def test_no_gitignore_scans_untracked_ignored_files_too(repo: Repo) -> None:
    editor_settings(repo)
    repo.write(".vscode/launch.json", f'{{"k": "{key()}"}}\n')
    document = found(repo, ".", "--no-gitignore")
    assert [path for _, path, _ in where(document)] == [
        ".vscode/launch.json",
        ".vscode/settings.json",
    ]
    assert document["summary"]["gitignored"] == {"files": 0, "directories": 0}


def test_a_nested_repository_answers_for_its_own_tracked_files(repo: Repo, tmp_path: Path) -> None:
    repo.write(".gitignore", "vendor/\n")
    repo.commit("ignore vendor")
    (repo.root / "vendor").mkdir()
    inner = Repo(repo.root / "vendor" / "lib")
    inner.write(".gitignore", "*.secret\n")
    inner.write("keys.secret", f"{key()}\n")
    inner.ok("add", "-f", ".gitignore", "keys.secret")
    inner.ok("commit", "-q", "-m", "inner")
    # The outer repository ignores vendor/ and tracks nothing in it: nothing in it is scanned.
    assert where(found(repo, ".")) == []
    # Scanned as a repository of its own, its tracked file is scanned.
    assert where(found(repo, ".", cwd=inner.root)) == [("KG101", "keys.secret", 1)]


def test_staged_sees_a_force_added_file(repo: Repo) -> None:
    repo.write("README.md", "hello\n")
    repo.commit("start")
    repo.write(".gitignore", ".vscode/\n")
    repo.write(".vscode/settings.json", f'{{"k": "{key()}"}}\n')
    repo.ok("add", "-f", ".gitignore", ".vscode/settings.json")
    assert where(found(repo, "--staged")) == [("KG101", ".vscode/settings.json", 1)]


def test_outside_git_ignored_files_are_left_out_and_counted(repo: Repo, tmp_path: Path) -> None:
    """An extracted archive: no .git, so .gitignore decides, and the summary says what it hid."""
    editor_settings(repo)
    archive = tmp_path / "archive"
    shutil.copytree(repo.root, archive, ignore=shutil.ignore_patterns(".git"))
    document = found(repo, ".", cwd=archive)
    assert where(document) == []
    assert document["summary"]["gitignored"] == {"files": 0, "directories": 1}
    stats = repo.keyguard("scan", "--stats", ".", cwd=archive)
    assert "gitignored_files=0 gitignored_directories=1" in stats.stderr
    assert "Not scanned: 1 directory that .gitignore excludes" in stats.stdout


def test_without_git_on_path_gitignore_decides_and_says_why(repo: Repo) -> None:
    editor_settings(repo)
    done = subprocess.run(
        [sys.executable, "-m", "keyguard", "scan", "."],
        cwd=repo.root,
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": str(repo.root / "no-such-bin"), "NO_COLOR": "1"},
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "cannot list tracked files (git is not installed)" in done.stderr
    assert "Traceback" not in done.stderr


PROBE = (
    "import sys\n"
    "from keyguard.cli import main\n"
    "before = set(sys.modules)\n"
    "try:\n"
    "    main(['scan', '.'])\n"
    "except SystemExit:\n"
    "    pass\n"
    "print('subprocess' in sys.modules and 'subprocess' not in before, file=sys.stderr)\n"
)


def starts_git(cwd: Path) -> bool:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=cwd, capture_output=True, text=True, check=True
    )
    return done.stderr.splitlines()[-1] == "True"


def test_git_is_asked_only_when_a_work_tree_ignores_something(repo: Repo, tmp_path: Path) -> None:
    repo.write("app.py", "x = 1\n")
    repo.commit("start")
    assert not starts_git(repo.root)  # nothing ignored: nothing to ask git
    archive = tmp_path / "archive"
    editor_settings(repo)
    shutil.copytree(repo.root, archive, ignore=shutil.ignore_patterns(".git"))
    assert not starts_git(archive)  # not a work tree: .gitignore alone decides
    assert starts_git(repo.root)
