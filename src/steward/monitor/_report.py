"""The monitoring report: a self-contained HTML page (Plotly, offline) and the JSON result.

Sections: what the window held and the alerts it raised; per model version, the drift
of each feature (with the reference and window distributions overlaid), performance as
labels arrived and estimated before they do; service health (latency, errors, memory);
the KPIs against their baseline; and the time series of earlier runs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go

from steward.context import get_backend
from steward.errors import NotFound
from steward.monitor._records import MetricPoint, MonitorRun
from steward.report import html_page

if TYPE_CHECKING:
    from steward.monitor._run import MonitorResult

SERIES_RUNS = 60  # earlier runs drawn in the "over time" charts


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def report_markdown(result: MonitorResult) -> str:
    """Return the report's text: summary, alerts, per-version findings, health, KPIs."""
    h = result.health
    lines = [
        f"# Monitoring: {result.deployment}",
        "",
        f"Window {_when(result.window_start)} to {_when(result.window_end)}; project "
        f"`{result.project}`.",
        "",
    ]
    if result.note:
        lines += [f"_{result.note}_", ""]
    lines += [
        "## Summary",
        "",
        f"- Requests: {h.requests} served, {h.errors} refused or failed ({h.error_rate:.1%})",
        f"- Latency: p50 {_ms(h.p50_ms)}, p95 {_ms(h.p95_ms)}, p99 {_ms(h.p99_ms)}",
        f"- Memory: {'—' if h.memory_mb is None else f'{h.memory_mb:.0f} MB peak'}",
    ]
    if result.labels is not None:
        c = result.labels
        lines.append(
            f"- Labels: {c.given} given, {c.matched} matched to served rows"
            + (
                f", {c.unknown_request_ids} for request ids never logged"
                if c.unknown_request_ids
                else ""
            )
            + (f", {c.refused_total} refused ({', '.join(c.refused)})" if c.refused_total else "")
        )
    for skipped in result.skipped_segments:
        lines.append(
            f"- **Skipped a damaged log segment:** `{skipped['segment']}` ({skipped['reason']})"
        )
    lines += ["", "## Alerts", ""]
    lines += [f"- **{a.rule}**: {a.message}" for a in result.alerts] or [
        "No alert: every value is within the project's thresholds."
    ]
    for v in result.versions:
        lines += [
            "",
            f"## {v.label}",
            "",
            f"{v.rows} logged rows in the window.",
            "",
            "### Drift",
            "",
        ]
        if v.drift is None:
            lines.append(f"_{v.drift_note}_")
        else:
            lines.append(v.drift_summary + ".")
            lines += [
                "",
                "| feature | kind | drifted | score | tests | importance |",
                "|---|---|---|---|---|---|",
            ]
            for f in sorted([*v.drift.features, *v.drift.predictions], key=lambda f: -f.score):
                tests = "; ".join(f"{t.test} {t.effect:.3g}" for t in f.tests)
                importance = "—" if f.importance is None else f"{f.importance:.3g}"
                lines.append(
                    f"| {f.feature} | {f.kind} | {'**yes**' if f.drifted else 'no'} | "
                    f"{f.score:.2f} | {tests} | {importance} |"
                )
            if v.drift.multivariate and v.drift.multivariate.auc is not None:
                m = v.drift.multivariate
                drivers = ", ".join(d.feature for d in m.drivers[:5])
                lines += [
                    "",
                    f"Domain classifier: ROC AUC {m.auc:.3f} (drivers: {drivers or '—'}).",
                ]
        lines += ["", "### Performance with labels", "", v.performance_summary or "—"]
        if v.performance is not None:
            lines += ["", "```", v.performance.summary(), "```"]
        lines += ["", "### Estimated performance (no labels needed)", "", v.estimate_summary or "—"]
    if result.kpis:
        lines += [
            "",
            "## KPIs",
            "",
            "| KPI | value | baseline | target | met | rows |",
            "|---|---|---|---|---|---|",
        ]
        for k in result.kpis:
            met = {True: "yes", False: "**no**", None: "—"}[k.met]
            lines.append(
                f"| {k.name} | {_num(k.value)} | {_num(k.baseline)} | {_num(k.target)} | {met} | {k.rows} |"
            )
    return "\n".join(lines)


