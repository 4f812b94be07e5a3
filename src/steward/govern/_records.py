"""What process governance stores: users and their tokens, review requests, sign-offs,
validation results."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class User(BaseModel):
    """A person (or a service) who acts on the team server, with roles per project."""

    id: int
    name: str
    roles: dict[str, list[str]] = Field(description="project ('*' for all) -> role names")
    has_password: bool = False
    disabled: bool = False
    created_at: float
    created_by: str


class UserToken(BaseModel):
    """An API token of a user (only its hash is stored)."""

    id: int
    user: str
    label: str
    prefix: str
    created_at: float
    expires_at: float | None = None
    revoked_at: float | None = None


class NewUserToken(BaseModel):
    """A token just made: the secret is shown this once."""

    token: UserToken
    secret: str


class Principal(BaseModel):
    """Who a request acts as, and what their roles allow."""

    name: str
    roles: dict[str, set[str]]


class ReviewRequest(BaseModel):
    """A request that reviewers look at a model version."""

    id: int
    model: str
    version: int
    requested_by: str
    requested_at: float
    note: str
    manifest_sha256: str


class SignOff(BaseModel):
    """A reviewer's decision on a model version, with their comment."""

    id: int
    model: str
    version: int
    reviewer: str
    role: str
    decision: Literal["approve", "reject"]
    comment: str
    created_at: float
    manifest_sha256: str
    valid: bool = Field(
        default=True, description="False once the version's files changed since the sign-off."
    )


class SignOffStatus(BaseModel):
    """Where a version stands: requests, sign-offs, approvals per role, rejection."""

    model: str
    version: int
    requests: list[ReviewRequest]
    signoffs: list[SignOff]
    approvals: dict[str, int] = Field(description="valid approvals per role")
    rejected: bool = False
    trained_by: list[str] = Field(
        default_factory=list, description="who trained or registered it: they cannot approve"
    )


class ValidationSpec(BaseModel):
    """A finished validation gate run, as sent to the store."""

    passed: bool
    checks: dict[str, str] = Field(description="check -> passed | failed | not applicable")
    summary: dict[str, Any] = Field(default_factory=dict)
    report_sha256: str | None = None
    result_sha256: str | None = None
    manifest_sha256: str


class Validation(ValidationSpec):
    """A stored validation gate run."""

    id: int
    model: str
    version: int
    created_at: float
    created_by: str
