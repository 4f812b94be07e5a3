"""The prediction log: every request and response, appended off the request path.

A request only appends a tuple to an in-memory buffer. A background thread writes the
buffer as one Parquet segment when it holds ``flush_rows`` rows or ``flush_seconds``
have passed, to ``<root>/predictions/date=YYYY-MM-DD/<time>-<host>-<pid>-<n>.parquet``
(feedback to ``<root>/feedback/...``). A segment appears whole or not at all (written
aside, then renamed), so a crash loses at most the rows buffered since the last segment:
fewer than ``flush_rows``, or ``flush_seconds`` of traffic. If the log cannot be written
(a full disk, an unreachable bucket), rows are kept and retried, up to
``max_buffer_rows``; beyond that the oldest are dropped and counted
(``dropped_rows``, exported as ``steward_prediction_log_dropped_rows_total``), so a broken
log never takes the server's memory.

Columns: ``request_id``, ``row`` (its place in the request), ``time`` (UTC), ``revision``,
``route``, ``role`` (primary or shadow), ``model``, ``version``, ``status`` (HTTP),
``latency_ms``, ``entity``, ``error``, then ``input.<column>`` per model input,
``output.prediction`` and ``output.proba.<class>``. The monitoring stage reads them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

PREDICTIONS = "predictions"
FEEDBACK = "feedback"
HEALTH = "health"


@dataclass
class LogEntry:
    """One request's record (one row per input row when written)."""

    request_id: str
    time: float
    revision: int
    route: str
    role: str
    model: str
    version: int | None
    status: int
    latency_ms: float
    rows: int = 1
    entity: str | None = None
    error: str | None = None
    inputs: dict[str, list[Any]] | None = None
    predictions: list[Any] | None = None
    probabilities: list[list[float]] | None = None
    classes: list[Any] | None = None


@dataclass
class HealthEntry:
    """A serving process's resources at a moment (written every few seconds)."""

    time: float
    host: str
    pid: int
    revision: int
    rss_bytes: int
    cpu_seconds: float
    memory_limit_bytes: int | None = None


@dataclass
class FeedbackEntry:
    """Ground truth (and a bandit reward) for a request, given later."""

    request_id: str
    time: float
    route: str
    label: Any = None
    reward: float | None = None


class _Writer:
    """A buffer of records and the thread that writes it as Parquet segments."""

    def __init__(
        self,
        root: str,
        kind: str,
        *,
        flush_rows: int,
        flush_seconds: float,
        max_buffer_rows: int,
        build: Any,
    ) -> None:
        self.fs, self.root = fsspec.core.url_to_fs(root)
        self.local = "file" in _protocols(self.fs)
        self.kind = kind
        self.flush_rows = flush_rows
        self.flush_seconds = flush_seconds
        self.max_buffer_rows = max_buffer_rows
        self.build = build
        self.buffer: list[Any] = []
        self.buffered_rows = 0
        self.written_rows = 0
        self.dropped_rows = 0
        self.segments = 0
        self.last_error: str | None = None
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._host = socket.gethostname().split(".")[0][:40]
        self._thread = threading.Thread(target=self._run, name=f"steward-log-{kind}", daemon=True)
        self._thread.start()

    def add(self, entry: Any, rows: int) -> None:
        with self._lock:
            self.buffer.append(entry)
            self.buffered_rows += rows
            full = self.buffered_rows >= self.flush_rows
        if full:
            self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            self.flush()

    def flush(self) -> int:
        """Write what is buffered as one segment; return the rows written."""
        with self._flush_lock:
            with self._lock:
                entries, self.buffer = self.buffer, []
                rows, self.buffered_rows = self.buffered_rows, 0
            if not entries:
                return 0
            try:
                table = self.build(entries)
                self._write(table)
            except Exception as exc:  # keep the rows for the next try, within the bound
                self.last_error = f"{type(exc).__name__}: {exc}"
                with self._lock:
                    self.buffer[:0] = entries
                    self.buffered_rows += rows
                    self._shed()
                return 0
            self.last_error = None
            self.written_rows += rows
            self.segments += 1
            return rows

    def _shed(self) -> None:
        while self.buffered_rows > self.max_buffer_rows and self.buffer:
            entry = self.buffer.pop(0)
            lost = getattr(entry, "rows", 1)
            self.buffered_rows -= lost
            self.dropped_rows += lost

    def _write(self, table: pa.Table) -> None:
        now = dt.datetime.now(dt.UTC)
        folder = f"{self.root}/{self.kind}/date={now:%Y-%m-%d}"
        name = f"{now:%H%M%S%f}-{self._host}-{os.getpid()}-{self.segments:06d}.parquet"
        path = f"{folder}/{name}"
        if self.local:
            os.makedirs(folder, exist_ok=True)
            partial = f"{folder}/.{name}.{uuid.uuid4().hex}.partial"
            pq.write_table(table, partial, compression="zstd")
            os.replace(partial, path)
        else:  # object stores write a whole object or none
            self.fs.makedirs(folder, exist_ok=True)
            with self.fs.open(path, "wb") as out:
                pq.write_table(table, out, compression="zstd")

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)
        self.flush()


