"""`keyguard fix`: move hard-coded keys out of code into an env file, safely.

A separate stage from scanning: the engine finds the keys (`engine.scan_source`, which hands
the raw secrets to its caller and never to a report), this module decides what to do with
each finding, and the language rewriters edit the files: `fix_python.py` on libcst for
Python (imported only when a Python file has something to fix), `_rewrite_script` below, on
the text of one string literal, for server-side JavaScript and TypeScript. Client-side code is
never rewritten: an environment variable in a browser bundle is still public.

Nothing is lost: every value taken out of a file is appended to the env file (created with
mode 0600, added to `.gitignore`) before the file is replaced, atomically. A file is rewritten
only when the rewrite parses again and a new scan of it no longer finds the keys it moved; a
file with unstaged changes in git is left alone unless forced, so `git diff` shows exactly
what the fix did and `git checkout` undoes it.
"""

from __future__ import annotations

import difflib
import os
import re
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from keyguard.atomic import replace_atomically
from keyguard.context import is_client_side, suffix_of
from keyguard.discover import discover
from keyguard.engine import plan_for, resolve_rules, scan_source
from keyguard.filters import KEY_PREFIX
from keyguard.models import Finding, Location, Source
from keyguard.redact import redact, redact_text

if TYPE_CHECKING:
    from keyguard.config import Config
    from keyguard.engine import ScanPlan
    from keyguard.fix_python import NameFor
    from keyguard.git import Repository

__all__ = [
    "ROTATE",
    "FileFix",
    "FixError",
    "FixPlan",
    "Outcome",
    "apply_fix",
    "constant_name",
    "display_path",
    "plan_fix",
    "render_diff",
]

FIXABLE = frozenset({"KG101", "KG102", "KG103", "KG104", "KG202"})
CLIENT_RULE = "KG201"
PYTHON_SUFFIXES = frozenset({".py", ".pyw", ".pyi"})
SCRIPT_SUFFIXES = frozenset({".js", ".mjs", ".cjs", ".ts", ".mts", ".cts", ".jsx", ".tsx"})
BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
MAX_REWRITE_BYTES = 1 << 20  # what python.py parses; bigger files are generated data
CLIENT_SIDE = (
    "client-side code: an environment variable in a browser bundle or an app is still public; "
    "move the call that needs this secret to a server (an API route) that reads it from its "
    "environment"
)
DIRTY = "unstaged changes in git: commit or stash them first (or use --force)"
ROTATE = (
    "A key that was ever committed is leaked whatever the code says now: rotate it "
    "(`keyguard history` lists the commits that hold it)."
)
CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
CONSTANT = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")
ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")
PLAIN_VALUE = re.compile(r"[A-Za-z0-9_\-.~+/=:@]*")


class FixError(Exception):
    """The fix cannot start (a tracked env file, an unreadable one): one line for the user."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one finding: `replacement` is the code now in its place (fixed), or
    `reason` says why it was left. Neither holds the secret."""

    location: Location
    rule_id: str
    replacement: str | None = None
    reason: str | None = None

    @property
    def fixed(self) -> bool:
        return self.replacement is not None


@dataclass
class FileFix:
    """One file with findings: its bytes before and (when rewritten) after.

    `secrets` are every secret found in the file, kept only to redact the dry-run diff.
    """

    path: Path
    display: str
    before: bytes
    after: bytes | None
    outcomes: list[Outcome]
    secrets: tuple[str, ...] = ()


@dataclass
class FixPlan:
    """Everything `keyguard fix` would do; `apply_fix` does it, `render_diff` shows it."""

    env_file: Path
    env_exists: bool
    env_additions: list[tuple[str, str]] = field(default_factory=list)  # (name, raw value)
    gitignore: Path | None = None  # the .gitignore to append the env file's name to
    files: list[FileFix] = field(default_factory=list)

    @property
    def outcomes(self) -> list[tuple[FileFix, Outcome]]:
        return [(file, outcome) for file in self.files for outcome in file.outcomes]

    @property
    def remaining(self) -> int:
        return sum(not outcome.fixed for _, outcome in self.outcomes)


# --- names -------------------------------------------------------------------------------------


