"""Read what git holds through the `git` command: revisions, blobs, the index and patches.

Everything streams: patches are parsed line by line as git writes them, and blobs come one at a
time from a long-lived `git cat-file --batch`, so memory does not grow with the history.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from keyguard.discover import ConfigPaths, format_size, is_binary
from keyguard.models import Skipped, Source
from keyguard.provenance import Commit, Revision

__all__ = [
    "COMMIT_FORMAT",
    "PATCH_CONFIG",
    "PATCH_OPTIONS",
    "Blobs",
    "FileDiff",
    "GitError",
    "Repository",
    "Stream",
    "open_repository",
    "parse_patch",
    "read_staged",
]

# Modes whose "content" is not a file's: a submodule's commit id, a symlink's target.
NOT_FILES = frozenset({"160000", "120000"})
# A commit header in `git log` output starts with a NUL byte, which no patch line can.
COMMIT_FORMAT = "%x00%H%x00%h%x00%aI%x00%an%x00%ae"
HUNK = re.compile(rb"^(@+) (?:-\d+(?:,\d+)? )+\+(\d+)(?:,\d+)? @+")
PLUS, MINUS, SPACE = ord("+"), ord("-"), ord(" ")
# Settings of the user's that would change what a patch looks like.
PATCH_CONFIG = (
    "-c",
    "core.quotePath=false",
    "-c",
    "diff.noprefix=false",
    "-c",
    "diff.mnemonicPrefix=false",
    "-c",
    "log.showSignature=false",
    # git keeps up to 96 MiB of delta bases by default, so its memory grew with the history
    # (37 MiB at 1,000 commits, 72 MiB at 5,000 in bench_history.py); 16 MiB reads as fast.
    "-c",
    "core.deltaBaseCacheLimit=16m",
)
PATCH_OPTIONS = (
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",
    "-U0",
    "--inter-hunk-context=0",
    "-M",
    "--full-index",
    "--src-prefix=a/",
    "--dst-prefix=b/",
)
ESCAPES = {
    ord("a"): 7,
    ord("b"): 8,
    ord("t"): 9,
    ord("n"): 10,
    ord("v"): 11,
    ord("f"): 12,
    ord("r"): 13,
    ord('"'): ord('"'),
    ord("\\"): ord("\\"),
}


class GitError(Exception):
    """git cannot answer: not a repository, a bad revision, git missing. One line for the user."""


def _environment() -> dict[str, str]:
    # Reading must not write: no index refresh behind `git diff`, no prompt, no pager. Paths
    # are paths, not globs: `pages/[id].tsx` must not match `pages/i.tsx`.
    return {
        **os.environ,
        "GIT_OPTIONAL_LOCKS": "0",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_PAGER": "cat",
        "GIT_LITERAL_PATHSPECS": "1",
    }


def _last_line(stderr: bytes) -> str:
    lines = stderr.decode("utf-8", "replace").strip().splitlines()
    text = lines[-1] if lines else "failed"
    return text.removeprefix("fatal: ").removeprefix("error: ")


def _run(args: Sequence[str], cwd: Path, stdin: bytes | None = None) -> tuple[int, bytes, bytes]:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            input=stdin,
            capture_output=True,
            env=_environment(),
            check=False,
        )
    except FileNotFoundError:
        raise GitError("git is not installed (or not on PATH)") from None
    return done.returncode, done.stdout, done.stderr


def _subcommand(args: Sequence[str]) -> str:
    """`log` in `-c name=value log -p`: what an error message should name."""
    options = iter(args)
    for arg in options:
        if arg == "-c":
            next(options, None)
        elif not arg.startswith("-"):
            return arg
    return ""


def _decode(path: bytes) -> str:
    """A path as git prints it (C-quoted when it holds special characters) to a str."""
    if path.startswith(b'"') and path.endswith(b'"') and len(path) > 1:
        path = _unquote(path[1:-1])
    return os.fsdecode(path)


def _unquote(text: bytes) -> bytes:
    out = bytearray()
    index = 0
    while index < len(text):
        byte = text[index]
        if byte != ord("\\") or index + 1 >= len(text):
            out.append(byte)
            index += 1
            continue
        escaped = text[index + 1]
        if escaped in ESCAPES:
            out.append(ESCAPES[escaped])
            index += 2
        else:  # three octal digits: one byte of a UTF-8 sequence
            out.append(int(text[index + 1 : index + 4], 8))
            index += 4
    return bytes(out)


def _object_id(text: bytes) -> str | None:
    """A full object id, or None for the all-zero id git prints for "no such side"."""
    return None if not text.strip(b"0") else text.decode("ascii")


@dataclass(frozen=True, slots=True)
class Repository:
    """A repository found from a path: `top` is the work tree's top (a bare repository's own
    directory), which every command runs in and every reported path is relative to."""

    top: Path
    bare: bool = False
    shallow: bool = False

    def git(self, *args: str, stdin: bytes | None = None, ok: Sequence[int] = (0,)) -> bytes:
        """Run git in `top`; raise GitError with git's own last line when it fails."""
        code, out, err = _run(args, self.top, stdin)
        if code not in ok:
            raise GitError(f"git {args[0]}: {_last_line(err)}")
        return out

    def commit(self, revision: str) -> str:
        """The commit id `revision` names; GitError naming it when it names none."""
        if not revision or revision.startswith("-"):
            raise GitError(f"bad revision '{revision}'")
        code, out, _ = _run(
            ["rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"], self.top
        )
        if code != 0:
            raise GitError(f"unknown revision '{revision}': no such commit in {self.top}")
        return out.decode("ascii").strip()

    def head(self) -> str | None:
        """HEAD's commit id; None before the first commit."""
        code, out, _ = _run(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], self.top)
        return out.decode("ascii").strip() if code == 0 else None

    def merge_base(self, revision: str) -> str:
        """Where HEAD left `revision`: what a pull request's changes are measured from."""
        commit = self.commit(revision)
        head = self.head()
        if head is None:
            raise GitError("HEAD has no commits yet: nothing to compare with")
        code, out, _ = _run(["merge-base", commit, head], self.top)
        if code != 0:
            hint = " (a shallow clone: fetch more history)" if self.shallow else ""
            raise GitError(f"'{revision}' and HEAD have no common ancestor{hint}")
        return out.decode("ascii").strip()

    def revision_range(self, text: str) -> list[str]:
        """`A..B`, `A...B` or a single revision, checked and turned into commit ids."""
        for separator in ("...", ".."):
            if separator in text:
                start, end = text.split(separator, 1)
                first = self.commit(start or "HEAD")
                return [f"{first}{separator}{self.commit(end or 'HEAD')}"]
        return [self.commit(text)]

    def pathspecs(self, paths: Sequence[Path]) -> list[str]:
        """Paths as git pathspecs relative to `top`; [] when one of them is the whole tree."""
        specs: list[str] = []
        for path in paths:
            # Lexical, then the parent resolved: a named symlink stays itself.
            absolute = Path(os.path.normpath(Path(path).absolute()))
            real = absolute.parent.resolve() / absolute.name if absolute.name else absolute
            relative = os.path.relpath(real, self.top.resolve())
            if relative == os.pardir or relative.startswith(os.pardir + os.sep):
                raise GitError(f"{path} is outside the repository at {self.top}")
            specs.append(Path(relative).as_posix())
        return [] if os.curdir in specs else specs

    def describe(self) -> Revision:
        """The repository and HEAD, as SARIF's `versionControlProvenance` names them."""
        code, out, _ = _run(["config", "--get", "remote.origin.url"], self.top)
        remote = out.decode("utf-8", "replace").strip() if code == 0 else ""
        code, out, _ = _run(["symbolic-ref", "--quiet", "--short", "HEAD"], self.top)
        branch = out.decode("utf-8", "replace").strip() if code == 0 else ""
        return Revision(
            repository_uri=_repository_uri(remote, self.top) if remote else self.top.as_uri(),
            commit=self.head(),
            branch=branch or None,
        )

    def stream(self, *args: str, stdin: bool = False) -> Stream:
        """Start a git whose output is read as it comes (see `Stream`)."""
        return Stream(self.top, args, stdin)


