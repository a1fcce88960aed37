"""Which files git tracks in a work tree: `.gitignore` describes untracked files only.

A file that is committed is in the repository whatever `.gitignore` says (it was force-added,
or committed before the pattern was written: ruff tracks `.vscode/extensions.json` and ignores
`.vscode/`). Discovery asks git for the tracked paths once per repository, and only when a
walk meets a path that an ignore file excludes, so a tree with nothing ignored, or a tree that
is not a repository, never starts a subprocess.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from keyguard.logs import logger

__all__ = ["Tracked"]

# Variables that point git at another repository or index: a hook exports them for the
# repository it runs in, which is not necessarily the one whose top we found by walking.
FOREIGN_GIT_VARIABLES = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR")


@dataclass(slots=True)
class Tracked:
    """The tracked files of the work tree at `top` (absolute, resolved), listed on first use.

    `files` and `directories` hold absolute paths in the OS's form, like `os.DirEntry.path`
    under `top`. If git cannot answer (not installed, a corrupt or foreign-owned repository),
    both stay empty, discovery falls back to `.gitignore` alone, and a warning says so.
    """

    top: str
    _files: frozenset[str] | None = field(default=None, init=False)
    _directories: frozenset[str] = field(default=frozenset(), init=False)

    def has_file(self, path: str) -> bool:
        return path in self._load()

    def has_directory(self, path: str) -> bool:
        """Does any tracked file lie under `path`? Then the walk must enter it."""
        self._load()
        return path in self._directories

    def _load(self) -> frozenset[str]:
        if self._files is None:
            self._files, self._directories = _list(self.top)
        return self._files


def _list(top: str) -> tuple[frozenset[str], frozenset[str]]:
    import subprocess  # here: a plain scan that needs no git must not pay for the import

    environment = {
        name: value for name, value in os.environ.items() if name not in FOREIGN_GIT_VARIABLES
    }
    environment["GIT_OPTIONAL_LOCKS"] = "0"  # reading must not write (no index refresh)
    try:
        done = subprocess.run(
            ["git", "-C", top, "ls-files", "-z", "--cached"],
            capture_output=True,
            env=environment,
            check=False,
        )
    except OSError as error:
        reason = "git is not installed" if isinstance(error, FileNotFoundError) else str(error)
        return _unavailable(top, reason)
    if done.returncode != 0:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        return _unavailable(top, lines[-1].removeprefix("fatal: ") if lines else "failed")
    prefix = top if top.endswith(os.sep) else top + os.sep
    files: set[str] = set()
    directories: set[str] = set()
    for raw in done.stdout.split(b"\0"):
        if not raw:
            continue
        relative = os.fsdecode(raw)
        files.add(prefix + relative.replace("/", os.sep))
        parent, _, _ = relative.rpartition("/")
        while parent:
            absolute = prefix + parent.replace("/", os.sep)
            if absolute in directories:
                break
            directories.add(absolute)
            parent, _, _ = parent.rpartition("/")
    return frozenset(files), frozenset(directories)


def _unavailable(top: str, reason: str) -> tuple[frozenset[str], frozenset[str]]:
    logger(__name__).warning(
        "%s: cannot list tracked files (%s); .gitignore decides for every file", top, reason
    )
    return frozenset(), frozenset()