class PredictionLog:
    """Append-only Parquet log of one deployment's requests and feedback."""

    def __init__(
        self,
        root: str,
        deployment: str,
        *,
        flush_rows: int = 5000,
        flush_seconds: float = 1.0,
        max_buffer_rows: int = 200_000,
        input_types: dict[str, pa.DataType] | None = None,
    ) -> None:
        self.root = root.rstrip("/")
        self.deployment = deployment
        self.input_types = dict(input_types or {})
        self.predictions = _Writer(
            self.root,
            PREDICTIONS,
            flush_rows=flush_rows,
            flush_seconds=flush_seconds,
            max_buffer_rows=max_buffer_rows,
            build=self._table,
        )
        self.feedback = _Writer(
            self.root,
            FEEDBACK,
            flush_rows=flush_rows,
            flush_seconds=flush_seconds,
            max_buffer_rows=max_buffer_rows,
            build=_feedback_table,
        )
        self.health = _Writer(
            self.root,
            HEALTH,
            flush_rows=1000,
            flush_seconds=max(flush_seconds, 10.0),
            max_buffer_rows=10_000,
            build=_health_table,
        )

    def record(self, entry: LogEntry) -> None:
        """Queue one request's record (cheap: an append)."""
        self.predictions.add(entry, entry.rows)

    def record_feedback(self, entry: FeedbackEntry) -> None:
        """Queue one piece of feedback."""
        self.feedback.add(entry, 1)

    def record_health(self, entry: HealthEntry) -> None:
        """Queue one sample of the process's resources."""
        self.health.add(entry, 1)

    def flush(self) -> int:
        """Write everything buffered now; return the prediction rows written."""
        self.feedback.flush()
        self.health.flush()
        return self.predictions.flush()

    def close(self) -> None:
        """Stop the writer threads after writing what is buffered."""
        self.predictions.close()
        self.feedback.close()
        self.health.close()

    def _table(self, entries: list[LogEntry]) -> pa.Table:
        return prediction_table(entries, self.input_types)


