"""Turn command-line paths into the files to scan, and say which files were passed over and why."""

from __future__ import annotations

import codecs
import errno
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, BinaryIO, TypeAlias

from keyguard.config import Config
from keyguard.logs import logger
from keyguard.models import Skipped, Source
from keyguard.tracked import Tracked

__all__ = [
    "SNIFF_SIZE",
    "ConfigPaths",
    "DiscoveryError",
    "IgnoreTally",
    "Pending",
    "discover",
    "format_size",
    "is_binary",
    "read_file",
    "read_stream",
]


# Like git and ripgrep: a NUL byte near the start means binary, unless a byte-order mark says
# the text is UTF-16 or UTF-32 (Windows tools write those; the engine transcodes them).
SNIFF_SIZE = 8 * 1024
WIDE_TEXT_BOMS = (
    codecs.BOM_UTF32_LE,
    codecs.BOM_UTF32_BE,
    codecs.BOM_UTF16_LE,
    codecs.BOM_UTF16_BE,
)
UNSIZED_CHUNK = 64 * 1024
GIT_DIR = ".git"
GITIGNORE = ".gitignore"

# (directory prefix ending in os.sep, compiled spec): the patterns of one ignore file.
if TYPE_CHECKING:
    # Imported where a spec is compiled: a pre-commit run over named files may need none.
    import pathspec

Layer: TypeAlias = "tuple[str, pathspec.GitIgnoreSpec]"


@dataclass(frozen=True, slots=True)
class Pending:
    """A file discovery chose to scan but did not read: a pool worker reads it (`read_file`).

    Reading is most of discovery's cost; leaving it to the workers spreads it across cores and
    keeps file contents out of the pipe between processes.
    """

    path: str
    display: str


Result: TypeAlias = Source | Skipped | Pending


@dataclass(slots=True)
class IgnoreTally:
    """What `.gitignore` (and `.git/info/exclude`) kept out of a walk: files and directories.

    Counted, not listed: an ignored `node_modules/` is one directory, never walked. A summary
    that says so keeps a scan of an extracted archive (no git, so nothing is tracked) from
    being silent about a `.env` the archive ships. Filled in while the walk runs; complete
    once the discovery iterator is exhausted.
    """

    files: int = 0
    directories: int = 0


class DiscoveryError(OSError):
    """A path named on the command line does not exist: a usage error, not a skipped file."""


def discover(
    paths: Sequence[Path],
    config: Config,
    *,
    display_root: Path | None = None,
    defer_reads: bool = False,
    tally: IgnoreTally | None = None,
) -> Iterator[Source | Skipped | Pending]:
    """Yield a `Source` for each file to scan under `paths`, a `Skipped` for each one left out.

    Every given path is checked before anything is yielded, so a typo fails the run at once
    (DiscoveryError) instead of after a long scan. Paths are reported in posix form relative
    to `display_root` (default: the working directory) when inside it, else absolute.

    Files named explicitly are scanned even when git-ignored, because pre-commit names exactly
    the files it wants checked; the config's `exclude` and `include` still apply to them (ruff's
    `--force-exclude`), since those express what the project never wants scanned. Empty files
    are not yielded: they cannot hold a secret. Nothing in the tree is written to, and no
    symlink is followed out of the directory being walked.

    Inside a git work tree, ignore files decide only for untracked paths: a tracked file is
    scanned whatever `.gitignore` says, because it is in the repository (see `tracked.py`).
    What they keep out is counted in `tally`.

    With `defer_reads`, files that pass the size check are yielded as `Pending` instead of
    being read; `read_file(pending, config.max_file_size)` does the rest.
    """
    for path in paths:
        if not os.path.lexists(path):
            raise DiscoveryError(f"path does not exist: {path}")
    walker = _Walker(
        config,
        Path.cwd() if display_root is None else display_root,
        defer_reads,
        IgnoreTally() if tally is None else tally,
    )
    return walker.run(list(paths))


def _compile(lines: Sequence[str]) -> pathspec.GitIgnoreSpec:
    """Compile ignore patterns with Python's `re`, always.

    pathspec picks Hyperscan by itself when it is installed (keyguard's prefilter installs it),
    and a Hyperscan database takes 30-90 ms to compile: that is more than a whole pre-commit
    run, paid again for every .gitignore of a tree. `re` compiles one in a tenth of a
    millisecond and matches a path in about 10 µs.
    """
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines(lines, backend="simple")


