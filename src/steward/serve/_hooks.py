"""The deploy stage's seam: deployment hooks, asked before a deployment serves new models.

Governance registers one that checks the project's policy (validation passed, sign-offs
given) and raises :class:`steward.errors.PolicyViolation` to refuse; the deploy stage
registers none. A hook runs inside the transaction that stores the deployment's revision,
so what it writes or emits commits or rolls back with it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from steward.store import Transaction


@dataclass(frozen=True)
class ServedVersion:
    """A registered version a route of the deployment serves."""

    route: str
    model: str
    version: int
    shadow: bool
    weight: float


@dataclass(frozen=True)
class DeploymentRequest:
    """A deployment about to serve ``versions`` (revision: the one about to be stored)."""

    deployment: str
    revision: int
    actor: str
    reason: str
    versions: list[ServedVersion] = field(default_factory=list)
    run_models: list[str] = field(default_factory=list)  # runs:/ URIs, not registered


DeploymentHook = Callable[[Transaction, DeploymentRequest], None]
_hooks: list[DeploymentHook] = []


def add_deployment_hook(hook: DeploymentHook) -> None:
    """Call ``hook(tx, request)`` before a deployment is created or changed; it raises to veto."""
    if hook not in _hooks:
        _hooks.append(hook)


def remove_deployment_hook(hook: DeploymentHook) -> None:
    """Stop calling ``hook``."""
    if hook in _hooks:
        _hooks.remove(hook)


def check_deployment(tx: Transaction, request: DeploymentRequest) -> None:
    """Run every hook on ``request``; the first that raises vetoes the change."""
    for hook in list(_hooks):
        hook(tx, request)
