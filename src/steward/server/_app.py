"""The team server: the operation routes, blob routes, errors as JSON, offline API docs."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware

from steward._backend import Backend, SqlBackend
from steward._version import __version__
from steward.server._auth import SESSION_HOURS, Guard, guard_request, session_secret
from steward.server._blobs import blob_router
from steward.server._routes import operation_router
from steward.server.ui import mount_ui
from steward.web import install_steward_errors, mount_docs

API = "/api/v1"


def create_app(backend: Backend | None = None, *, require_auth: bool = False) -> FastAPI:
    """Return the ASGI app of the team server over ``backend`` (default: the settings' store).

    Callers authenticate once the store has users (or with ``require_auth``).
    """
    if backend is None:
        from steward.config import load_settings

        settings = load_settings()
        backend = SqlBackend.open(settings.store_uri, settings.artifact_uri)
    app = FastAPI(
        title="Steward",
        version=__version__,
        description="The Steward team server: every tracking operation over HTTP.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.backend = backend
    app.include_router(operation_router(backend), prefix=API)
    app.include_router(blob_router(backend), prefix=API)
    mount_docs(app, "Steward API")
    mount_ui(app)
    _install_error_handlers(app)

    guard = Guard(backend, require=require_auth)
    app.state.guard = guard

    @app.middleware("http")
    async def authenticate(request: Request, call_next: Any) -> Any:
        return await guard_request(request, call_next, guard)

    # Added after the guard so that it wraps it: the guard reads the session it decodes.
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(),
        session_cookie="steward_session",
        max_age=SESSION_HOURS * 3600,
        same_site="strict",
        https_only=False,
    )

    @app.get("/health", tags=["server"], summary="Liveness and the store in use")
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    return app


def _install_error_handlers(app: FastAPI) -> None:
    install_steward_errors(app)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors():
            where = ".".join(str(x) for x in err.get("loc", ()) if x != "body")
            problems.append(f"{where or 'request'}: {err.get('msg')}")
        message = "The request is not valid: " + "; ".join(problems[:10])
        body = {
            "error": {
                "code": "invalid_input",
                "message": message,
                "details": {"problems": problems},
            }
        }
        return JSONResponse(body, status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        code = "not_found" if exc.status_code == 404 else "invalid_input"
        body = {"error": {"code": code, "message": str(exc.detail)}}
        return JSONResponse(body, status_code=exc.status_code)

    @app.exception_handler(OperationalError)
    async def database_error(_request: Request, exc: OperationalError) -> JSONResponse:
        body = {
            "error": {
                "code": "server_unavailable",
                "message": f"The metadata store is unavailable: {exc.orig}",
            }
        }
        return JSONResponse(body, status_code=503)
