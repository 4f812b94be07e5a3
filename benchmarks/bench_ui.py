"""Web UI at scale: Steward's pages against MLflow's UI API on the same store sizes.

Run: python benchmarks/bench_ui.py [--runs 10000] [--metrics 100] [--quick]

Both stores get the same runs (N runs x M metrics x 5 params, one run with a 100,000-point
metric series), inserted in bulk into each tool's own schema (the tools' APIs would take
an hour to log this much; what is measured is reading it back). Then each server runs on
127.0.0.1 and we time what a person's browser asks for: Steward's whole HTML pages, and
the REST calls MLflow's UI makes for the same views (its JSON only: the browser then still
has to render it).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).parent
RESULTS = HERE / "results" / "ui.json"
LONG = 100_000


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(
    command: list[str], env: dict[str, str], health: str, timeout: float = 120
) -> Iterator[str]:
    """Run a server subprocess until the block ends; yield its base URL."""
    port = free_port()
    command = [c.replace("{port}", str(port)) for c in command]
    log_path = Path(tempfile.mkdtemp(prefix="bench-ui-")) / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if httpx.get(url + health, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise RuntimeError(f"{command[:3]} did not start; see {log_path}")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def timed(call: Callable[[], httpx.Response], repeats: int) -> float:
    """Return the median seconds of ``call`` (after one warm-up), checking it succeeds."""
    call().raise_for_status()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        response = call()
        times.append(time.perf_counter() - start)
        response.raise_for_status()
    return statistics.median(times)


def populate_steward(home: Path, runs: int, metrics: int) -> tuple[list[str], str, float]:
    """Fill a fresh Steward store; return run ids, the long-series run id, and seconds taken."""
    os.environ["STEWARD_HOME"] = str(home)
    from steward._backend import SqlBackend

    backend = SqlBackend.open(f"sqlite:///{home / 'steward.db'}", str(home / "artifacts"))
    first = backend.create_run(project="bench", experiment="ui", name="seed")  # creates both
    backend.update_run(first.id, status="FINISHED")
    started = time.perf_counter()
    rng = random.Random(0)
    now = time.time()
    ids = [uuid.uuid4().hex for _ in range(runs)]
    con = sqlite3.connect(home / "steward.db", timeout=60)
    experiment_id = con.execute("SELECT id FROM experiments WHERE name = 'ui'").fetchone()[0]
    with con:
        con.executemany(
            "INSERT INTO runs (id, experiment_id, name, status, start_time, end_time, user, context) "
            "VALUES (?, ?, ?, 'FINISHED', ?, ?, 'bench', '{}')",
            [
                (rid, experiment_id, f"run-{i:06d}", now + i, now + i + 10)
                for i, rid in enumerate(ids)
            ],
        )
        con.executemany(
            "INSERT INTO params (run_id, key, value) VALUES (?, ?, ?)",
            [
                (rid, f"p{j}", str(rng.choice(["a", "b", "c", "d"])))
                for rid in ids
                for j in range(5)
            ],
        )
        points = [(rid, f"m{j:03d}", rng.random(), 0, now) for rid in ids for j in range(metrics)]
        con.executemany(
            "INSERT INTO metrics (run_id, key, value, step, timestamp) VALUES (?, ?, ?, ?, ?)",
            points,
        )
        con.executemany(
            "INSERT INTO latest_metrics (run_id, key, value, step, timestamp, min, max, count) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 1)",
            [(rid, k, v, s, t, v, v) for rid, k, v, s, t in points],
        )
        con.executemany(
            "INSERT INTO experiment_keys (experiment_id, kind, key) VALUES (?, ?, ?)",
            [(experiment_id, "metrics", f"m{j:03d}") for j in range(metrics)]
            + [(experiment_id, "params", f"p{j}") for j in range(5)]
            + [(experiment_id, "metrics", "loss")],
        )
        long_run = ids[0]
        con.executemany(
            "INSERT INTO metrics (run_id, key, value, step, timestamp) VALUES (?, 'loss', ?, ?, ?)",
            [(long_run, 1.0 / (s + 1), s, now) for s in range(LONG)],
        )
        con.execute(
            "INSERT INTO latest_metrics (run_id, key, value, step, timestamp, min, max, count) "
            "VALUES (?, 'loss', ?, ?, ?, ?, 1.0, ?)",
            (long_run, 1.0 / LONG, LONG - 1, now, 1.0 / LONG, LONG),
        )
    con.execute("ANALYZE")
    con.close()
    backend.close()
    return ids, long_run, time.perf_counter() - started


def populate_mlflow(folder: Path, runs: int, metrics: int) -> tuple[list[str], str, str, float]:
    """Fill a fresh MLflow store through its own schema; return ids, long run, experiment, seconds."""
    import logging

    import mlflow
    from mlflow.tracking import MlflowClient

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    db = folder / "mlflow.db"
    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    experiment_id = client.create_experiment(
        "ui", artifact_location=(folder / "artifacts").as_uri()
    )
    del mlflow
    started = time.perf_counter()
    rng = random.Random(0)
    now = int(time.time() * 1000)
    ids = [uuid.uuid4().hex for _ in range(runs)]
    con = sqlite3.connect(db, timeout=60)
    with con:
        con.executemany(
            "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, "
            "start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id) "
            "VALUES (?, ?, 'UNKNOWN', '', '', 'bench', 'FINISHED', ?, ?, '', 'active', ?, ?)",
            [
                (
                    rid,
                    f"run-{i:06d}",
                    now + i,
                    now + i + 10,
                    f"{(folder / 'artifacts').as_uri()}/{rid}",
                    int(experiment_id),
                )
                for i, rid in enumerate(ids)
            ],
        )
        con.executemany(
            "INSERT INTO tags (key, value, run_uuid) VALUES ('mlflow.runName', ?, ?)",
            [(f"run-{i:06d}", rid) for i, rid in enumerate(ids)],
        )
        con.executemany(
            "INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)",
            [
                (f"p{j}", str(rng.choice(["a", "b", "c", "d"])), rid)
                for rid in ids
                for j in range(5)
            ],
        )
        points = [
            (f"m{j:03d}", rng.random(), now, rid, 0, 0) for rid in ids for j in range(metrics)
        ]
        con.executemany(
            "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, ?, ?)",
            points,
        )
        con.executemany(
            "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES (?, ?, ?, ?, ?, ?)",
            [(k, v, t, s, n, rid) for k, v, t, rid, s, n in points],
        )
        long_run = ids[0]
        con.executemany(
            "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES ('loss', ?, ?, ?, ?, 0)",
            [(1.0 / (s + 1), now + s, long_run, s) for s in range(LONG)],
        )
        con.execute(
            "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES ('loss', ?, ?, ?, 0, ?)",
            (1.0 / LONG, now + LONG, LONG - 1, long_run),
        )
    con.close()
    return ids, long_run, experiment_id, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--metrics", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="1,000 runs x 20 metrics")
    parser.add_argument("--no-mlflow", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.metrics, args.repeats = 1000, 20, 3
    work = Path(tempfile.mkdtemp(prefix="steward-bench-ui-"))
    print(
        f"{args.runs:,} runs x {args.metrics} metrics x 5 params, one {LONG:,}-point series; work in {work}"
    )
    ids, long_run, seconds = populate_steward(work / "steward", args.runs, args.metrics)
    print(f"Steward store filled in {seconds:.1f}s")
    results: dict[str, Any] = {
        "runs": args.runs,
        "metrics": args.metrics,
        "steward": {},
        "mlflow": {},
    }
    env = {**os.environ, "STEWARD_HOME": str(work / "steward")}
    steward_cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "steward.server:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--log-level",
        "warning",
    ]
    with serve(steward_cmd, env, "/health") as url, httpx.Client(base_url=url, timeout=120) as http:
        pages = {
            "runs table, page 1, sorted by a metric": "/ui/runs?project=bench&experiment=ui&order=metrics.m000+DESC",
            "runs table, filtered (2 clauses)": "/ui/runs?project=bench&experiment=ui&filter=metrics.m001+%3E+0.5+and+params.p0+%3D+%27a%27",
            f"run page ({args.metrics} metrics, {LONG:,}-point chart)": f"/ui/runs/{long_run}",
            "compare 2 runs": f"/ui/compare?ids={ids[1]}&ids={ids[2]}",
            "projects home": "/ui/",
        }
        for label, path in pages.items():
            results["steward"][label] = timed(lambda p=path: http.get(p), args.repeats)
            size = len(http.get(path).content)
            results["steward"][label + " bytes"] = size
    if not args.no_mlflow:
        m_ids, m_long, experiment_id, seconds = populate_mlflow(
            work / "mlflow", args.runs, args.metrics
        )
        print(f"MLflow store filled in {seconds:.1f}s")
        mlflow_cmd = [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            f"sqlite:///{work / 'mlflow' / 'mlflow.db'}",
            "--host",
            "127.0.0.1",
            "--port",
            "{port}",
            "--workers",
            "1",
        ]
        with (
            serve(mlflow_cmd, dict(os.environ), "/health", timeout=180) as url,
            httpx.Client(base_url=url, timeout=300) as http,
        ):
            api = "/ajax-api/2.0/mlflow"
            search = {
                "experiment_ids": [experiment_id],
                "max_results": 50,
                "order_by": ["metrics.m000 DESC"],
            }
            filtered = search | {"filter": "metrics.m001 > 0.5 and params.p0 = 'a'"}
            calls = {
                "runs table, page 1, sorted by a metric": lambda: http.post(
                    f"{api}/runs/search", json=search
                ),
                "runs table, filtered (2 clauses)": lambda: http.post(
                    f"{api}/runs/search", json=filtered
                ),
                f"run page ({args.metrics} metrics, {LONG:,}-point chart)": lambda: (
                    _mlflow_run_page(http, api, m_long)
                ),
                "compare 2 runs": lambda: _mlflow_compare(http, api, m_ids[1:3]),
                "projects home": lambda: http.post(
                    f"{api}/experiments/search", json={"max_results": 100}
                ),
            }
            for label, call in calls.items():
                results["mlflow"][label] = timed(call, args.repeats)
    print()
    print(f"{'view':48} {'Steward (HTML page)':>20} {'MLflow (UI API JSON)':>21} {'ratio':>7}")
    for label in results["steward"]:
        if label.endswith(" bytes"):
            continue
        ours = results["steward"][label]
        theirs = results["mlflow"].get(label)
        ratio = f"{theirs / ours:6.1f}x" if theirs else "    —"
        print(
            f"{label:48} {ours * 1000:17.0f} ms {theirs * 1000 if theirs else float('nan'):18.0f} ms {ratio}"
        )
    print(
        "\nratio = MLflow time / Steward time (higher: Steward faster). Every Steward page must stay under 1 s."
    )
    slow = [k for k, v in results["steward"].items() if not k.endswith(" bytes") and v >= 1.0]
    print("all Steward pages under 1 s" if not slow else f"OVER 1 s: {slow}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))


def _mlflow_run_page(http: httpx.Client, api: str, run_id: str) -> httpx.Response:
    run = http.get(f"{api}/runs/get", params={"run_id": run_id})
    run.raise_for_status()
    return http.get(f"{api}/metrics/get-history", params={"run_id": run_id, "metric_key": "loss"})


def _mlflow_compare(http: httpx.Client, api: str, ids: list[str]) -> httpx.Response:
    last = None
    for rid in ids:
        last = http.get(f"{api}/runs/get", params={"run_id": rid})
        last.raise_for_status()
    assert last is not None
    return last


if __name__ == "__main__":
    main()
