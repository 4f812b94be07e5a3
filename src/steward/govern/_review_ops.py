"""Policies per project, review requests and sign-offs, validation results: defined once.

The four-eyes rule: whoever trained a version (its run's user) or registered it cannot
approve it. A reviewer decides once per version. A rejection stands until a new version.
A sign-off is tied to the version's manifest sha256, so it stops counting if the
version's files change.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from steward._operations import operation
from steward.context import current_roles
from steward.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from steward.govern._enforce import project_of_version
from steward.govern._policy import Policy
from steward.govern._records import (
    ReviewRequest,
    SignOff,
    SignOffStatus,
    Validation,
    ValidationSpec,
)
from steward.registry import resolve_version
from steward.service import Service
from steward.store import tables, upsert
from steward.validation import check_name

pol, rr, so, va = tables.policies, tables.review_requests, tables.signoffs, tables.validations
mv, runs = tables.model_versions, tables.runs
MAX_COMMENT = 4000


def _version(conn: Connection, model: str, version: int) -> Any:
    """Return the version's row (its id, manifest sha256, who registered it, its run)."""
    _, _, version_id = resolve_version(conn, f"models:/{model}/{version}")
    return conn.execute(select(mv).where(mv.c.id == version_id)).one()


def _trained_by(conn: Connection, row: Any) -> list[str]:
    people = [row.created_by]
    if row.run_id:
        user = conn.execute(select(runs.c.user).where(runs.c.id == row.run_id)).scalar()
        if user:
            people.append(str(user))
    return sorted(set(people))


