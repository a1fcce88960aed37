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
from typing import IO, TYPE_CHECKING, Any, Literal, NoReturn, TypeVar

import click

from keyguard import __version__
from keyguard.models import Rule, ScanResult, Severity

if TYPE_CHECKING:  # imported where used: a pre-commit run must not pay for what it does not use
    from keyguard.baseline import Baseline
    from keyguard.config import Config
    from keyguard.git import Repository

__all__ = ["main"]

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
FORMATS = ("console", "concise", "json", "sarif", "github", "junit", "html")
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


def _use_color(output: str | None, mode: str = "auto") -> bool:
    """--color always/never decide; auto colors a terminal unless NO_COLOR is set
    (https://no-color.org), and FORCE_COLOR colors a pipe too. A report file is never colored
    unless asked for."""
    if mode != "auto":
        return mode == "always"
    if output not in (None, "-") or os.environ.get("NO_COLOR"):  # set and not empty
        return False
    return "FORCE_COLOR" in os.environ or sys.stdout.isatty()


REPORT_STYLE = "keyguard.report_style"


def _remember(ctx: click.Context, param: click.Parameter, value: object) -> object:
    """Keep a console option in the context: `_finish` reads it, the commands need not."""
    style = ctx.meta.setdefault(REPORT_STYLE, {})
    style[param.name or ""] = value
    if style.get("quiet") and style.get("verbose"):
        raise click.UsageError("--quiet and --verbose cannot be used together")
    return value


def _report_style() -> tuple[str, Literal["quiet", "normal", "verbose"]]:
    """(color mode, console detail) from the options `_remember` kept."""
    context = click.get_current_context(silent=True)
    style = context.meta.get(REPORT_STYLE, {}) if context is not None else {}
    color = str(style.get("color") or "auto")
    if style.get("quiet"):
        return color, "quiet"
    return color, "verbose" if style.get("verbose") else "normal"


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
        click.option(
            "--color",
            type=click.Choice(("auto", "always", "never")),
            default="auto",
            show_default=True,
            expose_value=False,
            callback=_remember,
            help="Color the console report (auto: on a terminal, unless NO_COLOR is set).",
        ),
        click.option(
            "-q",
            "--quiet",
            is_flag=True,
            expose_value=False,
            callback=_remember,
            help="Console: the summary only.",
        ),
        click.option(
            "-v",
            "--verbose",
            is_flag=True,
            expose_value=False,
            callback=_remember,
            help="Console: also every skipped file and why.",
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

    color_mode, detail = _report_style()
    with _output(output) as stream:
        _guard(
            lambda: write_report(
                fmt,
                result,
                stream,
                color=_use_color(output, color_mode),
                show_secrets=show_secrets,
                root=root,
                detail=detail,
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
@click.option(
    "--stdin",
    "use_stdin",
    is_flag=True,
    help="Scan one file read from standard input (editors, `git show REV:PATH | ...`).",
)
@click.option(
    "--stdin-filename",
    metavar="PATH",
    help="The path the --stdin file stands for: it decides the language, the client or server "
    "context, the config and its `exclude`.",
)
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
    use_stdin: bool,
    stdin_filename: str | None,
) -> None:
    """Scan PATHS (default: the current directory) and report what was found.

    Files named explicitly are scanned even when .gitignore excludes them (pre-commit passes
    them one by one); the config's `exclude` still applies to them. With --staged or --diff,
    PATHS narrow what git reports, and paths are relative to the repository's top. With a
    baseline (from --baseline or the config), findings it holds are left out and counted.
    With --stdin, the one file comes from standard input and --stdin-filename says which it is.
    """
    import time

    started = time.perf_counter()
    if staged and base is not None:
        raise KeyguardError("--staged and --diff cannot be combined")
    if baseline_path is not None and no_baseline:
        raise click.UsageError("--baseline and --no-baseline cannot be used together")
    if stdin_filename is not None and not use_stdin:
        raise click.UsageError("--stdin-filename names the file that --stdin reads")
    if use_stdin and (paths or staged or base is not None):
        raise click.UsageError("--stdin scans standard input: no PATHS, --staged or --diff")
    stand_in = _stdin_path(stdin_filename) if use_stdin else None
    targets = list(paths) or [stand_in.parent if stand_in is not None else Path()]
    config = _load_config(targets, config_path, no_gitignore)
    baseline_file = None if no_baseline else baseline_path or config.baseline
    # Read before scanning: a broken baseline fails the run at once, not after a long scan.
    baseline = None if baseline_file is None else _read_baseline(baseline_file)
    root: Path | None = None
    if stand_in is not None:
        nameless = stdin_filename is None
        result = _guard(lambda: _scan_stdin(stand_in, nameless, config, show_secrets))
    elif staged or base is not None:
        root, result = _scan_git(targets, paths, config, staged, base, jobs, show_secrets)
    else:
        from keyguard.engine import scan as run_scan

        progress = None
        if sys.stderr is not None and sys.stderr.isatty():  # never in CI logs or pipes
            from keyguard.progress import for_terminal

            progress = for_terminal()
        result = _guard(
            lambda: run_scan(
                targets, config, jobs=jobs, show_secrets=show_secrets, progress=progress
            )
        )
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


def _stdin_path(name: str | None) -> Path:
    """The absolute, normalised path a --stdin file stands for (a nameless one: `-` here)."""
    if sys.stdin is None or sys.stdin.isatty():
        raise KeyguardError("--stdin reads the file to scan from standard input: pipe it in")
    return Path(os.path.normpath(Path.cwd() / (name or "-")))


def _scan_stdin(path: Path, nameless: bool, config: Config, show_secrets: bool) -> ScanResult:
    """Scan standard input as the file at `path`, reported relative to the working directory."""
    from keyguard.discover import ConfigPaths, read_stream
    from keyguard.engine import scan_items

    cwd = Path.cwd()
    display = "-" if nameless else (path.relative_to(cwd) if path.is_relative_to(cwd) else path)
    display_name = display if isinstance(display, str) else display.as_posix()
    item = None
    # The config's `exclude` speaks for the project, as for a file named on the command line.
    if nameless or ConfigPaths(config).wanted(str(path.parent.resolve() / path.name)):
        item = read_stream(sys.stdin.buffer, display_name, config.max_file_size)
    items = [] if item is None else [item]
    return scan_items(items, config, jobs=1, show_secrets=show_secrets)


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
@click.argument(
    "directory", default=".", type=click.Path(path_type=Path, file_okay=False, exists=True)
)
@click.option(
    "--toml",
    "dedicated",
    is_flag=True,
    help="Write .keyguard.toml even when there is a pyproject.toml.",
)
def init(directory: Path, dedicated: bool) -> None:
    """Write a commented keyguard config into DIRECTORY and print the hook and CI snippets.

    The config goes into pyproject.toml as [tool.keyguard] (appended, the rest untouched), or
    into .keyguard.toml; an existing keyguard config is never overwritten.
    """
    from keyguard.scaffold import InitError, initialise, snippets

    written = _guard(lambda: initialise(directory, dedicated=dedicated), InitError)
    verb = "Wrote" if written.created else "Added [tool.keyguard] to"
    click.echo(f"{verb} {written.path} (every setting at its default, commented out).\n")
    click.echo(snippets(directory), nl=False)


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
        ("third_party_endpoints", str(stats.third_party_endpoints)),
        ("third_party_oauth", str(stats.third_party_oauth)),
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


# The baseline, fix and org commands live in their own modules; importing them registers them.
from keyguard import cli_baseline, cli_fix, cli_org  # noqa: E402, F401


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
