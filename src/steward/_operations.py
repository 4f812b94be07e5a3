"""The operation table: each store operation is declared once, here routed and remoted.

A stage defines an operation as a method of its SQL service class, decorated with
:func:`operation`. The team server turns every declared operation into an HTTP route
(``server/``), and the HTTP client turns the same declaration into a remote call
(``client/``). Arguments and results are JSON-able types or pydantic models, so the
signature alone says how to carry them; nothing is written twice.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar

from pydantic import TypeAdapter

F = TypeVar("F", bound=Callable[..., Any])
_PATH_PARAM = re.compile(r"{(\w+)}")


@dataclass(frozen=True)
class Operation:
    """One operation: its name, HTTP method and path, and the function that does it."""

    name: str
    method: str
    path: str
    func: Callable[..., Any]
    tag: str

    @cached_property
    def hints(self) -> dict[str, Any]:
        """Return the resolved type hints of the operation's function."""
        return typing.get_type_hints(self.func)

    @cached_property
    def parameters(self) -> list[inspect.Parameter]:
        """Return the operation's parameters, without ``self``."""
        params = list(inspect.signature(self.func).parameters.values())
        return [p for p in params if p.name != "self"]

    @cached_property
    def path_params(self) -> list[str]:
        """Return the names of the parameters carried in the URL path."""
        return _PATH_PARAM.findall(self.path)

    @cached_property
    def result(self) -> TypeAdapter[Any]:
        """Return a validator/serializer for the operation's result."""
        return TypeAdapter(self.hints.get("return", Any))

    def adapter(self, name: str) -> TypeAdapter[Any]:
        """Return a validator/serializer for one parameter."""
        return _adapter(self, name)

    @property
    def summary(self) -> str:
        """Return the first line of the function's docstring."""
        return (self.func.__doc__ or self.name).strip().splitlines()[0]


_adapters: dict[tuple[str, str], TypeAdapter[Any]] = {}


def _adapter(op: Operation, name: str) -> TypeAdapter[Any]:
    key = (op.name, name)
    if key not in _adapters:
        _adapters[key] = TypeAdapter(op.hints[name])
    return _adapters[key]


def operation(method: str, path: str, *, tag: str) -> Callable[[F], F]:
    """Mark a service method as a store operation served at ``method path``."""

    def mark(func: F) -> F:
        func.__steward_operation__ = (method.upper(), path, tag)  # type: ignore[attr-defined]
        return func

    return mark


def operations_of(cls: type) -> list[Operation]:
    """Return every operation declared on ``cls`` and its bases, in definition order."""
    found: dict[str, Operation] = {}
    for klass in reversed(cls.__mro__):
        for name, func in vars(klass).items():
            marker = getattr(func, "__steward_operation__", None)
            if marker:
                method, path, tag = marker
                found[name] = Operation(name=name, method=method, path=path, func=func, tag=tag)
    return list(found.values())
