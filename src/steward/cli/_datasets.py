"""`steward datasets`: list, show, profile, register and amend dataset versions."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

import steward
from steward._backend import get_backend
from steward.cli._output import (
    MISSING,
    fields_grid,
    format_number,
    format_share,
    format_time,
    indented,
    new_table,
    note,
    print_json,
    section,
    sparkline,
    stderr,
    stdout,
)
from steward.data import read_table
from steward.develop import DatasetUsage, DatasetVersion, retention_deadline
from steward.errors import InvalidInput, NotFound
from steward.govern import PiiScan

app = typer.Typer(
    name="datasets",
    help="List, show, profile, register and amend dataset versions.",
    rich_markup_mode="markdown",
    no_args_is_help=True,
)

USAGE_ROWS = 50
TOP_CATEGORIES = 3
Spec = Annotated[
    str,
    typer.Argument(
        metavar="NAME[@VERSION]",
        help="A dataset, optionally `@` a version number (default: the latest).",
    ),
]


def parse_spec(spec: str) -> tuple[str, int]:
    """Return (name, version) from 'name', 'name@3', 'name@v3' or 'name@latest' (version 0)."""
    name, sep, version = spec.partition("@")
    if not sep:
        return name, 0
    text = version.strip().lower()
    if text == "latest":
        return name, 0
    number = text.removeprefix("v")
    if not number.isdigit() or int(number) < 1:
        raise InvalidInput(
            f"The version in {spec!r} must be a positive number, as in {name}@2, or 'latest'; "
            f"got {version!r}."
        )
    return name, int(number)


@app.command("list")
def list_datasets(
    as_json: Annotated[bool, typer.Option("--json", help="Print the datasets as JSON.")] = False,
) -> None:
    """List the registered datasets with their latest version.

    Example:

    ```
    steward datasets list
    ```
    """
    datasets = get_backend().list_datasets()
    if as_json:
        print_json(datasets)
        return
    if not datasets:
        note("No datasets yet. Register one with: steward datasets register data.csv --name NAME")
        return
    table = new_table()
    table.add_column("Name")
    table.add_column("Latest", justify="right")
    table.add_column("Created", no_wrap=True)
    table.add_column("By")
    table.add_column("Description", overflow="fold")
    for ds in datasets:
        latest = f"v{ds.latest_version}" if ds.latest_version else MISSING
        table.add_row(
            Text(ds.name, style="bold"),
            Text(latest),
            Text(format_time(ds.created_at)),
            Text(ds.created_by),
            Text(ds.description),
        )
    stdout().print(table)


@app.command("show")
def show_dataset(
    spec: Spec,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the version and its usage as JSON.")
    ] = False,
) -> None:
    """Show a dataset version: provenance, schema (sensitive columns marked) and the runs that used it.

    Example:

    ```
    steward datasets show churn@2
    ```
    """
    name, version = parse_spec(spec)
    meta = steward.get_dataset(name, version)
    backend = get_backend()
    versions = [v.version for v in backend.list_dataset_versions(name)]
    usage = backend.get_dataset_usage(name)
    scan = backend.get_pii_scan(name, meta.version)
    if as_json:
        print_json(
            {
                **meta.model_dump(mode="json"),
                "used_by": [u for u in usage if u.version == meta.version],
                "pii_scan": scan,
            }
        )
        return
    console = stdout()
    latest = " (latest)" if meta.version == max(versions, default=meta.version) else ""
    console.print(
        Text.assemble(
            ("Dataset ", "bold"),
            (meta.dataset, "bold cyan"),
            (f"  version {meta.version}{latest} of {len(versions)}", ""),
        )
    )
    console.print(
        indented(
            fields_grid(
                [
                    ("rows", f"{meta.row_count:,}"),
                    ("columns", len(meta.columns)),
                    ("content hash", f"sha256:{meta.content_hash}"),
                    ("source", meta.source or Text("not recorded", style="dim")),
                    ("terms of use", meta.terms_of_use or Text("not recorded", style="dim")),
                    ("retention", _retention(meta)),
                    ("description", meta.description or None),
                    ("created", f"{format_time(meta.created_at)} by {meta.created_by}"),
                ]
            )
        )
    )
    section(console, "Schema", _schema(meta))
    section(console, "Personal data found", _findings(scan))
    if scan is None:
        note(f"Not scanned for personal data; scan it with steward.govern.scan_dataset({name!r}).")
    _print_usage(meta, usage)


def _retention(meta: DatasetVersion) -> Text:
    if not meta.retention:
        return Text("not recorded", style="dim")
    deadline = retention_deadline(meta.retention, meta.created_at)
    if deadline is None:
        return Text(meta.retention)
    late = deadline < datetime.now(UTC).date()
    return Text.assemble(
        meta.retention,
        (
            f"  (delete by {deadline.isoformat()}{', overdue' if late else ''})",
            "bold red" if late else "dim",
        ),
    )


def _findings(scan: PiiScan | None) -> Table | None:
    """Return the PII findings as a table (None when the scan found nothing or never ran)."""
    if scan is None or not scan.findings:
        return None
    table = new_table()
    for name in ("column", "holds", "share of sample", "confidence", "from the name"):
        table.add_column(name)
    for f in scan.findings:
        table.add_row(
            Text(f.column, style="bold red"),
            Text(", ".join(f.entities)),
            Text(f"{f.share:.0%}" if f.shares else "—"),
            Text(f"{f.confidence:.2f}"),
            Text(", ".join(f.from_name) or "—"),
        )
    return table


def _schema(meta: DatasetVersion) -> Table:
    suggested = set(meta.profile.get("suggested_sensitive") or []) - set(meta.sensitive_columns)
    table = new_table()
    for name in ("column", "dtype", "nullable", "sensitive"):
        table.add_column(name)
    for col in meta.columns:
        if col.sensitive:
            mark = Text("⚠ sensitive", style="bold red")
        elif col.name in suggested:
            mark = Text("looks sensitive (not marked)", style="yellow")
        else:
            mark = Text("")
        table.add_row(Text(col.name), Text(col.dtype), Text("yes" if col.nullable else "no"), mark)
    return table


def _print_usage(meta: DatasetVersion, usage: list[DatasetUsage]) -> None:
    console = stdout()
    mine = [u for u in usage if u.version == meta.version]
    users = {u.run_id for u in mine}
    others = len({u.run_id for u in usage} - users)
    if not mine:
        section(console, "Used by runs", None)
    else:
        ids = sorted({u.run_id for u in mine[:USAGE_ROWS]})
        quoted = ", ".join(f"'{i}'" for i in ids)
        found = steward.search_runs(f"run_id in ({quoted})", max_results=len(ids), output="runs")
        runs = {r.id: r for r in found}
        table = new_table()
        for name in ("run", "name", "experiment", "context"):
            table.add_column(name)
        for item in mine[:USAGE_ROWS]:
            run = runs.get(item.run_id)
            table.add_row(
                Text(item.run_id[:8], style="dim"),
                Text(run.name if run else MISSING),
                Text(f"{run.project}/{run.experiment}" if run else MISSING),
                Text(item.context),
            )
        section(console, f"Used by runs ({len(users)})", table)
    if len(mine) > USAGE_ROWS:
        note(f"Showing the first {USAGE_ROWS} uses; --json lists them all.")
    if others:
        note(f"{others} other run(s) used other versions of {meta.dataset!r}.")


@app.command("profile")
def profile_dataset(
    spec: Spec,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the full stored profile as JSON.")
    ] = False,
) -> None:
    """Profile a dataset version: per column its kind, missing rate, range or top categories, and a histogram.

    The profile is the one stored at registration: no data is read.

    Example:

    ```
    steward datasets profile churn@2
    ```
    """
    name, version = parse_spec(spec)
    meta = steward.get_dataset(name, version)
    if as_json:
        print_json(meta.profile)
        return
    columns: dict[str, dict[str, Any]] = meta.profile.get("columns") or {}
    console = stdout()
    console.print(
        Text.assemble(
            ("Profile of ", "bold"),
            (meta.dataset, "bold cyan"),
            f"  version {meta.version}: {meta.row_count:,} rows, {len(meta.columns)} columns",
        )
    )
    sensitive = set(meta.sensitive_columns)
    table = new_table()
    table.add_column("column")
    table.add_column("kind")
    table.add_column("missing", justify="right")
    table.add_column("distinct", justify="right")
    table.add_column("summary", overflow="fold")
    table.add_column("histogram", no_wrap=True)
    for col, stats in columns.items():
        label = Text(col)
        if col in sensitive:
            label.append(" ⚠", style="bold red")
        missing = Text(
            format_share(stats.get("missing", 0), stats.get("count", 0) + stats.get("missing", 0))
        )
        if stats.get("missing"):
            missing.stylize("yellow")
        distinct = stats.get("distinct")
        histogram = (stats.get("histogram") or {}).get("counts") or []
        table.add_row(
            label,
            Text(str(stats.get("kind", MISSING))),
            missing,
            Text(f"{distinct:,}" if isinstance(distinct, int) else MISSING),
            Text(_summary(stats)),
            Text(sparkline(histogram), style="cyan"),
        )
    console.print(table)


def _summary(stats: dict[str, Any]) -> str:
    kind = stats.get("kind")
    if kind == "numeric" and "min" in stats:
        median = (stats.get("quantiles") or {}).get("0.5")
        low, high = format_number(stats["min"]), format_number(stats["max"])
        return f"{low} to {high}, median {format_number(median)}"
    if kind == "datetime" and "min" in stats:
        return f"{stats['min']} → {stats['max']}"
    if kind == "text" and "min_length" in stats:
        return f"length {stats['min_length']} to {stats['max_length']}, mean {stats['mean_length']:.1f}"
    top = stats.get("top") or []
    if top:
        count = stats.get("count") or sum(t["count"] for t in top)
        shown = " · ".join(
            f"{t['value']} {format_share(t['count'], count)}" for t in top[:TOP_CATEGORIES]
        )
        rest = (stats.get("distinct") or len(top)) - min(len(top), TOP_CATEGORIES)
        return shown + (f" (+{rest} more)" if rest > 0 else "")
    return MISSING


@app.command("register")
def register(
    path: Annotated[
        Path, typer.Argument(metavar="PATH", help="A CSV, TSV, Parquet, JSON(L) or Feather file.")
    ],
    name: Annotated[str, typer.Option("--name", "-n", metavar="NAME", help="The dataset's name.")],
    source: Annotated[
        str,
        typer.Option(
            "--source",
            metavar="TEXT",
            help="Where the data came from (default: the file's absolute path).",
        ),
    ] = "",
    terms: Annotated[
        str,
        typer.Option(
            "--terms", metavar="TEXT", help="Its terms of use or licence, e.g. `CC-BY-4.0`."
        ),
    ] = "",
    description: Annotated[
        str, typer.Option("--description", "-d", metavar="TEXT", help="What the data holds.")
    ] = "",
    retention: Annotated[
        str,
        typer.Option(
            "--retention",
            metavar="WHEN",
            help="How long it may be kept: `delete after 2027-12-31`, `3 years`, `P18M`.",
        ),
    ] = "",
    sensitive: Annotated[
        list[str] | None,
        typer.Option(
            "--sensitive",
            "-s",
            metavar="COLUMN",
            help="A sensitive column (age, sex...); repeat, or separate with commas.",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the registered version as JSON.")
    ] = False,
) -> None:
    """Register a file as a version of a dataset: hashed, profiled and stored.

    Registering the same content again returns the existing version.

    Example:

    ```
    steward datasets register data/churn.csv --name churn --terms CC-BY-4.0 \\
        --sensitive age --sensitive gender
    ```
    """
    columns = [c.strip() for item in sensitive or [] for c in item.split(",") if c.strip()]
    known = _version_ids(name)
    console = stderr()
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,  # a spinner is noise in logs and pipes
    ) as progress:
        task = progress.add_task(f"Reading {path.name}", total=None)
        frame = read_table(path)
        progress.update(task, description=f"Hashing, profiling and storing {len(frame):,} rows")
        meta = steward.register_dataset(
            frame,
            name,
            source=source or str(path.resolve()),
            terms_of_use=terms,
            description=description,
            sensitive_columns=columns,
            retention=retention,
        )
    created = meta.id not in known
    if as_json:
        print_json({**meta.model_dump(mode="json"), "created": created})
        return
    shape = f"{meta.row_count:,} rows, {len(meta.columns)} columns"
    if created:
        stdout().print(
            Text.assemble(
                "Registered ",
                (f"{meta.dataset}@{meta.version}", "bold cyan"),
                f": {shape}, sha256 {meta.content_hash[:12]}",
            ),
            soft_wrap=True,
        )
    else:
        stdout().print(
            Text.assemble(
                "Unchanged: ",
                (f"{meta.dataset}@{meta.version}", "bold cyan"),
                f" already holds this content ({shape}, sha256 {meta.content_hash[:12]}).",
            ),
            soft_wrap=True,
        )
        if sorted(columns) != sorted(meta.sensitive_columns) or (
            terms and terms != meta.terms_of_use
        ):
            note(
                "That version keeps what was recorded with it: sensitive columns "
                f"{', '.join(meta.sensitive_columns) or 'none'}; terms {meta.terms_of_use or 'none'}.",
                style="yellow",
            )
    scan = get_backend().get_pii_scan(meta.dataset, meta.version)
    if scan is not None and scan.findings:
        found = ", ".join(f"{f.column} ({', '.join(f.entities)})" for f in scan.findings)
        note(f"Personal data found: {found}. Models using these columns will be flagged.", "yellow")
    unmarked = [
        c for c in meta.profile.get("suggested_sensitive") or [] if c not in meta.sensitive_columns
    ]
    if unmarked:
        note(
            f"Columns that look sensitive but are not marked: {', '.join(unmarked)}.",
            style="yellow",
        )
    note(f"Inspect it with: steward datasets show {meta.dataset}@{meta.version}")


def _version_ids(name: str) -> set[int]:
    try:
        return {v.id for v in get_backend().list_dataset_versions(name)}
    except NotFound:
        return set()


@app.command("amend")
def amend(
    spec: Spec,
    terms: Annotated[
        str | None, typer.Option("--terms", metavar="TEXT", help="New terms of use.")
    ] = None,
    retention: Annotated[
        str | None,
        typer.Option(
            "--retention",
            metavar="WHEN",
            help="New retention: `delete after 2027-12-31`, `3 years`.",
        ),
    ] = None,
    reason: Annotated[
        str, typer.Option("--reason", metavar="TEXT", help="Why (kept in the audit log).")
    ] = "",
) -> None:
    """Change a version's terms of use or retention; its data and hash never change.

    Example:

    ```
    steward datasets amend churn@2 --retention "delete after 2027-12-31" --reason "DPO-42"
    ```
    """
    name, version = parse_spec(spec)
    number = version or steward.get_dataset(name).version
    meta = get_backend().amend_dataset_version(
        name, number, terms_of_use=terms, retention=retention, reason=reason
    )
    stdout().print(
        Text.assemble(
            "Amended ",
            (f"{meta.dataset}@{meta.version}", "bold cyan"),
            f": terms {meta.terms_of_use or 'none'}; retention {meta.retention or 'none'}.",
        ),
        soft_wrap=True,
    )
