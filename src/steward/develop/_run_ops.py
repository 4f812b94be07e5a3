"""Runs: creation, status, metric/param/tag batches, metric history, artifacts, events."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from itertools import repeat
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Row, String, case, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from steward._gc import paused_gc
from steward._operations import operation
from steward.artifacts import check_sha256
from steward.develop._models import (
    TERMINAL,
    Artifact,
    Environment,
    EventRecord,
    LatestMetric,
    MetricBatch,
    MetricPoint,
    Run,
    RunInput,
    RunStatus,
)
from steward.develop._project_ops import DEFAULT, experiment_id
from steward.errors import Conflict, InvalidInput, NotFound
from steward.service import Service, require_run
from steward.store import Transaction, bulk_insert, greatest, least, tables, upsert
from steward.validation import check_artifact_path, check_key, check_name, param_value

r, e, p = tables.runs, tables.experiments, tables.projects
_RUN_COLUMNS = (
    r.c.id,
    p.c.name.label("project"),
    e.c.name.label("experiment"),
    r.c.name,
    r.c.status,
    r.c.start_time,
    r.c.end_time,
    r.c.parent_run_id,
    r.c.user,
    r.c.error,
    r.c.environment_id,
    r.c.context,
)


def run_query() -> Any:
    """Return a SELECT of run rows joined to their experiment and project names."""
    return (
        select(*_RUN_COLUMNS).join(e, e.c.id == r.c.experiment_id).join(p, p.c.id == e.c.project_id)
    )


def load_runs(conn: Connection, rows: Sequence[Row[Any]]) -> list[Run]:
    """Return full runs (params, latest metrics, tags, inputs) for run rows, in order."""
    ids = [row.id for row in rows]
    runs = {row.id: Run.model_validate(row._asdict()) for row in rows}
    for chunk in _chunks(ids, 900):
        for rid, key, value in conn.execute(
            select(tables.params.c.run_id, tables.params.c.key, tables.params.c.value).where(
                tables.params.c.run_id.in_(chunk)
            )
        ):
            runs[rid].params[key] = value
        for rid, key, value in conn.execute(
            select(tables.tags.c.run_id, tables.tags.c.key, tables.tags.c.value).where(
                tables.tags.c.run_id.in_(chunk)
            )
        ):
            runs[rid].tags[key] = value
        lm = tables.latest_metrics
        for m in conn.execute(select(lm).where(lm.c.run_id.in_(chunk))):
            runs[m.run_id].metrics[m.key] = LatestMetric(
                value=m.value,
                step=m.step,
                timestamp=m.timestamp,
                min=m.min,
                max=m.max,
                count=m.count,
            )
        le, dv, ds = tables.lineage_edges, tables.dataset_versions, tables.datasets
        for row in conn.execute(
            select(le.c.target_id, le.c.relation, dv.c.id, dv.c.version, ds.c.name)
            .join(dv, dv.c.id.cast(String) == le.c.source_id)
            .join(ds, ds.c.id == dv.c.dataset_id)
            .where(le.c.source_type == "dataset_version")
            .where(le.c.target_type == "run")
            .where(le.c.target_id.in_(chunk))
            .order_by(le.c.id)
        ):
            runs[row.target_id].inputs.append(
                RunInput(
                    dataset=row.name,
                    version=row.version,
                    dataset_version_id=row.id,
                    context=row.relation.removeprefix("input:"),
                )
            )
    return [runs[i] for i in ids]


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def catalogue_keys(tx: Transaction, experiment_id: int, **keys: list[str]) -> None:
    """Record the metric/param/tag keys an experiment uses (for column choosers at scale)."""
    rows = [
        {"experiment_id": experiment_id, "kind": kind, "key": key}
        for kind, names in keys.items()
        for key in names
    ]
    if rows:
        tx.conn.execute(upsert(tx.conn, tables.experiment_keys).on_conflict_do_nothing(), rows)


class RunOps(Service):
    """Operations on runs."""

    @operation("POST", "/runs", tag="runs")
    def create_run(
        self,
        project: str = DEFAULT,
        experiment: str = DEFAULT,
        name: str | None = None,
        parent_run_id: str | None = None,
        tags: dict[str, str] | None = None,
        context: dict[str, Any] | None = None,
        environment: Environment | None = None,
    ) -> Run:
        """Return a new RUNNING run in ``project``/``experiment`` (both created if needed)."""
        check_name(project, "project")
        check_name(experiment, "experiment")
        tags = {check_key(k, "tag"): param_value(k, v) for k, v in (tags or {}).items()}
        run_id = uuid.uuid4().hex
        name = name or f"run-{run_id[:8]}"
        if len(name) > 200:
            raise InvalidInput(f"The run name is {len(name)} characters long; the limit is 200.")
        with self.store.write() as tx:
            eid = experiment_id(tx, project, experiment)
            if parent_run_id is not None:
                require_run(tx.conn, parent_run_id)
            if environment is not None:
                stmt = upsert(tx.conn, tables.environments).values(**environment.model_dump())
                if tx.conn.execute(stmt.on_conflict_do_nothing()).rowcount:
                    tx.emit(
                        "environment.recorded",
                        "environment",
                        environment.id,
                        python=environment.python,
                    )
            tx.conn.execute(
                insert(r).values(
                    id=run_id,
                    experiment_id=eid,
                    name=name,
                    status="RUNNING",
                    start_time=tx.now,
                    end_time=None,
                    parent_run_id=parent_run_id,
                    user=tx.actor,
                    error=None,
                    environment_id=environment.id if environment else None,
                    context=context or {},
                )
            )
            if tags:
                tx.conn.execute(
                    insert(tables.tags),
                    [{"run_id": run_id, "key": k, "value": v} for k, v in tags.items()],
                )
                catalogue_keys(tx, eid, tags=list(tags))
            tx.emit(
                "run.created",
                "run",
                run_id,
                project=project,
                experiment=experiment,
                name=name,
                parent_run_id=parent_run_id,
                tags=tags,
            )
        return self.get_run(run_id)

    @operation("GET", "/runs/{run_id}", tag="runs")
    def get_run(self, run_id: str) -> Run:
        """Return the run ``run_id`` with its params, latest metrics, tags and inputs."""
        with self.store.read() as conn:
            rows = conn.execute(run_query().where(r.c.id == run_id)).all()
            if not rows:
                require_run(conn, run_id)
            return load_runs(conn, rows)[0]

    @operation("PATCH", "/runs/{run_id}", tag="runs")
    def update_run(
        self,
        run_id: str,
        status: RunStatus | None = None,
        error: str | None = None,
        name: str | None = None,
    ) -> Run:
        """Return the run after changing its status (ending or resuming it) or its name."""
        with self.store.write() as tx:
            current = require_run(tx.conn, run_id)
            values: dict[str, Any] = {}
            if name is not None:
                values["name"] = name
            if status is not None and status != current.status:
                if current.status in TERMINAL and status in TERMINAL:
                    raise Conflict(
                        f"Run {run_id!r} already ended as {current.status}; it cannot also end "
                        f"as {status}. Another process may have ended it first.",
                        status=current.status,
                    )
                values["status"] = status
                values["end_time"] = tx.now if status in TERMINAL else None
                values["error"] = error if status in TERMINAL else None
            if not values:
                tx.emit("run.touched", "run", run_id)
                return self._after(tx, run_id)
            tx.conn.execute(r.update().where(r.c.id == run_id).values(**values))
            tx.emit("run.updated", "run", run_id, **values)
        return self.get_run(run_id)

    def _after(self, tx: Transaction, run_id: str) -> Run:
        rows = tx.conn.execute(run_query().where(r.c.id == run_id)).all()
        return load_runs(tx.conn, rows)[0]

    @operation("POST", "/runs/{run_id}/batch", tag="runs")
    def log_batch(
        self,
        run_id: str,
        metrics: MetricBatch | None = None,
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> int:
        """Return the number of metric points stored after logging metrics, params and tags."""
        metrics = metrics or MetricBatch()
        params = {check_key(k, "param"): param_value(k, v) for k, v in (params or {}).items()}
        tags = {check_key(k, "tag"): param_value(k, v) for k, v in (tags or {}).items()}
        with paused_gc():
            rows = _metric_rows(run_id, metrics)
        with self.store.write() as tx, paused_gc():
            run = require_run(tx.conn, run_id)
            new_params = _new_params(tx.conn, run_id, params)
            try:
                if new_params:
                    tx.conn.execute(
                        insert(tables.params),
                        [{"run_id": run_id, "key": k, "value": v} for k, v in new_params.items()],
                    )
            except SAIntegrityError as exc:  # another writer set one of them meanwhile
                raise Conflict(
                    f"Another process logged params {sorted(new_params)} to run {run_id!r} at the "
                    "same time. Read the run back and log only params it does not have yet."
                ) from exc
            if tags:
                t = tables.tags
                stmt = upsert(tx.conn, t)
                tx.conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=[t.c.run_id, t.c.key], set_={"value": stmt.excluded.value}
                    ),
                    [{"run_id": run_id, "key": k, "value": v} for k, v in tags.items()],
                )
            if rows:
                bulk_insert(tx.conn, tables.metrics, _METRIC_COLUMNS, rows)
                _update_latest(tx.conn, run_id, metrics)
            keys = sorted(set(metrics.keys))
            catalogue_keys(
                tx, run.experiment_id, metrics=keys, params=list(new_params), tags=list(tags)
            )
            tx.emit(
                "run.logged",
                "run",
                run_id,
                metric_points=len(rows),
                metric_keys=keys[:100],
                params=new_params,
                tags=tags,
            )
        return len(rows)

    @operation("GET", "/runs/{run_id}/metric-history", tag="runs")
    def get_metric_history(
        self, run_id: str, key: str, max_points: int | None = None
    ) -> list[MetricPoint]:
        """Return the points of metric ``key`` in step order (evenly thinned to max_points)."""
        m = tables.metrics
        with self.store.read() as conn:
            require_run(conn, run_id)
            rows = conn.execute(
                select(m.c.value, m.c.step, m.c.timestamp)
                .where(m.c.run_id == run_id, m.c.key == key)
                .order_by(m.c.step, m.c.timestamp, m.c.id)
            ).all()
        if max_points is not None and max_points > 0 and len(rows) > max_points:
            keep = np.unique(np.linspace(0, len(rows) - 1, max_points).round().astype(int))
            rows = [rows[i] for i in keep]
        return [MetricPoint(value=v, step=s, timestamp=t) for v, s, t in rows]

    @operation("PUT", "/runs/{run_id}/artifacts", tag="runs")
    def add_artifact(self, run_id: str, path: str, sha256: str, size: int) -> Artifact:
        """Return the artifact record after linking an uploaded blob to a run at ``path``."""
        check_artifact_path(path)
        check_sha256(sha256)
        if not self.blobs.exists(sha256):
            raise InvalidInput(
                f"No blob {sha256} is stored: upload the file's content before recording the "
                f"artifact {path!r}."
            )
        a = tables.artifacts
        with self.store.write() as tx:
            require_run(tx.conn, run_id)
            old = tx.conn.execute(
                select(a.c.sha256).where(a.c.run_id == run_id, a.c.path == path)
            ).scalar()
            values = {"sha256": sha256, "size": size, "created_at": tx.now}
            stmt = upsert(tx.conn, a).values(run_id=run_id, path=path, **values)
            tx.conn.execute(
                stmt.on_conflict_do_update(index_elements=[a.c.run_id, a.c.path], set_=values)
            )
            tx.emit(
                "artifact.logged", "run", run_id, path=path, sha256=sha256, size=size, replaced=old
            )
        return Artifact(run_id=run_id, path=path, sha256=sha256, size=size, created_at=tx.now)

    @operation("GET", "/runs/{run_id}/artifacts", tag="runs")
    def list_artifacts(self, run_id: str, prefix: str = "") -> list[Artifact]:
        """Return the run's artifacts whose path starts with ``prefix``, by path."""
        a = tables.artifacts
        with self.store.read() as conn:
            require_run(conn, run_id)
            query = select(a).where(a.c.run_id == run_id).order_by(a.c.path)
            if prefix:
                query = query.where(a.c.path.startswith(prefix, autoescape=True))
            return [Artifact.model_validate(row._asdict()) for row in conn.execute(query)]

    @operation("GET", "/environments/{environment_id}", tag="runs")
    def get_environment(self, environment_id: str) -> Environment:
        """Return the recorded software environment ``environment_id``."""
        env = tables.environments
        with self.store.read() as conn:
            row = conn.execute(select(env).where(env.c.id == environment_id)).first()
        if row is None:
            raise NotFound(f"Environment {environment_id!r} is not recorded.")
        return Environment.model_validate(row._asdict())

    @operation("GET", "/events", tag="events")
    def list_events(
        self,
        entity_type: str | None = None,
        entity_id: str | None = None,
        after_id: int = 0,
        limit: int = 1000,
    ) -> list[EventRecord]:
        """Return recorded changes, oldest first, optionally for one entity."""
        ev = tables.events
        query = select(ev).where(ev.c.id > after_id).order_by(ev.c.id).limit(min(limit, 10_000))
        if entity_type:
            query = query.where(ev.c.entity_type == entity_type)
        if entity_id:
            query = query.where(ev.c.entity_id == entity_id)
        with self.store.read() as conn:
            return [EventRecord.model_validate(row._asdict()) for row in conn.execute(query)]


