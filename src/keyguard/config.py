"""Find and validate the project's keyguard configuration: the nearest config file wins."""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keyguard.lazyre import lazy_compile
from keyguard.models import Severity

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = [
    "CONFIG_NAME",
    "DEFAULT_MAX_FILE_SIZE",
    "Config",
    "ConfigError",
    "load_config",
    "parse_size",
]

CONFIG_NAME = ".keyguard.toml"
PYPROJECT = "pyproject.toml"
# Generated data (JSON-lines exports, fixtures, lock files) runs to a few MB and leaks keys
# as often as code does; text matching reads 10 MiB in well under a second.
DEFAULT_MAX_FILE_SIZE = 10 * 1024 * 1024
# The same shape ruleset.py enforces; whether the rule exists is the engine's business.
RULE_ID = lazy_compile(r"^[A-Z][A-Z0-9]{1,9}[0-9]{2,4}$")
SIZE = lazy_compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$", re.IGNORECASE)
# KB/MB/GB are SI (powers of 1000) and KiB/MiB/GiB are IEC (powers of 1024), as the units say.
UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}
STRING_LISTS = ("exclude", "include", "enable", "disable", "client_paths", "server_paths")
KEYS = (
    *STRING_LISTS,
    "severity",
    "allowlist",
    "max_file_size",
    "extra_rules",
    "fail_on",
    "gitignore",
    "baseline",
)


class ConfigError(ValueError):
    """A config file that cannot be used; the one-line message names the file and the key."""


@dataclass(frozen=True, slots=True)
class Config:
    """The validated configuration of one scan; every field has a safe default.

    `root` is the directory the config file was found in (the start directory when there is
    none): `exclude`, `include`, `client_paths`, `server_paths` and `extra_rules` are relative
    to it, so a config means the same thing whichever subdirectory keyguard runs from, and so
    is `baseline` (the baseline file `keyguard scan` applies without a `--baseline` flag).
    """

    root: Path
    source: Path | None = None
    exclude: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    enable: tuple[str, ...] = ()
    disable: tuple[str, ...] = ()
    severity: Mapping[str, Severity] = field(default_factory=dict)
    client_paths: tuple[str, ...] = ()
    server_paths: tuple[str, ...] = ()
    allowlist: tuple[re.Pattern[str], ...] = ()
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    extra_rules: tuple[Path, ...] = ()
    fail_on: Severity | None = None
    gitignore: bool = True
    baseline: Path | None = None


def load_config(start: Path, explicit: Path | None = None) -> Config:
    """Load `explicit` if given, else the nearest config above `start`, else the defaults.

    Walking up stops at the first directory holding `.git` (after checking it), so a config
    outside the repository never leaks into it. In each directory `.keyguard.toml` wins over a
    `pyproject.toml` with a `[tool.keyguard]` table; the nearest file wins whole, with no
    merging, so what applies is always one file a user can open.
    """
    if explicit is not None:
        return _load_explicit(explicit)
    start = start.resolve()
    directory = start.parent if start.is_file() else start
    for candidate in (directory, *directory.parents):
        dedicated = candidate / CONFIG_NAME
        if dedicated.is_file():
            return _from_table(_read_toml(dedicated), dedicated, section="")
        pyproject = candidate / PYPROJECT
        if pyproject.is_file():
            table = _tool_table(_read_toml(pyproject), pyproject)
            if table is not None:
                return _from_table(table, pyproject, section="[tool.keyguard]")
        if (candidate / ".git").exists():
            break
    return Config(root=directory)


def parse_size(value: object) -> int:
    """Parse a byte count: an int, or a string such as "2MiB", "500KB", "1 MB", "1.5 mib".

    Raises ValueError (with the reason, without a file name) for anything else, including
    negative and zero sizes: a limit of nothing would silently skip every file.
    """
    if isinstance(value, bool):
        raise ValueError('must be a size such as 2097152 or "2MiB", not a boolean')
    if isinstance(value, int):
        size = value
    elif isinstance(value, str):
        match = SIZE.match(value)
        unit = match.group(2).lower() if match else ""
        if match is None or unit not in UNITS:
            raise ValueError(
                f"{value!r} is not a size (expected bytes or a unit: B, KB, KiB, MB, MiB, GB, GiB)"
            )
        size = int(float(match.group(1)) * UNITS[unit])
    else:
        raise ValueError('must be a size such as 2097152 or "2MiB"')
    if size <= 0:
        raise ValueError(f"must be a positive size, got {value!r}")
    return size


