"""Command line: `keyguard fix`, which moves hard-coded keys into an env file.

Registered on `keyguard.cli.cli` when that module loads; the fix stage (`fix.py`) and libcst
are imported only when the command runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from keyguard.cli import EXIT_CLEAN, EXIT_FINDINGS, _guard, _load_config, cli

__all__ = ["fix"]


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True, help="Print the changes as a diff; write nothing.")
@click.option(
    "--env-file",
    type=click.Path(path_type=Path),
    default=Path(".env"),
    show_default=True,
    help="Where the values go (created with mode 0600, added to .gitignore).",
)
@click.option("--force", is_flag=True, help="Rewrite files with unstaged changes in git too.")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="Use this config.")
def fix(
    paths: tuple[Path, ...],
    dry_run: bool,
    env_file: Path,
    force: bool,
    config_path: Path | None,
) -> None:
    """Replace keys in Python and server-side JS/TS under PATHS with environment reads.

    Each KG101, KG102, KG103 and KG202 literal becomes `os.environ["NAME"]` (Python) or
    `process.env.NAME` (JS/TS), and its value is appended to the env file as NAME=value.
    Client-side code is not rewritten: it must call a server instead. Exit 0 when nothing is
    left to fix, 1 when findings remain, 2 on errors. The keys still have to be rotated.
    """
    from keyguard.fix import ROTATE, FixError, apply_fix, display_path, plan_fix, render_diff

    targets = list(paths) or [Path()]
    config = _load_config(targets, config_path, False)
    plan = _guard(lambda: plan_fix(targets, config, env_file, force=force), FixError)
    if dry_run:
        for chunk in render_diff(plan):
            click.echo(chunk, nl=False)
        notes: list[str] = []
    else:
        notes = _guard(lambda: apply_fix(plan))
    verb = "would fix" if dry_run else "fixed"
    for file, outcome in plan.outcomes:
        where = f"{file.display}:{outcome.location.line}:{outcome.location.column}"
        if outcome.fixed and file.after is not None:
            click.echo(f"{verb}: {where}: {outcome.rule_id} -> {outcome.replacement}")
        else:
            reason = outcome.reason or "not rewritten"
            click.echo(f"left: {where}: {outcome.rule_id}: {reason}")
    for note in notes:
        click.echo(f"keyguard: warning: {note}", err=True)
    fixed = sum(outcome.fixed and file.after is not None for file, outcome in plan.outcomes)
    left = len(plan.outcomes) - fixed
    if not plan.outcomes:
        click.echo("Nothing to fix.")
        sys.exit(EXIT_CLEAN)
    rewritten = sum(file.after is not None for file in plan.files)
    click.echo(
        f"{fixed} {verb}, {left} left, in {rewritten} file(s) rewritten"
        + (" (dry run: nothing written)" if dry_run else "")
        + "."
    )
    if plan.env_additions:
        state = "" if plan.env_exists else ", created with mode 0600"
        action = "Would append" if dry_run else "Appended"
        click.echo(f"{action} {len(plan.env_additions)} value(s) to {env_file}{state}.")
    if plan.gitignore is not None:
        action = "Would add" if dry_run else "Added"
        click.echo(f"{action} {plan.env_file.name} to {display_path(plan.gitignore)}.")
    click.echo(ROTATE)
    sys.exit(EXIT_FINDINGS if left else EXIT_CLEAN)
