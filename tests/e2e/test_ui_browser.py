"""The web UI in a real browser (Debian's Chromium driven by Playwright) over the demo's store.

Every page is opened by clicking from the home page, screenshotted into
test-artifacts/ui/, and checked for JavaScript errors and for requests leaving the server.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import NO_BROWSER, Visit

pytestmark = [NO_BROWSER, pytest.mark.timeout(900)]  # the first waits for the demo


@pytest.fixture(scope="module")
def demo_server(demo: tuple[Path, str]) -> Iterator[str]:
    """A live server on 127.0.0.1 over a store the README's demo filled."""
    env = {**os.environ, "STEWARD_HOME": str(demo[0])}
    env.pop("STEWARD_URI", None)
    from tests.conftest import uvicorn_server

    with uvicorn_server(env) as url:
        yield url


@pytest.fixture
def visit(browser: object, demo_server: str) -> Iterator[Visit]:
    v = Visit(browser, demo_server)
    yield v
    v.page.close()


def test_a_newcomer_reaches_every_page_by_clicking(visit: Visit) -> None:
    page = visit.page
    page.goto(visit.base + "/")
    assert page.get_by_role("heading", name="Projects").is_visible()
    assert page.get_by_text(
        "missed_fast_progressors"
    ).first.is_visible()  # objectives on the home page
    visit.shot("01-home")

    page.get_by_role("link", name="diabetes-triage").first.click()
    page.wait_for_selector("#runs-table")
    assert page.locator("#runs-table tbody tr").count() >= 3
    visit.shot("02-runs")

    page.get_by_role("link", name="random-forest").first.click()
    page.wait_for_selector("h1")
    assert "random-forest" in page.locator("h1").inner_text()
    assert page.get_by_text("n_estimators").first.is_visible()
    visit.shot("03-run")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Datasets").click()
    page.get_by_role("link", name="diabetes-train").first.click()
    page.wait_for_load_state()
    if page.get_by_role("link", name="1", exact=True).count():  # a versions list first
        page.get_by_role("link", name="1", exact=True).first.click()
    assert page.get_by_text("sensitive").first.is_visible()
    assert page.locator("div.chart").count() >= 1
    visit.shot("04-dataset")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Models").click()
    page.get_by_role("link", name="diabetes-progression").first.click()
    page.wait_for_load_state()
    assert page.get_by_text("champion").first.is_visible()
    visit.shot("05-model")
    page.get_by_role("link", name="1", exact=True).first.click()
    page.wait_for_load_state()
    assert page.get_by_text("scikit-learn").first.is_visible()
    assert page.get_by_text("valid").first.is_visible()  # the ONNX parity verdict
    visit.shot("06-model-version")
    page.get_by_role("link", name="reports/model_card.html").first.click()
    page.wait_for_selector(".js-plotly-plot", timeout=30_000)  # the card's figures drew
    assert "Model card: diabetes-progression version 1" in page.locator("h1").inner_text()
    assert page.locator(".js-plotly-plot").count() >= 4
    visit.shot("07-model-card")
    visit.check()


def test_filter_runs_and_see_the_error_for_a_malformed_filter(visit: Visit) -> None:
    page = visit.page
    page.goto(visit.base + "/ui/runs?project=diabetes-triage")
    page.get_by_label("Filter").fill("metrics.test_roc_auc > 0.85 and tags.purpose = 'demo'")
    page.get_by_role("button", name="Search").click()
    page.wait_for_selector("#runs-table")
    names = page.locator("#runs-table tbody td:nth-child(2)").all_inner_texts()
    assert names and set(names) <= {"logistic-regression", "random-forest"}
    page.get_by_label("Filter").fill("metrics.test_roc_auc >> 0.85")
    page.get_by_role("button", name="Search").click()
    error = page.get_by_role("alert")
    assert "character 23" in error.inner_text() and "expected a number" in error.inner_text()
    visit.shot("08-filter-error")
    visit.check()


def test_compare_two_runs(visit: Visit) -> None:
    page = visit.page
    page.goto(visit.base + "/ui/runs?project=diabetes-triage")
    boxes = page.locator("#runs-table tbody input[type=checkbox]")
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.locator("#compare-form button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator("tr.differs").count() >= 3
    visit.shot("09-compare")
    visit.check()


def test_the_demos_retraining_ab_test_and_shadow_test_are_shown(visit: Visit) -> None:
    page = visit.page
    page.goto(visit.base + "/ui/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Retraining").click()
    rows = page.locator("#retrainings-table tbody tr")
    assert [rows.nth(i).get_attribute("data-status") for i in range(rows.count())] == [
        "stopped",
        "review",
    ]
    rows.nth(1).get_by_role("link").first.click()
    assert "held for review" in page.locator("#steps-table").inner_text()
    page.frame_locator("iframe.report").locator(".js-plotly-plot").first.wait_for()
    visit.shot("50-demo-retraining")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Deployments").click()
    page.get_by_role("link", name="diabetes-progression").first.click()
    page.locator("#ab-link").click()
    page.wait_for_selector("#readout-facts")
    body = page.locator("main").inner_text()
    assert "1,192" in body and "no fixed-horizon verdict yet" in body
    assert "P(B beats A)" in body
    visit.shot("51-demo-ab")

    page.go_back()
    page.locator("#shadow-link").click()
    page.wait_for_load_state()
    assert "133" in page.locator("main").inner_text()
    visit.shot("52-demo-shadow")
