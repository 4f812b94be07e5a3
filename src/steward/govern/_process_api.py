"""Process governance over the active backend: policies, reviews and sign-offs."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from steward.configs import load_config
from steward.context import get_backend
from steward.errors import InvalidInput
from steward.govern._policy import Policy
from steward.govern._records import ReviewRequest, SignOff, SignOffStatus


def set_policy(project: str, policy: Policy | dict[str, Any] | str | Path) -> Policy:
    """Return a project's policy after storing it: a :class:`Policy`, a dict of its
    fields (``{"risk": "high"}``), or a YAML file (as ``steward policy set`` reads)."""
    if isinstance(policy, str | Path):
        policy = load_config(Path(policy), Policy)
    elif isinstance(policy, dict):
        try:
            policy = Policy.model_validate(policy)
        except ValueError as exc:
            raise InvalidInput(f"The policy is not valid: {exc}") from exc
    return get_backend().set_policy(project, policy)


def get_policy(project: str) -> Policy:
    """Return a project's policy (the low-risk default, not enforced, when none was set)."""
    return get_backend().get_policy(project)


def request_review(model: str, version: int, note: str = "") -> ReviewRequest:
    """Return a new request that reviewers look at a model version."""
    return get_backend().request_review(model, version, note)


def sign_off(
    model: str,
    version: int,
    decision: Literal["approve", "reject"],
    comment: str = "",
    role: str = "reviewer",
) -> SignOff:
    """Return the recorded approval or rejection of a version by the current user.

    Whoever trained or registered the version cannot sign it off (the four-eyes rule); a
    reviewer decides once per version; a rejection needs a comment.
    """
    return get_backend().sign_off(model, version, decision, comment, role)


def signoff_status(model: str, version: int) -> SignOffStatus:
    """Return a version's review requests, sign-offs and valid approvals per role."""
    return get_backend().get_signoff_status(model, version)
