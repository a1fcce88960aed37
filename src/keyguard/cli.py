"""Command line: `keyguard scan`, `keyguard history`, `keyguard baseline ...`, `keyguard rules`,
`keyguard explain`.

Exit codes: 0 nothing at or above `--fail-on`, 1 findings, 2 usage, config or I/O error. Every
error is one line on stderr, never a traceback (set KEYGUARD_DEBUG=1 to see one).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from keyguard import __version__
from keyguard.models import Finding, Rule, ScanResult, Severity

if TYPE_CHECKING:  # imported where used: a pre-commit run must not pay for what it does not use
    from keyguard.baseline import Baseline, BaselineEntry, Scope, Status
    from keyguard.config import Config

if TYPE_CHECKING:
    from keyguard.config import Config
    from keyguard.git import Repository

__all__ = ["main"]

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
FORMATS = ("console", "json", "sarif", "github")
LEVELS = ("error", "warning", "note")
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


class KeyguardError(click.ClickException):
    """A problem the user can fix; printed as one line with exit code 2."""

    exit_code = EXIT_ERROR

    def show(self, file: IO[str] | None = None) -> None:
        click.echo(f"keyguard: error: {self.format_message()}", err=True)


def _guard(action: Callable[[], T], *expected: type[Exception]) -> T:
    """Turn the library's expected errors (and `expected` ones) into one-line CLI errors."""
    from keyguard.config import ConfigError
    from keyguard.discover import DiscoveryError
    from keyguard.ruleset import RuleError

    errors: tuple[type[Exception], ...] = (ConfigError, RuleError, DiscoveryError, *expected)
    try:
        return action()
    except errors as error:
        raise KeyguardError(str(error)) from None
    except BrokenPipeError:
        raise  # the reader went away (`| head`): not an error to report
    except OSError as error:
        where = f": {error.filename}" if error.filename else ""
        raise KeyguardError(f"{error.strerror or error}{where}") from None


def _guard_git(action: Callable[[], T]) -> T:
    """`_guard` for what reads git, which may also raise GitError (a plain scan never imports
    keyguard.git: pre-commit runs pay for no module they do not use)."""
    from keyguard.git import GitError

    def run() -> T:
        try:
            return action()
        except GitError as error:
            raise KeyguardError(str(error)) from None

    return _guard(run)


@contextmanager
def _output(path: str | None) -> Iterator[IO[str]]:
    """Write to stdout, or atomically to a file: an interrupted run never leaves half a report."""
    if path is None or path == "-":
        yield sys.stdout
        return
    import tempfile

    target = Path(path)
    directory = target.parent if str(target.parent) else Path()
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=directory)
    except OSError as error:
        raise KeyguardError(f"cannot write {path}: {error.strerror or error}") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            yield stream
        Path(temporary).replace(target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _use_color(output: str | None) -> bool:
    if output not in (None, "-") or "NO_COLOR" in os.environ:
        return False
    return "FORCE_COLOR" in os.environ or sys.stdout.isatty()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="keyguard")
def cli() -> None:
    """Find hard-coded API keys, OAuth client secrets and plain-http endpoints in code."""


def _report_options(command: Callable[..., None]) -> Callable[..., None]:
    """The options every scanning command shares: what to report, where, and when to fail."""
    options = (
        click.option(
            "--format", "fmt", type=click.Choice(FORMATS), default="console", show_default=True
        ),
        click.option(
            "-o", "--output", metavar="FILE", help="Write the report to FILE instead of stdout."
        ),
        click.option(
            "--fail-on",
            type=click.Choice(LEVELS),
            default=None,
            help="Exit 1 when a finding at or above this level remains.  [default: warning]",
        ),
        click.option(
            "--config",
            "config_path",
            type=click.Path(path_type=Path),
            help="Use this config file.",
        ),
        click.option(
            "--show-secrets",
            is_flag=True,
            help="Print secrets in full (never use this in CI logs).",
        ),
    )
    for option in reversed(options):
        command = option(command)
    return command


def _repository(start: Path) -> Repository:
    from keyguard.git import open_repository

    return _guard_git(lambda: open_repository(start))


