"""Champion against challenger: Steward's compare_models against MLflow's model validation
(mlflow.models.evaluate of both models, then mlflow.validate_evaluation_results), on the
same two fitted models and the same rows, each side in a fresh process and a fresh store.

Run: python benchmarks/bench_compare.py [--quick | --full]

The data is sklearn's make_classification (20 features): 20,000 training rows and up to
1,000,000 evaluation rows, made the same way in every process (same seed, same library
versions), so both sides fit the same LogisticRegression (the champion) and
RandomForestClassifier(n_estimators=50) (the challenger) and score the same rows. Each
side registers both models in its own fresh store (not timed), then is timed from "both
models registered" to "comparison result in hand". MLflow 3.17.2 runs in its own virtual
environment, so that it never enters the project's .venv: this script creates it on first
use (python -m venv + pip install mlflow==3.17.2 with this .venv's versions of
scikit-learn, NumPy, SciPy and pandas) under benchmarks/.work/peers/mlflow-3.17.2/.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil
from _peak import PeakRSS

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MLFLOW_VERSION = "3.17.2"
PEER = HERE / ".work" / "peers" / f"mlflow-{MLFLOW_VERSION}"
RESULTS = HERE / "results" / "compare.json"
SHARED = ("scikit-learn", "numpy", "scipy", "pandas")  # same versions on both sides
TRAIN_ROWS = 20_000
POOL_ROWS = 1_000_000  # evaluation rows made in every process: size n takes the first n
FEATURES = [f"x{i}" for i in range(20)]
TARGET = "target"
MODEL = "bench-compare"
CHAMPION, CHALLENGER = f"models:/{MODEL}/1", f"models:/{MODEL}/2"
SIDES = ("steward", "mlflow", "mlflow-no-plots")


def data(rows: int) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    """Return the training inputs and labels, and the first ``rows`` evaluation rows."""
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=TRAIN_ROWS + POOL_ROWS,
        n_features=len(FEATURES),
        n_informative=8,
        n_redundant=4,
        flip_y=0.05,
        class_sep=0.8,
        random_state=7,
    )
    train = pd.DataFrame(X[:TRAIN_ROWS], columns=FEATURES)
    frame = pd.DataFrame(X[TRAIN_ROWS : TRAIN_ROWS + rows], columns=FEATURES)
    frame[TARGET] = y[TRAIN_ROWS : TRAIN_ROWS + rows]
    return train, y[:TRAIN_ROWS], frame


def models(train: pd.DataFrame, y: np.ndarray) -> list[tuple[str, Any]]:
    """Return the champion and the challenger, fitted (the same on both sides)."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    return [
        ("champion-logistic", LogisticRegression(max_iter=1000).fit(train, y)),
        (
            "challenger-forest",
            RandomForestClassifier(n_estimators=50, random_state=0).fit(train, y),
        ),
    ]


def timed(work: Any) -> tuple[Any, float, float]:
    """Return ``work()``'s result, its seconds and the extra peak memory (MB) it took."""
    gc.collect()
    base = psutil.Process().memory_info().rss
    with PeakRSS(every=0.01) as peak:
        start = time.perf_counter()
        result = work()
        seconds = time.perf_counter() - start
    return result, seconds, (peak.peak - base) / 1e6


# --- the sides, each run in a fresh process: python bench_compare.py --side NAME ... ----


