"""Deployments as store records, on SQLite, PostgreSQL and the team server alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import steward
from steward._backend import Backend
from steward.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from steward.serve import load_spec, traffic_spec
from steward.serve._deploy_ops import hash_token

from .conftest import churn_frame, churn_model


@pytest.fixture
def versions(backend: Backend) -> Backend:
    """Register versions 1 and 2 of 'churn' on the backend under test."""
    X, y = churn_frame(120)
    for c in (1.0, 0.01):
        with steward.start_run(capture_environment_info=False):
            steward.log_model(churn_model(X, y, c), input_example=X, registered_model_name="churn")
    steward.set_alias("churn", "champion", 1)
    return backend


def test_a_deployment_resolves_aliases_and_keeps_every_revision(versions: Backend) -> None:
    created = steward.create_deployment("churn", "models:/churn@champion", reason="first")
    assert created.revision == 1 and created.spec.routes[0].resolved == "models:/churn/1"
    steward.set_alias("churn", "champion", 2)  # the alias moves; the deployment does not
    assert steward.get_deployment("churn").spec.routes[0].resolved == "models:/churn/1"
    switched = steward.set_deployment_model("churn", "models:/churn@champion", reason="CHG-1")
    assert switched.revision == 2 and switched.spec.routes[0].resolved == "models:/churn/2"
    back = steward.set_deployment_model("churn", "models:/churn/1", reason="rollback")
    history = steward.get_deployment_history("churn")
    assert [(r.revision, r.spec.routes[0].resolved, r.reason) for r in history] == [
        (1, "models:/churn/1", "first"),
        (2, "models:/churn/2", "CHG-1"),
        (3, "models:/churn/1", "rollback"),
    ]
    assert back.updated_by == "tester" and all(r.actor == "tester" for r in history)
    assert [d.name for d in steward.list_deployments()] == ["churn"]
    with pytest.raises(Conflict, match="is at revision 3, not 1"):
        steward.update_deployment("churn", "models:/churn/2", expected_revision=1)


def test_every_change_is_an_event_and_a_lineage_edge(versions: Backend) -> None:
    steward.create_deployment("churn", "models:/churn/1")
    steward.set_deployment_model("churn", "models:/churn/2")
    token = steward.create_serving_token("churn", "svc")
    events = [e for e in versions.list_events() if e.entity_type == "deployment"]
    assert [e.action for e in events] == [
        "deployment.created",
        "deployment.updated",
        "deployment.token.created",
    ]
    assert events[1].payload["previous"] == {"primary": "models:/churn/1"}
    assert events[1].payload["routes"] == {"primary": "models:/churn/2"}
    assert token.secret not in str([e.payload for e in events])
    if isinstance(versions, steward._backend.SqlBackend):
        edges = (
            versions.store.engine.connect()
            .execute(
                select(steward.store.tables.lineage_edges).where(
                    steward.store.tables.lineage_edges.c.target_type == "deployment"
                )
            )
            .all()
        )
        assert {(e.source_type, e.target_id, e.relation) for e in edges} == {
            ("model_version", "churn", "served_by")
        } and len(edges) == 2


def test_tokens_are_stored_hashed_and_listed_by_prefix(versions: Backend) -> None:
    steward.create_deployment("churn", "models:/churn/1")
    made = steward.create_serving_token("churn", "checkout")
    listed = steward.list_serving_tokens("churn")
    assert [(t.id, t.label, t.prefix) for t in listed] == [
        (made.token.id, "checkout", made.secret[:10])
    ]
    access = versions.get_serving_access("churn")
    assert access.token_sha256 == [hash_token(made.secret)] and access.require_token
    assert made.secret not in access.model_dump_json()
    revoked = steward.revoke_serving_token("churn", made.token.id)
    assert revoked.revoked_at is not None
    after = versions.get_serving_access("churn")
    assert after.token_sha256 == [] and after.require_token  # revoking locks, never opens
    with pytest.raises(NotFound, match="has no token 99"):
        steward.revoke_serving_token("churn", 99)


def test_bandit_rewards_add_up_per_revision(versions: Backend) -> None:
    steward.create_deployment("churn", traffic_spec("models:/churn/1", bandit=["models:/churn/2"]))
    versions.record_bandit_rewards("churn", 1, {"arm-1": (3.0, 1.0)})
    totals = versions.record_bandit_rewards("churn", 1, {"arm-1": (1.0, 0.0), "arm-2": (0.0, 2.0)})
    assert totals == {"arm-1": (4.0, 1.0), "arm-2": (0.0, 2.0)}
    assert steward.get_deployment("churn").arms == totals
    with pytest.raises(InvalidInput, match="has no route 'arm-9'"):
        versions.record_bandit_rewards("churn", 1, {"arm-9": (1.0, 0.0)})


def test_bad_deployments_are_refused_with_reasons(versions: Backend) -> None:
    steward.create_deployment("churn", "models:/churn/1")
    with pytest.raises(AlreadyExists, match="exists already"):
        steward.create_deployment("churn", "models:/churn/2")
    with pytest.raises(NotFound, match=r"Deployment 'chrun' does not exist\. Did you mean 'churn'"):
        steward.get_deployment("chrun")
    with pytest.raises(NotFound, match="has no alias 'prod'"):
        steward.create_deployment("other", "models:/churn@prod")
    with pytest.raises(NotFound, match="Version 7 of model 'churn' does not exist"):
        steward.set_deployment_model("churn", "models:/churn/7")
    with pytest.raises(InvalidInput, match="deployment name"):
        steward.create_deployment("no spaces", "models:/churn/1")
    with pytest.raises(InvalidInput, match="has no route 'shadow'"):
        steward.set_deployment_model("churn", "models:/churn/2", route="shadow")


def test_a_yaml_spec_and_its_errors_name_the_line_and_key(tmp_path: Path, versions: Any) -> None:
    good = tmp_path / "churn.yaml"
    good.write_text(
        "policy: ab\n"
        "sticky_column: plan\n"
        "routes:\n"
        "  - {name: current, model: 'models:/churn/1', weight: 0.9}\n"
        "  - {name: candidate, model: 'models:/churn/2', weight: 0.1}\n"
        "batching: {max_batch_size: 16, max_wait_ms: 3}\n"
    )
    spec = load_spec(good)
    created = steward.create_deployment("churn", spec)
    assert [r.resolved for r in created.spec.routes] == ["models:/churn/1", "models:/churn/2"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "policy: ab\n"
        "routes:\n"
        "  - name: current\n"
        "    model: 'models:/churn/1'\n"
        "    weight: -1\n"
        "  - {name: candidate, model: 'models:/churn/2'}\n"
        "bathcing: {}\n"
    )
    with pytest.raises(InvalidInput) as caught:
        load_spec(bad)
    text = caught.value.message
    assert f"{bad}, line 5, routes[0].weight: Input should be greater than or equal to 0" in text
    assert f"{bad}, line 7, bathcing: Extra inputs are not permitted" in text
    (tmp_path / "broken.yaml").write_text("routes: [unclosed\n")
    with pytest.raises(InvalidInput, match=r"broken.yaml, line \d+: not valid YAML"):
        load_spec(tmp_path / "broken.yaml")
    (tmp_path / "policy.yaml").write_text(
        "policy: shadow\nroutes: [{name: a, model: 'models:/churn/1'}]\n"
    )
    with pytest.raises(InvalidInput, match="policy 'shadow' takes one serving route"):
        load_spec(tmp_path / "policy.yaml")
