"""Micro-batching: concurrent requests scored together, each getting exactly its own answers."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import numpy as np
import pytest

from steward.serve._batcher import MicroBatcher
from steward.serve._decode import Batch
from steward.serve._runtime import load_served

from .conftest import records, steward_serve


@pytest.mark.slow
def test_concurrent_requests_are_batched_and_never_mixed_up(churn: dict[str, Any]) -> None:
    X, model = churn["X"], churn["models"][1]
    expected = model.predict_proba(X)

    async def hammer(url: str) -> list[tuple[int, dict[str, Any]]]:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:

            async def one(i: int) -> tuple[int, dict[str, Any]]:
                n = 1 + i % 3  # requests of 1, 2 and 3 rows
                rows = X.iloc[i : i + n]
                response = await client.post("/predict", json={"records": records(rows)})
                return i, response.json()

            return await asyncio.gather(*(one(i) for i in range(240)))

    with steward_serve("models:/churn/1", "--batch-size", "16", "--batch-wait-ms", "5") as url:
        answers = asyncio.run(hammer(url))
        status = httpx.get(f"{url}/deployment").json()
    for i, body in answers:
        n = 1 + i % 3
        assert len(body["predictions"]) == n, body
        assert np.allclose(body["probabilities"], expected[i : i + n])
    batching = status["batching"]
    assert batching["requests"] == 240 and batching["batches"] < 240  # some were scored together


def test_a_lone_request_does_not_wait_for_a_batch(churn: dict[str, Any]) -> None:
    served = load_served("primary", "models:/churn/1")
    rows = churn["X"].head(2)
    batch = Batch({c: rows[c].tolist() for c in rows.columns}, 2)

    async def run() -> tuple[Any, float]:
        batcher = MicroBatcher(64, 500.0)  # half a second of patience...
        loop = asyncio.get_running_loop()
        started = loop.time()
        scored = await batcher.score(served, batch)
        elapsed = loop.time() - started
        batcher.close()
        return scored, elapsed

    scored, elapsed = asyncio.run(run())
    assert elapsed < 0.4  # ...spent only when other requests are in flight
    assert np.allclose(scored.probabilities, churn["models"][1].predict_proba(rows))
