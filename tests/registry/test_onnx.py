"""ONNX export and its parity report: faithful pipelines, the float32 tree pitfall, refusals."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    GradientBoostingClassifier,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from steward.errors import InvalidInput
from steward.registry._onnx import check_onnx_parity, run_onnx, to_onnx
from steward.registry._parity import ParityReport, compare_outputs

NUMERIC = ["signup_ts", "amount", "visits"]
CATEGORICAL = ["city", "plan"]


@pytest.fixture(scope="module")
def accounts() -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Return realistic account rows (epoch timestamps, amounts, counts, text) and targets.

    The timestamps sit near 1.7e9, where float32 keeps only steps of 128 seconds: behind a
    StandardScaler the float32 graph shifts them by up to ~1e-4 standard deviations, enough
    to cross a split threshold on a few rows.
    """
    rng = np.random.default_rng(0)
    n = 1000
    X = pd.DataFrame(
        {
            "signup_ts": 1.7e9 + rng.uniform(0, 3e7, n),
            "amount": rng.lognormal(3, 1, n),
            "visits": rng.integers(0, 50, n),
            "city": rng.choice(["paris", "lyon", "nice", "lille"], n),
            "plan": rng.choice(["basic", "plus", "pro"], n),
        }
    )
    signal = (X["signup_ts"] - 1.7e9) / 3e7 + np.log(X["amount"]) / 5 + (X["city"] == "lyon")
    churned = pd.Series((signal + rng.normal(0, 0.3, n) > 1.2).astype(int), name="churned")
    spend = pd.Series(
        (X["signup_ts"] - 1.7e9) / 1e5 + X["amount"] + 10 * (X["city"] == "lyon"), name="spend"
    )
    return X, churned, spend


def _pipeline(estimator: object) -> Pipeline:
    features = ColumnTransformer(
        [
            ("num", StandardScaler(), NUMERIC),
            ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
        ]
    )
    return Pipeline([("features", features), ("model", estimator)])


def test_pipeline_with_categories_exports_with_exact_parity(
    accounts: tuple[pd.DataFrame, pd.Series, pd.Series],
) -> None:
    X, churned, _ = accounts
    model = _pipeline(LogisticRegression(max_iter=1000)).fit(X, churned)

    onnx_bytes = to_onnx(model, X.head(50))
    report = check_onnx_parity(model, onnx_bytes, X)

    assert report.valid, report.reason
    assert report.format == "onnx" and report.task == "classification"
    assert report.rows == len(X)
    assert report.label_agreement == 1.0
    assert report.max_abs_score_diff < 1e-9  # double all the way: no float32 rounding
    assert report.precision == "double"
    assert report.versions["skl2onnx"] and report.versions["onnxruntime"]
    assert report.reason.startswith("export is valid: max |Δscore|")

    import onnxruntime as ort

    inputs = {i.name: i.type for i in ort.InferenceSession(onnx_bytes).get_inputs()}
    assert inputs == {
        "signup_ts": "tensor(double)",
        "amount": "tensor(double)",
        "visits": "tensor(double)",
        "city": "tensor(string)",
        "plan": "tensor(string)",
    }
    unseen = X.head(3).assign(city=["tokyo", None, "paris"])
    labels, scores = run_onnx(onnx_bytes, unseen)
    assert labels is not None
    assert scores.shape == (3, 2)
    np.testing.assert_allclose(scores, model.predict_proba(unseen), atol=1e-9)


def test_shared_churn_pipeline_with_boolean_passthrough(
    churn_data: tuple[pd.DataFrame, pd.Series], churn_pipeline: Pipeline
) -> None:
    X, _ = churn_data

    report = check_onnx_parity(churn_pipeline, to_onnx(churn_pipeline, X), X)

    assert report.valid, report.reason
    assert report.label_agreement == 1.0
    assert report.precision == "double"


@pytest.mark.parametrize(
    "estimator",
    [
        RandomForestClassifier(n_estimators=30, random_state=0),
        GradientBoostingClassifier(n_estimators=40, random_state=0),
    ],
    ids=["random_forest", "gradient_boosting"],
)
def test_tree_ensemble_in_double_is_faithful(
    accounts: tuple[pd.DataFrame, pd.Series, pd.Series], estimator: object
) -> None:
    X, churned, _ = accounts
    model = _pipeline(estimator).fit(X, churned)

    report = check_onnx_parity(model, to_onnx(model, X), X, tolerance=1e-6)

    assert report.valid, report.reason
    assert report.label_agreement == 1.0
    assert report.precision == "double"


