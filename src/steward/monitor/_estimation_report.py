"""What a performance estimate returns: expected metrics per window, bands, drops."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from pydantic import BaseModel, Field


class EstimatedMetric(BaseModel):
    """One estimated metric of one window, its band, and whether it dropped."""

    value: float | None = Field(description="Expected metric from calibrated probabilities.")
    low: float | None = Field(None, description="Low end of the band of the realized metric.")
    high: float | None = Field(None, description="High end of the band of the realized metric.")
    reference: float | None = Field(None, description="The metric realized on reference data.")
    dropped: bool = Field(False, description="reference - value exceeds the allowed drop.")


class EstimatedWindow(BaseModel):
    """The estimate for the predictions of one time window (or all of them)."""

    start: dt.datetime | None = None
    end: dt.datetime | None = Field(None, description="Exclusive end of a time window.")
    rows: int
    metrics: dict[str, EstimatedMetric]


class EstimatedPerformance(BaseModel):
    """Performance estimated without labels (CBPE), overall and per window."""

    window: str | None
    confidence: float
    max_drop: float
    n_samples: int
    band: str = Field(description="What the band around each estimate means, in words.")
    overall: EstimatedWindow
    windows: list[EstimatedWindow]
    dropped: bool = Field(description="Whether any metric of any window dropped.")
    drops: list[str] = Field(default_factory=list, description="Each drop, in words.")
    notes: list[str] = Field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """Return one row per window (the first 'overall') and metric."""
        rows = []
        for scope, w in [("overall", self.overall), *(("window", w) for w in self.windows)]:
            for name, m in w.metrics.items():
                rows.append(
                    {
                        "scope": scope,
                        "start": w.start,
                        "end": w.end,
                        "rows": w.rows,
                        "metric": name,
                        "value": m.value,
                        "low": m.low,
                        "high": m.high,
                        "reference": m.reference,
                        "dropped": m.dropped,
                    }
                )
        return pd.DataFrame(rows)

    def summary(self) -> str:
        """Return a few lines of text: the overall estimate and each drop."""
        shown = ", ".join(
            f"{name} {m.value:.3f} (reference {m.reference:.3f})"
            if m.value is not None and m.reference is not None
            else f"{name} n/a"
            for name, m in self.overall.metrics.items()
        )
        lines = [f"Estimated on {self.overall.rows:,} unlabeled predictions: {shown}."]
        if self.drops:
            lines.append(f"Dropped by more than {self.max_drop}: " + "; ".join(self.drops) + ".")
        else:
            lines.append(f"No metric dropped by more than {self.max_drop} in any window.")
        return "\n".join([*lines, *self.notes])

    def __str__(self) -> str:
        return self.summary()
