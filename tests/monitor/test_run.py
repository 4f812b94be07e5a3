"""A monitoring run over a served deployment's log: drift, labels, health, KPIs, alerts, report."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import steward
from steward.cli import app as cli
from steward.errors import InvalidInput
from steward.monitor import (
    MonitorConfig,
    calibrate_estimator,
    load_reference,
    monitor_deployment,
    parse_window,
    stored_report,
)
from tests.monitor.conftest import send_traffic as _send
from tests.serve.conftest import churn_frame, churn_model, serving


class Hook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        length = int(self.headers["content-length"])
        Hook.received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


def test_drift_fires_on_the_drifted_window_and_not_on_the_clean_one(
    served_churn: dict[str, Any],
) -> None:
    hook = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    Hook.received.clear()
    steward.context.get_backend().set_monitor_config(
        "retention",
        MonitorConfig.model_validate(
            {
                "drift": {"feature_share": 0.3},
                "performance": {"metric": "accuracy", "min": 0.6, "min_labels": 20},
                "kpis": [
                    {
                        "name": "churners_caught",
                        "expression": "(prediction == 1) & (label == 1)",
                        "baseline": "tenure < 12",
                        "direction": "maximize",
                    }
                ],
                "webhook": f"http://127.0.0.1:{hook.server_port}/alerts",
            }
        ),
    )
    held_out, y_held = churn_frame(400, seed=7)
    calibrate_estimator("models:/churn/1", held_out, y_held)
    clean, y = churn_frame(120, seed=1)
    shifted, y2 = churn_frame(120, seed=2)
    shifted = shifted.assign(tenure=shifted["tenure"] + 60, monthly=shifted["monthly"] * 2.5)
    with serving("models:/churn/1") as (client, prepared):
        t0 = time.time()
        _send(client, clean, y)
        t1 = time.time()
        _send(client, shifted, 1 - y2)  # labels that make the model look bad, too
        t2 = time.time()
        client.post("/predict", json={"records": [{"tenure": "x"}]})
        prepared.state.log.flush()
    calm = monitor_deployment("churn", window=t1 - t0 + 0.01, end=t1)
    stormy = monitor_deployment("churn", window=t2 - t1 + 0.01, end=t2 + 0.01)
    assert calm.project == "retention" and calm.versions[0].label == "churn/1"
    assert calm.versions[0].drifted == [] and not any(
        a.rule.startswith("drift") for a in calm.alerts
    )
    assert {"tenure", "monthly"} <= set(stormy.versions[0].drifted)
    rules = {a.rule for a in stormy.alerts}
    assert "drift.features" in rules and "performance.min" in rules
    accuracy = stormy.versions[0].performance
    assert accuracy is not None and accuracy.overall.labeled == 120
    assert calm.versions[0].performance_value is not None
    assert calm.versions[0].performance_value > stormy.versions[0].performance_value  # type: ignore[operator]
    assert stormy.health.requests == 120 and stormy.health.errors == 1
    calm_estimate = calm.versions[0].estimate
    assert calm_estimate is not None and calm_estimate.overall.metrics["accuracy"].value is not None
    # Before labels, the estimate lands near the accuracy the labels later show.
    assert (
        abs(calm_estimate.overall.metrics["accuracy"].value - calm.versions[0].performance_value)
        < 0.12
    )  # type: ignore[operator]
    assert calm.kpis[0].name == "churners_caught" and calm.kpis[0].baseline is not None
    stored = steward.context.get_backend().list_alerts("churn")
    assert {a.rule for a in stored} == rules
    assert all(a.notified.startswith("sent: HTTP 204") for a in stored)
    assert sorted(h["rule"] for h in Hook.received) == sorted(rules)
    hook.shutdown()
    report = stored_report("churn")
    assert report.run.id == stormy.monitor_run_id
    assert "tenure" in report.html and "Plotly.newPlot" in report.html
    assert json.loads(report.result)["deployment"] == "churn"
    series = steward.context.get_backend().get_monitor_series("churn", "drift.score.tenure")
    assert [p.version for p in series] == ["churn/1", "churn/1"]
    assert series[1].value > series[0].value  # type: ignore[operator]


def test_an_empty_window_says_so(served_churn: dict[str, Any]) -> None:
    steward.create_deployment("churn", "models:/churn/1")
    result = monitor_deployment("churn", window="1h")
    assert result.rows == 0 and "No predictions were logged" in result.note
    assert result.alerts == []


def test_a_damaged_segment_is_skipped_and_reported(
    served_churn: dict[str, Any], tmp_path: Path
) -> None:
    with serving("models:/churn/1", log_uri=str(tmp_path / "log")) as (client, prepared):
        _send(client, served_churn["X"].head(5))
        prepared.state.log.flush()
    spec = steward.get_deployment("churn").spec
    steward.update_deployment(
        "churn",
        spec.model_copy(update={"log": spec.log.model_copy(update={"uri": str(tmp_path / "log")})}),
    )
    day = next((tmp_path / "log" / "predictions").iterdir())
    (day / "999999999999-host-1-000009.parquet").write_bytes(b"PAR1 cut short")
    result = monitor_deployment("churn", window="1h")
    assert result.rows == 5
    assert [Path(s["segment"]).name for s in result.skipped_segments] == [
        "999999999999-host-1-000009.parquet"
    ]


def test_windows_parse_and_refuse() -> None:
    assert (
        parse_window("1d") == 86400
        and parse_window("30m") == 1800
        and parse_window("2w") == 1209600
    )
    with pytest.raises(InvalidInput, match="is not a window"):
        parse_window("soon")


def test_the_cli_runs_lists_reports_and_acknowledges(
    served_churn: dict[str, Any], tmp_path: Path
) -> None:
    with serving("models:/churn/1") as (client, prepared):
        _send(client, served_churn["X"].head(30), served_churn["y"].head(30))
        prepared.state.log.flush()
    runner = CliRunner()
    done = runner.invoke(
        cli,
        ["monitor", "run", "churn", "--window", "1h", "--report", str(tmp_path / "r.html")],
        catch_exceptions=False,
    )
    assert done.exit_code == 0, done.output
    assert "Monitoring churn" in done.output and "churn/1" in done.output
    assert (tmp_path / "r.html").read_text().startswith("<!doctype html>")
    listed = runner.invoke(cli, ["monitor", "runs", "churn"], catch_exceptions=False)
    assert listed.exit_code == 0 and "1" in listed.output
    out = tmp_path / "again.html"
    again = runner.invoke(
        cli, ["monitor", "report", "churn", "--out", str(out)], catch_exceptions=False
    )
    assert again.exit_code == 0 and out.is_file()
    config = tmp_path / "thresholds.yaml"
    config.write_text(
        "health:\n  error_rate: 0.0001\nkpis:\n  - {name: flagged, expression: 'prediction == 1', needs_labels: false}\n"
    )
    stored = runner.invoke(
        cli, ["monitor", "config", "retention", str(config)], catch_exceptions=False
    )
    assert stored.exit_code == 0 and "1 KPIs" in stored.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("health:\n  error_rate: 2\n")
    refused = runner.invoke(
        cli, ["monitor", "config", "retention", str(bad)], catch_exceptions=False
    )
    assert refused.exit_code == 2 and "line 2, health.error_rate" in refused.output


def test_register_model_profiles_the_runs_training_dataset(steward_home: Path) -> None:
    X, y = churn_frame(300, seed=0)
    train = steward.register_dataset(X.assign(churned=y), "churn-train")
    with steward.start_run(capture_environment_info=False) as run:
        steward.log_input(train, context="training")
        steward.log_model(churn_model(X, y, 1.0), "model", input_example=X.head(5))
    version = steward.register_model(f"runs:/{run.info.run_id}/model", "churn")
    reference = load_reference(version.uri)
    assert reference.rows == 300  # the whole training dataset, not the 5-row example
    assert "churned" not in reference.features and "tenure" in reference.features
