"""What the iterate stage stores: a project's retraining config and its pipeline runs.

A retraining config is data (YAML, validated here, errors naming key and line): which
model the project retrains, the training function, the label column, the evaluation
dataset both models are scored on, the checks new data must pass and the bounds within
which a challenger is promoted without a person.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

StepName = Literal["validate", "train", "compare", "decide"]
StepStatus = Literal["passed", "flagged", "failed", "promoted", "review"]
RunStatus = Literal["running", "promoted", "review", "stopped", "failed"]
Trigger = Literal["manual", "drift", "schedule"]


class NewDataChecks(BaseModel):
    """Limits on new training data, against the data the champion was trained on."""

    model_config = ConfigDict(extra="forbid")

    max_missing_increase: float = Field(
        default=0.10,
        ge=0,
        le=1,
        description="a column's missing share may grow by at most this much (absolute)",
    )
    max_out_of_range: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="share of a numeric column's values outside the champion's training range",
    )
    max_share_drifted: float = Field(
        default=0.3,
        ge=0,
        le=1,
        description="share of features whose distribution moved (the monitor's drift tests)",
    )
    new_categories: Literal["flag", "fail", "allow"] = Field(
        default="flag", description="a category the champion never saw in an input column"
    )
    min_rows: int = Field(default=50, ge=1, description="fewer new rows than this fail")


class PromotionBounds(BaseModel):
    """When the challenger replaces the champion without a person deciding."""

    model_config = ConfigDict(extra="forbid")

    automatic: bool = Field(
        default=True, description="false: every challenger waits for a reviewer"
    )
    max_drop: float = Field(
        default=0.0,
        ge=0,
        description="the primary metric may be at most this much worse than the champion's",
    )
    min_agreement: float = Field(
        default=0.9,
        ge=0,
        le=1,
        description="below this share of identical predictions, a person looks first",
    )
    require_improvement: bool = Field(
        default=False,
        description="true: promote only when the interval says the challenger is better",
    )


class RetrainingConfig(BaseModel):
    """How a project retrains its model (``steward retraining set PROJECT FILE``)."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="the registered model the pipeline retrains")
    train: str = Field(
        pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$",
        description="'module:function', called as function(X, y) and returning a fitted "
        "model (scikit-learn's fit habit)",
    )
    target: str = Field(description="the label column of the training data")
    path: str | None = Field(
        default=None, description="the folder the module is imported from (default: cwd)"
    )
    evaluation: str | None = Field(
        default=None,
        description="the data both models are scored on: a dataset NAME or NAME@VERSION, or "
        "a file (registered as MODEL-evaluation); default: the champion's evaluation dataset",
    )
    champion_alias: str = Field(default="champion", description="the alias of the live model")
    promote_to: list[str] = Field(
        default_factory=lambda: ["champion"],
        min_length=1,
        description="the aliases moved to the challenger on promotion",
    )
    dataset: str | None = Field(
        default=None,
        description="dataset name the new data is registered under (default: MODEL-retraining)",
    )
    append_previous: bool = Field(
        default=False,
        description="train on the champion's training data plus the new data (default: "
        "the new data alone, a rolling window)",
    )
    data: str | None = Field(
        default=None,
        description="where new data is read when none is given (drift-triggered or "
        "scheduled runs): a file or a dataset name",
    )
    deployment: str | None = Field(
        default=None,
        description="the deployment whose drift alerts trigger a run (default: the model's name)",
    )
    segments: list[str] = Field(
        default_factory=list, description="columns the comparison reports per value"
    )
    checks: NewDataChecks = Field(default_factory=NewDataChecks)
    promotion: PromotionBounds = Field(default_factory=PromotionBounds)


class RetrainingStep(BaseModel):
    """One step of a retraining run, as it ended."""

    step: StepName
    status: StepStatus
    summary: str
    details: dict[str, Any] = Field(default_factory=dict)
    seconds: float = 0.0


class RetrainingStart(BaseModel):
    """What a retraining run starts from."""

    project: str
    model: str
    trigger: Trigger = "manual"
    data: str
    champion: str | None = None


class Retraining(BaseModel):
    """A retraining run: its steps, the versions it compared and how it ended."""

    id: int
    project: str
    model: str
    trigger: Trigger
    status: RunStatus
    stopped_at: StepName | None = None
    data: str
    champion: str | None = None
    challenger: str | None = None
    steps: list[RetrainingStep] = Field(default_factory=list)
    report_sha256: str | None = None
    started_at: float
    finished_at: float | None = None
    actor: str

    def step(self, name: StepName) -> RetrainingStep | None:
        """Return the step called ``name``, if the run got that far."""
        return next((s for s in self.steps if s.step == name), None)


class RetrainingUpdate(BaseModel):
    """A finished step of a retraining run and, with ``status``, how the run ended."""

    step: RetrainingStep | None = None
    status: Literal["promoted", "review", "stopped", "failed"] | None = None
    stopped_at: StepName | None = None
    challenger: str | None = None
    report_sha256: str | None = Field(default=None, pattern="^[0-9a-f]{64}$")

    @model_validator(mode="after")
    def _consistent(self) -> RetrainingUpdate:
        if self.stopped_at is not None and self.status not in ("stopped", "failed"):
            raise ValueError("stopped_at goes with status 'stopped' or 'failed'")
        if self.status in ("stopped", "failed") and self.stopped_at is None:
            raise ValueError(f"a run that {self.status} names the step it stopped at")
        return self