def is_binary(head: bytes) -> bool:
    """A NUL byte in the first SNIFF_SIZE bytes, without a UTF-16/32 byte-order mark."""
    return b"\0" in head[:SNIFF_SIZE] and not head.startswith(WIDE_TEXT_BOMS)


class ConfigPaths:
    """The config's `exclude` and `include`, compiled once, for absolute resolved paths.

    Both are gitignore-style patterns relative to the config's root; a path outside that root
    is never excluded, and `include` (when set) only narrows what lies under it.
    """

    __slots__ = ("exclude", "include", "root")

    def __init__(self, config: Config) -> None:
        self.root = str(config.root.resolve())
        self.exclude = _compile(config.exclude) if config.exclude else None
        self.include = _compile(config.include) if config.include else None

    def excluded(self, path: str, *, is_dir: bool) -> bool:
        """Does `exclude` cover this path?"""
        if self.exclude is None:
            return False
        relative = _under(path, self.root)
        if not relative:
            return False
        return self.exclude.match_file(relative + "/" if is_dir else relative)

    def wanted(self, path: str) -> bool:
        """A file that `exclude` leaves in and a non-empty `include` takes."""
        if self.excluded(path, is_dir=False):
            return False
        if self.include is None:
            return True
        relative = _under(path, self.root)
        return not relative or self.include.match_file(relative)


def format_size(size: int) -> str:
    """Format a byte count the way the config accepts it back: "2.0 MiB", "512 B"."""
    value = float(size)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def _lexical(path: Path) -> str:
    """An absolute path with "." and ".." removed but symlinks kept: what the user typed."""
    return os.path.normpath(Path(path).absolute())


def _prefix(directory: str) -> str:
    """A directory as a string prefix of everything under it (the root is already one)."""
    return directory if directory.endswith(os.sep) else directory + os.sep


def _under(path: str, directory: str) -> str | None:
    """`path` relative to `directory` in posix form ("" for the directory itself), or None."""
    if path == directory:
        return ""
    prefix = _prefix(directory)
    if path.startswith(prefix):
        return path[len(prefix) :].replace(os.sep, "/")
    return None


def _join(parent: str, name: str) -> str:
    """Join display paths, where "" stands for the display root itself."""
    return f"{parent}/{name}" if parent else name


def _git_ignored(layers: Sequence[Layer], path: str, is_dir: bool) -> bool:
    """Decide like git: the deepest ignore file with a matching pattern has the last word."""
    for base, spec in reversed(layers):
        relative = path[len(base) :].replace(os.sep, "/")
        result = spec.check_file(relative + "/" if is_dir else relative)
        if result.include is not None:
            return result.include
    return False


def _is_inside(path: str, directory: str) -> bool:
    return path == directory or path.startswith(_prefix(directory))


@dataclass(slots=True)
class _Frame:
    """One directory being walked: its display path, ignore layers and remaining entries.

    `repository` is the work tree the directory belongs to (None outside git, or when
    .gitignore is off). `only_tracked` marks an ignored directory entered because it holds
    tracked files: of its entries, only tracked ones are scanned.
    """

    display: str
    layers: tuple[Layer, ...]
    entries: Iterator[os.DirEntry[str]]
    repository: Tracked | None = None
    only_tracked: bool = False


# What `_Walker._verdict` decides for a path met in a walk.
SCAN, LEAVE_OUT, TRACKED_INSIDE = 0, 1, 2


