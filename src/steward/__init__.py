"""Steward: one package for a machine-learning model's whole life cycle.

Develop (tracked, reproducible), deploy, monitor, iterate and govern, over one metadata
store. Start with :func:`start_run`, :func:`log_metric`, :func:`register_dataset` and
:func:`log_model`.
"""

__version__ = "0.1.0"

from steward.develop import *  # noqa: F403
from steward.develop import __all__ as _develop_all
from steward.errors import StewardError
from steward.registry import *  # noqa: F403
from steward.registry import __all__ as _registry_all

__all__ = ["StewardError", "__version__", *_develop_all, *_registry_all]
