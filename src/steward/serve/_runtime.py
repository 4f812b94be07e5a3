"""A model ready to serve: loaded, verified, warmed, and called the cheapest safe way.

Two measurements at warm-up decide how each request is scored, and both are checked
against the model's own answers before they are trusted:

- **array input**: a model whose inputs are all numbers takes a NumPy array instead of a
  DataFrame (a DataFrame per request costs several times the model itself on one row),
  if its predictions on the warm-up rows are identical either way;
- **one call for classifiers**: predictions are read off ``predict_proba`` (the class of
  the highest probability) when that equals ``predict`` on the warm-up rows, so a
  response with probabilities costs one model call, not two.
"""

from __future__ import annotations

import copy
import json
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import pandas_dtype

from steward.registry import (
    LoadedModel,
    ModelVersion,
    Signature,
    download_model,
    load_model,
    sample_within_signature,
)
from steward.serve._decode import Batch

WARM_ROWS = 16


@dataclass
class Scored:
    """A model's answer for a batch: predictions, and class probabilities for a classifier."""

    predictions: list[Any]
    probabilities: list[list[float]] | None
    seconds: float


@dataclass
class ServedModel:
    """One route's model, warmed and measured."""

    route: str
    uri: str
    loaded: LoadedModel
    model: str  # registered name, or the package folder's name
    version: int | None
    array_input: bool = False
    array_model: Any = field(default=None, repr=False)
    proba_only: bool = False
    classes: list[Any] | None = None
    warm_rows: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def signature(self) -> Signature | None:
        """Return the model's input/output signature."""
        return self.loaded.signature

    @property
    def label(self) -> str:
        """Return 'name/version' (or the name alone for a package folder)."""
        return f"{self.model}/{self.version}" if self.version is not None else self.model

    def frame(self, batch: Batch) -> pd.DataFrame:
        """Return the batch as the DataFrame the model was trained on (dtypes as recorded)."""
        frame = pd.DataFrame(batch.columns)
        signature = self.signature
        if signature is not None:
            for spec in signature.inputs:
                dtype = spec.dtype
                try:
                    if spec.kind == "categorical" and dtype == "category":
                        frame[spec.name] = pd.Categorical(
                            frame[spec.name], categories=spec.categories
                        )
                    elif spec.kind == "datetime":
                        frame[spec.name] = pd.to_datetime(frame[spec.name])
                    elif spec.kind in ("numeric", "integer") and frame[spec.name].dtype == object:
                        frame[spec.name] = frame[spec.name].astype(float)
                    elif (
                        spec.kind in ("numeric", "integer", "boolean")
                        and not frame[spec.name].hasnans
                    ):
                        frame[spec.name] = frame[spec.name].astype(pandas_dtype(dtype))
                except (TypeError, ValueError):
                    continue  # left as given: the model says what it cannot take
        return frame

    def _input(self, batch: Batch) -> Any:
        if self.array_input:
            if batch.rows == 1:  # the common case, without transposing
                return np.array([[values[0] for values in batch.columns.values()]], dtype=float)
            return np.array(list(zip(*batch.columns.values(), strict=True)), dtype=float)
        return self.frame(batch)

    def score(self, batch: Batch) -> Scored:
        """Return the model's predictions (and probabilities) for the batch."""
        started = time.perf_counter()
        data = self._input(batch)
        raw = self.array_model if self.array_input else self.loaded.raw
        probabilities = None
        if self.proba_only:
            proba = raw.predict_proba(data)
            predictions = [self.classes[i] for i in proba.argmax(axis=1)] if self.classes else []
            probabilities = proba.tolist()
        else:
            predictions = _plain(raw.predict(data))
            if self.classes is not None and "predict_proba" in self.loaded.manifest.methods:
                probabilities = raw.predict_proba(data).tolist()
        return Scored(predictions, probabilities, time.perf_counter() - started)


def _plain(values: Any) -> list[Any]:
    array = np.asarray(values)
    if array.ndim > 1 and array.shape[1] == 1:
        array = array[:, 0]
    return list(array.tolist())


