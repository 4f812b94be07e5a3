"""Drift detection checked against reality: false alarms on undrifted real data, what it
finds on real shifts (time and covariate splits), and power on synthetic known shifts.

Run: python benchmarks/validate_drift.py [--quick]

Only data that ships inside pip packages, no download: scikit-learn's bundled sets,
statsmodels.datasets, and river's on-disk datasets (pip install statsmodels river; both
are in the dev extra). Prints tables and writes benchmarks/results/drift_validation.json.

1. False alarms: each real table split into two random halves, many times; every feature
   of every split is a check that should not alarm.
2. Large samples: real tables resampled (with replacement, so both sides come from the
   same distribution) to 1,000 ... 1,000,000 rows a side. Steward's verdicts beside the
   habit the monitor issue warns about: a goodness-of-fit test of the current counts
   against the reference's counts taken as exact (chi-square on the reference bins).
3. Real shifts: split along time (macroeconomic series, polls) or a covariate (tumour
   diagnosis, wine cultivar, sex): which features Steward flags, and the domain AUC.
4. Power: how often a known shift is found, by size of shift and sample.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from steward.monitor import DriftConfig, ReferenceProfile, build_profile, drift

RESULTS = Path(__file__).parent / "results" / "drift_validation.json"
OFF = DriftConfig(domain={"enabled": False})


def _river(name: str) -> pd.DataFrame:
    from river import datasets

    rows = [x for x, _ in getattr(datasets, name)()]
    return pd.DataFrame(rows)


def _statsmodels(name: str) -> pd.DataFrame:
    import importlib

    frame: pd.DataFrame = importlib.import_module(f"statsmodels.datasets.{name}").load_pandas().data
    return frame


def _sklearn(name: str) -> pd.DataFrame:
    import sklearn.datasets as sk

    bunch = getattr(sk, f"load_{name}")(as_frame=True)
    frame: pd.DataFrame = bunch.frame
    return frame


def undrifted_tables() -> dict[str, pd.DataFrame]:
    """Return real tables to split at random (no shift between the halves)."""
    solar = _river("SolarFlare")
    return {
        "river Shuttle (49,097 x 9)": _river("Shuttle"),
        "statsmodels randhie (20,190 x 10)": _statsmodels("randhie"),
        "statsmodels fair (6,366 x 9)": _statsmodels("fair"),
        "river Bananas (5,300 x 2)": _river("Bananas"),
        "river ImageSegments (2,310 x 18)": _river("ImageSegments"),
        "river SolarFlare (1,066 x 10, categorical)": solar.astype(str),
        "sklearn breast_cancer (569 x 30)": _sklearn("breast_cancer").drop(columns="target"),
        "statsmodels anes96 (944 x 11)": _statsmodels("anes96"),
    }


def random_halves(tables: dict[str, pd.DataFrame], splits: int) -> list[dict[str, Any]]:
    """Return each table's false-alarm rates over ``splits`` random halvings."""
    rows = []
    for label, frame in tables.items():
        rng = np.random.default_rng(0)
        alarms, checks, any_alarm, by_test = 0, 0, 0, {}
        domain_alarms = 0
        for split in range(splits):
            order = rng.permutation(len(frame))
            half = len(frame) // 2
            ref, cur = frame.iloc[order[:half]], frame.iloc[order[half:]]
            config = DriftConfig() if split < 10 else OFF  # the domain check on 10 splits
            report = drift(build_profile(ref, random_state=split), cur, config=config)
            alarms += len(report.drifted_features)
            checks += report.features_checked
            any_alarm += bool(report.drifted_features)
            for f in report.features:
                for t in f.tests:
                    ran, hit = by_test.get(t.test, (0, 0))
                    by_test[t.test] = (ran + 1, hit + t.drifted)
            if report.multivariate is not None:
                domain_alarms += report.multivariate.drifted
        rows.append(
            {
                "table": label,
                "splits": splits,
                "feature_checks": checks,
                "false_alarm_rate": alarms / checks,
                "splits_with_any_alarm": any_alarm / splits,
                "by_test": {k: hit / ran for k, (ran, hit) in by_test.items()},
                "domain_false_alarms": f"{domain_alarms}/10",
            }
        )
    return rows


