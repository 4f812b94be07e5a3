"""What every explanation takes: a model (URI, loaded package or fitted estimator) and data.

``resolve_model`` turns any of them into one :class:`Explained` view with the model's
prediction functions and its signature; ``resolve_data`` turns a DataFrame, a dataset
name (``"credit"``, ``"credit@3"``) or a :class:`DatasetVersion` into a DataFrame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from steward.data import as_frame
from steward.errors import InvalidInput, did_you_mean
from steward.registry import LoadedModel, ModelVersion, Signature, load_model


@dataclass
class Explained:
    """A model as explanations see it."""

    estimator: Any  # the underlying fitted object (a scikit-learn Pipeline, an XGBoost model...)
    signature: Signature | None
    version: ModelVersion | None = None
    source: str = ""
    task: str = "other"  # "classification" | "regression" | "other"
    classes: list[Any] | None = None
    features: list[str] = field(default_factory=list)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Return the model's predictions for ``frame``'s feature columns."""
        return np.asarray(self.estimator.predict(frame[self.features]))

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        """Return the score explanations use: P(positive class) for a binary classifier,
        class probabilities (n by k) for a multi-class one, the prediction for a regressor."""
        if self.task == "classification" and hasattr(self.estimator, "predict_proba"):
            proba = np.asarray(self.estimator.predict_proba(frame[self.features]))
            return proba[:, 1] if proba.shape[1] == 2 else proba
        return self.predict(frame).astype(float)


def resolve_model(model: Any) -> Explained:
    """Return the explanation view of a URI, a LoadedModel or a fitted estimator."""
    if isinstance(model, str):
        model = load_model(model)
    if isinstance(model, LoadedModel):
        signature = model.signature
        features = [c.name for c in signature.inputs] if signature else []
        task = signature.output.task if signature else _task(model.raw)
        classes = signature.output.classes if signature else None
        return Explained(model.raw, signature, model.version, model.source, task, classes, features)
    if not callable(getattr(model, "predict", None)):
        raise InvalidInput(
            f"Cannot explain a {type(model).__name__}: pass a model URI (models:/name@alias), a "
            "loaded model, or a fitted estimator with predict()."
        )
    features = [str(c) for c in getattr(model, "feature_names_in_", [])]
    classes = [
        c.item() if hasattr(c, "item") else c for c in getattr(model, "classes_", [])
    ] or None
    return Explained(model, None, None, type(model).__name__, _task(model), classes, features)


def _task(estimator: Any) -> str:
    if hasattr(estimator, "classes_"):
        return "classification"
    try:
        from sklearn.base import is_regressor

        return "regression" if is_regressor(estimator) else "other"
    except Exception:  # not a scikit-learn estimator
        return "other"


def resolve_data(data: Any, explained: Explained | None = None) -> pd.DataFrame:
    """Return ``data`` as a DataFrame, loading a dataset version when given its name.

    Checks that the model's feature columns are present and fills ``explained.features``
    from the data when the model did not record them.
    """
    frame = as_frame(data, what="Explanations' data")
    if explained is not None:
        if not explained.features:
            explained.features = [str(c) for c in frame.columns]
        missing = [c for c in explained.features if c not in frame.columns]
        if missing:
            raise InvalidInput(
                f"The data lacks the model's feature column(s) {', '.join(map(repr, missing))}."
                f"{did_you_mean(missing[0], map(str, frame.columns))} Columns are: "
                f"{', '.join(map(str, frame.columns))}."
            )
    return frame


def require_column(frame: pd.DataFrame, column: str, what: str = "column") -> str:
    """Return ``column`` if the frame has it, else raise InvalidInput with a suggestion."""
    if column not in frame.columns:
        raise InvalidInput(
            f"The {what} {column!r} is not in the data.{did_you_mean(column, map(str, frame.columns))} "
            f"Columns are: {', '.join(map(str, frame.columns))}."
        )
    return column
