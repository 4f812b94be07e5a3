"""The Comparison page: a deployment's champion against a challenger, through the app.

One store is filled once for the module: three versions of a breast-cancer classifier
(a depth-5 tree, a logistic regression, the majority class) evaluated on a registered
holdout, a model with a single version, and deployments serving them one, with a shadow
or in an A/B split. The numbers on the page must be those compare_models gives directly.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sklearn.datasets import load_breast_cancer
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

import steward
from steward._backend import SqlBackend, set_backend
from steward.context import get_backend
from steward.iterate import Comparison, compare_models
from steward.server import create_app

BASE = "/ui/deployments/tumours/comparison"


@dataclass
class Site:
    client: TestClient
    backend: SqlBackend


def fill_store() -> None:
    """Register the datasets, the three 'bc' versions, 'solo' and the deployments."""
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X = X.iloc[:, :8]
    train, hold = X.index < 350, X.index >= 350
    training = steward.register_dataset(X[train].assign(target=y[train]), "tumours-train")
    holdout = steward.register_dataset(X[hold].assign(target=y[hold]), "tumours-holdout")
    size = np.where(X[hold]["mean radius"] > 14, "large", "small")
    steward.register_dataset(X[hold].assign(target=y[hold], size=size), "tumours-sized")
    steward.register_dataset(X[hold], "tumours-unlabeled")
    for name, model in (
        ("bc", DecisionTreeClassifier(max_depth=5, random_state=0)),
        ("bc", make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))),
        ("bc", DummyClassifier(strategy="most_frequent")),
        ("solo", LogisticRegression(max_iter=5000)),
    ):
        with steward.start_run(capture_environment_info=False):
            steward.log_input(training)
            steward.log_input(holdout, context="evaluation")
            model.fit(X[train], y[train])
            steward.log_model(model, input_example=X.head(), registered_model_name=name)
    steward.create_deployment("tumours", "models:/bc/1")
    steward.create_deployment(
        "tumours-shadow", steward.traffic_spec("models:/bc/1", shadow=["models:/bc/2"])
    )
    steward.create_deployment(
        "tumours-ab",
        steward.traffic_spec("models:/bc/2", ab={"models:/bc/2": 0.5, "models:/bc/1": 0.5}),
    )
    steward.create_deployment("solo-live", "models:/solo/1")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("comparison")
    backend = SqlBackend.open(f"sqlite:///{tmp / 'store.db'}", str(tmp / "artifacts"))
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp)
        mp.setenv("STEWARD_HOME", str(tmp / "home"))
        mp.setenv("STEWARD_USER", "tester")
        set_backend(backend)
        try:
            fill_store()
        finally:
            set_backend(None)
    with TestClient(create_app(backend)) as client:
        yield Site(client, backend)
    backend.close()


def direct(site: Site, champion: str, challenger: str, **kwargs: Any) -> Comparison:
    """Return compare_models' own answer, over the site's store."""
    set_backend(site.backend)
    try:
        return compare_models(champion, challenger, **kwargs)
    finally:
        set_backend(None)


def page(site: Site, path: str, status: int = 200, **params: str) -> str:
    response = site.client.get(path, params=params)
    assert response.status_code == status, response.text[-3000:]
    return html.unescape(response.text)


def rows(text: str, table_id: str) -> list[list[str]]:
    """Return a table's body as cells of visible text."""
    found = re.search(rf'<table id="{table_id}">.*?<tbody>(.*?)</tbody>', text, re.S)
    assert found, f"no table {table_id}"
    return [
        [
            " ".join(re.sub(r"<[^>]+>", " ", cell).split())
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        for row in re.findall(r"<tr>(.*?)</tr>", found.group(1), re.S)
    ]


def figure(text: str, chart_id: str) -> dict[str, Any]:
    found = re.search(
        rf'<script type="application/json" id="{chart_id}">(.*?)</script>', text, re.S
    )
    assert found, f"no chart {chart_id}"
    return dict(json.loads(found.group(1)))


def by_id(text: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</(?:dd|div|span)>', text, re.S)
    assert found, f"no element {element_id}"
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


def expected_metric_rows(result: Comparison) -> list[list[str]]:
    return [
        [
            m.metric
            + (" primary" if m.metric == result.primary else "")
            + ("" if m.higher_is_better else " (lower is better)"),
            f"{m.champion:.4f}",
            f"{m.challenger:.4f}",
            f"{m.difference:+.4f}",
            f"[{m.ci_low:+.4f}, {m.ci_high:+.4f}]",
            "—" if m.p_value is None else f"{m.p_value:.3g}",
        ]
        for m in result.metrics
    ]


def test_the_deployment_page_links_to_the_comparison(site: Site) -> None:
    text = page(site, "/ui/deployments/tumours")
    assert f'href="http://testserver{BASE}" id="comparison-link"' in text


def test_by_default_the_champion_meets_the_newest_other_version(site: Site) -> None:
    public_api = get_backend()  # over this test's empty home, not the server's store
    text = page(site, BASE)
    assert get_backend() is public_api  # the page compared on the server's store, then gave it back
    assert "models:/bc/1 — what route primary of tumours serves" in by_id(text, "champion")
    assert by_id(text, "challenger") == "models:/bc/3 — the newest other version of 'bc'"
    want = direct(site, "models:/bc/1", "models:/bc/3")
    assert want.verdict == "review"  # the majority class disagrees with the tree too often
    assert by_id(text, "verdict-text") == "review"
    for reason in want.reasons:
        assert reason in text
    assert rows(text, "metrics-table") == expected_metric_rows(want)
    assert f"{100 * want.agreement:.1f}% of the rows" in by_id(text, "agreement")
    assert "219 rows of tumours-holdout@1 (evaluation)" in by_id(text, "rows")
    assert 'id="segments-table"' not in text and 'id="comparison-problem"' not in text


def test_a_chosen_challenger_data_and_segment(site: Site) -> None:
    text = page(site, BASE, challenger="2", data="tumours-sized", segment="size", target="target")
    want = direct(site, "models:/bc/1", "models:/bc/2", data="tumours-sized@1", segments=["size"])
    assert want.verdict == "challenger better"
    assert by_id(text, "verdict-text") == "challenger better"
    assert by_id(text, "challenger") == "models:/bc/2 — chosen in the form below"
    assert rows(text, "metrics-table") == expected_metric_rows(want)
    assert rows(text, "segments-table") == [
        [
            "size",
            s.value,
            str(s.rows),
            f"{s.champion:.4f}",
            f"{s.challenger:.4f}",
            f"{s.difference:+.4f}",
        ]
        for s in want.segments
    ]
    chart = figure(text, "metrics-chart")
    points = chart["data"][0]
    assert points["x"] == [m.metric for m in want.metrics]
    assert points["y"] == pytest.approx([m.difference for m in want.metrics])
    high = [m.ci_high - m.difference for m in want.metrics]
    low = [m.difference - m.ci_low for m in want.metrics]
    assert points["error_y"]["array"] == pytest.approx(high)
    assert points["error_y"]["arrayminus"] == pytest.approx(low)
    zero = chart["layout"]["shapes"][0]
    assert zero["y0"] == zero["y1"] == 0 and zero["line"]["dash"] == "dot"
    segments = figure(text, "segments-chart")
    assert segments["data"][0]["x"] == ["size=large", "size=small"]
    assert segments["data"][0]["y"] == pytest.approx([s.difference for s in want.segments])
    assert segments["layout"]["shapes"][0]["line"]["dash"] == "dot"
    form = re.search(r'<form[^>]*id="comparison-form".*?</form>', text, re.S)
    assert form
    assert '<option value="models:/bc/2" selected>version 2</option>' in form.group(0)
    assert "version 1 — the champion" in form.group(0)
    assert 'name="segment" value="size"' in form.group(0)
    assert '<option value="mean radius">' in form.group(0)  # the columns of the data chosen
    assert "plotly.min.js" in text


def test_what_the_deployment_already_tries_is_the_default_challenger(site: Site) -> None:
    shadow = page(site, "/ui/deployments/tumours-shadow/comparison")
    assert by_id(shadow, "challenger") == "models:/bc/2 — the deployment's shadow route 'shadow'"
    assert by_id(shadow, "verdict-text") == "challenger better"
    ab = page(site, "/ui/deployments/tumours-ab/comparison")
    assert "models:/bc/2 — what route a of tumours-ab serves" in by_id(ab, "champion")
    assert by_id(ab, "challenger") == "models:/bc/1 — the deployment's other A/B arm 'b'"
    assert by_id(ab, "verdict-text") == "champion better"


@pytest.mark.parametrize(
    ("path", "params", "status", "message"),
    [
        ("/ui/deployments/nope/comparison", {}, 404, "Deployment 'nope' does not exist."),
        (
            BASE,
            {"challenger": "9"},
            404,
            "Version 9 of model 'bc' does not exist; its versions are 1-3.",
        ),
        (BASE, {"challenger": "/etc/passwd"}, 400, "The challenger must be a version of 'bc'"),
        (BASE, {"challenger": "models:/nope/1"}, 404, "Registered model 'nope' does not exist."),
        (BASE, {"data": "nope"}, 404, "Dataset 'nope' does not exist."),
        (BASE, {"data": "/etc/hostname"}, 404, "Dataset '/etc/hostname' does not exist."),
        (BASE, {"data": "tumours-sized@x"}, 400, "The data must name a registered dataset"),
        (BASE, {"data": "tumours-sized@7"}, 404, "Dataset 'tumours-sized' has no version 7"),
        (BASE, {"data": "tumours-unlabeled"}, 400, "Cannot tell the label column"),
        (BASE, {"target": "label"}, 400, "The data has no column 'label'"),
        (BASE, {"segment": "region"}, 400, "No segment column 'region'"),
        (
            "/ui/deployments/solo-live/comparison",
            {},
            200,
            "Nothing to compare models:/solo/1 with: the deployment tries no other model",
        ),
    ],
)
def test_bad_input_is_explained_on_the_page(
    site: Site, path: str, params: dict[str, str], status: int, message: str
) -> None:
    text = page(site, path, status, **params)
    assert message in text
    assert 'id="verdict"' not in text and 'id="metrics-table"' not in text
    if "nope/" not in path:  # the deployment exists: the form stays to choose again
        assert 'id="comparison-form"' in text and message in by_id(text, "comparison-problem")
