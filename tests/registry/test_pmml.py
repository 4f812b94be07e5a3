"""PMML export (sklearn2pmml) and its parity check (pypmml); both need Java."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from steward.errors import InvalidInput
from steward.registry._pmml import (
    _conversion_error,
    check_pmml_parity,
    java_available,
    to_pmml,
)

needs_java = pytest.mark.skipif(not java_available(), reason="PMML needs java on PATH")


@pytest.fixture(scope="module")
def customers() -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    rng = np.random.default_rng(0)
    n = 300
    X = pd.DataFrame(
        {
            "amount": rng.lognormal(3, 1, n),
            "age": rng.integers(18, 90, n),
            "city": rng.choice(["paris", "lyon", "nice"], n),
        }
    )
    score = np.log(X["amount"]) / 5 + (X["city"] == "lyon") + rng.normal(0, 0.3, n)
    bought = pd.Series(np.where(score > 1, "yes", "no"), name="bought")
    spend = pd.Series(2 * X["amount"] + X["age"], name="spend")
    return X, bought, spend


def _pipeline(estimator: object) -> Pipeline:
    features = ColumnTransformer(
        [
            ("num", StandardScaler(), ["amount", "age"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["city"]),
        ]
    )
    return Pipeline([("features", features), ("model", estimator)])


_version_known: list[bool] = []


def _export(model: object, sample: pd.DataFrame) -> bytes:
    """Export, accepting only the documented refusal of a too-new scikit-learn (tried once)."""
    if not _version_known:
        try:
            pmml = to_pmml(model, sample)
        except InvalidInput as exc:
            assert "check_sklearn_version=False" in str(exc), str(exc)
            _version_known.append(False)
        else:
            _version_known.append(True)
            return pmml
    return to_pmml(model, sample, check_sklearn_version=_version_known[0])


@needs_java
def test_pipeline_round_trip_has_valid_parity(
    customers: tuple[pd.DataFrame, pd.Series, pd.Series],
) -> None:
    X, bought, _ = customers
    model = _pipeline(LogisticRegression(max_iter=1000)).fit(X, bought)
    before = model.get_params()["features"].transformers

    pmml = _export(model, X.head(20))
    report = check_pmml_parity(model, pmml, X)

    assert pmml.startswith(b"<?xml") and b"<PMML" in pmml
    assert model.get_params()["features"].transformers is before  # the model is not mutated
    assert report.valid, report.reason
    assert report.format == "pmml" and report.task == "classification"
    assert report.label_agreement == 1.0
    assert report.max_abs_score_diff < 1e-9
    assert {"sklearn2pmml", "pypmml", "java"} <= set(report.versions)


@needs_java
def test_tree_and_regression_round_trips(
    churn_data: tuple[pd.DataFrame, pd.Series],
    customers: tuple[pd.DataFrame, pd.Series, pd.Series],
) -> None:
    X, y = churn_data  # booleans pass through: PMML reads them as 0/1 doubles
    forest = Pipeline(
        [
            (
                "features",
                ColumnTransformer(
                    [("plan", OneHotEncoder(handle_unknown="ignore"), ["plan"])],
                    remainder="passthrough",
                ),
            ),
            ("model", RandomForestClassifier(n_estimators=10, random_state=0)),
        ]
    ).fit(X, y)
    forest_report = check_pmml_parity(forest, _export(forest, X), X, tolerance=1e-9)
    assert forest_report.valid, forest_report.reason

    X, _, spend = customers
    ridge = _pipeline(Ridge()).fit(X, spend)
    ridge_report = check_pmml_parity(ridge, _export(ridge, X), X, tolerance=1e-9)
    assert ridge_report.valid, ridge_report.reason
    assert ridge_report.task == "regression"


class _HandMade(RegressorMixin, BaseEstimator):
    """A user's estimator that JPMML-SkLearn does not know."""

    def fit(self, X: pd.DataFrame, y: pd.Series) -> _HandMade:
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return np.full(len(X), self.mean_)


@needs_java
def test_unsupported_model_is_refused(
    customers: tuple[pd.DataFrame, pd.Series, pd.Series],
) -> None:
    X, _, spend = customers
    model = _HandMade().fit(X[["amount"]], spend)

    with pytest.raises(InvalidInput, match=r"sklearn2pmml could not convert _HandMade to PMML: "):
        to_pmml(model, X[["amount"]], check_sklearn_version=False)


def test_missing_java_is_explained(
    customers: tuple[pd.DataFrame, pd.Series, pd.Series],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    X, bought, _ = customers
    model = _pipeline(LogisticRegression(max_iter=1000)).fit(X, bought)
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no java anywhere

    assert not java_available()
    message = r"PMML export needs a Java runtime \(java on PATH\); install one, e\.g\. apt-get"
    with pytest.raises(InvalidInput, match=message):
        to_pmml(model, X)
    with pytest.raises(InvalidInput, match=message):
        check_pmml_parity(model, b"<PMML/>", X)


def test_too_new_scikit_learn_is_explained() -> None:
    java_output = (
        "SEVERE: Failed to convert PKL to PMML\n"
        "org.jpmml.sklearn.SkLearnException: Scikit-Learn version '1.9.1' is not supported\n"
        "Solution:\n"
        "\tUpgrade the converter to the latest version, or downgrade Scikit-Learn to "
        "version '1.9.0'\n"
    )

    message = _conversion_error(object(), java_output, RuntimeError("failed"))

    assert "cannot convert models from scikit-learn 1.9.1 (it knows up to 1.9.0)" in message
    assert "check_sklearn_version=False" in message
