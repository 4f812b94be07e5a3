"""Performance estimated before labels arrive: confidence-based estimation (CBPE).

As NannyML's CBPE does: a classifier's probabilities are calibrated on reference data
whose labels are known (isotonic or sigmoid, one-vs-rest per class), so that on new data
a calibrated probability is the chance each class is the truth. Summed over a window,
they give the expected confusion matrix, hence expected accuracy, precision, recall and
F1, and the expected ROC curve (each row a positive with weight q, a negative with weight
1 - q, ranked by the model's own score). This holds while the relation between inputs
and outcome stays the one seen in the reference (covariate shift, not concept drift).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from pydantic import BaseModel, Field, ValidationError

from steward.context import get_backend
from steward.errors import InvalidInput, NotFound
from steward.monitor._estimation_calibration import Calibration, Method, fit_calibration
from steward.monitor._estimation_report import (
    EstimatedMetric,
    EstimatedPerformance,
    EstimatedWindow,
)
from steward.monitor._performance_classes import class_list, column_class, indices, positive_index
from steward.monitor._performance_labels import Label
from steward.monitor._performance_metrics import (
    batch_auc,
    batch_size,
    classification_point,
    confusion_batch,
    confusion_metrics,
    normalized,
    percentile_interval,
    row_nanmean,
    window_index,
)
from steward.registry import ModelFile, ModelVersion, get_model_version

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]

METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
ESTIMATOR_PATH = "monitoring/estimator.json"
PROBA = "output.proba."


class PerformanceEstimator(BaseModel):
    """A classifier's calibration on reference data, ready to estimate unlabeled windows."""

    format: Literal[1] = 1
    classes: list[Label]
    positive: Label | None = Field(None, description="Binary: the class metrics are of.")
    method: Method
    calibrations: list[Calibration] = Field(
        description="Binary: one map, of the positive class; multiclass: one per class."
    )
    reference: dict[str, float | None] = Field(description="Metrics realized on the reference.")
    reference_estimated: dict[str, float | None] = Field(
        description="Metrics estimated on the reference (close to realized when calibrated)."
    )
    reference_rows: int
    notes: list[str] = Field(default_factory=list)

    def probabilities(self, probabilities: Any) -> Floats:
        """Return calibrated probabilities (rows x classes, in ``classes`` order)."""
        return self._calibrate(_matrix(probabilities, self.classes, self._pos()))

    def estimate(
        self,
        current: Any,
        *,
        predictions: Sequence[Any] | None = None,
        times: Any = None,
        window: str | None = "1D",
        max_drop: float = 0.05,
        n_samples: int = 200,
        seed: int = 0,
        confidence: float = 0.95,
    ) -> EstimatedPerformance:
        """Return expected accuracy, precision, recall, F1 and ROC AUC per window.

        ``current`` holds the model's probabilities: prediction-log rows (their
        ``output.proba.<class>`` columns, and ``output.prediction`` and ``time`` unless
        ``predictions`` and ``times`` are given; only primary rows without error count),
        a frame with one column per class, or an array (rows x classes, or the positive
        class's probability). Without times there is one window. Predictions default to
        the most probable class. Each
        estimate has a band: where the realized metric falls with ``confidence`` if the
        calibration holds (labels drawn from the calibrated probabilities ``n_samples``
        times). A metric dropped when it is below the reference by more than ``max_drop``.
        """
        if n_samples < 10:
            raise InvalidInput(f"n_samples must be at least 10; got {n_samples}.")
        if not 0 < confidence < 1:
            raise InvalidInput(f"confidence must be between 0 and 1; got {confidence}.")
        frame = current if isinstance(current, pd.DataFrame) else None
        if frame is not None:
            keep = _log_rows(frame)
            for given, what in ((predictions, "predictions"), (times, "times")):
                if given is not None and len(given) != len(keep):
                    raise InvalidInput(f"{what} has {len(given)} values for {len(keep)} rows.")
            frame = frame[keep].reset_index(drop=True)
            if predictions is None and "output.prediction" in frame.columns:
                predictions = list(frame["output.prediction"])
            elif predictions is not None:
                predictions = [p for p, k in zip(predictions, keep, strict=True) if k]
            if times is None and window is not None and "time" in frame.columns:
                times = frame["time"]
            elif times is not None:
                times = pd.Series(list(times))[keep].reset_index(drop=True)
        raw = _matrix(frame if frame is not None else current, self.classes, self._pos())
        pred = (
            raw.argmax(axis=1)
            if predictions is None
            else indices(predictions, self.classes, "predictions")
        )
        if len(pred) != len(raw):
            raise InvalidInput(
                f"predictions has {len(pred)} values for {len(raw)} rows of probabilities."
            )
        q = self._calibrate(raw)
        pos, rng = self._pos(), np.random.default_rng(seed)

        def one(rows: Ints, start: Any = None, end: Any = None) -> EstimatedWindow:
            point = expected(q[rows], raw[rows], pred[rows], pos)
            draws = sampled(q[rows], raw[rows], pred[rows], pos, n_samples, rng)
            metrics = {}
            for m in METRICS:
                low, high = percentile_interval(draws[m], confidence)
                ref, value = self.reference.get(m), point[m]
                # A drop needs a defined band: a window where the draws mostly leave the
                # metric undefined (one class only) says nothing either way.
                fell = (
                    ref is not None
                    and value is not None
                    and low is not None
                    and ref - value > max_drop
                )
                metrics[m] = EstimatedMetric(
                    value=value, low=low, high=high, reference=ref, dropped=fell
                )
            return EstimatedWindow(start=start, end=end, rows=len(rows), metrics=metrics)

        everything = np.arange(len(raw))
        overall = one(everything)
        windows = []
        if window is not None and times is not None and len(raw):
            stamps = _utc(times)
            if len(stamps) != len(raw):
                raise InvalidInput(f"times has {len(stamps)} values for {len(raw)} rows.")
            index, starts, ends = window_index(stamps, window)
            for i in np.unique(index):
                windows.append(one(np.flatnonzero(index == i), _py(starts[i]), _py(ends[i])))
        elif len(raw):
            windows.append(overall)
        drops = [
            f"{m} {w.metrics[m].value:.3f} (reference {w.metrics[m].reference:.3f})"
            + (f" in the window from {w.start:%Y-%m-%d %H:%M} UTC" if w.start else "")
            for w in windows
            for m in METRICS
            if w.metrics[m].dropped
        ]
        return EstimatedPerformance(
            window=window if times is not None else None,
            confidence=confidence,
            max_drop=max_drop,
            n_samples=n_samples,
            band=(
                f"{confidence:.0%} of the realized metric if the calibration holds: labels "
                f"drawn {n_samples} times from the calibrated probabilities (seed {seed})."
            ),
            overall=overall,
            windows=windows,
            dropped=bool(drops),
            drops=drops,
            notes=list(self.notes),
        )

    def to_json(self) -> str:
        """Return the estimator as JSON (calibration maps as arrays of numbers)."""
        return self.model_dump_json(indent=1)

    @classmethod
    def from_json(cls, text: str | bytes) -> PerformanceEstimator:
        """Return the estimator stored as JSON by ``to_json``."""
        try:
            return cls.model_validate_json(text)
        except ValidationError as exc:
            raise InvalidInput(
                f"This is not a stored performance estimator: {exc.errors()[0]['msg']} at "
                f"{'.'.join(map(str, exc.errors()[0]['loc']))}. Fit one again with fit_estimator."
            ) from None

    def _pos(self) -> int | None:
        return None if self.positive is None else self.classes.index(self.positive)

    def _calibrate(self, raw: Floats) -> Floats:
        pos = self._pos()
        if pos is not None:
            p = self.calibrations[0].apply(raw[:, pos])
            return np.column_stack([1 - p, p]) if pos == 1 else np.column_stack([p, 1 - p])
        columns = [c.apply(raw[:, j]) for j, c in enumerate(self.calibrations)]
        return normalized(np.column_stack(columns))


