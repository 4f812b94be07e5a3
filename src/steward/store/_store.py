"""The store: the one write path, with the event seam every change goes through."""

from __future__ import annotations

import contextvars
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection

from steward.config import default_user
from steward.errors import StewardError
from steward.store._chain import append_events, redact
from steward.store._engine import create_store_engine, migrate

#: Who is acting. Local mode: STEWARD_USER or the OS user; the server sets it per request.
current_actor: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "steward_actor", default=None
)


def actor() -> str:
    """Return the name of whoever is making the current change."""
    return current_actor.get() or default_user()


@dataclass(frozen=True)
class Event:
    """One change to the store: who did what to which entity, and its details."""

    time: float
    actor: str
    action: str
    entity_type: str
    entity_id: str
    payload: dict[str, Any]


EventListener = Callable[[Connection, Event], None]
_listeners: list[EventListener] = []


def add_event_listener(listener: EventListener) -> None:
    """Call ``listener(conn, event)`` inside the transaction of every future change.

    This is the seam later stages use (the audit chain, the lineage graph): a listener
    runs in the writer's transaction, so what it writes commits or rolls back with it.
    """
    if listener not in _listeners:
        _listeners.append(listener)


@dataclass
class Transaction:
    """A write transaction; every change made in it is recorded with :meth:`emit`."""

    conn: Connection
    actor: str
    now: float = field(default_factory=time.time)
    emitted: list[Event] = field(default_factory=list)

    def emit(self, action: str, entity_type: str, entity_id: str, **payload: Any) -> Event:
        """Record an event for a change made in this transaction and return it.

        The event is appended to the audit chain when the transaction commits (with the
        others it emitted, in order), so a rolled-back change leaves no event. Values of
        secret-named keys (password, token, api_key...) and credentials in URLs are
        replaced by "[redacted]": the audit log keeps what it is given forever.
        """
        evt = Event(
            time=self.now,
            actor=self.actor,
            action=action,
            entity_type=entity_type,
            entity_id=str(entity_id),
            payload=redact(json.loads(json.dumps(payload, default=str))),
        )
        for listener in _listeners:
            listener(self.conn, evt)
        self.emitted.append(evt)
        return evt


class Store:
    """A metadata store at a database URL, migrated on open."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.engine: Engine = create_store_engine(uri)
        migrate(self.engine)

    @property
    def dialect(self) -> str:
        """Return the database dialect name: 'sqlite' or 'postgresql'."""
        return self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """Yield a connection for reading."""
        with self.engine.connect() as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Transaction]:
        """Yield a write transaction that commits on success and rolls back on error."""
        options = {"sqlite_begin": "IMMEDIATE"} if self.dialect == "sqlite" else {}
        with self.engine.connect().execution_options(**options) as conn, conn.begin():
            tx = Transaction(conn=conn, actor=actor())
            yield tx
            if not tx.emitted:
                raise StewardError(
                    "Internal error: a write transaction recorded no event. Every change must "
                    "go through Transaction.emit; please report this."
                )
            append_events(conn, tx.emitted)

    def check_integrity(self) -> list[str]:
        """Return a list of integrity problems found in the database (empty when sound)."""
        problems: list[str] = []
        with self.read() as conn:
            if self.dialect == "sqlite":
                for (row,) in conn.execute(text("PRAGMA integrity_check")):
                    if row != "ok":
                        problems.append(str(row))
                for row in conn.execute(text("PRAGMA foreign_key_check")):
                    problems.append(f"foreign key violation: {tuple(row)}")
            else:
                conn.execute(text("SELECT 1"))
        return problems

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
