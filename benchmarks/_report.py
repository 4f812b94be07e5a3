"""The printed report: the side-by-side table, search scaling, and how the stores were filled."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def _fmt(entry: dict[str, Any] | None, higher: bool) -> str:
    if entry is None:
        return "-"
    if higher:
        return f"{entry['points_per_s']:,.0f} pts/s"
    return f"{entry['seconds']:.3f} s"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}x"


def _met(value: bool | None) -> str:
    if value is None:
        return "-"
    return "[green]yes[/]" if value else "[red]NO[/]"


def print_report(results: dict[str, Any]) -> None:
    """Print the tables for ``results`` (as bench_tracking builds them)."""
    console = Console(width=160)
    table = Table(title="Steward vs MLflow (ratio = Steward's advantage; MLflow on local SQLite)")
    for name in (
        "measure",
        "Steward",
        "MLflow",
        "ratio",
        "target",
        "met?",
        "Steward over HTTP",
        "ratio (HTTP vs MLflow local)",
    ):
        table.add_column(name, justify="left" if name == "measure" else "right")
    for m in results["measures"].values():
        higher = m["higher_is_better"]
        table.add_row(
            m["title"],
            _fmt(m["steward"], higher),
            _fmt(m["mlflow"], higher),
            _ratio(m.get("ratio_local")),
            f">= {m['target']:g}x",
            _met(m.get("met_local")),
            _fmt(m.get("steward_http"), higher),
            _ratio(m.get("ratio_http")),
        )
    console.print(table)
    console.print(
        "The targets are for the local store; the team server's figures are reported beside "
        "them (the issue sets no target for HTTP)."
    )

    scaling = results.get("scaling") or []
    if scaling:
        grid = Table(title=f"Steward search_runs as the store grows: {_filter(results)}")
        for name in (
            "runs",
            "matching rows",
            "median time",
            "best time",
            "µs per matching row",
            "time growth",
            "matches growth",
        ):
            grid.add_column(name, justify="right")
        for row in scaling:
            grid.add_row(
                f"{row['runs']:,}",
                f"{row['matches']:,}",
                f"{row['seconds']:.3f} s",
                f"{row['best_seconds']:.3f} s",
                f"{row['us_per_match']:.0f}",
                _ratio(row.get("time_growth")),
                _ratio(row.get("match_growth")),
            )
        console.print(grid)

    pop = results.get("population")
    if pop:
        fill = Table(title="How the search stores were filled (not part of any timing above)")
        for name in ("store", "runs", "seconds", "ms per run"):
            fill.add_column(name, justify="left" if name == "store" else "right")
        rows = [
            (
                "Steward, public API (start_run + log_batch + end)",
                pop["steward_api_runs"],
                pop["steward_api_seconds"],
            ),
            (
                "Steward, bulk SQL into its schema",
                pop["steward_sql_runs"],
                pop["steward_sql_seconds"],
            ),
            ("MLflow, bulk SQL into its schema", pop["mlflow_sql_runs"], pop["mlflow_sql_seconds"]),
        ]
        for label, runs, seconds in rows:
            if runs:
                fill.add_row(label, f"{runs:,}", f"{seconds:.1f}", f"{1000 * seconds / runs:.2f}")
        console.print(fill)
    machine = results["machine"]
    console.print(
        f"Python {machine['python']}, {machine['cpus']} CPUs, MLflow {machine['mlflow']}, "
        f"SQLite {machine['sqlite']}, load average at start {machine['load_average_start']}, "
        f"at end {machine.get('load_average_end')}"
    )


def _filter(results: dict[str, Any]) -> str:
    search = results["measures"].get("search_runs", {})
    return f"{search.get('filter', '')!r}, max_results = store size"
