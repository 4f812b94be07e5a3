"""Per-column accumulators: fed chunk by chunk, merged pairwise, finished into profiles.

Numeric columns go into a KLL sketch (Apache DataSketches: mergeable quantiles with a
known rank error) plus running moments merged with Chan et al.'s pairwise formula.
Categorical and boolean columns are counted exactly with Arrow's ``value_counts``.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from datasketches import kll_doubles_sketch

from steward.monitor._chunks import Chunk, Kind, arrow_values, numeric_values, rows_of
from steward.monitor._profile import (
    CategorySummary,
    FeatureProfile,
    NumericSummary,
    ProfileSettings,
)


class Moments:
    """Count, mean and sum of squared deviations, merged without a second pass."""

    def __init__(self, n: int = 0, mean: float = 0.0, m2: float = 0.0) -> None:
        self.n, self.mean, self.m2 = n, mean, m2

    def merge(self, n: int, mean: float, m2: float) -> None:
        """Fold in another group's moments (Chan, Golub and LeVeque, 1979)."""
        if n == 0:
            return
        total = self.n + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self.m2 += m2 + delta * delta * self.n * n / total
        self.n = total


class NumericAccumulator:
    """A numeric column's sketch, moments, range, and counts on given bins (if any)."""

    def __init__(self, settings: ProfileSettings, edges: list[float] | None = None) -> None:
        self.sketch = kll_doubles_sketch(settings.sketch_k)
        self.settings = settings
        self.rows = self.missing = self.infinite = 0
        self.moments = Moments()
        self.low, self.high = np.inf, -np.inf
        self.edges = None if edges is None else np.asarray(edges, dtype=np.float64)
        self.counts = None if edges is None else np.zeros(len(edges) + 1, dtype=np.int64)

    def update(self, values: np.ndarray) -> None:
        """Add a chunk of values (NaN: missing, +-inf counted apart)."""
        self.rows += len(values)
        finite = np.isfinite(values)
        kept = int(finite.sum())
        if kept < len(values):
            nan = int(np.isnan(values).sum())
            self.missing += nan
            self.infinite += len(values) - kept - nan
            values = values[finite]
        if kept == 0:
            return
        if not values.flags.writeable or not values.flags.c_contiguous:
            values = np.array(values)  # the sketch's binding takes writable arrays only
        self.sketch.update(values)
        mean = float(values.mean())
        self.moments.merge(kept, mean, float(np.square(values - mean).sum()))
        self.low = min(self.low, float(values.min()))
        self.high = max(self.high, float(values.max()))
        if self.edges is not None and self.counts is not None:
            where = np.searchsorted(self.edges, values, side="left")
            self.counts += np.bincount(where, minlength=len(self.edges) + 1)

    def summary(self) -> NumericSummary:
        """Return the column's numeric summary (bins from the sketch when none were given)."""
        n = self.moments.n
        if self.edges is not None and self.counts is not None:
            edges, counts, exact = self.edges.tolist(), self.counts.astype(float).tolist(), True
        else:
            edges, counts = sketch_bins(self.sketch, self.settings.bins)
            exact = bool(not self.sketch.is_estimation_mode()) or n == 0
        return NumericSummary(
            sketch=base64.b64encode(self.sketch.serialize()).decode(),
            k=self.settings.sketch_k,
            min=float(self.low) if n else None,
            max=float(self.high) if n else None,
            mean=self.moments.mean if n else None,
            std=float(np.sqrt(self.moments.m2 / n)) if n else None,
            infinite=self.infinite,
            bin_edges=edges,
            bin_counts=counts,
            bins_exact=exact,
        )


def sketch_bins(sketch: Any, bins: int) -> tuple[list[float], list[float]]:
    """Return the inner edges of ``bins`` quantile bins of a sketch and its counts in them.

    Ties collapse edges: a column of few distinct values gets fewer bins, each edge a value.
    """
    if sketch.is_empty():
        return [], []
    inner = np.unique(np.asarray(sketch.get_quantiles(np.linspace(0, 1, bins + 1)[1:-1])))
    inner = inner[inner < sketch.get_max_value()]  # the last bin must hold the maximum
    if len(inner) == 0:
        return [], [float(sketch.n)]
    cdf = np.asarray(sketch.get_cdf(inner.tolist(), inclusive=True))  # P(x <= e), then 1
    shares = np.diff(np.concatenate([[0.0], cdf]))
    return inner.tolist(), np.round(shares * sketch.n).tolist()


