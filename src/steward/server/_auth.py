"""Authentication and authorization on the team server.

With no users in the store (and no ``--require-auth``), the server trusts its network as
before: the client names itself in ``X-Steward-User``, which keeps local and single-team
setups working without setup. Once a user exists, every request needs a user token
(``Authorization: Bearer stu_...``) or, for the web UI, a signed session cookie from
``/ui/login``; the principal's roles then decide each operation (see
:mod:`steward.govern._access`). Failed attempts are counted per client address: past
``MAX_FAILURES`` in ``FAILURE_WINDOW`` seconds the address gets 429s, which makes
guessing tokens or passwords hopeless.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from steward.config import load_settings
from steward.context import current_roles
from steward.errors import StewardError
from steward.govern import Principal, action_of, allows
from steward.store import current_actor

MAX_FAILURES = 10
FAILURE_WINDOW = 60.0
USERS_TTL = 5.0
SESSION_HOURS = 8
PUBLIC = ("/health", "/docs", "/openapi.json", "/static/", "/ui/static/", "/ui/login", "/favicon")


class Guard:
    """The server's authentication state: whether it is on, sessions, failed attempts."""

    def __init__(self, backend: Any, *, require: bool = False) -> None:
        self.backend = backend
        self.require = require
        self._users = (0, 0.0)
        self._failures: dict[str, deque[float]] = {}
        self._principals: dict[str, tuple[Principal | None, float]] = {}
        self._lock = threading.Lock()

    def session_principal(self, name: str) -> Principal | None:
        """Return a session user's current roles (None once disabled or deleted).

        Looked up again every ``USERS_TTL`` seconds, so a revoked role or a disabled user
        stops working within seconds, not when the session cookie expires.
        """
        found, checked = self._principals.get(name, (None, 0.0))
        if time.monotonic() - checked > USERS_TTL:
            try:
                user = self.backend.get_user(name)
                found = (
                    None
                    if user.disabled
                    else Principal(name=user.name, roles={k: set(v) for k, v in user.roles.items()})
                )
            except StewardError:
                found = None
            self._principals[name] = (found, time.monotonic())
        return found

    def enabled(self) -> bool:
        """Return True when callers must authenticate (users exist, or it was required)."""
        if self.require:
            return True
        count, checked = self._users
        if time.monotonic() - checked > USERS_TTL:
            count = self.backend.count_users()
            self._users = (count, time.monotonic())
        return count > 0

    def blocked(self, client: str) -> bool:
        """Return True when this address failed too often lately."""
        with self._lock:
            recent = self._failures.get(client)
            if not recent:
                return False
            while recent and recent[0] < time.monotonic() - FAILURE_WINDOW:
                recent.popleft()
            return len(recent) >= MAX_FAILURES

    def failed(self, client: str) -> None:
        """Count one failed attempt from this address."""
        with self._lock:
            self._failures.setdefault(client, deque()).append(time.monotonic())


def session_secret() -> str:
    """Return the key that signs UI sessions: STEWARD_SECRET_KEY, else one kept in the home."""
    import os

    given = os.environ.get("STEWARD_SECRET_KEY")
    if given:
        return given
    path = Path(load_settings().home) / "server-secret"
    if path.is_file():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    path.write_text(secret)
    path.chmod(0o600)
    return secret


def _public(path: str) -> bool:
    return (
        path == "/"
        or any(path == p or path.startswith(p) for p in PUBLIC if p.endswith("/"))
        or path in PUBLIC
    )


def principal_of(request: Request, guard: Guard) -> tuple[Principal | None, str]:
    """Return who the request is from (a bearer token, else the UI session), or why not."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return guard.backend.authenticate_token(header[7:].strip())  # type: ignore[no-any-return]
    session = request.scope.get("session") or {}
    if session.get("user") and session.get("expires", 0) > time.time():
        found = guard.session_principal(str(session["user"]))
        if found is None:
            return None, f"user {session['user']!r} is disabled or no longer exists"
        return found, ""
    if session.get("user"):
        return None, "your session expired; log in again"
    return None, "no credentials: send 'Authorization: Bearer <token>' (a user token)"


async def guard_request(request: Request, call_next: Any, guard: Guard) -> Response:
    """Authenticate the request (when the server requires it) and run it as its principal."""
    path = request.url.path
    client = request.client.host if request.client else "unknown"
    if not guard.enabled():
        actor = current_actor.set(request.headers.get("x-steward-user") or "anonymous")
        try:
            return await call_next(request)  # type: ignore[no-any-return]
        finally:
            current_actor.reset(actor)
    if _public(path):
        return await call_next(request)  # type: ignore[no-any-return]
    if guard.blocked(client):
        return _refuse(
            request,
            429,
            "too_many_attempts",
            "Too many failed attempts from this address; wait a minute.",
        )
    # The store is read off the event loop: one slow lookup must not stall every request.
    principal, reason = await run_in_threadpool(principal_of, request, guard)
    if principal is None:
        if request.headers.get("authorization"):
            guard.failed(client)
        return _refuse(request, 401, "unauthorized", f"Authentication needed: {reason}.")
    actor = current_actor.set(principal.name)
    roles = current_roles.set(principal.roles)
    request.state.principal = principal
    try:
        return await call_next(request)  # type: ignore[no-any-return]
    finally:
        current_actor.reset(actor)
        current_roles.reset(roles)


def _refuse(request: Request, status: int, code: str, message: str) -> Response:
    if request.url.path.startswith("/ui/") and request.method == "GET" and status == 401:
        return RedirectResponse(f"/ui/login?next={request.url.path}", status_code=303)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status, headers=headers
    )


def authorize(operation: str, method: str, project: str | None) -> None:
    """Refuse (403) an operation the acting principal's roles do not allow."""
    from steward.errors import PermissionDenied

    roles = current_roles.get()
    if roles is None:  # trusted mode: no users
        return
    action = action_of(operation, method)
    if not allows(roles, action, project):
        where = f" on project {project!r}" if project else ""
        held = sorted({f"{r}@{p}" for p, names in roles.items() for r in names}) or ["none"]
        raise PermissionDenied(
            f"{current_actor.get()!r} may not {operation} (it needs the {action!r} right"
            f"{where}); their roles: {', '.join(held)}. Ask an admin for a role that allows it."
        )
