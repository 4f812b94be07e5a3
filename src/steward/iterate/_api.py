"""The iterate stage's stored objects over the active backend: A/B plans, retraining
configs and retraining runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from steward.configs import load_config
from steward.context import get_backend
from steward.errors import InvalidInput, NotFound
from steward.iterate._abtest import ABPlan
from steward.iterate._records import Retraining, RetrainingConfig


def set_ab_plan(deployment: str, plan: ABPlan, *, restart: bool = False) -> ABPlan:
    """Return the A/B plan after storing it for a deployment (before the test starts:
    the readout counts requests from the first plan's time on, and refuses a
    fixed-horizon verdict until the planned sample is reached). ``restart`` starts a new
    test from now (an earlier test's requests stop counting)."""
    return get_backend().set_ab_plan(deployment, plan, restart)


def get_ab_plan(deployment: str) -> ABPlan | None:
    """Return the A/B plan stored for a deployment, or None."""
    try:
        return get_backend().get_ab_plan(deployment)
    except NotFound:
        return None


def set_retraining(
    project: str, config: RetrainingConfig | dict[str, Any] | str | Path
) -> RetrainingConfig:
    """Return a project's retraining config after storing it: a :class:`RetrainingConfig`,
    a dict of its fields, or a YAML file (as ``steward retraining set`` reads)."""
    if isinstance(config, str | Path):
        config = load_config(Path(config), RetrainingConfig)
    elif isinstance(config, dict):
        try:
            config = RetrainingConfig.model_validate(config)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            raise InvalidInput(f"The retraining config is not valid: {problems}.") from exc
    return get_backend().set_retraining_config(project, config)


def get_retraining_config(project: str) -> RetrainingConfig:
    """Return the retraining config a project declared."""
    return get_backend().get_retraining_config(project)


def list_retrainings(project: str | None = None, *, limit: int = 50) -> list[Retraining]:
    """Return retraining runs, newest first (of one project, or all)."""
    return get_backend().list_retrainings(project, limit)


def get_retraining(retraining_id: int) -> Retraining:
    """Return one retraining run with its steps."""
    return get_backend().get_retraining(retraining_id)


def retraining_report(retraining_id: int) -> str:
    """Return the HTML report of a retraining run (validation, comparison, decision)."""
    backend = get_backend()
    run = backend.get_retraining(retraining_id)
    if not run.report_sha256:
        raise NotFound(
            f"Retraining run {retraining_id} has no report (it is {run.status}); the report is "
            "written when a run ends."
        )
    return backend.blobs.read_bytes(run.report_sha256).decode()
