"""Lineage: the graph dataset version → run → model version → deployment → prediction log.

The edges are the ones the stages record as they go (``lineage_edges``: a run's inputs,
the run that produced a version, the versions a deployment served); two kinds are read
from the records themselves (a dataset's versions, a deployment's prediction log). The
graph is walked both ways: upstream answers "what was this model trained on",
downstream "which models and deployments use this dataset version" (the impact of a
change, or of an erasure request).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.engine import Connection

from steward.errors import InvalidInput, NotFound, did_you_mean
from steward.govern._lineage_nodes import LineageNode, describe, split_keys
from steward.registry import parse_model_uri, resolve_version
from steward.store import tables

le, ds, dv = tables.lineage_edges, tables.datasets, tables.dataset_versions
runs, mv, rm, dp = tables.runs, tables.model_versions, tables.registered_models, tables.deployments
Direction = Literal["upstream", "downstream", "both"]
KINDS: tuple[str, ...] = (
    "dataset",
    "dataset_version",
    "run",
    "model_version",
    "deployment",
    "prediction_log",
)
_PREFIXES = {
    "dataset": "dataset",
    "run": "run",
    "model": "model_version",
    "deployment": "deployment",
    "predictions": "prediction_log",
}
MAX_NODES = 500
NODE_FORMS = (
    "dataset:NAME, dataset:NAME@VERSION, run:RUN_ID, model:NAME/VERSION (or model:NAME@ALIAS, "
    "models:/NAME/VERSION), deployment:NAME or predictions:DEPLOYMENT"
)


class LineageEdge(BaseModel):
    """A link: ``source`` was used by, or produced, ``target``."""

    source: str
    target: str
    relation: str  # input:training, produced, served_by, version, logs_to
    created_at: float | None = None
    current: bool | None = None  # served_by: the deployment serves the version now


class LineageGraph(BaseModel):
    """The part of the lineage graph around one node, within ``depth`` links."""

    root: str
    direction: Direction
    depth: int
    nodes: list[LineageNode]
    edges: list[LineageEdge]
    truncated: bool = False

    def node(self, key: str) -> LineageNode:
        """Return the node ``key`` of this graph."""
        return next(n for n in self.nodes if n.key == key)

    def of_kind(self, kind: str) -> list[LineageNode]:
        """Return the nodes of one kind, the root excluded."""
        return [n for n in self.nodes if n.kind == kind and n.key != self.root]


def parse_node(conn: Connection, text: str) -> str:
    """Return the key ("kind:id") of the node a person named; NotFound if it does not exist."""
    value = text.strip()
    if value.startswith("models:/"):
        prefix, rest = "model", value
    else:
        prefix, sep, rest = value.partition(":")
        if not sep or prefix not in _PREFIXES or not rest:
            raise InvalidInput(
                f"The lineage node {text!r} is not one Steward knows. Name it as {NODE_FORMS}."
            )
    kind = _PREFIXES[prefix]
    if kind == "dataset":
        return _dataset_key(conn, rest)
    if kind == "run":
        if conn.execute(select(runs.c.id).where(runs.c.id == rest)).first() is None:
            raise NotFound(f"Run {rest!r} does not exist. List run ids with `steward runs list`.")
        return f"run:{rest}"
    if kind == "model_version":
        return f"model_version:{_model_version_id(conn, rest)}"
    if conn.execute(select(dp.c.id).where(dp.c.name == rest)).first() is None:
        names = [n for (n,) in conn.execute(select(dp.c.name))]
        raise NotFound(
            f"Deployment {rest!r} does not exist.{did_you_mean(rest, names)} "
            f"Deployments: {', '.join(sorted(names)) or 'none'}."
        )
    return f"{kind}:{rest}"


def _dataset_key(conn: Connection, spec: str) -> str:
    name, sep, version = spec.partition("@")
    row = conn.execute(select(ds.c.id).where(ds.c.name == name)).first()
    if row is None:
        names = [n for (n,) in conn.execute(select(ds.c.name))]
        raise NotFound(
            f"Dataset {name!r} does not exist.{did_you_mean(name, names)} "
            "List datasets with `steward datasets list`."
        )
    if not sep:
        return f"dataset:{name}"
    number = version.lower().removeprefix("v")
    if not number.isdigit():
        raise InvalidInput(
            f"The version in {spec!r} must be a number, as in dataset:{name}@2; got {version!r}."
        )
    found = conn.execute(
        select(dv.c.id).where(dv.c.dataset_id == row.id, dv.c.version == int(number))
    ).first()
    if found is None:
        known = [
            str(v) for (v,) in conn.execute(select(dv.c.version).where(dv.c.dataset_id == row.id))
        ]
        raise NotFound(
            f"Dataset {name!r} has no version {number}; its versions are {', '.join(known) or 'none'}."
        )
    return f"dataset_version:{found.id}"


def _model_version_id(conn: Connection, spec: str) -> int:
    uri = spec if spec.startswith("models:/") else f"models:/{spec}"
    ref = parse_model_uri(uri)
    if (
        ref.kind == "registry" and ref.version is not None
    ):  # deleted versions too: lineage keeps them
        row = conn.execute(
            select(mv.c.id)
            .join(rm, rm.c.id == mv.c.model_id)
            .where(rm.c.name == ref.name, mv.c.version == ref.version)
        ).first()
        if row is not None:
            return int(row.id)
    return resolve_version(conn, uri)[2]


def lineage_graph(
    conn: Connection, root: str, *, direction: Direction = "both", depth: int = 4
) -> LineageGraph:
    """Return the nodes and edges within ``depth`` links of ``root`` (a node key), one way or both."""
    if depth < 1 or depth > 20:
        raise InvalidInput(f"The lineage depth must be between 1 and 20; got {depth}.")
    keys, edges, truncated = {root}, {}, False
    for down in (True, False) if direction == "both" else (direction == "downstream",):
        frontier = {root}
        for _ in range(depth):
            found = _neighbours(conn, frontier, down=down)
            frontier = set()
            for edge in found:
                edges[(edge.source, edge.target, edge.relation)] = edge
                other = edge.target if down else edge.source
                if other not in keys:
                    keys.add(other)
                    frontier.add(other)
            if len(keys) > MAX_NODES:
                truncated = True
                break
            if not frontier:
                break
    nodes = describe(conn, keys)
    _mark_current(nodes, edges.values())
    order = {kind: i for i, kind in enumerate(KINDS)}
    return LineageGraph(
        root=root,
        direction=direction,
        depth=depth,
        nodes=sorted(nodes.values(), key=lambda n: (order[n.kind], n.label, n.key)),
        edges=sorted(edges.values(), key=lambda e: (e.source, e.target, e.relation)),
        truncated=truncated,
    )


def _neighbours(conn: Connection, frontier: set[str], *, down: bool) -> list[LineageEdge]:
    """Return the edges leaving the frontier (downstream) or arriving at it (upstream)."""
    found: list[LineageEdge] = []
    for kind, ids in split_keys(frontier).items():
        side_type, side_id = (
            (le.c.source_type, le.c.source_id) if down else (le.c.target_type, le.c.target_id)
        )
        for row in conn.execute(select(le).where(side_type == kind, side_id.in_(ids))):
            found.append(
                LineageEdge(
                    source=f"{row.source_type}:{row.source_id}",
                    target=f"{row.target_type}:{row.target_id}",
                    relation=row.relation,
                    created_at=row.created_at,
                )
            )
        found.extend(_derived(conn, kind, ids, down=down))
    return found


def _derived(conn: Connection, kind: str, ids: list[str], *, down: bool) -> list[LineageEdge]:
    """Return the edges read from the records: dataset → its versions, deployment → its log."""
    if kind == "dataset" and down:
        rows = conn.execute(
            select(ds.c.name, dv.c.id, dv.c.created_at)
            .join(dv, dv.c.dataset_id == ds.c.id)
            .where(ds.c.name.in_(ids))
        )
        return [
            LineageEdge(
                source=f"dataset:{n}",
                target=f"dataset_version:{i}",
                relation="version",
                created_at=t,
            )
            for n, i, t in rows
        ]
    if kind == "dataset_version" and not down:
        numbers = [int(i) for i in ids if i.isdigit()]
        rows = conn.execute(
            select(ds.c.name, dv.c.id, dv.c.created_at)
            .join(ds, ds.c.id == dv.c.dataset_id)
            .where(dv.c.id.in_(numbers))
        )
        return [
            LineageEdge(
                source=f"dataset:{n}",
                target=f"dataset_version:{i}",
                relation="version",
                created_at=t,
            )
            for n, i, t in rows
        ]
    if kind == "deployment" and down:
        names = [n for (n,) in conn.execute(select(dp.c.name).where(dp.c.name.in_(ids)))]
        return [
            LineageEdge(source=f"deployment:{n}", target=f"prediction_log:{n}", relation="logs_to")
            for n in names
        ]
    if kind == "prediction_log" and not down:
        return [
            LineageEdge(source=f"deployment:{n}", target=f"prediction_log:{n}", relation="logs_to")
            for n in ids
        ]
    return []


def _mark_current(nodes: dict[str, LineageNode], edges: Iterable[LineageEdge]) -> None:
    """Say of each served_by edge whether the deployment serves that version now."""
    for edge in edges:
        if edge.relation != "served_by":
            continue
        version, deployment = nodes.get(edge.source), nodes.get(edge.target)
        if version is None or deployment is None or version.missing or deployment.missing:
            continue
        uri = f"models:/{version.details['model']}/{version.details['version']}"
        edge.current = uri in deployment.details.get("serving", [])


def dataset_version_id(conn: Connection, dataset: str, version: int) -> int:
    """Return the row id of a dataset version; NotFound if there is none."""
    return int(_dataset_key(conn, f"{dataset}@{version}").partition(":")[2])
