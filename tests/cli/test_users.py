"""`steward users`: the first admin against the store, roles per project, tokens."""

from __future__ import annotations

import json

from steward._backend import SqlBackend
from steward.config import load_settings

from .conftest import Invoke


def test_add_grant_tokens_and_disable(cli: Invoke) -> None:
    added = cli("users", "add", "alice", "--role", "admin")
    assert added.exit_code == 0, added.output
    first = added.output.splitlines()[0]
    assert first.startswith("stu_") and "shown once" in added.output
    bob = cli("users", "add", "bob", "--role", "data_scientist@churn", "--role", "reviewer@fraud")
    assert bob.exit_code == 0 and "data_scientist@churn" in bob.output
    assert cli("users", "grant", "bob", "auditor").exit_code == 0
    listed = json.loads(cli("users", "list", "--json").output)
    roles = {u["name"]: u["roles"] for u in listed}
    assert roles["bob"] == {"churn": ["data_scientist"], "fraud": ["reviewer"], "*": ["auditor"]}
    made = cli("users", "token", "create", "bob", "--label", "ci", "--expires-days", "30")
    assert made.exit_code == 0 and made.output.startswith("stu_")
    settings = load_settings()
    backend = SqlBackend.open(settings.store_uri, settings.artifact_uri)
    principal, _ = backend.authenticate_token(made.output.splitlines()[0].strip())
    assert principal is not None and principal.name == "bob"
    token_id = made.output.split("Token ")[1].split()[0]
    assert token_id == "3"  # alice's first, bob's first, then this one
    assert cli("users", "token", "revoke", "bob", token_id).exit_code == 0
    assert backend.authenticate_token(made.output.splitlines()[0].strip())[0] is None
    assert cli("users", "disable", "bob").exit_code == 0
    assert backend.authenticate_token(first)[0] is not None  # alice is unaffected
    bad = cli("users", "add", "carol", "--role", "boss")
    assert bad.exit_code != 0 and "admin, data_scientist, reviewer, deployer, auditor" in bad.output
    twice = cli("users", "add", "alice")
    assert twice.exit_code != 0 and "exists already" in twice.output
    backend.close()
