"""`steward runs`: list runs as a table, show one run in full, compare runs side by side."""

from __future__ import annotations

import re
from collections import Counter
from itertools import zip_longest
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

import steward
from steward._backend import get_backend
from steward.cli._output import (
    format_duration,
    format_time,
    format_value,
    format_when,
    new_table,
    note,
    print_json,
    status_text,
    stdout,
)
from steward.cli._run_view import render_run
from steward.errors import InvalidInput, NotFound

app = typer.Typer(
    name="runs",
    help="List, show and compare runs.",
    rich_markup_mode="markdown",
    no_args_is_help=True,
)

SEARCH_LIMIT = 100_000
AUTO_COLUMNS = 4
PACKAGE_ROWS = 10
ATTRIBUTES = (
    "run_id",
    "name",
    "status",
    "user",
    "project",
    "experiment",
    "parent_run_id",
    "start_time",
    "end_time",
)
_FIELD = re.compile(r"\b(metrics?|params?|tags?)\.(`[^`]+`|\"[^\"]+\"|[A-Za-z0-9_\-:/.]+)")
_HEX = re.compile(r"[0-9a-f]{1,31}")


def resolve_run(run_id: str) -> steward.Run:
    """Return the run with id ``run_id``, or the one run whose id starts with it."""
    try:
        return steward.get_run(run_id)
    except NotFound:
        if not _HEX.fullmatch(run_id):
            raise
        matches = steward.search_runs(f"run_id like '{run_id}%'", max_results=6, output="runs")
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise
        shown = ", ".join(m.id[:12] for m in matches[:5]) + (", ..." if len(matches) > 5 else "")
        count = "more than 5" if len(matches) > 5 else str(len(matches))
        raise InvalidInput(
            f"The run id prefix {run_id!r} matches {count} runs ({shown}). Give more characters of the id."
        ) from None


