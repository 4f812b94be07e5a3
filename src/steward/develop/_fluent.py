"""The tracking API a data scientist calls: start_run, log_*, set_tag, end_run..."""

from __future__ import annotations

import atexit
import os
import sys
import time
import traceback
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from steward._gc import paused_gc
from steward.buffer import buffer
from steward.context import drop_run, get_backend, innermost_run, push_run, run_target, runs_lock
from steward.develop._environment import capture_context, capture_environment, current_seed
from steward.develop._models import MetricBatch, Run, RunStatus
from steward.errors import InvalidInput
from steward.validation import check_key, check_metric_value, check_step, param_value, renamed

if TYPE_CHECKING:
    from steward._backend import Backend

BATCH_CHUNK = 50_000
_steps: dict[tuple[str, str], int] = {}
_defaults: dict[str, str] = {}


class ActiveRun:
    """A run this process is logging to; as a context manager it ends the run on exit.

    When the block raises, the run ends as FAILED with the exception recorded.
    """

    def __init__(self, run: Run, backend: Backend) -> None:
        self.run = run
        self._backend = backend

    @property
    def backend(self) -> Backend:
        """Return the backend the run logs to."""
        return self._backend

    @property
    def info(self) -> Run:
        """Return the run as it was when it started (MLflow's ``run.info.run_id`` works)."""
        return self.run

    @property
    def id(self) -> str:
        """Return the run id."""
        return self.run.id

    @property
    def name(self) -> str:
        """Return the run name."""
        return self.run.name

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            end_run("FINISHED", run_id=self.id)
        else:
            status: RunStatus = "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
            end_run(status, run_id=self.id, error=_describe(exc))

    def __repr__(self) -> str:
        return f"<ActiveRun {self.run.project}/{self.run.experiment} {self.name} id={self.id}>"


def _describe(exc: BaseException) -> str:
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return text[-8000:]


def set_experiment(
    name: str | None = None, *, project: str | None = None, experiment_name: str | None = None
) -> None:
    """Make ``name`` (in ``project``) the experiment that later runs go to.

    ``experiment_name=`` is accepted as MLflow spells it.
    """
    name = renamed(name, experiment_name, "name", "experiment_name")
    if name is None:
        raise InvalidInput("set_experiment needs the experiment's name: set_experiment('churn').")
    _defaults["experiment"] = name
    if project is not None:
        _defaults["project"] = project


def _default(kind: str) -> str:
    return _defaults.get(kind) or os.environ.get(f"STEWARD_{kind.upper()}") or "default"


def start_run(
    name: str | None = None,
    *,
    project: str | None = None,
    experiment: str | None = None,
    run_id: str | None = None,
    nested: bool = False,
    parent_run_id: str | None = None,
    tags: Mapping[str, Any] | None = None,
    capture_environment_info: bool = True,
    run_name: str | None = None,
) -> ActiveRun:
    """Return a new active run (or resume ``run_id``); use it as a context manager.

    Inside another active run, pass ``nested=True`` to make it a child run. Without a
    name the run is called ``run-<8 hex digits>``; ``run_name=`` is accepted as MLflow
    spells it.
    """
    name = renamed(name, run_name, "name", "run_name")
    backend = get_backend()
    with runs_lock:
        innermost = innermost_run()
        if innermost and not nested and parent_run_id is None and run_id is None:
            raise InvalidInput(
                f"Run {innermost.id} is already active. End it with steward.end_run(), or "
                "pass nested=True to start a child run."
            )
        if run_id is not None:
            run = backend.update_run(run_id, status="RUNNING")
        else:
            parent = parent_run_id or (innermost.id if innermost and nested else None)
            context: dict[str, Any] = {"seed": current_seed()}
            environment = None
            diff: bytes | None = None
            if capture_environment_info:
                context, diff = capture_context()
                environment = capture_environment()
            run_tags = {k: str(v) for k, v in (tags or {}).items()}
            reproducing = os.environ.get("STEWARD_REPRODUCING")
            if reproducing:  # set by steward.reproduce_run for the command it re-runs
                run_tags.setdefault("steward.reproduction_of", reproducing)
            run = backend.create_run(
                project=_default("project") if project is None else project,
                experiment=_default("experiment") if experiment is None else experiment,
                name=name,
                parent_run_id=parent,
                tags=run_tags,
                context=context,
                environment=environment,
            )
            if diff:
                sha, size = backend.blobs.put_bytes(diff)
                backend.add_artifact(run.id, "environment/git.diff", sha, size)
        active = ActiveRun(run, backend)
        push_run(active)
        _install_exit_hooks()
        return active


