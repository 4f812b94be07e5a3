"""The run page, artifact downloads and the comparison page of the web UI."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import pandas as pd
import pytest
from fastapi.testclient import TestClient

import steward
from steward._backend import SqlBackend, set_backend
from steward.server import create_app

NOTES = "hello from run a\n<script>alert(1)</script>\n" + "\n".join(f"line {i}" for i in range(300))
DIFF = "diff --git a/train.py b/train.py\n--- a/train.py\n+++ b/train.py\n+lr = 0.1\n"
REPORT = "<!doctype html><html><body><script>document.body.append('hi')</script></body></html>"


@dataclass
class Logged:
    a: str
    b: str
    failed: str
    child: str


@pytest.fixture
def client(sqlite_backend: SqlBackend) -> Iterator[TestClient]:
    with TestClient(create_app(sqlite_backend), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def logged(sqlite_backend: SqlBackend) -> Logged:
    """Runs logged with the public API: two to compare, a failed one, a parent and a child."""
    set_backend(sqlite_backend)
    matplotlib.use("Agg")
    frame = pd.DataFrame({"age": [31, 45, 52], "city": ["Lyon", "Oslo", "Quito"]})
    steward.register_dataset(frame, "patients")
    ids = {}
    for name, lr in (("a", 0.1), ("b", 0.01)):
        with steward.start_run(name, project="clinic", experiment="triage") as run:
            steward.log_input("patients", context="training")
            steward.log_param("lr", lr)
            steward.log_param("depth", 3)
            steward.set_tag("team", "risk")
            for i in range(5):
                steward.log_metric("loss", 1 / (i + 1) + lr, i)
            steward.log_metric("auc", 0.9 + lr)
            if name == "a":
                for k in range(14):  # with loss: 15 metrics with a history, 12 charted
                    steward.log_metric(f"m{k:02d}", k, 0)
                    steward.log_metric(f"m{k:02d}", k + 1, 1)
                steward.log_text(NOTES, "notes/a.txt")
                steward.log_text("odd", "notes/odd name #1.txt")
                steward.log_dict({"lr": lr, "layers": [64, 32]}, "cfg.json")
                fig, ax = plt.subplots()
                ax.plot([1, 2, 3])
                steward.log_figure(fig, "plots/x.png")
                plt.close(fig)
                steward.log_text(REPORT, "plots/report.html")
                steward.log_table(frame, "tables/sample.parquet")
                steward.log_table(frame, "tables/sample.csv")
                steward.log_text(DIFF, "environment/git.diff")
                steward.log_dict(
                    {"flavor": "sklearn", "methods": ["predict"]}, "model/steward.yaml"
                )
            ids[name] = run.id
    with (
        pytest.raises(ValueError),
        steward.start_run("broken", project="clinic", experiment="triage") as run,
    ):
        ids["failed"] = run.id
        raise ValueError("the loss went to NaN at step 12")
    with (
        steward.start_run("sweep", project="clinic", experiment="triage"),
        steward.start_run("trial-1", nested=True) as child,
    ):
        steward.log_param("lr", 0.5)
    set_backend(None)
    return Logged(ids["a"], ids["b"], ids["failed"], child.id)


def _charts(html: str) -> dict[str, dict]:  # type: ignore[type-arg]
    found = re.findall(r'<script type="application/json" id="([^"]+)">(.*?)</script>', html, re.S)
    return {key: json.loads(text) for key, text in found}


def _rows(html: str) -> dict[str, bool]:
    """Return each compared field's label and whether its row is marked as differing."""
    rows = re.findall(
        r'<tr( class="differs")?>\s*<td class="marker">(.*?)</td>\s*<th scope="row">(.*?)</th>',
        html,
        re.S,
    )
    marked = {label: bool(cls) for cls, _, label in rows}
    assert all(bool(cls) == ("≠" in marker) for cls, marker, _ in rows)  # a mark, not only colour
    return marked


def _assert_no_external_urls(html: str) -> None:
    for url in re.findall(r'(?:src|href)="([^"]*)"', html):
        assert not url.startswith(("http://", "https://", "//")) or url.startswith(
            "http://testserver/"
        ), url


