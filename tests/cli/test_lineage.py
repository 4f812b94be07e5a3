"""`steward lineage show / impact / export-openlineage`, and dataset terms in the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import steward

from .conftest import Invoke


@pytest.fixture
def trained() -> str:
    """Register a dataset (with an e-mail column), train a model on it, deploy it."""
    frame = pd.DataFrame(
        {
            "email": [f"user{i}@example.com" for i in range(40)],
            "x": [float(i % 7) for i in range(40)],
            "y": [i % 2 for i in range(40)],
        }
    )
    data = steward.register_dataset(
        frame, "clients", terms_of_use="internal", retention="delete after 2000-01-01"
    )
    with steward.start_run("fit", capture_environment_info=False) as run:
        steward.log_input(data)
        model = LogisticRegression().fit(frame[["x"]], frame["y"])
        steward.log_model(model, input_example=frame[["x"]], registered_model_name="clf")
    steward.create_deployment("clf-live", "models:/clf/1")
    return run.id


def test_show_draws_the_lineage_both_ways(cli: Invoke, trained: str) -> None:
    result = cli("lineage", "show", f"run:{trained}")
    assert result.exit_code == 0, result.output
    up, down = result.stdout.split("Downstream")
    assert "dataset version clients@1" in up and "model version" not in up
    assert "model version clf v1  (produced)" in down
    assert "deployment clf-live  (served_by, serving now)" in down
    assert "prediction log predictions of clf-live" in down
    only_up = cli("lineage", "show", "model:clf/1", "--up").stdout
    assert "Downstream" not in only_up and "clients@1" in only_up
    graph = json.loads(cli("lineage", "show", "deployment:clf-live", "--up", "--json").stdout)
    assert {n["kind"] for n in graph["nodes"]} >= {"dataset_version", "run", "model_version"}
    wrong = cli("lineage", "show", "clients")
    assert wrong.exit_code == 2 and "dataset:NAME@VERSION" in wrong.stderr


def test_impact_answers_an_erasure_request(cli: Invoke, trained: str) -> None:
    result = cli("lineage", "impact", "clients@1")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "clients@1" in out and "delete after 2000-01-01" in out and "(overdue)" in out
    assert trained in out and "clf v1" in out and "clf-live" in out
    report = json.loads(cli("lineage", "impact", "clients", "--json").stdout)
    assert [n["ref"] for n in report["model_versions"]] == ["clf/1"]
    assert [n["ref"] for n in report["deployments"]] == ["clf-live"]
    assert cli("lineage", "impact", "clients@x").exit_code == 2


def test_export_openlineage_to_a_file(cli: Invoke, trained: str, tmp_path: Path) -> None:
    out = tmp_path / "ol.ndjson"
    result = cli("lineage", "export-openlineage", "--run", trained, "-o", str(out))
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    assert events[1]["outputs"][0]["name"] == "models/clf"
    both = cli("lineage", "export-openlineage", "-o", str(out), "--url", "http://x")
    assert both.exit_code == 2 and "exactly one destination" in both.stderr


def test_datasets_show_and_amend_terms_retention_and_pii(cli: Invoke, trained: str) -> None:
    shown = cli("datasets", "show", "clients")
    assert shown.exit_code == 0, shown.output
    assert "delete after 2000-01-01" in shown.stdout and "overdue" in shown.stdout
    assert "Personal data found" in shown.stdout and "EMAIL_ADDRESS" in shown.stdout
    assert json.loads(cli("datasets", "show", "clients", "--json").stdout)["pii_scan"]["findings"]
    amended = cli(
        "datasets", "amend", "clients@1", "--retention", "5 years", "--reason", "contract renewed"
    )
    assert amended.exit_code == 0, amended.output
    assert "retention delete 5 years after registration" in amended.stdout
    assert steward.get_dataset("clients").retention == "delete 5 years after registration"
    nothing = cli("datasets", "amend", "clients")
    assert nothing.exit_code == 2 and "got neither" in nothing.stderr


def test_register_takes_a_retention_and_reports_personal_data(cli: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    pd.DataFrame({"phone": ["+1 212-555-0101", "+1 212-555-0102"], "n": [1, 2]}).to_csv(path)
    done = cli("datasets", "register", str(path), "--name", "calls", "--retention", "90 days")
    assert done.exit_code == 0, done.output
    assert "Personal data found: phone (PHONE_NUMBER)" in done.stderr
    assert steward.get_dataset("calls").retention == "delete 90 days after registration"
