"""Drift tests: a registry of test classes, each a serializable config and a calculation.

As Evidently splits a metric into its config and its calculation, a test here is a class
with a :class:`DriftTestConfig` (threshold, alpha, minimum rows: data that loads from YAML) and
a :meth:`DriftTest.compute` that reads two column profiles through a :class:`ColumnPair`.
The built-in tests register with :func:`register_drift_test` exactly as a user's would.

A test says a column drifted when its **effect size** reaches the threshold **and**, if it
has a p-value, that p-value is below alpha (shared by the column's tests with a
p-value, Bonferroni), **and**, if it estimates its noise (the effect sampling alone gives),
the effect is ``noise_multiple`` times that. On large samples every p-value is tiny, so
the effect size decides (large samples do not cry wolf); on small samples the p-value
keeps sampling noise from passing for drift. Statistics that are unreliable on small
samples do not run there (``min_rows``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import cached_property
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy import stats
from scipy.spatial.distance import jensenshannon

from steward.errors import InvalidInput
from steward.monitor._profile import FeatureProfile

PSI_FLOOR = 1e-4  # the usual floor on a bin's share, so an empty bin does not make PSI infinite
RARE = 10  # categories seen fewer times than this in both samples together are pooled


class DriftTestConfig(BaseModel):
    """When a test runs and when it says drift: effect threshold, alpha, minimum rows."""

    model_config = ConfigDict(extra="forbid")

    threshold: float = Field(ge=0, description="drift when the effect size reaches this")
    alpha: float | None = Field(
        default=0.05, gt=0, lt=1, description="and the p-value is below this (None: ignored)"
    )
    min_rows: int = Field(
        default=20, ge=1, description="run only when both samples have this many values"
    )
    noise_multiple: float = Field(
        default=3.0,
        ge=0,
        description="and, for a test that estimates it, the effect is this many times what "
        "sampling alone gives with no drift",
    )
    enabled: bool = True


class DriftOutcome(BaseModel):
    """What a test computed: its statistic, the effect size it judges by, a p-value if any."""

    statistic: float
    effect: float
    p_value: float | None = None
    noise: float | None = Field(
        default=None, description="the effect expected from sampling alone, with no drift"
    )


class DriftTestResult(DriftOutcome):
    """A test's outcome with the threshold it was judged by and its verdict."""

    test: str
    effect_name: str
    threshold: float
    alpha: float | None
    drifted: bool

    @property
    def score(self) -> float:
        """Return the effect size as a multiple of its threshold."""
        return self.effect / self.threshold if self.threshold else float(self.effect > 0)


