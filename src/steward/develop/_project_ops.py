"""Projects, their business objectives and KPIs, and experiments."""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.engine import Connection

from steward._operations import operation
from steward.develop._models import Experiment, Objective, Project
from steward.errors import InvalidInput, NotFound, did_you_mean
from steward.service import Service
from steward.store import Transaction, tables, upsert
from steward.validation import check_name

DEFAULT = "default"


def project_id(tx: Transaction, name: str, *, create: bool) -> int:
    """Return the id of project ``name``, creating it when ``create`` is set."""
    row = tx.conn.execute(
        select(tables.projects.c.id).where(tables.projects.c.name == name)
    ).first()
    if row:
        return int(row[0])
    if not create:
        raise _missing_project(tx.conn, name)
    stmt = upsert(tx.conn, tables.projects).values(
        name=name, description="", created_at=tx.now, created_by=tx.actor
    )
    tx.conn.execute(stmt.on_conflict_do_nothing())
    pid = int(
        tx.conn.execute(
            select(tables.projects.c.id).where(tables.projects.c.name == name)
        ).scalar_one()
    )
    tx.emit("project.created", "project", name, description="")
    return pid


def experiment_id(tx: Transaction, project: str, name: str) -> int:
    """Return the id of experiment ``name`` in ``project``, creating both if needed."""
    pid = project_id(tx, project, create=True)
    e = tables.experiments
    where = (e.c.project_id == pid) & (e.c.name == name)
    row = tx.conn.execute(select(e.c.id).where(where)).first()
    if row:
        return int(row[0])
    stmt = upsert(tx.conn, e).values(
        project_id=pid, name=name, description="", created_at=tx.now, created_by=tx.actor
    )
    tx.conn.execute(stmt.on_conflict_do_nothing())
    eid = int(tx.conn.execute(select(e.c.id).where(where)).scalar_one())
    tx.emit("experiment.created", "experiment", f"{project}/{name}", project=project, name=name)
    return eid


def _missing_project(conn: Connection, name: str) -> NotFound:
    names = [r[0] for r in conn.execute(select(tables.projects.c.name))]
    return NotFound(
        f"Project {name!r} does not exist.{did_you_mean(name, names)} "
        f"Known projects: {', '.join(sorted(names)) or 'none'}."
    )


_PROJECT_COLS = [
    tables.projects.c.id,
    tables.projects.c.name,
    tables.projects.c.description,
    tables.projects.c.created_at,
    tables.projects.c.created_by,
]


class ProjectOps(Service):
    """Operations on projects, objectives and experiments."""

    @operation("POST", "/projects", tag="projects")
    def create_project(self, name: str, description: str = "") -> Project:
        """Return the project ``name``, creating it (or updating its description)."""
        check_name(name, "project")
        with self.store.write() as tx:
            project_id(tx, name, create=True)
            if description:
                tx.conn.execute(
                    tables.projects.update()
                    .where(tables.projects.c.name == name)
                    .values(description=description)
                )
                tx.emit("project.described", "project", name, description=description)
        return self.get_project(name)

    @operation("GET", "/projects/{name}", tag="projects")
    def get_project(self, name: str) -> Project:
        """Return the project called ``name``."""
        with self.store.read() as conn:
            row = conn.execute(select(*_PROJECT_COLS).where(tables.projects.c.name == name)).first()
            if row is None:
                raise _missing_project(conn, name)
        return Project.model_validate(row._asdict())

    @operation("GET", "/projects", tag="projects")
    def list_projects(self) -> list[Project]:
        """Return every project, by name."""
        with self.store.read() as conn:
            rows = conn.execute(select(*_PROJECT_COLS).order_by(tables.projects.c.name))
            return [Project.model_validate(r._asdict()) for r in rows]

    @operation("PUT", "/projects/{project}/objectives/{name}", tag="projects")
    def set_objective(
        self,
        project: str,
        name: str,
        definition: str,
        direction: Literal["minimize", "maximize"],
        target: float | None = None,
        kind: Literal["objective", "kpi"] = "kpi",
        unit: str = "",
    ) -> Objective:
        """Return the objective or KPI after recording it on the project."""
        check_name(project, "project")
        check_name(name, "objective")
        if not definition.strip():
            raise InvalidInput(
                f"Objective {name!r} needs a definition saying how it is measured, e.g. "
                "'share of transactions later confirmed fraudulent'."
            )
        values: dict[str, Any] = dict(
            kind=kind, definition=definition, direction=direction, target=target, unit=unit
        )
        o = tables.objectives
        with self.store.write() as tx:
            pid = project_id(tx, project, create=True)
            stmt = upsert(tx.conn, o).values(
                project_id=pid, name=name, created_at=tx.now, created_by=tx.actor, **values
            )
            tx.conn.execute(
                stmt.on_conflict_do_update(index_elements=[o.c.project_id, o.c.name], set_=values)
            )
            tx.emit("objective.set", "project", project, name=name, **values)
        return next(x for x in self.list_objectives(project) if x.name == name)

    @operation("GET", "/projects/{project}/objectives", tag="projects")
    def list_objectives(self, project: str) -> list[Objective]:
        """Return the objectives and KPIs recorded for ``project``."""
        o, p = tables.objectives, tables.projects
        with self.store.read() as conn:
            if conn.execute(select(p.c.id).where(p.c.name == project)).first() is None:
                raise _missing_project(conn, project)
            rows = conn.execute(
                select(
                    p.c.name.label("project"),
                    *[c for c in o.c if c.name not in {"id", "project_id"}],
                )
                .join(p, p.c.id == o.c.project_id)
                .where(p.c.name == project)
                .order_by(o.c.name)
            )
            return [Objective.model_validate(r._asdict()) for r in rows]

    @operation("POST", "/projects/{project}/experiments", tag="projects")
    def create_experiment(self, project: str, name: str, description: str = "") -> Experiment:
        """Return the experiment ``name`` in ``project``, creating it if needed."""
        check_name(project, "project")
        check_name(name, "experiment")
        with self.store.write() as tx:
            eid = experiment_id(tx, project, name)
            if description:
                tx.conn.execute(
                    tables.experiments.update()
                    .where(tables.experiments.c.id == eid)
                    .values(description=description)
                )
                tx.emit(
                    "experiment.described",
                    "experiment",
                    f"{project}/{name}",
                    description=description,
                )
        return next(x for x in self.list_experiments(project) if x.name == name)

    @operation("GET", "/projects/{project}/experiments", tag="projects")
    def list_experiments(self, project: str) -> list[Experiment]:
        """Return the experiments of ``project``, by name."""
        e, p = tables.experiments, tables.projects
        with self.store.read() as conn:
            if conn.execute(select(p.c.id).where(p.c.name == project)).first() is None:
                raise _missing_project(conn, project)
            rows = conn.execute(
                select(
                    e.c.id,
                    p.c.name.label("project"),
                    e.c.name,
                    e.c.description,
                    e.c.created_at,
                    e.c.created_by,
                )
                .join(p, p.c.id == e.c.project_id)
                .where(p.c.name == project)
                .order_by(e.c.name)
            )
            return [Experiment.model_validate(r._asdict()) for r in rows]
