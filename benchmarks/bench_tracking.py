"""Steward against MLflow on the same tracking work, side by side, with ratios and targets.

Measures (the project's tracking-performance issue):

1. ``log_metric``: N single points in one run, timed from ``start_run`` until the run has
   ended (every point durable), then read back and counted.
2. ``log_batch``: M points into a fresh SQLite store; MLflow in batches of 1000 (its limit).
3. ``search_runs`` with a two-clause filter over R runs of 5 params and 5 metrics, plus
   Steward's search time as the store grows (and the time per matching row).
4. The same three against Steward's team server over HTTP (a real subprocess on 127.0.0.1).

Run ``python benchmarks/bench_tracking.py`` (about 9 minutes on 2 cores) or ``--quick``
(under a minute). Results are printed and written to ``benchmarks/results/latest.json``.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "src")]  # these helpers, and this checkout's steward

import _mlflow_side as mlf  # noqa: E402
import _steward_side as stw  # noqa: E402
from _common import SEARCH_FILTER, SearchData, TempDirs, timed  # noqa: E402
from _report import print_report  # noqa: E402
from _server import server_command, steward_server  # noqa: E402

import steward  # noqa: E402

TARGETS = {"log_metric": 50.0, "log_batch": 20.0, "search_runs": 10.0}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--log-metric-points", type=int, help="points for measure 1 (10000)")
    parser.add_argument("--batch-points", type=int, help="points for measure 2 (100000)")
    parser.add_argument("--search-runs", type=int, help="runs compared with MLflow (10000)")
    parser.add_argument(
        "--scaling", help="comma-separated store sizes for Steward's search (1000,10000,100000)"
    )
    parser.add_argument(
        "--api-populate-max",
        type=int,
        help="at most this many runs are created through Steward's public API (start_run + "
        "log_batch + end, ~4-7 ms a run); the rest are inserted in SQL (default: all)",
    )
    parser.add_argument(
        "--api-budget",
        type=float,
        default=420.0,
        help="seconds the public-API population may take before the rest goes in by SQL (420)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="timed searches and log_batch runs; the median is kept (3)",
    )
    parser.add_argument("--skip-http", action="store_true", help="no team-server measures")
    parser.add_argument(
        "--output", type=Path, default=HERE / "results" / "latest.json", help="JSON results"
    )
    parser.add_argument("--tmp-dir", help="where the temporary stores go (default: system temp)")
    parser.add_argument("--keep-temp", action="store_true", help="keep the temporary stores")
    args = parser.parse_args(argv)
    quick = args.quick
    args.log_metric_points = args.log_metric_points or (1_000 if quick else 10_000)
    args.batch_points = args.batch_points or (10_000 if quick else 100_000)
    args.search_runs = args.search_runs or (1_000 if quick else 10_000)
    default_sizes = "200,1000,3000" if quick else "1000,10000,100000"
    sizes = {int(s) for s in (args.scaling or default_sizes).split(",") if s.strip()}
    args.sizes = sorted(sizes | {args.search_runs})
    if args.api_populate_max is None:
        args.api_populate_max = max(args.sizes)
    args.api_populate_max = max(1, args.api_populate_max)
    return args


class Progress:
    """Phase lines on stderr with the time since the start."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def __call__(self, message: str) -> None:
        print(f"[{time.perf_counter() - self.start:7.1f}s] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    mlf.quiet()
    say = Progress()
    began = time.perf_counter()
    dirs = TempDirs(args.tmp_dir, keep=args.keep_temp)
    results: dict[str, Any] = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "machine": _machine(),
        "measures": {},
    }
    try:
        _measure_log_metric(args, dirs, results, say)
        _measure_log_batch(args, dirs, results, say)
        snapshot = _measure_search(args, dirs, results, say)
        if not args.skip_http:
            _measure_http(args, dirs, results, say, snapshot)
    finally:
        dirs.cleanup()
    results["total_seconds"] = time.perf_counter() - began
    results["machine"]["load_average_end"] = _load()
    _judge(results)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print_report(results)
    print(f"\nJSON: {args.output}    total time: {results['total_seconds']:.0f} s")
    return 0


def _measure_log_metric(args: Any, dirs: TempDirs, results: dict[str, Any], say: Progress) -> None:
    n = args.log_metric_points
    say(f"log_metric x{n}: Steward (local store)")
    with stw.target(dirs.new("stw-log-metric")):
        steward_result = stw.log_metric_points(n)
    say(f"log_metric x{n}: MLflow (SQLite)")
    mlflow_result = mlf.log_metric_points(dirs.new("mlf-log-metric"), n)
    results["measures"]["log_metric"] = {
        "title": f"log_metric x{n:,} in one run",
        "unit": "points/s",
        "higher_is_better": True,
        "target": TARGETS["log_metric"],
        "steward": steward_result,
        "mlflow": mlflow_result,
    }


