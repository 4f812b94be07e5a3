"""`steward serve`: from a model URI, a deployment's name or a package folder to a server.

- a model URI (``models:/churn@champion``) serves that model as the deployment named
  after the model (or ``name``): created if new, given a new revision if it served
  something else, so the store always says what runs;
- a deployment name serves that deployment's current revision, whatever its policy;
- a package folder (what a container holds) serves the package with no store at all.

In the first two cases the server follows the deployment: a new revision (``steward
deploy set-model``) is loaded beside the current one and switched to atomically.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from steward.context import get_backend
from steward.errors import InvalidInput, NotFound
from steward.registry import get_model_version, parse_model_uri, read_manifest
from steward.serve._api import traffic_spec
from steward.serve._app import create_serving_app
from steward.serve._batcher import MicroBatcher
from steward.serve._limits import apply_memory_limit, parse_size
from steward.serve._models import Deployment
from steward.serve._state import ServingState, standalone_spec
from steward.validation import check_name


@dataclass
class Prepared:
    """A server ready to run: its state, its app, and what to tell the user."""

    state: ServingState
    app: Any
    notes: list[str]


def prepare_server(
    target: str | None = None,
    *,
    deployment: str | None = None,
    name: str | None = None,
    max_memory: str | None = None,
    batch_size: int | None = None,
    batch_wait_ms: float | None = None,
    log_uri: str | None = None,
    poll_seconds: float = 1.0,
    reason: str = "",
) -> Prepared:
    """Return the state and app that serve ``target`` (URI or folder) or ``deployment``."""
    notes: list[str] = []
    limit = None
    if max_memory is not None:
        limit = apply_memory_limit(parse_size(max_memory))
        notes.append(f"Memory limit: {limit / 1024**2:.0f} MiB of data memory (RLIMIT_DATA).")
    if (target is None) == (deployment is None):
        raise InvalidInput(
            "Give a model to serve (models:/name@alias, runs:/<id>/model or a package folder) "
            "or --deployment NAME, not both."
        )
    if target is not None and Path(target).expanduser().is_dir():
        folder = Path(target).expanduser().resolve()
        manifest, _ = read_manifest(folder)
        label = name or _default_name(folder.name)
        check_name(label, "deployment")
        spec = standalone_spec(folder)
        state = ServingState(label, spec, log_root=log_uri)
        notes.append(
            f"Serving the package at {folder} ({manifest.flavor}) as {label!r}, with no store: "
            "a container's mode. Prediction log: " + state.log_root
        )
    else:
        backend = get_backend()
        if target is not None:
            current = _ensure(target, name, reason or f"steward serve {target}", notes)
        else:
            assert deployment is not None
            current = backend.get_deployment(deployment)
        access = backend.get_serving_access(current.name)
        spec = current.spec
        if log_uri is not None:
            spec = spec.model_copy(update={"log": spec.log.model_copy(update={"uri": log_uri})})
        state = ServingState(
            current.name,
            spec,
            revision=current.revision,
            backend=backend,
            id_key=access.id_key,
            token_hashes=set(access.token_sha256),
            require_token=access.require_token,
            log_root=log_uri or spec.log.uri,
            poll_seconds=poll_seconds,
        )
        notes.append(
            f"Serving deployment {current.name!r} revision {current.revision} "
            f"({spec.policy}: {', '.join(f'{r.name}={r.resolved or r.model}' for r in spec.routes)})."
        )
        notes.append(f"Prediction log: {state.log_root}")
        if access.require_token:
            notes.append(f"Callers need a token ({len(access.token_sha256)} valid).")
    state.memory_limit = limit
    size = batch_size if batch_size is not None else state.initial_spec.batching.max_batch_size
    wait = batch_wait_ms if batch_wait_ms is not None else state.initial_spec.batching.max_wait_ms
    batching = MicroBatcher(size, wait) if size > 1 else None
    if batching is not None:
        notes.append(f"Micro-batching: up to {size} rows, waiting at most {wait:g} ms.")
    return Prepared(state, create_serving_app(state, batching=batching), notes)


def _default_name(text: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_." else "-" for c in text).strip("-.")
    return cleaned or "model"


def _ensure(uri: str, name: str | None, reason: str, notes: list[str]) -> Deployment:
    """Return the deployment that serves ``uri``: created, kept, or given a new revision."""
    ref = parse_model_uri(uri)
    if ref.kind == "path":
        raise NotFound(
            f"{uri!r} is neither a model URI (models:/name@alias, runs:/<id>/model) nor a "
            "package folder that exists."
        )
    label = name or (ref.name if ref.kind == "registry" else f"run-{ref.run_id[:8]}")
    backend = get_backend()
    wanted = traffic_spec(uri)
    try:
        current = backend.get_deployment(label)
    except NotFound:
        created = backend.create_deployment(label, wanted, "", reason)
        notes.append(f"Created deployment {label!r}.")
        return created
    serving = current.spec.serving
    same = (
        current.spec.policy == "single"
        and len(serving) == 1
        and serving[0].resolved == _resolved(uri)
    )
    if same:
        return current
    spec = traffic_spec(uri, base=current.spec)
    updated = backend.update_deployment(label, spec, reason, current.revision)
    notes.append(
        f"Deployment {label!r}: revision {current.revision} -> {updated.revision} "
        f"({', '.join(r.resolved or r.model for r in current.spec.routes)} -> "
        f"{updated.spec.routes[0].resolved})."
    )
    return updated


def _resolved(uri: str) -> str:
    ref = parse_model_uri(uri)
    if ref.kind != "registry":
        return uri
    version = get_model_version(uri)
    return f"models:/{version.model}/{version.version}"


def run_server(prepared: Prepared, *, host: str, port: int, log_level: str = "warning") -> None:
    """Serve until interrupted (uvicorn; one worker)."""
    import uvicorn

    uvicorn.run(
        prepared.app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