def constant_name(name: str | None) -> str | None:
    """`client_secret` -> `CLIENT_SECRET`, `apiKey` -> `API_KEY`; None for a poor name.

    A good name has at least two words: `key`, `token` or `secret` alone say nothing about
    which service the value belongs to, and such names are common enough in an environment
    to mean something else there. Those fall back to the rule's name.
    """
    if not name:
        return None
    upper = CAMEL.sub("_", name.strip("_")).upper()
    upper = re.sub(r"[^A-Z0-9]+", "_", upper).strip("_")
    return upper if CONSTANT.fullmatch(upper) and len(upper) <= 64 else None


class Namer:
    """Hands out env variable names: one per secret, never one already taken by another value.

    Names are taken from the env file as it is, from earlier files of this run, and from the
    names the file itself reads from the environment (`os.environ["API_KEY"]` elsewhere in the
    file means `API_KEY` is something else). A file's names are provisional until `commit`:
    a file that fails its checks gives them back (`rollback`).
    """

    def __init__(self, existing: dict[str, str]) -> None:
        self.by_name = dict(existing)
        self.by_value: dict[str, str] = {}
        for name, value in existing.items():
            self.by_value.setdefault(value, name)
        self.additions: list[tuple[str, str]] = []
        self.pending: list[tuple[str, str]] = []

    def choose(
        self,
        secret: str,
        fallback: str,
        preferred: str | None,
        forced: bool,
        file_names: frozenset[str],
    ) -> str | None:
        if forced:
            assert preferred is not None
            taken = self.by_name.get(preferred)
            if taken is not None and taken != secret:
                return None
            if taken is None:
                self._take(preferred, secret)
            return preferred
        known = self.by_value.get(secret)
        if known is not None:
            return known
        base = constant_name(preferred) or fallback
        name, number = base, 1
        while name in self.by_name or name in file_names:
            number += 1
            name = f"{base}_{number}"
        self._take(name, secret)
        return name

    def _take(self, name: str, secret: str) -> None:
        self.by_name[name] = secret
        self.by_value.setdefault(secret, name)
        self.pending.append((name, secret))

    def commit(self) -> None:
        self.additions.extend(self.pending)
        self.pending = []

    def rollback(self) -> None:
        for name, secret in self.pending:
            del self.by_name[name]
            if self.by_value.get(secret) == name:
                del self.by_value[secret]
        self.pending = []


def rule_fallback(rule_name: str) -> str:
    """`live-secret-key` -> `KEYGUARD_LIVE_SECRET_KEY`: what a literal with no good name gets."""
    return "KEYGUARD_" + re.sub(r"[^A-Za-z0-9]+", "_", rule_name).upper()


def fallback_name(finding: Finding, secret: str) -> str:
    """The name a literal gets when nothing in the code names it well.

    A provider key in a bearer header (KG104) is named for the key rule whose keyword starts
    it (`sk_live_…` -> KG101's `KEYGUARD_LIVE_SECRET_KEY`), as that rule would name it.
    """
    if finding.rule.check != "bearer-literal":
        return rule_fallback(finding.rule.name)
    from keyguard.ruleset import builtin_rules

    key_rules = [
        rule
        for rule in builtin_rules()
        if rule.kind == "secret" and rule.check is None and rule.applies_to == "any"
    ]
    starts = [
        (len(keyword), rule.name)
        for rule in key_rules
        for keyword in rule.keywords
        if KEY_PREFIX.match(keyword.decode()) and secret.lower().startswith(keyword.decode())
    ]
    return rule_fallback(max(starts)[1]) if starts else "KEYGUARD_BEARER_TOKEN"


# --- the env file and .gitignore ---------------------------------------------------------------


def read_env(path: Path) -> dict[str, str]:
    """NAME -> value of an existing env file (dotenv syntax: `export`, quotes); {} if none."""
    try:
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
    except FileNotFoundError:
        return {}
    entries: dict[str, str] = {}
    for line in text.splitlines():
        match = ENV_LINE.match(line)
        if match is None or line.lstrip().startswith("#"):
            continue
        name, value = match.groups()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
            if match.group(2)[0] == '"':
                value = value.replace('\\"', '"').replace("\\\\", "\\")
        else:
            value = re.sub(r"\s+#.*$", "", value)
        entries.setdefault(name, value)
    return entries


