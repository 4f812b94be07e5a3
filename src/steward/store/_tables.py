"""The metadata schema: SQLAlchemy Core tables.

Core rather than ORM: the hot paths (metric batches, search) are bulk statements, and the
rest of the code works with pydantic models, so ORM identity maps would only cost time.
Migrations in ``migrations/versions`` must create exactly this schema; a test compares them.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

NAME = 200
metadata = MetaData()

projects = Table(
    "projects",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(NAME), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Column("created_by", String(NAME), nullable=False),
)

objectives = Table(
    "objectives",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=False),
    Column("name", String(NAME), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("definition", Text, nullable=False),
    Column("direction", String(20), nullable=False),
    Column("target", Float, nullable=True),
    Column("unit", String(50), nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Column("created_by", String(NAME), nullable=False),
    UniqueConstraint("project_id", "name", name="uq_objectives_project_name"),
)

experiments = Table(
    "experiments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=False),
    Column("name", String(NAME), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Column("created_by", String(NAME), nullable=False),
    UniqueConstraint("project_id", "name", name="uq_experiments_project_name"),
)

environments = Table(
    "environments",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("python", String(NAME), nullable=False),
    Column("platform", String(NAME), nullable=False),
    Column("packages", JSON, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("experiment_id", Integer, ForeignKey("experiments.id"), nullable=False),
    Column("name", String(NAME), nullable=False),
    Column("status", String(20), nullable=False),
    Column("start_time", Float, nullable=False),
    Column("end_time", Float, nullable=True),
    Column("parent_run_id", String(32), ForeignKey("runs.id"), nullable=True),
    Column("user", String(NAME), nullable=False),
    Column("error", Text, nullable=True),
    Column("environment_id", String(64), ForeignKey("environments.id"), nullable=True),
    Column("context", JSON, nullable=False),
    Index("ix_runs_experiment_start", "experiment_id", "start_time"),
    Index("ix_runs_parent", "parent_run_id"),
    Index("ix_runs_start", "start_time"),
)

params = Table(
    "params",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id"), primary_key=True),
    Column("key", String(NAME), primary_key=True),
    Column("value", Text, nullable=False),
    Index("ix_params_key_value", "key", "value"),
)

tags = Table(
    "tags",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id"), primary_key=True),
    Column("key", String(NAME), primary_key=True),
    Column("value", Text, nullable=False),
    Index("ix_tags_key_value", "key", "value"),
)

metrics = Table(
    "metrics",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("run_id", String(32), ForeignKey("runs.id"), nullable=False),
    Column("key", String(NAME), nullable=False),
    Column("value", Float, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", Float, nullable=False),
    Index("ix_metrics_run_key_step", "run_id", "key", "step"),
)

latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id"), primary_key=True),
    Column("key", String(NAME), primary_key=True),
    Column("value", Float, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", Float, nullable=False),
    Column("min", Float, nullable=False),
    Column("max", Float, nullable=False),
    Column("count", BigInteger, nullable=False),
    Index("ix_latest_metrics_key_value", "key", "value"),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id"), primary_key=True),
    Column("path", String(1000), primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("created_at", Float, nullable=False),
)

datasets = Table(
    "datasets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(NAME), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Column("created_by", String(NAME), nullable=False),
)

dataset_versions = Table(
    "dataset_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dataset_id", Integer, ForeignKey("datasets.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("blob_sha256", String(64), nullable=False),
    Column("row_count", BigInteger, nullable=False),
    Column("schema", JSON, nullable=False),
    Column("profile", JSON, nullable=False),
    Column("source", Text, nullable=False, default=""),
    Column("terms_of_use", Text, nullable=False, default=""),
    Column("description", Text, nullable=False, default=""),
    Column("sensitive_columns", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("created_by", String(NAME), nullable=False),
    UniqueConstraint("dataset_id", "version", name="uq_dataset_versions_version"),
    UniqueConstraint("dataset_id", "content_hash", name="uq_dataset_versions_hash"),
)

lineage_edges = Table(
    "lineage_edges",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source_type", String(50), nullable=False),
    Column("source_id", String(100), nullable=False),
    Column("target_type", String(50), nullable=False),
    Column("target_id", String(100), nullable=False),
    Column("relation", String(50), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("created_by", String(NAME), nullable=False),
    UniqueConstraint(
        "source_type", "source_id", "target_type", "target_id", "relation", name="uq_lineage_edge"
    ),
    Index("ix_lineage_target", "target_type", "target_id"),
)

events = Table(
    "events",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("time", Float, nullable=False),
    Column("actor", String(NAME), nullable=False),
    Column("action", String(100), nullable=False),
    Column("entity_type", String(50), nullable=False),
    Column("entity_id", String(100), nullable=False),
    Column("payload", JSON, nullable=False),
    Index("ix_events_entity", "entity_type", "entity_id"),
)

registered_models = Table(
    "registered_models",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(NAME), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("owners", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("created_by", String(NAME), nullable=False),
    Column("updated_at", Float, nullable=False),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_id", Integer, ForeignKey("registered_models.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("run_id", String(32), ForeignKey("runs.id"), nullable=True),
    Column("source", Text, nullable=False),
    Column("flavor", String(50), nullable=False),
    Column("manifest", JSON, nullable=False),
    Column("manifest_sha256", String(64), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("deleted", Boolean, nullable=False, default=False),
    Column("created_at", Float, nullable=False),
    Column("created_by", String(NAME), nullable=False),
    UniqueConstraint("model_id", "version", name="uq_model_versions_version"),
    Index("ix_model_versions_run", "run_id"),
)

model_version_files = Table(
    "model_version_files",
    metadata,
    Column("version_id", Integer, ForeignKey("model_versions.id"), primary_key=True),
    Column("path", String(1000), primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("created_at", Float, nullable=False),
)

model_aliases = Table(
    "model_aliases",
    metadata,
    Column("model_id", Integer, ForeignKey("registered_models.id"), primary_key=True),
    Column("alias", String(NAME), primary_key=True),
    Column("version_id", Integer, ForeignKey("model_versions.id"), nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("updated_by", String(NAME), nullable=False),
)

alias_history = Table(
    "alias_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_id", Integer, ForeignKey("registered_models.id"), nullable=False),
    Column("alias", String(NAME), nullable=False),
    Column("from_version", Integer, nullable=True),
    Column("to_version", Integer, nullable=True),
    Column("reason", Text, nullable=False, default=""),
    Column("time", Float, nullable=False),
    Column("actor", String(NAME), nullable=False),
    Index("ix_alias_history_model", "model_id", "alias"),
)

model_tags = Table(
    "model_tags",
    metadata,
    Column("model_id", Integer, ForeignKey("registered_models.id"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("key", String(NAME), primary_key=True),
    Column("value", Text, nullable=False),
)

experiment_keys = Table(
    "experiment_keys",
    metadata,
    Column("experiment_id", Integer, ForeignKey("experiments.id"), primary_key=True),
    Column("kind", String(10), primary_key=True),
    Column("key", String(NAME), primary_key=True),
)

deployments = Table(
    "deployments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(NAME), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("revision", Integer, nullable=False),
    Column("spec", JSON, nullable=False),
    Column("id_key", String(64), nullable=False),  # keys the request ids this deployment issues
    Column("created_at", Float, nullable=False),
    Column("created_by", String(NAME), nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("updated_by", String(NAME), nullable=False),
)

deployment_revisions = Table(
    "deployment_revisions",
    metadata,
    Column("deployment_id", Integer, ForeignKey("deployments.id"), primary_key=True),
    Column("revision", Integer, primary_key=True),
    Column("spec", JSON, nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("time", Float, nullable=False),
    Column("actor", String(NAME), nullable=False),
)

serving_tokens = Table(
    "serving_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("deployment_id", Integer, ForeignKey("deployments.id"), nullable=False),
    Column("label", String(NAME), nullable=False),
    Column("prefix", String(16), nullable=False),  # shown to tell tokens apart
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("created_by", String(NAME), nullable=False),
    Column("revoked_at", Float, nullable=True),
    Index("ix_serving_tokens_deployment", "deployment_id"),
)

bandit_arms = Table(
    "bandit_arms",
    metadata,
    Column("deployment_id", Integer, ForeignKey("deployments.id"), primary_key=True),
    Column("revision", Integer, primary_key=True),
    Column("route", String(NAME), primary_key=True),
    Column("successes", Float, nullable=False),
    Column("failures", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)
