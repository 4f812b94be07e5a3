"""Request bodies to model input: records or split JSON, checked against the signature.

This is the serving hot path, so it works on plain Python lists (a pandas operation per
column costs more than the model on one row) and builds a DataFrame only for models that
need one. Every check names the column, the row and what was wrong, and raises
:class:`RequestError` (a 4xx).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from steward.errors import InvalidInput, did_you_mean
from steward.registry import ColumnSpec, Signature


class RequestError(InvalidInput):
    """A request the server cannot score: its body, its columns or its values."""

    code = "invalid_request"
    http_status = 422


class PayloadTooLarge(InvalidInput):
    """A request body over the configured limit."""

    code = "payload_too_large"
    http_status = 413


@dataclass
class Batch:
    """Input rows as columns of plain values, in the signature's order."""

    columns: dict[str, list[Any]]
    rows: int
    entity: str | None = None


def records_of(body: Any) -> tuple[dict[str, list[Any]], int, str | None]:
    """Return (columns, row count, entity key) of a /predict body.

    Accepted: ``{"records": [{col: value}, ...]}`` (also MLflow's ``dataframe_records``),
    ``{"split": {"columns": [...], "data": [[...], ...]}}`` (also ``dataframe_split``), or
    a bare list of records; ``"entity"`` optionally names the caller's entity (A/B stickiness).
    """
    entity = None
    if isinstance(body, dict):
        raw_entity = body.get("entity")
        if raw_entity is not None:
            if not isinstance(raw_entity, str | int):
                raise RequestError(f"'entity' must be a string or an integer; got {raw_entity!r}.")
            entity = str(raw_entity)
        keys = [
            k for k in ("records", "dataframe_records", "split", "dataframe_split") if k in body
        ]
        if len(keys) != 1:
            raise RequestError(
                "The body must hold exactly one of 'records' (a list of {column: value} objects) "
                "or 'split' ({'columns': [...], 'data': [[...], ...]}); got keys "
                f'{sorted(body)}. Example: {{"records": [{{"age": 42, "plan": "gold"}}]}}.'
            )
        payload = body[keys[0]]
        if keys[0].endswith("split"):
            columns, rows = _split(payload)
            return columns, rows, entity
    elif isinstance(body, list):
        payload = body
    else:
        raise RequestError(
            f"The body must be a JSON object with 'records' or 'split'; got {type(body).__name__}."
        )
    return (*_records(payload), entity)


def _records(payload: Any) -> tuple[dict[str, list[Any]], int]:
    if not isinstance(payload, list) or not payload:
        raise RequestError("'records' must be a non-empty list of {column: value} objects.")
    first = payload[0]
    if not isinstance(first, dict):
        raise RequestError(f"Record 0 must be an object of column values; got {first!r:.80}.")
    names = list(first)
    columns: dict[str, list[Any]] = {n: [] for n in names}
    for i, record in enumerate(payload):
        if not isinstance(record, dict):
            raise RequestError(
                f"Record {i} must be an object of column values; got {record!r:.80}."
            )
        if len(record) != len(names) or any(n not in record for n in names):
            raise RequestError(
                f"Record {i} has columns {sorted(record)}, record 0 has {sorted(names)}: every "
                "record must have the same columns."
            )
        for name in names:
            columns[name].append(record[name])
    return columns, len(payload)


def _split(payload: Any) -> tuple[dict[str, list[Any]], int]:
    if not isinstance(payload, dict) or "columns" not in payload or "data" not in payload:
        raise RequestError("'split' must be an object with 'columns' and 'data'.")
    names, data = payload["columns"], payload["data"]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise RequestError("'split.columns' must be a list of column names.")
    if len(set(names)) != len(names):
        raise RequestError(f"'split.columns' repeats a name: {names}.")
    if not isinstance(data, list) or not data:
        raise RequestError("'split.data' must be a non-empty list of rows.")
    for i, row in enumerate(data):
        if not isinstance(row, list) or len(row) != len(names):
            raise RequestError(
                f"Row {i} of 'split.data' must be a list of {len(names)} values (one per column); "
                f"got {row!r:.80}."
            )
    return {n: [row[j] for row in data] for j, n in enumerate(names)}, len(data)


