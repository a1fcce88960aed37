"""`keyguard fix`: before/after snapshots, the env file, safety checks, exit codes.

Snapshots live in tests/fixtures/fix/ as `before`, a `=== after ===` line, `after`; the
before side holds `{{alnum:N}}` templates, expanded here, so no key is stored.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from keyguard.cli import cli
from keyguard.ruleset import expand_fakes
from tests.conftest import fake, git

FIXTURES = Path(__file__).parent / "fixtures" / "fix"
SNAPSHOTS = sorted(FIXTURES.glob("*.txt"))
SEPARATOR = "=== after ===\n"


def _snapshot(path: Path) -> tuple[str, str, str]:
    """(file name to write, before with fresh fakes, expected after)."""
    before, after = path.read_text(encoding="utf-8").split(SEPARATOR)
    name = path.name.removesuffix(".txt")
    if not name.endswith(".py"):
        name = f"server/{name}"
    return name, expand_fakes(before), after


def _fix(root: Path, *args: str) -> Result:
    runner = CliRunner()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        return runner.invoke(cli, ["fix", *args], catch_exceptions=False)


def _write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_there_are_enough_snapshots() -> None:
    python = [path for path in SNAPSHOTS if path.name.endswith(".py.txt")]
    assert len(python) >= 15
    assert len(SNAPSHOTS) - len(python) >= 5


@pytest.mark.parametrize("snapshot", SNAPSHOTS, ids=lambda path: path.name)
def test_snapshot(snapshot: Path, tmp_path: Path) -> None:
    name, before, after = _snapshot(snapshot)
    path = _write(tmp_path, name, before)
    result = _fix(tmp_path)
    assert path.read_text(encoding="utf-8") == after, result.output
    assert result.exit_code == 0, result.output
    env = (tmp_path / ".env").read_text(encoding="utf-8")
    # Every value that left the file is in the env file, and the output never shows it.
    assert env.splitlines()
    for line in env.splitlines():
        variable, value = line.split("=", 1)
        assert value[-12:] in before  # split keys are joined in the env file
        assert variable in after
        assert value not in result.output


@pytest.mark.parametrize("snapshot", SNAPSHOTS, ids=lambda path: path.name)
def test_a_second_run_changes_nothing(snapshot: Path, tmp_path: Path) -> None:
    name, before, _ = _snapshot(snapshot)
    path = _write(tmp_path, name, before)
    _fix(tmp_path)
    fixed, env = path.read_bytes(), (tmp_path / ".env").read_bytes()
    again = _fix(tmp_path)
    assert again.exit_code == 0, again.output
    assert path.read_bytes() == fixed
    assert (tmp_path / ".env").read_bytes() == env


def test_env_file_is_private_appended_and_ignored(tmp_path: Path) -> None:
    _write(tmp_path, ".env", "EXISTING=1")  # no final newline: one is added first
    key = fake("sk_live_{{alnum:24}}")
    _write(tmp_path, "a.py", f'STRIPE_SECRET_KEY = "{key}"\n')
    _write(tmp_path, "b.py", f'OTHER_STRIPE_KEY = "{key}"\n')  # the same key: one entry
    result = _fix(tmp_path)
    assert result.exit_code == 0, result.output
    assert (tmp_path / ".env").read_text() == f"EXISTING=1\nSTRIPE_SECRET_KEY={key}\n"
    assert 'os.environ["STRIPE_SECRET_KEY"]' in (tmp_path / "b.py").read_text()
    assert (tmp_path / ".gitignore").read_text().splitlines()[-1] == ".env"
    assert key not in result.output
    assert "rotate" in result.output


def test_a_new_env_file_has_mode_0600(tmp_path: Path) -> None:
    _write(tmp_path, "a.py", fake('STRIPE_SECRET_KEY = "sk_live_{{alnum:24}}"\n'))
    _write(tmp_path, ".gitignore", "*.env\n")
    assert _fix(tmp_path, "--env-file", "keys.env").exit_code == 0
    assert stat.S_IMODE((tmp_path / "keys.env").stat().st_mode) == 0o600
    assert (tmp_path / ".gitignore").read_text() == "*.env\n"  # already ignored


def test_dry_run_writes_nothing_and_shows_no_secret(tmp_path: Path) -> None:
    key = fake("sk_live_{{alnum:24}}")
    path = _write(tmp_path, "a.py", f'STRIPE_SECRET_KEY = "{key}"\n')
    result = _fix(tmp_path, "--dry-run")
    assert result.exit_code == 0, result.output
    assert path.read_text() == f'STRIPE_SECRET_KEY = "{key}"\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.py"]
    assert '+STRIPE_SECRET_KEY = os.environ["STRIPE_SECRET_KEY"]' in result.output
    assert f"+STRIPE_SECRET_KEY=sk_live_…{key[-4:]}" in result.output
    assert key not in result.output


def test_a_parse_error_leaves_the_file_untouched(tmp_path: Path) -> None:
    text = fake('STRIPE_SECRET_KEY = "sk_live_{{alnum:24}}"\ndef broken(:\n')
    path = _write(tmp_path, "a.py", text)
    result = _fix(tmp_path)
    assert result.exit_code == 1
    assert path.read_text() == text
    assert "not valid Python" in result.output
    assert not (tmp_path / ".env").exists()


def test_client_side_code_is_not_rewritten(tmp_path: Path) -> None:
    text = fake('const stripe = Stripe("sk_live_{{alnum:24}}");\n')
    path = _write(tmp_path, "src/components/Checkout.jsx", text)
    result = _fix(tmp_path)
    assert result.exit_code == 1
    assert path.read_text() == text
    assert "move the call that needs this secret to a server" in result.output.replace("\n", "")
    assert not (tmp_path / ".env").exists()


def test_docstrings_and_comments_are_left_with_a_reason(tmp_path: Path) -> None:
    text = fake('"""Use sk_live_{{alnum:24}}."""\n# old: sk_live_{{alnum:24}}\n')
    path = _write(tmp_path, "a.py", text)
    result = _fix(tmp_path)
    assert result.exit_code == 1
    assert path.read_text() == text
    assert "docstring" in result.output
    assert "comment" in result.output


def test_a_fallback_whose_name_holds_another_value_is_left(tmp_path: Path) -> None:
    _write(tmp_path, ".env", fake("STRIPE_API_KEY=sk_live_{{alnum:24}}\n"))
    text = fake('import os\nKEY = os.environ.get("STRIPE_API_KEY", "sk_live_{{alnum:24}}")\n')
    path = _write(tmp_path, "a.py", text)
    result = _fix(tmp_path)
    assert result.exit_code == 1
    assert path.read_text() == text
    assert "already sets STRIPE_API_KEY" in result.output


def test_file_mode_is_kept(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "tool.py", fake('#!/usr/bin/env python\nAPI_KEY = "sk_test_{{alnum:24}}"\n')
    )
    path.chmod(0o755)
    assert _fix(tmp_path).exit_code == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o755
    assert path.read_text().startswith("#!/usr/bin/env python\nimport os\n")


@pytest.mark.slow
def test_files_with_unstaged_changes_are_skipped_unless_forced(tmp_path: Path) -> None:
    assert git("init", "-q", cwd=tmp_path).returncode == 0
    path = _write(tmp_path, "a.py", fake('STRIPE_SECRET_KEY = "sk_live_{{alnum:24}}"\n'))
    assert git("add", "a.py", cwd=tmp_path).returncode == 0
    assert git("commit", "-qm", "init", cwd=tmp_path).returncode == 0
    text = path.read_text() + "X = 1\n"
    path.write_text(text)
    result = _fix(tmp_path)
    assert result.exit_code == 1
    assert "unstaged changes" in result.output
    assert path.read_text() == text
    forced = _fix(tmp_path, "--force")
    assert forced.exit_code == 0, forced.output
    assert 'os.environ["STRIPE_SECRET_KEY"]' in path.read_text()
    # The env file was added to .gitignore, and git agrees it is ignored.
    assert git("check-ignore", "-q", ".env", cwd=tmp_path).returncode == 0


@pytest.mark.slow
def test_a_tracked_env_file_is_refused(tmp_path: Path) -> None:
    assert git("init", "-q", cwd=tmp_path).returncode == 0
    _write(tmp_path, ".env", "A=1\n")
    _write(tmp_path, "a.py", fake('STRIPE_SECRET_KEY = "sk_live_{{alnum:24}}"\n'))
    assert git("add", ".env", cwd=tmp_path).returncode == 0
    result = _fix(tmp_path)
    assert result.exit_code == 2
    assert "tracked by git" in result.output


def test_client_side_markup_is_not_rewritten(tmp_path: Path) -> None:
    text = fake("<script>\nconst key = 'sk_test_{{alnum:24}}';\n</script>\n")
    path = _write(tmp_path, "src/components/Pay.vue", text)
    result = _fix(tmp_path)
    assert result.exit_code == 1
    assert path.read_text() == text
    assert "client-side code" in result.output


def test_an_import_os_under_type_checking_does_not_count(tmp_path: Path) -> None:
    text = fake(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    import os\n"
        'API_KEY = "sk_test_{{alnum:24}}"\n'
    )
    path = _write(tmp_path, "a.py", text)
    assert _fix(tmp_path).exit_code == 0
    assert path.read_text().startswith("import os\nfrom typing import TYPE_CHECKING\n")


def test_a_literal_two_rules_report_is_moved_once_under_its_keyword(tmp_path: Path) -> None:
    """A live key passed as `client_secret=` is both KG101 and KG202: one value, one name."""
    text = fake('import os\nCLIENT = dict(client_secret="sk_live_{{alnum:24}}")\n')
    path = _write(tmp_path, "a.py", text)
    result = _fix(tmp_path)
    assert result.exit_code == 0, result.output
    assert (
        path.read_text() == 'import os\nCLIENT = dict(client_secret=os.environ["CLIENT_SECRET"])\n'
    )
    assert "left:" not in result.output
    assert (tmp_path / ".env").read_text().count("CLIENT_SECRET=") == 1
