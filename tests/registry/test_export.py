"""Exporting registered versions: parity checked on the run's data, recorded with the version."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import GradientBoostingClassifier, RandomForestRegressor
from sklearn.pipeline import Pipeline
from typer.testing import CliRunner

import steward
from steward._backend import Backend
from steward.cli import app
from steward.errors import InvalidInput


@pytest.fixture(params=["sqlite", "http"])
def some_backend(request: pytest.FixtureRequest) -> Backend:
    from steward._backend import set_backend

    chosen: Backend = request.getfixturevalue(f"{request.param}_backend")
    set_backend(chosen)
    return chosen


def _register(model, X: pd.DataFrame, y: pd.Series, name: str) -> steward.ModelVersion:  # type: ignore[no-untyped-def]
    holdout = steward.register_dataset(X.assign(target=y).tail(150), f"{name}-holdout")
    with steward.start_run(capture_environment_info=False):
        steward.log_input(holdout, context="evaluation")
        info = steward.log_model(model, input_example=X, registered_model_name=name)
    assert info.version is not None
    return info.version


def test_pipeline_with_categories_exports_with_parity(
    some_backend: Backend, churn_pipeline: Pipeline, churn_data: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, y = churn_data
    _register(churn_pipeline, X, y, "churn")
    result = steward.export_model("models:/churn/1", "onnx")
    assert result.valid and result.report.label_agreement == 1.0
    assert result.report.rows == 150 and result.data == "churn-holdout@1 (evaluation)"
    version = steward.get_model_version("models:/churn/1")
    assert {f.path for f in version.files if f.kind == "export"} == {
        "exports/onnx/model.onnx",
        "exports/onnx/parity.json",
        "exports/onnx/parity.md",
    }
    assert version.tags["export.onnx"] == "valid"
    stored = steward.read_parity_report(version)
    assert stored is not None and stored.max_abs_score_diff == result.report.max_abs_score_diff
    assert "ONNX: valid" in steward.model_summary("models:/churn/1")


def test_tree_ensemble_exports_faithfully(
    some_backend: Backend, churn_data: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, y = churn_data
    numeric = X[["tenure", "monthly"]]
    model = GradientBoostingClassifier(n_estimators=50, random_state=0).fit(numeric, y)
    _register(model, numeric, y, "gbm")
    result = steward.export_model("models:/gbm/1", "onnx")
    assert result.valid, result.report.reason
    assert result.report.max_abs_score_diff < 1e-6


def test_an_unfaithful_export_is_recorded_as_invalid(
    sqlite_backend: Backend, churn_data: tuple[pd.DataFrame, pd.Series]
) -> None:
    from steward._backend import set_backend

    set_backend(sqlite_backend)
    X, _ = churn_data
    numeric = X[["tenure", "monthly"]]
    target = pd.Series(numeric["monthly"] * 1000 + np.arange(len(numeric)), name="target")
    model = RandomForestRegressor(n_estimators=20, random_state=0).fit(numeric, target)
    _register(model, numeric, target, "revenue")
    # float32 tree outputs cannot match float64 predictions of ~70,000 to zero tolerance
    result = steward.export_model("models:/revenue/1", "onnx", tolerance=0.0, rtol=0.0)
    assert not result.valid and "exceeds tolerance" in result.report.reason
    assert steward.get_model_version("models:/revenue/1").tags["export.onnx"] == "invalid"
    out = CliRunner().invoke(
        app, ["models", "export", "models:/revenue/1", "--tolerance", "0", "--rtol", "0", "--json"]
    )
    assert out.exit_code == 9
    assert json.loads(out.stdout)["valid"] is False


def test_export_without_a_recorded_dataset_checks_sampled_rows(
    sqlite_backend: Backend, churn_pipeline: Pipeline, churn_data: tuple[pd.DataFrame, pd.Series]
) -> None:
    from steward._backend import set_backend

    set_backend(sqlite_backend)
    X, _ = churn_data
    with steward.start_run(capture_environment_info=False):
        steward.log_model(churn_pipeline, input_example=X, registered_model_name="bare")
    sampled = steward.export_model("models:/bare/1", max_rows=300)
    assert sampled.valid and sampled.data_source == "sample" and sampled.report.rows == 300
    assert sampled.report.notes[0] == (
        "Checked on 300 rows of the model's input example (5 rows) and 295 rows sampled "
        "within the signature's recorded ranges and categories."
    )
    given = steward.export_model("models:/bare/1", data=X)
    assert given.valid and given.data_source == "given" and given.data == "the given data"
    with pytest.raises(InvalidInput, match="'onnx' or 'pmml'"):
        steward.export_model("models:/bare/1", "tflite")  # type: ignore[arg-type]
