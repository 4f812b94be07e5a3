"""A/B tests: plan a fixed horizon, refuse to read it early, or read it sequentially.

Planning gives the sample per arm that a two-sided test at ``alpha`` needs to detect a
difference of ``mde`` with probability ``power``: for two proportions, the textbook
formula with the pooled variance under the null and the unpooled one under the
alternative (Fleiss; p = 0.10 against 0.12 at alpha 0.05 and power 0.8 needs 3,841 a
arm); for two means, ``2 (z_a + z_b)^2 sd^2 / mde^2``. SciPy gives the normal
quantiles; the formulas are written out because statsmodels' power classes use Cohen's
arcsine effect size for proportions, which gives other numbers than the worked examples
our users check against, and statsmodels is not a runtime dependency.

Reading a fixed-horizon test before its planned sample and stopping when it looks
significant inflates the false-positive rate well beyond ``alpha`` (peeking). The
readout therefore gives the fixed-horizon verdict only once both arms reached the plan,
and beside it always: the always-valid p-value of a mixture sequential probability
ratio test (mSPRT, Johari, Pekelis and Walsh, "Always valid inference", 2017), which
may be looked at after every observation, and a Bayesian readout (probability that B
beats A, and the expected loss of choosing each).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field, model_validator
from scipy import stats
from scipy.special import betaln

from steward.errors import InvalidInput

Metric = Literal["proportion", "mean"]


class ABPlan(BaseModel):
    """A fixed-horizon A/B test: what it compares and how many it needs per arm."""

    metric: Metric
    baseline: float = Field(description="Arm A's rate (proportion) or mean.")
    mde: float = Field(description="The smallest absolute difference worth detecting.")
    sd: float | None = Field(
        default=None, gt=0, description="The metric's standard deviation (means)."
    )
    alpha: float = Field(default=0.05, gt=0, lt=1)
    power: float = Field(default=0.8, gt=0, lt=1)
    per_arm: int = Field(ge=1, description="Observations each arm needs.")
    control: str | None = Field(
        default=None, description="On a deployment: the route that is arm A (else the first)."
    )
    treatment: str | None = Field(
        default=None, description="On a deployment: the route that is arm B (else the second)."
    )

    @model_validator(mode="after")
    def _consistent(self) -> ABPlan:
        if self.mde == 0:
            raise ValueError("mde must not be 0: no sample detects a difference of nothing")
        if self.metric == "mean" and self.sd is None:
            raise ValueError("a plan for a mean needs sd, the metric's standard deviation")
        if self.control is not None and self.control == self.treatment:
            raise ValueError(f"control and treatment are the same route ({self.control!r})")
        return self

    started_at: float | None = Field(
        default=None,
        description="On a deployment: when the plan was stored; the readout counts requests "
        "from then on, also after the split ended.",
    )

    def describe(self) -> str:
        """Return the plan in one sentence."""
        what = (
            f"a rate of {self.baseline:g} against {self.baseline + self.mde:g}"
            if self.metric == "proportion"
            else f"a mean difference of {self.mde:g} (sd {self.sd:g})"
        )
        return (
            f"{self.per_arm:,} per arm ({2 * self.per_arm:,} in all) to detect {what} with "
            f"power {self.power:g} at alpha {self.alpha:g}, two-sided"
        )


class Arm(BaseModel):
    """What an arm has seen: observations, and their sum (successes) and sum of squares."""

    n: int = Field(ge=0)
    total: float = Field(description="Successes (proportion) or the sum of values (mean).")
    total_sq: float | None = Field(default=None, description="Sum of squared values (mean).")

    @classmethod
    def of(cls, values: np.ndarray | list[float]) -> Arm:
        """Return an arm from its observed values (0/1 for a proportion)."""
        x = np.asarray(values, dtype=float)
        return cls(n=len(x), total=float(x.sum()), total_sq=float((x * x).sum()))

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else math.nan

    def variance(self, metric: Metric) -> float:
        """Return the per-observation variance (Bernoulli for proportions)."""
        if metric == "proportion":
            return self.mean * (1 - self.mean)
        if self.total_sq is None or self.n < 2:
            raise InvalidInput("A mean's arm needs total_sq and at least two observations.")
        return max(self.total_sq - self.n * self.mean**2, 0.0) / (self.n - 1)


class FixedHorizon(BaseModel):
    """The planned test's verdict, given only once both arms reached the plan."""

    ready: bool
    progress: float = Field(description="Share of the planned sample the smaller arm has.")
    message: str
    p_value: float | None = None
    difference: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    significant: bool | None = None


