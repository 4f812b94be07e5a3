"""HTTP routes generated from the operation table: a thin mapping, nothing re-implemented."""

from __future__ import annotations

import inspect
from typing import Any

from fastapi import APIRouter, Query
from pydantic import create_model

from steward._backend import OPERATIONS, Backend
from steward._operations import Operation


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
        )
    return router


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
        return method(**kwargs)

    endpoint.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    endpoint.__name__ = op.name
    response = hints.get("return")
    return endpoint, (None if response is type(None) else response)