def _finish(
    result: ScanResult,
    config: Config,
    *,
    fmt: str,
    output: str | None,
    fail_on: str | None,
    show_secrets: bool,
    root: Path | None = None,
    started: float | None = None,
) -> NoReturn:
    """Write the report and exit with the code `--fail-on` (or the config) calls for.

    `started` (a `time.perf_counter()` reading) asks for the `--stats` line on stderr.
    """
    from keyguard.report import write_report

    with _output(output) as stream:
        _guard(
            lambda: write_report(
                fmt,
                result,
                stream,
                color=_use_color(output),
                show_secrets=show_secrets,
                root=root,
            )
        )
    if started is not None:
        import time

        click.echo(_stats_line(result, time.perf_counter() - started), err=True)
    threshold = Severity.parse(fail_on) if fail_on else (config.fail_on or Severity.WARNING)
    failing = any(finding.severity.rank >= threshold.rank for finding in result.findings)
    sys.exit(EXIT_FINDINGS if failing else EXIT_CLEAN)


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@_report_options
@click.option("--no-gitignore", is_flag=True, help="Scan files that .gitignore excludes.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), help="Worker processes [all cores].")
@click.option(
    "--staged",
    is_flag=True,
    help="Scan what the index holds for the staged files (what the next commit records).",
)
@click.option(
    "--diff",
    "--since",
    "base",
    metavar="REF",
    help="Report only findings on lines added since REF (its merge base with HEAD), "
    "untracked files included: old findings do not block a pull request.",
)
@click.option(
    "--stats",
    is_flag=True,
    help="Print where the scan spent its time (files, candidates, parses) to stderr.",
)
@click.option(
    "--baseline",
    "baseline_path",
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="Report only findings this baseline does not hold.  [default: the config's baseline]",
)
@click.option("--no-baseline", is_flag=True, help="Ignore the config's baseline.")
def scan(
    paths: tuple[Path, ...],
    fmt: str,
    output: str | None,
    fail_on: str | None,
    config_path: Path | None,
    show_secrets: bool,
    no_gitignore: bool,
    jobs: int | None,
    staged: bool,
    base: str | None,
    stats: bool,
    baseline_path: Path | None,
    no_baseline: bool,
) -> None:
    """Scan PATHS (default: the current directory) and report what was found.

    Files named explicitly are scanned even when .gitignore excludes them (pre-commit passes
    them one by one); the config's `exclude` still applies to them. With --staged or --diff,
    PATHS narrow what git reports, and paths are relative to the repository's top. With a
    baseline (from --baseline or the config), findings it holds are left out and counted.
    """
    import time

    started = time.perf_counter()
    if staged and base is not None:
        raise KeyguardError("--staged and --diff cannot be combined")
    if baseline_path is not None and no_baseline:
        raise click.UsageError("--baseline and --no-baseline cannot be used together")
    targets = list(paths) or [Path()]
    config = _load_config(targets, config_path, no_gitignore)
    baseline_file = None if no_baseline else baseline_path or config.baseline
    # Read before scanning: a broken baseline fails the run at once, not after a long scan.
    baseline = None if baseline_file is None else _read_baseline(baseline_file)
    root: Path | None = None
    if staged or base is not None:
        root, result = _scan_git(targets, paths, config, staged, base, jobs, show_secrets)
    else:
        from keyguard.engine import scan as run_scan

        result = _guard(lambda: run_scan(targets, config, jobs=jobs, show_secrets=show_secrets))
    if baseline is not None and baseline_file is not None:
        from keyguard.baseline import apply_baseline, scope_for

        scope = scope_for(_baseline_root(baseline_file, config), targets)
        result = apply_baseline(result, baseline, scope)
    _finish(
        result,
        config,
        fmt=fmt,
        output=output,
        fail_on=fail_on,
        show_secrets=show_secrets,
        root=root,
        started=started if stats else None,
    )


def _scan_git(
    targets: list[Path],
    paths: tuple[Path, ...],
    config: Config,
    staged: bool,
    base: str | None,
    jobs: int | None,
    show_secrets: bool,
) -> tuple[Path, ScanResult]:
    """`scan --staged` and `scan --diff`: the repository's top, and what was found."""
    from keyguard import gitscan

    repository = _repository(targets[0])
    if repository.bare:
        raise KeyguardError("--staged and --diff need a work tree, not a bare repository")
    pathspecs = _guard_git(lambda: repository.pathspecs(paths))
    if staged:
        return repository.top, _guard_git(
            lambda: gitscan.staged(
                repository, config, pathspecs=pathspecs, jobs=jobs, show_secrets=show_secrets
            )
        )
    assert base is not None
    return repository.top, _guard_git(
        lambda: gitscan.changed_since(
            repository,
            repository.merge_base(base),
            config,
            pathspecs=pathspecs,
            jobs=jobs,
            show_secrets=show_secrets,
        )
    )


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--since", metavar="REV", help="Only the commits after REV (REV..HEAD).")
@click.option(
    "--range",
    "span",
    metavar="A..B",
    help="Only the commits of a range: A..B, A...B, or all that one revision reaches.",
)
@click.option(
    "--all", "all_refs", is_flag=True, help="Every ref (branches, tags, stash), not only HEAD."
)
@_report_options
def history(
    paths: tuple[Path, ...],
    since: str | None,
    span: str | None,
    all_refs: bool,
    fmt: str,
    output: str | None,
    fail_on: str | None,
    config_path: Path | None,
    show_secrets: bool,
) -> None:
    """Scan the lines every commit added, in PATHS of the repository (default: all of it).

    A key that was committed and deleted later is still leaked: anyone with a clone can read
    it. Each finding names the first commit that added it and says whether HEAD still holds
    it; the same secret in the same file is one finding. Paths are relative to the
    repository's top, as they were in that commit; a single file is followed across renames.
    """
    from keyguard import gitscan

    if span is not None and (since is not None or all_refs):
        raise KeyguardError("--range cannot be combined with --since or --all")
    targets = list(paths) or [Path()]
    config = _load_config(targets, config_path, False)
    repository = _repository(targets[0])
    if repository.shallow:
        click.echo(
            "keyguard: warning: a shallow clone: only the commits it holds are scanned, and "
            "the oldest of them shows every file it had as added (git fetch --unshallow)",
            err=True,
        )
    revisions: list[str] = _guard_git(lambda: _revisions(repository, since, span, all_refs))
    pathspecs = _guard_git(lambda: repository.pathspecs(paths))
    follow = len(pathspecs) == 1 and not targets[0].is_dir()
    result = _guard_git(
        lambda: gitscan.history(
            repository,
            config,
            revisions=revisions,
            pathspecs=pathspecs,
            follow=follow,
            show_secrets=show_secrets,
        )
    )
    _finish(
        result,
        config,
        fmt=fmt,
        output=output,
        fail_on=fail_on,
        show_secrets=show_secrets,
        root=repository.top,
    )


def _revisions(
    repository: Repository, since: str | None, span: str | None, all_refs: bool
) -> list[str]:
    """`git log` arguments for the chosen commits; [] when there are none (no commit yet)."""
    if span is not None:
        return repository.revision_range(span)
    if all_refs:
        revisions = ["--all"]
    else:
        head = repository.head()
        if head is None:
            return []
        revisions = [head]
    if since is not None:
        revisions.append(f"^{repository.commit(since)}")
    return revisions


def _stats_line(result: ScanResult, seconds: float) -> str:
    """One line a benchmark can parse and a person can read: `name value` pairs."""
    stats = result.stats
    fields = (
        ("seconds", f"{seconds:.3f}"),
        ("files", str(result.files_scanned)),
        ("bytes", str(result.bytes_scanned)),
        ("prefilter", result.prefilter or "none"),
        ("candidates", str(stats.candidates)),
        ("ast_parses", str(stats.ast_parses)),
        ("ast_seconds", f"{stats.ast_seconds:.3f}"),
        ("libcst_parses", str(stats.libcst_parses)),
        ("libcst_seconds", f"{stats.libcst_seconds:.3f}"),
    )
    return "keyguard stats: " + " ".join(f"{name}={value}" for name, value in fields)


def _load_config(targets: list[Path], config_path: Path | None, no_gitignore: bool) -> Config:
    """The config for a scan of `targets`: the nearest one above the first target."""
    from dataclasses import replace

    from keyguard.config import load_config

    start = targets[0] if targets[0].is_dir() else targets[0].parent
    config = _guard(lambda: load_config(start, config_path))
    return replace(config, gitignore=False) if no_gitignore else config


def _read_baseline(path: Path) -> Baseline:
    from keyguard.baseline import BaselineError, load

    return _guard(lambda: load(path), BaselineError)


# --- keyguard baseline ...  ------------------------------------------------------------------


def _scan_options(command: F) -> F:
    """The options every baseline command shares with `scan`."""
    options = (
        click.option(
            "--config", "config_path", type=click.Path(path_type=Path), help="Use this config."
        ),
        click.option("--no-gitignore", is_flag=True, help="Scan files that .gitignore excludes."),
        click.option("--jobs", "-j", type=click.IntRange(min=1), help="Worker processes."),
    )
    for option in reversed(options):
        command = option(command)
    return command


def _baseline_option(command: F) -> F:
    return click.option(
        "-b",
        "--baseline",
        "baseline_path",
        type=click.Path(path_type=Path),
        metavar="FILE",
        help="The baseline file.  [default: the config's baseline, else .keyguard-baseline.json]",
    )(command)


def _baseline_file(explicit: Path | None, config: Config) -> Path:
    from keyguard.baseline import DEFAULT_NAME

    return explicit or config.baseline or Path(DEFAULT_NAME)


def _baseline_root(file: Path, config: Config) -> Path:
    """What a baseline's paths are relative to: the config file's directory (as for `exclude`),
    or the baseline file's own directory when there is no config file."""
    return config.source.parent if config.source is not None else file.absolute().parent


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (OSError, ValueError):
        return str(path)


def _baseline_scan(
    file: Path, paths: tuple[Path, ...], config: Config, jobs: int | None
) -> tuple[ScanResult, Scope]:
    """Scan PATHS (default: the baseline's root, see `_baseline_root`) for a baseline command.

    Paths outside the root are refused: the baseline could not name their files. Files
    skipped with a warning are said on stderr, since their findings cannot be recorded.
    """
    from keyguard.baseline import outside, scope_for
    from keyguard.engine import scan as run_scan

    root = _baseline_root(file, config)
    targets = list(paths) or [Path(os.path.relpath(root))]
    scope = scope_for(root, targets)
    far = outside(scope, targets)
    if far:
        raise KeyguardError(f"{far[0]} is outside the baseline's root ({_display(root)})")
    result: ScanResult = _guard(lambda: run_scan(targets, config, jobs=jobs))
    for skipped in result.skipped:
        if skipped.level == "warning":
            click.echo(
                f"keyguard: warning: not scanned: {skipped.path}: {skipped.reason}", err=True
            )
    return result, scope


def _plural(count: int, noun: str, plural: str | None = None) -> str:
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


@cli.group("baseline")
def baseline_group() -> None:
    """Record today's findings so that scans report only new ones; review the old ones.

    `keyguard scan --baseline FILE` (or `baseline = "FILE"` in the config) then leaves out
    every finding the baseline holds, whatever its review status.
    """


@baseline_group.command("create")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    "output",
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="Where to write it.  [default: the config's baseline, else .keyguard-baseline.json]",
)
@click.option("--force", is_flag=True, help="Replace an existing baseline (loses every review).")
@_scan_options
def create(
    paths: tuple[Path, ...],
    output: Path | None,
    force: bool,
    config_path: Path | None,
    no_gitignore: bool,
    jobs: int | None,
) -> None:
    """Record every current finding in PATHS (default: the baseline's root) as unreviewed.

    An existing baseline is kept unless --force is given: its review statuses would be lost,
    and `keyguard baseline update` adds new findings to it instead.
    """
    from keyguard.baseline import Baseline, BaselineError, overwrite, transact, update

    config = _load_config(list(paths) or [Path()], config_path, no_gitignore)
    file = _baseline_file(output, config)
    exists = f"{_display(file)} already exists: `keyguard baseline update` adds new findings to it"
    if os.path.lexists(file) and not force:
        raise KeyguardError(f"{exists} (--force starts over, losing every review status)")
    result, scope = _baseline_scan(file, paths, config, jobs)
    fresh, changes = update(Baseline.new(), result, scope)

    def write() -> None:
        if force:
            overwrite(file, fresh)
            return

        def refuse_existing(current: Baseline | None) -> tuple[Baseline, None]:
            if current is not None:
                raise BaselineError(exists)
            return fresh, None

        transact(file, refuse_existing)

    _guard(write, BaselineError)
    click.echo(
        f"Wrote {_display(file)}: {_plural(changes.entries, 'entry', 'entries')}, all unreviewed."
    )


