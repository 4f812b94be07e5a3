"""HTTP routes generated from the operation table: a thin mapping, nothing re-implemented."""

from __future__ import annotations

import inspect
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import create_model

from steward._backend import OPERATIONS, Backend
from steward._operations import Operation
from steward.errors import StewardError
from steward.server._auth import authorize


def operation_router(backend: Backend) -> APIRouter:
    """Return a router with one route per store operation, each calling ``backend``."""
    router = APIRouter()
    for op in OPERATIONS:
        endpoint, response_model = _endpoint(op, backend)
        router.add_api_route(
            op.path,
            endpoint,
            methods=[op.method],
            name=op.name,
            summary=op.summary,
            description=inspect.getdoc(op.func) or "",
            tags=[op.tag],
            response_model=response_model,
            operation_id=op.name,
            dependencies=[Depends(_precheck(op))],
        )
    return router


def _precheck(op: Operation) -> Any:
    """Return a dependency refusing (403) a caller with the right on no project at all.

    It runs before the request body is read and checked, so a role that may never call
    the operation learns that, not what was wrong with its payload; the endpoint then
    checks the right on the operation's own project.
    """

    def check() -> None:
        authorize(op.name, op.method, None)

    return check


def _endpoint(op: Operation, backend: Backend) -> tuple[Any, Any]:
    hints = op.hints
    parameters: list[inspect.Parameter] = []
    body_fields: dict[str, Any] = {}
    for param in op.parameters:
        annotation = hints[param.name]
        if param.name in op.path_params:
            parameters.append(
                inspect.Parameter(param.name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation)
            )
        elif op.method == "GET":
            default = Query(... if param.default is inspect.Parameter.empty else param.default)
            parameters.append(
                inspect.Parameter(
                    param.name,
                    inspect.Parameter.KEYWORD_ONLY,
                    default=default,
                    annotation=annotation,
                )
            )
        else:
            default = ... if param.default is inspect.Parameter.empty else param.default
            body_fields[param.name] = (annotation, default)
    if body_fields:
        model = create_model(f"{op.name}_request", **body_fields)
        parameters.append(
            inspect.Parameter("body", inspect.Parameter.KEYWORD_ONLY, annotation=model)
        )
    method = getattr(backend, op.name)

    def endpoint(**kwargs: Any) -> Any:
        body = kwargs.pop("body", None)
        if body is not None:
            kwargs.update({name: getattr(body, name) for name in body_fields})
        authorize(op.name, op.method, _project_of(backend, kwargs))
        return method(**kwargs)

    endpoint.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    endpoint.__name__ = op.name
    response = hints.get("return")
    return endpoint, (None if response is type(None) else response)


def _project_of(backend: Backend, arguments: dict[str, Any]) -> str | None:
    """Return the project an operation acts in, when it says (for per-project roles)."""
    project = arguments.get("project") or getattr(arguments.get("start"), "project", None)
    if isinstance(project, str) and project:
        return project
    retraining_id = arguments.get("retraining_id")
    if isinstance(retraining_id, int):
        try:
            return backend.get_retraining(retraining_id).project
        except StewardError:
            return None  # the operation itself says the run does not exist
    run_id = arguments.get("run_id") or getattr(arguments.get("spec"), "run_id", None)
    if isinstance(run_id, str) and run_id:
        try:
            return backend.get_run(run_id).project
        except StewardError:
            return None  # the operation itself says the run does not exist
    return None
