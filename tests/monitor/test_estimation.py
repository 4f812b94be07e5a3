"""Performance estimated without labels (CBPE), validated where the labels are known:
the estimates track the realized metrics window by window, and a drop is seen."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, softmax
from sklearn.datasets import load_breast_cancer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import steward
from steward._backend import Backend, set_backend
from steward.errors import InvalidInput, NotFound
from steward.monitor import (
    PerformanceEstimator,
    fit_estimator,
    load_estimator,
    store_estimator,
)
from steward.monitor._estimation import expected
from steward.monitor._estimation_calibration import fit_calibration

START = pd.Timestamp("2024-05-01", tz="UTC")
W = np.array([2.0, -1.0, 0.5])


def _draw(rng: np.random.Generator, n: int, spread: float) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose outcome follows a logistic law; ``spread`` scales the first input.

    Narrowing it moves rows toward the decision boundary: a covariate shift under which
    P(y | x) stays the same, the case CBPE is built for.
    """
    x = rng.normal(0, 1, (n, 3))
    x[:, 0] *= spread
    y = (rng.random(n) < expit(x @ W + 0.3)).astype(np.int64)
    return x, y


def test_estimates_track_realized_metrics_under_a_known_shift() -> None:
    rng = np.random.default_rng(0)
    model = LogisticRegression().fit(*_draw(rng, 5000, 1.5))
    x_ref, y_ref = _draw(rng, 5000, 1.5)
    estimator = fit_estimator(model.predict_proba(x_ref), y_ref, [0, 1])
    spreads = [1.5, 1.5, 1.5, 1.0, 0.6, 0.3]  # three days as the reference, then a shift
    frames, truths = [], []
    for day, spread in enumerate(spreads):
        x, y = _draw(rng, 2000, spread)
        p = model.predict_proba(x)
        when = START + pd.Timedelta(days=day) + pd.to_timedelta(rng.uniform(0, 86000, 2000), "s")
        frames.append(
            pd.DataFrame(
                {
                    "time": when,
                    "role": "primary",
                    "status": 200,
                    "output.prediction": p.argmax(axis=1),
                    "output.proba.0": p[:, 0],
                    "output.proba.1": p[:, 1],
                }
            )
        )
        truths.append((y, p))
    log = pd.concat(frames, ignore_index=True)
    failed = log.iloc[:50].assign(status=500)  # errors and shadow rows are not estimated
    estimate = estimator.estimate(pd.concat([log, failed], ignore_index=True), window="1D")
    assert estimate.overall.rows == len(log) and len(estimate.windows) == 6
    inside = 0
    for w, (y, p), spread in zip(estimate.windows, truths, spreads, strict=True):
        real = {
            "accuracy": accuracy_score(y, p.argmax(axis=1)),
            "roc_auc": roc_auc_score(y, p[:, 1]),
            "f1": f1_score(y, p.argmax(axis=1)),
        }
        for name, value in real.items():
            assert w.metrics[name].value == pytest.approx(value, abs=0.03), (w.start, name)
            m = w.metrics[name]
            assert m.low is not None and m.high is not None
            inside += m.low <= value <= m.high
        # The shift is seen before any label: drops flagged exactly where realized fell.
        fell = estimator.reference["accuracy"] - real["accuracy"] > 0.05
        assert w.metrics["accuracy"].dropped == fell == (spread < 1.0)
        assert w.metrics["roc_auc"].dropped == (spread < 1.0)
    # The band is where the realized metric falls if the calibrated probabilities are right;
    # the estimate's own error (a model and calibration fitted on 5,000 rows) is not in it,
    # so fewer than 95% fall inside: 14 of 18 here, 14 to 18 over other seeds.
    assert inside >= 14
    assert estimate.dropped and len(estimate.drops) >= 4
    assert "Dropped by more than 0.05" in estimate.summary()


