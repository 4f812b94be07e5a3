"""Input signatures: inferred from training data, checked on every prediction."""

from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np
import pandas as pd

from steward.errors import InvalidInput
from steward.registry._models import ColumnSpec, OutputSpec, Signature

MAX_OUTPUT_CLASSES = 50
MAX_CATEGORIES = 1000
Policy = Literal["error", "warn", "ignore"]


class SignatureError(InvalidInput):
    """The input does not match the model's signature."""

    code = "signature_mismatch"


class UnseenCategoryWarning(UserWarning):
    """A categorical input holds a value never seen in training."""


class SignatureWarning(UserWarning):
    """An input is usable but differs from what the model saw in training."""


def infer_signature(data: Any, model: Any = None) -> Signature:
    """Return the signature of a training table (and of the model's output, when given).

    ``model`` is the fitted model, or, as MLflow users write
    ``infer_signature(X, model.predict(X))``, its predictions: whole numbers, booleans or
    labels with at most 50 distinct values make a classification output, other numbers
    a regression output.
    """
    if not isinstance(data, pd.DataFrame):
        raise InvalidInput(
            f"A signature is inferred from a pandas DataFrame of the training inputs; got "
            f"{type(data).__name__}. Pass input_example=pd.DataFrame(X, columns=[...])."
        )
    if data.empty:
        raise InvalidInput("Cannot infer a signature from an empty table: pass some training rows.")
    return Signature(
        inputs=[_column(data, str(c)) for c in data.columns], output=_output(model, data)
    )


def _column(data: pd.DataFrame, name: str) -> ColumnSpec:
    series = data[name]
    nullable = bool(series.isna().any())
    if pd.api.types.is_bool_dtype(series):
        return ColumnSpec(name=name, dtype=str(series.dtype), kind="boolean", nullable=nullable)
    if pd.api.types.is_numeric_dtype(series):
        kind: Any = "integer" if pd.api.types.is_integer_dtype(series) else "numeric"
        finite = series.dropna()
        return ColumnSpec(
            name=name,
            dtype=str(series.dtype),
            kind=kind,
            nullable=nullable,
            min=float(finite.min()) if len(finite) else None,
            max=float(finite.max()) if len(finite) else None,
        )
    if pd.api.types.is_datetime64_any_dtype(series):
        return ColumnSpec(name=name, dtype=str(series.dtype), kind="datetime", nullable=nullable)
    values = series.dropna()
    kinds = {type(v) for v in values.head(10_000)}
    if kinds - {str, bool, int, float, np.str_}:
        odd = next(t.__name__ for t in kinds if t not in {str, bool, int, float, np.str_})
        raise InvalidInput(
            f"Cannot infer a signature for column {name!r}: it holds {odd} values, and a "
            "signature needs scalar columns (numbers, booleans, text, categories, dates). "
            "Flatten or encode that column first."
        )
    if len(kinds) > 1 and str in kinds:
        raise InvalidInput(
            f"Cannot infer a signature for column {name!r}: it mixes text and numbers. Convert it "
            "with df[col].astype(str) (categorical) or pd.to_numeric (numeric) first."
        )
    distinct = values.astype(str).unique()
    if len(distinct) > MAX_CATEGORIES:
        return ColumnSpec(name=name, dtype=str(series.dtype), kind="text", nullable=nullable)
    return ColumnSpec(
        name=name,
        dtype=str(series.dtype),
        kind="categorical",
        nullable=nullable,
        categories=sorted(distinct.tolist()),
    )


def _output(model: Any, data: pd.DataFrame) -> OutputSpec:
    if model is None:
        return OutputSpec(task="other")
    if not callable(getattr(model, "predict", None)):
        return _output_of_predictions(model)
    classes = getattr(model, "classes_", None)
    try:
        sample = model.predict(data.head(5))
        dtype = str(np.asarray(sample).dtype)
    except Exception:
        dtype = ""
    if classes is not None:
        return OutputSpec(task="classification", classes=[_plain(c) for c in classes], dtype=dtype)
    try:
        from sklearn.base import is_regressor

        if is_regressor(model):
            return OutputSpec(task="regression", dtype=dtype)
    except Exception:  # not a scikit-learn estimator: is_regressor cannot tell
        pass
    return OutputSpec(task="other", dtype=dtype)


def _output_of_predictions(predictions: Any) -> OutputSpec:
    """Return the output spec of predictions given instead of a model (MLflow's habit)."""
    values = np.asarray(predictions) if isinstance(predictions, list | tuple) else predictions
    values = np.asarray(getattr(values, "to_numpy", lambda: values)())
    if values.ndim == 0 or values.dtype.kind == "V":
        raise InvalidInput(
            f"infer_signature's second argument must be the fitted model or its predictions "
            f"(an array, a list or a Series); got {type(predictions).__name__}."
        )
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    dtype = str(values.dtype)
    if values.ndim != 1:
        return OutputSpec(task="other", dtype=dtype)
    discrete = values.dtype.kind in "biuOUS" or (
        values.dtype.kind == "f"
        and bool(np.all(np.isfinite(values) & (values == np.round(values))))
    )
    distinct = pd.unique(pd.Series(values).dropna())
    if discrete and len(distinct) <= MAX_OUTPUT_CLASSES:
        classes = sorted((_plain(v) for v in distinct), key=lambda v: (str(type(v)), v))
        return OutputSpec(task="classification", classes=classes, dtype=dtype)
    if values.dtype.kind in "iuf":
        return OutputSpec(task="regression", dtype=dtype)
    return OutputSpec(task="other", dtype=dtype)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def as_frame(data: Any, signature: Signature | None) -> pd.DataFrame:
    """Return model input as a DataFrame (from a dict, a list of dicts, or an array)."""
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, dict):
        return (
            pd.DataFrame([data])
            if all(np.isscalar(v) or v is None for v in data.values())
            else pd.DataFrame(data)
        )
    if isinstance(data, list) and data and isinstance(data[0], dict):
        return pd.DataFrame(data)
    if isinstance(data, np.ndarray | list):
        array = np.asarray(data, dtype=object)
        if array.ndim == 1:
            array = array.reshape(1, -1)
        if signature is not None and array.shape[1] == len(signature.inputs):
            return pd.DataFrame(array, columns=[c.name for c in signature.inputs]).infer_objects()
        if signature is None:
            return pd.DataFrame(array).infer_objects()
        raise SignatureError(
            f"The input has {array.shape[1]} columns; the model expects {len(signature.inputs)}: "
            f"{', '.join(c.name for c in signature.inputs)}. Pass a DataFrame with these columns."
        )
    raise SignatureError(
        f"Cannot use {type(data).__name__} as model input: pass a pandas DataFrame, a dict of "
        "column values, a list of such dicts, or a 2-D array."
    )


