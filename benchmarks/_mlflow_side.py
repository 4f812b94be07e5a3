"""MLflow's half of the tracking benchmarks: its public API over a fresh SQLite store."""

from __future__ import annotations

import logging
import os
import sqlite3
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
from _common import SearchData

# Before MLflow is imported: no telemetry, no network, MLflow's default synchronous logging.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.pop("MLFLOW_ENABLE_ASYNC_LOGGING", None)
os.environ.pop("MLFLOW_TRACKING_URI", None)

import mlflow
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

BATCH_LIMIT = 1000  # MLflow refuses a log_batch of more than 1000 metrics


def quiet() -> None:
    """Silence MLflow's and Alembic's informational logs and warnings."""
    for name in ("mlflow", "alembic", "sqlalchemy", "urllib3"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="mlflow")
    warnings.filterwarnings("ignore", category=FutureWarning)


def version() -> str:
    return str(mlflow.__version__)


class Store:
    """A fresh MLflow SQLite store in ``folder``, its schema created by MLflow's migrations."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.db = folder / "mlflow.db"
        self.uri = f"sqlite:///{self.db}"
        mlflow.set_tracking_uri(self.uri)
        self.client = MlflowClient(tracking_uri=self.uri)
        self.client.search_experiments()  # creates the schema (runs MLflow's migrations)

    def experiment(self, name: str) -> str:
        """Create experiment ``name`` with artifacts inside the store folder; return its id."""
        location = (self.folder / "artifacts" / name).as_uri()
        return str(self.client.create_experiment(name, artifact_location=location))

    def count_points(self, run_id: str, key: str) -> int:
        con = sqlite3.connect(self.db)
        try:
            row = con.execute(
                "SELECT count(*) FROM metrics WHERE run_uuid = ? AND key = ?", (run_id, key)
            ).fetchone()
            return int(row[0])
        finally:
            con.close()


def log_metric_points(folder: Path, n: int) -> dict[str, Any]:
    """Log ``n`` single points with mlflow.log_metric in one run; time until the run ended."""
    store = Store(folder)
    mlflow.set_experiment(experiment_id=store.experiment("log-metric"))
    start = time.perf_counter()
    with mlflow.start_run() as run:
        for i in range(n):
            mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
    seconds = time.perf_counter() - start
    stored = store.count_points(run.info.run_id, "loss")
    assert stored == n, f"MLflow stored {stored} of {n} points"
    return {"seconds": seconds, "points": n, "points_per_s": n / seconds, "stored": stored}


def log_batch_points(folder: Path, values: list[float]) -> dict[str, Any]:
    """Store ``values`` with MlflowClient.log_batch, 1000 metrics a call (MLflow's limit)."""
    n = len(values)
    store = Store(folder)
    run_id = store.client.create_run(store.experiment("log-batch")).info.run_id
    start = time.perf_counter()
    ts = int(time.time() * 1000)
    metrics = [Metric("loss", v, ts, i) for i, v in enumerate(values)]
    for first in range(0, n, BATCH_LIMIT):
        store.client.log_batch(run_id, metrics=metrics[first : first + BATCH_LIMIT])
    seconds = time.perf_counter() - start
    store.client.set_terminated(run_id)
    stored = store.count_points(run_id, "loss")
    assert stored == n, f"MLflow stored {stored} of {n} points"
    return {"seconds": seconds, "points": n, "points_per_s": n / seconds, "stored": stored}


def populate_sql(folder: Path, data: SearchData, n: int) -> tuple[Store, str, float]:
    """Insert the first ``n`` runs of ``data`` into a fresh store's own schema.

    MLflow creates the store and the experiment (so its migrations define the schema);
    the rows are those its SQL store writes for create_run + log_batch + set_terminated.
    Returns the store, the experiment id and the seconds the inserts took.
    """
    store = Store(folder)
    experiment_id = store.experiment("search")
    artifact_root = (folder / "artifacts" / "search").as_uri()
    began = time.perf_counter()
    now = int(time.time() * 1000)
    runs, tags, params, metrics, latest = [], [], [], [], []
    for i in range(n):
        rid = uuid.uuid4().hex
        name = f"run-{i:06d}"
        t = now + i
        runs.append(
            (
                rid,
                name,
                "UNKNOWN",
                "",
                "",
                "bench",
                "FINISHED",
                t,
                t + 10,
                "",
                "active",
                f"{artifact_root}/{rid}/artifacts",
                int(experiment_id),
            )
        )
        tags.append(("mlflow.runName", name, rid))
        tags.append(("mlflow.user", "bench", rid))
        params += [(k, v, rid) for k, v in data.run_params(i).items()]
        for k, v in data.run_metrics(i).items():
            metrics.append((k, v, t, rid, 0, 0))
            latest.append((k, v, t, 0, 0, rid))
    con = sqlite3.connect(store.db, timeout=60)
    try:
        with con:
            con.executemany(
                "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, "
                "user_id, status, start_time, end_time, source_version, lifecycle_stage, "
                "artifact_uri, experiment_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                runs,
            )
            con.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)", tags)
            con.executemany("INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)", params)
            con.executemany(
                "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                metrics,
            )
            con.executemany(
                "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                latest,
            )
    finally:
        con.close()
    return store, experiment_id, time.perf_counter() - began


def search(experiment_id: str, filter_string: str, max_results: int) -> pd.DataFrame:
    """Return MLflow's search result as a DataFrame."""
    frame = mlflow.search_runs(
        experiment_ids=[experiment_id], filter_string=filter_string, max_results=max_results
    )
    assert isinstance(frame, pd.DataFrame)
    return frame


def count_all(experiment_id: str, n: int) -> int:
    """Return how many runs MLflow's search finds in the experiment (no filter)."""
    return len(search(experiment_id, "", n))