def merged_numeric(
    a: NumericSummary, b: NumericSummary, settings: ProfileSettings
) -> NumericSummary:
    """Return the summary of two numeric summaries' union (the sketches merged)."""
    sketch = a.kll()
    sketch.merge(b.kll())
    moments = Moments()
    for part, kll in ((a, a.kll()), (b, b.kll())):
        if part.mean is not None and part.std is not None:
            moments.merge(kll.n, part.mean, part.std**2 * kll.n)
    if a.bins_exact and b.bins_exact and a.bin_edges == b.bin_edges:
        edges = a.bin_edges
        counts = (np.add(a.bin_counts, b.bin_counts)).tolist()
        exact = True
    else:
        edges, counts = sketch_bins(sketch, settings.bins)
        exact = not sketch.is_estimation_mode()
    lows = [v for v in (a.min, b.min) if v is not None]
    highs = [v for v in (a.max, b.max) if v is not None]
    n = moments.n
    return NumericSummary(
        sketch=base64.b64encode(sketch.serialize()).decode(),
        k=sketch.k,
        min=min(lows) if lows else None,
        max=max(highs) if highs else None,
        mean=moments.mean if n else None,
        std=float(np.sqrt(moments.m2 / n)) if n else None,
        infinite=a.infinite + b.infinite,
        bin_edges=edges,
        bin_counts=counts,
        bins_exact=exact,
    )


class CategoryAccumulator:
    """Exact counts of a categorical or boolean column's values, compared as text."""

    def __init__(self, settings: ProfileSettings) -> None:
        self.settings = settings
        self.rows = self.missing = 0
        self.counts: dict[str, int] = {}
        self.overflow = False  # past max_distinct values: no longer counted

    def update(self, values: pa.Array) -> None:
        """Add a chunk of values (nulls: missing)."""
        self.rows += len(values)
        if pa.types.is_floating(values.type):  # NaN in a float column is missing too
            values = pc.if_else(pc.is_nan(values), None, values)
        self.missing += values.null_count
        if self.overflow:
            return
        counted = pc.value_counts(values.drop_null())
        labels = counted.field("values")
        if pa.types.is_dictionary(labels.type):
            labels = labels.dictionary_decode()
        if not (pa.types.is_string(labels.type) or pa.types.is_large_string(labels.type)):
            labels = pc.cast(labels, pa.string())
        for label, count in zip(
            labels.to_pylist(), counted.field("counts").to_pylist(), strict=True
        ):
            self.counts[label] = self.counts.get(label, 0) + count
        if len(self.counts) > self.settings.max_distinct:
            self.overflow = True
            self.counts = {}

    def summary(self) -> CategorySummary | None:
        """Return the top values and the rest, or None when there were too many to count."""
        if self.overflow:
            return None
        return top_categories(self.counts, self.settings.top_k, distinct=len(self.counts))


def top_categories(
    counts: dict[str, int], top_k: int, *, distinct: int, other: int = 0, exact: bool = True
) -> CategorySummary:
    """Return the ``top_k`` most frequent of ``counts`` (ties by value) and the rest as other."""
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    kept = dict(ranked[:top_k])
    rest = sum(count for _, count in ranked[top_k:])
    return CategorySummary(counts=kept, other=other + rest, distinct=distinct, distinct_exact=exact)


class Accumulator:
    """One column of a profile being built: its kind, its accumulator and its row counts."""

    def __init__(
        self,
        name: str,
        source: str,
        kind: Kind,
        dtype: str,
        role: str,
        settings: ProfileSettings,
        edges: list[float] | None = None,
    ) -> None:
        self.name, self.source, self.kind, self.dtype, self.role = name, source, kind, dtype, role
        self.rows = self.missing = 0
        self.numeric = NumericAccumulator(settings, edges) if kind == "numeric" else None
        self.categories = (
            CategoryAccumulator(settings) if kind in ("categorical", "boolean") else None
        )

    def update(self, chunk: Chunk) -> None:
        """Add the column's values in ``chunk``."""
        self.update_values(
            numeric_values(chunk, self.source)
            if self.numeric is not None
            else arrow_values(chunk, self.source),
            rows_of(chunk),
        )

    def update_values(self, values: Any, rows: int) -> None:
        """Add ``rows`` values given as a float array (numeric) or an Arrow array (other)."""
        if self.numeric is not None:
            self.numeric.update(np.asarray(values, dtype=np.float64))
        elif self.categories is not None:
            self.categories.update(values if isinstance(values, pa.Array) else pa.array(values))
        else:
            array = values if isinstance(values, pa.Array) else pa.array(values)
            self.missing += array.null_count
        self.rows += rows

    def profile(self) -> FeatureProfile:
        """Return the finished profile of the column."""
        kind, note = self.kind, ""
        numeric = self.numeric.summary() if self.numeric is not None else None
        categories = self.categories.summary() if self.categories is not None else None
        missing = self.missing
        if self.numeric is not None:
            missing = self.numeric.missing
        if self.categories is not None:
            missing = self.categories.missing
            if categories is None:
                kind = "text"
                note = (
                    f"more than {self.categories.settings.max_distinct:,} distinct values: "
                    "profiled as text (no distribution kept)"
                )
        role: Any = self.role
        return FeatureProfile(
            name=self.name,
            role=role,
            kind=kind,
            dtype=self.dtype,
            count=self.rows,
            missing=missing,
            numeric=numeric,
            categories=categories,
            note=note,
        )
