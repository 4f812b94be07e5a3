"""Steward's half of the tracking benchmarks, through the public API (local store or HTTP)."""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
from _common import SearchData, environ

import steward
from steward._backend import get_backend, set_backend

PROJECT = "bench"


@contextmanager
def target(home: Path, uri: str | None = None) -> Iterator[None]:
    """Point the public API at a fresh local store in ``home``, or at the server ``uri``."""
    with environ(
        STEWARD_HOME=str(home),
        STEWARD_URI=uri,
        STEWARD_STORE_URI=None,
        STEWARD_ARTIFACT_URI=None,
        STEWARD_ASYNC_LOGGING=None,
    ):
        try:
            get_backend()  # open (and migrate) the store before anything is timed
            yield
        finally:
            get_backend().close()
            set_backend(None)


def log_metric_points(n: int) -> dict[str, Any]:
    """Log ``n`` single points in one run; time from start_run until the run has ended."""
    start = time.perf_counter()
    with steward.start_run("log-metric", project=PROJECT, experiment="log-metric") as run:
        for i in range(n):
            steward.log_metric("loss", 1.0 / (i + 1), i)
    seconds = time.perf_counter() - start
    stored = steward.get_run(run.id).metrics["loss"].count
    assert stored == n, f"Steward stored {stored} of {n} points"
    return {"seconds": seconds, "points": n, "points_per_s": n / seconds, "stored": stored}


def log_batch_points(values: list[float], form: str) -> dict[str, Any]:
    """Store ``values`` as one metric with one log_batch call; time building and storing them."""
    n = len(values)
    with steward.start_run(
        f"log-batch-{form}", project=PROJECT, experiment="log-batch", capture_environment_info=False
    ) as run:
        start = time.perf_counter()
        if form == "tuples":
            returned = steward.log_batch(metrics=[("loss", v, i) for i, v in enumerate(values)])
        else:
            returned = steward.log_batch(metrics={"loss": values})
        seconds = time.perf_counter() - start
    stored = steward.get_run(run.id).metrics["loss"].count
    assert returned == n and stored == n, f"Steward stored {stored} of {n} points"
    return {"seconds": seconds, "points": n, "points_per_s": n / seconds, "stored": stored}


def populate_api(
    data: SearchData, start: int, stop: int, deadline: float = float("inf")
) -> tuple[int, float]:
    """Create runs ``start..stop-1`` with the public API, stopping early at ``deadline``.

    Returns the index after the last run created and the seconds it took.
    """
    began = time.perf_counter()
    i = start
    while i < stop and (i % 100 or time.perf_counter() < deadline):
        with steward.start_run(
            f"run-{i:06d}", project=PROJECT, experiment="search", capture_environment_info=False
        ):
            steward.log_batch(metrics=data.run_metrics(i), params=data.run_params(i))
        i += 1
    return i, time.perf_counter() - began


def populate_sql(db: Path, data: SearchData, start: int, stop: int) -> float:
    """Insert runs ``start..stop-1`` straight into Steward's tables (as the API would write them).

    Needs at least one run made by the API in the same experiment: its experiment id, user
    and context are copied. No events are written (search does not read them).
    """
    began = time.perf_counter()
    con = sqlite3.connect(db, timeout=60)
    try:
        experiment_id, context, user = con.execute(
            "SELECT r.experiment_id, r.context, r.user FROM runs r "
            "JOIN experiments e ON e.id = r.experiment_id JOIN projects p ON p.id = e.project_id "
            "WHERE p.name = ? AND e.name = 'search' ORDER BY r.start_time LIMIT 1",
            (PROJECT,),
        ).fetchone()
        now = time.time()
        runs, params, metrics, latest = [], [], [], []
        for i in range(start, stop):
            rid = uuid.uuid4().hex
            t = now + (i - start) * 1e-4
            runs.append(
                (rid, experiment_id, f"run-{i:06d}", "FINISHED", t, t + 0.01, user, context)
            )
            params += [(rid, k, v) for k, v in data.run_params(i).items()]
            for k, v in data.run_metrics(i).items():
                metrics.append((rid, k, v, 0, t))
                latest.append((rid, k, v, 0, t, v, v, 1))
        with con:
            con.executemany(
                "INSERT INTO runs (id, experiment_id, name, status, start_time, end_time, "
                "parent_run_id, user, error, environment_id, context) "
                "VALUES (?, ?, ?, ?, ?, ?, NULL, ?, NULL, NULL, ?)",
                runs,
            )
            con.executemany("INSERT INTO params (run_id, key, value) VALUES (?, ?, ?)", params)
            con.executemany(
                "INSERT INTO metrics (run_id, key, value, step, timestamp) VALUES (?, ?, ?, ?, ?)",
                metrics,
            )
            con.executemany(
                "INSERT INTO latest_metrics (run_id, key, value, step, timestamp, min, max, count) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                latest,
            )
    finally:
        con.close()
    return time.perf_counter() - began


def count_runs(db: Path) -> int:
    """Return the number of runs in the Steward store ``db``."""
    con = sqlite3.connect(db)
    try:
        return int(con.execute("SELECT count(*) FROM runs").fetchone()[0])
    finally:
        con.close()


def snapshot(db: Path, dest: Path) -> None:
    """Copy the SQLite store ``db`` (with its write-ahead log) to ``dest`` consistently."""
    src, dst = sqlite3.connect(db), sqlite3.connect(dest)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def search(filter_string: str, max_results: int) -> pd.DataFrame:
    """Return Steward's search result as a DataFrame."""
    frame = steward.search_runs(filter_string, max_results=max_results)
    assert frame.attrs.get("next_page_token") is None, "max_results did not cover every match"
    return frame