def naive_gof(ref: pd.Series, cur: pd.Series, profile: ReferenceProfile | None) -> bool:
    """Return the verdict of a chi-square goodness-of-fit of the current's counts against
    the reference's (its decile bins; its shares read off the profile when given)."""
    x, y = ref.dropna().to_numpy(dtype=float), cur.dropna().to_numpy(dtype=float)
    if profile is not None:
        summary = profile.features[str(ref.name)].numeric
        assert summary is not None
        edges = np.asarray(summary.bin_edges)
        shares = np.asarray(summary.bin_counts) / sum(summary.bin_counts)
    else:
        edges = np.unique(np.quantile(x, np.linspace(0.1, 0.9, 9)))
        edges = edges[edges < x.max()]
        shares = np.bincount(
            np.searchsorted(edges, x, side="left"), minlength=len(edges) + 1
        ) / len(x)
    counts = np.bincount(np.searchsorted(edges, y, side="left"), minlength=len(edges) + 1)
    keep = shares > 0
    expected = shares[keep] / shares[keep].sum() * counts[keep].sum()
    return bool(stats.chisquare(counts[keep], expected).pvalue < 0.05)


def large_samples(sizes: list[int], repeats: Callable[[int], int]) -> list[dict[str, Any]]:
    """Return alarm rates on resampled real data, Steward beside goodness-of-fit habits."""
    sources = {
        "Shuttle": _river("Shuttle"),
        "randhie": _statsmodels("randhie"),
        "breast_cancer": _sklearn("breast_cancer").drop(columns="target"),
    }
    rows = []
    for n in sizes:
        for label, frame in sources.items():
            numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
            counts = {
                "steward": 0,
                "gof_exact_reference": 0,
                "gof_profile_shares": 0,
                "ks_p_only": 0,
            }
            checks = 0
            for r in range(repeats(n)):
                rng = np.random.default_rng(1000 * r + n % 997)
                ref = frame.iloc[rng.integers(0, len(frame), n)].reset_index(drop=True)
                cur = frame.iloc[rng.integers(0, len(frame), n)].reset_index(drop=True)
                profile = build_profile(ref, random_state=r)
                report = drift(profile, cur, config=OFF)
                for c in numeric:
                    checks += 1
                    counts["steward"] += report.feature(c).drifted
                    counts["gof_exact_reference"] += naive_gof(ref[c], cur[c], None)
                    counts["gof_profile_shares"] += naive_gof(ref[c], cur[c], profile)
                    counts["ks_p_only"] += stats.ks_2samp(ref[c], cur[c]).pvalue < 0.05
            rows.append(
                {"rows": n, "table": label, "checks": checks}
                | {k: v / checks for k, v in counts.items()}
            )
    return rows


def real_shifts() -> list[dict[str, Any]]:
    """Return what Steward finds on real time and covariate splits."""
    cases: list[tuple[str, pd.DataFrame, pd.DataFrame]] = []
    macro = _statsmodels("macrodata").drop(columns=["year", "quarter"])
    cases.append(("macrodata: 1959-1984 vs 1984-2009 (time)", macro.iloc[:101], macro.iloc[101:]))
    polls = _river("TrumpApproval").drop(columns="ordinal_date")
    cases.append(
        ("TrumpApproval polls: first vs second half (time)", polls.iloc[:500], polls.iloc[500:])
    )
    stocks = _river("SP500Stocks")
    cases.append(
        (
            "SP500Stocks daily returns: first vs second half (time)",
            stocks.iloc[:628],
            stocks.iloc[628:],
        )
    )
    cancer = _sklearn("breast_cancer")
    cases.append(
        (
            "breast_cancer: benign vs malignant (covariate)",
            cancer[cancer.target == 1].drop(columns="target"),
            cancer[cancer.target == 0].drop(columns="target"),
        )
    )
    wine = _sklearn("wine")
    cases.append(
        (
            "wine: cultivar 0 vs 1 (covariate)",
            wine[wine.target == 0].drop(columns="target"),
            wine[wine.target == 1].drop(columns="target"),
        )
    )
    diabetes = _sklearn("diabetes")
    sex = diabetes["sex"] > 0
    cases.append(
        (
            "diabetes: one sex vs the other (covariate)",
            diabetes[sex].drop(columns=["sex", "target"]),
            diabetes[~sex].drop(columns=["sex", "target"]),
        )
    )
    randhie = _statsmodels("randhie")
    cases.append(
        (
            "randhie: no deductible vs deductible plan (covariate idp)",
            randhie[randhie.idp == 0].drop(columns="idp"),
            randhie[randhie.idp == 1].drop(columns="idp"),
        )
    )
    rows = []
    for label, ref, cur in cases:
        report = drift(build_profile(ref, random_state=0), cur)
        top = sorted(report.features, key=lambda f: -f.score)
        rows.append(
            {
                "case": label,
                "rows": f"{len(ref)} vs {len(cur)}",
                "flagged": f"{len(report.drifted_features)}/{report.features_checked}",
                "strongest": ", ".join(
                    f"{f.feature} ({f.score:.1f}x)" for f in top[:4] if f.drifted
                )
                or "-",
                "not_flagged": ", ".join(f.feature for f in report.features if not f.drifted)
                or "-",
                "domain_auc": report.multivariate.auc if report.multivariate else None,
                "domain_drivers": [d.feature for d in report.multivariate.drivers]
                if report.multivariate
                else [],
            }
        )
    return rows


