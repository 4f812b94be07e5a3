"""Per-column profiles of a table: the reference statistics later drift checks compare to."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

QUANTILES = (0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0)
BINS = 20
TOP = 20
SENSITIVE_HINTS = (
    "sex",
    "gender",
    "age",
    "race",
    "ethnicity",
    "ethnic",
    "religion",
    "nationality",
    "marital",
    "disability",
    "pregnan",
    "orientation",
)


def column_kind(series: pd.Series) -> str:
    """Return 'numeric', 'boolean', 'datetime', 'categorical' or 'text' for a column."""
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_numeric_dtype(series):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "datetime"
    if isinstance(series.dtype, pd.CategoricalDtype):
        return "categorical"
    non_null = series.dropna()
    if len(non_null) and non_null.astype(str).str.len().mean() > 50:
        return "text"
    return "categorical"


def profile_column(series: pd.Series) -> dict[str, Any]:
    """Return the statistics of one column."""
    n = len(series)
    missing = int(series.isna().sum())
    kind = column_kind(series)
    out: dict[str, Any] = {
        "dtype": str(series.dtype),
        "kind": kind,
        "count": n - missing,
        "missing": missing,
        "missing_rate": missing / n if n else 0.0,
    }
    values = series.dropna()
    try:
        out["distinct"] = int(values.nunique())
    except TypeError:  # unhashable cells (lists, dicts)
        out["distinct"] = None
    if kind == "numeric" and len(values):
        arr = values.to_numpy(dtype=float)
        finite = arr[np.isfinite(arr)]
        if len(finite):
            out.update(
                min=float(finite.min()),
                max=float(finite.max()),
                mean=float(finite.mean()),
                std=float(finite.std(ddof=1)) if len(finite) > 1 else 0.0,
                quantiles={
                    str(q): float(v)
                    for q, v in zip(QUANTILES, np.quantile(finite, QUANTILES), strict=True)
                },
            )
            counts, edges = np.histogram(finite, bins=min(BINS, max(1, out["distinct"] or 1)))
            out["histogram"] = {"edges": edges.tolist(), "counts": counts.tolist()}
    elif kind == "datetime" and len(values):
        out.update(min=str(values.min()), max=str(values.max()))
    elif kind in {"categorical", "boolean"} and len(values):
        freq = values.astype(str).value_counts()
        top = freq.head(TOP)
        out["top"] = [{"value": str(k), "count": int(v)} for k, v in top.items()]
        out["other_count"] = int(freq.iloc[TOP:].sum()) if len(freq) > TOP else 0
    elif kind == "text" and len(values):
        lengths = values.astype(str).str.len()
        out.update(
            min_length=int(lengths.min()),
            max_length=int(lengths.max()),
            mean_length=float(lengths.mean()),
        )
    return out


def profile_frame(frame: pd.DataFrame) -> dict[str, Any]:
    """Return the profile of a table: shape, per-column statistics, sensitive-looking names."""
    columns = {str(name): profile_column(frame[name]) for name in frame.columns}
    suggested = [
        str(name) for name in frame.columns if any(h in str(name).lower() for h in SENSITIVE_HINTS)
    ]
    return {
        "row_count": len(frame),
        "column_count": frame.shape[1],
        "columns": columns,
        "suggested_sensitive": suggested,
    }
