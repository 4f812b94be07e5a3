"""The records the develop stage stores and returns (what crosses the API, both backends)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from steward.buffer import MetricBatch as MetricBatch  # defined beside the buffer that carries it

RunStatus = Literal["RUNNING", "FINISHED", "FAILED", "KILLED"]
TERMINAL: frozenset[str] = frozenset({"FINISHED", "FAILED", "KILLED"})


class Project(BaseModel):
    """A project: the home of experiments, datasets, models and business objectives."""

    id: int
    name: str
    description: str
    created_at: float
    created_by: str


class Objective(BaseModel):
    """A business objective or KPI of a project, e.g. 'fraud rate < 0.1%'."""

    project: str
    name: str
    kind: Literal["objective", "kpi"]
    definition: str
    direction: Literal["minimize", "maximize"]
    target: float | None
    unit: str
    created_at: float
    created_by: str

    def is_met(self, value: float) -> bool | None:
        """Return whether ``value`` meets the target (None when no target is set)."""
        if self.target is None:
            return None
        return value <= self.target if self.direction == "minimize" else value >= self.target


class Experiment(BaseModel):
    """A named group of runs inside a project."""

    id: int
    project: str
    name: str
    description: str
    created_at: float
    created_by: str


class LatestMetric(BaseModel):
    """The last value of a metric in a run, with its range and count."""

    value: float
    step: int
    timestamp: float
    min: float
    max: float
    count: int


class MetricPoint(BaseModel):
    """One logged value of a metric."""

    value: float
    step: int
    timestamp: float


class RunInput(BaseModel):
    """A dataset version a run read."""

    dataset: str
    version: int
    dataset_version_id: int
    context: str


class Run(BaseModel):
    """A run with everything logged to it."""

    id: str
    project: str
    experiment: str
    name: str
    status: RunStatus
    start_time: float
    end_time: float | None
    parent_run_id: str | None
    user: str
    error: str | None
    environment_id: str | None
    context: dict[str, Any]
    params: dict[str, str] = Field(default_factory=dict)
    metrics: dict[str, LatestMetric] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    inputs: list[RunInput] = Field(default_factory=list)

    @property
    def finished(self) -> bool:
        """Return True when the run has ended (FINISHED, FAILED or KILLED)."""
        return self.status in TERMINAL

    @property
    def run_id(self) -> str:
        """Return the run id (MLflow's name for ``id``)."""
        return self.id

    @property
    def run_name(self) -> str:
        """Return the run name (MLflow's name for ``name``)."""
        return self.name

    @property
    def data(self) -> RunData:
        """Return the latest metric values, params and tags, as MLflow's ``run.data`` holds them."""
        return RunData(
            metrics={k: m.value for k, m in self.metrics.items()},
            params=dict(self.params),
            tags=dict(self.tags),
        )


class RunData(BaseModel):
    """A run's latest metric values, params and tags as plain mappings (``run.data``)."""

    metrics: dict[str, float]
    params: dict[str, str]
    tags: dict[str, str]


class RunPage(BaseModel):
    """One page of search results."""

    runs: list[Run]
    next_page_token: str | None


class KeyValues(BaseModel):
    """(row, key, value) triples in three columns."""

    rows: list[int]
    keys: list[str]
    values: list[Any]


class RunTable(BaseModel):
    """A page of search results in columns: attributes, then key/value triples."""

    columns: dict[str, list[Any]]
    params: KeyValues
    metrics: KeyValues
    tags: KeyValues
    next_page_token: str | None


class RunKeys(BaseModel):
    """The metric, param and tag keys in use, e.g. for a column chooser."""

    metrics: list[str]
    params: list[str]
    tags: list[str]


class Environment(BaseModel):
    """The software a run executed in, stored once per distinct environment."""

    id: str
    python: str
    platform: str
    packages: dict[str, str]


class Artifact(BaseModel):
    """A file logged to a run, stored by content."""

    run_id: str
    path: str
    sha256: str
    size: int
    created_at: float


class ColumnSchema(BaseModel):
    """One column of a dataset version."""

    name: str
    dtype: str
    nullable: bool
    sensitive: bool = False


class DatasetVersion(BaseModel):
    """An immutable version of a dataset, identified by its content hash."""

    id: int
    dataset: str
    version: int
    content_hash: str
    blob_sha256: str
    row_count: int
    columns: list[ColumnSchema]
    profile: dict[str, Any]
    source: str
    terms_of_use: str
    description: str
    sensitive_columns: list[str]
    created_at: float
    created_by: str
    retention: str = ""  # "delete after 2027-12-31", "delete 3 years after registration"


class DatasetVersionSpec(BaseModel):
    """What a client sends to record a dataset version (its blob is uploaded first)."""

    dataset: str
    content_hash: str
    blob_sha256: str
    row_count: int
    columns: list[ColumnSchema]
    profile: dict[str, Any]
    source: str = ""
    terms_of_use: str = ""
    description: str = ""
    sensitive_columns: list[str] = Field(default_factory=list)
    retention: str = ""


class Dataset(BaseModel):
    """A named dataset and its latest version number."""

    id: int
    name: str
    description: str
    latest_version: int | None
    created_at: float
    created_by: str


class DatasetUsage(BaseModel):
    """A run that read a dataset version."""

    dataset: str
    version: int
    run_id: str
    context: str


class EventRecord(BaseModel):
    """A stored change: who did what to which entity, and when."""

    id: int
    time: float
    actor: str
    action: str
    entity_type: str
    entity_id: str
    payload: dict[str, Any]
