"""search_runs as a DataFrame, and compare_runs: runs side by side, differences marked."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, overload

import pandas as pd

from steward.buffer import buffer
from steward.context import get_backend
from steward.develop._models import Environment, Run, RunTable
from steward.errors import InvalidInput
from steward.validation import renamed

if TYPE_CHECKING:
    from steward._backend import Backend

RUN_COLUMNS = [
    "run_id",
    "project",
    "experiment",
    "name",
    "status",
    "user",
    "start_time",
    "end_time",
    "parent_run_id",
]


@overload
def search_runs(
    filter: str = "",
    *,
    project: str | None = None,
    experiments: Sequence[str] | None = None,
    order_by: Sequence[str] | None = None,
    max_results: int = 1000,
    page_token: str | None = None,
    output: Literal["frame"] = "frame",
    filter_string: str | None = None,
    experiment_names: Sequence[str] | None = None,
    output_format: Literal["pandas"] | None = None,
    search_all_experiments: bool = False,
) -> pd.DataFrame: ...


@overload
def search_runs(
    filter: str = "",
    *,
    project: str | None = None,
    experiments: Sequence[str] | None = None,
    order_by: Sequence[str] | None = None,
    max_results: int = 1000,
    page_token: str | None = None,
    output: Literal["runs"],
    filter_string: str | None = None,
    experiment_names: Sequence[str] | None = None,
    output_format: None = None,
    search_all_experiments: bool = False,
) -> list[Run]: ...


@overload
def search_runs(
    filter: str = "",
    *,
    project: str | None = None,
    experiments: Sequence[str] | None = None,
    order_by: Sequence[str] | None = None,
    max_results: int = 1000,
    page_token: str | None = None,
    output: Literal["frame", "runs"] = "frame",
    filter_string: str | None = None,
    experiment_names: Sequence[str] | None = None,
    output_format: Literal["list"],
    search_all_experiments: bool = False,
) -> list[Run]: ...


def search_runs(
    filter: str = "",
    *,
    project: str | None = None,
    experiments: Sequence[str] | None = None,
    order_by: Sequence[str] | None = None,
    max_results: int = 1000,
    page_token: str | None = None,
    output: Literal["frame", "runs"] = "frame",
    filter_string: str | None = None,
    experiment_names: Sequence[str] | None = None,
    output_format: Literal["pandas", "list"] | None = None,
    search_all_experiments: bool = False,
) -> pd.DataFrame | list[Run]:
    """Return the runs matching ``filter`` as a DataFrame (one row a run) or a list of runs.

    ``filter`` example: ``metrics.auc > 0.9 and params.model = 'rf' and tags.team = 'risk'``;
    ``order_by`` example: ``["metrics.auc DESC", "start_time"]``. The DataFrame's
    ``attrs["next_page_token"]`` holds the token of the next page, or None. Every
    experiment is searched unless ``project`` or ``experiments`` narrow it.

    MLflow's spellings work too: ``filter_string=``, ``experiment_names=``,
    ``output_format="pandas"|"list"`` and ``search_all_experiments=`` (the default here).
    """
    filter = renamed(filter or None, filter_string, "filter", "filter_string") or ""
    experiments = renamed(experiments, experiment_names, "experiments", "experiment_names")
    if output_format is not None:
        if output_format not in ("pandas", "list"):
            raise InvalidInput(
                f"output_format must be 'pandas' or 'list' (MLflow's values); got {output_format!r}."
            )
        output = "frame" if output_format == "pandas" else "runs"
    _ = search_all_experiments  # searching every experiment is already the default
    buffer.flush()
    arguments: dict[str, Any] = dict(
        filter=filter,
        project=project,
        experiments=list(experiments) if experiments else None,
        order_by=list(order_by) if order_by else None,
        max_results=max_results,
        page_token=page_token,
    )
    if output == "runs":
        return get_backend().search_runs(**arguments).runs
    table = get_backend().search_runs_table(**arguments)
    frame = table_frame(table)
    frame.attrs["next_page_token"] = table.next_page_token
    return frame


def table_frame(table: RunTable) -> pd.DataFrame:
    """Return a columnar search page as a DataFrame: attributes, params.*, metrics.*, tags.*."""
    columns = dict(table.columns)
    columns["run_id"] = columns.pop("id")
    frame = pd.DataFrame(columns, columns=RUN_COLUMNS)
    frame["start_time"] = pd.to_datetime(frame["start_time"], unit="s")
    frame["end_time"] = pd.to_datetime(frame["end_time"], unit="s")
    parts = [frame]
    for prefix, triples in (
        ("params", table.params),
        ("metrics", table.metrics),
        ("tags", table.tags),
    ):
        if not triples.rows:
            continue
        long = pd.DataFrame({"row": triples.rows, "key": triples.keys, "value": triples.values})
        wide = long.pivot(index="row", columns="key", values="value").reindex(range(len(frame)))
        wide.columns = [f"{prefix}.{k}" for k in wide.columns]
        if prefix == "metrics":
            wide = wide.astype(float)
        parts.append(wide.sort_index(axis=1))
    return pd.concat(parts, axis=1) if len(parts) > 1 else frame


def runs_frame(runs: Sequence[Run]) -> pd.DataFrame:
    """Return runs as a DataFrame: attributes, then params.*, metrics.*, tags.* columns."""
    records: list[dict[str, Any]] = []
    for run in runs:
        row: dict[str, Any] = {
            "run_id": run.id,
            "project": run.project,
            "experiment": run.experiment,
            "name": run.name,
            "status": run.status,
            "user": run.user,
            "start_time": pd.to_datetime(run.start_time, unit="s"),
            "end_time": pd.to_datetime(run.end_time, unit="s") if run.end_time else pd.NaT,
            "parent_run_id": run.parent_run_id,
        }
        row.update({f"params.{k}": v for k, v in run.params.items()})
        row.update({f"metrics.{k}": m.value for k, m in run.metrics.items()})
        row.update({f"tags.{k}": v for k, v in run.tags.items()})
        records.append(row)
    frame = pd.DataFrame.from_records(records, columns=None if records else RUN_COLUMNS)
    if records:
        rest = sorted(c for c in frame.columns if c not in RUN_COLUMNS)
        order = lambda c: ("params." not in c, "metrics." not in c, c)  # noqa: E731
        frame = frame[RUN_COLUMNS + sorted(rest, key=order)]
    return frame


@dataclass
class RunComparison:
    """Runs side by side: one row a field, one column a run, and which rows differ."""

    table: pd.DataFrame
    differs: pd.Series

    @property
    def differences(self) -> pd.DataFrame:
        """Return only the rows where the runs differ."""
        return self.table[self.differs]

    def to_html(self) -> str:
        """Return an HTML table with differing rows highlighted."""
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in self.table.columns)
        rows = []
        differs = {str(k): bool(v) for k, v in self.differs.items()}
        for label, row in self.table.iterrows():
            cls = ' class="differs"' if differs[str(label)] else ""
            cells = "".join(f"<td>{html.escape(format_value(v))}</td>" for v in row)
            rows.append(f"<tr{cls}><th>{html.escape(str(label))}</th>{cells}</tr>")
        style = (
            "<style>tr.differs{background:#fff3bf;font-weight:600}td,th{padding:2px 8px}</style>"
        )
        return (
            f'{style}<table class="steward-compare"><tr><th></th>{head}</tr>{"".join(rows)}</table>'
        )

    def __str__(self) -> str:
        marked = self.table.copy()
        marked.insert(0, "≠", ["*" if d else "" for d in self.differs])
        return marked.to_string()


def format_value(value: Any) -> str:
    """Return a value as a comparison shows it (6 significant digits, — for missing)."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "—"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def compare_runs(run_ids: Sequence[str], *, backend: Backend | None = None) -> RunComparison:
    """Return the runs side by side: params, metrics, datasets, code and environment."""
    if len(run_ids) < 2:
        raise InvalidInput(f"compare_runs needs at least two run ids; got {len(run_ids)}.")
    if backend is None:
        buffer.flush()
        backend = get_backend()
    runs = [backend.get_run(rid) for rid in run_ids]
    envs = {
        r.environment_id: backend.get_environment(r.environment_id)
        for r in runs
        if r.environment_id
    }
    fields = comparison_fields(runs, envs)
    table = pd.DataFrame.from_dict(fields, orient="index", columns=comparison_columns(runs))
    differs = pd.Series(
        {label: len({format_value(v) for v in values}) > 1 for label, values in fields.items()},
        dtype=bool,
    )
    return RunComparison(table=table, differs=differs)


