"""The records of the lineage graph: a node per dataset, version, run, model version,
deployment and prediction log, with a readable label and the facts an auditor asks for,
read in one query per kind of record."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.engine import Connection

from steward.serve import Deployment, log_root
from steward.store import tables

ds, dv = tables.datasets, tables.dataset_versions
runs, ex, pj = tables.runs, tables.experiments, tables.projects
mv, rm, al, dp = (
    tables.model_versions,
    tables.registered_models,
    tables.model_aliases,
    tables.deployments,
)
NodeKind = Literal[
    "dataset", "dataset_version", "run", "model_version", "deployment", "prediction_log"
]


class LineageNode(BaseModel):
    """A record in the lineage graph: its kind, id, a readable label and a few facts."""

    key: str  # "kind:id", as edges name it
    kind: NodeKind
    id: str  # the id lineage edges use: dataset version and model version row ids
    label: str  # "credit@3", "churn v2", a run's name
    ref: str  # what a person types to name it: "credit@3", "churn/2", a run id
    missing: bool = False  # an edge names it, but its record is gone
    details: dict[str, Any] = Field(default_factory=dict)


def split_keys(keys: Iterable[str]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for key in keys:
        kind, _, ident = key.partition(":")
        grouped[kind].append(ident)
    return grouped


def describe(conn: Connection, keys: set[str]) -> dict[str, LineageNode]:
    """Return a node for every key, with its label and facts read in one query per kind."""
    nodes: dict[str, LineageNode] = {}
    for kind, ids in split_keys(keys).items():
        described = _DESCRIBERS[kind](conn, ids)
        for ident in ids:
            key = f"{kind}:{ident}"
            nodes[key] = described.get(ident) or LineageNode(
                key=key,
                kind=kind,
                id=ident,
                label=f"{ident} (missing)",
                ref=ident,
                missing=True,
            )
    return nodes


def _datasets(conn: Connection, ids: list[str]) -> dict[str, LineageNode]:
    out = {}
    for row in conn.execute(select(ds).where(ds.c.name.in_(ids))):
        out[row.name] = LineageNode(
            key=f"dataset:{row.name}",
            kind="dataset",
            id=row.name,
            label=row.name,
            ref=row.name,
            details={"description": row.description, "created_at": row.created_at},
        )
    return out


def _dataset_versions(conn: Connection, ids: list[str]) -> dict[str, LineageNode]:
    numbers = [int(i) for i in ids if i.isdigit()]
    query = (
        select(
            dv.c.id,
            dv.c.version,
            dv.c.row_count,
            dv.c.created_at,
            dv.c.created_by,
            dv.c.terms_of_use,
            dv.c.retention,
            dv.c.sensitive_columns,
            ds.c.name,
        )
        .join(ds, ds.c.id == dv.c.dataset_id)
        .where(dv.c.id.in_(numbers))
    )
    out = {}
    for row in conn.execute(query):
        ref = f"{row.name}@{row.version}"
        out[str(row.id)] = LineageNode(
            key=f"dataset_version:{row.id}",
            kind="dataset_version",
            id=str(row.id),
            label=ref,
            ref=ref,
            details={
                "dataset": row.name,
                "version": row.version,
                "rows": row.row_count,
                "created_at": row.created_at,
                "created_by": row.created_by,
                "terms_of_use": row.terms_of_use,
                "retention": row.retention,
                "sensitive_columns": row.sensitive_columns,
            },
        )
    return out


def _runs(conn: Connection, ids: list[str]) -> dict[str, LineageNode]:
    query = (
        select(
            runs.c.id,
            runs.c.name,
            runs.c.status,
            runs.c.user,
            runs.c.start_time,
            runs.c.end_time,
            ex.c.name.label("experiment"),
            pj.c.name.label("project"),
        )
        .join(ex, ex.c.id == runs.c.experiment_id)
        .join(pj, pj.c.id == ex.c.project_id)
        .where(runs.c.id.in_(ids))
    )
    out = {}
    for row in conn.execute(query):
        out[row.id] = LineageNode(
            key=f"run:{row.id}",
            kind="run",
            id=row.id,
            label=row.name or row.id[:8],
            ref=row.id,
            details={
                "status": row.status,
                "user": row.user,
                "project": row.project,
                "experiment": row.experiment,
                "start_time": row.start_time,
                "end_time": row.end_time,
            },
        )
    return out


def _model_versions(conn: Connection, ids: list[str]) -> dict[str, LineageNode]:
    numbers = [int(i) for i in ids if i.isdigit()]
    aliases: dict[int, list[str]] = defaultdict(list)
    for version_id, alias in conn.execute(
        select(al.c.version_id, al.c.alias).where(al.c.version_id.in_(numbers))
    ):
        aliases[version_id].append(alias)
    out = {}
    query = (
        select(
            mv.c.id,
            mv.c.version,
            mv.c.deleted,
            mv.c.created_at,
            mv.c.created_by,
            mv.c.flavor,
            mv.c.run_id,
            rm.c.name,
        )
        .join(rm, rm.c.id == mv.c.model_id)
        .where(mv.c.id.in_(numbers))
    )
    for row in conn.execute(query):
        out[str(row.id)] = LineageNode(
            key=f"model_version:{row.id}",
            kind="model_version",
            id=str(row.id),
            label=f"{row.name} v{row.version}",
            ref=f"{row.name}/{row.version}",
            details={
                "model": row.name,
                "version": row.version,
                "deleted": bool(row.deleted),
                "flavor": row.flavor,
                "aliases": sorted(aliases[row.id]),
                "created_at": row.created_at,
                "created_by": row.created_by,
            },
        )
    return out


def _deployment_rows(conn: Connection, names: list[str]) -> dict[str, Deployment]:
    rows = conn.execute(select(dp).where(dp.c.name.in_(names)))
    return {
        row.name: Deployment.model_validate(
            {k: v for k, v in row._asdict().items() if k != "id_key"}
        )
        for row in rows
    }


def _deployments(conn: Connection, ids: list[str]) -> dict[str, LineageNode]:
    out = {}
    for name, deployment in _deployment_rows(conn, ids).items():
        out[name] = LineageNode(
            key=f"deployment:{name}",
            kind="deployment",
            id=name,
            label=name,
            ref=name,
            details={
                "revision": deployment.revision,
                "serving": sorted(r.resolved or r.model for r in deployment.spec.routes),
                "updated_at": deployment.updated_at,
                "updated_by": deployment.updated_by,
            },
        )
    return out


def _prediction_logs(conn: Connection, ids: list[str]) -> dict[str, LineageNode]:
    return {
        name: LineageNode(
            key=f"prediction_log:{name}",
            kind="prediction_log",
            id=name,
            label=f"predictions of {name}",
            ref=name,
            details={"location": log_root(deployment)},
        )
        for name, deployment in _deployment_rows(conn, ids).items()
    }


_DESCRIBERS = {
    "dataset": _datasets,
    "dataset_version": _dataset_versions,
    "run": _runs,
    "model_version": _model_versions,
    "deployment": _deployments,
    "prediction_log": _prediction_logs,
}
