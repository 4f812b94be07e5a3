"""Policies: per project and risk tier, what must hold before a version reaches production.

A policy is data (YAML, validated with messages that name the line and the key). It says
which validation checks are required, which sign-offs (role and count) a version needs
before an alias such as ``champion`` may point at it or a deployment may serve it, and,
per environment, whether a missing requirement prevents the move, warns, or is off (as
Dataiku Govern does). Light by default: a low-risk project needs only automated checks,
and only warns.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Check = Literal[
    "documentation",
    "reproducibility",
    "accuracy",
    "explainability",
    "governance",
    "data_quality",
    "resources",
    "integration",
]
CHECKS: tuple[Check, ...] = (
    "documentation",
    "reproducibility",
    "accuracy",
    "explainability",
    "governance",
    "data_quality",
    "resources",
    "integration",
)
Enforcement = Literal["prevent", "warn", "off"]


class Environment(BaseModel):
    """Which aliases and deployments are an environment, and how its gate is enforced."""

    model_config = ConfigDict(extra="forbid")

    aliases: list[str] = Field(default_factory=list)
    deployments: list[str] = Field(
        default_factory=list, description="Deployment names ('*' for every deployment)."
    )
    enforcement: Enforcement = "warn"


class SignOffRule(BaseModel):
    """How many approvals of a role a version needs."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["reviewer", "admin", "deployer", "data_scientist"] = "reviewer"
    count: int = Field(default=1, ge=1, le=10)


class AccuracyRule(BaseModel):
    """Step 3: accuracy on a held-out dataset version, against a floor and the champion."""

    model_config = ConfigDict(extra="forbid")

    dataset: str | None = Field(
        default=None,
        description="The held-out dataset ('name' or 'name@3'); default: the "
        "version's evaluation dataset.",
    )
    target: str | None = Field(default=None, description="Its label column (default: inferred).")
    metric: str = Field(default="roc_auc", description="roc_auc, accuracy, f1, r2, mae, rmse")
    min: float | None = None
    max_drop_vs_champion: float | None = Field(
        default=0.02, description="How far below the current champion it may be."
    )
    champion_alias: str = "champion"


class ExplainabilityRule(BaseModel):
    """Step 4: explanations computed; no sensitive attribute among the top drivers."""

    model_config = ConfigDict(extra="forbid")

    top_k: int = Field(default=3, ge=1)
    sensitive_allowed: bool = False


class GovernanceRule(BaseModel):
    """Step 5: PII, terms of use, fairness."""

    model_config = ConfigDict(extra="forbid")

    block_flagged_features: bool = Field(
        default=True, description="Fail when the model uses PII-flagged or sensitive columns."
    )
    require_terms: bool = True
    min_ratio: float = Field(
        default=0.8,
        ge=0,
        le=1,
        description="The lowest group's rate over the highest's, per sensitive column (the "
        "four-fifths rule at 0.8).",
    )
    fairness_metric: Literal["selection_rate", "true_positive_rate"] = Field(
        default="selection_rate",
        description="The rate compared across groups: selection_rate (who is selected: "
        "disparate impact) or true_positive_rate (of those truly positive, who is found: "
        "equal opportunity, for when base rates differ by group, as disease risk by age).",
    )


class ResourceRule(BaseModel):
    """Step 7: latency and memory under a short load run of the served model."""

    model_config = ConfigDict(extra="forbid")

    requests: int = Field(default=200, ge=10, le=100_000)
    p99_ms: float = Field(default=100.0, gt=0)
    max_memory_mb: float = Field(default=2048.0, gt=0)


class Policy(BaseModel):
    """A project's governance policy."""

    model_config = ConfigDict(extra="forbid")

    risk: Literal["low", "high", "custom"] = "low"
    checks: list[Check] | None = Field(
        default=None, description="Required validation checks (default: by risk tier)."
    )
    signoffs: list[SignOffRule] | None = Field(
        default=None, description="Required sign-offs (default: by risk tier)."
    )
    environments: dict[str, Environment] = Field(
        default_factory=lambda: {
            "production": Environment(aliases=["champion", "production"], deployments=["*"])
        }
    )
    accuracy: AccuracyRule = Field(default_factory=AccuracyRule)
    explainability: ExplainabilityRule = Field(default_factory=ExplainabilityRule)
    governance: GovernanceRule = Field(default_factory=GovernanceRule)
    resources: ResourceRule = Field(default_factory=ResourceRule)

    @model_validator(mode="after")
    def _tier_defaults(self) -> Policy:
        if self.checks is None:
            self.checks = (
                list(CHECKS) if self.risk == "high" else ["accuracy", "data_quality", "integration"]
            )
        if self.signoffs is None:
            self.signoffs = [SignOffRule(role="reviewer", count=1)] if self.risk == "high" else []
        if "environments" not in self.model_fields_set and self.risk == "high":
            self.environments["production"].enforcement = "prevent"
        if len(set(self.checks)) != len(self.checks):
            raise ValueError(f"checks repeat a name: {self.checks}")
        return self

    def environment_of_alias(self, alias: str) -> tuple[str, Environment] | None:
        """Return the environment an alias belongs to, if any."""
        for name, env in self.environments.items():
            if alias in env.aliases:
                return name, env
        return None

    def environment_of_deployment(self, deployment: str) -> tuple[str, Environment] | None:
        """Return the environment a deployment belongs to, if any."""
        for name, env in self.environments.items():
            if deployment in env.deployments or "*" in env.deployments:
                return name, env
        return None


def default_policy(risk: str = "low") -> Policy:
    """Return the policy of a tier with nothing customized."""
    return Policy.model_validate({"risk": risk})
