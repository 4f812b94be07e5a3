"""The develop stage: runs, params, metrics, artifacts, datasets, environments, comparison."""

from steward.develop._artifact_api import (
    download_artifacts,
    list_artifacts,
    load_artifact_bytes,
    log_artifact,
    log_artifacts,
    log_dict,
    log_figure,
    log_table,
    log_text,
)
from steward.develop._autolog import autolog

# For the stages and interfaces above develop (not part of ``steward.*``):
from steward.develop._dataset_ops import DatasetOps as DatasetOps
from steward.develop._datasets import get_dataset, load_dataset, log_input, register_dataset
from steward.develop._environment import capture_environment, seed_everything
from steward.develop._fluent import (
    ActiveRun,
    active_run,
    end_run,
    flush,
    get_run,
    log_batch,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    set_experiment,
    set_tag,
    set_tags,
    start_run,
)
from steward.develop._hooks import DatasetHook as DatasetHook
from steward.develop._hooks import add_dataset_hook as add_dataset_hook
from steward.develop._hooks import remove_dataset_hook as remove_dataset_hook
from steward.develop._models import (
    Artifact,
    Dataset,
    DatasetVersion,
    Environment,
    Experiment,
    MetricBatch,
    Objective,
    Project,
    Run,
)
from steward.develop._models import DatasetUsage as DatasetUsage
from steward.develop._objectives import create_project, get_objectives, set_objective
from steward.develop._project_ops import ProjectOps as ProjectOps
from steward.develop._query import RunComparison, compare_runs, search_runs
from steward.develop._query import comparison_columns as comparison_columns
from steward.develop._query import comparison_fields as comparison_fields
from steward.develop._query import format_value as format_value
from steward.develop._reproduce import reproduce_run
from steward.develop._reproduction_report import ProgressCallback as ProgressCallback
from steward.develop._reproduction_report import ReproductionReport
from steward.develop._reproduction_report import RunCheck as RunCheck
from steward.develop._retention import check_retention as check_retention
from steward.develop._retention import retention_deadline as retention_deadline
from steward.develop._run_ops import RunOps as RunOps
from steward.develop._search_ops import SearchOps as SearchOps

__all__ = [
    "ActiveRun",
    "Artifact",
    "Dataset",
    "DatasetVersion",
    "Environment",
    "Experiment",
    "MetricBatch",
    "Objective",
    "Project",
    "ReproductionReport",
    "Run",
    "RunComparison",
    "active_run",
    "autolog",
    "capture_environment",
    "compare_runs",
    "create_project",
    "download_artifacts",
    "end_run",
    "flush",
    "get_dataset",
    "get_objectives",
    "get_run",
    "list_artifacts",
    "load_artifact_bytes",
    "load_dataset",
    "log_artifact",
    "log_artifacts",
    "log_batch",
    "log_dict",
    "log_figure",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_table",
    "log_text",
    "register_dataset",
    "reproduce_run",
    "search_runs",
    "seed_everything",
    "set_experiment",
    "set_objective",
    "set_tag",
    "set_tags",
    "start_run",
]
