"""Champion against challenger on the same rows: paired intervals, McNemar, segments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier
from statsmodels.stats.contingency_tables import mcnemar

import steward
from steward.errors import InvalidInput
from steward.iterate import compare_models


@pytest.fixture
def versions() -> pd.DataFrame:
    """v1 a depth-5 tree, v2 a logistic regression, v3 always the majority; the holdout."""
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X = X.iloc[:, :8]
    train, hold = X.index < 350, X.index >= 350
    for model in (
        DecisionTreeClassifier(max_depth=5, random_state=0),
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
        DummyClassifier(strategy="most_frequent"),
    ):
        with steward.start_run(capture_environment_info=False):
            model.fit(X[train], y[train])
            steward.log_model(model, input_example=X.head(), registered_model_name="bc")
    holdout = X[hold].assign(
        target=y[hold], size=np.where(X[hold]["mean radius"] > 14, "big", "small")
    )
    return holdout


def test_a_better_challenger_is_found_with_a_paired_interval(versions: pd.DataFrame) -> None:
    result = compare_models("models:/bc/1", "models:/bc/2", data=versions, segments=["size"])
    assert result.rows == len(versions) and result.target == "target"
    assert result.task == "classification" and result.primary == "roc_auc"
    auc = next(m for m in result.metrics if m.metric == "roc_auc")
    assert auc.challenger > auc.champion and auc.ci_low <= auc.difference <= auc.ci_high
    assert result.verdict == "challenger better" and auc.ci_low > 0
    acc = next(m for m in result.metrics if m.metric == "accuracy")
    tree = steward.load_model("models:/bc/1").predict(versions)
    logreg = steward.load_model("models:/bc/2").predict(versions)
    y = versions["target"].to_numpy()
    table = [
        [np.sum((tree == y) & (logreg == y)), np.sum((tree == y) & (logreg != y))],
        [np.sum((tree != y) & (logreg == y)), np.sum((tree != y) & (logreg != y))],
    ]
    assert acc.p_value == pytest.approx(mcnemar(table, exact=True).pvalue)
    assert {s.value for s in result.segments} == {"big", "small"}
    assert sum(s.rows for s in result.segments) == len(versions)
    report = result.to_markdown()
    assert (
        "challenger better" in report
        and "| roc_auc |" in report
        and "## roc_auc by segment" in report
    )


def test_the_same_model_makes_no_clear_difference(versions: pd.DataFrame) -> None:
    same = compare_models("models:/bc/2", "models:/bc/2", data=versions, target="target")
    assert same.verdict == "no clear difference" and same.agreement == 1.0
    assert all(m.difference == 0 and m.ci_low == 0 == m.ci_high for m in same.metrics)


def test_models_that_disagree_widely_go_to_a_person(versions: pd.DataFrame) -> None:
    result = compare_models("models:/bc/2", "models:/bc/3", data=versions, segments=["size"])
    assert result.agreement < 0.9 and result.verdict == "review"
    assert "a person should look" in " ".join(result.reasons)


def test_regressors_are_compared_by_error(tmp_path: object) -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=400), "b": rng.normal(size=400)})
    y = 3 * X["a"] + rng.normal(scale=0.5, size=400)
    for cols in (["b"], ["a", "b"]):
        with steward.start_run(capture_environment_info=False):
            model = LinearRegression().fit(X[cols], y)
            steward.log_model(model, input_example=X[cols].head(), registered_model_name="reg")
    holdout = X.assign(y=y)
    result = compare_models("models:/reg/1", "models:/reg/2", data=holdout, target="y")
    assert result.task == "regression" and result.primary == "rmse"
    rmse = result.metrics[0]
    assert rmse.challenger < rmse.champion and rmse.ci_high < 0 and not rmse.higher_is_better
    assert result.verdict in ("challenger better", "review")


def test_what_cannot_be_compared_is_refused_with_the_reason(versions: pd.DataFrame) -> None:
    with pytest.raises(InvalidInput, match="records no dataset with outcomes"):
        compare_models("models:/bc/1", "models:/bc/2")
    with pytest.raises(InvalidInput, match="no column 'label'"):
        compare_models("models:/bc/1", "models:/bc/2", data=versions, target="label")
    with pytest.raises(InvalidInput, match="Cannot tell the label column"):
        compare_models("models:/bc/1", "models:/bc/2", data=versions)  # target or size?
    with pytest.raises(InvalidInput, match="No segment column 'region'"):
        compare_models(
            "models:/bc/1", "models:/bc/2", data=versions, target="target", segments=["region"]
        )
    with pytest.raises(InvalidInput, match="lacks the models' input columns"):
        compare_models("models:/bc/1", "models:/bc/2", data=versions.drop(columns=["mean area"]))


def test_the_resampled_metrics_equal_scikit_learns_on_each_resample() -> None:
    """The bootstrap weights rows instead of copying them: check it against copying."""
    from sklearn.metrics import mean_absolute_error, r2_score, roc_auc_score

    from steward.iterate._compare import _weighted_scores

    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 300)
    prob = np.round(rng.random(300), 2)  # ties, as real scores have
    rows = rng.integers(0, 300, size=(20, 300))
    weights = np.stack([np.bincount(r, minlength=300) for r in rows]).astype(float)
    auc = _weighted_scores("roc_auc", y, None, prob, weights)
    assert auc == pytest.approx([roc_auc_score(y[r], prob[r]) for r in rows], abs=1e-12)
    pred = (prob > 0.5).astype(int)
    acc = _weighted_scores("accuracy", y, pred, None, weights)
    assert acc == pytest.approx([np.mean(pred[r] == y[r]) for r in rows], abs=1e-12)
    target, guess = rng.normal(size=300), rng.normal(size=300)
    mae = _weighted_scores("mae", target, guess, None, weights)
    assert mae == pytest.approx([mean_absolute_error(target[r], guess[r]) for r in rows])
    r2 = _weighted_scores("r2", target, guess, None, weights)
    assert r2 == pytest.approx([r2_score(target[r], guess[r]) for r in rows])


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_large_sets_get_one_pass_intervals_that_match_the_bootstrap(
    task: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From ANALYTIC_ROWS rows the intervals come from the rows' variance (DeLong for ROC
    AUC): on 60,000 rows they match a 1,000-resample paired bootstrap of the same rows."""
    from steward.iterate import _compare

    rng = np.random.default_rng(3)
    n = 60_000
    if task == "classification":
        y = rng.integers(0, 2, n)
        latent = 2.0 * y - 1 + rng.normal(0, 1.4, n)  # what both models see: correlated
        probs = [1 / (1 + np.exp(-(latent + rng.normal(0, s, n)))) for s in (0.5, 0.3)]
        preds = [(p > 0.5).astype(int) for p in probs]
        names = ["accuracy", "roc_auc"]
    else:
        y = rng.normal(50, 10, n)
        shared = rng.normal(0, 4, n)
        preds = [y + shared + rng.normal(0, 2, n), y + shared + rng.normal(0.3, 1.5, n)]
        probs = [None, None]
        names = ["rmse", "mae", "r2"]
    assert n >= _compare.ANALYTIC_ROWS
    for name in names:
        fast = _compare._metric_diff(name, y, preds, probs, 1000, 0)
        assert fast is not None and fast.interval == "analytic"
        with monkeypatch.context() as m:
            m.setattr(_compare, "ANALYTIC_ROWS", 10**9)
            boot = _compare._metric_diff(name, y, preds, probs, 1000, 0)
        assert boot is not None and boot.interval == "bootstrap"
        assert fast.difference == boot.difference
        width_fast, width_boot = fast.ci_high - fast.ci_low, boot.ci_high - boot.ci_low
        assert width_fast == pytest.approx(width_boot, rel=0.15), name
        center = (fast.ci_low + fast.ci_high) / 2
        assert center == pytest.approx((boot.ci_low + boot.ci_high) / 2, abs=0.1 * width_boot)
