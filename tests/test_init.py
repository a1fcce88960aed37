"""`keyguard init`: a commented config that changes nothing, never written over an existing one."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from keyguard.config import Config, load_config
from keyguard.scaffold import config_text


def init(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keyguard", "init", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        check=False,
        timeout=120,
    )


def defaults(config: Config) -> Config:
    return Config(root=config.root, source=config.source)


def uncommented(text: str) -> str:
    """Every commented setting switched on: what a user gets by deleting the `# `."""
    return re.sub(r"(?m)^# (?=[a-z_]+ = |\[|KG)", "", text)


def test_pyproject_gets_a_table_appended_and_keeps_every_byte(tmp_path: Path) -> None:
    original = '[project]\nname = "shop"  # keep me\n\n[tool.ruff]\nline-length = 100'
    (tmp_path / "pyproject.toml").write_text(original)
    done = init(cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Added [tool.keyguard] to pyproject.toml")
    text = (tmp_path / "pyproject.toml").read_text()
    assert text.startswith(original + "\n\n[tool.keyguard]\n")
    config = load_config(tmp_path)
    assert config.source == tmp_path / "pyproject.toml"
    assert config == defaults(config)  # every setting commented out: nothing changes
    assert not (tmp_path / ".keyguard.toml").exists()


def test_without_pyproject_a_dedicated_file_is_written(tmp_path: Path) -> None:
    done = init(cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    config = load_config(tmp_path)
    assert config.source == tmp_path / ".keyguard.toml"
    assert config == defaults(config)


def test_toml_flag_writes_the_dedicated_file_beside_a_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert init("--toml", cwd=tmp_path).returncode == 0
    assert (tmp_path / "pyproject.toml").read_text() == '[project]\nname = "x"\n'
    assert load_config(tmp_path).source == tmp_path / ".keyguard.toml"


def test_every_commented_setting_is_a_valid_setting(tmp_path: Path) -> None:
    """The comments are the documentation: switched on, they must load (and mean defaults)."""
    for in_pyproject, name in ((False, ".keyguard.toml"), (True, "pyproject.toml")):
        directory = tmp_path / name
        directory.mkdir()
        (directory / name).write_text(uncommented(config_text(in_pyproject=in_pyproject)))
        config = load_config(directory)
        assert config.max_file_size == 2 * 1024 * 1024
        assert config.gitignore is True
        assert dict(config.severity) != {}  # the example table was read too


def test_an_existing_config_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / ".keyguard.toml").write_text('exclude = ["x/"]\n')
    done = init(cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == "keyguard: error: .keyguard.toml already exists: not overwritten\n"
    assert (tmp_path / ".keyguard.toml").read_text() == 'exclude = ["x/"]\n'
    other = tmp_path / "other"
    other.mkdir()
    (other / "pyproject.toml").write_text("[tool.keyguard]\nfail_on = 'error'\n")
    done = init(str(other), cwd=tmp_path)
    assert done.returncode == 2 and "already has a [tool.keyguard] table" in done.stderr
    assert init(str(other), "--toml", cwd=tmp_path).returncode == 2
    assert not (other / ".keyguard.toml").exists()


def test_a_broken_pyproject_is_a_clear_error_and_left_alone(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project\nname=")
    done = init(cwd=tmp_path)
    assert done.returncode == 2
    assert "is not valid TOML" in done.stderr and "Traceback" not in done.stderr
    assert (tmp_path / "pyproject.toml").read_text() == "[project\nname="


def test_snippets_follow_the_repository_s_ci(tmp_path: Path) -> None:
    github, gitlab, neither = (tmp_path / name for name in ("gh", "gl", "none"))
    for directory in (github, gitlab, neither):
        directory.mkdir()
    (github / ".github").mkdir()
    (gitlab / ".gitlab-ci.yml").write_text("stages: [test]\n")
    shown = {d.name: init(str(d), cwd=tmp_path).stdout for d in (github, gitlab, neither)}
    assert "- id: keyguard" in shown["gh"] and "rev: v" in shown["gh"]
    assert "keyguard-dev/keyguard@v" in shown["gh"] and "junit" not in shown["gh"]
    assert "reports: { junit: keyguard-junit.xml }" in shown["gl"]
    assert "upload-sarif" not in shown["gl"]
    assert "upload-sarif" in shown["none"] and "junit" in shown["none"]