class Stream:
    """A running git read as it writes. Its stderr goes to a temporary file, so a chatty git can
    never block on a full pipe; `close` reports its failure, or ends it early when we stop."""

    def __init__(self, cwd: Path, args: Sequence[str], stdin: bool) -> None:
        self.command = _subcommand(args)
        self.errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed in `close`
        try:
            self.process = subprocess.Popen(
                ["git", *args],
                cwd=cwd,
                stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=self.errors,
                env=_environment(),
            )
        except FileNotFoundError:
            self.errors.close()
            raise GitError("git is not installed (or not on PATH)") from None
        assert self.process.stdout is not None
        self.stdout: IO[bytes] = self.process.stdout
        self.stdin: IO[bytes] | None = self.process.stdin

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        self.close(ok=(0,) if kind is None else None)

    def close(self, ok: Sequence[int] | None = (0,)) -> None:
        """Wait for git; raise GitError when it failed (`ok=None`: stop it, report nothing)."""
        if self.stdin is not None:
            self.stdin.close()
        if ok is None and self.process.poll() is None:
            self.process.kill()
        self.stdout.close()
        code = self.process.wait()
        self.errors.seek(0)
        err = self.errors.read()
        self.errors.close()
        if ok is not None and code not in ok:
            raise GitError(f"git {self.command}: {_last_line(err)}")


