"""The `steward` command line: runs, datasets, models, the team server and store checks.

Each command group lives in its own private module (``_runs``, ``_datasets``, ``_server``,
``_store``); ``_app`` assembles them. Commands call the public API, so the CLI works the
same on the local store and against a team server (``STEWARD_URI``).
"""

from steward.cli._app import app, main

__all__ = ["app", "main"]
