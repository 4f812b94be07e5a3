"""The serving process's Prometheus metrics: requests, errors and latency by model version and
route, the prediction log's health, shadows skipped, process memory and CPU."""

from __future__ import annotations

from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.002,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)


class ServingMetrics:
    """One registry per server (several servers in one process stay apart, as in tests)."""

    def __init__(self, deployment: str) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)  # process_resident_memory_bytes, cpu seconds
        PlatformCollector(registry=self.registry)
        labels = ["deployment", "model", "version", "route", "endpoint"]
        self.requests = Counter(
            "steward_requests",
            "Requests scored, by model version, route and endpoint.",
            labels,
            registry=self.registry,
        )
        self.errors = Counter(
            "steward_request_errors",
            "Requests answered with an error, by status code and endpoint.",
            ["deployment", "status", "endpoint"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "steward_request_latency_seconds",
            "Time to score a request (decode, check, predict, encode), by version and route.",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.rows = Counter(
            "steward_rows_scored",
            "Input rows scored, by model version and route.",
            labels,
            registry=self.registry,
        )
        self.shadow_skipped = Counter(
            "steward_shadow_skipped",
            "Shadow scorings skipped because the shadow queue was full.",
            ["deployment", "route"],
            registry=self.registry,
        )
        self.log_dropped = Gauge(
            "steward_prediction_log_dropped_rows_total",
            "Prediction log rows dropped because the log could not be written in time.",
            ["deployment"],
            registry=self.registry,
        )
        self.log_buffered = Gauge(
            "steward_prediction_log_buffered_rows",
            "Prediction log rows waiting to be written.",
            ["deployment"],
            registry=self.registry,
        )
        self.revision = Gauge(
            "steward_deployment_revision",
            "The deployment revision this server serves.",
            ["deployment"],
            registry=self.registry,
        )
        self.memory_limit = Gauge(
            "steward_memory_limit_bytes",
            "The memory limit applied to this process (0: none).",
            ["deployment"],
            registry=self.registry,
        )
        self.deployment = deployment
        self._children: dict[tuple[str, ...], tuple[Any, Any, Any]] = {}

    def scored(
        self, model: str, version: str, route: str, endpoint: str, seconds: float, rows: int
    ) -> None:
        """Count one scored request (children are cached: this is on the request path)."""
        key = (model, version, route, endpoint)
        children = self._children.get(key)
        if children is None:
            labels = (self.deployment, *key)
            children = (
                self.requests.labels(*labels),
                self.latency.labels(*labels),
                self.rows.labels(*labels),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)
        children[2].inc(rows)

    def failed(self, status: int, endpoint: str) -> None:
        """Count one request answered with an error."""
        self.errors.labels(self.deployment, str(status), endpoint).inc()

    def render(self) -> bytes:
        """Return the metrics in Prometheus' text format."""
        return bytes(generate_latest(self.registry))
