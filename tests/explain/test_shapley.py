"""Shapley values: they add up to the model's output, tree models get exact TreeSHAP in their
input columns, other models the model-agnostic explainer, and one prediction is a cached call."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xgboost
from sklearn.compose import make_column_transformer
from sklearn.decomposition import PCA
from sklearn.ensemble import (
    GradientBoostingClassifier,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import steward
from steward.errors import InvalidInput
from steward.explain import _shapley
from steward.explain._shap_engines import load_shap
from steward.explain._shap_figures import importance_figure, prediction_figure, summary_figure
from steward.explain._shapley import (
    PredictionExplanation,
    cached_explainer,
    clear_explainer_cache,
    explain_prediction,
    global_importance,
    make_explainer,
)

FEATURES = ["age", "income", "visits", "plan", "region"]


def _data(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, n),
            "income": rng.normal(50.0, 12.0, n),
            "visits": rng.poisson(3, n),
            "plan": rng.choice(["basic", "plus", "pro"], n),
            "region": rng.choice(["north", "south", "east"], n),
        }
    )
    logit = 0.08 * (frame["age"] - 45) + 0.05 * (frame["income"] - 50)
    logit += frame["plan"].map({"basic": -1.0, "plus": 0.0, "pro": 1.5})
    frame["churn"] = (logit + rng.normal(0, 1, n) > 0).astype(int)
    frame["tier"] = np.digitize(logit + rng.normal(0, 1, n), [-1.0, 1.0])  # three classes
    return frame


def _pipeline(estimator: object) -> Pipeline:
    prep = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), ["plan", "region"]),
        (StandardScaler(), ["age", "income", "visits"]),
    )
    return make_pipeline(prep, estimator)


class Scorecard:
    """A hand-written model (the python flavor): points for age and plan."""

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        points = frame["age"] * 0.5 + frame["plan"].map({"basic": 0, "plus": 5, "pro": 20})
        return np.asarray(points + 0.1 * frame["income"] * (frame["plan"] == "pro"), dtype=float)


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return _data()


@pytest.fixture(scope="module")
def X(data: pd.DataFrame) -> pd.DataFrame:
    return data[FEATURES]


@pytest.fixture(scope="module")
def forest(X: pd.DataFrame, data: pd.DataFrame) -> Pipeline:
    return _pipeline(RandomForestClassifier(n_estimators=30, random_state=0)).fit(X, data["churn"])


@pytest.fixture(scope="module")
def boosted(X: pd.DataFrame, data: pd.DataFrame) -> Pipeline:
    model = GradientBoostingClassifier(n_estimators=30, random_state=0)
    return _pipeline(model).fit(X, data["churn"])


@pytest.fixture(scope="module")
def logistic(X: pd.DataFrame, data: pd.DataFrame) -> Pipeline:
    return _pipeline(LogisticRegression(max_iter=500)).fit(X, data["churn"])


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    clear_explainer_cache()
    yield
    clear_explainer_cache()


def _proba(model: Any, rows: pd.DataFrame) -> np.ndarray:
    return np.asarray(model.predict_proba(rows))[:, 1]


@pytest.mark.parametrize("name", ["forest", "boosted"])
def test_tree_pipeline_values_add_up_to_the_probability(
    name: str, X: pd.DataFrame, request: pytest.FixtureRequest
) -> None:
    model = request.getfixturevalue(name)
    explainer = make_explainer(model, X)
    explanation = explainer.explain(X.head(40))
    assert explainer.settings.explainer == "tree"
    assert list(explanation.values.columns) == FEATURES  # input columns, not one-hot ones
    total = explanation.base_values + explanation.values.sum(axis=1)
    np.testing.assert_allclose(total, _proba(model, X.head(40)), rtol=0, atol=1e-6)
    np.testing.assert_allclose(explanation.output, _proba(model, X.head(40)), rtol=0, atol=1e-12)
    assert explanation.additivity_error() < 1e-6
    assert explanation.settings.output == "probability of class 1"
    assert "summed back into their input columns" in explanation.settings.reason


def test_one_hot_columns_sum_into_their_input_column(forest: Pipeline, X: pd.DataFrame) -> None:
    shap = load_shap()
    prep, tree = forest[:-1], forest[-1]
    direct = shap.TreeExplainer(tree).shap_values(prep.transform(X.head(10)))[:, :, 1]
    names = list(prep.get_feature_names_out())
    ours = make_explainer(forest).explain(X.head(10)).values
    for column in FEATURES:
        parts = [i for i, n in enumerate(names) if n.split("__")[1].startswith(column)]
        np.testing.assert_allclose(ours[column], direct[:, parts].sum(axis=1), atol=1e-12)


def test_forest_needs_no_background_and_boosted_records_it(
    forest: Pipeline, boosted: Pipeline, X: pd.DataFrame
) -> None:
    path = make_explainer(forest, X).settings
    assert path.method == "tree_path_dependent" and path.background_rows == 0
    assert path.background_sha256 is None
    inter = make_explainer(boosted, X, max_background=50, seed=1).settings
    assert inter.method == "interventional" and inter.background_rows == 50 and inter.seed == 1
    assert (
        inter.background_sha256
        == make_explainer(boosted, X, max_background=50, seed=1).settings.background_sha256
    )
    other = make_explainer(boosted, X, max_background=50, seed=2).settings.background_sha256
    assert other != inter.background_sha256
    assert inter.shap_version == load_shap().__version__ and inter.flavor == "sklearn"
    with pytest.raises(InvalidInput, match="background"):
        make_explainer(boosted)  # its probability is only explained against a background


def test_xgboost_values_add_up_to_the_probability(X: pd.DataFrame, data: pd.DataFrame) -> None:
    numeric = X[["age", "income", "visits"]]
    model = xgboost.XGBClassifier(n_estimators=30, max_depth=3).fit(numeric, data["churn"])
    explainer = make_explainer(model, numeric)
    explanation = explainer.explain(numeric.head(40))
    assert explainer.settings.explainer == "tree" and explainer.settings.flavor == "xgboost"
    total = explanation.base_values + explanation.values.sum(axis=1)
    np.testing.assert_allclose(total, _proba(model, numeric.head(40)), rtol=0, atol=1e-6)


def test_regression_forest_adds_up_to_the_prediction(X: pd.DataFrame, data: pd.DataFrame) -> None:
    model = _pipeline(RandomForestRegressor(n_estimators=20, random_state=0)).fit(X, data["income"])
    explanation = make_explainer(model).explain(X.head(20))
    assert explanation.settings.output == "prediction"
    total = explanation.base_value + explanation.values.sum(axis=1)
    np.testing.assert_allclose(total, model.predict(X.head(20)), rtol=1e-9)


def test_non_tree_model_gets_the_agnostic_explainer(logistic: Pipeline, X: pd.DataFrame) -> None:
    explainer = make_explainer(logistic, X)
    settings = explainer.settings
    assert settings.explainer == "kernel"
    assert settings.reason.startswith("flavor sklearn has no tree structure (LogisticRegression)")
    assert "model-agnostic kernel explainer" in settings.reason
    assert settings.background_rows == 100 and settings.background_sha256 is not None
    explanation = explainer.explain(X.head(10))
    total = explanation.base_values + explanation.values.sum(axis=1)
    np.testing.assert_allclose(total, _proba(logistic, X.head(10)), atol=1e-6)
    # the categorical columns were mixed as values, not as numbers: "pro" matters most
    pro = X.head(10)["plan"] == "pro"
    assert (explanation.values.loc[pro, "plan"] > 0).all()


@pytest.mark.slow  # numba compiles shap's permutation masking once per process: ~10 s
def test_custom_python_model_with_the_permutation_explainer(X: pd.DataFrame) -> None:
    explainer = make_explainer(Scorecard(), X, algorithm="permutation", max_background=20)
    assert explainer.settings.flavor == "python"
    assert explainer.settings.explainer == "permutation"
    assert explainer.settings.output == "prediction"
    explanation = explainer.explain(X.head(3))
    total = explanation.base_values + explanation.values.sum(axis=1)
    np.testing.assert_allclose(total, Scorecard().predict(X.head(3)), atol=1e-6)
    assert (explanation.values["visits"] == 0).all()  # the model never reads it
    auto = make_explainer(Scorecard(), X)
    assert auto.settings.reason.startswith("flavor python has no tree structure (Scorecard)")
    assert "model-agnostic" in auto.settings.reason


def test_nested_steps_imputers_and_unused_columns_map_back(
    X: pd.DataFrame, data: pd.DataFrame
) -> None:
    holes = X.copy()
    holes.loc[holes.index[::7], "income"] = np.nan
    holes.loc[holes.index[::5], "plan"] = None
    prep = make_column_transformer(
        (make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder()), ["plan"]),
        (SimpleImputer(add_indicator=True), ["income", "age"]),
        remainder="drop",  # visits and region are not used
    )
    model = make_pipeline(prep, GradientBoostingClassifier(n_estimators=20, random_state=0))
    model.fit(holes, data["churn"])
    explainer = make_explainer(model, holes)
    assert explainer.settings.method == "interventional"
    explanation = explainer.explain(holes.head(30))
    np.testing.assert_allclose(
        explanation.base_values + explanation.values.sum(axis=1),
        _proba(model, holes.head(30)),
        atol=1e-6,
    )
    assert (explanation.values[["visits", "region"]] == 0).all().all()
    # the same rows through the model-agnostic explainer, missing values and all
    kernel = make_explainer(model, holes, algorithm="kernel").explain(holes.head(10))
    assert kernel.settings.explainer == "kernel" and kernel.additivity_error() < 1e-9
    assert (kernel.values[["visits", "region"]].abs() < 1e-12).all().all()


def test_pipeline_that_mixes_columns_falls_back(X: pd.DataFrame, data: pd.DataFrame) -> None:
    prep = make_column_transformer((StandardScaler(), ["age", "income", "visits"]))
    model = make_pipeline(prep, PCA(2), RandomForestClassifier(n_estimators=10, random_state=0))
    numeric = X[["age", "income", "visits"]]
    model.fit(numeric, data["churn"])
    explainer = make_explainer(model, numeric)
    assert explainer.settings.explainer != "tree"
    assert "mix input columns" in explainer.settings.reason
    assert explainer.explain(numeric.head(5)).additivity_error() < 1e-6
    with pytest.raises(InvalidInput, match="algorithm='tree' is not possible"):
        make_explainer(model, numeric, algorithm="tree")


def test_multi_class_explains_the_predicted_class(X: pd.DataFrame, data: pd.DataFrame) -> None:
    model = _pipeline(RandomForestClassifier(n_estimators=20, random_state=0)).fit(X, data["tier"])
    explanation = make_explainer(model).explain(X.head(30))
    proba = model.predict_proba(X.head(30))
    assert explanation.explained_class is not None and explanation.by_class is not None
    assert list(explanation.explained_class) == list(model.predict(X.head(30)))
    np.testing.assert_allclose(explanation.output, proba.max(axis=1))
    assert explanation.additivity_error() < 1e-6
    assert sorted(explanation.by_class) == [0, 1, 2]
    assert explanation.class_base_values is not None
    for j, label in enumerate(model.classes_):  # every class adds up to its probability
        total = explanation.class_base_values[label] + explanation.by_class[label].sum(axis=1)
        np.testing.assert_allclose(total, proba[:, j], atol=1e-6)
    with pytest.raises(InvalidInput, match="base_values"):
        _ = explanation.base_value


def test_explain_prediction_is_additive_sorted_and_cached(
    forest: Pipeline, X: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    row = X.iloc[3].to_dict()
    first = explain_prediction(forest, row)
    assert isinstance(first, PredictionExplanation)
    expected = _proba(forest, X.iloc[[3]])[0]
    assert abs(first.base_value + first.contributions["contribution"].sum() - expected) < 1e-6
    assert first.output == pytest.approx(expected, abs=1e-9)
    assert first.prediction == forest.predict(X.iloc[[3]])[0]
    sizes = first.contributions["contribution"].abs().to_numpy()
    assert list(sizes) == sorted(sizes, reverse=True)
    assert list(first.contributions.columns) == ["feature", "value", "contribution"]

    built: list[object] = []
    monkeypatch.setattr(_shapley, "make_explainer", lambda *a, **k: built.append(a))
    again = explain_prediction(forest, X.iloc[[3]])  # a one-row DataFrame works too
    assert built == []  # the cached explainer was reused, nothing rebuilt
    assert cached_explainer(forest) is cached_explainer(forest)
    pd.testing.assert_frame_equal(again.contributions, first.contributions)
    body = again.to_dict()
    assert body["settings"]["explainer"] == "tree" and len(body["contributions"]) == 5


def test_explain_prediction_of_an_agnostic_model(logistic: Pipeline, X: pd.DataFrame) -> None:
    row = X.iloc[0].to_dict()
    result = explain_prediction(logistic, row, background=X)
    expected = _proba(logistic, X.head(1))[0]
    assert result.base_value + result.contributions["contribution"].sum() == pytest.approx(expected)
    assert result.settings.explainer == "kernel"
    with pytest.raises(InvalidInput, match="needs a background sample"):
        explain_prediction(logistic, row)


def test_registered_model_through_its_uri(X: pd.DataFrame, data: pd.DataFrame) -> None:
    pipe = _pipeline(RandomForestClassifier(n_estimators=10, random_state=0)).fit(X, data["churn"])
    with steward.start_run(capture_environment_info=False):
        steward.log_model(pipe, input_example=X, registered_model_name="m")
    steward.set_alias("m", "champion", 1)
    result = explain_prediction("models:/m/1", X.iloc[0].to_dict())
    assert result.settings.model == "models:/m/1" and result.settings.flavor == "sklearn"
    assert result.base_value + result.contributions["contribution"].sum() == pytest.approx(
        _proba(pipe, X.head(1))[0], abs=1e-6
    )
    assert cached_explainer("models:/m@champion") is cached_explainer("models:/m/1")
    explanation = make_explainer("models:/m/1").explain(X.head(20))
    assert explanation.additivity_error() < 1e-6


def test_global_importance_and_figures(boosted: Pipeline, X: pd.DataFrame) -> None:
    importance = global_importance(boosted, X, max_rows=60)
    assert list(importance.columns) == ["feature", "mean_abs_shap"]
    assert sorted(importance["feature"]) == sorted(FEATURES)
    assert importance["mean_abs_shap"].is_monotonic_decreasing
    assert importance.attrs["settings"]["explainer"] == "tree"
    assert importance["feature"].iloc[0] in {"age", "plan", "income"}  # the signal, not noise

    explanation = make_explainer(boosted, X).explain(X.head(30))
    bars = importance_figure(importance, top=3)
    assert list(bars.data[0].y) == list(importance["feature"].head(3))[::-1]
    swarm = summary_figure(explanation)
    assert len(swarm.data[0].x) == 30 * len(FEATURES)
    top = explanation.top(2, row=4)
    assert len(top) == 2 and top["contribution"].abs().iloc[0] >= top["contribution"].abs().iloc[1]
    waterfall = prediction_figure(
        explain_prediction(boosted, X.iloc[4].to_dict(), background=X), top=2
    )
    assert list(waterfall.data[0].measure) == [
        "absolute",
        "relative",
        "relative",
        "relative",
        "total",
    ]


def test_bad_inputs_give_clear_errors(forest: Pipeline, X: pd.DataFrame) -> None:
    with pytest.raises(InvalidInput, match="lacks the model's feature column"):
        make_explainer(forest).explain(X.drop(columns=["plan"]))
    with pytest.raises(InvalidInput, match="no rows"):
        make_explainer(forest).explain(X.head(0))
    with pytest.raises(InvalidInput, match="explains one row; got 2 rows"):
        explain_prediction(forest, X.head(2))
    with pytest.raises(InvalidInput, match="takes a dict, a Series or a one-row DataFrame"):
        explain_prediction(forest, [1, 2, 3])
    with pytest.raises(InvalidInput, match=r"lacks the model's feature column.*'visits'"):
        explain_prediction(forest, {k: v for k, v in X.iloc[0].items() if k != "visits"})
    with pytest.raises(InvalidInput, match="out of range"):
        make_explainer(forest).explain(X.head(2)).to_frame(5)
    with pytest.raises(InvalidInput, match="must be a DataFrame, a data file or a dataset name"):
        make_explainer(forest, object())
    with pytest.raises(InvalidInput, match="Cannot explain a list"):
        make_explainer([1, 2], X)
