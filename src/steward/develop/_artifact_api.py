"""Logging files, folders, figures, tables, text and dicts to a run, and reading them back."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path
from typing import Any

from steward.context import get_backend, run_target
from steward.develop._models import Artifact
from steward.errors import InvalidInput, NotFound
from steward.validation import check_artifact_path


def log_artifact(
    local_path: str | Path, artifact_path: str | None = None, *, run_id: str | None = None
) -> Artifact:
    """Store a local file as an artifact of the run (under ``artifact_path``) and return it."""
    backend, rid = run_target(run_id)
    path = Path(local_path)
    if not path.is_file():
        raise NotFound(f"Cannot log {str(path)!r}: no such file. Use log_artifacts() for a folder.")
    target = f"{artifact_path.strip('/')}/{path.name}" if artifact_path else path.name
    check_artifact_path(target)
    sha, size = backend.blobs.put_file(path)
    return backend.add_artifact(rid, target, sha, size)


def log_artifacts(
    local_dir: str | Path, artifact_path: str | None = None, *, run_id: str | None = None
) -> list[Artifact]:
    """Store every file under a local folder, keeping its layout, and return them."""
    backend, rid = run_target(run_id)
    root = Path(local_dir)
    if not root.is_dir():
        raise NotFound(f"Cannot log {str(root)!r}: no such folder. Use log_artifact() for a file.")
    stored = []
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = file.relative_to(root).as_posix()
        target = f"{artifact_path.strip('/')}/{rel}" if artifact_path else rel
        check_artifact_path(target)
        sha, size = backend.blobs.put_file(file)
        stored.append(backend.add_artifact(rid, target, sha, size))
    return stored


def _log_bytes(data: bytes, artifact_path: str, run_id: str | None) -> Artifact:
    backend, rid = run_target(run_id)
    check_artifact_path(artifact_path)
    sha, size = backend.blobs.put_bytes(data)
    return backend.add_artifact(rid, artifact_path, sha, size)


def log_text(text: str, artifact_path: str, *, run_id: str | None = None) -> Artifact:
    """Store text as an artifact file and return it."""
    return _log_bytes(text.encode("utf-8"), artifact_path, run_id)


def log_dict(data: Any, artifact_path: str, *, run_id: str | None = None) -> Artifact:
    """Store a dict as JSON (or YAML when the path ends in .yaml/.yml) and return it."""
    if artifact_path.endswith((".yaml", ".yml")):
        import yaml

        text = yaml.safe_dump(data, sort_keys=False)
    else:
        text = json.dumps(data, indent=2, default=str)
    return log_text(text, artifact_path, run_id=run_id)


def log_figure(figure: Any, artifact_path: str, *, run_id: str | None = None) -> Artifact:
    """Store a matplotlib figure (.png/.svg/.pdf) or a Plotly figure (.html/.json)."""
    suffix = Path(artifact_path).suffix.lower()
    module = type(figure).__module__
    if module.startswith("matplotlib"):
        if suffix not in {".png", ".svg", ".pdf", ".jpg", ".jpeg"}:
            raise InvalidInput(
                f"Save a matplotlib figure as .png, .svg, .pdf or .jpg; got {artifact_path!r}."
            )
        out = io.BytesIO()
        figure.savefig(out, format=suffix.lstrip("."), bbox_inches="tight")
        return _log_bytes(out.getvalue(), artifact_path, run_id)
    if module.startswith("plotly"):
        if suffix == ".json":
            return log_text(figure.to_json(), artifact_path, run_id=run_id)
        if suffix == ".html":
            # Self-contained (plotly.js inline) so the file opens offline, anywhere.
            return log_text(
                figure.to_html(include_plotlyjs=True, full_html=True), artifact_path, run_id=run_id
            )
        raise InvalidInput(f"Save a Plotly figure as .html or .json; got {artifact_path!r}.")
    raise InvalidInput(
        f"log_figure takes a matplotlib or Plotly figure; got {type(figure).__name__}. "
        "Save other images to a file and use log_artifact()."
    )


def log_table(data: Any, artifact_path: str, *, run_id: str | None = None) -> Artifact:
    """Store a DataFrame as .parquet, .csv or .json and return the artifact."""
    import pandas as pd

    if not isinstance(data, pd.DataFrame):
        data = pd.DataFrame(data)
    suffix = Path(artifact_path).suffix.lower()
    out = io.BytesIO()
    if suffix == ".parquet":
        data.to_parquet(out, index=False)
    elif suffix == ".csv":
        out.write(data.to_csv(index=False).encode())
    elif suffix == ".json":
        out.write(data.to_json(orient="records").encode())
    else:
        raise InvalidInput(f"Save a table as .parquet, .csv or .json; got {artifact_path!r}.")
    return _log_bytes(out.getvalue(), artifact_path, run_id)


def list_artifacts(run_id: str, prefix: str = "") -> list[Artifact]:
    """Return the run's artifacts whose path starts with ``prefix``."""
    return get_backend().list_artifacts(run_id, prefix)


def download_artifacts(run_id: str, path: str = "", dst: str | Path | None = None) -> Path:
    """Download one artifact or a folder of them (checked by hash) and return the local path."""
    backend = get_backend()
    found = [
        a
        for a in backend.list_artifacts(run_id, path)
        if a.path == path or a.path.startswith(path.rstrip("/") + "/") or not path
    ]
    if not found:
        raise NotFound(f"Run {run_id!r} has no artifact at {path!r}.")
    root = Path(dst) if dst is not None else Path(tempfile.mkdtemp(prefix="steward-"))
    for art in found:
        backend.blobs.download(art.sha256, root / art.path)
    single = len(found) == 1 and found[0].path == path
    return root / path if single or path else root


def load_artifact_bytes(run_id: str, path: str) -> bytes:
    """Return the content of one artifact, checked by hash."""
    backend = get_backend()
    for art in backend.list_artifacts(run_id, path):
        if art.path == path:
            return backend.blobs.read_bytes(art.sha256)
    raise NotFound(f"Run {run_id!r} has no artifact {path!r}.")
