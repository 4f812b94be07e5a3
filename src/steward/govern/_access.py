"""Who may do what: roles, the actions they allow, and the action each operation needs.

Five roles, granted per project (or on every project, ``*``):

========== ==========================================================================
admin      everything, including users, roles and policies
data_scientist  read; track runs and datasets; register models; ask for reviews; run monitoring
reviewer   read; approve or reject model versions (never their own); record validations
deployer   read; move aliases; create and change deployments and their tokens; monitoring;
           record validations (CI's service account is usually a deployer)
auditor    read everything, export the audit trail; change nothing
========== ==========================================================================

Every operation declares the action it needs in :data:`OPERATION_ACTIONS`; an operation
missing from the table needs ``admin`` (a new operation is closed until classified, and a
test checks that every operation is). A data scientist cannot record a validation: the
gate that lets a version into production is recorded by someone who did not build it
(``steward validate --no-store`` shows the author the verdict without recording it).
"""

from __future__ import annotations

from typing import Literal

Role = Literal["admin", "data_scientist", "reviewer", "deployer", "auditor"]
ROLES: tuple[Role, ...] = ("admin", "data_scientist", "reviewer", "deployer", "auditor")

ROLE_ACTIONS: dict[str, frozenset[str]] = {
    "admin": frozenset(
        {
            "read",
            "track",
            "register",
            "promote",
            "deploy",
            "review",
            "validate",
            "request_review",
            "monitor",
            "govern",
            "audit",
            "admin",
        }
    ),
    "data_scientist": frozenset({"read", "track", "register", "request_review", "monitor"}),
    "reviewer": frozenset({"read", "review", "validate"}),
    "deployer": frozenset({"read", "promote", "deploy", "monitor", "validate"}),
    "auditor": frozenset({"read", "audit"}),
}

# The action each write operation needs; reads (GET) need "read" unless listed here.
OPERATION_ACTIONS: dict[str, str] = {
    # blobs (the artifact store over HTTP)
    "put_blob": "track",
    # develop (searches are POSTs for their long filters, and read)
    "search_runs": "read",
    "search_runs_table": "read",
    "count_runs": "read",
    "list_run_keys": "read",
    "create_project": "track",
    "set_objective": "track",
    "create_experiment": "track",
    "create_run": "track",
    "update_run": "track",
    "log_batch": "track",
    "add_artifact": "track",
    "log_input": "track",
    "create_dataset_version": "track",
    "amend_dataset_version": "track",
    # registry
    "create_registered_model": "register",
    "update_registered_model": "register",
    "create_model_version": "register",
    "delete_model_version": "register",
    "set_model_tag": "register",
    "add_model_version_file": "register",
    "set_alias": "promote",
    "delete_alias": "promote",
    # deploy
    "create_deployment": "deploy",
    "update_deployment": "deploy",
    "create_serving_token": "deploy",
    "revoke_serving_token": "deploy",
    "get_serving_access": "deploy",  # holds token hashes and the id key: servers only
    "record_bandit_rewards": "deploy",
    # monitor
    "set_monitor_config": "govern",
    "record_monitor_run": "monitor",
    "acknowledge_alert": "monitor",
    "set_alert_notified": "monitor",
    # govern
    "set_policy": "govern",
    "request_review": "request_review",
    "sign_off": "review",
    "record_validation": "validate",
    "create_user": "admin",
    "grant_role": "admin",
    "revoke_role": "admin",
    "create_user_token": "admin",
    "revoke_user_token": "admin",
    "set_user_disabled": "admin",
    "list_users": "admin",
    "record_pii_scan": "track",
    "export_audit": "audit",
    "verify_audit": "audit",
    # iterate
    "set_ab_plan": "monitor",
    "set_retraining_config": "register",
    "start_retraining": "register",
    "record_retraining_step": "register",
}


def action_of(operation: str, method: str) -> str:
    """Return the action an operation needs: its entry, else 'read' for GET, else 'admin'."""
    if operation in OPERATION_ACTIONS:
        return OPERATION_ACTIONS[operation]
    return "read" if method == "GET" else "admin"


def allows(roles: dict[str, set[str]], action: str, project: str | None = None) -> bool:
    """Return True when roles (project -> role names; '*' for all projects) allow ``action``.

    With a ``project``, a grant on that project or on ``*`` counts; without one (an
    operation on something no project owns, such as a registered model), any grant does.
    """
    for scope, names in roles.items():
        if project is not None and scope not in ("*", project):
            continue
        if any(action in ROLE_ACTIONS.get(name, frozenset()) for name in names):
            return True
    return False