class _Walker:
    """State shared across the given paths: compiled specs, ignore-file cache, files seen."""

    def __init__(
        self, config: Config, display_root: Path, defer_reads: bool, tally: IgnoreTally
    ) -> None:
        self.config = config
        self.defer_reads = defer_reads
        self.tally = tally
        self.repositories: dict[str, Tracked] = {}
        self.display_abs = _lexical(display_root)
        self.display_real = str(display_root.resolve())
        # Compiled once per run, like every ignore file (see `_spec`).
        self.paths = ConfigPaths(config)
        self.ignore_files: dict[str, pathspec.GitIgnoreSpec | None] = {}
        self.seen: set[str] = set()

    # -- entry points ---------------------------------------------------------------------

    def run(self, paths: list[Path]) -> Iterator[Result]:
        for path in paths:
            yield from self._given(path)

    def _given(self, path: Path) -> Iterator[Result]:
        """Handle one command-line path: a directory to walk or a file named explicitly."""
        lexical = _lexical(path)
        # Resolve the parent but keep the name, so a named symlink is judged by its own path.
        canonical = str(Path(lexical).parent.resolve() / Path(lexical).name)
        display = self._display(lexical, canonical)
        try:
            info = Path(lexical).stat()
        except OSError as error:
            if self.paths.wanted(canonical) and self._first(canonical):
                yield self._broken(display, error)
            return
        if stat.S_ISDIR(info.st_mode):
            real = str(Path(lexical).resolve())
            if self.paths.excluded(real, is_dir=True):
                logger(__name__).debug("%s: excluded by the config", display)
                return
            yield from self._walk(real, display)
        elif not self.paths.wanted(canonical):
            logger(__name__).debug("%s: excluded by the config", display)
        elif stat.S_ISREG(info.st_mode):
            first = self._first(str(Path(lexical).resolve()))
            result = self._read(lexical, display, info.st_size) if first else None
            if result is not None:
                yield result
        elif self._first(canonical):
            yield Skipped(display, "not a regular file")

    def _display(self, lexical: str, real: str) -> str:
        """Relative to the display root when inside it (as typed or resolved), else absolute."""
        for path, root in ((lexical, self.display_abs), (real, self.display_real)):
            relative = _under(path, root)
            if relative is not None:
                return relative
        return PurePath(lexical).as_posix()

    # -- directories ----------------------------------------------------------------------

    def _walk(self, root: str, display: str) -> Iterator[Result]:
        """Walk one directory tree depth-first, never following a symlinked directory.

        An explicit stack instead of recursion: no depth limit. Symlinked files are held back
        to the end of the tree, so a file reached both directly and through a link is reported
        under its real name.
        """
        links: list[tuple[os.DirEntry[str], str, str]] = []
        first = self._enter(root, display, *self._ancestor_layers(root))
        if isinstance(first, Skipped):
            yield first
            return
        # Every file of a tree passes through this loop in the main process, which also feeds
        # the pool: keep the common case (a plain file, nothing to filter) to a few C calls.
        filtered = self.paths.exclude is not None or self.paths.include is not None
        stack = [first]
        while stack:
            frame = stack[-1]
            for entry in frame.entries:
                name = entry.name
                if name == GIT_DIR:
                    continue  # git's own data (a directory, or a worktree's `.git` file)
                child = f"{frame.display}/{name}" if frame.display else name
                try:
                    if entry.is_symlink():
                        if self._verdict(entry.path, frame, is_dir=False) == SCAN:
                            links.append((entry, child, root))
                    elif entry.is_dir(follow_symlinks=False):
                        verdict = self._verdict(entry.path, frame, is_dir=True)
                        if verdict != LEAVE_OUT:
                            entered = self._enter(
                                entry.path,
                                child,
                                frame.layers,
                                frame.repository,
                                only_tracked=verdict == TRACKED_INSIDE,
                            )
                            if isinstance(entered, Skipped):
                                yield entered
                            else:
                                stack.append(entered)
                                break  # descend now; this frame's iterator resumes later
                    elif not (
                        (filtered or frame.layers or frame.only_tracked)
                        and self._verdict(entry.path, frame, is_dir=False) != SCAN
                    ):
                        result = self._file(entry, child)
                        if result is not None:
                            yield result
                except OSError as error:
                    yield Skipped(child, f"unreadable: {error.strerror or error}", "warning")
            else:
                stack.pop()
        for entry, child, tree in links:
            yield from self._link(entry, child, tree)

    def _enter(
        self,
        real: str,
        display: str,
        layers: tuple[Layer, ...],
        repository: Tracked | None,
        *,
        only_tracked: bool = False,
    ) -> _Frame | Skipped:
        """List a directory once and add its own ignore file to the layers.

        Entries stay in the order the OS gives them: sorting every directory cost more than the
        rest of the walk, and the engine sorts what it reports anyway.
        """
        try:
            with os.scandir(real) as listing:
                entries = list(listing)
        except OSError as error:
            return Skipped(display or ".", f"unreadable: {error.strerror or error}", "warning")
        if self.config.gitignore:
            names = {entry.name for entry in entries}
            if GIT_DIR in names:
                # A nested repository (a submodule) does not inherit the outer repository's rules,
                # and its own index says what it tracks.
                layers = self._exclude_layers(real)
                repository = self._repository(real)
                only_tracked = False
            if GITIGNORE in names:
                spec = self._spec(Path(real, GITIGNORE))
                if spec is not None:
                    layers = (*layers, (_prefix(real), spec))
        return _Frame(display, layers, iter(entries), repository, only_tracked)

    def _repository(self, top: str) -> Tracked:
        """One `Tracked` per work tree: git is asked at most once per run, and only if needed."""
        if top not in self.repositories:
            self.repositories[top] = Tracked(top)
        return self.repositories[top]

    def _ancestor_layers(self, root: str) -> tuple[tuple[Layer, ...], Tracked | None]:
        """The ignore files above a walked directory that still govern it, as git reads them,
        and the work tree it lies in (None outside git: no `.git` above it).

        They come from the repository root down (or, outside a repository, from the config's
        root when the walk is inside it). A directory named on the command line is walked even
        when those rules ignore it, and then they do not apply inside it either.
        """
        if not self.config.gitignore:
            return (), None
        start = Path(root)
        top = next((d for d in (start, *start.parents) if (d / GIT_DIR).exists()), None)
        repository = None if top is None else self._repository(str(top))
        if top is None:
            top = Path(self.paths.root if _is_inside(root, self.paths.root) else root)
        layers = self._exclude_layers(str(top))
        for directory in reversed(start.parents):
            if directory == top or top in directory.parents:
                spec = self._spec(directory / GITIGNORE)
                if spec is not None:
                    layers = (*layers, (_prefix(str(directory)), spec))
        if layers and _git_ignored(layers, root, is_dir=True):
            return (), repository
        return layers, repository

    def _exclude_layers(self, top: str) -> tuple[Layer, ...]:
        """`.git/info/exclude`: the repository's private ignore rules, below every .gitignore."""
        spec = self._spec(Path(top, GIT_DIR, "info", "exclude"))
        return () if spec is None else ((_prefix(top), spec),)

    def _spec(self, path: Path) -> pathspec.GitIgnoreSpec | None:
        """Read and compile an ignore file once per run; a missing or unreadable one is empty."""
        key = str(path)
        if key not in self.ignore_files:
            spec: pathspec.GitIgnoreSpec | None = None
            try:
                lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
                spec = _compile(lines) if lines else None
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                pass
            except OSError as error:
                logger(__name__).warning(
                    "%s: cannot read ignore file: %s", path, error.strerror or error
                )
            self.ignore_files[key] = spec
        return self.ignore_files[key]

    # -- filters --------------------------------------------------------------------------

    def _verdict(self, path: str, frame: _Frame, *, is_dir: bool) -> int:
        """SCAN, LEAVE_OUT, or (a directory) TRACKED_INSIDE: ignored, yet holding tracked files.

        The config's `exclude` always wins: it says what the project never wants scanned. An
        ignore file only leaves out what git does not track; what it leaves out is counted.
        """
        if is_dir:
            if self.paths.excluded(path, is_dir=True):
                return LEAVE_OUT
        elif not self.paths.wanted(path):
            return LEAVE_OUT
        if not frame.only_tracked and not (
            frame.layers and _git_ignored(frame.layers, path, is_dir)
        ):
            return SCAN
        repository = frame.repository
        if is_dir:
            if repository is not None and repository.has_directory(path):
                return TRACKED_INSIDE
            self.tally.directories += 1
        else:
            if repository is not None and repository.has_file(path):
                return SCAN
            self.tally.files += 1
        return LEAVE_OUT

    # -- files ----------------------------------------------------------------------------

    def _first(self, key: str) -> bool:
        """True the first time a file is met: overlapping paths must not report it twice."""
        if key in self.seen:
            return False
        self.seen.add(key)
        return True

    def _file(self, entry: os.DirEntry[str], display: str) -> Result | None:
        path = entry.path
        if not entry.is_file(follow_symlinks=False):
            return Skipped(display, "not a regular file") if self._first(path) else None
        if path in self.seen:
            return None
        self.seen.add(path)
        if self.defer_reads:
            return Pending(path, display)  # the worker checks the size (`read_file`)
        return self._read(path, display, entry.stat(follow_symlinks=False).st_size)

    def _link(self, entry: os.DirEntry[str], display: str, tree: str) -> Iterator[Result]:
        """Scan a symlinked file whose target is inside the walked tree; report other links."""
        try:
            info = Path(entry.path).stat()
        except OSError as error:
            if self._first(entry.path):
                yield self._broken(display, error)
            return
        target = str(Path(entry.path).resolve())
        if not _is_inside(target, tree):
            reason = "symlink points outside the scanned tree"
        elif stat.S_ISDIR(info.st_mode):
            reason = "symlink to a directory (not followed)"
        elif stat.S_ISREG(info.st_mode):
            result = self._read(target, display, info.st_size) if self._first(target) else None
            if result is not None:
                yield result
            return
        else:
            reason = "not a regular file"
        if self._first(entry.path):
            yield Skipped(display, reason)

    @staticmethod
    def _broken(display: str, error: OSError) -> Skipped:
        if error.errno == errno.ENOENT:
            return Skipped(display, "broken symlink", "warning")
        if error.errno == errno.ELOOP:
            return Skipped(display, "symlink loop")
        return Skipped(display, f"unreadable: {error.strerror or error}", "warning")

    def _read(self, path: str, display: str, size: int) -> Result | None:
        """Check the size before opening; read now, or leave it to a worker (`defer_reads`)."""
        limit = self.config.max_file_size
        if size > limit:
            return Skipped(display, f"larger than max_file_size ({format_size(limit)})")
        if size == 0:
            return None
        if self.defer_reads:
            return Pending(path, display)
        return read_file(Pending(path, display), limit)


