"""One model version's window of traffic: drift, measured performance, estimated performance."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from steward.errors import StewardError
from steward.monitor._drift import DriftReport, drift
from steward.monitor._estimation import load_estimator
from steward.monitor._estimation_report import EstimatedPerformance
from steward.monitor._performance import performance
from steward.monitor._performance_report import PerformanceReport
from steward.monitor._records import MetricPoint, MonitorConfig
from steward.monitor._reference import load_reference
from steward.registry import get_model_version


class Overlay(BaseModel):
    """A feature's distribution in the training reference and in the window, side by side."""

    feature: str
    kind: str
    labels: list[str]
    reference: list[float]  # shares
    current: list[float]
    drifted: bool = False


class VersionResult(BaseModel):
    """What monitoring found for one model version in the window."""

    label: str  # "churn/3"
    model: str
    version: int
    rows: int
    drift: DriftReport | None = None
    drift_note: str = ""
    drifted: list[str] = Field(default_factory=list)
    features_checked: int = 0
    prediction_drifted: bool = False
    domain_auc: float | None = None
    performance: PerformanceReport | None = None
    performance_note: str = ""
    performance_value: float | None = None
    performance_reference: float | None = None
    performance_labels: int | None = None
    estimate: EstimatedPerformance | None = None
    estimate_note: str = ""
    estimate_value: float | None = None
    estimate_reference: float | None = None
    overlays: list[Overlay] = Field(default_factory=list)

    @property
    def drift_summary(self) -> str:
        """Return one line on the drift found."""
        if self.drift is None:
            return self.drift_note
        found = f"{len(self.drifted)} of {self.features_checked} features drifted"
        if self.drifted:
            found += ": " + ", ".join(self.drifted[:6]) + ("..." if len(self.drifted) > 6 else "")
        if self.prediction_drifted:
            found += "; predictions drifted"
        if self.domain_auc is not None:
            found += f"; domain classifier AUC {self.domain_auc:.2f}"
        return found

    @property
    def performance_summary(self) -> str:
        """Return one line on the performance measured where labels arrived."""
        if self.performance is None:
            return self.performance_note
        o = self.performance.overall
        metric = "accuracy" if self.performance.task == "classification" else "mae"
        value = o.metrics.get(metric)
        shown = (
            f"{metric} {value.value:.3f}" if value and value.value is not None else metric + " n/a"
        )
        return f"{shown} on {o.labeled} labeled rows; {o.waiting} still waiting for labels"

    @property
    def estimate_summary(self) -> str:
        """Return one line on the performance estimated without labels."""
        if self.estimate is None:
            return self.estimate_note
        shown = ", ".join(
            f"{k} {m.value:.3f}"
            for k, m in self.estimate.overall.metrics.items()
            if m.value is not None
        )
        return shown + (
            "; DROPPED: " + "; ".join(self.estimate.drops) if self.estimate.dropped else ""
        )


@dataclass
class Analysed:
    """A version's result, its points for the time series, and its rows joined to labels."""

    result: VersionResult
    metrics: list[MetricPoint] = field(default_factory=list)
    joined: pd.DataFrame = field(default_factory=pd.DataFrame)


def analyse_version(
    model: str,
    version: int,
    rows: pd.DataFrame,
    labels: pd.DataFrame,
    *,
    config: MonitorConfig,
    history: list[MetricPoint],
) -> Analysed:
    """Return drift, performance and estimated performance of one version's window."""
    label = f"{model}/{version}"
    result = VersionResult(label=label, model=model, version=version, rows=len(rows))
    out = Analysed(result, joined=rows)
    uri = f"models:/{model}/{version}"
    try:
        registered = get_model_version(uri)
        task = (
            registered.manifest.signature.output.task if registered.manifest.signature else "other"
        )
        classes = (
            registered.manifest.signature.output.classes if registered.manifest.signature else None
        )
    except StewardError as exc:
        result.drift_note = result.performance_note = f"the version cannot be read: {exc.message}"
        return out
    _drift(result, out, uri, rows)
    if task in ("classification", "regression") and not labels.empty:
        _performance(result, out, rows, labels, task, classes, config, history)
    elif task not in ("classification", "regression"):
        result.performance_note = (
            "not measured: the model's task is not classification or regression"
        )
    else:
        result.performance_note = f"no labels yet: {len(rows)} predictions wait for ground truth"
    if task == "classification":
        _estimate(result, out, uri, rows, config)
    return out


def _drift(result: VersionResult, out: Analysed, uri: str, rows: pd.DataFrame) -> None:
    try:
        reference = load_reference(uri)
    except StewardError as exc:
        result.drift_note = f"not computed: {exc.message}"
        return
    try:
        report = drift(reference, rows)
    except StewardError as exc:
        result.drift_note = f"not computed: {exc.message}"
        return
    result.drift = report
    result.overlays = overlays(reference, rows, report)
    result.drifted = list(report.drifted_features)
    result.features_checked = report.features_checked
    result.prediction_drifted = report.prediction_drifted
    result.domain_auc = report.multivariate.auc if report.multivariate else None
    for feature in [*report.features, *report.predictions]:
        psi = next((t.effect for t in feature.tests if t.test == "psi"), None)
        out.metrics.append(
            MetricPoint(
                kind="drift",
                name=f"drift.score.{feature.feature}",
                version=result.label,
                value=feature.score,
            )
        )
        if psi is not None:
            out.metrics.append(
                MetricPoint(
                    kind="drift",
                    name=f"drift.psi.{feature.feature}",
                    version=result.label,
                    value=psi,
                )
            )
    out.metrics.append(
        MetricPoint(
            kind="drift", name="drift.share", version=result.label, value=report.share_drifted
        )
    )
    if result.domain_auc is not None:
        out.metrics.append(
            MetricPoint(
                kind="drift", name="drift.domain_auc", version=result.label, value=result.domain_auc
            )
        )


