"""Operations of data governance, defined once: the audit trail, lineage, PII scans, terms.

Each is a store operation (``@operation``): run directly on the local store, served as an
HTTP route by the team server and called remotely by the client.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import insert, select

from steward._operations import operation
from steward.develop import DatasetOps, DatasetVersion, check_retention
from steward.errors import InvalidInput
from steward.govern._audit import AuditEvent, AuditVerification, read_events, verify_chain
from steward.govern._lineage import LineageGraph, dataset_version_id, lineage_graph, parse_node
from steward.govern._pii import PiiScan, PiiScanSpec
from steward.service import Service
from steward.store import tables

dv, ps = tables.dataset_versions, tables.pii_scans
MAX_EVENTS = 10_000
MAX_TERMS = 10_000


class GovernDataOps(Service):
    """Operations of data governance: audit trail, lineage, PII findings, terms of use."""

    @operation("GET", "/audit/verify", tag="governance")
    def verify_audit(
        self, anchor_id: int | None = None, anchor_hash: str | None = None
    ) -> AuditVerification:
        """Return the verification of the whole audit chain: whether it holds, and where not.

        With ``anchor_id`` and ``anchor_hash`` (the head of an earlier verification or
        export), that row must still carry that hash: this catches a rewritten or
        truncated chain, which the links alone cannot.
        """
        if (anchor_id is None) != (anchor_hash is None):
            raise InvalidInput(
                "An anchor needs both the row id and its hash (anchor_id and anchor_hash); "
                f"got anchor_id={anchor_id!r}, anchor_hash={anchor_hash!r}."
            )
        with self.store.read() as conn:
            return verify_chain(conn, anchor_id=anchor_id, anchor_hash=anchor_hash)

    @operation("GET", "/audit/events", tag="governance")
    def export_audit(
        self,
        start: float | None = None,
        end: float | None = None,
        actor: str | None = None,
        action: str | None = None,
        entity_type: str | None = None,
        entity_id: str | None = None,
        after_id: int = 0,
        limit: int = 1000,
        newest_first: bool = False,
    ) -> list[AuditEvent]:
        """Return audit rows with their chain hashes, filtered (``action`` is a prefix).

        ``start`` and ``end`` are Unix times (``end`` excluded). Pages: pass the last id
        seen as ``after_id`` (with ``newest_first``, rows before it come next).
        """
        if not 1 <= limit <= MAX_EVENTS:
            raise InvalidInput(
                f"The 'limit' must be between 1 and {MAX_EVENTS:,}; got {limit}. Page with "
                "after_id for more."
            )
        if start is not None and end is not None and end < start:
            raise InvalidInput(f"The period ends ({end}) before it starts ({start}).")
        with self.store.read() as conn:
            return read_events(
                conn,
                start=start,
                end=end,
                actor=actor,
                action=action,
                entity_type=entity_type,
                entity_id=entity_id,
                after_id=after_id,
                limit=limit,
                newest_first=newest_first,
            )

    @operation("GET", "/lineage", tag="governance")
    def get_lineage(
        self,
        node: str,
        direction: Literal["upstream", "downstream", "both"] = "both",
        depth: int = 4,
    ) -> LineageGraph:
        """Return the lineage graph around ``node`` (e.g. dataset:credit@3, model:churn/2).

        Upstream answers "what was this trained on", downstream "what uses this": the runs,
        model versions, deployments and prediction logs that depend on it.
        """
        with self.store.read() as conn:
            return lineage_graph(conn, parse_node(conn, node), direction=direction, depth=depth)

    @operation("POST", "/datasets/{name}/versions/{version}/pii", tag="governance")
    def record_pii_scan(self, name: str, version: int, scan: PiiScanSpec) -> PiiScan:
        """Return the scan for personal data of a dataset version, after recording it."""
        if scan.sample_rows < 0:
            raise InvalidInput(f"A scan's sample_rows cannot be negative; got {scan.sample_rows}.")
        with self.store.write() as tx:
            version_id = dataset_version_id(tx.conn, name, version)
            findings = [f.model_dump(mode="json") for f in scan.findings]
            tx.conn.execute(
                insert(ps).values(
                    dataset_version_id=version_id,
                    scanner=scan.scanner,
                    sample_rows=scan.sample_rows,
                    findings=findings,
                    created_at=tx.now,
                    created_by=tx.actor,
                )
            )
            # Column names and entity types only: the values never leave the caller.
            tx.emit(
                "dataset.version.pii_scanned",
                "dataset_version",
                str(version_id),
                dataset=name,
                version=version,
                scanner=scan.scanner,
                flagged={f.column: f.entities for f in scan.findings},
            )
        found = self.get_pii_scan(name, version)
        assert found is not None  # just recorded
        return found

    @operation("GET", "/datasets/{name}/versions/{version}/pii", tag="governance")
    def get_pii_scan(self, name: str, version: int) -> PiiScan | None:
        """Return the latest scan for personal data of a dataset version (None: never scanned)."""
        with self.store.read() as conn:
            version_id = dataset_version_id(conn, name, version)
            row = conn.execute(
                select(ps)
                .where(ps.c.dataset_version_id == version_id)
                .order_by(ps.c.id.desc())
                .limit(1)
            ).first()
        if row is None:
            return None
        return PiiScan.model_validate(
            {**row._asdict(), "dataset": name, "version": version, "dataset_version_id": version_id}
        )

    @operation("PATCH", "/datasets/{name}/versions/{version}", tag="datasets")
    def amend_dataset_version(
        self,
        name: str,
        version: int,
        terms_of_use: str | None = None,
        retention: str | None = None,
        reason: str = "",
    ) -> DatasetVersion:
        """Return the dataset version after changing its terms of use or retention.

        The data, its hash and its schema never change; an event records who amended the
        terms, the values before and after, and why.
        """
        if terms_of_use is None and retention is None:
            raise InvalidInput(
                "Amending a dataset version needs new terms_of_use, a new retention, or both; "
                "got neither."
            )
        if terms_of_use is not None and len(terms_of_use) > MAX_TERMS:
            raise InvalidInput(
                f"The terms of use must be at most {MAX_TERMS:,} characters; got "
                f"{len(terms_of_use):,}. Link to a longer text instead."
            )
        changes: dict[str, str] = {}
        if terms_of_use is not None:
            changes["terms_of_use"] = terms_of_use
        if retention is not None:
            changes["retention"] = check_retention(retention)
        with self.store.write() as tx:
            version_id = dataset_version_id(tx.conn, name, version)
            before = tx.conn.execute(
                select(dv.c.terms_of_use, dv.c.retention).where(dv.c.id == version_id)
            ).one()
            tx.conn.execute(dv.update().where(dv.c.id == version_id).values(**changes))
            tx.emit(
                "dataset.version.amended",
                "dataset_version",
                str(version_id),
                dataset=name,
                version=version,
                before={k: getattr(before, k) for k in changes},
                after=changes,
                reason=reason,
            )
        return DatasetOps.get_dataset_version(self, name, version)  # type: ignore[arg-type]