@app.command("list")
def list_runs(
    project: Annotated[
        str | None,
        typer.Option("--project", "-p", metavar="NAME", help="Only runs of this project."),
    ] = None,
    experiment: Annotated[
        list[str] | None,
        typer.Option(
            "--experiment",
            "-e",
            metavar="NAME",
            help="Only runs of this experiment; repeat for several.",
        ),
    ] = None,
    filter_: Annotated[
        str,
        typer.Option(
            "--filter",
            "-f",
            metavar="EXPR",
            help="Which runs: comparisons of `metrics.*`, `params.*`, `tags.*`, `datasets.name` "
            "and attributes, joined by `and`/`or`.",
        ),
    ] = "",
    order_by: Annotated[
        list[str] | None,
        typer.Option(
            "--order-by",
            "-o",
            metavar="FIELD",
            help="Sort by a field, add `DESC` to reverse; repeat to break ties.",
        ),
    ] = None,
    max_results: Annotated[
        int, typer.Option("--max", "-n", metavar="N", min=1, help="Show at most this many runs.")
    ] = 50,
    columns: Annotated[
        str | None,
        typer.Option(
            "--columns",
            "-c",
            metavar="FIELDS",
            help="Comma-separated fields to show after the standard ones, e.g. `params.model,metrics.auc`.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the runs as JSON.")] = False,
) -> None:
    """List runs, newest first, with their key metrics and params.

    Without `--columns`, the table shows the metrics and params the filter and the
    ordering name, then the most common metrics and the params that vary.

    Example:

    ```
    steward runs list --experiment churn \\
        --filter "metrics.auc > 0.9 and params.model = 'rf'" \\
        --order-by "metrics.auc DESC" --max 10
    ```
    """
    wanted = _parse_columns(columns) if columns else None
    runs = steward.search_runs(
        filter_,
        project=project,
        experiments=experiment or None,
        order_by=order_by or None,
        max_results=min(max_results + 1, SEARCH_LIMIT),
        output="runs",
    )
    more = len(runs) > max_results
    runs = runs[:max_results]
    if as_json:
        print_json(runs)
        return
    if not runs:
        note(
            "No runs match."
            + (" Check the filter, or drop it to see every run." if filter_ else "")
        )
        return
    console = stdout()
    room = max(1, min(AUTO_COLUMNS, (console.width - 55) // 10))
    fields = wanted if wanted is not None else _key_fields(runs, [filter_, *(order_by or [])], room)
    console.print(_runs_table(runs, fields))
    if more:
        note(f"Showing the first {max_results} runs; more match. Raise --max or narrow --filter.")


def _parse_columns(text: str) -> list[str]:
    fields = [c.strip() for c in text.split(",") if c.strip()]
    for name in fields:
        namespace, dot, key = name.partition(".")
        if dot and namespace in {"params", "metrics", "tags"} and key:
            continue
        if not dot and name in ATTRIBUTES:
            continue
        raise InvalidInput(
            f"--columns names {name!r}, which is not a field. Use params.<key>, metrics.<key>, "
            f"tags.<key> or one of {', '.join(ATTRIBUTES)}; e.g. --columns params.model,metrics.auc."
        )
    return fields


def _key_fields(runs: list[steward.Run], expressions: list[str], limit: int) -> list[str]:
    """Return the fields worth a column: those the query names, then common metrics, varying params."""
    named: list[str] = []
    for text in expressions:
        for namespace, key in _FIELD.findall(text):
            key = key.strip('`"').rstrip(".")
            field = f"{namespace.rstrip('s')}s.{key}"
            if field not in named:
                named.append(field)
    metric_counts = Counter(k for r in runs for k in r.metrics)
    metrics = [
        f"metrics.{k}" for k, _ in sorted(metric_counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    param_values: dict[str, set[str]] = {}
    for run in runs:
        for key, value in run.params.items():
            param_values.setdefault(key, set()).add(value)
    params = [
        f"params.{k}"
        for k in sorted(param_values, key=lambda k: (len(param_values[k]) < 2 and len(runs) > 1, k))
    ]
    fields = named[:]
    interleaved = [f for pair in zip_longest(metrics, params) for f in pair if f is not None]
    for field in interleaved:
        if len(fields) >= max(limit, len(named)):
            break
        if field not in fields:
            fields.append(field)
    return fields


def field_value(run: steward.Run, field: str) -> Any:
    """Return the value of ``params.x``, ``metrics.x``, ``tags.x`` or an attribute of a run."""
    namespace, _, key = field.partition(".")
    if namespace == "params":
        return run.params.get(key)
    if namespace == "metrics":
        metric = run.metrics.get(key)
        return metric.value if metric else None
    if namespace == "tags":
        return run.tags.get(key)
    if field in {"start_time", "end_time"}:
        return format_time(getattr(run, field))
    return run.id if field == "run_id" else getattr(run, field)


def _runs_table(runs: list[steward.Run], fields: list[str]) -> Table:
    homes = {(r.project, r.experiment) for r in runs}
    one_project = len({r.project for r in runs}) == 1
    table = new_table(title_justify="left", title_style="bold", collapse_padding=True)
    if len(homes) == 1:
        project, experiment = homes.pop()
        table.title = (
            f"{len(runs)} run{'s' if len(runs) > 1 else ''} of experiment {project}/{experiment}"
        )
    table.add_column("Run", no_wrap=True, style="dim")
    table.add_column("Name", overflow="fold", min_width=6)
    if table.title is None:
        table.add_column("Experiment", overflow="fold", min_width=6)
    table.add_column("Status", no_wrap=True)
    table.add_column("Started", no_wrap=True)
    table.add_column("Duration", no_wrap=True, justify="right")
    keys = Counter(f.partition(".")[2] for f in fields)
    for field in fields:
        namespace, _, key = field.partition(".")
        short = namespace in {"params", "metrics"} and keys[key] == 1
        header = key if short else field
        table.add_column(
            header,
            justify="right" if namespace == "metrics" else "left",
            no_wrap=True,
            overflow="ellipsis",
            min_width=min(len(header), 8),
        )
    for run in runs:
        duration = Text(format_duration(run.start_time, run.end_time))
        if run.end_time is None:
            duration.stylize("italic")
        home = (
            []
            if table.title
            else [Text(run.experiment if one_project else f"{run.project}/{run.experiment}")]
        )
        table.add_row(
            Text(run.id[:8]),
            Text(run.name),
            *home,
            status_text(run.status),
            Text(format_when(run.start_time)),
            duration,
            *[Text(format_value(field_value(run, f), digits=4)) for f in fields],
        )
    return table


@app.command("show")
def show_run(
    run_id: Annotated[
        str,
        typer.Argument(
            metavar="RUN_ID",
            help="The run id, or a unique prefix of it (such as the 8 characters `runs list` shows).",
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print everything as JSON.")] = False,
) -> None:
    """Show everything about one run: attributes, params, metrics, tags, inputs, artifacts, code and environment.

    Metrics show their latest value with the minimum, maximum and number of values logged.

    Example:

    ```
    steward runs show 3f2a9c1b
    ```
    """
    run = resolve_run(run_id)
    artifacts = steward.list_artifacts(run.id)
    environment = None
    if run.environment_id:
        environment = get_backend().get_environment(run.environment_id)
    if as_json:
        print_json(
            {**run.model_dump(mode="json"), "artifacts": artifacts, "environment": environment}
        )
        return
    render_run(stdout(), run, artifacts, environment)


@app.command("compare")
def compare_runs(
    run_ids: Annotated[
        list[str],
        typer.Argument(metavar="RUN_ID", help="Two or more run ids (or unique prefixes)."),
    ],
    show_all: Annotated[
        bool, typer.Option("--all", "-a", help="Show every field, not only those that differ.")
    ] = False,
    html: Annotated[
        Path | None,
        typer.Option(
            "--html", metavar="FILE", help="Also write the comparison as an HTML page to this file."
        ),
    ] = None,
) -> None:
    """Compare runs side by side: params, metrics, datasets, code and environment.

    Fields whose values differ are highlighted; only they are shown unless `--all`.

    Example:

    ```
    steward runs compare 3f2a9c1b 7d0e44aa --all --html comparison.html
    ```
    """
    runs = [resolve_run(r) for r in run_ids]
    comparison = steward.compare_runs([r.id for r in runs])
    if html is not None:
        page = (
            '<!doctype html>\n<html><head><meta charset="utf-8"><title>Steward: run comparison</title>'
            f"</head><body>\n{comparison.to_html()}\n</body></html>\n"
        )
        html.write_text(page, encoding="utf-8")
        note(f"Wrote the comparison to {html}", style="")
    table = new_table()
    table.add_column("Field", no_wrap=True)
    for column, run in zip(comparison.table.columns, runs, strict=True):
        header = str(column) if run.id[:8] in str(column) else f"{column}\n{run.id[:8]}"
        table.add_column(header, overflow="fold")
    shown = packages = 0
    differing_fields = comparison.differs.to_dict()
    for label, row in comparison.table.iterrows():
        differs = bool(differing_fields[label])
        if not (differs or show_all):
            continue
        if str(label).startswith("env.packages.") and not show_all:
            packages += 1
            if packages > PACKAGE_ROWS:
                continue
        shown += 1
        cells = [Text(format_value(v)) for v in row]
        table.add_row(Text(str(label)), *cells, style="bold yellow" if differs else None)
    total, differing = len(comparison.table), int(comparison.differs.sum())
    if not shown:
        note(
            f"The runs do not differ in any of the {total} fields compared. Use --all to see them."
        )
        return
    stdout().print(table)
    if packages > PACKAGE_ROWS:
        note(
            f"{packages - PACKAGE_ROWS} more env.packages rows differ; --all or --html shows them."
        )
    if show_all:
        note(f"{differing} of {total} fields differ (highlighted).")
    else:
        note(
            f"{differing} of {total} fields differ; --all shows the {total - differing} that do not."
        )
