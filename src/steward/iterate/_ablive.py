"""A live A/B deployment read from its log: each route's rewards, and the readout.

An observation is a request the route answered whose reward came back through
/feedback (the latest reward when one request got several). Requests without a reward
are not observations yet: the arms fill as outcomes arrive. The readout is the one
``analyze_ab_test`` gives for numbers typed by hand, against the deployment's stored
plan: no fixed-horizon verdict before the planned sample, always the sequential p-value
and the Bayesian readout.
"""

from __future__ import annotations

import time

from steward.errors import InvalidInput
from steward.iterate._abtest import ABPlan, ABReadout, Arm, analyze_ab_test
from steward.iterate._api import get_ab_plan
from steward.iterate._servedlog import answered, read_served, resolve, rewards
from steward.serve import Deployment


def ab_outcomes(
    deployment: str | Deployment, *, window_seconds: float | None = None
) -> dict[str, list[float]]:
    """Return the rewards (one a request, oldest first) of each route of an A/B test.

    The test is the deployment's split now, or the one its stored plan started; requests
    count from the plan's start on (so a finished test can still be read, and an earlier
    test's requests never count); ``window_seconds`` narrows it to the latest requests.
    """
    found = resolve(deployment)
    plan = get_ab_plan(found.name)
    if found.spec.policy != "ab" and (plan is None or plan.started_at is None):
        raise InvalidInput(
            f"Deployment {found.name!r} is not an A/B split (its policy is "
            f"{found.spec.policy!r}) and has no stored A/B plan; an A/B readout needs routes "
            f"chosen by fixed weights. Plan it (steward ab plan ... --deployment {found.name}),"
            f" then split it: steward deploy traffic {found.name} --ab MODEL_A=0.5 "
            "--ab MODEL_B=0.5"
        )
    if plan is not None and plan.started_at is not None:  # never before the test started
        since_plan = max(time.time() - plan.started_at, 1e-3)
        window_seconds = since_plan if window_seconds is None else min(window_seconds, since_plan)
    log = read_served(found, window_seconds)
    served = answered(log.predictions, "primary")
    if found.spec.policy == "ab":
        names = [r.name for r in found.spec.serving]
    else:  # the split ended: its arms are the routes that answered since the plan
        names = sorted({str(r) for r in served.get("route", [])} - {"", "primary"})
    outcomes: dict[str, list[float]] = {name: [] for name in names}
    given = rewards(log.feedback)
    if served.empty or given.empty:
        return outcomes
    routes = served.drop_duplicates("request_id").set_index("request_id")["route"]
    latest = given.drop_duplicates("request_id", keep="last")
    latest = latest[latest["request_id"].isin(routes.index)]
    for request_id, reward in zip(latest["request_id"], latest["reward"], strict=True):
        route = str(routes[request_id])
        if route in outcomes:
            outcomes[route].append(float(reward))
    return outcomes


def ab_arms(
    plan: ABPlan, deployment: Deployment, routes: list[str] | None = None
) -> tuple[str, str]:
    """Return the routes that are arms A and B: the plan's, else the first two of
    ``routes`` (default: the deployment's serving routes)."""
    names = routes if routes is not None else [r.name for r in deployment.spec.serving]
    if not names:
        raise InvalidInput(
            f"Deployment {deployment.name!r} logged no A/B request since its plan was stored."
        )
    a = plan.control or names[0]
    b = plan.treatment or (names[1] if len(names) > 1 else names[0])
    for arm in (a, b):
        if arm not in names:
            raise InvalidInput(
                f"The plan names route {arm!r}, which deployment {deployment.name!r} does not "
                f"serve; its routes are {', '.join(names)}."
            )
    return a, b


def ab_readout(
    deployment: str | Deployment,
    plan: ABPlan | None = None,
    *,
    window_seconds: float | None = None,
) -> ABReadout:
    """Return the A/B readout of a live deployment: its logged rewards against ``plan``
    (default: the plan stored for it with ``set_ab_plan``)."""
    found = resolve(deployment)
    if plan is None:
        plan = get_ab_plan(found.name)
    if plan is None:
        raise InvalidInput(
            f"No A/B plan is stored for {found.name!r}: plan the test first "
            f"(steward ab plan ... --deployment {found.name}), or pass plan=."
        )
    outcomes = ab_outcomes(found, window_seconds=window_seconds)
    a, b = ab_arms(plan, found, list(outcomes))
    return analyze_ab_test(plan, Arm.of(outcomes[a]), Arm.of(outcomes[b]))
