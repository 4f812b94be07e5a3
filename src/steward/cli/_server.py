"""`steward server`: the team server (HTTP API and its docs) over a store, run by uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from steward._version import __version__
from steward.cli._output import fields_grid, stdout
from steward.config import load_settings


def serve(
    host: Annotated[
        str,
        typer.Option(
            "--host", metavar="HOST", help="The interface to listen on; `0.0.0.0` for every one."
        ),
    ] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option("--port", metavar="PORT", min=1, max=65535, help="The TCP port to listen on."),
    ] = 5000,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            metavar="URI",
            help="The metadata store's database URL (default: `STEWARD_STORE_URI`, else SQLite in `STEWARD_HOME`).",
        ),
    ] = None,
    artifacts: Annotated[
        str | None,
        typer.Option(
            "--artifacts",
            metavar="URI",
            help="The artifact folder or fsspec URL such as `s3://bucket/prefix` (default: `STEWARD_ARTIFACT_URI`).",
        ),
    ] = None,
    require_auth: Annotated[
        bool,
        typer.Option(
            "--require-auth",
            help="Refuse unauthenticated callers even before any user exists (users are "
            "added with `steward users add`; once one exists, authentication is on anyway).",
        ),
    ] = False,
) -> None:
    """Run the team server: the HTTP API over a store, for clients with `STEWARD_URI` set.

    The interactive API documentation is served at `/docs`.

    Example:

    ```
    steward server --host 0.0.0.0 --port 5000 \\
        --store postgresql+psycopg://steward@db:5432/steward \\
        --artifacts s3://ml-artifacts/steward
    ```
    """
    import uvicorn

    from steward._backend import SqlBackend
    from steward.server import create_app

    settings = load_settings()
    backend = SqlBackend.open(store or settings.store_uri, artifacts or settings.artifact_uri)
    try:
        application = create_app(backend, require_auth=require_auth)
        base = f"http://{f'[{host}]' if ':' in host else host}:{port}"
        console = stdout()
        console.print(Text.assemble(("Steward server ", "bold"), __version__))
        console.print(
            fields_grid(
                [
                    ("API", Text(base, style="cyan")),
                    ("web UI", Text(f"{base}/ui/", style="cyan")),
                    ("API docs", Text(f"{base}/docs", style="cyan")),
                    ("store", backend.location),
                    ("artifacts", artifacts or settings.artifact_uri),
                    ("clients", f"export STEWARD_URI={base}"),
                    (
                        "authentication",
                        "required: callers send STEWARD_TOKEN"
                        if require_auth or backend.count_users()
                        else "off until a user exists (`steward users add`)",
                    ),
                ]
            )
        )
        uvicorn.run(application, host=host, port=port, log_level="info")
    finally:
        backend.close()


def ui(
    port: Annotated[
        int,
        typer.Option(
            "--port", metavar="PORT", min=0, max=65535, help="Port on 127.0.0.1 (0: any free one)."
        ),
    ] = 0,
    browser: Annotated[
        bool, typer.Option("--browser/--no-browser", help="Open the UI in the default web browser.")
    ] = True,
) -> None:
    """Open the web UI over the local store (runs, datasets, models), on 127.0.0.1 only.

    Example:

    ```
    steward ui              # after `make demo`: the demo's runs, datasets and models
    ```
    """
    import socket
    import threading
    import webbrowser

    import uvicorn

    from steward._backend import SqlBackend
    from steward.server import create_app

    settings = load_settings()
    if port == 0:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
    backend = SqlBackend.open(settings.store_uri, settings.artifact_uri)
    try:
        application = create_app(backend)
        application.state.ui_user = settings.user
        url = f"http://127.0.0.1:{port}/ui/"
        stdout().print(
            Text.assemble(("Steward UI ", "bold"), Text(url, style="cyan"), "  (Ctrl+C to stop)")
        )
        stdout().print(
            fields_grid([("store", backend.location), ("artifacts", settings.artifact_uri)])
        )
        if browser:
            threading.Timer(1.0, webbrowser.open, args=(url,)).start()
        uvicorn.run(application, host="127.0.0.1", port=port, log_level="warning")
    finally:
        backend.close()