class Sequential(BaseModel):
    """The mSPRT's always-valid p-value: safe to read after every observation."""

    p_value: float
    significant: bool
    tau: float = Field(description="The mixing distribution's standard deviation.")


class Bayesian(BaseModel):
    """Posteriors of both arms: the probability that B beats A, and expected losses."""

    prob_b_beats_a: float
    expected_loss_choosing_a: float
    expected_loss_choosing_b: float


class ABReadout(BaseModel):
    """What an A/B test shows now, three ways."""

    plan: ABPlan
    a: Arm
    b: Arm
    fixed: FixedHorizon
    sequential: Sequential
    bayesian: Bayesian


def plan_ab_test(
    metric: Metric,
    baseline: float,
    mde: float,
    *,
    sd: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    relative: bool = False,
) -> ABPlan:
    """Return the plan of a fixed-horizon, two-sided test (``mde`` relative if asked)."""
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise InvalidInput(f"alpha and power lie between 0 and 1; got {alpha} and {power}.")
    effect = mde * baseline if relative else mde
    if effect == 0:
        raise InvalidInput("The minimum detectable effect must not be 0.")
    z_a, z_b = stats.norm.ppf(1 - alpha / 2), stats.norm.ppf(power)
    if metric == "proportion":
        p1, p2 = baseline, baseline + effect
        if not (0 < p1 < 1 and 0 < p2 < 1):
            raise InvalidInput(
                f"A proportion's baseline and baseline + mde lie strictly between 0 and 1; "
                f"got {p1:g} and {p2:g}."
            )
        pooled = (p1 + p2) / 2
        root = z_a * math.sqrt(2 * pooled * (1 - pooled)) + z_b * math.sqrt(
            p1 * (1 - p1) + p2 * (1 - p2)
        )
        n = root**2 / effect**2
    elif metric == "mean":
        if sd is None or sd <= 0:
            raise InvalidInput("A mean's plan needs the metric's standard deviation: sd=...")
        n = 2 * (z_a + z_b) ** 2 * sd**2 / effect**2
    else:
        raise InvalidInput(f"metric is 'proportion' or 'mean'; got {metric!r}.")
    return ABPlan(
        metric=metric,
        baseline=baseline,
        mde=effect,
        sd=sd,
        alpha=alpha,
        power=power,
        per_arm=math.ceil(n - 1e-9),
    )


def analyze_ab_test(
    plan: ABPlan, a: Arm, b: Arm, *, draws: int = 200_000, seed: int = 0
) -> ABReadout:
    """Return the readout of arms ``a`` and ``b`` against ``plan``."""
    for name, arm in (("A", a), ("B", b)):
        if arm.n < 2:
            raise InvalidInput(f"Arm {name} has {arm.n} observations; a readout needs two or more.")
        if plan.metric == "proportion" and not 0 <= arm.total <= arm.n:
            raise InvalidInput(
                f"Arm {name} counts {arm.total:g} successes in {arm.n} observations."
            )
    return ABReadout(
        plan=plan,
        a=a,
        b=b,
        fixed=_fixed(plan, a, b),
        sequential=_sequential(plan, a, b),
        bayesian=_bayesian(plan, a, b, draws, seed),
    )


def _fixed(plan: ABPlan, a: Arm, b: Arm) -> FixedHorizon:
    progress = min(a.n, b.n) / plan.per_arm
    if progress < 1:
        return FixedHorizon(
            ready=False,
            progress=progress,
            message=(
                f"{min(a.n, b.n):,} of the planned {plan.per_arm:,} per arm ({progress:.0%}): "
                "no fixed-horizon verdict yet. Stopping early when it looks significant "
                "makes false positives far likelier than alpha; read the sequential p-value "
                "to monitor continuously."
            ),
        )
    diff = b.mean - a.mean
    if plan.metric == "proportion":
        pooled = (a.total + b.total) / (a.n + b.n)
        se0 = math.sqrt(pooled * (1 - pooled) * (1 / a.n + 1 / b.n))
    else:
        se0 = math.sqrt(a.variance("mean") / a.n + b.variance("mean") / b.n)
    se = math.sqrt(a.variance(plan.metric) / a.n + b.variance(plan.metric) / b.n)
    z = diff / se0 if se0 > 0 else 0.0
    p_value = float(2 * stats.norm.sf(abs(z)))
    half = stats.norm.ppf(1 - plan.alpha / 2) * se
    significant = p_value < plan.alpha
    verdict = (
        f"B {'above' if diff > 0 else 'below'} A by {diff:+.4g} (p = {p_value:.3g})"
        if significant
        else f"no significant difference ({diff:+.4g}, p = {p_value:.3g})"
    )
    return FixedHorizon(
        ready=True,
        progress=progress,
        message=f"The planned sample is reached: {verdict}.",
        p_value=p_value,
        difference=diff,
        ci_low=diff - half,
        ci_high=diff + half,
        significant=significant,
    )


