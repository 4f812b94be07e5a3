"""Partial dependence and ICE: equal to scikit-learn's, on estimators and on registered models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.inspection import partial_dependence as sk_partial_dependence
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeRegressor

import steward
from steward.errors import InvalidInput
from steward.explain._pdp import PartialDependence, partial_dependence

PLANS = ["basic", "plus", "pro"]


def _data(n: int = 240, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, n),  # integers: varied as floats
            "income": rng.normal(50.0, 12.0, n),
            "plan": rng.choice(PLANS, n),
        }
    )
    logit = 0.08 * (frame["age"] - 45) + 0.05 * (frame["income"] - 50)
    logit += frame["plan"].map({"basic": -1.0, "plus": 0.0, "pro": 1.5})
    frame["churn"] = (logit + rng.normal(0, 1, n) > 0).astype(int)
    return frame


def _pipeline(estimator: object) -> Pipeline:
    features = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), ["plan"]),
        (StandardScaler(), ["age", "income"]),
    )
    return make_pipeline(features, estimator)


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return _data()


@pytest.fixture(scope="module")
def X(data: pd.DataFrame) -> pd.DataFrame:
    return data[["age", "income", "plan"]]


@pytest.fixture(scope="module")
def classifier(X: pd.DataFrame, data: pd.DataFrame) -> Pipeline:
    return _pipeline(LogisticRegression(max_iter=500)).fit(X, data["churn"])


def _sklearn(model: object, X: pd.DataFrame, features: list[str], **options: object) -> object:
    """scikit-learn's own answer, with integer columns as floats (which it requires)."""
    return sk_partial_dependence(
        model,
        X.astype({c: float for c in X.columns if pd.api.types.is_integer_dtype(X[c])}),
        features,
        method="brute",
        **{"grid_resolution": 50, **options},
    )


def test_numeric_feature_equals_scikit_learn(classifier: Pipeline, X: pd.DataFrame) -> None:
    ours = partial_dependence(classifier, X, "income", kind="both")
    theirs = _sklearn(classifier, X, ["income"], kind="both")
    np.testing.assert_array_equal(ours.grid[0], theirs["grid_values"][0])
    np.testing.assert_array_equal(ours.average, theirs["average"])
    assert ours.individual is not None
    np.testing.assert_array_equal(ours.individual, theirs["individual"])
    assert ours.outputs == ["P(1)"]  # binary: the probability of the positive class
    assert ours.categorical == (False,)
    assert ours.average.shape == (1, 50)
    assert ours.individual.shape == (1, len(X), 50)


def test_integer_feature_equals_scikit_learn_on_floats(
    classifier: Pipeline, X: pd.DataFrame
) -> None:
    ours = partial_dependence(classifier, X, "age", grid_resolution=20, percentiles=(0.1, 0.9))
    theirs = sk_partial_dependence(
        classifier,
        X.astype({"age": float}),
        ["age"],
        grid_resolution=20,
        percentiles=(0.1, 0.9),
        method="brute",
    )
    np.testing.assert_array_equal(ours.grid[0], theirs["grid_values"][0])
    np.testing.assert_array_equal(ours.average, theirs["average"])
    assert ours.individual is None
    assert (ours.grid_resolution, ours.percentiles) == (20, (0.1, 0.9))


def test_categorical_feature_equals_scikit_learn(classifier: Pipeline, X: pd.DataFrame) -> None:
    ours = partial_dependence(classifier, X, "plan", kind="both")
    theirs = _sklearn(classifier, X, ["plan"], kind="both", categorical_features=["plan"])
    assert list(ours.grid[0]) == PLANS
    assert ours.categorical == (True,)
    np.testing.assert_array_equal(ours.average, theirs["average"])
    np.testing.assert_array_equal(ours.individual, theirs["individual"])
    assert ours.average[0, 2] > ours.average[0, 0]  # "pro" churns more than "basic"


def test_two_way_equals_scikit_learn(classifier: Pipeline, X: pd.DataFrame) -> None:
    ours = partial_dependence(classifier, X, ("age", "plan"), grid_resolution=10)
    theirs = sk_partial_dependence(
        classifier,
        X.astype({"age": float}),
        ["age", "plan"],
        categorical_features=["plan"],
        grid_resolution=10,
        method="brute",
    )
    assert ours.average.shape == (1, 10, 3)
    np.testing.assert_array_equal(ours.average, theirs["average"])
    table = ours.to_frame()
    assert list(table.columns) == ["age", "plan", "output", "average"]
    assert len(table) == 30
    row = table[(table["plan"] == "pro")].iloc[4]
    assert row["average"] == ours.average[0, 4, 2]
    assert row["age"] == ours.grid[0][4]