def power(sizes: list[int], repeats: int) -> list[dict[str, Any]]:
    """Return how often a known shift is found, by kind and size of shift and sample."""
    shifts: dict[str, Callable[[np.random.Generator, int, float], np.ndarray]] = {
        "mean shift (std)": lambda rng, n, s: rng.normal(s, 1, n),
        "scale factor - 1": lambda rng, n, s: rng.normal(0, 1 + s, n),
    }
    rows = []
    for kind, make in shifts.items():
        for size in (0.05, 0.1, 0.25, 0.5):
            row: dict[str, Any] = {"shift": kind, "size": size}
            for n in sizes:
                found = 0
                for r in range(repeats):
                    rng = np.random.default_rng(r * 7919 + n)
                    ref = pd.DataFrame({"x": make(rng, n, 0.0)})
                    cur = pd.DataFrame({"x": make(rng, n, size)})
                    found += drift(build_profile(ref), cur, config=OFF).feature("x").drifted
                row[str(n)] = found / repeats
            rows.append(row)
    for delta in (0.02, 0.05, 0.1, 0.2):
        row = {"shift": "category share moved", "size": delta}
        for n in sizes:
            found = 0
            for r in range(repeats):
                rng = np.random.default_rng(r * 104729 + n)
                p = np.array([0.4, 0.3, 0.2, 0.1])
                q = p + np.array([delta, -delta / 3, -delta / 3, -delta / 3])
                ref = pd.DataFrame({"c": rng.choice(list("abcd"), n, p=p)})
                cur = pd.DataFrame({"c": rng.choice(list("abcd"), n, p=q)})
                found += drift(build_profile(ref), cur, config=OFF).feature("c").drifted
            row[str(n)] = found / repeats
        rows.append(row)
    return rows


def table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    """Print rows as a plain table."""

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.3f}"
        if isinstance(v, dict):
            return " ".join(f"{k}={x:.3f}" for k, x in v.items())
        return str(v)

    widths = [max(len(c), *(len(cell(r.get(c, ""))) for r in rows)) for c in columns]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    for r in rows:
        print("  ".join(cell(r.get(c, "")).ljust(w) for c, w in zip(columns, widths, strict=True)))
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer splits and sizes")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    started = time.perf_counter()
    splits = 20 if args.quick else 200
    sizes = [1_000, 10_000, 100_000] if args.quick else [1_000, 10_000, 100_000, 1_000_000]
    results: dict[str, Any] = {}

    print(
        f"1. False alarms: random halves of real tables, {splits} splits each (domain check on 10)\n"
    )
    results["random_halves"] = random_halves(undrifted_tables(), splits)
    table(
        results["random_halves"],
        [
            "table",
            "feature_checks",
            "false_alarm_rate",
            "splits_with_any_alarm",
            "domain_false_alarms",
            "by_test",
        ],
    )

    print(
        "2. Large samples: real tables resampled to n rows a side (no shift); share of numeric features alarmed\n"
    )
    results["large_samples"] = large_samples(
        sizes, lambda n: 20 if n <= 10_000 else (5 if n <= 100_000 else 2)
    )
    table(
        results["large_samples"],
        [
            "rows",
            "table",
            "checks",
            "steward",
            "ks_p_only",
            "gof_exact_reference",
            "gof_profile_shares",
        ],
    )

    print("3. Real shifts: what Steward flags (score: largest effect / its threshold)\n")
    results["real_shifts"] = real_shifts()
    for r in results["real_shifts"]:
        auc = "-" if r["domain_auc"] is None else f"{r['domain_auc']:.3f}"
        print(
            f"{r['case']}  [{r['rows']} rows]: {r['flagged']} flagged; domain AUC {auc} (drivers {', '.join(r['domain_drivers']) or '-'})"
        )
        print(f"    strongest: {r['strongest']}")
        print(f"    not flagged: {r['not_flagged']}")
    print()

    print("4. Power: share of repeats in which a known shift is found, by rows a side\n")
    power_sizes = [100, 1_000, 10_000, 100_000]
    results["power"] = power(power_sizes, 20 if args.quick else 50)
    table(results["power"], ["shift", "size", *map(str, power_sizes)])

    results["seconds"] = time.perf_counter() - started
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, default=float))
    print(f"{results['seconds']:.0f} s; results in {args.output}")


if __name__ == "__main__":
    main()