def comparison_fields(runs: Sequence[Run], envs: Mapping[str, Environment]) -> dict[str, list[Any]]:
    """Return, field by field (run.*, params.*, metrics.*, datasets.*, code.*, env.*, tags.*),
    the value of each run: the rows of a side-by-side comparison."""
    fields: dict[str, list[Any]] = {}
    fields["run.status"] = [r.status for r in runs]
    fields["run.experiment"] = [f"{r.project}/{r.experiment}" for r in runs]
    fields["run.duration_s"] = [
        round(r.end_time - r.start_time, 3) if r.end_time else None for r in runs
    ]
    for key in sorted({k for r in runs for k in r.params}):
        fields[f"params.{key}"] = [r.params.get(key) for r in runs]
    for key in sorted({k for r in runs for k in r.metrics}):
        fields[f"metrics.{key}"] = [
            r.metrics[key].value if key in r.metrics else None for r in runs
        ]
    for ctx in sorted({i.context for r in runs for i in r.inputs}):
        fields[f"datasets.{ctx}"] = [
            ", ".join(f"{i.dataset}@v{i.version}" for i in r.inputs if i.context == ctx) or None
            for r in runs
        ]
    gits = [r.context.get("git") or {} for r in runs]
    fields["code.git_commit"] = [g.get("commit") for g in gits]
    fields["code.git_dirty"] = [g.get("dirty") for g in gits]
    fields["code.seed"] = [r.context.get("seed") for r in runs]
    env = [envs.get(r.environment_id) if r.environment_id else None for r in runs]
    fields["env.python"] = [e.python if e else None for e in env]
    fields["env.platform"] = [e.platform if e else None for e in env]
    fields["env.captured"] = [r.environment_id is not None for r in runs]
    # Packages are compared among the runs that recorded an environment: a run without
    # one differs once (env.captured above), not once per installed package.
    recorded = [e for e in env if e is not None]
    for pkg in sorted({p for e in recorded for p in e.packages}, key=str.lower):
        if len({e.packages.get(pkg) for e in recorded}) > 1:
            fields[f"env.packages.{pkg}"] = [e.packages.get(pkg) if e else None for e in env]
    for key in sorted({k for r in runs for k in r.tags}):
        fields[f"tags.{key}"] = [r.tags.get(key) for r in runs]
    return fields


def comparison_columns(runs: Sequence[Run]) -> list[str]:
    """Return the column title of each run in a comparison: its name, made unique."""
    names = [r.name for r in runs]
    if len(set(names)) == len(names):
        return names
    return [f"{r.name} ({r.id[:8]})" for r in runs]
