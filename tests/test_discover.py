"""File discovery: ignore rules, explicit paths, skipped files, symlinks, and a read-only walk."""

from __future__ import annotations

import builtins
import errno
import hashlib
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from keyguard.config import Config
from keyguard.discover import DiscoveryError, discover, format_size
from keyguard.models import Skipped, Source


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project directory that is also the working directory (the display root)."""
    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.chdir(root)
    return root


def make(root: Path, files: Mapping[str, str | bytes]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def run(
    paths: Sequence[str | Path] = (".",), config: Config | None = None, **changes: object
) -> list[Source | Skipped]:
    config = replace(config or Config(root=Path.cwd()), **changes)
    return list(discover([Path(p) for p in paths], config))


def scanned(results: Sequence[Source | Skipped]) -> list[str]:
    return sorted(item.path for item in results if isinstance(item, Source))


def skipped(results: Sequence[Source | Skipped]) -> dict[str, Skipped]:
    return {item.path: item for item in results if isinstance(item, Skipped)}


def test_walks_every_file_once_with_relative_posix_paths(tree: Path) -> None:
    # Directory order is the OS's (sorting cost more than the walk); the engine sorts reports.
    make(tree, {"b.py": "b", "a/z.txt": "z", "a/b/c.txt": "c", "A.md": "A", "c.cfg": "c"})
    results = run()
    assert sorted(scanned(results)) == ["A.md", "a/b/c.txt", "a/z.txt", "b.py", "c.cfg"]
    assert len(scanned(results)) == len(set(scanned(results)))
    assert next(s for s in results if isinstance(s, Source) and s.path == "b.py").data == b"b"


def test_paths_are_relative_to_the_display_root(tree: Path) -> None:
    make(tree, {"src/a.py": "a"})
    config = Config(root=tree)
    assert scanned(list(discover([tree / "src"], config))) == ["src/a.py"]
    assert scanned(list(discover([Path("src")], config, display_root=tree / "src"))) == ["a.py"]
    assert scanned(list(discover([Path("./src/../src/a.py")], config))) == ["src/a.py"]
    outside = tree.parent / "outside"
    make(outside, {"o.txt": "o"})
    assert scanned(list(discover([outside], config))) == [f"{outside.as_posix()}/o.txt"]


def test_given_paths_keep_their_order_and_never_repeat(tree: Path) -> None:
    make(tree, {"a/1.txt": "1", "b/2.txt": "2", "b/bin.dat": b"\0"})
    results = run(["b", "a", ".", "b/2.txt", "./a/1.txt"])
    assert [item.path for item in results if isinstance(item, Source)] == ["b/2.txt", "a/1.txt"]
    assert list(skipped(results)) == ["b/bin.dat"]
    assert len(results) == 3


def test_empty_files_are_not_yielded(tree: Path) -> None:
    make(tree, {"empty.txt": "", "full.txt": "x"})
    assert run() == [Source("full.txt", b"x")]
    assert run(["empty.txt"]) == []


def test_git_directories_are_never_walked(tree: Path) -> None:
    make(tree, {".git/config": "[core]", "sub/.git": "gitdir: ../.git/modules/sub", "a.txt": "a"})
    assert scanned(run()) == ["a.txt"]


# -- ignore rules --------------------------------------------------------------------------


def test_gitignore_nested_and_negated(tree: Path) -> None:
    make(
        tree,
        {
            ".gitignore": "*.log\n!keep.log\nbuild/\n/top.txt\n",
            "app.log": "x",
            "keep.log": "x",
            "top.txt": "x",
            "build/out.txt": "x",
            "sub/.gitignore": "!debug.log\nlocal.txt\n",
            "sub/debug.log": "x",
            "sub/other.log": "x",
            "sub/local.txt": "x",
            "sub/top.txt": "x",
            "sub/build/deep.txt": "x",
            "other/local.txt": "x",
        },
    )
    assert scanned(run()) == [
        ".gitignore",
        "keep.log",
        "other/local.txt",
        "sub/.gitignore",
        "sub/debug.log",
        "sub/top.txt",
    ]


def test_files_inside_an_ignored_directory_cannot_be_re_included(tree: Path) -> None:
    make(tree, {".gitignore": "dist/\n!dist/keep.txt\n", "dist/keep.txt": "x"})
    assert scanned(run()) == [".gitignore"]


def test_git_info_exclude_is_respected(tree: Path) -> None:
    make(tree, {".git/info/exclude": "private.txt\n", "private.txt": "x", "public.txt": "x"})
    assert scanned(run()) == ["public.txt"]


def test_parent_gitignore_applies_when_walking_a_subdirectory(tree: Path) -> None:
    make(tree, {".git/HEAD": "", ".gitignore": "*.tmp\n", "src/a.tmp": "x", "src/a.py": "x"})
    assert scanned(run(["src"])) == ["src/a.py"]


def test_gitignore_can_be_turned_off(tree: Path) -> None:
    make(tree, {".gitignore": "*.log\n", "a.log": "x"})
    assert scanned(run(gitignore=False)) == [".gitignore", "a.log"]


def test_nested_repository_does_not_inherit_outer_rules(tree: Path) -> None:
    make(
        tree,
        {
            ".git/HEAD": "",
            ".gitignore": "*.txt\n",
            "vendor/lib/.git/HEAD": "",
            "vendor/lib/a.txt": "x",
            "b.txt": "x",
        },
    )
    assert scanned(run()) == [".gitignore", "vendor/lib/a.txt"]


def test_config_exclude_and_include(tree: Path) -> None:
    make(
        tree,
        {
            "src/app.py": "x",
            "src/app.min.js": "x",
            "src/vendor/lib.py": "x",
            "docs/index.md": "x",
        },
    )
    assert scanned(run(exclude=("vendor/", "*.min.js"))) == ["docs/index.md", "src/app.py"]
    assert scanned(run(include=("src/",))) == ["src/app.min.js", "src/app.py", "src/vendor/lib.py"]
    assert scanned(run(include=("*.py",), exclude=("vendor/",))) == ["src/app.py"]


def test_exclude_is_relative_to_the_config_root(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make(tree, {"src/gen/a.py": "x", "src/b.py": "x", "gen/c.py": "x"})
    config = Config(root=tree, exclude=("/src/gen/",))
    monkeypatch.chdir(tree / "src")
    assert scanned(list(discover([Path()], config))) == ["b.py"]
    # Outside the display root: an absolute path; outside "/src/gen/": not excluded.
    assert scanned(list(discover([Path("../gen")], config))) == [f"{tree.as_posix()}/gen/c.py"]


def test_explicit_ignored_file_is_still_scanned(tree: Path) -> None:
    make(tree, {".gitignore": "*.env\nbuild/\n", "prod.env": "x", "build/a.txt": "x"})
    assert scanned(run()) == [".gitignore"]
    assert scanned(run(["prod.env"])) == ["prod.env"]
    assert scanned(run(["build"])) == ["build/a.txt"]


def test_explicit_excluded_file_is_not_scanned(tree: Path) -> None:
    make(tree, {"examples/demo.py": "x", "src/a.py": "x"})
    config = Config(root=tree, exclude=("examples/",))
    assert run(["examples/demo.py", "src/a.py"], config) == [Source("src/a.py", b"x")]
    assert run(["examples"], config) == []
    assert run(["src/a.py"], Config(root=tree, include=("*.md",))) == []


# -- skipped files -------------------------------------------------------------------------


def test_binary_file_is_skipped_with_a_note(tree: Path) -> None:
    make(tree, {"logo.png": b"\x89PNG\r\n\x1a\n\0\0\0", "late.bin": b"a" * 9000 + b"\0"})
    results = run()
    assert skipped(results) == {"logo.png": Skipped("logo.png", "binary file", "note")}
    assert scanned(results) == ["late.bin"]  # a NUL after the first 8 KiB does not count


def test_large_file_is_skipped_with_a_note(tree: Path) -> None:
    make(tree, {"big.txt": "x" * 1025, "fits.txt": "x" * 1024})
    results = run(max_file_size=1024)
    assert skipped(results) == {
        "big.txt": Skipped("big.txt", "larger than max_file_size (1.0 KiB)", "note")
    }
    assert scanned(results) == ["fits.txt"]
    assert skipped(run(["big.txt"], max_file_size=1024))["big.txt"].level == "note"


def test_default_size_limit_reads_nicely() -> None:
    assert format_size(2 * 1024 * 1024) == "2.0 MiB"
    assert format_size(10) == "10 B"
    assert format_size(3 * 1024**3) == "3.0 GiB"


def _cannot_read(path: Path) -> bool:
    try:
        with path.open("rb"):
            return False
    except PermissionError:
        return True


def test_unreadable_file_is_a_warning(tree: Path) -> None:
    make(tree, {"secret.txt": "x", "ok.txt": "x"})
    (tree / "secret.txt").chmod(0)
    try:
        if not _cannot_read(tree / "secret.txt"):
            pytest.skip("this user can read any file (root)")
        results = run()
        assert skipped(results)["secret.txt"] == Skipped(
            "secret.txt", "unreadable: Permission denied", "warning"
        )
        assert scanned(results) == ["ok.txt"]
    finally:
        (tree / "secret.txt").chmod(0o644)


def test_unreadable_directory_is_a_warning(tree: Path) -> None:
    make(tree, {"locked/a.txt": "x"})
    (tree / "locked").chmod(0)
    try:
        if os.access(tree / "locked", os.R_OK):
            pytest.skip("this user can read any directory (root)")
        assert skipped(run())["locked"].level == "warning"
    finally:
        (tree / "locked").chmod(0o755)


def test_unreadable_file_is_a_warning_simulated(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same as above where root can read everything: the open itself is made to fail."""
    make(tree, {"secret.txt": "x", "ok.txt": "x"})
    real_open = builtins.open

    def denying_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        if str(file).endswith("secret.txt"):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", denying_open)
    results = run()
    assert skipped(results) == {
        "secret.txt": Skipped("secret.txt", "unreadable: Permission denied", "warning")
    }
    assert scanned(results) == ["ok.txt"]


