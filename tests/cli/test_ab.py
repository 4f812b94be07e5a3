"""`steward ab plan | readout`."""

from __future__ import annotations

import json

from .conftest import Invoke


def test_plan_prints_the_sample_per_arm(cli: Invoke) -> None:
    result = cli("ab", "plan", "--baseline", "0.10", "--mde", "0.02")
    assert result.exit_code == 0, result.output
    assert "3,841 per arm" in result.output
    as_json = json.loads(cli("ab", "plan", "--baseline", "0.1", "--mde", "0.02", "--json").output)
    assert as_json["per_arm"] == 3841
    means = cli("ab", "plan", "--metric", "mean", "--baseline", "100", "--mde", "5", "--sd", "10")
    assert "63 per arm" in means.output


def test_readout_withholds_the_verdict_until_the_plan_is_reached(cli: Invoke) -> None:
    args = ("ab", "readout", "--baseline", "0.10", "--mde", "0.02")
    early = " ".join(cli(*args, "--a", "1000:100", "--b", "1000:140").output.split())
    assert "no fixed-horizon verdict yet" in early and "P(B beats A)" in early
    done = json.loads(cli(*args, "--a", "4000:400", "--b", "4000:470", "--json").output)
    assert done["fixed"]["ready"] is True and done["fixed"]["significant"] is True
    assert done["fixed"]["p_value"] < 0.05 < done["sequential"]["p_value"]


def test_malformed_arms_and_metrics_are_named(cli: Invoke) -> None:
    bad = cli("ab", "readout", "--baseline", "0.1", "--mde", "0.02", "--a", "4000", "--b", "1:0")
    assert bad.exit_code != 0 and "--a '4000' is not N:SUCCESSES" in bad.output
    metric = cli("ab", "plan", "--metric", "median", "--baseline", "1", "--mde", "0.1")
    assert metric.exit_code != 0 and "'proportion' or 'mean'" in metric.output