def fit_estimator(
    reference_probabilities: Any,
    reference_labels: Any,
    classes: Sequence[Any],
    *,
    reference_predictions: Sequence[Any] | None = None,
    positive: Any = None,
    method: Method = "auto",
) -> PerformanceEstimator:
    """Return a performance estimator calibrated on reference data with known labels.

    ``reference_probabilities`` is a frame (columns ``output.proba.<class>`` or named by
    class) or an array (rows x classes in ``classes`` order, or the positive class's
    probability); ``reference_labels`` the true classes (JSON text accepted);
    ``method`` 'auto' (isotonic where it lowers the cross-validated Brier score, else
    none), 'isotonic', 'sigmoid' or 'none'. Binary metrics are of ``positive`` (default:
    the second class); with more classes, macro averages.
    """
    if method not in ("auto", "isotonic", "sigmoid", "none"):
        raise InvalidInput(
            f"method must be 'auto', 'isotonic', 'sigmoid' or 'none'; got {method!r}."
        )
    known, _kind = class_list(classes)
    pos = positive_index(positive, known)
    raw = _matrix(reference_probabilities, known, pos)
    y = indices(reference_labels, known, "reference labels")
    if len(y) != len(raw):
        raise InvalidInput(f"{len(y)} reference labels for {len(raw)} rows of probabilities.")
    pred = (
        raw.argmax(axis=1)
        if reference_predictions is None
        else indices(reference_predictions, known, "reference predictions")
    )
    columns = [pos] if pos is not None else list(range(len(known)))
    calibrations = [fit_calibration(raw[:, c], y == c, method) for c in columns]
    notes = []
    if len(raw) < 1000:
        notes.append(f"Calibrated on {len(raw)} reference rows: estimates are coarse below ~1,000.")
    estimator = PerformanceEstimator(
        classes=known,
        positive=None if pos is None else known[pos],
        method=method,
        calibrations=calibrations,
        reference={},
        reference_estimated={},
        reference_rows=len(raw),
        notes=notes,
    )
    realized = classification_point(y, pred, raw, len(known), pos)
    estimated = expected(estimator._calibrate(raw), raw, pred, pos)
    return estimator.model_copy(
        update={
            "reference": {m: realized[m] for m in METRICS},
            "reference_estimated": estimated,
        }
    )


