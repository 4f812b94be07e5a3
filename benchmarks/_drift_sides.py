"""The sides of bench_drift.py, each run in a fresh process: Steward, a bare column-wise
NumPy/SciPy computation of the same statistics, and Evidently (in its own venv).

Run as ``python _drift_sides.py SIDE REF CUR [--numeric a,b --categorical c,d]``; prints
one JSON object: seconds, the resident memory with the data loaded, the peak during the
computation, the columns flagged, and each column's statistics. This file imports
neither Steward nor Evidently at module level, so the Evidently side can run it with
its own interpreter (Evidently 0.7.23 needs pandas < 3).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil
from _peak import PeakRSS

THRESHOLDS = {"ks": 0.1, "wasserstein": 0.1, "psi": 0.2, "chi_square": 0.1, "jensen_shannon": 0.1}


def measure(work: Callable[[Any], dict[str, Any]], load: Callable[[], Any]) -> dict[str, Any]:
    """Return the work's result with its seconds and memory, the data loaded beforehand."""
    data = load()
    gc.collect()
    base = psutil.Process().memory_info().rss
    with PeakRSS() as peak:
        start = time.perf_counter()
        result = work(data)
        seconds = time.perf_counter() - start
    result.update(
        seconds=seconds, data_mb=base / 1e6, extra_mb=(peak.peak - base) / 1e6, python=sys.version
    )
    return result


# --- Steward -------------------------------------------------------------------------


def steward_side(ref: str, cur: str, mode: str) -> dict[str, Any]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    import pyarrow.parquet as pq

    from steward.monitor import DriftConfig, ReferenceProfile, build_profile, drift

    off = DriftConfig(domain={"enabled": False})
    if mode == "stream":  # 10M rows: the reference profile stored, the current streamed
        profile = ReferenceProfile.from_json(Path(ref).read_text())

        def work(_: None) -> dict[str, Any]:
            report = drift(profile, cur, config=off)
            return _steward_result(report, report.to_json())

        return measure(work, lambda: None)

    def load() -> tuple[pd.DataFrame, pd.DataFrame]:
        return pq.read_table(ref).to_pandas(), pq.read_table(cur).to_pandas()

    def full(frames: tuple[pd.DataFrame, pd.DataFrame]) -> dict[str, Any]:
        profile = build_profile(frames[0], random_state=0)
        report = drift(profile, frames[1], config=off if mode != "domain" else DriftConfig())
        return _steward_result(report, report.to_json())

    return measure(full, load)


