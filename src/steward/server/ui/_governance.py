"""Sign-off and validation pages of a model version: request a review, approve or reject
with a comment (the four-eyes rule shown, not only enforced), what the project's policy
still asks before production, and the validation gate's results with their evidence."""

from __future__ import annotations

import json
from typing import Literal
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from steward.errors import InvalidInput, NotFound, StewardError
from steward.govern import gate_status
from steward.server._auth import authorize
from steward.server.ui._base import backend_of, can, file_response, render, viewer

router = APIRouter()


def _crumbs(request: Request, name: str, version: int, page: str) -> list[tuple[str, str | None]]:
    return [
        ("Models", str(request.url_for("ui-models"))),
        (name, str(request.url_for("ui-model", name=name))),
        (
            f"version {version}",
            str(request.url_for("ui-model-version", name=name, version=str(version))),
        ),
        (page, None),
    ]


@router.get("/models/{name}/{version}/signoffs", response_class=HTMLResponse, name="ui-signoffs")
def signoffs_page(request: Request, name: str, version: int) -> HTMLResponse:
    """Return a version's reviews and sign-offs, and the forms the viewer may use."""
    return _signoffs(request, name, version)


def _signoffs(
    request: Request, name: str, version: int, problem: str = "", status_code: int = 200
) -> HTMLResponse:
    backend = backend_of(request)
    crumbs = _crumbs(request, name, version, "sign-offs")
    try:
        status = backend.get_signoff_status(name, version)
        with backend.store.read() as conn:
            project, policy, missing = gate_status(conn, name, version)
    except NotFound as exc:
        return render(
            request,
            "signoffs.html",
            "Not found",
            section="models",
            crumbs=crumbs,
            problem=exc.message,
            status_code=404,
        )
    me = viewer(request)
    decided = next((s for s in status.signoffs if s.reviewer == me), None)
    return render(
        request,
        "signoffs.html",
        f"Sign-offs · {name} v{version}",
        heading=f"Sign-offs — {name} version {version}",
        section="models",
        crumbs=crumbs,
        name=name,
        number=version,
        status=status,
        project=project,
        policy=policy,
        missing=missing,
        me=me,
        own=me in status.trained_by,
        decided=decided,
        may_review=can(request, "review", project),
        may_request=can(request, "request_review", project),
        problem=problem,
        status_code=status_code,
    )


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body()).decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(body).items()}


@router.post("/models/{name}/{version}/signoffs", name="ui-signoff-submit")
async def signoff_submit(request: Request, name: str, version: int) -> Response:
    """Record the viewer's approval or rejection (the server checks the role and the rule)."""
    form = await _form(request)
    backend = backend_of(request)
    try:
        with backend.store.read() as conn:
            project, _, _ = gate_status(conn, name, version)
        authorize("sign_off", "POST", project)
        decision: Literal["approve", "reject"] = (
            "approve" if form.get("decision") == "approve" else "reject"
        )
        if form.get("decision") not in ("approve", "reject"):
            raise InvalidInput("Choose approve or reject.")
        backend.sign_off(
            name, version, decision, form.get("comment", ""), form.get("role", "reviewer")
        )
    except StewardError as exc:
        return _signoffs(request, name, version, exc.message, exc.http_status)
    return RedirectResponse(
        str(request.url_for("ui-signoffs", name=name, version=str(version))), status_code=303
    )


@router.post("/models/{name}/{version}/reviews", name="ui-review-submit")
async def review_submit(request: Request, name: str, version: int) -> Response:
    """Ask reviewers to look at the version."""
    form = await _form(request)
    backend = backend_of(request)
    try:
        with backend.store.read() as conn:
            project, _, _ = gate_status(conn, name, version)
        authorize("request_review", "POST", project)
        backend.request_review(name, version, form.get("note", ""))
    except StewardError as exc:
        return _signoffs(request, name, version, exc.message, exc.http_status)
    return RedirectResponse(
        str(request.url_for("ui-signoffs", name=name, version=str(version))), status_code=303
    )


@router.get(
    "/models/{name}/{version}/validation", response_class=HTMLResponse, name="ui-validation"
)
def validation_page(request: Request, name: str, version: int) -> HTMLResponse:
    """Return the version's validation gate runs, the latest with each check's evidence."""
    backend = backend_of(request)
    crumbs = _crumbs(request, name, version, "validation")
    try:
        runs = backend.list_validations(name, version)
        current = backend.get_model_version(name, version).manifest_sha256
    except NotFound as exc:
        return render(
            request,
            "validation.html",
            "Not found",
            section="models",
            crumbs=crumbs,
            problem=exc.message,
            status_code=404,
        )
    latest = None
    if runs and runs[0].result_sha256:
        try:
            latest = json.loads(backend.blobs.read_bytes(runs[0].result_sha256))
        except StewardError:
            latest = None
    return render(
        request,
        "validation.html",
        f"Validation · {name} v{version}",
        heading=f"Validation gate — {name} version {version}",
        section="models",
        crumbs=crumbs,
        name=name,
        number=version,
        runs=runs,
        latest=latest,
        current=current,
        report_url=lambda vid: str(request.url_for("ui-validation-report", validation_id=str(vid))),
    )


@router.get("/validations/{validation_id}/report", name="ui-validation-report")
def validation_report(request: Request, validation_id: int) -> Response:
    """Return a validation's stored HTML report (sandboxed: it is generated content)."""
    backend = backend_of(request)
    try:
        found = backend.get_validation(validation_id)
        if not found.report_sha256:
            raise NotFound(f"Validation {validation_id} kept no report.")
        content = backend.blobs.read_bytes(found.report_sha256)
    except StewardError as exc:
        return render(
            request,
            "validation.html",
            "Not found",
            section="models",
            problem=exc.message,
            status_code=404,
        )
    return file_response(f"validation-{validation_id}.html", content)
