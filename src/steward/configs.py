"""Configs are data: YAML files validated by pydantic models, errors naming key and line.

Deployment specs today, policies and monitor definitions later, all load through
:func:`load_config`, so every config error reads the same way:
``spec.yaml, line 7, routes[1].weight: Input should be greater than or equal to 0``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from steward.errors import InvalidInput, NotFound

M = TypeVar("M", bound=BaseModel)


def load_config(source: str | Path, model: type[M], *, text: str | None = None) -> M:
    """Return the ``model`` a YAML file (or ``text``, named ``source``) describes.

    Raises InvalidInput naming the file, the line and the key of each problem.
    """
    name = str(source)
    if text is None:
        path = Path(source)
        if not path.is_file():
            raise NotFound(f"No config file {name!r}; check the path.")
        text = path.read_text(encoding="utf-8")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InvalidInput(f"{name}{where}: not valid YAML: {problem}.") from exc
    if not isinstance(data, dict):
        raise InvalidInput(
            f"{name}: a config is a YAML mapping (key: value lines); got {type(data).__name__}."
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = list(err.get("loc", ()))
            line = _line(root, loc)
            key = _path(loc) or "(top level)"
            where = f", line {line}" if line else ""
            problems.append(f"{name}{where}, {key}: {err.get('msg')}")
        raise InvalidInput(
            "The config is not valid:\n  " + "\n  ".join(problems[:20]),
            problems=problems,
        ) from exc


def _path(loc: list[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line(node: Any, loc: list[Any]) -> int | None:
    """Return the 1-based line of the deepest YAML node on ``loc`` that exists."""
    found = node
    for part in loc:
        child = None
        if isinstance(found, yaml.MappingNode):
            child = next((v for k, v in found.value if k.value == part), None)
            if child is None:  # a missing key: point at the mapping that lacks it
                break
        elif isinstance(found, yaml.SequenceNode) and isinstance(part, int):
            child = found.value[part] if part < len(found.value) else None
        if child is None:
            break
        found = child
    return found.start_mark.line + 1 if found is not None and found.start_mark else None
