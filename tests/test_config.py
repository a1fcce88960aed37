"""Config discovery and validation: the nearest file wins, and every mistake names file and key."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from keyguard.config import DEFAULT_MAX_FILE_SIZE, Config, ConfigError, load_config, parse_size
from keyguard.models import Severity


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository root (`.git` stops the walk up) that is also the working directory."""
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_config_file(repo: Path) -> None:
    config = load_config(repo / "src")
    assert config == Config(root=repo / "src")
    assert config.source is None
    assert config.max_file_size == DEFAULT_MAX_FILE_SIZE
    assert config.gitignore is True


def test_walks_up_to_the_nearest_config(repo: Path) -> None:
    source = write(repo / ".keyguard.toml", 'exclude = ["vendor/"]\n')
    deep = repo / "a" / "b" / "c"
    deep.mkdir(parents=True)
    config = load_config(deep)
    assert config.source == source
    assert config.root == repo
    assert config.exclude == ("vendor/",)


def test_start_may_be_a_file(repo: Path) -> None:
    write(repo / ".keyguard.toml", 'disable = ["KG301"]\n')
    target = write(repo / "pkg" / "mod.py", "")
    assert load_config(target).disable == ("KG301",)


def test_dedicated_file_beats_pyproject_in_the_same_directory(repo: Path) -> None:
    write(repo / "pyproject.toml", '[tool.keyguard]\nexclude = ["from-pyproject"]\n')
    write(repo / ".keyguard.toml", 'exclude = ["from-keyguard-toml"]\n')
    config = load_config(repo)
    assert config.exclude == ("from-keyguard-toml",)
    assert config.source == repo / ".keyguard.toml"


def test_nearest_wins_without_merging(repo: Path) -> None:
    write(repo / ".keyguard.toml", 'exclude = ["outer"]\ndisable = ["KG301"]\n')
    write(repo / "sub" / "pyproject.toml", '[tool.keyguard]\nexclude = ["inner"]\n')
    config = load_config(repo / "sub")
    assert config.exclude == ("inner",)
    assert config.disable == ()  # nothing inherited from the outer file
    assert config.root == repo / "sub"


def test_pyproject_without_keyguard_table_is_passed_over(repo: Path) -> None:
    write(repo / ".keyguard.toml", 'exclude = ["outer"]\n')
    write(repo / "sub" / "pyproject.toml", "[tool.ruff]\nline-length = 100\n")
    assert load_config(repo / "sub").exclude == ("outer",)


def test_walk_stops_at_the_repository_root(tmp_path: Path) -> None:
    write(tmp_path / ".keyguard.toml", 'exclude = ["outside-the-repo"]\n')
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)
    (project / "src").mkdir()
    config = load_config(project / "src")
    assert config.source is None
    assert config.root == project / "src"


def test_config_in_the_repository_root_is_found(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)
    write(project / ".keyguard.toml", 'exclude = ["x"]\n')
    assert load_config(project / "deep" / "er").exclude == ("x",)


def test_explicit_keyguard_file(repo: Path) -> None:
    write(repo / ".keyguard.toml", 'exclude = ["ignored"]\n')
    ci = write(repo / "ci" / "strict.toml", 'fail_on = "note"\n')
    config = load_config(repo, explicit=Path("ci/strict.toml"))
    assert config.source == ci
    assert config.root == repo / "ci"
    assert config.fail_on is Severity.NOTE
    assert config.exclude == ()


def test_explicit_pyproject_reads_the_tool_table(repo: Path) -> None:
    write(repo / "other" / "pyproject.toml", '[tool.keyguard]\nexclude = ["a"]\n')
    assert load_config(repo, explicit=repo / "other" / "pyproject.toml").exclude == ("a",)


def test_explicit_pyproject_without_table_is_an_error(repo: Path) -> None:
    write(repo / "pyproject.toml", "[tool.keygaurd]\nexclude = []\n")
    with pytest.raises(ConfigError, match=r"^pyproject\.toml: no \[tool\.keyguard\] table$"):
        load_config(repo, explicit=repo / "pyproject.toml")


def test_explicit_missing_file(repo: Path) -> None:
    with pytest.raises(ConfigError, match=r"^nope\.toml: config file not found$"):
        load_config(repo, explicit=Path("nope.toml"))


def test_every_key(repo: Path) -> None:
    write(repo / "rules" / "extra.toml", "")
    write(
        repo / ".keyguard.toml",
        """
exclude = ["examples/", "*.min.js"]
include = ["src/**"]
enable = ["KG101", "KG301"]
disable = ["KG202"]
client_paths = ["web/**"]
server_paths = ["web/api/**"]
allowlist = ["^sk_test_fixture", "EXAMPLE"]
max_file_size = "1 MiB"
extra_rules = ["rules/extra.toml"]
fail_on = "ERROR"
gitignore = false
baseline = "ci/keyguard-baseline.json"

[severity]
KG301 = "note"
""",
    )
    config = load_config(repo)
    assert config.exclude == ("examples/", "*.min.js")
    assert config.include == ("src/**",)
    assert config.enable == ("KG101", "KG301")
    assert config.disable == ("KG202",)
    assert config.client_paths == ("web/**",)
    assert config.server_paths == ("web/api/**",)
    assert [pattern.pattern for pattern in config.allowlist] == ["^sk_test_fixture", "EXAMPLE"]
    assert config.max_file_size == 1024 * 1024
    assert config.extra_rules == (repo / "rules" / "extra.toml",)
    assert config.fail_on is Severity.ERROR
    assert config.gitignore is False
    assert config.baseline == repo / "ci" / "keyguard-baseline.json"
    assert dict(config.severity) == {"KG301": Severity.NOTE}


