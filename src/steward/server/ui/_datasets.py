"""Placeholder while the page is written."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter()


@router.get("/datasets", response_class=HTMLResponse, name="ui-datasets")
def datasets_page() -> HTMLResponse:
    return HTMLResponse("")
