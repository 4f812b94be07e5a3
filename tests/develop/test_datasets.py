"""Datasets: content-addressed versions, profiles, sensitive columns, lineage, verification."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import steward
from steward._backend import Backend, get_backend
from steward.errors import IntegrityError, InvalidInput, NotFound


@pytest.fixture
def credit() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 500
    return pd.DataFrame(
        {
            "income": rng.normal(50_000, 10_000, n).round(2),
            "age": rng.integers(18, 80, n),
            "sex": rng.choice(["F", "M"], n),
            "region": rng.choice(["north", "south", "east", "west", None], n),
            "default": rng.integers(0, 2, n).astype(bool),
        }
    )


def test_same_content_same_version_new_content_new_version(
    backend: Backend, credit: pd.DataFrame
) -> None:
    v1 = steward.register_dataset(
        credit,
        "credit",
        source="bank export 2026-11",
        terms_of_use="internal only",
        sensitive_columns=["sex", "age"],
    )
    again = steward.register_dataset(credit.copy(), "credit")
    assert again.id == v1.id and again.version == 1
    v2 = steward.register_dataset(credit.head(400), "credit")
    assert v2.version == 2 and v2.content_hash != v1.content_hash
    assert (
        v1.row_count == 500
        and v1.source == "bank export 2026-11"
        and v1.terms_of_use == "internal only"
    )
    assert v1.sensitive_columns == ["sex", "age"]
    assert {c.name for c in v1.columns if c.sensitive} == {"sex", "age"}
    assert [v.version for v in get_backend().list_dataset_versions("credit")] == [2, 1]
    assert steward.get_dataset("credit").version == 2
    assert steward.get_dataset("credit", 1).content_hash == v1.content_hash


def test_profile_has_types_missing_rates_quantiles_and_categories(
    backend: Backend, credit: pd.DataFrame
) -> None:
    version = steward.register_dataset(credit, "credit")
    cols = version.profile["columns"]
    income = cols["income"]
    assert income["kind"] == "numeric"
    assert income["quantiles"]["0.5"] == pytest.approx(credit["income"].median())
    assert income["min"] == credit["income"].min() and income["max"] == credit["income"].max()
    assert sum(income["histogram"]["counts"]) == 500
    region = cols["region"]
    assert region["kind"] == "categorical"
    assert region["missing_rate"] == pytest.approx(credit["region"].isna().mean())
    assert {t["value"] for t in region["top"]} == {"north", "south", "east", "west"}
    assert cols["default"]["kind"] == "boolean"
    assert set(version.profile["suggested_sensitive"]) == {"sex", "age"}


def test_load_returns_the_data_and_refuses_altered_data(
    backend: Backend, credit: pd.DataFrame, tmp_path: Path
) -> None:
    version = steward.register_dataset(credit, "credit")
    loaded = steward.load_dataset("credit")
    pd.testing.assert_frame_equal(
        loaded.reset_index(drop=True), credit.reset_index(drop=True), check_dtype=False
    )
    if isinstance(backend, type(get_backend())) and hasattr(backend.blobs, "root"):
        blob = Path(backend.blobs.root) / "blobs" / version.blob_sha256[:2] / version.blob_sha256
        blob.write_bytes(blob.read_bytes()[:-10] + b"0123456789")
        with pytest.raises(IntegrityError, match="altered"):
            steward.load_dataset("credit")


def test_register_from_files_and_parse_errors(
    backend: Backend, credit: pd.DataFrame, tmp_path: Path
) -> None:
    csv = tmp_path / "credit.csv"
    credit.to_csv(csv, index=False)
    from_csv = steward.register_dataset(csv, "credit-file")
    assert from_csv.row_count == 500 and from_csv.source == str(csv.resolve())
    credit.to_parquet(tmp_path / "credit.parquet")
    assert steward.register_dataset(tmp_path / "credit.parquet", "credit-pq").row_count == 500
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"this is not parquet")
    with pytest.raises(InvalidInput, match=r"Cannot parse .*broken.parquet"):
        steward.register_dataset(broken, "broken")
    with pytest.raises(InvalidInput, match="unknown file type"):
        steward.register_dataset(
            tmp_path / "credit.csv.bak" if (tmp_path / "credit.csv.bak").write_text("x") else "",
            "x",
        )
    with pytest.raises(NotFound, match="no such file"):
        steward.register_dataset(tmp_path / "absent.csv", "absent")
    assert [d.name for d in get_backend().list_datasets()] == ["credit-file", "credit-pq"]


def test_bad_dataset_inputs(backend: Backend, credit: pd.DataFrame) -> None:
    with pytest.raises(InvalidInput, match="Did you mean 'sex'"):
        steward.register_dataset(credit, "credit", sensitive_columns=["sexx"])
    with pytest.raises(InvalidInput, match="mixes types"):
        steward.register_dataset(pd.DataFrame({"a": [1, "x", 2.5]}), "mixed")
    with pytest.raises(InvalidInput, match="dataset name"):
        steward.register_dataset(credit, "no spaces please")
    with pytest.raises(NotFound, match="Did you mean 'credit'"):
        steward.register_dataset(credit, "credit")
        steward.get_dataset("credt")
    with pytest.raises(NotFound, match="versions are 1"):
        steward.get_dataset("credit", 7)


def test_log_input_creates_lineage_and_is_searchable(
    backend: Backend, credit: pd.DataFrame
) -> None:
    train = steward.register_dataset(credit.head(400), "credit")
    holdout = steward.register_dataset(credit.tail(100), "credit-holdout")
    with steward.start_run("fit") as run:
        steward.log_input(train, context="training")
        steward.log_input("credit-holdout", context="evaluation")
    with steward.start_run("other"):
        pass
    stored = steward.get_run(run.id)
    assert [(i.dataset, i.version, i.context) for i in stored.inputs] == [
        ("credit", 1, "training"),
        ("credit-holdout", 1, "evaluation"),
    ]
    usage = get_backend().get_dataset_usage("credit")
    assert [(u.run_id, u.context) for u in usage] == [(run.id, "training")]
    assert steward.search_runs("datasets.name = 'credit-holdout'")["run_id"].tolist() == [run.id]
    assert holdout.version == 1
    with pytest.raises(NotFound):
        get_backend().log_input(run.id, 99999, "training")
