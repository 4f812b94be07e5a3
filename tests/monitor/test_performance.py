"""Performance with ground truth: labels joined by request id, metrics as scikit-learn's,
intervals that cover, windows, segments, waiting counts, and every bad label counted."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    log_loss,
    mean_absolute_error,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
    root_mean_squared_error,
)

from steward.errors import InvalidInput
from steward.monitor import PerformanceReport, performance
from steward.monitor._performance_metrics import (
    auc_batch,
    confusion_batch,
    confusion_metrics,
    regression_batch,
)

START = pd.Timestamp("2024-05-01", tz="UTC")


def _log(n: int = 900, seed: int = 0, days: int = 3) -> tuple[pd.DataFrame, np.ndarray]:
    """A binary model's prediction log (one row a request) and the true classes."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, n)
    p1 = np.clip(0.5 * truth + rng.uniform(0, 0.5, n) + rng.normal(0, 0.15, n), 0.01, 0.99)
    frame = pd.DataFrame(
        {
            "request_id": [f"req-{i}" for i in range(n)],
            "row": 0,
            "time": START + pd.to_timedelta(rng.uniform(0, days * 86400, n), unit="s"),
            "role": "primary",
            "status": 200,
            "input.plan": rng.choice(["basic", "pro", "team"], n),
            "input.age": rng.normal(40, 12, n).round(1),
            "output.prediction": (p1 > 0.5).astype(np.int64),
            "output.proba.0": 1 - p1,
            "output.proba.1": p1,
        }
    )
    return frame, truth


def _labels(frame: pd.DataFrame, truth: np.ndarray, every: int = 2) -> pd.DataFrame:
    """Feedback as the log stores it: JSON text, for every ``every``-th request."""
    rows = frame.iloc[::every]
    return pd.DataFrame(
        {
            "request_id": rows["request_id"].to_numpy(),
            "time": rows["time"].to_numpy() + pd.Timedelta(hours=6),
            "route": "default",
            "label": [json.dumps(int(v)) for v in truth[::every]],
            "reward": None,
        }
    )


def test_metrics_equal_scikit_learn_on_the_labeled_rows() -> None:
    frame, truth = _log()
    report = performance(frame, _labels(frame, truth), task="classification")
    rows = frame.iloc[::2]
    y, pred, p1 = truth[::2], rows["output.prediction"], rows["output.proba.1"]
    m = report.overall.metrics
    assert m["accuracy"].value == pytest.approx(accuracy_score(y, pred))
    assert m["precision"].value == pytest.approx(precision_score(y, pred))
    assert m["recall"].value == pytest.approx(recall_score(y, pred))
    assert m["f1"].value == pytest.approx(f1_score(y, pred))
    assert m["roc_auc"].value == pytest.approx(roc_auc_score(y, p1))
    assert m["log_loss"].value == pytest.approx(log_loss(y, np.column_stack([1 - p1, p1])))
    assert report.overall.labeled == 450 and report.overall.waiting == 450
    assert m["accuracy"].interval == "wilson" and m["f1"].interval == "bootstrap"
    for metric in m.values():
        assert metric.low is not None and metric.high is not None
        assert metric.low <= metric.value <= metric.high  # type: ignore[operator]
    assert report.classes == [0, 1] and report.positive == 1
    assert report.labels.matched == 450 and report.labels.refused_total == 0


def test_positive_class_and_multiclass_macro_averages() -> None:
    frame, truth = _log()
    labels = _labels(frame, truth)
    as_zero = performance(frame, labels, task="classification", positive=0, window=None)
    y, pred = truth[::2], frame["output.prediction"].iloc[::2]
    assert as_zero.overall.metrics["precision"].value == pytest.approx(
        precision_score(y, pred, pos_label=0)
    )
    assert as_zero.overall.metrics["roc_auc"].value == pytest.approx(
        roc_auc_score(y == 0, frame["output.proba.0"].iloc[::2])
    )
    rng = np.random.default_rng(3)
    n = 600
    names = np.array(["cat", "dog", "fox"])
    true = rng.integers(0, 3, n)
    scores = rng.dirichlet([1, 1, 1], n) + np.eye(3)[true] * rng.uniform(0, 1.5, (n, 1))
    proba = scores / scores.sum(axis=1, keepdims=True)
    log = pd.DataFrame(
        {
            "request_id": [f"r{i}" for i in range(n)],
            "time": START + pd.to_timedelta(np.arange(n), unit="min"),
            "output.prediction": names[proba.argmax(axis=1)],
            **{f"output.proba.{c}": proba[:, j] for j, c in enumerate(names)},
        }
    )
    labels = pd.DataFrame({"request_id": log["request_id"], "label": names[true]})
    report = performance(log, labels, task="classification", window=None)
    m, y, pred = report.overall.metrics, names[true], log["output.prediction"]
    assert report.classes == ["cat", "dog", "fox"]
    assert m["precision"].value == pytest.approx(precision_score(y, pred, average="macro"))
    assert m["recall"].value == pytest.approx(recall_score(y, pred, average="macro"))
    assert m["f1"].value == pytest.approx(f1_score(y, pred, average="macro"))
    assert m["roc_auc"].value == pytest.approx(
        roc_auc_score(y, proba, multi_class="ovr", labels=list(names))
    )
    assert m["log_loss"].value == pytest.approx(log_loss(y, proba, labels=list(names)))
    with pytest.raises(InvalidInput, match="applies to binary models"):
        performance(log, labels, task="classification", positive="cat")


