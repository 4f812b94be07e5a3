"""`steward monitor`: drift, performance, health and KPIs of a deployment; alerts; reports."""

from __future__ import annotations

import json
import time
import webbrowser
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from steward.cli._output import fields_grid, indented, new_table, note, print_json, stdout
from steward.cli._output import format_time as when

app = typer.Typer(
    name="monitor",
    help="Monitoring: drift, performance as labels arrive, estimated performance, service "
    "health and KPIs of a deployment, with alerts and HTML reports.",
    no_args_is_help=True,
)


@app.command("run")
def run(
    deployment: Annotated[str, typer.Argument(help="The deployment to monitor.")],
    window: Annotated[
        str, typer.Option(help="The window to look at, ending now (or at --end): 1h, 1d, 7d...")
    ] = "1d",
    end: Annotated[
        float | None, typer.Option(help="The window's end (seconds since the epoch); default now.")
    ] = None,
    every: Annotated[
        str | None,
        typer.Option(
            help="Run again every interval (e.g. 1h) until stopped: the scheduled form. Cron or "
            "a Kubernetes CronJob can run the command without it instead."
        ),
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Also write the HTML report here.")
    ] = None,
    no_notify: Annotated[
        bool, typer.Option("--no-notify", help="Do not send alerts to the project's webhook.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Monitor a deployment over a window: input and prediction drift against the training
    reference, performance where labels arrived, estimated performance where they have
    not, latency/errors/memory, the project's KPIs; store the results as time series,
    raise alerts on the project's thresholds and write an HTML report.

    Example:

    ```
    steward monitor run churn --window 1d
    steward monitor run churn --window 1h --every 1h      # keeps running, once an hour
    ```
    """
    from steward.errors import InvalidInput, StewardError
    from steward.monitor import monitor_deployment, parse_window

    interval = parse_window(every) if every else None
    if interval is not None and end is not None:
        raise InvalidInput("--every runs on windows ending at each run; drop --end (or --every).")
    while True:
        try:
            result = monitor_deployment(deployment, window=window, end=end, notify=not no_notify)
        except StewardError as exc:
            if interval is None:
                raise
            # The scheduled form keeps going: a store briefly down must not end the schedule.
            note(f"This run failed: {exc}. Trying again in {every}.")
            time.sleep(interval)
            continue
        if as_json:
            print_json(result.model_dump(mode="json"))
        else:
            _show(result)
        if report is not None:
            from steward.monitor import report_html

            report.write_text(report_html(result), encoding="utf-8")
            note(f"Wrote {report}")
        if interval is None:
            return
        note(f"Next run in {every}; stop with Ctrl-C.")
        time.sleep(interval)


def _show(result: Any) -> None:
    console = stdout()
    console.print(
        Text.assemble(
            ("Monitoring ", "bold"),
            (result.deployment, "bold cyan"),
            f"  {when(result.window_start)} to {when(result.window_end)} (UTC)",
        )
    )
    if result.note:
        console.print(indented(Text(result.note, style="yellow")))
    facts = [
        (
            "requests",
            f"{result.health.requests} ({result.health.errors} errors, {result.health.error_rate:.1%})",
        ),
        ("latency", _latency(result.health)),
    ]
    if result.health.memory_mb is not None:
        facts.append(("memory", f"{result.health.memory_mb:.0f} MB peak"))
    for skipped in result.skipped_segments:
        facts.append(("skipped segment", f"{skipped['segment']}: {skipped['reason']}"))
    console.print(indented(fields_grid(facts)))
    for version in result.versions:
        console.print(Text.assemble(("\n" + version.label, "bold"), f"  {version.rows} rows"))
        lines = []
        if version.drift is not None:
            lines.append(("drift", version.drift_summary))
        elif version.drift_note:
            lines.append(("drift", version.drift_note))
        if version.performance_summary:
            lines.append(("performance", version.performance_summary))
        if version.estimate_summary:
            lines.append(("estimated", version.estimate_summary))
        console.print(indented(fields_grid(lines)))
    if result.kpis:
        table = new_table(title="KPIs")
        for column in ("kpi", "value", "baseline", "target", "met"):
            table.add_column(column)
        for k in result.kpis:
            table.add_row(
                k.name,
                _num(k.value),
                _num(k.baseline),
                _num(k.target),
                {True: "yes", False: "NO", None: "—"}[k.met],
            )
        console.print(indented(table))
    if result.alerts:
        for alert in result.alerts:
            console.print(Text(f"  ⚑ {alert.message}", style="bold red"))
    else:
        console.print(Text("  No alert.", style="green"))
    if result.monitor_run_id is not None:
        note(
            f"Stored as monitoring run {result.monitor_run_id}; report: "
            f"steward monitor report {result.deployment} --run {result.monitor_run_id} --open"
        )


def _latency(health: Any) -> str:
    if health.p50_ms is None:
        return "—"
    return f"p50 {health.p50_ms:.1f} ms, p95 {health.p95_ms:.1f} ms, p99 {health.p99_ms:.1f} ms"


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


@app.command("report")
def report_command(
    deployment: Annotated[str, typer.Argument(help="The deployment.")],
    run_id: Annotated[
        int | None, typer.Option("--run", help="A monitoring run's id (default: the latest).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Where to write the HTML report.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the run's JSON result instead.")
    ] = False,
    open_it: Annotated[bool, typer.Option("--open", help="Open the report in a browser.")] = False,
) -> None:
    """Write (and open) the HTML report of a monitoring run: distributions, drift, performance
    and latency over time, KPIs, alerts.

    Example:

    ```
    steward monitor report churn --open
    ```
    """
    from steward.monitor import stored_report

    found = stored_report(deployment, run_id)
    if as_json:
        typer.echo(json.dumps(json.loads(found.result), indent=2))
        return
    path = out or Path(f"{deployment}-monitoring-{found.run.id}.html")
    path.write_text(found.html, encoding="utf-8")
    stdout().print(f"Wrote {path} (monitoring run {found.run.id}).")
    if open_it:
        webbrowser.open(path.resolve().as_uri())


@app.command("runs")
def runs(
    deployment: Annotated[str, typer.Argument(help="The deployment.")],
    limit: Annotated[int, typer.Option(min=1, help="How many, newest first.")] = 20,
) -> None:
    """List a deployment's monitoring runs with their alerts.

    Example:

    ```
    steward monitor runs churn
    ```
    """
    from steward.context import get_backend

    found = get_backend().list_monitor_runs(deployment, limit)
    if not found:
        note(f"No monitoring runs for {deployment!r} yet: `steward monitor run {deployment}`.")
        return
    table = new_table()
    for column in ("run", "window end", "requests", "drifted", "alerts"):
        table.add_column(column)
    for r in found:
        table.add_row(
            str(r.id),
            when(r.window_end),
            str(r.summary.get("requests", "—")),
            str(r.summary.get("drifted", "—")),
            ", ".join(a.rule for a in r.alerts) or "—",
        )
    stdout().print(table)


@app.command("alerts")
def alerts(
    deployment: Annotated[str | None, typer.Argument(help="One deployment (default: all).")] = None,
    open_only: Annotated[
        bool, typer.Option("--open", help="Only alerts not yet acknowledged.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List alerts, newest first, with the monitoring run (and report) that raised each.

    Example:

    ```
    steward monitor alerts churn --open
    ```
    """
    from steward.context import get_backend

    found = get_backend().list_alerts(deployment, "open" if open_only else None)
    if as_json:
        print_json([a.model_dump(mode="json") for a in found])
        return
    if not found:
        note("No alerts.")
        return
    table = new_table()
    for column in ("id", "when", "deployment", "rule", "message", "status", "run"):
        table.add_column(column)
    for a in found:
        table.add_row(
            str(a.id),
            when(a.created_at),
            a.deployment,
            a.rule,
            a.message,
            a.status,
            str(a.monitor_run_id),
        )
    stdout().print(table)


@app.command("ack")
def ack(alert_id: Annotated[int, typer.Argument(metavar="ID", help="The alert's id.")]) -> None:
    """Acknowledge an alert (it stays listed, marked with who and when).

    Example:

    ```
    steward monitor ack 12
    ```
    """
    from steward.context import get_backend

    done = get_backend().acknowledge_alert(alert_id)
    stdout().print(f"Alert {done.id} acknowledged by {done.acknowledged_by}.")


@app.command("config")
def config(
    project: Annotated[str, typer.Argument(help="The project whose thresholds to show or set.")],
    file: Annotated[
        Path | None, typer.Argument(help="A YAML file of thresholds to store (omit to show).")
    ] = None,
) -> None:
    """Show or set a project's monitoring thresholds (drift, performance, health, KPIs, webhook).

    Example:

    ```
    steward monitor config churn-project thresholds.yaml
    ```
    """
    from steward.configs import load_config
    from steward.context import get_backend
    from steward.monitor import MonitorConfig

    backend = get_backend()
    if file is None:
        print_json(backend.get_monitor_config(project).model_dump(mode="json"))
        return
    stored = backend.set_monitor_config(project, load_config(file, MonitorConfig))
    stdout().print(f"Stored the monitoring thresholds of {project} ({len(stored.kpis)} KPIs).")
