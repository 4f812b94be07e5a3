"""`steward whatif`: variations of a row, the flip point, and errors in the CLI's style."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder
from typer.testing import CliRunner, Result

import steward
from steward.cli import app as steward_app
from steward.cli._app import StewardGroup
from steward.cli._whatif import whatif
from steward.explain._whatif import smallest_flip
from steward.registry import infer_signature
from steward.registry._package import write_package

ROW = {"plan": "basic", "tenure": 10}


def _app() -> typer.Typer:
    """A root group like `steward`'s (same error handling) holding only this command."""
    local = typer.Typer(cls=StewardGroup)

    @local.callback()
    def root() -> None:
        """Test root."""

    local.command("whatif")(whatif)
    return local


def invoke(*args: str) -> Result:
    return CliRunner().invoke(
        _app(), ["whatif", *args], env={"COLUMNS": "120"}, catch_exceptions=False
    )


def _data() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    n = 200
    X = pd.DataFrame(
        {"plan": rng.choice(["basic", "plus", "pro"], n), "tenure": rng.integers(0, 60, n)}
    )
    shift = X["plan"].map({"basic": 0, "plus": 5, "pro": 40})
    return X, np.where(X["tenure"] + shift > 35, "churn", "stay")


def _classifier() -> Pipeline:
    X, y = _data()
    encode = make_column_transformer((OneHotEncoder(), ["plan"]), remainder="passthrough")
    return make_pipeline(encode, LogisticRegression(max_iter=2000)).fit(X, y)


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Pipeline]:
    """The classifier saved once as a package folder (a model URI that needs no store)."""
    pipe = _classifier()
    folder = tmp_path_factory.mktemp("package") / "churn"
    write_package(pipe, folder, signature=infer_signature(_data()[0], pipe))
    return str(folder), pipe


@pytest.fixture
def model() -> Pipeline:
    """The classifier registered as models:/churn/1 in this test's store."""
    pipe = _classifier()
    with steward.start_run(capture_environment_info=False):
        steward.log_model(pipe, input_example=_data()[0], registered_model_name="churn")
    return pipe


def test_variations_show_the_prediction_change(model: Pipeline) -> None:
    result = invoke("models:/churn/1", "--row", json.dumps(ROW), "--set", "tenure=20,45")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "What if: models:/churn/1, score P(stay)" in lines[0]
    rows = pd.DataFrame({"plan": "basic", "tenure": [10, 20, 45]})
    predicted = model.predict(rows)
    assert list(predicted) == ["stay", "stay", "churn"]
    p_stay = model.predict_proba(rows)[:, 1]
    body = [line for line in lines if line.strip().split(" ")[0] in {"original", "20", "45"}]
    assert len(body) == 3
    assert body[0].split()[:3] == ["original", "10", "stay"]
    assert f"{p_stay[0]:.4g}" in body[0]
    assert body[1].split()[:2] == ["20", "stay"] and f"{p_stay[1] - p_stay[0]:+.4g}" in body[1]
    assert "churn ←" in body[2]  # the changed prediction is marked
    assert "←" not in body[1]
    assert "1 of 2 variation(s) change the prediction" in result.stderr


def test_flip_prints_the_boundary(package: tuple[str, Pipeline]) -> None:
    uri, model = package
    result = invoke(uri, "--row", json.dumps(ROW), "--flip", "tenure")
    assert result.exit_code == 0, result.output
    found = smallest_flip(uri, ROW, "tenure")
    assert found.flip is not None
    out = result.stdout
    assert "Smallest change of tenure that flips the decision" in out
    assert f"flips at           tenure = {found.flip.value} → churn" in out
    assert f"still original at  {found.flip.keeps}" in out
    assert "0 to 59 (the range seen in training)" in out
    sides = pd.DataFrame({"plan": "basic", "tenure": [found.flip.keeps, found.flip.value]})
    assert list(model.predict(sides)) == ["stay", "churn"]


def test_categorical_flip_lists_the_categories_that_flip(package: tuple[str, Pipeline]) -> None:
    result = invoke(package[0], "--row", json.dumps(ROW), "--flip", "plan")
    assert result.exit_code == 0, result.output
    assert "Setting 'plan' to 'pro' instead of 'basic' flips the prediction" in result.stdout