def _batch_values(n: int) -> list[float]:
    return [1.0 / (i + 1) for i in range(n)]


def _median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the run with the median time, with every run's seconds under ``times``."""
    ordered = sorted(runs, key=lambda r: r["seconds"])
    return {**ordered[(len(ordered) - 1) // 2], "times": [r["seconds"] for r in runs]}


def _measure_log_batch(args: Any, dirs: TempDirs, results: dict[str, Any], say: Progress) -> None:
    n = args.batch_points
    values = _batch_values(n)
    batches = f"{n // mlf.BATCH_LIMIT} batches of {mlf.BATCH_LIMIT}"
    say(f"log_batch {n}: MLflow (SQLite, {batches}) x{args.repeats}, a fresh store each")
    mlflow_result = _median_of(
        [mlf.log_batch_points(dirs.new("mlf-log-batch"), values) for _ in range(args.repeats)]
    )
    for form, label in (
        ("tuples", "list of (key, value, step)"),
        ("dict", "{key: list of values}"),
    ):
        say(f"log_batch {n}: Steward (local store, {label}) x{args.repeats}, a fresh store each")
        runs = []
        for _ in range(args.repeats):
            with stw.target(dirs.new(f"stw-log-batch-{form}")):
                runs.append(stw.log_batch_points(values, form))
        steward_result = _median_of(runs)
        results["measures"][f"log_batch_{form}"] = {
            "title": f"log_batch {n:,} points, Steward {label}",
            "unit": "points/s",
            "higher_is_better": True,
            "target": TARGETS["log_batch"],
            "steward": steward_result,
            "mlflow": mlflow_result,
        }


def _measure_search(args: Any, dirs: TempDirs, results: dict[str, Any], say: Progress) -> Path:
    """Grow one Steward store through the sizes, timing search at each; compare with MLflow."""
    data = SearchData.make(max(args.sizes))
    home = dirs.new("stw-search")
    db = home / "steward.db"
    snapshot = dirs.new("stw-search-snapshot") / "steward.db"
    scaling: list[dict[str, Any]] = []
    population: dict[str, Any] = {
        "steward_api_runs": 0,
        "steward_api_seconds": 0.0,
        "steward_sql_runs": 0,
        "steward_sql_seconds": 0.0,
    }
    populated = 0
    compare: dict[str, Any] = {}
    deadline = time.perf_counter() + args.api_budget
    with stw.target(home):
        for size in args.sizes:
            api_stop = min(size, args.api_populate_max)
            if populated < api_stop:
                say(
                    f"search: creating Steward runs {populated}..{api_stop - 1} with the public API"
                )
                reached, seconds = stw.populate_api(data, populated, api_stop, deadline)
                population["steward_api_runs"] += reached - populated
                population["steward_api_seconds"] += seconds
                populated = reached
                if reached < api_stop:
                    say(f"search: API population over its {args.api_budget:.0f} s budget")
            if populated < size:
                say(f"search: inserting Steward runs {populated}..{size - 1} in SQL")
                population["steward_sql_seconds"] += stw.populate_sql(db, data, populated, size)
                population["steward_sql_runs"] += size - populated
                populated = size
            assert stw.count_runs(db) == size
            expected = data.expected_matches(size)
            say(f"search: Steward over {size:,} runs ({expected:,} match)")
            timing, frame = timed(
                functools.partial(stw.search, SEARCH_FILTER, size), args.repeats, warmup=1
            )
            assert len(frame) == expected, f"Steward found {len(frame)}, expected {expected}"
            scaling.append(
                {
                    "runs": size,
                    "matches": expected,
                    "seconds": timing.median,
                    "best_seconds": timing.best,
                    "times": timing.times,
                }
            )
            if size == args.search_runs:
                compare = scaling[-1]
                stw.snapshot(db, snapshot)
    population["steward_api_ms_per_run"] = (
        1000 * population["steward_api_seconds"] / max(1, population["steward_api_runs"])
    )
    n = args.search_runs
    expected = data.expected_matches(n)
    say(f"search: MLflow store with {n:,} runs (bulk SQL into MLflow's own schema)")
    _store, experiment_id, seconds = mlf.populate_sql(dirs.new("mlf-search"), data, n)
    population["mlflow_sql_runs"] = n
    population["mlflow_sql_seconds"] = seconds
    say("search: checking MLflow sees every run")
    seen = mlf.count_all(experiment_id, n)
    assert seen == n, f"mlflow.search_runs returned {seen} of {n} runs"
    say(f"search: MLflow over {n:,} runs ({expected:,} match)")
    timing, frame = timed(
        lambda: mlf.search(experiment_id, SEARCH_FILTER, n), args.repeats, warmup=1
    )
    assert len(frame) == expected, f"MLflow found {len(frame)}, expected {expected}"
    results["measures"]["search_runs"] = {
        "title": f"search_runs over {n:,} runs ({expected:,} match)",
        "filter": SEARCH_FILTER,
        "max_results": n,
        "unit": "s",
        "higher_is_better": False,
        "target": TARGETS["search_runs"],
        "steward": {
            "seconds": compare["seconds"],
            "best_seconds": compare["best_seconds"],
            "times": compare["times"],
            "rows": expected,
        },
        "mlflow": {
            "seconds": timing.median,
            "best_seconds": timing.best,
            "times": timing.times,
            "rows": len(frame),
        },
    }
    results["scaling"] = scaling
    results["population"] = population
    return snapshot


def _measure_http(
    args: Any, dirs: TempDirs, results: dict[str, Any], say: Progress, snapshot: Path
) -> None:
    measures = results["measures"]
    results["server_command"] = " ".join(server_command(0)[1:]).replace("--port 0", "--port PORT")
    n = args.log_metric_points
    home = dirs.new("http-log-metric")
    say(f"HTTP: log_metric x{n} against a Steward server")
    with (
        steward_server(home, home.parent / f"{home.name}.log") as url,
        stw.target(dirs.new("client"), uri=url),
    ):
        measures["log_metric"]["steward_http"] = stw.log_metric_points(n)
    values = _batch_values(args.batch_points)
    for form in ("tuples", "dict"):
        say(f"HTTP: log_batch {len(values)} ({form}) x{args.repeats}, a fresh server each")
        runs = []
        for _ in range(args.repeats):
            home = dirs.new(f"http-log-batch-{form}")
            with (
                steward_server(home, home.parent / f"{home.name}.log") as url,
                stw.target(dirs.new("client"), uri=url),
            ):
                runs.append(stw.log_batch_points(values, form))
        measures[f"log_batch_{form}"]["steward_http"] = _median_of(runs)
    home = snapshot.parent
    rows = measures["search_runs"]["steward"]["rows"]
    say(f"HTTP: search_runs over {args.search_runs:,} runs against a Steward server")
    with (
        steward_server(home, home.parent / f"{home.name}.log") as url,
        stw.target(dirs.new("client"), uri=url),
    ):
        timing, frame = timed(
            lambda: stw.search(SEARCH_FILTER, args.search_runs), args.repeats, warmup=1
        )
    assert len(frame) == rows, f"Steward over HTTP found {len(frame)}, expected {rows}"
    measures["search_runs"]["steward_http"] = {
        "seconds": timing.median,
        "best_seconds": timing.best,
        "times": timing.times,
        "rows": len(frame),
    }


def _figure(entry: dict[str, Any], higher: bool) -> float:
    return float(entry["points_per_s"] if higher else entry["seconds"])


def _judge(results: dict[str, Any]) -> None:
    """Add each measure's ratios (Steward's advantage over MLflow) and whether targets are met."""
    for m in results["measures"].values():
        higher = m["higher_is_better"]
        theirs = _figure(m["mlflow"], higher)
        for side in ("steward", "steward_http"):
            if side not in m:
                continue
            ours = _figure(m[side], higher)
            ratio = ours / theirs if higher else theirs / ours
            m[f"ratio_{side.removeprefix('steward').strip('_') or 'local'}"] = ratio
        m["met_local"] = m["ratio_local"] >= m["target"]
        if "ratio_http" in m:
            m["met_http"] = m["ratio_http"] >= m["target"]
    scaling = results.get("scaling", [])
    for prev, cur in itertools.pairwise(scaling):
        cur["time_growth"] = cur["seconds"] / prev["seconds"]
        cur["match_growth"] = cur["matches"] / prev["matches"]
    for row in scaling:
        row["us_per_match"] = 1e6 * row["seconds"] / max(1, row["matches"])


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _machine() -> dict[str, Any]:
    import sqlalchemy

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "steward": steward.__version__,
        "mlflow": mlf.version(),
        "sqlalchemy": sqlalchemy.__version__,
        "sqlite": __import__("sqlite3").sqlite_version,
        "load_average_start": _load(),
    }


if __name__ == "__main__":
    sys.exit(main())
