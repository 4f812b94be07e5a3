"""The serving app: Steward's JSON endpoint, the Open Inference Protocol v2, feedback, metrics.

Routes are written for speed (the body is read and parsed once, with orjson; responses
are encoded bytes; no middleware) because a model on one row costs less than a generic
web framework's overhead. Every client mistake is a 4xx with a JSON body saying what was
wrong; the server keeps serving.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from steward._version import __version__
from steward.errors import InvalidInput, NotFound, PermissionDenied, StewardError
from steward.serve import _v2
from steward.serve._batcher import MicroBatcher
from steward.serve._decode import Batch, PayloadTooLarge, RequestError, check, records_of
from steward.serve._openapi import FEEDBACK_BODY, FEEDBACK_SCHEMA, INFER_BODY, PREDICT_BODY
from steward.serve._predlog import FeedbackEntry, LogEntry
from steward.serve._runtime import Scored, ServedModel
from steward.serve._state import RouteTable, ServingState, ShadowJob
from steward.web import mount_docs

JSON = "application/json"


class Unauthorized(PermissionDenied):
    """No valid token: 401, with the header that says how to authenticate."""

    code = "unauthorized"
    http_status = 401


class NotReady(StewardError):
    """The models are still loading."""

    code = "not_ready"
    http_status = 503


class ModelFailed(InvalidInput):
    """The model raised on input that passed the signature checks."""

    code = "model_error"
    http_status = 422


class UnsupportedMedia(InvalidInput):
    """A body that is not JSON."""

    code = "unsupported_media_type"
    http_status = 415


def create_serving_app(state: ServingState, *, batching: MicroBatcher | None = None) -> FastAPI:
    """Return the ASGI app that serves ``state``'s deployment."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Loading and warming can take seconds: live at once, ready when loaded.
        loader = threading.Thread(target=_start, args=(state,), name="steward-load", daemon=True)
        loader.start()
        yield
        if batching is not None:
            batching.close()
        state.stop()

    app = FastAPI(
        title=f"Steward serving: {state.name}",
        version=__version__,
        description="Predictions from a Steward deployment: Steward's JSON endpoint and the "
        "Open Inference Protocol v2.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.serving = state
    limit = state.max_body_bytes

    def fail(exc: StewardError, endpoint: str, v2: bool = False) -> Response:
        state.metrics.failed(exc.http_status, endpoint)
        headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else None
        body = {"error": exc.message} if v2 else exc.to_dict()
        return Response(orjson.dumps(body), exc.http_status, headers=headers, media_type=JSON)

    async def read(request: Request) -> bytes:
        if not state.allowed(request.headers.get("authorization")):
            raise Unauthorized(
                "This deployment requires a token: send 'Authorization: Bearer <token>' (create "
                f"one with `steward deploy token create {state.name}`)."
            )
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge(
                f"The body is {int(declared)} bytes; this deployment takes at most {limit}. "
                "Send fewer rows per request."
            )
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(
                    f"The body is over {limit} bytes, this deployment's limit. Send fewer rows."
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def table_or_503() -> RouteTable:
        table = state.table
        if table is None or not state.ready:
            raise NotReady("The models are still loading; retry when /v2/health/ready says 200.")
        return table

    async def score(served: ServedModel, batch: Batch) -> Scored:
        try:
            if batching is not None:
                return await batching.score(served, batch)
            return served.score(batch)
        except StewardError:
            raise
        except MemoryError as exc:
            raise NotReady(
                "The server ran out of memory (its --max-memory limit) scoring this request; "
                "send fewer rows, or retry."
            ) from exc
        except Exception as exc:
            raise ModelFailed(
                f"The model could not score this input: {type(exc).__name__}: {exc}"[:1000]
            ) from exc

    def log_error(exc: StewardError, started: float, table: RouteTable | None) -> None:
        if state.log is None:
            return
        state.log.record(
            LogEntry(
                request_id="",
                time=time.time(),
                revision=table.revision if table else 0,
                route="",
                role="primary",
                model="",
                version=None,
                status=exc.http_status,
                latency_ms=(time.perf_counter() - started) * 1000,
                error=exc.message[:2000],
            )
        )

    async def run(
        table: RouteTable, columns: dict[str, list[Any]], rows: int, entity: str | None
    ) -> tuple[str, int, ServedModel, Batch, Scored, str | None]:
        spec = table.spec
        if entity is None and spec.sticky_column and spec.sticky_column in columns:
            first = columns[spec.sticky_column][0]
            entity = None if first is None else str(first)
        index = table.router.choose(entity)
        served = table.model(index)
        allowed = frozenset([spec.sticky_column] if spec.sticky_column else [])
        batch = check(columns, rows, served.signature, extra=spec.extra_columns, allowed=allowed)
        scored = await score(served, batch)
        request_id = state.ids.issue(index)
        return request_id, index, served, batch, scored, entity

    def record(
        table: RouteTable,
        request_id: str,
        served: ServedModel,
        batch: Batch,
        scored: Scored,
        entity: str | None,
        started: float,
        endpoint: str,
    ) -> None:
        seconds = time.perf_counter() - started
        state.metrics.scored(
            served.model, str(served.version or ""), served.route, endpoint, seconds, batch.rows
        )
        if state.log is not None:
            state.log.record(
                LogEntry(
                    request_id=request_id,
                    time=time.time(),
                    revision=table.revision,
                    route=served.route,
                    role="primary",
                    model=served.model,
                    version=served.version,
                    status=200,
                    latency_ms=seconds * 1000,
                    rows=batch.rows,
                    entity=entity,
                    inputs=batch.columns,
                    predictions=scored.predictions,
                    probabilities=scored.probabilities,
                    classes=served.classes,
                )
            )
        if table.router.shadows:
            state.shadow(ShadowJob(request_id, batch, entity, table))

    @app.post(
        "/predict",
        tags=["predictions"],
        summary="Score rows: predictions, probabilities, the model version and a request id",
        openapi_extra={"requestBody": PREDICT_BODY},
        responses={
            200: {"description": "Predictions"},
            401: {"description": "Token missing or not valid"},
            413: {"description": "Body over the limit"},
            415: {"description": "Not JSON"},
            422: {"description": "Rows the model cannot take (the column and the reason)"},
        },
    )
    async def predict(request: Request) -> Response:
        started = time.perf_counter()
        table: RouteTable | None = None
        try:
            if "json" not in request.headers.get("content-type", JSON):
                raise UnsupportedMedia(
                    f"Send JSON (Content-Type: application/json); got "
                    f"{request.headers.get('content-type')!r}."
                )
            raw = await read(request)
            table = table_or_503()
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise RequestError(f"The body is not valid JSON: {exc}.") from exc
            columns, rows, entity = records_of(body)
            request_id, _, served, batch, scored, entity = await run(table, columns, rows, entity)
        except StewardError as exc:
            log_error(exc, started, table)
            return fail(exc, "predict")
        payload: dict[str, Any] = {
            "request_id": request_id,
            "deployment": state.name,
            "model": served.model,
            "version": served.version,
            "route": served.route,
            "predictions": scored.predictions,
        }
        if scored.probabilities is not None:
            payload["probabilities"] = scored.probabilities
            payload["classes"] = served.classes
        content = orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)
        record(table, request_id, served, batch, scored, entity, started, "predict")
        return Response(
            content,
            media_type=JSON,
            headers={"x-request-id": request_id, "x-model-version": served.label},
        )

    @app.post(
        "/feedback",
        tags=["predictions"],
        summary="Ground truth (and a bandit reward) for earlier requests, by request id",
        openapi_extra={"requestBody": FEEDBACK_BODY},
        responses={
            200: {"description": "Feedback accepted"},
            404: {"description": "A request id this deployment did not issue"},
            422: {"description": "A malformed item"},
        },
    )
    async def feedback(request: Request) -> Response:
        try:
            raw = await read(request)
            table = table_or_503()
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise RequestError(f"The body is not valid JSON: {exc}.") from exc
            items = body if isinstance(body, list) else [body]
            if not items:
                raise RequestError("Send one feedback object, or a non-empty list of them.")
            accepted = [_feedback_item(item, i, state, table) for i, item in enumerate(items)]
        except StewardError as exc:
            return fail(exc, "feedback")
        for entry in accepted:
            if state.log is not None:
                state.log.record_feedback(entry)
            if entry.reward is not None and table.spec.policy == "bandit":
                table.router.reward(entry.route, entry.reward)
        return Response(orjson.dumps({"accepted": len(accepted)}), media_type=JSON)

    # -- Open Inference Protocol v2 --------------------------------------------------------

    @app.get("/v2", tags=["v2"], summary="Server metadata")
    async def v2_server() -> Response:
        return Response(
            orjson.dumps(
                {"name": "steward", "version": __version__, "extensions": ["binary_tensor_data"]}
            ),
            media_type=JSON,
        )

    @app.get("/v2/health/live", tags=["v2"], summary="Liveness: the process answers")
    async def live() -> Response:
        return Response(b'{"live":true}', media_type=JSON)

    @app.get("/v2/health/ready", tags=["v2"], summary="Readiness: every model loaded and warmed")
    async def ready() -> Response:
        ok = state.ready and state.table is not None
        return Response(orjson.dumps({"ready": ok}), 200 if ok else 503, media_type=JSON)

    def v2_model(name: str, version: str | None) -> RouteTable:
        table = table_or_503()
        if name != state.name:
            raise NotFound(f"Unknown model {name!r}; this server serves {state.name!r}.")
        if version is not None:
            served = {str(table.model(i).version) for i in table.router.serving}
            if version not in served:
                raise NotFound(
                    f"Model {name!r} has no version {version!r} served here; it serves "
                    f"{', '.join(sorted(served))}."
                )
        return table

    @app.get("/v2/models/{name}", tags=["v2"], summary="Model metadata: input and output tensors")
    async def v2_metadata(name: str) -> Response:
        try:
            table = v2_model(name, None)
        except StewardError as exc:
            return fail(exc, "v2_metadata", v2=True)
        first = table.model(table.router.serving[0])
        versions = sorted({str(table.model(i).version) for i in table.router.serving})
        body = _v2.metadata(name, versions, first.signature, first.classes)
        return Response(orjson.dumps(body), media_type=JSON)

    @app.get("/v2/models/{name}/ready", tags=["v2"], summary="Model readiness")
    async def v2_ready(name: str) -> Response:
        if name != state.name:
            return fail(
                NotFound(f"Unknown model {name!r}; this server serves {state.name!r}."),
                "v2_ready",
                v2=True,
            )
        ok = state.ready and state.table is not None
        return Response(
            orjson.dumps({"name": name, "ready": ok}), 200 if ok else 503, media_type=JSON
        )

    @app.get("/v2/models/{name}/versions/{version}", tags=["v2"], summary="Model version metadata")
    async def v2_version_metadata(name: str, version: str) -> Response:
        try:
            table = v2_model(name, version)
        except StewardError as exc:
            return fail(exc, "v2_metadata", v2=True)
        first = table.model(table.router.serving[0])
        return Response(
            orjson.dumps(_v2.metadata(name, [version], first.signature, first.classes)),
            media_type=JSON,
        )

    async def infer(request: Request, name: str, version: str | None) -> Response:
        started = time.perf_counter()
        table: RouteTable | None = None
        try:
            raw = await read(request)
            table = v2_model(name, version)
            body, binary = _v2.parse(raw, request.headers.get(_v2.HEADER))
            first = table.model(table.router.serving[0])
            columns, rows = _v2.columns(body, binary, first.signature)
            entity = None
            params = body.get("parameters")
            if isinstance(params, dict) and isinstance(params.get("entity"), str):
                entity = params["entity"]
            request_id, _, served, batch, scored, entity = await run(table, columns, rows, entity)
            outputs: dict[str, tuple[list[int], list[Any]]] = {
                "predict": ([batch.rows], scored.predictions)
            }
            if scored.probabilities is not None:
                outputs["predict_proba"] = (
                    [batch.rows, len(served.classes or [])],
                    scored.probabilities,
                )
            requested = body.get("outputs")
            if requested is not None and not isinstance(requested, list):
                raise _v2.V2Error("'outputs' must be a list of {name} objects.")
            content, header = _v2.response(
                model=name,
                version=str(served.version or ""),
                request_id=str(body.get("id") or request_id),
                outputs=outputs,
                requested=requested,
            )
        except StewardError as exc:
            log_error(exc, started, table)
            status = exc.http_status
            if status == 422:  # V2 clients expect 400 for a request they got wrong
                exc = _v2.V2Error(exc.message)
            return fail(exc, "infer", v2=True)
        assert table is not None
        record(table, request_id, served, batch, scored, entity, started, "infer")
        headers = {"x-request-id": request_id, "x-model-version": served.label}
        if header is not None:
            headers[_v2.HEADER] = str(header)
            return Response(content, media_type="application/octet-stream", headers=headers)
        return Response(content, media_type=JSON, headers=headers)

    @app.post(
        "/v2/models/{name}/infer",
        tags=["v2"],
        summary="Inference (Open Inference Protocol v2)",
        openapi_extra={"requestBody": INFER_BODY},
    )
    async def v2_infer(name: str, request: Request) -> Response:
        return await infer(request, name, None)

    @app.post(
        "/v2/models/{name}/versions/{version}/infer",
        tags=["v2"],
        summary="Inference on a version (Open Inference Protocol v2)",
        openapi_extra={"requestBody": INFER_BODY},
    )
    async def v2_infer_version(name: str, version: str, request: Request) -> Response:
        return await infer(request, name, version)

    # -- operations ------------------------------------------------------------------------

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics")
    async def metrics() -> Response:
        if state.log is not None:
            state.metrics.log_buffered.labels(state.name).set(state.log.predictions.buffered_rows)
            state.metrics.log_dropped.labels(state.name).set(state.log.predictions.dropped_rows)
        return Response(state.metrics.render(), media_type="text/plain; version=0.0.4")

    @app.get("/deployment", tags=["operations"], summary="What this server serves now")
    async def deployment() -> Response:
        status = state.status()
        if batching is not None:
            status["batching"] = {
                "max_batch_size": batching.max_rows,
                "max_wait_ms": batching.max_wait * 1000,
                **batching.stats(),
            }
        return Response(orjson.dumps(status), media_type=JSON)

    mount_docs(app, f"Steward serving: {state.name}")
    app.openapi_schema = None
    _install_errors(app)
    original_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        schema = original_openapi()
        schema.setdefault("components", {}).setdefault("schemas", {})["Feedback"] = FEEDBACK_SCHEMA
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _start(state: ServingState) -> None:
    try:
        state.start()
    except Exception as exc:  # readiness stays 503; the reason is in /deployment
        state.poll_error = f"could not load the models: {type(exc).__name__}: {exc}"


def _feedback_item(item: Any, i: int, state: ServingState, table: RouteTable) -> FeedbackEntry:
    if not isinstance(item, dict) or "request_id" not in item:
        raise RequestError(
            f"Feedback item {i} must be an object with 'request_id' (and 'label' and/or "
            "'reward'); got " + repr(item)[:80] + "."
        )
    unknown = sorted(set(item) - {"request_id", "label", "reward"})
    if unknown:
        raise RequestError(
            f"Feedback item {i} has unknown field(s) {unknown}; use request_id, label, reward."
        )
    request_id = item["request_id"]
    index = state.ids.route_of(request_id)
    if index is None:
        raise NotFound(
            f"Feedback item {i}: {str(request_id)[:80]!r} is not a request id this deployment "
            "issued. Use the request_id a /predict response carried."
        )
    label = item.get("label")
    if isinstance(label, dict | list):
        raise RequestError(
            f"Feedback item {i}: 'label' must be a single value; got {type(label).__name__}."
        )
    reward = item.get("reward")
    if reward is not None:
        if isinstance(reward, bool) or not isinstance(reward, int | float) or not 0 <= reward <= 1:
            raise RequestError(
                f"Feedback item {i}: 'reward' must be a number from 0 to 1; got {reward!r}."
            )
        reward = float(reward)
    if label is None and reward is None:
        raise RequestError(f"Feedback item {i} carries neither 'label' nor 'reward'.")
    routes = table.spec.routes
    route = routes[index].name if index < len(routes) else f"route-{index}"
    return FeedbackEntry(
        request_id=request_id, time=time.time(), route=route, label=label, reward=reward
    )


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(StewardError)
    async def steward_error(_request: Request, exc: StewardError) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=exc.http_status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(map(str, e.get('loc', ())))}: {e.get('msg')}" for e in exc.errors()]
        body = {"error": {"code": "invalid_input", "message": "; ".join(problems[:10])}}
        return JSONResponse(body, status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "invalid_input")
        return JSONResponse(
            {"error": {"code": code, "message": str(exc.detail)}}, status_code=exc.status_code
        )
