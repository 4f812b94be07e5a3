"""The explain stage: partial dependence, Shapley values, subpopulations and fairness,
what-if analysis, and model cards."""

from steward.explain._fairness import ColumnFairness, FairnessReport, FourFifths, fairness_report
from steward.explain._segments import Segment, SegmentReport, segment_metrics

__all__ = [
    "ColumnFairness",
    "FairnessReport",
    "FourFifths",
    "Segment",
    "SegmentReport",
    "fairness_report",
    "segment_metrics",
]
