"""The Projects home: objectives and KPIs, recent runs, models and their aliases."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from steward.server.ui._base import backend_of, render

router = APIRouter()


@router.get("/", response_class=HTMLResponse, name="ui-home")
def home(request: Request) -> HTMLResponse:
    """Return the projects page."""
    backend = backend_of(request)
    projects = []
    for project in backend.list_projects():
        recent = backend.search_runs(project=project.name, max_results=5).runs
        projects.append(
            {
                "project": project,
                "objectives": backend.list_objectives(project.name),
                "experiments": backend.list_experiments(project.name),
                "recent": recent,
                "runs": backend.count_runs(project=project.name),
            }
        )
    models = backend.list_registered_models()
    return render(
        request, "home.html", "Projects", section="projects", projects=projects, models=models
    )
