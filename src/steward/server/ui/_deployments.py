"""Deployments: what each serves, its traffic policy and history, and its live traffic."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from steward.errors import NotFound
from steward.serve import Deployment, Traffic, describe_routes, traffic
from steward.server.ui._base import backend_of, plotly_json, render

router = APIRouter()
WINDOWS = {"15m": 900.0, "1h": 3600.0, "6h": 21600.0, "24h": 86400.0}


@router.get("/deployments", response_class=HTMLResponse, name="ui-deployments")
def deployments_page(request: Request) -> HTMLResponse:
    """Return every deployment with its policy, what it serves and its last hour of traffic."""
    found = backend_of(request).list_deployments()
    rows = [(d, traffic(d, window_seconds=3600.0)) for d in found]
    return render(request, "deployments.html", "Deployments", section="deployments", rows=rows)


@router.get("/deployments/{name}", response_class=HTMLResponse, name="ui-deployment")
def deployment_page(request: Request, name: str, window: str = "1h") -> HTMLResponse:
    """Return a deployment's routes, live traffic (rate, errors, latency, split) and history."""
    backend = backend_of(request)
    crumbs = [("Deployments", str(request.url_for("ui-deployments"))), (name, None)]
    try:
        deployment = backend.get_deployment(name)
        history = backend.get_deployment_history(name)
    except NotFound as exc:
        return render(
            request,
            "deployment.html",
            "Deployment not found",
            section="deployments",
            crumbs=crumbs,
            problem=exc.message,
        )
    seconds = WINDOWS.get(window, 3600.0)
    live = traffic(deployment, window_seconds=seconds)
    return render(
        request,
        "deployment.html",
        f"Deployment · {name}",
        heading=f"Deployment — {name}",
        section="deployments",
        crumbs=crumbs,
        deployment=deployment,
        routes=describe_routes(deployment.spec),
        live=live,
        window=window if window in WINDOWS else "1h",
        windows=list(WINDOWS),
        history=list(reversed(history)),
        charts=_charts(live),
        arms=_arms(deployment),
        version_url=lambda uri: _version_url(request, uri),
    )


def _version_url(request: Request, uri: str) -> str | None:
    if not uri.startswith("models:/"):
        return None
    name, _, version = uri.removeprefix("models:/").partition("/")
    if not version.isdigit():
        return None
    return str(request.url_for("ui-model-version", name=name, version=version))


def _charts(live: Traffic) -> list[dict[str, Any]]:
    if not live.per_minute:
        return []
    routes = sorted({m["route"] for m in live.per_minute})
    rate = {
        "data": [
            {
                "type": "bar",
                "name": route,
                "x": [m["minute"] for m in live.per_minute if m["route"] == route],
                "y": [m["requests"] for m in live.per_minute if m["route"] == route],
            }
            for route in routes
        ],
        "layout": {
            "barmode": "stack",
            "title": {"text": "Requests per minute, by route"},
            "height": 280,
        },
    }
    latency = {
        "data": [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": f"{route} p{q}",
                "x": [m["minute"] for m in live.per_minute if m["route"] == route],
                "y": [m[f"p{q}_ms"] for m in live.per_minute if m["route"] == route],
            }
            for route in routes
            if route != "(refused)"  # refused requests have no latency to show
            for q in (50, 99)
        ],
        "layout": {"title": {"text": "Latency (ms), p50 and p99"}, "height": 280},
    }
    errors = {
        "data": [
            {
                "type": "bar",
                "name": route,
                "x": [m["minute"] for m in live.per_minute if m["route"] == route],
                "y": [m["errors"] for m in live.per_minute if m["route"] == route],
            }
            for route in routes
        ],
        "layout": {"barmode": "stack", "title": {"text": "Errors per minute"}, "height": 240},
    }
    return [
        {
            "id": "rate-chart",
            "json": plotly_json(rate),
            "summary": "Requests per minute by route; the routes table lists the totals",
        },
        {
            "id": "latency-chart",
            "json": plotly_json(latency),
            "summary": "Latency percentiles per minute; the routes table lists them for the whole window",
        },
        {
            "id": "errors-chart",
            "json": plotly_json(errors),
            "summary": "Errors per minute; the summary above gives the error rate",
        },
    ]


def _arms(deployment: Deployment) -> list[dict[str, Any]]:
    spec = deployment.spec
    if spec.policy != "bandit":
        return []
    prior_s, prior_f = spec.bandit.prior_successes, spec.bandit.prior_failures
    out = []
    for route in spec.serving:
        s, f = deployment.arms.get(route.name, (0.0, 0.0))
        a, b = s + prior_s, f + prior_f
        out.append(
            {
                "route": route.name,
                "model": route.resolved or route.model,
                "successes": s,
                "failures": f,
                "mean": a / (a + b),
            }
        )
    return out
