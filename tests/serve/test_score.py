"""Batch scoring: predictions equal the model's, streamed in chunks, logged, and safe on errors."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path

import dask
import numpy as np
import pandas as pd
import pytest
from distributed import LocalCluster
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder

import steward
from steward.errors import AlreadyExists, InvalidInput, NotFound, ServerUnavailable
from steward.registry import SignatureError, UnseenCategoryWarning, infer_signature
from steward.registry._package import write_package
from steward.serve import ScoreResult, _score_input, score

ROWS = 300
URI = "models:/churn@champion"


def features(n: int = ROWS, seed: int = 0) -> pd.DataFrame:
    """Return churn-like inputs: a categorical plan, a whole-number tenure, a monthly charge."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "plan": rng.choice(["basic", "plus", "pro"], n),
            "tenure": rng.integers(0, 60, n),
            "monthly": rng.normal(70, 20, n).round(2),
        }
    )


def table(n: int = ROWS) -> pd.DataFrame:
    """Return rows to score: the inputs plus an id column the output must pass through."""
    return features(n, seed=1).assign(customer=[f"c{i:05d}" for i in range(n)])


@pytest.fixture
def model() -> Pipeline:
    """A one-hot + logistic pipeline registered as churn v1, alias champion."""
    X = features()
    y = np.where(
        X["tenure"] + X["plan"].map({"basic": 0, "plus": 5, "pro": 40}) > 35, "churn", "stay"
    )
    encode = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), ["plan"]), remainder="passthrough"
    )
    pipe = make_pipeline(encode, LogisticRegression(max_iter=2000)).fit(X, y)
    with steward.start_run("train", capture_environment_info=False):
        steward.log_model(pipe, input_example=X, registered_model_name="churn")
    steward.set_alias("churn", "champion", 1)
    return pipe


@pytest.fixture
def parquet(tmp_path: Path) -> Path:
    """The rows as Parquet in row groups of 40 rows."""
    path = tmp_path / "customers.parquet"
    table().to_parquet(path, row_group_size=40, index=False)
    return path


@pytest.fixture
def csv(tmp_path: Path) -> Path:
    """The rows as CSV."""
    path = tmp_path / "customers.csv"
    table().to_csv(path, index=False)
    return path


def assert_scored(out: pd.DataFrame, pipe: Pipeline, rows: pd.DataFrame, label: str) -> None:
    """Check the output against the model's own predict and predict_proba on the same rows."""
    inputs = rows[["plan", "tenure", "monthly"]]
    assert list(out.columns) == [
        "row",
        "customer",
        "prediction",
        "proba_churn",
        "proba_stay",
        "model_version",
    ]
    np.testing.assert_array_equal(out["row"], np.arange(len(rows)))
    np.testing.assert_array_equal(out["customer"], rows["customer"])
    np.testing.assert_array_equal(out["prediction"], pipe.predict(inputs))
    np.testing.assert_allclose(
        out[["proba_churn", "proba_stay"]].to_numpy(), pipe.predict_proba(inputs), rtol=1e-12
    )
    assert set(out["model_version"]) == {label}


def test_parquet_is_scored_in_chunks_like_the_model(
    model: Pipeline, parquet: Path, tmp_path: Path
) -> None:
    calls: list[tuple[int, int | None]] = []
    out = tmp_path / "scored.parquet"
    result = score(URI, parquet, out, chunk_rows=64, progress=lambda d, t: calls.append((d, t)))
    assert_scored(pd.read_parquet(out), model, table(), "churn/1")
    assert isinstance(result, ScoreResult)
    assert (result.model_name, result.model_version, result.version_label) == (
        "churn",
        1,
        "churn/1",
    )
    assert result.rows == ROWS and result.partitions == 5  # 64 + 64 + 64 + 64 + 44
    assert result.output == str(out) and result.input == str(parquet)
    assert result.rows_per_second > 0 and result.cluster is None and result.model_loads == {}
    assert calls == [(0, ROWS), (64, ROWS), (128, ROWS), (192, ROWS), (256, ROWS), (300, ROWS)]
    assert [p.name for p in tmp_path.iterdir() if ".partial" in p.name] == []


