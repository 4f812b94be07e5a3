"""The explain stage: partial dependence, Shapley values, subpopulations and fairness,
what-if analysis, and model cards."""

from steward.explain._fairness import ColumnFairness, FairnessReport, FourFifths, fairness_report
from steward.explain._pdp import PartialDependence, partial_dependence
from steward.explain._segments import Segment, SegmentReport, segment_metrics
from steward.explain._whatif import Flip, FlipResult, smallest_flip, what_if

__all__ = [
    "ColumnFairness",
    "FairnessReport",
    "Flip",
    "FlipResult",
    "FourFifths",
    "PartialDependence",
    "Segment",
    "SegmentReport",
    "fairness_report",
    "partial_dependence",
    "segment_metrics",
    "smallest_flip",
    "what_if",
]
