"""Model metrics per segment of the data (subpopulation analysis), with confidence intervals.

:func:`segment_metrics` predicts with the model, splits the rows by one or more columns
(any column: a model input, or one the model never sees, such as a sensitive attribute)
and computes each metric per segment with fairlearn's :class:`~fairlearn.metrics.MetricFrame`
on scikit-learn's own metric functions.

Segments: a numeric column with more than ``MAX_LEVELS`` distinct values is cut into
``bins`` quantile bins labelled ``"[a, b)"`` (the last one closed, ``"[a, b]"``); other
columns segment by value. Missing values form their own segment, ``"(missing)"``.

Confidence intervals are percentile bootstrap intervals over each segment's rows. A segment
with fewer than ``min_rows`` rows keeps its point estimates, gets no interval and says so.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from steward.errors import InvalidInput, did_you_mean
from steward.explain._inputs import Explained, require_column, resolve_data, resolve_model

MAX_LEVELS = 10  # a numeric column with more distinct values than this is binned
MISSING = "(missing)"
ALL = "(all)"
CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "selection_rate", "count")
REGRESSION_METRICS = ("mae", "rmse", "r2", "count")
UNDEFINED = {"roc_auc": "only one class is present", "r2": "needs 2 rows or more"}
_CHUNK = 2_000_000  # bootstrap index cells drawn at once (16 MB of int64)

# Why the bootstrap is done here and not by MetricFrame(n_boot=..., ci_quantiles=...): that
# option exists in fairlearn 0.15, but it re-runs the whole pandas groupby-apply, with every
# scikit-learn metric's input validation, once per resample. Measured on 2 cores: 24 s for
# 2,000 rows, 4 segments, 7 metrics and 200 resamples (7.7 s even with numpy metrics). Here
# each segment's rows are resampled as one (resamples x rows) index matrix and the built-in
# metrics are computed from it with numpy, in milliseconds; a custom metric is called once
# per resample. Point estimates are MetricFrame's, on scikit-learn's functions.


@dataclass
class Sample:
    """One segment's true values, predictions and (binary classifier) positive-class scores."""

    y: np.ndarray
    p: np.ndarray
    s: np.ndarray | None = None
    pos: Any = None
    classes: list[Any] = field(default_factory=list)


