"""Engines for the two supported databases, and migrations applied on open."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, ProgrammingError

from steward.errors import InvalidInput, StewardError

HEAD_REVISION = "0008"
MIGRATIONS = Path(__file__).parent / "migrations"
_SUPPORTED = ("sqlite", "postgresql")
_migrated: set[str] = set()
_migrate_lock = threading.Lock()


def create_store_engine(uri: str) -> Engine:
    """Return an engine for ``uri``, configured for concurrent writers."""
    try:
        url = make_url(uri)
    except ArgumentError as exc:
        raise InvalidInput(
            f"The store URI {uri!r} is not a database URL. Use 'sqlite:///path/to/steward.db' "
            "or 'postgresql+psycopg://user@host:5432/db'."
        ) from exc
    if url.get_backend_name() not in _SUPPORTED:
        raise InvalidInput(
            f"The store URI {uri!r} names the {url.get_backend_name()!r} database, which Steward "
            "does not support. Use SQLite ('sqlite:///...') or PostgreSQL "
            "('postgresql+psycopg://...')."
        )
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(uri)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def _sqlite_engine(uri: str) -> Engine:
    database = make_url(uri).database
    if database and database != ":memory:":
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(uri, connect_args={"timeout": 60, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transactions into our own hands (see _on_begin), and let several
        # processes write at once: WAL lets readers run beside one writer, and the busy
        # timeout makes a writer wait for the lock instead of failing "database is locked".
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A deferred transaction that reads and then writes cannot wait for the write
        # lock (SQLite answers SQLITE_BUSY at once to avoid deadlock), so writers start
        # with BEGIN IMMEDIATE and take the lock up front, under the busy timeout.
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def migrate(engine: Engine) -> None:
    """Bring the schema to the head revision; a no-op when it is there already."""
    key = str(engine.url)
    if key in _migrated:
        return
    with _migrate_lock:
        if key in _migrated:
            return
        if _current_revision(engine) != HEAD_REVISION:
            _upgrade(engine)
        _migrated.add(key)


def _current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
            return str(row[0]) if row else None
    except (OperationalError, ProgrammingError):
        return None


def _upgrade(engine: Engine) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    options = {"sqlite_begin": "IMMEDIATE"} if engine.dialect.name == "sqlite" else {}
    try:
        with engine.connect().execution_options(**options) as conn, conn.begin():
            if engine.dialect.name == "postgresql":
                # Several processes may open a fresh store at once: one migrates, the
                # others wait here and then find the schema at head.
                conn.execute(text("SELECT pg_advisory_xact_lock(72616)"))
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except OperationalError as exc:
        raise StewardError(
            f"Could not prepare the metadata store at {engine.url.render_as_string()}: "
            f"{exc.orig}. Check that the database is reachable and writable."
        ) from exc
