"""Access control on the team server: every role against every route, brute force, expiry,
project scope, and secrets kept out of logs and the audit trail."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

import steward
from steward._backend import OPERATIONS, SqlBackend, set_backend
from steward.client import connect
from steward.errors import PermissionDenied
from steward.govern import ROLES, action_of, allows
from steward.server import create_app
from steward.server._auth import MAX_FAILURES
from steward.store import tables

PASSWORD = "correct horse battery staple"
API = "/api/v1"


@dataclass
class Team:
    client: TestClient
    backend: SqlBackend
    tokens: dict[str, str]  # user -> secret

    def headers(self, user: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}


@pytest.fixture
def team(sqlite_backend: SqlBackend) -> Iterator[Team]:
    """A server with one user per role (on every project), and two scoped to a project."""
    set_backend(sqlite_backend)
    tokens = {}
    grants = {role: {"*": [role]} for role in ROLES}
    grants["alpha-scientist"] = {"alpha": ["data_scientist"]}
    grants["beta-reviewer"] = {"beta": ["reviewer"]}
    for user, roles in grants.items():
        sqlite_backend.create_user(user, roles, password=PASSWORD if user == "admin" else None)
        tokens[user] = sqlite_backend.create_user_token(user).secret
    with TestClient(create_app(sqlite_backend), raise_server_exceptions=False) as client:
        yield Team(client, sqlite_backend, tokens)
    set_backend(None)


def _url(op: object) -> str:
    path: str = API + op.path  # type: ignore[attr-defined]
    for name in re.findall(r"{(\w+)}", path):
        hint = op.hints.get(name)  # type: ignore[attr-defined]
        path = path.replace("{" + name + "}", "1" if hint is int else "nothing-here")
    return path


def test_every_role_against_every_route(team: Team) -> None:
    """Each operation answers 403 exactly to the roles without its right, and never 5xx."""
    checked = 0
    for op in OPERATIONS:
        action = action_of(op.name, op.method)
        for role in ROLES:
            response = team.client.request(
                op.method,
                _url(op),
                headers=team.headers(role),
                json=None if op.method == "GET" else {},
            )
            allowed = allows({"*": {role}}, action)
            assert response.status_code < 500, (op.name, role, response.text)
            if allowed:
                assert response.status_code not in (401, 403), (op.name, role, response.text)
            else:
                assert response.status_code == 403, (op.name, role, response.status_code)
                assert action in response.json()["error"]["message"]
            checked += 1
    assert checked == len(OPERATIONS) * len(ROLES) >= 400


def test_an_auditor_reads_everything_and_changes_nothing(team: Team) -> None:
    auditor = team.headers("auditor")
    assert team.client.get(API + "/projects", headers=auditor).status_code == 200
    assert team.client.get(API + "/audit/verify", headers=auditor).json()["ok"] is True
    refused = team.client.post(API + "/projects", headers=auditor, json={"name": "mine"})
    assert refused.status_code == 403 and "'track' right" in refused.json()["error"]["message"]
    sha = hashlib.sha256(b"x").hexdigest()
    upload = team.client.put(f"{API}/blobs/{sha}", headers=auditor, content=b"x")
    assert upload.status_code == 403
    assert team.client.head(f"{API}/blobs/{sha}", headers=auditor).status_code == 404  # not stored


def test_no_token_a_bad_token_and_brute_force(team: Team) -> None:
    missing = team.client.get(API + "/projects")
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in missing.json()["error"]["message"]
    for i in range(MAX_FAILURES):
        bad = team.client.get(API + "/projects", headers={"Authorization": f"Bearer stu_guess{i}"})
        assert bad.status_code == 401
    blocked = team.client.get(API + "/projects", headers=team.headers("admin"))
    assert blocked.status_code == 429  # even a right token, from the guessing address
    assert "Too many failed attempts" in blocked.json()["error"]["message"]


def test_an_expired_or_revoked_token_is_refused(team: Team) -> None:
    short = team.backend.create_user_token("auditor", "short", expires_days=1 / 86400)
    time.sleep(1.2)
    expired = team.client.get(
        API + "/projects", headers={"Authorization": f"Bearer {short.secret}"}
    )
    assert expired.status_code == 401 and "expired" in expired.json()["error"]["message"]
    team.backend.revoke_user_token("auditor", short.token.id)
    again = team.client.get(API + "/projects", headers={"Authorization": f"Bearer {short.secret}"})
    assert again.status_code == 401 and "revoked" in again.json()["error"]["message"]
    team.backend.set_user_disabled("reviewer", True)
    disabled = team.client.get(API + "/projects", headers=team.headers("reviewer"))
    assert disabled.status_code == 401 and "disabled" in disabled.json()["error"]["message"]


def test_a_token_for_another_project_is_refused_there(team: Team) -> None:
    team.backend.create_project("alpha")
    team.backend.create_project("beta")
    scoped = connect("http://testserver", client=team.client, token=team.tokens["alpha-scientist"])
    set_backend(scoped)
    with steward.start_run(project="alpha", capture_environment_info=False):
        steward.log_metric("auc", 0.9)  # their project
    with pytest.raises(PermissionDenied, match="on project 'beta'"):
        steward.start_run(project="beta", capture_environment_info=False)
    reviewer = connect("http://testserver", client=team.client, token=team.tokens["beta-reviewer"])
    set_backend(reviewer)
    with pytest.raises(PermissionDenied, match="'track' right"):
        steward.create_project("gamma")


def test_secrets_never_reach_logs_or_the_audit_trail(
    team: Team, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    extra = team.backend.create_user("dana", {"*": ["auditor"]}, password="another long passphrase")
    token = team.backend.create_user_token(extra.name).secret
    team.client.get(API + "/projects", headers={"Authorization": f"Bearer {token}"})
    team.client.post(
        "/ui/login",
        data={"name": "admin", "password": PASSWORD, "next": "/ui/"},
        follow_redirects=False,
    )
    team.client.post("/ui/login", data={"name": "admin", "password": "wrong " + PASSWORD})
    with team.backend.store.read() as conn:
        events = json.dumps(
            [dict(r._mapping) for r in conn.execute(sa.select(tables.events))], default=str
        )
        hashes = [r.password_hash for r in conn.execute(sa.select(tables.users))]
    secrets = [*team.tokens.values(), token, PASSWORD, "another long passphrase"]
    for secret in secrets:
        assert secret not in events and secret not in caplog.text
    assert all(h is None or h.startswith("scrypt$") for h in hashes)
    assert "user.login" in events and "user.login_refused" in events


def test_every_change_names_the_right_it_needs() -> None:
    """A new write operation must be classified; unclassified it would need admin."""
    from steward.govern._access import OPERATION_ACTIONS

    unclassified = [
        op.name for op in OPERATIONS if op.method != "GET" and op.name not in OPERATION_ACTIONS
    ]
    assert unclassified == []
    stale = set(OPERATION_ACTIONS) - {op.name for op in OPERATIONS} - {"put_blob"}
    assert stale == set()


def test_retraining_runs_are_written_only_in_the_callers_project(team: Team) -> None:
    from steward.iterate._records import RetrainingStart, RetrainingStep, RetrainingUpdate

    beta_run = team.backend.start_retraining(RetrainingStart(project="beta", model="m", data="d"))
    scoped = connect("http://testserver", client=team.client, token=team.tokens["alpha-scientist"])
    mine = scoped.start_retraining(RetrainingStart(project="alpha", model="m", data="d"))
    assert mine.project == "alpha"
    with pytest.raises(PermissionDenied, match="on project 'beta'"):
        scoped.start_retraining(RetrainingStart(project="beta", model="m", data="d"))
    step = RetrainingStep(step="decide", status="promoted", summary="not mine to say")
    with pytest.raises(PermissionDenied, match="on project 'beta'"):
        scoped.record_retraining_step(beta_run.id, RetrainingUpdate(step=step, status="promoted"))
    assert team.backend.get_retraining(beta_run.id).status == "running"
