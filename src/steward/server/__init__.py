"""The team server: the HTTP API over every stage (and, later, the web UI)."""

from steward.server._app import create_app

__all__ = ["create_app"]
