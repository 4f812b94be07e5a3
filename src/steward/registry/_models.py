"""The records the registry stores and returns (what crosses the API, both backends)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class ColumnSpec(BaseModel):
    """One input column as seen in training: type, range, categories, nulls."""

    name: str
    dtype: str
    kind: Literal["numeric", "integer", "boolean", "categorical", "datetime", "text"]
    nullable: bool
    min: float | None = None
    max: float | None = None
    categories: list[str] | None = None


class OutputSpec(BaseModel):
    """What the model returns: the task, classes for a classifier, the prediction dtype."""

    task: Literal["classification", "regression", "other"]
    classes: list[Any] | None = None
    dtype: str = ""


class Signature(BaseModel):
    """The input columns a model expects and what it outputs."""

    inputs: list[ColumnSpec]
    output: OutputSpec

    def column(self, name: str) -> ColumnSpec | None:
        """Return the spec of input column ``name``, or None."""
        return next((c for c in self.inputs if c.name == name), None)


class DatasetRef(BaseModel):
    """A dataset version a model was trained or evaluated on."""

    dataset: str
    version: int
    content_hash: str
    context: str


class Manifest(BaseModel):
    """The content of ``steward.yaml``: everything needed to load and trust a package."""

    format_version: int = 1
    flavor: str
    flavor_options: dict[str, Any] = Field(default_factory=dict)
    methods: list[str]
    signature: Signature | None
    requirements: dict[str, str]
    python: str
    run_id: str | None = None
    datasets: list[DatasetRef] = Field(default_factory=list)
    metrics: dict[str, float] = Field(default_factory=dict)
    uses_sensitive_columns: list[str] = Field(default_factory=list)
    created_at: float
    created_by: str
    files: dict[str, str]


class ModelFile(BaseModel):
    """A file of a model version: its package, an export (exports/...), a report
    (reports/...) or a monitoring reference (monitoring/...)."""

    path: str
    sha256: str
    size: int
    kind: Literal["package", "export", "report", "monitoring"] = "package"


class RegisteredModel(BaseModel):
    """A named model with its versions' count and aliases."""

    id: int
    name: str
    description: str
    owners: list[str]
    created_at: float
    created_by: str
    updated_at: float
    latest_version: int | None = None
    aliases: dict[str, int] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)


class ModelVersion(BaseModel):
    """One immutable version of a registered model."""

    id: int
    model: str
    version: int
    run_id: str | None
    source: str
    flavor: str
    manifest: Manifest
    manifest_sha256: str
    description: str
    deleted: bool
    created_at: float
    created_by: str
    aliases: list[str] = Field(default_factory=list)
    files: list[ModelFile] = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict)

    @property
    def uri(self) -> str:
        """Return the ``models:/name/version`` URI of this version."""
        return f"models:/{self.model}/{self.version}"

    @property
    def name(self) -> str:
        """Return the registered model's name (MLflow's name for ``model``)."""
        return self.model


class ModelVersionSpec(BaseModel):
    """What a client sends to create a version (every file is uploaded first)."""

    model: str
    run_id: str | None = None
    source: str
    manifest: Manifest
    manifest_sha256: str
    files: list[ModelFile]
    description: str = ""


class AliasMove(BaseModel):
    """One move of an alias: who moved it from which version to which, when and why."""

    model: str
    alias: str
    from_version: int | None
    to_version: int | None
    reason: str
    time: float
    actor: str