_METRIC_COLUMNS = ("run_id", "key", "value", "step", "timestamp")


def _metric_rows(run_id: str, batch: MetricBatch) -> list[tuple[Any, ...]]:
    n = len(batch.keys)
    if not (len(batch.values) == len(batch.steps) == len(batch.timestamps) == n):
        raise InvalidInput(
            "A metric batch needs as many values, steps and timestamps as keys; got "
            f"{n} keys, {len(batch.values)} values, {len(batch.steps)} steps and "
            f"{len(batch.timestamps)} timestamps."
        )
    if n == 0:
        return []
    for key in set(batch.keys):
        check_key(key, "metric")
    values = np.asarray(batch.values, dtype=float)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        i = int(bad[0])
        raise InvalidInput(
            f"Metric {batch.keys[i]!r} must be finite; got {values[i]} at step {batch.steps[i]}."
        )
    if min(batch.steps) < 0:
        i = batch.steps.index(min(batch.steps))
        raise InvalidInput(
            f"The step of metric {batch.keys[i]!r} must be >= 0; got {batch.steps[i]}."
        )
    columns = (repeat(run_id, n), batch.keys, values.tolist(), batch.steps, batch.timestamps)
    return list(zip(*columns, strict=False))  # repeat() is endless: the lists set the length


