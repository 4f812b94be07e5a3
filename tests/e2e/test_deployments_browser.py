"""The Deployments wing in Chromium while a deployment serves live traffic."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import steward
from tests.e2e.conftest import NO_BROWSER, Visit
from tests.serve.conftest import churn_frame, churn_model, records, steward_serve

pytestmark = [NO_BROWSER, pytest.mark.slow]


@pytest.fixture
def traffic_and_ui(steward_home: Path) -> Iterator[dict[str, Any]]:
    """A shadow deployment served over a socket with traffic flowing, and the team server."""
    X, y = churn_frame(200)
    for c in (1.0, 0.01):
        with steward.start_run(capture_environment_info=False):
            steward.log_model(churn_model(X, y, c), input_example=X, registered_model_name="churn")
    steward.create_deployment(
        "churn",
        steward.traffic_spec("models:/churn/1", shadow=["models:/churn/2"]),
        reason="try v2",
    )
    stop = threading.Event()
    sent = {"requests": 0}

    def load(url: str) -> None:
        with httpx.Client(timeout=10) as client:
            i = 0
            while not stop.is_set():
                client.post(
                    f"{url}/predict", json={"records": records(X.iloc[i % 200 : i % 200 + 1])}
                )
                if i % 25 == 0:
                    client.post(f"{url}/predict", json={"records": [{"tenure": "bad"}]})  # an error
                sent["requests"] += 1
                i += 1

    from tests.conftest import uvicorn_server

    with steward_serve("--deployment", "churn") as serving_url:
        thread = threading.Thread(target=load, args=(serving_url,), daemon=True)
        thread.start()
        with uvicorn_server({**os.environ}) as ui_url:
            yield {"ui": ui_url, "serving": serving_url, "sent": sent}
        stop.set()
        thread.join(timeout=10)


def test_the_deployments_pages_show_live_traffic(
    browser: object, traffic_and_ui: dict[str, Any]
) -> None:
    visit = Visit(browser, traffic_and_ui["ui"])
    page = visit.page
    while traffic_and_ui["sent"]["requests"] < 100:
        page.wait_for_timeout(200)
    page.wait_for_timeout(1500)  # a segment of the prediction log is written every second
    page.goto(visit.base + "/ui/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Deployments").click()
    page.wait_for_selector("#deployments-table")
    row = page.locator("#deployments-table tbody tr").first
    assert "churn" in row.inner_text() and "shadow" in row.inner_text()
    visit.shot("10-deployments")
    page.get_by_role("link", name="churn", exact=True).click()
    page.wait_for_selector("#route-traffic")
    assert page.locator("#policy").inner_text() == "shadow"
    routes = page.locator("#routes-table").inner_text()
    assert "models:/churn/1" in routes and "models:/churn/2" in routes
    traffic = page.locator("#route-traffic").inner_text()
    assert "primary" in traffic and "shadow" in traffic
    summary = page.locator("#traffic-summary").inner_text()
    first = int(summary.split("Requests")[1].split()[0])
    assert first > 50 and "Errors" in summary
    assert page.locator("#shadow-agreement").is_visible()
    page.wait_for_selector(".js-plotly-plot")
    assert page.locator(".js-plotly-plot").count() == 3
    assert "try v2" in page.locator("#history-table").inner_text()
    visit.shot("11-deployment")
    page.wait_for_timeout(1500)
    page.reload()
    page.wait_for_selector("#traffic-summary")
    again = int(page.locator("#traffic-summary").inner_text().split("Requests")[1].split()[0])
    assert again > first  # live: the count grows while traffic runs
    visit.check()
    visit.page.close()
