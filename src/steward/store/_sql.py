"""Small dialect bridges, so stage code stays the same on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Table, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection


def upsert(conn: Connection, table: Table) -> Any:
    """Return an INSERT for ``table`` that supports ``on_conflict_do_*`` on this dialect."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def least(conn: Connection, a: Any, b: Any) -> ColumnElement[Any]:
    """Return the SQL for the smaller of two values."""
    return func.least(a, b) if conn.dialect.name == "postgresql" else func.min(a, b)


def greatest(conn: Connection, a: Any, b: Any) -> ColumnElement[Any]:
    """Return the SQL for the larger of two values."""
    return func.greatest(a, b) if conn.dialect.name == "postgresql" else func.max(a, b)