@baseline_group.command("update")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@_baseline_option
@_scan_options
def update_command(
    paths: tuple[Path, ...],
    baseline_path: Path | None,
    config_path: Path | None,
    no_gitignore: bool,
    jobs: int | None,
) -> None:
    """Add new findings in PATHS (default: the baseline's root) as unreviewed entries.

    Existing entries keep their status and reason; an entry whose file was renamed or moved
    follows it. Stale entries stay (`keyguard baseline prune` removes them). Creates the file
    when there is none.
    """
    from keyguard.baseline import Baseline, BaselineError, transact, update

    config = _load_config(list(paths) or [Path()], config_path, no_gitignore)
    file = _baseline_file(baseline_path, config)
    if os.path.lexists(file):
        _read_baseline(file)  # a broken file fails now, not after the scan
    result, scope = _baseline_scan(file, paths, config, jobs)
    changes = _guard(
        lambda: transact(file, lambda current: update(current or Baseline.new(), result, scope)),
        BaselineError,
    )
    click.echo(
        f"Updated {_display(file)}: {changes.added} new, {changes.moved} moved, "
        f"{_plural(changes.entries, 'entry', 'entries')} in all."
    )
    if changes.stale:
        click.echo(
            f"{_plural(changes.stale, 'entry', 'entries')} matched nothing: "
            "`keyguard baseline prune` removes stale entries."
        )


