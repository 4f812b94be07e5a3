"""Portable export of a registered version (ONNX, PMML), checked for parity and recorded.

The exported file and its parity report become files of the model version under
``exports/<format>/``, and the version is tagged ``export.<format>`` = valid | invalid.
An export whose scores differ from the original's beyond the tolerance is kept (so it
can be inspected) but marked invalid, and :func:`export_model` says so.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel

from steward.context import get_backend
from steward.errors import InvalidInput
from steward.registry._api import get_model_version, load_model
from steward.registry._evaluation import evaluation_data
from steward.registry._models import ModelFile, ModelVersion
from steward.registry._parity import ParityReport

Format = Literal["onnx", "pmml"]
SAMPLE_ROWS = 200


class ExportResult(BaseModel):
    """An export of a model version: its files in the registry and its parity report."""

    model: str
    version: int
    format: Format
    valid: bool
    report: ParityReport
    files: list[ModelFile]
    data: str
    data_source: Literal["given", "dataset", "sample"] = "dataset"


def export_model(
    model_uri: str,
    format: Format = "onnx",
    *,
    data: Any = None,
    tolerance: float | None = None,
    rtol: float | None = None,
    max_rows: int = 5000,
) -> ExportResult:
    """Return the export of a registered version and its parity report, both recorded with it.

    Parity is checked on ``data`` (a DataFrame, a dataset name or a data file); else on
    the evaluation dataset the version's run read, else its training dataset; else on the
    logged input example plus rows sampled within the signature's recorded ranges and
    categories. ``data`` and ``data_source`` of the result say which, ``report.rows`` how
    many rows (at most ``max_rows``).
    """
    if format not in ("onnx", "pmml"):
        raise InvalidInput(f"Export format must be 'onnx' or 'pmml'; got {format!r}.")
    version = get_model_version(model_uri)
    loaded = load_model(version.uri)
    evaluation = evaluation_data(version, data, purpose="check parity on", rows=max_rows)
    frame = evaluation.frame
    features = (
        [c.name for c in loaded.signature.inputs] if loaded.signature else list(frame.columns)
    )
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise InvalidInput(
            f"The parity data ({evaluation.description}) lacks the model's columns {missing}; "
            "pass data= with them."
        )
    rows = frame[features].head(max_rows)
    task = loaded.signature.output.task if loaded.signature else "other"
    if tolerance is None:
        tolerance = 1e-5
    if rtol is None:
        rtol = 1e-6 if task == "regression" else 0.0  # float32 tree outputs: relative error
    if format == "onnx":
        from steward.registry._onnx import check_onnx_parity, to_onnx

        payload = to_onnx(loaded.raw, rows.head(SAMPLE_ROWS))
        report = check_onnx_parity(loaded.raw, payload, rows, tolerance=tolerance, rtol=rtol)
        filename = "model.onnx"
    else:
        from steward.registry._pmml import check_pmml_parity, to_pmml

        payload = to_pmml(loaded.raw, rows.head(SAMPLE_ROWS))
        report = check_pmml_parity(loaded.raw, payload, rows, tolerance=tolerance, rtol=rtol)
        filename = "model.pmml"
    report.notes.insert(0, f"Checked on {report.rows} rows of {evaluation.description}.")
    if not evaluation.labeled:
        report.notes.insert(
            1,
            "No dataset was recorded for this version, so the rows were sampled: they cover "
            "each input's recorded range and categories, not the joint distribution of real "
            "data. Pass data= (or --data) with real rows for a stronger check.",
        )
    backend = get_backend()
    base = f"exports/{format}"
    outputs = {
        f"{base}/{filename}": payload,
        f"{base}/parity.json": report.model_dump_json(indent=2).encode(),
        f"{base}/parity.md": report.to_markdown().encode(),
    }
    files = []
    for path, content in outputs.items():
        sha, size = backend.blobs.put_bytes(content)
        file = ModelFile(path=path, sha256=sha, size=size, kind="export")
        backend.add_model_version_file(version.model, version.version, file)
        files.append(file)
    backend.set_model_tag(
        version.model, f"export.{format}", "valid" if report.valid else "invalid", version.version
    )
    return ExportResult(
        model=version.model,
        version=version.version,
        format=format,
        valid=report.valid,
        report=report,
        files=files,
        data=evaluation.description,
        data_source=evaluation.source,
    )


def read_parity_report(version: ModelVersion, format: Format = "onnx") -> ParityReport | None:
    """Return the parity report recorded for a version's export, if there is one."""
    file = next((f for f in version.files if f.path == f"exports/{format}/parity.json"), None)
    if file is None:
        return None
    return ParityReport.model_validate(json.loads(get_backend().blobs.read_bytes(file.sha256)))
