"""Metric points in columns, and the buffered, asynchronous logging that never drops one.

``log_metric`` only appends to this buffer; a background thread sends the points in
batches. ``flush`` (called by ``end_run``, at exit and before any read of the run) waits
until every point queued so far is stored, and re-raises an error the sender hit.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from pydantic import BaseModel, Field

MAX_QUEUE = 10_000
INTERVAL = 0.5
RETRIES = 3


class MetricBatch(BaseModel):
    """Metric points in columns (cheap to carry and to validate in bulk)."""

    keys: list[str] = Field(default_factory=list)
    values: list[float] = Field(default_factory=list)
    steps: list[int] = Field(default_factory=list)
    timestamps: list[float] = Field(default_factory=list)

    def __len__(self) -> int:
        return len(self.keys)


class MetricBuffer:
    """A queue of metric points per (backend, run), drained by one background thread."""

    def __init__(self) -> None:
        self._points: list[tuple[Any, str, str, float, int, float]] = []
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def add(
        self, backend: Any, run_id: str, key: str, value: float, step: int, timestamp: float
    ) -> None:
        """Queue one point; raise the error of an earlier failed send, if any."""
        self._raise_pending()
        with self._lock:
            self._points.append((backend, run_id, key, value, step, timestamp))
            full = len(self._points) >= MAX_QUEUE
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="steward-metrics", daemon=True
                )
                self._thread.start()
        if full:
            self._wake.set()

    def flush(self) -> None:
        """Store every point queued so far, then raise an error a send hit, if any."""
        self._send()
        self._raise_pending()

    def pending(self) -> int:
        """Return how many points wait to be sent."""
        with self._lock:
            return len(self._points)

    def _raise_pending(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _run(self) -> None:
        while True:
            self._wake.wait(INTERVAL)
            self._wake.clear()
            self._send()

    def _send(self) -> None:
        with self._send_lock:
            with self._lock:
                points, self._points = self._points, []
            if not points:
                return
            groups: dict[tuple[int, str], tuple[Any, MetricBatch]] = {}
            for backend, run_id, key, value, step, ts in points:
                gk = (id(backend), run_id)
                if gk not in groups:
                    groups[gk] = (backend, MetricBatch())
                batch = groups[gk][1]
                batch.keys.append(key)
                batch.values.append(value)
                batch.steps.append(step)
                batch.timestamps.append(ts)
            failed: list[tuple[Any, str, str, float, int, float]] = []
            for (_, run_id), (backend, batch) in groups.items():
                error = _send_with_retries(backend, run_id, batch)
                if error is not None:
                    self._error = error
                    if (
                        getattr(error, "http_status", 500) >= 500
                    ):  # keep points the store could not take
                        failed += [
                            (backend, run_id, k, v, s, t)
                            for k, v, s, t in zip(
                                batch.keys, batch.values, batch.steps, batch.timestamps, strict=True
                            )
                        ]
            if failed:
                with self._lock:
                    self._points[:0] = failed


def _send_with_retries(backend: Any, run_id: str, batch: MetricBatch) -> BaseException | None:
    delay = 0.2
    for attempt in range(RETRIES):
        try:
            backend.log_batch(run_id, metrics=batch)
            return None
        except Exception as exc:  # the caller re-raises it in the user's thread
            status = getattr(exc, "http_status", 500)
            if status < 500 or attempt == RETRIES - 1:
                return exc
            time.sleep(delay)
            delay *= 2
    return None


buffer = MetricBuffer()