def test_batched_formulas_equal_scikit_learn_with_weights() -> None:
    rng = np.random.default_rng(5)
    n, k = 300, 3
    y, pred = rng.integers(0, k, n), rng.integers(0, k, n)
    proba = rng.dirichlet([1] * k, n)
    w = rng.integers(0, 4, (2, n)).astype(float)
    counts = confusion_batch(w, y, pred, k)
    got = confusion_metrics(counts, None)
    for b in range(2):
        kw = {"sample_weight": w[b], "average": "macro", "zero_division": np.nan}
        assert got["accuracy"][b] == pytest.approx(accuracy_score(y, pred, sample_weight=w[b]))
        assert got["precision"][b] == pytest.approx(precision_score(y, pred, **kw))
        assert got["recall"][b] == pytest.approx(recall_score(y, pred, **kw))
        assert got["f1"][b] == pytest.approx(f1_score(y, pred, **kw))
        assert auc_batch(w, y, proba, 1)[b] == pytest.approx(
            roc_auc_score(y == 1, proba[:, 1], sample_weight=w[b])
        )
    y_num = rng.normal(10, 3, n)
    guess = y_num + rng.normal(0, 1, n)
    reg = regression_batch(w, y_num, guess)
    assert reg["mae"][0] == pytest.approx(mean_absolute_error(y_num, guess, sample_weight=w[0]))
    assert reg["rmse"][0] == pytest.approx(
        root_mean_squared_error(y_num, guess, sample_weight=w[0])
    )
    assert reg["r2"][0] == pytest.approx(r2_score(y_num, guess, sample_weight=w[0]))


def test_intervals_cover_the_true_value_at_their_level() -> None:
    # A model right 80% of the time on a population whose F1 is known from a huge sample.
    rng = np.random.default_rng(11)

    def sample(n: int) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray]:
        y = rng.integers(0, 2, n)
        pred = np.where(rng.random(n) < 0.8, y, 1 - y)
        ids = [f"r{i}" for i in range(n)]
        log = pd.DataFrame({"request_id": ids, "output.prediction": pred})
        return log, pd.DataFrame({"request_id": ids, "label": y}), y, pred

    *_, y_big, pred_big = sample(400_000)
    true_f1 = f1_score(y_big, pred_big)
    covered = {"accuracy": 0, "f1": 0}
    reps = 60
    for _ in range(reps):
        log, labels, *_ = sample(200)
        m = performance(log, labels, task="classification", window=None, n_boot=200).overall
        for name, truth in (("accuracy", 0.8), ("f1", true_f1)):
            low, high = m.metrics[name].low, m.metrics[name].high
            assert low is not None and high is not None
            covered[name] += low <= truth <= high
    # 95% intervals: about 57 of 60; 52 is more than three standard deviations below.
    assert covered["accuracy"] >= 52, covered
    assert covered["f1"] >= 52, covered


def test_windows_count_predictions_labels_and_waiting() -> None:
    frame, truth = _log(days=3)
    labels = _labels(frame, truth, every=3)
    report = performance(frame, labels, task="classification", window="1D")
    assert [w.start for w in report.windows] == [
        (START + pd.Timedelta(days=d)).to_pydatetime() for d in range(3)
    ]
    labeled = frame.index % 3 == 0
    for w in report.windows:
        inside = (frame["time"] >= w.start) & (frame["time"] < w.end)
        assert w.predictions == int(inside.sum())
        assert w.labeled == int((inside & labeled).sum())
        assert w.waiting == int((inside & ~labeled).sum())
        y = truth[(inside & labeled).to_numpy()]
        pred = frame.loc[inside & labeled, "output.prediction"]
        assert w.metrics["accuracy"].value == pytest.approx(accuracy_score(y, pred))
    assert sum(w.predictions for w in report.windows) == report.overall.predictions
    hours = performance(frame, labels, task="classification", window="12h")
    assert len(hours.windows) == 6
    single = performance(frame, labels, task="classification", window=None)
    assert len(single.windows) == 1
    assert single.windows[0].metrics == single.overall.metrics
    with pytest.raises(InvalidInput, match="pandas offset alias"):
        performance(frame, labels, task="classification", window="daily")
    with pytest.raises(InvalidInput, match="more than 2000 windows"):
        performance(frame, labels, task="classification", window="1s")
    with pytest.raises(InvalidInput, match="no 'time' column"):
        performance(frame.drop(columns="time"), labels, task="classification")