def _new_params(conn: Connection, run_id: str, params: dict[str, str]) -> dict[str, str]:
    if not params:
        return {}
    t = tables.params
    existing = dict(
        conn.execute(
            select(t.c.key, t.c.value).where(t.c.run_id == run_id, t.c.key.in_(list(params)))
        ).all()
    )
    for key, value in params.items():
        if key in existing and existing[key] != value:
            raise Conflict(
                f"Param {key!r} of run {run_id!r} is already {existing[key]!r}; got {value!r}. "
                "Params are fixed once logged: start a new run for a new value, or log it under "
                "another key.",
                key=key,
                stored=existing[key],
                given=value,
            )
    return {k: v for k, v in params.items() if k not in existing}


def _update_latest(conn: Connection, run_id: str, batch: MetricBatch) -> None:
    # Per key: the point with the highest (step, timestamp), and min, max, count, computed
    # with numpy (a Python loop over 100k points costs more than inserting them).
    codes, uniques = pd.factorize(pd.Series(batch.keys, dtype=object), sort=False)
    values = np.asarray(batch.values, dtype=float)
    steps = np.asarray(batch.steps, dtype=np.int64)
    stamps = np.asarray(batch.timestamps, dtype=float)
    order = np.lexsort((stamps, steps, codes))  # by key, then step, then time
    last = order[np.r_[np.flatnonzero(np.diff(codes[order])), len(order) - 1]]
    counts = np.bincount(codes, minlength=len(uniques))
    minima = np.full(len(uniques), np.inf)
    maxima = np.full(len(uniques), -np.inf)
    np.minimum.at(minima, codes, values)
    np.maximum.at(maxima, codes, values)
    summary: dict[str, list[Any]] = {
        str(uniques[codes[i]]): [
            float(values[i]),
            int(steps[i]),
            float(stamps[i]),
            float(minima[codes[i]]),
            float(maxima[codes[i]]),
            int(counts[codes[i]]),
        ]
        for i in last
    }
    lm = tables.latest_metrics
    stmt = upsert(conn, lm)
    x = stmt.excluded
    newer = (x.step > lm.c.step) | ((x.step == lm.c.step) & (x.timestamp >= lm.c.timestamp))
    stmt = stmt.on_conflict_do_update(
        index_elements=[lm.c.run_id, lm.c.key],
        set_={
            "value": case((newer, x.value), else_=lm.c.value),
            "step": case((newer, x.step), else_=lm.c.step),
            "timestamp": case((newer, x.timestamp), else_=lm.c.timestamp),
            "min": least(conn, lm.c.min, x.min),
            "max": greatest(conn, lm.c.max, x.max),
            "count": lm.c.count + x.count,
        },
    )
    conn.execute(
        stmt,
        [
            {
                "run_id": run_id,
                "key": k,
                "value": v[0],
                "step": v[1],
                "timestamp": v[2],
                "min": v[3],
                "max": v[4],
                "count": v[5],
            }
            for k, v in summary.items()
        ],
    )
