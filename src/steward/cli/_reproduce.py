"""`steward reproduce`: re-run a recorded run from its commit, data, seed and libraries."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from steward.cli._output import fields_grid, new_table, print_json, section, stderr, stdout
from steward.cli._runs import resolve_run
from steward.develop import (
    ProgressCallback,
    ReproductionReport,
    RunCheck,
    reproduce_run,
)

NOT_REPRODUCED_EXIT_CODE = 9
PACKAGE_ROWS = 15


def reproduce(
    run_id: Annotated[
        str,
        typer.Argument(
            metavar="RUN_ID", help="The run to reproduce: its id, or a unique prefix of it."
        ),
    ],
    here: Annotated[
        bool,
        typer.Option(
            "--here",
            help="Run in the current environment instead of a fresh virtual environment with "
            "the recorded library versions; lists the versions that differ.",
        ),
    ] = False,
    tolerance: Annotated[
        float,
        typer.Option(
            "--tolerance",
            metavar="X",
            min=0.0,
            help="Largest absolute difference allowed between a metric (or a prediction) and "
            "its original.",
        ),
    ] = 1e-9,
    allow_dirty_mismatch: Annotated[
        bool,
        typer.Option(
            "--allow-dirty-mismatch",
            help="When the run's uncommitted changes cannot be applied to its commit, warn and "
            "reproduce without them instead of refusing.",
        ),
    ] = False,
    ignore_metric: Annotated[
        list[str] | None,
        typer.Option(
            "--ignore-metric",
            metavar="PATTERN",
            help="Show but do not judge metrics matching this glob (e.g. `*_seconds`); repeatable.",
        ),
    ] = None,
    repo: Annotated[
        Path | None,
        typer.Option(
            "--repo",
            metavar="DIR",
            help="A clone of the run's repository to take the code from, when the recorded "
            "one is gone or on another machine.",
        ),
    ] = None,
    workdir: Annotated[
        Path | None,
        typer.Option(
            "--workdir",
            metavar="DIR",
            help="Keep the virtual environment here, to reuse it next time (default: a "
            "temporary folder, removed).",
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout", metavar="SECONDS", min=1.0, help="Stop the command after this long."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Reproduce a run: re-run its recorded command and compare the new metrics and predictions.

    The code is the recorded git commit with the run's uncommitted diff applied; the
    dataset versions it read are verified by hash before anything runs; the recorded seed
    becomes `PYTHONHASHSEED`; the libraries are the recorded versions, installed in a fresh
    virtual environment (or the current environment with `--here`). Every run the command
    makes is matched by name with the original and tagged `steward.reproduction_of`.

    Exits with 0 when the run was reproduced within the tolerance, and with 9 when it was
    not (metrics, params, data or predictions differ, or the command failed).

    Example:

    ```
    steward reproduce 3f2a9c1b --here --tolerance 1e-6
    ```
    """
    run = resolve_run(run_id)
    with _progress(stderr()) as say:
        report = reproduce_run(
            run.id,
            here=here,
            tolerance=tolerance,
            workdir=workdir,
            timeout=timeout,
            allow_dirty_mismatch=allow_dirty_mismatch,
            repo=repo,
            ignore_metrics=ignore_metric or (),
            progress=say,
        )
    if as_json:
        print_json(report)
    else:
        render_report(stdout(), report)
    if not report.reproduced:
        raise typer.Exit(NOT_REPRODUCED_EXIT_CODE)


@contextmanager
def _progress(console: Console) -> Iterator[ProgressCallback]:
    """Yield a callback that shows the current step (and a bar when it counts) on stderr."""
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("Reading the run", total=None)

        def say(message: str, done: int | None, total: int | None) -> None:
            progress.update(task, description=message, completed=done or 0, total=total)

        yield say


