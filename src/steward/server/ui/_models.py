"""Registered models, their versions and aliases; a version's package, exports and files."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from steward._backend import Backend
from steward.errors import NotFound, StewardError
from steward.registry import ColumnSpec, ModelVersion, ParityReport
from steward.server.ui._base import backend_of, file_response, render

router = APIRouter()
KEY_METRICS = 5  # metric columns in a model's versions table
MAX_CATEGORIES = 8  # categories a signature row shows before "+N more"
EXPORT_FORMATS = ("onnx", "pmml")


@router.get("/models", response_class=HTMLResponse, name="ui-models")
def models_page(request: Request) -> HTMLResponse:
    """Return every registered model with its latest version, aliases and owners."""
    models = backend_of(request).list_registered_models()
    return render(request, "models.html", "Models", section="models", models=models)


@router.get("/models/{name}", response_class=HTMLResponse, name="ui-model")
def model_page(request: Request, name: str) -> HTMLResponse:
    """Return a model's description, versions (with key metrics) and alias history."""
    backend = backend_of(request)
    try:
        model = backend.get_registered_model(name)
        versions = backend.list_model_versions(name, include_deleted=True)
        history = backend.get_alias_history(name)
    except NotFound as exc:
        return _problem(request, "model.html", exc, "Model not found", name)
    metrics = _key_metrics(versions)
    runs = _run_names(backend, [v.run_id for v in versions])
    return render(
        request,
        "model.html",
        f"Model · {name}",
        heading=f"Model — {name}",
        section="models",
        crumbs=[("Models", str(request.url_for("ui-models"))), (name, None)],
        model=model,
        versions=versions,
        metrics=metrics,
        runs=runs,
        history=list(reversed(history)),  # newest first: what changed last matters most
        version_url=lambda v: _version_url(request, name, v),
    )


@router.get("/models/{name}/{version}", response_class=HTMLResponse, name="ui-model-version")
def model_version_page(request: Request, name: str, version: str) -> Response:
    """Return a version's package: signature, requirements, lineage, metrics, exports, files.

    An alias in place of the number (``/ui/models/churn/champion``) redirects to the
    version it points at now.
    """
    backend = backend_of(request)
    try:
        model = backend.get_registered_model(name)
        number = _number(version)
        if number is None:
            if version in model.aliases:
                return RedirectResponse(_version_url(request, name, model.aliases[version]))
            raise NotFound(
                f"Model {name!r} has no version or alias {version!r}; its aliases are "
                f"{', '.join(model.aliases) or 'none'}. The model's page lists its versions."
            )
        found = backend.get_model_version(name, number)
    except NotFound as exc:
        return _problem(request, "model_version.html", exc, "Model version not found", name)
    manifest = found.manifest
    history = [
        h
        for h in backend.get_alias_history(name)
        if found.version in (h.from_version, h.to_version)
    ]
    return render(
        request,
        "model_version.html",
        f"Model · {name} v{found.version}",
        heading=f"Model — {name} version {found.version}",
        section="models",
        crumbs=[
            ("Models", str(request.url_for("ui-models"))),
            (name, str(request.url_for("ui-model", name=name))),
            (f"version {found.version}", None),
        ],
        model=model,
        version=found,
        manifest=manifest,
        signature=_signature(found),
        run=_run_names(backend, [found.run_id]).get(found.run_id or ""),
        datasets=[
            (
                ref,
                str(
                    request.url_for(
                        "ui-dataset-version", name=ref.dataset, version=str(ref.version)
                    )
                ),
            )
            for ref in manifest.datasets
        ],
        exports=_exports(request, backend, found),
        reports=[f for f in found.files if f.kind == "report" or f.path.startswith("reports/")],
        history=history,
        file_url=lambda path: _file_url(request, found, path),
    )


