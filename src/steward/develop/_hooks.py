"""The develop stage's seam for later stages: dataset hooks, told of every registration.

Governance registers one that scans the data for personal information (develop imports
no stage above it, so the scan plugs in here, as a user's own check would).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from steward.develop._models import DatasetVersion

DatasetHook = Callable[["DatasetVersion", "pd.DataFrame"], None]
_dataset_hooks: list[DatasetHook] = []


def add_dataset_hook(hook: DatasetHook) -> None:
    """Call ``hook(version, frame)`` after each ``register_dataset``, with the data registered.

    It is called for a new version and for a registration that found the same content
    already stored (the hook decides whether it has work to do). A hook that fails warns
    and does not undo the registration.
    """
    if hook not in _dataset_hooks:
        _dataset_hooks.append(hook)


def remove_dataset_hook(hook: DatasetHook) -> None:
    """Stop calling ``hook``."""
    if hook in _dataset_hooks:
        _dataset_hooks.remove(hook)


def dataset_registered(version: DatasetVersion, frame: pd.DataFrame) -> None:
    """Tell every dataset hook about a version just registered, with its data."""
    for hook in list(_dataset_hooks):
        try:
            hook(version, frame)
        except Exception as exc:  # the version stands; what the hook adds is missing
            warnings.warn(
                f"{getattr(hook, '__qualname__', hook)} failed for dataset "
                f"{version.dataset}@{version.version}: {exc}",
                RuntimeWarning,
                stacklevel=3,
            )