def test_csv_is_streamed_without_a_known_total(model: Pipeline, csv: Path, tmp_path: Path) -> None:
    calls: list[tuple[int, int | None]] = []
    out = tmp_path / "scored.parquet"
    result = score(URI, csv, out, chunk_rows=100, progress=lambda d, t: calls.append((d, t)))
    assert_scored(pd.read_parquet(out), model, table(), "churn/1")
    assert result.partitions == 3
    assert calls == [(0, None), (100, None), (200, None), (300, None)]


def test_csv_read_in_several_blocks(
    model: Pipeline, csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_score_input, "CSV_BLOCK_BYTES", 1024)  # ~40 rows a block
    result = score(URI, csv, tmp_path / "scored.parquet", chunk_rows=70)
    assert_scored(pd.read_parquet(tmp_path / "scored.parquet"), model, table(), "churn/1")
    assert result.partitions == 5


def test_the_job_is_logged_as_a_run(model: Pipeline, parquet: Path, tmp_path: Path) -> None:
    out = tmp_path / "scored.parquet"
    result = score(URI, parquet, out, chunk_rows=1000)
    run = steward.get_run(result.run_id)
    assert run.status == "FINISHED" and run.name == "score churn v1"
    assert run.experiment == "batch-scoring"
    assert run.tags["steward.job"] == "score"
    assert run.params == {
        "model_uri": URI,
        "model_version": "churn/1",
        "input": str(parquet),
        "output": str(out),
        "chunk_rows": "1000",
        "cluster": "none",
    }
    assert run.metrics["rows"].value == ROWS
    assert run.metrics["seconds"].value == pytest.approx(result.seconds)
    assert run.metrics["rows_per_second"].value == pytest.approx(result.rows_per_second)


def test_inside_an_active_run_the_job_is_a_child_run(
    model: Pipeline, parquet: Path, tmp_path: Path
) -> None:
    with steward.start_run("pipeline", capture_environment_info=False) as parent:
        result = score(URI, parquet, tmp_path / "scored.parquet")
    assert steward.get_run(result.run_id).parent_run_id == parent.id


def test_unregistered_models_are_labelled_by_uri_or_path(
    model: Pipeline, parquet: Path, tmp_path: Path
) -> None:
    version = steward.get_model_version("models:/churn/1")
    run_uri = f"runs:/{version.run_id}/model"
    by_run = score(run_uri, parquet, tmp_path / "a.parquet")
    assert (by_run.model_name, by_run.model_version, by_run.version_label) == (None, None, run_uri)
    assert set(pd.read_parquet(tmp_path / "a.parquet")["model_version"]) == {run_uri}
    folder = tmp_path / "package"
    write_package(model, folder, signature=infer_signature(features(), model))
    by_path = score(str(folder), parquet, tmp_path / "b.parquet")
    assert by_path.version_label == str(folder)
    assert steward.get_run(by_path.run_id).name == f"score {folder}"
    assert_scored(pd.read_parquet(tmp_path / "b.parquet"), model, table(), str(folder))


def test_a_missing_column_is_named_with_a_suggestion(model: Pipeline, tmp_path: Path) -> None:
    source = tmp_path / "renamed.parquet"
    table().rename(columns={"tenure": "tenur"}).to_parquet(source)
    out = tmp_path / "scored.parquet"
    with pytest.raises(SignatureError) as error:
        score(URI, source, out)
    message = str(error.value)
    assert "lacks the model's input column(s) 'tenure' (integer)" in message
    assert "The model expects: plan, tenure, monthly" in message
    assert "the file has: plan, tenur, monthly, customer" in message
    assert "Did you mean 'tenur'?" in message
    assert isinstance(error.value, InvalidInput)
    assert not out.exists()
    assert steward.search_runs(experiment_names=["batch-scoring"]).empty  # refused before running


@pytest.mark.parametrize(
    ("name", "error", "message"),
    [
        ("customers.xlsx", InvalidInput, "unknown file type '.xlsx'"),
        ("nowhere.parquet", NotFound, "no such file"),
        ("not-parquet.parquet", InvalidInput, "Cannot read 'not-parquet.parquet' as Parquet"),
        ("empty.csv", InvalidInput, "Cannot read 'empty.csv' as CSV"),
    ],
)
def test_unreadable_inputs_are_refused(
    model: Pipeline, tmp_path: Path, name: str, error: type[Exception], message: str
) -> None:
    if name != "nowhere.parquet":
        (tmp_path / name).write_bytes(b"" if name == "empty.csv" else b"plan,tenure\nbasic,1\n")
    with pytest.raises(error, match=message):
        score(URI, tmp_path / name, tmp_path / "scored.parquet")
    assert not (tmp_path / "scored.parquet").exists()