@router.get("/models/{name}/{version}/files/{path:path}", name="ui-model-file")
def model_file(request: Request, name: str, version: str, path: str) -> Response:
    """Return a file of a model version (checked against its hash), typed by extension."""
    backend = backend_of(request)
    try:
        number = _number(version)
        if number is None:
            raise NotFound(f"Model versions are numbers; got {version!r}.")
        found = backend.get_model_version(name, number)
        file = next((f for f in found.files if f.path == path), None)
        if file is None:
            raise NotFound(
                f"Version {version} of model {name!r} has no file {path!r}. "
                "The version's page lists its files."
            )
        data = backend.blobs.read_bytes(file.sha256)
    except StewardError as exc:
        return _problem(request, "model_version.html", exc, "File not available", name)
    return file_response(path, data)


def _problem(
    request: Request, template: str, exc: StewardError, title: str, name: str
) -> HTMLResponse:
    page = render(
        request,
        template,
        title,
        section="models",
        crumbs=[("Models", str(request.url_for("ui-models"))), (name, None)],
        problem=exc.message,
    )
    page.status_code = exc.http_status
    return page


def _number(text: str) -> int | None:
    """Return a version number from a URL segment (None for anything else, or too large)."""
    return int(text) if text.isdecimal() and len(text) <= 9 else None


def _version_url(request: Request, name: str, version: int) -> str:
    return str(request.url_for("ui-model-version", name=name, version=str(version)))


def _file_url(request: Request, version: ModelVersion, path: str) -> str:
    return str(
        request.url_for(
            "ui-model-file", name=version.model, version=str(version.version), path=path
        )
    )


def _key_metrics(versions: list[ModelVersion]) -> list[str]:
    """Return the metrics most versions recorded (test/validation ones first), at most a few."""
    counts: dict[str, int] = {}
    for v in versions:
        for key in v.manifest.metrics:
            counts[key] = counts.get(key, 0) + 1

    def rank(key: str) -> tuple[int, int, str]:
        held_out = 0 if key.startswith(("test", "val", "eval", "holdout")) else 1
        return (-counts[key], held_out, key)

    return sorted(counts, key=rank)[:KEY_METRICS]


def _run_names(backend: Backend, run_ids: list[str | None]) -> dict[str, str]:
    """Return the name of each run that still exists, by id."""
    names = {}
    for run_id in dict.fromkeys(r for r in run_ids if r):
        try:
            names[run_id] = backend.get_run(run_id).name
        except StewardError:
            continue  # a deleted run: the page shows its id
    return names


def _signature(version: ModelVersion) -> list[dict[str, Any]]:
    """Return the signature's input rows: what training saw of each column, sensitivity."""
    signature = version.manifest.signature
    if signature is None:
        return []
    sensitive = set(version.manifest.uses_sensitive_columns)
    return [
        {"spec": c, "seen": _seen(c), "sensitive": c.name in sensitive} for c in signature.inputs
    ]


def _seen(column: ColumnSpec) -> str:
    if column.min is not None and column.max is not None:
        return f"{column.min:g} … {column.max:g}"
    if column.categories:
        shown = ", ".join(column.categories[:MAX_CATEGORIES])
        more = len(column.categories) - MAX_CATEGORIES
        return shown + (f" … (+{more} more)" if more > 0 else "")
    return "—"


def _exports(request: Request, backend: Backend, version: ModelVersion) -> list[dict[str, Any]]:
    """Return each export's parity report, read through the app's backend.

    registry.read_parity_report reads the process-wide backend; the UI must read the
    app's, so the report file is read here.
    """
    exports = []
    by_path = {f.path: f for f in version.files}
    for fmt in EXPORT_FORMATS:
        report_file = by_path.get(f"exports/{fmt}/parity.json")
        if report_file is None:
            continue
        entry: dict[str, Any] = {
            "format": fmt,
            "report": None,
            "problem": None,
            "files": [
                (f.path, _file_url(request, version, f.path))
                for f in version.files
                if f.path.startswith(f"exports/{fmt}/")
            ],
        }
        try:
            entry["report"] = ParityReport.model_validate(
                json.loads(backend.blobs.read_bytes(report_file.sha256))
            )
        except StewardError as exc:
            entry["problem"] = exc.message
        except ValueError as exc:  # bad JSON or fields: a damaged report must not break the page
            entry["problem"] = f"The parity report could not be read: {exc}"
        exports.append(entry)
    return exports