def env_line(name: str, value: str) -> str:
    """`NAME=value`, quoted when the value holds anything a dotenv reader would interpret."""
    if PLAIN_VALUE.fullmatch(value):
        return f"{name}={value}"
    if "'" not in value:
        return f"{name}='{value}'"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'{name}="{escaped}"'


def append_env(path: Path, additions: Sequence[tuple[str, str]]) -> None:
    """Append `NAME=value` lines, creating the file with mode 0600 (only its owner reads it)."""
    if not additions:
        return
    handle = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        size = os.fstat(handle).st_size
        prefix = ""
        if size:
            with path.open("rb") as existing:
                existing.seek(size - 1)
                if existing.read(1) != b"\n":
                    prefix = "\n"
        text = prefix + "".join(env_line(name, value) + "\n" for name, value in additions)
        view = memoryview(text.encode("utf-8", "surrogateescape"))
        while view:
            view = view[os.write(handle, view) :]
        os.fsync(handle)
    finally:
        os.close(handle)


def _gitignore_for(env_file: Path, repository: Repository | None) -> Path | None:
    """The .gitignore to add the env file to, or None when something ignores it already."""
    if repository is not None and _git_says(
        repository, "check-ignore", "--no-index", "--", str(env_file)
    ):
        return None
    gitignore = env_file.parent / ".gitignore"
    try:
        lines = gitignore.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        lines = []
    import pathspec

    if pathspec.GitIgnoreSpec.from_lines(lines).match_file(env_file.name):
        return None
    return gitignore


def _add_to_gitignore(gitignore: Path, name: str) -> None:
    try:
        before = gitignore.read_bytes()
    except FileNotFoundError:
        before = b""
    separator = b"" if not before or before.endswith(b"\n") else b"\n"
    addition = f"# keys moved out of code by `keyguard fix`\n{name}\n".encode()
    mode = stat.S_IMODE(gitignore.stat().st_mode) if before else 0o644
    replace_atomically(gitignore, before + separator + addition, mode=mode)


# --- git -----------------------------------------------------------------------------------------


def _repository(paths: Sequence[Path]) -> Repository | None:
    from keyguard.git import GitError, open_repository

    start = paths[0] if paths else Path()
    try:
        return open_repository(start.absolute())
    except GitError:
        return None


def _git_says(repository: Repository, *args: str) -> bool:
    """Does this git command (exit 0 or 1) print anything? False when git cannot answer."""
    from keyguard.git import GitError

    try:
        return bool(repository.git(*args, ok=(0, 1)).strip())
    except GitError:
        return False


def _dirty(repository: Repository | None) -> frozenset[Path]:
    """Files whose work-tree content differs from the index: their edits are not saved in git."""
    if repository is None or repository.bare:
        return frozenset()
    from keyguard.git import GitError

    try:
        out = repository.git("diff", "--name-only", "-z", "--no-ext-diff")
    except GitError:
        return frozenset()
    top = repository.top.resolve()
    return frozenset(top / os.fsdecode(name) for name in out.split(b"\0") if name)


# --- planning ------------------------------------------------------------------------------------


def plan_fix(
    paths: Sequence[Path], config: Config, env_file: Path, *, force: bool = False
) -> FixPlan:
    """Find the keys under `paths` and work out every rewrite, in memory; nothing is written."""
    env_path = Path.cwd() / env_file  # absolute, symlinks kept: that is the file written
    if env_path.is_dir():
        raise FixError(f"{env_file} is a directory, not an env file")
    repository = _repository(paths)
    if (
        repository is not None
        and not repository.bare
        and env_path.exists()
        and _git_says(repository, "ls-files", "--", str(env_path))
    ):
        raise FixError(
            f"{env_file} is tracked by git, so keys written to it would be committed: untrack it "
            f"(git rm --cached {env_file}) or choose another file with --env-file"
        )
    try:
        existing = read_env(env_path)
    except OSError as error:
        raise FixError(f"cannot read {env_file}: {error.strerror or error}") from None
    plan = FixPlan(env_file=env_path, env_exists=env_path.exists())
    scan_plan = plan_for(config, resolve_rules(config))
    namer = Namer(existing)
    dirty = _dirty(repository)
    real_env = env_path.resolve()
    for item in discover(list(paths) or [Path()], config):
        if not isinstance(item, Source):
            continue
        path = Path(item.path)
        if path.resolve() == real_env:
            continue  # where the keys belong
        secrets: list[str] = []
        result = scan_source(item, scan_plan, secrets)
        found = list(zip(result.findings, secrets, strict=True))
        targets = _targets(found)
        if not targets:
            continue
        clean = force or path.resolve() not in dirty
        file = _fix_file(path, item, targets, scan_plan, namer, clean)
        file.secrets = tuple(secret for _, secret in found)
        plan.files.append(file)
    plan.env_additions = namer.additions
    if plan.env_additions:
        plan.gitignore = _gitignore_for(env_path, repository)
    return plan


