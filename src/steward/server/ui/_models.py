"""Placeholder while the page is written."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter()


@router.get("/models", response_class=HTMLResponse, name="ui-models")
def models_page() -> HTMLResponse:
    return HTMLResponse("")


@router.get("/models/{name}", response_class=HTMLResponse, name="ui-model")
def model_page(name: str) -> HTMLResponse:
    return HTMLResponse(name)
