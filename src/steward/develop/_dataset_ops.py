"""Dataset versions (content-addressed), and run inputs that make lineage edges."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from steward._operations import operation
from steward.artifacts import check_sha256
from steward.develop._models import Dataset, DatasetUsage, DatasetVersion, DatasetVersionSpec
from steward.develop._retention import check_retention
from steward.errors import InvalidInput, NotFound, did_you_mean
from steward.service import Service, require_run
from steward.store import Transaction, tables, upsert
from steward.validation import check_key, check_name

ds, dv, le = tables.datasets, tables.dataset_versions, tables.lineage_edges
_VERSION_COLUMNS = [c for c in dv.c if c.name not in {"dataset_id", "schema"}]


def _version(row: Any) -> DatasetVersion:
    data = row._asdict()
    data["columns"] = data.pop("schema")
    return DatasetVersion.model_validate(data)


def _missing_dataset(conn: Connection, name: str) -> NotFound:
    names = [n for (n,) in conn.execute(select(ds.c.name))]
    return NotFound(
        f"Dataset {name!r} does not exist.{did_you_mean(name, names)} "
        "List datasets with `steward datasets list`."
    )


class DatasetOps(Service):
    """Operations on datasets and their versions."""

    @operation("POST", "/datasets/versions", tag="datasets")
    def create_dataset_version(self, spec: DatasetVersionSpec) -> DatasetVersion:
        """Return the version holding this content: the existing one, or a new one."""
        check_name(spec.dataset, "dataset")
        check_sha256(spec.content_hash)
        check_sha256(spec.blob_sha256)
        spec = spec.model_copy(update={"retention": check_retention(spec.retention)})
        names = [c.name for c in spec.columns]
        for col in spec.sensitive_columns:
            if col not in names:
                raise InvalidInput(
                    f"Sensitive column {col!r} is not a column of the data.{did_you_mean(col, names)} "
                    f"Columns are: {', '.join(names)}."
                )
        if not self.blobs.exists(spec.blob_sha256):
            raise InvalidInput(
                f"No blob {spec.blob_sha256} is stored: upload the dataset's content first."
            )
        for _attempt in range(5):
            try:
                with self.store.write() as tx:
                    return self._create_version(tx, spec)
            except SAIntegrityError:
                continue  # another writer took that version number or content: look again
        raise InvalidInput(
            f"Could not record a version of dataset {spec.dataset!r}: too many concurrent writers."
        )

    def _create_version(self, tx: Transaction, spec: DatasetVersionSpec) -> DatasetVersion:
        row = tx.conn.execute(select(ds.c.id).where(ds.c.name == spec.dataset)).first()
        if row is None:
            stmt = upsert(tx.conn, ds).values(
                name=spec.dataset,
                description=spec.description,
                created_at=tx.now,
                created_by=tx.actor,
            )
            tx.conn.execute(stmt.on_conflict_do_nothing())
            tx.emit("dataset.created", "dataset", spec.dataset)
            row = tx.conn.execute(select(ds.c.id).where(ds.c.name == spec.dataset)).one()
        dataset_id = int(row[0])
        existing = tx.conn.execute(
            self._query().where(
                dv.c.dataset_id == dataset_id, dv.c.content_hash == spec.content_hash
            )
        ).first()
        if existing is not None:
            tx.emit(
                "dataset.version.reused", "dataset_version", str(existing.id), dataset=spec.dataset
            )
            return _version(existing)
        latest = tx.conn.execute(
            select(func.max(dv.c.version)).where(dv.c.dataset_id == dataset_id)
        ).scalar()
        columns = [
            c.model_copy(update={"sensitive": c.name in spec.sensitive_columns}).model_dump()
            for c in spec.columns
        ]
        result = tx.conn.execute(
            insert(dv).values(
                dataset_id=dataset_id,
                version=(latest or 0) + 1,
                content_hash=spec.content_hash,
                blob_sha256=spec.blob_sha256,
                row_count=spec.row_count,
                schema=columns,
                profile=spec.profile,
                source=spec.source,
                terms_of_use=spec.terms_of_use,
                retention=spec.retention,
                description=spec.description,
                sensitive_columns=spec.sensitive_columns,
                created_at=tx.now,
                created_by=tx.actor,
            )
        )
        new_id = result.inserted_primary_key[0] if result.inserted_primary_key else None
        created = tx.conn.execute(self._query().where(dv.c.id == new_id)).one()
        tx.emit(
            "dataset.version.created",
            "dataset_version",
            str(new_id),
            dataset=spec.dataset,
            version=created.version,
            content_hash=spec.content_hash,
            rows=spec.row_count,
            source=spec.source,
            terms_of_use=spec.terms_of_use,
            retention=spec.retention,
            sensitive_columns=spec.sensitive_columns,
        )
        return _version(created)

    @staticmethod
    def _query() -> Any:
        return select(*_VERSION_COLUMNS, dv.c.schema, ds.c.name.label("dataset")).join(
            ds, ds.c.id == dv.c.dataset_id
        )

    @operation("GET", "/datasets/{name}/versions/{version}", tag="datasets")
    def get_dataset_version(self, name: str, version: int = 0) -> DatasetVersion:
        """Return version ``version`` of dataset ``name`` (0 means the latest)."""
        with self.store.read() as conn:
            if conn.execute(select(ds.c.id).where(ds.c.name == name)).first() is None:
                raise _missing_dataset(conn, name)
            query = self._query().where(ds.c.name == name)
            query = (
                query.where(dv.c.version == version)
                if version
                else query.order_by(dv.c.version.desc())
            )
            row = conn.execute(query.limit(1)).first()
            if row is None:
                known = [
                    v
                    for (v,) in conn.execute(
                        select(dv.c.version)
                        .join(ds, ds.c.id == dv.c.dataset_id)
                        .where(ds.c.name == name)
                    )
                ]
                raise NotFound(
                    f"Dataset {name!r} has no version {version}; its versions are "
                    f"{', '.join(map(str, known)) or 'none'}."
                )
            return _version(row)

    @operation("GET", "/datasets", tag="datasets")
    def list_datasets(self) -> list[Dataset]:
        """Return every dataset with its latest version number, by name."""
        latest = (
            select(dv.c.dataset_id, func.max(dv.c.version).label("latest_version"))
            .group_by(dv.c.dataset_id)
            .subquery()
        )
        with self.store.read() as conn:
            rows = conn.execute(
                select(ds, latest.c.latest_version)
                .outerjoin(latest, latest.c.dataset_id == ds.c.id)
                .order_by(ds.c.name)
            )
            return [Dataset.model_validate(row._asdict()) for row in rows]

    @operation("GET", "/datasets/{name}/versions", tag="datasets")
    def list_dataset_versions(self, name: str) -> list[DatasetVersion]:
        """Return the versions of dataset ``name``, newest first."""
        with self.store.read() as conn:
            if conn.execute(select(ds.c.id).where(ds.c.name == name)).first() is None:
                raise _missing_dataset(conn, name)
            rows = conn.execute(
                self._query().where(ds.c.name == name).order_by(dv.c.version.desc())
            )
            return [_version(row) for row in rows]

    @operation("POST", "/runs/{run_id}/inputs", tag="datasets")
    def log_input(self, run_id: str, dataset_version_id: int, context: str = "training") -> None:
        """Record that run ``run_id`` read a dataset version (a lineage edge)."""
        check_key(context, "input context")
        with self.store.write() as tx:
            require_run(tx.conn, run_id)
            found = tx.conn.execute(self._query().where(dv.c.id == dataset_version_id)).first()
            if found is None:
                raise NotFound(f"Dataset version id {dataset_version_id} does not exist.")
            stmt = upsert(tx.conn, le).values(
                source_type="dataset_version",
                source_id=str(dataset_version_id),
                target_type="run",
                target_id=run_id,
                relation=f"input:{context}",
                created_at=tx.now,
                created_by=tx.actor,
            )
            tx.conn.execute(stmt.on_conflict_do_nothing())
            tx.emit(
                "run.input_logged",
                "run",
                run_id,
                dataset=found.dataset,
                version=found.version,
                dataset_version_id=dataset_version_id,
                context=context,
            )

    @operation("GET", "/datasets/{name}/usage", tag="datasets")
    def get_dataset_usage(self, name: str) -> list[DatasetUsage]:
        """Return the runs that read any version of dataset ``name``."""
        with self.store.read() as conn:
            if conn.execute(select(ds.c.id).where(ds.c.name == name)).first() is None:
                raise _missing_dataset(conn, name)
            rows = conn.execute(
                select(ds.c.name, dv.c.version, le.c.target_id, le.c.relation)
                .join(dv, dv.c.id.cast(String) == le.c.source_id)
                .join(ds, ds.c.id == dv.c.dataset_id)
                .where(le.c.source_type == "dataset_version", le.c.target_type == "run")
                .where(ds.c.name == name)
                .order_by(le.c.id)
            )
            return [
                DatasetUsage(dataset=n, version=v, run_id=t, context=rel.removeprefix("input:"))
                for n, v, t, rel in rows
            ]
