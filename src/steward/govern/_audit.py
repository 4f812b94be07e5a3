"""The audit trail: verify the hash chain of events, and read it back for auditors.

Every change Steward records is a row of ``events`` carrying sha256(previous row's hash +
its own canonical content) (``steward/store/_chain.py`` defines it, once). Verification
walks the rows in id order and recomputes each link. What it can tell apart:

- **edited**: a row's content no longer gives its stored hash (or, if the editor also
  recomputed that hash, the next row no longer links to it);
- **deleted**: a row's ``prev_hash`` names a hash no remaining row has, after a gap in
  the ids (ids may skip where PostgreSQL rolled a transaction back, so a gap alone is
  not a deletion: the chain says whether it is);
- **inserted**: the next row links past it, to the row before it.

A chain has no secret, so someone who rewrites every hash from the tampered row to the
head, or deletes the newest rows, leaves a chain that holds. Against that, an auditor
keeps the head (id and hash) from a verification or an export and passes it back as an
*anchor*: the hash of each row covers every row before it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from steward.store import GENESIS, row_hash, tables

ev = tables.events
PAGE = 5000
MAX_PROBLEMS = 50
ProblemKind = Literal["edited", "deleted", "inserted", "anchor"]


class AuditEvent(BaseModel):
    """One row of the audit log: who did what to which entity, when, and its chain links."""

    id: int
    time: float
    actor: str
    action: str
    entity_type: str
    entity_id: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str


class AuditProblem(BaseModel):
    """A broken link of the chain: the row where it shows, what is wrong, and how it reads."""

    row_id: int
    kind: ProblemKind
    message: str


class AuditVerification(BaseModel):
    """The outcome of walking the audit chain."""

    ok: bool
    rows: int
    first_id: int | None = None
    head_id: int | None = None
    head_hash: str = GENESIS
    problems: list[AuditProblem] = Field(default_factory=list)
    checked_at: float
    seconds: float

    @property
    def summary(self) -> str:
        """Return one sentence saying whether the chain holds, and the first problem if not."""
        if self.ok:
            if not self.rows:
                return "The audit chain is empty: nothing has been recorded yet."
            return (
                f"The audit chain holds: {self.rows:,} rows, ids {self.first_id} to "
                f"{self.head_id}, head hash {self.head_hash}."
            )
        more = len(self.problems) - 1
        extra = f" ({more} more problem{'s' if more != 1 else ''} after it)" if more else ""
        return f"The audit chain is broken: {self.problems[0].message}{extra}"


def _rows(conn: Connection) -> Iterator[Any]:
    last = 0
    while True:
        page = conn.execute(select(ev).where(ev.c.id > last).order_by(ev.c.id).limit(PAGE)).all()
        yield from page
        if len(page) < PAGE:
            return
        last = page[-1].id


def verify_chain(
    conn: Connection,
    *,
    anchor_id: int | None = None,
    anchor_hash: str | None = None,
    max_problems: int = MAX_PROBLEMS,
) -> AuditVerification:
    """Return the verification of the whole chain: every broken link, first one first.

    After a broken link the walk goes on from the row as stored, so later problems are
    found too (up to ``max_problems``). With an anchor, the row ``anchor_id`` must still
    carry ``anchor_hash``.
    """
    started = time.perf_counter()
    problems: list[AuditProblem] = []
    before: Any = None  # the last row accepted into the chain
    earlier: Any = None  # the one accepted before it
    expected, count, first_id, last = GENESIS, 0, None, None
    rows = _rows(conn)
    row = next(rows, None)
    while row is not None and len(problems) < max_problems:
        following = next(rows, None)
        count += 1
        first_id = row.id if first_id is None else first_id
        intact = row_hash(row.prev_hash, row) == row.hash
        linked = row.prev_hash == expected
        if intact and linked:
            earlier, before, expected = before, row, row.hash
        elif following is not None and following.prev_hash == expected:
            problems.append(_inserted(row, before, following))  # and the chain skips it
        elif intact and before is not None and row.prev_hash == before.prev_hash:
            problems.append(_inserted(before, earlier, row))  # a forged row, hashed right
            earlier, before, expected = before, row, row.hash
        else:
            problems.append(_broken(row, before, intact=intact, linked=linked, following=following))
            earlier, before, expected = before, row, row.hash
        last, row = row, following
    if anchor_id is not None:
        problems.extend(_check_anchor(conn, anchor_id, anchor_hash or ""))
    head = last if len(problems) < max_problems else None
    return AuditVerification(
        ok=not problems,
        rows=count if head is not None else _count(conn),
        first_id=first_id,
        head_id=head.id if head is not None else None,
        head_hash=head.hash if head is not None else GENESIS,
        problems=problems,
        checked_at=time.time(),
        seconds=time.perf_counter() - started,
    )


def _count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(ev)).scalar() or 0)


def _name(row: Any, *, first: bool = False) -> str:
    return f"{'Row' if first else 'row'} {row.id} ({row.action} on {row.entity_type} {row.entity_id!r})"


def _inserted(row: Any, before: Any, following: Any) -> AuditProblem:
    target = f"row {before.id}" if before is not None else "the start of the chain"
    return AuditProblem(
        row_id=row.id,
        kind="inserted",
        message=(
            f"{_name(row, first=True)} was inserted outside Steward: row {following.id} is "
            f"chained to {target}, skipping it."
        ),
    )


def _broken(row: Any, before: Any, *, intact: bool, linked: bool, following: Any) -> AuditProblem:
    if not intact and linked:
        return AuditProblem(
            row_id=row.id,
            kind="edited",
            message=(
                f"{_name(row, first=True)} was edited: its time, actor, action, entity or "
                f"payload no longer give its stored hash {row.hash[:16]}…"
            ),
        )
    if not intact:
        rehashed = following is not None and following.prev_hash == row.hash
        return AuditProblem(
            row_id=row.id,
            kind="edited",
            message=(
                f"{_name(row, first=True)} was edited or inserted: neither its content gives "
                "its stored hash nor does its prev_hash match "
                + (f"row {before.id}" if before is not None else "the start of the chain")
                + (" (the next row still links to it)." if rehashed else ".")
            ),
        )
    if before is None:
        return AuditProblem(
            row_id=row.id,
            kind="deleted",
            message=(
                f"Rows before {_name(row)} were deleted: the first remaining row is chained "
                f"to hash {row.prev_hash[:16]}…, not to the start of the chain."
            ),
        )
    if row.id != before.id + 1:
        return AuditProblem(
            row_id=row.id,
            kind="deleted",
            message=(
                f"Rows between row {before.id} and {_name(row)} were deleted: ids jump from "
                f"{before.id} to {row.id} and row {row.id} is chained to hash "
                f"{row.prev_hash[:16]}…, not to row {before.id}'s {before.hash[:16]}…"
            ),
        )
    return AuditProblem(
        row_id=before.id,
        kind="edited",
        message=(
            f"{_name(before, first=True)} was edited and its hash recomputed: row {row.id} "
            f"is chained to hash {row.prev_hash[:16]}…, not to its {before.hash[:16]}…"
        ),
    )


def _check_anchor(conn: Connection, anchor_id: int, anchor_hash: str) -> list[AuditProblem]:
    stored = conn.execute(select(ev.c.hash).where(ev.c.id == anchor_id)).scalar()
    if stored is None:
        return [
            AuditProblem(
                row_id=anchor_id,
                kind="anchor",
                message=(
                    f"Row {anchor_id}, the anchor, is missing: the chain was truncated or "
                    "rewritten after the anchor was taken."
                ),
            )
        ]
    if stored != anchor_hash:
        return [
            AuditProblem(
                row_id=anchor_id,
                kind="anchor",
                message=(
                    f"Row {anchor_id} carries hash {str(stored)[:16]}…, not the anchored "
                    f"{anchor_hash[:16]}…: the chain up to it was rewritten."
                ),
            )
        ]
    return []


def read_events(
    conn: Connection,
    *,
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
    """Return audit rows matching the filters (``action`` is a prefix: 'dataset.' matches
    every dataset change), in id order, at most ``limit``."""
    query = select(ev).limit(limit)
    if after_id:
        query = query.where(ev.c.id < after_id if newest_first else ev.c.id > after_id)
    if start is not None:
        query = query.where(ev.c.time >= start)
    if end is not None:
        query = query.where(ev.c.time < end)
    if actor:
        query = query.where(ev.c.actor == actor)
    if action:
        query = query.where(ev.c.action.startswith(action, autoescape=True))
    if entity_type:
        query = query.where(ev.c.entity_type == entity_type)
    if entity_id:
        query = query.where(ev.c.entity_id == entity_id)
    query = query.order_by(ev.c.id.desc() if newest_first else ev.c.id)
    return [AuditEvent.model_validate(row._asdict()) for row in conn.execute(query)]
