"""`steward models compare`."""

from __future__ import annotations

import json
from pathlib import Path

from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

import steward

from .conftest import Invoke


def test_compare_prints_the_verdict_the_table_and_writes_a_report(
    cli: Invoke, tmp_path: Path
) -> None:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X = X.iloc[:, :8]
    train = X.index < 350
    for model in (
        DecisionTreeClassifier(max_depth=5, random_state=0),
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
    ):
        with steward.start_run(capture_environment_info=False):
            model.fit(X[train], y[train])
            steward.log_model(model, input_example=X.head(), registered_model_name="bc")
    holdout = tmp_path / "holdout.parquet"
    X[~train].assign(target=y[~train]).to_parquet(holdout)
    args = ("models", "compare", "models:/bc/1", "models:/bc/2", "--data", str(holdout))
    shown = cli(*args, "--report", str(tmp_path / "cmp.html"))
    assert shown.exit_code == 0, shown.output
    text = " ".join(shown.output.split())
    assert "models:/bc/2 against models:/bc/1: challenger better" in text
    assert "219 rows of" in text and "roc_auc" in text and "95% interval" in text
    assert "challenger better" in (tmp_path / "cmp.html").read_text()
    as_json = json.loads(cli(*args, "--json").output)
    assert as_json["verdict"] == "challenger better" and as_json["rows"] == 219
    missing = cli("models", "compare", "models:/bc/1", "models:/bc/2")
    assert missing.exit_code != 0 and "command line, --data" in " ".join(missing.output.split())