class ColumnPair:
    """A reference column profile beside the current one, with what tests share computed once."""

    def __init__(self, reference: FeatureProfile, current: FeatureProfile) -> None:
        self.reference, self.current = reference, current

    @property
    def rows(self) -> tuple[int, int]:
        """Return the number of values (not missing) in the reference and the current."""
        return self.reference.values, self.current.values

    @property
    def effective_n(self) -> float:
        """Return n*m/(n+m), the size that two-sample statistics scale with."""
        n, m = self.rows
        return n * m / (n + m) if n + m else 0.0

    @cached_property
    def distributions(self) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """Return each side's sketch as sorted values with their cumulative shares."""
        return _distribution(self._summary(self.reference)), _distribution(
            self._summary(self.current)
        )

    @cached_property
    def cdfs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return the union of both sketches' values, and each side's CDF at them."""
        (rv, rc), (cv, cc) = self.distributions
        points = np.union1d(rv, cv)
        return points, _cdf_at(rv, rc, points), _cdf_at(cv, cc, points)

    @cached_property
    def ks(self) -> tuple[float, float]:
        """Return the Kolmogorov-Smirnov distance of the two CDFs and its p-value."""
        _, f_ref, f_cur = self.cdfs
        d = float(np.max(np.abs(f_ref - f_cur))) if len(f_ref) else 0.0
        return d, float(stats.kstwo.sf(d, max(round(self.sketched_n), 1)))

    @cached_property
    def sketched_n(self) -> float:
        """Return the effective size for p-values of statistics read off both sketches.

        A sketch in estimation mode resolves ranks to within its error bound e, about as
        well as a sample of 1/(4e^2) rows (5,400 at k=400) does; p-values computed with
        the full row counts would call the sketch's own error drift at large n.
        """
        return _effective(*(_resolution(p) for p in (self.reference, self.current)))

    @cached_property
    def binned_n(self) -> float:
        """Return the effective size for p-values of the counts in the reference's bins."""
        ref, cur = self._summary(self.reference), self._summary(self.current)
        n = self.reference.values if ref.bins_exact else _resolution(self.reference)
        exact = cur.bins_exact and cur.bin_edges == ref.bin_edges
        m = self.current.values if exact else _resolution(self.current)
        return _effective(n, m)

    @cached_property
    def bins(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the reference's and the current's counts in the reference's bins."""
        ref, cur = self._summary(self.reference), self._summary(self.current)
        if cur.bin_edges == ref.bin_edges:
            return np.asarray(ref.bin_counts), np.asarray(cur.bin_counts)
        values, cdf = self.distributions[1]
        inner = _cdf_at(values, cdf, np.asarray(ref.bin_edges))
        shares = np.diff(np.concatenate([[0.0], inner, [1.0]]))
        return np.asarray(ref.bin_counts), shares * self.current.values

    @cached_property
    def categories(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Return the categories of both sides (rare ones pooled as other) and their counts."""
        ref, cur = self.reference.categories, self.current.categories
        if ref is None or cur is None:
            raise InvalidInput(f"Column {self.reference.name!r} has no category counts.")
        labels = sorted(set(ref.counts) | set(cur.counts))
        r = np.array([ref.counts.get(v, 0) for v in labels], dtype=np.float64)
        c = np.array([cur.counts.get(v, 0) for v in labels], dtype=np.float64)
        rare = (r + c) < RARE
        labels = [v for v, pooled in zip(labels, rare, strict=True) if not pooled]
        other_r, other_c = ref.other + r[rare].sum(), cur.other + c[rare].sum()
        r, c = r[~rare], c[~rare]
        if other_r + other_c > 0:
            labels, r, c = [*labels, "(other)"], np.append(r, other_r), np.append(c, other_c)
        return labels, r, c

    @staticmethod
    def _summary(profile: FeatureProfile) -> Any:
        if profile.numeric is None:
            raise InvalidInput(f"Column {profile.name!r} has no numeric summary.")
        return profile.numeric


def _effective(n: float, m: float) -> float:
    return n * m / (n + m) if n + m else 0.0


def _resolution(profile: FeatureProfile) -> float:
    """Return the rows a column's sketch is worth for a p-value (all of them when exact)."""
    if profile.numeric is None:
        return float(profile.values)
    sketch = profile.numeric.kll()
    if not sketch.is_estimation_mode():
        return float(profile.values)
    error = float(sketch.normalized_rank_error(False))
    return min(float(profile.values), 1.0 / (4.0 * error * error))


def _distribution(summary: Any) -> tuple[np.ndarray, np.ndarray]:
    sketch = summary.kll()
    if sketch.is_empty():
        return np.array([]), np.array([])
    items = np.array(list(sketch), dtype=np.float64).reshape(-1, 2)
    order = np.argsort(items[:, 0], kind="stable")
    values, weights = items[order, 0], items[order, 1]
    cdf = np.cumsum(weights) / weights.sum()
    # one point a distinct value: its CDF is the share at or below it
    last = np.r_[values[1:] != values[:-1], True]
    return values[last], cdf[last]


def _cdf_at(values: np.ndarray, cdf: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Return P(X <= point) of a distribution given as sorted values and cumulative shares."""
    where = np.searchsorted(values, points, side="right")
    return np.where(where > 0, cdf[np.maximum(where - 1, 0)], 0.0)


class DriftTest(ABC):
    """A drift test: which column kinds it applies to, its default config, its calculation."""

    name: ClassVar[str]
    kinds: ClassVar[tuple[str, ...]]
    effect_name: ClassVar[str]
    defaults: ClassVar[DriftTestConfig]

    def __init__(self, config: DriftTestConfig | None = None) -> None:
        self.config = config or self.defaults

    def applies(self, pair: ColumnPair) -> bool:
        """Return True when the test fits the column's kind and both samples' sizes."""
        return (
            self.config.enabled
            and pair.reference.kind in self.kinds
            and min(pair.rows) >= self.config.min_rows
        )

    @abstractmethod
    def compute(self, pair: ColumnPair) -> DriftOutcome:
        """Return the statistic, effect size and p-value of the test on one column."""

    def run(self, pair: ColumnPair) -> DriftTestResult:
        """Return the test's result on one column, judged by its config."""
        return self.judge(self.compute(pair))

    def judge(self, out: DriftOutcome, *, tests: int = 1) -> DriftTestResult:
        """Return the verdict on an outcome: effect at the threshold and above the noise,
        p-value below alpha shared among the column's ``tests`` with p-values (Bonferroni)."""
        config = self.config
        alpha = None if config.alpha is None or out.p_value is None else config.alpha / tests
        significant = alpha is None or (out.p_value is not None and out.p_value < alpha)
        clear = out.noise is None or out.effect >= config.noise_multiple * out.noise
        return DriftTestResult(
            test=self.name,
            statistic=_finite(out.statistic),
            effect=_finite(out.effect),
            p_value=out.p_value,
            noise=out.noise,
            effect_name=self.effect_name,
            threshold=config.threshold,
            alpha=alpha,
            drifted=bool(out.effect >= config.threshold and significant and clear),
        )


def _finite(value: float) -> float:
    return float(np.nan_to_num(value, nan=0.0, posinf=1e300, neginf=-1e300))


_tests: dict[str, type[DriftTest]] = {}


def register_drift_test(cls: type[DriftTest]) -> type[DriftTest]:
    """Return ``cls`` after registering it under its ``name`` (a decorator; built-ins use it too)."""
    if not getattr(cls, "name", "") or not getattr(cls, "kinds", ()):
        raise InvalidInput(
            f"A drift test needs a class attribute 'name' and 'kinds'; {cls.__name__} lacks one."
        )
    _tests[cls.name] = cls
    return cls


def drift_tests() -> dict[str, type[DriftTest]]:
    """Return the registered drift tests by name."""
    return dict(_tests)


@register_drift_test
class KolmogorovSmirnov(DriftTest):
    """Largest gap between the two CDFs (read off both sketches); p-value from the
    Kolmogorov distribution, sized as the sketches resolve (see :attr:`ColumnPair.sketched_n`)."""

    name = "ks"
    kinds = ("numeric",)
    effect_name = "KS distance D"
    defaults = DriftTestConfig(threshold=0.1)

    def compute(self, pair: ColumnPair) -> DriftOutcome:
        d, p = pair.ks
        return DriftOutcome(statistic=d, effect=d, p_value=p)


@register_drift_test
class Wasserstein(DriftTest):
    """Earth mover's distance between the two distributions, in reference standard
    deviations. It has no p-value of its own and takes the KS test's: the distance says
    how far the mass moved, KS whether it moved at all. Without that, a few extreme values
    landing in one sample and not the other pass for drift in a heavy-tailed column (a
    column that is mostly 0 with rare values in the thousands). Its noise is the distance
    two samples of these sizes from the reference distribution lie apart on average,
    sqrt(2/pi) * integral of sqrt(F(1-F)) dx * sqrt(1/n + 1/m) (the Brownian-bridge
    limit). It runs on 1,000 values a side or more."""

    name = "wasserstein"
    kinds = ("numeric",)
    effect_name = "Wasserstein distance / reference std"
    defaults = DriftTestConfig(threshold=0.1, min_rows=1000)

    def compute(self, pair: ColumnPair) -> DriftOutcome:
        points, f_ref, f_cur = pair.cdfs
        distance = float(np.sum(np.abs(f_ref - f_cur)[:-1] * np.diff(points)))
        summary = pair.reference.numeric
        scale = summary.std if summary is not None and summary.std else 0.0
        if not scale:  # a constant reference: any move is measured against its size
            scale = abs(summary.mean or 0.0) if summary is not None else 0.0
        values, cdf = pair.distributions[0]
        spread = float(np.sum(np.sqrt(cdf * (1 - cdf))[:-1] * np.diff(values)))
        n, m = pair.rows
        noise = np.sqrt(2 / np.pi) * spread * np.sqrt(1 / n + 1 / m)
        scale = scale or 1.0
        return DriftOutcome(
            statistic=distance, effect=distance / scale, p_value=pair.ks[1], noise=noise / scale
        )


@register_drift_test
class PopulationStability(DriftTest):
    """Population stability index over the reference's bins (quantile bins of a numeric
    column, the categories of a categorical one); p-value from its chi-square limit,
    n*m/(n+m) * PSI ~ chi2(bins - 1). A large-sample statistic: below 1,000 values a side
    empty bins make it jump (an empty decile alone scores 0.69), so it does not run there."""

    name = "psi"
    kinds = ("numeric", "categorical", "boolean")
    effect_name = "PSI"
    defaults = DriftTestConfig(threshold=0.2, min_rows=1000)

    def compute(self, pair: ColumnPair) -> DriftOutcome:
        if pair.reference.kind == "numeric":
            (ref, cur), n = pair.bins, pair.binned_n
        else:
            (_, ref, cur), n = pair.categories, pair.effective_n
        psi = psi_value(ref, cur)
        p = float(stats.chi2.sf(psi * n, max(len(ref) - 1, 1)))
        return DriftOutcome(statistic=psi, effect=psi, p_value=p)


def psi_value(reference: np.ndarray, current: np.ndarray) -> float:
    """Return the PSI of two count vectors over the same bins (shares floored at 1e-4)."""
    r = np.maximum(reference / max(reference.sum(), 1.0), PSI_FLOOR)
    c = np.maximum(current / max(current.sum(), 1.0), PSI_FLOOR)
    return float(np.sum((c - r) * np.log(c / r)))


@register_drift_test
class ChiSquare(DriftTest):
    """Pearson's chi-square test of homogeneity on the two samples' category counts (a
    two-sample test: the reference's counts are a sample too); effect size Cramér's V."""

    name = "chi_square"
    kinds = ("categorical", "boolean")
    effect_name = "Cramér's V"
    defaults = DriftTestConfig(threshold=0.1)

    def compute(self, pair: ColumnPair) -> DriftOutcome:
        _, ref, cur = pair.categories
        if len(ref) < 2:
            return DriftOutcome(statistic=0.0, effect=0.0, p_value=1.0)
        result = stats.chi2_contingency(np.vstack([ref, cur]), correction=False)
        chi2 = float(result.statistic)
        return DriftOutcome(
            statistic=chi2,
            effect=float(np.sqrt(chi2 / (ref.sum() + cur.sum()))),
            p_value=float(result.pvalue),
        )


@register_drift_test
class JensenShannon(DriftTest):
    """Jensen-Shannon distance (base 2, 0 to 1) between the category shares; p-value from
    the G-test on the same counts (the divergence is the information the G-test measures)."""

    name = "jensen_shannon"
    kinds = ("categorical", "boolean")
    effect_name = "Jensen-Shannon distance"
    defaults = DriftTestConfig(threshold=0.1)

    def compute(self, pair: ColumnPair) -> DriftOutcome:
        _, ref, cur = pair.categories
        if len(ref) < 2:
            return DriftOutcome(statistic=0.0, effect=0.0, p_value=1.0)
        distance = float(jensenshannon(ref, cur, base=2))
        g = stats.chi2_contingency(
            np.vstack([ref, cur]), correction=False, lambda_="log-likelihood"
        )
        return DriftOutcome(statistic=distance, effect=distance, p_value=float(g.pvalue))


@register_drift_test
class MissingRate(DriftTest):
    """Change in the share of rows without a value; p-value from the chi-square test of
    the 2x2 table (missing, present) x (reference, current)."""

    name = "missing_rate"
    kinds = ("numeric", "categorical", "boolean", "text", "datetime")
    effect_name = "absolute change in missing rate"
    defaults = DriftTestConfig(threshold=0.05)

    def applies(self, pair: ColumnPair) -> bool:
        counts = (pair.reference.count, pair.current.count)
        return self.config.enabled and min(counts) >= self.config.min_rows

    def compute(self, pair: ColumnPair) -> DriftOutcome:
        ref, cur = pair.reference, pair.current
        change = cur.missing_rate - ref.missing_rate
        table = np.array(
            [[ref.missing, ref.count - ref.missing], [cur.missing, cur.count - cur.missing]],
            dtype=np.float64,
        )
        if (table.sum(axis=0) == 0).any():
            p = 1.0
        else:
            p = float(stats.chi2_contingency(table, correction=False).pvalue)
        return DriftOutcome(statistic=change, effect=abs(change), p_value=p)
