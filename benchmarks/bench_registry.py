"""Registry benchmarks: load_model against plain unpickling, and signature-check overhead.

Run: python benchmarks/bench_registry.py [--quick]

Side by side with MLflow (mlflow.sklearn.load_model / pyfunc predict with its schema
enforcement) on the same fitted models, in the same process.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pickle
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import make_column_transformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

RESULTS = Path(__file__).parent / "results" / "registry.json"


def data(n: int = 5000) -> tuple[pd.DataFrame, pd.Series]:
    """Return a churn-like table with numeric and categorical columns."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "tenure": rng.integers(0, 72, n),
            "monthly": rng.normal(70, 20, n),
            "support_calls": rng.poisson(2, n),
            "plan": rng.choice(["basic", "plus", "pro"], n),
            "region": rng.choice(["north", "south", "east", "west"], n),
        }
    )
    y = pd.Series((rng.random(n) < 0.3).astype(int))
    return X, y


def models(X: pd.DataFrame, y: pd.Series) -> dict[str, Any]:
    """Return the fitted models to measure: a linear pipeline and a 200-tree forest."""
    prep = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), ["plan", "region"]),
        (StandardScaler(), ["tenure", "monthly", "support_calls"]),
    )
    return {
        "logistic pipeline": make_pipeline(prep, LogisticRegression(max_iter=500)).fit(X, y),
        "random forest (200 trees) pipeline": make_pipeline(
            prep, RandomForestClassifier(n_estimators=200, random_state=0)
        ).fit(X, y),
    }


def median_time(fn: Any, repeat: int) -> float:
    """Return the median wall time of ``fn()`` in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def paired(first: Any, second: Any, repeat: int) -> tuple[float, float]:
    """Return the median times of two loaders, run alternately, each result kept until the
    next: both then pay the same allocator costs of freeing the previous model."""
    a, b, keep = [], [], [None, None]
    for _ in range(repeat):
        start = time.perf_counter()
        keep[0] = first()
        a.append(time.perf_counter() - start)
        start = time.perf_counter()
        keep[1] = second()
        b.append(time.perf_counter() - start)
    return statistics.median(a), statistics.median(b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    loads, predicts = (5, 200) if args.quick else (20, 1000)
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    work = Path(tempfile.mkdtemp(prefix="steward-bench-registry-"))
    os.environ["STEWARD_HOME"] = str(work / "steward")
    import steward

    try:
        import mlflow
        import mlflow.sklearn

        mlflow.set_tracking_uri(f"sqlite:///{work / 'mlflow.db'}")
    except ImportError:
        mlflow = None  # type: ignore[assignment]
    X, y = data()
    row = X.head(1)
    results: list[dict[str, Any]] = []
    for label, model in models(X, y).items():
        blob = pickle.dumps(model)
        with steward.start_run(label.replace(" ", "-")[:40], capture_environment_info=False):
            info = steward.log_model(model, "model", input_example=X)
        steward.load_model(info.uri)  # fill the local cache
        plain = work / f"{len(results)}.pkl"  # what a scikit-learn user does: pickle to a file
        plain.write_bytes(blob)

        def unpickle_file(path: Path = plain) -> Any:
            with open(path, "rb") as fh:
                return pickle.load(fh)

        unpickle, load = paired(unpickle_file, lambda u=info.uri: steward.load_model(u), loads)
        loaded = steward.load_model(info.uri)
        raw_predict = median_time(lambda m=model: m.predict(row), predicts)
        checked_predict = median_time(lambda m=loaded: m.predict(row), predicts)
        entry: dict[str, Any] = {
            "model": label,
            "package_mb": round(len(blob) / 1e6, 2),
            "unpickle_ms": unpickle * 1e3,
            "steward_load_ms": load * 1e3,
            "load_overhead_ms": (load - unpickle) * 1e3,
            "predict_1row_ms": raw_predict * 1e3,
            "steward_predict_1row_ms": checked_predict * 1e3,
            "signature_overhead_pct": (checked_predict / raw_predict - 1) * 100,
        }
        if mlflow is not None:
            with mlflow.start_run():
                signature = mlflow.models.infer_signature(X, model.predict(X))
                logged = mlflow.sklearn.log_model(
                    model, name="model", signature=signature, serialization_format="cloudpickle"
                )
            uri = logged.model_uri
            mlflow.sklearn.load_model(uri)
            entry["mlflow_load_ms"] = (
                median_time(lambda u=uri: mlflow.sklearn.load_model(u), loads) * 1e3
            )
            pyfunc = mlflow.pyfunc.load_model(uri)
            entry["mlflow_pyfunc_predict_1row_ms"] = (
                median_time(lambda m=pyfunc: m.predict(row), predicts) * 1e3
            )
        results.append(entry)
    print(
        f"Python {sys.version.split()[0]}, {os.cpu_count()} cores; medians of {loads} loads, {predicts} predictions\n"
    )
    print("unpickle: pickle.load of the same model from a file, as scikit-learn recommends;")
    print("steward load: load_model('runs:/.../model') of the cached package (manifest read,")
    print("every file checked, versions compared, signature attached)\n")
    header = f"{'model':38} {'pickle':>7} {'unpickle':>9} {'steward load':>13} {'overhead':>9} {'mlflow load':>12}"
    print(header)
    for r in results:
        print(
            f"{r['model']:38} {r['package_mb']:6.2f}M {r['unpickle_ms']:8.1f}ms {r['steward_load_ms']:11.1f}ms "
            f"{r['load_overhead_ms']:+8.1f}ms {r.get('mlflow_load_ms', float('nan')):10.1f}ms"
        )
    print()
    print(
        f"{'model':38} {'raw predict':>12} {'steward predict':>16} {'signature cost':>15} {'mlflow pyfunc':>14}"
    )
    for r in results:
        print(
            f"{r['model']:38} {r['predict_1row_ms']:10.3f}ms {r['steward_predict_1row_ms']:14.3f}ms "
            f"{r['signature_overhead_pct']:+14.1f}% {r.get('mlflow_pyfunc_predict_1row_ms', float('nan')):12.3f}ms"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
