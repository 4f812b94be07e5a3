"""Datasets: their versions, schema, provenance, profile charts, and who used each version."""

from __future__ import annotations

import datetime as dt
import itertools
import math
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from steward._backend import Backend
from steward.develop import DatasetVersion, retention_deadline
from steward.errors import NotFound, StewardError
from steward.server.ui._base import backend_of, plotly_json, render

router = APIRouter()
MAX_CHARTS = 24  # per-column charts on a page; the stats table holds every column
MAX_RUNS = 200  # runs listed as readers of one version
TOP_BARS = 12  # categories a bar chart shows (the profile keeps up to 20)
MODEBAR_REMOVE = [
    "zoom2d",
    "pan2d",
    "select2d",
    "lasso2d",
    "zoomIn2d",
    "zoomOut2d",
    "autoScale2d",
    "resetScale2d",
    "sendChartToCloud",
    "sendDataToCloud",
]


@router.get("/datasets", response_class=HTMLResponse, name="ui-datasets")
def datasets_page(request: Request) -> HTMLResponse:
    """Return every dataset with its latest version."""
    datasets = backend_of(request).list_datasets()
    return render(
        request,
        "datasets.html",
        "Datasets",
        section="datasets",
        datasets=datasets,
    )


@router.get("/datasets/{name}", response_class=HTMLResponse, name="ui-dataset")
def dataset_page(request: Request, name: str) -> HTMLResponse:
    """Return a dataset's versions and the latest version's detail."""
    return _dataset(request, name, None)


@router.get("/datasets/{name}/{version}", response_class=HTMLResponse, name="ui-dataset-version")
def dataset_version_page(request: Request, name: str, version: str) -> HTMLResponse:
    """Return a dataset's versions and one version's schema, provenance, profile and use."""
    return _dataset(request, name, version)


def _dataset(request: Request, name: str, wanted: str | None) -> HTMLResponse:
    backend = backend_of(request)
    try:
        versions = backend.list_dataset_versions(name)
        current = _pick(name, versions, wanted)
    except NotFound as exc:
        page = render(
            request,
            "dataset.html",
            "Dataset not found",
            section="datasets",
            crumbs=[("Datasets", str(request.url_for("ui-datasets"))), (name, None)],
            problem=exc.message,
        )
        page.status_code = exc.http_status
        return page
    crumbs: list[tuple[str, str | None]] = [
        ("Datasets", str(request.url_for("ui-datasets"))),
        (name, str(request.url_for("ui-dataset", name=name)) if wanted else None),
    ]
    if wanted and current:
        crumbs.append((f"version {current.version}", None))
    detail = _detail(request, backend, current) if current else {}
    title = f"{name} v{current.version}" if current else name
    return render(
        request,
        "dataset.html",
        f"Dataset · {title}",
        heading=f"Dataset — {name}",
        section="datasets",
        crumbs=crumbs,
        name=name,
        versions=versions,
        current=current,
        **detail,
    )


def _pick(name: str, versions: list[DatasetVersion], wanted: str | None) -> DatasetVersion | None:
    """Return the version asked for (the latest when none is), or raise NotFound."""
    if wanted is None:
        return versions[0] if versions else None
    known = ", ".join(str(v.version) for v in reversed(versions)) or "none"
    number = int(wanted) if wanted.isdecimal() and len(wanted) <= 9 else None
    found = next((v for v in versions if v.version == number), None)
    if found is None:
        raise NotFound(
            f"Dataset {name!r} has no version {wanted!r}; its versions are {known}. "
            "Pick one from the dataset's page."
        )
    return found


def _detail(request: Request, backend: Backend, version: DatasetVersion) -> dict[str, Any]:
    """Return what the page shows of one version: schema rows, stats, charts, readers."""
    profiled: dict[str, dict[str, Any]] = version.profile.get("columns", {})
    schema = [
        {
            "name": c.name,
            "dtype": c.dtype,
            "kind": profiled.get(c.name, {}).get("kind", "—"),
            "nullable": c.nullable,
            "sensitive": c.sensitive or c.name in version.sensitive_columns,
        }
        for c in version.columns
    ]
    suggested = [
        c
        for c in version.profile.get("suggested_sensitive", [])
        if c not in version.sensitive_columns
    ]
    charts = []
    for n, (column, stats) in enumerate(list(profiled.items())[:MAX_CHARTS]):
        figure, summary = _column_chart(stats)
        if figure is not None:
            charts.append(
                {
                    "id": f"column-{n}",
                    "column": column,
                    "summary": summary,
                    "json": plotly_json(figure),
                }
            )
    # All-zero bars say nothing a sentence cannot: chart missing values only when some are.
    missing = (
        _missing_chart(profiled)
        if any(_finite(s.get("missing_rate")) for s in profiled.values())
        else None
    )
    scan = backend.get_pii_scan(version.dataset, version.version)
    return {
        "scan": scan,
        "flagged": {f.column for f in scan.findings} if scan else set(),
        "deadline": retention_deadline(version.retention, version.created_at),
        "today": dt.datetime.now(dt.UTC).date(),
        "lineage_url": str(
            request.url_for("ui-lineage").include_query_params(
                node=f"dataset:{version.dataset}@{version.version}"
            )
        ),
        "schema": schema,
        "suggested": suggested,
        "stats": [_stats(column, s) for column, s in profiled.items()],
        "charts": charts,
        "more_charts": max(0, len(profiled) - MAX_CHARTS),
        "missing_chart": plotly_json(missing) if missing else None,
        "readers": _readers(request, backend, version),
        "models": _models_trained_on(request, backend, version),
    }


