"""`keyguard init`: a commented config for a repository, and the hook and CI snippets for it.

The config written holds every key at its default, commented out, so it changes nothing until
someone edits it and documents itself where people look for it. It goes into an existing
`pyproject.toml` as a `[tool.keyguard]` table (appended: the rest of the file stays byte for
byte), else into `.keyguard.toml`. An existing keyguard config is never overwritten.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from keyguard import __version__
from keyguard.atomic import replace_atomically
from keyguard.config import CONFIG_NAME, PYPROJECT

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = ["InitError", "Written", "config_text", "initialise", "snippets"]

SETTINGS = """\
# What keyguard scans and how it reports; every line below is the default, commented out.
# Docs: keyguard explain KG101, keyguard rules, and the README's "Configuration" section.

# exclude = []                          # gitignore-style, relative to this file: ["vendor/"]
# include = []                          # when set, only matching files are scanned
# enable = []                           # when set, only these rule ids run
# disable = []                          # rule ids that never run, e.g. ["KG102"]
# client_paths = []                     # globs forced client-side, e.g. ["mobile/**"]
# server_paths = []                     # globs forced server-side, e.g. ["src/ssr/**"]
# allowlist = []                        # regexes matched against a secret: reviewed fakes
# max_file_size = "2MiB"                # larger files are skipped, with a note
# extra_rules = []                      # your own rule files, same format as keyguard's
# fail_on = "warning"                   # exit 1 at or above: error, warning or note
# gitignore = true                      # leave out untracked files that .gitignore matches
# baseline = ".keyguard-baseline.json"  # report only findings the baseline does not hold

# [<SEVERITY>]    # per-rule level, e.g.
# KG301 = "note"
"""


class InitError(Exception):
    """The repository already has a keyguard config, or it cannot be written: one line."""


@dataclass(frozen=True, slots=True)
class Written:
    """Where the config went and whether a file was created or appended to."""

    path: Path
    created: bool


def config_text(*, in_pyproject: bool) -> str:
    """The commented config: a `[tool.keyguard]` table, or the body of `.keyguard.toml`."""
    if not in_pyproject:
        return SETTINGS.replace("<SEVERITY>", "severity")
    return "[tool.keyguard]\n" + SETTINGS.replace("<SEVERITY>", "tool.keyguard.severity")


def initialise(directory: Path, *, dedicated: bool = False) -> Written:
    """Write the config into `directory`; refuse if keyguard is configured there already."""
    dedicated_path = directory / CONFIG_NAME
    pyproject = directory / PYPROJECT
    if dedicated_path.exists():
        raise InitError(f"{dedicated_path} already exists: not overwritten")
    existing = _read_pyproject(pyproject)
    if existing is not None and _has_keyguard_table(existing, pyproject):
        raise InitError(f"{pyproject} already has a [tool.keyguard] table: not overwritten")
    if existing is None or dedicated:
        try:
            with dedicated_path.open("x", encoding="utf-8") as handle:  # never over a new file
                handle.write(config_text(in_pyproject=False))
        except OSError as error:
            raise InitError(f"cannot write {dedicated_path}: {error.strerror or error}") from None
        return Written(dedicated_path, created=True)
    separator = "" if existing.endswith("\n") or not existing else "\n"
    text = existing + separator + "\n" + config_text(in_pyproject=True)
    try:
        replace_atomically(pyproject, text.encode("utf-8"))
    except OSError as error:
        raise InitError(f"cannot write {pyproject}: {error.strerror or error}") from None
    return Written(pyproject, created=False)


def _read_pyproject(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise InitError(f"cannot read {path}: {error}") from None


def _has_keyguard_table(text: str, path: Path) -> bool:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InitError(f"{path} is not valid TOML ({error}): fix it first") from None
    tool = document.get("tool")
    return isinstance(tool, dict) and "keyguard" in tool


def snippets(directory: Path) -> str:
    """The pre-commit entry and the CI job for this repository, as text to paste.

    GitLab's job is shown for a repository with a `.gitlab-ci.yml`, GitHub's workflow for one
    with a `.github/` directory, both when neither says which.
    """
    version = f"v{__version__}"
    parts = [
        "Add to .pre-commit-config.yaml (then: pre-commit install):",
        "",
        "  - repo: https://github.com/keyguard-dev/keyguard",
        f"    rev: {version}",
        "    hooks:",
        "      - id: keyguard",
    ]
    gitlab = (directory / ".gitlab-ci.yml").exists()
    github = (directory / ".github").is_dir()
    if github or not gitlab:
        parts += [
            "",
            "Add to .github/workflows/keyguard.yml (findings in code scanning):",
            "",
            "  on: [push, pull_request]",
            "  permissions: { contents: read, security-events: write }",
            "  jobs:",
            "    keyguard:",
            "      runs-on: ubuntu-latest",
            "      steps:",
            "        - uses: actions/checkout@v4",
            f"        - uses: keyguard-dev/keyguard@{version}",
            "        - uses: github/codeql-action/upload-sarif@v3",
            "          if: always()",
            "          with: { sarif_file: keyguard.sarif }",
        ]
    if gitlab or not github:
        parts += [
            "",
            "Add to .gitlab-ci.yml (findings in the merge request's test report):",
            "",
            "  keyguard:",
            "    image: python:3.12",
            "    script:",
            "      - pip install keyguard",
            "      - keyguard scan . --format junit -o keyguard-junit.xml",
            "    artifacts:",
            "      when: always",
            "      reports: { junit: keyguard-junit.xml }",
        ]
    return "\n".join(parts) + "\n"
