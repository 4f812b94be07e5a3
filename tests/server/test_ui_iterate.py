"""The shadow, bandit and A/B pages of a deployment, over real prediction logs."""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from tests.iterate.conftest import Live, build_live

from steward.iterate import ab_readout, analyze_bandit, analyze_shadow
from steward.server import create_app


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Live]]:
    live = build_live(tmp_path_factory)
    with TestClient(create_app(live.backend)) as client:
        yield client, live


def _text(page: str, element_id: str) -> str:
    found = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*>(.*?)</\1>', page, re.S)
    assert found, f"no element #{element_id}"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", found.group(2))).split())


def _figure(page: str, chart_id: str) -> dict:  # type: ignore[type-arg]
    found = re.search(
        rf'<script type="application/json" id="{chart_id}">(.*?)</script>', page, re.S
    )
    assert found, f"no chart {chart_id}"
    return json.loads(found.group(1).replace("<\\/", "</"))  # type: ignore[no-any-return]


def test_the_shadow_page_shows_the_verdict_and_the_numbers(
    site: tuple[TestClient, Live],
) -> None:
    client, live = site
    page = client.get("/ui/deployments/clf-shadow/shadow")
    assert page.status_code == 200, page.text
    [route] = analyze_shadow(live.deployment("clf-shadow")).routes
    assert route.performance is not None and route.differences is not None
    assert _text(page.text, "verdict-shadow") == "primary better"
    facts = _text(page.text, "facts-shadow")
    assert "230 requests (276 rows)" in facts
    assert f"{100 * route.agreement:.1f}% (the same prediction" in facts  # type: ignore[operator]
    performance = _text(page.text, "performance-shadow")
    assert f"{route.performance.primary:.4f} {route.performance.shadow:.4f}" in performance
    assert f"{route.performance.p_value:.3g}" in performance and "McNemar exact" in performance
    histogram = _figure(page.text, "differences-shadow")
    assert histogram["data"][0]["y"] == route.differences.counts
    assert "plotly.min.js" in page.text
    unlabeled = client.get("/ui/deployments/clf-unlabeled/shadow").text
    assert _text(unlabeled, "verdict-shadow") == "review"
    assert "no performance test is possible" in _text(unlabeled, "reasons-shadow")
    early = client.get("/ui/deployments/clf-shadow/shadow", params={"min_requests": 500}).text
    assert _text(early, "verdict-shadow") == "not enough requests"
    assert "270 more needed for a verdict" in _text(early, "facts-shadow")


def test_the_bandit_page_shows_each_arm_over_time(site: tuple[TestClient, Live]) -> None:
    client, live = site
    page = client.get("/ui/deployments/bandit/bandit")
    assert page.status_code == 200, page.text
    result = analyze_bandit(live.deployment("bandit"))
    assert _text(page.text, "best-arm") == "arm-2"
    assert _text(page.text, "requests") == "300, 300 with a reward"
    assert f"{result.regret:.4g} rewards lost" in _text(page.text, "regret")
    table = _text(page.text, "arms-table")
    served = Counter(live.sent["bandit"].routes)
    for arm in result.arms:
        assert f"{arm.route} models:/clf/{arm.route[-1]} {served[arm.route]} " in table
        assert f"{arm.mean:.4f}" in table and f"{100 * arm.prob_best:.1f}%" in table
    share = _figure(page.text, "share-chart")
    assert [t["name"] for t in share["data"]] == ["arm-1", "arm-2"]
    assert share["data"][1]["y"] == [b.arms[1].share for b in result.buckets if b.requests]
    posterior = _figure(page.text, "posterior-chart")
    means = [t for t in posterior["data"] if t.get("showlegend") is not False]
    assert means[1]["y"] == [b.arms[1].mean for b in result.buckets]
    regret = _figure(page.text, "regret-chart")
    assert regret["data"][0]["y"][-1] == pytest.approx(result.regret)


def test_the_ab_page_shows_progress_and_withholds_the_verdict(
    site: tuple[TestClient, Live],
) -> None:
    client, live = site
    page = client.get("/ui/deployments/ab/ab")
    assert page.status_code == 200, page.text
    assert "250 per arm (500 in all)" in _text(page.text, "plan-text")
    sent = Counter(live.sent["ab"].routes)
    for label, route in (("A", "a"), ("B", "b")):
        progress = _text(page.text, f"progress-{label}")
        assert (
            f"{label} ({route}): {sent[route]} of 250 ({100 * sent[route] / 250:.0f}%)" in progress
        )
        assert f'id="bar-{label}" max="1" value="{sent[route] / 250}"' in page.text
    assert "no fixed-horizon verdict yet" in _text(page.text, "fixed")
    readout = ab_readout(live.deployment("ab"), live.backend.get_ab_plan("ab"))
    assert _text(page.text, "sequential").startswith(
        f"always-valid p = {readout.sequential.p_value:.3g}"
    )
    assert _text(page.text, "prob-b") == f"{100 * readout.bayesian.prob_b_beats_a:.1f}%"
    unplanned = client.get("/ui/deployments/quiet-ab/ab").text
    assert "No plan stored: steward ab plan ... --deployment quiet-ab" in _text(
        unplanned, "no-plan"
    )


def test_the_deployment_page_links_the_test_its_policy_runs(site: tuple[TestClient, Live]) -> None:
    client, _ = site
    for name, link in (("clf-shadow", "shadow"), ("bandit", "bandit"), ("ab", "ab")):
        page = client.get(f"/ui/deployments/{name}").text
        ids = set(re.findall(r'id="(shadow|ab|bandit)-link"', page))
        assert ids == {link}, name
        assert f'href="http://testserver/ui/deployments/{name}/{link}"' in page


@pytest.mark.parametrize("page", ["shadow", "bandit", "ab"])
def test_unknown_and_unsuited_deployments_get_a_reason_not_an_error(
    site: tuple[TestClient, Live], page: str
) -> None:
    client, _ = site
    missing = client.get(f"/ui/deployments/nope/{page}")
    assert missing.status_code == 404 and "does not exist" in missing.text
    other = "bandit" if page != "bandit" else "clf-shadow"
    unsuited = client.get(f"/ui/deployments/{other}/{page}")
    assert unsuited.status_code == 400
    assert f"Deployment &#39;{other}&#39;" in unsuited.text and 'role="alert"' in unsuited.text
