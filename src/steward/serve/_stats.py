"""Live traffic of a deployment, read from its prediction log with DuckDB.

Request rate, error rate and latency percentiles per route and minute, the traffic
split, and (for shadow deployments) how often the shadow agrees with the served model.
The aggregation runs in DuckDB over the Parquet segments (only the days asked for are
read), so a page over a million logged predictions stays well under a second.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import duckdb
import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, Field

from steward.config import load_settings
from steward.serve._models import Deployment


class RouteTraffic(BaseModel):
    """One route's requests in the window."""

    route: str
    role: str
    versions: list[int]
    requests: int
    rows: int
    errors: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


class Traffic(BaseModel):
    """A deployment's traffic over the last ``window_seconds``."""

    deployment: str
    window_seconds: float
    requests: int = 0
    errors: int = 0
    routes: list[RouteTraffic] = Field(default_factory=list)
    per_minute: list[dict[str, Any]] = Field(default_factory=list)
    shadow_agreement: float | None = None
    shadow_compared: int = 0
    segments: int = 0
    log_root: str = ""
    first_time: float | None = None
    last_time: float | None = None

    @property
    def request_rate(self) -> float:
        """Return requests per second while there was traffic (first to last request seen)."""
        if self.first_time is None or self.last_time is None:
            return 0.0
        return self.requests / max(self.last_time - self.first_time, 1.0)

    @property
    def error_rate(self) -> float:
        """Return the share of requests answered with an error."""
        total = self.requests + self.errors
        return self.errors / total if total else 0.0


def log_root(deployment: Deployment) -> str:
    """Return where a deployment's prediction log is written (its spec, else the home)."""
    return deployment.spec.log.uri or str(load_settings().home / "deployments" / deployment.name)


def traffic(deployment: Deployment, *, window_seconds: float = 3600.0) -> Traffic:
    """Return the deployment's traffic over the last ``window_seconds`` from its log."""
    root = log_root(deployment)
    found = Traffic(deployment=deployment.name, window_seconds=window_seconds, log_root=root)
    since = time.time() - window_seconds
    fs, files = _segments(root, since)
    found.segments = len(files)
    if not files:
        return found
    con = duckdb.connect()
    if "file" in _protocols(fs):
        listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        con.execute(  # a view cannot take parameters: the paths are quoted as SQL literals
            f"CREATE VIEW log AS SELECT * FROM read_parquet([{listed}], union_by_name = true) "
            f"WHERE time >= to_timestamp({float(since)!r})"
        )
    else:  # an object store: read through fsspec (DuckDB's own S3 reader needs a download)
        tables = [pq.read_table(f, filesystem=fs) for f in files]
        con.register("segments", pa.concat_tables(tables, promote_options="default"))
        con.execute(
            f"CREATE VIEW log AS SELECT * FROM segments WHERE time >= to_timestamp({float(since)!r})"
        )
    per_route = con.execute(
        """
        SELECT route, role, list_sort(list_distinct(list(version))) AS versions,
               count(DISTINCT request_id) FILTER (WHERE status < 400) AS requests,
               count(*) FILTER (WHERE status < 400) AS rows,
               count(*) FILTER (WHERE status >= 400) AS errors,
               quantile_cont(latency_ms, 0.5) FILTER (WHERE status < 400 AND row = 0),
               quantile_cont(latency_ms, 0.95) FILTER (WHERE status < 400 AND row = 0),
               quantile_cont(latency_ms, 0.99) FILTER (WHERE status < 400 AND row = 0)
        FROM log GROUP BY route, role ORDER BY role, route
        """
    ).fetchall()
    for route, role, versions, requests, rows, errors, p50, p95, p99 in per_route:
        if route == "" and role == "primary":  # requests refused before a route was chosen
            found.errors += int(errors)
            continue
        found.routes.append(
            RouteTraffic(
                route=route,
                role=role,
                versions=[int(v) for v in versions if v is not None],
                requests=int(requests),
                rows=int(rows),
                errors=int(errors),
                p50_ms=p50,
                p95_ms=p95,
                p99_ms=p99,
            )
        )
        if role == "primary":
            found.requests += int(requests)
            found.errors += int(errors)
    span = con.execute(
        "SELECT epoch(min(time)), epoch(max(time)) FROM log WHERE role = 'primary'"
    ).fetchall()
    if span and span[0][0] is not None:
        found.first_time, found.last_time = float(span[0][0]), float(span[0][1])
    minutes = con.execute(
        """
        SELECT date_trunc('minute', time) AS minute, route,
               count(DISTINCT request_id) FILTER (WHERE status < 400) AS requests,
               count(*) FILTER (WHERE status >= 400) AS errors,
               quantile_cont(latency_ms, 0.5) FILTER (WHERE status < 400 AND row = 0) AS p50,
               quantile_cont(latency_ms, 0.99) FILTER (WHERE status < 400 AND row = 0) AS p99
        FROM log WHERE role = 'primary' GROUP BY 1, 2 ORDER BY 1, 2
        """
    ).fetchall()
    found.per_minute = [
        {
            "minute": m.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M"),
            "route": route or "(refused)",
            "requests": int(requests),
            "errors": int(errors),
            "p50_ms": p50,
            "p99_ms": p99,
        }
        for m, route, requests, errors, p50, p99 in minutes
    ]
    if any(r.role == "shadow" for r in found.routes):
        agreement = con.execute(
            """
            SELECT count(*), avg(CAST(p."output.prediction" = s."output.prediction" AS DOUBLE))
            FROM log p JOIN log s USING (request_id, row)
            WHERE p.role = 'primary' AND s.role = 'shadow' AND p.status < 400 AND s.status < 400
            """
        ).fetchone()
        if agreement and agreement[0]:
            found.shadow_compared, found.shadow_agreement = int(agreement[0]), float(agreement[1])
    con.close()
    return found


def _segments(root: str, since: float) -> tuple[Any, list[str]]:
    """Return the log's filesystem and its prediction segments from ``since``'s day on."""
    fs, path = fsspec.core.url_to_fs(root)
    folder = f"{path.rstrip('/')}/predictions"
    if not fs.isdir(folder):
        return fs, []
    first = dt.datetime.fromtimestamp(since, dt.UTC).strftime("%Y-%m-%d")
    files: list[str] = []
    for day in sorted(fs.ls(folder, detail=False)):
        name = day.rstrip("/").rsplit("/", 1)[-1]
        if name.startswith("date=") and name.removeprefix("date=") >= first:
            files += sorted(
                f for f in fs.ls(day, detail=False) if f.endswith(".parquet") and "/." not in f
            )
    return fs, files


def _protocols(fs: Any) -> tuple[str, ...]:
    proto = fs.protocol
    return (proto,) if isinstance(proto, str) else tuple(proto)
