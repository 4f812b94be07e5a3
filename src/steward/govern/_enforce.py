"""The deployment gate: what a project's policy still asks of a version before production.

Two seams call it: the registry's promotion hook (an alias such as ``champion`` about to
point at a version) and the deploy stage's deployment hook (a deployment about to serve
it). Both run inside the transaction making the change, and read what they need through
it. Per environment the policy says whether a missing requirement prevents the change
(``PolicyViolation``, naming each missing check and sign-off), warns (the change is made
and a ``policy.warning`` event records what was missing), or is off.

A project without a stored policy has no gate: local, single-user work needs no setup.
Once a project sets one (``steward policy set``), even the low-risk tier asks for its
automated checks (and warns); the high-risk tier asks for all eight and a reviewer's
approval, and prevents.

A shadow route answers no one, so it may serve an unapproved version: that is how a
challenger is tried on live traffic before anyone signs it off.
"""

from __future__ import annotations

import warnings
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from steward.errors import PolicyViolation
from steward.govern._policy import Environment, Policy
from steward.registry import PromotionRequest, add_promotion_hook
from steward.serve import DeploymentRequest, add_deployment_hook
from steward.store import Transaction, tables

mv, rm = tables.model_versions, tables.registered_models
so, va, pol = tables.signoffs, tables.validations, tables.policies


class PolicyWarning(UserWarning):
    """A change the policy would refuse in an environment that only warns."""


def project_of_version(conn: Connection, model: str, version: int) -> str:
    """Return the project of the run that trained a version ('default' without one)."""
    found = conn.execute(
        select(tables.projects.c.name)
        .select_from(mv)
        .join(rm, rm.c.id == mv.c.model_id)
        .join(tables.runs, tables.runs.c.id == mv.c.run_id)
        .join(tables.experiments, tables.experiments.c.id == tables.runs.c.experiment_id)
        .join(tables.projects, tables.projects.c.id == tables.experiments.c.project_id)
        .where(rm.c.name == model, mv.c.version == version)
    ).scalar()
    return str(found) if found else "default"


def policy_of(conn: Connection, project: str) -> Policy | None:
    """Return a project's stored policy, or None when it set none (no gate)."""
    found = conn.execute(select(pol.c.policy).where(pol.c.project == project)).scalar()
    return Policy.model_validate(found) if found else None


def missing_requirements(conn: Connection, policy: Policy, model: str, version: int) -> list[str]:
    """Return, in words, each requirement of ``policy`` the version does not meet yet."""
    row = conn.execute(
        select(mv.c.manifest_sha256)
        .join(rm, rm.c.id == mv.c.model_id)
        .where(rm.c.name == model, mv.c.version == version)
    ).first()
    if row is None:
        return [f"{model} has no version {version}"]
    missing = _validation_gaps(conn, policy, model, version, row.manifest_sha256)
    missing += _signoff_gaps(conn, policy, model, version, row.manifest_sha256)
    return missing


def gate_status(conn: Connection, model: str, version: int) -> tuple[str, Policy | None, list[str]]:
    """Return a version's project, its stored policy (None: no gate) and what it still needs."""
    project = project_of_version(conn, model, version)
    policy = policy_of(conn, project)
    return (
        project,
        policy,
        ([] if policy is None else missing_requirements(conn, policy, model, version)),
    )


def _validation_gaps(
    conn: Connection, policy: Policy, model: str, version: int, manifest: str
) -> list[str]:
    required = list(policy.checks or [])
    if not required:
        return []
    latest = conn.execute(
        select(va)
        .where(va.c.model == model, va.c.version == version, va.c.manifest_sha256 == manifest)
        .order_by(va.c.id.desc())
        .limit(1)
    ).first()
    if latest is None:
        return [
            f"no validation gate run (required checks: {', '.join(required)}); run "
            f"`steward validate models:/{model}/{version}`"
        ]
    checks: dict[str, str] = dict(latest.checks)
    summary: dict[str, Any] = dict(latest.summary)
    gaps = []
    for check in required:
        status = checks.get(check)
        if status is None:
            gaps.append(f"check '{check}' was not run by validation {latest.id}")
        elif status == "failed":
            gaps.append(
                f"check '{check}' failed in validation {latest.id}: {summary.get(check, '').rstrip('.')}"
            )
    return gaps


def _signoff_gaps(
    conn: Connection, policy: Policy, model: str, version: int, manifest: str
) -> list[str]:
    rows = conn.execute(
        select(so).where(
            so.c.model == model, so.c.version == version, so.c.manifest_sha256 == manifest
        )
    ).all()
    gaps = [
        f"rejected by {r.reviewer} ({r.role}): {r.comment or 'no comment'}"
        for r in rows
        if r.decision == "reject"
    ]
    for rule in policy.signoffs or []:
        given = sum(1 for r in rows if r.decision == "approve" and r.role == rule.role)
        if given < rule.count:
            gaps.append(
                f"{rule.count - given} more approval(s) by a {rule.role} "
                f"(`steward models signoff {model} {version} --approve`)"
            )
    return gaps


def _judge(
    tx: Transaction,
    environment: tuple[str, Environment] | None,
    project: str,
    policy: Policy,
    model: str,
    version: int,
    change: str,
) -> None:
    if environment is None or environment[1].enforcement == "off":
        return
    missing = missing_requirements(tx.conn, policy, model, version)
    if not missing:
        return
    name, env = environment
    message = (
        f"{change}: {model} version {version} does not meet the {policy.risk}-risk policy of "
        f"project {project!r} for {name}: " + "; ".join(missing) + "."
    )
    if env.enforcement == "prevent":
        raise PolicyViolation(message, missing=missing, environment=name, project=project)
    tx.emit(
        "policy.warning",
        "model_version",
        f"{model}/{version}",
        change=change,
        environment=name,
        missing=missing,
    )
    warnings.warn(message, PolicyWarning, stacklevel=2)


def check_promotion(tx: Transaction, request: PromotionRequest) -> None:
    """Promotion hook: an alias of a production environment needs the policy met."""
    if request.to_version is None:  # removing an alias serves nothing new
        return
    project = project_of_version(tx.conn, request.model, request.to_version)
    policy = policy_of(tx.conn, project)
    if policy is None:
        return
    _judge(
        tx,
        policy.environment_of_alias(request.alias),
        project,
        policy,
        request.model,
        request.to_version,
        f"Moving alias '{request.alias}' of {request.model} to version {request.to_version}",
    )


def check_deployment(tx: Transaction, request: DeploymentRequest) -> None:
    """Deployment hook: every version that answers traffic needs the policy met."""
    for served in request.versions:
        if served.shadow or served.weight <= 0:
            continue
        project = project_of_version(tx.conn, served.model, served.version)
        policy = policy_of(tx.conn, project)
        if policy is None:
            continue
        _judge(
            tx,
            policy.environment_of_deployment(request.deployment),
            project,
            policy,
            served.model,
            served.version,
            f"Serving deployment {request.deployment!r} (route {served.route!r})",
        )


def install() -> None:
    """Put the gate in the registry's and the deploy stage's way."""
    add_promotion_hook(check_promotion)
    add_deployment_hook(check_deployment)
