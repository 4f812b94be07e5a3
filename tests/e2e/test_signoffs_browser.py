"""Sign-offs in Chromium on a server with users: the author asks for a review and cannot
approve; a reviewer approves; an auditor sees everything and can change nothing."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import steward
from steward import govern
from steward.context import get_backend
from tests.e2e.conftest import NO_BROWSER, Visit
from tests.serve.conftest import churn_frame, churn_model

pytestmark = [NO_BROWSER, pytest.mark.slow]
PASSWORD = "a long enough passphrase"


@pytest.fixture
def team_server(steward_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A version alice trained under a high-risk policy, validated; users; the server."""
    monkeypatch.setenv("STEWARD_USER", "alice")
    X, y = churn_frame(200)
    data = steward.register_dataset(X.assign(churned=y), "churn-data", terms_of_use="internal")
    with steward.start_run(capture_environment_info=False):
        steward.log_input(data, context="evaluation")
        steward.log_model(churn_model(X, y, 1.0), input_example=X, registered_model_name="churn")
    govern.set_policy("default", {"risk": "high", "checks": ["accuracy"]})
    assert govern.validate("models:/churn/1", checks=["accuracy"]).passed
    backend = get_backend()
    for name, role in (("alice", "data_scientist"), ("rita", "reviewer"), ("audrey", "auditor")):
        backend.create_user(name, {"*": [role]}, password=PASSWORD)
    from tests.conftest import uvicorn_server

    with uvicorn_server({**os.environ}) as url:
        yield url


def login(browser: object, base: str, name: str) -> Visit:
    visit = Visit(browser, base)
    visit.page.goto(base + "/ui/models/churn/1/signoffs")
    assert "/ui/login" in visit.page.url  # sent to log in first, then back
    visit.page.get_by_label("Name").fill(name)
    visit.page.get_by_label("Password").fill(PASSWORD)
    visit.page.get_by_role("button", name="Log in").click()
    visit.page.wait_for_selector("#gate-status")
    return visit


def test_two_users_request_and_give_a_sign_off_and_an_auditor_only_reads(
    browser: object, team_server: str
) -> None:
    alice = login(browser, team_server, "alice")
    page = alice.page
    assert "1 more approval(s) by a reviewer" in page.locator("#gate-status").inner_text()
    assert page.locator("#signoff-form").count() == 0  # a data scientist does not review
    page.get_by_label("Note for reviewers").fill("retrained on the new quarter")
    page.get_by_role("button", name="Request a review").click()
    page.wait_for_selector(".review")
    assert "alice: retrained on the new quarter" in page.locator(".review").inner_text()
    alice.shot("30-signoffs-author")
    alice.check()
    page.close()

    rita = login(browser, team_server, "rita")
    page = rita.page
    assert "alice" in page.locator("#trained-by").inner_text()
    page.get_by_label("Comment").fill("calibration and fairness checked")
    page.get_by_role("button", name="Approve").click()
    page.wait_for_selector("#signoffs-table")
    row = page.locator("#signoffs-table tbody tr").first.inner_text()
    assert "rita" in row and "approve" in row and "calibration and fairness checked" in row
    assert "may be promoted and served" in page.locator("#gate-status").inner_text()
    assert "You approved this version" in page.locator("#decided").inner_text()
    rita.shot("31-signoffs-reviewer")
    page.click("#validation-link")
    page.wait_for_selector("#checks-table")
    assert "PASSED" in page.locator("#verdict").inner_text()
    assert "accuracy" in page.locator("#checks-table").inner_text()
    rita.check()
    page.close()

    audrey = login(browser, team_server, "audrey")
    page = audrey.page
    assert page.locator("form#signoff-form, form#review-form").count() == 0
    assert "rita" in page.locator("#signoffs-table").inner_text()
    page.goto(team_server + "/ui/audit")
    page.wait_for_load_state()
    assert "signoff.approved" in page.content()
    # The server refuses what the page does not offer.
    refused = page.request.post(
        team_server + "/ui/models/churn/1/signoffs", form={"decision": "approve", "comment": "x"}
    )
    assert refused.status == 403 and "may not sign_off" in refused.text()
    api = page.request.post(team_server + "/api/v1/projects", data={"name": "mine"})
    assert api.status in (401, 403)
    audrey.shot("32-auditor")
    audrey.check()
    page.close()
    status = govern.signoff_status("churn", 1)  # the store agrees with what the pages showed
    assert status.approvals == {"reviewer": 1} and [r.requested_by for r in status.requests] == [
        "alice"
    ]