def test_run_page_shows_what_the_run_logged(client: TestClient, logged: Logged) -> None:
    response = client.get(f"/ui/runs/{logged.a}")
    assert response.status_code == 200
    page = response.text
    assert "<h1>Run — a</h1>" in page
    assert "?project=clinic&amp;experiment=triage" in page  # the experiment's runs table
    assert "FINISHED" in page and "tester" in page
    assert re.search(r'<th scope="row">lr</th><td>0.1</td>', page)
    assert re.search(r'<th scope="row">team</th><td>risk</td>', page)
    loss = re.search(r'<th scope="row">loss</th>(.*?)</tr>', page, re.S)
    assert loss is not None
    assert [c for c in re.findall(r">([^<]+)</td>", loss.group(1))] == [
        "0.3",
        "0.3",
        "1.1",
        "5",
        "4",
    ]
    for path in (
        "notes/a.txt",
        "cfg.json",
        "plots/x.png",
        "plots/report.html",
        "tables/sample.csv",
    ):
        assert f"/ui/runs/{logged.a}/artifacts/{path}" in page
    # Datasets, models, environment and how to reproduce.
    assert 'href="http://testserver/ui/datasets/patients/1"' in page
    assert f"runs:/{logged.a}/model" in page and "sklearn" in page
    assert "+lr = 0.1" in page  # the uncommitted diff, previewed
    assert f"steward reproduce {logged.a}" in page
    assert "packages</summary>" in page and "pandas" in page
    _assert_no_external_urls(page)


def test_run_page_charts_metrics_with_a_history_up_to_a_cap(
    client: TestClient, logged: Logged
) -> None:
    page = client.get(f"/ui/runs/{logged.a}").text
    charts = _charts(page)
    assert len(charts) == 12
    assert all(f'data-figure="{key}"' in page for key in charts)
    assert "loss over steps (5 points)" in page and "m11 over steps" not in page  # by name
    loss = charts["metric-0"]
    assert loss["data"][0]["x"] == [0, 1, 2, 3, 4]
    assert loss["data"][0]["y"] == pytest.approx([1.1, 0.6, 1 / 3 + 0.1, 0.35, 0.3])
    assert "3 more metrics with a history" in page
    assert "plotly.min.js" in page
    assert "auc over steps" not in page  # a single point has no chart


def test_run_page_previews_artifacts(client: TestClient, logged: Logged) -> None:
    page = client.get(f"/ui/runs/{logged.a}").text
    assert (
        f'<img class="preview" src="http://testserver/ui/runs/{logged.a}/artifacts/plots/x.png"'
        in page
    )
    assert "hello from run a" in page and "line 197" in page and "line 199" not in page
    assert "The first 200 of 302 lines." in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    assert "&#34;layers&#34;" in page or "&quot;layers&quot;" in page
    assert page.count('<th scope="col">city</th>') == 2  # the parquet and the csv tables
    assert "<td>Quito</td>" in page and "3 rows \u00d7 2 columns" in page
    assert "An HTML report" in page
    odd = re.search(r'href="http://testserver(/ui/runs/[^"]+/artifacts/notes/odd[^"]*)"', page)
    assert odd is not None and client.get(odd.group(1)).text == "odd"


def test_failed_run_shows_its_error_and_a_child_links_its_parent(
    client: TestClient, logged: Logged
) -> None:
    failed = client.get(f"/ui/runs/{logged.failed}").text
    assert "FAILED" in failed
    assert re.search(r'<pre class="error-text">.*ValueError: the loss went to NaN', failed, re.S)
    child = client.get(f"/ui/runs/{logged.child}").text
    assert re.search(r'Parent run</dt><dd><a href="[^"]+/ui/runs/[0-9a-f]{32}">sweep</a>', child)


def test_unknown_run_and_artifact_give_404_pages(client: TestClient, logged: Logged) -> None:
    response = client.get("/ui/runs/does-not-exist")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Run &#39;does-not-exist&#39; does not exist" in response.text
    missing = client.get(f"/ui/runs/{logged.a}/artifacts/nope.txt")
    assert missing.status_code == 404 and "has no artifact" in missing.text
    assert client.get("/ui/runs/does-not-exist/artifacts/x.txt").status_code == 404


