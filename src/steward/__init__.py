"""Steward: one package for a machine-learning model's whole life cycle.

Develop (tracked, reproducible, explained), deploy, monitor, iterate and govern, over one
metadata store. Start with :func:`start_run`, :func:`log_metric`,
:func:`register_dataset`, :func:`log_model` and :func:`model_card`.
"""

from steward import _backend  # noqa: F401  (the composition root: wires the backend factory)
from steward._version import __version__
from steward.develop import *  # noqa: F403
from steward.develop import __all__ as _develop_all
from steward.errors import StewardError
from steward.explain import (
    explain_prediction,
    fairness_report,
    model_card,
    partial_dependence,
    segment_metrics,
    smallest_flip,
    what_if,
)
from steward.registry import *  # noqa: F403
from steward.registry import __all__ as _registry_all
from steward.serve import *  # noqa: F403
from steward.serve import __all__ as _serve_all

__all__ = [
    "StewardError",
    "__version__",
    "explain_prediction",
    "fairness_report",
    "model_card",
    "partial_dependence",
    "segment_metrics",
    "smallest_flip",
    "what_if",
    *_develop_all,
    *_registry_all,
    *_serve_all,
]
