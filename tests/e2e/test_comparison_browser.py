"""The Comparison page in Chromium: the champion a deployment serves against challengers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

import steward
from tests.e2e.conftest import NO_BROWSER, Visit

pytestmark = [NO_BROWSER, pytest.mark.slow]


@pytest.fixture
def ui(steward_home: Path) -> Iterator[str]:
    """Three versions of 'bc' evaluated on a registered holdout (also registered with a
    'size' column), 'bc-live' serving version 1 with version 2 in shadow, and the team
    server over the same store."""
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X = X.iloc[:, :8]
    train, hold = X.index < 350, X.index >= 350
    holdout = steward.register_dataset(X[hold].assign(target=y[hold]), "holdout")
    size = np.where(X[hold]["mean radius"] > 14, "large", "small")
    steward.register_dataset(X[hold].assign(target=y[hold], size=size), "holdout-sized")
    for model in (
        DecisionTreeClassifier(max_depth=5, random_state=0),
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
        DummyClassifier(strategy="most_frequent"),
    ):
        with steward.start_run(capture_environment_info=False):
            steward.log_input(holdout, context="evaluation")
            model.fit(X[train], y[train])
            steward.log_model(model, input_example=X.head(), registered_model_name="bc")
    spec = steward.traffic_spec("models:/bc/1", shadow=["models:/bc/2"])
    steward.create_deployment("bc-live", spec, reason="try the logistic regression")
    from tests.conftest import uvicorn_server

    with uvicorn_server({**os.environ}) as url:
        yield url


def test_the_comparison_page_draws_the_differences_and_the_verdict(
    browser: object, ui: str
) -> None:
    visit = Visit(browser, ui)
    page = visit.page
    page.goto(visit.base + "/ui/deployments/bc-live")
    page.locator("#comparison-link").click()
    page.wait_for_selector("#verdict")
    assert "models:/bc/2" in page.locator("#challenger").inner_text()  # the shadow
    verdict = page.locator("#verdict-text")
    assert verdict.is_visible() and verdict.inner_text() == "challenger better"
    page.wait_for_selector("#metrics-chart-plot.js-plotly-plot")
    chart = page.locator("#metrics-chart-plot")
    assert chart.locator(".main-svg").count() >= 1
    assert chart.locator("g.errorbar").count() == 2  # accuracy and roc_auc, each with its interval
    assert page.locator("#metrics-table tbody tr").count() == 2
    visit.shot("30-comparison")

    form = page.locator("#comparison-form")
    form.get_by_label("Challenger").select_option("models:/bc/3")
    form.get_by_label("Data").fill("holdout-sized")
    form.get_by_label("Segment column").fill("size")
    form.get_by_role("button", name="Compare").click()
    page.wait_for_selector("#segments-chart-plot.js-plotly-plot")
    assert page.locator("#verdict-text").inner_text() == "review"
    assert "a person should look" in page.locator("#verdict").inner_text()
    assert page.locator("#segments-table tbody tr").count() == 2
    assert page.locator(".js-plotly-plot").count() == 2
    visit.shot("31-comparison-segments")
    visit.check()
    page.close()
