"""Lineage and audit in Chromium: walk the graph from a dataset to a deployment and back by
clicking its nodes, then read the audit log as an auditor, before and after tampering."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import steward
from tests.e2e.conftest import NO_BROWSER, Visit

pytestmark = [NO_BROWSER, pytest.mark.slow]


@pytest.fixture
def governed(steward_home: Path) -> Iterator[dict[str, Any]]:
    """A dataset with personal data, a run trained on it, its model deployed; the server."""
    frame = pd.DataFrame(
        {
            "email": [f"user{i}@example.com" for i in range(60)],
            "tenure": [i % 13 for i in range(60)],
            "churn": [i % 2 for i in range(60)],
        }
    )
    data = steward.register_dataset(frame, "clients", terms_of_use="internal", retention="3 years")
    with steward.start_run("fit-clients", capture_environment_info=False) as run:
        steward.log_input(data)
        model = LogisticRegression().fit(frame[["tenure"]], frame["churn"])
        steward.log_model(model, input_example=frame[["tenure"]], registered_model_name="clf")
    steward.create_deployment("clf-live", "models:/clf/1", reason="first")
    from tests.conftest import uvicorn_server

    with uvicorn_server({**os.environ}) as url:
        yield {"ui": url, "run": run.id, "db": steward_home / "steward.db"}


def test_lineage_is_walked_by_clicking_nodes_from_a_dataset_to_a_deployment(
    browser: object, governed: dict[str, Any]
) -> None:
    visit = Visit(browser, governed["ui"])
    page = visit.page
    page.goto(visit.base + "/ui/datasets/clients/1")
    pii = page.locator("#pii-table").inner_text()
    assert "email" in pii and "EMAIL_ADDRESS" in pii
    assert "delete 3 years after registration" in page.locator("#retention").inner_text()
    page.locator("#lineage-link").click()
    page.wait_for_selector("#lineage-graph")
    assert (
        page.get_by_role("heading", level=1).inner_text() == "Lineage — dataset version clients@1"
    )
    visit.shot("40-lineage-dataset")
    # Click the model version's node in the graph: its page opens.
    page.locator('#lineage-graph a[aria-label="Model version clf v1"]').click()
    page.wait_for_url("**/ui/models/clf/1")
    page.locator("#lineage-link").click()
    page.wait_for_selector("#lineage-graph")
    graph = page.locator("#lineage-graph")
    for label in ("clients@1", "fit-clients", "clf v1", "clf-live", "predictions of clf-live"):
        assert graph.get_by_text(label).count() >= 1, label
    # Then the deployment's node, and from its page back to the graph, centred on it.
    graph.locator('a[aria-label="Deployment clf-live"]').click()
    page.wait_for_url("**/ui/deployments/clf-live")
    page.locator("#lineage-link").click()
    page.wait_for_selector("#lineage-table")
    rows = page.locator("#lineage-table").inner_text()
    assert "clients@1" in rows and "fit-clients" in rows  # upstream of the deployment
    # "centre here" from the table re-draws around the run.
    page.locator("#lineage-table tr", has_text="fit-clients").get_by_role(
        "link", name="centre here"
    ).click()
    page.wait_for_selector("#lineage-graph")
    assert "run fit-clients" in page.get_by_role("heading", level=1).inner_text()
    # Keyboard users reach the nodes too: each is a focusable link.
    page.locator("#lineage-graph a").first.focus()
    assert page.evaluate("document.activeElement.closest('svg') !== null")
    visit.shot("41-lineage-run")
    visit.check()


def test_the_audit_log_shows_filters_and_a_broken_chain(
    browser: object, governed: dict[str, Any]
) -> None:
    visit = Visit(browser, governed["ui"])
    page = visit.page
    page.goto(visit.base + "/ui/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit").click()
    page.wait_for_selector("#audit-table")
    assert page.locator("#chain-verdict").inner_text() == "holds"
    assert ":" in page.locator("#anchor").inner_text()
    page.get_by_label("Action starts with").fill("deployment.")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_selector("#audit-table")
    actions = page.locator("#audit-table tbody td:nth-child(4)").all_inner_texts()
    assert actions == ["deployment.created"]
    visit.shot("42-audit")
    # A database administrator edits a row by hand: the auditor's page names it.
    with sqlite3.connect(governed["db"]) as db:
        (row,) = db.execute("SELECT id FROM events WHERE action = 'run.created'").fetchone()
        db.execute("UPDATE events SET actor = 'mallory' WHERE id = ?", (row,))
    page.goto(visit.base + "/ui/audit")
    assert page.locator("#chain-verdict").inner_text() == "broken"
    assert f"row {row}, edited" in page.locator("#chain-problems").inner_text()
    assert page.locator("#audit-table tr[data-broken]").count() == 1
    visit.shot("43-audit-broken")
    visit.check()
