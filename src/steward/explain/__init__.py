"""The explain stage: partial dependence, Shapley values, subpopulations and fairness,
what-if analysis, and model cards."""

from steward.explain._card import ModelCard, model_card
from steward.explain._fairness import ColumnFairness, FairnessReport, FourFifths, fairness_report
from steward.explain._pdp import PartialDependence, partial_dependence
from steward.explain._segments import Segment, SegmentReport, segment_metrics
from steward.explain._shap_figures import importance_figure, prediction_figure, summary_figure
from steward.explain._shapley import (
    Explainer,
    ExplainerSettings,
    PredictionExplanation,
    ShapExplanation,
    cached_explainer,
    clear_explainer_cache,
    explain_prediction,
    global_importance,
    make_explainer,
)
from steward.explain._whatif import Flip, FlipResult, smallest_flip, what_if

__all__ = [
    "ColumnFairness",
    "Explainer",
    "ExplainerSettings",
    "FairnessReport",
    "Flip",
    "FlipResult",
    "FourFifths",
    "ModelCard",
    "PartialDependence",
    "PredictionExplanation",
    "Segment",
    "SegmentReport",
    "ShapExplanation",
    "cached_explainer",
    "clear_explainer_cache",
    "explain_prediction",
    "fairness_report",
    "global_importance",
    "importance_figure",
    "make_explainer",
    "model_card",
    "partial_dependence",
    "prediction_figure",
    "segment_metrics",
    "smallest_flip",
    "summary_figure",
    "what_if",
]