MAX_OVERLAYS = 8
MAX_CATEGORIES = 12


def overlays(reference: Any, rows: pd.DataFrame, report: DriftReport) -> list[Overlay]:
    """Return reference-vs-window distributions of the most drifted features (then the rest)."""
    ranked = sorted(report.features, key=lambda f: (not f.drifted, -f.score))[:MAX_OVERLAYS]
    found = []
    for feature in ranked:
        profile = reference.features.get(feature.feature)
        column = f"input.{feature.feature}"
        if profile is None or column not in rows:
            continue
        values = rows[column].dropna()
        if profile.numeric is not None and profile.numeric.bin_edges:
            edges = np.asarray(profile.numeric.bin_edges, dtype=float)
            ref = np.asarray(profile.numeric.bin_counts, dtype=float)
            numbers = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=float)
            cur = np.bincount(
                np.searchsorted(edges, numbers, side="left"), minlength=len(edges) + 1
            )
            labels = [
                f"<= {edges[0]:.4g}",
                *(f"{a:.4g} to {b:.4g}" for a, b in itertools.pairwise(edges)),
                f"> {edges[-1]:.4g}",
            ]
        elif profile.categories is not None:
            counts = profile.categories.counts
            top = sorted(counts, key=lambda k: -counts[k])[:MAX_CATEGORIES]
            current = values.astype(str).value_counts()
            ref = np.asarray(
                [counts[k] for k in top]
                + [sum(counts.values()) - sum(counts[k] for k in top) + profile.categories.other],
                dtype=float,
            )
            cur = np.asarray(
                [current.get(k, 0) for k in top]
                + [int(current.sum()) - sum(int(current.get(k, 0)) for k in top)],
                dtype=float,
            )
            labels = [*top, "(other)"]
        else:
            continue
        found.append(
            Overlay(
                feature=feature.feature,
                kind=feature.kind,
                labels=labels,
                reference=_shares(ref),
                current=_shares(np.asarray(cur, dtype=float)),
                drifted=feature.drifted,
            )
        )
    return found


def _shares(counts: np.ndarray) -> list[float]:
    total = float(counts.sum())
    return [float(c) / total if total else 0.0 for c in counts]


def _performance(
    result: VersionResult,
    out: Analysed,
    rows: pd.DataFrame,
    labels: pd.DataFrame,
    task: str,
    classes: list[Any] | None,
    config: MonitorConfig,
    history: list[MetricPoint],
) -> None:
    try:
        report = performance(rows, labels, task=task, classes=classes, window="1h")  # type: ignore[arg-type]
    except StewardError as exc:
        result.performance_note = f"not computed: {exc.message}"
        return
    result.performance = report
    metric = config.performance.metric
    overall = report.overall.metrics.get(metric)
    result.performance_labels = report.overall.labeled
    result.performance_value = overall.value if overall else None
    earlier = [
        p.value for p in history if p.name == f"performance.{metric}" and p.value is not None
    ]
    result.performance_reference = sorted(earlier)[len(earlier) // 2] if earlier else None
    for name, m in report.overall.metrics.items():
        out.metrics.append(
            MetricPoint(
                kind="performance",
                name=f"performance.{name}",
                version=result.label,
                value=m.value,
                lower=m.low,
                upper=m.high,
            )
        )
    total = report.overall.labeled + report.overall.waiting
    out.metrics.append(
        MetricPoint(
            kind="performance",
            name="performance.waiting_share",
            version=result.label,
            value=report.overall.waiting / total if total else None,
        )
    )


def _estimate(
    result: VersionResult, out: Analysed, uri: str, rows: pd.DataFrame, config: MonitorConfig
) -> None:
    try:
        estimator = load_estimator(uri)
    except StewardError as exc:
        result.estimate_note = f"not estimated: {exc.message}"
        return
    try:
        estimate = estimator.estimate(rows, window=None, max_drop=config.estimate.max_drop or 0.05)
    except StewardError as exc:
        result.estimate_note = f"not estimated: {exc.message}"
        return
    result.estimate = estimate
    metric = config.estimate.metric
    found = estimate.overall.metrics.get(metric)
    result.estimate_value = found.value if found else None
    result.estimate_reference = found.reference if found else None
    for name, m in estimate.overall.metrics.items():
        out.metrics.append(
            MetricPoint(
                kind="estimate",
                name=f"estimate.{name}",
                version=result.label,
                value=m.value,
                lower=m.low,
                upper=m.high,
            )
        )