def test_an_existing_output_is_kept_unless_overwrite(
    model: Pipeline, parquet: Path, tmp_path: Path
) -> None:
    out = tmp_path / "scored.parquet"
    out.write_text("yesterday's scores")
    with pytest.raises(AlreadyExists, match=re.escape("exists already. Pass overwrite=True")):
        score(URI, parquet, out)
    assert out.read_text() == "yesterday's scores"
    score(URI, parquet, out, overwrite=True)
    assert_scored(pd.read_parquet(out), model, table(), "churn/1")


@pytest.mark.parametrize(
    ("out", "message"),
    [
        ("scored.csv", "batch scoring writes Parquet"),
        ("customers.parquet", "is the input file"),
    ],
)
def test_bad_output_paths_are_refused(
    model: Pipeline, parquet: Path, tmp_path: Path, out: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        score(URI, parquet, tmp_path / out)


def test_input_columns_named_like_outputs_are_refused(model: Pipeline, tmp_path: Path) -> None:
    source = tmp_path / "rescored.parquet"
    table().assign(prediction="stay").to_parquet(source)
    with pytest.raises(InvalidInput, match="The input has column\\(s\\) 'prediction'"):
        score(URI, source, tmp_path / "scored.parquet")


def test_a_bad_value_mid_file_leaves_no_output(model: Pipeline, tmp_path: Path) -> None:
    rows = table().astype({"tenure": str})
    rows.loc[250, "tenure"] = "soon"
    source = tmp_path / "typo.parquet"
    rows.to_parquet(source)
    out = tmp_path / "scored.parquet"
    with pytest.raises(
        SignatureError, match=re.escape("Rows 192-255 of 'typo.parquet': Column 'tenure'")
    ):
        score(URI, source, out, chunk_rows=64)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["steward-home", "typo.parquet"]
    [run] = steward.search_runs(experiment_names=["batch-scoring"]).itertuples()
    assert run.status == "FAILED"


def test_a_type_change_deep_in_a_csv_leaves_no_output(
    model: Pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_score_input, "CSV_BLOCK_BYTES", 1024)  # types come from ~40 rows
    rows = table().astype({"monthly": object})
    rows.loc[200, "monthly"] = "n/a?"
    source = tmp_path / "typo.csv"
    rows.to_csv(source, index=False)
    with pytest.raises(InvalidInput, match=r"Cannot read 'typo\.csv' beyond its first \d+ rows"):
        score(URI, source, tmp_path / "scored.parquet", chunk_rows=50)
    assert not (tmp_path / "scored.parquet").exists()
    assert not [p for p in tmp_path.iterdir() if ".partial" in p.name]


def test_unseen_categories_warn_once_for_the_job(model: Pipeline, tmp_path: Path) -> None:
    rows = table()
    rows.loc[[10, 100, 200], "plan"] = "enterprise"
    source = tmp_path / "new-plan.parquet"
    rows.to_parquet(source)
    with pytest.warns(UnseenCategoryWarning, match="'enterprise'.*\\(in 3 chunks\\)") as caught:
        result = score(URI, source, tmp_path / "scored.parquet", chunk_rows=64)
    assert len(caught) == 1
    assert len(result.warnings) == 1 and "never seen in training" in result.warnings[0]


def test_an_empty_file_gives_an_empty_output(model: Pipeline, tmp_path: Path) -> None:
    source = tmp_path / "none.parquet"
    table().head(0).to_parquet(source)
    result = score(URI, source, tmp_path / "scored.parquet")
    out = pd.read_parquet(tmp_path / "scored.parquet")
    assert result.rows == 0 and len(out) == 0
    assert list(out.columns) == [
        "row",
        "customer",
        "prediction",
        "proba_churn",
        "proba_stay",
        "model_version",
    ]


def test_chunk_rows_and_cluster_are_checked(model: Pipeline, parquet: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="chunk_rows must be at least 1; got 0"):
        score(URI, parquet, tmp_path / "o.parquet", chunk_rows=0)
    with pytest.raises(InvalidInput, match=re.escape("got 'locl'. Did you mean 'local'?")):
        score(URI, parquet, tmp_path / "o.parquet", cluster="locl")


# The Dask path, on a LocalCluster of two worker processes started here.


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The address of a LocalCluster of 2 single-threaded worker processes.

    The workers' STEWARD_HOME is an empty folder of their own: they cannot read the
    tests' stores, so they score with the package the job sends them, as remote workers
    that share no disk with the driver would.
    """
    home = tmp_path_factory.mktemp("worker-home")
    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
        env={"STEWARD_HOME": str(home)},
    ) as cluster:
        yield cluster.scheduler_address
    assert not any(home.iterdir())  # the workers never opened a store


@pytest.mark.parametrize("fixture", ["parquet", "csv"])
def test_a_cluster_scores_like_the_local_path_with_one_load_per_worker(
    model: Pipeline, scheduler: str, tmp_path: Path, fixture: str, request: pytest.FixtureRequest
) -> None:
    source: Path = request.getfixturevalue(fixture)
    local = score(URI, source, tmp_path / "local.parquet", chunk_rows=50)
    calls: list[tuple[int, int | None]] = []
    out = tmp_path / "cluster.parquet"
    result = score(
        URI,
        source,
        out,
        chunk_rows=50,
        cluster=scheduler,
        progress=lambda d, t: calls.append((d, t)),
    )
    parts = sorted(p.name for p in out.iterdir())
    assert out.is_dir() and parts == [f"part-{i:05d}.parquet" for i in range(result.partitions)]
    assert result.partitions >= 4 and result.rows == local.rows == ROWS
    scored = pd.read_parquet(out).sort_values("row", ignore_index=True)
    pd.testing.assert_frame_equal(scored, pd.read_parquet(tmp_path / "local.parquet"))
    assert_scored(scored, model, table(), "churn/1")
    assert len(result.model_loads) == 2 and set(result.model_loads.values()) == {1}
    assert calls[0] == (0, ROWS) and calls[-1] == (ROWS, ROWS)
    assert steward.get_run(result.run_id).params["cluster"] == scheduler


def test_a_bad_value_on_a_cluster_leaves_no_output(
    model: Pipeline, scheduler: str, tmp_path: Path
) -> None:
    rows = table().astype({"tenure": str})
    rows.loc[250, "tenure"] = "soon"
    source = tmp_path / "typo.parquet"
    rows.to_parquet(source, row_group_size=40)
    out = tmp_path / "scored.parquet"
    with pytest.raises(SignatureError, match=re.escape("Rows 240-279 of 'typo.parquet'")):
        score(URI, source, out, chunk_rows=40, cluster=scheduler)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["steward-home", "typo.parquet"]
    [run] = steward.search_runs(experiment_names=["batch-scoring"]).itertuples()
    assert run.status == "FAILED"


def test_an_existing_output_folder_is_replaced_only_with_overwrite(
    model: Pipeline, scheduler: str, parquet: Path, tmp_path: Path
) -> None:
    out = tmp_path / "scored"
    score(URI, parquet, out, chunk_rows=100, cluster=scheduler)
    with pytest.raises(AlreadyExists):
        score(URI, parquet, out, chunk_rows=100, cluster=scheduler)
    result = score(URI, parquet, out, chunk_rows=200, cluster=scheduler, overwrite=True)
    assert len(list(out.iterdir())) == result.partitions == 2
    (out / "notes.txt").write_text("mine")
    with pytest.raises(
        InvalidInput, match=re.escape("holding other files than part-*.parquet (notes.txt)")
    ):
        score(URI, parquet, out, cluster=scheduler, overwrite=True)


def test_an_unreachable_scheduler_is_reported(
    model: Pipeline, parquet: Path, tmp_path: Path
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with (
        dask.config.set({"distributed.comm.timeouts.connect": "1s"}),
        pytest.raises(
            ServerUnavailable, match=f"Cannot reach the Dask scheduler at tcp://127.0.0.1:{port}"
        ),
    ):
        score(URI, parquet, tmp_path / "scored", cluster=f"tcp://127.0.0.1:{port}")
    assert not (tmp_path / "scored").exists()