def _display(path: Path) -> str:
    """Name a file as the user would type it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (OSError, ValueError):
        return str(path)


def _load_explicit(path: Path) -> Config:
    if not path.exists():
        raise ConfigError(f"{_display(path)}: config file not found")
    if path.is_dir():
        raise ConfigError(f"{_display(path)}: config file is a directory")
    path = path.resolve()
    document = _read_toml(path)
    if path.name == PYPROJECT:
        table = _tool_table(document, path)
        if table is None:
            # Explicitly named but empty: most likely a typo such as [tool.keygaurd].
            raise ConfigError(f"{_display(path)}: no [tool.keyguard] table")
        return _from_table(table, path, section="[tool.keyguard]")
    return _from_table(document, path, section="")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as error:
        raise ConfigError(
            f"{_display(path)}: cannot read config file: {error.strerror or error}"
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"{_display(path)}: config file is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{_display(path)}: not valid TOML: {error}") from None


def _tool_table(document: Mapping[str, Any], path: Path) -> Mapping[str, Any] | None:
    """Return `[tool.keyguard]` from a pyproject document, or None when it has none."""
    tool = document.get("tool")
    if not isinstance(tool, dict) or "keyguard" not in tool:
        return None
    table = tool["keyguard"]
    if not isinstance(table, dict):
        raise ConfigError(f"{_display(path)}: [tool.keyguard] must be a table")
    return table


class _Reader:
    """Validates one config table; each helper raises a ConfigError naming file and key."""

    def __init__(self, path: Path, section: str) -> None:
        self.prefix = f"{_display(path)}: {section + ' ' if section else ''}"

    def fail(self, message: str) -> ConfigError:
        return ConfigError(f"{self.prefix}{message}")

    def strings(self, table: Mapping[str, Any], key: str) -> tuple[str, ...]:
        value = table.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self.fail(f"'{key}' must be a list of strings")
        return tuple(value)

    def rule_ids(self, table: Mapping[str, Any], key: str) -> tuple[str, ...]:
        ids = self.strings(table, key)
        for rule_id in ids:
            self.check_rule_id(rule_id, key)
        return ids

    def check_rule_id(self, rule_id: str, key: str) -> None:
        if not RULE_ID.match(rule_id):
            raise self.fail(
                f"'{key}': {rule_id!r} is not a rule id (expected something like KG101)"
            )

    def severity(self, value: object, key: str) -> Severity:
        if not isinstance(value, str):
            raise self.fail(f"'{key}' must be a string: error, warning or note")
        try:
            return Severity.parse(value)
        except ValueError as error:
            raise self.fail(f"'{key}': {error}") from None

    def severities(self, table: Mapping[str, Any]) -> dict[str, Severity]:
        value = table.get("severity", {})
        if not isinstance(value, dict):
            raise self.fail("'severity' must be a table of rule id = level, like KG301 = \"note\"")
        overrides: dict[str, Severity] = {}
        for rule_id, level in value.items():
            self.check_rule_id(rule_id, "severity")
            overrides[rule_id] = self.severity(level, f"severity.{rule_id}")
        return overrides

    def patterns(self, table: Mapping[str, Any]) -> tuple[re.Pattern[str], ...]:
        compiled: list[re.Pattern[str]] = []
        for pattern in self.strings(table, "allowlist"):
            try:
                compiled.append(re.compile(pattern))
            except re.error as error:
                raise self.fail(
                    f"'allowlist': {pattern!r} is not a valid regular expression: {error}"
                ) from None
        return tuple(compiled)

    def size(self, table: Mapping[str, Any]) -> int:
        if "max_file_size" not in table:
            return DEFAULT_MAX_FILE_SIZE
        try:
            return parse_size(table["max_file_size"])
        except ValueError as error:
            raise self.fail(f"'max_file_size': {error}") from None

    def file(self, table: Mapping[str, Any], key: str, root: Path) -> Path | None:
        """A path relative to the config file; whether it exists is for its user to decide."""
        value = table.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"'{key}' must be a file name, like \".keyguard-baseline.json\"")
        return root / value

    def rule_files(self, table: Mapping[str, Any], root: Path) -> tuple[Path, ...]:
        paths = tuple(root / name for name in self.strings(table, "extra_rules"))
        for path in paths:
            if not path.is_file():
                raise self.fail(f"'extra_rules': rule file not found: {_display(path)}")
        return paths


def _from_table(table: Mapping[str, Any], path: Path, section: str) -> Config:
    reader = _Reader(path, section)
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        import difflib  # only for the error message

        near = difflib.get_close_matches(unknown[0], KEYS, n=1)
        hint = f" (did you mean '{near[0]}'?)" if near else ""
        raise reader.fail(f"unknown key '{unknown[0]}'{hint}")
    root = path.parent
    gitignore = table.get("gitignore", True)
    if not isinstance(gitignore, bool):
        raise reader.fail("'gitignore' must be true or false")
    fail_on = table.get("fail_on")
    return Config(
        root=root,
        source=path,
        exclude=reader.strings(table, "exclude"),
        include=reader.strings(table, "include"),
        enable=reader.rule_ids(table, "enable"),
        disable=reader.rule_ids(table, "disable"),
        severity=reader.severities(table),
        client_paths=reader.strings(table, "client_paths"),
        server_paths=reader.strings(table, "server_paths"),
        allowlist=reader.patterns(table),
        max_file_size=reader.size(table),
        extra_rules=reader.rule_files(table, root),
        fail_on=None if fail_on is None else reader.severity(fail_on, "fail_on"),
        gitignore=gitignore,
        baseline=reader.file(table, "baseline", root),
    )
