"""`steward retrain` and `steward retraining set | show | runs | report`: the validated
retraining pipeline, its config and its runs."""

from __future__ import annotations

import webbrowser
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from steward.cli._output import (
    format_duration,
    format_time,
    new_table,
    note,
    print_json,
    stdout,
)

app = typer.Typer(
    name="retraining",
    help="A project's retraining: declare it once (the model, the training function, the "
    "label column, the evaluation dataset, the bounds for automatic promotion), then list "
    "its runs and read their reports. `steward retrain PROJECT --data FILE` runs it.",
    no_args_is_help=True,
)

STATUS_STYLE = {
    "promoted": "bold green",
    "review": "bold yellow",
    "stopped": "bold red",
    "failed": "bold red",
    "running": "cyan",
    "passed": "green",
    "flagged": "yellow",
}


def retrain(
    project: Annotated[str, typer.Argument(help="The project whose retraining config to run.")],
    data: Annotated[
        str | None,
        typer.Option(
            help="The new training data: a file (.parquet, .csv) or a dataset name (sales@7). "
            "Default: the config's 'data'."
        ),
    ] = None,
    when_drifted: Annotated[
        bool,
        typer.Option(
            "--when-drifted",
            help="Run only if the monitor raised a drift alert on the deployment since the "
            "last retraining that trained a challenger (for cron or CI, after `steward "
            "monitor run`).",
        ),
    ] = False,
    schedule: Annotated[
        bool,
        typer.Option(help="Record the run as scheduled (from cron or CI) rather than manual."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run as JSON.")] = False,
) -> None:
    """Retrain a project's model on new data: validate the data against the champion's
    training data (schema, completeness, ranges, categories, drift, overlap with the
    evaluation set), train a challenger as a tracked run, compare it with the champion on
    the same evaluation dataset version, then promote it (if the data passed, the
    difference is within the config's bounds and the policy allows) or ask for a review
    with the report attached. Exits 1 when the run stopped or failed.

    Example:

    ```
    steward retrain churn --data march.parquet
    steward monitor run churn && steward retrain churn --when-drifted   # cron
    ```
    """
    from steward.iterate import retrain as run_pipeline
    from steward.iterate import retrain_if_drifted

    console = stdout()
    with console.status("Retraining...") as status:
        if when_drifted:
            alerts, outcome = retrain_if_drifted(project, data, progress=status.update)
            if outcome is None:
                note(f"No open drift alert since {project}'s last retraining: nothing to do.")
                return
            console.print(
                f"{len(alerts)} drift alert(s) since the last run: "
                + "; ".join(a.message for a in alerts[:3])
            )
        else:
            outcome = run_pipeline(
                project,
                data,
                trigger="schedule" if schedule else "manual",
                progress=status.update,
            )
    run = outcome.run
    if as_json:
        print_json(run.model_dump(mode="json"))
    else:
        _print_run(run)
        note(f"Report: steward retraining report {run.id} --open")
    if run.status in ("stopped", "failed"):
        raise typer.Exit(1)


def _print_run(run: object) -> None:
    from steward.iterate import Retraining

    assert isinstance(run, Retraining)
    console = stdout()
    title = Text.assemble(
        f"Retraining #{run.id} of {run.model}: ",
        (run.status, STATUS_STYLE.get(run.status, "")),
    )
    table = new_table(title=title)
    for column in ("step", "result", "seconds", "summary"):
        table.add_column(column, overflow="fold")
    for step in run.steps:
        table.add_row(
            step.step,
            Text(step.status, STATUS_STYLE.get(step.status, "")),
            f"{step.seconds:.1f}",
            step.summary,
        )
    console.print(table)
    parts = [f"data {run.data}", f"champion {run.champion}"]
    if run.challenger:
        parts.append(f"challenger {run.challenger}")
    console.print("; ".join(parts))


@app.command("set")
def set_config(
    project: Annotated[str, typer.Argument(help="The project.")],
    file: Annotated[Path, typer.Argument(help="The retraining config (YAML).")],
) -> None:
    """Declare how a project retrains its model (once; again to change it). The config:

    ```
    model: churn                    # the registered model retrained
    train: train:fit                # module:function, called as fit(X, y) -> fitted model
    target: churned                 # the label column
    evaluation: churn-holdout@3     # both models scored here (default: the champion's)
    promotion: {max_drop: 0.005, min_agreement: 0.9}
    ```

    Other keys: path, champion_alias, promote_to, dataset, append_previous, data,
    deployment, segments, checks (max_missing_increase, max_out_of_range,
    max_share_drifted, new_categories, min_rows), promotion (automatic, max_drop,
    min_agreement, require_improvement). See docs/iterate.md.

    Example:

    ```
    steward retraining set churn retrain.yaml
    ```
    """
    from steward.iterate import set_retraining

    stored = set_retraining(project, file)
    stdout().print(f"Stored {project}'s retraining: {stored.model} trained by {stored.train}.")


@app.command("show")
def show(
    project: Annotated[str, typer.Argument(help="The project.")],
) -> None:
    """Print a project's retraining config (every key, defaults included), as YAML.

    Example:

    ```
    steward retraining show churn
    ```
    """
    import yaml

    from steward.iterate import get_retraining_config

    config = get_retraining_config(project)
    stdout().print(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False).rstrip())


@app.command("runs")
def runs(
    project: Annotated[str | None, typer.Argument(help="The project (default: all).")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print the runs as JSON.")] = False,
) -> None:
    """List retraining runs, newest first, with the step that stopped them.

    Example:

    ```
    steward retraining runs churn
    ```
    """
    from steward.iterate import list_retrainings

    found = list_retrainings(project, limit=limit)
    if as_json:
        print_json([r.model_dump(mode="json") for r in found])
        return
    if not found:
        note("No retraining runs yet: `steward retrain PROJECT --data FILE` starts one.")
        return
    table = new_table()
    for column in ("id", "project", "started", "took", "trigger", "outcome", "stopped at"):
        table.add_column(column)
    table.add_column("challenger", overflow="fold")
    for r in found:
        table.add_row(
            str(r.id),
            r.project,
            format_time(r.started_at),
            format_duration(r.started_at, r.finished_at),
            r.trigger,
            Text(r.status, STATUS_STYLE.get(r.status, "")),
            r.stopped_at or "",
            r.challenger or "",
        )
    stdout().print(table)


@app.command("report")
def report(
    retraining_id: Annotated[int, typer.Argument(help="The run's id (`steward retraining runs`).")],
    out: Annotated[
        Path | None, typer.Option(help="Write the HTML report here (default: a temp file).")
    ] = None,
    open_: Annotated[bool, typer.Option("--open", help="Open it in the browser.")] = False,
) -> None:
    """Write a retraining run's report: each step, the new-data checks with their plots, and
    the comparison of challenger and champion with paired intervals.

    Example:

    ```
    steward retraining report 12 --open
    ```
    """
    import tempfile

    from steward.iterate import get_retraining, retraining_report

    run = get_retraining(retraining_id)
    _print_run(run)
    html = retraining_report(retraining_id)
    target = out or Path(tempfile.gettempdir()) / f"steward-retraining-{retraining_id}.html"
    target.write_text(html, encoding="utf-8")
    stdout().print(f"Report: {target}")
    if open_:
        webbrowser.open(target.resolve().as_uri())
