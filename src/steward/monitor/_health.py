"""Service health from the prediction log: throughput, errors, latency, memory, over time."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field


class HealthBucket(BaseModel):
    """One time bucket of a deployment's service health (one model version, or all)."""

    start: float
    version: str
    requests: int
    errors: int
    error_rate: float
    throughput: float  # requests per second over the bucket
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    memory_mb: float | None = None


class HealthReport(BaseModel):
    """Throughput, errors, latency percentiles and memory over a window."""

    bucket_seconds: float
    requests: int = 0
    errors: int = 0
    error_rate: float = 0.0
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    memory_mb: float | None = None
    buckets: list[HealthBucket] = Field(default_factory=list)


def health(
    predictions: pd.DataFrame, samples: pd.DataFrame, *, bucket_seconds: float
) -> HealthReport:
    """Return the service health of the logged requests (and process samples) per bucket."""
    report = HealthReport(bucket_seconds=bucket_seconds)
    if predictions.empty:
        return report
    primary = (
        predictions[predictions["role"] == "primary"] if "role" in predictions else predictions
    )
    first = primary.drop_duplicates("request_id") if "request_id" in primary else primary
    ok = first[first["status"] < 400]
    report.requests = len(ok)
    report.errors = int((first["status"] >= 400).sum())
    total = report.requests + report.errors
    report.error_rate = report.errors / total if total else 0.0
    if len(ok):
        report.p50_ms, report.p95_ms, report.p99_ms = _percentiles(ok["latency_ms"])
    seconds = first["time"].map(lambda t: t.timestamp()).to_numpy(dtype=float)
    starts = np.floor(seconds / bucket_seconds) * bucket_seconds
    frame = first.assign(bucket=starts, label=_labels(first))
    memory = _memory(samples, bucket_seconds)
    if memory:
        report.memory_mb = max(memory.values())
    for key, part in frame.groupby(["bucket", "label"], sort=True):
        start, label = float(str(key[0])), str(key[1])
        good = part[part["status"] < 400]
        errors = int((part["status"] >= 400).sum())
        p50, p95, p99 = _percentiles(good["latency_ms"]) if len(good) else (None, None, None)
        report.buckets.append(
            HealthBucket(
                start=start,
                version=label,
                requests=len(good),
                errors=errors,
                error_rate=errors / len(part) if len(part) else 0.0,
                throughput=len(good) / bucket_seconds,
                p50_ms=p50,
                p95_ms=p95,
                p99_ms=p99,
                memory_mb=memory.get(start),
            )
        )
    return report


def _labels(frame: pd.DataFrame) -> Any:
    if "model" not in frame or "version" not in frame:
        return "all"
    versions = frame["version"].astype("Int64").astype(str).replace("<NA>", "")
    labels = frame["model"].fillna("").astype(str) + "/" + versions
    return labels.where(frame["status"] < 400, "(refused)")


def _percentiles(values: pd.Series) -> tuple[float, float, float]:
    p50, p95, p99 = np.percentile(values.to_numpy(dtype=float), [50, 95, 99])
    return float(p50), float(p95), float(p99)


def _memory(samples: pd.DataFrame, bucket_seconds: float) -> dict[float, float]:
    if samples.empty or "rss_bytes" not in samples:
        return {}
    seconds = samples["time"].map(lambda t: t.timestamp()).to_numpy(dtype=float)
    starts = np.floor(seconds / bucket_seconds) * bucket_seconds
    peaks = samples.assign(bucket=starts).groupby("bucket")["rss_bytes"].max()
    return {
        float(k): float(v) / 1024**2 for k, v in zip(peaks.index, peaks.to_numpy(), strict=True)
    }
