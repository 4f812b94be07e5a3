"""What every SQL service of a stage holds (the store and the blob store), and shared lookups."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from steward.artifacts import ArtifactStore
from steward.errors import NotFound
from steward.store import Store, tables


class Service:
    """Base of the SQL implementations of stage operations."""

    def __init__(self, store: Store, blobs: ArtifactStore) -> None:
        self.store = store
        self.blobs = blobs


def require_run(conn: Connection, run_id: str) -> Any:
    """Return the run row ``run_id`` (id, status, end time, experiment) or raise NotFound.

    Every stage that links a record to a run (datasets read, model versions, jobs)
    checks the run this way.
    """
    r = tables.runs
    row = conn.execute(
        select(r.c.id, r.c.status, r.c.end_time, r.c.experiment_id).where(r.c.id == run_id)
    ).first()
    if row is None:
        raise NotFound(
            f"Run {run_id!r} does not exist. List run ids with `steward runs list` "
            "or steward.search_runs()."
        )
    return row
