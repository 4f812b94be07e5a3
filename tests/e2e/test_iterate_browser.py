"""The shadow, bandit and A/B pages in Chromium, over deployments served with real traffic."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import uvicorn_server
from tests.e2e.conftest import NO_BROWSER, Visit
from tests.iterate.conftest import Live, build_live

pytestmark = [NO_BROWSER, pytest.mark.slow]


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Live]]:
    """The team server over the store of the served shadow, bandit and A/B deployments."""
    live = build_live(tmp_path_factory)
    env = {**os.environ, "STEWARD_HOME": str(live.home), "STEWARD_USER": "tester"}
    for var in ("STEWARD_STORE_URI", "STEWARD_ARTIFACT_URI"):
        env.pop(var, None)
    with uvicorn_server(env) as url:
        yield url, live


def test_the_live_test_pages_draw_their_charts_and_verdicts(
    browser: Any, ui: tuple[str, Live]
) -> None:
    url, _ = ui
    visit = Visit(browser, url)
    page = visit.page
    page.goto(visit.base + "/ui/deployments/clf-shadow")
    page.get_by_role("link", name="shadow test: agreement, differences, verdict").click()
    page.wait_for_selector(".js-plotly-plot")
    verdict = page.locator("#verdict-shadow")
    assert verdict.is_visible() and verdict.inner_text() == "primary better"
    assert "230 requests (276 rows)" in page.locator("#facts-shadow").inner_text()
    assert page.locator("#differences-shadow + .chart .main-svg").count() >= 1
    assert "McNemar exact" in page.locator("#performance-shadow").inner_text()
    visit.shot("30-shadow-test")

    page.goto(visit.base + "/ui/deployments/bandit")
    page.get_by_role("link", name="bandit arms: traffic share, posteriors, regret").click()
    page.wait_for_selector(".js-plotly-plot")
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length === 3")
    assert page.locator("#best-arm").inner_text() == "arm-2"
    assert "arm-1" in page.locator("#share-chart + .chart").inner_text()  # the legend
    visit.shot("31-bandit")

    page.goto(visit.base + "/ui/deployments/ab")
    page.get_by_role("link", name="A/B readout: plan, progress, verdict").click()
    page.wait_for_selector("#readout")
    assert page.locator("progress").count() == 2 and page.locator("#bar-A").is_visible()
    assert "no fixed-horizon verdict yet" in page.locator("#fixed").inner_text()
    assert page.locator("#prob-b").is_visible()
    visit.shot("32-ab-test")
    visit.check()
    page.close()