def test_ice_lines_average_to_the_curve(classifier: Pipeline, X: pd.DataFrame) -> None:
    result = partial_dependence(classifier, X, "income", kind="individual")
    assert result.individual is not None
    np.testing.assert_allclose(result.individual.mean(axis=1), result.average, rtol=1e-12)
    lines = result.to_frame(individual=True)
    assert list(lines.columns) == ["row", "income", "output", "individual"]
    assert len(lines) == len(X) * 50
    one = lines[lines["row"] == X.index[7]]
    np.testing.assert_array_equal(one["individual"], result.individual[0, 7])
    np.testing.assert_array_equal(one["income"], result.grid[0])
    with pytest.raises(InvalidInput, match="no ICE lines"):
        partial_dependence(classifier, X, "income").to_frame(individual=True)


def test_regressor_equals_scikit_learn_by_brute_force(X: pd.DataFrame) -> None:
    y = 2.0 * X["income"] + X["age"]
    numeric = X[["age", "income"]]
    tree = DecisionTreeRegressor(max_depth=4, random_state=0).fit(numeric, y)
    ours = partial_dependence(tree, numeric, "income", kind="both")
    theirs = _sklearn(tree, numeric, ["income"], kind="both")
    np.testing.assert_array_equal(ours.average, theirs["average"])
    assert ours.outputs == ["prediction"]
    with pytest.raises(InvalidInput, match="applies to classifiers"):
        partial_dependence(tree, numeric, "income", target_class=1)


def test_multiclass_gives_a_curve_per_class_or_the_chosen_one(X: pd.DataFrame) -> None:
    y = X["plan"]
    numeric = X[["age", "income"]]
    model = LogisticRegression(max_iter=1000).fit(numeric, y)
    every = partial_dependence(model, numeric, "age", grid_resolution=8)
    theirs = _sklearn(model, numeric, ["age"], kind="average", grid_resolution=8)
    assert every.outputs == ["P(basic)", "P(plus)", "P(pro)"]
    np.testing.assert_array_equal(every.average, theirs["average"])
    one = partial_dependence(model, numeric, "age", grid_resolution=8, target_class="pro")
    assert one.outputs == ["P(pro)"]
    np.testing.assert_array_equal(one.average, every.average[2:3])
    with pytest.raises(InvalidInput, match="Did you mean 'pro'"):
        partial_dependence(model, numeric, "age", target_class="prp")


def test_binary_target_class_is_the_complement(classifier: Pipeline, X: pd.DataFrame) -> None:
    positive = partial_dependence(classifier, X, "income")
    negative = partial_dependence(classifier, X, "income", target_class=0)
    assert negative.outputs == ["P(0)"]
    np.testing.assert_allclose(negative.average, 1 - positive.average)


def test_rows_above_max_rows_are_sampled_with_the_seed(
    classifier: Pipeline, X: pd.DataFrame
) -> None:
    result = partial_dependence(classifier, X, "income", max_rows=100, seed=3, kind="both")
    assert (result.rows, result.total_rows, result.sampled) == (100, len(X), True)
    assert "100 of 240 rows" in result.note and "seed 3" in result.note
    sample = X.sample(n=100, random_state=3)
    assert list(result.row_index) == list(sample.index)
    np.testing.assert_array_equal(
        result.average, _sklearn(classifier, sample, ["income"], kind="average")["average"]
    )
    other = partial_dependence(classifier, X, "income", max_rows=100, seed=4)
    assert list(other.row_index) != list(result.row_index)
    whole = partial_dependence(classifier, X, "income")
    assert not whole.sampled and whole.note == "Averaged over all 240 rows."


def test_registered_model_on_a_registered_dataset(data: pd.DataFrame, X: pd.DataFrame) -> None:
    pipe = _pipeline(LogisticRegression(max_iter=500)).fit(X, data["churn"])
    steward.register_dataset(data, "d")
    with steward.start_run(capture_environment_info=False):
        steward.log_model(pipe, input_example=X, registered_model_name="m")
    result = partial_dependence("models:/m/1", "d", "age")
    assert result.model == "models:/m/1"
    np.testing.assert_array_equal(result.average, _sklearn(pipe, X, ["age"])["average"])
    by_version = partial_dependence("models:/m/1", "d@1", "plan")
    assert by_version.categorical == (True,)  # the signature says so
    # "churn" is in the dataset but is the target, not an input of the model
    with pytest.raises(InvalidInput, match="'churn' is in the data but is not an input"):
        partial_dependence("models:/m/1", "d", "churn")


