"""What-if variations and the smallest change that flips a classifier's decision."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder

import steward
from steward.errors import InvalidInput
from steward.explain._whatif import smallest_flip, what_if
from steward.registry._signature import SignatureError, UnseenCategoryWarning


@pytest.fixture(scope="module")
def numeric() -> tuple[pd.DataFrame, LogisticRegression]:
    """Two numeric features and a logistic regression whose boundary is a known line."""
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"x1": rng.uniform(0, 10, 400), "x2": rng.uniform(-5, 5, 400)})
    y = (X["x1"] + 0.5 * X["x2"] + rng.normal(0, 1, 400) > 5).astype(int)
    return X, LogisticRegression().fit(X, y)


def _boundary(model: LogisticRegression, x2: float) -> float:
    """The x1 where w1*x1 + w2*x2 + b = 0: P(1) is one half there."""
    (w1, w2), b = model.coef_[0], model.intercept_[0]
    return float(-(b + w2 * x2) / w1)


@pytest.fixture(scope="module")
def plans() -> tuple[pd.DataFrame, Pipeline]:
    """A categorical feature that decides: 'pro' churns, others mostly do not."""
    rng = np.random.default_rng(2)
    n = 300
    X = pd.DataFrame(
        {
            "plan": rng.choice(["basic", "plus", "pro", "team"], n),
            "tenure": rng.integers(0, 60, n),
        }
    )
    logit = X["plan"].map({"basic": -3.0, "plus": -1.5, "pro": 3.0, "team": 2.0}) + 0.01 * (
        X["tenure"] - 30
    )
    y = np.where(logit + rng.normal(0, 0.5, n) > 0, "churn", "stay")
    encode = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), ["plan"]), remainder="passthrough"
    )
    return X, make_pipeline(encode, LogisticRegression(max_iter=1000)).fit(X, y)


def test_a_sweep_has_the_predictions_the_model_gives(
    numeric: tuple[pd.DataFrame, LogisticRegression],
) -> None:
    _, model = numeric
    row = {"x1": 4.0, "x2": 1.0}
    table = what_if(model, row, {"x1": [1.0, 3.0, 5.0, 7.0, 9.0]})
    expected = pd.DataFrame({"x1": [4.0, 1.0, 3.0, 5.0, 7.0, 9.0], "x2": 1.0})
    pd.testing.assert_frame_equal(table[["x1", "x2"]], expected)
    np.testing.assert_array_equal(table["prediction"], model.predict(expected))
    np.testing.assert_array_equal(table["score"], model.predict_proba(expected)[:, 1])
    np.testing.assert_allclose(table["delta"], table["score"] - table["score"].iloc[0])
    assert table["delta"].iloc[0] == 0
    assert list(table["prediction_changed"]) == list(
        model.predict(expected) != model.predict(expected.iloc[[0]])[0]
    )
    assert table.attrs["score"] == "P(1)" and table.attrs["varied"] == ["x1"]


def test_several_features_give_every_combination(
    numeric: tuple[pd.DataFrame, LogisticRegression],
) -> None:
    _, model = numeric
    row = pd.DataFrame({"x1": [4.0], "x2": [1.0]}, index=[17])  # a one-row frame works too
    table = what_if(model, row, {"x1": [2.0, 8.0], "x2": (-3.0, 0.0, 3.0)})
    assert len(table) == 1 + 6
    assert list(zip(table["x1"], table["x2"], strict=True))[1:] == [
        (2.0, -3.0),
        (2.0, 0.0),
        (2.0, 3.0),
        (8.0, -3.0),
        (8.0, 0.0),
        (8.0, 3.0),
    ]
    np.testing.assert_array_equal(table["prediction"], model.predict(table[["x1", "x2"]]))
    one = what_if(model, row, {"x2": 0.0})  # a scalar is one value
    assert list(one["x2"]) == [1.0, 0.0]


def test_too_many_combinations_is_refused(
    numeric: tuple[pd.DataFrame, LogisticRegression],
) -> None:
    _, model = numeric
    row = {"x1": 4.0, "x2": 1.0}
    changes = {"x1": list(range(40)), "x2": list(range(30))}
    with pytest.raises(InvalidInput, match=r"make 1,200 combinations .* limit is 1,000"):
        what_if(model, row, changes)
    assert len(what_if(model, row, changes, max_combinations=1200)) == 1201


def test_a_feature_named_score_keeps_its_column(
    numeric: tuple[pd.DataFrame, LogisticRegression],
) -> None:
    X, _ = numeric
    frame = X.rename(columns={"x2": "score"})
    model = LogisticRegression().fit(frame, (frame["x1"] > 5).astype(int))
    table = what_if(model, {"x1": 4.0, "score": 2.0}, {"score": [1.0]})
    assert list(table["score"]) == [2.0, 1.0]
    assert table.attrs["columns"]["score"] == "model_score"
    np.testing.assert_array_equal(
        table["model_score"], model.predict_proba(table[["x1", "score"]])[:, 1]
    )


def test_a_regressor_scores_by_its_prediction(
    numeric: tuple[pd.DataFrame, LogisticRegression],
) -> None:
    X, _ = numeric
    model = LinearRegression().fit(X, 3 * X["x1"] - X["x2"])
    table = what_if(model, {"x1": 1.0, "x2": 0.0}, {"x1": [2.0]})
    np.testing.assert_allclose(table["score"], [3.0, 6.0])
    np.testing.assert_allclose(table["delta"], [0.0, 3.0])
    assert table.attrs["score"] == "prediction"


def test_the_flip_is_the_analytic_boundary(
    numeric: tuple[pd.DataFrame, LogisticRegression],
) -> None:
    X, model = numeric
    row = {"x1": 2.0, "x2": 1.0}
    result = smallest_flip(model, row, "x1", data=X)
    assert result.flip is not None
    exact = _boundary(model, 1.0)
    assert result.flip.value == pytest.approx(exact, abs=1e-3)
    # the class really changes across the returned value
    sides = pd.DataFrame({"x1": [result.flip.keeps, result.flip.value], "x2": 1.0})
    before, after = model.predict(sides)
    assert before == model.predict(pd.DataFrame([row]))[0] == result.original_class == 0
    assert after != before and after == result.flip.new_class == 1
    assert abs(result.flip.value - result.flip.keeps) <= 10 * 1e-6
    assert result.flip.change == pytest.approx(result.flip.value - 2.0)
    assert result.flip.probability == pytest.approx(0.5, abs=1e-3)
    assert result.flip.probability_change is not None and result.flip.probability_change < 0
    assert result.kind == "numeric" and "the range in the data" in result.searched
    assert result.message.startswith("Changing 'x1' from 2 to ")


def test_the_nearer_side_wins(numeric: tuple[pd.DataFrame, LogisticRegression]) -> None:
    X, model = numeric
    exact = _boundary(model, 0.0)
    above = smallest_flip(model, {"x1": exact + 0.5, "x2": 0.0}, "x1", data=X)
    assert above.flip is not None and above.flip.change is not None
    assert above.flip.change == pytest.approx(-0.5, abs=1e-3)  # down to the boundary
    assert len(above.flips) == 1  # upwards, the class never changes


def test_no_flip_in_range_says_so(numeric: tuple[pd.DataFrame, LogisticRegression]) -> None:
    X, model = numeric
    # x2 moves the boundary by half as much as x1: from x1 = 9.5 no x2 in [-5, 5] flips it
    result = smallest_flip(model, {"x1": 9.5, "x2": 0.0}, "x2", data=X)
    assert result.flip is None and result.flips == []
    assert result.message.startswith("No value of 'x2' from -4.9")
    assert result.message.endswith("changes the prediction 1.")


def test_registered_model_searches_its_signature_range_in_integers(
    plans: tuple[pd.DataFrame, Pipeline],
) -> None:
    X, pipe = plans
    y = np.where(
        X["tenure"] + X["plan"].map({"basic": 0, "plus": 5, "pro": 10, "team": 15}) > 35,
        "churn",
        "stay",
    )
    model = clone(pipe).fit(X, y)
    with steward.start_run(capture_environment_info=False):
        steward.log_model(model, input_example=X, registered_model_name="churn")
    loaded = steward.load_model("models:/churn/1")
    result = smallest_flip(loaded, {"plan": "basic", "tenure": 10}, "tenure")  # no data needed
    assert result.searched == "0 to 59 (the range seen in training)"
    assert result.flip is not None and result.flip.new_class == "churn"
    value, keeps = result.flip.value, result.flip.keeps
    assert isinstance(value, int) and keeps == value - 1  # exact on an integer feature
    sides = pd.DataFrame({"plan": "basic", "tenure": [keeps, value]})
    assert list(loaded.predict(sides)) == ["stay", "churn"]
    assert 30 <= value <= 40


def test_an_integer_flip_is_exact() -> None:
    X = pd.DataFrame({"age": np.arange(18, 80)})
    model = LogisticRegression().fit(X, (X["age"] >= 50).astype(int))
    result = smallest_flip(model, {"age": 30}, "age", data=X)
    assert result.flip is not None
    value, keeps = result.flip.value, result.flip.keeps
    assert isinstance(value, int) and keeps == value - 1
    assert model.predict(pd.DataFrame({"age": [keeps]}))[0] == 0
    assert model.predict(pd.DataFrame({"age": [value]}))[0] == 1
    w, b = model.coef_[0][0], model.intercept_[0]
    assert value == int(np.ceil(-b / w))  # the first integer past the analytic boundary


def test_categorical_flip_reports_the_strongest(plans: tuple[pd.DataFrame, Pipeline]) -> None:
    X, model = plans
    result = smallest_flip(model, {"plan": "basic", "tenure": 30}, "plan", data=X)
    assert result.kind == "categorical" and result.original_class == "stay"
    assert {f.value for f in result.flips} == {"pro", "team"}
    tried = pd.DataFrame({"plan": ["basic", "plus", "pro", "team"], "tenure": 30})
    p_stay = dict(zip(tried["plan"], model.predict_proba(tried)[:, 1], strict=True))
    strongest = min(["pro", "team"], key=p_stay.__getitem__)
    assert result.flip is not None and result.flip.value == strongest  # the largest change
    assert result.flip.probability_change == pytest.approx(p_stay[strongest] - p_stay["basic"])
    for flip in result.flips:
        predicted = model.predict(pd.DataFrame({"plan": [flip.value], "tenure": [30]}))[0]
        assert predicted == flip.new_class == "churn"
    changes = [f.probability_change for f in result.flips]
    assert changes == sorted(changes)  # type: ignore[type-var]
    assert result.searched == "3 other categories in the data"
    assert "2 of the 3 other categories in the data flip it" in result.message
    stays = X[X["plan"].isin(["basic", "plus"])]
    none = smallest_flip(model, {"plan": "plus", "tenure": 30}, "plan", data=stays)
    assert none.flip is None
    assert none.message.startswith("Setting 'plan' to any of the 1 other categories")


def test_categorical_flip_uses_the_signature_categories(
    plans: tuple[pd.DataFrame, Pipeline],
) -> None:
    X, model = plans
    with steward.start_run(capture_environment_info=False):
        steward.log_model(model, input_example=X, registered_model_name="plans")
    result = smallest_flip("models:/plans/1", {"plan": "team", "tenure": 30}, "plan")
    assert result.searched == "3 other categories seen in training"
    assert {f.value for f in result.flips} == {"basic", "plus"}


def test_registered_models_check_rows_against_the_signature(
    plans: tuple[pd.DataFrame, Pipeline],
) -> None:
    X, model = plans
    with steward.start_run(capture_environment_info=False):
        steward.log_model(model, input_example=X, registered_model_name="signed")
    with pytest.raises(SignatureError, match="'tenure' must be numeric"):
        what_if("models:/signed/1", {"plan": "pro", "tenure": "long"}, {"plan": ["basic"]})
    with pytest.warns(UnseenCategoryWarning, match="never seen in training"):
        table = what_if("models:/signed/1", {"plan": "pro", "tenure": 3}, {"plan": ["gold"]})
    assert table.attrs["model"] == "models:/signed/1"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = what_if("models:/signed/1", {"plan": "pro", "tenure": "3"}, {"tenure": [10]})
    assert list(table["tenure"]) == [3, 10]  # text that is a number is converted


def test_errors_say_what_to_do(
    numeric: tuple[pd.DataFrame, LogisticRegression],
    plans: tuple[pd.DataFrame, Pipeline],
) -> None:
    X, model = numeric
    row = {"x1": 4.0, "x2": 1.0}
    with pytest.raises(
        InvalidInput, match=r"'x11' is not an input of the model\. Did you mean 'x1'"
    ):
        what_if(model, row, {"x11": [1.0]})
    with pytest.raises(InvalidInput, match=r"lacks the model's input\(s\) 'x2'"):
        what_if(model, {"x1": 4.0}, {"x1": [1.0]})
    with pytest.raises(InvalidInput, match="one row; got 2"):
        what_if(model, X.head(2), {"x1": [1.0]})
    with pytest.raises(InvalidInput, match="lists no values"):
        what_if(model, row, {"x1": []})
    with pytest.raises(InvalidInput, match="pass them as changes"):
        what_if(model, {"x1": [1.0, 2.0], "x2": 1.0}, {})
    regressor = LinearRegression().fit(X, X["x1"])
    with pytest.raises(InvalidInput, match=r"this model is a regression model .* Use what_if"):
        smallest_flip(regressor, row, "x1", data=X)
    with pytest.raises(InvalidInput, match="records no range for 'x1': pass data="):
        smallest_flip(model, row, "x1")
    with pytest.raises(InvalidInput, match=r"feature 'x2' is not in the data"):
        smallest_flip(model, row, "x2", data=X[["x1"]])
    _, pipe = plans
    with pytest.raises(InvalidInput, match="records no categories for 'plan'"):
        smallest_flip(pipe, {"plan": "pro", "tenure": 3}, "plan")


def test_the_range_can_come_from_a_registered_dataset(
    numeric: tuple[pd.DataFrame, LogisticRegression],
) -> None:
    X, model = numeric
    steward.register_dataset(X, "points")
    by_name = smallest_flip(model, {"x1": 2.0, "x2": 1.0}, "x1", data="points@1")
    by_frame = smallest_flip(model, {"x1": 2.0, "x2": 1.0}, "x1", data=X)
    assert by_name.flip is not None and by_frame.flip is not None
    assert by_name.flip.value == by_frame.flip.value
    assert by_name.searched == by_frame.searched
