"""Adaptive micro-batching: concurrent requests to one model scored in one call.

Off unless ``max_batch_size`` > 1. A request's rows wait in a queue; the batcher takes
the first, then whatever else is queued for the same model, and waits up to
``max_wait_ms`` for more only while other requests are in flight (so a lone client
never waits). The model runs in a worker thread, so the server keeps reading and
checking requests meanwhile. Each request gets back exactly its own rows' answers: the
batch is cut at the offsets it was assembled from.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from steward.serve._decode import Batch
from steward.serve._runtime import Scored, ServedModel


@dataclass
class _Pending:
    served: ServedModel
    batch: Batch
    future: asyncio.Future[Scored]
    arrived: float = field(default_factory=time.perf_counter)


class MicroBatcher:
    """Groups concurrent requests per model into one call of ``ServedModel.score``."""

    def __init__(self, max_batch_size: int, max_wait_ms: float) -> None:
        self.max_rows = max_batch_size
        self.max_wait = max_wait_ms / 1000.0
        self._queue: asyncio.Queue[_Pending] | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="steward-batch")
        self.in_flight = 0
        self.batches = 0
        self.batched_requests = 0

    async def score(self, served: ServedModel, batch: Batch) -> Scored:
        """Return the model's answer for this request's rows, scored with others'."""
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._task = asyncio.get_running_loop().create_task(self._run())
        future: asyncio.Future[Scored] = asyncio.get_running_loop().create_future()
        self.in_flight += 1
        try:
            await self._queue.put(_Pending(served, batch, future))
            return await future
        finally:
            self.in_flight -= 1

    async def _run(self) -> None:
        assert self._queue is not None
        queue = self._queue
        while True:
            first = await queue.get()
            group = [first]
            rows = first.batch.rows
            held: list[_Pending] = []
            deadline = first.arrived + self.max_wait
            while rows < self.max_rows:
                try:
                    item = queue.get_nowait()
                except asyncio.QueueEmpty:
                    waiting = self.in_flight - len(group) - len(held)
                    remaining = deadline - time.perf_counter()
                    if waiting <= 0 or remaining <= 0:
                        break
                    try:
                        item = await asyncio.wait_for(queue.get(), remaining)
                    except TimeoutError:
                        break
                if (
                    item.served is first.served
                    and rows + item.batch.rows <= self.max_rows
                    and list(item.batch.columns) == list(first.batch.columns)
                ):
                    group.append(item)
                    rows += item.batch.rows
                else:
                    held.append(item)  # another model, or too big: next round
            for item in held:
                queue.put_nowait(item)
            await self._score(group)

    async def _score(self, group: list[_Pending]) -> None:
        served = group[0].served
        names = list(group[0].batch.columns)
        merged = Batch(
            {n: [v for p in group for v in p.batch.columns[n]] for n in names},
            sum(p.batch.rows for p in group),
        )
        loop = asyncio.get_running_loop()
        try:
            scored = await loop.run_in_executor(self._executor, served.score, merged)
        except Exception as exc:  # every request of the batch gets the model's error
            for p in group:
                if not p.future.done():
                    p.future.set_exception(exc)
            return
        self.batches += 1
        self.batched_requests += len(group)
        start = 0
        for p in group:
            end = start + p.batch.rows
            part = Scored(
                scored.predictions[start:end],
                scored.probabilities[start:end] if scored.probabilities is not None else None,
                scored.seconds,
            )
            if not p.future.done():
                p.future.set_result(part)
            start = end

    def close(self) -> None:
        """Stop the batcher's task and worker thread."""
        if self._task is not None:
            self._task.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def stats(self) -> dict[str, Any]:
        """Return how many batches were scored and how many requests they held."""
        return {"batches": self.batches, "requests": self.batched_requests}
