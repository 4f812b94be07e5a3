"""The Monitoring pages in Chromium: a clean window, then a drifted one with bad labels."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import steward
from steward.monitor import MonitorConfig, calibrate_estimator, monitor_deployment
from tests.e2e.conftest import NO_BROWSER, Visit
from tests.monitor.conftest import register_churn, send_traffic
from tests.serve.conftest import churn_frame, serving

pytestmark = [NO_BROWSER, pytest.mark.slow]


@pytest.fixture
def monitored(steward_home: Path) -> Iterator[dict[str, Any]]:
    """Two monitoring runs of 'churn' (calm, then drifted), and the team server."""
    register_churn()
    held_out, y_held = churn_frame(400, seed=7)
    calibrate_estimator("models:/churn/1", held_out, y_held)
    steward.context.get_backend().set_monitor_config(
        "retention",
        MonitorConfig.model_validate(
            {
                "drift": {"feature_share": 0.3},
                "performance": {"metric": "accuracy", "min": 0.6, "min_labels": 20},
                "kpis": [
                    {"name": "flagged", "expression": "prediction == 1", "needs_labels": False}
                ],
            }
        ),
    )
    clean, y = churn_frame(100, seed=1)
    shifted, y2 = churn_frame(100, seed=2)
    shifted = shifted.assign(tenure=shifted["tenure"] + 60, monthly=shifted["monthly"] * 2.5)
    with serving("models:/churn/1") as (client, prepared):
        t0 = time.time()
        send_traffic(client, clean, y)
        t1 = time.time()
        send_traffic(client, shifted, 1 - y2)
        t2 = time.time()
        prepared.state.log.flush()
    calm = monitor_deployment("churn", window=t1 - t0 + 0.01, end=t1)
    stormy = monitor_deployment("churn", window=t2 - t1 + 0.01, end=t2 + 0.01)
    assert not calm.alerts and stormy.alerts
    from tests.conftest import uvicorn_server

    with uvicorn_server({**os.environ}) as url:
        yield {"ui": url, "calm": calm, "stormy": stormy}


def test_monitoring_pages_show_drift_performance_health_kpis_and_alerts(
    browser: object, monitored: dict[str, Any]
) -> None:
    visit = Visit(browser, monitored["ui"])
    page = visit.page
    page.goto(visit.base + "/ui/deployments/churn")
    page.locator("#monitoring-link").click()
    page.wait_for_selector("#latest-run")
    latest = page.locator("#latest-run").inner_text()
    assert "churn/1" in latest and "tenure" in latest and "monthly" in latest
    assert "accuracy" in latest and "estimated" in latest and "p99" in latest
    assert "KPI flagged" in latest
    alerts = page.locator("#alerts-table").inner_text()
    assert "drift.features" in alerts and "performance.min" in alerts
    assert page.locator("#runs-table tbody tr").count() == 2
    page.wait_for_selector("[data-figure] .main-svg")
    titles = [
        page.locator("#" + c.get_attribute("data-figure")).count()
        for c in page.locator("[data-figure]").all()
    ]
    assert len(titles) >= 6  # distribution overlays and series over time, all drawn
    drawn = page.locator("[data-figure] .main-svg").count()
    assert drawn >= len(titles)
    labels = " ".join(
        c.get_attribute("aria-label") or "" for c in page.locator("[data-figure]").all()
    )
    for title in (
        "Distribution of tenure",
        "Drift",
        "Performance over time",
        "Estimated performance",
        "Latency over time",
        "still waiting for labels",
        "KPIs",
    ):
        assert title in labels, title
    visit.shot("20-monitoring")
    stormy_run = monitored["stormy"].monitor_run_id
    page.locator("#alerts-table a", has_text=f"run {stormy_run}").first.click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/ui/monitoring/runs/{stormy_run}/report")
    assert "tenure" in page.content()
    page.goto(visit.base + "/ui/alerts")
    rows = page.locator("#alerts-table tbody tr")
    assert rows.count() == len(monitored["stormy"].alerts)
    assert "churn" in rows.first.inner_text()
    visit.shot("21-alerts")
    visit.check()
    page.close()
