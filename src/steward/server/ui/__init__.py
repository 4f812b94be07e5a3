"""The web UI: server-rendered pages over the same backend as the HTTP API."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from steward.server.ui import (
    _audit,
    _comparison,
    _datasets,
    _deployments,
    _governance,
    _home,
    _iterate,
    _lineage,
    _login,
    _models,
    _monitoring,
    _retraining,
    _run,
    _runs,
)
from steward.server.ui._base import HERE


def mount_ui(app: FastAPI) -> None:
    """Add the web UI under /ui (and redirect / to it)."""
    import plotly

    plotly_js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"

    @app.get("/ui/static/plotly.min.js", include_in_schema=False)
    def plotly_script() -> FileResponse:
        return FileResponse(plotly_js, media_type="text/javascript")

    app.mount("/ui/static", StaticFiles(directory=HERE / "static"), name="ui-static")
    for module in (
        _home,
        _runs,
        _run,
        _datasets,
        _models,
        _deployments,
        _comparison,
        _monitoring,
        _retraining,
        _iterate,
        _login,
        _lineage,
        _audit,
        _governance,
    ):
        app.include_router(module.router, prefix="/ui", include_in_schema=False)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/ui/")