def test_segments_by_category_and_by_quantile_bins() -> None:
    frame, truth = _log()
    labels = _labels(frame, truth, every=1)
    report = performance(frame, labels, task="classification", segments=["plan", "input.age"])
    plans = [g for g in report.segments if g.segment == "input.plan"]
    assert [g.value for g in plans] == ["basic", "pro", "team"]
    for g in plans:
        rows = (frame["input.plan"] == g.value).to_numpy()
        assert g.predictions == rows.sum()
        assert g.metrics["f1"].value == pytest.approx(
            f1_score(truth[rows], frame["output.prediction"][rows])
        )
    ages = [g for g in report.segments if g.segment == "input.age"]
    assert len(ages) == 4 and sum(g.predictions for g in ages) == len(frame)
    with pytest.raises(InvalidInput, match=r"Did you mean 'input\.plan'"):
        performance(frame, labels, task="classification", segments=["plans"])


def test_labels_for_unknown_ids_rows_and_unscored_requests_are_counted_not_matched() -> None:
    frame, truth = _log(n=300)
    extra = pd.DataFrame(
        {
            "request_id": ["nope-1", "nope-2", "req-1", "req-3"],
            "row": [0, 0, 4, 0],
            "label": ["1", "0", "1", "1"],
        }
    )
    frame.loc[3, "status"] = 500  # req-3 failed: its label has nothing to score
    shadow = frame.iloc[[5]].assign(role="shadow")
    log = pd.concat([frame, shadow], ignore_index=True)
    labels = pd.concat([_labels(frame, truth, every=2), extra], ignore_index=True)
    report = performance(log, labels, task="classification", window=None)
    c = report.labels
    assert c.given == 150 + 4
    assert c.unknown_request_ids == 2 and c.examples["unknown_request_ids"] == ["nope-1", "nope-2"]
    assert c.unknown_rows == 1 and c.not_scored == 1
    assert c.matched == 150
    assert report.overall.predictions == 299  # the failed request and the shadow row left out
    assert "2 for unknown request ids (e.g. nope-1, nope-2)" in report.summary()


def test_duplicate_labels_keep_the_latest() -> None:
    frame, truth = _log(n=200)
    labels = _labels(frame, truth, every=1)
    wrong = labels.iloc[:10].assign(
        label=[json.dumps(1 - int(v)) for v in truth[:10]],
        time=labels["time"].iloc[:10] - pd.Timedelta(hours=1),
    )
    later_wrong = labels.iloc[10:20].assign(
        label=[json.dumps(1 - int(v)) for v in truth[10:20]],
        time=labels["time"].iloc[10:20] + pd.Timedelta(hours=1),
    )
    report = performance(
        frame, pd.concat([labels, wrong, later_wrong]), task="classification", window=None
    )
    assert report.labels.duplicates == 20 and report.labels.matched == 200
    expected = truth.copy()
    expected[10:20] = 1 - expected[10:20]  # the later corrections win, the earlier lose
    assert report.overall.metrics["accuracy"].value == pytest.approx(
        accuracy_score(expected, frame["output.prediction"])
    )


def test_labels_of_the_wrong_type_are_refused_by_reason() -> None:
    frame, _ = _log(n=100)
    bad = ['"yes"', "[1, 0]", "1.5", "true", "7", "null", '"1"']
    labels = pd.DataFrame({"request_id": [f"req-{i}" for i in range(len(bad))], "label": bad})
    report = performance(frame, labels, task="classification", window=None)
    c = report.labels
    assert c.matched == 0 and c.without_label == 1
    assert c.refused == {
        "text where the predictions are numbers": 2,
        "not a single value (a list or an object)": 1,
        "a number with a fraction where the predictions are whole numbers": 1,
        "true/false where the predictions are numbers": 1,
        "not one of the model's classes (0, 1)": 1,
    }
    assert c.examples["text where the predictions are numbers"] == ["req-0", "req-6"]
    assert report.overall.labeled == 0 and report.overall.refused == 6
    assert report.overall.metrics["accuracy"].value is None
    assert "6 refused (" in report.summary()