def _targets(found: list[tuple[Finding, str]]) -> list[tuple[Finding, str]]:
    """The findings `fix` deals with: one per literal, whatever the rules that found it.

    A KG101 and a KG202 on the same `client_secret="sk_live_…"` are one value to move; a KG201
    is dropped where a KG10x stands for the same key. Rewriting the literal once per rule
    would name it twice and report the second as left behind.
    """
    chosen: dict[tuple[Location, str], tuple[Finding, str]] = {}
    for finding, secret in found:
        if finding.rule.id not in FIXABLE and finding.rule.id != CLIENT_RULE:
            continue
        key = (finding.location, secret)
        kept = chosen.get(key)
        if kept is None or (kept[0].rule.id not in FIXABLE and finding.rule.id in FIXABLE):
            chosen[key] = (finding, secret)
    return list(chosen.values())


def _fix_file(
    path: Path,
    source: Source,
    targets: list[tuple[Finding, str]],
    scan_plan: ScanPlan,
    namer: Namer,
    clean: bool,
) -> FileFix:
    data = source.data
    suffix = suffix_of(path.name.lower())

    def left(reason: str) -> FileFix:
        return FileFix(
            path,
            source.path,
            data,
            None,
            [Outcome(f.location, f.rule.id, reason=reason) for f, _ in targets],
        )

    client = any(f.rule.id == CLIENT_RULE for f, _ in targets) or is_client_side(
        source.path, data, scan_plan.context
    )
    if client:
        return left(CLIENT_SIDE)
    if suffix not in PYTHON_SUFFIXES | SCRIPT_SUFFIXES:
        return left("not Python, JavaScript or TypeScript: move the value by hand")
    if not clean:
        return left(DIRTY)
    if data.startswith(BOMS):
        return left("the file starts with a byte-order mark: fix it by hand")
    if len(data) > MAX_REWRITE_BYTES:
        return left("too large to rewrite safely: fix it by hand")

    def name_for(
        index: int, preferred: str | None, forced: bool, file_names: frozenset[str]
    ) -> str | None:
        finding, secret = targets[index]
        return namer.choose(secret, fallback_name(finding, secret), preferred, forced, file_names)

    pairs = [(finding.location, secret) for finding, secret in targets]
    if suffix in PYTHON_SUFFIXES:
        from keyguard.fix_python import rewrite_python

        rewritten = rewrite_python(data, pairs, name_for)
        if isinstance(rewritten, str):
            namer.rollback()
            return left(rewritten)
        after, outcomes = rewritten.data, rewritten.outcomes
    else:
        after, outcomes = _rewrite_script(data, pairs, name_for)
    results = []
    for index, (finding, _) in enumerate(targets):
        name, detail = outcomes.get(index, (None, "not rewritten"))
        if name is None:
            results.append(Outcome(finding.location, finding.rule.id, reason=detail))
        else:
            results.append(Outcome(finding.location, finding.rule.id, replacement=detail))
    fixed = {secret for (_, secret), outcome in zip(targets, results, strict=True) if outcome.fixed}
    if after is not None and not _verified(source.path, after, fixed, scan_plan):
        namer.rollback()
        return left("a scan of the rewritten file still finds the key: left untouched")
    namer.commit()
    return FileFix(path, source.path, data, after, results)


def _verified(display: str, after: bytes, fixed: set[str], scan_plan: ScanPlan) -> bool:
    """The rewrite removed what it claims to: no moved secret is left in the file's bytes or
    found by a scan of the result (which also catches a key spelt with escapes)."""
    if any(secret.encode("utf-8", "surrogateescape") in after for secret in fixed):
        return False
    secrets: list[str] = []
    result = scan_source(Source(display, after), scan_plan, secrets)
    if result.skipped is not None:
        return False
    return not fixed.intersection(secrets)


