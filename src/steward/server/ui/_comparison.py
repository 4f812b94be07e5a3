"""The Comparison page: what a deployment serves (the champion) against a challenger.

Both score the same labeled rows through :func:`steward.iterate.compare_models`: each
metric's difference with its paired bootstrap interval, McNemar's p for accuracy, the
primary metric by segment, how often the two agree, and the verdict with its reasons.
The challenger defaults to what the deployment already tries beside its champion (a
shadow route, another A/B or bandit arm), else the model's newest other version.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from steward._backend import Backend
from steward.context import get_backend, set_backend
from steward.develop import DatasetVersion
from steward.errors import InvalidInput, StewardError
from steward.iterate import Comparison, compare_models
from steward.registry import ModelVersion, get_model_version
from steward.serve import Deployment
from steward.server.ui._base import backend_of, plotly_json, render

router = APIRouter()
_swap = threading.Lock()
ZERO_LINE: dict[str, Any] = {
    "type": "line",
    "xref": "paper",
    "x0": 0,
    "x1": 1,
    "y0": 0,
    "y1": 0,
    "line": {"dash": "dot", "color": "#57606a", "width": 1},
}


@contextmanager
def _public_api_over(backend: Backend) -> Iterator[None]:
    """Point the public API, which compare_models reads through, at the server's store.

    `steward server --store ...` may serve another store than the settings name, and the
    comparison must load the models and rows of the store this page shows. Comparisons
    take turns; while one runs, the public API of this process reads the server's store.
    """
    with _swap:
        previous = get_backend()
        if previous is backend:
            yield
            return
        set_backend(backend)
        try:
            yield
        finally:
            set_backend(previous)


@router.get("/deployments/{name}/comparison", response_class=HTMLResponse, name="ui-comparison")
def comparison_page(
    request: Request,
    name: str,
    challenger: str = "",
    data: str = "",
    segment: str = "",
    target: str = "",
) -> HTMLResponse:
    """Return the champion a deployment serves against a challenger on the same rows."""
    backend = backend_of(request)
    crumbs = [
        ("Deployments", str(request.url_for("ui-deployments"))),
        (name, str(request.url_for("ui-deployment", name=name))),
        ("comparison", None),
    ]
    page: dict[str, Any] = {
        "section": "deployments",
        "crumbs": crumbs,
        "heading": f"Champion and challenger — {name}",
        "asked": {"challenger": challenger, "data": data, "segment": segment, "target": target},
    }
    try:
        deployment = backend.get_deployment(name)
    except StewardError as exc:
        return render(
            request,
            "comparison.html",
            "Deployment not found",
            problem=exc.message,
            status_code=exc.http_status,
            **page,
        )
    page["deployment"] = deployment
    try:
        with _public_api_over(backend):
            _compare(backend, deployment, page, challenger.strip(), data.strip(), segment, target)
    except StewardError as exc:
        page.update(problem=exc.message, status_code=exc.http_status)
    page["version_url"] = lambda v: str(
        request.url_for("ui-model-version", name=v.model, version=str(v.version))
    )
    return render(request, "comparison.html", f"Comparison · {name}", **page)


def _compare(
    backend: Backend,
    deployment: Deployment,
    page: dict[str, Any],
    challenger: str,
    data: str,
    segment: str,
    target: str,
) -> None:
    """Fill ``page`` with the two versions, the form's choices and the comparison."""
    route = deployment.spec.serving[0]
    champion = get_model_version(route.resolved or route.model)
    page.update(champion=champion, champion_route=route.name)
    page["versions"] = backend.list_model_versions(champion.model)
    dataset = _dataset(backend, data) if data else None
    page["datasets"] = [d.name for d in backend.list_datasets()]
    page["columns"] = _columns(backend, champion, dataset)
    if challenger:
        chosen = get_model_version(_uri(challenger, champion.model))
        page.update(challenger=chosen, why="chosen in the form below")
    else:
        default = _default_challenger(deployment, champion, page["versions"])
        if default is None:
            page["problem"] = (
                f"Nothing to compare {champion.uri} with: the deployment tries no other model "
                f"and {champion.model!r} has no other version. Register another version of "
                "it (or give a challenger, e.g. models:/name/2) to compare."
            )
            return
        uri, page["why"] = default
        page["challenger"] = get_model_version(uri)
    result = compare_models(
        champion.uri,
        page["challenger"].uri,
        data=None if dataset is None else f"{dataset.dataset}@{dataset.version}",
        target=target or None,
        segments=[segment] if segment else None,
    )
    page.update(result=result, charts=_charts(result))


