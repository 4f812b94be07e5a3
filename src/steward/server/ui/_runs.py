"""The runs table: filter (the search_runs language), sort, choose columns, page, compare."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import plotly.graph_objects as go
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from steward.errors import InvalidInput
from steward.server.ui._base import backend_of, plotly_json, render

router = APIRouter()
PAGE = 50
DEFAULT_COLUMNS = 6


@router.get("/runs", response_class=HTMLResponse, name="ui-runs")
def runs_page(
    request: Request,
    project: str | None = None,
    experiment: str | None = None,
    filter: str = "",
    order: str = "",
    page: int = Query(1, ge=1),
    cols: list[str] = Query(default_factory=list),
) -> HTMLResponse:
    """Return the runs table for a project/experiment, filtered, sorted and paged."""
    backend = backend_of(request)
    experiments = [experiment] if experiment else None
    keys = backend.list_run_keys(project=project, experiments=experiments)
    available = [f"metrics.{k}" for k in keys.metrics] + [f"params.{k}" for k in keys.params]
    columns = [c for c in cols if c in available] or _default_columns(keys.metrics, keys.params)
    error = None
    runs: list[Any] = []
    total = 0
    try:
        order_by = [order] if order else None
        found = backend.search_runs(
            filter=filter,
            project=project,
            experiments=experiments,
            order_by=order_by,
            max_results=PAGE,
            page_token=_token(page),
        )
        runs = found.runs
        total = backend.count_runs(filter=filter, project=project, experiments=experiments)
    except InvalidInput as exc:
        error = exc.message
    base = {"project": project, "experiment": experiment, "filter": filter, "cols": columns}
    chart = _chart(runs, columns) if runs and len(columns) >= 2 else None
    title = experiment or project or "All runs"
    crumbs: list[tuple[str, str | None]] = [("Projects", str(request.url_for("ui-home")))]
    if project:
        crumbs.append((project, f"{request.url_for('ui-runs')}?{urlencode({'project': project})}"))
    crumbs.append((experiment or "runs", None))
    return render(
        request,
        "runs.html",
        f"Runs · {title}",
        heading=f"Runs — {title}",
        section="runs",
        crumbs=crumbs,
        runs=runs,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE)),
        columns=columns,
        available=available,
        project=project,
        experiment=experiment,
        filter=filter,
        order=order,
        error=error,
        link=lambda **changes: _link(request, base | {"order": order, "page": page} | changes),
        sort_link=lambda column: _link(
            request, base | {"order": _next_order(order, column), "page": 1}
        ),
        sort_state=lambda column: _sort_state(order, column),
        chart=plotly_json(chart) if chart else None,
    )


def _token(page: int) -> str | None:
    if page <= 1:
        return None
    import base64
    import json

    return base64.urlsafe_b64encode(json.dumps({"offset": (page - 1) * PAGE}).encode()).decode()


def _default_columns(metrics: list[str], params: list[str]) -> list[str]:
    chosen = [f"metrics.{k}" for k in metrics[:DEFAULT_COLUMNS]]
    chosen += [f"params.{k}" for k in params[: max(0, DEFAULT_COLUMNS - len(chosen))]]
    return chosen


def _link(request: Request, params: dict[str, Any]) -> str:
    query: list[tuple[str, str]] = []
    for key, value in params.items():
        if value in (None, "", []):
            continue
        if isinstance(value, list):
            query += [(key, str(v)) for v in value]
        else:
            query.append((key, str(value)))
    return f"{request.url_for('ui-runs')}?{urlencode(query)}"


def _next_order(order: str, column: str) -> str:
    if order == f"{column} DESC":
        return f"{column} ASC"
    return f"{column} DESC"


def _sort_state(order: str, column: str) -> str:
    if order == f"{column} DESC":
        return "descending"
    if order == f"{column} ASC":
        return "ascending"
    return "none"


def _value(run: Any, column: str) -> Any:
    kind, _, key = column.partition(".")
    if kind == "metrics":
        metric = run.metrics.get(key)
        return metric.value if metric else None
    return run.params.get(key)


def _chart(runs: list[Any], columns: list[str]) -> go.Figure:
    """Return a parallel-coordinates view of the page's runs over the chosen columns."""
    dimensions = []
    for column in columns[:8]:
        values = [_value(run, column) for run in runs]
        numbers = [_as_float(v) for v in values]
        given = [n for v, n in zip(values, numbers, strict=True) if v is not None]
        if given and all(n is not None for n in given):
            dimensions.append(
                {"label": column, "values": [n if n is not None else float("nan") for n in numbers]}
            )
        else:
            labels = sorted({str(v) for v in values})
            index = {label: i for i, label in enumerate(labels)}
            dimensions.append(
                {
                    "label": column,
                    "values": [index[str(v)] for v in values],
                    "tickvals": list(range(len(labels))),
                    "ticktext": labels,
                }
            )
    colour = dimensions[0]["values"] if dimensions else None
    figure = go.Figure(
        go.Parcoords(
            dimensions=dimensions,
            line={"color": colour, "colorscale": "Viridis", "showscale": True},
        )
    )
    figure.update_layout(height=380, margin={"t": 60, "l": 60, "r": 40, "b": 30})
    return figure


def _as_float(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
