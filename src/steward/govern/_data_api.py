"""Data governance for callers: scan a dataset version, the columns a policy must flag,
lineage and the impact of a dataset version, the audit trail and its report.

These call the backend in use (local store or team server), so they work the same in
both modes.
"""

from __future__ import annotations

from typing import Literal

import pandas as pd

from steward.context import get_backend
from steward.develop import DatasetVersion
from steward.govern._audit import AuditEvent, AuditVerification
from steward.govern._audit_report import ReportFormat, audit_report
from steward.govern._lineage import LineageGraph
from steward.govern._pii import SAMPLE_ROWS, PiiScan, PiiScanSpec, scan_frame, scanner_name

DECLARED = "declared sensitive"
EXPORT_PAGE = 10_000
_scan_enabled = True


def scan_dataset(
    dataset: str,
    version: int = 0,
    *,
    data: pd.DataFrame | None = None,
    sample_rows: int = SAMPLE_ROWS,
) -> PiiScan:
    """Return a new scan for personal data of a dataset version, after recording it.

    ``data`` is the version's content when the caller has it; otherwise it is loaded
    (and checked against its hash) first.
    """
    from steward.data import read_dataset

    backend = get_backend()
    meta = backend.get_dataset_version(dataset, version)
    frame = data if data is not None else read_dataset(dataset, meta.version)
    spec = PiiScanSpec(
        scanner=scanner_name(),
        sample_rows=min(sample_rows, len(frame)),
        findings=scan_frame(frame, sample_rows=sample_rows),
    )
    return backend.record_pii_scan(meta.dataset, meta.version, spec)


def scan_on_registration(version: DatasetVersion, frame: pd.DataFrame) -> None:
    """The dataset hook: scan a version just registered, unless it was scanned already."""
    if not _scan_enabled:
        return
    if get_backend().get_pii_scan(version.dataset, version.version) is not None:
        return
    scan_dataset(version.dataset, version.version, data=frame)


def set_pii_scan(enabled: bool) -> bool:
    """Turn the scan at registration on or off for this process; return the previous state.

    For bulk registrations of data known to be clean (``steward.govern.scan_dataset``
    scans a version later).
    """
    global _scan_enabled
    previous, _scan_enabled = _scan_enabled, enabled
    return previous


def flagged_columns(dataset: str, version: int) -> dict[str, list[str]]:
    """Return the columns of a dataset version a policy must flag, each with its reasons.

    Reasons are "declared sensitive" (``sensitive_columns`` at registration) and the
    personal-data types its scan found (EMAIL_ADDRESS, PHONE_NUMBER, PERSON...).
    ``version`` 0 means the latest.
    """
    backend = get_backend()
    meta = backend.get_dataset_version(dataset, version)
    reasons: dict[str, list[str]] = {}
    declared = set(meta.sensitive_columns) | {c.name for c in meta.columns if c.sensitive}
    for column in sorted(declared):
        reasons[column] = [DECLARED]
    scan = backend.get_pii_scan(meta.dataset, meta.version)
    for finding in scan.findings if scan else []:
        listed = reasons.setdefault(finding.column, [])
        listed.extend(e for e in finding.entities if e not in listed)
    return reasons


def lineage(
    node: str,
    *,
    direction: Literal["upstream", "downstream", "both"] = "both",
    depth: int = 4,
) -> LineageGraph:
    """Return the lineage graph around a node: dataset:credit@3, run:ID, model:churn/2,
    deployment:NAME or predictions:NAME."""
    return get_backend().get_lineage(node, direction=direction, depth=depth)


def impact(dataset: str, version: int | None = None, *, depth: int = 8) -> LineageGraph:
    """Return everything downstream of a dataset version (or of every version when None):
    the runs that read it, the model versions they produced, the deployments that served
    those and their prediction logs. The answer to an erasure request."""
    node = f"dataset:{dataset}" if version is None else f"dataset:{dataset}@{version}"
    return get_backend().get_lineage(node, direction="downstream", depth=depth)


def verify_audit(anchor: str | None = None) -> AuditVerification:
    """Return the verification of the audit chain; ``anchor`` is 'ID:HASH' from an earlier one."""
    if anchor is None:
        return get_backend().verify_audit()
    anchor_id, anchor_hash = parse_anchor(anchor)
    return get_backend().verify_audit(anchor_id=anchor_id, anchor_hash=anchor_hash)


def parse_anchor(anchor: str) -> tuple[int, str]:
    """Return (row id, hash) from an anchor written 'ID:HASH'."""
    from steward.errors import InvalidInput

    row, _, digest = anchor.strip().partition(":")
    digest = digest.strip().lower()
    if not row.isdigit() or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise InvalidInput(
            f"An anchor is a row id and its sha256, as 1234:9f86d08…; got {anchor!r}. Copy it "
            "from `steward audit verify` or from an audit report."
        )
    return int(row), digest


def audit_events(
    *,
    start: float | None = None,
    end: float | None = None,
    actor: str | None = None,
    action: str | None = None,
    entity_type: str | None = None,
    entity_id: str | None = None,
) -> list[AuditEvent]:
    """Return every audit row matching the filters (``action`` a prefix), oldest first."""
    backend = get_backend()
    events: list[AuditEvent] = []
    after = 0
    while True:
        page = backend.export_audit(
            start=start,
            end=end,
            actor=actor,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            after_id=after,
            limit=EXPORT_PAGE,
        )
        events.extend(page)
        if len(page) < EXPORT_PAGE:
            return events
        after = page[-1].id


def export_audit(
    *,
    start: float | None = None,
    end: float | None = None,
    fmt: ReportFormat = "html",
    actor: str | None = None,
    action: str | None = None,
    entity_type: str | None = None,
    entity_id: str | None = None,
) -> str:
    """Return the auditors' report of a period: the chain's verification, then its events."""
    filters = {
        k: v
        for k, v in (
            ("actor", actor),
            ("action", action),
            ("entity_type", entity_type),
            ("entity_id", entity_id),
        )
        if v
    }
    verification = get_backend().verify_audit()
    events = audit_events(start=start, end=end, **filters)
    return audit_report(events, verification, start=start, end=end, fmt=fmt, filters=filters)
