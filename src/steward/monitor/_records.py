"""What monitoring stores: per-project thresholds, each monitoring run, its time series, alerts."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class DriftRules(BaseModel):
    """When input or prediction drift raises an alert."""

    model_config = ConfigDict(extra="forbid")

    feature_share: float = Field(
        default=0.3, ge=0, le=1, description="Alert when this share of the features drifted."
    )
    features: list[str] = Field(
        default_factory=list, description="Alert whenever one of these features drifts."
    )
    prediction: bool = Field(default=True, description="Alert when the predictions drift.")
    domain_auc: float = Field(
        default=0.75, ge=0.5, le=1, description="Alert when a classifier tells the windows apart."
    )


class PerformanceRules(BaseModel):
    """When measured (labelled) or estimated performance raises an alert."""

    model_config = ConfigDict(extra="forbid")

    metric: str = Field(default="accuracy", description="accuracy, roc_auc, f1, mae, rmse...")
    min: float | None = Field(default=None, description="Alert below this value.")
    max: float | None = Field(default=None, description="Alert above it (error metrics).")
    max_drop: float | None = Field(
        default=0.05, ge=0, description="Alert when it falls this far below the reference."
    )
    min_labels: int = Field(default=30, ge=1, description="Judge only with this many labels.")


class HealthRules(BaseModel):
    """When service health raises an alert."""

    model_config = ConfigDict(extra="forbid")

    p99_ms: float | None = Field(default=None, gt=0, description="Alert above this p99 latency.")
    error_rate: float | None = Field(default=0.05, ge=0, le=1)
    memory_mb: float | None = Field(default=None, gt=0, description="Alert above this RSS.")


class KPI(BaseModel):
    """A business KPI computed from logged predictions and their labels."""

    model_config = ConfigDict(extra="forbid")

    name: str
    expression: str = Field(
        description="A pandas expression over prediction, label, proba_<class> and the input "
        "columns, per row; e.g. '(prediction == 1) & (label == 1)'."
    )
    aggregate: Literal["mean", "sum", "count"] = "mean"
    where: str | None = Field(
        default=None,
        description="Count only the rows where this expression holds; e.g. 'label == 1' "
        "makes '(prediction == 0)' the share of positives missed.",
    )
    needs_labels: bool = Field(default=True, description="Count only rows with a label.")
    baseline: str | None = Field(
        default=None,
        description="A rule standing in for the model: an expression giving its prediction "
        "per row (e.g. 'tenure < 12'); the KPI is also computed with it.",
    )
    objective: str | None = Field(
        default=None, description="A project objective whose direction and target apply."
    )
    direction: Literal["maximize", "minimize"] | None = None
    target: float | None = None


class MonitorConfig(BaseModel):
    """A project's monitoring thresholds (YAML: `steward monitor config PROJECT FILE`)."""

    model_config = ConfigDict(extra="forbid")

    drift: DriftRules = Field(default_factory=DriftRules)
    performance: PerformanceRules = Field(default_factory=PerformanceRules)
    estimate: PerformanceRules = Field(default_factory=PerformanceRules)
    health: HealthRules = Field(default_factory=HealthRules)
    kpis: list[KPI] = Field(default_factory=list)
    webhook: str | None = Field(default=None, description="POST each alert here (JSON).")


class MetricPoint(BaseModel):
    """One value of a monitored series, for one window."""

    kind: Literal["drift", "performance", "estimate", "health", "kpi"]
    name: str
    version: str = ""
    value: float | None
    lower: float | None = None
    upper: float | None = None
    window_end: float = 0.0


class AlertSpec(BaseModel):
    """An alert a monitoring run raises."""

    rule: str
    severity: Literal["warning", "critical"] = "warning"
    metric: str
    value: float | None = None
    threshold: float | None = None
    message: str


class Alert(AlertSpec):
    """An alert as stored: its deployment, run, time, status and notification outcome."""

    id: int
    deployment: str
    monitor_run_id: int
    created_at: float
    status: Literal["open", "acknowledged"]
    acknowledged_by: str | None = None
    acknowledged_at: float | None = None
    notified: str = ""


class MonitorRunSpec(BaseModel):
    """What a finished monitoring run sends to the store."""

    deployment: str
    window_start: float
    window_end: float
    started_at: float
    summary: dict[str, object] = Field(default_factory=dict)
    report_sha256: str | None = None
    result_sha256: str | None = None
    metrics: list[MetricPoint] = Field(default_factory=list)
    alerts: list[AlertSpec] = Field(default_factory=list)


class MonitorRun(BaseModel):
    """A stored monitoring run: its window, summary, report, and the alerts it raised."""

    id: int
    deployment: str
    window_start: float
    window_end: float
    started_at: float
    finished_at: float
    actor: str
    summary: dict[str, object]
    report_sha256: str | None = None
    result_sha256: str | None = None
    alerts: list[Alert] = Field(default_factory=list)
