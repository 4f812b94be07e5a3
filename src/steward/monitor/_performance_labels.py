"""Ground truth joined to the prediction log: labels decoded, checked, matched by request id.

A label counts only when it names a scored row and decodes to a value comparable with the
model's predictions; every other label is counted under the reason it was set aside, so
a report never passes a mismatch off as a match.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

Kind = Literal["bool", "int", "float", "str"]
Label = bool | int | float | str

_EXAMPLES = 3


class Refused:
    """Why a value could not be used as a label (or a prediction)."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


class LabelCounts(BaseModel):
    """What became of the labels given: how many matched, and why each other one did not."""

    given: int = Field(description="Label rows given.")
    matched: int = Field(description="Labels joined to a scored prediction and counted.")
    without_label: int = Field(0, description="Feedback rows carrying no label (a reward only).")
    unknown_request_ids: int = Field(0, description="Labels for request ids not in the log.")
    unknown_rows: int = Field(0, description="Labels for a row number the request did not have.")
    not_scored: int = Field(
        0, description="Labels for requests that failed or that no primary route answered."
    )
    duplicates: int = Field(0, description="Earlier labels for a row labeled again (latest kept).")
    refused: dict[str, int] = Field(
        default_factory=dict, description="Labels that cannot be compared, by reason."
    )
    examples: dict[str, list[str]] = Field(
        default_factory=dict, description="A few request ids for each kind of problem."
    )

    @property
    def refused_total(self) -> int:
        """Return how many labels were refused for any reason."""
        return sum(self.refused.values())


def kind_of(values: Sequence[Any]) -> Kind:
    """Return the kind of values (bool, int, float or str) that the given ones share."""
    kinds = {_kind(v) for v in values}
    if kinds <= {"bool"}:
        return "bool"
    if kinds <= {"int"}:
        return "int"
    if kinds <= {"int", "float"}:
        return "float"
    if kinds <= {"str"}:
        return "str"
    raise ValueError(f"mixed kinds of values: {sorted(k for k in kinds if k)}")


def _kind(v: Any) -> str:
    if isinstance(v, bool | np.bool_):
        return "bool"
    if isinstance(v, int | np.integer):
        return "int"
    if isinstance(v, float | np.floating):
        return "int" if math.isfinite(v) and float(v).is_integer() else "float"
    if isinstance(v, str):
        return "str"
    return type(v).__name__


def decode(value: Any) -> Any:
    """Return a label as a Python value: JSON text decoded, other text kept as it is."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value  # not JSON: a label from a labels file, taken as text
    if isinstance(value, np.generic):
        return value.item()
    return value


def coerce(value: Any, kind: Kind) -> Label | Refused:
    """Return ``value`` as the predictions' kind, or why it cannot be compared with them."""
    if isinstance(value, list | dict):
        return Refused("not a single value (a list or an object)")
    if isinstance(value, bool):
        if kind == "bool":
            return value
        return Refused(f"true/false where the predictions are {_KIND_NAMES[kind]}")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            return Refused("not a finite number")
        if kind == "bool":
            return bool(value) if value in (0, 1) else Refused("a number other than 0 or 1")
        if kind == "str":
            if isinstance(value, int):
                return str(value)
            return Refused("a number with a fraction where the predictions are text")
        if kind == "int":
            if float(value).is_integer():
                return int(value)
            return Refused("a number with a fraction where the predictions are whole numbers")
        return float(value)
    if isinstance(value, str):
        if kind == "str":
            return value
        return Refused(f"text where the predictions are {_KIND_NAMES[kind]}")
    return Refused(f"a value of type {type(value).__name__}")


_KIND_NAMES = {"bool": "true/false", "int": "numbers", "float": "numbers", "str": "text"}


