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
    Column("retention", Text, nullable=False, default=""),  # "delete after 2027-12-31", "3 years"
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
    # The audit chain (store/_chain.py): sha256 of the previous row's hash + this row's
    # canonical content. Append-only: on PostgreSQL a trigger refuses UPDATE and DELETE.
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
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

monitor_configs = Table(
    "monitor_configs",
    metadata,
    Column("project", String(NAME), primary_key=True),
    Column("config", JSON, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("updated_by", String(NAME), nullable=False),
)

monitor_runs = Table(
    "monitor_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("deployment", String(NAME), nullable=False),
    Column("window_start", Float, nullable=False),
    Column("window_end", Float, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("finished_at", Float, nullable=False),
    Column("actor", String(NAME), nullable=False),
    Column("summary", JSON, nullable=False),
    Column("report_sha256", String(64), nullable=True),  # the HTML report, a blob
    Column("result_sha256", String(64), nullable=True),  # the JSON result, a blob
    Index("ix_monitor_runs_deployment", "deployment", "window_end"),
)

monitor_metrics = Table(
    "monitor_metrics",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("monitor_run_id", Integer, ForeignKey("monitor_runs.id"), nullable=False),
    Column("deployment", String(NAME), nullable=False),
    Column("window_end", Float, nullable=False),
    Column("kind", String(30), nullable=False),  # drift, performance, estimate, health, kpi
    Column("name", String(NAME), nullable=False),  # e.g. drift.psi.tenure, accuracy, p99_ms
    Column("version", String(NAME), nullable=False, default=""),  # model/version or ""
    Column("value", Float, nullable=True),
    Column("lower", Float, nullable=True),
    Column("upper", Float, nullable=True),
    Index("ix_monitor_metrics_series", "deployment", "name", "window_end"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("deployment", String(NAME), nullable=False),
    Column("monitor_run_id", Integer, ForeignKey("monitor_runs.id"), nullable=False),
    Column("rule", String(NAME), nullable=False),
    Column("severity", String(20), nullable=False),
    Column("metric", String(NAME), nullable=False),
    Column("value", Float, nullable=True),
    Column("threshold", Float, nullable=True),
    Column("message", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("status", String(20), nullable=False),  # open, acknowledged
    Column("acknowledged_by", String(NAME), nullable=True),
    Column("acknowledged_at", Float, nullable=True),
    Column("notified", String(200), nullable=False, default=""),  # webhook outcome
    Index("ix_alerts_deployment", "deployment", "created_at"),
)

pii_scans = Table(
    "pii_scans",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dataset_version_id", Integer, ForeignKey("dataset_versions.id"), nullable=False),
    Column("scanner", String(NAME), nullable=False),  # e.g. "presidio-analyzer 2.2.366"
    Column("sample_rows", Integer, nullable=False),
    Column("findings", JSON, nullable=False),  # per column: entity types, share, confidence
    Column("created_at", Float, nullable=False),
    Column("created_by", String(NAME), nullable=False),
    Index("ix_pii_scans_version", "dataset_version_id"),
)

# Process governance (govern/_user_ops.py, govern/_review_ops.py). Secrets are stored
# hashed only: passwords with scrypt, API tokens with sha256 (they are long random).
users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(NAME), nullable=False, unique=True),
    Column("password_hash", String(300), nullable=True),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", Float, nullable=False),
    Column("created_by", String(NAME), nullable=False),
)

role_grants = Table(
    "role_grants",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id"), primary_key=True),
    Column("project", String(NAME), primary_key=True),  # "*": every project
    Column("role", String(30), primary_key=True),
    Column("granted_at", Float, nullable=False),
    Column("granted_by", String(NAME), nullable=False),
)

user_tokens = Table(
    "user_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("label", String(NAME), nullable=False),
    Column("prefix", String(20), nullable=False),  # shown in listings to tell tokens apart
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=True),
    Column("revoked_at", Float, nullable=True),
)

policies = Table(
    "policies",
    metadata,
    Column("project", String(NAME), primary_key=True),
    Column("policy", JSON, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("updated_by", String(NAME), nullable=False),
)

review_requests = Table(
    "review_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model", String(NAME), nullable=False),
    Column("version", Integer, nullable=False),
    Column("requested_by", String(NAME), nullable=False),
    Column("requested_at", Float, nullable=False),
    Column("note", Text, nullable=False),
    Column("manifest_sha256", String(64), nullable=False),
    Index("ix_review_requests_version", "model", "version"),
)

signoffs = Table(
    "signoffs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model", String(NAME), nullable=False),
    Column("version", Integer, nullable=False),
    Column("reviewer", String(NAME), nullable=False),
    Column("role", String(30), nullable=False),
    Column("decision", String(10), nullable=False),  # approve, reject
    Column("comment", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    # What was signed: a sign-off counts only while the version holds these files.
    Column("manifest_sha256", String(64), nullable=False),
    UniqueConstraint("model", "version", "reviewer", name="uq_signoffs_reviewer"),
)

validations = Table(
    "validations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model", String(NAME), nullable=False),
    Column("version", Integer, nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("checks", JSON, nullable=False),
    Column("summary", JSON, nullable=False),
    Column("report_sha256", String(64), nullable=True),
    Column("result_sha256", String(64), nullable=True),
    Column("manifest_sha256", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("created_by", String(NAME), nullable=False),
    Index("ix_validations_version", "model", "version"),
)

# iterate: A/B plans fixed before the test starts, retraining configs and pipeline runs
ab_plans = Table(
    "ab_plans",
    metadata,
    Column("deployment", String(NAME), primary_key=True),
    Column("plan", JSON, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("updated_by", String(NAME), nullable=False),
)

retraining_configs = Table(
    "retraining_configs",
    metadata,
    Column("project", String(NAME), primary_key=True),
    Column("config", JSON, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("updated_by", String(NAME), nullable=False),
)

retrainings = Table(
    "retrainings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project", String(NAME), nullable=False),
    Column("model", String(NAME), nullable=False),
    Column("trigger", String(30), nullable=False),  # manual, drift, schedule
    Column("status", String(20), nullable=False),  # running, promoted, review, stopped, failed
    Column("stopped_at", String(30), nullable=True),  # the step that ended it early
    Column("data", Text, nullable=False),
    Column("champion", Text, nullable=True),
    Column("challenger", Text, nullable=True),
    Column("steps", JSON, nullable=False),
    Column("report_sha256", String(64), nullable=True),
    Column("started_at", Float, nullable=False),
    Column("finished_at", Float, nullable=True),
    Column("actor", String(NAME), nullable=False),
    Index("ix_retrainings_project", "project"),
)
