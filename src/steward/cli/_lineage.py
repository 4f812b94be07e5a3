"""`steward lineage`: what a record came from and what depends on it; OpenLineage export."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.text import Text
from rich.tree import Tree

from steward import govern
from steward.cli._audit import parse_time
from steward.cli._output import format_time, new_table, note, print_json, section, stdout
from steward.develop import retention_deadline
from steward.errors import InvalidInput
from steward.store import redact

app = typer.Typer(
    name="lineage",
    help="Lineage: dataset version → run → model version → deployment → prediction log.",
    rich_markup_mode="markdown",
    no_args_is_help=True,
)

Node = Annotated[
    str,
    typer.Argument(
        metavar="NODE",
        help="dataset:NAME[@VERSION], run:RUN_ID, model:NAME/VERSION (or @ALIAS), "
        "deployment:NAME or predictions:DEPLOYMENT.",
    ),
]
KIND_NAMES = {
    "dataset": "dataset",
    "dataset_version": "dataset version",
    "run": "run",
    "model_version": "model version",
    "deployment": "deployment",
    "prediction_log": "prediction log",
}
KIND_STYLES = {
    "dataset": "cyan",
    "dataset_version": "cyan",
    "run": "yellow",
    "model_version": "magenta",
    "deployment": "green",
    "prediction_log": "green",
}


def _label(node: govern.LineageNode, relation: str = "") -> Text:
    text = Text.assemble(
        (f"{KIND_NAMES[node.kind]} ", "dim"), (node.label, f"bold {KIND_STYLES[node.kind]}")
    )
    if node.kind == "run" and node.label != node.ref:
        text.append(f" {node.ref[:8]}", style="dim")
    if relation:
        text.append(f"  ({relation})", style="dim")
    if node.missing:
        text.append("  record gone", style="red")
    elif node.details.get("deleted"):
        text.append("  deleted", style="red")
    return text


def _tree(graph: govern.LineageGraph, *, down: bool) -> Tree:
    root = graph.node(graph.root)
    tree = Tree(_label(root))
    seen = {graph.root}

    def grow(branch: Tree, key: str) -> None:
        for edge in graph.edges:
            near, far = (edge.source, edge.target) if down else (edge.target, edge.source)
            if near != key or far in seen:
                continue
            seen.add(far)
            relation = edge.relation
            if edge.current is not None:
                relation += ", serving now" if edge.current else ", served before"
            grow(branch.add(_label(graph.node(far), relation)), far)

    grow(tree, graph.root)
    return tree


@app.command("show")
def show(
    node: Node,
    up: Annotated[bool, typer.Option("--up", help="Only what it came from.")] = False,
    down: Annotated[bool, typer.Option("--down", help="Only what depends on it.")] = False,
    depth: Annotated[int, typer.Option("--depth", min=1, max=20, help="Links to follow.")] = 4,
    as_json: Annotated[bool, typer.Option("--json", help="Print the graph as JSON.")] = False,
) -> None:
    """Show the lineage around a record: upstream (what it came from) and downstream (what uses it).

    Example:

    ```
    steward lineage show model:churn@champion --up
    ```
    """
    if up and down:
        raise InvalidInput("--up and --down exclude each other; give neither to see both ways.")
    direction: Literal["upstream", "downstream", "both"] = (
        "upstream" if up else "downstream" if down else "both"
    )
    graph = govern.lineage(node, direction=direction, depth=depth)
    if as_json:
        print_json(graph)
        return
    console = stdout()
    if direction in ("upstream", "both"):
        section(console, "Upstream (what it came from)", _tree(graph, down=False))
    if direction in ("downstream", "both"):
        section(console, "Downstream (what depends on it)", _tree(graph, down=True))
    if graph.truncated:
        note("The graph was cut at 500 records; narrow it with --depth.", style="yellow")


@app.command("impact")
def impact(
    spec: Annotated[
        str,
        typer.Argument(
            metavar="DATASET[@VERSION]",
            help="A dataset (every version) or one version, as in credit@3.",
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """List everything downstream of a dataset: runs, model versions, deployments, prediction logs.

    The answer to an erasure request ("which models were trained on this data?"), with
    each version's terms of use and retention.

    Example:

    ```
    steward lineage impact credit@3
    ```
    """
    name, _, version_text = spec.partition("@")
    version = (
        int(version_text.removeprefix("v")) if version_text.removeprefix("v").isdigit() else None
    )
    if version_text and version is None:
        raise InvalidInput(
            f"The version in {spec!r} must be a number, as in {name}@2; got {version_text!r}."
        )
    graph = govern.impact(name, version)
    groups = {kind: graph.of_kind(kind) for kind in KIND_NAMES}
    if graph.node(graph.root).kind == "dataset_version":
        groups["dataset_version"] = [graph.node(graph.root)]
    if as_json:
        print_json(
            {
                "dataset": spec,
                **{
                    f"{kind}s": [n.model_dump(mode="json") for n in nodes]
                    for kind, nodes in groups.items()
                    if kind != "dataset"
                },
                "edges": [e.model_dump(mode="json") for e in graph.edges],
            }
        )
        return
    console = stdout()
    console.print(Text.assemble(("Impact of ", "bold"), (spec, "bold cyan")))
    section(console, "Dataset versions", _versions(groups["dataset_version"]))
    section(console, "Runs that read them", _runs(groups["run"]))
    section(console, "Model versions trained on them", _models(groups["model_version"]))
    section(console, "Deployments serving those models", _deployments(groups["deployment"], graph))
    logs = groups["prediction_log"]
    section(
        console,
        "Prediction logs",
        _table(("deployment", "location"), [[n.ref, n.details.get("location", "")] for n in logs]),
    )
    if not groups["model_version"] and not groups["run"]:
        note("Nothing downstream: no run recorded reading this data (steward.log_input).")


def _table(columns: tuple[str, ...], rows: list[list[Any]]) -> Any:
    if not rows:
        return None
    table = new_table()
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(cell if isinstance(cell, Text) else Text(str(cell)) for cell in row))
    return table


def _versions(nodes: list[govern.LineageNode]) -> Any:
    rows = []
    for n in nodes:
        retention = n.details.get("retention") or ""
        deadline = retention_deadline(retention, n.details["created_at"]) if retention else None
        due = Text("")
        if deadline is not None:
            late = deadline < dt.datetime.now(dt.UTC).date()
            due = Text(
                f"{deadline.isoformat()}{' (overdue)' if late else ''}", "bold red" if late else ""
            )
        rows.append(
            [
                n.label,
                f"{n.details.get('rows', 0):,}",
                n.details.get("terms_of_use") or "—",
                retention or "—",
                due,
                ", ".join(n.details.get("sensitive_columns") or []) or "—",
            ]
        )
    return _table(("version", "rows", "terms of use", "retention", "delete by", "sensitive"), rows)


def _runs(nodes: list[govern.LineageNode]) -> Any:
    return _table(
        ("run", "name", "project/experiment", "status", "by", "started"),
        [
            [
                n.ref,
                n.label,
                f"{n.details.get('project')}/{n.details.get('experiment')}",
                n.details.get("status", "—"),
                n.details.get("user", "—"),
                format_time(n.details.get("start_time")),
            ]
            for n in nodes
        ],
    )


def _models(nodes: list[govern.LineageNode]) -> Any:
    return _table(
        ("model version", "aliases", "state", "registered"),
        [
            [
                n.label,
                ", ".join(n.details.get("aliases") or []) or "—",
                "deleted" if n.details.get("deleted") else "registered",
                format_time(n.details.get("created_at")),
            ]
            for n in nodes
        ],
    )


def _deployments(nodes: list[govern.LineageNode], graph: govern.LineageGraph) -> Any:
    rows = []
    for n in nodes:
        served = [
            (graph.node(e.source).label, e.current)
            for e in graph.edges
            if e.target == n.key and e.relation == "served_by"
        ]
        now = [label for label, current in served if current]
        before = [label for label, current in served if not current]
        rows.append([n.label, ", ".join(now) or "—", ", ".join(before) or "—"])
    return _table(("deployment", "serving now", "served before"), rows)


@app.command("export-openlineage")
def export_openlineage(
    runs: Annotated[
        list[str] | None,
        typer.Option(
            "--run", metavar="RUN_ID", help="A run to export; repeat (default: every run)."
        ),
    ] = None,
    start: Annotated[
        str | None, typer.Option("--from", metavar="WHEN", help="Runs started at or after.")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", metavar="WHEN", help="Runs started before.")
    ] = None,
    namespace: Annotated[
        str, typer.Option("--namespace", metavar="NAME", help="The OpenLineage namespace.")
    ] = "steward",
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="FILE", help="Write newline-delimited JSON here."),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            metavar="URL",
            help="Post to this OpenLineage server (Marquez: http://host:5000).",
        ),
    ] = None,
    endpoint: Annotated[
        str, typer.Option("--endpoint", metavar="PATH", help="The server's lineage path.")
    ] = "api/v1/lineage",
    api_key_env: Annotated[
        str,
        typer.Option(
            "--api-key-env",
            metavar="VAR",
            help="The environment variable holding the server's API key, if it needs one "
            "(a key on the command line would land in the shell's history).",
        ),
    ] = "OPENLINEAGE_API_KEY",
) -> None:
    """Export runs as OpenLineage events (START, then COMPLETE/FAIL/ABORT) to a file or a server.

    Inputs are the dataset versions a run read; outputs the model versions it produced.
    Marquez, DataHub and other OpenLineage consumers ingest them.

    Example:

    ```
    steward lineage export-openlineage --from 2026-11-01 --url http://marquez:5000
    ```
    """
    if (output is None) == (url is None):
        raise InvalidInput("Give exactly one destination: --output FILE or --url URL.")
    events = govern.openlineage_events(
        runs or [],
        since=parse_time(start, "--from") if start else None,
        until=parse_time(end, "--to") if end else None,
        namespace=namespace,
    )
    if output is not None:
        count = govern.write_openlineage(events, output)
        stdout().print(f"Wrote {count} OpenLineage event(s) to {output}.")
        return
    assert url is not None
    count = govern.send_openlineage(
        events, url, endpoint=endpoint, api_key=os.environ.get(api_key_env) or None
    )
    where = redact(f"{url.rstrip('/')}/{endpoint.lstrip('/')}")
    stdout().print(f"Sent {count} OpenLineage event(s) to {where}.")
