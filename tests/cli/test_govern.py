"""`steward validate`, `steward policy` and `steward models review|signoff|signoffs`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import steward
from tests.serve.conftest import churn_frame, churn_model

from .conftest import Invoke


@pytest.fixture
def version() -> None:
    X, y = churn_frame(200)
    data = steward.register_dataset(X.assign(churned=y), "churn-data", terms_of_use="internal")
    with steward.start_run(capture_environment_info=False):
        steward.log_input(data, context="evaluation")
        steward.log_model(churn_model(X, y, 1.0), input_example=X, registered_model_name="churn")


def test_validate_exits_by_the_verdict_and_writes_a_report(
    cli: Invoke, version: None, tmp_path: Path
) -> None:
    unset = " ".join(cli("policy", "show", "default").output.split())
    assert "No policy is stored for 'default'" in unset and "nothing is gated" in unset
    policy = tmp_path / "policy.yaml"
    policy.write_text("risk: high\nchecks: [accuracy, integration]\naccuracy:\n  min: 0.5\n")
    assert cli("policy", "set", "default", str(policy)).exit_code == 0
    shown = cli("policy", "show", "default")
    assert "accuracy, integration" in shown.output and "prevent" in shown.output
    assert "No policy is stored" not in shown.output
    passed = cli(
        "validate",
        "models:/churn/1",
        "--check",
        "accuracy",
        "--check",
        "integration",
        "--report",
        str(tmp_path / "gate.html"),
    )
    assert passed.exit_code == 0, passed.output
    assert "PASSED" in passed.output and "Recorded as validation 1" in passed.output
    assert "accuracy" in (tmp_path / "gate.html").read_text()
    # The gate served the version in-process: its requests are in no deployment's log.
    assert not (tmp_path / "steward-home" / "deployments").exists()
    policy.write_text("risk: high\nchecks: [accuracy]\naccuracy:\n  min: 0.999\n")
    cli("policy", "set", "default", str(policy))
    failed = cli("validate", "models:/churn/1", "--check", "accuracy", "--json", "--no-store")
    assert failed.exit_code == 1
    result = json.loads(failed.output)
    assert result["passed"] is False and result["validation_id"] is None
    assert result["checks"][0]["status"] == "failed" and "0.999" in result["checks"][0]["summary"]
    unknown = cli("validate", "models:/churn/1", "--check", "speed")
    assert unknown.exit_code != 0 and "the steps are documentation" in unknown.output
    typo = cli("validate", "models:/churn/1", "--data", "holdot.csv", "--check", "accuracy")
    assert typo.exit_code not in (0, 1) and "'holdot.csv': there is no such file" in typo.output
    named = cli("validate", "models:/churn/1", "--target", "churn", "--check", "accuracy")
    assert named.exit_code not in (0, 1) and "no column 'churn'" in named.output
    stored = steward.context.get_backend().list_validations("churn", 1)
    assert [v.id for v in stored] == [1]  # the caller's mistakes recorded nothing


def test_a_malformed_policy_names_the_line_and_the_key(cli: Invoke, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("risk: high\nsignoffs:\n  - role: boss\n    count: 1\n")
    refused = cli("policy", "set", "churn", str(policy))
    assert refused.exit_code == 2
    assert "line 3, signoffs[0].role" in refused.output and "reviewer" in refused.output


def test_review_signoff_and_status(cli: Invoke, version: None) -> None:
    asked = cli("models", "review", "churn", "1", "--note", "new features")
    assert asked.exit_code == 0 and "Review 1 requested" in asked.output
    own = cli("models", "signoff", "churn", "1", "--approve")
    assert own.exit_code != 0 and "four-eyes" in own.output
    given = cli(
        "models",
        "signoff",
        "churn",
        "1",
        "--approve",
        "--comment",
        "ok",
        env={"STEWARD_USER": "rita"},
    )
    assert given.exit_code == 0 and "rita approved churn v1 as reviewer: ok" in given.output
    neither = cli("models", "signoff", "churn", "1", env={"STEWARD_USER": "sam"})
    assert neither.exit_code != 0 and "--approve or --reject" in neither.output
    status = cli("models", "signoffs", "churn", "1")
    assert (
        "1 reviewer" in status.output
        and "rita" in status.output
        and "tester (cannot approve)" in status.output
    )
