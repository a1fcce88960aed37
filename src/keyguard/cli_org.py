"""Command line: `keyguard org`, many repositories (and their histories) in one report.

Registered on `keyguard.cli.cli` when that module loads; `keyguard.org` (and Dask, for a Dask
executor) is imported only when the command runs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from keyguard.cli import (
    EXIT_CLEAN,
    EXIT_ERROR,
    EXIT_FINDINGS,
    FORMATS,
    LEVELS,
    KeyguardError,
    _finish,
    _guard,
    _load_config,
    _output,
    cli,
)
from keyguard.models import Rule, ScanResult, Severity

if TYPE_CHECKING:
    from keyguard.org import Outcome

__all__ = ["org"]


@cli.command()
@click.argument("sources", nargs=-1, required=True)
@click.option(
    "--executor",
    default="local",
    show_default=True,
    metavar="local|dask-local|dask://HOST:PORT",
    help="Where tasks run: local processes, a Dask LocalCluster, or a Dask scheduler.",
)
@click.option("--jobs", "-j", type=click.IntRange(min=1), help="Local processes [all cores].")
@click.option("--history", is_flag=True, help="Also scan every commit of each repository.")
@click.option(
    "--state",
    type=click.Path(file_okay=False, path_type=Path),
    help="Record finished tasks here; a re-run scans only what is left or new.",
)
@click.option(
    "--range-size",
    type=click.IntRange(min=0),
    default=500,  # org.DEFAULT_RANGE_SIZE, not imported: `keyguard scan` must not load org
    show_default=True,
    help="Commits per history task (0: a repository's whole history is one task).",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="console", show_default=True)
@click.option("-o", "--output", metavar="FILE", help="Write the report to FILE instead of stdout.")
@click.option("--fail-on", type=click.Choice(LEVELS), default=None, help="[default: warning]")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="Use this config.")
def org(
    sources: tuple[str, ...],
    executor: str,
    jobs: int | None,
    history: bool,
    state: Path | None,
    range_size: int,
    fmt: str,
    output: str | None,
    fail_on: str | None,
    config_path: Path | None,
) -> None:
    """Scan many repositories: SOURCES are clones, directories of clones, or files listing
    paths or git URLs, one a line. A repository is a task, a local clone's history one task per
    --range-size commits; a repository that fails is named with its reason on stderr and in
    the report, the run goes on, and the exit code is 2 when any failed.

    Findings are reported as PATH inside a directory named after the repository. Secrets are
    redacted where they are found: no worker sends one back whole.
    """
    from keyguard import org as org_scan
    from keyguard.engine import resolve_rules

    # --config applies to every repository; without it each one's own config does, and the
    # report's thresholds come from the config found here.
    config = _load_config([Path()], config_path, False)
    shared = config if config_path is not None else None
    tasks = _guard(lambda: org_scan.expand_sources(sources, history=history), org_scan.SourceError)
    if not tasks:
        raise KeyguardError("no repository found in SOURCES")
    rules = _guard(lambda: resolve_rules(config))
    outcomes = _guard(
        lambda: list(
            org_scan.run_org(
                tasks, shared, executor=executor, jobs=jobs, state=state, range_size=range_size
            )
        ),
        org_scan.SourceError,
    )
    failed = [outcome for outcome in outcomes if outcome.error is not None]
    for outcome in _by_name(failed):
        click.echo(f"keyguard: org: {outcome.name}: {outcome.error}", err=True)
    commits = [o.commits for o in outcomes if o.commits is not None]
    result = ScanResult(
        findings=org_scan.merge(outcomes, rules),
        files_scanned=sum(outcome.files for outcome in outcomes),
        rules=rules,
        commits_scanned=sum(commits) if history else None,
    )
    click.echo(
        f"keyguard: org: {len(outcomes) - len(failed)} of {len(outcomes)} repositories scanned",
        err=True,
    )
    if fmt == "sarif":  # one run per repository: the one format a merged result cannot say
        roots = {task.name: task.location for task in tasks}
        _sarif_runs(outcomes, roots, rules, output)
        threshold = Severity.parse(fail_on) if fail_on else (config.fail_on or Severity.WARNING)
        failing = any(f.severity.rank >= threshold.rank for f in result.findings)
        sys.exit(EXIT_ERROR if failed else EXIT_FINDINGS if failing else EXIT_CLEAN)
    if fmt == "json" and failed:  # the report says which repositories it lacks, and why
        import json

        from keyguard.report.json import to_dict

        document = to_dict(result)
        document["failed"] = [{"repository": o.name, "reason": o.error} for o in _by_name(failed)]
        with _output(output) as stream:
            stream.write(json.dumps(document, indent=2, ensure_ascii=True) + "\n")
        sys.exit(EXIT_ERROR)
        threshold = Severity.parse(fail_on) if fail_on else (config.fail_on or Severity.WARNING)
        failing = any(f.severity.rank >= threshold.rank for f in result.findings)
        sys.exit(EXIT_ERROR if failed else EXIT_FINDINGS if failing else EXIT_CLEAN)
    try:
        _finish(result, config, fmt=fmt, output=output, fail_on=fail_on, show_secrets=False)
    except SystemExit:
        if failed:
            if fmt in ("console", "concise"):  # the report ends saying what it lacks
                lines = "".join(f"failed: {o.name}: {o.error}\n" for o in _by_name(failed))
                if output is None:
                    click.echo(lines, nl=False)
                else:
                    with Path(output).open("a", encoding="utf-8") as stream:
                        stream.write(lines)
            sys.exit(EXIT_ERROR)
        raise


def _by_name(outcomes: list[Outcome]) -> list[Outcome]:
    return sorted(outcomes, key=lambda o: o.name)


def _sarif_runs(
    outcomes: list[Outcome], roots: dict[str, str], rules: tuple[Rule, ...], output: str | None
) -> None:
    """Write the SARIF log, one run per repository scanned (in name order); a local clone's
    run has its directory as `%SRCROOT%`, a cloned URL's names its remote in its provenance."""
    from keyguard.org import inside
    from keyguard.report.sarif import write_runs

    runs = []
    for outcome in _by_name(outcomes):
        location = roots.get(outcome.name, "")
        root = None if "://" in location or not location else Path(location)
        runs.append(
            (
                ScanResult(inside(outcome), rules=rules, revision=outcome.revision),
                root,
                outcome.error,
            )
        )
    with _output(output) as stream:
        _guard(lambda: write_runs(runs, stream))