def report_figures(
    result: MonitorResult, series: list[MetricPoint] | None = None
) -> dict[str, Any]:
    """Return the report's figures: overlays, drift scores, health, KPIs, and series over time."""
    figures: dict[str, Any] = {}
    for v in result.versions:
        for o in v.overlays:
            fig = go.Figure()
            fig.add_bar(name="training reference", x=o.labels, y=o.reference)
            fig.add_bar(name="this window", x=o.labels, y=o.current)
            fig.update_layout(barmode="group", height=300, yaxis_title="share of rows")
            figures[f"{v.label}: {o.feature}{' (drifted)' if o.drifted else ''}"] = fig
    buckets = result.health.buckets
    if buckets:
        fig = go.Figure()
        for version in sorted({b.version for b in buckets} - {"(refused)"}):
            part = [b for b in buckets if b.version == version]
            times = [dt.datetime.fromtimestamp(b.start, dt.UTC) for b in part]
            fig.add_scatter(
                name=f"{version} p50", x=times, y=[b.p50_ms for b in part], mode="lines+markers"
            )
            fig.add_scatter(
                name=f"{version} p99", x=times, y=[b.p99_ms for b in part], mode="lines+markers"
            )
        fig.update_layout(height=300, yaxis_title="latency (ms)")
        figures["Latency over the window"] = fig
        fig = go.Figure()
        for version in sorted({b.version for b in buckets}):
            part = [b for b in buckets if b.version == version]
            fig.add_bar(
                name=version,
                x=[dt.datetime.fromtimestamp(b.start, dt.UTC) for b in part],
                y=[b.requests + b.errors for b in part],
            )
        fig.update_layout(barmode="stack", height=280, yaxis_title="requests")
        figures["Requests over the window"] = fig
    if result.kpis:
        fig = go.Figure()
        fig.add_bar(name="model", x=[k.name for k in result.kpis], y=[k.value for k in result.kpis])
        fig.add_bar(
            name="baseline", x=[k.name for k in result.kpis], y=[k.baseline for k in result.kpis]
        )
        fig.update_layout(barmode="group", height=300)
        figures["KPIs against their baseline"] = fig
    figures.update(series_figures(series or []))
    return figures


# Charts over time: title -> (metric name prefix, names kept, y-axis title)
_SERIES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "Drift score per feature (1 = threshold)": ("drift.score.", (), "drift score"),
    "Performance over time, where labels arrived": ("performance.", (), "metric"),
    "Share of predictions still waiting for labels": (
        "performance.",
        ("performance.waiting_share",),
        "share",
    ),
    "Estimated performance (before labels)": ("estimate.", (), "estimated metric"),
    "Latency over time": ("health.", ("health.p50_ms", "health.p95_ms", "health.p99_ms"), "ms"),
    "Memory over time": ("health.", ("health.memory_mb",), "MB (peak RSS)"),
    "Error rate over time": ("health.", ("health.error_rate",), "share of requests"),
    "KPIs over time": ("kpi.", (), "value"),
}
_LEFT_OUT = {"performance.waiting_share"}


def series_figures(series: list[MetricPoint]) -> dict[str, Any]:
    """Return charts of monitored values over earlier runs: drift, performance (with its
    confidence interval), labels still waiting, estimates, latency, memory, errors, KPIs."""
    figures: dict[str, Any] = {}
    for title, (prefix, names, axis) in _SERIES.items():
        points = [
            p
            for p in series
            if p.name.startswith(prefix)
            and p.value is not None
            and (p.name in names if names else p.name not in _LEFT_OUT)
        ]
        if not points:
            continue
        fig = go.Figure()
        keys = sorted({(p.name, p.version) for p in points})
        for name, version in keys[:12]:
            part = [p for p in points if p.name == name and p.version == version]
            label = name.removeprefix(prefix) + (f" ({version})" if version else "")
            bands = all(p.lower is not None and p.upper is not None for p in part)
            fig.add_scatter(
                name=label,
                x=[dt.datetime.fromtimestamp(p.window_end, dt.UTC) for p in part],
                y=[p.value for p in part],
                mode="lines+markers",
                error_y=(
                    {
                        "type": "data",
                        "symmetric": False,
                        "array": [(p.upper or 0) - (p.value or 0) for p in part],
                        "arrayminus": [(p.value or 0) - (p.lower or 0) for p in part],
                    }
                    if bands
                    else None
                ),
            )
        fig.update_layout(
            title={"text": title},
            height=320,
            yaxis_title=axis,
            legend={"orientation": "h", "y": -0.25},
            margin={"t": 50, "b": 30, "l": 50, "r": 10},
        )
        figures[title] = fig
    return figures


def report_html(result: MonitorResult) -> str:
    """Return the self-contained HTML report of a monitoring result (works offline)."""
    try:
        series = get_backend().get_monitor_series(result.deployment, "", 0.0)[-SERIES_RUNS * 50 :]
    except Exception:  # the report still shows this window without the history
        series = []
    return html_page(
        report_markdown(result),
        f"Monitoring: {result.deployment}",
        report_figures(result, series),
    )


@dataclass
class StoredReport:
    """A stored monitoring run with its HTML report and JSON result."""

    run: MonitorRun
    html: str
    result: str


def stored_report(
    deployment: str, run_id: int | None = None, *, backend: Any = None
) -> StoredReport:
    """Return a deployment's stored monitoring run (the latest by default) and its report."""
    backend = backend or get_backend()
    if run_id is None:
        runs = backend.list_monitor_runs(deployment, 1)
        if not runs:
            raise NotFound(
                f"Deployment {deployment!r} has no monitoring run yet; make one with "
                f"`steward monitor run {deployment}`."
            )
        run = runs[0]
    else:
        run = backend.get_monitor_run(run_id)
        if run.deployment != deployment:
            raise NotFound(f"Monitoring run {run_id} is of {run.deployment!r}, not {deployment!r}.")
    if not run.report_sha256 or not run.result_sha256:
        raise NotFound(f"Monitoring run {run.id} kept no report.")
    return StoredReport(
        run=run,
        html=backend.blobs.read_bytes(run.report_sha256).decode(),
        result=backend.blobs.read_bytes(run.result_sha256).decode(),
    )


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} ms"


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"
