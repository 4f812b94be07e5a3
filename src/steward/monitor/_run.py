"""One monitoring run of a deployment: read its window of the log, compute, judge, store.

For each model version that served primary traffic in the window: drift of its inputs
and outputs against the version's reference profile, performance where labels arrived,
estimated performance where they have not. Then the deployment's service health and the
project's KPIs. The values become time series in the store, the project's thresholds
turn them into alerts (sent to its webhook), and an HTML report and the JSON result are
kept with the run; each alert links to them.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from typing import Any

import httpx
import pandas as pd
from pydantic import BaseModel, Field

from steward.context import get_backend
from steward.errors import InvalidInput, NotFound, StewardError
from steward.monitor import _logread
from steward.monitor._alerts import judge
from steward.monitor._analysis import VersionResult, analyse_version
from steward.monitor._health import HealthReport, health
from steward.monitor._kpi import KPIFunction, KPIResult, evaluate, evaluate_function, kpi_frame
from steward.monitor._labels import with_labels
from steward.monitor._performance_labels import LabelCounts
from steward.monitor._records import AlertSpec, MetricPoint, MonitorConfig, MonitorRunSpec
from steward.serve import get_deployment, log_root

HEALTH_BUCKETS = 24  # a window's health is shown in this many buckets
# Serving writes a memory sample every 10 s; a window shorter than that shows the last
# sample before it, if one is this recent.
SAMPLE_LOOKBACK = 60.0


class MonitorResult(BaseModel):
    """What a monitoring run found, per model version and for the deployment."""

    deployment: str
    window_start: float
    window_end: float
    project: str
    rows: int = 0
    note: str = ""
    skipped_segments: list[dict[str, str]] = Field(default_factory=list)
    versions: list[VersionResult] = Field(default_factory=list)
    health: HealthReport
    kpis: list[KPIResult] = Field(default_factory=list)
    alerts: list[AlertSpec] = Field(default_factory=list)
    labels: LabelCounts | None = None
    monitor_run_id: int | None = None


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_window(text: str) -> float:
    """Return a window such as '1d', '6h', '30m', '2w' or '90s' in seconds."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", str(text).lower())
    if found is None:
        raise InvalidInput(
            f"{text!r} is not a window; write a number and a unit: 90s, 30m, 6h, 1d, 2w."
        )
    seconds = float(found.group(1)) * _UNITS[found.group(2)]
    if seconds <= 0:
        raise InvalidInput(f"A window must be longer than zero; got {text!r}.")
    return seconds


def monitor_deployment(
    name: str,
    *,
    window: str | float = "1d",
    end: float | None = None,
    kpis: Mapping[str, KPIFunction] | None = None,
    notify: bool = True,
    store: bool = True,
) -> MonitorResult:
    """Return what a monitoring run of deployment ``name`` over ``window`` found (and store it)."""
    started = time.time()
    deployment = get_deployment(name)
    seconds = parse_window(window) if isinstance(window, str) else float(window)
    window_end = end if end is not None else started
    window_start = window_end - seconds
    project = _project(deployment)
    backend = get_backend()
    config = backend.get_monitor_config(project)
    root = log_root(deployment)
    predictions, skipped = _logread.read(root, _logread.PREDICTIONS, window_start, window_end)
    labels, skipped_labels = _logread.read(root, _logread.FEEDBACK, window_start, None)
    samples, skipped_health = _logread.read(
        root, _logread.HEALTH, window_start - SAMPLE_LOOKBACK, window_end
    )
    samples = _in_window(samples, window_start)
    result = MonitorResult(
        deployment=name,
        window_start=window_start,
        window_end=window_end,
        project=project,
        rows=len(predictions),
        skipped_segments=skipped + skipped_labels + skipped_health,
        health=health(predictions, samples, bucket_seconds=max(seconds / HEALTH_BUCKETS, 60.0)),
    )
    served = _served(predictions)
    if served.empty:
        result.note = (
            f"No predictions were logged for {name!r} between the window's start and end "
            f"(log: {root}). Send traffic, or widen --window."
        )
    metrics: list[MetricPoint] = []
    joined_all: list[pd.DataFrame] = []
    groups: list[tuple[Any, pd.DataFrame]] = (
        list(served.groupby(["model", "version"], sort=True)) if len(served) else []
    )
    for key, rows in groups:
        model, version = str(key[0]), int(str(key[1]))
        analysed = analyse_version(
            model, version, rows, labels, config=config, history=_history(name, model, version)
        )
        result.versions.append(analysed.result)
        metrics += analysed.metrics
        joined_all.append(analysed.joined)
    if joined_all:
        joined, counts = with_labels(pd.concat(joined_all, ignore_index=True), predictions, labels)
        result.labels = counts
        result.kpis = _kpis(config, kpi_frame(joined), project, kpis or {})
    metrics += _health_points(result.health)
    metrics += [MetricPoint(kind="kpi", name=f"kpi.{k.name}", value=k.value) for k in result.kpis]
    metrics += [
        MetricPoint(kind="kpi", name=f"kpi.{k.name}.baseline", value=k.baseline)
        for k in result.kpis
        if k.baseline is not None
    ]
    result.alerts = judge(result, config)
    if store:
        _store(result, metrics, started, notify=notify, config=config)
    return result


