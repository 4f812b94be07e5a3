"""The blue-green switch over a real socket, under continuous load: nothing dropped, nothing mixed."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

import steward
from steward.cli import app as cli

from .conftest import records, steward_serve


@pytest.mark.slow
def test_switching_versions_under_load_drops_no_request(churn: dict[str, Any]) -> None:
    X, models = churn["X"], churn["models"]
    row = X.head(1)
    expected = {v: models[v].predict_proba(row)[0].tolist() for v in (1, 2)}
    assert not np.allclose(expected[1], expected[2])  # the versions answer differently
    body = {"records": records(row)}
    results: list[tuple[Any, ...]] = []
    stop = threading.Event()

    def load(url: str) -> None:
        with httpx.Client(timeout=30) as client:
            while not stop.is_set():
                sent = time.monotonic()  # a request in flight at the switch may finish on v1
                try:
                    response = client.post(f"{url}/predict", json=body)
                    answer = response.json()
                    results.append(
                        (
                            response.status_code,
                            answer.get("version"),
                            answer.get("probabilities"),
                            sent,
                            time.monotonic(),
                        )
                    )
                except Exception as exc:  # a dropped connection is what the test looks for
                    results.append(("error", repr(exc), None, sent, time.monotonic()))

    def served_more(count: int, at_least: float) -> None:
        """Let the load run ``at_least`` seconds and until ``count`` more answers came."""
        target, start = len(results) + count, time.monotonic()
        while time.monotonic() - start < 120 and (
            len(results) < target or time.monotonic() - start < at_least
        ):
            time.sleep(0.02)

    with steward_serve("models:/churn/1", "--poll", "0.1") as url:
        threads = [threading.Thread(target=load, args=(url,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        served_more(60, 1.0)
        switched = CliRunner().invoke(
            cli,
            ["deploy", "set-model", "churn", "models:/churn/2", "--reason", "v2", "--wait", url],
            catch_exceptions=False,
        )
        assert switched.exit_code == 0, switched.output
        assert "serves revision 2" in switched.output
        after_switch = time.monotonic()
        served_more(60, 1.0)
        rolled = CliRunner().invoke(
            cli,
            ["deploy", "set-model", "churn", "models:/churn/1", "--wait", url],
            catch_exceptions=False,
        )
        assert rolled.exit_code == 0, rolled.output
        after_rollback = time.monotonic()
        served_more(60, 1.0)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        status = httpx.get(f"{url}/deployment").json()
    assert len(results) >= 180
    failures = [r for r in results if r[0] != 200]
    assert failures == [], failures[:5]
    for _, version, probabilities, _, _ in results:  # each answer is the named version's own
        assert np.allclose(probabilities[0], expected[version])
    # sent after the switch was confirmed, answered before the rollback began: version 2
    between = [r[1] for r in results if after_switch < r[3] and r[4] < after_rollback - 0.3]
    assert between and set(between) == {2}
    assert {r[1] for r in results if r[3] > after_rollback + 0.3} == {1}
    assert [s["to_revision"] for s in status["switches"]] == [2, 3]
    assert steward.get_deployment("churn").revision == 3