@baseline_group.command("prune")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@_baseline_option
@_scan_options
def prune_command(
    paths: tuple[Path, ...],
    baseline_path: Path | None,
    config_path: Path | None,
    no_gitignore: bool,
    jobs: int | None,
) -> None:
    """Remove the entries that no longer match anything.

    PATHS (default: the baseline's root) are scanned first; only entries for files under
    PATHS can be pruned, so `prune src/` never drops an entry for a file it did not look at.
    """
    from keyguard.baseline import BaselineError, load, prune, transact

    config = _load_config(list(paths) or [Path()], config_path, no_gitignore)
    file = _baseline_file(baseline_path, config)
    _read_baseline(file)
    result, scope = _baseline_scan(file, paths, config, jobs)

    def change(current: Baseline | None) -> tuple[Baseline, int]:
        return prune(current or load(file), result, scope)

    removed = _guard(lambda: transact(file, change), BaselineError)
    click.echo(f"Removed {_plural(removed, 'stale entry', 'stale entries')} from {_display(file)}.")


@baseline_group.command("audit")
@_baseline_option
@click.option("--non-interactive", is_flag=True, help="Print the unreviewed entries and exit.")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="Use this config.")
def audit(baseline_path: Path | None, config_path: Path | None, non_interactive: bool) -> None:
    """Review unreviewed entries one by one: accept, mark as false positive, or skip.

    Each entry is shown as a scan shows it, from the file as it is now (redacted, as always),
    and every answer is saved at once, so quitting midway loses nothing.
    """
    from keyguard.report.console import finding_lines

    config = _load_config([Path()], config_path, False)
    file = _baseline_file(baseline_path, config)
    current = _read_baseline(file)
    pending = [entry for entry in current.entries if entry.status == "unreviewed"]
    name = _display(file)
    if not pending:
        click.echo(f"No unreviewed entries in {name}.")
        return
    shown = _current_findings(file, current, pending, config)
    click.echo(f"{_plural(len(pending), 'unreviewed entry', 'unreviewed entries')} in {name}.")
    answered = 0
    for number, entry in enumerate(pending, start=1):
        click.echo("")
        if not non_interactive:
            click.echo(f"[{number}/{len(pending)}]")
        finding = shown.get(entry.fingerprint)
        if finding is None:
            click.echo(
                f"{entry.path}:{entry.line}: {entry.rule_id} (not found as the file is now: "
                "`keyguard baseline update` follows a move, `prune` drops it)"
            )
        else:
            click.echo("\n".join(finding_lines(finding)))
        if non_interactive:
            continue
        try:
            answer = click.prompt(
                "[a]ccept, [f]alse positive, [s]kip, [q]uit",
                type=click.Choice(["a", "f", "s", "q"], case_sensitive=False),
                show_choices=False,
            ).lower()
            if answer == "q":
                break
            if answer == "s":
                continue
            reason = click.prompt("Reason (optional)", default="", show_default=False)
        except click.Abort:  # end of input or Ctrl-C: every answer so far is saved
            click.echo("")
            break
        status: Status = "accepted" if answer == "a" else "false-positive"
        saved = _record(file, entry.fingerprint, status, reason)
        answered += saved
        click.echo(f"Saved: {status}." if saved else "Not saved: the entry was pruned meanwhile.")
    if not non_interactive:
        click.echo(f"{answered} answered, {len(pending) - answered} still unreviewed.")


