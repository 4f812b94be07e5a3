"""Retraining: the pipeline's runs, each with its four steps and the one that stopped it,
and the run's report (new-data checks with plots, champion against challenger)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from steward.errors import NotFound
from steward.server.ui._base import HTML_POLICY, backend_of, render

router = APIRouter()
STEPS = ("validate", "train", "compare", "decide")
OUTCOME_BADGE = {
    "promoted": "ok",
    "review": "warn",
    "stopped": "bad",
    "failed": "bad",
    "running": "",
}


@router.get("/retraining", response_class=HTMLResponse, name="ui-retrainings")
def retrainings_page(request: Request, project: str = "") -> HTMLResponse:
    """Return the retraining runs, newest first, with how each ended and where it stopped."""
    runs = backend_of(request).list_retrainings(project or None, 200)
    return render(
        request,
        "retrainings.html",
        "Retraining",
        section="retraining",
        crumbs=[("Retraining", None)],
        runs=runs,
        project=project,
        badge=OUTCOME_BADGE,
    )


@router.get("/retraining/{retraining_id}", response_class=HTMLResponse, name="ui-retraining")
def retraining_page(request: Request, retraining_id: int) -> HTMLResponse:
    """Return one retraining run: the pipeline's steps, the step that stopped it, the report."""
    crumbs = [("Retraining", str(request.url_for("ui-retrainings"))), (f"#{retraining_id}", None)]
    try:
        run = backend_of(request).get_retraining(retraining_id)
    except NotFound as exc:
        return render(
            request,
            "retraining.html",
            "Retraining run not found",
            section="retraining",
            crumbs=crumbs,
            problem=exc.message,
            status_code=404,
        )
    done = {s.step: s for s in run.steps}
    pipeline = [
        {
            "step": name,
            "status": done[name].status if name in done else "not run",
            "stopped": run.stopped_at == name,
        }
        for name in STEPS
    ]
    return render(
        request,
        "retraining.html",
        f"Retraining #{run.id} · {run.model}",
        heading=f"Retraining #{run.id} of {run.model}",
        section="retraining",
        crumbs=crumbs,
        run=run,
        pipeline=pipeline,
        badge=OUTCOME_BADGE,
        version_url=lambda uri: _version_url(request, uri),
    )


@router.get("/retraining/{retraining_id}/report", name="ui-retraining-report")
def retraining_report(request: Request, retraining_id: int) -> Response:
    """Return a run's HTML report, sandboxed like every stored HTML the UI shows."""
    backend = backend_of(request)
    try:
        run = backend.get_retraining(retraining_id)
    except NotFound as exc:
        return Response(exc.message, status_code=404, media_type="text/plain")
    if not run.report_sha256:
        return Response(
            f"Retraining run {retraining_id} has no report yet ({run.status}).",
            status_code=404,
            media_type="text/plain",
        )
    html = backend.blobs.read_bytes(run.report_sha256)
    headers = {"Content-Security-Policy": HTML_POLICY, "X-Content-Type-Options": "nosniff"}
    return Response(html, media_type="text/html; charset=utf-8", headers=headers)


def _version_url(request: Request, uri: str | None) -> str | None:
    if not uri or not uri.startswith("models:/"):
        return None
    name, _, version = uri.removeprefix("models:/").partition("/")
    if not version.isdigit():
        return None
    return str(request.url_for("ui-model-version", name=name, version=version))
