"""Drift detection: Steward against Evidently's data drift report and a bare NumPy/SciPy
computation of the same statistics, on the same data, each in a fresh process.

Run: python benchmarks/bench_drift.py [--quick]

Reference and current tables of N rows x 20 columns (15 numeric of five shapes, 5
categorical of 3 to 50 values), drift injected in 4 (num_0, num_1, num_2, cat_0), written
once to Parquet under benchmarks/.work/drift/. Each side reads both files into pandas
(not timed: the data), then is timed from the raw tables to the JSON result with its
verdicts; "extra memory" is the process's peak resident memory during that work less
its memory with the data loaded. Evidently 0.7.23 does not import with pandas 3, so it
runs in its own virtual environment, which this script creates on first use from PyPI
(python -m venv + pip install evidently==0.7.23 'pandas<3' pyarrow psutil) under
benchmarks/.work/peers/evidently-0.7.23/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work" / "drift"
PEER = HERE / ".work" / "peers" / "evidently-0.7.23"
RESULTS = HERE / "results" / "drift.json"
SIDES = HERE / "_drift_sides.py"
NUMERIC = [f"num_{i}" for i in range(15)]
CATEGORICAL = [f"cat_{i}" for i in range(5)]
DRIFTED = ["cat_0", "num_0", "num_1", "num_2"]
CARDINALITY = [5, 3, 10, 20, 50]
GENERATE_ROWS = 1_000_000


def table(n: int, seed: int, drifted: bool) -> pa.Table:
    """Return n rows of the benchmark's columns; with ``drifted``, shifted in 4 of them."""
    rng = np.random.default_rng(seed)
    columns: dict[str, Any] = {}
    for i, name in enumerate(NUMERIC):
        shape = i % 5
        if shape == 0:
            values = rng.normal(50, 10, n)
        elif shape == 1:
            values = rng.lognormal(3, 0.5, n)
        elif shape == 2:
            values = rng.uniform(0, 100, n)
        elif shape == 3:
            values = rng.exponential(5, n)
        else:
            values = rng.poisson(4, n).astype(np.int64)
        columns[name] = values
    for name, k in zip(CATEGORICAL, CARDINALITY, strict=True):
        p = 1.0 / np.arange(1, k + 1) if name != "cat_0" else np.ones(k)
        if drifted and name == "cat_0":
            p = np.array([0.4, 0.15, 0.15, 0.15, 0.15])
        labels = np.array([f"{name}_v{j}" for j in range(k)])
        columns[name] = labels[rng.choice(k, n, p=p / p.sum())]
    if drifted:
        columns["num_0"] = columns["num_0"] + 5.0  # mean moves half a standard deviation
        columns["num_1"] = columns["num_1"] * 1.5  # a lognormal grows by half
        moved = rng.random(n) < 0.2
        columns["num_2"] = np.where(
            moved, columns["num_2"] + 50.0, columns["num_2"]
        )  # a fifth moves
    return pa.table(columns)


def dataset(n: int, kind: str) -> Path:
    """Return the Parquet file of n rows of the reference or current, written on first use."""
    path = WORK / f"{kind}_{n}.parquet"
    if path.exists():
        return path
    WORK.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    base = 1000 if kind == "reference" else 2000
    first = table(min(n, GENERATE_ROWS), base, kind == "current")
    with pq.ParquetWriter(partial, first.schema) as writer:
        writer.write_table(first, row_group_size=250_000)
        for k, start in enumerate(range(GENERATE_ROWS, n, GENERATE_ROWS), start=1):
            part = table(min(GENERATE_ROWS, n - start), base + k, kind == "current")
            writer.write_table(part, row_group_size=250_000)
    partial.rename(path)
    return path


def peer_python() -> Path:
    """Return the Python of Evidently's virtual environment, creating it on first use."""
    python = PEER / "bin" / "python"
    if python.exists():
        return python
    print(
        f"creating {PEER} (python -m venv; pip install evidently==0.7.23 'pandas<3') ...",
        file=sys.stderr,
    )
    subprocess.run([sys.executable, "-m", "venv", str(PEER)], check=True)
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "evidently==0.7.23",
            "pandas<3",
            "pyarrow",
            "psutil",
        ],
        check=True,
    )
    return python


