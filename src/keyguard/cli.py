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
from keyguard.models import Rule, ScanResult, Severity

if TYPE_CHECKING:  # imported where used: a pre-commit run must not pay for what it does not use
    from keyguard.baseline import Baseline
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
        ("gitignored_files", str(result.gitignored_files)),
        ("gitignored_directories", str(result.gitignored_directories)),
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


def _baseline_root(file: Path, config: Config) -> Path:
    """What a baseline's paths are relative to: the config file's directory (as for `exclude`),
    or the baseline file's own directory when there is no config file."""
    return config.source.parent if config.source is not None else file.absolute().parent


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


# The baseline and fix commands live in their own modules; importing them registers them.
from keyguard import cli_baseline, cli_fix  # noqa: E402, F401


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