def validate_frame(
    frame: pd.DataFrame,
    signature: Signature,
    *,
    extra: Literal["ignore", "error"] = "ignore",
    unseen: Policy = "warn",
    nulls: Policy = "warn",
) -> pd.DataFrame:
    """Return ``frame`` with the signature's columns in order, or raise SignatureError.

    Missing columns and values of the wrong type are errors. Extra columns are dropped
    (or refused with ``extra="error"``); categories never seen in training and nulls in
    columns that had none follow the ``unseen`` and ``nulls`` policies.
    """
    names = [c.name for c in signature.inputs]
    present = set(frame.columns)
    missing = [c for c in signature.inputs if c.name not in present]
    if missing:
        described = ", ".join(f"{c.name!r} ({c.kind})" for c in missing)
        raise SignatureError(
            f"The input is missing column(s) {described}. The model expects: {', '.join(names)}; "
            f"got: {', '.join(map(str, frame.columns))}.",
            missing=[c.name for c in missing],
        )
    if extra == "error" and len(present) > len(names):
        unknown = sorted(map(str, present - set(names)))
        raise SignatureError(
            f"The input has column(s) the model does not know: {', '.join(unknown)}. Drop them, "
            "or load the model with extra='ignore'.",
            extra=unknown,
        )
    out = frame[names] if list(frame.columns) != names else frame
    kinds = dict(zip(names, (dtype.kind for dtype in out.dtypes.to_numpy()), strict=True))
    # Small requests (the serving case) are checked on plain Python lists, which costs
    # far less than a pandas operation per column; large batches use vectorized checks.
    small = len(out) <= 64
    cells = dict(zip(names, out.to_numpy(dtype=object).T.tolist(), strict=True)) if small else None
    converted: dict[str, pd.Series] = {}
    for spec in signature.inputs:
        kind = kinds[spec.name]
        if small:
            assert cells is not None
            column: Any = cells[spec.name]
            has_nulls = any(v is None or v != v for v in column)
        else:
            column = out[spec.name]
            has_nulls = bool(column.hasnans)
        if has_nulls and nulls != "ignore" and not spec.nullable:
            count = (
                sum(1 for v in column if v is None or v != v) if small else int(column.isna().sum())
            )
            _report(
                nulls,
                f"Column {spec.name!r} holds {count} null value(s); it had none in training.",
                SignatureWarning,
            )
        if spec.kind in {"numeric", "integer"}:
            if kind not in "biuf":
                converted[spec.name] = _to_numeric(out[spec.name], spec)
        elif spec.kind == "boolean":
            if kind != "b":
                converted[spec.name] = _to_bool(out[spec.name], spec)
        elif spec.kind == "categorical" and spec.categories is not None and unseen != "ignore":
            allowed = set(spec.categories)
            values = column if small else column.dropna().unique().tolist()
            new = {str(v) for v in values if v is not None and v == v and str(v) not in allowed}
            if new:
                _report(
                    unseen,
                    f"Column {spec.name!r} holds value(s) never seen in training: "
                    f"{sorted(new)[:5]!r}; training saw {spec.categories[:10]!r}"
                    f"{'...' if len(spec.categories) > 10 else ''}.",
                    UnseenCategoryWarning,
                )
    if converted:
        out = out.assign(**converted)
    return out


def _to_numeric(series: pd.Series, spec: ColumnSpec) -> pd.Series:
    numeric = pd.to_numeric(series, errors="coerce")
    bad = series[numeric.isna() & series.notna()]
    if len(bad):
        raise SignatureError(
            f"Column {spec.name!r} must be numeric ({spec.dtype} in training); got "
            f"{series.dtype} with values like {bad.head(3).tolist()!r}.",
            column=spec.name,
        )
    return numeric


def _to_bool(series: pd.Series, spec: ColumnSpec) -> pd.Series:
    if series.dtype.kind in "iu" and set(series.dropna().unique()) <= {0, 1}:
        return series.astype(bool)
    raise SignatureError(
        f"Column {spec.name!r} must be boolean; got {series.dtype} with values like "
        f"{series.head(3).tolist()!r}.",
        column=spec.name,
    )


def _report(policy: Policy, message: str, category: type[Warning]) -> None:
    if policy == "error":
        raise SignatureError(message)
    if policy == "warn":
        warnings.warn(message, category, stacklevel=4)
