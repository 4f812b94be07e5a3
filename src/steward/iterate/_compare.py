"""Champion against challenger on the same labeled rows: paired, with intervals.

Both versions score the same rows of one dataset version (the one given, else the
champion's evaluation dataset). Each metric's difference (challenger - champion) gets a
paired bootstrap interval: the same resampled rows for both models, so the interval is
about the difference, not about each model's noise. Accuracy also gets McNemar's exact
test on the rows where exactly one model is right (the paired test for a proportion).
Segments (a column's values) are compared the same way, and agreement says how often the
two predict the same thing. Large disagreement is itself a finding: the practice our
users follow says a wide variation between the models calls for a person, not a script.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field
from scipy import stats
from sklearn import metrics as skm

from steward.errors import InvalidInput
from steward.iterate._paired import paired_interval
from steward.registry import LoadedModel, evaluation_data, get_model_version, load_model

Task = Literal["classification", "regression"]
BLOCK_CELLS = 2_000_000  # bootstrap weights held at once (16 MB; a block is 1 to 64 resamples)
# From this many rows, intervals come from the rows' own variance (normal, delta method,
# DeLong): a bootstrap there costs resamples x rows and agrees with them.
ANALYTIC_ROWS = 50_000
Verdict = Literal["challenger better", "champion better", "no clear difference", "review"]


class MetricDiff(BaseModel):
    """One metric for both models, the difference and its paired bootstrap interval."""

    metric: str
    champion: float
    challenger: float
    difference: float
    ci_low: float
    ci_high: float
    higher_is_better: bool
    p_value: float | None = Field(default=None, description="McNemar's exact test (accuracy).")
    interval: Literal["bootstrap", "analytic"] = Field(
        default="bootstrap",
        description="How the interval was made: a paired bootstrap, or (from ANALYTIC_ROWS "
        "rows on) the rows' own variance (DeLong for ROC AUC).",
    )


class SegmentDiff(BaseModel):
    """The primary metric within one value of a segment column."""

    column: str
    value: str
    rows: int
    champion: float | None
    challenger: float | None
    difference: float | None


class Comparison(BaseModel):
    """Champion against challenger on the same rows, with a recommendation."""

    champion: str
    challenger: str
    data: str
    rows: int
    target: str
    task: Task
    primary: str
    metrics: list[MetricDiff]
    segments: list[SegmentDiff]
    agreement: float = Field(
        description="Share of rows with the same prediction (or within tolerance)."
    )
    verdict: Verdict
    reasons: list[str]

    def difference_figure(self) -> dict[str, Any]:
        """Return a Plotly figure (a dict): each metric's difference with its 95% interval
        as error bars, and a dotted zero line."""
        return {
            "data": [
                {
                    "type": "scatter",
                    "mode": "markers",
                    "name": "challenger - champion",
                    "x": [m.metric for m in self.metrics],
                    "y": [m.difference for m in self.metrics],
                    "error_y": {
                        "type": "data",
                        "symmetric": False,
                        "array": [m.ci_high - m.difference for m in self.metrics],
                        "arrayminus": [m.difference - m.ci_low for m in self.metrics],
                    },
                    "marker": {"size": 11},
                    "hovertemplate": "%{x}: %{y:+.4f}<extra></extra>",
                }
            ],
            "layout": {
                "title": {"text": "Difference (challenger - champion), 95% interval"},
                "height": 300,
                "shapes": [
                    {
                        "type": "line",
                        "xref": "paper",
                        "x0": 0,
                        "x1": 1,
                        "y0": 0,
                        "y1": 0,
                        "line": {"dash": "dot", "color": "#57606a", "width": 1},
                    }
                ],
                "yaxis": {"zeroline": False, "tickformat": "+.3f"},
                "showlegend": False,
            },
        }

    def to_markdown(self) -> str:
        """Return the comparison as a Markdown report."""
        lines = [
            f"# {self.challenger} against {self.champion}",
            "",
            f"**{self.verdict}**: " + " ".join(self.reasons),
            "",
            f"On {self.rows:,} rows of {self.data} (target `{self.target}`, {self.task}); the "
            f"two agree on {self.agreement:.1%} of rows. Intervals: "
            + (
                "paired bootstrap (the same resampled rows for both models)."
                if all(m.interval == "bootstrap" for m in self.metrics)
                else "from the rows' own variance, paired (DeLong for ROC AUC), as the "
                "evaluation set is large."
            ),
            "",
            "| metric | champion | challenger | difference | 95% interval | p |",
            "|---|---|---|---|---|---|",
        ]
        for m in self.metrics:
            p = "" if m.p_value is None else f"{m.p_value:.3g}"
            lines.append(
                f"| {m.metric} | {m.champion:.4f} | {m.challenger:.4f} | {m.difference:+.4f} "
                f"| [{m.ci_low:+.4f}, {m.ci_high:+.4f}] | {p} |"
            )
        if self.segments:
            lines += ["", f"## {self.primary} by segment", ""]
            lines += ["| column | value | rows | champion | challenger | difference |"]
            lines += ["|---|---|---|---|---|---|"]
            for s in self.segments:
                cells = [_fmt(s.champion), _fmt(s.challenger), _fmt(s.difference, signed=True)]
                lines.append(f"| {s.column} | {s.value} | {s.rows} | " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"


def _fmt(value: float | None, *, signed: bool = False) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def compare_models(
    champion: str,
    challenger: str,
    *,
    data: Any = None,
    target: str | None = None,
    segments: list[str] | None = None,
    min_agreement: float = 0.9,
    resamples: int = 1000,
    seed: int = 0,
) -> Comparison:
    """Return the comparison of two model versions on the same labeled rows.

    ``data`` is a DataFrame, a dataset name (``"holdout@2"``) or a file; default: the
    champion's evaluation dataset. ``min_agreement`` below which the verdict is 'review'.
    """
    if resamples < 100:
        raise InvalidInput(f"resamples must be 100 or more for a 95% interval; got {resamples}.")
    get_model_version(challenger)  # both exist before anything is loaded
    found = evaluation_data(get_model_version(champion), data, purpose="compare the models on")
    if found.source == "sample":
        raise InvalidInput(
            f"{champion} records no dataset with outcomes to compare on: pass data= (on the "
            "command line, --data): a DataFrame, a dataset name or a file with the label column."
        )
    frame = found.frame
    models = load_model(champion), load_model(challenger)
    label = _label(frame, models, target, segments or [])
    y = frame[label].to_numpy()
    task = _task(models)
    preds = [m.predict(frame) for m in models]
    probs = [_positive_proba(m, frame) if task == "classification" else None for m in models]
    names = ["accuracy", "roc_auc"] if task == "classification" else ["rmse", "mae", "r2"]
    diffs = []
    for name in names:
        made = _metric_diff(name, y, preds, probs, resamples, seed)
        if made is not None:
            diffs.append(made)
    primary = diffs[1] if task == "classification" and len(diffs) > 1 else diffs[0]
    agreement = (
        float(np.mean(np.asarray(preds[0]) == np.asarray(preds[1])))
        if task == "classification"
        else float(np.mean(np.isclose(preds[0], preds[1], rtol=0.05, atol=1e-9)))
    )
    verdict, reasons = _verdict(primary, agreement, min_agreement)
    return Comparison(
        champion=champion,
        challenger=challenger,
        data=found.description,
        rows=len(frame),
        target=label,
        task=task,
        primary=primary.metric,
        metrics=diffs,
        segments=_segments(frame, segments or [], primary.metric, y, preds, probs),
        agreement=agreement,
        verdict=verdict,
        reasons=reasons,
    )


def _label(
    frame: pd.DataFrame, models: tuple[LoadedModel, ...], target: str | None, segments: list[str]
) -> str:
    if target is not None:
        if target not in frame.columns:
            raise InvalidInput(f"The data has no column {target!r}; it has {list(frame.columns)}.")
        return target
    inputs: set[str] = set()
    for model in models:
        signature = model.signature
        if signature is None:
            raise InvalidInput("A model without a signature: name the label column with target=.")
        inputs.update(c.name for c in signature.inputs)
    missing = sorted(inputs - set(frame.columns))
    if missing:
        raise InvalidInput(f"The data lacks the models' input columns {missing}.")
    others = [c for c in frame.columns if c not in inputs and c not in segments]
    if len(others) != 1:
        raise InvalidInput(
            f"Cannot tell the label column among {others or 'no other columns'}: pass target=."
        )
    return str(others[0])


def _task(models: tuple[LoadedModel, ...]) -> Task:
    tasks = {m.signature.output.task if m.signature else "other" for m in models}
    if tasks == {"classification"}:
        return "classification"
    if tasks == {"regression"}:
        return "regression"
    raise InvalidInput(
        f"The two versions do different or unknown tasks ({sorted(tasks)}): nothing to compare."
    )


def _positive_proba(model: LoadedModel, frame: pd.DataFrame) -> np.ndarray | None:
    classes = model.classes
    if classes is None or len(classes) != 2:
        return None
    try:
        return np.asarray(model.predict_proba(frame))[:, 1]
    except (AttributeError, InvalidInput):
        return None


def _score(name: str, y: np.ndarray, pred: Any, prob: np.ndarray | None) -> float:
    if name == "accuracy":
        return float(np.mean(np.asarray(pred) == y))
    if name == "roc_auc":
        assert prob is not None
        return float(skm.roc_auc_score(y, prob)) if len(np.unique(y)) == 2 else math.nan
    if name == "rmse":
        return float(np.sqrt(np.mean((np.asarray(pred, dtype=float) - y) ** 2)))
    if name == "mae":
        return float(np.mean(np.abs(np.asarray(pred, dtype=float) - y)))
    return float(skm.r2_score(y, pred))


def _weighted_scores(
    name: str, y: np.ndarray, pred: Any, prob: np.ndarray | None, weights: np.ndarray
) -> np.ndarray:
    """Return the metric under each row of ``weights`` (how often each row was resampled)."""
    return np.asarray(_weighted(name, y, pred, prob, weights), dtype=float)


def _weighted(name: str, y: np.ndarray, pred: Any, prob: np.ndarray | None, weights: Any) -> Any:
    """The metric under each row of ``weights``.

    A bootstrap resample is a weighting of the rows, so every resample's metric comes from
    a few matrix operations instead of one metric call per resample (ROC AUC by weighted
    ranks, ties counted half, as scikit-learn counts them).
    """
    n = weights.shape[1]
    if name == "accuracy":
        return np.asarray(weights @ (np.asarray(pred) == y), dtype=float) / n
    if name == "roc_auc":
        assert prob is not None
        order = np.argsort(prob, kind="mergesort")
        ranked, positive = prob[order], (y[order] == y.max())
        w = weights[:, order]
        starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
        pos = np.add.reduceat(w * positive, starts, axis=1)
        neg = np.add.reduceat(w * ~positive, starts, axis=1)
        below = np.cumsum(neg, axis=1) - neg
        with np.errstate(invalid="ignore", divide="ignore"):
            return (pos * (below + 0.5 * neg)).sum(axis=1) / (pos.sum(axis=1) * neg.sum(axis=1))
    err = np.asarray(pred, dtype=float) - y
    if name == "rmse":
        return np.sqrt(weights @ (err**2) / n)
    if name == "mae":
        return np.asarray(weights @ np.abs(err), dtype=float) / n
    mean = weights @ y / n
    total = weights @ (y.astype(float) ** 2) / n - mean**2
    return 1 - (weights @ (err**2) / n) / total


def _bootstrap_weights(n: int, resamples: int, seed: int) -> Iterator[np.ndarray]:
    """Yield the bootstrap resamples as row weights (how often each row was drawn), a block
    of resamples at a time.

    Each block is drawn from its own seed (``[seed, block]``), so every metric sees the
    same resamples without holding them all: memory stays near BLOCK_CELLS weights
    whatever the rows (1,000 resamples of a million rows held at once took 8 GB).
    """
    size = max(1, min(64, BLOCK_CELLS // max(n, 1)))
    for block, start in enumerate(range(0, resamples, size)):
        rows = min(size, resamples - start)
        drawn = np.random.default_rng([seed, block]).integers(0, n, size=(rows, n))
        offsets = (drawn + n * np.arange(rows)[:, None]).ravel()
        yield np.bincount(offsets, minlength=rows * n).reshape(rows, n).astype(float)


def _metric_diff(
    name: str,
    y: np.ndarray,
    preds: list[Any],
    probs: list[np.ndarray | None],
    resamples: int,
    seed: int,
) -> MetricDiff | None:
    if name == "roc_auc" and (probs[0] is None or probs[1] is None or len(np.unique(y)) != 2):
        return None
    a = _score(name, y, preds[0], probs[0])
    b = _score(name, y, preds[1], probs[1])
    if len(y) >= ANALYTIC_ROWS:  # one pass instead of resamples x rows
        low, high = paired_interval(name, y, preds, probs)
        return _made(name, a, b, low, high, y, preds, "analytic")
    samples = []
    for weights in _bootstrap_weights(len(y), resamples, seed):
        # the same resampled rows for both models: the interval is the difference's
        samples.append(
            _weighted_scores(name, y, preds[1], probs[1], weights)
            - _weighted_scores(name, y, preds[0], probs[0], weights)
        )
    low, high = np.nanpercentile(np.concatenate(samples), [2.5, 97.5])
    return _made(name, a, b, float(low), float(high), y, preds, "bootstrap")


def _made(
    name: str,
    a: float,
    b: float,
    low: float,
    high: float,
    y: np.ndarray,
    preds: list[Any],
    interval: Literal["bootstrap", "analytic"],
) -> MetricDiff:
    p_value = None
    if name == "accuracy":
        right_a, right_b = np.asarray(preds[0]) == y, np.asarray(preds[1]) == y
        only_b, only_a = int(np.sum(right_b & ~right_a)), int(np.sum(right_a & ~right_b))
        p_value = (
            float(stats.binomtest(only_b, only_a + only_b, 0.5).pvalue) if only_a + only_b else 1.0
        )
    return MetricDiff(
        metric=name,
        champion=a,
        challenger=b,
        difference=b - a,
        ci_low=float(low),
        ci_high=float(high),
        higher_is_better=name in ("accuracy", "roc_auc", "r2"),
        p_value=p_value,
        interval=interval,
    )


def _verdict(
    primary: MetricDiff, agreement: float, min_agreement: float
) -> tuple[Verdict, list[str]]:
    sign = 1 if primary.higher_is_better else -1
    low, high = sorted((sign * primary.ci_low, sign * primary.ci_high))
    said = (
        f"{primary.metric} {primary.challenger:.4f} against {primary.champion:.4f} "
        f"(difference {primary.difference:+.4f}, 95% interval "
        f"[{primary.ci_low:+.4f}, {primary.ci_high:+.4f}])."
    )
    if agreement < min_agreement:
        return "review", [
            said,
            f"The two agree on only {agreement:.1%} of rows (below {min_agreement:.0%}): a wide "
            "variation between the models; a person should look before either is promoted.",
        ]
    if low > 0:
        return "challenger better", [said]
    if high < 0:
        return "champion better", [said]
    return "no clear difference", [said, "The interval holds 0."]


def _segments(
    frame: pd.DataFrame,
    columns: list[str],
    metric: str,
    y: np.ndarray,
    preds: list[Any],
    probs: list[np.ndarray | None],
) -> list[SegmentDiff]:
    out = []
    for column in columns:
        if column not in frame.columns:
            raise InvalidInput(f"No segment column {column!r}; the data has {list(frame.columns)}.")
        values = frame[column].astype(str).to_numpy()
        for value in sorted(set(values))[:50]:
            rows = np.flatnonzero(values == value)
            scores = []
            for i in (0, 1):
                prob = None if probs[i] is None else probs[i][rows]  # type: ignore[index]
                enough = len(rows) >= 2 and (metric != "roc_auc" or len(np.unique(y[rows])) == 2)
                scores.append(
                    _score(metric, y[rows], np.asarray(preds[i])[rows], prob) if enough else None
                )
            a, b = scores
            out.append(
                SegmentDiff(
                    column=column,
                    value=value,
                    rows=len(rows),
                    champion=a,
                    challenger=b,
                    difference=None if a is None or b is None else b - a,
                )
            )
    return out
