"""steward.autolog() for scikit-learn."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import steward
from steward._backend import Backend


@pytest.fixture
def autologging() -> Iterator[None]:
    steward.autolog()
    yield
    steward.autolog(disable=True)


def test_fit_starts_a_run_with_params_metrics_and_model(
    backend: Backend, autologging: None
) -> None:
    X, y = load_iris(return_X_y=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)).fit(X, y)
    runs = steward.search_runs(output="runs")
    assert len(runs) == 1  # the pipeline's steps are not logged as runs of their own
    run = runs[0]
    assert run.status == "FINISHED" and run.tags["estimator_class"] == "sklearn.pipeline.Pipeline"
    assert run.params["logisticregression__max_iter"] == "300"
    assert run.metrics["training_accuracy"].value == pytest.approx(model.score(X, y))
    assert 0.9 < run.metrics["training_roc_auc"].value <= 1.0
    restored = steward.load_model(f"runs:/{run.id}/model")
    assert restored.manifest.flavor == "sklearn" and restored.signature is None  # fitted on arrays
    assert (restored.predict(X) == model.predict(X)).all()


def test_fit_inside_a_run_logs_to_it_and_metrics_do_not_log(
    backend: Backend, autologging: None
) -> None:
    X, y = load_iris(return_X_y=True)
    with steward.start_run("mine") as run:
        search = GridSearchCV(
            RandomForestRegressor(n_estimators=5, random_state=0), {"max_depth": [2, 3]}, cv=2
        )
        search.fit(X, y)
        roc_auc_score(y == 0, X[:, 0])  # fits a LabelEncoder internally: must not be logged
    runs = steward.search_runs(output="runs")
    assert [r.id for r in runs] == [run.id]
    stored = steward.get_run(run.id)
    assert stored.tags["estimator_class"].endswith("GridSearchCV")
    assert (
        "training_r2" in stored.metrics and stored.params["param_grid"] == "{'max_depth': [2, 3]}"
    )


def test_disable_restores_plain_fit(backend: Backend) -> None:
    steward.autolog()
    steward.autolog(disable=True)
    X, y = load_iris(return_X_y=True)
    LogisticRegression(max_iter=300).fit(X, y)
    assert steward.search_runs().empty