def load_served(
    route: str, uri: str, *, cache: dict[str, ServedModel] | None = None, name: str | None = None
) -> ServedModel:
    """Return the model at ``uri`` loaded (hash-verified), warmed and measured for ``route``.

    ``name`` names a model that is not registered (a package folder): its deployment's.
    """
    key = f"{route}\0{uri}"
    if cache is not None and key in cache:
        return cache[key]
    loaded = load_model(uri, unseen="ignore", nulls="ignore")
    version: ModelVersion | None = loaded.version
    model = version.model if version is not None else name or Path(str(uri)).name or str(uri)
    served = ServedModel(
        route=route,
        uri=str(uri),
        loaded=loaded,
        model=model,
        version=version.version if version is not None else None,
        classes=_classes(loaded),
    )
    _warm(served, uri)
    if cache is not None:
        cache[key] = served
    return served


def _classes(loaded: LoadedModel) -> list[Any] | None:
    classes = loaded.classes
    if classes is None:
        raw = getattr(loaded.raw, "classes_", None)
        classes = [c.item() if hasattr(c, "item") else c for c in raw] if raw is not None else None
    return list(classes) if classes is not None else None


def warm_rows(loaded: LoadedModel, uri: str) -> pd.DataFrame | None:
    """Return rows to warm a model with: its input example, else rows sampled in its signature."""
    example = None
    try:
        folder = download_model(str(uri))
        path = folder / "input_example.json"
        if path.is_file():
            example = pd.DataFrame(json.loads(path.read_text()))
    except Exception:  # an example is a nicety; sampling below still warms the model
        example = None
    signature = loaded.signature
    if signature is None:
        return example
    names = [c.name for c in signature.inputs]
    if example is not None and not all(n in example.columns for n in names):
        example = None
    try:
        return sample_within_signature(
            signature, example[names] if example is not None else None, rows=WARM_ROWS
        )
    except Exception:
        return example[names] if example is not None else None


def without_feature_names(model: Any) -> Any:
    """Return a copy of a fitted model that forgot the column names it was fitted with.

    scikit-learn warns on every call when a model fitted on a DataFrame is given an array;
    the copy takes arrays quietly. Only used once warm-up showed identical predictions.
    """
    clone = copy.deepcopy(model)
    seen: set[int] = set()

    def forget(obj: Any) -> None:
        if id(obj) in seen or not hasattr(obj, "__dict__"):
            return
        seen.add(id(obj))
        if "feature_names_in_" in vars(obj):
            delattr(obj, "feature_names_in_")
        for value in vars(obj).values():
            for item in value if isinstance(value, list | tuple) else [value]:
                for part in item if isinstance(item, tuple) else [item]:
                    if hasattr(part, "get_params"):
                        forget(part)

    forget(clone)
    return clone


def _warm(served: ServedModel, uri: str) -> None:
    """Score warm-up rows (first calls pay lazy imports and allocations), then measure."""
    rows = warm_rows(served.loaded, uri)
    served.warm_rows = rows
    if rows is None or rows.empty:
        return
    batch = Batch({c: rows[c].tolist() for c in rows.columns}, len(rows))
    raw = served.loaded.raw
    as_frame = served.frame(batch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = _plain(raw.predict(as_frame))
        signature = served.signature
        numeric = signature is not None and all(
            c.kind in ("numeric", "integer", "boolean") for c in signature.inputs
        )
        if numeric:
            try:
                array = np.array(list(zip(*batch.columns.values(), strict=True)), dtype=float)
                unnamed = without_feature_names(raw)
                served.array_input = _plain(unnamed.predict(array)) == expected
                served.array_model = unnamed if served.array_input else None
            except Exception:  # the model needs its DataFrame (column names, dtypes)
                served.array_input = False
        if served.classes is not None and "predict_proba" in served.loaded.manifest.methods:
            try:
                proba = np.asarray(raw.predict_proba(as_frame))
                derived = [served.classes[i] for i in proba.argmax(axis=1)]
                served.proba_only = derived == expected
            except Exception:
                served.proba_only = False
    for _ in range(3):  # a few calls the way requests will make them
        served.score(Batch({c: v[:1] for c, v in batch.columns.items()}, 1))
