"""The audit chain on the write path: links, redaction, the migration, the append-only trigger
and concurrent writers on both databases."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

import steward
from steward._backend import SqlBackend
from steward.artifacts import ArtifactStore
from steward.govern import verify_audit
from steward.govern._audit import verify_chain
from steward.store import GENESIS, Store, canonical, chain_hash, row_hash, tables
from steward.store._engine import MIGRATIONS, _migrated


def _rows(backend: SqlBackend) -> list[sa.Row]:
    with backend.store.read() as conn:
        return list(conn.execute(sa.select(tables.events).order_by(tables.events.c.id)))


def test_the_hash_is_sha256_of_the_previous_hash_and_the_canonical_content() -> None:
    content = canonical(1.5, "ana", "run.created", "run", "r1", {"b": [1, "é"], "a": None})
    assert content == (
        b'{"action":"run.created","actor":"ana","entity_id":"r1","entity_type":"run",'
        b'"payload":{"a":null,"b":[1,"\\u00e9"]},"time":1.5}'
    )
    assert chain_hash(GENESIS, content) == hashlib.sha256(GENESIS.encode() + content).hexdigest()


def test_every_row_is_chained_to_the_one_before(store_backend: SqlBackend) -> None:
    store_backend.create_project("chained")
    with steward.start_run():
        steward.log_metric("m", 1.0)
        steward.log_param("p", "x")
    rows = _rows(store_backend)
    assert len(rows) >= 4 and rows[0].prev_hash == GENESIS
    for before, row in itertools.pairwise(rows):
        assert row.prev_hash == before.hash
    assert all(row_hash(r.prev_hash, r) == r.hash for r in rows)


def test_a_rolled_back_change_leaves_the_chain_whole(store_backend: SqlBackend) -> None:
    with steward.start_run():
        steward.log_param("p", 1)
        with pytest.raises(steward.StewardError):
            steward.log_param("p", 2)
    assert verify_audit().ok


def test_secrets_never_reach_the_audit_payloads(store_backend: SqlBackend) -> None:
    with store_backend.store.write() as tx:
        tx.emit(
            "login.attempted",
            "user",
            "ana",
            password="hunter2",
            api_key="sk-live-123",
            token="stw_abc",
            token_id=7,
            nested={"client_secret": "s3cr3t", "ok": "kept"},
            store="postgresql+psycopg://steward:pa55word@db:5432/steward",
        )
    payload = _rows(store_backend)[-1].payload
    assert payload["password"] == payload["api_key"] == payload["token"] == "[redacted]"
    assert payload["nested"] == {"client_secret": "[redacted]", "ok": "kept"}
    assert payload["token_id"] == 7
    assert payload["store"] == "postgresql+psycopg://steward:[redacted]@db:5432/steward"
    text = str(_rows(store_backend))
    assert not any(s in text for s in ("hunter2", "sk-live-123", "s3cr3t", "pa55word"))


def _alembic(conn: sa.Connection, action: str, revision: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    getattr(command, action)(cfg, revision)


def test_the_migration_chains_the_events_recorded_before_it(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'old.db'}"
    engine = sa.create_engine(uri)
    with engine.begin() as conn:
        _alembic(conn, "upgrade", "0005")
        for i in range(7):
            conn.execute(
                sa.text(
                    "INSERT INTO events (time, actor, action, entity_type, entity_id, payload) "
                    "VALUES (:t, 'old', 'run.created', 'run', :i, :p)"
                ),
                {"t": 1767225600.25 + i, "i": str(i), "p": json.dumps({"n": i, "x": 0.1})},
            )
    engine.dispose()
    store = Store(uri)  # opening migrates to the head revision
    with store.read() as conn:
        result = verify_chain(conn)
        assert result.ok and result.rows == 7, result.summary
    backend = SqlBackend(store, ArtifactStore(str(tmp_path / "a")))
    backend.create_project("after")  # new rows continue the migrated chain
    with store.read() as conn:
        assert verify_chain(conn).rows == 8 and verify_chain(conn).ok
    store.dispose()
    _migrated.discard(str(store.engine.url))


@pytest.mark.postgres
def test_postgresql_refuses_to_change_or_remove_audit_rows(pg_backend: SqlBackend) -> None:
    pg_backend.create_project("kept")
    for statement in (
        "UPDATE events SET actor = 'mallory'",
        "DELETE FROM events",
        "TRUNCATE events",
    ):
        with (
            pytest.raises(sa.exc.DBAPIError, match="append-only"),
            pg_backend.store.engine.begin() as conn,
        ):
            conn.execute(sa.text(statement))
    result = pg_backend.verify_audit()
    assert result.ok and result.rows == 1, result.summary


@pytest.mark.postgres
def test_the_migration_downgrades_and_upgrades_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        _alembic(conn, "downgrade", "0005")
        conn.execute(
            sa.text(
                "INSERT INTO events (time, actor, action, entity_type, entity_id, payload) "
                "VALUES (1.5, 'old', 'run.created', 'run', 'r', '{\"a\": [1, 2.5]}')"
            )
        )
        _alembic(conn, "upgrade", "head")
        assert verify_chain(conn).ok
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), conn.begin_nested():
            conn.execute(sa.text("DELETE FROM events"))
    engine.dispose()


WRITER = textwrap.dedent(
    """
    import sys, time
    import steward
    from steward.context import get_backend
    from steward.develop import MetricBatch
    backend = get_backend()
    worker, n = sys.argv[1], int(sys.argv[2])
    run = backend.create_run(name=f"writer-{worker}")
    for i in range(n):
        batch = MetricBatch(keys=["m"], values=[float(i)], steps=[i], timestamps=[time.time()])
        backend.log_batch(run.id, metrics=batch)
        if i % 10 == 0:
            backend.create_project(f"p-{worker}-{i}")
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_concurrent_writers_in_several_processes_keep_one_valid_chain(
    database: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if database == "sqlite":
        uri = f"sqlite:///{tmp_path / 'shared.db'}"
    else:
        uri = request.getfixturevalue("pg_url")
    backend = SqlBackend.open(uri, str(tmp_path / "artifacts"))
    env = {
        **os.environ,
        "STEWARD_STORE_URI": uri,
        "STEWARD_ARTIFACT_URI": str(tmp_path / "artifacts"),
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(w), "60"],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(4)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
    with backend.store.read() as conn:
        result = verify_chain(conn)
    # 4 writers x (a run, 60 batches, 6 projects with their default experiment...)
    assert result.ok, result.summary
    assert result.rows >= 4 * (1 + 60 + 6)
    backend.close()
