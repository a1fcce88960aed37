"""The composite GitHub Action (`action.yml`): its inputs, and its scan script run for real."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO, fake
from tests.test_report import validate_sarif

ACTION = REPO / "action.yml"


def action() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    return document


def scan_step() -> dict[str, Any]:
    (step,) = [step for step in action()["runs"]["steps"] if step.get("id") == "scan"]
    return step


def test_the_action_is_composite_with_the_documented_inputs() -> None:
    document = action()
    assert document["runs"]["using"] == "composite"
    inputs = document["inputs"]
    assert {name: spec.get("default") for name, spec in inputs.items()} == {
        "paths": ".",
        "fail-on": "warning",
        "sarif": "keyguard.sarif",
        "baseline": "",
        "python-version": "3.12",
    }
    assert document["outputs"]["sarif"]["value"] == "${{ steps.scan.outputs.sarif }}"


def test_no_input_is_pasted_into_a_script() -> None:
    """`${{ inputs.x }}` inside `run:` is script injection; inputs go through `env:`."""
    for step in action()["runs"]["steps"]:
        assert "${{" not in step.get("run", ""), step.get("name")
        if "run" in step:
            assert step["shell"] == "bash"


def run_scan_step(
    workspace: Path, tmp_path: Path, **inputs: str
) -> tuple[subprocess.CompletedProcess[str], str]:
    keyguard = shutil.which("keyguard", path=str(Path(sys.executable).parent))
    assert keyguard is not None, "the keyguard script must be installed next to this Python"
    defaults = {name: spec.get("default", "") for name, spec in action()["inputs"].items()}
    values = {**defaults, **inputs}
    github_output = tmp_path / "github_output"
    github_output.write_text("")
    env = {
        **os.environ,
        "PATH": f"{Path(keyguard).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "GITHUB_OUTPUT": str(github_output),
        "NO_COLOR": "1",
        **{f"INPUT_{name.upper().replace('-', '_')}": value for name, value in values.items()},
    }
    done = subprocess.run(
        ["bash", "-c", scan_step()["run"]],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    return done, github_output.read_text()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "workspace"
    (root / "src").mkdir(parents=True)
    (root / "src" / "settings.py").write_text(f'API_KEY = "{fake("sk_live_{{alnum:24}}")}"\n')
    (root / "docs dir").mkdir()
    (root / "docs dir" / "notes.md").write_text("nothing here\n")
    return root


def test_the_scan_step_writes_sarif_and_fails_on_findings(workspace: Path, tmp_path: Path) -> None:
    done, outputs = run_scan_step(workspace, tmp_path)
    assert done.returncode == 1, done.stderr
    assert "::error title=keyguard::findings at or above 'warning'" in done.stdout
    assert outputs == "sarif=keyguard.sarif\n"
    document = json.loads((workspace / "keyguard.sarif").read_text(encoding="utf-8"))
    validate_sarif(document)
    results = document["runs"][0]["results"]
    assert [result["ruleId"] for result in results] == ["KG101"]


def test_paths_and_fail_on_are_passed_through(workspace: Path, tmp_path: Path) -> None:
    done, _ = run_scan_step(workspace, tmp_path, paths="'docs dir'", sarif="out.sarif")
    assert done.returncode == 2  # word splitting only: the quotes are part of the name
    done, _ = run_scan_step(workspace, tmp_path, paths="docs\\ dir")
    assert done.returncode == 2
    (workspace / "docs").mkdir()
    done, _ = run_scan_step(workspace, tmp_path, paths="docs\n  src", sarif="out.sarif")
    assert done.returncode == 1, done.stderr
    done, _ = run_scan_step(workspace, tmp_path, paths="docs", sarif="out.sarif")
    assert done.returncode == 0, done.stderr
    assert json.loads((workspace / "out.sarif").read_text())["runs"][0]["results"] == []


def test_a_baseline_input_hides_known_findings(workspace: Path, tmp_path: Path) -> None:
    created = subprocess.run(
        [sys.executable, "-m", "keyguard", "baseline", "create", ".", "-o", "kg-baseline.json"],
        cwd=workspace,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert created.returncode == 0, created.stderr
    done, _ = run_scan_step(workspace, tmp_path, baseline="kg-baseline.json")
    assert done.returncode == 0, done.stdout + done.stderr


def test_an_input_is_never_run_as_a_command(workspace: Path, tmp_path: Path) -> None:
    done, _ = run_scan_step(workspace, tmp_path, paths="$(touch pwned)", baseline="`touch pwned2`")
    assert done.returncode == 2
    assert not (workspace / "pwned").exists() and not (workspace / "pwned2").exists()
    assert "keyguard: error:" in done.stderr