def test_unreadable_directory_is_a_warning_simulated(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make(tree, {"locked/a.txt": "x", "open/b.txt": "x"})
    real_scandir = os.scandir

    def denying_scandir(path: str) -> Any:
        if Path(path).name == "locked":
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", denying_scandir)
    results = run()
    assert skipped(results) == {
        "locked": Skipped("locked", "unreadable: Permission denied", "warning")
    }
    assert scanned(results) == ["open/b.txt"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_named_pipe_is_skipped_without_blocking(tree: Path) -> None:
    os.mkfifo(tree / "pipe")
    assert run() == [Skipped("pipe", "not a regular file", "note")]


# -- symlinks ------------------------------------------------------------------------------


def test_broken_symlink_is_a_warning(tree: Path) -> None:
    (tree / "dangling").symlink_to(tree / "nowhere")
    expected = Skipped("dangling", "broken symlink", "warning")
    assert run() == [expected]
    assert run(["dangling"]) == [expected]  # it exists as a link, so it is no DiscoveryError


def test_symlink_loops_terminate(tree: Path) -> None:
    make(tree, {"sub/a.txt": "a"})
    (tree / "sub" / "up").symlink_to("..")  # a directory loop
    (tree / "sub" / "self").symlink_to("self")  # a link to itself
    (tree / "ping").symlink_to("pong")
    (tree / "pong").symlink_to("ping")
    results = run()
    assert scanned(results) == ["sub/a.txt"]
    assert skipped(results) == {
        "ping": Skipped("ping", "symlink loop"),
        "pong": Skipped("pong", "symlink loop"),
        "sub/self": Skipped("sub/self", "symlink loop"),
        "sub/up": Skipped("sub/up", "symlink to a directory (not followed)"),
    }


def test_symlink_out_of_the_tree_is_skipped(tree: Path) -> None:
    outside = tree.parent / "outside"
    make(outside, {"secret.txt": "x", "dir/x.txt": "x"})
    (tree / "file-link").symlink_to(outside / "secret.txt")
    (tree / "dir-link").symlink_to(outside / "dir")
    reason = "symlink points outside the scanned tree"
    assert sorted(run(), key=str) == [Skipped("dir-link", reason), Skipped("file-link", reason)]


def test_symlinked_file_inside_the_tree_is_scanned_once_under_its_real_name(tree: Path) -> None:
    make(tree, {"real/config.txt": "x", "ignored/hidden.txt": "y", ".gitignore": "ignored/\n"})
    (tree / "a-link.txt").symlink_to("real/config.txt")
    (tree / "b-link.txt").symlink_to("ignored/hidden.txt")
    results = run()
    assert scanned(results) == [".gitignore", "b-link.txt", "real/config.txt"]
    assert results[-1] == Source("b-link.txt", b"y")


def test_symlinked_directory_is_not_followed(tree: Path) -> None:
    make(tree, {"real/a.txt": "x"})
    (tree / "alias").symlink_to("real")
    results = run()
    assert scanned(results) == ["real/a.txt"]
    assert skipped(results) == {"alias": Skipped("alias", "symlink to a directory (not followed)")}


def test_symlink_named_explicitly_is_followed(tree: Path) -> None:
    make(tree, {"real/a.txt": "x"})
    (tree / "alias").symlink_to("real")
    assert scanned(run(["alias"])) == ["alias/a.txt"]


# -- errors and guarantees -----------------------------------------------------------------


def test_missing_path_raises_before_anything_is_yielded(tree: Path) -> None:
    make(tree, {"a.txt": "x"})
    with pytest.raises(DiscoveryError, match=r"^path does not exist: nope$") as caught:
        discover([Path("a.txt"), Path("nope")], Config(root=tree))
    assert isinstance(caught.value, OSError)


def test_deep_tree_does_not_recurse(tree: Path) -> None:
    deep = tree
    for _ in range(400):
        deep = deep / "d"
        deep.mkdir()
    (deep / "x.txt").write_text("x")
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(250)  # far less than the depth: the walk must not recurse per level
    try:
        results = run()
    finally:
        sys.setrecursionlimit(limit)
    assert scanned(results) == ["d/" * 400 + "x.txt"]


def snapshot(root: Path) -> dict[str, tuple[int, int, str]]:
    """Every file and directory under root with its mtime, mode and content digest."""
    state: dict[str, tuple[int, int, str]] = {}
    for directory, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(directory, name)
            info = path.lstat()
            digest = ""
            if path.is_file() and not path.is_symlink() and os.access(path, os.R_OK):
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
            state[str(path)] = (info.st_mtime_ns, info.st_mode, digest)
    return state


def test_discovery_leaves_the_tree_untouched(tree: Path) -> None:
    make(
        tree,
        {
            ".gitignore": "*.log\n",
            ".git/info/exclude": "x\n",
            "a.log": "x",
            "src/a.py": "x",
            "bin.dat": b"\0\1",
            "big.txt": "x" * 5000,
        },
    )
    (tree / "loop").symlink_to("loop")
    (tree / "dangling").symlink_to("nowhere")
    (tree / "link.py").symlink_to("src/a.py")
    before = snapshot(tree)
    results = run(max_file_size=4096)
    assert scanned(results) == [".gitignore", "src/a.py"]
    assert snapshot(tree) == before


def test_ignore_files_compile_with_re_not_hyperscan() -> None:
    # pathspec would pick Hyperscan (installed for the prefilter) on its own: 30-90 ms per
    # .gitignore, more than a whole pre-commit run.
    from keyguard.context import ContextRules
    from keyguard.discover import _compile

    assert _compile(["*.pyc", "build/"])._backend_name == "simple"
    rules = ContextRules.from_globs(["web/**"], ["api/**"])
    assert rules.client is not None and rules.server is not None
    assert {rules.client._backend_name, rules.server._backend_name} == {"simple"}