def _record(file: Path, fingerprint: str, status: Status, reason: str) -> bool:
    """Save one review decision at once, under the lock; False if the entry is gone."""
    from keyguard.baseline import BaselineError, set_status, transact

    def change(baseline: Baseline | None) -> tuple[Baseline, bool]:
        if baseline is None:
            raise BaselineError(f"{_display(file)}: the baseline file disappeared")
        return set_status(baseline, fingerprint, status, reason.strip())

    return _guard(lambda: transact(file, change), BaselineError)


def _current_findings(
    file: Path, baseline: Baseline, entries: list[BaselineEntry], config: Config
) -> dict[str, Finding]:
    """The findings `entries` stand for, from their files as they are now, by fingerprint."""
    from keyguard.baseline import match, scope_for
    from keyguard.engine import scan as run_scan

    root = _baseline_root(file, config)
    paths = sorted({entry.path for entry in entries if (root / entry.path).is_file()})
    if not paths:
        return {}
    targets = [root / path for path in paths]
    result: ScanResult = _guard(lambda: run_scan(targets, config))
    matching = match(result, baseline, scope_for(root, targets))
    found: dict[str, Finding] = {}
    for finding, entry in zip(result.findings, matching.entries, strict=True):
        if entry is not None:
            found.setdefault(entry.fingerprint, finding)
    return found


