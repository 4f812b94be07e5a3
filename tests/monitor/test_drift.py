"""Drift detection: each test against SciPy on the same data, no false alarm on large
undrifted samples, known shifts found, the domain classifier, ranking, configs, bad input."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from steward.errors import InvalidInput
from steward.monitor import (
    ColumnPair,
    DriftConfig,
    DriftOutcome,
    DriftReport,
    DriftTest,
    DriftTestConfig,
    ProfileSettings,
    build_profile,
    drift,
    drift_tests,
    register_drift_test,
)
from steward.monitor._drift_tests import _tests

NO_DOMAIN = DriftConfig(domain={"enabled": False})


def data(n: int, seed: int, *, shift: float = 0.0, scale: float = 1.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(0, 1, n) * scale + shift,
            "y": rng.exponential(2.0, n),
            "plan": rng.choice(["a", "b", "c", "d"], n, p=[0.4, 0.3, 0.2, 0.1]),
            "flag": rng.random(n) < 0.3,
        }
    )


def result(report: DriftReport, feature: str, test: str) -> float:
    found = report.feature(feature).test(test)
    assert found is not None, f"{test} did not run on {feature}"
    return found.statistic


def test_small_samples_match_scipy_exactly() -> None:
    """Below the sketch size (400) a profile is exact: every statistic equals SciPy's."""
    ref, cur = data(300, 1), data(250, 2, shift=0.3, scale=1.3)
    report = drift(build_profile(ref), cur, config=NO_DOMAIN)
    ks = stats.ks_2samp(ref["x"], cur["x"], method="asymp")
    assert result(report, "x", "ks") == pytest.approx(ks.statistic, abs=1e-12)
    test = report.feature("x").test("ks")
    assert test is not None and test.p_value == pytest.approx(ks.pvalue, rel=1e-6)
    counts = [np.array([(s == v).sum() for v in "abcd"]) for s in (ref["plan"], cur["plan"])]
    chi2 = stats.chi2_contingency(np.vstack(counts), correction=False)
    assert result(report, "plan", "chi_square") == pytest.approx(chi2.statistic)
    assert report.feature("plan").test("chi_square").p_value == pytest.approx(chi2.pvalue)  # type: ignore[union-attr]
    js = jensenshannon(counts[0], counts[1], base=2)
    assert result(report, "plan", "jensen_shannon") == pytest.approx(js)


def test_wasserstein_matches_scipy() -> None:
    ref, cur = data(2_000, 1), data(3_000, 2, shift=0.5)
    report = drift(build_profile(ref), cur, config=NO_DOMAIN)
    expected = stats.wasserstein_distance(ref["x"], cur["x"])
    # The KLL sketch compacts at random (unseeded in datasketches): on a normal column the
    # sketched distance lies within 0.03 reference sd of the exact one (docs/monitor.md;
    # 40 repeats of this case: at most 0.0195).
    tolerance = 0.03 * float(ref["x"].std())
    assert result(report, "x", "wasserstein") == pytest.approx(expected, abs=tolerance)
    small_ref, small_cur = data(300, 3), data(350, 4, shift=0.2)
    exact = drift(
        build_profile(small_ref),
        small_cur,
        config=DriftConfig(domain={"enabled": False}, tests={"wasserstein": {"min_rows": 1}}),
    )
    assert result(exact, "x", "wasserstein") == pytest.approx(
        stats.wasserstein_distance(small_ref["x"], small_cur["x"]), rel=1e-9
    )


def test_ks_on_large_samples_lies_within_the_sketches_error_bound() -> None:
    ref, cur = data(200_000, 1), data(150_000, 2, shift=0.1)
    profile = build_profile(ref)
    report = drift(profile, cur, config=NO_DOMAIN)
    exact = stats.ks_2samp(ref["x"], cur["x"]).statistic
    x = profile.features["x"].numeric
    assert x is not None
    bound = 2 * x.kll().normalized_rank_error(False)  # both sides are sketched
    assert abs(result(report, "x", "ks") - exact) <= bound


def test_psi_equals_a_hand_computation_on_the_reference_bins() -> None:
    ref, cur = data(100_000, 1), data(80_000, 2, shift=0.4)
    profile = build_profile(ref)
    report = drift(profile, cur, config=NO_DOMAIN)
    x = profile.features["x"].numeric
    assert x is not None
    edges = np.asarray(x.bin_edges)

    def shares(values: pd.Series) -> np.ndarray:
        counts = np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1)
        return np.maximum(counts / counts.sum(), 1e-4)

    r, c = shares(ref["x"]), shares(cur["x"])
    hand = float(np.sum((c - r) * np.log(c / r)))
    # the reference's shares are read off its sketch: within its rank error per bin edge
    assert result(report, "x", "psi") == pytest.approx(hand, abs=0.01)
    plan_ref = ref["plan"].value_counts(normalize=True).sort_index().to_numpy()
    plan_cur = cur["plan"].value_counts(normalize=True).sort_index().to_numpy()
    hand_plan = float(np.sum((plan_cur - plan_ref) * np.log(plan_cur / plan_ref)))
    assert result(report, "plan", "psi") == pytest.approx(hand_plan, rel=1e-9)


