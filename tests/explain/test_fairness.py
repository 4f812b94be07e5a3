"""Subpopulation metrics and fairness, checked against scikit-learn and fairlearn themselves."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from fairlearn import metrics as flm
from sklearn import metrics as skm
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import steward
from steward.errors import InvalidInput
from steward.explain._fairness import fairness_report
from steward.explain._segments import Sample, builtin_metrics, segment_metrics

FEATURES = ["income", "debt", "age"]


def make_credit(*, biased: bool, n: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Credit applications; with ``biased`` women earn less (a proxy) and were approved less."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["F", "M"], n)
    income = rng.normal(np.where((sex == "F") & biased, 40.0, 55.0), 12.0)
    debt = rng.normal(20.0, 8.0, n)
    age = rng.integers(18, 80, n)
    logit = 0.12 * (income - 50) - 0.1 * (debt - 20) + np.where((sex == "M") & biased, 0.8, 0.0)
    approved = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame(
        {"income": income, "debt": debt, "age": age, "sex": sex, "approved": approved}
    )


def fit(frame: pd.DataFrame, features: list[str] = FEATURES) -> Pipeline:
    """A logistic regression on ``features`` (one-hot encoding 'sex' when it is one)."""
    numeric = [f for f in features if f != "sex"]
    steps = make_column_transformer(
        (StandardScaler(), numeric),
        *([(OneHotEncoder(), ["sex"])] if "sex" in features else []),
    )
    return make_pipeline(steps, LogisticRegression()).fit(frame[features], frame["approved"])


@pytest.fixture(scope="module")
def biased() -> pd.DataFrame:
    return make_credit(biased=True)


@pytest.fixture(scope="module")
def model(biased: pd.DataFrame) -> Pipeline:
    return fit(biased)


# --- fairness: the numbers are fairlearn's --------------------------------------------------


def test_fairness_numbers_equal_fairlearns_own_functions(biased, model):
    report = fairness_report(model, biased, target="approved", sensitive="sex")
    y, pred, sex = biased["approved"], model.predict(biased[FEATURES]), biased["sex"]
    sex_result = report["sex"]
    expected = {
        "demographic_parity_difference": flm.demographic_parity_difference,
        "demographic_parity_ratio": flm.demographic_parity_ratio,
        "equalized_odds_difference": flm.equalized_odds_difference,
        "equalized_odds_ratio": flm.equalized_odds_ratio,
    }
    for name, function in expected.items():
        assert getattr(sex_result, name) == function(y, pred, sensitive_features=sex), name
    for group in ("F", "M"):
        rows = (sex == group).to_numpy()
        row = sex_result.groups.loc[group]
        assert row["n"] == rows.sum()
        assert row["selection_rate"] == pytest.approx(pred[rows].mean(), abs=1e-12)
        assert row["true_positive_rate"] == pytest.approx(
            skm.recall_score(y[rows], pred[rows]), abs=1e-12
        )
        negatives = rows & (y == 0).to_numpy()
        assert row["false_positive_rate"] == pytest.approx(pred[negatives].mean(), abs=1e-12)
    assert report.uses_sensitive_features == []  # 'sex' is not an input of this model


def test_four_fifths_rule_fires_on_biased_data_only(biased, model):
    report = fairness_report(model, biased, target="approved", sensitive="sex")
    rule = report["sex"].four_fifths
    assert rule.flagged and (rule.lowest, rule.highest) == ("F", "M")
    assert rule.ratio == report["sex"].demographic_parity_ratio < 0.8
    assert report.flagged and "'F'" in report.flags[0] and "adverse impact" in report.flags[0]
    assert "possible adverse impact" in report.to_markdown()

    balanced = make_credit(biased=False, seed=1)
    fair = fairness_report(fit(balanced), balanced, target="approved", sensitive="sex")
    assert not fair["sex"].four_fifths.flagged and fair["sex"].four_fifths.ratio >= 0.8
    assert not fair.flagged and "Nothing flagged" in fair.to_markdown()


def test_model_using_the_sensitive_column_is_flagged(biased):
    uses_sex = fit(biased, [*FEATURES, "sex"])
    report = fairness_report(uses_sex, biased, target="approved", sensitive=["sex"])
    assert report.uses_sensitive_features == ["sex"]
    assert "uses sensitive attribute(s) 'sex' as input" in report.flags[0]
    assert report.to_dict()["uses_sensitive_features"] == ["sex"]


def test_registered_dataset_supplies_its_sensitive_columns(biased):
    steward.register_dataset(biased, "credit", sensitive_columns=["sex"])
    uses_sex = fit(biased, [*FEATURES, "sex"])
    with steward.start_run():
        steward.log_input("credit")
        steward.log_model(
            uses_sex, input_example=biased[[*FEATURES, "sex"]], registered_model_name="m"
        )
        steward.log_model(fit(biased), input_example=biased[FEATURES], registered_model_name="m")

    report = fairness_report("models:/m/1", "credit@1", target="approved")
    assert list(report.columns) == ["sex"]
    assert report.sensitive_source == "dataset 'credit' version 1"
    assert report.uses_sensitive_features == ["sex"]  # from the manifest and the inputs
    y, pred = biased["approved"], uses_sex.predict(biased[[*FEATURES, "sex"]])
    assert report["sex"].demographic_parity_ratio == flm.demographic_parity_ratio(
        y, pred, sensitive_features=biased["sex"]
    )
    # the model that does not use 'sex'; a DataFrame falls back on its training data's columns
    other = fairness_report("models:/m/2", biased, target="approved")
    assert list(other.columns) == ["sex"] and other.uses_sensitive_features == []
    assert other.sensitive_source == "the model's training data"
    assert steward.load_model("models:/m/1").manifest.uses_sensitive_columns == ["sex"]


def test_fairness_errors_say_what_to_do(biased, model):
    with pytest.raises(
        InvalidInput, match=r"declares no sensitive columns.*sensitive=.*register_dataset"
    ):
        fairness_report(model, biased, target="approved")
    steward.register_dataset(biased, "plain")
    with pytest.raises(
        InvalidInput,
        match=r"Dataset 'plain' version 1 declares no sensitive.*'plain'.*look sensitive: age, sex\.",
    ):
        fairness_report(model, "plain", target="approved")
    with pytest.raises(InvalidInput, match=r"sensitive column 'gender' is not in the data"):
        fairness_report(model, biased, target="approved", sensitive="gender")
    with pytest.raises(InvalidInput, match=r"target column 'aproved'.*Did you mean 'approved'"):
        fairness_report(model, biased, target="aproved", sensitive="sex")
    with pytest.raises(InvalidInput, match=r"'positive_label' must be a class.*got 'yes'"):
        fairness_report(model, biased, target="approved", sensitive="sex", positive_label="yes")
    regressor = LinearRegression().fit(biased[FEATURES], biased["approved"] * 1.5)
    with pytest.raises(InvalidInput, match=r"regression model\. Use segment_metrics"):
        fairness_report(regressor, biased, target="approved", sensitive="sex")


def test_fairness_report_outputs(biased, model):
    report = fairness_report(model, biased, target="approved", sensitive=["sex", "age"])
    assert list(report["age"].groups.index) == report["age"].binned  # quantile bins, in order
    assert report["age"].groups["n"].sum() == len(biased)
    data = report.to_dict()
    json.dumps(data)
    assert data["columns"]["sex"]["four_fifths"]["flagged"] is True
    assert [g["group"] for g in data["columns"]["sex"]["groups"]] == ["F", "M"]
    markdown = report.to_markdown()
    assert "| sex |" in markdown and "#### age" in markdown and "quantile bins" in markdown
    figure = report.figure()
    assert len(figure.data) == 6  # three rates for each of two columns


# --- segment metrics: the numbers are scikit-learn's on each subset -------------------------


def test_segment_metrics_equal_sklearn_on_each_subset(biased, model):
    report = segment_metrics(model, biased, target="approved", by="sex", n_boot=100)
    assert report.metrics == [
        "accuracy", "precision", "recall", "f1", "selection_rate", "roc_auc"
    ]  # fmt: skip
    proba = model.predict_proba(biased[FEATURES])[:, 1]
    for group in ("F", "M"):
        rows = (biased["sex"] == group).to_numpy()
        y, pred = biased["approved"][rows], model.predict(biased[FEATURES][rows])
        seg = report.segment(group)
        assert seg.n == rows.sum()
        expected = {
            "accuracy": skm.accuracy_score(y, pred),
            "precision": skm.precision_score(y, pred),
            "recall": skm.recall_score(y, pred),
            "f1": skm.f1_score(y, pred),
            "selection_rate": pred.mean(),
            "roc_auc": skm.roc_auc_score(y, proba[rows]),
        }
        for name, value in expected.items():
            assert seg.metrics[name] == pytest.approx(value, abs=1e-12), name
    for seg in [report.overall, *report.segments]:
        assert seg.ci is not None
        for name, value in seg.metrics.items():
            lo, hi = seg.ci[name]
            assert lo <= value <= hi, (seg.values, name)
            assert hi - lo < 0.2
    assert report.overall.metrics["accuracy"] == skm.accuracy_score(
        biased["approved"], model.predict(biased[FEATURES])
    )


def test_tiny_segment_is_reported_with_a_note_and_no_interval(biased, model):
    frame = biased.assign(region=np.where(np.arange(len(biased)) < 12, "island", "mainland"))
    report = segment_metrics(model, frame, target="approved", by="region", n_boot=50)
    island = report.segment("island")
    assert island.n == 12 and island.ci is None
    assert island.notes == ["only 12 rows: too few for a confidence interval."]
    rows = slice(0, 12)
    assert island.metrics["accuracy"] == skm.accuracy_score(
        frame["approved"][rows], model.predict(frame[FEATURES][rows])
    )
    assert report.segment("mainland").ci is not None
    table = report.to_frame()
    assert table.loc[table["region"] == "island", "accuracy_lo"].isna().all()
    assert "only 12 rows: too few for a confidence interval." in report.to_markdown()


def test_numeric_and_several_segment_columns(biased, model):
    report = segment_metrics(model, biased, target="approved", by=["sex", "age"], n_boot=20)
    bins = report.binned["age"]
    assert len(bins) == 4 and bins[0].startswith("[18, ") and bins[-1].endswith(", 79]")
    assert [s.values for s in report.segments] == [(s, b) for s in ("F", "M") for b in bins]
    assert sum(s.n for s in report.segments) == len(biased)
    assert "'age' has 62 distinct values: cut into 4 quantile bins." in report.notes


def test_missing_segment_values_form_their_own_segment(biased, model):
    frame = biased.assign(sex=biased["sex"].where(biased.index % 10 != 0))
    report = segment_metrics(model, frame, target="approved", by="sex", n_boot=0)
    assert [s.values for s in report.segments] == [("F",), ("M",), ("(missing)",)]
    assert report.segment("(missing)").n == 200


def test_regression_segment_metrics(biased):
    target = biased["income"] * 0.3 + biased["debt"]
    frame = biased.assign(limit=target)
    regressor = LinearRegression().fit(biased[["income", "age"]], target)
    report = segment_metrics(regressor, frame, target="limit", by="sex", n_boot=50)
    assert report.task == "regression" and report.metrics == ["mae", "rmse", "r2"]
    rows = (frame["sex"] == "M").to_numpy()
    pred = regressor.predict(frame[["income", "age"]][rows])
    seg = report.segment("M")
    assert seg.metrics["mae"] == pytest.approx(
        skm.mean_absolute_error(target[rows], pred), abs=1e-12
    )
    assert seg.metrics["rmse"] == pytest.approx(
        skm.root_mean_squared_error(target[rows], pred), abs=1e-12
    )
    assert seg.metrics["r2"] == pytest.approx(skm.r2_score(target[rows], pred), abs=1e-12)
    assert seg.ci is not None and seg.ci["mae"][0] <= seg.metrics["mae"] <= seg.ci["mae"][1]


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
def test_resample_metrics_agree_with_sklearn_on_the_sample_itself(kind):
    """The numpy twins used for the intervals give scikit-learn's values on an identity resample."""
    rng = np.random.default_rng(3)
    classes = [0, 1] if kind == "binary" else ["a", "b", "c"]
    if kind == "regression":
        y, p = rng.normal(size=300), rng.normal(size=300)
    else:
        y, p = rng.choice(classes, 300), rng.choice(classes, 300)
    sample = Sample(y, p, rng.random(300).round(1), 1 if kind == "binary" else None, classes)
    identity = np.arange(300)[None, :]
    for name, metric in builtin_metrics(kind, sample.pos).items():
        args = (y, p, sample.s) if metric.scored else (y, p)
        assert metric.boot(sample, identity)[0] == pytest.approx(metric.point(*args), abs=1e-12), (
            name
        )


