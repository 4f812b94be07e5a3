"""Shared fixtures: stores on SQLite and PostgreSQL, the team server in-process, S3 via moto."""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

import steward
from steward._backend import Backend, SqlBackend, set_backend
from steward.artifacts import ArtifactStore
from steward.client import connect
from steward.develop import _fluent
from steward.server import create_app
from steward.store import Store

PG_ADMIN = os.environ.get(
    "STEWARD_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
_counter = itertools.count()


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(autouse=True)
def steward_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own STEWARD_HOME and working folder, and no server URI."""
    home = tmp_path / "steward-home"
    monkeypatch.chdir(tmp_path)  # runs then see no git repository unless a test makes one
    monkeypatch.setenv("STEWARD_HOME", str(home))
    monkeypatch.setenv("STEWARD_USER", "tester")
    for var in (
        "STEWARD_URI",
        "STEWARD_STORE_URI",
        "STEWARD_ARTIFACT_URI",
        "STEWARD_PROJECT",
        "STEWARD_EXPERIMENT",
    ):
        monkeypatch.delenv(var, raising=False)
    set_backend(None)
    yield home
    while steward.active_run() is not None:
        steward.end_run()
    set_backend(None)
    _fluent._defaults.clear()  # set_experiment() lasts for the process: not past one test


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated PostgreSQL template database for this worker (skips when no server)."""
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # pragma: no cover - the CI machine always has it
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN}: {exc}")
    name = f"steward_tmpl_{_worker()}_{os.getpid()}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
    Store(url).dispose()
    yield name
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def pg_url(pg_template: str) -> Iterator[str]:
    """The URL of a fresh, migrated PostgreSQL database for one test."""
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"steward_t_{_worker()}_{os.getpid()}_{next(_counter)}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"'))
    yield sa.engine.make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def sqlite_backend(tmp_path: Path) -> Iterator[SqlBackend]:
    """A backend over a fresh SQLite file and local artifact folder."""
    backend = SqlBackend.open(f"sqlite:///{tmp_path / 'store.db'}", str(tmp_path / "artifacts"))
    yield backend
    backend.close()


@pytest.fixture
def pg_backend(pg_url: str, tmp_path: Path) -> Iterator[SqlBackend]:
    """A backend over a fresh PostgreSQL database."""
    backend = SqlBackend.open(pg_url, str(tmp_path / "artifacts"))
    yield backend
    backend.close()


@pytest.fixture
def http_backend(sqlite_backend: SqlBackend) -> Iterator[Backend]:
    """The HTTP client talking to the team server in-process (ASGI), over a SQLite store."""
    with TestClient(create_app(sqlite_backend)) as client:
        yield connect("http://testserver", client=client, user="tester")


@pytest.fixture(params=["sqlite", "postgresql", "http"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """Each backend in turn, installed as the one the public API uses."""
    chosen: Backend = request.getfixturevalue(
        f"{request.param if request.param != 'postgresql' else 'pg'}_backend"
    )
    set_backend(chosen)
    yield chosen
    while steward.active_run() is not None:
        steward.end_run()
    set_backend(None)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_backend(request: pytest.FixtureRequest) -> Iterator[SqlBackend]:
    """Both SQL backends, for tests of the store itself."""
    chosen: SqlBackend = request.getfixturevalue(
        f"{request.param if request.param != 'postgresql' else 'pg'}_backend"
    )
    set_backend(chosen)
    yield chosen
    set_backend(None)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on 127.0.0.1, with credentials in the environment."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    saved = {
        k: os.environ.get(k)
        for k in (
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_DEFAULT_REGION",
            "AWS_ENDPOINT_URL",
        )
    }
    os.environ.update(
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=endpoint,
    )
    yield endpoint
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def s3_uri(s3_endpoint: str) -> str:
    """A fresh bucket on the moto server, as an s3:// artifact URI."""
    import boto3

    bucket = f"steward-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=bucket)
    return f"s3://{bucket}/artifacts"


def free_port() -> int:
    """Return a TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def uvicorn_server(env: dict[str, str]) -> Iterator[str]:
    """Run the team server in a `uvicorn` subprocess on 127.0.0.1 with ``env``; yield its URL."""
    port = free_port()
    env = {k: v for k, v in env.items() if k != "STEWARD_URI"}
    command = [sys.executable, "-m", "uvicorn", "--factory", "steward.server:create_app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            proc.kill()
            out = proc.stdout.read().decode() if proc.stdout else ""
            raise RuntimeError(f"the server did not start: {out}")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[str]:
    """A real `uvicorn` team server in a subprocess on 127.0.0.1; yields its URL."""
    with uvicorn_server({**os.environ, "STEWARD_HOME": str(tmp_path / "server-home")}) as url:
        yield url


@pytest.fixture
def artifact_store(tmp_path: Path) -> ArtifactStore:
    """A local content-addressed artifact store."""
    return ArtifactStore(tmp_path / "blobs")
