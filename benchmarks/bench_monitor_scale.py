"""How monitoring grows with the prediction log: a monitoring run over 100k and 1M logged
predictions (time, peak memory), and the web UI's pages over the same store.

The log is written with the serving stage's own writer (PredictionLog), as a deployment
serving a churn classifier would, with a label for one request in fifty. No peer tool
monitors a Steward log; the point is the growth: the run reads the window with DuckDB and
is linear in rows, the pages read only stored series and must not grow at all.

    python benchmarks/bench_monitor_scale.py            # 100k and 1M rows
    python benchmarks/bench_monitor_scale.py 100000     # one size
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZES = [int(a) for a in sys.argv[1:] if a.isdigit()] or [100_000, 1_000_000]


def write(home: str, rows: int) -> None:
    """Register and deploy a churn model, and write its log of ``rows`` predictions."""
    os.environ["STEWARD_HOME"] = home
    sys.path.insert(0, str(ROOT))
    from tests.serve.conftest import churn_frame, churn_model

    import steward
    from steward.serve import log_root
    from steward.serve._predlog import FeedbackEntry, LogEntry, PredictionLog

    X, y = churn_frame(2000, seed=0)
    model = churn_model(X, y, 1.0)
    with steward.start_run(capture_environment_info=False):
        steward.log_model(model, input_example=X, registered_model_name="churn")
    steward.create_deployment("churn", "models:/churn/1", reason="scale")
    log = PredictionLog(
        log_root(steward.get_deployment("churn")), "churn", flush_rows=10**9, flush_seconds=3600
    )
    big, labels = churn_frame(rows, seed=3)
    pred, proba = model.predict(big), model.predict_proba(big)
    now, chunk = time.time(), 10_000
    for i in range(0, rows, chunk):
        part, rid = big.iloc[i : i + chunk], uuid.uuid4().hex
        at = now - 86_000 + 86_000 * i / rows
        log.record(
            LogEntry(
                rid,
                at,
                1,
                "primary",
                "primary",
                "churn",
                1,
                200,
                3.0,
                rows=len(part),
                inputs={c: part[c].tolist() for c in part.columns},
                predictions=pred[i : i + chunk].tolist(),
                probabilities=proba[i : i + chunk].tolist(),
                classes=[0, 1],
            )
        )
        log.record_feedback(FeedbackEntry(rid, at + 5, "primary", label=int(labels.iloc[i])))
        log.flush()
    log.close()
    (Path(home) / "now.txt").write_text(repr(now))


def monitor(home: str) -> None:
    """Run monitoring over the day's log and time the pages, in a fresh process: its peak
    resident memory is the monitoring run's (after imports), not the data generation's."""
    os.environ["STEWARD_HOME"] = home
    from fastapi.testclient import TestClient

    from steward.monitor import monitor_deployment
    from steward.server import create_app

    now = float((Path(home) / "now.txt").read_text())
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    result = monitor_deployment("churn", window="1d", end=now + 1)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = result.rows
    client = TestClient(create_app())
    pages = {}
    for url in ("/ui/deployments/churn/monitoring", "/ui/deployments/churn", "/ui/alerts"):
        client.get(url)
        t = time.perf_counter()
        assert client.get(url).status_code == 200
        pages[url] = (time.perf_counter() - t) * 1000
    shown = ", ".join(f"{u.removeprefix('/ui/')} {ms:.0f} ms" for u, ms in pages.items())
    print(
        f"{rows:>9,} rows | run {seconds:6.1f} s, peak RSS {peak:6.0f} MB "
        f"({peak - before:+.0f} MB over the imports) | pages: {shown}"
    )


def main() -> None:
    print("Monitoring cost against the rows in the window (2 cores, SQLite, local log)")
    for rows in SIZES:
        with tempfile.TemporaryDirectory(prefix="steward-monitor-scale-") as home:
            subprocess.run([sys.executable, __file__, "--write", home, str(rows)], check=True)
            subprocess.run([sys.executable, __file__, "--monitor", home], check=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--write":
        write(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--monitor":
        monitor(sys.argv[2])
    else:
        main()