def store_estimator(version: str | ModelVersion, estimator: PerformanceEstimator) -> ModelFile:
    """Return the version file the estimator was stored as (``monitoring/estimator.json``).

    ``version`` is a registered version or its URI (``models:/churn/3``, ``models:/churn@prod``).
    """
    found = version if isinstance(version, ModelVersion) else get_model_version(version)
    backend = get_backend()
    sha, size = backend.blobs.put_bytes(estimator.to_json().encode())
    file = ModelFile(path=ESTIMATOR_PATH, sha256=sha, size=size, kind="monitoring")
    backend.add_model_version_file(found.model, found.version, file)
    return file


def load_estimator(version: str | ModelVersion) -> PerformanceEstimator:
    """Return the performance estimator stored with a model version."""
    found = version if isinstance(version, ModelVersion) else get_model_version(version)
    file = next((f for f in found.files if f.path == ESTIMATOR_PATH), None)
    if file is None:
        raise NotFound(
            f"{found.uri} has no performance estimator ({ESTIMATOR_PATH}). Fit one on held-out "
            f"labeled data with steward.monitor.calibrate_estimator({found.uri!r}, X, y), or "
            "fit_estimator(...) and "
            f"store_estimator({found.uri!r}, estimator)."
        )
    return PerformanceEstimator.from_json(get_backend().blobs.read_bytes(file.sha256))


def expected(q: Floats, raw: Floats, pred: Ints, pos: int | None) -> dict[str, float | None]:
    """Return the expected metrics of predictions given calibrated probabilities ``q``.

    Expected confusion counts are sums of ``q`` (row i adds q[i, t] to cell (t, pred[i]));
    the expected ROC AUC weighs each row as a positive by q and a negative by 1 - q.
    """
    if not len(q):
        return dict.fromkeys(METRICS)
    k = q.shape[1]
    counts = (q.T @ np.eye(k)[pred])[None]  # cell (t, p): the sum of q[i, t] where pred[i] = p
    out: dict[str, float | None] = {
        m: _finite(v[0]) for m, v in confusion_metrics(counts, pos).items()
    }
    columns = [pos] if pos is not None else list(range(k))
    aucs = [batch_auc(raw[:, c], q[None, :, c], 1 - q[None, :, c])[0] for c in columns]
    out["roc_auc"] = _finite(np.nanmean(aucs)) if np.isfinite(aucs).any() else None
    return out


