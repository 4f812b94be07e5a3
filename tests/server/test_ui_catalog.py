"""The datasets and models pages of the web UI: what a user looks for on each, and 404s.

One store is filled once for the module (two dataset versions, a run, three model
versions with one deleted, alias moves, an ONNX export and an attached report), then every
test reads pages from it through the app, as a browser would.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import steward
from steward._backend import SqlBackend, set_backend
from steward.registry._models import ModelFile
from steward.server import create_app

CARD = b"<!doctype html><title>card</title><script>document.title='x'</script><p>Model card</p>"


def _data() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame(
        {
            "tenure": rng.integers(0, 72, n),
            "monthly": rng.normal(70, 20, n).round(2),
            "plan": rng.choice(["basic", "plus", "pro"], n),
            "sex": rng.choice(["F", "M"], n),
            "region": rng.choice(["north", "south"], n),
        }
    )
    frame.loc[rng.random(n) < 0.1, "region"] = None  # a column with missing values
    logit = -0.04 * frame["tenure"] + 0.03 * frame["monthly"] - 1.5
    frame["churn"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


@dataclass
class Site:
    """The app over the filled store, and what the tests look for in it."""

    client: TestClient
    run_id: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """Fill a store through the public API once; yield the app over it."""
    tmp = tmp_path_factory.mktemp("catalog")
    backend = SqlBackend.open(f"sqlite:///{tmp / 'store.db'}", str(tmp / "artifacts"))
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp)
        mp.setenv("STEWARD_HOME", str(tmp / "home"))
        mp.setenv("STEWARD_USER", "tester")
        set_backend(backend)
        try:
            run_id = _fill(backend)
        finally:
            set_backend(None)
    with TestClient(create_app(backend)) as client:
        yield Site(client, run_id)
    backend.close()


def _fill(backend: SqlBackend) -> str:
    data = _data()
    steward.register_dataset(data, "credit", source="bank", terms_of_use="internal")
    v2 = steward.register_dataset(
        data.head(250),
        "credit",
        source="bank",
        terms_of_use="internal",
        description="customers of 2024",
        sensitive_columns=["sex"],
    )
    X, y = data[["tenure", "monthly", "plan", "sex"]], data["churn"]
    features = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), ["plan", "sex"]),
        (StandardScaler(), ["tenure", "monthly"]),
    )
    pipe = make_pipeline(features, LogisticRegression(max_iter=500)).fit(X, y)
    with steward.start_run("t", capture_environment_info=False) as run:
        steward.log_input(v2)
        steward.log_metric("test_auc", 0.81)
        steward.log_model(pipe, input_example=X, registered_model_name="churn")
        steward.log_model(pipe, input_example=X, registered_model_name="churn")
    steward.register_model(f"runs:/{run.id}/model", "churn")
    backend.delete_model_version("churn", 3)
    backend.update_registered_model("churn", description="Flags customers about to leave.")
    steward.set_alias("churn", "champion", 1, reason="first")
    steward.set_alias("churn", "champion", 2, reason="better on holdout")
    steward.export_model("models:/churn/1", "onnx")
    sha, size = backend.blobs.put_bytes(CARD)
    card = ModelFile(path="reports/card.html", sha256=sha, size=size, kind="report")
    backend.add_model_version_file("churn", 1, card)
    return str(run.id)


def _page(site: Site, path: str, status: int = 200) -> str:
    response = site.client.get(path, follow_redirects=False)
    assert response.status_code == status, response.text[-2000:]
    assert response.headers["content-type"].startswith("text/html")
    return str(response.text)


def _text(html: str) -> str:
    """Return the page's visible words, tags dropped and spaces squeezed."""
    without = re.sub(r"<script.*?</script>", " ", html, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", without).split()).replace("&#39;", "'")


def _table(html: str, table_id: str) -> str:
    found = re.search(rf'<table id="{table_id}">.*?</table>', html, re.S)
    assert found, f"no table {table_id}"
    return found.group(0)


def _row(html: str, header: str) -> str:
    found = re.search(rf'<th scope="row">{header}</th>.*?</tr>', html, re.S)
    assert found, f"no row {header}"
    return found.group(0)


def _figure(html: str, chart_id: str) -> dict[str, Any]:
    found = re.search(
        rf'<script type="application/json" id="{chart_id}">(.*?)</script>', html, re.S
    )
    assert found, f"no chart {chart_id}"
    figure: dict[str, Any] = json.loads(found.group(1).replace("<\\/", "</"))
    assert re.search(rf'<div class="chart[^"]*" data-figure="{chart_id}"', html)
    return figure


# Datasets


def test_datasets_list_shows_each_dataset_and_its_latest_version(site: Site) -> None:
    text = _text(_page(site, "/ui/datasets"))
    assert "credit" in text and "v2" in text and "tester" in text


def test_a_dataset_lists_its_versions_and_shows_the_latest(site: Site) -> None:
    html = _page(site, "/ui/datasets/credit")
    assert 'href="http://testserver/ui/datasets/credit/1"' in html
    assert 'aria-current="page">2</a>' in html  # the latest is the one shown
    assert "Showing version 2 (the latest)" in _text(html)


def test_a_dataset_version_shows_schema_provenance_and_sensitive_columns(site: Site) -> None:
    html = _page(site, "/ui/datasets/credit/2")
    text = _text(html)
    for column in ("tenure", "monthly", "plan", "sex", "region", "churn"):
        assert f'<th scope="row">{column}</th>' in html
    assert "badge sensitive" in _row(html, "sex")
    assert "badge sensitive" not in _row(html, "tenure")
    assert "Source bank" in text and "Terms of use internal" in text
    assert "customers of 2024" in text and "250 rows" in text and "6 columns" in text


def test_a_dataset_version_charts_its_profile(site: Site) -> None:
    html = _page(site, "/ui/datasets/credit/2")
    ids = re.findall(r'data-figure="(column-\d+)"', html)
    assert len(ids) == 6  # one chart per column
    histogram = _figure(html, ids[0])  # tenure: numbers, a histogram
    assert histogram["data"][0]["type"] == "bar" and sum(histogram["data"][0]["y"]) == 250
    plan = _figure(html, ids[2])  # plan: categories, the most frequent as bars
    assert plan["data"][0]["orientation"] == "h"
    assert set(plan["data"][0]["y"]) == {"basic", "plus", "pro"}
    missing = _figure(html, "missing-chart")
    rates = dict(zip(missing["data"][0]["y"], missing["data"][0]["x"], strict=True))
    assert rates["region"] > 0 and rates["tenure"] == 0
    assert "north" in _row(_table(html, "stats-table"), "region")  # its top values
    assert 'src="http://testserver/ui/static/plotly.min.js"' in html


def test_a_dataset_version_lists_the_runs_and_models_that_used_it(site: Site) -> None:
    html = _page(site, "/ui/datasets/credit/2")
    assert f'href="http://testserver/ui/runs/{site.run_id}"' in html
    models = _table(html, "models-table")
    assert 'href="http://testserver/ui/models/churn/1"' in models
    assert "churn v2" in models and "churn v3" not in models  # v3 was deleted
    older = _page(site, "/ui/datasets/credit/1")
    assert site.run_id not in older and "No run has read this version yet" in _text(older)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/ui/datasets/nope", "Dataset 'nope' does not exist"),
        ("/ui/datasets/credit/9", "Dataset 'credit' has no version '9'; its versions are 1, 2"),
        ("/ui/datasets/credit/latest", "has no version 'latest'"),
        ("/ui/datasets/credit/²", "has no version '²'"),
    ],
)
def test_unknown_datasets_are_404_pages_with_the_reason(
    site: Site, path: str, message: str
) -> None:
    html = _page(site, path, 404)
    assert 'role="alert"' in html and message in _text(html)


