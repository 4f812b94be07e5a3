"""search_runs: the filter language compiled to SQL that uses the key/value indexes."""

from __future__ import annotations

import base64
import json
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    String,
    and_,
    case,
    cast,
    false,
    func,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.engine import Connection

from steward._gc import paused_gc
from steward._operations import operation
from steward.develop._filter import BoolOp, Comparison, parse_filter
from steward.develop._models import KeyValues, RunKeys, RunPage, RunTable
from steward.develop._run_ops import load_runs, run_query
from steward.errors import InvalidInput
from steward.service import Service
from steward.store import tables

r, e, p = tables.runs, tables.experiments, tables.projects
_ATTRIBUTE_COLUMNS: dict[str, Any] = {
    "run_id": r.c.id,
    "name": r.c.name,
    "status": r.c.status,
    "user": r.c.user,
    "experiment": e.c.name,
    "project": p.c.name,
    "parent_run_id": r.c.parent_run_id,
    "start_time": r.c.start_time,
    "end_time": r.c.end_time,
}
_NUMERIC_ATTRIBUTES = {"start_time", "end_time"}
MAX_RESULTS = 100_000


class SearchOps(Service):
    """Run search."""

    @operation("POST", "/runs/search", tag="runs")
    def search_runs(
        self,
        filter: str = "",
        project: str | None = None,
        experiments: list[str] | None = None,
        order_by: list[str] | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> RunPage:
        """Return one page of runs matching ``filter``, newest first unless ``order_by`` says."""
        with self.store.read() as conn:
            rows, token = _matching(
                conn, filter, project, experiments, order_by, max_results, page_token
            )
            return RunPage(runs=load_runs(conn, rows), next_page_token=token)

    @operation("POST", "/runs/search-table", tag="runs")
    def search_runs_table(
        self,
        filter: str = "",
        project: str | None = None,
        experiments: list[str] | None = None,
        order_by: list[str] | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> RunTable:
        """Return the same page as search_runs, in columns (cheap to build, carry and pivot).

        Attributes come one list a column; params, metrics (latest values) and tags come
        as (row index, key, value) triples, the way a DataFrame pivot wants them.
        """
        with self.store.read() as conn, paused_gc():
            rows, token, id_query = _matching(
                conn, filter, project, experiments, order_by, max_results, page_token, ids=True
            )
            position = {row.id: i for i, row in enumerate(rows)}
            page = id_query.subquery()
            triples: dict[str, KeyValues] = {}
            for name, table in (
                ("params", tables.params),
                ("metrics", tables.latest_metrics),
                ("tags", tables.tags),
            ):
                # The page's ids as a subquery (not thousands of bound parameters).
                found = conn.execute(
                    select(table.c.run_id, table.c.key, table.c.value).where(
                        table.c.run_id.in_(select(page.c.id))
                    )
                ).all()
                run_ids, keys, values = (
                    (list(c) for c in zip(*found, strict=True)) if found else ([], [], [])
                )
                triples[name] = KeyValues.model_construct(
                    rows=[position[rid] for rid in run_ids], keys=keys, values=values
                )
        attributes: list[Any] = (
            list(zip(*rows, strict=True)) if rows else [() for _ in TABLE_COLUMNS]
        )
        names = list(rows[0]._fields) if rows else list(TABLE_COLUMNS)
        columns = {name: list(attributes[names.index(name)]) for name in TABLE_COLUMNS}
        return RunTable.model_construct(
            columns=columns,
            params=triples["params"],
            metrics=triples["metrics"],
            tags=triples["tags"],
            next_page_token=token,
        )

    @operation("POST", "/runs/count", tag="runs")
    def count_runs(
        self, filter: str = "", project: str | None = None, experiments: list[str] | None = None
    ) -> int:
        """Return how many runs match ``filter`` (counted in the database)."""
        tree = parse_filter(filter)
        with self.store.read() as conn:
            query = select(func.count()).select_from(
                r.join(e, e.c.id == r.c.experiment_id).join(p, p.c.id == e.c.project_id)
            )
            if tree is not None:
                query = query.where(_compile(tree, conn.dialect.name))
            if project is not None:
                query = query.where(p.c.name == project)
            if experiments:
                query = query.where(e.c.name.in_(experiments))
            return int(conn.execute(query).scalar_one())

    @operation("POST", "/runs/keys", tag="runs")
    def list_run_keys(
        self, project: str | None = None, experiments: list[str] | None = None
    ) -> RunKeys:
        """Return the metric, param and tag keys used by the runs in scope, sorted."""
        k = tables.experiment_keys
        query = (
            select(k.c.kind, k.c.key)
            .distinct()
            .join(e, e.c.id == k.c.experiment_id)
            .join(p, p.c.id == e.c.project_id)
            .order_by(k.c.key)
        )
        if project is not None:
            query = query.where(p.c.name == project)
        if experiments:
            query = query.where(e.c.name.in_(experiments))
        found: dict[str, list[str]] = {"metrics": [], "params": [], "tags": []}
        with self.store.read() as conn:
            for kind, key in conn.execute(query):
                found[kind].append(key)
        return RunKeys(**found)


TABLE_COLUMNS = (
    "id",
    "project",
    "experiment",
    "name",
    "status",
    "user",
    "start_time",
    "end_time",
    "parent_run_id",
)


def _matching(
    conn: Connection,
    filter: str,
    project: str | None,
    experiments: list[str] | None,
    order_by: list[str] | None,
    max_results: int,
    page_token: str | None,
    *,
    ids: bool = False,
) -> Any:
    """Return the run rows of one page of a search and the next page's token (and, with
    ``ids``, a query of the page's run ids, for fetching their params and metrics)."""
    if not 1 <= max_results <= MAX_RESULTS:
        raise InvalidInput(f"max_results must be between 1 and {MAX_RESULTS}; got {max_results}.")
    offset = _decode_token(page_token)
    tree = parse_filter(filter)
    query = run_query()
    if tree is not None:
        query = query.where(_compile(tree, conn.dialect.name))
    if project is not None:
        query = query.where(p.c.name == project)
    if experiments:
        query = query.where(e.c.name.in_(experiments))
    query = _order(query, order_by or [], conn)
    rows = conn.execute(query.limit(max_results + 1).offset(offset)).all()
    token = _encode_token(offset + max_results) if len(rows) > max_results else None
    if ids:
        id_query = query.with_only_columns(r.c.id).limit(max_results).offset(offset)
        return list(rows[:max_results]), token, id_query
    return list(rows[:max_results]), token


def _compile(node: Comparison | BoolOp, dialect: str) -> ColumnElement[bool]:
    if isinstance(node, BoolOp):
        parts = [_compile(item, dialect) for item in node.items]
        if node.op == "not":
            return not_(parts[0])
        return and_(*parts) if node.op == "and" else or_(*parts)
    if node.namespace == "attributes":
        return _attribute(node)
    if node.namespace == "datasets":
        return _dataset(node)
    table = {"metrics": tables.latest_metrics, "params": tables.params, "tags": tables.tags}[
        node.namespace
    ]
    has_key = select(table.c.run_id).where(table.c.key == node.key)
    if node.op == "is null":
        return r.c.id.not_in(has_key)
    if node.op == "is not null":
        return r.c.id.in_(has_key)
    if node.namespace == "metrics":
        _require_numeric(node)
        value_col: Any = table.c.value
        literal: Any = node.value
    elif node.op in {"<", "<=", ">", ">="}:
        _require_numeric(node)  # params and tags are text; compare their numeric reading
        value_col = _as_number(table.c.value, dialect)
        literal = node.value
    else:
        value_col = table.c.value
        literal = _as_text(node.value)
    return r.c.id.in_(has_key.where(_apply(value_col, node.op, literal)))


def _attribute(node: Comparison) -> ColumnElement[bool]:
    column = _ATTRIBUTE_COLUMNS[node.key]
    if node.op == "is null":
        return column.is_(None)  # type: ignore[no-any-return]
    if node.op == "is not null":
        return column.is_not(None)  # type: ignore[no-any-return]
    if node.key in _NUMERIC_ATTRIBUTES:
        _require_numeric(node)
        return _apply(column, node.op, node.value)
    if node.op in {"<", "<=", ">", ">="}:
        raise InvalidInput(
            f"Attribute {node.key!r} is text: compare it with =, !=, LIKE, ILIKE or IN, not {node.op}."
        )
    return _apply(column, node.op, _as_text(node.value))


def _dataset(node: Comparison) -> ColumnElement[bool]:
    le, dv, ds = tables.lineage_edges, tables.dataset_versions, tables.datasets
    column: Any = ds.c.name if node.key == "name" else dv.c.version
    value = node.value
    if node.key == "name":
        value = _as_text(value)
    elif node.op not in {"is null", "is not null"}:
        _require_numeric(node)
    users = (
        select(le.c.target_id)
        .join(dv, dv.c.id.cast(String) == le.c.source_id)
        .join(ds, ds.c.id == dv.c.dataset_id)
        .where(le.c.source_type == "dataset_version", le.c.target_type == "run")
    )
    if node.op == "is null":
        return r.c.id.not_in(users)
    if node.op == "is not null":
        return r.c.id.in_(users)
    return r.c.id.in_(users.where(_apply(column, node.op, value)))


def _apply(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    if op == "=":
        return column == value  # type: ignore[no-any-return]
    if op == "!=":
        return column != value  # type: ignore[no-any-return]
    if op == "<":
        return column < value  # type: ignore[no-any-return]
    if op == "<=":
        return column <= value  # type: ignore[no-any-return]
    if op == ">":
        return column > value  # type: ignore[no-any-return]
    if op == ">=":
        return column >= value  # type: ignore[no-any-return]
    if op == "like":
        return column.like(value)  # type: ignore[no-any-return]
    if op == "ilike":
        return column.ilike(value)  # type: ignore[no-any-return]
    if op == "in":
        return column.in_(list(value)) if value else false()
    if op == "not in":
        return column.not_in(list(value)) if value else true()
    raise InvalidInput(f"Unknown operator {op!r}.")


def _require_numeric(node: Comparison) -> None:
    values = node.value if isinstance(node.value, tuple) else (node.value,)
    if node.op in {"like", "ilike"} or not all(isinstance(v, float) for v in values):
        raise InvalidInput(
            f"{node.namespace}.{node.key} is a number: compare it with a number using "
            f"=, !=, <, <=, >, >= or IN; got {node.op.upper()} {node.value!r}."
        )


def _as_text(value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(_as_text(v) for v in value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return value


def _as_number(column: Any, dialect: str) -> Any:
    """Return SQL reading a text column as a number, NULL where it is not numeric."""
    if dialect == "postgresql":
        numeric = column.op("~")(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")
    else:
        numeric = and_(column != "", column.op("NOT GLOB")("*[^0-9eE.+-]*"))
    return case((numeric, cast(column, Float)), else_=None)


def _order(query: Any, order_by: list[str], conn: Connection) -> Any:
    clauses: list[Any] = []
    for i, spec in enumerate(order_by):
        words = spec.strip().split()
        descending = len(words) > 1 and words[-1].lower() == "desc"
        if len(words) > 1 and words[-1].lower() in {"asc", "desc"}:
            words = words[:-1]
        field = " ".join(words)
        node = parse_filter(f"{field} is null")
        assert isinstance(node, Comparison)
        if node.namespace == "attributes":
            column: Any = _ATTRIBUTE_COLUMNS[node.key]
        elif node.namespace in {"metrics", "params", "tags"}:
            table = {
                "metrics": tables.latest_metrics,
                "params": tables.params,
                "tags": tables.tags,
            }[node.namespace]
            alias = table.alias(f"o{i}")
            query = query.outerjoin(alias, (alias.c.run_id == r.c.id) & (alias.c.key == node.key))
            column = alias.c.value
        else:
            raise InvalidInput(
                f"Cannot order runs by {spec!r}; order by metrics, params, tags or attributes."
            )
        clauses.append(column.is_(None))  # runs without the value last, either direction
        clauses.append(column.desc() if descending else column.asc())
    clauses += [r.c.start_time.desc(), r.c.id]
    return query.order_by(*clauses)


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        offset = int(json.loads(base64.urlsafe_b64decode(token.encode()))["offset"])
        if offset < 0:
            raise ValueError
        return offset
    except Exception as exc:
        raise InvalidInput(
            f"The page token {token!r} is not one search_runs returned; pass next_page_token "
            "from the previous page unchanged."
        ) from exc