def test_figures(classifier: Pipeline, X: pd.DataFrame) -> None:
    numeric = partial_dependence(classifier, X, "income", kind="both").figure()
    kinds = [trace.type for trace in numeric.data]
    assert kinds == ["scatter"] * 101  # 100 ICE lines drawn of 240, and the average
    assert numeric.data[-1].name == "average P(1)"
    assert any("100 of 240 ICE lines" in (a.text or "") for a in numeric.layout.annotations)
    only_ice = partial_dependence(classifier, X, "income", kind="individual").figure(
        max_ice_lines=5
    )
    assert len(only_ice.data) == 5
    bars = partial_dependence(classifier, X, "plan").figure()
    assert [t.type for t in bars.data] == ["bar"]
    assert list(bars.data[0].x) == PLANS
    heat = partial_dependence(classifier, X, ("age", "income"), grid_resolution=5).figure()
    assert [t.type for t in heat.data] == ["heatmap"]
    assert np.asarray(heat.data[0].z).shape == (5, 5)


def test_two_way_figure_of_a_multiclass_model_needs_an_output(X: pd.DataFrame) -> None:
    numeric = X[["age", "income"]]
    model = LogisticRegression(max_iter=1000).fit(numeric, X["plan"])
    result = partial_dependence(model, numeric, ("age", "income"), grid_resolution=4)
    with pytest.raises(InvalidInput, match="choose it with figure"):
        result.figure()
    assert [t.type for t in result.figure(output="plus").data] == ["heatmap"]
    assert result.figure(output="P(pro)").data[0].colorbar.title.text == "P(pro)"
    with pytest.raises(InvalidInput, match="Did you mean 'P\\(plus\\)'"):
        result.figure(output="P(plsu)")
    lines = partial_dependence(model, numeric, "age", grid_resolution=4).figure()
    assert [t.name for t in lines.data] == ["average P(basic)", "average P(plus)", "average P(pro)"]


def test_errors_say_what_to_do(classifier: Pipeline, X: pd.DataFrame) -> None:
    with pytest.raises(
        InvalidInput, match=r"feature 'agee' is not in the data\. Did you mean 'age'"
    ):
        partial_dependence(classifier, X, "agee")
    with pytest.raises(InvalidInput, match=r"one feature .* or a pair"):
        partial_dependence(classifier, X, ("age", "income", "plan"))
    with pytest.raises(InvalidInput, match="averaged only"):
        partial_dependence(classifier, X, ("age", "income"), kind="both")
    with pytest.raises(InvalidInput, match="'kind' must be one of"):
        partial_dependence(classifier, X, "age", kind="mean")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="lacks the model's feature column"):
        partial_dependence(classifier, X.drop(columns="plan"), "age")
    with pytest.raises(InvalidInput, match=r"could not compute .*percentiles\[0\] must be"):
        partial_dependence(classifier, X, "income", percentiles=(0.9, 0.1))


class _NotAnEstimator:
    feature_names_in_ = np.array(["age", "income"])

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(frame["age"] * 2.0)


def test_a_model_scikit_learn_cannot_inspect_is_refused_clearly(X: pd.DataFrame) -> None:
    with pytest.raises(InvalidInput, match="could not compute the partial dependence on age"):
        partial_dependence(_NotAnEstimator(), X, "age")


def test_the_result_repr_is_short(classifier: Pipeline, X: pd.DataFrame) -> None:
    result = partial_dependence(classifier, X, "income", kind="both")
    assert isinstance(result, PartialDependence)
    assert len(repr(result)) < 400


def test_a_model_logged_without_signature_uses_the_estimator_feature_names(
    data: pd.DataFrame, classifier: Pipeline, X: pd.DataFrame
) -> None:
    with steward.start_run(capture_environment_info=False):
        steward.log_model(classifier, registered_model_name="unsigned")
    # the data holds the target too: only the estimator's own inputs reach it
    result = partial_dependence("models:/unsigned/1", data, "income")
    np.testing.assert_array_equal(result.average, _sklearn(classifier, X, ["income"])["average"])
