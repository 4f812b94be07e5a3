"""The registry's seams: promotion hooks (every alias move asks them first, any may veto)
and version hooks (told of every version logged with its training inputs).

Governance registers a hook that checks sign-offs and policies and raises
:class:`steward.errors.PolicyViolation` to refuse; the registry itself registers none.
A hook runs inside the transaction that moves the alias (it is given it), so it sees the
store as the move will leave it, and what it writes or emits (a warning recorded in the
audit trail) commits or rolls back with the move.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from steward.store import Transaction

if TYPE_CHECKING:
    import pandas as pd

    from steward.registry._models import ModelVersion


@dataclass(frozen=True)
class PromotionRequest:
    """An alias about to move (to_version None: about to be removed)."""

    model: str
    alias: str
    from_version: int | None
    to_version: int | None
    actor: str
    reason: str


PromotionHook = Callable[[Transaction, PromotionRequest], None]
_hooks: list[PromotionHook] = []


def add_promotion_hook(hook: PromotionHook) -> None:
    """Call ``hook(tx, request)`` before every alias move; it raises to veto."""
    if hook not in _hooks:
        _hooks.append(hook)


def remove_promotion_hook(hook: PromotionHook) -> None:
    """Stop calling ``hook``."""
    if hook in _hooks:
        _hooks.remove(hook)


def check_promotion(tx: Transaction, request: PromotionRequest) -> None:
    """Run every hook on ``request``; the first that raises vetoes the move."""
    for hook in list(_hooks):
        hook(tx, request)


VersionHook = Callable[["ModelVersion", "pd.DataFrame | None", Any], None]
_version_hooks: list[VersionHook] = []


def add_version_hook(hook: VersionHook) -> None:
    """Call ``hook(version, training_inputs, model)`` after a version is registered
    (``log_model(..., registered_model_name=)`` or ``register_model``).

    The monitoring stage registers one that stores the version's reference profile. A hook
    that fails warns and does not undo the version.
    """
    if hook not in _version_hooks:
        _version_hooks.append(hook)


def remove_version_hook(hook: VersionHook) -> None:
    """Stop calling ``hook``."""
    if hook in _version_hooks:
        _version_hooks.remove(hook)


def has_version_hooks() -> bool:
    """Return True when some hook wants to hear of new versions."""
    return bool(_version_hooks)


def version_logged(version: ModelVersion, data: pd.DataFrame | None, model: Any) -> None:
    """Tell every version hook about a version just registered."""
    import warnings

    for hook in list(_version_hooks):
        try:
            hook(version, data, model)
        except Exception as exc:  # the version stands; what the hook adds is missing
            warnings.warn(
                f"{getattr(hook, '__qualname__', hook)} failed for {version.uri}: {exc}",
                RuntimeWarning,
                stacklevel=3,
            )