def msprt_p_values(diffs: np.ndarray, ns: np.ndarray, variance: float, tau: float) -> np.ndarray:
    """Return the always-valid p-values of a difference observed at successive looks.

    ``diffs[i]`` is mean B - mean A after ``ns[i]`` observations per arm; ``variance`` is
    one observation's (per arm), so a pair's difference has variance 2 * variance. The
    mixture likelihood ratio against 0 with a N(0, tau^2) mixture (Johari et al. 2017):
    sqrt(V / (V + n tau^2)) * exp(n^2 tau^2 d^2 / (2 V (V + n tau^2))), V = 2 variance;
    the p-value is the running minimum of its inverse.
    """
    v = 2 * variance
    n = np.asarray(ns, dtype=float)
    d = np.asarray(diffs, dtype=float)
    log_ratio = 0.5 * np.log(v / (v + n * tau**2)) + (n**2 * tau**2 * d**2) / (
        2 * v * (v + n * tau**2)
    )
    return np.minimum.accumulate(np.minimum(1.0, np.exp(-log_ratio)))


def _sequential(plan: ABPlan, a: Arm, b: Arm) -> Sequential:
    n = min(a.n, b.n)
    if plan.metric == "proportion":
        pooled = (a.total + b.total) / (a.n + b.n)
        variance = pooled * (1 - pooled)
    else:
        variance = (a.variance("mean") + b.variance("mean")) / 2
    tau = abs(plan.mde)  # mix over effects of the size the test was planned to find
    p = float(msprt_p_values(np.array([b.mean - a.mean]), np.array([n]), variance, tau)[0])
    return Sequential(p_value=p, significant=p < plan.alpha, tau=tau)


def prob_b_beats_a(a_succ: int, a_fail: int, b_succ: int, b_fail: int) -> float:
    """Return P(p_B > p_A) for Beta(1 + successes, 1 + failures) posteriors, exactly.

    The closed form sums over B's successes (Evan Miller, "Formulas for Bayesian A/B
    testing"); it costs one term per success of B.
    """
    alpha_a, beta_a, alpha_b, beta_b = a_succ + 1, a_fail + 1, b_succ + 1, b_fail + 1
    i = np.arange(alpha_b)
    terms = (
        betaln(alpha_a + i, beta_a + beta_b)
        - np.log(beta_b + i)
        - betaln(1 + i, beta_b)
        - betaln(alpha_a, beta_a)
    )
    return float(np.clip(np.exp(terms).sum(), 0.0, 1.0))


def _bayesian(plan: ABPlan, a: Arm, b: Arm, draws: int, seed: int) -> Bayesian:
    rng = np.random.default_rng(seed)
    if plan.metric == "proportion":
        sa, sb = round(a.total), round(b.total)
        pa = rng.beta(1 + sa, 1 + a.n - sa, draws)
        pb = rng.beta(1 + sb, 1 + b.n - sb, draws)
        prob = prob_b_beats_a(sa, a.n - sa, sb, b.n - sb)
    else:  # flat priors: each mean's posterior is normal around it with its standard error
        pa = rng.normal(a.mean, math.sqrt(a.variance("mean") / a.n), draws)
        pb = rng.normal(b.mean, math.sqrt(b.variance("mean") / b.n), draws)
        prob = float((pb > pa).mean())
    return Bayesian(
        prob_b_beats_a=prob,
        expected_loss_choosing_a=float(np.maximum(pb - pa, 0).mean()),
        expected_loss_choosing_b=float(np.maximum(pa - pb, 0).mean()),
    )
