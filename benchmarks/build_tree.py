"""Build the real-code trees that `compare.py` scans: pinned packages nobody on the team wrote.

``benchmarks/corpus/real/`` (git-ignored) holds, unpacked and never installed or built:

* four Python wheels from PyPI (Django, plotly, bokeh, sympy), each under
  ``python/<name>-<version>/``;
* five npm packages (aws-sdk, three.js, TypeScript, @angular/core, Vue) from ``npm pack``, each
  under ``js/<name>-<version>/``;
* a copy of the running interpreter's standard library under ``stdlib-<version>/`` (no
  ``site-packages``, no ``__pycache__``; the same copy ``bench_throughput.py`` makes).

Every download is pinned by version and SHA-256, so the tree is the same on every machine that
runs the same Python (the standard library is the one part that depends on the interpreter).
Archives land in ``benchmarks/corpus/downloads/`` and are reused; a tree whose manifest matches
is reused too (``--rebuild`` forces a fresh one).

The layout is chosen so that every tool scans the same files with its default settings: the
tree is not a git repository, holds no ``.gitignore`` (any shipped one is removed, and counted;
keyguard honours nested ones, gitleaks and betterleaks do not), no ``node_modules`` directory
(gitleaks and betterleaks skip those by default) and no ``lib/python3.X/`` path (ditto). A
``.keyguard.toml`` at the root makes keyguard use its defaults instead of the repository's config
(which excludes ``benchmarks/corpus/``).

``--copies N`` also builds ``corpus/real<N>x/`` holding N hard-linked copies of the tree
(``copy1/`` ... ``copyN/``), for the memory-flatness measurement: same bytes, N times the files.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from _common import disk_usage, table

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_CORPUS_DIR = BENCH_DIR / "corpus"
TREE_VERSION = 2  # 2: sympy and aws-sdk, so that over 200 MB of it is text keyguard scans
MB = 1_000_000
CORPUS_CONFIG = (
    "# Benchmark corpus: scan it with keyguard's defaults, not the repository's config\n"
    "# (which excludes benchmarks/corpus/). Written by benchmarks/build_tree.py.\n"
)


@dataclass(frozen=True)
class Package:
    """One pinned artifact: where it comes from, what it must hash to, where it is unpacked."""

    registry: str  # "pypi" (a wheel) or "npm" (an `npm pack` tarball)
    name: str
    version: str
    sha256: str
    filename: str

    @property
    def target(self) -> str:
        group = "python" if self.registry == "pypi" else "js"
        slug = self.name.lstrip("@").replace("/", "-").lower()
        return f"{group}/{slug}-{self.version}"

    @property
    def spec(self) -> str:
        return (
            f"{self.name}=={self.version}"
            if self.registry == "pypi"
            else f"{self.name}@{self.version}"
        )


# Wheels, not sdists: `pip download` of an sdist runs its build backend to get the metadata;
# a wheel is only downloaded. plotly 5.24.1 rather than 6.x/7.x: it still ships its ~14,000
# generated validator and graph-object modules, which is what a large real Python tree looks like.
PACKAGES = (
    Package(
        "pypi",
        "Django",
        "5.2.19",
        "5965d974a5218a2b68a11dd1276434707f23886525c23f0598eccedaf4f4ca00",
        "django-5.2.19-py3-none-any.whl",
    ),
    Package(
        "pypi",
        "plotly",
        "5.24.1",
        "f67073a1e637eb0dc3e46324d9d51e2fe76e9727c892dde64ddf1e1b51f29089",
        "plotly-5.24.1-py3-none-any.whl",
    ),
    Package(
        "pypi",
        "bokeh",
        "3.9.2",
        "448e07d5ee78231f5bdece3be020024bb98696c0d6b127e0e2df0b8ba8fa9765",
        "bokeh-3.9.2-py3-none-any.whl",
    ),
    Package(
        "pypi",
        "sympy",
        "1.13.3",
        "54612cf55a62755ee71824ce692986f23c88ffa77207b30c1368eda4a7060f73",
        "sympy-1.13.3-py3-none-any.whl",
    ),
    Package(
        "npm",
        "aws-sdk",
        "2.1692.0",
        "c5de2b2f968e2b039bc17466dcac07cdd554fd3f81614b722fdbaa2f29037287",
        "aws-sdk-2.1692.0.tgz",
    ),
    Package(
        "npm",
        "three",
        "0.187.0",
        "ff540832ded0cfe919764d24a3d88f3e2a05f23303f876423e4f893841e90728",
        "three-0.187.0.tgz",
    ),
    Package(
        "npm",
        "typescript",
        "5.9.3",
        "10e108c9cf7d5f2879053dff18515fb405abf2ccef63eaaf017d9c571687a1d3",
        "typescript-5.9.3.tgz",
    ),
    Package(
        "npm",
        "@angular/core",
        "22.2.6",
        "21bc3f74418e6ccd318edd589aa8de6466e16b448f67808d227f12468a767741",
        "angular-core-22.2.6.tgz",
    ),
    Package(
        "npm",
        "vue",
        "3.5.45",
        "c2ec36a9b719e4277785f1ad36a1bb0424d8d32f0bea24abcce862e26821d585",
        "vue-3.5.45.tgz",
    ),
)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------
# Downloads
# --------------------------------------------------------------------------------------------


def download(package: Package, downloads: Path, verify: bool) -> Path:
    """The package's archive in `downloads`, fetched with pip or npm unless already there."""
    path = downloads / package.filename
    if not path.is_file():
        print(f"  fetching {package.spec} ({package.registry})")
        downloads.mkdir(parents=True, exist_ok=True)
        if package.registry == "pypi":
            command = [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--only-binary",
                ":all:",
                "--dest",
                str(downloads),
                package.spec,
            ]
        else:
            npm = shutil.which("npm")
            if npm is None:
                raise SystemExit(f"npm not found on PATH: needed to fetch {package.spec}")
            command = [npm, "pack", "--silent", "--pack-destination", str(downloads), package.spec]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not path.is_file():
            raise SystemExit(
                f"could not fetch {package.spec}: {' '.join(command)} exited "
                f"{result.returncode}\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
            )
    else:
        print(f"  reusing {path.relative_to(BENCH_DIR)}")
    if verify and (actual := sha256(path)) != package.sha256:
        raise SystemExit(
            f"{path} has SHA-256 {actual}, expected {package.sha256}: the registry served a "
            "different artifact (delete it to fetch again, or pass --no-verify)"
        )
    return path


