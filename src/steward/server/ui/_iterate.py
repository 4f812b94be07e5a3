"""Live tests of a deployment: its shadow test, its bandit's arms over time, its A/B readout.

Each page reads the deployment's prediction log through the iterate stage's analyses;
a deployment that does not exist, or whose policy the page does not apply to, gets the
reason on the page (404 and 400), never a server error.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from steward.errors import InvalidInput, NotFound, StewardError
from steward.iterate import (
    ABPlan,
    ABReadout,
    BanditAnalysis,
    ShadowAnalysis,
    ab_arms,
    ab_outcomes,
    analyze_ab_test,
    analyze_bandit,
    analyze_shadow,
)
from steward.iterate import Arm as ABArm
from steward.serve import Deployment
from steward.server.ui._base import backend_of, plotly_json, render

router = APIRouter()
WINDOWS = {"all": None, "1h": 3600.0, "24h": 86400.0, "7d": 7 * 86400.0}
COLORS = ["#1c7ed6", "#e8590c", "#2f9e44", "#ae3ec9", "#f08c00", "#0c8599"]


def _crumbs(request: Request, name: str, page: str) -> list[tuple[str, str | None]]:
    return [
        ("Deployments", str(request.url_for("ui-deployments"))),
        (name, str(request.url_for("ui-deployment", name=name))),
        (page, None),
    ]


def _problem(
    request: Request, template: str, title: str, crumbs: Any, exc: StewardError
) -> HTMLResponse:
    return render(
        request,
        template,
        title,
        section="deployments",
        crumbs=crumbs,
        problem=exc.message,
        status_code=exc.http_status,
    )


@router.get("/deployments/{name}/shadow", response_class=HTMLResponse, name="ui-shadow")
def shadow_page(
    request: Request, name: str, window: str = "all", min_requests: int = 200
) -> HTMLResponse:
    """Return a deployment's shadow test: agreement, differences, performance, verdict."""
    crumbs = _crumbs(request, name, "shadow test")
    window = window if window in WINDOWS else "all"
    try:
        deployment = backend_of(request).get_deployment(name)
        result = analyze_shadow(
            deployment, window_seconds=WINDOWS[window], min_requests=min_requests
        )
    except (NotFound, InvalidInput) as exc:
        return _problem(request, "shadow.html", "Shadow test", crumbs, exc)
    return render(
        request,
        "shadow.html",
        f"Shadow test · {name}",
        heading=f"Shadow test — {name}",
        section="deployments",
        crumbs=crumbs,
        result=result,
        window=window,
        windows=list(WINDOWS),
        charts=_shadow_charts(result),
    )


def _shadow_charts(result: ShadowAnalysis) -> dict[str, Any]:
    charts = {}
    for r in result.routes:
        d = r.differences
        if d is None:
            continue
        centers = [(a + b) / 2 for a, b in zip(d.edges[:-1], d.edges[1:], strict=True)]
        figure = {
            "data": [
                {
                    "type": "bar",
                    "x": centers,
                    "y": d.counts,
                    "width": d.edges[1] - d.edges[0],
                    "name": "rows",
                    "marker": {"color": COLORS[0]},
                }
            ],
            "layout": {
                "title": {"text": f"{r.route} - {r.primary_route}: {d.of}, per row"},
                "xaxis": {"title": {"text": f"shadow - primary {d.of}"}, "zeroline": True},
                "yaxis": {"title": {"text": "rows"}},
                "height": 300,
                "bargap": 0.02,
            },
        }
        charts[r.route] = {
            "id": f"differences-{r.route}",
            "json": plotly_json(figure),
            "summary": f"Histogram of the differences of {d.of} between {r.route} and "
            f"{r.primary_route}; the quantiles are listed beside it",
        }
    return charts


@router.get("/deployments/{name}/bandit", response_class=HTMLResponse, name="ui-bandit")
def bandit_page(request: Request, name: str, window: str = "all") -> HTMLResponse:
    """Return a bandit deployment's arms: traffic share and posterior over time, regret."""
    crumbs = _crumbs(request, name, "bandit")
    window = window if window in WINDOWS else "all"
    try:
        deployment = backend_of(request).get_deployment(name)
        result = analyze_bandit(deployment, window_seconds=WINDOWS[window])
    except (NotFound, InvalidInput) as exc:
        return _problem(request, "bandit.html", "Bandit", crumbs, exc)
    return render(
        request,
        "bandit.html",
        f"Bandit · {name}",
        heading=f"Bandit — {name}",
        section="deployments",
        crumbs=crumbs,
        result=result,
        window=window,
        windows=list(WINDOWS),
        charts=_bandit_charts(result),
    )


