"""The metadata store: migrations, the event seam, integrity, both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import steward
from steward._backend import SqlBackend
from steward.errors import InvalidInput, StewardError
from steward.store import Store, add_event_listener, metadata
from steward.store import _store as store_module
from steward.store._engine import HEAD_REVISION, _migrated


def test_migrations_create_exactly_the_declared_schema(store_backend: SqlBackend) -> None:
    with store_backend.store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == [], f"migrations and _tables.py disagree: {diff}"


def test_opening_twice_is_safe_and_keeps_data(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 's.db'}"
    backend = SqlBackend.open(uri, str(tmp_path / "a"))
    backend.create_project("kept")
    backend.close()
    _migrated.discard(str(backend.store.engine.url))  # force the migration check again
    again = Store(uri)
    with again.read() as conn:
        assert (
            conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
            == HEAD_REVISION
        )
        assert conn.execute(sa.text("SELECT name FROM projects")).scalars().all() == ["kept"]


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(sqlite_backend: SqlBackend) -> None:
    with sqlite_backend.store.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 30000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_integrity_check_is_clean_on_a_used_store(store_backend: SqlBackend) -> None:
    with steward.start_run():
        steward.log_metric("m", 1.0)
    assert store_backend.store.check_integrity() == []


def test_unsupported_or_malformed_store_uri() -> None:
    with pytest.raises(InvalidInput, match="does not support"):
        Store("mysql://root@127.0.0.1/test")
    with pytest.raises(InvalidInput, match="not a database URL"):
        Store("not a url")


def test_a_write_that_records_no_event_is_refused(sqlite_backend: SqlBackend) -> None:
    with pytest.raises(StewardError, match="recorded no event"), sqlite_backend.store.write() as tx:
        tx.conn.execute(sa.text("UPDATE projects SET description = 'x'"))


def test_event_listeners_run_inside_the_writing_transaction(store_backend: SqlBackend) -> None:
    seen: list[str] = []

    def listener(conn: sa.Connection, event: store_module.Event) -> None:
        seen.append(f"{event.action}:{event.actor}")
        assert conn.in_transaction()

    add_event_listener(listener)
    try:
        store_backend.create_project("watched")
    finally:
        store_module._listeners.remove(listener)
    assert seen == ["project.created:tester"]


def test_events_roll_back_with_a_failed_change(store_backend: SqlBackend) -> None:
    before = len(store_backend.list_events())
    with steward.start_run() as run:
        steward.log_param("p", 1)
        with pytest.raises(steward.StewardError):
            steward.log_param("p", 2)
    actions = [e.action for e in store_backend.list_events()[before:]]
    assert actions.count("run.logged") == 1  # the refused change left no event
    assert store_backend.get_run(run.id).params == {"p": "1"}
