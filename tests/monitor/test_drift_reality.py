"""Drift detection on real data that ships inside pip packages (no download): random
halves raise no alarm, real covariate and time splits are found, and large resampled
samples do not cry wolf where a goodness-of-fit test against the reference does.
benchmarks/validate_drift.py measures the same at length (docs/monitor.md)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine

from steward.monitor import DriftConfig, build_profile, drift

OFF = DriftConfig(domain={"enabled": False})


def cancer() -> pd.DataFrame:
    frame: pd.DataFrame = load_breast_cancer(as_frame=True).frame
    return frame


def test_random_halves_of_real_tables_raise_few_alarms() -> None:
    frames = {
        "breast_cancer": cancer().drop(columns="target"),
        "wine": load_wine(as_frame=True).frame.drop(columns="target"),
        "diabetes": load_diabetes(as_frame=True).frame.drop(columns="target"),
    }
    alarms = checks = 0
    for frame in frames.values():
        for seed in range(10):
            order = np.random.default_rng(seed).permutation(len(frame))
            half = len(frame) // 2
            ref, cur = frame.iloc[order[:half]], frame.iloc[order[half:]]
            report = drift(build_profile(ref), cur, config=OFF)
            alarms += len(report.drifted_features)
            checks += report.features_checked
    assert alarms / checks <= 0.03  # measured: about 1.5%


def test_a_covariate_split_of_real_data_is_found_where_it_should_be() -> None:
    frame = cancer()
    benign = frame[frame.target == 1].drop(columns="target")
    malignant = frame[frame.target == 0].drop(columns="target")
    report = drift(build_profile(benign, random_state=0), malignant)
    # the size and concavity of a tumour tell its diagnosis: they drift most
    top = sorted(report.features, key=lambda f: -f.score)[:6]
    assert {f.feature for f in top} & {"worst perimeter", "worst radius", "mean concave points"}
    assert report.dataset_drifted and report.share_drifted > 0.8
    check = report.multivariate
    assert check is not None and check.drifted and check.auc is not None and check.auc > 0.95


def test_a_time_split_of_real_series_is_found() -> None:
    macro = pytest.importorskip("statsmodels.datasets.macrodata").load_pandas().data
    macro = macro.drop(columns=["year", "quarter"])
    report = drift(build_profile(macro.iloc[:101]), macro.iloc[101:], config=OFF)
    assert {"realgdp", "cpi", "pop"} <= set(report.drifted_features)


def test_river_shuttle_halves_raise_no_alarm() -> None:
    river = pytest.importorskip("river.datasets")
    frame = pd.DataFrame([x for x, _ in river.Shuttle()])
    order = np.random.default_rng(0).permutation(len(frame))
    half = len(frame) // 2
    report = drift(build_profile(frame.iloc[order[:half]]), frame.iloc[order[half:]])
    assert report.drifted_features == []
    assert report.multivariate is not None and not report.multivariate.drifted


def test_large_resampled_real_samples_do_not_cry_wolf_unlike_goodness_of_fit() -> None:
    """200,000 rows a side drawn from one real table: Steward flags nothing, while a
    chi-square goodness-of-fit of the current's counts against the reference's (taken as
    exact) alarms on a large share of the same columns."""
    frame = cancer().drop(columns="target")
    rng = np.random.default_rng(0)
    n = 200_000
    ref = frame.iloc[rng.integers(0, len(frame), n)].reset_index(drop=True)
    cur = frame.iloc[rng.integers(0, len(frame), n)].reset_index(drop=True)
    profile = build_profile(ref)
    report = drift(profile, cur, config=OFF)
    assert report.drifted_features == []
    alarms = 0
    for column in frame.columns:
        summary = profile.features[column].numeric
        assert summary is not None
        edges = np.asarray(summary.bin_edges)
        shares = np.asarray(summary.bin_counts) / sum(summary.bin_counts)
        counts = np.bincount(
            np.searchsorted(edges, cur[column], side="left"), minlength=len(edges) + 1
        )
        keep = shares > 0
        expected = shares[keep] / shares[keep].sum() * counts[keep].sum()
        alarms += stats.chisquare(counts[keep], expected).pvalue < 0.05
    assert alarms / len(frame.columns) >= 0.3
