"""Operations on deployments: create, change (a new revision each time), tokens, bandit arms.

Every change is a revision with who, when and why, an event on the store's event seam,
and lineage edges model version -> deployment. Model URIs are resolved to the versions
they name at that moment, so a running server changes model only with a new revision.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from steward._operations import operation
from steward.errors import AlreadyExists, Conflict, InvalidInput, NotFound, did_you_mean
from steward.registry import parse_model_uri, resolve_version
from steward.serve._hooks import DeploymentRequest, ServedVersion, check_deployment
from steward.serve._models import (
    Deployment,
    DeploymentRevision,
    DeploymentSpec,
    NewServingToken,
    ServingAccess,
    ServingToken,
)
from steward.service import Service, require_run
from steward.store import Transaction, tables, upsert
from steward.validation import check_name

dp, dr = tables.deployments, tables.deployment_revisions
st, ba = tables.serving_tokens, tables.bandit_arms
TOKEN_PREFIX = "stw_"


def hash_token(secret: str) -> str:
    """Return the sha256 under which a serving token is stored (the token never is)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _row(conn: Connection, name: str, *, lock: bool = False) -> Any:
    query = select(dp).where(dp.c.name == name)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        names = [n for (n,) in conn.execute(select(dp.c.name))]
        raise NotFound(
            f"Deployment {name!r} does not exist.{did_you_mean(name, names)} "
            f"Deployments: {', '.join(sorted(names)) or 'none'}. Create one with "
            "`steward deploy create NAME MODEL_URI` or `steward serve MODEL_URI`."
        )
    return row


def _resolve(tx: Transaction, spec: DeploymentSpec) -> tuple[DeploymentSpec, list[int]]:
    """Return the spec with every route's URI resolved to a version, and those versions' ids."""
    routes, ids = [], []
    for route in spec.routes:
        ref = parse_model_uri(route.model)
        if ref.kind == "registry":
            model, version, version_id = resolve_version(tx.conn, route.model)
            routes.append(route.model_copy(update={"resolved": f"models:/{model}/{version}"}))
            ids.append(version_id)
        elif ref.kind == "run":
            require_run(tx.conn, ref.run_id)
            routes.append(route.model_copy(update={"resolved": route.model}))
        else:
            raise InvalidInput(
                f"Route {route.name!r} names {route.model!r}, a local path. A stored deployment "
                "serves registered models (models:/name@alias or models:/name/3) or run "
                "models (runs:/<id>/model); serve a package folder with `steward serve PATH`."
            )
    return spec.model_copy(update={"routes": routes}), ids


def _request(
    tx: Transaction, name: str, revision: int, spec: DeploymentSpec, reason: str
) -> DeploymentRequest:
    """Return what a deployment hook is asked: the versions each route will serve."""
    versions, runs = [], []
    for route in spec.routes:
        ref = parse_model_uri(route.resolved or route.model)
        if ref.kind == "registry" and ref.version is not None:
            versions.append(
                ServedVersion(route.name, ref.name, ref.version, route.shadow, route.weight)
            )
        else:
            runs.append(route.resolved or route.model)
    return DeploymentRequest(name, revision, tx.actor, reason, versions, runs)


def _link(tx: Transaction, name: str, version_ids: list[int]) -> None:
    for version_id in version_ids:
        tx.conn.execute(
            upsert(tx.conn, tables.lineage_edges)
            .values(
                source_type="model_version",
                source_id=str(version_id),
                target_type="deployment",
                target_id=name,
                relation="served_by",
                created_at=tx.now,
                created_by=tx.actor,
            )
            .on_conflict_do_nothing()
        )


