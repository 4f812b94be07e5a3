"""The arithmetic of performance: metrics on labeled rows, their resampled spread, windows.

Point values come from scikit-learn. Intervals need each metric hundreds of times per
window (bootstrap resamples of rows, or label draws for estimation); calling scikit-learn
that often costs seconds per window on a busy log, so the resampled values are computed
here in batches from weights: a bootstrap resample is a vector of row counts, and every
metric below is a function of weighted sums (confusion counts, ranks, losses, squares).
The tests check that these formulas give scikit-learn's numbers at unit weights.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from pandas.tseries.frequencies import to_offset
from scipy.stats import binomtest
from sklearn.metrics import (
    log_loss,
    mean_absolute_error,
    precision_recall_fscore_support,
    r2_score,
    roc_auc_score,
    root_mean_squared_error,
)

from steward.errors import InvalidInput

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]

MAX_WINDOWS = 2000
_BATCH_CELLS = 4_000_000  # resamples x rows held in memory at once


def classification_point(
    y: Ints, pred: Ints, proba: Floats | None, k: int, positive: int | None
) -> dict[str, float | None]:
    """Return accuracy, precision, recall, F1 (and ROC AUC, log loss) of class indices.

    ``positive`` is the positive class's index for a binary model, None for macro averages
    over the ``k`` classes (a class absent from both truth and predictions is left out).
    """
    out: dict[str, float | None] = {"accuracy": float(np.mean(y == pred)) if len(y) else None}
    if len(y):
        average = "binary" if positive is not None else "macro"
        p, r, f, _ = precision_recall_fscore_support(
            y,
            pred,
            labels=list(range(k)),
            pos_label=positive if positive is not None else 1,
            average=average,
            zero_division=np.nan,
        )
        out.update(precision=_finite(p), recall=_finite(r), f1=_finite(f))
    else:
        out.update(precision=None, recall=None, f1=None)
    if proba is not None:
        out["roc_auc"] = _auc_point(y, proba, positive) if len(y) else None
        out["log_loss"] = (
            float(log_loss(y, normalized(proba), labels=list(range(k)))) if len(y) else None
        )
    return out


def _auc_point(y: Ints, proba: Floats, positive: int | None) -> float | None:
    # One-vs-rest per class, averaged over the classes present with both outcomes: a small
    # window often lacks a class, where scikit-learn's multiclass AUC refuses to answer.
    columns = [positive] if positive is not None else list(range(proba.shape[1]))
    values = [
        float(roc_auc_score(y == c, proba[:, c]))
        for c in columns
        if 0 < int(np.sum(y == c)) < len(y)
    ]
    return float(np.mean(values)) if values else None


def regression_point(y: Floats, pred: Floats) -> dict[str, float | None]:
    """Return MAE, RMSE and R2 of predictions against truth (R2 needs two rows)."""
    if not len(y):
        return {"mae": None, "rmse": None, "r2": None}
    return {
        "mae": float(mean_absolute_error(y, pred)),
        "rmse": float(root_mean_squared_error(y, pred)),
        "r2": float(r2_score(y, pred)) if len(y) >= 2 else None,
    }


def wilson(correct: int, n: int, confidence: float) -> tuple[float | None, float | None]:
    """Return the Wilson score interval of a proportion (None, None without rows)."""
    if n == 0:
        return None, None
    ci = binomtest(correct, n).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def percentile_interval(values: Floats, confidence: float) -> tuple[float | None, float | None]:
    """Return the percentile interval of resampled values (None when most are undefined)."""
    finite = values[np.isfinite(values)]
    if len(finite) < max(2, len(values) // 2):
        return None, None
    tail = 50 * (1 - confidence)
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_weights(n: int, n_boot: int, rng: np.random.Generator) -> Iterator[Floats]:
    """Yield batches of bootstrap row counts (resamples x rows), ``n_boot`` rows in all."""
    size = batch_size(n)
    for start in range(0, n_boot, size):
        b = min(size, n_boot - start)
        draws = rng.integers(0, n, size=(b, n)) + (np.arange(b) * n)[:, None]
        counts = np.bincount(draws.ravel(), minlength=b * n).reshape(b, n)
        yield np.asarray(counts, dtype=np.float64)


def batch_size(n: int) -> int:
    """Return how many resamples of ``n`` rows to hold in memory at once."""
    return max(1, _BATCH_CELLS // max(n, 1))


def confusion_batch(weights: Floats, truth: Ints, pred: Ints, k: int) -> Floats:
    """Return weighted confusion counts (resamples x true x predicted).

    ``truth`` is one row of class indices shared by all resamples, or one per resample.
    """
    b, n = weights.shape
    cells = np.broadcast_to(truth * k + pred, (b, n)) + (np.arange(b) * k * k)[:, None]
    counts = np.bincount(cells.ravel(), weights=weights.ravel(), minlength=b * k * k)
    return np.asarray(counts, dtype=np.float64).reshape(b, k, k)


def confusion_metrics(counts: Floats, positive: int | None) -> dict[str, Floats]:
    """Return accuracy, precision, recall and F1 of each confusion matrix in a batch.

    The same definitions as scikit-learn's with ``zero_division=nan``: binary of the
    ``positive`` class, else the macro average over classes where the metric is defined.
    """
    total = counts.sum(axis=(1, 2))
    tp = np.diagonal(counts, axis1=1, axis2=2)
    predicted = counts.sum(axis=1)
    actual = counts.sum(axis=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        accuracy = tp.sum(axis=1) / total
        precision = tp / predicted
        recall = tp / actual
        f1 = 2 * tp / (predicted + actual)
    per: tuple[Floats, Floats, Floats]
    if positive is not None:
        per = (precision[:, positive], recall[:, positive], f1[:, positive])
    else:
        per = (row_nanmean(precision), row_nanmean(recall), row_nanmean(f1))
    return {"accuracy": accuracy, "precision": per[0], "recall": per[1], "f1": per[2]}


def batch_auc(scores: Floats, pos: Floats, neg: Floats) -> Floats:
    """Return the ROC AUC of each row of positive and negative weights over shared scores.

    AUC is the chance a positive outscores a negative (ties count a half): sorting the
    scores once, each resample needs only weighted sums per distinct score.
    """
    order = np.argsort(scores, kind="stable")
    ranked = scores[order]
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
    p = np.add.reduceat(pos[:, order], starts, axis=1)
    q = np.add.reduceat(neg[:, order], starts, axis=1)
    below = np.cumsum(q, axis=1) - q
    den = p.sum(axis=1) * q.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, (p * (below + 0.5 * q)).sum(axis=1) / den, np.nan)


def auc_batch(weights: Floats, truth: Ints, proba: Floats, positive: int | None) -> Floats:
    """Return the ROC AUC (binary, or one-vs-rest macro) of each resample in a batch."""
    columns = [positive] if positive is not None else list(range(proba.shape[1]))
    b = weights.shape[0]
    values = np.full((len(columns), b), np.nan)
    for j, c in enumerate(columns):
        hit = np.broadcast_to(truth == c, weights.shape)
        values[j] = batch_auc(proba[:, c], weights * hit, weights * ~hit)
    return row_nanmean(values.T)


def row_log_loss(y: Ints, proba: Floats) -> Floats:
    """Return each row's log loss, clipped and normalized as scikit-learn's ``log_loss``."""
    eps = np.finfo(np.float64).eps
    picked = np.clip(normalized(proba)[np.arange(len(y)), y], eps, 1 - eps)
    return np.asarray(-np.log(picked), dtype=np.float64)


def regression_batch(weights: Floats, y: Floats, pred: Floats) -> dict[str, Floats]:
    """Return MAE, RMSE and R2 of each bootstrap resample in a batch."""
    n = weights.sum(axis=1)
    err = y - pred
    sse = weights @ (err**2)
    with np.errstate(divide="ignore", invalid="ignore"):
        sst = weights @ (y**2) - (weights @ y) ** 2 / n
        r2 = np.where(sst > 1e-12 * np.maximum(weights @ (y**2), 1.0), 1 - sse / sst, np.nan)
    return {"mae": weights @ np.abs(err) / n, "rmse": np.sqrt(sse / n), "r2": r2}


def normalized(proba: Floats) -> Floats:
    """Return probabilities whose rows sum to one (a uniform row where all are zero)."""
    total = proba.sum(axis=1, keepdims=True)
    k = proba.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.where(total > 0, proba / total, 1.0 / k), dtype=np.float64)


def window_index(times: pd.Series, window: str) -> tuple[Ints, pd.DatetimeIndex, pd.DatetimeIndex]:
    """Return each time's window number, and the windows' starts and ends.

    Fixed windows ('1h', '1D') start at multiples of their length since the epoch; calendar
    ones ('W-MON', 'MS') at their anchor on or before the first time. Times are UTC.
    """
    try:
        offset = to_offset(window)
    except ValueError:
        raise InvalidInput(
            f"window must be a pandas offset alias such as '1h', '1D', 'W-MON' or 'MS'; got "
            f"{window!r}. Pass window=None for a single window."
        ) from None
    stamps = pd.DatetimeIndex(times)
    first, last = stamps.min(), stamps.max()
    try:
        start = first.floor(offset.freqstr)
    except ValueError:  # a calendar offset: no fixed length to floor by
        start = offset.rollback(first.normalize())
    step = (start + offset) - start
    if (last - start) / step + 1 > MAX_WINDOWS:
        raise InvalidInput(
            f"window={window!r} cuts {first} to {last} into more than {MAX_WINDOWS} windows; "
            "choose a longer window (e.g. '1D' or '1W') or narrow the time range."
        )
    starts = pd.date_range(start, last, freq=offset)
    ends = pd.DatetimeIndex([s + offset for s in starts])
    index = starts.searchsorted(stamps, side="right") - 1
    return np.asarray(index, dtype=np.int64), starts, ends


def _finite(value: object) -> float | None:
    v = float(value)  # type: ignore[arg-type]
    return v if np.isfinite(v) else None


def row_nanmean(values: Floats) -> Floats:
    """Return each row's mean over its finite values (nan where none is finite).

    As ``np.nanmean(values, axis=1)``, without its warning on an all-undefined row.
    """
    defined = np.isfinite(values)
    count = defined.sum(axis=1)
    total = np.where(defined, values, 0.0).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)
