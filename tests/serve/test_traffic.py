"""Traffic policies: shadow, A/B (sticky), bandit (Thompson sampling), and request ids."""

from __future__ import annotations

import random
import time
from collections import Counter
from typing import Any

import duckdb
import numpy as np
import pytest

import steward
from steward.errors import InvalidInput
from steward.serve import DeploymentSpec, Route, traffic_spec
from steward.serve._decode import check, records_of
from steward.serve._state import ShadowJob
from steward.serve._traffic import RequestIds, Router

from .conftest import records, serving


def test_a_shadow_scores_every_request_and_is_never_returned(churn: dict[str, Any]) -> None:
    X, models = churn["X"], churn["models"]
    steward.create_deployment("churn", traffic_spec("models:/churn/1", shadow=["models:/churn/2"]))
    ids = []
    with serving(deployment="churn") as (client, prepared):
        for i in range(20):
            body = client.post("/predict", json={"records": records(X.iloc[i : i + 1])}).json()
            assert body["version"] == 1 and body["route"] == "primary"
            ids.append(body["request_id"])
        deadline = time.monotonic() + 10
        while prepared.state.shadow_queue.qsize() and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)
        prepared.state.log.flush()
        root = prepared.state.log_root
    log = duckdb.sql(
        f'select request_id, role, route, version, "output.proba.1" as p from '
        f"read_parquet('{root}/predictions/*/*.parquet', union_by_name=true)"
    ).df()
    shadow = log[log.role == "shadow"].set_index("request_id")
    primary = log[log.role == "primary"].set_index("request_id")
    assert sorted(shadow.index) == sorted(ids) == sorted(primary.index)
    assert set(shadow.version) == {2} and set(shadow.route) == {"shadow"}
    expected = models[2].predict_proba(X.head(20))[:, 1]
    assert np.allclose(shadow.loc[ids, "p"], expected)  # the same request, the challenger's answer


def test_a_shadow_that_falls_behind_skips_requests_not_the_caller(churn: dict[str, Any]) -> None:
    spec = traffic_spec("models:/churn/1", shadow=["models:/churn/2"])
    steward.create_deployment("churn", spec.model_copy(update={"shadow_queue": 1}))
    with serving(deployment="churn") as (client, prepared):
        rows = records(churn["X"].head(50))
        assert client.post("/predict", json={"records": rows}).status_code == 200
        state = prepared.state
        table = state.table
        assert table is not None
        batch = check(*records_of({"records": rows})[:2], table.model(0).signature)
        for _ in range(200):  # a burst far faster than the shadow scores
            state.shadow(ShadowJob(state.ids.issue(0), batch, None, table))
        assert client.post("/predict", json={"records": rows}).status_code == 200
        text = client.get("/metrics").text
    skipped = [
        line for line in text.splitlines() if line.startswith("steward_shadow_skipped_total")
    ]
    assert skipped and float(skipped[0].split()[-1]) > 0


def test_an_ab_split_follows_the_weights_and_sticks_to_entities(churn: dict[str, Any]) -> None:
    steward.create_deployment(
        "churn",
        traffic_spec("models:/churn/1", ab={"models:/churn/1": 0.7, "models:/churn/2": 0.3}),
    )
    row = records(churn["X"].head(1))
    with serving(deployment="churn") as (client, _):
        routes = Counter(
            client.post("/predict", json={"records": row}).json()["route"] for _ in range(600)
        )
        share = routes["a"] / 600
        assert abs(share - 0.7) < 0.07, routes  # 0.07 is over 3.5 binomial standard errors
        sticky = {
            client.post("/predict", json={"records": row, "entity": "customer-42"}).json()["route"]
            for _ in range(30)
        }
        assert len(sticky) == 1  # the same entity, the same model, on every request
        by_entity = Counter(
            client.post("/predict", json={"records": row, "entity": f"c{i}"}).json()["route"]
            for i in range(400)
        )
        assert abs(by_entity["a"] / 400 - 0.7) < 0.08


