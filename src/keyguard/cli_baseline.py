"""Command line: the `keyguard baseline` group (create, update, prune, audit).

Registered on `keyguard.cli.cli` when that module loads; the baseline module itself is
imported only when one of these commands (or `scan --baseline`) runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from keyguard.cli import (
    KeyguardError,
    _baseline_root,
    _guard,
    _load_config,
    _read_baseline,
    cli,
)
from keyguard.models import Finding, ScanResult

if TYPE_CHECKING:
    from keyguard.baseline import Baseline, BaselineEntry, Scope, Status
    from keyguard.config import Config

__all__ = ["baseline_group"]

F = TypeVar("F", bound=Callable[..., Any])


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
