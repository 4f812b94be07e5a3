"""Checks of names and values a user gives, with messages that say how to fix them."""

from __future__ import annotations

import math
import numbers
import re
from typing import Any

from steward.errors import InvalidInput

MAX_NAME = 200
MAX_PARAM_VALUE = 8000
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-/: ]*$")


def check_name(value: Any, what: str) -> str:
    """Return ``value`` if it is a valid entity name (project, experiment, dataset...)."""
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"The {what} name must be a non-empty string; got {value!r}.")
    if len(value) > MAX_NAME or not _NAME.match(value):
        raise InvalidInput(
            f"The {what} name {value!r} is not valid: use letters, digits, '_', '-' and '.', "
            f"starting with a letter or digit, at most {MAX_NAME} characters "
            f"(for example {_suggest(value)!r})."
        )
    return value


def check_key(value: Any, what: str) -> str:
    """Return ``value`` if it is a valid param, metric or tag key."""
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"A {what} key must be a non-empty string; got {value!r}.")
    if len(value) > MAX_NAME or not _KEY.match(value) or ".." in value or value.endswith("/"):
        raise InvalidInput(
            f"The {what} key {value!r} is not valid: use letters, digits, spaces and "
            f"'_ - . / :', no '..', at most {MAX_NAME} characters "
            f"(for example {_suggest(value)!r})."
        )
    return value


def check_metric_value(key: str, value: Any) -> float:
    """Return ``value`` as a float if it is a finite real number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidInput(
            f"Metric {key!r} must be a number; got {value!r} of type {type(value).__name__}. "
            "Log text as a tag or a param instead."
        )
    number = float(value)
    if not math.isfinite(number):
        raise InvalidInput(
            f"Metric {key!r} must be finite; got {number}. A diverged value is better "
            "recorded as a tag (e.g. set_tag('diverged', 'true'))."
        )
    return number


def check_step(key: str, step: Any) -> int:
    """Return ``step`` if it is a non-negative integer."""
    if isinstance(step, bool) or not isinstance(step, numbers.Integral) or int(step) < 0:
        raise InvalidInput(f"The step of metric {key!r} must be an integer >= 0; got {step!r}.")
    return int(step)


def param_value(key: str, value: Any) -> str:
    """Return a param value as the string that is stored."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_PARAM_VALUE:
        raise InvalidInput(
            f"Param {key!r} is {len(text)} characters long; the limit is {MAX_PARAM_VALUE}. "
            "Log long values as an artifact (log_text or log_dict)."
        )
    return text


def check_artifact_path(path: str) -> str:
    """Return ``path`` if it is a clean relative artifact path."""
    parts = path.split("/")
    if not path or path.startswith("/") or "\\" in path or any(x in {"", ".", ".."} for x in parts):
        raise InvalidInput(
            f"The artifact path {path!r} is not valid: use a relative path with '/' "
            "separators and no '.', '..' or empty parts, e.g. 'plots/roc.png'."
        )
    return path


def renamed(value: Any, alias: Any, name: str, alias_name: str) -> Any:
    """Return a parameter's value given under its own name or under MLflow's name for it."""
    if alias is None:
        return value
    if value is not None and value != alias:
        raise InvalidInput(
            f"Pass either {name}= or {alias_name}= (MLflow's name for it), not both; got "
            f"{value!r} and {alias!r}."
        )
    return alias


def _suggest(value: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.\-]+", "-", value.strip()).strip("-.") or "my-name"
    return cleaned[:MAX_NAME]