def _layout(height: int, **extra: Any) -> dict[str, Any]:
    # A figure without Plotly's template stays a few hundred bytes, not 7 KB a chart. Its
    # tool bar keeps only "download as PNG": a dozen small charts with ten buttons each
    # would put 120 stops in the keyboard's way, and "share" would upload to Plotly's cloud.
    return {
        "height": height,
        "margin": {"t": 10, "l": 50, "r": 10, "b": 40},
        "bargap": 0.05,
        "showlegend": False,
        "modebar": {"remove": MODEBAR_REMOVE},
        **extra,
    }


def _column_chart(stats: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """Return a column's histogram (numbers) or top-category bars, and a text summary."""
    histogram = stats.get("histogram")
    if histogram and histogram.get("counts"):
        edges = [float(e) for e in histogram["edges"]]
        counts = [int(c) for c in histogram["counts"]]
        bins = list(itertools.pairwise(edges))
        centres = [(a + b) / 2 for a, b in bins]
        widths = [0.95 * (b - a) or 1.0 for a, b in bins]  # a hair of space between bars
        labels = [f"{_short(a)} to {_short(b)}" for a, b in bins]
        figure = {
            "data": [
                {
                    "type": "bar",
                    "x": centres,
                    "y": counts,
                    "width": widths,
                    "customdata": labels,
                    "hovertemplate": "%{customdata}: %{y} rows<extra></extra>",
                    "marker": {"color": "#0b5cad"},
                }
            ],
            "layout": _layout(
                220, xaxis={"title": {"text": "value"}}, yaxis={"title": {"text": "rows"}}
            ),
        }
        summary = f"Histogram of {len(counts)} bins from {_short(edges[0])} to {_short(edges[-1])}"
        return figure, summary
    top = stats.get("top")
    if top:
        shown = top[:TOP_BARS]
        values = [str(t["value"]) for t in shown][::-1]
        counts = [int(t["count"]) for t in shown][::-1]
        figure = {
            "data": [
                {
                    "type": "bar",
                    "orientation": "h",
                    "x": counts,
                    "y": values,
                    "hovertemplate": "%{y}: %{x} rows<extra></extra>",
                    "marker": {"color": "#0b5cad"},
                }
            ],
            "layout": _layout(
                max(160, 60 + 20 * len(shown)),
                margin={"t": 10, "l": 110, "r": 10, "b": 40},
                xaxis={"title": {"text": "rows"}},
                yaxis={"type": "category", "automargin": True},
            ),
        }
        summary = f"Most frequent values: {', '.join(str(t['value']) for t in shown[:5])}"
        return figure, summary
    return None, ""


def _missing_chart(profiled: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Return the share of missing values per column as horizontal bars."""
    columns = list(profiled)[::-1]
    rates = [_finite(profiled[c].get("missing_rate")) for c in columns]
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "x": rates,
                "y": columns,
                "hovertemplate": "%{y}: %{x:.1%} missing<extra></extra>",
                "marker": {"color": "#a40e26"},
            }
        ],
        "layout": _layout(
            max(180, 40 + 18 * len(columns)),
            margin={"t": 10, "l": 110, "r": 20, "b": 40},
            xaxis={"title": {"text": "missing rate"}, "tickformat": ".0%", "rangemode": "tozero"},
            yaxis={"type": "category", "automargin": True},
        ),
    }


def _stats(column: str, stats: dict[str, Any]) -> dict[str, Any]:
    """Return a row of the key-statistics table for one column."""
    quantiles = stats.get("quantiles") or {}
    top = stats.get("top") or []
    return {
        "column": column,
        "kind": stats.get("kind", "—"),
        "missing_rate": stats.get("missing_rate"),
        "distinct": stats.get("distinct"),
        "min": stats.get("min", stats.get("min_length")),
        "median": quantiles.get("0.5"),
        "max": stats.get("max", stats.get("max_length")),
        "top": ", ".join(f"{t['value']} ({t['count']})" for t in top[:3]),
    }


def _readers(request: Request, backend: Backend, version: DatasetVersion) -> list[dict[str, Any]]:
    """Return the runs that read this version, with their names when they still exist."""
    usage = [u for u in backend.get_dataset_usage(version.dataset) if u.version == version.version]
    readers = []
    for use in usage[:MAX_RUNS]:
        status: str
        try:
            run = backend.get_run(use.run_id)
            label, status, started = run.name, run.status, run.start_time
        except StewardError:
            label, status, started = use.run_id[:8], "—", None
        readers.append(
            {
                "url": str(request.url_for("ui-run", run_id=use.run_id)),
                "name": label,
                "id": use.run_id,
                "context": use.context,
                "status": status,
                "started": started,
            }
        )
    return readers


def _models_trained_on(
    request: Request, backend: Backend, version: DatasetVersion
) -> list[dict[str, Any]]:
    """Return the model versions whose manifest records this dataset version.

    A scan over every registered model's versions: fine for a team's registry today; a
    lineage query (dataset version → run → model version) replaces it when one exists.
    """
    found = []
    for model in backend.list_registered_models():
        for mv in backend.list_model_versions(model.name):
            for ref in mv.manifest.datasets:
                if ref.dataset == version.dataset and ref.version == version.version:
                    found.append(
                        {
                            "model": mv.model,
                            "version": mv.version,
                            "context": ref.context,
                            "aliases": mv.aliases,
                            "url": str(
                                request.url_for(
                                    "ui-model-version", name=mv.model, version=str(mv.version)
                                )
                            ),
                        }
                    )
    return found


def _finite(value: Any) -> float:
    number = float(value) if isinstance(value, int | float) else 0.0
    return number if math.isfinite(number) else 0.0


def _short(value: float) -> str:
    return f"{value:.4g}"