def active_run() -> ActiveRun | None:
    """Return the innermost active run, or None."""
    return cast("ActiveRun | None", innermost_run())


def end_run(
    status: RunStatus = "FINISHED", *, run_id: str | None = None, error: str | None = None
) -> Run:
    """Return the run after storing its buffered metrics and ending it with ``status``."""
    backend, rid = run_target(run_id)
    try:
        buffer.flush()
    finally:
        drop_run(rid)
    return backend.update_run(rid, status=status, error=error)


def flush() -> None:
    """Store every buffered metric point now."""
    buffer.flush()


def log_metric(
    key: str,
    value: float,
    step: int | None = None,
    *,
    timestamp: float | None = None,
    run_id: str | None = None,
    synchronous: bool | None = None,
) -> None:
    """Log one metric value (buffered; stored before the run ends or the process exits).

    Without ``step``, each key counts its own steps 0, 1, 2... in this process.
    """
    backend, rid = run_target(run_id)
    check_key(key, "metric")
    number = check_metric_value(key, value)
    step = _next_step(rid, key) if step is None else check_step(key, step)
    ts = time.time() if timestamp is None else float(timestamp)
    if synchronous is None:  # read per call (cheap), so tests and users can flip it any time
        synchronous = os.environ.get("STEWARD_ASYNC_LOGGING", "1").lower() in {"0", "false", "no"}
    if synchronous:
        backend.log_batch(
            rid, metrics=MetricBatch(keys=[key], values=[number], steps=[step], timestamps=[ts])
        )
    else:
        buffer.add(backend, rid, key, number, step, ts)


def _next_step(run_id: str, key: str) -> int:
    step = _steps.get((run_id, key), -1) + 1
    _steps[(run_id, key)] = step
    return step


def log_metrics(
    metrics: Mapping[str, float], step: int | None = None, *, run_id: str | None = None
) -> None:
    """Log several metric values at one step."""
    for key, value in metrics.items():
        log_metric(key, value, step, run_id=run_id)


def log_param(key: str, value: Any, *, run_id: str | None = None) -> None:
    """Log a param; logging it again with another value raises Conflict."""
    log_params({key: value}, run_id=run_id)


def log_params(params: Mapping[str, Any], *, run_id: str | None = None) -> None:
    """Log several params at once."""
    backend, rid = run_target(run_id)
    backend.log_batch(
        rid, params={check_key(k, "param"): param_value(k, v) for k, v in params.items()}
    )


def set_tag(key: str, value: Any, *, run_id: str | None = None) -> None:
    """Set a tag (tags, unlike params, may change)."""
    set_tags({key: value}, run_id=run_id)


def set_tags(tags: Mapping[str, Any], *, run_id: str | None = None) -> None:
    """Set several tags at once."""
    backend, rid = run_target(run_id)
    backend.log_batch(rid, tags={check_key(k, "tag"): param_value(k, v) for k, v in tags.items()})


MetricsArg = Mapping[str, float | Sequence[float]] | Sequence[tuple[Any, ...]] | MetricBatch