def steward_side(rows: int, home: Path) -> dict[str, Any]:
    """Register both models in a fresh Steward home, then time compare_models."""
    sys.path.insert(0, str(ROOT / "src"))
    for key in ("STEWARD_URI", "STEWARD_STORE_URI", "STEWARD_ARTIFACT_URI"):
        os.environ.pop(key, None)
    os.environ["STEWARD_HOME"] = str(home)
    import steward
    from steward.iterate import compare_models

    train, y, frame = data(rows)
    for label, model in models(train, y):
        with steward.start_run(label, capture_environment_info=False):
            steward.log_model(model, "model", input_example=train, registered_model_name=MODEL)

    def work() -> Any:
        return compare_models(CHAMPION, CHALLENGER, data=frame, target=TARGET)

    result, seconds, extra_mb = timed(work)
    metrics = {m.metric: m.model_dump() for m in result.metrics}
    return {
        "seconds": seconds,
        "extra_mb": extra_mb,
        "version": steward.__version__,
        "champion": {k: metrics[k]["champion"] for k in metrics},
        "challenger": {k: metrics[k]["challenger"] for k in metrics},
        "metrics": metrics,
        "agreement": result.agreement,
        "verdict": result.verdict,
    }


def mlflow_side(rows: int, folder: Path, plots: bool) -> dict[str, Any]:
    """Register both models in a fresh MLflow store, then time evaluate x2 + validation."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    import logging
    import warnings

    import mlflow
    import mlflow.sklearn
    from mlflow.models import MetricThreshold
    from mlflow.models.evaluation.validation import ModelValidationFailedException

    for name in ("mlflow", "alembic", "sqlalchemy", "urllib3"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    location = (folder / "artifacts").as_uri()
    mlflow.set_experiment(experiment_id=mlflow.create_experiment("compare", location))
    train, y, frame = data(rows)
    for label, model in models(train, y):
        with mlflow.start_run(run_name=label):
            signature = mlflow.models.infer_signature(train, model.predict(train))
            mlflow.sklearn.log_model(  # MLflow's default format here: skops
                model,
                name="model",
                signature=signature,
                registered_model_name=MODEL,
                skops_trusted_types=["sklearn.tree._tree.Tree"],  # else the forest won't load
            )
    if not plots:  # no API option turns the plots off: patched out for this variant
        from mlflow.models.evaluation.evaluators.classifier import ClassifierEvaluator

        ClassifierEvaluator._log_binary_classifier_artifacts = lambda self: None
        ClassifierEvaluator._log_confusion_matrix = lambda self: None
    # SHAP off: Steward's comparison computes no explanations
    config = {"log_model_explainability": False}
    thresholds = {
        "roc_auc": MetricThreshold(min_absolute_change=0.001, greater_is_better=True),
        "accuracy_score": MetricThreshold(min_absolute_change=0.001, greater_is_better=True),
    }
    parts: dict[str, float] = {}

    def evaluate(model_uri: str, part: str) -> Any:
        start = time.perf_counter()
        result = mlflow.models.evaluate(
            model_uri, frame, targets=TARGET, model_type="classifier", evaluator_config=config
        )
        parts[part] = time.perf_counter() - start
        return result

    def work() -> tuple[Any, Any, str]:
        baseline = evaluate(CHAMPION, "evaluate champion")
        candidate = evaluate(CHALLENGER, "evaluate challenger")
        start = time.perf_counter()
        try:
            mlflow.validate_evaluation_results(
                validation_thresholds=thresholds,
                candidate_result=candidate,
                baseline_result=baseline,
            )
            verdict = "passed"
        except ModelValidationFailedException:
            verdict = "failed"
        parts["validate"] = time.perf_counter() - start
        return baseline, candidate, verdict

    (baseline, candidate, verdict), seconds, extra_mb = timed(work)
    artifacts = sorted(candidate.artifacts)
    return {
        "seconds": seconds,
        "extra_mb": extra_mb,
        "version": mlflow.__version__,
        "parts": parts,
        "champion": {k: float(v) for k, v in baseline.metrics.items()},
        "challenger": {k: float(v) for k, v in candidate.metrics.items()},
        "artifacts": artifacts,
        "verdict": verdict,
    }


def side_main(args: argparse.Namespace) -> None:
    """Run one side and print its result as one JSON line."""
    folder = Path(args.work)
    if args.side == "steward":
        result = steward_side(args.rows, folder)
    else:
        result = mlflow_side(args.rows, folder, plots=args.side == "mlflow")
    result["python"] = platform.python_version()
    print(json.dumps(result, default=float))


# --- the driver ----------------------------------------------------------------------


def peer_python() -> Path:
    """Return the Python of MLflow's virtual environment, creating it on first use."""
    python = PEER / "bin" / "python"
    pins = [f"{name}=={metadata.version(name)}" for name in SHARED]
    if not python.exists():
        print(
            f"creating {PEER} (python -m venv; pip install mlflow=={MLFLOW_VERSION}) ...",
            file=sys.stderr,
        )
        subprocess.run([sys.executable, "-m", "venv", str(PEER)], check=True)
    probe = "import json, importlib.metadata as m; print(json.dumps({n: m.version(n) for n in %r}))"
    try:
        found = subprocess.run(
            [str(python), "-c", probe % ((*SHARED, "mlflow", "psutil"),)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        current = json.loads(found)
    except subprocess.CalledProcessError:
        current = {}
    wanted = {name: metadata.version(name) for name in SHARED} | {"mlflow": MLFLOW_VERSION}
    if any(current.get(k) != v for k, v in wanted.items()) or "psutil" not in current:
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                f"mlflow=={MLFLOW_VERSION}",
                *pins,
                "psutil",
            ],
            check=True,
        )
    return python