def _load_rule_file(path: Path) -> tuple[Rule, ...]:
    from keyguard.ruleset import load_rule_file

    return _guard(lambda: load_rule_file(path))


def _builtin_rules() -> tuple[Rule, ...]:
    from keyguard.ruleset import builtin_rules

    return _guard(builtin_rules)


@cli.command()
@click.option(
    "--check",
    "check_files",
    multiple=True,
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="Load a rule file and run its true/false-positive examples.",
)
@click.option("--format", "fmt", type=click.Choice(["table", "markdown"]), default="table")
def rules(check_files: tuple[Path, ...], fmt: str) -> None:
    """List the rules, or check a rule file's embedded examples."""
    if check_files:
        from keyguard.selfcheck import check_rules

        failures = []
        count = 0
        for path in check_files:
            loaded = _load_rule_file(path)
            count += len(loaded)
            failures.extend(check_rules(loaded))
        for failure in failures:
            click.echo(failure.describe())
        click.echo(f"{count} rule(s) checked, {len(failures)} example(s) failed.")
        sys.exit(EXIT_FINDINGS if failures else EXIT_CLEAN)
    selected = _builtin_rules()
    if fmt == "markdown":
        from keyguard.docs import rules_markdown

        click.echo(rules_markdown(selected), nl=False)
        return
    width = max(len(rule.name) for rule in selected)
    click.echo(f"{'ID':<7} {'NAME':<{width}}  {'LEVEL':<8} {'WHERE':<7} SUMMARY")
    for rule in selected:
        click.echo(
            f"{rule.id:<7} {rule.name:<{width}}  {rule.severity.value:<8} "
            f"{rule.applies_to:<7} {rule.summary}"
        )


@cli.command()
@click.argument("rule_id")
def explain(rule_id: str) -> None:
    """Explain one rule: what it finds, why it matters, how to fix it, examples."""
    from keyguard.docs import explain_rule

    wanted = rule_id.strip().upper()
    for rule in _builtin_rules():
        if wanted in (rule.id, rule.name.upper()):
            click.echo(explain_rule(rule), nl=False)
            return
    raise KeyguardError(f"unknown rule '{rule_id}' (see `keyguard rules`)")


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="keyguard")
    except KeyboardInterrupt:
        click.echo("keyguard: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        # `keyguard scan | head`: stop quietly, and keep Python from complaining at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(EXIT_FINDINGS)
    except Exception as error:
        if os.environ.get("KEYGUARD_DEBUG"):
            raise
        click.echo(
            f"keyguard: internal error: {type(error).__name__}: {error} "
            "(set KEYGUARD_DEBUG=1 for a traceback)",
            err=True,
        )
        sys.exit(EXIT_ERROR)