def sampled(
    q: Floats, raw: Floats, pred: Ints, pos: int | None, n: int, rng: np.random.Generator
) -> dict[str, Floats]:
    """Return each metric realized on ``n`` draws of labels from calibrated probabilities."""
    out: dict[str, list[Floats]] = {m: [] for m in METRICS}
    rows, k = q.shape
    if not rows:
        return {m: np.full(n, np.nan) for m in METRICS}
    cumulative = np.cumsum(q, axis=1)
    size = max(1, batch_size(rows * k))
    for start in range(0, n, size):
        b = min(size, n - start)
        u = rng.random((b, rows, 1))
        truth = np.minimum((u > cumulative[None]).sum(axis=2), k - 1)
        ones = np.ones((b, rows))
        for m, v in confusion_metrics(confusion_batch(ones, truth, pred, k), pos).items():
            out[m].append(v)
        columns = [pos] if pos is not None else list(range(k))
        aucs = [
            batch_auc(raw[:, c], (truth == c).astype(float), (truth != c).astype(float))
            for c in columns
        ]
        out["roc_auc"].append(row_nanmean(np.column_stack(aucs)))
    return {m: np.concatenate(v) for m, v in out.items()}


def _matrix(probabilities: Any, classes: list[Label], pos: int | None) -> Floats:
    k = len(classes)
    if isinstance(probabilities, pd.DataFrame) and not len(probabilities):
        return np.zeros((0, k))  # a quiet window: nothing to estimate
    if isinstance(probabilities, pd.DataFrame):
        names = [str(c) for c in probabilities.columns]
        logged = any(n.startswith(PROBA) for n in names)
        picked: dict[int, Any] = {}
        for column, name in zip(probabilities.columns, names, strict=True):
            if logged and not name.startswith(PROBA):
                continue  # prediction-log rows: only the probability columns name classes
            found = column_class(name.removeprefix(PROBA), classes)
            if found is not None:
                picked.setdefault(classes.index(found), column)
        if pos is not None and pos in picked:
            p = probabilities[picked[pos]].to_numpy(dtype=np.float64)
            matrix = np.column_stack([1 - p, p] if pos == 1 else [p, 1 - p])
        elif len(picked) == k:
            matrix = probabilities[[picked[j] for j in range(k)]].to_numpy(dtype=np.float64)
        else:
            raise InvalidInput(
                f"The probabilities need a column per class ({PROBA}<class> or <class>) for "
                f"classes {classes}; the frame has {names[:12]}."
            )
    else:
        array = np.asarray(probabilities, dtype=np.float64)
        if array.ndim == 1 and pos is not None:
            array = np.column_stack([1 - array, array] if pos == 1 else [array, 1 - array])
        if array.ndim != 2 or array.shape[1] != k:
            raise InvalidInput(
                f"The probabilities must be rows x {k} classes {classes} (or, for a binary "
                f"model, the positive class's); got shape {array.shape}."
            )
        matrix = array
    if not np.isfinite(matrix).all():
        raise InvalidInput(
            f"{int((~np.isfinite(matrix).all(axis=1)).sum())} rows of probabilities are "
            "missing or not finite; drop them first (rows the model did not answer)."
        )
    return matrix


def _log_rows(frame: pd.DataFrame) -> NDArray[np.bool_]:
    keep = np.ones(len(frame), dtype=bool)
    if "role" in frame.columns:
        keep &= (frame["role"].isna() | (frame["role"] == "primary")).to_numpy()
    if "status" in frame.columns:
        status = pd.to_numeric(frame["status"], errors="coerce")
        keep &= (status.isna() | (status < 400)).to_numpy()
    return keep


def _utc(times: Any) -> pd.Series:
    try:
        return pd.Series(pd.to_datetime(pd.Series(list(times)), utc=True))  # naive: UTC
    except (ValueError, TypeError):
        raise InvalidInput(
            "times must be datetimes (tz-aware, or naive meaning UTC), one per row; the "
            f"first is {next(iter(times), None)!r}."
        ) from None


def _py(stamp: pd.Timestamp) -> dt.datetime:
    return stamp.floor("us").to_pydatetime()


def _finite(value: Any) -> float | None:
    v = float(value)
    return v if np.isfinite(v) else None
