"""What MLflow users type first works the same here: names, keywords, result attributes."""

from __future__ import annotations

import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

import steward
from steward._backend import Backend
from steward.errors import InvalidInput


def test_an_mlflow_tutorial_runs_unchanged_but_for_the_module_name(backend: Backend) -> None:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=3000).fit(X, y)
    steward.set_experiment(experiment_name="cancer")
    with steward.start_run(run_name="logreg") as run:
        steward.log_params({"max_iter": 3000, "solver": "lbfgs"})
        steward.log_metric("accuracy", model.score(X, y))
        steward.set_tag("team", "risk")
        steward.set_tags({"stage": "dev", "owner": "ana"})
        signature = steward.infer_signature(X, model.predict(X))
        info = steward.log_model(
            model, artifact_path="classifier", signature=signature, input_example=X.head()
        )
    assert run.info.run_id == run.id and run.info.run_name == "logreg"
    assert info.model_uri == info.uri == f"runs:/{run.id}/classifier"
    assert info.registered_model_version is None
    assert signature.output.task == "classification" and signature.output.classes == [0, 1]

    version = steward.register_model(info.model_uri, "cancer")
    assert (version.name, version.version) == ("cancer", 1)
    loaded = steward.load_model(f"models:/{version.name}/{version.version}")
    assert (loaded.predict(X.head(20)) == model.predict(X.head(20))).all()

    fetched = steward.get_run(run.info.run_id)
    assert fetched.data.metrics["accuracy"] == pytest.approx(model.score(X, y))
    assert fetched.data.params == {"max_iter": "3000", "solver": "lbfgs"}
    assert fetched.data.tags["team"] == "risk" and fetched.data.tags["owner"] == "ana"

    frame = steward.search_runs(filter_string="metrics.accuracy > 0.9", experiment_names=["cancer"])
    assert isinstance(frame, pd.DataFrame) and list(frame["run_id"]) == [run.id]
    assert frame.loc[0, "metrics.accuracy"] == pytest.approx(model.score(X, y))
    runs = steward.search_runs(filter_string="params.solver = 'lbfgs'", output_format="list")
    assert [r.run_id for r in runs] == [run.id]
    assert len(steward.search_runs(search_all_experiments=True)) == 1


def test_log_model_with_registered_model_name_gives_the_version(backend: Backend) -> None:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    with steward.start_run():
        info = steward.log_model(
            LogisticRegression(max_iter=3000).fit(X, y),
            name="model",
            input_example=X,
            registered_model_name="bc",
        )
    assert info.registered_model_version == 1 and info.model_uri.endswith("/model")


def test_both_spellings_of_one_parameter_must_agree(backend: Backend) -> None:
    with pytest.raises(InvalidInput, match="Pass either name= or run_name="):
        steward.start_run("a", run_name="b")
    with steward.start_run("same", run_name="same") as run:
        assert run.name == "same"
    with pytest.raises(InvalidInput, match="either filter= or filter_string="):
        steward.search_runs("metrics.a > 1", filter_string="metrics.b > 1")
    with pytest.raises(InvalidInput, match="'pandas' or 'list'"):
        steward.search_runs(output_format="arrow")  # type: ignore[call-overload]
    with pytest.raises(InvalidInput, match="needs the experiment's name"):
        steward.set_experiment()


def test_predictions_given_to_infer_signature_describe_the_output() -> None:
    X = pd.DataFrame({"x": [0.5, 1.5, 2.5, 3.5]})
    assert steward.infer_signature(X, [0.1, 2.7, 3.3, 9.9]).output.task == "regression"
    labels = steward.infer_signature(X, pd.Series(["no", "yes", "yes", "no"])).output
    assert labels.task == "classification" and labels.classes == ["no", "yes"]
    with pytest.raises(InvalidInput, match="the fitted model or its predictions"):
        steward.infer_signature(X, object())
