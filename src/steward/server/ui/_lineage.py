"""Lineage: the graph around a dataset, run, model version or deployment, drawn as SVG.

The graph is laid out in columns, one per kind of record (data on the left, predictions
on the right), and drawn on the server as inline SVG: every node is a link to its page,
and the page works without JavaScript. A table below lists the same nodes and links.
Laid out by hand: a layered graph of at most a few hundred nodes needs columns and one
ordering pass, not a graph-drawing library.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from steward.errors import StewardError
from steward.govern import LineageGraph, LineageNode
from steward.server.ui._base import backend_of, render

router = APIRouter()
COLUMNS = ("dataset", "dataset_version", "run", "model_version", "deployment", "prediction_log")
TITLES = {
    "dataset": "Dataset",
    "dataset_version": "Dataset version",
    "run": "Run",
    "model_version": "Model version",
    "deployment": "Deployment",
    "prediction_log": "Prediction log",
}
COLOURS = {
    "dataset": "#e7f5ff",
    "dataset_version": "#d0ebff",
    "run": "#fff3bf",
    "model_version": "#f3d9fa",
    "deployment": "#d3f9d8",
    "prediction_log": "#ebfbee",
}
NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 200, 46, 70, 18, 12
LABEL_CHARS = 24
DIRECTIONS = ("both", "upstream", "downstream")


def node_spec(node: LineageNode) -> str:
    """Return how a node is named in a lineage query (dataset:credit@3, model:churn/2...)."""
    prefix = {
        "dataset": "dataset",
        "dataset_version": "dataset",
        "run": "run",
        "model_version": "model",
        "deployment": "deployment",
        "prediction_log": "predictions",
    }[node.kind]
    return f"{prefix}:{node.ref}"


def page_url(request: Request, node: LineageNode) -> str | None:
    """Return the UI page of a node's record (None when the record is gone)."""
    if node.missing:
        return None
    d = node.details
    if node.kind == "dataset":
        return str(request.url_for("ui-dataset", name=node.ref))
    if node.kind == "dataset_version":
        return str(
            request.url_for("ui-dataset-version", name=d["dataset"], version=str(d["version"]))
        )
    if node.kind == "run":
        return str(request.url_for("ui-run", run_id=node.ref))
    if node.kind == "model_version":
        return str(request.url_for("ui-model-version", name=d["model"], version=str(d["version"])))
    return str(request.url_for("ui-deployment", name=node.ref))


def lineage_url(request: Request, spec: str) -> str:
    """Return the lineage page centred on ``spec`` (dataset:credit@3, run:ID...)."""
    return str(request.url_for("ui-lineage").include_query_params(node=spec))


def layout(graph: LineageGraph) -> dict[str, Any]:
    """Return node boxes (x, y) in one column per kind, and edge paths between them."""
    columns: dict[str, list[LineageNode]] = defaultdict(list)
    for node in graph.nodes:
        columns[node.kind].append(node)
    used = [kind for kind in COLUMNS if columns[kind]]
    neighbours: dict[str, list[str]] = defaultdict(list)
    for edge in graph.edges:
        neighbours[edge.target].append(edge.source)
        neighbours[edge.source].append(edge.target)
    position: dict[str, tuple[float, float]] = {}
    for index, kind in enumerate(used):
        placed = columns[kind]
        if index:  # order a column by where its neighbours in the previous ones sit
            placed.sort(key=lambda n: _barycentre(n.key, neighbours, position))
        x = PAD + index * (NODE_W + GAP_X)
        for row, node in enumerate(placed):
            position[node.key] = (x, PAD + 28 + row * (NODE_H + GAP_Y))
    height = max((PAD + 28 + len(columns[k]) * (NODE_H + GAP_Y) for k in used), default=PAD + 28)
    edges = []
    for edge in graph.edges:
        if edge.source not in position or edge.target not in position:
            continue
        (x1, y1), (x2, y2) = position[edge.source], position[edge.target]
        start, end = (x1 + NODE_W, y1 + NODE_H / 2), (x2, y2 + NODE_H / 2)
        bend = max(GAP_X / 2, (end[0] - start[0]) / 2)
        edges.append(
            {
                "path": f"M{start[0]:.0f},{start[1]:.0f} C{start[0] + bend:.0f},{start[1]:.0f} "
                f"{end[0] - bend:.0f},{end[1]:.0f} {end[0]:.0f},{end[1]:.0f}",
                "relation": edge.relation,
                "current": edge.current,
                "label_x": (start[0] + end[0]) / 2,
                "label_y": (start[1] + end[1]) / 2 - 4,
            }
        )
    return {
        "width": PAD * 2 + len(used) * NODE_W + max(0, len(used) - 1) * GAP_X,
        "height": height + PAD,
        "headers": [
            {"x": PAD + i * (NODE_W + GAP_X) + NODE_W / 2, "title": TITLES[k]}
            for i, k in enumerate(used)
        ],
        "position": position,
        "edges": edges,
    }


def _barycentre(
    key: str, neighbours: dict[str, list[str]], position: dict[str, tuple[float, float]]
) -> float:
    ys = [position[n][1] for n in neighbours[key] if n in position]
    return sum(ys) / len(ys) if ys else float("inf")


def _short(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


@router.get("/lineage", response_class=HTMLResponse, name="ui-lineage")
def lineage_page(
    request: Request, node: str = "", direction: str = "both", depth: int = 4
) -> HTMLResponse:
    """Return the lineage graph around ``node``, or a form to name one."""
    way: Literal["upstream", "downstream", "both"] = (
        "upstream"
        if direction == "upstream"
        else "downstream"
        if direction == "downstream"
        else "both"
    )
    depth = min(max(depth, 1), 10)
    crumbs: list[tuple[str, str | None]] = [("Lineage", None)]
    context: dict[str, Any] = {
        "section": "lineage",
        "node": node,
        "direction": way,
        "directions": DIRECTIONS,
        "depth": depth,
        "crumbs": crumbs,
    }
    if not node:
        return render(request, "lineage.html", "Lineage", **context)
    try:
        graph = backend_of(request).get_lineage(node, direction=way, depth=depth)
    except StewardError as exc:
        return render(
            request,
            "lineage.html",
            "Lineage",
            problem=exc.message,
            status_code=exc.http_status,
            **context,
        )
    drawn = layout(graph)
    nodes = [
        {
            "node": n,
            "x": drawn["position"][n.key][0],
            "y": drawn["position"][n.key][1],
            "fill": COLOURS[n.kind],
            "label": _short(n.label),
            "kind": TITLES[n.kind],
            "page": page_url(request, n),
            "centre": lineage_url(request, node_spec(n)),
            "root": n.key == graph.root,
        }
        for n in graph.nodes
    ]
    order = {kind: i for i, kind in enumerate(COLUMNS)}
    links = sorted(
        graph.edges,
        key=lambda e: (order[graph.node(e.source).kind], graph.node(e.source).label, e.target),
    )
    root = graph.node(graph.root)
    crumbs[0] = ("Lineage", str(request.url_for("ui-lineage")))
    crumbs.append((root.label, None))
    return render(
        request,
        "lineage.html",
        f"Lineage · {root.label}",
        heading=f"Lineage — {TITLES[root.kind].lower()} {root.label}",
        graph=graph,
        root=root,
        drawn=drawn,
        nodes=nodes,
        links=links,
        box={"w": NODE_W, "h": NODE_H},
        **context,
    )