class DeployOps(Service):
    """Operations of the deploy stage."""

    @operation("POST", "/deployments", tag="deployments")
    def create_deployment(
        self, name: str, spec: DeploymentSpec, description: str = "", reason: str = ""
    ) -> Deployment:
        """Return a new deployment serving ``spec`` (revision 1); AlreadyExists if the name is taken."""
        check_name(name, "deployment")
        with self.store.write() as tx:
            resolved, version_ids = _resolve(tx, spec)
            check_deployment(tx, _request(tx, name, 1, resolved, reason))
            stored = resolved.model_dump(mode="json")
            try:
                with tx.conn.begin_nested():
                    result = tx.conn.execute(
                        insert(dp).values(
                            name=name,
                            description=description,
                            revision=1,
                            spec=stored,
                            id_key=secrets.token_hex(32),
                            created_at=tx.now,
                            created_by=tx.actor,
                            updated_at=tx.now,
                            updated_by=tx.actor,
                        )
                    )
            except SAIntegrityError as exc:
                raise AlreadyExists(
                    f"A deployment named {name!r} exists already. Change it with "
                    f"`steward deploy set-model {name} URI`, or choose another name."
                ) from exc
            deployment_id = result.inserted_primary_key[0] if result.inserted_primary_key else 0
            tx.conn.execute(
                insert(dr).values(
                    deployment_id=deployment_id,
                    revision=1,
                    spec=stored,
                    reason=reason,
                    time=tx.now,
                    actor=tx.actor,
                )
            )
            _link(tx, name, version_ids)
            tx.emit(
                "deployment.created",
                "deployment",
                name,
                revision=1,
                routes={r.name: r.resolved for r in resolved.routes},
                policy=resolved.policy,
                reason=reason,
            )
        return self.get_deployment(name)

    @operation("PUT", "/deployments/{name}", tag="deployments")
    def update_deployment(
        self,
        name: str,
        spec: DeploymentSpec,
        reason: str = "",
        expected_revision: int | None = None,
    ) -> Deployment:
        """Return the deployment after storing ``spec`` as its next revision.

        With ``expected_revision`` the change happens only if the deployment is still at
        that revision; otherwise Conflict, so two people cannot both change it believing
        they changed the same thing.
        """
        with self.store.write() as tx:
            row = _row(tx.conn, name, lock=True)
            if expected_revision is not None and row.revision != expected_revision:
                raise Conflict(
                    f"Deployment {name!r} is at revision {row.revision}, not {expected_revision} "
                    "as expected: someone changed it meanwhile. Look at `steward deploy show "
                    f"{name}` and try again.",
                    current=row.revision,
                )
            resolved, version_ids = _resolve(tx, spec)
            revision = row.revision + 1
            check_deployment(tx, _request(tx, name, revision, resolved, reason))
            stored = resolved.model_dump(mode="json")
            tx.conn.execute(
                dp.update()
                .where(dp.c.id == row.id)
                .values(revision=revision, spec=stored, updated_at=tx.now, updated_by=tx.actor)
            )
            tx.conn.execute(
                insert(dr).values(
                    deployment_id=row.id,
                    revision=revision,
                    spec=stored,
                    reason=reason,
                    time=tx.now,
                    actor=tx.actor,
                )
            )
            _link(tx, name, version_ids)
            before = DeploymentSpec.model_validate(row.spec)
            tx.emit(
                "deployment.updated",
                "deployment",
                name,
                revision=revision,
                routes={r.name: r.resolved for r in resolved.routes},
                previous={r.name: r.resolved for r in before.routes},
                policy=resolved.policy,
                reason=reason,
            )
        return self.get_deployment(name)

    @operation("GET", "/deployments/{name}", tag="deployments")
    def get_deployment(self, name: str) -> Deployment:
        """Return deployment ``name``: its current spec, revision, token count and bandit arms."""
        with self.store.read() as conn:
            return self._deployment(conn, _row(conn, name))

    def _deployment(self, conn: Connection, row: Any) -> Deployment:
        tokens = conn.execute(
            select(func.count())
            .select_from(st)
            .where(st.c.deployment_id == row.id, st.c.revoked_at.is_(None))
        ).scalar()
        arms = {
            r.route: (float(r.successes), float(r.failures))
            for r in conn.execute(
                select(ba).where(ba.c.deployment_id == row.id, ba.c.revision == row.revision)
            )
        }
        data = {k: v for k, v in row._asdict().items() if k != "id_key"}
        return Deployment.model_validate({**data, "token_count": tokens or 0, "arms": arms})

    @operation("GET", "/deployments", tag="deployments")
    def list_deployments(self) -> list[Deployment]:
        """Return every deployment, by name."""
        with self.store.read() as conn:
            rows = conn.execute(select(dp).order_by(dp.c.name)).all()
            return [self._deployment(conn, row) for row in rows]

    @operation("GET", "/deployments/{name}/history", tag="deployments")
    def get_deployment_history(self, name: str) -> list[DeploymentRevision]:
        """Return every revision of deployment ``name``, oldest first."""
        with self.store.read() as conn:
            row = _row(conn, name)
            return [
                DeploymentRevision(
                    deployment=name,
                    revision=r.revision,
                    spec=DeploymentSpec.model_validate(r.spec),
                    reason=r.reason,
                    time=r.time,
                    actor=r.actor,
                )
                for r in conn.execute(
                    select(dr).where(dr.c.deployment_id == row.id).order_by(dr.c.revision)
                )
            ]

    @operation("POST", "/deployments/{name}/tokens", tag="deployments")
    def create_serving_token(self, name: str, label: str = "") -> NewServingToken:
        """Return a new token for calling deployment ``name``; its secret is shown only now."""
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.store.write() as tx:
            row = _row(tx.conn, name)
            result = tx.conn.execute(
                insert(st).values(
                    deployment_id=row.id,
                    label=label or f"token {tx.now:.0f}",
                    prefix=secret[:10],
                    token_sha256=hash_token(secret),
                    created_at=tx.now,
                    created_by=tx.actor,
                    revoked_at=None,
                )
            )
            token_id = result.inserted_primary_key[0] if result.inserted_primary_key else 0
            # The event names the token by id and prefix: never the secret, nor its hash.
            tx.emit("deployment.token.created", "deployment", name, token_id=token_id, label=label)
            token = self._token(tx.conn, name, token_id)
        return NewServingToken(token=token, secret=secret)

    def _token(self, conn: Connection, name: str, token_id: int) -> ServingToken:
        row = conn.execute(select(st).where(st.c.id == token_id)).first()
        if row is None or row.deployment_id != _row(conn, name).id:
            raise NotFound(f"Deployment {name!r} has no token {token_id}.")
        return ServingToken(
            id=row.id,
            deployment=name,
            label=row.label,
            prefix=row.prefix,
            created_at=row.created_at,
            created_by=row.created_by,
            revoked_at=row.revoked_at,
        )

    @operation("GET", "/deployments/{name}/tokens", tag="deployments")
    def list_serving_tokens(self, name: str) -> list[ServingToken]:
        """Return the tokens of deployment ``name`` (prefixes only), revoked ones included."""
        with self.store.read() as conn:
            row = _row(conn, name)
            ids = conn.execute(
                select(st.c.id).where(st.c.deployment_id == row.id).order_by(st.c.id)
            ).scalars()
            return [self._token(conn, name, i) for i in ids]

    @operation("DELETE", "/deployments/{name}/tokens/{token_id}", tag="deployments")
    def revoke_serving_token(self, name: str, token_id: int) -> ServingToken:
        """Return the token after revoking it; servers refuse it within their poll interval."""
        with self.store.write() as tx:
            token = self._token(tx.conn, name, token_id)
            if token.revoked_at is None:
                tx.conn.execute(st.update().where(st.c.id == token_id).values(revoked_at=tx.now))
            tx.emit("deployment.token.revoked", "deployment", name, token_id=token_id)
            return self._token(tx.conn, name, token_id)

    @operation("GET", "/deployments/{name}/access", tag="deployments")
    def get_serving_access(self, name: str) -> ServingAccess:
        """Return what a serving process checks callers with: token hashes and the id key."""
        with self.store.read() as conn:
            row = _row(conn, name)
            hashes = conn.execute(
                select(st.c.token_sha256).where(
                    st.c.deployment_id == row.id, st.c.revoked_at.is_(None)
                )
            ).scalars()
            spec = DeploymentSpec.model_validate(row.spec)
            found = list(hashes)
            # Once a deployment has had a token, callers need a valid one: revoking the
            # last token locks the deployment, it does not open it.
            ever = conn.execute(
                select(func.count()).select_from(st).where(st.c.deployment_id == row.id)
            ).scalar()
            return ServingAccess(
                revision=row.revision,
                id_key=row.id_key,
                token_sha256=found,
                require_token=spec.require_token or bool(ever),
            )

    @operation("POST", "/deployments/{name}/bandit", tag="deployments")
    def record_bandit_rewards(
        self, name: str, revision: int, rewards: dict[str, tuple[float, float]]
    ) -> dict[str, tuple[float, float]]:
        """Return each route's (successes, failures) after adding ``rewards`` from a server.

        Each serving replica sends what it counted since its last call, so every replica
        samples from the same posteriors.
        """
        with self.store.write() as tx:
            row = _row(tx.conn, name, lock=True)
            spec = DeploymentSpec.model_validate(row.spec)
            known = {r.name for r in spec.routes}
            for route, (success, failure) in rewards.items():
                if route not in known:
                    raise InvalidInput(
                        f"Deployment {name!r} has no route {route!r}; its routes are "
                        f"{', '.join(sorted(known))}."
                    )
                if success < 0 or failure < 0:
                    raise InvalidInput(f"Rewards must be >= 0; got {success}, {failure}.")
                current = tx.conn.execute(
                    select(ba).where(
                        ba.c.deployment_id == row.id,
                        ba.c.revision == revision,
                        ba.c.route == route,
                    )
                ).first()
                values = {
                    "successes": (current.successes if current else 0.0) + success,
                    "failures": (current.failures if current else 0.0) + failure,
                    "updated_at": tx.now,
                }
                stmt = upsert(tx.conn, ba).values(
                    deployment_id=row.id, revision=revision, route=route, **values
                )
                tx.conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=[ba.c.deployment_id, ba.c.revision, ba.c.route],
                        set_=values,
                    )
                )
            tx.emit(
                "deployment.bandit.rewarded",
                "deployment",
                name,
                revision=revision,
                rewards={k: list(v) for k, v in rewards.items()},
            )
            return {
                r.route: (float(r.successes), float(r.failures))
                for r in tx.conn.execute(
                    select(ba).where(ba.c.deployment_id == row.id, ba.c.revision == revision)
                )
            }