# Models


def test_models_list_shows_latest_version_aliases_and_owners(site: Site) -> None:
    text = _text(_page(site, "/ui/models"))
    assert "churn" in text and "v2" in text and "champion → v2" in text and "tester" in text
    assert "Flags customers about to leave." in text


def test_a_model_shows_its_versions_and_alias_history_with_reasons(site: Site) -> None:
    html = _page(site, "/ui/models/churn")
    text = _text(html)
    assert "Flags customers about to leave." in text and "champion → v2" in text
    versions = _table(html, "versions-table")
    assert 'href="http://testserver/ui/models/churn/1"' in versions
    assert "deleted" in versions and "/ui/models/churn/3" not in versions
    assert "test_auc" in versions and "0.81" in versions
    assert f"/ui/runs/{site.run_id}" in versions
    history = _text(_table(html, "alias-history"))
    assert history.index("v1 → v2 better on holdout") < history.index("unset → v1 first")


def test_a_model_version_shows_signature_requirements_and_lineage(site: Site) -> None:
    html = _page(site, "/ui/models/churn/1")
    text = _text(html)
    for column in ("tenure", "monthly", "plan", "sex"):
        assert f'<th scope="row">{column}</th>' in html
    assert "basic, plus, pro" in text  # categories seen in training
    assert "badge sensitive" in _row(html, "sex")
    assert 'id="sensitive-warning"' in html and "sensitive attributes as features: sex" in text
    assert "Output: classification; classes 0, 1" in text
    requirements = _text(_table(html, "requirements-table"))
    assert "scikit-learn" in requirements and "Python" in requirements
    assert 'href="http://testserver/ui/datasets/credit/2"' in html
    assert f'href="http://testserver/ui/runs/{site.run_id}"' in html
    assert "test_auc 0.81" in text


