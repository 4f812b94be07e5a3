"""The retraining pages: the pipeline's runs, the step that stopped each, the report."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.iterate.test_retrain import _new_rows, champion_and_config

from steward._backend import SqlBackend, set_backend
from steward.iterate import retrain
from steward.server import create_app


@dataclass
class Site:
    client: TestClient
    promoted: int
    stopped: int


@pytest.fixture
def site(sqlite_backend: SqlBackend, tmp_path: Path) -> Iterator[Site]:
    set_backend(sqlite_backend)
    champion_and_config(tmp_path, promotion={"max_drop": 0.05})
    promoted = retrain("bc", _new_rows()).run.id
    stopped = retrain("bc", _new_rows().assign(extra=1.0)).run.id
    with TestClient(create_app(sqlite_backend)) as client:
        yield Site(client, promoted, stopped)
    set_backend(None)


def test_the_runs_page_lists_each_outcome_and_where_it_stopped(site: Site) -> None:
    page = site.client.get("/ui/retraining")
    assert page.status_code == 200, page.text
    html = page.text
    assert 'aria-current="page">Retraining' in html
    assert f'href="http://testserver/ui/retraining/{site.promoted}"' in html
    assert '<tr data-status="promoted">' in html and '<tr data-status="stopped">' in html
    assert "models:/bc/2" in html and "bc-retraining@1" in html
    assert (
        site.client.get("/ui/retraining", params={"project": "other"}).text.count("<tr data-status")
        == 0
    )


def test_a_stopped_run_shows_the_step_that_stopped_it(site: Site) -> None:
    html = site.client.get(f"/ui/retraining/{site.stopped}").text
    assert "stopped at <strong>validate</strong>" in html
    assert '<li class="failed stopped" data-step="validate">' in html
    assert '<li class="not-run" data-step="train">' in html
    assert "new column(s) [&#39;extra&#39;]" in html
    assert "— (not trained)" in html


def test_a_promoted_run_shows_its_steps_and_its_sandboxed_report(site: Site) -> None:
    html = site.client.get(f"/ui/retraining/{site.promoted}").text
    for step in ("validate", "train", "compare"):
        assert f'<li class="passed" data-step="{step}">' in html
    assert '<li class="promoted" data-step="decide">' in html
    assert 'href="http://testserver/ui/models/bc/2"' in html
    report = site.client.get(f"/ui/retraining/{site.promoted}/report")
    assert report.status_code == 200
    assert "sandbox allow-scripts" in report.headers["content-security-policy"]
    assert f"Retraining #{site.promoted} of bc: promoted" in report.text
    assert "Challenger minus champion" in report.text


def test_unknown_runs_are_404_with_a_message(site: Site) -> None:
    page = site.client.get("/ui/retraining/999")
    assert page.status_code == 404 and "Retraining run 999 does not exist" in page.text
    assert site.client.get("/ui/retraining/999/report").status_code == 404
    assert site.client.get("/ui/retraining/abc").status_code == 422
