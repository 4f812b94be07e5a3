"""The demo's monitoring step: drift injected into live traffic, its performance estimated
before labels and measured as they arrive, the latency panel and a KPI; alerts fire on the
drifted window and not on the clean one."""

from __future__ import annotations

import time

import httpx
import pandas as pd
from rich.console import Console
from rich.table import Table

import steward
import steward.monitor
from steward.config import load_settings


def monitor_live(
    console: Console,
    url: str,
    model: str,
    champion: int,
    project: str,
    clean: tuple[float, float],
    X_test: pd.DataFrame,
    y_test: pd.Series,
) -> None:
    """Send drifted traffic to the deployment at ``url``, then monitor the ``clean``
    window (one pass over the holdout, with labels) and the drifted one."""
    console.rule("[bold]Monitor: drift, performance as labels arrive, health, a KPI, alerts")
    # The estimator learns, on labeled holdout rows, how the model's confidence maps to
    # accuracy; with it a monitoring run estimates performance before any label arrives.
    steward.monitor.calibrate_estimator(f"models:/{model}@champion", X_test, y_test)
    steward.monitor.set_monitor_config(
        project,
        {
            "drift": {"feature_share": 0.2},
            "performance": {"metric": "accuracy", "max_drop": 0.05, "min_labels": 30},
            "estimate": {"metric": "accuracy", "max_drop": 0.1},
            "health": {"p99_ms": 500, "error_rate": 0.05},
            "kpis": [
                {
                    # The project's objective, measured on live traffic: the share of fast
                    # progressors the model missed, against a rule a clinic might use.
                    "name": "missed_fast_progressors",
                    "expression": "prediction == 0",
                    "where": "label == 1",
                    "baseline": "bmi > 27",
                    "objective": "missed_fast_progressors",
                },
                {
                    "name": "review_load",
                    "expression": "prediction == 1",
                    "needs_labels": False,
                    "objective": "review_load",
                },
            ],
        },
    )
    drift_since = time.time()
    # A new clinic measures BMI and triglycerides (s5) on other scales: the inputs drift,
    # and the model, trained on the old scales, flags far more patients.
    drifted = X_test.assign(bmi=X_test["bmi"] * 1.3, s5=X_test["s5"] + 0.4)
    ids = []
    with httpx.Client(base_url=url) as client:
        for row in drifted.to_dict(orient="records"):
            ids.append(client.post("/predict", json={"records": [row]}).json()["request_id"])
        time.sleep(1.5)  # a log segment is written every second
        drift_until = time.time()
        calm = steward.monitor.monitor_deployment(model, window=clean[1] - clean[0], end=clean[1])
        early = steward.monitor.monitor_deployment(
            model, window=drift_until - drift_since, end=drift_until
        )
        for request_id, label in zip(ids, y_test, strict=True):  # ground truth, days later
            client.post("/feedback", json={"request_id": request_id, "label": int(label)})
        time.sleep(1.5)
    late = steward.monitor.monitor_deployment(
        model, window=drift_until - drift_since, end=drift_until
    )

    windows = {"clean": calm, "drifted, before labels": early, "drifted, labels in": late}
    table = Table("", *windows)
    rows: dict[str, list[str]] = {}
    for result in windows.values():
        v = next((x for x in result.versions if x.version == champion), None)
        h = result.health
        kpis = {k.name: k for k in result.kpis}
        for label, shown in {
            "requests": str(h.requests),
            "drifted features": ", ".join(v.drifted) if v and v.drifted else "none",
            "accuracy from labels": _measured(v),
            "accuracy estimated (no labels)": _value(getattr(v, "estimate_value", None)),
            "latency p50 / p99": f"{h.p50_ms or 0:.1f} / {h.p99_ms or 0:.1f} ms",
            "memory (peak)": f"{h.memory_mb:.0f} MB" if h.memory_mb else "—",
            "KPI missed progressors (rule)": _kpi(kpis.get("missed_fast_progressors")),
            "KPI review load (target 60%)": _kpi(kpis.get("review_load")),
            "alerts": ", ".join(sorted({a.rule for a in result.alerts})) or "none",
        }.items():
            rows.setdefault(label, []).append(shown)
    for label, values in rows.items():
        table.add_row(label, *values)
    console.print(table)
    console.print(
        "[dim]The estimate trusts the model's confidence, which a shift of the inputs can "
        "leave high while the answers go wrong; drift shows it at once, labels confirm it.[/]"
    )
    for alert in late.alerts:
        console.print(f"[yellow]⚑ {alert.rule}[/]: {alert.message}")
    report = load_settings().home / "reports" / f"{model}-monitoring.html"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(steward.monitor.stored_report(model).html, encoding="utf-8")
    console.print(
        f"Monitoring report (distributions against training, drift, performance and latency "
        f"over time): {report}\n  steward monitor report {model} --open   # the same, from the CLI"
    )


def _value(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _kpi(k: object) -> str:
    value, baseline = getattr(k, "value", None), getattr(k, "baseline", None)
    if value is None:
        return "waiting for labels"
    return f"{value:.0%}" + ("" if baseline is None else f" ({baseline:.0%})")


def _measured(v: object) -> str:
    value = getattr(v, "performance_value", None)
    labeled = getattr(v, "performance_labels", None)
    if value is None:
        return "waiting for labels"
    return f"{value:.2f} on {labeled} labels"