def join_labels(
    scored: pd.DataFrame,
    logged_ids: set[str],
    labels: pd.DataFrame,
    kind: Kind,
    classes: Sequence[Label] | None,
) -> tuple[pd.Series, pd.Series, LabelCounts]:
    """Return each scored row's label (or NA), whether a refused label named it, and counts.

    ``scored`` holds the rows that count (request_id, row); ``logged_ids`` every request
    id the log holds; ``classes`` (classification) the values a label may take. A label
    is set aside at the first check it fails, in this order: no label, unknown request
    id, request not scored, unknown row, refused value, duplicate (the latest is kept).
    """
    counts: dict[str, Any] = {"given": len(labels)}
    examples: dict[str, list[str]] = {}
    refused: dict[str, int] = {}
    values = _decoded(labels["label"])
    frame = pd.DataFrame(
        {
            "request_id": pd.Series(
                [None if _missing(v) else str(v) for v in labels["request_id"]], dtype=object
            ),
            "row": _rows(labels),
            "value": pd.Series(values, dtype=object),
            "absent": [v is None for v in values],
            "order": np.arange(len(labels)),
        }
    )
    if "time" in labels.columns:
        frame["time"] = pd.to_datetime(labels["time"], utc=True).to_numpy()

    def set_aside(mask: Any, key: str, reason: str = "") -> pd.DataFrame:
        mask = np.asarray(mask, dtype=bool)
        dropped = frame[mask]
        if len(dropped):
            if reason:
                refused[reason] = refused.get(reason, 0) + len(dropped)
            else:
                counts[key] = counts.get(key, 0) + len(dropped)
            bucket = examples.setdefault(reason or key, [])
            bucket.extend(str(i) for i in dropped["request_id"].head(_EXAMPLES - len(bucket)))
        kept: pd.DataFrame = frame[~mask]
        return kept

    frame = set_aside(frame["absent"], "without_label")
    frame = set_aside(~frame["request_id"].isin(logged_ids), "unknown_request_ids")
    frame = set_aside(~frame["request_id"].isin(set(scored["request_id"])), "not_scored")
    keys = pd.MultiIndex.from_frame(scored[["request_id", "row"]])
    named = pd.MultiIndex.from_frame(frame[["request_id", "row"]]).isin(keys)
    frame = set_aside(~named, "unknown_rows")
    checked = [_checked(v, kind, classes) for v in frame["value"]]
    reasons = np.array([c.reason if isinstance(c, Refused) else "" for c in checked], dtype=object)
    refused_keys = frame.loc[reasons != "", ["request_id", "row"]]
    for reason in sorted(set(reasons) - {""}):
        frame = set_aside(reasons == reason, "", reason)
        reasons = reasons[reasons != reason]
    frame["value"] = pd.Series(
        [c for c in checked if not isinstance(c, Refused)], index=frame.index, dtype=object
    )
    sort = ["time", "order"] if "time" in frame.columns else ["order"]
    frame = frame.sort_values(sort, kind="stable", na_position="first")
    frame = set_aside(frame.duplicated(["request_id", "row"], keep="last"), "duplicates")
    joined = (
        scored[["request_id", "row"]]
        .astype({"request_id": object})
        .merge(frame[["request_id", "row", "value"]], on=["request_id", "row"], how="left")
    )
    value = pd.Series(joined["value"].to_numpy(dtype=object), index=scored.index, dtype=object)
    counts["matched"] = int(value.notna().sum())
    had_refused = keys.isin(pd.MultiIndex.from_frame(refused_keys))
    refused_rows = pd.Series(had_refused & value.isna().to_numpy(), index=scored.index)
    return value, refused_rows, LabelCounts(**counts, refused=refused, examples=examples)


def _decoded(column: pd.Series) -> list[Any]:
    cache: dict[str, Any] = {}
    out = []
    for v in column.astype(object):
        if isinstance(v, str):
            if v not in cache:
                cache[v] = decode(v)
            out.append(cache[v])
        else:
            out.append(None if _missing(v) else decode(v))
    return out


def _checked(value: Any, kind: Kind, classes: Sequence[Label] | None) -> Label | Refused:
    out = coerce(value, kind)
    if classes is not None and not isinstance(out, Refused) and out not in classes:
        shown = ", ".join(map(repr, classes[:10])) + (", ..." if len(classes) > 10 else "")
        return Refused(f"not one of the model's classes ({shown})")
    return out


def _rows(labels: pd.DataFrame) -> Any:
    if "row" not in labels.columns:
        return np.zeros(len(labels), dtype=np.int64)
    given = labels["row"]
    rows = pd.to_numeric(given, errors="coerce")
    # No row given: row 0, as for feedback; a row that is not a number matches no row.
    return rows.where(given.notna(), 0).fillna(-1).astype(np.int64).to_numpy()


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float | np.floating) and math.isnan(value)