def test_multiclass_estimates_track_realized_macro_metrics() -> None:
    rng = np.random.default_rng(1)
    weights = rng.normal(0, 1.5, (3, 4))

    def draw(n: int, spread: float) -> tuple[np.ndarray, np.ndarray]:
        x = rng.normal(0, 1, (n, 4))
        x[:, :2] *= spread
        cumulative = np.cumsum(softmax(x @ weights.T, axis=1), axis=1)
        return x, np.minimum((rng.random((n, 1)) > cumulative).sum(axis=1), 2)

    model = LogisticRegression().fit(*draw(5000, 1.5))
    x_ref, y_ref = draw(5000, 1.5)
    names = ["low", "mid", "high"]
    estimator = fit_estimator(model.predict_proba(x_ref), np.array(names)[y_ref], names)
    assert len(estimator.calibrations) == 3 and estimator.positive is None
    for spread in (1.5, 0.8, 0.4):
        x, y = draw(3000, spread)
        p = model.predict_proba(x)
        frame = pd.DataFrame(p, columns=[f"output.proba.{c}" for c in names])
        got = estimator.estimate(frame, window=None).overall.metrics
        pred = p.argmax(axis=1)
        assert got["accuracy"].value == pytest.approx(accuracy_score(y, pred), abs=0.03)
        assert got["f1"].value == pytest.approx(f1_score(y, pred, average="macro"), abs=0.03)
        assert got["roc_auc"].value == pytest.approx(
            roc_auc_score(y, p, multi_class="ovr"), abs=0.03
        )


def test_real_data_split_by_a_covariate() -> None:
    # Breast cancer data, current rows in three windows by tumour radius: the middle third
    # is where benign and malignant overlap. Eight random splits, 67 rows a window.
    data = load_breast_cancer()
    x, y = data.data, data.target
    radius = x[:, list(data.feature_names).index("mean radius")]
    errors: list[float] = []
    middle_est: list[float] = []
    middle_real: list[float] = []
    references: list[float] = []
    flagged = 0
    for seed in range(8):
        order = np.random.default_rng(seed).permutation(len(y))
        train, ref, cur = order[:170], order[170:370], order[370:]
        model = make_pipeline(StandardScaler(), LogisticRegression(C=0.01)).fit(x[train], y[train])
        estimator = fit_estimator(model.predict_proba(x[ref]), y[ref], [0, 1])
        edges = np.quantile(radius[cur], [0, 1 / 3, 2 / 3, 1])
        window = np.clip(np.searchsorted(edges, radius[cur], side="right") - 1, 0, 2)
        times = START + pd.to_timedelta(window, unit="D")
        p = model.predict_proba(x[cur])
        estimate = estimator.estimate(p, times=times, window="1D")
        for i, w in enumerate(estimate.windows):
            rows = window == i
            real = accuracy_score(y[cur][rows], p[rows].argmax(axis=1))
            value = w.metrics["accuracy"].value
            assert value is not None
            errors.append(value - real)
            if i == 1:
                middle_est.append(value)
                middle_real.append(real)
                flagged += w.metrics["accuracy"].dropped
        references.append(estimator.reference["accuracy"] or 0.0)
    errors_ = np.abs(errors)
    assert errors_.mean() <= 0.03 and errors_.max() <= 0.09, errors_
    # The drop in the middle window is real, and the estimate sees it without labels.
    assert np.mean(references) - np.mean(middle_real) >= 0.04
    assert np.mean(references) - np.mean(middle_est) >= 0.04
    assert flagged >= 4


