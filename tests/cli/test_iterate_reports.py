"""`steward shadow report` and `steward bandit report | simulate` over real prediction logs."""

from __future__ import annotations

import json

import pytest

from steward.errors import InvalidInput, NotFound
from tests.iterate.conftest import live, on_live  # noqa: F401  (fixtures)

from .conftest import Invoke


@pytest.mark.usefixtures("on_live")
def test_shadow_report_prints_the_verdict_and_the_paired_test(cli: Invoke) -> None:
    result = cli("shadow", "report", "clf-shadow")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "clf-shadow: shadow against primary: primary better" in text
    assert "230 requests (276 rows)" in text and "McNemar exact" in text
    assert "186" in text  # labeled rows
    early = json.loads(
        cli("shadow", "report", "clf-shadow", "--min-requests", "500", "--json").output
    )
    [route] = early["routes"]
    assert route["verdict"] == "not enough requests" and route["more_requests_needed"] == 270
    unlabeled = " ".join(cli("shadow", "report", "clf-unlabeled", "--window", "7d").output.split())
    assert "primary: review" in unlabeled and "no performance test is possible" in unlabeled


@pytest.mark.usefixtures("on_live")
def test_shadow_report_explains_what_cannot_be_read(cli: Invoke) -> None:
    wrong = cli("shadow", "report", "bandit")
    assert wrong.exit_code == InvalidInput.exit_code
    assert "Error: Deployment 'bandit' has no shadow route" in wrong.output
    missing = cli("shadow", "report", "nope")
    assert missing.exit_code == NotFound.exit_code and "nope" in missing.output
    window = cli("bandit", "report", "bandit", "--window", "10x")
    assert window.exit_code == InvalidInput.exit_code and "is not a window" in window.output


@pytest.mark.usefixtures("on_live")
def test_bandit_report_shows_each_arm(cli: Invoke) -> None:
    result = cli("bandit", "report", "bandit")
    assert result.exit_code == 0, result.output
    assert "300 requests, 300 rewarded" in result.output and "best arm arm-2" in result.output
    rows = {line.split()[0]: line.split() for line in result.output.splitlines() if "arm-" in line}
    assert rows["arm-2"][1] == "models:/clf/2" and "Regret is an estimate" in result.output
    data = json.loads(cli("bandit", "report", "bandit", "--buckets", "5", "--json").output)
    assert len(data["buckets"]) == 5 and data["requests"] == 300


def test_bandit_simulate_runs_without_a_deployment(cli: Invoke) -> None:
    result = cli("bandit", "simulate", "--rates", "0.05,0.10", "--requests", "3000", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["arms"][1]["share"] > 0.7 and data["true_regret"] < 0.5 * 75
    text = cli("bandit", "simulate", "--rates", "0.05,0.10").output
    assert "True regret" in text and "(an even split: 75)" in text
    bad = cli("bandit", "simulate", "--rates", "0.05,x")
    assert bad.exit_code == InvalidInput.exit_code and "--rates takes numbers" in bad.output