def _repository_uri(remote: str, top: Path) -> str:
    """A remote as a URI without credentials (`https://token@host/…` must not reach a report);
    scp-like `git@host:path` becomes `ssh://host/path`, a local path a file URI."""
    scp = re.match(r"^([\w.-]+@)?([\w.-]+):(?!//)(.+)$", remote)
    if scp and "://" not in remote:
        return f"ssh://{scp.group(2)}/{scp.group(3)}"
    if "://" not in remote:
        return (top / remote).resolve().as_uri()
    scheme, rest = remote.split("://", 1)
    host, slash, path = rest.partition("/")
    return f"{scheme}://{host.rpartition('@')[2]}{slash}{path}"


def open_repository(start: Path) -> Repository:
    """The repository holding `start` (a directory, or a file or deleted file in one)."""
    directory = start if start.is_dir() else start.parent
    if not directory.is_dir():
        raise GitError(f"path does not exist: {start}")
    code, out, err = _run(
        ["rev-parse", "--is-bare-repository", "--is-shallow-repository", "--absolute-git-dir"],
        directory,
    )
    if code != 0:
        message = _last_line(err)
        if "not a git repository" in message:
            raise GitError(f"not a git repository: {start}")
        raise GitError(f"git: {message}")
    bare, shallow, git_dir = out.decode("utf-8", "surrogateescape").splitlines()[:3]
    if bare == "true":
        return Repository(Path(git_dir), bare=True, shallow=shallow == "true")
    code, out, _ = _run(["rev-parse", "--show-toplevel"], directory)
    if code != 0:
        raise GitError(f"{start} is inside a .git directory, not a work tree")
    top = Path(out.decode("utf-8", "surrogateescape").rstrip("\n"))
    return Repository(top, shallow=shallow == "true")


class Blobs:
    """Blob contents from one `git cat-file --batch`, started on first use.

    A blob over `limit` bytes is drained from the pipe in pieces and reported as skipped, so at
    most one blob of at most `limit` bytes is ever held.
    """

    def __init__(self, repository: Repository, limit: int) -> None:
        self.repository = repository
        self.limit = limit
        self._git: Stream | None = None

    def __enter__(self) -> Blobs:
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        if self._git is not None:
            self._git.close(ok=(0,) if kind is None else None)
            self._git = None

    def source(self, object_id: str, path: str) -> Source | Skipped | None:
        """The blob as a file to scan, a Skipped as a file scan would say it, or None if empty."""
        if self._git is None:
            self._git = self.repository.stream("cat-file", "--batch", stdin=True)
        stdin, stdout = self._git.stdin, self._git.stdout
        assert stdin is not None
        stdin.write(object_id.encode("ascii") + b"\n")
        stdin.flush()
        header = stdout.readline().split()
        if len(header) != 3:
            return Skipped(path, "missing from the repository", "warning")
        kind, size = header[1], int(header[2])
        if size > self.limit or kind != b"blob":
            _drain(stdout, size + 1)
            if kind != b"blob":
                return Skipped(path, "not a file")
            return Skipped(path, f"larger than max_file_size ({format_size(self.limit)})")
        data = stdout.read(size)
        stdout.read(1)  # the newline after each object
        if not data:
            return None
        return Skipped(path, "binary file") if is_binary(data) else Source(path, data)


def _drain(stream: IO[bytes], size: int) -> None:
    """Read and drop `size` bytes, a MiB at a time."""
    while size > 0:
        chunk = stream.read(min(size, 1 << 20))
        if not chunk:
            return
        size -= len(chunk)


@dataclass(slots=True)
class FileDiff:
    """One file's part of a patch: what it is called after the change, its blob ids and mode,
    and the lines the change added (numbers in the new blob; their text without the patch's
    `+`, for the prefilter)."""

    path: str
    old: str | None = None
    new: str | None = None
    mode: str = ""
    binary: bool = False
    lines: list[int] = field(default_factory=list)
    text: list[bytes] = field(default_factory=list)

    @property
    def is_file(self) -> bool:
        """A regular file that still exists after the change."""
        return self.new is not None and self.mode not in NOT_FILES


