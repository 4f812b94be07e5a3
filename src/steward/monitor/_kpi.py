"""Business KPIs from logged predictions and their labels, against a baseline rule.

A KPI is a per-row expression (pandas' expression language, so a config file cannot run
arbitrary code) aggregated over the window, or a Python function of the joined rows. Its
baseline is the same KPI computed with a rule's predictions in place of the model's
(e.g. "flag customers with tenure < 12"), so the business sees what the model adds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel

from steward.errors import InvalidInput
from steward.monitor._records import KPI

KPIFunction = Callable[[pd.DataFrame], float]


class KPIResult(BaseModel):
    """A KPI's value over a window, its baseline's, and whether it meets its target."""

    name: str
    value: float | None
    baseline: float | None = None
    rows: int
    direction: str | None = None
    target: float | None = None
    met: bool | None = None
    beats_baseline: bool | None = None
    note: str = ""


def kpi_frame(joined: pd.DataFrame) -> pd.DataFrame:
    """Return the rows as a KPI expression sees them: prediction, label, proba_<class>, inputs."""
    renamed = {}
    for column in joined.columns:
        if column.startswith("input."):
            renamed[column] = column.removeprefix("input.")
        elif column == "output.prediction":
            renamed[column] = "prediction"
        elif column.startswith("output.proba."):
            renamed[column] = "proba_" + column.removeprefix("output.proba.")
    return joined.rename(columns=renamed)


def evaluate(spec: KPI, frame: pd.DataFrame, *, objective: Any = None) -> KPIResult:
    """Return a configured KPI's value (and its baseline's) over the KPI frame."""
    direction, target = spec.direction, spec.target
    if objective is not None:
        direction = direction or getattr(objective, "direction", None)
        target = target if target is not None else getattr(objective, "target", None)
    rows = frame[frame["label"].notna()] if spec.needs_labels and "label" in frame else frame
    if spec.needs_labels and "label" not in frame:
        return KPIResult(
            name=spec.name,
            value=None,
            rows=0,
            direction=direction,
            target=target,
            note="no labels have arrived for this window yet",
        )
    if spec.where:
        kept = _eval(spec.name, rows, spec.where)
        if kept.dtype != bool:
            raise InvalidInput(
                f"KPI {spec.name!r}: where={spec.where!r} must give true or false per row "
                "(e.g. 'label == 1')."
            )
        rows = rows[kept]
    value = _aggregate(spec, rows, spec.expression)
    baseline = None
    if spec.baseline:
        predicted = _eval(spec.name, rows, spec.baseline)
        if predicted.dtype == bool:  # a rule such as "tenure < 12" flags rows: class 1
            predicted = predicted.astype(int)
        baseline = _aggregate(spec, rows.assign(prediction=predicted), spec.expression)
    result = KPIResult(
        name=spec.name,
        value=value,
        baseline=baseline,
        rows=len(rows),
        direction=direction,
        target=target,
    )
    if value is not None and direction in ("maximize", "minimize"):
        better: Callable[[float, float], bool] = (
            (lambda a, b: a >= b) if direction == "maximize" else (lambda a, b: a <= b)
        )
        if target is not None:
            result.met = bool(better(value, target))
        if baseline is not None:
            result.beats_baseline = bool(better(value, baseline))
    return result


def evaluate_function(name: str, function: KPIFunction, frame: pd.DataFrame) -> KPIResult:
    """Return a KPI given as a Python function of the KPI frame."""
    try:
        value = float(function(frame))
    except Exception as exc:
        raise InvalidInput(f"The KPI function {name!r} failed on the window's rows: {exc}") from exc
    return KPIResult(name=name, value=value if np.isfinite(value) else None, rows=len(frame))


def _aggregate(spec: KPI, frame: pd.DataFrame, expression: str) -> float | None:
    if frame.empty:
        return None
    values = _eval(spec.name, frame, expression)
    numbers = pd.to_numeric(values, errors="coerce").astype(float)
    if spec.aggregate == "sum":
        return float(numbers.sum())
    if spec.aggregate == "count":
        return float(numbers.astype(bool).sum())
    return float(numbers.mean())


def _eval(name: str, frame: pd.DataFrame, expression: str) -> pd.Series:
    try:
        result = frame.eval(expression, engine="python")
    except Exception as exc:
        columns = ", ".join(map(str, frame.columns))
        raise InvalidInput(
            f"KPI {name!r}: cannot evaluate {expression!r} ({type(exc).__name__}: {exc}). "
            f"It may use these columns: {columns}."
        ) from exc
    if not isinstance(result, pd.Series):
        result = pd.Series(result, index=frame.index)
    return result
