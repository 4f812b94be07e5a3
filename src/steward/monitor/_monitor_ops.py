"""Operations of the monitor stage: thresholds per project, runs, their series, alerts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select

from steward._operations import operation
from steward.errors import InvalidInput, NotFound
from steward.monitor._records import (
    Alert,
    MetricPoint,
    MonitorConfig,
    MonitorRun,
    MonitorRunSpec,
)
from steward.service import Service
from steward.store import tables, upsert
from steward.validation import check_name

mc, mr, mm, al = tables.monitor_configs, tables.monitor_runs, tables.monitor_metrics, tables.alerts
MAX_SERIES = 100_000


def _alert(row: Any) -> Alert:
    return Alert.model_validate(row._asdict())


class MonitorOps(Service):
    """Operations of the monitor stage."""

    @operation("PUT", "/monitor/configs/{project}", tag="monitor")
    def set_monitor_config(self, project: str, config: MonitorConfig) -> MonitorConfig:
        """Return the project's monitoring thresholds after storing them."""
        check_name(project, "project")
        stored = config.model_dump(mode="json")
        with self.store.write() as tx:
            values = {"config": stored, "updated_at": tx.now, "updated_by": tx.actor}
            stmt = upsert(tx.conn, mc).values(project=project, **values)
            tx.conn.execute(stmt.on_conflict_do_update(index_elements=[mc.c.project], set_=values))
            tx.emit("monitor.config.set", "project", project, config=stored)
        return config

    @operation("GET", "/monitor/configs/{project}", tag="monitor")
    def get_monitor_config(self, project: str) -> MonitorConfig:
        """Return the project's monitoring thresholds (the defaults when none were set)."""
        with self.store.read() as conn:
            row = conn.execute(select(mc.c.config).where(mc.c.project == project)).first()
        return MonitorConfig.model_validate(row.config) if row else MonitorConfig()

    @operation("POST", "/monitor/runs", tag="monitor")
    def record_monitor_run(self, run: MonitorRunSpec) -> MonitorRun:
        """Return a finished monitoring run after storing it, its series and its alerts."""
        check_name(run.deployment, "deployment")
        if run.window_end < run.window_start:
            raise InvalidInput(
                f"The window ends ({run.window_end}) before it starts ({run.window_start})."
            )
        with self.store.write() as tx:
            result = tx.conn.execute(
                insert(mr).values(
                    deployment=run.deployment,
                    window_start=run.window_start,
                    window_end=run.window_end,
                    started_at=run.started_at,
                    finished_at=tx.now,
                    actor=tx.actor,
                    summary=run.summary,
                    report_sha256=run.report_sha256,
                    result_sha256=run.result_sha256,
                )
            )
            run_id = int(result.inserted_primary_key[0]) if result.inserted_primary_key else 0
            if run.metrics:
                tx.conn.execute(
                    insert(mm),
                    [
                        {
                            "monitor_run_id": run_id,
                            "deployment": run.deployment,
                            "window_end": m.window_end or run.window_end,
                            "kind": m.kind,
                            "name": m.name,
                            "version": m.version,
                            "value": m.value,
                            "lower": m.lower,
                            "upper": m.upper,
                        }
                        for m in run.metrics
                    ],
                )
            for a in run.alerts:
                tx.conn.execute(
                    insert(al).values(
                        deployment=run.deployment,
                        monitor_run_id=run_id,
                        rule=a.rule,
                        severity=a.severity,
                        metric=a.metric,
                        value=a.value,
                        threshold=a.threshold,
                        message=a.message,
                        created_at=tx.now,
                        status="open",
                        notified="",
                    )
                )
            tx.emit(
                "monitor.run.recorded",
                "deployment",
                run.deployment,
                monitor_run_id=run_id,
                window=[run.window_start, run.window_end],
                alerts=[a.rule for a in run.alerts],
            )
        return self.get_monitor_run(run_id)

    @operation("GET", "/monitor/runs/{run_id}", tag="monitor")
    def get_monitor_run(self, run_id: int) -> MonitorRun:
        """Return one monitoring run with the alerts it raised."""
        with self.store.read() as conn:
            row = conn.execute(select(mr).where(mr.c.id == run_id)).first()
            if row is None:
                raise NotFound(
                    f"Monitoring run {run_id} does not exist. List runs with "
                    "`steward monitor runs DEPLOYMENT`."
                )
            alerts = [
                _alert(a)
                for a in conn.execute(
                    select(al).where(al.c.monitor_run_id == run_id).order_by(al.c.id)
                )
            ]
        return MonitorRun.model_validate({**row._asdict(), "alerts": alerts})

    @operation("GET", "/monitor/deployments/{deployment}/runs", tag="monitor")
    def list_monitor_runs(self, deployment: str, limit: int = 50) -> list[MonitorRun]:
        """Return a deployment's monitoring runs, newest first."""
        with self.store.read() as conn:
            ids = conn.execute(
                select(mr.c.id)
                .where(mr.c.deployment == deployment)
                .order_by(mr.c.window_end.desc(), mr.c.id.desc())
                .limit(max(1, min(limit, 1000)))
            ).scalars()
            found = list(ids)
        return [self.get_monitor_run(i) for i in found]

    @operation("GET", "/monitor/deployments/{deployment}/series", tag="monitor")
    def get_monitor_series(
        self, deployment: str, prefix: str = "", since: float = 0.0
    ) -> list[MetricPoint]:
        """Return a deployment's monitored values over time (names starting with ``prefix``)."""
        with self.store.read() as conn:
            query = (
                select(mm)
                .where(mm.c.deployment == deployment, mm.c.window_end >= since)
                .order_by(mm.c.window_end, mm.c.id)
                .limit(MAX_SERIES)
            )
            if prefix:
                query = query.where(mm.c.name.startswith(prefix, autoescape=True))
            return [
                MetricPoint(
                    kind=r.kind,
                    name=r.name,
                    version=r.version,
                    value=r.value,
                    lower=r.lower,
                    upper=r.upper,
                    window_end=r.window_end,
                )
                for r in conn.execute(query)
            ]

    @operation("GET", "/monitor/alerts", tag="monitor")
    def list_alerts(
        self, deployment: str | None = None, status: str | None = None, limit: int = 200
    ) -> list[Alert]:
        """Return alerts, newest first (of one deployment, open or acknowledged)."""
        if status not in (None, "open", "acknowledged"):
            raise InvalidInput(f"status must be 'open' or 'acknowledged'; got {status!r}.")
        with self.store.read() as conn:
            query = select(al).order_by(al.c.created_at.desc(), al.c.id.desc()).limit(limit)
            if deployment:
                query = query.where(al.c.deployment == deployment)
            if status:
                query = query.where(al.c.status == status)
            return [_alert(r) for r in conn.execute(query)]

    @operation("POST", "/monitor/alerts/{alert_id}/acknowledge", tag="monitor")
    def acknowledge_alert(self, alert_id: int) -> Alert:
        """Return the alert after marking it acknowledged by the caller."""
        with self.store.write() as tx:
            row = tx.conn.execute(select(al).where(al.c.id == alert_id)).first()
            if row is None:
                raise NotFound(f"Alert {alert_id} does not exist; see `steward monitor alerts`.")
            tx.conn.execute(
                al.update()
                .where(al.c.id == alert_id)
                .values(status="acknowledged", acknowledged_by=tx.actor, acknowledged_at=tx.now)
            )
            tx.emit("monitor.alert.acknowledged", "deployment", row.deployment, alert_id=alert_id)
            return _alert(tx.conn.execute(select(al).where(al.c.id == alert_id)).one())

    @operation("PUT", "/monitor/alerts/{alert_id}/notified", tag="monitor")
    def set_alert_notified(self, alert_id: int, outcome: str) -> Alert:
        """Return the alert after recording how its webhook notification went."""
        with self.store.write() as tx:
            row = tx.conn.execute(select(al).where(al.c.id == alert_id)).first()
            if row is None:
                raise NotFound(f"Alert {alert_id} does not exist.")
            tx.conn.execute(al.update().where(al.c.id == alert_id).values(notified=outcome[:200]))
            tx.emit(
                "monitor.alert.notified",
                "deployment",
                row.deployment,
                alert_id=alert_id,
                outcome=outcome[:200],
            )
            return _alert(tx.conn.execute(select(al).where(al.c.id == alert_id)).one())
