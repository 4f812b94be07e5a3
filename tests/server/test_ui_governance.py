"""The lineage, audit and dataset-governance parts of the web UI, read through the app."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pandas as pd
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sklearn.linear_model import LogisticRegression

import steward
from steward._backend import SqlBackend, set_backend
from steward.server import create_app


@dataclass
class Site:
    client: TestClient
    backend: SqlBackend
    run_id: str


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "email": [f"user{i}@example.com" for i in range(60)],
            "tenure": [i % 13 for i in range(60)],
            "churn": [i % 2 for i in range(60)],
        }
    )


@pytest.fixture
def site(sqlite_backend: SqlBackend) -> Iterator[Site]:
    set_backend(sqlite_backend)
    frame = _frame()
    data = steward.register_dataset(
        frame, "clients", terms_of_use="internal", retention="delete after 2001-01-01"
    )
    with steward.start_run("fit", capture_environment_info=False) as run:
        steward.log_input(data)
        model = LogisticRegression().fit(frame[["tenure"]], frame["churn"])
        steward.log_model(model, input_example=frame[["tenure"]], registered_model_name="clf")
    steward.create_deployment("clf-live", "models:/clf/1")
    with TestClient(create_app(sqlite_backend)) as client:
        yield Site(client, sqlite_backend, run.id)
    set_backend(None)


def test_the_lineage_page_draws_a_navigable_graph(site: Site) -> None:
    page = site.client.get("/ui/lineage", params={"node": "dataset:clients@1"})
    assert page.status_code == 200, page.text
    html = page.text
    assert '<svg id="lineage-graph"' in html
    for href in (
        f"/ui/runs/{site.run_id}",
        "/ui/models/clf/1",
        "/ui/deployments/clf-live",
        "/ui/datasets/clients/1",
    ):
        assert f'href="http://testserver{href}"' in html, href
    assert html.count('class="lineage-node"') == 6  # dataset, version, run, model, deployment, log
    assert "centre here" in html and "serving now" in html
    assert "lineage?node=run%3A" + site.run_id in html


def test_the_lineage_page_asks_for_a_node_and_explains_a_wrong_one(site: Site) -> None:
    empty = site.client.get("/ui/lineage")
    assert empty.status_code == 200 and "Name a record" in empty.text
    wrong = site.client.get("/ui/lineage", params={"node": "dataset:nope"})
    assert wrong.status_code == 404 and "Dataset &#39;nope&#39; does not exist" in wrong.text
    bad = site.client.get("/ui/lineage", params={"node": "nope"})
    assert bad.status_code == 400


def test_every_record_page_links_to_its_lineage(site: Site) -> None:
    for url in (
        "/ui/datasets/clients/1",
        f"/ui/runs/{site.run_id}",
        "/ui/models/clf/1",
        "/ui/deployments/clf-live",
    ):
        html = site.client.get(url).text
        assert 'id="lineage-link"' in html and "/ui/lineage?node=" in html, url


def test_the_dataset_page_shows_personal_data_terms_and_retention(site: Site) -> None:
    html = site.client.get("/ui/datasets/clients/1").text
    assert re.search(r'id="terms">internal<', html)
    assert "delete after 2001-01-01" in html and "(overdue)" in html
    pii = html.split('id="pii-table"')[1].split("</table>")[0]
    assert "email" in pii and "EMAIL_ADDRESS" in pii and "100%" in pii
    assert "@example.com" not in pii  # the findings hold no values


def test_the_audit_page_shows_the_log_filters_and_the_chain_status(site: Site) -> None:
    html = site.client.get("/ui/audit").text
    assert 'id="chain-verdict">holds<' in html and 'id="anchor"' in html
    assert "deployment.created" in html and "dataset.version.pii_scanned" in html
    filtered = site.client.get("/ui/audit", params={"action": "deployment."}).text
    rows = filtered.split('id="audit-table"')[1]
    assert "deployment.created" in rows and "run.created" not in rows
    none = site.client.get("/ui/audit", params={"actor": "nobody"}).text
    assert "No change matches these filters" in none
    assert site.client.get("/ui/audit", params={"start": "soon"}).status_code == 400
    csv_text = site.client.get("/ui/audit/export", params={"format": "csv"}).text
    assert csv_text.startswith("id,time_utc") and "deployment.created" in csv_text
    document = json.loads(
        site.client.get("/ui/audit/export", params={"format": "json", "action": "run."}).text
    )
    assert {e["action"].split(".")[0] for e in document["events"]} == {"run"}


def test_the_audit_page_names_a_tampered_row(site: Site) -> None:
    with site.backend.store.engine.begin() as conn:
        row = conn.execute(sa.text("SELECT id FROM events WHERE action = 'run.created'")).scalar()
        conn.execute(sa.text("UPDATE events SET actor = 'mallory' WHERE id = :i"), {"i": row})
    html = site.client.get("/ui/audit").text
    assert 'id="chain-verdict">broken<' in html
    assert f"row {row}, edited" in html and 'data-broken="1"' in html