def log_batch(
    metrics: MetricsArg | None = None,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    *,
    run_id: str | None = None,
) -> int:
    """Store metrics, params and tags synchronously and return the number of metric points.

    ``metrics`` is a mapping of key to a value or a list of values (steps 0, 1, ...), a
    list of ``(key, value, step[, timestamp])`` tuples, or a :class:`MetricBatch`.
    """
    backend, rid = run_target(run_id)
    with paused_gc():
        batch = _as_batch(metrics)
    buffer.flush()
    stored = 0
    if len(batch) <= BATCH_CHUNK:
        return backend.log_batch(
            rid,
            metrics=batch,
            params={k: param_value(k, v) for k, v in (params or {}).items()},
            tags={k: param_value(k, v) for k, v in (tags or {}).items()},
        )
    backend.log_batch(
        rid,
        params={k: param_value(k, v) for k, v in (params or {}).items()},
        tags={k: param_value(k, v) for k, v in (tags or {}).items()},
    )
    for start in range(0, len(batch), BATCH_CHUNK):
        end = start + BATCH_CHUNK
        stored += backend.log_batch(
            rid,
            metrics=MetricBatch(
                keys=batch.keys[start:end],
                values=batch.values[start:end],
                steps=batch.steps[start:end],
                timestamps=batch.timestamps[start:end],
            ),
        )
    return stored


def _as_batch(metrics: MetricsArg | None) -> MetricBatch:
    if metrics is None:
        return MetricBatch()
    if isinstance(metrics, MetricBatch):
        return metrics
    now = time.time()
    batch = MetricBatch()
    if isinstance(metrics, Mapping):
        for key, values in metrics.items():
            if hasattr(values, "tolist"):  # numpy arrays and pandas series
                values = values.tolist()
            seq = list(values) if isinstance(values, list | tuple) else [values]
            for step, value in enumerate(seq):
                batch.keys.append(key)
                batch.values.append(check_metric_value(key, value))
                batch.steps.append(step)
                batch.timestamps.append(now)
        return batch
    items = metrics if isinstance(metrics, list) else list(metrics)
    try:  # columns at once, in C; the per-point checks below only run to name a bad point
        columns = list(zip(*items, strict=True))
    except (TypeError, ValueError):
        columns = []
    if items and 2 <= len(columns) <= 4 and all(type(i) is tuple for i in (items[0], items[-1])):
        keys, values = list(columns[0]), list(columns[1])
        steps = list(columns[2]) if len(columns) > 2 else [0] * len(items)
        stamps = list(columns[3]) if len(columns) > 3 else [now] * len(items)
        if (
            set(map(type, values)) <= _FLOATS
            and set(map(type, steps)) <= _INTS
            and set(map(type, stamps)) <= _FLOATS
        ):
            for key in set(keys):
                check_key(key, "metric")
            return MetricBatch.model_construct(
                keys=keys, values=values, steps=steps, timestamps=stamps
            )
    for item in items:
        if not isinstance(item, tuple) or not 2 <= len(item) <= 4:
            raise InvalidInput(
                f"Each metric in a list must be a tuple (key, value, step[, timestamp]); got {item!r}."
            )
    for item in items:
        key, value = item[0], item[1]
        batch.keys.append(key)
        batch.values.append(check_metric_value(key, value))
        batch.steps.append(check_step(key, item[2]) if len(item) > 2 else 0)
        batch.timestamps.append(float(item[3]) if len(item) > 3 else now)
    return batch


_FLOATS = {float, int, np.float64, np.float32, np.int64, np.int32}
_INTS = {int, np.int64, np.int32}


def get_run(run_id: str) -> Run:
    """Return run ``run_id`` with everything logged to it (buffered points included)."""
    buffer.flush()
    return get_backend().get_run(run_id)


_hooks_installed = False


def _install_exit_hooks() -> None:
    """End runs left open at exit: FAILED after an uncaught exception, else FINISHED."""
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    previous = sys.excepthook
    state: dict[str, str] = {}

    def excepthook(
        exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        state["error"] = _describe(exc)
        previous(exc_type, exc, tb)

    def at_exit() -> None:
        try:
            buffer.flush()
        finally:
            while (active := innermost_run()) is not None:
                status: RunStatus = "FAILED" if "error" in state else "FINISHED"
                try:
                    end_run(status, run_id=active.id, error=state.get("error"))
                except Exception as exc:  # never hide the interpreter's own exit
                    print(f"steward: could not end run {active.id}: {exc}", file=sys.stderr)
                    drop_run(active.id)

    sys.excepthook = excepthook
    atexit.register(at_exit)
