"""`steward score`: scoring a file from the command line, its output, JSON and errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder

import steward
from tests.cli.conftest import Invoke

URI = "models:/churn@champion"


def _inputs(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"plan": rng.choice(["basic", "plus", "pro"], n), "tenure": rng.integers(0, 60, n)}
    )


@pytest.fixture
def model() -> Pipeline:
    """A one-hot + logistic classifier registered as churn v1, alias champion."""
    X = _inputs(200, seed=0)
    y = np.where(
        X["tenure"] + X["plan"].map({"basic": 0, "plus": 5, "pro": 40}) > 35, "churn", "stay"
    )
    encode = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), ["plan"]), remainder="passthrough"
    )
    pipe = make_pipeline(encode, LogisticRegression(max_iter=2000)).fit(X, y)
    with steward.start_run("train", capture_environment_info=False):
        steward.log_model(pipe, input_example=X, registered_model_name="churn")
    steward.set_alias("churn", "champion", 1)
    return pipe


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """120 rows with an id column, as Parquet."""
    path = tmp_path / "customers.parquet"
    _inputs(120, seed=1).assign(id=range(120)).to_parquet(path, row_group_size=30)
    return path


def test_score_writes_the_predictions_and_reports_the_job(
    cli: Invoke, model: Pipeline, data: Path, tmp_path: Path
) -> None:
    out = tmp_path / "scored.parquet"
    result = cli("score", URI, str(data), "--out", str(out), "--chunk-rows", "50")
    assert result.exit_code == 0, result.output
    scored = pd.read_parquet(out)
    rows = pd.read_parquet(data)
    np.testing.assert_array_equal(scored["prediction"], model.predict(rows[["plan", "tenure"]]))
    assert list(scored["id"]) == list(range(120)) and set(scored["model_version"]) == {"churn/1"}
    lines = result.stdout.splitlines()
    assert lines[0] == "Scored 120 rows of customers.parquet with churn/1"
    text = result.stdout
    assert f"Output  {out}" in text
    assert "Ran     in process, 3 chunk(s)" in text
    assert "rows/s" in text and "Model loads" not in text
    run_id = steward.search_runs(experiment_names=["batch-scoring"])["run_id"][0]
    assert f"Run     {run_id}" in text


def test_json_output(cli: Invoke, model: Pipeline, data: Path, tmp_path: Path) -> None:
    out = tmp_path / "scored.parquet"
    result = cli("score", URI, str(data), "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["rows"] == 120 and body["version_label"] == "churn/1"
    assert body["model_name"] == "churn" and body["model_version"] == 1
    assert body["output"] == str(out) and body["cluster"] is None
    assert steward.get_run(body["run_id"]).status == "FINISHED"


def test_on_a_local_cluster(cli: Invoke, model: Pipeline, data: Path, tmp_path: Path) -> None:
    out = tmp_path / "scored"
    result = cli(
        "score", URI, str(data), "--out", str(out), "--cluster", "local", "--workers", "2",
        "--chunk-rows", "30", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["cluster"] == "local" and body["partitions"] == 4
    assert len(body["model_loads"]) == 2 and set(body["model_loads"].values()) == {1}
    scored = pd.read_parquet(out).sort_values("row")
    assert list(scored["id"]) == list(range(120))
    run = steward.get_run(body["run_id"])
    assert run.params["cluster"] == "local" and run.params["workers"] == "2"


def test_an_existing_output_needs_overwrite(
    cli: Invoke, model: Pipeline, data: Path, tmp_path: Path
) -> None:
    out = tmp_path / "scored.parquet"
    out.write_text("old")
    refused = cli("score", URI, str(data), "--out", str(out))
    assert refused.exit_code == 4
    assert refused.stderr.startswith("Error: The output") and "--overwrite" in refused.stderr
    assert out.read_text() == "old"
    replaced = cli("score", URI, str(data), "--out", str(out), "--overwrite")
    assert replaced.exit_code == 0, replaced.output
    assert len(pd.read_parquet(out)) == 120


def test_warnings_are_printed_once_as_notes(cli: Invoke, model: Pipeline, tmp_path: Path) -> None:
    rows = _inputs(90, seed=2)
    rows.loc[[5, 50, 80], "plan"] = "enterprise"
    source = tmp_path / "new-plan.csv"
    rows.to_csv(source, index=False)
    result = cli(
        "score", URI, str(source), "--out", str(tmp_path / "o.parquet"), "--chunk-rows", "30"
    )
    assert result.exit_code == 0, result.output
    notes = [line for line in result.stderr.splitlines() if line.startswith("Warning: ")]
    assert len(notes) == 1
    assert "never seen in training: ['enterprise']" in notes[0] and "(in 3 chunks)" in notes[0]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("nowhere.parquet",), 3, "Error: Cannot score 'nowhere.parquet': no such file"),
        (("{data}", "--cluster", "lcoal"), 2, "Did you mean 'local'?"),
        (("{data}", "--out", "{tmp}/o.csv"), 2, "batch scoring writes Parquet"),
        (("{bad}",), 2, "lacks the model's input column(s) 'tenure' (integer)"),
    ],
)
def test_user_errors_print_one_error_line(
    cli: Invoke,
    model: Pipeline,
    data: Path,
    tmp_path: Path,
    args: tuple[str, ...],
    code: int,
    message: str,
) -> None:
    bad = tmp_path / "bad.parquet"
    pd.read_parquet(data).drop(columns="tenure").to_parquet(bad)
    values = {"data": str(data), "bad": str(bad), "tmp": str(tmp_path)}
    filled = [a.format(**values) for a in args]
    if "--out" not in filled:
        filled += ["--out", str(tmp_path / "o.parquet")]
    result = cli("score", URI, *filled)
    assert result.exit_code == code, result.output
    assert result.stderr.startswith("Error: ") and message in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "o.parquet").exists()


def test_unknown_model_is_not_found(cli: Invoke, data: Path, tmp_path: Path) -> None:
    result = cli("score", "models:/nothing/1", str(data), "--out", str(tmp_path / "o.parquet"))
    assert result.exit_code == 3


def test_help_has_an_example(cli: Invoke) -> None:
    result = cli("score", "--help")
    assert result.exit_code == 0
    assert "steward score models:/churn@champion customers.parquet --out scored.parquet" in (
        result.stdout
    )
    assert "--cluster" in result.stdout and "folder of Parquet parts" in result.stdout