# --- JavaScript and TypeScript -------------------------------------------------------------------

IDENTIFIER = r"[A-Za-z_$][\w$]*"
# `process.env.K || "…"`, `process.env["K"] ?? '…'`: the literal is a fallback for K.
SCRIPT_FALLBACK = re.compile(
    rf"(process\.env(?:\.({IDENTIFIER})|\[\s*[\"']({IDENTIFIER})[\"']\s*\]))\s*(?:\|\||\?\?)\s*$"
)
# `const apiKey = `, `apiKey: `, `"client_secret": `, `this.key = ` right before the literal.
SCRIPT_BINDING = re.compile(rf"[\"']?({IDENTIFIER})[\"']?\s*(?::|(?<![=!<>+\-*/])=(?!=))\s*$")


def _script_literals(line: str) -> tuple[list[tuple[int, int, str]], int]:
    """String literals of one line as (opening quote, closing quote or len(line), quote), and
    where a `//` comment starts (len(line) if none). Good enough for one line: a literal that
    does not close on its line is reported as ending at len(line) and never rewritten."""
    literals: list[tuple[int, int, str]] = []
    index, size = 0, len(line)
    while index < size:
        char = line[index]
        if char in "'\"`":
            end = index + 1
            while end < size and line[end] != char:
                end += 2 if line[end] == "\\" else 1
            literals.append((index, min(end, size), char))
            index = end + 1
            continue
        if line.startswith("//", index):
            return literals, index
        if line.startswith("/*", index):
            close = line.find("*/", index + 2)
            if close == -1:
                return literals, index
            index = close + 2
            continue
        index += 1
    return literals, size


def _rewrite_script(
    data: bytes,
    targets: Sequence[tuple[Location, str]],
    name_for: NameFor,
) -> tuple[bytes | None, dict[int, tuple[str | None, str]]]:
    """Replace each key's string literal with `process.env.NAME` (or splice `${…}` into it)."""
    text = data.decode("utf-8", "surrogateescape")
    lines = text.splitlines(keepends=True)
    outcomes: dict[int, tuple[str | None, str]] = {}
    order = sorted(range(len(targets)), key=lambda i: (targets[i][0].line, targets[i][0].column))
    changed = False
    for index in reversed(order):  # right to left: earlier columns stay valid
        location, secret = targets[index]
        number = location.line - 1
        if location.end_line != location.line or number >= len(lines):
            outcomes[index] = (None, "spans several lines: fix it by hand")
            continue
        raw = lines[number]
        body = raw.rstrip("\r\n")
        ending = raw[len(body) :]
        done = _rewrite_script_line(body, location.column - 1, secret, index, name_for)
        if isinstance(done, str):
            outcomes[index] = (None, done)
            continue
        new_body, name, code = done
        lines[number] = new_body + ending
        outcomes[index] = (name, code)
        changed = True
    after = "".join(lines).encode("utf-8", "surrogateescape") if changed else None
    return after, outcomes


def _rewrite_script_line(
    line: str, start: int, secret: str, index: int, name_for: NameFor
) -> tuple[str, str, str] | str:
    """The rewritten line, the variable and the code now in place; or why not."""
    if line[start : start + len(secret)] != secret:
        start = line.find(secret)
        if start == -1:
            return _rewrite_joined_key(line, secret, index, name_for)
    end = start + len(secret)
    literals, comment = _script_literals(line)
    if start >= comment:
        return "in a comment: remove it by hand"
    literal = next((item for item in literals if item[0] < start and end <= item[1]), None)
    if literal is None:
        return "not in a string literal: fix it by hand"
    opening, closing, quote = literal
    if closing >= len(line):
        return "in a string that spans lines: fix it by hand"
    content = line[opening + 1 : closing]
    names = frozenset(re.findall(rf"process\.env\.({IDENTIFIER})", line))
    if content == secret:
        before = line[:opening]
        fallback = SCRIPT_FALLBACK.search(before)
        if fallback is not None:
            variable = fallback.group(2) or fallback.group(3)
            name = name_for(index, variable, True, names)
            if name is None:
                return f"the env file already sets {variable} to another value"
            code = fallback.group(1)
            return line[: fallback.start(1)] + code + line[closing + 1 :], name, code
        binding = SCRIPT_BINDING.search(before)
        name = name_for(index, binding.group(1) if binding else None, False, names)
        assert name is not None
        code = f"process.env.{name}"
        return line[:opening] + code + line[closing + 1 :], name, code
    name = name_for(index, None, False, names)
    assert name is not None
    splice = "${process.env." + name + "}"
    offset = start - opening - 1
    head, tail = content[:offset], content[offset + len(secret) :]
    if quote != "`":
        head = head.replace("`", "\\`").replace("${", "\\${")
        tail = tail.replace("`", "\\`").replace("${", "\\${")
    new_literal = f"`{head}{splice}{tail}`"
    return line[:opening] + new_literal + line[closing + 1 :], name, splice