def test_large_undrifted_samples_raise_no_alarm() -> None:
    report = drift(build_profile(data(300_000, 1)), data(300_000, 2))
    assert report.drifted_features == [] and not report.dataset_drifted
    for feature in report.features:
        assert not feature.drifted, feature
        assert {t.test for t in feature.tests} >= {"psi", "missing_rate"}
    assert report.multivariate is not None and report.multivariate.auc is not None
    assert not report.multivariate.drifted and report.multivariate.auc < 0.55


def test_known_shifts_are_found_and_only_they() -> None:
    ref = data(100_000, 1)
    cur = data(100_000, 2, shift=0.5)  # x's mean moves half a standard deviation
    rng = np.random.default_rng(3)
    cur["y"] = np.where(rng.random(len(cur)) < 0.2, np.nan, cur["y"])  # 20% of y goes missing
    cur["plan"] = rng.choice(["a", "b", "c", "d"], len(cur), p=[0.1, 0.2, 0.3, 0.4])
    report = drift(build_profile(ref), cur, config=NO_DOMAIN)
    assert set(report.drifted_features) == {"x", "y", "plan"}
    assert report.feature("y").drifted_by == ["missing_rate"]
    assert {"ks", "wasserstein", "psi"} <= set(report.feature("x").drifted_by)
    assert {"chi_square", "jensen_shannon", "psi"} <= set(report.feature("plan").drifted_by)
    assert not report.feature("flag").drifted
    assert "x" in report.summary() and "missing_rate" in report.summary()
    again = DriftReport.model_validate_json(report.to_json())
    assert again == report


def test_the_domain_classifier_sees_a_joint_shift_the_marginals_miss() -> None:
    rng = np.random.default_rng(0)
    n = 20_000
    a, b = rng.normal(size=n), rng.normal(size=n)
    ref = pd.DataFrame({"a": a, "b": b, "c": rng.normal(size=n)})
    a2 = rng.normal(size=n)
    cur = pd.DataFrame(
        {"a": a2, "b": a2 * 0.95 + rng.normal(size=n) * 0.31, "c": rng.normal(size=n)}
    )
    report = drift(build_profile(ref, random_state=0), cur)
    assert report.drifted_features == []  # each column alone is still standard normal
    check = report.multivariate
    assert check is not None and check.drifted and check.auc is not None and check.auc > 0.7
    assert {d.feature for d in check.drivers} <= {"a", "b"} and check.drivers


def test_prediction_drift_over_the_logs_output_columns() -> None:
    ref = data(5_000, 1)
    profile = build_profile(
        ref.assign(**{"output.prediction": np.where(ref["x"] > 0, "yes", "no")})
    )
    cur = data(5_000, 2, shift=1.0)
    log = pd.DataFrame({f"input.{c}": cur[c] for c in cur.columns})
    log["output.prediction"] = np.where(cur["x"] > 0, "yes", "no")
    log["request_id"] = "r"
    report = drift(profile, log, config=NO_DOMAIN)
    assert report.prediction_drifted
    assert [p.feature for p in report.predictions] == ["output.prediction"]
    inputs_only = drift(profile, cur, config=NO_DOMAIN)
    assert inputs_only.predictions == [] and any("output" in n for n in inputs_only.notes)


def test_drifted_features_are_ranked_by_importance() -> None:
    ref = data(20_000, 1)
    cur = data(20_000, 2, shift=2.0)
    cur["plan"] = "a"
    profile = build_profile(ref)
    by_score = drift(profile, cur, config=NO_DOMAIN)
    assert by_score.importance_source is None and "No feature importance" in by_score.notes[0]
    ranked = drift(profile, cur, importance={"plan": 0.7, "x": 0.2}, config=NO_DOMAIN)
    assert ranked.drifted_features == ["plan", "x"]
    assert ranked.feature("plan").importance == 0.7
    flipped = drift(profile, cur, importance={"plan": 0.1, "x": 0.2}, config=NO_DOMAIN)
    assert flipped.drifted_features == ["x", "plan"]


def test_small_undrifted_samples_rarely_cry_wolf() -> None:
    """On 100 rows a side the p-values gate the effect sizes: alarms stay near alpha."""
    alarms = 0
    trials = 60
    for seed in range(trials):
        report = drift(build_profile(data(100, seed)), data(100, 1000 + seed), config=NO_DOMAIN)
        alarms += len(report.drifted_features)
    assert alarms / (trials * 4) <= 0.1


