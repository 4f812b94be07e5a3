"""A run's page (what it logged, read and ran in), its artifacts, and runs side by side."""

from __future__ import annotations

import io
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from plotly.colors import qualitative

from steward._backend import Backend
from steward.develop import (
    Artifact,
    Environment,
    Run,
    comparison_columns,
    comparison_fields,
    format_value,
)
from steward.errors import InvalidInput, NotFound, StewardError
from steward.server.ui._base import backend_of, file_response, plotly_json, render

router = APIRouter()
MAX_CHARTS = 12  # metric charts on a page; the table holds every metric
MAX_POINTS = 1000  # points a chart line carries (the backend thins longer histories)
MAX_COMPARE = 20
MAX_PREVIEWS = 12
MAX_LISTED = 500  # artifacts listed on the page
PREVIEW_BYTES = 4 << 20  # larger artifacts are linked, not previewed
PREVIEW_LINES = 200
PREVIEW_ROWS = 20
DIFF = "environment/git.diff"
MANIFEST = "steward.yaml"
IMAGES = {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp"}
TEXTS = {".txt", ".json", ".yaml", ".yml", ".md", ".diff", ".patch", ".log", ".py", ".toml"}
TABLES = {".csv", ".parquet"}
GROUPS = {
    "run": "Run",
    "params": "Params",
    "metrics": "Metrics",
    "datasets": "Datasets read",
    "code": "Code",
    "env": "Environment",
    "tags": "Tags",
}


@dataclass
class Preview:
    """What the run page shows of one artifact."""

    artifact: Artifact
    url: str
    kind: str  # image | text | table | html
    lines: list[str] = field(default_factory=list)
    total_lines: int = 0
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    shape: tuple[int, int] = (0, 0)
    problem: str | None = None


@router.get("/runs/{run_id}", response_class=HTMLResponse, name="ui-run")
def run_page(request: Request, run_id: str) -> HTMLResponse:
    """Return a run's page: attributes, params, metrics, artifacts, environment, inputs."""
    backend = backend_of(request)
    try:
        run = backend.get_run(run_id)
    except NotFound as exc:
        return _problem(request, "run.html", exc, "Run not found")
    artifacts = backend.list_artifacts(run.id)
    by_path = {a.path: a for a in artifacts}
    models = [_model(backend, run, a) for a in artifacts if _is_manifest(a.path)]
    folders = tuple(m["folder"] + "/" for m in models if m["folder"])
    candidates = [
        a
        for a in artifacts
        if _kind(a.path) and a.path != DIFF and not (models and a.path.startswith(folders))
    ]
    previews = [_preview(request, backend, a) for a in candidates[:MAX_PREVIEWS]]
    charts, more_charts = _metric_charts(backend, [run], [run.name])
    children = backend.search_runs(
        filter=f"parent_run_id = '{run.id}'", project=run.project, max_results=50
    ).runs
    git: dict[str, Any] = run.context.get("git") or {}
    command = run.context.get("command")
    return render(
        request,
        "run.html",
        f"Run · {run.name}",
        heading=f"Run — {run.name}",
        section="runs",
        crumbs=_crumbs(request, run, run.name),
        run=run,
        runs_link=lambda **query: _runs_link(request, **query),
        parent=_parent(backend, run),
        children=children,
        charts=charts,
        more_charts=more_charts,
        artifacts=artifacts[:MAX_LISTED],
        unlisted=max(0, len(artifacts) - MAX_LISTED),
        artifact_url=lambda path: _artifact_url(request, run.id, path),
        previews=previews,
        previewed={p.artifact.path: i for i, p in enumerate(previews)},
        unpreviewed=len(candidates) - len(previews),
        environment=_environment(backend, run),
        git=git,
        diff=_preview(request, backend, by_path[DIFF]) if DIFF in by_path else None,
        datasets=[
            (i, f"{request.url_for('ui-datasets')}/{quote(i.dataset, safe='')}/{i.version}")
            for i in run.inputs
        ],
        models=models,
        command=shlex.join(str(c) for c in command) if isinstance(command, list) else None,
    )


@router.get("/runs/{run_id}/artifacts/{path:path}", name="ui-artifact")
def artifact(request: Request, run_id: str, path: str) -> Response:
    """Return an artifact's bytes (checked against their hash), typed by extension."""
    backend = backend_of(request)
    try:
        found = [a for a in backend.list_artifacts(run_id, path) if a.path == path]
        if not found:
            raise NotFound(
                f"Run {run_id!r} has no artifact {path!r}. The run page lists its artifacts."
            )
        data = backend.blobs.read_bytes(found[0].sha256)
    except StewardError as exc:
        return _problem(request, "run.html", exc, "Artifact not available")
    return file_response(path, data)


@router.get("/compare", response_class=HTMLResponse, name="ui-compare")
def compare_page(
    request: Request,
    ids: list[str] = Query(default_factory=list),
    only: str = "",
) -> HTMLResponse:
    """Return runs side by side, differing rows marked, and their metrics overlaid."""
    backend = backend_of(request)
    wanted = list(dict.fromkeys(i.strip() for i in ids if i.strip()))
    try:
        if len(wanted) < 2:
            raise InvalidInput(
                f"Comparing needs at least two runs; got {len(wanted)}. Tick two or more runs "
                "in the runs table, then press 'Compare'."
            )
        if len(wanted) > MAX_COMPARE:
            raise InvalidInput(
                f"At most {MAX_COMPARE} runs can be compared at once; got {len(wanted)}. "
                f"Tick {MAX_COMPARE} or fewer."
            )
        runs = [backend.get_run(i) for i in wanted]
    except StewardError as exc:
        return _problem(request, "compare.html", exc, "Cannot compare these runs")
    names = comparison_columns(runs)
    rows = _comparison(backend, runs)
    differing = sum(d for _, _, d in rows)
    only_differences = only == "differences"
    shown = [r for r in rows if r[2]] if only_differences else rows
    charts, more_charts = _metric_charts(backend, runs, names)
    same = len({(r.project, r.experiment) for r in runs}) == 1
    query = [("ids", i) for i in wanted]
    if not only_differences:
        query.append(("only", "differences"))
    crumbs: list[tuple[str, str | None]] = [("Projects", str(request.url_for("ui-home")))]
    if same:
        crumbs.append((runs[0].project, _runs_link(request, project=runs[0].project)))
        crumbs.append(
            (
                runs[0].experiment,
                _runs_link(request, project=runs[0].project, experiment=runs[0].experiment),
            )
        )
    crumbs.append((f"compare {len(runs)} runs", None))
    return render(
        request,
        "compare.html",
        f"Compare {len(runs)} runs",
        section="runs",
        crumbs=crumbs,
        runs=list(zip(runs, names, strict=True)),
        groups=_groups(shown),
        total_rows=len(rows),
        differing=differing,
        only_differences=only_differences,
        toggle=f"{request.url_for('ui-compare')}?{urlencode(query)}",
        charts=charts,
        more_charts=more_charts,
    )


def _problem(request: Request, template: str, exc: StewardError, title: str) -> HTMLResponse:
    page = render(request, template, title, section="runs", problem=exc.message)
    page.status_code = exc.http_status
    return page


def _runs_link(request: Request, **query: str) -> str:
    return f"{request.url_for('ui-runs')}?{urlencode(query)}"


def _artifact_url(request: Request, run_id: str, path: str) -> str:
    # url_for does not percent-encode: a '#', '?' or space in a path would cut the link.
    return str(request.url_for("ui-artifact", run_id=run_id, path=quote(path)))


def _crumbs(request: Request, run: Run, label: str) -> list[tuple[str, str | None]]:
    return [
        ("Projects", str(request.url_for("ui-home"))),
        (run.project, _runs_link(request, project=run.project)),
        (run.experiment, _runs_link(request, project=run.project, experiment=run.experiment)),
        (label, None),
    ]


def _parent(backend: Backend, run: Run) -> Run | None:
    if run.parent_run_id is None:
        return None
    try:
        return backend.get_run(run.parent_run_id)
    except NotFound:
        return None


def _environment(backend: Backend, run: Run) -> Environment | None:
    if run.environment_id is None:
        return None
    try:
        return backend.get_environment(run.environment_id)
    except NotFound:
        return None


def _is_manifest(path: str) -> bool:
    return path == MANIFEST or path.endswith("/" + MANIFEST)


def _model(backend: Backend, run: Run, manifest: Artifact) -> dict[str, Any]:
    """Return a model package logged to the run: its folder, URI and flavor."""
    folder = manifest.path.removesuffix(MANIFEST).rstrip("/")
    flavor = "?"
    try:
        import yaml

        loaded = yaml.safe_load(backend.blobs.read_bytes(manifest.sha256))
        flavor = str(loaded.get("flavor", "?")) if isinstance(loaded, dict) else "?"
    except Exception:  # a damaged manifest is shown as such, never a broken page
        flavor = "unreadable manifest"
    uri = f"runs:/{run.id}/{folder}" if folder else f"runs:/{run.id}"
    return {"folder": folder, "uri": uri, "flavor": flavor, "manifest": manifest.path}


def _kind(path: str) -> str | None:
    suffix = PurePosixPath(path).suffix.lower()
    if suffix in IMAGES:
        return "image"
    if suffix in TABLES:
        return "table"
    if suffix in TEXTS:
        return "text"
    if suffix in {".html", ".htm"}:
        return "html"
    return None


def _preview(request: Request, backend: Backend, art: Artifact) -> Preview:
    """Return what the page shows of an artifact: the image, first lines or first rows."""
    kind = _kind(art.path) or "text"
    preview = Preview(art, _artifact_url(request, art.run_id, art.path), kind)
    if kind in {"image", "html"}:
        return preview
    if art.size > PREVIEW_BYTES:
        preview.problem = f"Too large to preview ({art.size:,} bytes): download it."
        return preview
    try:
        data = backend.blobs.read_bytes(art.sha256)
    except StewardError as exc:
        preview.problem = exc.message
        return preview
    if kind == "table":
        try:
            _table(preview, data)
            return preview
        except Exception as exc:  # users' files: a bad one must not break the page
            if art.path.lower().endswith(".parquet"):
                preview.problem = f"Could not read it as a table: {exc}"
                return preview
            preview.kind = "text"
    lines = data.decode("utf-8", errors="replace").splitlines()
    preview.lines, preview.total_lines = lines[:PREVIEW_LINES], len(lines)
    return preview


def _table(preview: Preview, data: bytes) -> None:
    import pandas as pd

    if preview.artifact.path.lower().endswith(".parquet"):
        import pyarrow.parquet as pq

        source = pq.ParquetFile(io.BytesIO(data))
        first = next(source.iter_batches(batch_size=PREVIEW_ROWS), None)
        frame = first.to_pandas() if first is not None else pd.DataFrame()
        preview.shape = (source.metadata.num_rows, source.metadata.num_columns)
    else:
        frame = pd.read_csv(io.BytesIO(data))
        preview.shape = frame.shape
        frame = frame.head(PREVIEW_ROWS)
    preview.columns = [str(c) for c in frame.columns]
    preview.rows = [[format_value(v) for v in row] for row in frame.itertuples(index=False)]


def _metric_charts(
    backend: Backend, runs: Sequence[Run], names: Sequence[str]
) -> tuple[list[dict[str, Any]], int]:
    """Return a line chart per metric logged over several steps, a line a run (capped)."""
    keys = sorted({k for r in runs for k, m in r.metrics.items() if m.count > 1})
    palette = qualitative.Dark24  # 24 distinct colours, one a run (MAX_COMPARE is 20)
    charts = []
    for n, key in enumerate(keys[:MAX_CHARTS]):
        traces: list[dict[str, Any]] = []
        for i, (run, name) in enumerate(zip(runs, names, strict=True)):
            if key not in run.metrics:
                continue
            points = backend.get_metric_history(run.id, key, max_points=MAX_POINTS)
            traces.append(
                {
                    "type": "scatter",
                    "name": name,
                    "x": [p.step for p in points],
                    "y": [p.value for p in points],
                    "mode": "lines+markers" if len(points) <= 50 else "lines",
                    "line": {"color": palette[i % len(palette)]},  # the same in every chart
                }
            )
        last = max((t["x"][-1] for t in traces if t["x"]), default=0)
        layout = {
            "height": 280 + 18 * (len(traces) // 4),  # room for the legend's rows
            "showlegend": len(runs) > 1,
            "xaxis": {"title": {"text": "step"}, "dtick": 1 if last <= 10 else None},
            "margin": {"t": 30, "l": 50, "r": 20, "b": 40},
            "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
        }
        charts.append(
            {
                "id": f"metric-{n}",
                "key": key,
                "points": max(len(t["x"]) for t in traces),
                "runs": len(traces),
                "json": plotly_json({"data": traces, "layout": layout}),
            }
        )
    return charts, len(keys) - len(charts)


def _comparison(backend: Backend, runs: Sequence[Run]) -> list[tuple[str, list[str], bool]]:
    """Return (field, value per run, differs) rows, built as steward.compare_runs builds them."""
    envs: dict[str, Environment] = {}
    for r in runs:
        if r.environment_id:
            found = _environment(backend, r)
            if found is not None:
                envs[r.environment_id] = found
    rows = []
    for label, values in comparison_fields(runs, envs).items():
        shown = [format_value(v) for v in values]
        rows.append((label, shown, len(set(shown)) > 1))
    return rows


def _groups(
    rows: Sequence[tuple[str, list[str], bool]],
) -> list[tuple[str, list[tuple[str, list[str], bool]]]]:
    """Return the rows grouped by their prefix (run, params, metrics...), in order."""
    groups: dict[str, list[tuple[str, list[str], bool]]] = {}
    for label, values, differs in rows:
        group, _, key = label.partition(".")
        groups.setdefault(GROUPS.get(group, group), []).append((key, values, differs))
    return list(groups.items())