def test_segment_metrics_errors_and_outputs(biased, model):
    with pytest.raises(
        InvalidInput, match=r"segment column 'sx' is not in the data\. Did you mean 'sex'"
    ):
        segment_metrics(model, biased, target="approved", by="sx")
    with pytest.raises(InvalidInput, match=r"target column 'label'"):
        segment_metrics(model, biased, target="label", by="sex")
    with pytest.raises(InvalidInput, match=r"Unknown metric 'acuracy'.*Did you mean 'accuracy'"):
        segment_metrics(model, biased, target="approved", by="sex", metrics=["acuracy"])
    with pytest.raises(InvalidInput, match=r"lacks the model's feature column\(s\) 'income'"):
        segment_metrics(model, biased.drop(columns="income"), target="approved", by="sex")

    custom = segment_metrics(
        model,
        biased,
        target="approved",
        by="sex",
        metrics={"balanced_accuracy": skm.balanced_accuracy_score},
        n_boot=30,
    )
    seg = custom.segment("F")
    assert seg.ci is not None
    assert (
        seg.ci["balanced_accuracy"][0]
        <= seg.metrics["balanced_accuracy"]
        <= seg.ci["balanced_accuracy"][1]
    )
    json.dumps(custom.to_dict())
    figure = custom.figure()
    assert figure.data[0].error_y.array is not None and list(figure.data[0].x) == ["F", "M"]
    with pytest.raises(InvalidInput, match=r"No segment 'X' of sex\."):
        custom.segment("X")
