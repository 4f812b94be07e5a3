"""Logging in to the web UI: a user token, or a name and a password; sessions signed and
expiring (8 hours); every login (and refusal) is an audited event."""

from __future__ import annotations

import time
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from steward.server._auth import SESSION_HOURS
from steward.server.ui._base import backend_of, render

router = APIRouter()


@router.get("/login", response_class=HTMLResponse, name="ui-login")
def login_page(request: Request, next: str = "/ui/") -> HTMLResponse:
    """Return the login form."""
    return render(request, "login.html", "Log in", next=_safe(next))


@router.post("/login", name="ui-login-submit")
async def login(request: Request) -> Response:
    """Check the token or the name and password, then start a signed session."""
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
    guard = request.app.state.guard
    client = request.client.host if request.client else "unknown"
    backend = backend_of(request)
    next_page = _safe(form.get("next", "/ui/"))
    if guard.blocked(client):
        return render(
            request,
            "login.html",
            "Log in",
            next=next_page,
            problem="Too many failed attempts; wait a minute.",
            status_code=429,
        )
    token, name, password = (
        form.get("token", "").strip(),
        form.get("name", "").strip(),
        form.get("password", ""),
    )
    if token:
        principal, reason = backend.authenticate_token(token)
        method = "token"
    else:
        principal, reason = backend.authenticate_password(name, password)
        method = "password"
    if principal is None:
        guard.failed(client)
        backend.record_login(name or "(token)", method, client, ok=False)
        return render(
            request,
            "login.html",
            "Log in",
            next=next_page,
            problem=f"Not logged in: {reason}.",
            status_code=401,
        )
    request.session.clear()
    # The session names the user only: roles are looked up as requests come (see Guard).
    request.session.update(user=principal.name, expires=time.time() + SESSION_HOURS * 3600)
    backend.record_login(principal.name, method, client, ok=True)
    return RedirectResponse(next_page, status_code=303)


@router.post("/logout", name="ui-logout")
def logout(request: Request) -> Response:
    """End the session."""
    request.session.clear()
    return RedirectResponse("/ui/login", status_code=303)


def _safe(target: str) -> str:
    """Return a local path to go to after logging in (never another site)."""
    return target if target.startswith("/ui/") and "//" not in target else "/ui/"
