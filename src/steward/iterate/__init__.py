"""The iterate stage: champion/challenger comparison, A/B test planning and readouts
(retraining, shadow and bandit analysis follow, issue 12)."""

from __future__ import annotations

from steward.iterate._abtest import ABPlan as ABPlan
from steward.iterate._abtest import ABReadout as ABReadout
from steward.iterate._abtest import Arm as Arm
from steward.iterate._abtest import Bayesian as Bayesian
from steward.iterate._abtest import FixedHorizon as FixedHorizon
from steward.iterate._abtest import Sequential as Sequential
from steward.iterate._abtest import analyze_ab_test as analyze_ab_test
from steward.iterate._abtest import msprt_p_values as msprt_p_values
from steward.iterate._abtest import plan_ab_test as plan_ab_test
from steward.iterate._abtest import prob_b_beats_a as prob_b_beats_a
from steward.iterate._compare import Comparison as Comparison
from steward.iterate._compare import MetricDiff as MetricDiff
from steward.iterate._compare import SegmentDiff as SegmentDiff
from steward.iterate._compare import compare_models as compare_models

__all__ = [
    "ABPlan",
    "ABReadout",
    "Arm",
    "Bayesian",
    "Comparison",
    "FixedHorizon",
    "MetricDiff",
    "SegmentDiff",
    "Sequential",
    "analyze_ab_test",
    "compare_models",
    "msprt_p_values",
    "plan_ab_test",
    "prob_b_beats_a",
]