def test_a_model_version_shows_its_export_parity_verdict(site: Site) -> None:
    html = _page(site, "/ui/models/churn/1")
    text = _text(html)
    assert '<span class="badge ok">valid</span>' in html
    assert "Label agreement 100.00%" in text and "Largest score difference" in text
    assert "/ui/models/churn/1/files/exports/onnx/model.onnx" in html
    assert "No portable exports yet" in _text(_page(site, "/ui/models/churn/2"))


def test_reports_are_listed_and_served_in_a_sandbox(site: Site) -> None:
    html = _page(site, "/ui/models/churn/1")
    assert 'href="http://testserver/ui/models/churn/1/files/reports/card.html"' in html
    assert "No reports attached to this version yet." in _text(_page(site, "/ui/models/churn/2"))
    served = site.client.get("/ui/models/churn/1/files/reports/card.html")
    assert served.status_code == 200 and served.content == CARD
    assert served.headers["content-type"].startswith("text/html")
    policy = served.headers["content-security-policy"]
    assert policy.startswith("default-src 'none'; img-src data:; style-src 'unsafe-inline'; ")
    assert "sandbox" in policy and served.headers["x-content-type-options"] == "nosniff"
    manifest = site.client.get("/ui/models/churn/1/files/steward.yaml")
    assert manifest.headers["content-type"].startswith("text/plain")
    assert b"flavor: sklearn" in manifest.content


def test_an_alias_in_place_of_the_version_redirects_to_it(site: Site) -> None:
    response = site.client.get("/ui/models/churn/champion", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"].endswith("/ui/models/churn/2")


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/ui/models/nope", "Registered model 'nope' does not exist"),
        ("/ui/models/nope/1", "Registered model 'nope' does not exist"),
        ("/ui/models/churn/7", "Version 7 of model 'churn' does not exist"),
        ("/ui/models/churn/3", "Version 3 of model 'churn' was deleted"),
        ("/ui/models/churn/staging", "has no version or alias 'staging'"),
        ("/ui/models/churn/²", "has no version or alias '²'"),
        ("/ui/models/churn/99999999999999999999", "has no version or alias '9999"),
        ("/ui/models/churn/1/files/nope.txt", "has no file 'nope.txt'"),
        ("/ui/models/churn/9/files/steward.yaml", "Version 9 of model 'churn' does not exist"),
    ],
)
def test_unknown_models_are_404_pages_with_the_reason(site: Site, path: str, message: str) -> None:
    html = _page(site, path, 404)
    assert 'role="alert"' in html and message in _text(html)


def test_pages_load_nothing_from_outside_and_keep_headings_in_order(site: Site) -> None:
    for path in (
        "/ui/datasets",
        "/ui/datasets/credit",
        "/ui/datasets/credit/1",
        "/ui/models",
        "/ui/models/churn",
        "/ui/models/churn/1",
        "/ui/models/nope",
    ):
        html = _page(site, path, 404 if path.endswith("nope") else 200)
        for url in re.findall(r'(?:src|href)="([^"]*)"', html):
            assert url.startswith(("/", "#", "data:", "http://testserver/")), (path, url)
        levels = [int(n) for n in re.findall(r"<h([1-6])", html)]
        assert levels[0] == 1 and levels.count(1) == 1, path
        assert all(b - a <= 1 for a, b in itertools.pairwise(levels)), (path, levels)
        for table in re.findall(r"<table.*?</table>", html, re.S):
            headers = re.findall(r"<th\b[^>]*>", table)
            assert headers and all("scope=" in h for h in headers), (path, table[:200])
