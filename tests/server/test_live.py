"""The team server over a real socket: the public API through STEWARD_URI, and a plain client."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import httpx
import pandas as pd
import pytest

import steward
from steward._backend import set_backend
from steward.errors import Conflict, NotFound, ServerUnavailable


def test_public_api_against_a_live_server(
    live_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STEWARD_URI", live_server)
    set_backend(None)
    data = steward.register_dataset(
        pd.DataFrame({"x": [1, 2, 3], "sex": ["F", "M", "F"]}), "tiny", sensitive_columns=["sex"]
    )
    with steward.start_run("remote", experiment="net") as run:
        steward.log_input(data)
        steward.log_param("model", "rf")
        for i in range(500):
            steward.log_metric("loss", 1 / (i + 1))
        steward.log_text("hello", "notes.txt")
        with pytest.raises(Conflict):
            steward.log_param("model", "gbm")
    stored = steward.get_run(run.id)
    assert stored.status == "FINISHED" and stored.metrics["loss"].count == 500
    assert stored.inputs[0].dataset == "tiny" and stored.context["command"]
    assert steward.load_artifact_bytes(run.id, "notes.txt") == b"hello"
    assert steward.search_runs("params.model = 'rf'")["run_id"].tolist() == [run.id]
    assert steward.load_dataset("tiny")["x"].tolist() == [1, 2, 3]
    with pytest.raises(NotFound):
        steward.get_run("missing")


def test_a_client_written_by_others_speaks_plain_json(live_server: str) -> None:
    with httpx.Client(base_url=live_server) as http:
        run = http.post("/api/v1/runs", json={"experiment": "curl", "name": "by-hand"}).json()
        batch = {
            "metrics": {"keys": ["auc"], "values": [0.9], "steps": [0], "timestamps": [1.0]},
            "params": {"k": "v"},
        }
        assert http.post(f"/api/v1/runs/{run['id']}/batch", json=batch).json() == 1
        assert (
            http.patch(f"/api/v1/runs/{run['id']}", json={"status": "FINISHED"}).json()["status"]
            == "FINISHED"
        )
        found = http.post("/api/v1/runs/search", json={"filter": "metrics.auc >= 0.9"}).json()
        assert [r["name"] for r in found["runs"]] == ["by-hand"]
        bad = http.post("/api/v1/runs/search", json={"filter": "metrics.auc >="})
        assert bad.status_code == 400 and "character" in bad.json()["error"]["message"]


def test_a_separate_process_logs_through_the_server(live_server: str) -> None:
    script = textwrap.dedent(
        """
        import steward
        with steward.start_run("from-child", capture_environment_info=False) as run:
            steward.log_metric("m", 2.0)
        print(run.id)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        env={**__import__("os").environ, "STEWARD_URI": live_server},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    run_id = out.stdout.strip()
    run = httpx.get(f"{live_server}/api/v1/runs/{run_id}").json()
    assert run["status"] == "FINISHED" and run["metrics"]["m"]["value"] == 2.0


def test_unreachable_server_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import free_port

    monkeypatch.setenv("STEWARD_URI", f"http://127.0.0.1:{free_port()}")
    set_backend(None)
    with pytest.raises(ServerUnavailable, match="Cannot reach the Steward server"):
        steward.search_runs()