def run_side(python: Path | str, side: str, rows: int, keep: bool) -> dict[str, Any]:
    """Return one side's result, run in a fresh process over a fresh store."""
    folder = Path(tempfile.mkdtemp(prefix=f"steward-bench-compare-{side}-"))
    command = [str(python), __file__, "--side", side, "--rows", str(rows), "--work", str(folder)]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=folder)
        if done.returncode:
            raise RuntimeError(f"{side} at {rows:,} rows failed:\n{done.stderr[-3000:]}")
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
    return result


def same_metrics(steward: dict[str, Any], mlflow: dict[str, Any]) -> bool:
    """Return True when both sides scored the same: equal accuracy and ROC AUC, both models."""
    pairs = [("accuracy", "accuracy_score"), ("roc_auc", "roc_auc")]
    return all(
        abs(steward[model][s] - mlflow[model][m]) < 1e-9
        for model in ("champion", "challenger")
        for s, m in pairs
    )


def log(message: str, started: float) -> None:
    print(f"[{time.perf_counter() - started:7.1f}s] {message}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10,000 rows only")
    parser.add_argument("--full", action="store_true", help="also 1,000,000 rows")
    parser.add_argument("--sizes", help="comma-separated row counts (overrides the above)")
    parser.add_argument("--repeats", type=int, default=3, help="runs at the smallest size (median)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--keep-temp", action="store_true")
    parser.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        side_main(args)
        return
    sizes = [10_000] if args.quick else [10_000, 100_000] + ([1_000_000] if args.full else [])
    if args.sizes:
        sizes = sorted(int(s) for s in args.sizes.split(","))
    if max(sizes) > POOL_ROWS:
        parser.error(f"sizes go up to {POOL_ROWS:,} rows")
    started = time.perf_counter()
    log("MLflow's virtual environment", started)
    pythons = {"steward": sys.executable, "mlflow": peer_python()}
    pythons["mlflow-no-plots"] = pythons["mlflow"]
    results: dict[str, Any] = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average_start": os.getloadavg()[0],
        },
        "libraries": {name: metadata.version(name) for name in SHARED},
        "sizes": {},
    }
    for n in sizes:
        repeats = args.repeats if n == sizes[0] else 1
        runs: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
        for r in range(repeats):
            for side in SIDES:  # in turns, so drift in the machine's load hits all alike
                log(f"{side}: {n:,} rows ({r + 1}/{repeats})", started)
                runs[side].append(run_side(pythons[side], side, n, args.keep_temp))
        entry: dict[str, Any] = {}
        for side, done in runs.items():
            times = [d["seconds"] for d in done]
            middle = sorted(done, key=lambda d: d["seconds"])[len(done) // 2]
            entry[side] = {**middle, "seconds": statistics.median(times), "times": times}
        entry["same_metrics"] = same_metrics(entry["steward"], entry["mlflow"])
        results["sizes"][str(n)] = entry
    results["machine"]["load_average_end"] = os.getloadavg()[0]
    results["mlflow"] = results["sizes"][str(sizes[0])]["mlflow"]["version"]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2))
    report(results)