def test_integer_size_is_bytes(repo: Path) -> None:
    write(repo / ".keyguard.toml", "max_file_size = 4096\n")
    assert load_config(repo).max_file_size == 4096


def test_exact_message_for_a_misspelt_key(repo: Path) -> None:
    write(repo / "pyproject.toml", '[tool.keyguard]\nexlude = ["x"]\n')
    with pytest.raises(ConfigError) as caught:
        load_config(repo)
    assert str(caught.value) == (
        "pyproject.toml: [tool.keyguard] unknown key 'exlude' (did you mean 'exclude'?)"
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("colour = true", "unknown key 'colour'"),
        ("exclude = 3", "'exclude' must be a list of strings"),
        ("include = [1, 2]", "'include' must be a list of strings"),
        ('allowlist = ["(unclosed"]', "'allowlist': '(unclosed' is not a valid regular expression"),
        ('enable = ["kg101"]', "'enable': 'kg101' is not a rule id"),
        ('disable = ["KG"]', "'disable': 'KG' is not a rule id"),
        ("severity = 'note'", "'severity' must be a table"),
        ('severity = { KG301 = "loud" }', "'severity.KG301': unknown level 'loud'"),
        ("severity = { KG301 = 1 }", "'severity.KG301' must be a string"),
        ('severity = { "kg-301" = "note" }', "'severity': 'kg-301' is not a rule id"),
        ('max_file_size = "2 XB"', "'max_file_size': '2 XB' is not a size"),
        ('max_file_size = "lots"', "'max_file_size': 'lots' is not a size"),
        ("max_file_size = -1", "'max_file_size': must be a positive size"),
        ("max_file_size = 0", "'max_file_size': must be a positive size"),
        ("max_file_size = true", "'max_file_size': must be a size"),
        ("max_file_size = 1.5", "'max_file_size': must be a size"),
        ('extra_rules = ["missing.toml"]', "'extra_rules': rule file not found: missing.toml"),
        ('fail_on = "fatal"', "'fail_on': unknown level 'fatal'"),
        ('gitignore = "yes"', "'gitignore' must be true or false"),
        ("baseline = true", "'baseline' must be a file name"),
        ('baseline = ""', "'baseline' must be a file name"),
    ],
)
@pytest.mark.parametrize("flavour", ["keyguard", "pyproject"])
def test_validation_errors_name_file_and_key(
    repo: Path, body: str, expected: str, flavour: str
) -> None:
    if flavour == "keyguard":
        write(repo / ".keyguard.toml", body + "\n")
        prefix = ".keyguard.toml: "
    else:
        write(repo / "pyproject.toml", f"[tool.keyguard]\n{body}\n")
        prefix = "pyproject.toml: [tool.keyguard] "
    with pytest.raises(ConfigError) as caught:
        load_config(repo)
    message = str(caught.value)
    assert message.startswith(prefix + expected), message
    assert "\n" not in message


def test_invalid_toml_names_the_file(repo: Path) -> None:
    write(repo / ".keyguard.toml", "exclude = [\n")
    with pytest.raises(ConfigError, match=r"^\.keyguard\.toml: not valid TOML: "):
        load_config(repo)


def test_invalid_pyproject_on_the_way_up_is_an_error(repo: Path) -> None:
    write(repo / "pyproject.toml", "[tool\n")
    with pytest.raises(ConfigError, match=r"^pyproject\.toml: not valid TOML"):
        load_config(repo)


def test_keyguard_table_must_be_a_table(repo: Path) -> None:
    write(repo / "pyproject.toml", "[tool]\nkeyguard = 1\n")
    with pytest.raises(ConfigError, match=r"^pyproject\.toml: \[tool\.keyguard\] must be a table$"):
        load_config(repo)


def test_file_outside_the_working_directory_is_named_absolutely(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write(tmp_path / "conf" / "keyguard.toml", "nope = 1\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    with pytest.raises(ConfigError, match=re.escape(f"{config}: unknown key 'nope'")):
        load_config(elsewhere, explicit=config)


def test_unreadable_config_file(repo: Path) -> None:
    config = write(repo / ".keyguard.toml", "")
    config.chmod(0)
    try:
        if os.access(config, os.R_OK):
            pytest.skip("this user can read any file (root)")
        with pytest.raises(ConfigError, match=r"^\.keyguard\.toml: cannot read config file: "):
            load_config(repo)
    finally:
        config.chmod(0o644)


def test_empty_config_file_means_defaults(repo: Path) -> None:
    write(repo / ".keyguard.toml", "")
    config = load_config(repo)
    assert config == Config(root=repo, source=repo / ".keyguard.toml")


@pytest.mark.parametrize(
    ("value", "size"),
    [
        (1, 1),
        (2097152, 2 * 1024 * 1024),
        ("100", 100),
        ("100B", 100),
        ("2MiB", 2 * 1024 * 1024),
        ("2 mib", 2 * 1024 * 1024),
        ("500KB", 500_000),
        ("500 KiB", 500 * 1024),
        ("1 MB", 1_000_000),
        ("1.5 MiB", 1536 * 1024),
        ("1GiB", 1024**3),
        ("  3 gb ", 3_000_000_000),
    ],
)
def test_parse_size(value: object, size: int) -> None:
    assert parse_size(value) == size


@pytest.mark.parametrize("value", [-1, 0, "0 KiB", "-5MB", "2 XB", "MiB", "", True, 1.5, None, [1]])
def test_parse_size_rejects(value: object) -> None:
    with pytest.raises(ValueError):
        parse_size(value)
