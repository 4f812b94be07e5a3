"""Batch scoring benchmark: `steward score` against plain model.predict in memory, and on Dask.

Run: python benchmarks/bench_batch.py [--rows N] [--repeat 2] [--quick]

N rows (default 10,000,000) of 30 numeric columns are written to a Parquet file (row
groups of 250,000 rows); a StandardScaler + LogisticRegression pipeline is trained on a
sample and registered. At N/10 and N rows, each of these runs in a fresh subprocess,
whose peak memory (resident set of the process and its children, sampled every 20 ms)
is recorded; the file is read through before each, so every job finds it in the page
cache:

- the limit: the pipeline's own ``predict`` over the rows already in memory (read with
  pandas first; only ``predict`` is timed), and ``predict`` + ``predict_proba``, which
  is the model work ``steward score`` does for a classifier;
- ``steward.serve.score`` in process (chunks of 100,000 rows, output written as Parquet);
- the same with ``cluster="local"`` and 2 worker processes (cluster start included).

Each job runs ``--repeat`` times (2) and the fastest counts: the machine may be shared.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "src")]  # this checkout's steward

import numpy as np  # noqa: E402
import psutil  # noqa: E402

RESULTS = HERE / "results" / "batch.json"
COLUMNS = [f"x{i:02d}" for i in range(30)]
ROW_GROUP = 250_000
CHUNK_ROWS = 100_000


def write_data(path: Path, rows: int) -> None:
    """Write ``rows`` rows of 30 standard-normal columns as Parquet, a row group at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    schema = pa.schema([(c, pa.float64()) for c in COLUMNS])
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, rows, ROW_GROUP):
            n = min(ROW_GROUP, rows - start)
            block = rng.standard_normal((n, len(COLUMNS))) * 3 + 1
            writer.write_table(pa.table(dict(zip(COLUMNS, block.T, strict=True)), schema=schema))


def register_model(data: Path) -> str:
    """Train the pipeline on the first 100,000 rows, register it; return its URI."""
    import pandas as pd
    import pyarrow.parquet as pq
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import steward

    sample = next(pq.ParquetFile(data).iter_batches(batch_size=100_000)).to_pandas()
    weights = np.random.default_rng(1).standard_normal(len(COLUMNS))
    noise = np.random.default_rng(2).standard_normal(len(sample))
    y = pd.Series(np.where(sample.to_numpy() @ weights + noise > 0, "yes", "no"))
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(sample, y)
    with steward.start_run("train", capture_environment_info=False):
        steward.log_model(model, input_example=sample, registered_model_name="bench")
    return "models:/bench/1"


def job_limit(data: Path, uri: str) -> dict[str, Any]:
    """Return the times of the pipeline's own predict (and predict_proba) on rows in memory."""
    import pandas as pd

    import steward

    start = time.perf_counter()
    frame = pd.read_parquet(data)
    read = time.perf_counter() - start
    model = steward.load_model(uri).raw  # the scikit-learn pipeline itself
    start = time.perf_counter()
    model.predict(frame)
    predict = time.perf_counter() - start
    start = time.perf_counter()
    model.predict_proba(frame)
    proba = time.perf_counter() - start
    return {"read": read, "predict": predict, "predict_and_proba": predict + proba}


def job_score(data: Path, uri: str, out: Path, cluster: str | None) -> dict[str, Any]:
    """Return the time of one `steward score` job (model load and cluster start included)."""
    from steward.serve import score

    start = time.perf_counter()
    result = score(uri, data, out, chunk_rows=CHUNK_ROWS, cluster=cluster, workers=2)
    return {"seconds": time.perf_counter() - start, "rows": result.rows}


def warm(path: Path) -> None:
    """Read a file through, so that every job finds it in the page cache.

    The limit's 10 GB of memory can push the file out of the cache, and the next job
    would then measure the disk.
    """
    with path.open("rb") as fh:
        while fh.read(64 << 20):
            pass