def test_float32_tree_export_fails_parity_near_thresholds(
    accounts: tuple[pd.DataFrame, pd.Series, pd.Series],
) -> None:
    X, churned, _ = accounts
    model = _pipeline(RandomForestClassifier(n_estimators=30, random_state=0)).fit(X, churned)

    as_float = check_onnx_parity(model, to_onnx(model, X, precision="float"), X)
    default = check_onnx_parity(model, to_onnx(model, X), X)

    assert not as_float.valid
    assert as_float.precision == "float"
    assert as_float.max_abs_score_diff > 1e-2  # whole trees voting the other way
    assert 0 < as_float.rows_over_tolerance < len(X) // 10
    assert as_float.reason.startswith(
        f"export is not valid: max |Δscore| {as_float.max_abs_score_diff:.1e} exceeds "
        f"tolerance 1e-05 on {as_float.rows_over_tolerance} of {len(X)} rows"
    )
    worst = as_float.worst_rows[0]
    assert worst["abs_diff"] == pytest.approx(as_float.max_abs_score_diff)
    assert set(worst) == {
        "row",
        "abs_diff",
        "original_score",
        "exported_score",
        "original_label",
        "exported_label",
    }
    assert len(as_float.worst_rows) <= 10
    assert "NOT valid" in as_float.to_markdown()

    assert default.valid, default.reason
    assert default.max_abs_score_diff < 1e-6


def test_float32_xgboost_export_changes_labels() -> None:
    xgboost = pytest.importorskip("xgboost")
    rng = np.random.default_rng(1)
    X = pd.DataFrame(
        {
            "signup_ts": 1.7e9 + rng.uniform(0, 3e7, 600),
            "amount": rng.lognormal(3, 1, 600),
            "visits": rng.integers(0, 50, 600),
            "city": rng.choice(["paris", "lyon"], 600),
            "plan": rng.choice(["basic", "pro"], 600),
        }
    )
    y = ((X["signup_ts"] - 1.7e9) / 3e7 + rng.normal(0, 0.2, 600) > 0.5).astype(int)
    model = _pipeline(xgboost.XGBClassifier(n_estimators=30, max_depth=4)).fit(X, y)

    as_float = check_onnx_parity(model, to_onnx(model, X, precision="float"), X)
    default = check_onnx_parity(model, to_onnx(model, X), X)

    assert not as_float.valid
    assert default.valid, default.reason
    assert default.label_agreement == 1.0


def test_regression_outputs_float32_and_accepts_relative_tolerance(
    accounts: tuple[pd.DataFrame, pd.Series, pd.Series],
) -> None:
    X, _, spend = accounts
    forest = _pipeline(RandomForestRegressor(n_estimators=20, random_state=0)).fit(X, spend)
    onnx_bytes = to_onnx(forest, X)

    strict = check_onnx_parity(forest, onnx_bytes, X)
    relative = check_onnx_parity(forest, onnx_bytes, X, rtol=1e-6)
    as_float = check_onnx_parity(forest, to_onnx(forest, X, precision="float"), X, rtol=1e-6)

    assert strict.task == "regression" and strict.label_agreement is None
    assert not strict.valid  # predictions of ~300 rounded to float32 differ by ~3e-5
    assert any("pass rtol=1e-06" in note for note in strict.notes)
    assert relative.valid, relative.reason
    assert "1e-05 + 1e-06·|original|" in relative.reason
    assert not as_float.valid  # float32 preprocessing moves rows across splits

    ridge = _pipeline(Ridge()).fit(X, spend)
    linear = check_onnx_parity(ridge, to_onnx(ridge, X), X, tolerance=1e-9)
    assert linear.valid, linear.reason


class _HandMade(ClassifierMixin, BaseEstimator):
    """A user's estimator that no converter knows."""

    def fit(self, X: pd.DataFrame, y: pd.Series) -> _HandMade:
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return np.full((len(X), len(self.classes_)), 1 / len(self.classes_))

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.classes_[np.zeros(len(X), dtype=int)])


