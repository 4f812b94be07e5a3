"""A serving process's state: the routes it serves now, and how it follows its deployment.

The serving routes live in one immutable :class:`RouteTable`. A poll thread reads the
deployment's revision from the store every ``poll_seconds``; when it changed, the new
revision's models are loaded (hashes verified) and warmed *beside* the current ones, and
only then is the table reference replaced, in one assignment. A request holds the table
it started with, so no request fails or mixes versions during a switch: the blue-green
switch. The same thread refreshes the callers' tokens and exchanges bandit rewards.

Shadow routes score each request in a worker thread after the response is sent, from a
bounded queue: when the shadows fall behind, requests skip the shadow (counted) rather
than slow the serving route.
"""

from __future__ import annotations

import gc
import os
import queue
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from steward.config import load_settings
from steward.serve._decode import Batch
from steward.serve._deploy_ops import hash_token
from steward.serve._metrics import ServingMetrics
from steward.serve._models import Deployment, DeploymentSpec, Route
from steward.serve._predlog import HealthEntry, LogEntry, PredictionLog, input_types
from steward.serve._runtime import ServedModel, load_served
from steward.serve._traffic import RequestIds, Router

if TYPE_CHECKING:
    from steward._backend import Backend

HEALTH_SECONDS = 10.0  # how often the process's memory and CPU are written to the log
MODEL_CACHE = 4  # models kept loaded across revisions (switching back is then instant)


@dataclass(frozen=True)
class RouteTable:
    """What one revision serves: its spec, a router, and each route's loaded model."""

    revision: int
    spec: DeploymentSpec
    router: Router
    models: list[ServedModel]
    loaded_at: float = field(default_factory=time.time)

    def model(self, index: int) -> ServedModel:
        """Return the model of route ``index``."""
        return self.models[index]


@dataclass
class ShadowJob:
    """A request to score again on the shadow routes, after its response."""

    request_id: str
    batch: Batch
    entity: str | None
    table: RouteTable


