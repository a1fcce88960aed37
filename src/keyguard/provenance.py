"""Where a finding from git history comes from: the commit, and the repository scanned.

Apart from `models.py` because only `keyguard history` (and the reports of its findings) uses
these: every dataclass costs about a millisecond to create at start-up, and a pre-commit run
should not pay for types it never uses.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Commit", "Provenance", "Revision"]


@dataclass(frozen=True, slots=True)
class Commit:
    """A commit as a history finding names it."""

    sha: str
    short: str
    author: str
    email: str
    date: str  # the author date in ISO 8601, as git prints it (`%aI`)

    @property
    def day(self) -> str:
        return self.date[:10]


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a finding of `keyguard history` comes from.

    `commit` is the first commit that added the value to the file (`Location.path` is the path
    in that commit), `commits` how many commits added it there, `in_head` whether HEAD still
    holds it anywhere.
    """

    commit: Commit
    commits: int = 1
    in_head: bool = False


@dataclass(frozen=True, slots=True)
class Revision:
    """The repository a scan of git history ran in, and the commit HEAD named then."""

    repository_uri: str
    commit: str | None = None  # None in a repository without commits
    branch: str | None = None
