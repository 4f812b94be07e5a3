"""Model cards: built from records, person-only sections marked missing, attached to versions."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder
from typer.testing import CliRunner

import steward
from steward._backend import Backend, set_backend
from steward.cli import app
from steward.errors import InvalidInput


@pytest.fixture
def registered(sqlite_backend: Backend) -> str:
    set_backend(sqlite_backend)
    rng = np.random.default_rng(1)
    n = 400
    frame = pd.DataFrame(
        {
            "income": rng.normal(50, 15, n).round(1),
            "tenure": rng.integers(0, 30, n),
            "region": rng.choice(["north", "south"], n),
            "sex": rng.choice(["F", "M"], n),
        }
    )
    frame["approved"] = ((frame["income"] + 10 * (frame["sex"] == "M")) > 55).astype(int)
    train = steward.register_dataset(frame.head(300), "loans", sensitive_columns=["sex"])
    holdout = steward.register_dataset(frame.tail(100), "loans-holdout", sensitive_columns=["sex"])
    features = ["income", "tenure", "region"]
    model = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), ["region"]), remainder="passthrough"
        ),
        RandomForestClassifier(n_estimators=30, random_state=0),
    ).fit(frame.head(300)[features], frame.head(300)["approved"])
    with steward.start_run("rf", capture_environment_info=False):
        steward.log_input(train, context="training")
        steward.log_input(holdout, context="evaluation")
        steward.log_metric("auc", 0.9)
        steward.log_model(
            model, input_example=frame.head(300)[features], registered_model_name="loans"
        )
    return "models:/loans/1"


def test_card_has_every_section_from_records(registered: str) -> None:
    steward.set_model_tag("loans", "intended_use", "Pre-screening of small loans by analysts.")
    card = steward.model_card(registered)
    text = card.markdown
    for heading in (
        "## Model details",
        "## Intended use",
        "## Factors",
        "## Metrics",
        "## Training data",
        "## Evaluation data",
        "## Quantitative analyses",
        "## Explanations",
        "## Ethical considerations",
        "## Caveats and recommendations",
        "## Sign-offs",
    ):
        assert heading in text, heading
    assert "Pre-screening of small loans by analysts." in text  # written by a person: used
    assert "intended_use" not in card.missing
    assert {
        "intended_users",
        "out_of_scope",
        "ethical_considerations",
        "caveats",
        "sign-offs",
    } <= set(card.missing)
    assert "_Missing: to be written by the model's owner" in text  # not invented
    assert "`loans` v1: 300 rows" in text and "`loans-holdout` v1" in text
    assert "| auc | 0.9 |" in text
    assert "target column `approved`" in text  # the one column that is not an input
    assert "### Metrics by sex" in text and "| sex | 0.0" in text  # fairness: DP difference row
    assert "tree explainer" in text  # the forest is explained exactly, and the card says so
    assert "Global importance" in text and "| income |" in text
    assert set(card.figures) >= {"Shapley importance", "Metrics per sex"}
    assert card.flags == []  # income drives the decisions; sex is not an input and passes 4/5


def test_card_is_attached_and_renders_offline(registered: str) -> None:
    card = steward.model_card(registered)
    version = steward.get_model_version(registered)
    reports = {f.path for f in version.files if f.kind == "report"}
    assert reports == {"reports/model_card.md", "reports/model_card.html"}
    page = card.to_html()
    assert page.startswith("<!doctype html>") and "Plotly.newPlot" in page
    outside_scripts = re.sub(r"<script.*?</script>", "", page, flags=re.S)
    assert re.search(r'(src|href)="https?://', outside_scripts) is None  # works offline


def test_card_errors_and_cli(registered: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput, match="target column 'nope'"):
        steward.model_card(registered, target="nope", save=False)
    out = CliRunner().invoke(
        app, ["models", "card", registered, "--html", str(tmp_path / "card.html")]
    )
    assert out.exit_code == 0, out.output
    assert "Model card of loans version 1" in out.stdout
    assert (tmp_path / "card.html").read_text().count("<h2>") >= 10
