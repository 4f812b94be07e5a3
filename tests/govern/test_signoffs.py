"""Process governance: policies, the four-eyes rule, and the gate on alias moves and
deployments (prevent, warn, off), over SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

import steward
from steward import govern
from steward._backend import SqlBackend
from steward.errors import Conflict, InvalidInput, NotFound, PermissionDenied, PolicyViolation

from .conftest import frame, tamper, train

GATED = {"risk": "high", "checks": ["accuracy", "data_quality"]}


@pytest.fixture
def churn(store_backend: SqlBackend) -> SqlBackend:
    """Two versions of 'churn' trained by 'tester' in project 'default'."""
    data = steward.register_dataset(frame(), "churn-data", terms_of_use="internal")
    train(data, "v1")
    train(data, "v2")
    return store_backend


def as_user(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv("STEWARD_USER", name)


def test_no_policy_no_gate(churn: SqlBackend) -> None:
    steward.set_alias("churn", "champion", 1)  # local work needs no setup: nothing to meet
    steward.create_deployment("churn", "models:/churn/1")
    assert govern.get_policy("default").risk == "low"


def test_a_high_risk_policy_blocks_promotion_until_validated_and_approved(
    churn: SqlBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    govern.set_policy("default", GATED)
    with pytest.raises(PolicyViolation) as blocked:
        steward.set_alias("churn", "champion", 1)
    message = blocked.value.message
    assert "no validation gate run" in message and "steward validate models:/churn/1" in message
    assert "1 more approval(s) by a reviewer" in message
    assert steward.get_registered_model("churn").aliases == {}  # nothing moved
    report = govern.validate("models:/churn/1", checks=["accuracy", "data_quality"])
    assert report.passed and report.validation_id is not None
    with pytest.raises(PermissionDenied, match="four-eyes"):
        govern.sign_off("churn", 1, "approve", "my own work")
    govern.request_review("churn", 1, "please look at calibration")
    as_user(monkeypatch, "rita")
    govern.sign_off("churn", 1, "approve", "calibration fine")
    with pytest.raises(Conflict, match="decides once per version"):
        govern.sign_off("churn", 1, "approve", "again")
    as_user(monkeypatch, "tester")
    steward.set_alias("churn", "champion", 1)
    assert steward.get_registered_model("churn").aliases == {"champion": 1}
    status = govern.signoff_status("churn", 1)
    assert status.approvals == {"reviewer": 1} and status.trained_by == ["tester"]
    assert [r.note for r in status.requests] == ["please look at calibration"]


def test_a_rejection_blocks_and_says_why(
    churn: SqlBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    govern.set_policy("default", GATED)
    govern.validate("models:/churn/2", checks=["accuracy", "data_quality"])
    as_user(monkeypatch, "sam")
    with pytest.raises(InvalidInput, match="needs a comment"):
        govern.sign_off("churn", 2, "reject")
    govern.sign_off("churn", 2, "reject", "calibration is off above 0.8")
    as_user(monkeypatch, "rita")
    govern.sign_off("churn", 2, "approve", "fine by me")
    with pytest.raises(PolicyViolation, match="rejected by sam \\(reviewer\\): calibration is off"):
        steward.set_alias("churn", "champion", 2)
    with pytest.raises(NotFound):
        govern.sign_off("churn", 9, "approve")


def test_approvals_count_only_for_the_files_approved(
    churn: SqlBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    govern.set_policy("default", GATED)
    govern.validate("models:/churn/1", checks=["accuracy", "data_quality"])
    as_user(monkeypatch, "rita")
    govern.sign_off("churn", 1, "approve", "ok")
    tamper(churn, "UPDATE model_versions SET manifest_sha256 = :s WHERE version = 1", s="f" * 64)
    status = govern.signoff_status("churn", 1)
    assert [s.valid for s in status.signoffs] == [False] and status.approvals == {}
    with pytest.raises(PolicyViolation, match="no validation gate run") as blocked:
        steward.set_alias("churn", "champion", 1)
    assert "1 more approval(s)" in blocked.value.message


def test_a_warning_environment_moves_and_records_what_was_missing(churn: SqlBackend) -> None:
    govern.set_policy("default", {"risk": "low"})  # automated checks required; warn only
    with pytest.warns(govern.PolicyWarning, match="no validation gate run"):
        steward.set_alias("churn", "champion", 1)
    assert steward.get_registered_model("churn").aliases == {"champion": 1}
    warned = govern.audit_events(action="policy.warning")
    assert [e.entity_id for e in warned] == ["churn/1"]
    assert "no validation gate run" in warned[0].payload["missing"][0]
    steward.set_alias("churn", "staging", 2)  # not an environment: no gate at all


def test_the_deployment_gate_refuses_unapproved_primaries_but_not_shadows(
    churn: SqlBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    govern.set_policy("default", GATED)
    with pytest.raises(PolicyViolation, match="Serving deployment 'churn' \\(route 'primary'\\)"):
        steward.create_deployment("churn", "models:/churn/1")
    with pytest.raises(NotFound):
        steward.get_deployment("churn")
    govern.validate("models:/churn/1", checks=["accuracy", "data_quality"])
    as_user(monkeypatch, "rita")
    govern.sign_off("churn", 1, "approve", "ok")
    as_user(monkeypatch, "tester")
    steward.create_deployment(
        "churn", steward.traffic_spec("models:/churn/1", shadow=["models:/churn/2"])
    )
    with pytest.raises(PolicyViolation, match="churn version 2"):
        steward.set_deployment_model("churn", "models:/churn/2", reason="retrained")
    assert steward.get_deployment("churn").revision == 1


def test_policies_are_checked_and_say_the_key(churn: SqlBackend, tmp_path: object) -> None:
    with pytest.raises(InvalidInput, match="signoffs"):
        govern.set_policy("default", {"risk": "high", "signoffs": [{"role": "boss"}]})
    with pytest.raises(InvalidInput, match="checks"):
        govern.set_policy("default", {"checks": ["accuracy", "accuracy"]})
