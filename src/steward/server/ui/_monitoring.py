"""Monitoring pages: a deployment's drift, performance, estimates, health and KPIs over
time, its latest distributions against the training reference, and the alerts."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from steward.errors import NotFound, StewardError
from steward.monitor import series_figures, stored_report
from steward.server.ui._base import backend_of, file_response, plotly_json, render

router = APIRouter()


@router.get("/deployments/{name}/monitoring", response_class=HTMLResponse, name="ui-monitoring")
def monitoring_page(request: Request, name: str) -> HTMLResponse:
    """Return a deployment's monitoring: the latest run, alerts, series and distributions."""
    backend = backend_of(request)
    crumbs = [
        ("Deployments", str(request.url_for("ui-deployments"))),
        (name, str(request.url_for("ui-deployment", name=name))),
        ("monitoring", None),
    ]
    try:
        backend.get_deployment(name)
        runs = backend.list_monitor_runs(name, 20)
        series = backend.get_monitor_series(name, "", 0.0)
        alerts = backend.list_alerts(name)
    except NotFound as exc:
        return render(
            request,
            "monitoring.html",
            "Not found",
            section="deployments",
            crumbs=crumbs,
            problem=exc.message,
        )
    latest: dict[str, Any] | None = None
    if runs and runs[0].result_sha256:
        try:
            latest = json.loads(backend.blobs.read_bytes(runs[0].result_sha256))
        except StewardError:
            latest = None
    charts = [
        {"id": f"series-{i}", "title": title, "json": plotly_json(figure)}
        for i, (title, figure) in enumerate(series_figures(series).items())
    ]
    overlays = []
    for v in (latest or {}).get("versions", []):
        for i, o in enumerate(v.get("overlays", [])):
            figure = {
                "data": [
                    {
                        "type": "bar",
                        "name": "training reference",
                        "x": o["labels"],
                        "y": o["reference"],
                    },
                    {"type": "bar", "name": "latest window", "x": o["labels"], "y": o["current"]},
                ],
                "layout": {
                    "barmode": "group",
                    "height": 260,
                    "title": {"text": f"{o['feature']}{' (drifted)' if o['drifted'] else ''}"},
                },
            }
            overlays.append(
                {
                    "id": f"overlay-{v['label']}-{i}".replace("/", "-"),
                    "json": plotly_json(figure),
                    "feature": o["feature"],
                    "drifted": o["drifted"],
                }
            )
    return render(
        request,
        "monitoring.html",
        f"Monitoring · {name}",
        heading=f"Monitoring — {name}",
        section="deployments",
        crumbs=crumbs,
        name=name,
        runs=runs,
        latest=latest,
        alerts=alerts,
        charts=charts,
        overlays=overlays,
        report_url=lambda run_id: str(request.url_for("ui-monitoring-report", run_id=run_id)),
    )


@router.get("/monitoring/runs/{run_id}/report", name="ui-monitoring-report")
def monitoring_report(request: Request, run_id: int) -> Response:
    """Return a monitoring run's stored HTML report (sandboxed: it is generated content)."""
    backend = backend_of(request)
    try:
        run = backend.get_monitor_run(run_id)
        found = stored_report(run.deployment, run_id, backend=backend)
    except StewardError as exc:
        return render(
            request,
            "monitoring.html",
            "Report not available",
            section="deployments",
            problem=exc.message,
        )
    return file_response(f"monitoring-{run_id}.html", found.html.encode())


@router.get("/alerts", response_class=HTMLResponse, name="ui-alerts")
def alerts_page(request: Request) -> HTMLResponse:
    """Return every alert, newest first, each linking to the report that raised it."""
    found = backend_of(request).list_alerts(None, None, 500)
    return render(
        request,
        "alerts.html",
        "Alerts",
        section="deployments",
        alerts=found,
        report_url=lambda run_id: str(request.url_for("ui-monitoring-report", run_id=run_id)),
    )