def test_expected_metrics_are_realized_ones_when_the_truth_is_certain() -> None:
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 500)
    raw = np.clip(0.6 * y + rng.uniform(0, 0.4, 500), 0, 1)
    q = np.column_stack([1 - y, y]).astype(float)
    pred = (raw > 0.5).astype(np.int64)
    got = expected(q, np.column_stack([1 - raw, raw]), pred, 1)
    assert got["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert got["f1"] == pytest.approx(f1_score(y, pred))
    assert got["roc_auc"] == pytest.approx(roc_auc_score(y, raw))
    # And in general the expected AUC is that of each row counted as a positive with
    # weight q and as a negative with weight 1 - q (NannyML's expected ROC curve).
    soft = rng.uniform(0, 1, 500)
    got = expected(np.column_stack([1 - soft, soft]), np.column_stack([1 - raw, raw]), pred, 1)
    weighted = roc_auc_score(
        np.r_[np.ones(500), np.zeros(500)], np.r_[raw, raw], sample_weight=np.r_[soft, 1 - soft]
    )
    assert got["roc_auc"] == pytest.approx(weighted)


def test_stored_calibration_maps_give_scikit_learns_predictions() -> None:
    rng = np.random.default_rng(6)
    p = rng.uniform(0, 1, 2000)
    hit = rng.random(2000) < p**2  # over-confident scores
    iso = fit_calibration(p, hit, "isotonic")
    fitted = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(p, hit)
    probe = np.linspace(-0.1, 1.1, 301)
    assert iso.apply(probe) == pytest.approx(fitted.predict(np.clip(probe, 0, 1)))
    sig = fit_calibration(p, hit, "sigmoid")
    assert sig.kind == "sigmoid" and sig.slope > 1
    assert fit_calibration(p, hit, "auto").kind == "isotonic"  # it helps here
    calibrated = rng.uniform(0, 1, 2000)
    honest = fit_calibration(calibrated, rng.random(2000) < calibrated, "auto")
    assert honest.brier_before is not None and honest.brier_after is not None
    assert fit_calibration(p, np.zeros(2000, dtype=bool), "isotonic").kind == "identity"


def test_estimator_round_trips_as_json_and_estimates_the_same() -> None:
    rng = np.random.default_rng(7)
    x, y = _draw(rng, 3000, 1.5)
    model = LogisticRegression().fit(x, y)
    estimator = fit_estimator(
        model.predict_proba(x)[:, 1],
        np.where(y == 1, '"yes"', '"no"'),
        ["no", "yes"],
        method="isotonic",
    )
    text = estimator.to_json()
    again = PerformanceEstimator.from_json(text)
    assert again == estimator and again.classes == ["no", "yes"]
    assert '"kind": "isotonic"' in text and '"x": [' in text
    current = model.predict_proba(_draw(rng, 500, 0.5)[0])
    assert again.estimate(current, window=None) == estimator.estimate(current, window=None)
    with pytest.raises(InvalidInput, match="not a stored performance estimator"):
        PerformanceEstimator.from_json('{"format": 1}')


def test_store_with_a_model_version_and_load(sqlite_backend: Backend) -> None:
    set_backend(sqlite_backend)
    rng = np.random.default_rng(8)
    x, y = _draw(rng, 400, 1.5)
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    model = LogisticRegression().fit(frame, y)
    with steward.start_run("lr", capture_environment_info=False):
        steward.log_model(model, input_example=frame.head(5), registered_model_name="churn")
    with pytest.raises(NotFound, match=r"has no performance estimator.*store_estimator"):
        load_estimator("models:/churn/1")
    estimator = fit_estimator(model.predict_proba(frame), y, [0, 1])
    file = store_estimator("models:/churn/1", estimator)
    assert file.path == "monitoring/estimator.json" and file.kind == "monitoring"
    assert load_estimator("models:/churn/1") == estimator
    version = steward.get_model_version("models:/churn/1")
    assert any(f.path == "monitoring/estimator.json" for f in version.files)


def test_inputs_that_cannot_be_estimated_are_refused_clearly() -> None:
    rng = np.random.default_rng(9)
    p = rng.uniform(0, 1, (100, 2))
    y = rng.integers(0, 2, 100)
    with pytest.raises(InvalidInput, match=r"2 of the reference labels are not among"):
        fit_estimator(p, [*y[:98], 5, "x"], [0, 1])
    with pytest.raises(InvalidInput, match="method must be"):
        fit_estimator(p, y, [0, 1], method="platt")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=r"rows x 3 classes"):
        fit_estimator(p, y, [0, 1, 2])
    estimator = fit_estimator(p, y, [0, 1])
    with pytest.raises(InvalidInput, match=r"a column per class"):
        estimator.estimate(pd.DataFrame({"score": p[:, 1]}))
    with pytest.raises(InvalidInput, match="missing or not finite"):
        estimator.estimate(np.array([0.2, np.nan]))
    with pytest.raises(InvalidInput, match="more than 2000 windows"):
        estimator.estimate(p, times=START + pd.to_timedelta(np.arange(100), "h"), window="1s")


def test_a_quiet_window_estimates_nothing() -> None:
    rng = np.random.default_rng(10)
    estimator = fit_estimator(rng.uniform(0, 1, 300), rng.integers(0, 2, 300), [0, 1])
    quiet = estimator.estimate(pd.DataFrame())
    assert quiet.overall.rows == 0 and quiet.windows == [] and not quiet.dropped
    assert quiet.overall.metrics["accuracy"].value is None
