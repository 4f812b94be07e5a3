"""Which input column each of a Pipeline's transformed features comes from, to sum values back."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def input_columns(prep: Any, features: list[str], n_out: int | None) -> np.ndarray | None:
    """Return, for each feature the preprocessing outputs, the index of its input column."""
    names = [str(n) for n in getattr(prep, "feature_names_in_", features)]
    if n_out is None or any(n not in features for n in names):
        return None
    try:
        mapping = _column_map(prep, len(names), n_out)
    except Exception:  # an unusual column spec: fall back to the agnostic explainer
        return None
    return (
        None
        if mapping is None
        else np.array([features.index(names[j]) for j in mapping], dtype=int)
    )


def _column_map(step: Any, n_in: int, n_out: int) -> list[int] | None:
    """Return the input column behind each output column of a fitted transformer, or None."""
    from sklearn.base import OneToOneFeatureMixin
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

    if n_out == 0:
        return []
    one_to_one = isinstance(step, OneToOneFeatureMixin) or (
        isinstance(step, FunctionTransformer) and step.feature_names_out == "one-to-one"
    )
    if step is None or (isinstance(step, str) and step == "passthrough") or one_to_one:
        return list(range(n_in)) if n_in == n_out else None
    if n_in == 1:
        return [0] * n_out
    if isinstance(step, Pipeline):
        steps = [
            s
            for _, s in step.steps
            if not (s is None or (isinstance(s, str) and s == "passthrough"))
        ]
        mapping, width = list(range(n_in)), n_in
        for i, sub in enumerate(steps):
            out = n_out if i == len(steps) - 1 else getattr(steps[i + 1], "n_features_in_", None)
            inner = None if out is None else _column_map(sub, width, out)
            if inner is None or out is None:
                return None
            mapping, width = [mapping[j] for j in inner], out
        return mapping if width == n_out else None
    if isinstance(step, ColumnTransformer):
        result: list[int] = [-1] * n_out
        names = [str(n) for n in getattr(step, "feature_names_in_", [])]
        for name, transformer, cols in step.transformers_:
            if isinstance(transformer, str) and transformer == "drop":
                continue
            idx = _indices(cols, names, n_in)
            out = step.output_indices_[name]
            inner = _column_map(transformer, len(idx), out.stop - out.start)
            if inner is None:
                return None
            result[out] = [idx[j] for j in inner]
        return None if -1 in result else result
    if isinstance(step, SimpleImputer):  # drops all-missing columns, may add indicators
        kept = [
            i for i, v in enumerate(step.statistics_) if step.keep_empty_features or not pd.isna(v)
        ]
        indicator = getattr(step, "indicator_", None)
        mapping = kept + ([int(i) for i in indicator.features_] if indicator is not None else [])
        return mapping if len(mapping) == n_out else None
    if isinstance(step, OneHotEncoder):
        drop = getattr(step, "drop_idx_", None)
        rare = getattr(step, "infrequent_categories_", None)
        counts = []
        for i, cats in enumerate(step.categories_):
            n = len(cats) if rare is None or rare[i] is None else len(cats) - len(rare[i]) + 1
            counts.append(n - (drop is not None and drop[i] is not None))
        mapping = [i for i, c in enumerate(counts) for _ in range(c)]
        return mapping if len(mapping) == n_out else None
    return None


def _indices(cols: Any, names: list[str], n_in: int) -> list[int]:
    if isinstance(cols, slice):
        if isinstance(cols.start, str) or isinstance(cols.stop, str):  # includes the stop
            start = names.index(cols.start) if cols.start is not None else 0
            stop = names.index(cols.stop) + 1 if cols.stop is not None else n_in
            return list(range(start, stop))
        return list(range(n_in))[cols]
    if isinstance(cols, str | int):
        cols = [cols]
    array = np.asarray(cols)
    if array.dtype == bool:
        return [int(i) for i in np.flatnonzero(array)]
    return [names.index(c) if isinstance(c, str) else int(c) for c in cols]


class Codec:
    """Each column as numbers shap's maskers can mix rows of: numeric columns as their own
    values, the others (text, categories) as integer codes into a table of their values."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.columns = list(frame.columns)
        self.dtypes = [frame[c].dtype for c in self.columns]
        self.numeric = [
            pd.api.types.is_numeric_dtype(d) and not isinstance(d, pd.CategoricalDtype)
            for d in self.dtypes
        ]
        self.tables = [
            None if self.numeric[j] else pd.Index(frame[c].unique())
            for j, c in enumerate(self.columns)
        ]

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        codes = np.empty((len(frame), len(self.columns)))
        for j, column in enumerate(self.columns):
            table = self.tables[j]
            if table is None:
                codes[:, j] = frame[column].to_numpy(dtype=float, na_value=np.nan)
                continue
            found = table.get_indexer(frame[column])
            if (found < 0).any():  # values the background lacks: extend the table
                new = frame[column][found < 0].unique()
                table = self.tables[j] = table.append(pd.Index(new))
                found = table.get_indexer(frame[column])
            codes[:, j] = found
        return codes

    def decode(self, codes: np.ndarray) -> pd.DataFrame:
        # One block for the numeric columns (cheap), then the coded ones replaced: the
        # model is called thousands of times per explanation, so this is the hot path.
        frame = pd.DataFrame(codes, columns=self.columns)
        for j, column in enumerate(self.columns):
            table = self.tables[j]
            if table is not None:
                frame[column] = table.take(codes[:, j].astype(np.intp))
            elif self.dtypes[j] != np.float64:
                frame[column] = frame[column].astype(self.dtypes[j])
        return frame
