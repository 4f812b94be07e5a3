"""The web UI's shared machinery: templates, static files, the viewer seam, page helpers.

Pages are rendered on the server (Jinja2) and readable without JavaScript; a small
script adds sorting links, the column chooser and charts. Plotly's JavaScript is served
from the plotly package installed here, never from a CDN: machines may be offline.
"""

from __future__ import annotations

import datetime as dt
import json
import mimetypes
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from steward._backend import Backend
from steward.govern import allows

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))


def viewer(request: Request) -> str:
    """Return who is looking at the page: the authenticated user, else (a server without
    users) the X-Steward-User header, else 'local' for `steward ui`."""
    principal = getattr(request.state, "principal", None)
    if principal is not None:
        return str(principal.name)
    header = request.headers.get("x-steward-user")
    return header or str(getattr(request.app.state, "ui_user", "local"))


def can(request: Request, action: str, project: str | None = None) -> bool:
    """Return True when the viewer may take ``action`` (pages offer only what they may do)."""
    principal = getattr(request.state, "principal", None)
    if principal is None:
        return True  # a server without users trusts its network
    return allows(principal.roles, action, project)


def backend_of(request: Request) -> Backend:
    """Return the backend the server was started over."""
    backend: Backend = request.app.state.backend
    return backend


def render(request: Request, template: str, title: str, **context: Any) -> HTMLResponse:
    """Return a page rendered with the base layout."""
    status = int(context.pop("status_code", 200))
    context.update(
        request=request,
        title=title,
        user=viewer(request),
        can=lambda action, project=None: can(request, action, project),
        logged_in=getattr(request.state, "principal", None) is not None,
    )
    return templates.TemplateResponse(request, template, context, status_code=status)


FILE_TYPES = {
    ".yaml": "text/plain",
    ".yml": "text/plain",
    ".md": "text/plain",
    ".diff": "text/plain",
    ".pmml": "application/xml",
    ".onnx": "application/octet-stream",
    ".pkl": "application/octet-stream",
}
# Artifacts and attached files are users' content served from the UI's own origin: HTML
# (model cards, Plotly reports) runs its inline scripts in a sandbox, with no network and
# no access to this site; anything else may not run anything at all.
HTML_POLICY = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "script-src 'unsafe-inline'; sandbox allow-scripts"
)
FILE_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; sandbox"


def file_response(path: str, data: bytes) -> Response:
    """Return a user's file (already checked against its hash), typed by its extension and
    served under a sandboxing Content-Security-Policy."""
    suffix = PurePosixPath(path).suffix.lower()
    media = FILE_TYPES.get(suffix) or mimetypes.guess_type(path)[0] or "application/octet-stream"
    if media.startswith("text/"):
        media += "; charset=utf-8"
    headers = {
        "Content-Security-Policy": HTML_POLICY if suffix in {".html", ".htm"} else FILE_POLICY,
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": f"inline; filename*=UTF-8''{quote(PurePosixPath(path).name)}",
    }
    return Response(data, media_type=media, headers=headers)


def plotly_json(figure: Any) -> Markup:
    """Return a Plotly figure as JSON safe to embed in a <script type=application/json>."""
    text = figure.to_json() if hasattr(figure, "to_json") else json.dumps(figure)
    return Markup(text.replace("</", "<\\/"))


def when(timestamp: float | None) -> str:
    """Return a UTC timestamp as 'YYYY-MM-DD HH:MM'."""
    if timestamp is None:
        return "—"
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M")


def duration(start: float, end: float | None) -> str:
    """Return a run's duration, e.g. '3.2 s' or '4 min 10 s'."""
    if end is None:
        return "running"
    seconds = end - start
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def number(value: Any) -> str:
    """Return a metric value with up to 4 significant digits."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def size(value: int) -> str:
    """Return a byte count in human units."""
    amount = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if amount < 1024 or unit == "GB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} GB"


templates.env.filters.update(when=when, number=number, size=size)
templates.env.globals.update(duration=duration)
