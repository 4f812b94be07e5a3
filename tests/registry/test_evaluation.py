"""Which data a version is evaluated on: given, recorded, or sampled within its signature."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import steward
from steward.errors import InvalidInput, NotFound
from steward.registry import evaluation_data
from steward.registry._evaluation import input_example, sample_within_signature


def _frame(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "age": rng.integers(18, 90, n),
            "income": rng.uniform(1_000.0, 9_000.0, n),
            "plan": pd.Categorical(rng.choice(["basic", "gold", "pro"], n)),
            "member": rng.integers(0, 2, n).astype(bool),
        }
    )


def _version(frame: pd.DataFrame, *, with_dataset: bool = False) -> steward.ModelVersion:
    X = pd.get_dummies(frame, columns=["plan"]).astype(float)
    y = (frame["income"] > 5000).astype(int)
    model = LogisticRegression(max_iter=500).fit(X, y)
    with steward.start_run(capture_environment_info=False):
        if with_dataset:
            steward.log_input(steward.register_dataset(frame.assign(y=y), "people"))
        info = steward.log_model(model, input_example=X, registered_model_name="m")
    assert info.version is not None
    return info.version


def test_sampled_rows_start_with_the_example_and_stay_within_the_signature(
    backend: object,
) -> None:
    frame = _frame()
    with steward.start_run(capture_environment_info=False):
        info = steward.log_model(
            LogisticRegression().fit(frame[["age", "income"]], frame["member"]),
            input_example=frame,
            registered_model_name="raw",
        )
    assert info.version is not None
    got = evaluation_data(info.version, purpose="check parity on", rows=500)
    assert got.source == "sample" and not got.labeled
    assert got.description == (
        "the model's input example (5 rows) and 495 rows sampled within the signature's "
        "recorded ranges and categories"
    )
    rows = got.frame
    assert len(rows) == 500 and list(rows.columns) == ["age", "income", "plan", "member"]
    example = input_example(info.version)
    assert example is not None
    pd.testing.assert_frame_equal(rows.head(5), example, check_categorical=False)
    assert rows["age"].between(frame["age"].min(), frame["age"].max()).all()
    assert rows["income"].between(frame["income"].min(), frame["income"].max()).all()
    assert set(rows["plan"].astype(str)) == {"basic", "gold", "pro"}
    assert str(rows["age"].dtype) == "int64" and str(rows["plan"].dtype) == "category"
    assert rows["member"].dtype == bool
    again = evaluation_data(info.version, purpose="check parity on", rows=500)
    pd.testing.assert_frame_equal(again.frame, rows)  # reproducible: same seed, same rows
    loaded = steward.load_model(info.version.uri)
    loaded.validate(rows)  # every sampled row passes the model's own signature check


def test_given_data_wins_then_recorded_datasets(backend: object, tmp_path) -> None:  # type: ignore[no-untyped-def]
    frame = _frame()
    version = _version(frame, with_dataset=True)
    recorded = evaluation_data(version, purpose="evaluate")
    assert (recorded.source, recorded.description) == ("dataset", "people@1 (training)")
    path = tmp_path / "holdout.csv"
    frame.head(7).to_csv(path, index=False)
    given = evaluation_data(version, str(path), purpose="evaluate")
    assert given.source == "given" and len(given.frame) == 7 and given.labeled
    with pytest.raises(NotFound, match="no such file"):
        evaluation_data(version, "missing.csv", purpose="evaluate")
    with pytest.raises(InvalidInput, match="must be a DataFrame, a data file or a dataset name"):
        evaluation_data(version, 3, purpose="evaluate")


def test_no_signature_and_no_example_is_a_clear_error(backend: object) -> None:
    frame = _frame()
    with steward.start_run(capture_environment_info=False):
        info = steward.log_model(
            LogisticRegression().fit(frame[["age", "income"]], frame["member"]),
            registered_model_name="bare",
        )
    assert info.version is not None
    with pytest.raises(InvalidInput, match="log the model with input_example="):
        evaluation_data(info.version, purpose="check parity on")


def test_a_column_without_range_or_example_cannot_be_sampled() -> None:
    signature = steward.Signature.model_validate(
        {
            "inputs": [{"name": "note", "dtype": "object", "kind": "text", "nullable": False}],
            "output": {"task": "other"},
        }
    )
    with pytest.raises(InvalidInput, match="Cannot sample column 'note'"):
        sample_within_signature(signature, None, rows=3)