def prediction_table(entries: Iterable[LogEntry], types: dict[str, pa.DataType]) -> pa.Table:
    """Return the Arrow table of log entries, one row per input row."""
    entries = list(entries)
    meta: dict[str, list[Any]] = {
        k: []
        for k in (
            "request_id",
            "row",
            "time",
            "revision",
            "route",
            "role",
            "model",
            "version",
            "status",
            "latency_ms",
            "entity",
            "error",
        )
    }
    inputs: dict[str, list[Any]] = {}
    predictions: list[Any] = []
    classes = sorted({str(c) for e in entries if e.classes for c in e.classes}, key=lambda c: c)
    proba: dict[str, list[Any]] = {c: [] for c in classes}
    total = 0
    for e in entries:
        n = e.rows
        for key in ("request_id", "revision", "route", "role", "model", "version", "status"):
            meta[key].extend([getattr(e, key)] * n)
        meta["row"].extend(range(n))
        meta["time"].extend([e.time] * n)
        meta["latency_ms"].extend([e.latency_ms] * n)
        meta["entity"].extend([e.entity] * n)
        meta["error"].extend([e.error] * n)
        for name in e.inputs or {}:
            if name not in inputs:
                inputs[name] = [None] * total
        for name, values in inputs.items():
            given = (e.inputs or {}).get(name)
            values.extend(given if given is not None else [None] * n)
        predictions.extend(e.predictions if e.predictions is not None else [None] * n)
        index = {str(c): j for j, c in enumerate(e.classes or [])}
        for c in classes:
            j = index.get(c)
            if e.probabilities is not None and j is not None:
                proba[c].extend(p[j] for p in e.probabilities)
            else:
                proba[c].extend([None] * n)
        total += n
    arrays: dict[str, pa.Array] = {
        "request_id": pa.array(meta["request_id"], pa.string()),
        "row": pa.array(meta["row"], pa.int32()),
        "time": pa.array([int(t * 1_000_000) for t in meta["time"]], pa.timestamp("us", tz="UTC")),
        "revision": pa.array(meta["revision"], pa.int32()),
        "route": pa.array(meta["route"], pa.string()),
        "role": pa.array(meta["role"], pa.string()),
        "model": pa.array(meta["model"], pa.string()),
        "version": pa.array(meta["version"], pa.int32()),
        "status": pa.array(meta["status"], pa.int16()),
        "latency_ms": pa.array(meta["latency_ms"], pa.float64()),
        "entity": pa.array(meta["entity"], pa.string()),
        "error": pa.array(meta["error"], pa.string()),
    }
    for name, values in inputs.items():
        arrays[f"input.{name}"] = _array(values, types.get(name))
    arrays["output.prediction"] = _array(predictions, None)
    for c in classes:
        arrays[f"output.proba.{c}"] = pa.array(proba[c], pa.float64())
    return pa.table(arrays)


def _array(values: list[Any], kind: pa.DataType | None) -> pa.Array:
    if kind is not None:
        if pa.types.is_string(kind):
            values = [v if v is None or isinstance(v, str) else str(v) for v in values]
        try:
            return pa.array(values, kind)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            pass
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.array([None if v is None else json.dumps(v) for v in values], pa.string())


def _feedback_table(entries: list[FeedbackEntry]) -> pa.Table:
    return pa.table(
        {
            "request_id": pa.array([e.request_id for e in entries], pa.string()),
            "time": pa.array(
                [int(e.time * 1_000_000) for e in entries], pa.timestamp("us", tz="UTC")
            ),
            "route": pa.array([e.route for e in entries], pa.string()),
            "label": pa.array(
                [None if e.label is None else json.dumps(e.label) for e in entries], pa.string()
            ),
            "reward": pa.array([e.reward for e in entries], pa.float64()),
        }
    )


def _health_table(entries: list[HealthEntry]) -> pa.Table:
    return pa.table(
        {
            "time": pa.array(
                [int(e.time * 1_000_000) for e in entries], pa.timestamp("us", tz="UTC")
            ),
            "host": pa.array([e.host for e in entries], pa.string()),
            "pid": pa.array([e.pid for e in entries], pa.int32()),
            "revision": pa.array([e.revision for e in entries], pa.int32()),
            "rss_bytes": pa.array([e.rss_bytes for e in entries], pa.int64()),
            "cpu_seconds": pa.array([e.cpu_seconds for e in entries], pa.float64()),
            "memory_limit_bytes": pa.array([e.memory_limit_bytes for e in entries], pa.int64()),
        }
    )


def input_types(kinds: dict[str, str]) -> dict[str, pa.DataType]:
    """Return the Arrow type of each logged input column from its signature kind."""
    mapping = {"numeric": pa.float64(), "integer": pa.float64(), "boolean": pa.bool_()}
    return {name: mapping.get(kind, pa.string()) for name, kind in kinds.items()}


def _protocols(fs: Any) -> tuple[str, ...]:
    proto = fs.protocol
    return (proto,) if isinstance(proto, str) else tuple(proto)


def now() -> float:
    """Return the current time (seconds since the epoch), as logged."""
    return time.time()