def measure(args: list[str], env: dict[str, str]) -> tuple[dict[str, Any], int]:
    """Return a job's JSON result and the peak memory of its process tree, in bytes."""
    warm(Path(args[args.index("--data") + 1]))
    proc = subprocess.Popen(
        [sys.executable, __file__, *args], env=env, stdout=subprocess.PIPE, text=True
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        root = psutil.Process(proc.pid)
        while not done.is_set():
            total = 0
            with contextlib.suppress(psutil.Error):  # a process that just ended
                for p in [root, *root.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        total += p.memory_info().rss
            peak = max(peak, total)
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = proc.communicate()
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"job {args} failed with exit code {proc.returncode}")
    return json.loads(output.strip().splitlines()[-1]), peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows of the large file")
    parser.add_argument("--quick", action="store_true", help="500,000 rows (and 50,000), once")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each job; the best counts")
    parser.add_argument("--job", choices=["limit", "score"], help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--cluster", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.job == "limit":
        print(json.dumps(job_limit(args.data, args.model)))
        return
    if args.job == "score":
        print(json.dumps(job_score(args.data, args.model, args.out, args.cluster)))
        return

    rows = 500_000 if args.quick else args.rows
    repeat = 1 if args.quick else args.repeat
    sizes = [rows // 10, rows]
    work = Path(tempfile.mkdtemp(prefix="steward-bench-batch-"))
    env = {**os.environ, "STEWARD_HOME": str(work / "steward")}
    os.environ["STEWARD_HOME"] = env["STEWARD_HOME"]
    results: list[dict[str, Any]] = []
    try:
        files = {}
        for n in sizes:
            files[n] = work / f"data-{n}.parquet"
            start = time.perf_counter()
            write_data(files[n], n)
            print(
                f"wrote {n:,} rows x 30 columns in {time.perf_counter() - start:.1f}s", flush=True
            )
        uri = register_model(files[sizes[0]])
        for n in sizes:
            data = str(files[n])
            limits = [
                measure(["--job", "limit", "--data", data, "--model", uri], env)
                for _ in range(repeat)
            ]
            entry: dict[str, Any] = {
                "rows": n,
                "limit": {k: min(r[k] for r, _ in limits) for k in limits[0][0]},
                "limit_peak": max(peak for _, peak in limits),
            }
            for label, cluster in (("local", None), ("cluster", "local")):
                out = work / f"scored-{n}-{label}.parquet"
                job = ["--job", "score", "--data", data, "--model", uri, "--out", str(out)]
                job += ["--cluster", cluster] if cluster else []
                runs = []
                for _ in range(repeat):
                    timing, peak = measure(job, env)
                    assert timing["rows"] == n, timing
                    runs.append((timing["seconds"], peak))
                    if out.is_dir():
                        shutil.rmtree(out)
                    else:
                        out.unlink()
                entry[label] = min(seconds for seconds, _ in runs)
                entry[f"{label}_peak"] = max(peak for _, peak in runs)
            results.append(entry)
            print(f"measured {n:,} rows", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(results, repeat)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))


def report(results: list[dict[str, Any]], repeat: int) -> None:
    """Print rows/s, the ratio to the limit and peak memory of each measure, at each size."""
    print(
        f"\nPython {platform.python_version()}, {os.cpu_count()} cores; 30 float64 columns, "
        f"row groups of {ROW_GROUP:,} rows, chunks of {CHUNK_ROWS:,} rows; "
        f"best of {repeat} (peak RSS: the highest)\n"
    )
    print(
        f"{'rows':>11}  {'measure':46} {'seconds':>8} {'rows/s':>11} {'of limit':>9} {'peak RSS':>9}"
    )
    for r in results:
        n, limit = r["rows"], r["limit"]
        lines = [
            ("limit: predict, rows in memory", limit["predict"], r["limit_peak"]),
            ("limit: predict + predict_proba, in memory", limit["predict_and_proba"], None),
            ("steward score, in process", r["local"], r["local_peak"]),
            ("steward score --cluster local (2 workers)", r["cluster"], r["cluster_peak"]),
        ]
        for i, (label, seconds, peak) in enumerate(lines):
            share = f"{limit['predict'] / seconds:8.0%}" if i else f"{'100%':>8}"
            memory = f"{peak / 2**20:7.0f}MB" if peak else f"{'(same)':>9}"
            size = f"{n:,}" if i == 0 else ""
            print(f"{size:>11}  {label:46} {seconds:8.2f} {n / seconds:11,.0f} {share} {memory}")
        print(
            f"{'':11}  reading the Parquet file into pandas for the limit: {limit['read']:.2f}s; "
            f"cluster speed-up over in process: {r['local'] / r['cluster']:.2f}x\n"
        )
    if len(results) > 1:
        small, large = results[0], results[-1]
        growth = large["rows"] / small["rows"]
        print(
            f"{growth:.0f}x the rows: in process {large['local'] / small['local']:.1f}x the time "
            f"and {large['local_peak'] / small['local_peak']:.2f}x the peak memory; on the "
            f"cluster {large['cluster'] / small['cluster']:.1f}x the time and "
            f"{large['cluster_peak'] / small['cluster_peak']:.2f}x the peak memory"
        )


if __name__ == "__main__":
    main()
