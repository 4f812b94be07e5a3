"""Performance with ground truth: the prediction log joined to labels, metrics per window.

``performance`` takes the rows of the prediction log and the labels given later (the
deployment's feedback, or a labels file), joins them on request id and row, and returns
the model's metrics overall, per time window and per segment, each with a confidence
interval, the number of labeled rows and the number still waiting for a label.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from steward.errors import InvalidInput, did_you_mean
from steward.monitor._performance_classes import class_list as given_classes
from steward.monitor._performance_classes import (
    column_class,
    infer_classes,
    positive_index,
)
from steward.monitor._performance_labels import (
    Label,
    Refused,
    coerce,
    decode,
    join_labels,
)
from steward.monitor._performance_metrics import (
    auc_batch,
    bootstrap_weights,
    classification_point,
    confusion_batch,
    confusion_metrics,
    percentile_interval,
    regression_batch,
    regression_point,
    row_log_loss,
    wilson,
    window_index,
)
from steward.monitor._performance_report import (
    PerformanceGroup,
    PerformanceMetric,
    PerformanceReport,
)

Task = Literal["classification", "regression"]
PROBA = "output.proba."
MAX_SEGMENT_VALUES = 20
_QUANTILE_BINS = 4


def performance(
    predictions: pd.DataFrame,
    labels: pd.DataFrame | None,
    *,
    task: Task,
    classes: Sequence[Any] | None = None,
    window: str | None = "1D",
    segments: Sequence[str] | None = None,
    positive: Any = None,
    n_boot: int = 200,
    seed: int = 0,
    confidence: float = 0.95,
) -> PerformanceReport:
    """Return the model's metrics on labeled predictions, overall, per window and segment.

    ``predictions`` are prediction-log rows (``request_id``, ``row``, ``time``,
    ``output.prediction``, optionally ``output.proba.<class>`` and ``input.<column>``);
    only rows with ``role == "primary"`` and ``status < 400`` count, when those columns
    exist. ``labels`` has ``request_id``, ``label`` (JSON text as the feedback log stores
    it, or plain values), optionally ``row`` (default 0) and ``time`` (the latest label of
    a row wins; None or no rows: no labels yet). ``window`` is a pandas offset alias ('1h', '1D', 'W-MON'; None for one
    window); ``segments`` input columns ('plan' or 'input.plan'); ``positive`` the class
    binary precision, recall and F1 are of (default: the second class). Accuracy has a
    Wilson score interval; the other metrics a seeded bootstrap percentile interval.
    """
    if task not in ("classification", "regression"):
        raise InvalidInput(f"task must be 'classification' or 'regression'; got {task!r}.")
    if n_boot < 10:
        raise InvalidInput(f"n_boot must be at least 10 resamples; got {n_boot}.")
    if not 0 < confidence < 1:
        raise InvalidInput(f"confidence must be between 0 and 1, e.g. 0.95; got {confidence}.")
    predictions = _require(predictions, ["request_id", "output.prediction"], "predictions")
    labels = _require(labels, ["request_id", "label"], "labels")
    if window is not None and len(predictions) and "time" not in predictions.columns:
        raise InvalidInput(
            "The predictions have no 'time' column, so they cannot be cut into windows; "
            "add it or pass window=None."
        )
    logged_ids = {str(i) for i in predictions["request_id"].dropna()}
    scored = _scored(predictions)
    segment_columns = [_segment_column(s, scored) for s in segments or []]
    notes: list[str] = []
    proba_columns = {c[len(PROBA) :]: c for c in scored.columns if c.startswith(PROBA)}
    if not len(scored):
        settings = {"window": window, "confidence": confidence, "n_boot": n_boot, "seed": seed}
        return _empty(task, classes, labels, logged_ids, bool(proba_columns), settings)
    if task == "classification" and classes is not None:
        class_list, kind = given_classes(classes)
    elif task == "classification":
        class_list, kind = infer_classes(
            scored["output.prediction"].dropna(),
            list(proba_columns),
            pd.unique(labels["label"].dropna()),
        )
    else:
        class_list, kind = None, "float"
    outputs = [coerce(decode(v), kind) for v in scored["output.prediction"]]
    usable = np.array(
        [not isinstance(p, Refused) and _usable(p, class_list) for p in outputs], dtype=bool
    )
    if not usable.all():
        notes.append(
            f"{int((~usable).sum())} predictions have no usable output (missing, or not one of "
            "the classes) and are left out."
        )
        scored = scored[usable].reset_index(drop=True)
    predicted = [p for p in outputs if not isinstance(p, Refused) and _usable(p, class_list)]
    values, refused_rows, counts = join_labels(scored, logged_ids, labels, kind, class_list)
    data = _Data(scored, predicted, values, refused_rows, class_list, proba_columns, notes)
    if class_list is None and positive is not None:
        raise InvalidInput(f"positive applies to classifiers; got {positive!r} for a regressor.")
    pos = None if class_list is None else positive_index(positive, class_list)
    calc = _Calculator(data, pos, n_boot, seed, confidence)
    everything = np.ones(len(scored), dtype=bool)
    overall = calc.group(everything, "overall", **_span(scored, everything))
    windows: list[PerformanceGroup] = []
    if window is None:
        if len(scored):
            windows.append(overall.model_copy(update={"scope": "window"}))
    elif len(scored):
        index, starts, ends = window_index(scored["time"], window)
        for i in np.unique(index):
            start, end = _py(starts[i]), _py(ends[i])
            windows.append(calc.group(index == i, "window", start=start, end=end))
    by_segment = [
        calc.group(mask, "segment", segment=column, value=value, **_span(scored, mask))
        for column in segment_columns
        for value, mask in _segment_values(scored[column])
    ]
    return PerformanceReport(
        task=task,
        classes=class_list,
        positive=None if pos is None or class_list is None else class_list[pos],
        window=window,
        confidence=confidence,
        n_boot=n_boot,
        seed=seed,
        intervals=(
            f"accuracy: Wilson score interval; other metrics: bootstrap percentile interval "
            f"over {n_boot} resamples of the labeled rows (seed {seed}); {confidence:.0%}."
        ),
        overall=overall,
        windows=windows,
        segments=by_segment,
        labels=counts,
        notes=notes,
    )


class _Data:
    """The scored rows as arrays: truth and predictions (class indices or numbers)."""

    def __init__(
        self,
        scored: pd.DataFrame,
        predicted: list[Label],
        values: pd.Series,
        refused_rows: pd.Series,
        classes: list[Label] | None,
        proba_columns: dict[str, str],
        notes: list[str],
    ) -> None:
        self.classes = classes
        self.labeled = values.notna().to_numpy()
        self.refused = refused_rows.to_numpy(dtype=bool)
        self.proba: np.ndarray | None = None
        if classes is None:
            self.pred = np.asarray(predicted, dtype=np.float64)
            self.truth = np.asarray(values.fillna(np.nan), dtype=np.float64)
            return
        index = {c: i for i, c in enumerate(classes)}
        self.pred = np.array([index[p] for p in predicted], dtype=np.int64)
        self.truth = np.array([index.get(v, -1) for v in values], dtype=np.int64)
        named = {c: column_class(name, classes) for name, c in proba_columns.items()}
        by_class = {cls: column for column, cls in named.items() if cls is not None}
        if all(c in by_class for c in classes):
            self.proba = scored[[by_class[c] for c in classes]].to_numpy(dtype=np.float64)
        elif len(classes) == 2 and by_class:  # a binary log with one class's column
            (cls, column), *_ = by_class.items()
            p = scored[column].to_numpy(dtype=np.float64)
            self.proba = np.column_stack([1 - p, p] if cls == classes[1] else [p, 1 - p])
        elif proba_columns:
            missing = [c for c in classes if c not in by_class]
            notes.append(
                f"The log has no probabilities of classes {missing}; ROC AUC and log loss "
                "are not computed."
            )


class _Calculator:
    """Metrics of groups of scored rows, with their intervals."""

    def __init__(
        self, data: _Data, positive: int | None, n_boot: int, seed: int, confidence: float
    ) -> None:
        self.data, self.positive = data, positive
        self.n_boot, self.seed, self.confidence = n_boot, seed, confidence

    def group(
        self, mask: np.ndarray, scope: Literal["overall", "window", "segment"], **where: Any
    ) -> PerformanceGroup:
        d = self.data
        labeled = mask & d.labeled
        refused = int((mask & d.refused).sum())
        n = int(mask.sum())
        return PerformanceGroup(
            scope=scope,
            predictions=n,
            labeled=int(labeled.sum()),
            refused=refused,
            waiting=n - int(labeled.sum()) - refused,
            metrics=self._metrics(np.flatnonzero(labeled)),
            **where,
        )

    def _metrics(self, rows: np.ndarray) -> dict[str, PerformanceMetric]:
        if self.data.classes is None:
            return self._regression(rows)
        return self._classification(rows)

    def _classification(self, rows: np.ndarray) -> dict[str, PerformanceMetric]:
        d, pos, k = self.data, self.positive, len(self.data.classes or [])
        y, pred = d.truth[rows], d.pred[rows]
        proba = ok = None
        if d.proba is not None:
            proba = d.proba[rows]
            ok = np.isfinite(proba).all(axis=1)
            proba = proba[ok]
        point = classification_point(y, pred, None, k, pos)
        if proba is not None and ok is not None:
            point.update(
                {
                    m: v
                    for m, v in classification_point(y[ok], pred[ok], proba, k, pos).items()
                    if m in ("roc_auc", "log_loss")
                }
            )
        spread: dict[str, list[np.ndarray]] = {m: [] for m in point if m != "accuracy"}
        rng = np.random.default_rng(self.seed)
        if len(rows):
            for w in bootstrap_weights(len(rows), self.n_boot, rng):
                for m, v in confusion_metrics(confusion_batch(w, y, pred, k), pos).items():
                    if m != "accuracy":
                        spread[m].append(v)
                if proba is not None and ok is not None and ok.any():
                    wk = w[:, ok]
                    spread["roc_auc"].append(auc_batch(wk, y[ok], proba, pos))
                    losses = row_log_loss(y[ok], proba)
                    spread["log_loss"].append(wk @ losses / wk.sum(axis=1))
        correct = int((y == pred).sum())
        low, high = wilson(correct, len(rows), self.confidence)
        out = {
            "accuracy": PerformanceMetric(
                value=point["accuracy"], low=low, high=high, interval="wilson", rows=len(rows)
            )
        }
        for m, batches in spread.items():
            n = len(rows) if m not in ("roc_auc", "log_loss") or ok is None else int(ok.sum())
            out[m] = self._bootstrapped(point[m], batches, n)
        return out

    def _regression(self, rows: np.ndarray) -> dict[str, PerformanceMetric]:
        y, pred = self.data.truth[rows], self.data.pred[rows]
        point = regression_point(y, pred)
        spread: dict[str, list[np.ndarray]] = {m: [] for m in point}
        if len(rows):
            rng = np.random.default_rng(self.seed)
            for w in bootstrap_weights(len(rows), self.n_boot, rng):
                for m, v in regression_batch(w, y, pred).items():
                    spread[m].append(v)
        return {m: self._bootstrapped(point[m], spread[m], len(rows)) for m in point}

    def _bootstrapped(
        self, value: float | None, batches: list[np.ndarray], n: int
    ) -> PerformanceMetric:
        low = high = None
        if value is not None and batches:
            low, high = percentile_interval(np.concatenate(batches), self.confidence)
        return PerformanceMetric(value=value, low=low, high=high, interval="bootstrap", rows=n)


def _usable(value: Label, classes: list[Label] | None) -> bool:
    """Return whether a prediction is one of the classes (any number, for a regressor)."""
    return classes is None or value in classes


def _empty(
    task: Task,
    classes: Sequence[Any] | None,
    labels: pd.DataFrame,
    logged_ids: set[str],
    proba: bool,
    settings: dict[str, Any],
) -> PerformanceReport:
    # No prediction counts (a quiet window, or only failed requests): counts, no metrics.
    known = given_classes(classes)[0] if classes is not None else None
    nothing = pd.DataFrame({"request_id": pd.Series([], dtype=object), "row": 0})
    _, _, counts = join_labels(nothing, logged_ids, labels, "str", None)
    names = ["mae", "rmse", "r2"]
    if task == "classification":
        names = ["accuracy", "precision", "recall", "f1"]
        names += ["roc_auc", "log_loss"] if proba else []
    metrics = {
        m: PerformanceMetric(
            value=None, interval="wilson" if m == "accuracy" else "bootstrap", rows=0
        )
        for m in names
    }
    overall = PerformanceGroup(
        scope="overall", predictions=0, labeled=0, waiting=0, metrics=metrics
    )
    return PerformanceReport(
        task=task,
        classes=known,
        **settings,
        intervals="none: there are no predictions",
        overall=overall,
        windows=[],
        segments=[],
        labels=counts,
        notes=["No predictions count here (none were logged, or all failed or were shadows)."],
    )


def _require(frame: pd.DataFrame | None, columns: list[str], what: str) -> pd.DataFrame:
    if frame is None:
        frame = pd.DataFrame()
    if not isinstance(frame, pd.DataFrame):
        raise InvalidInput(f"{what} must be a pandas DataFrame; got {type(frame).__name__}.")
    if not len(frame):  # nothing logged yet: the columns may be missing too
        return frame.reindex(columns=[*frame.columns, *(c for c in columns if c not in frame)])
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InvalidInput(
            f"The {what} lack the column(s) {missing}; they have {list(map(str, frame.columns))[:12]}."
            f"{did_you_mean(missing[0], map(str, frame.columns))}"
        )
    return frame


def _scored(predictions: pd.DataFrame) -> pd.DataFrame:
    keep = np.ones(len(predictions), dtype=bool)
    if "role" in predictions.columns:
        role = predictions["role"]
        keep &= (role.isna() | (role == "primary")).to_numpy()
    if "status" in predictions.columns:
        status = pd.to_numeric(predictions["status"], errors="coerce")
        keep &= (status.isna() | (status < 400)).to_numpy()
    frame = predictions[keep].reset_index(drop=True)
    frame["request_id"] = frame["request_id"].astype(object).map(str).astype(object)
    if "row" in frame.columns:
        frame["row"] = pd.to_numeric(frame["row"], errors="coerce").fillna(0).astype(np.int64)
    else:
        frame["row"] = 0
    if "time" in frame.columns:
        frame["time"] = _utc(frame["time"])
    return frame


def _utc(times: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(times):
        stamps = pd.to_datetime(times)
        if stamps.dt.tz is None:
            return stamps.dt.tz_localize("UTC")  # a naive time is taken as UTC
        return stamps.dt.tz_convert("UTC")
    if pd.api.types.is_numeric_dtype(times):
        raise InvalidInput(
            "The predictions' 'time' column holds numbers; give datetimes, e.g. "
            "pd.to_datetime(seconds, unit='s', utc=True)."
        )
    try:
        return pd.to_datetime(times, utc=True, format="ISO8601")
    except (ValueError, TypeError):
        raise InvalidInput(
            "The predictions' 'time' column cannot be read as datetimes; give tz-aware "
            f"timestamps. First value: {times.iloc[0]!r}."
        ) from None


def _segment_column(name: str, scored: pd.DataFrame) -> str:
    for candidate in (name, f"input.{name}"):
        if candidate in scored.columns:
            return candidate
    inputs = [c for c in scored.columns if str(c).startswith("input.")]
    raise InvalidInput(
        f"Segment {name!r} is not a column of the predictions; the inputs are "
        f"{inputs[:12]}.{did_you_mean(f'input.{name}', inputs)}"
    )


def _segment_values(column: pd.Series) -> list[tuple[str, np.ndarray]]:
    values = column
    if (
        pd.api.types.is_numeric_dtype(column)
        and not pd.api.types.is_bool_dtype(column)
        and column.nunique() > 10
    ):
        values = pd.qcut(column, _QUANTILE_BINS, duplicates="drop")
    text = values.astype(object).map(str).where(values.notna(), "(missing)")
    top = text.value_counts().index[:MAX_SEGMENT_VALUES]
    text = text.where(text.isin(top), "(other)")
    ordered = sorted(set(text), key=lambda v: (v in ("(other)", "(missing)"), v))
    if isinstance(values.dtype, pd.CategoricalDtype):  # quantile bins in their order
        order = [str(c) for c in values.cat.categories]
        ordered = sorted(ordered, key=lambda v: order.index(v) if v in order else len(order))
    return [(v, (text == v).to_numpy()) for v in ordered]


def _span(scored: pd.DataFrame, mask: np.ndarray) -> dict[str, dt.datetime | None]:
    if "time" not in scored.columns or not mask.any():
        return {"start": None, "end": None}
    times = scored["time"][mask]
    return {"start": _py(times.min()), "end": _py(times.max())}


def _py(stamp: pd.Timestamp) -> dt.datetime:
    return stamp.floor("us").to_pydatetime()  # datetime keeps microseconds, not nanoseconds