class ReviewOps(Service):
    """Operations of process governance: policies, reviews, sign-offs, validations."""

    @operation("PUT", "/policies/{project}", tag="governance")
    def set_policy(self, project: str, policy: Policy) -> Policy:
        """Return the project's policy after storing it (an event records the change)."""
        check_name(project, "project")
        stored = policy.model_dump(mode="json")
        with self.store.write() as tx:
            values = {"policy": stored, "updated_at": tx.now, "updated_by": tx.actor}
            stmt = upsert(tx.conn, pol).values(project=project, **values)
            tx.conn.execute(stmt.on_conflict_do_update(index_elements=[pol.c.project], set_=values))
            tx.emit("policy.set", "project", project, policy=stored)
        return policy

    @operation("GET", "/policies/{project}", tag="governance")
    def get_policy(self, project: str) -> Policy:
        """Return the project's policy (the low-risk default when none was set)."""
        with self.store.read() as conn:
            row = conn.execute(select(pol.c.policy).where(pol.c.project == project)).first()
        return Policy.model_validate(row.policy) if row else Policy()

    @operation("POST", "/models/{model}/versions/{version}/reviews", tag="governance")
    def request_review(self, model: str, version: int, note: str = "") -> ReviewRequest:
        """Return a new request that reviewers look at a version."""
        with self.store.write() as tx:
            row = _version(tx.conn, model, version)
            result = tx.conn.execute(
                insert(rr).values(
                    model=model,
                    version=version,
                    requested_by=tx.actor,
                    requested_at=tx.now,
                    note=note[:MAX_COMMENT],
                    manifest_sha256=row.manifest_sha256,
                )
            )
            request_id = int(result.inserted_primary_key[0]) if result.inserted_primary_key else 0
            tx.emit(
                "review.requested", "model_version", f"{model}/{version}", note=note[:MAX_COMMENT]
            )
            found = tx.conn.execute(select(rr).where(rr.c.id == request_id)).one()
        return ReviewRequest.model_validate(found._asdict())

    @operation("POST", "/models/{model}/versions/{version}/signoffs", tag="governance")
    def sign_off(
        self,
        model: str,
        version: int,
        decision: Literal["approve", "reject"],
        comment: str = "",
        role: str = "reviewer",
    ) -> SignOff:
        """Return the sign-off after recording an approval or a rejection with a comment."""
        if decision not in ("approve", "reject"):
            raise InvalidInput(f"decision must be 'approve' or 'reject'; got {decision!r}.")
        if decision == "reject" and not comment.strip():
            raise InvalidInput("A rejection needs a comment saying what to change.")
        roles = current_roles.get()
        with self.store.write() as tx:
            row = _version(tx.conn, model, version)
            if roles is not None:  # on a team server: the role, in the version's project
                project = project_of_version(tx.conn, model, version)
                held = roles.get(project, set()) | roles.get("*", set())
                if role not in held:
                    raise PermissionDenied(
                        f"Signing off as {role!r} needs that role in project {project!r}; "
                        f"yours there are {sorted(held) or 'none'}."
                    )
            trained = _trained_by(tx.conn, row)
            if tx.actor in trained:
                raise PermissionDenied(
                    f"{tx.actor!r} trained or registered {model} version {version}, so cannot "
                    "sign it off (the four-eyes rule): another reviewer must."
                )
            earlier = tx.conn.execute(
                select(so).where(
                    so.c.model == model, so.c.version == version, so.c.reviewer == tx.actor
                )
            ).first()
            if earlier is not None:
                raise Conflict(
                    f"{tx.actor!r} already signed off {model} version {version} "
                    f"({earlier.decision}); a reviewer decides once per version.",
                    decision=earlier.decision,
                )
            result = tx.conn.execute(
                insert(so).values(
                    model=model,
                    version=version,
                    reviewer=tx.actor,
                    role=role,
                    decision=decision,
                    comment=comment[:MAX_COMMENT],
                    created_at=tx.now,
                    manifest_sha256=row.manifest_sha256,
                )
            )
            signoff_id = int(result.inserted_primary_key[0]) if result.inserted_primary_key else 0
            tx.emit(
                f"signoff.{decision}d",
                "model_version",
                f"{model}/{version}",
                role=role,
                comment=comment[:MAX_COMMENT],
            )
            found = tx.conn.execute(select(so).where(so.c.id == signoff_id)).one()
        return SignOff.model_validate({**found._asdict(), "valid": True})

    @operation("GET", "/models/{model}/versions/{version}/signoffs", tag="governance")
    def get_signoff_status(self, model: str, version: int) -> SignOffStatus:
        """Return a version's review requests, sign-offs and valid approvals per role."""
        with self.store.read() as conn:
            row = _version(conn, model, version)
            requests = [
                ReviewRequest.model_validate(r._asdict())
                for r in conn.execute(
                    select(rr).where(rr.c.model == model, rr.c.version == version).order_by(rr.c.id)
                )
            ]
            signoffs = [
                SignOff.model_validate(
                    {**r._asdict(), "valid": r.manifest_sha256 == row.manifest_sha256}
                )
                for r in conn.execute(
                    select(so).where(so.c.model == model, so.c.version == version).order_by(so.c.id)
                )
            ]
            trained = _trained_by(conn, row)
        approvals: dict[str, int] = {}
        for s in signoffs:
            if s.valid and s.decision == "approve":
                approvals[s.role] = approvals.get(s.role, 0) + 1
        return SignOffStatus(
            model=model,
            version=version,
            requests=requests,
            signoffs=signoffs,
            approvals=approvals,
            rejected=any(s.valid and s.decision == "reject" for s in signoffs),
            trained_by=trained,
        )

    @operation("POST", "/models/{model}/versions/{version}/validations", tag="governance")
    def record_validation(self, model: str, version: int, spec: ValidationSpec) -> Validation:
        """Return a finished validation gate run after storing it with the version."""
        with self.store.write() as tx:
            row = _version(tx.conn, model, version)
            if spec.manifest_sha256 != row.manifest_sha256:
                raise InvalidInput(
                    f"The validation was of other files (manifest {spec.manifest_sha256[:12]}) "
                    f"than {model} version {version} holds ({row.manifest_sha256[:12]})."
                )
            result = tx.conn.execute(
                insert(va).values(
                    model=model,
                    version=version,
                    passed=spec.passed,
                    checks=spec.checks,
                    summary=spec.summary,
                    report_sha256=spec.report_sha256,
                    result_sha256=spec.result_sha256,
                    manifest_sha256=spec.manifest_sha256,
                    created_at=tx.now,
                    created_by=tx.actor,
                )
            )
            validation_id = (
                int(result.inserted_primary_key[0]) if result.inserted_primary_key else 0
            )
            tx.emit(
                "validation.recorded",
                "model_version",
                f"{model}/{version}",
                passed=spec.passed,
                checks=spec.checks,
            )
            found = tx.conn.execute(select(va).where(va.c.id == validation_id)).one()
        return Validation.model_validate(found._asdict())

    @operation("GET", "/validations/{validation_id}", tag="governance")
    def get_validation(self, validation_id: int) -> Validation:
        """Return one validation gate run."""
        with self.store.read() as conn:
            found = conn.execute(select(va).where(va.c.id == validation_id)).first()
        if found is None:
            raise NotFound(f"There is no validation {validation_id}.")
        return Validation.model_validate(found._asdict())

    @operation("GET", "/models/{model}/versions/{version}/validations", tag="governance")
    def list_validations(self, model: str, version: int) -> list[Validation]:
        """Return a version's validation gate runs, newest first."""
        with self.store.read() as conn:
            _version(conn, model, version)
            rows = conn.execute(
                select(va)
                .where(va.c.model == model, va.c.version == version)
                .order_by(va.c.id.desc())
            ).all()
        return [Validation.model_validate(r._asdict()) for r in rows]
