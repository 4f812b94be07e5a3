"""`steward deploy` and `steward serve` argument handling, on a real local store."""

from __future__ import annotations

import json

import pytest

import steward
from tests.serve.conftest import churn_frame, churn_model

from .conftest import Invoke


@pytest.fixture
def two_versions() -> None:
    X, y = churn_frame(120)
    for c in (1.0, 0.01):
        with steward.start_run(capture_environment_info=False):
            steward.log_model(churn_model(X, y, c), input_example=X, registered_model_name="churn")


def test_create_show_list_switch_and_history(cli: Invoke, two_versions: None) -> None:
    created = cli(
        "deploy",
        "create",
        "churn",
        "models:/churn/1",
        "--shadow",
        "models:/churn/2",
        "--reason",
        "CHG-1",
    )
    assert created.exit_code == 0, created.output
    assert "Deployment churn  revision 1, policy shadow" in created.output
    assert "models:/churn/2" in created.output and "shadow" in created.output
    listed = cli("deploy", "list")
    assert "churn" in listed.output and "shadow" in listed.output
    switched = cli("deploy", "set-model", "churn", "models:/churn/2", "--reason", "promote v2")
    assert switched.exit_code == 0 and "revision 1 -> 2" in switched.output
    ab = cli(
        "deploy",
        "traffic",
        "churn",
        "--ab",
        "models:/churn/2=0.8",
        "--ab",
        "models:/churn/1=0.2",
        "--sticky-column",
        "plan",
    )
    assert ab.exit_code == 0, ab.output
    assert "80%" in ab.output and "20%" in ab.output and "sticky column" in ab.output
    single = cli("deploy", "traffic", "churn", "--single")
    assert single.exit_code == 0 and "policy single" in single.output
    history = cli("deploy", "history", "churn", "--json")
    revisions = json.loads(history.output)
    assert [r["revision"] for r in revisions] == [1, 2, 3, 4]
    assert [r["reason"] for r in revisions][:2] == ["CHG-1", "promote v2"]
    shown = json.loads(cli("deploy", "show", "churn", "--json").output)
    assert (
        shown["spec"]["policy"] == "single"
        and shown["spec"]["routes"][0]["resolved"] == "models:/churn/2"
    )


def test_tokens_from_the_cli(cli: Invoke, two_versions: None) -> None:
    cli("deploy", "create", "churn", "models:/churn/1")
    made = cli("deploy", "token", "create", "churn", "--label", "checkout")
    assert made.exit_code == 0
    secret = made.stdout.strip()
    assert secret.startswith("stw_") and "not shown again" in made.output
    listed = cli("deploy", "token", "list", "churn")
    assert secret[:10] in listed.output and secret not in listed.output
    revoked = cli("deploy", "token", "revoke", "churn", "1")
    assert revoked.exit_code == 0 and "Revoked token 1" in revoked.output


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["deploy", "show", "chrun"], 3, "Did you mean 'churn'?"),
        (["deploy", "create", "x"], 2, "Give the MODEL to serve or --spec FILE"),
        (
            ["deploy", "create", "x", "models:/churn/1", "--ab", "models:/churn/2=abc"],
            2,
            "--ab takes URI=WEIGHT",
        ),
        (["deploy", "traffic", "churn"], 2, "Say the policy"),
        (
            ["deploy", "set-model", "churn", "models:/churn/9"],
            3,
            "Version 9 of model 'churn' does not exist",
        ),
        (["deploy", "create", "y", "--spec", "missing.yaml"], 3, "No config file 'missing.yaml'"),
        (["serve"], 2, "Give a model to serve"),
        (["serve", "no/such/folder"], 3, "neither a model URI"),
        (["serve", "models:/churn/1", "--max-memory", "lots"], 2, "is not a size"),
        (["serve", "models:/churn/1", "--max-memory", "1M"], 2, "below 64 MiB"),
    ],
)
def test_mistakes_get_clear_errors_and_exit_codes(
    cli: Invoke, two_versions: None, args: list[str], code: int, message: str
) -> None:
    cli("deploy", "create", "churn", "models:/churn/1")
    result = cli(*args)
    assert result.exit_code == code, result.output
    assert message in result.output
