"""A/B statistics against published worked examples, and peeking simulated."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.proportion import proportions_ztest

from steward.errors import InvalidInput
from steward.iterate import Arm, analyze_ab_test, msprt_p_values, plan_ab_test, prob_b_beats_a


def test_sample_sizes_match_the_worked_examples() -> None:
    # 10% against 12%, alpha 0.05 two-sided, power 0.8: about 3,840 a arm (Fleiss).
    plan = plan_ab_test("proportion", 0.10, 0.02)
    assert plan.per_arm == 3841
    assert plan_ab_test("proportion", 0.10, 0.2, relative=True).per_arm == 3841
    # A mean difference of half a standard deviation: 63 a arm (2 (1.96 + 0.84)^2 / 0.25).
    assert plan_ab_test("mean", 100.0, 5.0, sd=10.0).per_arm == 63
    # Power 0.9 at alpha 0.01 needs more; a larger effect needs fewer.
    assert plan_ab_test("proportion", 0.10, 0.02, alpha=0.01, power=0.9).per_arm > 3841
    assert plan_ab_test("proportion", 0.10, 0.05).per_arm < 1000
    assert "3,841 per arm (7,682 in all)" in plan.describe()


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"metric": "proportion", "baseline": 0.95, "mde": 0.1}, "strictly between 0 and 1"),
        ({"metric": "mean", "baseline": 1.0, "mde": 0.1}, "standard deviation"),
        ({"metric": "proportion", "baseline": 0.1, "mde": 0.0}, "must not be 0"),
        ({"metric": "proportion", "baseline": 0.1, "mde": 0.02, "power": 1.2}, "between 0 and 1"),
    ],
)
def test_impossible_plans_are_refused_with_the_reason(kwargs: dict, says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        plan_ab_test(**kwargs)


def test_no_fixed_horizon_verdict_before_the_planned_sample() -> None:
    plan = plan_ab_test("proportion", 0.10, 0.02)
    early = analyze_ab_test(plan, Arm(n=1000, total=100), Arm(n=1000, total=150))
    assert early.fixed.ready is False and early.fixed.p_value is None
    assert "1,000 of the planned 3,841 per arm (26%)" in early.fixed.message
    # The sequential p-value and the Bayesian readout are there all along.
    assert early.sequential.p_value < 0.05 and early.bayesian.prob_b_beats_a > 0.99


def test_the_fixed_horizon_test_agrees_with_statsmodels() -> None:
    plan = plan_ab_test("proportion", 0.10, 0.02)
    a, b = Arm(n=4000, total=400), Arm(n=4000, total=470)
    readout = analyze_ab_test(plan, a, b)
    _, p = proportions_ztest([470, 400], [4000, 4000])
    assert readout.fixed.ready and readout.fixed.p_value == pytest.approx(p, rel=1e-9)
    assert readout.fixed.significant and readout.fixed.difference == pytest.approx(0.0175)
    assert readout.fixed.ci_low < 0.0175 < readout.fixed.ci_high
    assert "B above A by +0.0175" in readout.fixed.message


def test_means_are_read_with_their_sample_variances() -> None:
    rng = np.random.default_rng(1)
    plan = plan_ab_test("mean", 100.0, 5.0, sd=10.0)
    a, b = Arm.of(rng.normal(100, 10, 200)), Arm.of(rng.normal(106, 10, 200))
    readout = analyze_ab_test(plan, a, b)
    assert readout.fixed.ready and readout.fixed.significant
    assert readout.bayesian.prob_b_beats_a > 0.99
    assert readout.bayesian.expected_loss_choosing_b < readout.bayesian.expected_loss_choosing_a


def test_the_probability_to_beat_is_exact() -> None:
    # B ~ Beta(2, 1) against A ~ Beta(1, 1): P = integral of 2x * x = 2/3.
    assert prob_b_beats_a(0, 0, 1, 0) == pytest.approx(2 / 3)
    assert prob_b_beats_a(5, 5, 5, 5) == pytest.approx(0.5)
    rng = np.random.default_rng(0)
    draws = (rng.beta(31, 71, 400_000) > rng.beta(21, 81, 400_000)).mean()
    assert prob_b_beats_a(20, 80, 30, 70) == pytest.approx(draws, abs=0.003)


def test_peeking_inflates_false_positives_and_the_sequential_test_does_not() -> None:
    """2,000 A/A tests, looked at every 100 observations up to 5,000 a arm."""
    rng = np.random.default_rng(7)
    sims, n, every, p = 2000, 5000, 100, 0.1
    a = rng.random((sims, n)) < p
    b = rng.random((sims, n)) < p
    looks = np.arange(every, n + 1, every)
    ca, cb = a.cumsum(axis=1)[:, looks - 1], b.cumsum(axis=1)[:, looks - 1]
    diff = (cb - ca) / looks
    pooled = (ca + cb) / (2 * looks)
    se = np.sqrt(pooled * (1 - pooled) * 2 / looks)
    naive = (np.abs(diff / np.where(se > 0, se, np.inf)) > 1.959964).any(axis=1).mean()
    always_valid = np.array(
        [msprt_p_values(diff[i], looks, p * (1 - p), tau=0.02)[-1] < 0.05 for i in range(sims)]
    ).mean()
    assert naive > 0.2  # stopping at the first significant look: a false positive in 1 of 4+
    assert always_valid <= 0.05  # the mSPRT keeps its promise however often it is read


def test_the_sequential_test_finds_a_real_difference() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.random(20_000) < 0.10, rng.random(20_000) < 0.12
    looks = np.arange(500, 20_001, 500)
    diff = (b.cumsum()[looks - 1] - a.cumsum()[looks - 1]) / looks
    p = msprt_p_values(diff, looks, 0.11 * 0.89, tau=0.02)
    assert p[-1] < 0.05 and (np.diff(p) <= 0).all()  # never rises: safe to stop when it falls


def test_arms_that_cannot_be_read_are_refused() -> None:
    plan = plan_ab_test("proportion", 0.10, 0.02)
    with pytest.raises(InvalidInput, match="Arm B has 1 observations"):
        analyze_ab_test(plan, Arm(n=10, total=1), Arm(n=1, total=0))
    with pytest.raises(InvalidInput, match="counts 12 successes in 10"):
        analyze_ab_test(plan, Arm(n=10, total=12), Arm(n=10, total=1))