def render_report(console: Console, report: ReproductionReport) -> None:
    """Print a reproduction report: what ran, each comparison, and the verdict."""
    target = report.runs[0]
    code = report.code
    code_text = Text(f"commit {code.commit[:12]}" + (f" ({code.branch})" if code.branch else ""))
    if code.diff_applied is True:
        files = len(code.diff_files)
        code_text.append(f", uncommitted diff applied ({files} file{'s' * (files != 1)})")
    elif code.diff_applied is False:
        code_text.append(", uncommitted diff NOT applied", style="bold yellow")
    elif not code.dirty:
        code_text.append(", clean")
    data = Text()
    for i, d in enumerate(report.datasets):
        data.append((", " if i else "") + f"{d.dataset} v{d.version} ")
        data.append("hash ok", style="green")
    env = report.environment
    changed = len(env.differences)
    env_text = Text(
        ("current environment" if env.mode == "here" else "fresh virtual environment")
        + f", {env.python_used}"
    )
    if env.python_recorded and env.python_recorded != env.python_used:
        env_text.append(f" (recorded: {env.python_recorded})", style="yellow")
    env_text.append("; ")
    env_text.append(
        f"{changed} package{'s' * (changed != 1)} differ from the record",
        style="yellow" if changed else "green",
    )
    console.print(
        Text.assemble(
            ("Reproduction of run ", "bold"),
            (report.run_id[:8], "bold"),
            f" {report.run_name!r} ({report.project}/{report.experiment})",
        )
    )
    console.print(
        fields_grid(
            [
                ("Reproduced as", report.new_run_id or "—"),
                ("Code", code_text),
                ("Data", data if report.datasets else "none recorded"),
                ("Environment", env_text),
                ("Seed", "none recorded" if report.seed is None else str(report.seed)),
                (
                    "Command",
                    f"{' '.join(report.command)}  (exit {report.exit_code}, "
                    f"{report.duration_seconds:.1f}s in all)",
                ),
            ]
        )
    )
    section(console, "Metrics", _metrics_table(target) if target.metrics else None)
    if target.param_differences:
        section(console, "Params that differ", _params_table(target))
    if target.predictions:
        section(console, "Predictions", _predictions_text(target))
    if len(report.runs) > 1:
        section(console, "Other runs of the command", _others_table(report.runs[1:]))
    if env.differences:
        section(console, "Packages that differ from the record", _packages_table(report))
    if report.warnings:
        warnings = Text("\n".join(f"- {w}" for w in report.warnings), style="yellow")
        section(console, "Warnings", warnings)
    if report.output_tail:
        section(console, "Last lines of the command's output", Text(report.output_tail))
    console.print()
    if report.reproduced:
        console.print(
            Text.assemble(
                ("Reproduced", "bold green"),
                f": every metric and prediction within {report.tolerance:g} of the original.",
            )
        )
    else:
        console.print(
            Text.assemble(("NOT reproduced", "bold red"), ": " + "; ".join(report.reasons) + ".")
        )


def _predictions_text(run: RunCheck) -> Text:
    text = Text()
    for i, p in enumerate(run.predictions):
        text.append(("\n" if i else "") + p.model)
        if p.method is not None:
            text.append(
                f" on {p.dataset} v{p.version}: {p.rows} rows, {p.method}, "
                f"max |Δ| {_number(p.max_abs_diff)}, "
            )
            if p.mismatched_rows:
                text.append(f"{p.mismatched_rows} rows beyond tolerance", style="bold red")
            else:
                text.append("all within tolerance", style="green")
        elif not p.within_tolerance:
            text.append(" DIFFERS", style="bold red")
        for extra in p.notes:
            text.append(f"\n  {extra}", style="dim")
    return text


def _metrics_table(run: RunCheck) -> Table:
    table = new_table()
    for header in ("Metric", "Original", "Reproduced", "Δ", ""):
        table.add_column(
            header, justify="right" if header in {"Original", "Reproduced", "Δ"} else "left"
        )
    for m in run.metrics:
        if m.ignored:
            mark = Text("ignored", style="dim")
        else:
            mark = (
                Text("ok", style="green")
                if m.within_tolerance
                else Text("DIFFERS", style="bold red")
            )
        if m.note:
            mark.append(f"  {m.note}", style="dim")
        table.add_row(
            m.key, _number(m.original), _number(m.reproduced), _number(m.difference), mark
        )
    return table


def _params_table(run: RunCheck) -> Table:
    table = new_table()
    for header in ("Param", "Original", "Reproduced"):
        table.add_column(header, overflow="fold")
    for p in run.param_differences:
        table.add_row(p.key, p.original or "—", p.reproduced or "—")
    return table


def _others_table(runs: list[RunCheck]) -> Table:
    table = new_table()
    for header in ("Name", "Original", "Reproduced as", "Verdict"):
        table.add_column(header, overflow="fold")
    for r in runs:
        verdict = (
            Text("reproduced", style="green")
            if r.reproduced
            else Text("; ".join(r.reasons), style="red")
        )
        table.add_row(r.name, r.original_run_id[:8], (r.new_run_id or "—")[:8], verdict)
    return table


def _packages_table(report: ReproductionReport) -> Table:
    table = new_table()
    for header in ("Package", "Recorded", "Used"):
        table.add_column(header)
    changes = report.environment.differences
    for c in changes[:PACKAGE_ROWS]:
        table.add_row(c.name, c.recorded or "—", c.installed or "—")
    if len(changes) > PACKAGE_ROWS:
        table.add_row(f"... {len(changes) - PACKAGE_ROWS} more (--json lists all)", "", "")
    return table


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.10g}"
