"""Projects and their business objectives and KPIs, as the public API sees them."""

from __future__ import annotations

from typing import Literal

from steward.context import get_backend
from steward.develop._models import Objective, Project


def create_project(name: str, description: str = "") -> Project:
    """Return the project ``name``, creating it or updating its description."""
    return get_backend().create_project(name, description)


def set_objective(
    name: str,
    definition: str,
    direction: Literal["minimize", "maximize"],
    target: float | None = None,
    *,
    project: str = "default",
    kind: Literal["objective", "kpi"] = "kpi",
    unit: str = "",
) -> Objective:
    """Return the objective or KPI after recording it, e.g. fraud rate minimize to 0.001."""
    return get_backend().set_objective(project, name, definition, direction, target, kind, unit)


def get_objectives(project: str = "default") -> list[Objective]:
    """Return the objectives and KPIs of ``project``."""
    return get_backend().list_objectives(project)
