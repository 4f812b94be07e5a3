"""Placeholder while the page is written."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter()


@router.get("/runs/{run_id}", response_class=HTMLResponse, name="ui-run")
def run_page(run_id: str) -> HTMLResponse:
    return HTMLResponse(run_id)


@router.get("/compare", response_class=HTMLResponse, name="ui-compare")
def compare_page() -> HTMLResponse:
    return HTMLResponse("")
