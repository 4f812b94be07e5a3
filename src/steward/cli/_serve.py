"""`steward serve`: a model as a REST service (Steward's JSON and the Open Inference Protocol v2)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from steward.cli._output import note, stdout


def serve(
    target: Annotated[
        str | None,
        typer.Argument(
            metavar="[MODEL]",
            help="`models:/churn@champion`, `models:/churn/3`, `runs:/<id>/model`, or a model "
            "package folder. Omit it with `--deployment`.",
        ),
    ] = None,
    deployment: Annotated[
        str | None,
        typer.Option("--deployment", "-d", help="Serve this deployment (any traffic policy)."),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(help="The deployment's name when serving a MODEL (default: the model's)."),
    ] = None,
    host: Annotated[
        str, typer.Option(help="The interface to listen on; `0.0.0.0` for every one.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="The TCP port.")] = 8080,
    max_memory: Annotated[
        str | None,
        typer.Option(
            "--max-memory",
            metavar="SIZE",
            help="Cap the process's memory (e.g. `1G`, `512M`): an OS limit on its heap.",
        ),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(
            "--batch-size",
            min=1,
            help="Micro-batching: score up to this many concurrent rows in one model call "
            "(default: the deployment's setting; 1 is off).",
        ),
    ] = None,
    batch_wait_ms: Annotated[
        float | None,
        typer.Option("--batch-wait-ms", min=0, help="Micro-batching: longest wait for a batch."),
    ] = None,
    log_dir: Annotated[
        str | None,
        typer.Option(
            "--log-dir",
            metavar="URI",
            help="Folder or fsspec URL of the prediction log (default: the deployment's, "
            "under STEWARD_HOME/deployments/NAME).",
        ),
    ] = None,
    poll: Annotated[
        float,
        typer.Option(min=0.05, help="Seconds between looks at the deployment for a new revision."),
    ] = 1.0,
    log_level: Annotated[
        str, typer.Option(help="uvicorn's log level: `warning`, `info` (each request)...")
    ] = "warning",
) -> None:
    """Serve a model over HTTP: `POST /predict`, the Open Inference Protocol v2, `/feedback`,
    `/metrics` (Prometheus), `/docs`.

    Serving a registered model creates (or updates) the deployment of that name in the
    store, and the server follows it: `steward deploy set-model NAME URI` makes it load
    and warm the new version beside the old, then switch atomically. Every request and
    response is written to the deployment's prediction log (Parquet). A package folder
    is served with no store at all (what a container does).

    Example:

    ```
    steward serve models:/churn@champion --port 8080
    curl -s localhost:8080/predict -H 'Content-Type: application/json' \\
        -d '{"records": [{"tenure": 3, "plan": "basic"}]}'
    ```
    """
    # Imported here, not at the top: the web stack is not needed for `steward --help`.
    from steward.serve import prepare_server, run_server

    prepared = prepare_server(
        target,
        deployment=deployment,
        name=name,
        max_memory=max_memory,
        batch_size=batch_size,
        batch_wait_ms=batch_wait_ms,
        log_uri=log_dir,
        poll_seconds=poll,
    )
    console = stdout()
    for line in prepared.notes:
        note(line)
    state = prepared.state
    url = f"http://{host}:{port}"
    console.print(
        Text.assemble(
            ("Serving ", "bold"),
            (state.name, "bold cyan"),
            f" at {url}  (POST /predict, /v2/models/{state.name}/infer; docs at {url}/docs)",
        )
    )
    run_server(prepared, host=host, port=port, log_level=log_level)
