"""Registered models, versions, aliases (atomic, with history), tags and version files."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from steward._operations import operation
from steward.artifacts import check_sha256
from steward.errors import AlreadyExists, Conflict, InvalidInput, NotFound, did_you_mean
from steward.registry._hooks import PromotionRequest, check_promotion
from steward.registry._models import (
    AliasMove,
    ModelFile,
    ModelVersion,
    ModelVersionSpec,
    RegisteredModel,
)
from steward.registry._uri import parse_model_uri
from steward.service import Service
from steward.store import Transaction, tables, upsert
from steward.validation import check_key, check_name

rm, mv, mf = tables.registered_models, tables.model_versions, tables.model_version_files
al, ah, mt = tables.model_aliases, tables.alias_history, tables.model_tags
MANIFEST = "steward.yaml"


def _model_row(conn: Connection, name: str, *, lock: bool = False) -> Any:
    query = select(rm).where(rm.c.name == name)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()  # serialize alias moves of one model
    row = conn.execute(query).first()
    if row is None:
        names = [n for (n,) in conn.execute(select(rm.c.name))]
        raise NotFound(
            f"Registered model {name!r} does not exist.{did_you_mean(name, names)} "
            "List models with `steward models list`."
        )
    return row


def _version_row(conn: Connection, model_id: int, name: str, version: int) -> Any:
    row = conn.execute(select(mv).where(mv.c.model_id == model_id, mv.c.version == version)).first()
    if row is None or row.deleted:
        live = [
            v
            for (v,) in conn.execute(
                select(mv.c.version)
                .where(mv.c.model_id == model_id, mv.c.deleted.is_(False))
                .order_by(mv.c.version)
            )
        ]
        state = "was deleted" if row is not None else "does not exist"
        raise NotFound(
            f"Version {version} of model {name!r} {state}; its versions are "
            f"{_ranges(live) or 'none'}."
        )
    return row


def _ranges(values: list[int]) -> str:
    if not values:
        return ""
    if values == list(range(values[0], values[-1] + 1)) and len(values) > 2:
        return f"{values[0]}-{values[-1]}"
    return ", ".join(map(str, values))


def _on(version: int | None) -> str:
    return f"on version {version}" if version else "unset"


def _check_alias(alias: str) -> str:
    check_name(alias, "alias")
    if alias.isdigit() or alias == "latest":
        raise InvalidInput(
            f"The alias {alias!r} is reserved: digits name versions and 'latest' means the "
            "newest version. Choose a word such as 'champion'."
        )
    return alias


def resolve_version(conn: Connection, uri: str) -> tuple[str, int, int]:
    """Return (model name, version number, version row id) of a ``models:/`` URI, in SQL.

    For the stages that store references to versions (deployments): an alias or
    ``latest`` is resolved to the version it names now.
    """
    ref = parse_model_uri(uri)
    if ref.kind != "registry":
        raise InvalidInput(
            f"{uri!r} does not name a registered version; use models:/name@alias or "
            "models:/name/3 (register the model first with steward.register_model)."
        )
    model = _model_row(conn, ref.name)
    if ref.version is not None:
        row = _version_row(conn, model.id, ref.name, ref.version)
        return ref.name, int(row.version), int(row.id)
    query = select(mv).where(mv.c.model_id == model.id, mv.c.deleted.is_(False))
    if ref.alias == "latest":
        row = conn.execute(query.order_by(mv.c.version.desc()).limit(1)).first()
        if row is None:
            raise NotFound(f"Model {ref.name!r} has no versions yet.")
        return ref.name, int(row.version), int(row.id)
    row = conn.execute(
        query.join(al, al.c.version_id == mv.c.id).where(al.c.alias == ref.alias)
    ).first()
    if row is None:
        known = [a for (a,) in conn.execute(select(al.c.alias).where(al.c.model_id == model.id))]
        raise NotFound(
            f"Model {ref.name!r} has no alias {ref.alias!r}.{did_you_mean(ref.alias or '', known)} "
            f"Its aliases are: {', '.join(sorted(known)) or 'none'}."
        )
    return ref.name, int(row.version), int(row.id)


class RegistryOps(Service):
    """Operations of the model registry."""

    @operation("POST", "/models", tag="models")
    def create_registered_model(
        self, name: str, description: str = "", owners: list[str] | None = None
    ) -> RegisteredModel:
        """Return a new registered model; AlreadyExists when the name is taken."""
        check_name(name, "model")
        with self.store.write() as tx:
            try:
                with tx.conn.begin_nested():
                    tx.conn.execute(
                        insert(rm).values(
                            name=name,
                            description=description,
                            owners=owners or [tx.actor],
                            created_at=tx.now,
                            created_by=tx.actor,
                            updated_at=tx.now,
                        )
                    )
            except SAIntegrityError as exc:
                raise AlreadyExists(
                    f"A registered model named {name!r} exists already. Register a new "
                    "version of it instead, or choose another name."
                ) from exc
            tx.emit("model.created", "model", name, description=description, owners=owners)
        return self.get_registered_model(name)

    @operation("PATCH", "/models/{name}", tag="models")
    def update_registered_model(
        self, name: str, description: str | None = None, owners: list[str] | None = None
    ) -> RegisteredModel:
        """Return the model after changing its description and/or owners."""
        values: dict[str, Any] = {}
        if description is not None:
            values["description"] = description
        if owners is not None:
            if not owners:
                raise InvalidInput("A model needs at least one owner.")
            values["owners"] = owners
        with self.store.write() as tx:
            _model_row(tx.conn, name)
            tx.conn.execute(
                rm.update().where(rm.c.name == name).values(updated_at=tx.now, **values)
            )
            tx.emit("model.updated", "model", name, **values)
        return self.get_registered_model(name)

    @operation("GET", "/models/{name}", tag="models")
    def get_registered_model(self, name: str) -> RegisteredModel:
        """Return the registered model ``name`` with its aliases and tags."""
        with self.store.read() as conn:
            return self._model(conn, _model_row(conn, name))

    def _model(self, conn: Connection, row: Any) -> RegisteredModel:
        latest = conn.execute(
            select(func.max(mv.c.version)).where(mv.c.model_id == row.id, mv.c.deleted.is_(False))
        ).scalar()
        aliases = dict(
            conn.execute(
                select(al.c.alias, mv.c.version)
                .join(mv, mv.c.id == al.c.version_id)
                .where(al.c.model_id == row.id)
                .order_by(al.c.alias)
            ).all()
        )
        tags = dict(
            conn.execute(
                select(mt.c.key, mt.c.value).where(mt.c.model_id == row.id, mt.c.version == 0)
            ).all()
        )
        return RegisteredModel.model_validate(
            {**row._asdict(), "latest_version": latest, "aliases": aliases, "tags": tags}
        )

    @operation("GET", "/models", tag="models")
    def list_registered_models(self) -> list[RegisteredModel]:
        """Return every registered model, by name."""
        with self.store.read() as conn:
            rows = conn.execute(select(rm).order_by(rm.c.name)).all()
            return [self._model(conn, row) for row in rows]

    @operation("POST", "/models/versions", tag="models")
    def create_model_version(self, spec: ModelVersionSpec) -> ModelVersion:
        """Return a new version made of already-uploaded files (the model is created if new).

        Refused unless the files are exactly those the manifest lists, with the same
        hashes, every one stored: a version never appears half-written.
        """
        check_name(spec.model, "model")
        listed = {f.path: f.sha256 for f in spec.files if f.kind == "package"}
        expected = {**spec.manifest.files, MANIFEST: spec.manifest_sha256}
        if listed != expected:
            missing = sorted(set(expected) - set(listed))
            wrong = sorted(p for p in set(expected) & set(listed) if expected[p] != listed[p])
            extra = sorted(set(listed) - set(expected))
            raise InvalidInput(
                "The version's files do not match its manifest: "
                f"missing {missing or 'none'}, different hash {wrong or 'none'}, "
                f"not in the manifest {extra or 'none'}. Log the model again."
            )
        for f in spec.files:
            check_sha256(f.sha256)
            if not self.blobs.exists(f.sha256):
                raise InvalidInput(
                    f"File {f.path!r} ({f.sha256}) is not stored: upload every file of the "
                    "package before creating the version."
                )
        with self.store.write() as tx:
            if spec.run_id is not None:
                from steward.service import require_run

                require_run(tx.conn, spec.run_id)
            row = tx.conn.execute(select(rm.c.id).where(rm.c.name == spec.model)).first()
            if row is None:
                tx.conn.execute(
                    upsert(tx.conn, rm)
                    .values(
                        name=spec.model,
                        description="",
                        owners=[tx.actor],
                        created_at=tx.now,
                        created_by=tx.actor,
                        updated_at=tx.now,
                    )
                    .on_conflict_do_nothing()
                )
                tx.emit("model.created", "model", spec.model)
            model_row = _model_row(tx.conn, spec.model, lock=True)
            latest = tx.conn.execute(
                select(func.max(mv.c.version)).where(mv.c.model_id == model_row.id)
            ).scalar()
            version = (latest or 0) + 1
            result = tx.conn.execute(
                insert(mv).values(
                    model_id=model_row.id,
                    version=version,
                    run_id=spec.run_id,
                    source=spec.source,
                    flavor=spec.manifest.flavor,
                    manifest=spec.manifest.model_dump(mode="json"),
                    manifest_sha256=spec.manifest_sha256,
                    description=spec.description,
                    deleted=False,
                    created_at=tx.now,
                    created_by=tx.actor,
                )
            )
            version_id = result.inserted_primary_key[0] if result.inserted_primary_key else None
            tx.conn.execute(
                insert(mf),
                [
                    {**f.model_dump(), "version_id": version_id, "created_at": tx.now}
                    for f in spec.files
                ],
            )
            tx.conn.execute(rm.update().where(rm.c.id == model_row.id).values(updated_at=tx.now))
            if spec.run_id:
                tx.conn.execute(
                    upsert(tx.conn, tables.lineage_edges)
                    .values(
                        source_type="run",
                        source_id=spec.run_id,
                        target_type="model_version",
                        target_id=str(version_id),
                        relation="produced",
                        created_at=tx.now,
                        created_by=tx.actor,
                    )
                    .on_conflict_do_nothing()
                )
            tx.emit(
                "model.version.created",
                "model_version",
                f"{spec.model}/{version}",
                run_id=spec.run_id,
                source=spec.source,
                flavor=spec.manifest.flavor,
                manifest_sha256=spec.manifest_sha256,
            )
        return self.get_model_version(spec.model, version)

    @operation("GET", "/models/{name}/versions/{version}", tag="models")
    def get_model_version(self, name: str, version: int) -> ModelVersion:
        """Return version ``version`` of model ``name`` (not a deleted one)."""
        with self.store.read() as conn:
            model = _model_row(conn, name)
            return self._version(conn, name, _version_row(conn, model.id, name, version))

    def _version(self, conn: Connection, name: str, row: Any) -> ModelVersion:
        aliases = [a for (a,) in conn.execute(select(al.c.alias).where(al.c.version_id == row.id))]
        files = [
            ModelFile(path=f.path, sha256=f.sha256, size=f.size, kind=f.kind)
            for f in conn.execute(select(mf).where(mf.c.version_id == row.id).order_by(mf.c.path))
        ]
        tags = dict(
            conn.execute(
                select(mt.c.key, mt.c.value).where(
                    mt.c.model_id == row.model_id, mt.c.version == row.version
                )
            ).all()
        )
        data = {k: v for k, v in row._asdict().items() if k != "model_id"}
        return ModelVersion.model_validate(
            {**data, "model": name, "aliases": sorted(aliases), "files": files, "tags": tags}
        )

    @operation("GET", "/models/{name}/versions", tag="models")
    def list_model_versions(self, name: str, include_deleted: bool = False) -> list[ModelVersion]:
        """Return the versions of model ``name``, newest first."""
        with self.store.read() as conn:
            model = _model_row(conn, name)
            query = select(mv).where(mv.c.model_id == model.id).order_by(mv.c.version.desc())
            if not include_deleted:
                query = query.where(mv.c.deleted.is_(False))
            return [self._version(conn, name, row) for row in conn.execute(query).all()]

    @operation("GET", "/models/{name}/aliases/{alias}", tag="models")
    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """Return the version alias ``alias`` of model ``name`` points at ('latest': newest)."""
        with self.store.read() as conn:
            model = _model_row(conn, name)
            if alias == "latest":
                row = conn.execute(
                    select(mv)
                    .where(mv.c.model_id == model.id, mv.c.deleted.is_(False))
                    .order_by(mv.c.version.desc())
                    .limit(1)
                ).first()
                if row is None:
                    raise NotFound(f"Model {name!r} has no versions yet.")
                return self._version(conn, name, row)
            row = conn.execute(
                select(mv)
                .join(al, al.c.version_id == mv.c.id)
                .where(al.c.model_id == model.id, al.c.alias == alias)
            ).first()
            if row is None:
                known = [
                    a for (a,) in conn.execute(select(al.c.alias).where(al.c.model_id == model.id))
                ]
                raise NotFound(
                    f"Model {name!r} has no alias {alias!r}.{did_you_mean(alias, known)} "
                    f"Its aliases are: {', '.join(sorted(known)) or 'none'}."
                )
            return self._version(conn, name, row)

    @operation("PUT", "/models/{name}/aliases/{alias}", tag="models")
    def set_alias(
        self,
        name: str,
        alias: str,
        version: int,
        reason: str = "",
        expected_version: int | None = None,
    ) -> AliasMove:
        """Return the recorded move after pointing ``alias`` at ``version``, atomically.

        With ``expected_version``, the move happens only if the alias still points there
        (use 0 for "not set yet"); otherwise Conflict, so two people cannot both move it
        believing they moved it from the same place.
        """
        _check_alias(alias)
        with self.store.write() as tx:
            model = _model_row(tx.conn, name, lock=True)
            target = _version_row(tx.conn, model.id, name, version)
            current = self._current(tx.conn, model.id, alias)
            if expected_version is not None and (current or 0) != expected_version:
                raise Conflict(
                    f"Alias {alias!r} of {name!r} is {_on(current)}, not {_on(expected_version or None)} "
                    "as expected: someone moved it meanwhile. "
                    "Look at `steward models show` and try again.",
                    current=current,
                )
            return self._move(tx, model, alias, current, target, reason)

    def _current(self, conn: Connection, model_id: int, alias: str) -> int | None:
        value = conn.execute(
            select(mv.c.version)
            .join(al, al.c.version_id == mv.c.id)
            .where(al.c.model_id == model_id, al.c.alias == alias)
        ).scalar()
        return int(value) if value is not None else None

    def _move(
        self, tx: Transaction, model: Any, alias: str, current: int | None, target: Any, reason: str
    ) -> AliasMove:
        to_version = target.version if target is not None else None
        check_promotion(
            tx, PromotionRequest(model.name, alias, current, to_version, tx.actor, reason)
        )
        if target is None:
            tx.conn.execute(al.delete().where(al.c.model_id == model.id, al.c.alias == alias))
        else:
            values = {"version_id": target.id, "updated_at": tx.now, "updated_by": tx.actor}
            stmt = upsert(tx.conn, al).values(model_id=model.id, alias=alias, **values)
            tx.conn.execute(
                stmt.on_conflict_do_update(index_elements=[al.c.model_id, al.c.alias], set_=values)
            )
        tx.conn.execute(
            insert(ah).values(
                model_id=model.id,
                alias=alias,
                from_version=current,
                to_version=to_version,
                reason=reason,
                time=tx.now,
                actor=tx.actor,
            )
        )
        tx.emit(
            "model.alias.moved",
            "model",
            model.name,
            alias=alias,
            from_version=current,
            to_version=to_version,
            reason=reason,
        )
        return AliasMove(
            model=model.name,
            alias=alias,
            from_version=current,
            to_version=to_version,
            reason=reason,
            time=tx.now,
            actor=tx.actor,
        )

    @operation("DELETE", "/models/{name}/aliases/{alias}", tag="models")
    def delete_alias(
        self, name: str, alias: str, reason: str = "", expected_version: int | None = None
    ) -> AliasMove:
        """Return the recorded move after removing ``alias`` (only from ``expected_version``)."""
        with self.store.write() as tx:
            model = _model_row(tx.conn, name, lock=True)
            current = self._current(tx.conn, model.id, alias)
            if current is None:
                known = [
                    a
                    for (a,) in tx.conn.execute(select(al.c.alias).where(al.c.model_id == model.id))
                ]
                raise NotFound(
                    f"Model {name!r} has no alias {alias!r}.{did_you_mean(alias, known)} "
                    f"Its aliases are: {', '.join(sorted(known)) or 'none'}."
                )
            if expected_version is not None and current != expected_version:
                raise Conflict(
                    f"Alias {alias!r} of {name!r} is {_on(current)}, not {_on(expected_version)} as "
                    "expected: someone moved it meanwhile. Look again and retry.",
                    current=current,
                )
            return self._move(tx, model, alias, current, None, reason)

    @operation("GET", "/models/{name}/alias-history", tag="models")
    def get_alias_history(self, name: str, alias: str | None = None) -> list[AliasMove]:
        """Return every alias move of model ``name`` (or of one alias), oldest first."""
        with self.store.read() as conn:
            model = _model_row(conn, name)
            query = select(ah).where(ah.c.model_id == model.id).order_by(ah.c.id)
            if alias:
                query = query.where(ah.c.alias == alias)
            return [
                AliasMove(
                    model=name,
                    alias=r.alias,
                    from_version=r.from_version,
                    to_version=r.to_version,
                    reason=r.reason,
                    time=r.time,
                    actor=r.actor,
                )
                for r in conn.execute(query)
            ]

    @operation("DELETE", "/models/{name}/versions/{version}", tag="models")
    def delete_model_version(self, name: str, version: int) -> ModelVersion:
        """Return the version after marking it deleted; refused while an alias points at it."""
        with self.store.write() as tx:
            model = _model_row(tx.conn, name, lock=True)
            row = _version_row(tx.conn, model.id, name, version)
            aliases = [
                a for (a,) in tx.conn.execute(select(al.c.alias).where(al.c.version_id == row.id))
            ]
            if aliases:
                raise Conflict(
                    f"Version {version} of {name!r} is what alias(es) {', '.join(sorted(aliases))} "
                    "point at; move or delete them first.",
                    aliases=aliases,
                )
            tx.conn.execute(mv.update().where(mv.c.id == row.id).values(deleted=True))
            tx.emit("model.version.deleted", "model_version", f"{name}/{version}")
            row = tx.conn.execute(select(mv).where(mv.c.id == row.id)).one()
            return self._version(tx.conn, name, row)

    @operation("PUT", "/models/{name}/tags/{key}", tag="models")
    def set_model_tag(self, name: str, key: str, value: str, version: int = 0) -> None:
        """Set a tag on model ``name`` (or on one of its versions, when ``version`` > 0)."""
        check_key(key, "tag")
        with self.store.write() as tx:
            model = _model_row(tx.conn, name)
            if version:
                _version_row(tx.conn, model.id, name, version)
            stmt = upsert(tx.conn, mt).values(
                model_id=model.id, version=version, key=key, value=value
            )
            tx.conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[mt.c.model_id, mt.c.version, mt.c.key], set_={"value": value}
                )
            )
            tx.emit("model.tagged", "model", name, version=version, key=key, value=value)

    @operation("PUT", "/models/{name}/versions/{version}/files", tag="models")
    def add_model_version_file(self, name: str, version: int, file: ModelFile) -> ModelVersion:
        """Return the version after attaching an export or a report (package files are fixed)."""
        folder = {"export": "exports/", "report": "reports/", "monitoring": "monitoring/"}.get(
            file.kind
        )
        if folder is None or not file.path.startswith(folder) or ".." in file.path.split("/"):
            raise InvalidInput(
                "Only exports (kind 'export', under 'exports/'), reports (kind 'report', under "
                "'reports/') and monitoring references (kind 'monitoring', under 'monitoring/') "
                "can be added to an existing version; its package files are fixed when the "
                f"version is created. Got kind {file.kind!r} at {file.path!r}."
            )
        check_sha256(file.sha256)
        if not self.blobs.exists(file.sha256):
            raise InvalidInput(f"File {file.path!r} is not stored: upload it first.")
        with self.store.write() as tx:
            model = _model_row(tx.conn, name)
            row = _version_row(tx.conn, model.id, name, version)
            values = {
                "sha256": file.sha256,
                "size": file.size,
                "kind": file.kind,
                "created_at": tx.now,
            }
            stmt = upsert(tx.conn, mf).values(version_id=row.id, path=file.path, **values)
            tx.conn.execute(
                stmt.on_conflict_do_update(index_elements=[mf.c.version_id, mf.c.path], set_=values)
            )
            tx.emit(
                "model.version.file_added",
                "model_version",
                f"{name}/{version}",
                path=file.path,
                sha256=file.sha256,
            )
        return self.get_model_version(name, version)
