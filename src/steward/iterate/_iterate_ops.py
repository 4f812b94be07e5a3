"""Operations of the iterate stage: A/B plans, retraining configs and retraining runs.

A retraining run is written step by step (started, validated, trained, compared,
decided), each step an event of the audit trail, so a run that dies half-way still
shows where it got to.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update

from steward._operations import operation
from steward.errors import InvalidInput, NotFound, did_you_mean
from steward.iterate._abtest import ABPlan
from steward.iterate._records import (
    Retraining,
    RetrainingConfig,
    RetrainingStart,
    RetrainingUpdate,
)
from steward.service import Service
from steward.store import tables, upsert
from steward.validation import check_name

abp, rc, rt = tables.ab_plans, tables.retraining_configs, tables.retrainings
FINAL = {"promoted", "review", "stopped", "failed"}


class IterateOps(Service):
    """Operations of the iterate stage."""

    @operation("PUT", "/deployments/{deployment}/ab-plan", tag="iterate")
    def set_ab_plan(self, deployment: str, plan: ABPlan, restart: bool = False) -> ABPlan:
        """Return the A/B plan of a deployment after storing it (fixed before the test).

        The test starts when its first plan is stored; storing another keeps that start
        (a plan changed mid-test is in the audit trail) unless ``restart`` begins a new test.
        """
        check_name(deployment, "deployment")
        with self.store.write() as tx:
            row = tx.conn.execute(select(abp.c.plan).where(abp.c.deployment == deployment)).first()
            earlier = ABPlan.model_validate(row.plan).started_at if row else None
            start = tx.now if restart or earlier is None else earlier
            plan = plan.model_copy(update={"started_at": start})
            stored = plan.model_dump(mode="json")
            names = list(tx.conn.execute(select(tables.deployments.c.name)).scalars())
            if deployment not in names:
                raise NotFound(
                    f"Deployment {deployment!r} does not exist.{did_you_mean(deployment, names)} "
                    "Create it with `steward deploy create` before planning its A/B test."
                )
            values = {"plan": stored, "updated_at": tx.now, "updated_by": tx.actor}
            stmt = upsert(tx.conn, abp).values(deployment=deployment, **values)
            tx.conn.execute(
                stmt.on_conflict_do_update(index_elements=[abp.c.deployment], set_=values)
            )
            tx.emit(
                "ab.planned" if start == tx.now else "ab.replanned",
                "deployment",
                deployment,
                plan=stored,
                restart=restart,
            )
        return plan

    @operation("GET", "/deployments/{deployment}/ab-plan", tag="iterate")
    def get_ab_plan(self, deployment: str) -> ABPlan:
        """Return the A/B plan stored for a deployment."""
        with self.store.read() as conn:
            row = conn.execute(select(abp.c.plan).where(abp.c.deployment == deployment)).first()
        if row is None:
            raise NotFound(
                f"Deployment {deployment!r} has no A/B plan. Store one with `steward ab plan "
                f"... --deployment {deployment}` before the test starts."
            )
        return ABPlan.model_validate(row.plan)

    @operation("PUT", "/retraining/configs/{project}", tag="iterate")
    def set_retraining_config(self, project: str, config: RetrainingConfig) -> RetrainingConfig:
        """Return the project's retraining config after storing it."""
        check_name(project, "project")
        stored = config.model_dump(mode="json")
        with self.store.write() as tx:
            values = {"config": stored, "updated_at": tx.now, "updated_by": tx.actor}
            stmt = upsert(tx.conn, rc).values(project=project, **values)
            tx.conn.execute(stmt.on_conflict_do_update(index_elements=[rc.c.project], set_=values))
            tx.emit("retraining.config.set", "project", project, config=stored)
        return config

    @operation("GET", "/retraining/configs/{project}", tag="iterate")
    def get_retraining_config(self, project: str) -> RetrainingConfig:
        """Return the project's retraining config."""
        with self.store.read() as conn:
            row = conn.execute(select(rc.c.config).where(rc.c.project == project)).first()
            names = list(conn.execute(select(rc.c.project)).scalars())
        if row is None:
            raise NotFound(
                f"Project {project!r} declares no retraining.{did_you_mean(project, names)} "
                f"Declare it once with `steward retraining set {project} retrain.yaml` (the "
                "model, the training function 'module:function' and the label column)."
            )
        return RetrainingConfig.model_validate(row.config)

    @operation("POST", "/retrainings", tag="iterate")
    def start_retraining(self, start: RetrainingStart) -> Retraining:
        """Return a new retraining run, started."""
        check_name(start.project, "project")
        with self.store.write() as tx:
            result = tx.conn.execute(
                insert(rt).values(
                    project=start.project,
                    model=start.model,
                    trigger=start.trigger,
                    status="running",
                    data=start.data,
                    champion=start.champion,
                    steps=[],
                    started_at=tx.now,
                    actor=tx.actor,
                )
            )
            run_id = int(result.inserted_primary_key[0]) if result.inserted_primary_key else 0
            tx.emit(
                "retraining.started",
                "retraining",
                str(run_id),
                project=start.project,
                model=start.model,
                trigger=start.trigger,
                data=start.data,
                champion=start.champion,
            )
        return self.get_retraining(run_id)

    @operation("POST", "/retrainings/{retraining_id}/steps", tag="iterate")
    def record_retraining_step(self, retraining_id: int, change: RetrainingUpdate) -> Retraining:
        """Return the retraining run after adding a finished step (and its outcome, if final)."""
        self.get_retraining(retraining_id)  # NotFound for an id that names none
        with self.store.write() as tx:
            row = tx.conn.execute(select(rt).where(rt.c.id == retraining_id)).first()
            if row is None:
                raise NotFound(f"Retraining run {retraining_id} does not exist.")
            if row.status in FINAL:
                raise InvalidInput(
                    f"Retraining run {retraining_id} already ended ({row.status}); start a new one."
                )
            values: dict[str, Any] = {}
            if change.step is not None:
                values["steps"] = [*row.steps, change.step.model_dump(mode="json")]
            if change.challenger is not None:
                values["challenger"] = change.challenger
            if change.report_sha256 is not None:
                values["report_sha256"] = change.report_sha256
            if change.status is not None:
                values.update(status=change.status, finished_at=tx.now)
                values["stopped_at"] = change.stopped_at
            if not values:
                raise InvalidInput("Send a step, a status, a challenger or a report to record.")
            tx.conn.execute(update(rt).where(rt.c.id == retraining_id).values(**values))
            step = change.step
            tx.emit(
                f"retraining.{step.step}" if step else f"retraining.{change.status}",
                "retraining",
                str(retraining_id),
                project=row.project,
                model=row.model,
                status=step.status if step else change.status,
                summary=step.summary if step else "",
                challenger=change.challenger,
                outcome=change.status,
            )
        return self.get_retraining(retraining_id)

    @operation("GET", "/retrainings/{retraining_id}", tag="iterate")
    def get_retraining(self, retraining_id: int) -> Retraining:
        """Return one retraining run with its steps."""
        row = None
        if 0 < retraining_id < 2**63:  # beyond a database integer nothing is stored
            with self.store.read() as conn:
                row = conn.execute(select(rt).where(rt.c.id == retraining_id)).first()
        if row is None:
            raise NotFound(
                f"Retraining run {retraining_id} does not exist. List them with "
                "`steward retraining runs PROJECT`."
            )
        return Retraining.model_validate(row._asdict())

    @operation("GET", "/retrainings", tag="iterate")
    def list_retrainings(self, project: str | None = None, limit: int = 50) -> list[Retraining]:
        """Return retraining runs (of one project, or all), newest first."""
        query = select(rt).order_by(rt.c.id.desc()).limit(max(1, min(limit, 1000)))
        if project is not None:
            query = query.where(rt.c.project == project)
        with self.store.read() as conn:
            rows = conn.execute(query).all()
        return [Retraining.model_validate(r._asdict()) for r in rows]