def read_file(pending: Pending, limit: int) -> Source | Skipped | None:
    """Read a file once, checking the content while reading; None for an empty file.

    Unbuffered reads sized by `fstat`: a buffered `read(limit)` would allocate the whole limit
    for every small file. The first read is only the sniff, so a binary costs one small read.
    Nothing is yielded while the file is open, so a slow consumer never holds a descriptor.
    """
    display = pending.display
    try:
        # Plain open(): pathlib's parsing costs more than the read for the typical small file.
        with open(pending.path, "rb", buffering=0) as handle:  # noqa: PTH123
            size = os.fstat(handle.fileno()).st_size
            if size > limit:
                return Skipped(display, f"larger than max_file_size ({format_size(limit)})")
            data = handle.read(SNIFF_SIZE)
            if not data:
                return None
            if is_binary(data):
                return Skipped(display, "binary file")
            # The rest in one read as a rule. A file that reports no size (procfs, some FUSE
            # mounts) is read in chunks; never past the limit, as files can grow while read.
            while len(data) <= limit:
                missing = size - len(data)
                if missing <= 0 and size > 0:
                    break
                more = handle.read(missing if missing > 0 else UNSIZED_CHUNK)
                if not more:
                    break
                data += more
    except OSError as error:
        return Skipped(display, f"unreadable: {error.strerror or error}", "warning")
    if len(data) > limit:
        return Skipped(display, f"larger than max_file_size ({format_size(limit)})")
    return Source(display, data)


def read_stream(stream: BinaryIO, display: str, limit: int) -> Source | Skipped | None:
    """One file from a stream (`scan --stdin`), under the same checks as a file on disk.

    At most `limit + 1` bytes are read, so a huge pipe is refused without being held in memory.
    """
    data = stream.read(limit + 1)
    if not data:
        return None
    if len(data) > limit:
        return Skipped(display, f"larger than max_file_size ({format_size(limit)})")
    if is_binary(data):
        return Skipped(display, "binary file")
    return Source(display, data)
