"""The iterate stage: the retraining pipeline (new-data validation, a tracked training
run, champion against challenger, a policy-driven decision), A/B test planning and
readouts, shadow and bandit analysis."""

from __future__ import annotations

from steward.iterate._ablive import ab_arms as ab_arms
from steward.iterate._ablive import ab_outcomes as ab_outcomes
from steward.iterate._ablive import ab_readout as ab_readout
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
from steward.iterate._api import get_ab_plan as get_ab_plan
from steward.iterate._api import get_retraining as get_retraining
from steward.iterate._api import get_retraining_config as get_retraining_config
from steward.iterate._api import list_retrainings as list_retrainings
from steward.iterate._api import retraining_report as retraining_report
from steward.iterate._api import set_ab_plan as set_ab_plan
from steward.iterate._api import set_retraining as set_retraining
from steward.iterate._bandit import BanditAnalysis as BanditAnalysis
from steward.iterate._bandit import BanditSimulation as BanditSimulation
from steward.iterate._bandit import analyze_bandit as analyze_bandit
from steward.iterate._bandit import simulate_bandit as simulate_bandit
from steward.iterate._compare import Comparison as Comparison
from steward.iterate._compare import MetricDiff as MetricDiff
from steward.iterate._compare import SegmentDiff as SegmentDiff
from steward.iterate._compare import compare_models as compare_models
from steward.iterate._iterate_ops import IterateOps as IterateOps
from steward.iterate._newdata import DataCheck as DataCheck
from steward.iterate._newdata import NewDataReport as NewDataReport
from steward.iterate._newdata import validate_new_data as validate_new_data
from steward.iterate._records import NewDataChecks as NewDataChecks
from steward.iterate._records import PromotionBounds as PromotionBounds
from steward.iterate._records import Retraining as Retraining
from steward.iterate._records import RetrainingConfig as RetrainingConfig
from steward.iterate._records import RetrainingStep as RetrainingStep
from steward.iterate._retrain import RetrainingOutcome as RetrainingOutcome
from steward.iterate._retrain import retrain as retrain
from steward.iterate._retrain import retrain_if_drifted as retrain_if_drifted
from steward.iterate._shadow import ShadowAnalysis as ShadowAnalysis
from steward.iterate._shadow import ShadowRoute as ShadowRoute
from steward.iterate._shadow import analyze_shadow as analyze_shadow

__all__ = [
    "ABPlan",
    "ABReadout",
    "Arm",
    "BanditAnalysis",
    "BanditSimulation",
    "Bayesian",
    "Comparison",
    "DataCheck",
    "FixedHorizon",
    "IterateOps",
    "MetricDiff",
    "NewDataChecks",
    "NewDataReport",
    "PromotionBounds",
    "Retraining",
    "RetrainingConfig",
    "RetrainingOutcome",
    "RetrainingStep",
    "SegmentDiff",
    "Sequential",
    "ShadowAnalysis",
    "ShadowRoute",
    "ab_arms",
    "ab_outcomes",
    "ab_readout",
    "analyze_ab_test",
    "analyze_bandit",
    "analyze_shadow",
    "compare_models",
    "get_ab_plan",
    "get_retraining",
    "get_retraining_config",
    "list_retrainings",
    "msprt_p_values",
    "plan_ab_test",
    "prob_b_beats_a",
    "retrain",
    "retrain_if_drifted",
    "retraining_report",
    "set_ab_plan",
    "set_retraining",
    "simulate_bandit",
    "validate_new_data",
]