def test_the_sticky_column_keeps_an_entity_on_one_route(churn: dict[str, Any]) -> None:
    spec = traffic_spec(
        "models:/churn/1",
        ab={"models:/churn/1": 0.5, "models:/churn/2": 0.5},
        sticky_column="customer_id",  # not a model input: allowed because it routes
    )
    steward.create_deployment("churn", spec)
    X = churn["X"]
    with serving(deployment="churn") as (client, _):
        seen: dict[str, set[str]] = {}
        for i in range(60):
            row = {**records(X.iloc[i : i + 1])[0], "customer_id": f"c{i % 6}"}
            response = client.post("/predict", json={"records": [row]})
            assert response.status_code == 200, response.text
            seen.setdefault(row["customer_id"], set()).add(response.json()["route"])
        other = {**records(X.head(1))[0], "segment": "b2b"}
        assert client.post("/predict", json={"records": [other]}).status_code == 422
    assert all(len(r) == 1 for r in seen.values()), seen
    assert len(set().union(*seen.values())) == 2  # six customers spread over both routes


def test_extra_columns_can_be_ignored(churn: dict[str, Any]) -> None:
    spec = traffic_spec("models:/churn/1").model_copy(update={"extra_columns": "ignore"})
    steward.create_deployment("lenient", spec)
    with serving(deployment="lenient") as (client, _):
        row = {**records(churn["X"].head(1))[0], "note": "anything"}
        assert client.post("/predict", json={"records": [row]}).status_code == 200


def test_thompson_sampling_sends_most_traffic_to_the_better_arm() -> None:
    spec = DeploymentSpec(
        policy="bandit",
        routes=[Route(name="weak", model="models:/m/1"), Route(name="strong", model="models:/m/2")],
    )
    router = Router(spec)
    router._rng.seed(3)
    truth = {"weak": 0.3, "strong": 0.5}
    rng = random.Random(7)
    chosen = []
    for _ in range(3000):
        route = spec.routes[router.choose(None)].name
        chosen.append(route)
        router.reward(route, 1.0 if rng.random() < truth[route] else 0.0)
    late = Counter(chosen[-1000:])
    assert late["strong"] / 1000 > 0.85, late
    regret = sum(truth["strong"] - truth[r] for r in chosen)
    assert regret < 0.2 * 3000 * 0.5  # far less than splitting evenly (0.1 per request)


def test_bandit_rewards_from_feedback_reach_the_store_and_every_replica(
    churn: dict[str, Any],
) -> None:
    steward.create_deployment("churn", traffic_spec("models:/churn/1", bandit=["models:/churn/2"]))
    row = records(churn["X"].head(1))
    with serving(deployment="churn", poll_seconds=0.05) as (client, prepared):
        prepared.state.reward_seconds = 0.1
        for _ in range(60):
            answer = client.post("/predict", json={"records": row}).json()
            reward = 1.0 if answer["route"] == "arm-2" else 0.0
            client.post("/feedback", json={"request_id": answer["request_id"], "reward": reward})
        deadline = time.monotonic() + 10
        while not steward.get_deployment("churn").arms and time.monotonic() < deadline:
            time.sleep(0.05)
    arms = steward.get_deployment("churn").arms
    assert set(arms) <= {"arm-1", "arm-2"} and arms
    total = sum(s + f for s, f in arms.values())
    assert total == pytest.approx(60)
    if "arm-2" in arms:
        assert arms["arm-2"][1] == 0  # arm 2 was always rewarded
    if "arm-1" in arms:
        assert arms["arm-1"][0] == 0


def test_request_ids_carry_their_route_and_refuse_forgeries() -> None:
    ids = RequestIds("a" * 64)
    issued = ids.issue(5)
    assert len(issued) == 32 and ids.route_of(issued) == 5
    assert ids.route_of(issued[:-1] + ("0" if issued[-1] != "0" else "1")) is None
    assert RequestIds("b" * 64).route_of(issued) is None  # another deployment's id
    assert ids.route_of(None) is None and ids.route_of("x" * 32) is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"shadow": ["models:/a/2"], "ab": {"models:/a/1": 1.0}}, "Choose one traffic policy"),
        ({"ab": {"models:/a/2": 1.0}}, "include models:/a/1=<weight>"),
        ({"ab": {"models:/a/1": 0.0, "models:/a/2": 0.0}}, "positive weight"),
    ],
)
def test_bad_policies_are_refused_with_reasons(options: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        traffic_spec("models:/a/1", **options)
