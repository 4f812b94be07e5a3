"""What every Steward web app shares: offline API docs and errors as JSON.

The team server and each serving process are FastAPI apps; both serve Swagger UI from
the swagger-ui-bundle package (never a CDN: machines may be offline) and answer a
StewardError with its status and a JSON body.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from steward.errors import StewardError


def mount_docs(app: FastAPI, title: str) -> None:
    """Serve the app's OpenAPI page at ``/docs`` with Swagger UI from the package."""
    import swagger_ui_bundle

    static = Path(swagger_ui_bundle.swagger_ui_path)
    app.mount("/static/swagger", StaticFiles(directory=static), name="swagger")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=title,
            swagger_js_url="/static/swagger/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger/swagger-ui.css",
            swagger_favicon_url="/static/swagger/favicon-32x32.png",
        )


def error_response(exc: StewardError) -> JSONResponse:
    """Return the JSON response for an error: its status, code, message and details."""
    return JSONResponse(exc.to_dict(), status_code=exc.http_status)


def install_steward_errors(app: FastAPI) -> None:
    """Answer every StewardError raised by a route with :func:`error_response`."""

    @app.exception_handler(StewardError)
    async def steward_error(_request: Request, exc: StewardError) -> JSONResponse:
        return error_response(exc)
