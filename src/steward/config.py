"""Settings read from ``STEWARD_*`` environment variables, and where things live.

``STEWARD_HOME``          folder for the default store and artifacts (``~/.steward``)
``STEWARD_STORE_URI``     SQLAlchemy URL of the metadata store (default: SQLite in home)
``STEWARD_ARTIFACT_URI``  folder or fsspec URL (``s3://bucket/prefix``) for artifacts
``STEWARD_URI``           URL of a team server; when set, the API talks to it over HTTP
``STEWARD_USER``          the actor recorded with every change (default: the OS user)
``STEWARD_ASYNC_LOGGING`` ``0`` to write every metric synchronously (default ``1``)
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    """The resolved settings of this process."""

    home: Path
    store_uri: str
    artifact_uri: str
    server_uri: str | None
    user: str
    async_logging: bool


def default_user() -> str:
    """Return the actor name: ``STEWARD_USER``, else the OS login name."""
    user = os.environ.get("STEWARD_USER")
    if user:
        return user
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return "unknown"


def load_settings() -> Settings:
    """Return settings read from the environment right now."""
    home = Path(os.environ.get("STEWARD_HOME") or Path.home() / ".steward").expanduser()
    store_uri = os.environ.get("STEWARD_STORE_URI") or f"sqlite:///{home / 'steward.db'}"
    artifact_uri = os.environ.get("STEWARD_ARTIFACT_URI") or str(home / "artifacts")
    server_uri = os.environ.get("STEWARD_URI") or None
    async_logging = os.environ.get("STEWARD_ASYNC_LOGGING", "1").lower() not in {"0", "false", "no"}
    return Settings(
        home=home,
        store_uri=store_uri,
        artifact_uri=artifact_uri,
        server_uri=server_uri.rstrip("/") if server_uri else None,
        user=default_user(),
        async_logging=async_logging,
    )