def _time(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _bandit_charts(result: BanditAnalysis) -> list[dict[str, Any]]:
    if not result.buckets:
        return []
    x = [_time(b.end) for b in result.buckets]
    busy = [i for i, b in enumerate(result.buckets) if b.requests]  # shares need requests
    routes = [a.route for a in result.arms]
    share, posterior = [], []
    for i, route in enumerate(routes):
        color = COLORS[i % len(COLORS)]
        states = [next(a for a in b.arms if a.route == route) for b in result.buckets]
        share.append(
            {
                "type": "scatter",
                "mode": "lines",
                "stackgroup": "share",
                "name": route,
                "x": [x[i] for i in busy],
                "y": [states[i].share for i in busy],
                "line": {"color": color},
            }
        )
        posterior += [
            {
                "type": "scatter",
                "mode": "lines",
                "x": x + x[::-1],
                "y": [s.high for s in states] + [s.low for s in states][::-1],
                "fill": "toself",
                "fillcolor": color,
                "opacity": 0.2,
                "line": {"width": 0},
                "hoverinfo": "skip",
                "name": f"{route} 95% interval",
                "showlegend": False,
            },
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": route,
                "x": x,
                "y": [s.mean for s in states],
                "line": {"color": color},
            },
        ]
    regret = {
        "data": [
            {
                "type": "scatter",
                "mode": "lines",
                "name": "estimated regret",
                "x": x,
                "y": [b.regret for b in result.buckets],
                "line": {"color": COLORS[1]},
            }
        ],
        "layout": {
            "title": {"text": "Cumulative regret (estimate)"},
            "yaxis": {"title": {"text": "rewards lost"}, "rangemode": "tozero"},
            "height": 280,
        },
    }
    return [
        {
            "id": "share-chart",
            "json": plotly_json(
                {
                    "data": share,
                    "layout": {
                        "title": {"text": "Share of traffic per arm"},
                        "legend": {"orientation": "h", "y": -0.3},
                        "yaxis": {"range": [0, 1], "tickformat": ".0%"},
                        "height": 300,
                    },
                }
            ),
            "summary": "Each arm's share of the requests in each slice of time, stacked",
        },
        {
            "id": "posterior-chart",
            "json": plotly_json(
                {
                    "data": posterior,
                    "layout": {
                        "title": {"text": "Posterior mean, 95% interval"},
                        "legend": {"orientation": "h", "y": -0.3},
                        "yaxis": {"range": [0, 1]},
                        "height": 300,
                    },
                }
            ),
            "summary": "Each arm's posterior mean over time with its credible band; the "
            "table lists the final values",
        },
        {
            "id": "regret-chart",
            "json": plotly_json(regret),
            "summary": "Estimated cumulative regret over time; the summary gives its total",
        },
    ]


@router.get("/deployments/{name}/ab", response_class=HTMLResponse, name="ui-ab")
def ab_page(request: Request, name: str, window: str = "all") -> HTMLResponse:
    """Return an A/B deployment's readout: the plan, progress per arm, and the three tests."""
    crumbs = _crumbs(request, name, "A/B test")
    window = window if window in WINDOWS else "all"
    backend = backend_of(request)
    try:
        deployment = backend.get_deployment(name)
        outcomes = ab_outcomes(deployment, window_seconds=WINDOWS[window])
    except (NotFound, InvalidInput) as exc:
        return _problem(request, "ab.html", "A/B test", crumbs, exc)
    try:
        plan: ABPlan | None = backend.get_ab_plan(name)
    except NotFound:
        plan = None
    arms, readout, waiting = _ab_readout(deployment, plan, outcomes)
    return render(
        request,
        "ab.html",
        f"A/B test · {name}",
        heading=f"A/B test — {name}",
        section="deployments",
        crumbs=crumbs,
        deployment=deployment,
        plan=plan,
        outcomes=outcomes,
        arms=arms,
        readout=readout,
        waiting=waiting,
        window=window,
        windows=list(WINDOWS),
    )


def _ab_readout(
    deployment: Deployment, plan: ABPlan | None, outcomes: dict[str, list[float]]
) -> tuple[list[dict[str, Any]], ABReadout | None, str | None]:
    """Return each planned arm's progress, the readout, or why there is none yet."""
    if plan is None:
        return [], None, None
    try:
        a, b = ab_arms(plan, deployment, list(outcomes))
    except InvalidInput as exc:
        return [], None, exc.message
    arms = [
        {
            "label": label,
            "route": route,
            "n": len(outcomes[route]),
            "mean": sum(outcomes[route]) / len(outcomes[route]) if outcomes[route] else None,
            "progress": min(len(outcomes[route]) / plan.per_arm, 1.0),
        }
        for label, route in (("A", a), ("B", b))
    ]
    try:
        readout = analyze_ab_test(plan, ABArm.of(outcomes[a]), ABArm.of(outcomes[b]))
    except InvalidInput as exc:
        return arms, None, f"No readout yet: {exc.message}"
    return arms, readout, None