Boot = Callable[[Sample, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Metric:
    """A metric: its scikit-learn/fairlearn point function and its vectorized resample twin."""

    point: Callable[..., float]  # (y_true, y_pred) or, when scored, (y_true, y_pred, y_score)
    boot: Boot
    scored: bool = False


@dataclass
class Segment:
    """One subpopulation: its values of the ``by`` columns, rows, metrics and intervals.

    ``ci`` is None when the segment was too small for an interval (see ``notes``); a metric
    missing from ``ci`` had no defined value in any resample.
    """

    values: tuple[Any, ...]
    n: int
    metrics: dict[str, float]
    ci: dict[str, tuple[float, float]] | None
    notes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        """Return the segment's values joined for display (``"F, [20, 35)"``)."""
        return ", ".join(map(str, self.values))


@dataclass
class SegmentReport:
    """Metrics of a model per segment of the data, each with a bootstrap interval."""

    by: list[str]
    target: str
    task: str
    metrics: list[str]
    overall: Segment
    segments: list[Segment]
    model: str
    ci_level: float
    n_boot: int
    min_rows: int
    positive_label: Any = None
    binned: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def segment(self, *values: Any) -> Segment:
        """Return the segment with these values of the ``by`` columns, in their order."""
        for seg in self.segments:
            if seg.values == values:
                return seg
        labels = [s.label for s in self.segments]
        raise InvalidInput(
            f"No segment {', '.join(map(repr, values))} of {', '.join(self.by)}."
            f"{did_you_mean(', '.join(map(str, values)), labels)} Segments are: "
            f"{'; '.join(labels)}."
        )

    def to_frame(self) -> pd.DataFrame:
        """Return one row per segment (the first, ``(all)``, for all rows): the ``by`` values,
        ``n``, each metric with ``<metric>_lo`` and ``<metric>_hi``, and ``note``."""
        rows = []
        for seg in [self.overall, *self.segments]:
            row: dict[str, Any] = dict(zip(self.by, seg.values, strict=True))
            row["n"] = seg.n
            for m in self.metrics:
                lo, hi = (seg.ci or {}).get(m, (None, None))
                row.update({m: seg.metrics[m], f"{m}_lo": lo, f"{m}_hi": hi})
            row["note"] = " ".join(seg.notes)
            rows.append(row)
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready data (NaN as None)."""

        def seg(s: Segment) -> dict[str, Any]:
            return {
                "values": [plain(v) for v in s.values],
                "n": s.n,
                "metrics": {k: finite(v) for k, v in s.metrics.items()},
                "ci": None if s.ci is None else {k: list(v) for k, v in s.ci.items()},
                "notes": s.notes,
            }

        return {
            "model": self.model,
            "target": self.target,
            "task": self.task,
            "by": self.by,
            "metrics": self.metrics,
            "positive_label": plain(self.positive_label),
            "ci_level": self.ci_level,
            "n_boot": self.n_boot,
            "min_rows": self.min_rows,
            "binned": self.binned,
            "overall": seg(self.overall),
            "segments": [seg(s) for s in self.segments],
            "notes": self.notes,
        }

    def to_markdown(self) -> str:
        """Return the report as a Markdown section: a table of metrics per segment and notes."""
        head = [*self.by, "n", *self.metrics, "note"]
        rows = [
            [
                *map(str, s.values),
                str(s.n),
                *(_cell(s.metrics[m], (s.ci or {}).get(m)) for m in self.metrics),
                " ".join(s.notes),
            ]
            for s in [self.overall, *self.segments]
        ]
        what = (
            f"{self.ci_level:.0%} bootstrap intervals from {self.n_boot} resamples of each "
            f"segment; segments under {self.min_rows} rows get none."
            if self.n_boot
            else "No intervals (n_boot=0)."
        )
        text = [
            f"### Metrics by {', '.join(self.by)}",
            "",
            f"Model `{self.model}`, target `{self.target}` ({self.task}"
            + (
                f", positive class {self.positive_label!r}"
                if self.positive_label is not None
                else ""
            )
            + f"). {what}",
            "",
            markdown_table(head, rows),
        ]
        if self.notes:
            text += ["", *(f"- {n}" for n in self.notes)]
        return "\n".join(text) + "\n"

    def figure(self, metrics: Sequence[str] | None = None) -> Any:
        """Return a Plotly figure: each metric per segment with its interval as error bars,
        and the value over all rows as a dashed line."""
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        chosen = list(metrics or self.metrics)
        fig = make_subplots(rows=len(chosen), cols=1, shared_xaxes=True, subplot_titles=chosen)
        x = [s.label for s in self.segments]
        for row, m in enumerate(chosen, start=1):
            y = np.array([s.metrics[m] for s in self.segments], dtype=float)
            bounds = [(s.ci or {}).get(m, (np.nan, np.nan)) for s in self.segments]
            lo, hi = (np.array(b, dtype=float) for b in zip(*bounds, strict=True))
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=y,
                    mode="markers",
                    name=m,
                    showlegend=False,
                    error_y={
                        "type": "data",
                        "symmetric": False,
                        "array": hi - y,
                        "arrayminus": y - lo,
                    },
                    customdata=[[s.n, " ".join(s.notes)] for s in self.segments],
                    hovertemplate="%{x}: %{y:.3f} (n=%{customdata[0]})<br>%{customdata[1]}<extra></extra>",
                ),
                row=row,
                col=1,
            )
            fig.add_hline(
                y=self.overall.metrics[m], line_dash="dash", line_color="grey", row=row, col=1
            )
        fig.update_layout(
            title=f"Metrics by {', '.join(self.by)} ({self.ci_level:.0%} intervals)",
            template="plotly_white",
            height=max(300, 220 * len(chosen)),
        )
        return fig


def segment_metrics(
    model: Any,
    data: Any,
    *,
    target: str,
    by: str | Sequence[str],
    metrics: Sequence[str] | Mapping[str, Callable[..., float]] | None = None,
    n_boot: int = 200,
    ci: float = 0.95,
    min_rows: int = 30,
    seed: int = 0,
    bins: int = 4,
    positive_label: Any = None,
) -> SegmentReport:
    """Return the model's metrics on each segment of ``data`` by the ``by`` column(s).

    ``metrics`` names built-in metrics (classification: accuracy, precision, recall, f1,
    selection_rate, true_positive_rate, false_positive_rate, roc_auc; regression: mae, rmse,
    mse, r2; both: count) or maps names to functions ``f(y_true, y_pred) -> float``. The
    default: accuracy, precision, recall, f1, selection_rate (+ roc_auc when the model gives
    probabilities) for a binary classifier, macro-averaged precision, recall and f1 for a
    multi-class one, and mae, rmse, r2 for a regressor. ``positive_label`` defaults to the
    second of a binary classifier's classes. Each segment also reports its rows, ``n``.

    A numeric ``by`` column with more than ``MAX_LEVELS`` (10) distinct values is cut into
    ``bins`` quantile bins labelled ``"[a, b)"`` (the last ``"[a, b]"``); missing values form
    a ``"(missing)"`` segment. Intervals are percentile bootstrap intervals (``n_boot``
    resamples of each segment's rows, level ``ci``); a segment under ``min_rows`` rows keeps
    its point estimates, gets no interval, and a note says so.
    """
    columns = [by] if isinstance(by, str) else list(by)
    if not columns:
        raise InvalidInput("segment_metrics needs at least one column in 'by'.")
    if not 0 < ci < 1:
        raise InvalidInput(f"The 'ci' level must be between 0 and 1 (e.g. 0.95); got {ci}.")
    if n_boot < 0 or bins < 2:
        raise InvalidInput(f"'n_boot' must be >= 0 and 'bins' >= 2; got {n_boot} and {bins}.")
    scored = score_data(model, data, target=target, columns=columns, what="segment column")
    explained, frame = scored.explained, scored.frame
    pos = positive_class(scored, positive_label) if scored.task == "classification" else None
    score = None
    if scored.binary and hasattr(explained.estimator, "predict_proba"):
        score = explained.score(frame)
        score = 1.0 - score if pos == scored.classes[0] else score
    chosen = _metrics(scored, metrics, pos=pos, has_score=score is not None)

    labels, orders, binned = {}, {}, {}
    for col in columns:
        found_labels, orders[col], bin_labels = segment_column(frame[col], bins=bins)
        labels[col] = found_labels.to_numpy()
        if bin_labels:
            binned[col] = bin_labels
    table = pd.DataFrame(labels)
    from fairlearn.metrics import MetricFrame

    mf = MetricFrame(
        metrics={name: m.point for name, m in chosen.items()},
        y_true=scored.y_true,
        y_pred=scored.y_pred,
        sensitive_features=table,
        sample_params={n: {"y_score": score} for n, m in chosen.items() if m.scored},
    )
    by_group = mf.by_group
    rng = np.random.default_rng(seed)
    base = Sample(scored.y_true, scored.y_pred, score, pos, scored.classes)

    def build(values: tuple[Any, ...], rows: np.ndarray, point: Mapping[str, Any]) -> Segment:
        part = Sample(
            base.y[rows], base.p[rows], None if score is None else score[rows], pos, base.classes
        )
        seg = Segment(values, len(rows), {k: float(point[k]) for k in chosen}, None)
        if len(rows) < min_rows:
            seg.notes.append(f"only {len(rows)} rows: too few for a confidence interval.")
        elif n_boot:
            seg.ci = _intervals(chosen, part, n_boot, ci, rng)
        seg.notes += [
            f"{k} undefined: {UNDEFINED.get(k, 'no value')}."
            for k, v in seg.metrics.items()
            if np.isnan(v)
        ]
        return seg

    overall = build((ALL,) * len(columns), np.arange(len(frame)), mf.overall)
    found = {
        tuple(map(plain, k if isinstance(k, tuple) else (k,))): np.asarray(rows)
        for k, rows in table.groupby(columns, sort=False).indices.items()
    }
    segments = [
        build(k, found[k], by_group.loc[k if len(columns) > 1 else k[0]])
        for k in sorted(
            found, key=lambda k: tuple(orders[c].index(v) for c, v in zip(columns, k, strict=True))
        )
    ]
    notes = [
        f"{col!r} has {frame[col].nunique()} distinct values: cut into {len(b)} quantile bins."
        for col, b in binned.items()
    ] + scored.notes
    return SegmentReport(
        by=columns,
        target=target,
        task=scored.task,
        metrics=list(chosen),
        overall=overall,
        segments=segments,
        model=explained.source,
        ci_level=ci,
        n_boot=n_boot,
        min_rows=min_rows,
        positive_label=plain(pos),
        binned=binned,
        notes=notes,
    )


@dataclass
class Scored:
    """A model's predictions on data that has the target and the columns an analysis needs."""

    explained: Explained
    frame: pd.DataFrame
    y_true: np.ndarray
    y_pred: np.ndarray
    task: str
    classes: list[Any]
    notes: list[str]

    @property
    def binary(self) -> bool:
        """Return whether the model is a binary classifier."""
        return self.task == "classification" and len(self.classes) == 2


def score_data(model: Any, data: Any, *, target: str, columns: Sequence[str], what: str) -> Scored:
    """Return the model's predictions on the rows of ``data`` that have a ``target`` value."""
    explained = model if isinstance(model, Explained) else resolve_model(model)
    if not explained.features:
        explained.features = [str(c) for c in getattr(explained.estimator, "feature_names_in_", [])]
    if not explained.features:
        raise InvalidInput(
            f"The model ({explained.source}) does not record its input columns (it was fitted "
            "on an array?), so Steward cannot tell its features from the target and the "
            "other columns. Fit it on a DataFrame, or log it with an input_example."
        )
    frame = resolve_data(data, explained)
    require_column(frame, target, "target column")
    for col in columns:
        require_column(frame, col, what)
    notes = []
    known = frame[target].notna()
    if not known.all():
        notes.append(f"{int((~known).sum())} rows without a {target!r} value were left out.")
        frame = frame[known]
    if frame.empty:
        raise InvalidInput(f"The data has no rows with a {target!r} value to compare with.")
    y_pred = explained.predict(frame)
    y_true = frame[target].to_numpy()
    task = explained.task
    if task == "other":
        numeric = pd.api.types.is_float_dtype(frame[target])
        task = "regression" if numeric else "classification"
    classes: list[Any] = []
    if task == "classification":
        classes = list(explained.classes or _sorted(set(y_true) | set(y_pred)))
        unknown = [plain(v) for v in _sorted(set(y_true) - set(classes))]
        if unknown:
            raise InvalidInput(
                f"The target column {target!r} holds value(s) {unknown[:5]} that are not classes "
                f"of the model ({classes}). Check that {target!r} is the column the model "
                "predicts, with the same label type (e.g. 1, not '1')."
            )
    return Scored(explained, frame, y_true, y_pred, task, classes, notes)


def positive_class(scored: Scored, positive_label: Any) -> Any:
    """Return the positive class: the one given (checked) or a binary model's second class."""
    if positive_label is None:
        return scored.classes[1] if scored.binary else None
    if positive_label not in scored.classes:
        raise InvalidInput(
            f"The 'positive_label' must be a class of the model; got {positive_label!r}, "
            f"classes are {[plain(c) for c in scored.classes]}."
        )
    return positive_label


def segment_column(series: pd.Series, *, bins: int = 4) -> tuple[pd.Series, list[Any], list[str]]:
    """Return each row's segment, the segments in display order, and the bin labels if binned."""
    missing = series.isna()
    if (
        pd.api.types.is_numeric_dtype(series)
        and not pd.api.types.is_bool_dtype(series)
        and series.nunique() > MAX_LEVELS
    ):
        values = series.to_numpy(dtype=float, na_value=np.nan)
        edges = np.unique(np.quantile(values[~missing.to_numpy()], np.linspace(0, 1, bins + 1)))
        names = [f"[{a:.6g}, {b:.6g})" for a, b in itertools.pairwise(edges)]
        names[-1] = names[-1][:-1] + "]"
        where = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(names) - 1)
        labels = pd.Series(
            np.array(names, dtype=object)[where], index=series.index, name=series.name
        )
        labels[missing] = MISSING
        return labels, names + [MISSING] * bool(missing.any()), names
    labels = series.astype(object).where(~missing, MISSING)
    return labels, [*_sorted(set(series[~missing])), *[MISSING] * bool(missing.any())], []


def markdown_table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Return a Markdown table (pipes in cells escaped)."""

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(head), line(["---"] * len(head)), *map(line, rows)])


def _intervals(
    chosen: Mapping[str, Metric], sample: Sample, n_boot: int, ci: float, rng: np.random.Generator
) -> dict[str, tuple[float, float]]:
    n = len(sample.y)
    step = max(1, min(n_boot, _CHUNK // n))
    draws: dict[str, list[np.ndarray]] = {k: [] for k in chosen}
    for start in range(0, n_boot, step):
        idx = rng.integers(0, n, size=(min(step, n_boot - start), n))
        for name, metric in chosen.items():
            draws[name].append(metric.boot(sample, idx))
    out = {}
    for name, parts in draws.items():
        values = np.concatenate(parts)
        values = values[~np.isnan(values)]
        if len(values):
            lo, hi = np.quantile(values, [(1 - ci) / 2, (1 + ci) / 2])
            out[name] = (float(lo), float(hi))
    return out


def _metrics(
    scored: Scored,
    asked: Sequence[str] | Mapping[str, Callable[..., float]] | None,
    *,
    pos: Any,
    has_score: bool,
) -> dict[str, Metric]:
    kind = (
        "regression" if scored.task == "regression" else "binary" if scored.binary else "multiclass"
    )
    known = builtin_metrics(kind, pos)
    if asked is None:
        names = list(REGRESSION_METRICS if kind == "regression" else CLASSIFICATION_METRICS)
        if kind == "multiclass":
            names.remove("selection_rate")
        names += ["roc_auc"] if has_score and len(set(scored.y_true)) == 2 else []
        asked = names
    if isinstance(asked, Mapping):
        return {name: _custom(fn) for name, fn in asked.items()}
    chosen = {}
    for name in asked:
        if name == "count":  # every segment reports its rows as ``n``
            continue
        if name not in known or (name == "roc_auc" and not has_score):
            why = "the model gives no probabilities" if name == "roc_auc" else f"for a {kind} model"
            raise InvalidInput(
                f"Unknown metric {name!r} {why}.{did_you_mean(name, known)} Available: "
                f"{', '.join(sorted(known))}; or pass {{'name': function(y_true, y_pred)}}."
            )
        chosen[name] = known[name]
    return chosen


def _custom(fn: Callable[..., float]) -> Metric:
    def boot(s: Sample, idx: np.ndarray) -> np.ndarray:
        return np.array([fn(s.y[i], s.p[i]) for i in idx], dtype=float)

    return Metric(fn, boot)


# --- built-in metrics: scikit-learn/fairlearn for the point, numpy over resamples ---------


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a / b, 0 where b is 0 (scikit-learn's zero_division=0.0)."""
    out = np.zeros(np.shape(a), dtype=float)
    np.divide(a, b, out=out, where=np.asarray(b) > 0)
    return out


def _confusion(s: Sample, idx: np.ndarray) -> tuple[np.ndarray, ...]:
    y, p = s.y[idx] == s.pos, s.p[idx] == s.pos
    tp, fp, fn = (y & p).sum(1), (~y & p).sum(1), (y & ~p).sum(1)
    return tp, fp, fn, idx.shape[1] - tp - fp - fn


def _per_class(s: Sample, idx: np.ndarray) -> tuple[np.ndarray, ...]:
    y, p = s.y[idx], s.p[idx]
    tp = np.stack([((y == c) & (p == c)).sum(1) for c in s.classes], 1)
    predicted = np.stack([(p == c).sum(1) for c in s.classes], 1)
    actual = np.stack([(y == c).sum(1) for c in s.classes], 1)
    return tp, predicted, actual, (predicted + actual) > 0  # scikit-learn averages over present


def _macro(values: np.ndarray, present: np.ndarray) -> np.ndarray:
    return np.asarray((values * present).sum(1) / present.sum(1), dtype=float)


def _auc_point(y_true: Any, y_pred: Any, y_score: Any, *, pos: Any) -> float:
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y_true) == pos
    return float(roc_auc_score(y, y_score)) if 0 < y.sum() < len(y) else np.nan


def _auc_boot(s: Sample, idx: np.ndarray) -> np.ndarray:
    assert s.s is not None
    y = s.y[idx] == s.pos
    # the ROC area is the Mann-Whitney U statistic over (mid-)ranks of the scores
    ranks = pd.DataFrame(s.s[idx]).rank(axis=1).to_numpy()
    pos = y.sum(1)
    neg = idx.shape[1] - pos
    return np.where(
        (pos > 0) & (neg > 0),
        _div((ranks * y).sum(1) - pos * (pos + 1) / 2, pos * neg),
        np.nan,
    )


def _r2_point(y_true: Any, y_pred: Any) -> float:
    from sklearn.metrics import r2_score

    return float(r2_score(y_true, y_pred)) if len(y_true) > 1 else np.nan


def _r2_boot(s: Sample, idx: np.ndarray) -> np.ndarray:
    y = s.y[idx].astype(float)
    res = ((y - s.p[idx]) ** 2).sum(1)
    tot = ((y - y.mean(1, keepdims=True)) ** 2).sum(1)
    # scikit-learn's force_finite: 1 for a perfect fit of a constant, else 0
    return np.where(tot > 0, 1 - _div(res, tot), np.where(res == 0, 1.0, 0.0))


def _precision_boot(s: Sample, idx: np.ndarray) -> np.ndarray:
    tp, fp, _, _ = _confusion(s, idx)
    return _div(tp, tp + fp)


def _recall_boot(s: Sample, idx: np.ndarray) -> np.ndarray:
    tp, _, fn, _ = _confusion(s, idx)
    return _div(tp, tp + fn)


def _f1_boot(s: Sample, idx: np.ndarray) -> np.ndarray:
    tp, fp, fn, _ = _confusion(s, idx)
    return _div(2 * tp, 2 * tp + fp + fn)


def _selection_boot(s: Sample, idx: np.ndarray) -> np.ndarray:
    return np.asarray((s.p[idx] == s.pos).mean(1), dtype=float)


def _fpr_boot(s: Sample, idx: np.ndarray) -> np.ndarray:
    _, fp, _, tn = _confusion(s, idx)
    return _div(fp, fp + tn)


def _accuracy_boot(s: Sample, idx: np.ndarray) -> np.ndarray:
    return np.asarray((s.y[idx] == s.p[idx]).mean(1), dtype=float)


def _macro_boot(which: str) -> Boot:
    def boot(s: Sample, idx: np.ndarray) -> np.ndarray:
        tp, predicted, actual, present = _per_class(s, idx)
        per_class = {
            "precision": _div(tp, predicted),
            "recall": _div(tp, actual),
            "f1": _div(2 * tp, predicted + actual),
        }[which]
        return _macro(per_class, present)

    return boot


def _error(s: Sample, idx: np.ndarray) -> np.ndarray:
    error: np.ndarray = np.asarray(s.y[idx], dtype=float) - np.asarray(s.p[idx], dtype=float)
    return error


def _mae_boot(s: Sample, idx: np.ndarray) -> np.ndarray:
    return np.asarray(np.abs(_error(s, idx)).mean(1), dtype=float)


def _mse_boot(s: Sample, idx: np.ndarray) -> np.ndarray:
    return np.asarray((_error(s, idx) ** 2).mean(1), dtype=float)


def _rmse_boot(s: Sample, idx: np.ndarray) -> np.ndarray:
    return np.asarray(np.sqrt(_mse_boot(s, idx)), dtype=float)


def builtin_metrics(kind: str, pos: Any = None) -> dict[str, Metric]:
    """Return the built-in metrics for a "binary", "multiclass" or "regression" model."""
    from fairlearn.metrics import false_positive_rate, selection_rate, true_positive_rate
    from sklearn import metrics as skm

    if kind == "regression":
        return {
            "mae": Metric(skm.mean_absolute_error, _mae_boot),
            "rmse": Metric(skm.root_mean_squared_error, _rmse_boot),
            "mse": Metric(skm.mean_squared_error, _mse_boot),
            "r2": Metric(_r2_point, _r2_boot),
        }
    if kind == "multiclass":
        macro: dict[str, Any] = {"average": "macro", "zero_division": 0.0}
        return {
            "accuracy": Metric(skm.accuracy_score, _accuracy_boot),
            "precision": Metric(partial(skm.precision_score, **macro), _macro_boot("precision")),
            "recall": Metric(partial(skm.recall_score, **macro), _macro_boot("recall")),
            "f1": Metric(partial(skm.f1_score, **macro), _macro_boot("f1")),
        }
    binary: dict[str, Any] = {"pos_label": pos, "zero_division": 0.0}
    return {
        "accuracy": Metric(skm.accuracy_score, _accuracy_boot),
        "precision": Metric(partial(skm.precision_score, **binary), _precision_boot),
        "recall": Metric(partial(skm.recall_score, **binary), _recall_boot),
        "f1": Metric(partial(skm.f1_score, **binary), _f1_boot),
        "selection_rate": Metric(partial(selection_rate, pos_label=pos), _selection_boot),
        "true_positive_rate": Metric(partial(true_positive_rate, pos_label=pos), _recall_boot),
        "false_positive_rate": Metric(partial(false_positive_rate, pos_label=pos), _fpr_boot),
        "roc_auc": Metric(partial(_auc_point, pos=pos), _auc_boot, scored=True),
    }


def _sorted(values: Any) -> list[Any]:
    try:
        return sorted(values)
    except TypeError:  # mixed types
        return sorted(values, key=str)


def plain(value: Any) -> Any:
    """Return a NumPy scalar as the Python one (for JSON and display)."""
    return value.item() if isinstance(value, np.generic) else value


def finite(value: float) -> float | None:
    """Return the value as a float, None when it is NaN (JSON has no NaN)."""
    return None if np.isnan(value) else float(value)


def fmt(value: float) -> str:
    """Return a metric value for a table: 3 decimals, thousands whole, "n/a" for NaN."""
    if np.isnan(value):
        return "n/a"
    return f"{value:.3f}" if abs(value) < 1000 else f"{value:,.0f}"


def _cell(value: float, interval: tuple[float, float] | None) -> str:
    return fmt(value) + (f" [{fmt(interval[0])}, {fmt(interval[1])}]" if interval else "")
