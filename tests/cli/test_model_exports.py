"""`steward models card|export` for a model logged the way MLflow tutorials do: an input example, no dataset."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import steward

from .conftest import Invoke


@pytest.fixture
def bc() -> tuple[pd.DataFrame, pd.Series]:
    """Register model 'bc' from a run that logged no dataset; return its data."""
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X = X.iloc[:, :10]  # ten features: the card's model-agnostic Shapley values stay quick
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
    with steward.start_run():
        steward.log_model(model, input_example=X, registered_model_name="bc")
    return X, y


def test_a_card_is_built_without_any_dataset_and_says_what_is_missing(
    cli: Invoke, bc: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    result = cli("models", "card", "models:/bc/1", "--html", str(tmp_path / "card.html"))
    assert result.exit_code == 0, result.output
    assert "Model card of bc version 1" in result.output
    assert "evaluation data" in result.output  # listed among what is missing
    card = steward.model_card("models:/bc/1", save=False)
    for heading in ("## Evaluation data", "## Quantitative analyses", "## Explanations"):
        assert heading in card.markdown
    assert "_Missing: no evaluation data with outcomes was given" in card.markdown
    assert "rows sampled within the signature" in card.markdown
    assert "Global importance" in card.markdown  # explanations need no outcomes
    assert "evaluation data" in card.missing
    assert (tmp_path / "card.html").read_text().count("<h2>") >= 10


def test_card_takes_a_data_file_with_outcomes(
    cli: Invoke, bc: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    X, y = bc
    path = tmp_path / "holdout.parquet"
    X.assign(target=y).sample(200, random_state=0).to_parquet(path)
    result = cli("models", "card", "models:/bc/1", "--data", str(path))
    assert result.exit_code == 0, result.output
    card = steward.model_card("models:/bc/1", data=str(path), save=False)
    assert f"200 rows of {path}; target column `target`" in card.markdown
    assert "evaluation data" not in card.missing


def test_export_checks_parity_on_sampled_rows_and_says_so(
    cli: Invoke, bc: tuple[pd.DataFrame, pd.Series]
) -> None:
    result = cli("models", "export", "models:/bc/1", "--format", "onnx")
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "ONNX export of bc version 1: valid" in out
    assert (
        "5000 rows of the model's input example (5 rows) and 4995 rows sampled within the "
        "signature's recorded ranges and categories" in out
    )
    assert "sampled: no dataset was recorded (pass --data for real rows)" in out


def test_export_takes_a_data_file(
    cli: Invoke, bc: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    X, _ = bc
    path = tmp_path / "rows.csv"
    X.head(50).to_csv(path, index=False)
    result = cli("models", "export", "models:/bc/1", "--data", str(path))
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert f"50 rows of {path}" in out and "given with --data" in out
    missing = cli("models", "export", "models:/bc/1", "--data", "nope.csv")
    assert missing.exit_code == 3 and "no such file" in missing.output
