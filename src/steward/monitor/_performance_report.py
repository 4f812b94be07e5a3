"""What ``performance`` returns: metrics with intervals per group, label counts, a summary."""

from __future__ import annotations

import datetime as dt
from typing import Literal

import pandas as pd
from pydantic import BaseModel, Field

from steward.monitor._performance_labels import LabelCounts

Label = bool | int | float | str


class PerformanceMetric(BaseModel):
    """One metric of one group of predictions, with its confidence interval."""

    value: float | None = Field(description="The metric; None when undefined for these rows.")
    low: float | None = None
    high: float | None = None
    interval: Literal["wilson", "bootstrap"] = Field(
        description="How the interval was computed: Wilson score, or bootstrap percentile."
    )
    rows: int = Field(description="Labeled rows the metric is computed on.")


class PerformanceGroup(BaseModel):
    """The predictions of one group (all of them, a time window or a segment value)."""

    scope: Literal["overall", "window", "segment"]
    start: dt.datetime | None = Field(
        None, description="A window's start; for other groups, the first prediction's time."
    )
    end: dt.datetime | None = Field(
        None, description="A window's end (exclusive); else the last prediction's time."
    )
    segment: str | None = Field(None, description="The segment's column, e.g. 'input.plan'.")
    value: str | None = Field(None, description="The segment's value, as text.")
    predictions: int = Field(description="Predictions that count (primary route, no error).")
    labeled: int = Field(description="Predictions with a label counted in the metrics.")
    refused: int = Field(0, description="Predictions whose only labels were refused.")
    waiting: int = Field(description="Predictions still waiting for a label.")
    metrics: dict[str, PerformanceMetric]


class PerformanceReport(BaseModel):
    """The model's performance against ground truth: overall, per window, per segment."""

    task: Literal["classification", "regression"]
    classes: list[Label] | None = None
    positive: Label | None = Field(None, description="The class binary metrics are of.")
    window: str | None
    confidence: float
    n_boot: int
    seed: int
    intervals: str = Field(description="How the intervals were computed, in words.")
    overall: PerformanceGroup
    windows: list[PerformanceGroup]
    segments: list[PerformanceGroup]
    labels: LabelCounts
    notes: list[str] = Field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """Return one row per group and metric: scope, bounds, counts, value and interval."""
        rows = []
        for g in [self.overall, *self.windows, *self.segments]:
            for name, m in g.metrics.items():
                rows.append(
                    {
                        "scope": g.scope,
                        "start": g.start,
                        "end": g.end,
                        "segment": g.segment,
                        "segment_value": g.value,
                        "predictions": g.predictions,
                        "labeled": g.labeled,
                        "refused": g.refused,
                        "waiting": g.waiting,
                        "metric": name,
                        "value": m.value,
                        "low": m.low,
                        "high": m.high,
                        "interval": m.interval,
                        "rows": m.rows,
                    }
                )
        return pd.DataFrame(rows)

    def summary(self) -> str:
        """Return a few lines of text: overall metrics, the weakest window, the labels' fate."""
        o = self.overall
        head = "accuracy" if self.task == "classification" else "mae"
        lines = [
            f"{o.predictions:,} predictions: {o.labeled:,} labeled, {o.waiting:,} waiting for "
            f"labels" + (f", {o.refused:,} with refused labels." if o.refused else ".")
        ]
        shown = ", ".join(f"{name} {_metric(m)}" for name, m in o.metrics.items())
        lines.append(f"Overall ({self.confidence:.0%} intervals): {shown}.")
        scored = [w for w in self.windows if w.metrics[head].value is not None]
        if len(scored) > 1:
            pick = min if head == "accuracy" else max
            worst = pick(scored, key=lambda w: w.metrics[head].value or 0.0)
            when = worst.start.strftime("%Y-%m-%d %H:%M") if worst.start else "?"
            lines.append(
                f"Weakest of {len(scored)} windows ({self.window}): {head} "
                f"{_metric(worst.metrics[head])} in the window from {when} UTC."
            )
        lines.append(_labels_line(self.labels))
        lines.extend(self.notes)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def _metric(m: PerformanceMetric) -> str:
    if m.value is None:
        return "n/a"
    if m.low is None or m.high is None:
        return f"{m.value:.3f}"
    return f"{m.value:.3f} [{m.low:.3f}, {m.high:.3f}]"


def _labels_line(c: LabelCounts) -> str:
    parts = [f"Labels: {c.given:,} given, {c.matched:,} matched"]
    for key, text in (
        ("unknown_request_ids", "for unknown request ids"),
        ("unknown_rows", "for rows the request did not have"),
        ("not_scored", "for failed or non-primary requests"),
        ("duplicates", "superseded by a later label of the same row"),
        ("without_label", "feedback without a label"),
    ):
        count = int(getattr(c, key))
        if count:
            example = c.examples.get(key, [])
            shown = f" (e.g. {', '.join(example[:2])})" if example else ""
            parts.append(f"{count:,} {text}{shown}")
    if c.refused:
        reasons = "; ".join(f"{n:,} {reason}" for reason, n in sorted(c.refused.items()))
        parts.append(f"{c.refused_total:,} refused ({reasons})")
    return ", ".join(parts) + "."