def test_artifacts_download_as_logged_with_safe_headers(
    client: TestClient, logged: Logged, sqlite_backend: SqlBackend
) -> None:
    stored = {a.path: a for a in sqlite_backend.list_artifacts(logged.a)}
    for path in ("notes/a.txt", "cfg.json", "plots/x.png", "tables/sample.parquet"):
        response = client.get(f"/ui/runs/{logged.a}/artifacts/{path}")
        assert response.status_code == 200
        assert response.content == sqlite_backend.blobs.read_bytes(stored[path].sha256)
        assert response.headers["x-content-type-options"] == "nosniff"
    assert client.get(f"/ui/runs/{logged.a}/artifacts/cfg.json").json()["layers"] == [64, 32]
    assert (
        client.get(f"/ui/runs/{logged.a}/artifacts/plots/x.png").headers["content-type"]
        == "image/png"
    )
    text = client.get(f"/ui/runs/{logged.a}/artifacts/notes/a.txt")
    assert text.headers["content-type"] == "text/plain; charset=utf-8"
    report = client.get(f"/ui/runs/{logged.a}/artifacts/plots/report.html")
    assert report.text == REPORT
    assert report.headers["content-type"].startswith("text/html")
    policy = report.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "sandbox" in policy


def test_a_tampered_artifact_is_refused_not_a_500(
    client: TestClient, logged: Logged, sqlite_backend: SqlBackend
) -> None:
    notes = next(a for a in sqlite_backend.list_artifacts(logged.a) if a.path == "notes/a.txt")
    blob = Path(sqlite_backend.blobs.root) / "blobs" / notes.sha256[:2] / notes.sha256
    blob.write_text("altered")
    response = client.get(f"/ui/runs/{logged.a}/artifacts/notes/a.txt")
    assert response.status_code == 409 and "altered or corrupted" in response.text
    page = client.get(f"/ui/runs/{logged.a}")
    assert page.status_code == 200 and "altered or corrupted" in page.text


def test_compare_marks_differing_rows_and_overlays_metrics(
    client: TestClient, logged: Logged
) -> None:
    response = client.get(f"/ui/compare?ids={logged.a}&ids={logged.b}")
    assert response.status_code == 200
    page = response.text
    rows = _rows(page)
    assert rows["lr"] and rows["loss"] and rows["auc"]
    assert not rows["depth"] and not rows["team"] and not rows["status"]
    assert "tr.differs" not in page and page.count('<tr class="differs">') == sum(rows.values())
    assert f"/ui/runs/{logged.a}" in page and f"/ui/runs/{logged.b}" in page
    charts = _charts(page)
    loss = next(
        c for c in charts.values() if len(c["data"]) == 2 and c["data"][0]["x"] == [0, 1, 2, 3, 4]
    )
    assert [trace["name"] for trace in loss["data"]] == ["a", "b"]
    assert "Show only differences" in page
    _assert_no_external_urls(page)

    only = client.get(f"/ui/compare?ids={logged.a}&ids={logged.b}&only=differences").text
    assert set(_rows(only)) == {label for label, differs in rows.items() if differs}
    assert "Show all fields" in only


def test_compare_refuses_too_few_too_many_and_unknown_runs(
    client: TestClient, logged: Logged
) -> None:
    one = client.get(f"/ui/compare?ids={logged.a}")
    assert one.status_code == 400 and "at least two runs" in one.text
    assert client.get("/ui/compare").status_code == 400
    same = client.get(f"/ui/compare?ids={logged.a}&ids={logged.a}")
    assert same.status_code == 400
    many = "&".join(f"ids={i:032x}" for i in range(21))
    response = client.get(f"/ui/compare?{many}")
    assert response.status_code == 400 and "At most 20 runs" in response.text
    unknown = client.get(f"/ui/compare?ids={logged.a}&ids=nope")
    assert unknown.status_code == 404 and "does not exist" in unknown.text
    assert unknown.headers["content-type"].startswith("text/html")
    _assert_no_external_urls(unknown.text)
