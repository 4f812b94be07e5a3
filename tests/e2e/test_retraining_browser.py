"""The retraining pages in Chromium: the runs, the step that stopped one, the report."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from steward.iterate import retrain
from tests.e2e.conftest import NO_BROWSER, Visit
from tests.iterate.test_retrain import _new_rows, champion_and_config

pytestmark = [NO_BROWSER, pytest.mark.slow]


@pytest.fixture
def ui(steward_home: Path, tmp_path: Path) -> Iterator[tuple[str, int, int]]:
    """A promoted retraining run and one stopped by a new column; the team server."""
    champion_and_config(tmp_path, promotion={"max_drop": 0.05})
    promoted = retrain("bc", _new_rows()).run.id
    stopped = retrain("bc", _new_rows().assign(extra=1.0)).run.id
    from tests.conftest import uvicorn_server

    with uvicorn_server({**os.environ}) as url:
        yield url, promoted, stopped


def test_the_runs_their_stopping_step_and_the_report(
    browser: object, ui: tuple[str, int, int]
) -> None:
    url, promoted, stopped = ui
    visit = Visit(browser, url)
    page = visit.page
    page.goto(visit.base + "/ui/")
    page.get_by_role("link", name="Retraining", exact=True).click()
    rows = page.locator("#retrainings-table tbody tr")
    assert rows.count() == 2
    assert rows.first.get_attribute("data-status") == "stopped"  # newest first
    rows.first.get_by_role("link", name=f"#{stopped}").click()
    stop = page.locator('ol.pipeline li[data-step="validate"]')
    assert "stopped here" in stop.inner_text()
    assert stop.evaluate("e => getComputedStyle(e).outlineStyle") == "solid"
    assert "new column(s) ['extra']" in page.locator("#steps-table").inner_text()
    visit.shot("40-retraining-stopped")

    page.goto(visit.base + f"/ui/retraining/{promoted}")
    assert page.locator("#outcome .badge").inner_text() == "promoted"
    report = page.frame_locator("iframe.report")
    report.locator(".js-plotly-plot").first.wait_for()
    assert report.locator(".js-plotly-plot").count() >= 2  # drift per feature, the differences
    assert "Champion against challenger" in report.locator("body").inner_text()
    visit.shot("41-retraining-report")