def _git_diff_path(rest: bytes) -> str:
    """The new path of a `diff --git a/X b/X` line; renames are named again in later headers."""
    rest = rest.rstrip(b"\n")
    if rest.startswith(b'"'):
        end = rest.index(b'" ', 1)
        return _decode(rest[end + 2 :])[2:]
    return _decode(rest[(len(rest) + 1) // 2 :])[2:]


def parse_patch(lines: Iterable[bytes]) -> Iterator[Commit | FileDiff]:
    """Parse `git log -p` / `git diff` output (with PATCH_OPTIONS) as it streams.

    Yields each commit header (`COMMIT_FORMAT`) before the files it changed, and each file once
    its part of the patch has ended. Combined diffs of merges (`--cc`) count a line as added
    only when it is new against every parent: an evil merge's own lines.
    """
    current: FileDiff | None = None
    in_hunk = False
    width = 1
    added = b"+"
    number = 0
    for line in lines:
        first = line[0] if line else 0
        if in_hunk and first in (PLUS, MINUS, SPACE):
            assert current is not None
            if width == 1:
                if first == PLUS:
                    current.lines.append(number)
                    current.text.append(line[1:])
                    number += 1
                elif first == SPACE:
                    number += 1
            else:
                prefix = line[:width]
                if b"-" not in prefix:
                    if prefix == added:
                        current.lines.append(number)
                        current.text.append(line[width:])
                    number += 1
            continue
        if line.startswith(b"\\"):
            continue  # "\ No newline at end of file"
        if line.startswith(b"@@"):
            if current is not None and (hunk := HUNK.match(line)) is not None:
                width = len(hunk.group(1)) - 1
                added = b"+" * width
                number = int(hunk.group(2))
                in_hunk = True
            continue
        in_hunk = False
        if first == 0 and line.startswith(b"\0"):
            if current is not None:
                yield current
                current = None
            sha, short, date, name, email = (
                part.decode("utf-8", "replace") for part in line[1:].rstrip(b"\n").split(b"\0")
            )
            yield Commit(sha, short, name, email, date)
        elif line.startswith(b"diff --"):
            if current is not None:
                yield current
            if line.startswith(b"diff --git "):
                current = FileDiff(_git_diff_path(line[len(b"diff --git ") :]))
            else:  # diff --cc PATH / diff --combined PATH
                current = FileDiff(_decode(line.split(b" ", 2)[2].rstrip(b"\n")))
        elif current is None:
            continue
        elif line.startswith(b"index "):
            ids, _, mode = line[len(b"index ") :].rstrip(b"\n").partition(b" ")
            old, _, new = ids.partition(b"..")
            current.old = _object_id(old.split(b",")[0])
            current.new = _object_id(new)
            if mode:
                current.mode = mode.decode("ascii")
        elif line.startswith((b"new file mode ", b"new mode ")):
            current.mode = line.rsplit(b" ", 1)[1].rstrip(b"\n").decode("ascii")
        elif line.startswith((b"rename to ", b"copy to ")):
            current.path = _decode(line.split(b" ", 2)[2].rstrip(b"\n"))
        elif line.startswith(b"+++ "):
            target = line[4:].rstrip(b"\n")
            # git adds a tab after a name with a space in it, for patch(1)
            target = target[:-1] if target.endswith(b"\t") else target
            if target != b"/dev/null":
                current.path = _decode(target)[2:]
        elif line.startswith(b"Binary files "):
            current.binary = True
    if current is not None:
        yield current


def read_staged(
    repository: Repository, pathspecs: Sequence[str], config_paths: ConfigPaths, blobs: Blobs
) -> Iterator[Source | Skipped]:
    """What the index holds for each staged file (added, copied, modified, retyped), as it
    will be committed: the blob, not the work-tree file, so partly staged files are right."""
    out = repository.git(
        "diff",
        "--cached",
        "--raw",
        "-z",
        "--no-abbrev",
        "--no-renames",
        "--diff-filter=ACMT",
        "--",
        *pathspecs,
    )
    fields = out.split(b"\0")
    for meta, raw_path in zip(fields[0::2], fields[1::2], strict=False):
        # ":100644 100644 <old id> <new id> M"
        _, mode, _, object_id, _ = meta.decode("ascii").split(" ")
        path = os.fsdecode(raw_path)
        if mode in NOT_FILES or not config_paths.wanted(str(repository.top / path)):
            continue
        item = blobs.source(object_id, path)
        if item is not None:
            yield item