class ServingState:
    """Everything a serving process shares across requests."""

    def __init__(
        self,
        name: str,
        spec: DeploymentSpec,
        *,
        revision: int = 1,
        backend: Backend | None = None,
        id_key: str | None = None,
        token_hashes: set[str] | None = None,
        require_token: bool = False,
        log_root: str | None = None,
        poll_seconds: float = 1.0,
        reward_seconds: float = 5.0,
    ) -> None:
        self.name = name
        self.backend = backend
        self.poll_seconds = poll_seconds
        self.reward_seconds = reward_seconds
        self.ids = RequestIds(id_key or secrets.token_hex(32))
        self.token_hashes: set[str] = set(token_hashes or ())
        self.require_token = require_token or bool(self.token_hashes)
        self.metrics = ServingMetrics(name)
        self.ready = False
        self.started = time.time()
        self.switches: list[dict[str, Any]] = []
        self.poll_error: str | None = None
        self._cache: dict[str, ServedModel] = {}
        self.initial_spec = spec
        self.max_body_bytes = spec.max_body_bytes
        self._first_revision = revision
        self.table: RouteTable | None = None
        root = log_root or os.environ.get("STEWARD_PREDICTION_LOG") or spec.log.uri
        self.log_root = root or str(load_settings().home / "deployments" / name)
        self.log: PredictionLog | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.shadow_queue: queue.Queue[ShadowJob] = queue.Queue(maxsize=spec.shadow_queue)
        self.memory_limit: int | None = None

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Load and warm the first revision (blocking), then follow the deployment."""
        self.table = self._build(self._first_revision, self.initial_spec, {})
        self.log = PredictionLog(
            self.log_root,
            self.name,
            flush_rows=self.initial_spec.log.flush_rows,
            flush_seconds=self.initial_spec.log.flush_seconds,
            max_buffer_rows=self.initial_spec.log.max_buffer_rows,
            input_types=self._input_types(self.table),
        )
        self.metrics.revision.labels(self.name).set(self.table.revision)
        self.metrics.memory_limit.labels(self.name).set(self.memory_limit or 0)
        # Everything loaded so far (libraries, models) lives as long as the process: keep it
        # out of the garbage collector's full passes, which otherwise walk it every few
        # seconds under load and stall requests for tens of milliseconds.
        gc.collect()
        gc.freeze()
        self.ready = True
        for target, label in ((self._poll, "poll"), (self._shadows, "shadow")):
            thread = threading.Thread(target=target, name=f"steward-{label}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop following the deployment and write the prediction log's last rows."""
        self.ready = False
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._send_rewards()
        if self.log is not None:
            self.log.close()

    # -- routes ----------------------------------------------------------------------------

    def _build(
        self, revision: int, spec: DeploymentSpec, arms: dict[str, tuple[float, float]]
    ) -> RouteTable:
        models = [
            load_served(r.name, _uri(r), cache=self._cache, name=self.name) for r in spec.routes
        ]
        self._trim_cache(models)
        return RouteTable(revision, spec, Router(spec, arms), models)

    def _trim_cache(self, keep: list[ServedModel]) -> None:
        current = self.table.models if self.table is not None else []
        wanted = {id(m) for m in [*keep, *current]}
        extra = [k for k, m in self._cache.items() if id(m) not in wanted]
        for key in extra[: max(0, len(self._cache) - MODEL_CACHE)]:
            del self._cache[key]

    def _input_types(self, table: RouteTable) -> dict[str, Any]:
        kinds: dict[str, str] = {}
        for model in table.models:
            if model.signature is not None:
                for spec in model.signature.inputs:
                    kinds.setdefault(spec.name, spec.kind)
        return input_types(kinds)

    def switch(self, deployment: Deployment) -> None:
        """Serve ``deployment``'s revision: load and warm it beside the current one, then swap."""
        current = self.table
        started = time.perf_counter()
        table = self._build(deployment.revision, deployment.spec, deployment.arms)
        if self.log is not None:
            self.log.input_types.update(
                {k: v for k, v in self._input_types(table).items() if k not in self.log.input_types}
            )
        self.table = table  # the switch: one reference assignment; requests in flight keep theirs
        self.metrics.revision.labels(self.name).set(table.revision)
        self.switches.append(
            {
                "from_revision": current.revision if current else None,
                "to_revision": table.revision,
                "routes": {m.route: m.label for m in table.models},
                "load_seconds": round(time.perf_counter() - started, 3),
                "time": time.time(),
            }
        )

    # -- following the deployment ------------------------------------------------------------

    def _health(self) -> None:
        """Write a sample of this process's memory and CPU to the log's health segments."""
        if self.log is None:
            return
        try:
            import psutil

            proc = psutil.Process()
            times = proc.cpu_times()
            self.log.record_health(
                HealthEntry(
                    time=time.time(),
                    host=socket.gethostname(),
                    pid=os.getpid(),
                    revision=self.table.revision if self.table else 0,
                    rss_bytes=int(proc.memory_info().rss),
                    cpu_seconds=float(times.user + times.system),
                    memory_limit_bytes=self.memory_limit,
                )
            )
        except Exception:  # a missing sample is a gap in a chart, not a failure
            return

    def _poll(self) -> None:
        last_reward = time.monotonic()
        last_health = 0.0
        while not self._stop.wait(self.poll_seconds):
            if time.monotonic() - last_health >= HEALTH_SECONDS:
                self._health()
                last_health = time.monotonic()
            if self.backend is None:
                continue
            try:
                access = self.backend.get_serving_access(self.name)
                self.token_hashes = set(access.token_sha256)
                self.require_token = access.require_token
                table = self.table
                if table is not None and access.revision != table.revision:
                    self.switch(self.backend.get_deployment(self.name))
                if time.monotonic() - last_reward >= self.reward_seconds:
                    self._send_rewards()
                    last_reward = time.monotonic()
                self.poll_error = None
            except Exception as exc:  # keep serving the current revision; report the problem
                self.poll_error = f"{type(exc).__name__}: {exc}"

    def _send_rewards(self) -> None:
        table = self.table
        if self.backend is None or table is None or table.spec.policy != "bandit":
            return
        pending = table.router.take_pending()
        if not pending:
            return
        try:
            totals = self.backend.record_bandit_rewards(self.name, table.revision, pending)
        except Exception:
            table.router.restore_pending(pending)
            raise
        table.router.arms = dict(totals)

    # -- callers ---------------------------------------------------------------------------

    def allowed(self, authorization: str | None) -> bool:
        """Return True when the request may be served (a valid bearer token, if required)."""
        if not self.require_token:
            return True
        if not authorization or not authorization.lower().startswith("bearer "):
            return False
        return hash_token(authorization[7:].strip()) in self.token_hashes

    # -- shadows ---------------------------------------------------------------------------

    def shadow(self, job: ShadowJob) -> None:
        """Queue a request for the shadow routes, or count it skipped when they lag."""
        try:
            self.shadow_queue.put_nowait(job)
        except queue.Full:
            for index in job.table.router.shadows:
                self.metrics.shadow_skipped.labels(
                    self.name, job.table.spec.routes[index].name
                ).inc()

    def _shadows(self) -> None:
        while not self._stop.is_set():
            try:
                job = self.shadow_queue.get(timeout=0.2)
            except queue.Empty:
                continue
            for index in job.table.router.shadows:
                model = job.table.model(index)
                started = time.perf_counter()
                try:
                    scored = model.score(job.batch)
                    entry = LogEntry(
                        request_id=job.request_id,
                        time=time.time(),
                        revision=job.table.revision,
                        route=model.route,
                        role="shadow",
                        model=model.model,
                        version=model.version,
                        status=200,
                        latency_ms=(time.perf_counter() - started) * 1000,
                        rows=job.batch.rows,
                        entity=job.entity,
                        inputs=job.batch.columns,
                        predictions=scored.predictions,
                        probabilities=scored.probabilities,
                        classes=model.classes,
                    )
                except Exception as exc:  # a failing shadow is logged, never seen by callers
                    entry = LogEntry(
                        request_id=job.request_id,
                        time=time.time(),
                        revision=job.table.revision,
                        route=model.route,
                        role="shadow",
                        model=model.model,
                        version=model.version,
                        status=500,
                        latency_ms=(time.perf_counter() - started) * 1000,
                        rows=job.batch.rows,
                        entity=job.entity,
                        error=f"{type(exc).__name__}: {exc}"[:2000],
                    )
                if self.log is not None:
                    self.log.record(entry)

    def status(self) -> dict[str, Any]:
        """Return what this server serves, for /deployment and the CLI."""
        table = self.table
        log = self.log
        return {
            "deployment": self.name,
            "ready": self.ready,
            "revision": table.revision if table else None,
            "policy": table.spec.policy if table else None,
            "routes": [
                {
                    "route": m.route,
                    "model": m.model,
                    "version": m.version,
                    "uri": m.uri,
                    "shadow": table.spec.routes[i].shadow,
                    "array_input": m.array_input,
                }
                for i, m in enumerate(table.models)
            ]
            if table
            else [],
            "arms": {r.name: table.router.posterior(r.name) for r in table.spec.serving}
            if table and table.spec.policy == "bandit"
            else {},
            "switches": self.switches[-10:],
            "shadow_backlog": self.shadow_queue.qsize(),
            "started": self.started,
            "poll_error": self.poll_error,
            "prediction_log": {
                "root": self.log_root,
                "written_rows": log.predictions.written_rows if log else 0,
                "buffered_rows": log.predictions.buffered_rows if log else 0,
                "dropped_rows": log.predictions.dropped_rows if log else 0,
                "last_error": log.predictions.last_error if log else None,
            },
            "memory_limit_bytes": self.memory_limit,
        }


def _uri(route: Route) -> str:
    return route.resolved or route.model


def standalone_spec(package: str | Path) -> DeploymentSpec:
    """Return the spec of serving one package folder, with no store (a container's case)."""
    return DeploymentSpec(routes=[Route(name="primary", model=str(Path(package).resolve()))])