def _rewrite_joined_key(
    line: str, secret: str, index: int, name_for: NameFor
) -> tuple[str, str, str] | str:
    """The whole `"sk_live_" + "…"` expression (as `text.py` joins it) becomes
    `process.env.NAME`; or why not."""
    from keyguard.text import PIECE, SPLIT_KEY

    raw = line.encode("utf-8", "surrogateescape")
    for joined in SPLIT_KEY.finditer(raw):
        pieces = PIECE.finditer(raw, joined.start(), joined.end())
        if b"".join(piece.group(2) for piece in pieces) != secret.encode("ascii", "replace"):
            continue
        start = len(raw[: joined.start()].decode("utf-8", "surrogateescape"))
        end = start + len(joined.group(0).decode("ascii"))
        names = frozenset(re.findall(rf"process\.env\.({IDENTIFIER})", line))
        binding = SCRIPT_BINDING.search(line[:start])
        name = name_for(index, binding.group(1) if binding else None, False, names)
        assert name is not None
        code = f"process.env.{name}"
        return line[:start] + code + line[end:], name, code
    return "could not locate the key on its line: fix it by hand"


# --- doing it, and showing it --------------------------------------------------------------------


def apply_fix(plan: FixPlan) -> list[str]:
    """Write the env file, .gitignore and the rewritten files; return notes on what was not.

    The env file comes first: once a file is replaced, its values are already safe on disk.
    A file that changed since it was read is left alone.
    """
    notes: list[str] = []
    append_env(plan.env_file, plan.env_additions)
    if plan.gitignore is not None:
        _add_to_gitignore(plan.gitignore, plan.env_file.name)
    for file in plan.files:
        if file.after is None:
            continue
        try:
            current = file.path.read_bytes()
        except OSError:
            current = None
        if current != file.before:
            notes.append(f"{file.display}: changed while keyguard was working: not rewritten")
            file.after = None
            continue
        mode = stat.S_IMODE(file.path.stat().st_mode)
        replace_atomically(file.path, file.after, mode=mode)
    return notes


def render_diff(plan: FixPlan) -> Iterator[str]:
    """A unified diff of every change, secrets redacted: what `--dry-run` prints."""
    for file in plan.files:
        if file.after is None:
            continue
        before = file.before.decode("utf-8", "surrogateescape").splitlines(keepends=True)
        after = file.after.decode("utf-8", "surrogateescape").splitlines(keepends=True)
        for line in difflib.unified_diff(before, after, f"a/{file.display}", f"b/{file.display}"):
            shown = redact_text(line, file.secrets)
            yield shown if shown.endswith("\n") else shown + "\n\\ No newline at end of file\n"
    if plan.env_additions:
        name = display_path(plan.env_file)
        yield f"--- {name if plan.env_exists else '/dev/null'}\n+++ {name}\n"
        yield f"@@ appended {len(plan.env_additions)} line(s) (values redacted) @@\n"
        for variable, value in plan.env_additions:
            yield f"+{variable}={redact(value)}\n"
    if plan.gitignore is not None:
        name = display_path(plan.gitignore)
        yield f"--- {name}\n+++ {name}\n@@ appended @@\n+{plan.env_file.name}\n"


def display_path(path: Path) -> str:
    """`path` relative to the working directory when inside it: how messages name files."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
