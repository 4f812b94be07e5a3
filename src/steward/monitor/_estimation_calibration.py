"""Calibration maps for performance estimation: fitted by scikit-learn, stored as numbers.

A map is kept as the few numbers that define it (isotonic: its step points; sigmoid: a
slope and an intercept on the logit), so an estimator is plain JSON and applying it needs
no pickled object. The tests check that a stored map gives scikit-learn's predictions.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, Field
from scipy.special import expit, logit
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss
from sklearn.model_selection import StratifiedKFold, cross_val_predict

Method = Literal["auto", "isotonic", "sigmoid", "none"]
Floats = NDArray[np.float64]

_EPS = 1e-6


class Calibration(BaseModel):
    """A map from one class's predicted probability to the observed frequency of the class."""

    kind: Literal["identity", "isotonic", "sigmoid"]
    x: list[float] = Field(default_factory=list, description="Isotonic: step points' inputs.")
    y: list[float] = Field(default_factory=list, description="Isotonic: step points' outputs.")
    slope: float = Field(1.0, description="Sigmoid: slope on the logit of the probability.")
    intercept: float = Field(0.0, description="Sigmoid: intercept on the logit.")
    brier_before: float | None = Field(None, description="Cross-validated Brier score, raw.")
    brier_after: float | None = Field(None, description="Cross-validated Brier, calibrated.")

    def apply(self, p: Floats) -> Floats:
        """Return calibrated probabilities of the class (clipped to [0, 1])."""
        p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
        if self.kind == "isotonic":
            # IsotonicRegression.predict with out_of_bounds='clip': linear between steps.
            return np.interp(p, self.x, self.y)
        if self.kind == "sigmoid":
            z = logit(np.clip(p, _EPS, 1 - _EPS))
            return np.asarray(expit(self.slope * z + self.intercept), dtype=np.float64)
        return p


def fit_calibration(p: Floats, hit: NDArray[np.bool_], method: Method) -> Calibration:
    """Return the calibration map of probabilities ``p`` against whether the class occurred.

    ``auto`` keeps isotonic calibration only when it lowers the cross-validated Brier
    score (as NannyML decides whether calibration is needed), else the identity.
    """
    y = hit.astype(np.int64)
    minority = int(min(y.sum(), len(y) - y.sum()))
    if method == "none" or minority < 2:
        return Calibration(kind="identity")
    if method == "sigmoid":
        model = LogisticRegression(C=np.inf).fit(_logits(p), y)
        return Calibration(
            kind="sigmoid", slope=float(model.coef_[0, 0]), intercept=float(model.intercept_[0])
        )
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    fitted = iso.fit(p, y)
    found = Calibration(
        kind="isotonic",
        x=[float(v) for v in fitted.X_thresholds_],
        y=[float(v) for v in fitted.y_thresholds_],
    )
    if method == "isotonic":
        return found
    folds = StratifiedKFold(n_splits=min(5, minority), shuffle=True, random_state=0)
    held_out = cross_val_predict(
        IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip"), p, y, cv=folds
    )
    before = float(brier_score_loss(y, np.clip(p, 0, 1)))
    after = float(brier_score_loss(y, np.clip(held_out, 0, 1)))
    if after < before:
        return found.model_copy(update={"brier_before": before, "brier_after": after})
    return Calibration(kind="identity", brier_before=before, brier_after=after)


def _logits(p: Floats) -> Floats:
    return np.asarray(logit(np.clip(p, _EPS, 1 - _EPS)), dtype=np.float64).reshape(-1, 1)
