"""Reading a deployment's prediction log for a time window: predictions, feedback, health.

Segments are found by their date folders (only the days of the window are opened),
checked (a segment whose Parquet footer cannot be read, e.g. cut short by a full disk,
is skipped and reported, never silently counted), then read with DuckDB filtered to the
window. Local folders are read by DuckDB directly; object stores through fsspec.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import duckdb
import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

PREDICTIONS, FEEDBACK, HEALTH = "predictions", "feedback", "health"


@dataclass
class Segments:
    """The segments of one kind found for a window, and those skipped with the reason."""

    fs: Any
    files: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)


def find_segments(root: str, kind: str, start: float | None, end: float | None) -> Segments:
    """Return the readable segments of ``kind`` whose day overlaps [start, end]."""
    fs, path = fsspec.core.url_to_fs(root)
    found = Segments(fs)
    folder = f"{path.rstrip('/')}/{kind}"
    if not fs.isdir(folder):
        return found
    first = _day(start) if start is not None else ""
    last = _day(end) if end is not None else "9999-12-31"
    for day in sorted(fs.ls(folder, detail=False)):
        name = day.rstrip("/").rsplit("/", 1)[-1]
        if not name.startswith("date=") or not first <= name.removeprefix("date=") <= last:
            continue
        for f in sorted(fs.ls(day, detail=False)):
            base = f.rsplit("/", 1)[-1]
            if not base.endswith(".parquet") or base.startswith("."):
                continue  # a segment being written, or not a segment at all
            try:
                with fs.open(f, "rb") as handle:
                    pq.ParquetFile(handle).metadata  # noqa: B018  (reads and checks the footer)
            except Exception as exc:
                found.skipped.append({"segment": f, "reason": f"{type(exc).__name__}: {exc}"})
                continue
            found.files.append(f)
    return found


def read(
    root: str,
    kind: str,
    start: float | None = None,
    end: float | None = None,
    *,
    where: str = "",
) -> tuple[pd.DataFrame, list[dict[str, str]]]:
    """Return the log's rows of ``kind`` with ``start <= time < end``, and skipped segments."""
    segments = find_segments(root, kind, start, end)
    if not segments.files:
        return pd.DataFrame(), segments.skipped
    con = duckdb.connect()
    try:
        if "file" in _protocols(segments.fs):
            listed = ", ".join("'" + f.replace("'", "''") + "'" for f in segments.files)
            source = f"read_parquet([{listed}], union_by_name = true)"
        else:
            tables = [pq.read_table(f, filesystem=segments.fs) for f in segments.files]
            con.register("segments", pa.concat_tables(tables, promote_options="default"))
            source = "segments"
        clauses = []
        if start is not None:
            clauses.append(f"time >= to_timestamp({float(start)!r})")
        if end is not None:
            clauses.append(f"time < to_timestamp({float(end)!r})")
        if where:
            clauses.append(f"({where})")
        query = f"SELECT * FROM {source}" + (" WHERE " + " AND ".join(clauses) if clauses else "")
        frame = con.execute(query).df()
    finally:
        con.close()
    return frame, segments.skipped


def _day(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d")


def _protocols(fs: Any) -> tuple[str, ...]:
    proto = fs.protocol
    return (proto,) if isinstance(proto, str) else tuple(proto)
