"""Bandit analysis: serve's Thompson-sampling Router simulated against known rates, and a
bandit deployment's real log read back (shares, posteriors, regret over time)."""

from __future__ import annotations

from collections import Counter

import pytest
from scipy import stats

from steward.errors import InvalidInput
from steward.iterate import analyze_bandit, simulate_bandit
from steward.serve import traffic_spec
from tests.iterate.conftest import Live


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_thompson_sampling_sends_most_traffic_to_the_better_arm(seed: int) -> None:
    run = simulate_bandit([0.05, 0.10], 3000, seed=seed)
    weak, strong = run.arms
    assert (weak.route, strong.route) == ("arm-1", "arm-2")
    assert strong.share > 0.7 and weak.requests + strong.requests == 3000
    assert run.true_regret_even_split == pytest.approx(3000 * 0.025)
    assert run.true_regret == pytest.approx(weak.requests * 0.05)
    assert run.true_regret < 0.5 * run.true_regret_even_split
    assert run.regret < 0.5 * run.regret_even_split  # the estimate says the same
    assert run.best == "arm-2" and strong.prob_best > 0.9
    early, late = run.buckets[0].arms[1].share, run.buckets[-1].arms[1].share
    assert late > early and late > 0.8  # it learns: the better arm's share grows


def test_a_simulation_is_repeatable_with_its_seed() -> None:
    first = simulate_bandit([0.3, 0.5, 0.4], 500, seed=7)
    again = simulate_bandit([0.3, 0.5, 0.4], 500, seed=7)
    assert first.model_dump() == again.model_dump()
    assert [a.requests for a in first.arms] != [
        a.requests for a in simulate_bandit([0.3, 0.5, 0.4], 500, seed=8).arms
    ]


def test_a_served_bandit_is_read_back_from_its_log(live: Live) -> None:
    sent = live.sent["bandit"]
    result = analyze_bandit(live.deployment("bandit"))
    assert result.requests == 300 and result.rewarded == 300 and result.prior == (1.0, 1.0)
    served = Counter(sent.routes)
    means = {}
    for arm in result.arms:
        rewards = [
            sent.rewards[i]
            for i, r in zip(sent.request_ids, sent.routes, strict=True)
            if r == arm.route
        ]
        s = sum(rewards)
        f = len(rewards) - s
        assert arm.requests == served[arm.route] == arm.rewarded
        assert arm.share == pytest.approx(served[arm.route] / 300)
        assert (arm.successes, arm.failures) == (s, f)
        assert arm.mean == pytest.approx((1 + s) / (2 + s + f))
        low, high = stats.beta.ppf([0.025, 0.975], 1 + s, 1 + f)
        assert (arm.low, arm.high) == (pytest.approx(low), pytest.approx(high))
        means[arm.route] = arm.mean
    assert sum(a.prob_best for a in result.arms) == pytest.approx(1.0)
    assert result.best == "arm-2" and result.arms[1].prob_best > 0.9  # rates 0.2 and 0.6
    expected = sum(max(means.values()) - means[r] for r in sent.routes)
    assert result.regret == pytest.approx(expected)
    assert "Regret is an estimate" in result.notes[0]
    # over time: 20 buckets, every request in one, the posteriors accumulate to the final
    assert len(result.buckets) == 20
    assert sum(b.requests for b in result.buckets) == 300
    for bucket in result.buckets:
        if bucket.requests:
            assert sum(a.share for a in bucket.arms) == pytest.approx(1.0)
    last = result.buckets[-1]
    assert [a.successes for a in last.arms] == [a.successes for a in result.arms]
    assert last.regret == pytest.approx(result.regret)
    assert [b.regret for b in result.buckets] == sorted(b.regret for b in result.buckets)
    assert "| arm-2 | models:/clf/2 |" in result.to_markdown()


def test_a_window_with_no_traffic_says_so(on_live: Live) -> None:
    result = analyze_bandit("bandit", window_seconds=0.001)
    assert result.requests == 0 and result.buckets == [] and result.best is None
    assert result.notes[0].startswith("No requests were logged in the window")
    assert [a.mean for a in result.arms] == [0.5, 0.5]  # the prior


def test_bad_inputs_are_refused_with_what_to_do(live: Live) -> None:
    with pytest.raises(InvalidInput, match=r"'clf-shadow' is not a bandit .* --bandit"):
        analyze_bandit(live.deployment("clf-shadow"))
    with pytest.raises(InvalidInput, match="buckets must be 1 or more"):
        analyze_bandit(live.deployment("bandit"), buckets=0)
    with pytest.raises(InvalidInput, match="two or more reward rates from 0 to 1"):
        simulate_bandit([0.5], 100)
    with pytest.raises(InvalidInput, match="two or more reward rates from 0 to 1"):
        simulate_bandit([0.5, 1.5], 100)


def test_a_bandit_that_ended_is_read_as_its_last_revision_ran(on_live: Live) -> None:
    running = on_live.deployment("bandit")
    ended = running.model_copy(update={"spec": traffic_spec("models:/clf/1", base=running.spec)})
    before, after = analyze_bandit(running), analyze_bandit(ended)
    assert [a.route for a in after.arms] == [a.route for a in before.arms]
    assert [a.requests for a in after.arms] == [a.requests for a in before.arms]
    assert "The bandit ended" in after.notes[0]