def steward_profile(path: str, out: str) -> dict[str, Any]:
    """Build a reference profile streamed from Parquet and write it as JSON."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from steward.monitor import ProfileSettings, build_profile

    def work(_: None) -> dict[str, Any]:
        profile = build_profile(path, random_state=0, settings=ProfileSettings(sample_rows=0))
        Path(out).write_text(profile.model_dump_json())
        return {"rows": profile.rows}

    return measure(work, lambda: None)


def _steward_result(report: Any, text: str) -> dict[str, Any]:
    stats = {}
    for f in report.features:
        stats[f.feature] = {t.test: t.effect for t in f.tests}
    return {
        "flagged": sorted(report.drifted_features),
        "stats": stats,
        "json_bytes": len(text),
        "domain_auc": report.multivariate.auc if report.multivariate else None,
    }


# --- bare NumPy/SciPy ----------------------------------------------------------------


def bare_side(ref: str, cur: str, numeric: list[str], categorical: list[str]) -> dict[str, Any]:
    import pyarrow.parquet as pq

    def load() -> tuple[pd.DataFrame, pd.DataFrame]:
        return pq.read_table(ref).to_pandas(), pq.read_table(cur).to_pandas()

    def work(frames: tuple[pd.DataFrame, pd.DataFrame]) -> dict[str, Any]:
        a, b = frames
        stats = {c: bare_numeric(a[c].to_numpy(), b[c].to_numpy()) for c in numeric}
        stats |= {c: bare_categorical(a[c], b[c]) for c in categorical}
        flagged = sorted(
            c for c, s in stats.items() if any(s[k] >= THRESHOLDS[k] for k in s if k in THRESHOLDS)
        )
        text = json.dumps({"columns": stats, "flagged": flagged})
        return {"flagged": flagged, "stats": stats, "json_bytes": len(text)}

    return measure(work, load)


def bare_numeric(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Exact KS, Wasserstein (in reference standard deviations) and decile PSI of a column.

    One sort of each side; KS and Wasserstein read both empirical CDFs at every value of
    both samples (their merge), as scipy.stats.ks_2samp and wasserstein_distance do, but
    without sorting again for each statistic.
    """
    missing = float(np.isnan(y).mean() - np.isnan(x).mean())
    x, y = np.sort(x[~np.isnan(x)]), np.sort(y[~np.isnan(y)])
    points = np.sort(np.concatenate([x, y]), kind="stable")  # two sorted runs: a merge
    fx = np.searchsorted(x, points, side="right") / len(x)
    fy = np.searchsorted(y, points, side="right") / len(y)
    gap = np.abs(fx - fy)
    ks = float(gap.max())
    wasserstein = float(np.sum(gap[:-1] * np.diff(points)))
    edges = np.unique(x[(np.arange(1, 10) * len(x)) // 10])
    px = np.bincount(np.searchsorted(edges, x, side="left"), minlength=len(edges) + 1) / len(x)
    py = np.bincount(np.searchsorted(edges, y, side="left"), minlength=len(edges) + 1) / len(y)
    px, py = np.maximum(px, 1e-4), np.maximum(py, 1e-4)
    return {
        "ks": ks,
        "wasserstein": wasserstein / float(x.std()),
        "psi": float(np.sum((py - px) * np.log(py / px))),
        "missing_rate": abs(missing),
    }


def bare_categorical(a: pd.Series, b: pd.Series) -> dict[str, float]:
    from scipy import stats
    from scipy.spatial.distance import jensenshannon

    ca, cb = a.value_counts(), b.value_counts()
    labels = ca.index.union(cb.index)
    r = ca.reindex(labels, fill_value=0).to_numpy(dtype=float)
    c = cb.reindex(labels, fill_value=0).to_numpy(dtype=float)
    chi2 = stats.chi2_contingency(np.vstack([r, c]), correction=False).statistic
    pr, pc = np.maximum(r / r.sum(), 1e-4), np.maximum(c / c.sum(), 1e-4)
    return {
        "chi_square": float(np.sqrt(chi2 / (r.sum() + c.sum()))),
        "jensen_shannon": float(jensenshannon(r, c, base=2)),
        "psi": float(np.sum((pc - pr) * np.log(pc / pr))),
        "missing_rate": abs(float(b.isna().mean() - a.isna().mean())),
    }


# --- Evidently -----------------------------------------------------------------------


def evidently_side(
    ref: str, cur: str, numeric: list[str], categorical: list[str]
) -> dict[str, Any]:
    import evidently
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    def load() -> tuple[pd.DataFrame, pd.DataFrame]:
        return pd.read_parquet(ref), pd.read_parquet(cur)

    def work(frames: tuple[pd.DataFrame, pd.DataFrame]) -> dict[str, Any]:
        definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
        snapshot = Report([DataDriftPreset()]).run(
            reference_data=Dataset.from_pandas(frames[0], data_definition=definition),
            current_data=Dataset.from_pandas(frames[1], data_definition=definition),
        )
        text = snapshot.json()
        flagged, stats = [], {}
        for metric in json.loads(text)["metrics"]:
            config = metric["config"]
            if config.get("type", "").endswith("ValueDrift"):
                stats[config["column"]] = {config["method"]: metric["value"]}
                if metric["value"] >= config["threshold"]:
                    flagged.append(config["column"])
        return {
            "flagged": sorted(flagged),
            "stats": stats,
            "json_bytes": len(text),
            "version": evidently.__version__,
        }

    return measure(work, load)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("side", choices=["steward", "bare", "evidently", "profile"])
    parser.add_argument("ref")
    parser.add_argument("cur")
    parser.add_argument("--numeric", default="")
    parser.add_argument("--categorical", default="")
    parser.add_argument("--mode", default="full", choices=["full", "domain", "stream"])
    args = parser.parse_args()
    numeric = [c for c in args.numeric.split(",") if c]
    categorical = [c for c in args.categorical.split(",") if c]
    if args.side == "steward":
        result = steward_side(args.ref, args.cur, args.mode)
    elif args.side == "profile":
        result = steward_profile(args.ref, args.cur)
    elif args.side == "bare":
        result = bare_side(args.ref, args.cur, numeric, categorical)
    else:
        result = evidently_side(args.ref, args.cur, numeric, categorical)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
