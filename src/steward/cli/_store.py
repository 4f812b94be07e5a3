"""`steward store`: checks of the metadata store itself."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from steward.cli._output import note, stdout
from steward.config import load_settings
from steward.errors import IntegrityError, NotFound
from steward.store import Store

app = typer.Typer(
    name="store",
    help="Check the metadata store.",
    rich_markup_mode="markdown",
    no_args_is_help=True,
)


@app.command("check")
def check(
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            metavar="URI",
            help="The database URL to check (default: `STEWARD_STORE_URI`, else SQLite in `STEWARD_HOME`).",
        ),
    ] = None,
) -> None:
    """Check the store's database for corruption and broken references; exit 7 if any.

    Example:

    ```
    steward store check --store sqlite:///$HOME/.steward/steward.db
    ```
    """
    settings = load_settings()
    uri = store or settings.store_uri
    if store is None and settings.server_uri:
        note(
            f"STEWARD_URI is set: this checks the local store, not the server's at {settings.server_uri}.",
            style="yellow",
        )
    _require_sqlite_file(uri)
    opened = Store(uri)
    try:
        location = opened.engine.url.render_as_string(hide_password=True)
        problems = opened.check_integrity()
    finally:
        opened.dispose()
    console = stdout()
    if not problems:
        console.print(Text.assemble(("✓ ", "bold green"), f"No integrity problems in {location}."))
        return
    console.print(Text(f"{len(problems)} problem(s) in {location}:", style="bold red"))
    for problem in problems:
        console.print(Text(f"  - {problem}"))
    raise IntegrityError(
        f"The store at {location} failed its integrity check ({len(problems)} problem(s), listed above). "
        "Stop writers, copy the database file, then restore it from a backup "
        "(for SQLite, `sqlite3 steward.db .recover` can salvage what is readable)."
    )


def _require_sqlite_file(uri: str) -> None:
    """Refuse to check a SQLite file that does not exist (opening it would create an empty store)."""
    prefix = "sqlite:///"
    if not uri.startswith(prefix):
        return
    database = uri[len(prefix) :].split("?", 1)[0]
    if database and database != ":memory:" and not Path(database).expanduser().exists():
        raise NotFound(
            f"There is no store at {database!r}: the file does not exist. Steward creates it on "
            "first use; check STEWARD_HOME, STEWARD_STORE_URI or --store."
        )