# --------------------------------------------------------------------------------------------
# Unpacking
# --------------------------------------------------------------------------------------------


def unpack(archive: Path, destination: Path) -> None:
    """Extract a wheel or an npm tarball (its leading `package/` dropped) into `destination`."""
    destination.mkdir(parents=True)
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as wheel:
            wheel.extractall(destination)
        return
    with tarfile.open(archive) as tar:
        members = []
        for member in tar.getmembers():
            parts = Path(member.name).parts
            if len(parts) < 2 or not (member.isfile() or member.isdir()):
                continue
            member.name = str(Path(*parts[1:]))
            members.append(member)
        tar.extractall(destination, members=members, filter="data")


def copy_stdlib(destination: Path) -> Path:
    """This interpreter's standard library, as bench_throughput.py copies it."""
    source = Path(sysconfig.get_paths()["stdlib"])

    def ignore(directory: str, names: list[str]) -> set[str]:
        skipped = {name for name in names if name == "__pycache__"}
        if Path(directory) == source:
            skipped |= {name for name in names if name == "site-packages"}
        return skipped

    shutil.copytree(source, destination, symlinks=True, ignore=ignore)
    return source


def neutralise(root: Path) -> dict[str, list[str]]:
    """Remove what would make the tools see different files; return what was found."""
    found: dict[str, list[str]] = {"removed .gitignore": [], "node_modules dirs": [], ".git": []}
    for directory, dirnames, filenames in os.walk(root):
        here = Path(directory)
        if ".gitignore" in filenames:
            (here / ".gitignore").unlink()
            found["removed .gitignore"].append(str((here / ".gitignore").relative_to(root)))
        for name in dirnames:
            if name == "node_modules":
                found["node_modules dirs"].append(str((here / name).relative_to(root)))
            if name == ".git":
                found[".git"].append(str((here / name).relative_to(root)))
    return found


def manifest_params() -> dict[str, object]:
    return {
        "tree_version": TREE_VERSION,
        "packages": [f"{p.registry}:{p.spec}:{p.sha256}" for p in PACKAGES],
        "python": platform.python_version(),
        "stdlib": sysconfig.get_paths()["stdlib"],
    }


