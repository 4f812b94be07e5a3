"""The full view of one run that `steward runs show` prints."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from steward.cli._output import (
    MISSING,
    fields_grid,
    format_duration,
    format_size,
    format_time,
    format_value,
    indented,
    new_table,
    section,
    status_text,
)
from steward.develop import Artifact, Environment, Run

ERROR_LINES = 15


def render_run(
    console: Console, run: Run, artifacts: Sequence[Artifact], environment: Environment | None
) -> None:
    """Print every section of a run: attributes, params, metrics, tags, inputs, artifacts, environment."""
    console.print(Text.assemble(("Run ", "bold"), (run.name, "bold cyan"), ("  " + run.id, "dim")))
    console.print(indented(_attributes(run)))
    section(console, "Params", _key_values(run.params) if run.params else None)
    section(console, "Metrics", _metrics(run) if run.metrics else None)
    section(console, "Tags", _key_values(run.tags) if run.tags else None)
    section(console, "Inputs", _inputs(run) if run.inputs else None)
    section(console, "Artifacts", _artifacts(artifacts) if artifacts else None)
    section(console, "Code and environment", _environment(run, environment))
    if run.error:
        lines = run.error.rstrip().splitlines()[-ERROR_LINES:]
        section(console, f"Error (last {len(lines)} lines)", Text("\n".join(lines), style="red"))


def _attributes(run: Run) -> Table:
    parent = run.parent_run_id
    return fields_grid(
        [
            ("project", run.project),
            ("experiment", run.experiment),
            ("status", status_text(run.status)),
            ("user", run.user),
            ("started", format_time(run.start_time)),
            (
                "ended",
                format_time(run.end_time)
                if run.end_time
                else Text("still running", style="italic"),
            ),
            ("duration", format_duration(run.start_time, run.end_time)),
            ("parent run", parent),
        ]
    )


def _key_values(values: dict[str, str]) -> Table:
    return fields_grid([(key, values[key]) for key in sorted(values)])


def _metrics(run: Run) -> Table:
    table = new_table()
    table.add_column("metric")
    for name in ("latest", "step", "min", "max", "count"):
        table.add_column(name, justify="right")
    for key in sorted(run.metrics):
        m = run.metrics[key]
        table.add_row(
            Text(key), *(Text(format_value(v)) for v in (m.value, m.step, m.min, m.max, m.count))
        )
    return table


def _inputs(run: Run) -> Table:
    table = new_table()
    for name in ("dataset", "version", "context"):
        table.add_column(name)
    for item in run.inputs:
        table.add_row(Text(item.dataset), Text(str(item.version)), Text(item.context))
    return table


def _artifacts(artifacts: Sequence[Artifact]) -> Table:
    table = new_table()
    table.add_column("path", overflow="fold")
    table.add_column("size", justify="right")
    table.add_column("sha256", style="dim")
    for art in artifacts:
        table.add_row(Text(art.path), Text(format_size(art.size)), Text(art.sha256[:12]))
    return table


def _environment(run: Run, environment: Environment | None) -> Table:
    context = run.context
    git = context.get("git") or {}
    command = context.get("command")
    rows: list[tuple[str, Any]] = []
    if environment is not None:
        rows += [
            ("python", environment.python),
            ("platform", environment.platform),
            ("packages", f"{len(environment.packages)} recorded (--json lists them)"),
        ]
    else:
        rows.append(("environment", Text("not captured", style="dim")))
    if git:
        commit = git.get("commit") or MISSING
        dirty = git.get("dirty")
        state = Text(str(commit))
        if git.get("branch"):
            state.append(f" on {git['branch']}")
        if dirty:
            state.append("  (dirty: uncommitted changes)", style="yellow")
        elif dirty is False:
            state.append("  (clean)", style="green")
        rows += [("git commit", state), ("git remote", git.get("remote"))]
    else:
        rows.append(("git", Text("no repository recorded", style="dim")))
    rows += [
        (
            "command",
            shlex.join(str(part) for part in command) if isinstance(command, list) else command,
        ),
        ("directory", context.get("cwd")),
        ("host", context.get("hostname")),
        ("seed", context.get("seed")),
    ]
    return fields_grid(rows)