def test_unsupported_models_are_refused_with_a_clear_message(
    accounts: tuple[pd.DataFrame, pd.Series, pd.Series],
) -> None:
    X, churned, _ = accounts
    hand_made = _pipeline(_HandMade()).fit(X, churned)

    with pytest.raises(InvalidInput, match=r"skl2onnx has no converter for _HandMade; .* native"):
        to_onnx(hand_made, X)
    with pytest.raises(InvalidInput, match="Got StandardScaler"):
        to_onnx(StandardScaler().fit(X[NUMERIC]), X[NUMERIC])
    with pytest.raises(InvalidInput, match="'precision' parameter"):
        to_onnx(hand_made, X, precision="half")  # type: ignore[arg-type]


def test_missing_column_is_named(accounts: tuple[pd.DataFrame, pd.Series, pd.Series]) -> None:
    X, churned, _ = accounts
    model = _pipeline(LogisticRegression(max_iter=1000)).fit(X, churned)
    onnx_bytes = to_onnx(model, X.head(20))

    with pytest.raises(InvalidInput, match=r"lacks column.*'plan'"):
        check_onnx_parity(model, onnx_bytes, X.drop(columns="plan"))
    with pytest.raises(InvalidInput, match="no column 'plan'"):
        run_onnx(onnx_bytes, X.drop(columns="plan"))


# compare_outputs and ParityReport on their own


def test_compare_outputs_reports_label_disagreement_and_round_trips() -> None:
    original = np.array([[0.9, 0.1], [0.4, 0.6], [0.51, 0.49], [0.2, 0.8]])
    exported = original.copy()
    exported[2] = [0.49, 0.51]

    report = compare_outputs(
        original,
        exported,
        ["a", "b", "a", "b"],
        np.array([b"a", b"b", b"b", b"b"]),
        tolerance=1e-3,
        format="pmml",
        versions={"pypmml": "1.5.8"},
    )

    assert not report.valid
    assert report.task == "classification"
    assert report.label_agreement == 0.75
    assert report.max_abs_score_diff == pytest.approx(0.02)
    assert report.reason == (
        "export is not valid: max |Δscore| 2.0e-02 exceeds tolerance 0.001 on 1 of 4 rows; "
        "label agreement 75.0% (1 rows differ) is below the required 100.0%"
    )
    assert report.worst_rows == [
        {
            "row": 2,
            "abs_diff": pytest.approx(0.02),
            "original_score": [0.51, 0.49],
            "exported_score": [0.49, 0.51],
            "original_label": "a",
            "exported_label": "b",
        }
    ]
    again = ParityReport.model_validate(json.loads(report.model_dump_json()))
    assert again == report
    markdown = report.to_markdown()
    assert "| Label agreement | 75.0% |" in markdown
    assert "pypmml 1.5.8" in markdown


def test_compare_outputs_regression_nan_and_shapes() -> None:
    report = compare_outputs(
        [1.0, np.nan, 3.0], [[1.0], [np.nan], [np.nan]], tolerance=0.0, format="onnx"
    )
    assert report.task == "regression" and report.label_agreement is None
    assert not report.valid
    assert report.max_abs_score_diff == float("inf")
    assert report.reason.endswith("the export gave no score (NaN) on 1 of 3 rows")
    assert report.worst_rows[0]["abs_diff"] == "inf"
    json.loads(report.model_dump_json())  # NaN and inf stay JSON-safe

    near = compare_outputs(
        np.full(2000, 1.0), np.full(2000, 1.0), np.r_[np.zeros(1999), 1], np.zeros(2000),
        tolerance=0.0, format="onnx", min_label_agreement=0.999,
    )  # fmt: skip
    assert near.valid and "label agreement 99.95%" in near.reason

    with pytest.raises(InvalidInput, match="same shape"):
        compare_outputs(np.ones((3, 2)), np.ones((3, 3)), tolerance=0.0, format="onnx")
    with pytest.raises(InvalidInput, match="non-negative"):
        compare_outputs([1.0], [1.0], tolerance=-1.0, format="onnx")