def _in_window(samples: pd.DataFrame, start: float) -> pd.DataFrame:
    """Return the samples from ``start`` on; when there are none, the last one before."""
    if samples.empty:
        return samples
    seconds = samples["time"].map(lambda t: t.timestamp())
    inside = samples[seconds >= start]
    return inside if len(inside) else samples[seconds == seconds.max()]


def _served(predictions: pd.DataFrame) -> pd.DataFrame:
    if predictions.empty or "role" not in predictions.columns:
        return predictions.iloc[0:0]
    keep = (predictions["role"] == "primary") & (predictions["status"] < 400)
    found = predictions[keep & predictions["version"].notna()]
    return found


def _project(deployment: Any) -> str:
    """Return the project of the run that trained the deployment's serving model."""
    from steward.registry import get_model_version

    try:
        version = get_model_version(deployment.spec.serving[0].resolved or "")
        if version.run_id:
            return get_backend().get_run(version.run_id).project
    except (StewardError, IndexError):
        pass
    return "default"


def _history(deployment: str, model: str, version: int) -> list[MetricPoint]:
    return [
        p
        for p in get_backend().get_monitor_series(deployment, "performance.")
        if p.version == f"{model}/{version}"
    ]


def _kpis(
    config: MonitorConfig, frame: pd.DataFrame, project: str, functions: Mapping[str, KPIFunction]
) -> list[KPIResult]:
    objectives: dict[str, Any] = {}
    try:
        objectives = {o.name: o for o in get_backend().list_objectives(project)}
    except NotFound:
        objectives = {}
    results = [
        evaluate(spec, frame, objective=objectives.get(spec.objective or ""))
        for spec in config.kpis
    ]
    results += [evaluate_function(name, fn, frame) for name, fn in functions.items()]
    return results


def _health_points(report: HealthReport) -> list[MetricPoint]:
    values = {
        "health.requests": float(report.requests),
        "health.error_rate": report.error_rate,
        "health.p50_ms": report.p50_ms,
        "health.p95_ms": report.p95_ms,
        "health.p99_ms": report.p99_ms,
        "health.memory_mb": report.memory_mb,
    }
    return [MetricPoint(kind="health", name=k, value=v) for k, v in values.items()]


def _store(
    result: MonitorResult,
    metrics: list[MetricPoint],
    started: float,
    *,
    notify: bool,
    config: MonitorConfig,
) -> None:
    from steward.monitor._report import report_html

    backend = get_backend()
    html_sha, _ = backend.blobs.put_bytes(report_html(result).encode())
    json_sha, _ = backend.blobs.put_bytes(result.model_dump_json(indent=2).encode())
    drifted = sum(len(v.drifted) for v in result.versions)
    stored = backend.record_monitor_run(
        MonitorRunSpec(
            deployment=result.deployment,
            window_start=result.window_start,
            window_end=result.window_end,
            started_at=started,
            summary={
                "rows": result.rows,
                "requests": result.health.requests,
                "errors": result.health.errors,
                "drifted": drifted,
                "versions": [v.label for v in result.versions],
                "alerts": [a.rule for a in result.alerts],
                "note": result.note,
            },
            report_sha256=html_sha,
            result_sha256=json_sha,
            metrics=metrics,
            alerts=result.alerts,
        )
    )
    result.monitor_run_id = stored.id
    if notify and config.webhook:
        for alert in stored.alerts:
            outcome = _send(config.webhook, alert.model_dump(mode="json"), stored.id)
            backend.set_alert_notified(alert.id, outcome)


def _send(url: str, alert: dict[str, Any], run_id: int) -> str:
    """POST one alert to the webhook; return what happened, for the alert's record."""
    body = {**alert, "monitor_run_id": run_id, "report": f"/ui/monitoring/runs/{run_id}/report"}
    try:
        response = httpx.post(
            url, content=json.dumps(body), headers={"content-type": "application/json"}, timeout=5
        )
    except httpx.HTTPError as exc:
        return f"failed: {type(exc).__name__}: {exc}"[:200]
    return f"sent: HTTP {response.status_code}"