def test_a_parquet_folder_streams_to_the_same_result(tmp_path: Path) -> None:
    ref, cur = data(20_000, 1), data(30_000, 2, shift=0.3)
    profile = build_profile(ref)
    folder = tmp_path / "window"
    folder.mkdir()
    table = pa.Table.from_pandas(cur, preserve_index=False)
    for i in range(3):
        pq.write_table(table.slice(i * 10_000, 10_000), folder / f"{i}.parquet")
    config = DriftConfig(domain={"enabled": False}, chunk_rows=4_000)
    streamed = drift(profile, folder, config=config)
    whole = drift(profile, cur, config=NO_DOMAIN)
    assert streamed.drifted_features == whole.drifted_features
    for name in ("x", "plan"):
        for a, b in zip(streamed.feature(name).tests, whole.feature(name).tests, strict=True):
            assert a.statistic == pytest.approx(b.statistic, abs=0.02)
    assert drift(profile, table, config=NO_DOMAIN).drifted_features == whole.drifted_features
    as_profile = drift(profile, build_profile(cur), config=NO_DOMAIN)
    assert as_profile.drifted_features == whole.drifted_features


def test_configs_change_verdicts_and_refuse_unknown_tests() -> None:
    ref, cur = data(20_000, 1), data(20_000, 2, shift=0.3)
    profile = build_profile(ref)
    assert "x" in drift(profile, cur, config=NO_DOMAIN).drifted_features
    strict = DriftConfig(
        domain={"enabled": False},
        tests={name: {"enabled": False} for name in ("ks", "wasserstein")}
        | {"psi": {"threshold": 5}},
    )
    assert "x" not in drift(profile, cur, config=strict).drifted_features
    with pytest.raises(InvalidInput, match="Did you mean 'psi'"):
        DriftConfig(tests={"pis": {"threshold": 0.1}})
    with pytest.raises(InvalidInput, match=r"tests\.psi"):
        DriftConfig(tests={"psi": {"threshold": -1}})
    loaded = DriftConfig.model_validate({"tests": {"psi": {"threshold": 0.25}}, "drift_share": 0.3})
    assert loaded.test_configs()["psi"].threshold == 0.25


def test_a_users_drift_test_runs_beside_the_built_ins() -> None:
    @register_drift_test
    class MeanShift(DriftTest):
        """Mean difference in reference standard deviations."""

        name = "mean_shift"
        kinds: ClassVar[tuple[str, ...]] = ("numeric",)
        effect_name = "mean shift / std"
        defaults = DriftTestConfig(threshold=0.25, alpha=None)

        def compute(self, pair: ColumnPair) -> DriftOutcome:
            ref, cur = pair.reference.numeric, pair.current.numeric
            assert ref is not None and cur is not None
            shift = abs((cur.mean or 0) - (ref.mean or 0)) / (ref.std or 1)
            return DriftOutcome(statistic=shift, effect=shift)

    try:
        report = drift(build_profile(data(5_000, 1)), data(5_000, 2, shift=0.5), config=NO_DOMAIN)
        assert "mean_shift" in report.feature("x").drifted_by
        assert report.feature("plan").test("mean_shift") is None
    finally:
        _tests.pop("mean_shift")


@pytest.mark.parametrize("name", sorted(drift_tests()))
def test_every_drift_test_keeps_its_contract(name: str) -> None:
    """Each registered test gives finite effects, p-values in [0, 1], and no drift on itself."""
    profile = build_profile(data(5_000, 1))
    test = drift_tests()[name]()
    ran = 0
    for feature in profile.features.values():
        pair = ColumnPair(feature, feature)
        if not test.applies(pair):
            continue
        outcome = test.run(pair)
        ran += 1
        assert np.isfinite(outcome.effect) and outcome.effect >= 0
        assert outcome.p_value is None or 0 <= outcome.p_value <= 1
        assert not outcome.drifted
    assert ran


def test_bad_inputs_are_refused_clearly() -> None:
    profile = build_profile(data(1_000, 1))
    with pytest.raises(InvalidInput, match="empty DataFrame"):
        drift(profile, data(0, 2))
    with pytest.raises(InvalidInput, match="no rows"):
        drift(profile, pa.Table.from_pandas(data(0, 2)))
    with pytest.raises(InvalidInput, match=r"no column for 1 feature\(s\).*'plan'"):
        drift(profile, data(100, 2).drop(columns="plan"))
    with pytest.raises(InvalidInput, match="Did you mean 'plan'"):
        drift(profile, data(100, 2), features=["plna"])
    with pytest.raises(InvalidInput, match="must be a DataFrame"):
        drift(profile, [1, 2, 3])  # type: ignore[arg-type]
    only = drift(profile, data(100, 2).drop(columns="plan"), features=["x", "y"], config=NO_DOMAIN)
    assert [f.feature for f in only.features] == ["x", "y"]


def test_columns_without_values_and_text_columns_compare_missing_rates() -> None:
    ref = data(2_000, 1).assign(note=[f"free text {i}" for i in range(2_000)])
    profile = build_profile(ref, settings=ProfileSettings(max_distinct=100))
    assert profile.features["note"].kind == "text"
    cur = data(2_000, 2).assign(note=None, x=np.nan)
    report = drift(profile, cur, config=NO_DOMAIN)
    assert report.feature("x").drifted_by == ["missing_rate"]
    assert "no values on one side" in report.feature("x").note
    assert report.feature("note").drifted_by == ["missing_rate"]
    assert "text column" in report.feature("note").note