def test_json_output_has_the_model_predictions(
    package: tuple[str, Pipeline], tmp_path: Path
) -> None:
    uri, model = package
    row_file = tmp_path / "row.json"
    row_file.write_text(json.dumps([ROW]))  # a list of one row is accepted
    result = invoke(
        uri,
        "--row-file",
        str(row_file),
        "--set",
        "tenure=[20, 45]",
        "--set",
        "plan=plus,pro",
        "--flip",
        "tenure",
        "--json",
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    variations = pd.DataFrame(body["variations"])
    assert len(variations) == 1 + 4
    np.testing.assert_array_equal(
        variations["prediction"], model.predict(variations[["plan", "tenure"]])
    )
    np.testing.assert_allclose(
        variations["score"], model.predict_proba(variations[["plan", "tenure"]])[:, 1]
    )
    assert body["score"] == "P(stay)" and body["model"] == uri
    assert body["flip"]["feature"] == "tenure" and body["flip"]["flip"]["new_class"] == "churn"


def test_the_row_alone_shows_its_prediction(package: tuple[str, Pipeline]) -> None:
    result = invoke(package[0], "--row", json.dumps(ROW))
    assert result.exit_code == 0, result.output
    table = result.stdout.splitlines()[1:]
    assert [line.split()[:2] for line in table if "original" in line] == [["original", "stay"]]
    assert len([line for line in table if line.strip()]) == 3  # header, rule, the row
    assert "Vary features with --set" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "Error: Give the row with --row"),
        (("--row", "{age: 1}"), "Error: --row must hold a JSON object of input values"),
        (("--row", "[1, 2]"), "got a JSON list"),
        (("--row", json.dumps(ROW), "--set", "tenure"), "Error: --set takes FEATURE=V1,V2"),
        (("--row", json.dumps(ROW), "--set", "tenur=1"), "Did you mean 'tenure'?"),
        (("--row", json.dumps({"plan": "pro"})), "lacks the model's input(s) 'tenure'"),
        (("--row", json.dumps(ROW), "--set", "tenure=soon"), "'tenure' must be numeric"),
        (("--row-file", "nowhere.json"), "--row-file 'nowhere.json' is not a file"),
    ],
)
def test_user_errors_print_one_error_line(
    package: tuple[str, Pipeline], args: tuple[str, ...], message: str
) -> None:
    result = invoke(package[0], *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert result.stderr.startswith("Error: ")
    assert "Traceback" not in result.output


def test_flip_on_a_regressor_says_why_not() -> None:
    X = pd.DataFrame({"x": np.arange(10.0)})
    with steward.start_run(capture_environment_info=False):
        steward.log_model(
            LinearRegression().fit(X, 2 * X["x"]), input_example=X, registered_model_name="lin"
        )
    result = invoke("models:/lin/1", "--row", '{"x": 1}', "--set", "x=2,3", "--flip", "x")
    assert result.exit_code == 2
    assert "this model is a regression model" in result.stderr
    ok = invoke("models:/lin/1", "--row", '{"x": 1}', "--set", "x=2,3")
    assert ok.exit_code == 0 and "score prediction" in ok.stdout


def test_unknown_model_is_not_found() -> None:
    result = invoke("models:/nothing/1", "--row", json.dumps(ROW))
    assert result.exit_code == 3
    assert result.stderr.startswith("Error: ")


def _registered() -> bool:
    return "whatif" in typer.main.get_command(steward_app).list_commands(  # type: ignore[attr-defined]
        typer.Context(typer.main.get_command(steward_app))
    )


@pytest.mark.skipif(
    not _registered(), reason="`steward whatif` is not registered in cli/_app.py yet"
)
def test_steward_whatif_is_a_command(model: Pipeline) -> None:
    result = CliRunner().invoke(
        steward_app,
        ["whatif", "models:/churn/1", "--row", json.dumps(ROW), "--set", "tenure=45"],
        env={"COLUMNS": "120"},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "churn ←" in result.stdout
    missing = CliRunner().invoke(steward_app, ["whatif", "models:/churn/1"])
    assert missing.exit_code == 2 and "Error: Give the row" in missing.stderr