def build_real(corpus_dir: Path, rebuild: bool, verify: bool) -> Path:
    """corpus/real/, rebuilt when its manifest does not match the pins (or on --rebuild)."""
    root = corpus_dir / "real"
    manifest_path = corpus_dir / "real.manifest.json"
    params = manifest_params()
    if root.is_dir() and not rebuild and manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("params") == params:
            print(f"reusing {root} (manifest matches; --rebuild to build it again)")
            return root
    print(f"building {root}")
    started = time.perf_counter()
    archives = {p: download(p, corpus_dir / "downloads", verify) for p in PACKAGES}
    partial = corpus_dir / "real.partial"
    for stale in (partial, root):
        if stale.exists():
            shutil.rmtree(stale)
    parts: dict[str, str] = {}
    for package, archive in archives.items():
        print(f"  unpacking {archive.name} -> {package.target}/")
        unpack(archive, partial / package.target)
        parts[package.target] = package.spec
    stdlib_target = f"stdlib-{platform.python_version()}"
    source = copy_stdlib(partial / stdlib_target)
    print(f"  copied {source} -> {stdlib_target}/")
    parts[stdlib_target] = f"standard library of CPython {platform.python_version()} ({source})"
    found = neutralise(partial)
    (partial / ".keyguard.toml").write_text(CORPUS_CONFIG, encoding="utf-8")
    partial.rename(root)
    manifest = {"params": params, "parts": parts, "neutralised": found}
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    for what, paths in found.items():
        if paths:
            print(
                f"  {what}: {len(paths)} ({', '.join(paths[:3])}{' ...' if len(paths) > 3 else ''})"
            )
    print(f"  done in {time.perf_counter() - started:.1f} s")
    return root


def build_copies(corpus_dir: Path, source: Path, copies: int, rebuild: bool) -> Path:
    """corpus/real<N>x/copy1..copyN: hard links to the files of `source` (symlinks recreated)."""
    root = corpus_dir / f"real{copies}x"
    stamp = corpus_dir / f"real{copies}x.stamp"
    expected = f"{source}:{(corpus_dir / 'real.manifest.json').stat().st_mtime_ns}\n"
    if root.is_dir() and not rebuild and stamp.is_file() and stamp.read_text() == expected:
        print(f"reusing {root}")
        return root
    print(f"building {root} ({copies} hard-linked copies of {source.name}/)")
    partial = corpus_dir / f"real{copies}x.partial"
    for stale in (partial, root):
        if stale.exists():
            shutil.rmtree(stale)
    for index in range(1, copies + 1):
        copy = partial / f"copy{index}"
        for directory, dirnames, filenames in os.walk(source):
            relative = Path(directory).relative_to(source)
            (copy / relative).mkdir(parents=True, exist_ok=True)
            for name in [*filenames, *(d for d in dirnames if Path(directory, d).is_symlink())]:
                origin = Path(directory, name)
                if relative == Path() and name == ".keyguard.toml":
                    continue
                if origin.is_symlink():
                    (copy / relative / name).symlink_to(origin.readlink())
                else:
                    os.link(origin, copy / relative / name)
    (partial / ".keyguard.toml").write_text(CORPUS_CONFIG, encoding="utf-8")
    partial.rename(root)
    stamp.write_text(expected, encoding="utf-8")
    return root


def composition(root: Path) -> list[tuple[str, int, str]]:
    """(part, files, MB) for each package directory of the tree, then the total."""
    rows = []
    tops = sorted(p for p in root.iterdir() if p.is_dir())
    for top in tops:
        subdirs = (
            sorted(p for p in top.iterdir() if p.is_dir()) if top.name in ("python", "js") else []
        )
        for part in subdirs or [top]:
            files, size = disk_usage(part)
            rows.append((str(part.relative_to(root)), files, f"{size / MB:.1f}"))
    files, size = disk_usage(root)
    rows.append(("total", files, f"{size / MB:.1f}"))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    parser.add_argument(
        "--corpus-dir",
        type=Path,
        default=DEFAULT_CORPUS_DIR,
        help="where the trees and downloads live (default: benchmarks/corpus)",
    )
    parser.add_argument(
        "--copies",
        type=int,
        default=0,
        metavar="N",
        help="also build corpus/real<N>x/ with N hard-linked copies of the tree (e.g. 4)",
    )
    parser.add_argument("--rebuild", action="store_true", help="rebuild even if up to date")
    parser.add_argument(
        "--no-verify",
        action="store_true",
        help="accept downloads whose SHA-256 differs from the pinned one",
    )
    args = parser.parse_args(argv)
    if args.copies < 0 or args.copies == 1:
        parser.error("--copies must be 0 (none) or at least 2")
    corpus_dir = args.corpus_dir.resolve()
    corpus_dir.mkdir(parents=True, exist_ok=True)

    root = build_real(corpus_dir, args.rebuild, not args.no_verify)
    print()
    print(f"Tree {root}")
    print()
    print(table(("part", "files", "MB"), composition(root)))
    if args.copies:
        print()
        copies = build_copies(corpus_dir, root, args.copies, args.rebuild)
        files, size = disk_usage(copies)
        print(f"{copies}: {files} files, {size / MB:.1f} MB (hard links: no extra disk space)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
