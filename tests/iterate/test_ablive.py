"""A live A/B deployment read from its log: each route's rewards, and the readout."""

from __future__ import annotations

import pytest

from steward.errors import InvalidInput
from steward.iterate import (
    Arm,
    ab_arms,
    ab_outcomes,
    ab_readout,
    analyze_ab_test,
    get_ab_plan,
    plan_ab_test,
    set_ab_plan,
)
from steward.serve import traffic_spec
from tests.iterate.conftest import AB_PLAN, Live


def _sent(live: Live) -> dict[str, list[float]]:
    sent = live.sent["ab"]
    out: dict[str, list[float]] = {"a": [], "b": []}
    for request_id, route in zip(sent.request_ids, sent.routes, strict=True):
        out[route].append(sent.rewards[request_id])
    return out


def test_each_route_gets_the_rewards_of_the_requests_it_answered(live: Live) -> None:
    outcomes = ab_outcomes(live.deployment("ab"))
    assert outcomes == _sent(live)
    assert len(outcomes["a"]) + len(outcomes["b"]) == 160 and min(map(len, outcomes.values())) > 40
    assert ab_outcomes(live.deployment("quiet-ab")) == {"a": [], "b": []}


def test_the_readout_is_the_one_typed_numbers_get(live: Live) -> None:
    sent = _sent(live)
    small = plan_ab_test("proportion", 0.15, 0.25)  # 49 an arm: reached
    readout = ab_readout(live.deployment("ab"), small)
    assert readout == analyze_ab_test(small, Arm.of(sent["a"]), Arm.of(sent["b"]))
    assert readout.fixed.ready and readout.fixed.p_value is not None
    assert (readout.a.n, readout.b.n) == (len(sent["a"]), len(sent["b"]))


def test_the_stored_plan_is_used_and_no_verdict_comes_before_it_is_reached(
    on_live: Live,
) -> None:
    readout = ab_readout("ab")
    assert readout.plan.per_arm == AB_PLAN.per_arm == 250
    assert readout.plan.started_at is not None  # stamped when stored
    assert not readout.fixed.ready and readout.fixed.p_value is None
    assert "no fixed-horizon verdict yet" in readout.fixed.message
    assert 0 < readout.sequential.p_value <= 1
    with pytest.raises(InvalidInput, match="No A/B plan is stored for 'quiet-ab'"):
        ab_readout("quiet-ab")


def test_plans_name_their_arms_and_other_policies_are_refused(live: Live) -> None:
    ab = live.deployment("ab")
    assert ab_arms(AB_PLAN, ab) == ("a", "b")
    assert ab_arms(AB_PLAN.model_copy(update={"control": "b", "treatment": "a"}), ab) == ("b", "a")
    with pytest.raises(InvalidInput, match="names route 'c', which deployment 'ab' does not"):
        ab_arms(AB_PLAN.model_copy(update={"treatment": "c"}), ab)
    with pytest.raises(InvalidInput, match="'bandit' is not an A/B split"):
        ab_outcomes(live.deployment("bandit"))


def test_a_finished_split_is_still_read_from_its_plan_on(on_live: Live) -> None:
    live_split = ab_outcomes("ab")
    ab = on_live.deployment("ab")
    ended = ab.model_copy(update={"spec": traffic_spec("models:/clf/1", base=ab.spec)})
    assert ended.spec.policy == "single"
    assert ab_outcomes(ended) == live_split  # the arms are the routes logged since the plan
    readout = ab_readout(ended)
    assert readout.a.n == len(live_split["a"]) and readout.b.n == len(live_split["b"])


def test_requests_before_the_plan_never_count_and_a_new_plan_keeps_the_start(
    on_live: Live,
) -> None:
    after = on_live.sent["late-ab"]
    counted = ab_outcomes("late-ab")
    assert sum(len(v) for v in counted.values()) == len(after.request_ids) == 30
    # a window reaching back before the plan still starts at the plan
    week = ab_outcomes("late-ab", window_seconds=7 * 86400)
    assert week == counted
    # a changed plan (say, a larger effect) keeps the test's start; restart begins anew
    first = get_ab_plan("late-ab")
    assert first is not None and first.started_at is not None
    changed = set_ab_plan("late-ab", plan_ab_test("proportion", 0.15, 0.2))
    assert changed.started_at == first.started_at and ab_outcomes("late-ab") == counted
    restarted = set_ab_plan("late-ab", AB_PLAN, restart=True)
    assert restarted.started_at is not None and restarted.started_at > first.started_at
    assert sum(len(v) for v in ab_outcomes("late-ab").values()) == 0