def _uri(text: str, model: str) -> str:
    """Return the URI a challenger names: a version of the champion's model, or a URI."""
    number = text.removeprefix("v")
    if number.isdigit():
        return f"models:/{model}/{int(number)}"
    if text.startswith("models:"):
        return text
    raise InvalidInput(
        f"The challenger must be a version of {model!r} (e.g. 2) or a registered version's "
        f"URI (models:/{model}/2, models:/{model}@candidate); got {text!r}."
    )


def _dataset(backend: Backend, text: str) -> DatasetVersion:
    """Return the registered dataset version ``text`` names (never a file on the server)."""
    name, _, version = text.partition("@")
    number = version.lstrip("v")
    if version and version != "latest" and not number.isdigit():
        raise InvalidInput(
            f"The data must name a registered dataset: 'name', 'name@latest' or 'name@3'; "
            f"got {text!r}."
        )
    return backend.get_dataset_version(name, int(number) if number.isdigit() else 0)


def _columns(backend: Backend, champion: ModelVersion, dataset: DatasetVersion | None) -> list[str]:
    """Return the columns of the rows compared on, for the form to suggest: the dataset
    chosen, else the one compare_models defaults to (the champion's evaluation data)."""
    if dataset is not None:
        return [c.name for c in dataset.columns]
    refs = sorted(champion.manifest.datasets, key=lambda d: d.context != "evaluation")
    if not refs:
        return []
    return [c.name for c in backend.get_dataset_version(refs[0].dataset, refs[0].version).columns]


def _default_challenger(
    deployment: Deployment, champion: ModelVersion, versions: list[ModelVersion]
) -> tuple[str, str] | None:
    """Return the challenger to show first and why: what the deployment tries beside its
    champion (a shadow, another arm), else the newest other version of the model."""
    spec = deployment.spec
    for route in spec.routes:
        if route.shadow:
            return route.resolved or route.model, f"the deployment's shadow route {route.name!r}"
    for route in spec.serving[1:]:
        kind = "A/B" if spec.policy == "ab" else "bandit"
        return route.resolved or route.model, f"the deployment's other {kind} arm {route.name!r}"
    for version in versions:  # newest first
        if version.version != champion.version:
            return version.uri, f"the newest other version of {champion.model!r}"
    return None


def _charts(result: Comparison) -> list[dict[str, Any]]:
    """Return the differences with their intervals, and the primary metric by segment."""
    metrics = result.difference_figure()
    charts = [
        {
            "id": "metrics-chart",
            "json": plotly_json(metrics),
            "summary": "Each metric's difference with its 95% interval as error bars; "
            "the metrics table lists the numbers",
        }
    ]
    if result.segments:
        segments = {
            "data": [
                {
                    "type": "bar",
                    "name": f"{result.primary} difference",
                    "x": [f"{s.column}={s.value}" for s in result.segments],
                    "y": [s.difference for s in result.segments],
                    "customdata": [[s.rows] for s in result.segments],
                    "hovertemplate": "%{x}: %{y:+.4f} on %{customdata[0]} rows<extra></extra>",
                }
            ],
            "layout": {
                "title": {"text": f"{result.primary} difference by segment"},
                "height": 300,
                "shapes": [ZERO_LINE],
                "yaxis": {"zeroline": False, "tickformat": "+.3f"},
                "showlegend": False,
            },
        }
        charts.append(
            {
                "id": "segments-chart",
                "json": plotly_json(segments),
                "summary": f"The {result.primary} difference within each segment; "
                "the segments table lists the numbers",
            }
        )
    return charts
