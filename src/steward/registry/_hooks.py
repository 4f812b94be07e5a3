"""The promotion seam: every alias move asks the hooks first, and any hook may veto it.

Governance registers a hook that checks sign-offs and policies and raises
:class:`steward.errors.PolicyViolation` to refuse; the registry itself registers none.
A hook runs inside the transaction that moves the alias, so it sees the store as the
move will leave it, and what it writes commits or rolls back with the move.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.engine import Connection


@dataclass(frozen=True)
class PromotionRequest:
    """An alias about to move (to_version None: about to be removed)."""

    model: str
    alias: str
    from_version: int | None
    to_version: int | None
    actor: str
    reason: str


PromotionHook = Callable[[Connection, PromotionRequest], None]
_hooks: list[PromotionHook] = []


def add_promotion_hook(hook: PromotionHook) -> None:
    """Call ``hook(conn, request)`` before every alias move; it raises to veto."""
    if hook not in _hooks:
        _hooks.append(hook)


def remove_promotion_hook(hook: PromotionHook) -> None:
    """Stop calling ``hook``."""
    if hook in _hooks:
        _hooks.remove(hook)


def check_promotion(conn: Connection, request: PromotionRequest) -> None:
    """Run every hook on ``request``; the first that raises vetoes the move."""
    for hook in list(_hooks):
        hook(conn, request)
