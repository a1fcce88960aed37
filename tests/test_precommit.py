"""The published hook with real pre-commit and real git: a leaky commit is refused."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import IDENTITY, REPO, fake, git, located

pytestmark = pytest.mark.slow

PRE_COMMIT = Path(sys.executable).parent / "pre-commit"


def copy_of_this_repository(target: Path) -> str:
    """Commit the working tree (as git would ship it) to a scratch repo; return its sha."""
    listed = git("ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=REPO)
    if listed.returncode != 0:
        pytest.skip("the project is not a git checkout: cannot build the hook repository")
    for name in filter(None, listed.stdout.split("\0")):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    for step in (("init", "-q"), ("add", "-A"), ("commit", "-q", "-m", "hook")):
        assert git(*step, cwd=target).returncode == 0
    return git("rev-parse", "HEAD", cwd=target).stdout.strip()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        **IDENTITY,
        "PRE_COMMIT_HOME": str(tmp_path / "cache"),
        "NO_COLOR": "1",
    }


@pytest.mark.skipif(not PRE_COMMIT.exists(), reason="pre-commit is not installed")
def test_hook_refuses_a_leaky_commit_and_passes_a_clean_one(
    tmp_path: Path, env: dict[str, str]
) -> None:
    hook_repo, project = tmp_path / "hook", tmp_path / "project"
    hook_repo.mkdir()
    project.mkdir()
    sha = copy_of_this_repository(hook_repo)
    assert git("init", "-q", cwd=project).returncode == 0
    (project / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {hook_repo}\n    rev: {sha}\n    hooks:\n      - id: keyguard\n"
    )
    installed = subprocess.run(
        [str(PRE_COMMIT), "install", "--install-hooks"],
        cwd=project,
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=900,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr

    def commit(message: str) -> subprocess.CompletedProcess[str]:
        """A real `git commit`, so the installed hook runs as it would for a developer."""
        return subprocess.run(
            ["git", "commit", "-m", message],
            cwd=project,
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=600,
        )

    (project / "app.py").write_text('import os\nAPI_KEY = os.environ["API_KEY"]\n')
    git("add", "-A", cwd=project)
    clean = commit("clean")
    assert clean.returncode == 0, clean.stdout + clean.stderr

    key = fake("sk_live_{{alnum:24}}")
    (project / "billing.py").write_text(f'STRIPE_KEY = "{key}"\n')
    git("add", "billing.py", cwd=project)
    leaky = commit("leak")
    output = leaky.stdout + leaky.stderr
    assert leaky.returncode != 0, output
    assert "billing.py:1:15: KG101 [error]" in located(output)
    assert f"sk_live_…{key[-4:]}" in output
    assert key not in output
    assert git("log", "--oneline", cwd=project).stdout.count("\n") == 1
