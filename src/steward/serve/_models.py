"""The records of the deploy stage: a deployment's traffic spec, its revisions and tokens.

A spec is data: it loads from YAML (see :func:`steward.serve.load_spec`), validates with
messages that name the key, and is stored with every revision. Model URIs are resolved
to concrete versions when a revision is stored, so a running server never changes model
because an alias moved: only a new revision (``steward deploy set-model``) does.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Policy = Literal["single", "shadow", "ab", "bandit"]
Role = Literal["primary", "shadow"]


class Route(BaseModel):
    """One model a deployment serves, under a route name."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="The route's name, e.g. 'champion'; logged with each request.")
    model: str = Field(description="A model URI (models:/churn@champion, models:/churn/4).")
    weight: float = Field(default=1.0, ge=0.0, description="A/B share (normalized over routes).")
    shadow: bool = Field(default=False, description="Scored on every request, never returned.")
    resolved: str | None = Field(
        default=None, description="The concrete version the URI named when stored (set by Steward)."
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        from steward.validation import check_name

        return check_name(value, "route")


class LogSettings(BaseModel):
    """Where and how often the prediction log is written."""

    model_config = ConfigDict(extra="forbid")

    uri: str | None = Field(
        default=None,
        description="Folder or fsspec URL of the log (default: STEWARD_HOME/deployments/<name>).",
    )
    flush_rows: int = Field(default=5000, ge=1, description="Write a segment at this many rows.")
    flush_seconds: float = Field(default=1.0, gt=0, description="...or after this many seconds.")
    max_buffer_rows: int = Field(
        default=200_000,
        ge=1,
        description="Rows kept while the log cannot be written; beyond, rows are dropped and counted.",
    )


class BatchSettings(BaseModel):
    """Adaptive micro-batching: off unless max_batch_size > 1."""

    model_config = ConfigDict(extra="forbid")

    max_batch_size: int = Field(default=1, ge=1, le=10_000)
    max_wait_ms: float = Field(default=2.0, ge=0.0, le=1000.0)


class BanditSettings(BaseModel):
    """Thompson sampling over Beta posteriors, one per route."""

    model_config = ConfigDict(extra="forbid")

    prior_successes: float = Field(default=1.0, gt=0)
    prior_failures: float = Field(default=1.0, gt=0)


class DeploymentSpec(BaseModel):
    """What a deployment serves and how traffic is split among its routes."""

    model_config = ConfigDict(extra="forbid")

    policy: Policy = "single"
    routes: list[Route] = Field(min_length=1)
    sticky_column: str | None = Field(
        default=None,
        description="A/B: the input column whose value keeps an entity on one route.",
    )
    extra_columns: Literal["error", "ignore"] = Field(
        default="error",
        description="Columns a request sends that the model does not take: refused (422) or "
        "ignored. The sticky column is always allowed.",
    )
    shadow_queue: int = Field(
        default=1000, ge=1, description="Shadow requests waiting at most; beyond, shadows skip."
    )
    bandit: BanditSettings = Field(default_factory=BanditSettings)
    batching: BatchSettings = Field(default_factory=BatchSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    require_token: bool = Field(
        default=False, description="Refuse requests without a valid token (on when tokens exist)."
    )

    @model_validator(mode="after")
    def _consistent(self) -> DeploymentSpec:
        names = [r.name for r in self.routes]
        if len(set(names)) != len(names):
            raise ValueError(f"route names must be unique; got {names}")
        shadows = [r for r in self.routes if r.shadow]
        served = [r for r in self.routes if not r.shadow]
        if not served:
            raise ValueError("at least one route must serve responses (shadow: false)")
        if self.policy == "single" and (len(served) != 1 or shadows):
            raise ValueError(
                "policy 'single' takes exactly one route; use 'shadow', 'ab' or 'bandit' for more"
            )
        if self.policy == "shadow" and (len(served) != 1 or not shadows):
            raise ValueError(
                "policy 'shadow' takes one serving route and at least one route with shadow: true"
            )
        if self.policy in ("ab", "bandit") and (len(served) < 2 or shadows):
            raise ValueError(
                f"policy {self.policy!r} takes two or more serving routes and no shadow routes"
            )
        if self.policy == "ab" and sum(r.weight for r in served) <= 0:
            raise ValueError("policy 'ab' needs a positive weight on at least one route")
        if len(self.routes) > 16:
            raise ValueError(f"a deployment takes at most 16 routes; got {len(self.routes)}")
        return self

    @property
    def serving(self) -> list[Route]:
        """Return the routes that answer requests (not the shadows)."""
        return [r for r in self.routes if not r.shadow]


class Deployment(BaseModel):
    """A deployment as stored: its current spec and revision, and who changed it last."""

    id: int
    name: str
    description: str
    revision: int
    spec: DeploymentSpec
    created_at: float
    created_by: str
    updated_at: float
    updated_by: str
    token_count: int = 0
    arms: dict[str, tuple[float, float]] = Field(
        default_factory=dict, description="Bandit: (successes, failures) per route, this revision."
    )


class DeploymentRevision(BaseModel):
    """One change of a deployment: its spec then, who changed it, when and why."""

    deployment: str
    revision: int
    spec: DeploymentSpec
    reason: str
    time: float
    actor: str


class ServingToken(BaseModel):
    """A token that may call a deployment (only its hash is stored)."""

    id: int
    deployment: str
    label: str
    prefix: str
    created_at: float
    created_by: str
    revoked_at: float | None = None


class NewServingToken(BaseModel):
    """A token just created: the secret is shown this once and never stored."""

    token: ServingToken
    secret: str


class ServingAccess(BaseModel):
    """What a serving process needs to check callers and issue request ids."""

    revision: int
    id_key: str
    token_sha256: list[str]
    require_token: bool