def report(results: dict[str, Any]) -> None:
    """Print the side-by-side table and how each side grows with rows."""
    m = results["machine"]
    print(
        f"Python {m['python']}, {m['cpus']} cores; load average {m['load_average_start']:.1f} "
        f"at start, {m['load_average_end']:.1f} at end; MLflow {results['mlflow']}"
    )
    print(
        "LogisticRegression (champion) against RandomForestClassifier(n_estimators=50) "
        "(challenger), 20 features; timed from both registered to the comparison in hand\n"
    )
    print(
        f"{'rows':>10} {'steward s':>10} {'mlflow s':>9} {'mlflow/steward':>15} "
        f"{'mlflow no plots s':>18} {'/steward':>9} {'steward MB':>11} {'mlflow MB':>10}  same metrics"
    )
    sizes = results["sizes"]
    for n, e in sizes.items():
        s, f, p = e["steward"], e["mlflow"], e["mlflow-no-plots"]
        print(
            f"{int(n):>10,} {s['seconds']:10.2f} {f['seconds']:9.2f} {f['seconds'] / s['seconds']:14.2f}x "
            f"{p['seconds']:18.2f} {p['seconds'] / s['seconds']:8.2f}x {s['extra_mb']:11.0f} "
            f"{f['extra_mb']:10.0f}  {'yes' if e['same_metrics'] else 'NO'}"
        )
    print()
    for n, e in sizes.items():
        s, f = e["steward"], e["mlflow"]
        auc = s["metrics"]["roc_auc"]
        parts = ", ".join(f"{k} {v:.2f}s" for k, v in f["parts"].items())
        print(
            f"{int(n):>10,} rows: Steward '{s['verdict']}' (ROC AUC {auc['champion']:.4f} -> "
            f"{auc['challenger']:.4f}, difference {auc['difference']:+.4f}, 95% interval "
            f"[{auc['ci_low']:+.4f}, {auc['ci_high']:+.4f}]; agreement {s['agreement']:.1%}); "
            f"MLflow validation {f['verdict']} ({parts})"
        )
        if len(s.get("times", [])) > 1:
            print(
                f"{'':>10}  times: Steward {_list(s['times'])}, MLflow {_list(f['times'])}, "
                f"MLflow no plots {_list(e['mlflow-no-plots']['times'])}"
            )
    print()
    keys = list(sizes)
    for small, big in itertools.pairwise(keys):
        k = int(big) / int(small)
        grow = {side: sizes[big][side]["seconds"] / sizes[small][side]["seconds"] for side in SIDES}
        per_row = {
            side: (sizes[big][side]["seconds"] - sizes[small][side]["seconds"])
            / (int(big) - int(small))
            * 1e6
            for side in SIDES
        }
        print(
            f"{int(small):,} -> {int(big):,} rows ({k:.0f}x): Steward {grow['steward']:.1f}x the time "
            f"({per_row['steward']:.1f} us a row), MLflow {grow['mlflow']:.1f}x "
            f"({per_row['mlflow']:.1f} us a row), MLflow without plots {grow['mlflow-no-plots']:.1f}x "
            f"({per_row['mlflow-no-plots']:.1f} us a row)"
        )


def _list(times: list[float]) -> str:
    return "/".join(f"{t:.2f}" for t in times)


if __name__ == "__main__":
    main()
