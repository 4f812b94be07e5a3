"""Steward: one package for a machine-learning model's whole life cycle.

Develop (tracked, reproducible), deploy, monitor, iterate and govern, over one metadata
store. Start with :func:`start_run`, :func:`log_metric` and :func:`register_dataset`.
"""

__version__ = "0.1.0"

from steward.develop import *  # noqa: F403
from steward.develop import __all__ as _develop_all
from steward.errors import StewardError

__all__ = ["StewardError", "__version__", *_develop_all]