def check(
    columns: dict[str, list[Any]],
    rows: int,
    signature: Signature | None,
    *,
    extra: str = "ignore",
    allowed: frozenset[str] = frozenset(),
) -> Batch:
    """Return the columns the model takes, in its order, after checking every value.

    With ``extra="error"``, a column the model does not take (other than those in
    ``allowed``) is refused.
    """
    if signature is None:
        return Batch(columns, rows)
    missing = [c for c in signature.inputs if c.name not in columns]
    if missing:
        hint = did_you_mean(missing[0].name, columns)
        named = ", ".join(repr(c.name) for c in missing[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        raise RequestError(
            f"Missing column(s) {named}{more}.{hint} The model takes "
            f"{len(signature.inputs)}: {_names(signature)}.",
            missing=[c.name for c in missing],
        )
    if extra == "error" and len(columns) > len(signature.inputs):
        known = {c.name for c in signature.inputs} | allowed
        unknown = [c for c in columns if c not in known]
        if unknown:
            raise RequestError(
                f"Column(s) {', '.join(repr(c) for c in unknown[:10])} are not inputs of the "
                f"model, which takes {len(signature.inputs)}: {_names(signature)}. Drop them, "
                "or set extra_columns: ignore in the deployment's spec.",
                extra=unknown,
            )
    out: dict[str, list[Any]] = {}
    for spec in signature.inputs:
        out[spec.name] = _column(spec, columns[spec.name])
    return Batch(out, rows)


def _names(signature: Signature, limit: int = 20) -> str:
    names = [c.name for c in signature.inputs]
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


NUMBERS = ("numeric", "integer")
TEXTS = ("categorical", "text", "datetime")


def _column(spec: ColumnSpec, values: list[Any]) -> list[Any]:
    """Return the column's values after checking them (refusing the first bad one)."""
    # The common case costs one type test per value: finite numbers (``v - v`` is 0.0 only
    # for finite floats) or strings. Anything else takes the full check below.
    kind = spec.kind
    if kind in NUMBERS:
        for v in values:
            t = type(v)
            if not (t is int or (t is float and v - v == 0.0)):
                break
        else:
            return values
    elif kind in TEXTS:
        for v in values:
            if type(v) is not str:
                break
        else:
            return values
    return _full_check(spec, values)


def _full_check(spec: ColumnSpec, values: list[Any]) -> list[Any]:
    kind = spec.kind
    for i, value in enumerate(values):
        if value is None or (type(value) is float and value != value):
            if not spec.nullable:
                raise RequestError(
                    f"Column {spec.name!r}, row {i}: null is not allowed (the column had no "
                    "missing values in training).",
                    column=spec.name,
                    row=i,
                )
            continue
        kind_of = type(value)
        if kind in NUMBERS:
            if kind_of is float:
                if not math.isfinite(value):
                    raise RequestError(
                        f"Column {spec.name!r}, row {i}: {value} is not a finite number.",
                        column=spec.name,
                        row=i,
                    )
            elif kind_of is not int:
                raise RequestError(
                    f"Column {spec.name!r}, row {i}: expected a number ({spec.dtype} in "
                    f"training); got {_show(value)}.",
                    column=spec.name,
                    row=i,
                )
        elif kind == "boolean":
            if kind_of is not bool and not (kind_of is int and value in (0, 1)):
                raise RequestError(
                    f"Column {spec.name!r}, row {i}: expected true or false; got {_show(value)}.",
                    column=spec.name,
                    row=i,
                )
        elif kind in TEXTS and kind_of is not str:
            if kind == "categorical" and kind_of in (int, float, bool):
                continue  # numbers coded as categories: the model's encoder decides
            raise RequestError(
                f"Column {spec.name!r}, row {i}: expected text; got {_show(value)}.",
                column=spec.name,
                row=i,
            )
    return values


def _show(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def unseen_categories(batch: Batch, signature: Signature | None) -> dict[str, list[str]]:
    """Return, per categorical column, the values the training data never had."""
    found: dict[str, list[str]] = {}
    if signature is None:
        return found
    for spec in signature.inputs:
        if spec.kind != "categorical" or not spec.categories:
            continue
        allowed = set(spec.categories)
        new = sorted(
            {str(v) for v in batch.columns[spec.name] if v is not None and str(v) not in allowed}
        )
        if new:
            found[spec.name] = new[:5]
    return found
