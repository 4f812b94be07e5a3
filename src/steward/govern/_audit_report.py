"""The audit report for auditors: a period of the audit log as HTML, JSON or CSV.

Each report carries the chain's verification at the time it was written and the head
(row id and hash) to keep as an anchor: ``steward audit verify --anchor ID:HASH`` later
proves that nothing up to that row was rewritten since.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections import Counter
from collections.abc import Sequence
from typing import Literal

from steward.govern._audit import AuditEvent, AuditVerification
from steward.report import html_page

ReportFormat = Literal["html", "json", "csv"]
PAYLOAD_CHARS = 300  # of each payload in the HTML table; JSON and CSV keep it whole
CSV_COLUMNS = (
    "id",
    "time_utc",
    "time",
    "actor",
    "action",
    "entity_type",
    "entity_id",
    "payload",
    "prev_hash",
    "hash",
)


def utc(timestamp: float | None) -> str:
    """Return a Unix time as 'YYYY-MM-DD HH:MM:SS UTC' ('—' for none)."""
    if timestamp is None:
        return "—"
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def audit_report(
    events: Sequence[AuditEvent],
    verification: AuditVerification,
    *,
    start: float | None,
    end: float | None,
    fmt: ReportFormat = "html",
    filters: dict[str, str] | None = None,
) -> str:
    """Return the report of ``events`` (one period of the log) in ``fmt``."""
    if fmt == "json":
        return _json(events, verification, start, end, filters or {})
    if fmt == "csv":
        return _csv(events)
    return _html(events, verification, start, end, filters or {})


def _payload(event: AuditEvent) -> str:
    return json.dumps(event.payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _json(
    events: Sequence[AuditEvent],
    verification: AuditVerification,
    start: float | None,
    end: float | None,
    filters: dict[str, str],
) -> str:
    document = {
        "report": "steward audit trail",
        "generated_at": utc(verification.checked_at),
        "period": {"from": start, "to": end, "from_utc": utc(start), "to_utc": utc(end)},
        "filters": filters,
        "verification": verification.model_dump(mode="json"),
        "anchor": _anchor(verification),
        "events": [e.model_dump(mode="json") for e in events],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _csv(events: Sequence[AuditEvent]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for e in events:
        writer.writerow(
            [
                e.id,
                utc(e.time),
                repr(e.time),
                e.actor,
                e.action,
                e.entity_type,
                e.entity_id,
                _payload(e),
                e.prev_hash,
                e.hash,
            ]
        )
    return out.getvalue()


def _anchor(verification: AuditVerification) -> str | None:
    if verification.head_id is None:
        return None
    return f"{verification.head_id}:{verification.head_hash}"


def _cell(text: str) -> str:
    # The report's Markdown reads | as a column break and ` and ** as formatting.
    return text.replace("|", "¦").replace("`", "'").replace("**", "*\u200b*")


def _html(
    events: Sequence[AuditEvent],
    verification: AuditVerification,
    start: float | None,
    end: float | None,
    filters: dict[str, str],
) -> str:
    lines = [
        "# Audit trail",
        "",
        f"Period: **{utc(start)}** to **{utc(end)}** (end excluded). Written "
        f"{utc(verification.checked_at)}.",
    ]
    if filters:
        lines.append(
            "Filters: " + ", ".join(f"{k} = `{_cell(v)}`" for k, v in sorted(filters.items()))
        )
    lines += ["", "## Verification of the whole chain", "", _cell(verification.summary)]
    for problem in verification.problems:
        lines.append(f"- row {problem.row_id}, **{problem.kind}**: {_cell(problem.message)}")
    anchor = _anchor(verification)
    if anchor:
        lines.append(
            f"Keep this anchor to prove later that nothing up to row {verification.head_id} "
            f"changed: `{anchor}` (`steward audit verify --anchor {anchor}`)."
        )
    lines += ["", f"## {len(events):,} events in the period", ""]
    if events:
        lines += _counts("Changes by action", Counter(e.action for e in events))
        lines += _counts("Changes by actor", Counter(e.actor for e in events))
        lines += [
            "### Events",
            "",
            "| id | time | actor | action | entity | payload | hash |",
            "|---|---|---|---|---|---|---|",
        ]
        for e in events:
            payload = _payload(e)
            if len(payload) > PAYLOAD_CHARS:
                payload = payload[:PAYLOAD_CHARS] + "…"
            lines.append(
                f"| {e.id} | {utc(e.time)} | {_cell(e.actor)} | {_cell(e.action)} | "
                f"{_cell(e.entity_type)} {_cell(e.entity_id)} | `{_cell(payload)}` | "
                f"`{e.hash[:16]}`… |"
            )
    return html_page("\n".join(lines), "Audit trail")


def _counts(title: str, counts: Counter[str]) -> list[str]:
    rows = [f"### {title}", "", "| | events |", "|---|---|"]
    rows += [f"| {_cell(name)} | {n:,} |" for name, n in counts.most_common()]
    return [*rows, ""]