def test_decoded_labels_text_classes_and_booleans() -> None:
    frame, truth = _log(n=200)
    text = frame.assign(
        **{"output.prediction": np.where(frame["output.prediction"] == 1, "yes", "no")}
    ).rename(columns={"output.proba.0": "output.proba.no", "output.proba.1": "output.proba.yes"})
    labels = pd.DataFrame(
        {"request_id": frame["request_id"], "label": np.where(truth == 1, "yes", "no")}
    )
    report = performance(text, labels, task="classification", window=None)
    assert report.classes == ["no", "yes"] and report.labels.matched == 200
    assert report.overall.metrics["roc_auc"].value == pytest.approx(
        roc_auc_score(truth, frame["output.proba.1"])
    )
    flags = frame.assign(**{"output.prediction": frame["output.prediction"] == 1}).rename(
        columns={"output.proba.0": "output.proba.False", "output.proba.1": "output.proba.True"}
    )
    plain = pd.DataFrame({"request_id": frame["request_id"], "label": truth.astype(bool)})
    report = performance(flags, plain, task="classification", window=None)
    assert report.classes == [False, True] and report.labels.matched == 200
    assert report.overall.metrics["accuracy"].value == pytest.approx(
        accuracy_score(truth, frame["output.prediction"])
    )


def test_rows_of_multi_row_requests() -> None:
    log = pd.DataFrame(
        {
            "request_id": ["a", "a", "a", "b"],
            "row": [0, 1, 2, 0],
            "output.prediction": [1, 0, 1, 0],
        }
    )
    labels = pd.DataFrame({"request_id": ["a", "a", "b"], "row": [2, 1, 0], "label": [1, 1, 0]})
    report = performance(log, labels, task="classification", window=None, classes=[0, 1])
    assert report.overall.labeled == 3 and report.overall.waiting == 1
    assert report.overall.metrics["accuracy"].value == pytest.approx(2 / 3)


def test_regression_metrics_and_refused_text() -> None:
    rng = np.random.default_rng(2)
    n = 400
    y = rng.normal(100, 20, n)
    guess = y + rng.normal(0, 8, n)
    log = pd.DataFrame(
        {
            "request_id": [f"r{i}" for i in range(n)],
            "time": START + pd.to_timedelta(np.arange(n) * 600, unit="s"),
            "output.prediction": guess,
        }
    )
    labels = pd.DataFrame(
        {
            "request_id": [*log["request_id"], "r0"],
            "label": [*map(json.dumps, y), '"high"'],
            "time": START,
        }
    )
    report = performance(log, labels, task="regression")
    m = report.overall.metrics
    assert set(m) == {"mae", "rmse", "r2"}
    assert m["mae"].value == pytest.approx(mean_absolute_error(y, guess))
    assert m["rmse"].value == pytest.approx(root_mean_squared_error(y, guess))
    assert m["r2"].value == pytest.approx(r2_score(y, guess))
    assert m["rmse"].low < m["rmse"].value < m["rmse"].high  # type: ignore[operator]
    assert report.labels.refused == {"text where the predictions are numbers": 1}
    assert len(report.windows) == 3 and report.classes is None
    assert "mae" in report.summary()


def test_report_round_trips_and_flattens() -> None:
    frame, truth = _log()
    report = performance(frame, _labels(frame, truth), task="classification", segments=["plan"])
    again = PerformanceReport.model_validate_json(report.model_dump_json())
    assert again == report
    table = report.to_frame()
    assert set(table["scope"]) == {"overall", "window", "segment"}
    assert len(table) == 6 * (1 + len(report.windows) + len(report.segments))
    assert {"metric", "value", "low", "high", "interval", "labeled", "waiting"} <= set(table)
    text = report.summary()
    assert "900 predictions: 450 labeled, 450 waiting" in text
    assert "Weakest of 3 windows" in text


def test_bad_arguments_say_what_to_do() -> None:
    frame, truth = _log(n=50)
    labels = _labels(frame, truth)
    with pytest.raises(InvalidInput, match="task must be"):
        performance(frame, labels, task="ranking")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=r"lack the column\(s\) \['label'\]"):
        performance(frame, labels.drop(columns="label"), task="classification")
    with pytest.raises(InvalidInput, match="two or more distinct classes"):
        performance(frame, labels, task="classification", classes=[1])
    with pytest.raises(InvalidInput, match="positive must be one of the classes"):
        performance(frame, labels, task="classification", positive=3)


def test_no_predictions_or_no_labels_yet() -> None:
    frame, truth = _log(n=60)
    nothing = performance(frame, None, task="classification")
    assert nothing.overall.labeled == 0 and nothing.overall.waiting == 60
    assert nothing.labels.given == 0
    assert performance(frame, pd.DataFrame(), task="classification").overall.waiting == 60
    quiet = performance(pd.DataFrame(), _labels(frame, truth), task="classification")
    assert quiet.overall.predictions == 0 and quiet.labels.unknown_request_ids == 30
    assert quiet.overall.metrics["accuracy"].value is None and quiet.windows == []
    failed = performance(frame.assign(status=503), None, task="regression", window="1h")
    assert failed.overall.predictions == 0 and "none were logged" in failed.summary()
