"""Reference profiles: statistics against NumPy, chunked and merged builds, sources, the
version hook that stores a profile when log_model registers a version, bad inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression

import steward
from steward.errors import InvalidInput, NotFound
from steward.monitor import (
    ProfileSettings,
    ReferenceProfile,
    build_profile,
    load_reference,
    merge_profiles,
    set_reference,
)


def frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(10, 2, n)
    x[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame(
        {
            "x": x,
            "count": rng.poisson(3, n),
            "plan": rng.choice(["basic", "plus", "pro"], n, p=[0.5, 0.3, 0.2]),
            "paperless": rng.random(n) < 0.4,
        }
    )


def rank_error(profile: ReferenceProfile, name: str) -> float:
    summary = profile.features[name].numeric
    assert summary is not None
    return float(summary.kll().normalized_rank_error(False))


def test_numeric_statistics_match_numpy_and_quantiles_lie_within_the_sketch_error() -> None:
    data = frame(200_000)
    profile = build_profile(data, random_state=0)
    x = profile.features["x"]
    values = data["x"].dropna().to_numpy()
    assert (x.kind, x.count, x.missing) == ("numeric", 200_000, int(data["x"].isna().sum()))
    assert x.missing_rate == pytest.approx(data["x"].isna().mean())
    summary = x.numeric
    assert summary is not None
    assert summary.min == values.min() and summary.max == values.max()
    assert summary.mean == pytest.approx(values.mean(), rel=1e-12)
    assert summary.std == pytest.approx(values.std(), rel=1e-9)
    sketch, error = summary.kll(), rank_error(profile, "x")
    ordered = np.sort(values)
    for q in (0.01, 0.1, 0.5, 0.9, 0.99):
        true_rank = np.searchsorted(ordered, sketch.get_quantile(q), side="right") / len(values)
        assert abs(true_rank - q) <= error
    # the reference bins hold about a tenth of the values each
    assert len(summary.bin_edges) == 9
    assert sum(summary.bin_counts) == pytest.approx(len(values))
    assert np.allclose(np.asarray(summary.bin_counts) / len(values), 0.1, atol=2 * error)


def test_categories_and_booleans_are_counted_exactly() -> None:
    data = frame(10_000)
    profile = build_profile(data)
    plan, paperless = profile.features["plan"], profile.features["paperless"]
    assert plan.kind == "categorical" and paperless.kind == "boolean"
    assert plan.categories is not None and paperless.categories is not None
    assert plan.categories.counts == data["plan"].value_counts().to_dict()
    assert paperless.categories.counts == {
        "true": int(data["paperless"].sum()),
        "false": int((~data["paperless"]).sum()),
    }
    assert profile.features["count"].kind == "numeric"


def test_top_k_keeps_the_most_frequent_and_too_many_values_make_text() -> None:
    values = pd.Series(["a"] * 50 + ["b"] * 30 + ["c"] * 15 + ["d"] * 5)
    profile = build_profile(pd.DataFrame({"v": values}), settings=ProfileSettings(top_k=2))
    categories = profile.features["v"].categories
    assert categories is not None
    assert categories.counts == {"a": 50, "b": 30} and categories.other == 20
    assert categories.distinct == 4
    ids = pd.DataFrame({"id": [f"user-{i}" for i in range(300)]})
    text = build_profile(ids, settings=ProfileSettings(max_distinct=100)).features["id"]
    assert text.kind == "text" and text.categories is None and "text" in text.note


def test_a_chunked_build_and_a_merge_equal_the_whole_within_the_sketch_error() -> None:
    data = frame(60_000)
    whole = build_profile(data, random_state=0)
    chunked = build_profile(data, chunk_rows=7_000, random_state=0)
    merged = merge_profiles(
        build_profile(data.iloc[:25_000], random_state=1),
        build_profile(data.iloc[25_000:], random_state=2),
    )
    for other in (chunked, merged):
        assert other.rows == whole.rows
        for name, f in whole.features.items():
            g = other.features[name]
            assert (g.count, g.missing, g.kind) == (f.count, f.missing, f.kind)
            assert g.categories == f.categories
        a, b = whole.features["x"].numeric, other.features["x"].numeric
        assert a is not None and b is not None
        assert (a.min, a.max) == (b.min, b.max)
        assert b.mean == pytest.approx(a.mean, rel=1e-12)
        assert b.std == pytest.approx(a.std, rel=1e-9)
        error = rank_error(whole, "x") + rank_error(other, "x")
        ranks = np.linspace(0.05, 0.95, 19)
        values = np.sort(data["x"].dropna().to_numpy())
        for q, v in zip(ranks, b.kll().get_quantiles(ranks), strict=True):
            assert abs(np.searchsorted(values, v, side="right") / len(values) - q) <= error
        assert other.sample is not None and other.sample.num_rows == 5000


def test_every_source_gives_the_same_profile(tmp_path: Path) -> None:
    data = frame(5_000)
    table = pa.Table.from_pandas(data, preserve_index=False)
    pq.write_table(table, tmp_path / "one.parquet", row_group_size=1_000)
    folder = tmp_path / "folder"
    folder.mkdir()
    for i in range(3):
        pq.write_table(table.slice(i * 2000, 2000), folder / f"part-{i}.parquet")
    sources = {
        "table": table,
        "parquet file": tmp_path / "one.parquet",
        "parquet folder": str(folder),
        "frames": (data.iloc[i : i + 1500] for i in range(0, 5000, 1500)),
        "batches": table.to_batches(max_chunksize=800),
    }
    expected = build_profile(data)
    for label, source in sources.items():
        profile = build_profile(source, chunk_rows=1_200)
        assert profile.rows == 5_000, label
        for name, f in expected.features.items():
            g = profile.features[name]
            assert (g.count, g.missing, g.categories) == (f.count, f.missing, f.categories), label
            assert g.numeric is None or g.numeric.mean == pytest.approx(f.numeric.mean)  # type: ignore[union-attr]


def test_a_folder_of_segments_with_different_columns_reads_as_one(tmp_path: Path) -> None:
    pq.write_table(pa.table({"x": [1.0, 2.0], "plan": ["a", "b"]}), tmp_path / "1.parquet")
    pq.write_table(pa.table({"x": [3.0, 4.0, 5.0]}), tmp_path / "2.parquet")  # an older segment
    profile = build_profile(tmp_path)
    assert profile.rows == 5
    assert (profile.features["plan"].count, profile.features["plan"].missing) == (5, 3)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InvalidInput, match=r"holds no \.parquet file"):
        build_profile(empty)


def test_the_sample_is_uniform_and_bounded() -> None:
    data = pd.DataFrame({"i": np.arange(100_000)})
    profile = build_profile(data, chunk_rows=10_000, settings=ProfileSettings(sample_rows=2000))
    assert profile.sample is not None
    rows = profile.sample.column("i").to_numpy()
    assert len(rows) == 2000 and len(np.unique(rows)) == 2000
    assert abs(rows.mean() - 50_000) < 3 * 28_868 / np.sqrt(2000)  # 3 standard errors
    none = build_profile(data, settings=ProfileSettings(sample_rows=0))
    assert none.sample is None and none.sample_rows == 0


def test_profiles_round_trip_through_json() -> None:
    profile = build_profile(frame(3_000), random_state=0)
    again = ReferenceProfile.from_json(profile.model_dump_json())
    assert again.model_dump() == profile.model_dump()
    x = again.features["x"].numeric
    assert x is not None and x.kll().n == profile.features["x"].values
    newer = profile.model_copy(update={"format_version": 99}).model_dump_json()
    with pytest.raises(InvalidInput, match="Upgrade Steward"):
        ReferenceProfile.from_json(newer)


def test_a_classifiers_outputs_and_importance_are_profiled() -> None:
    data = frame(2_000).fillna(0)
    y = (data["x"] > 10).astype(int)
    model = RandomForestClassifier(n_estimators=10, random_state=0).fit(data[["x", "count"]], y)
    profile = build_profile(data[["x", "count"]], model=model)
    assert profile.task == "classification"
    prediction = profile.features["output.prediction"]
    assert prediction.role == "output" and prediction.kind == "categorical"
    assert prediction.categories is not None
    assert sum(prediction.categories.counts.values()) == 2_000
    for c in ("0", "1"):
        assert profile.features[f"output.proba.{c}"].kind == "numeric"
    assert [f.name for f in profile.inputs] == ["x", "count"]
    assert profile.importance is not None and set(profile.importance) == {"x", "count"}
    assert profile.importance["x"] > profile.importance["count"]
    regression = build_profile(
        data[["x"]], model=LinearRegression().fit(data[["x"]], data["count"])
    )
    assert regression.task == "regression"
    assert regression.features["output.prediction"].kind == "numeric"


def test_prediction_log_columns_are_profiled_under_the_models_names() -> None:
    log = pd.DataFrame(
        {
            "request_id": ["a", "b", "c"],
            "input.x": [1.0, 2.0, 3.0],
            "output.prediction": [0, 1, 1],
            "output.proba.1": [0.2, 0.7, 0.9],
        }
    )
    profile = build_profile(log)
    assert list(profile.features) == ["x", "output.prediction", "output.proba.1"]
    assert profile.features["output.prediction"].kind == "categorical"


def test_bad_inputs_are_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no rows"):
        build_profile(pd.DataFrame({"x": []}))
    with pytest.raises(InvalidInput, match="no rows"):
        build_profile(iter([]))
    with pytest.raises(NotFound, match="No Parquet file or folder"):
        build_profile(tmp_path / "absent.parquet")
    broken = tmp_path / "broken.parquet"
    pq.write_table(pa.table({"x": np.arange(1000.0)}), broken)
    broken.write_bytes(broken.read_bytes()[:-200])  # a truncated file
    with pytest.raises(InvalidInput, match="Parquet"):
        build_profile(broken)
    with pytest.raises(InvalidInput, match="iterable of chunks"):
        build_profile([pd.DataFrame({"x": [1.0]}), {"x": 2}])  # type: ignore[list-item]
    with pytest.raises(InvalidInput, match="Cannot read data"):
        build_profile(42)  # type: ignore[arg-type]
    signature = steward.infer_signature(pd.DataFrame({"x": [1.0], "y": [2.0]}))
    with pytest.raises(InvalidInput, match="no column 'y'"):
        build_profile(pd.DataFrame({"x": [1.0]}), signature=signature)


def test_log_model_stores_the_reference_profile_of_its_input_example(
    backend: object, tmp_path: Path
) -> None:
    data = frame(1_000).fillna(0)
    X, y = data[["x", "count"]], (data["x"] > 10).astype(int)
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    with steward.start_run("train", capture_environment_info=False):
        steward.log_model(model, "model", input_example=X, registered_model_name="churn")
        steward.log_model(model, "bare", registered_model_name="plain")  # no example: no profile
    version = steward.get_model_version("models:/churn/1")
    kinds = {f.path: f.kind for f in version.files if f.path.startswith("monitoring/")}
    assert kinds == {
        "monitoring/reference.json": "monitoring",
        "monitoring/reference_sample.parquet": "monitoring",
    }
    profile = load_reference("models:/churn/1")
    assert profile.rows == 1_000 and [f.name for f in profile.inputs] == ["x", "count"]
    assert "output.prediction" in profile.features and "output.proba.1" in profile.features
    assert profile.sample is not None and profile.sample.num_rows == 1_000
    with pytest.raises(NotFound, match=r"set_reference\('models:/plain/1'"):
        load_reference("models:/plain/1")
    # a bigger reference, streamed from Parquet, replaces the example's
    bigger = frame(20_000, seed=1).fillna(0)[["x", "count"]]
    pq.write_table(pa.Table.from_pandas(bigger), tmp_path / "train.parquet")
    set_reference("models:/churn/1", tmp_path / "train.parquet", chunk_rows=6_000)
    again = load_reference(steward.get_model_version("models:/churn/1"))
    assert again.rows == 20_000
    assert again.features["output.prediction"].count == 20_000


def test_log_model_profiles_the_runs_training_data_not_a_few_example_rows() -> None:
    data = frame(1_000).fillna(0)
    X, y = data[["x", "count"]], (data["x"] > 10).astype(int)
    train = steward.register_dataset(X.assign(y=y), "train-rows")
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    with steward.start_run("train", capture_environment_info=False):
        steward.log_input(train, context="training")
        steward.log_model(model, input_example=X.head(), registered_model_name="churn")
    profile = load_reference("models:/churn/1")  # the MLflow habit: five example rows
    assert profile.rows == 1_000 and [f.name for f in profile.inputs] == ["x", "count"]
    assert profile.features["x"].numeric is not None
    assert profile.features["x"].numeric.max == pytest.approx(float(X["x"].max()))
