"""The auditor's view: the audit log with filters, and whether its hash chain holds."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from steward.errors import StewardError
from steward.govern import AuditEvent, AuditVerification, audit_report
from steward.server.ui._base import backend_of, render

router = APIRouter()
PAGE = 100
VERIFY_ROWS = 100_000  # up to this many rows the page verifies the whole chain on each visit
EXPORT_ROWS = 100_000
FILTERS = ("actor", "action", "entity_type", "entity_id", "start", "end")


def _day(text: str, *, end: bool = False) -> float | None:
    """Return the Unix time of a 'YYYY-MM-DD' (UTC) day's start, or of the next day's for ``end``."""
    if not text:
        return None
    day = dt.date.fromisoformat(text)
    if end:
        day += dt.timedelta(days=1)
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()


def _filters(request: Request) -> dict[str, str]:
    return {k: request.query_params.get(k, "").strip() for k in FILTERS}


def _query(filters: dict[str, str]) -> dict[str, Any]:
    """Return the export_audit arguments the page's filters ask for."""
    return {
        "actor": filters["actor"] or None,
        "action": filters["action"] or None,
        "entity_type": filters["entity_type"] or None,
        "entity_id": filters["entity_id"] or None,
        "start": _day(filters["start"]),
        "end": _day(filters["end"], end=True),
    }


@router.get("/audit", response_class=HTMLResponse, name="ui-audit")
def audit_page(request: Request, before: int = 0, verify: bool = False) -> HTMLResponse:
    """Return the audit log, newest first, filtered, with the chain's verification status."""
    backend = backend_of(request)
    filters = _filters(request)
    context: dict[str, Any] = {"section": "audit", "filters": filters, "crumbs": [("Audit", None)]}
    try:
        query = _query(filters)
    except ValueError:
        return render(
            request,
            "audit.html",
            "Audit log",
            problem="Dates are written YYYY-MM-DD, as in 2026-11-01.",
            status_code=400,
            **context,
        )
    try:
        rows = backend.export_audit(after_id=before, limit=PAGE + 1, newest_first=True, **query)
    except StewardError as exc:
        return render(
            request,
            "audit.html",
            "Audit log",
            problem=exc.message,
            status_code=exc.http_status,
            **context,
        )
    head = backend.export_audit(limit=1, newest_first=True)
    total_hint = head[0].id if head else 0
    verification: AuditVerification | None = None
    if verify or total_hint <= VERIFY_ROWS:
        verification = backend.verify_audit()
    broken = {p.row_id for p in verification.problems} if verification else set()
    shown = rows[:PAGE]
    older = shown[-1].id if len(rows) > PAGE else None
    params = {k: v for k, v in filters.items() if v}
    return render(
        request,
        "audit.html",
        "Audit log",
        heading="Audit log",
        verification=verification,
        broken=broken,
        events=[{"event": e, "payload": json.dumps(e.payload, sort_keys=True)} for e in shown],
        older_url=str(request.url_for("ui-audit").include_query_params(**params, before=older))
        if older
        else None,
        newest_url=str(request.url_for("ui-audit").include_query_params(**params))
        if before
        else None,
        export_url=lambda fmt: str(
            request.url_for("ui-audit-export").include_query_params(**params, format=fmt)
        ),
        filtered=bool(params),
        **context,
    )


@router.get("/audit/export", name="ui-audit-export")
def audit_export(request: Request, format: str = "html") -> Response:
    """Return the filtered audit log as a report file (HTML, JSON or CSV) to download."""
    backend = backend_of(request)
    fmt = format if format in ("html", "json", "csv") else "html"
    filters = _filters(request)
    try:
        query = _query(filters)
    except ValueError:
        return Response("Dates are written YYYY-MM-DD.", status_code=400, media_type="text/plain")
    events: list[AuditEvent] = []
    after = 0
    while len(events) < EXPORT_ROWS:
        page = backend.export_audit(after_id=after, limit=10_000, **query)
        events.extend(page)
        if len(page) < 10_000:
            break
        after = page[-1].id
    report = audit_report(
        events,
        backend.verify_audit(),
        start=query["start"],
        end=query["end"],
        fmt=fmt,  # type: ignore[arg-type]
        filters={k: v for k, v in filters.items() if v and k not in ("start", "end")},
    )
    media = {"html": "text/html", "json": "application/json", "csv": "text/csv"}[fmt]
    headers = {"Content-Disposition": f'attachment; filename="audit.{fmt}"'}
    return Response(report, media_type=f"{media}; charset=utf-8", headers=headers)