def run(python: Path | str, *args: str) -> dict[str, Any]:
    """Return the JSON a side prints, run in a fresh process."""
    command = [
        str(python),
        str(SIDES),
        *args,
        "--numeric",
        ",".join(NUMERIC),
        "--categorical",
        ",".join(CATEGORICAL),
    ]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode:
        raise RuntimeError(f"{' '.join(args[:1])} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def best(python: Path | str, repeats: int, *args: str) -> dict[str, Any]:
    """Return the fastest of ``repeats`` runs (its memory: the highest seen)."""
    runs = [run(python, *args) for _ in range(repeats)]
    fastest = min(runs, key=lambda r: r["seconds"])
    return {
        **fastest,
        "extra_mb": max(r["extra_mb"] for r in runs),
        "times": [r["seconds"] for r in runs],
    }


def agreement(steward: dict[str, Any], bare: dict[str, Any]) -> float:
    """Return the largest gap between Steward's (sketched) statistics and the exact ones."""
    gaps = [
        abs(value - bare["stats"][column][test])
        for column, tests in steward["stats"].items()
        for test, value in tests.items()
        if test in bare["stats"].get(column, {})
    ]
    return max(gaps)


def log(message: str, started: float) -> None:
    print(f"[{time.perf_counter() - started:7.1f}s] {message}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="100k rows against Evidently, 1M streamed"
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="the side-by-side size")
    parser.add_argument("--scaling", default="100000,1000000,10000000", help="Steward's sizes")
    parser.add_argument("--repeats", type=int, default=3, help="runs of Steward and bare (best)")
    parser.add_argument("--skip-evidently", action="store_true")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.quick:
        args.rows, args.scaling, args.repeats = 100_000, "100000,1000000", 1
    sizes = sorted({int(s) for s in args.scaling.split(",")} | {args.rows})
    started = time.perf_counter()
    here = sys.executable
    results: dict[str, Any] = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average_start": os.getloadavg()[0],
        },
        "drifted": DRIFTED,
        "sizes": {},
    }
    for n in sizes:
        log(f"data: {n:,} rows", started)
        ref, cur = dataset(n, "reference"), dataset(n, "current")
        entry: dict[str, Any] = {}
        in_memory = n <= 1_000_000
        if in_memory:
            log(f"steward, in memory: {n:,}", started)
            entry["steward"] = best(here, args.repeats, "steward", str(ref), str(cur))
        log(f"steward, reference profile streamed from Parquet: {n:,}", started)
        profile = WORK / f"profile_{n}.json"
        entry["steward_profile"] = run(here, "profile", str(ref), str(profile))
        log(f"steward, current streamed from Parquet against the stored profile: {n:,}", started)
        entry["steward_stream"] = best(
            here,
            1 if n > 1_000_000 else args.repeats,
            "steward",
            str(profile),
            str(cur),
            "--mode",
            "stream",
        )
        log(f"bare NumPy/SciPy: {n:,}", started)
        entry["bare"] = best(here, 1 if n > 1_000_000 else args.repeats, "bare", str(ref), str(cur))
        if n == args.rows:
            log(f"steward with the domain classifier: {n:,}", started)
            entry["steward_domain"] = best(
                here, 1, "steward", str(ref), str(cur), "--mode", "domain"
            )
        if in_memory and not args.skip_evidently:
            log(f"evidently: {n:,}", started)
            entry["evidently"] = run(peer_python(), "evidently", str(ref), str(cur))
        main_side = entry.get("steward") or entry["steward_stream"]
        entry["max_gap_to_exact"] = agreement(main_side, entry["bare"])
        results["sizes"][str(n)] = entry
    results["machine"]["load_average_end"] = os.getloadavg()[0]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2))
    report(results, args.rows)


def report(results: dict[str, Any], rows: int) -> None:
    """Print the side-by-side table, the goals, and the scaling table."""
    m = results["machine"]
    print(
        f"Python {m['python']}, {m['cpus']} cores; load average {m['load_average_start']:.1f} at start, {m['load_average_end']:.1f} at end"
    )
    print(f"20 columns (15 numeric, 5 categorical), drift injected in {', '.join(DRIFTED)}\n")
    entry = results["sizes"][str(rows)]
    print(
        f"{rows:,} rows reference + {rows:,} rows current: raw tables -> statistics, verdicts, JSON"
    )
    print(f"{'side':58} {'seconds':>8} {'extra MB':>9}  flags exactly the drifted?")
    labels = [
        ("evidently", "Evidently 0.7.23 DataDriftPreset (Report.run + json)"),
        ("bare", "bare NumPy/SciPy, exact, column at a time"),
        ("steward", "Steward: build_profile(reference) + drift(current) + JSON"),
        ("steward_stream", "Steward: drift(Parquet) against the stored profile"),
        ("steward_domain", "Steward with the domain classifier (5,000 rows a side)"),
    ]
    for key, label in labels:
        side = entry.get(key)
        if side is None:
            continue
        exact = side["flagged"] == DRIFTED
        print(
            f"{label:58} {side['seconds']:8.2f} {side['extra_mb']:9.0f}  {'yes' if exact else 'NO: ' + ','.join(side['flagged'])}"
        )
    steward, bare, peer = entry.get("steward"), entry["bare"], entry.get("evidently")
    print()
    if steward is not None:
        print(
            f"Steward / bare time        = {steward['seconds'] / bare['seconds']:.2f}  (goal <= 1.5)"
        )
        if peer is not None:
            print(
                f"Evidently / Steward time   = {peer['seconds'] / steward['seconds']:.1f}x (goal >= 20x)"
            )
            print(
                f"Steward / Evidently memory = {steward['extra_mb'] / max(peer['extra_mb'], 1):.2f}  (goal <= 0.25)"
            )
    print(
        f"largest gap between Steward's sketched statistics and the exact ones: {entry['max_gap_to_exact']:.4f}"
    )
    print(
        "\nscaling (Steward streamed: profile of the reference Parquet, then drift of the current Parquet against it)"
    )
    print(
        f"{'rows':>12} {'profile s':>10} {'profile MB':>11} {'drift s':>8} {'drift MB':>9} {'in-memory s':>12} {'bare s':>7} {'bare MB':>8} {'evidently s':>12} {'evidently MB':>13}"
    )
    for n, e in results["sizes"].items():
        mem, ev = e.get("steward"), e.get("evidently")
        print(
            f"{int(n):>12,} {e['steward_profile']['seconds']:10.2f} {e['steward_profile']['extra_mb']:11.0f} "
            f"{e['steward_stream']['seconds']:8.2f} {e['steward_stream']['extra_mb']:9.0f} "
            f"{_num(mem, 'seconds', 2):>12} {e['bare']['seconds']:7.2f} {e['bare']['extra_mb']:8.0f} "
            f"{_num(ev, 'seconds', 1):>12} {_num(ev, 'extra_mb', 0):>13}"
        )


def _num(side: dict[str, Any] | None, key: str, digits: int) -> str:
    return "-" if side is None else f"{side[key]:.{digits}f}"


if __name__ == "__main__":
    main()
