"""`steward server`: the app it hands to uvicorn serves the API over the chosen store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import steward

from .conftest import Invoke, people_frame


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Replace uvicorn.run: record its arguments and query the app in-process instead."""
    calls: dict[str, Any] = {}

    def fake_run(app: Any, **kwargs: Any) -> None:
        calls.update(kwargs)
        with TestClient(app) as client:
            calls["health"] = client.get("/health").json()
            calls["docs"] = client.get("/docs").status_code
            calls["datasets"] = [d["name"] for d in client.get("/api/v1/datasets").json()]

    monkeypatch.setattr("uvicorn.run", fake_run)
    return calls


def test_server_serves_the_default_store(cli: Invoke, served: dict[str, Any], home: Path) -> None:
    steward.register_dataset(people_frame(), "people")
    result = cli("server", "--port", "5123")
    assert result.exit_code == 0, result.output
    assert served["host"] == "127.0.0.1" and served["port"] == 5123
    assert served["health"]["status"] == "ok" and served["docs"] == 200
    assert served["datasets"] == ["people"]
    assert "http://127.0.0.1:5123" in result.stdout
    assert "http://127.0.0.1:5123/docs" in result.stdout
    assert str(home / "steward.db") in result.stdout


def test_server_on_another_store(cli: Invoke, served: dict[str, Any], tmp_path: Path) -> None:
    steward.register_dataset(people_frame(), "people")  # in the default store, not the one served
    other = tmp_path / "other.db"
    result = cli(
        "server",
        "--store",
        f"sqlite:///{other}",
        "--artifacts",
        str(tmp_path / "blobs"),
        "--host",
        "::1",
    )
    assert result.exit_code == 0, result.output
    assert served["datasets"] == []
    assert other.exists()
    assert "http://[::1]:5000/docs" in result.stdout


def test_server_rejects_a_bad_port(cli: Invoke, served: dict[str, Any]) -> None:
    result = cli("server", "--port", "70000")
    assert result.exit_code == 2
    assert served == {}
