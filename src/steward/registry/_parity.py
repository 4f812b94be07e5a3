"""Parity between a model and its portable export (ONNX, PMML): one report, one comparison.

:func:`compare_outputs` takes what the original model and the exported model answered on
the same rows and returns a :class:`ParityReport`: the largest and mean absolute difference
of scores (class probabilities or regression predictions), the share of rows whose label
agrees, the worst rows, and a verdict. The export is valid only when every score is within
``tolerance`` (``|Δ| <= tolerance + rtol * |original|``, as :func:`numpy.isclose`) and the
labels agree on at least ``min_label_agreement`` of the rows. The registry stores the report
next to the exported file, so anyone can see why an export was accepted or refused.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from steward.errors import InvalidInput

ExportFormat = Literal["onnx", "pmml"]
Task = Literal["classification", "regression"]

MAX_WORST_ROWS = 10


class ParityReport(BaseModel):
    """How faithfully an exported model reproduces the original on validation rows."""

    model_config = ConfigDict(frozen=True)

    format: ExportFormat
    rows: int
    task: Task
    max_abs_score_diff: float
    mean_abs_score_diff: float
    rows_over_tolerance: int
    label_agreement: float | None
    worst_rows: list[dict[str, Any]] = Field(default_factory=list)
    tolerance: float
    rtol: float = 0.0
    min_label_agreement: float = 1.0
    valid: bool
    reason: str
    precision: str | None = None
    notes: list[str] = Field(default_factory=list)
    versions: dict[str, str] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    def to_markdown(self) -> str:
        """Return the report as a Markdown section (summary table, worst rows, versions)."""
        verdict = "valid" if self.valid else "NOT valid"
        agreement = "n/a" if self.label_agreement is None else _percent(self.label_agreement)
        lines = [
            f"### {self.format.upper()} export parity: {verdict}",
            "",
            self.reason[:1].upper() + self.reason[1:] + ".",
            "",
            "| | |",
            "|---|---|",
            f"| Task | {self.task} |",
            f"| Rows compared | {self.rows} |",
            f"| Tolerance | {self.tolerance:g}"
            + (f" + {self.rtol:g}·\\|original\\|" if self.rtol else "")
            + " |",
            f"| Max \\|Δscore\\| | {_sci(self.max_abs_score_diff)} |",
            f"| Mean \\|Δscore\\| | {_sci(self.mean_abs_score_diff)} |",
            f"| Rows over tolerance | {self.rows_over_tolerance} |",
            f"| Label agreement | {agreement} |",
        ]
        if self.precision:
            lines.append(f"| Precision | {self.precision} |")
        lines.append(f"| Checked at | {self.created_at.isoformat(timespec='seconds')} |")
        if self.notes:
            lines += ["", "Notes:", ""] + [f"- {note}" for note in self.notes]
        if self.worst_rows:
            labelled = self.label_agreement is not None
            header = "| Row | \\|Δscore\\| | Original score | Exported score |"
            rule = "|---:|---:|---|---|"
            if labelled:
                header += " Original label | Exported label |"
                rule += "---|---|"
            lines += ["", "Worst rows:", "", header, rule]
            for row in self.worst_rows:
                line = (
                    f"| {row['row']} | {_sci(float(row['abs_diff']))} "
                    f"| {_cells(row['original_score'])} | {_cells(row['exported_score'])} |"
                )
                if labelled:
                    line += f" {row.get('original_label', '')} | {row.get('exported_label', '')} |"
                lines.append(line)
        if self.versions:
            lines += [
                "",
                "Library versions: " + ", ".join(f"{k} {v}" for k, v in self.versions.items()),
            ]
        return "\n".join(lines) + "\n"


def compare_outputs(
    original_scores: Any,
    exported_scores: Any,
    original_labels: Any = None,
    exported_labels: Any = None,
    *,
    tolerance: float,
    format: ExportFormat,
    task: Task | None = None,
    rtol: float = 0.0,
    min_label_agreement: float = 1.0,
    precision: str | None = None,
    notes: Sequence[str] = (),
    versions: Mapping[str, str] | None = None,
) -> ParityReport:
    """Return the parity report of exported against original scores (and labels) row by row.

    Scores are class probabilities ``(n, k)`` or predictions ``(n,)``/``(n, t)``. Labels
    are given for classifiers; the task is "classification" when they are, unless ``task``
    says otherwise. A NaN on both sides counts as agreement, on one side as an infinite
    difference.
    """
    if tolerance < 0 or rtol < 0 or math.isnan(tolerance) or math.isnan(rtol):
        raise InvalidInput(
            f"The tolerance must be a non-negative number. Got tolerance={tolerance}, rtol={rtol}."
        )
    if not 0.0 <= min_label_agreement <= 1.0:
        raise InvalidInput(
            "The 'min_label_agreement' parameter must lie between 0 and 1. "
            f"Got {min_label_agreement}."
        )
    original = _as_matrix(original_scores, "original_scores")
    exported = _as_matrix(exported_scores, "exported_scores")
    if original.shape != exported.shape:
        raise InvalidInput(
            f"Original and exported scores must have the same shape to be compared. "
            f"Got {original.shape} and {exported.shape}; check that both models scored "
            "the same rows and output the same classes."
        )
    rows = original.shape[0]
    if rows == 0:
        raise InvalidInput("Parity needs at least one row of validation data. Got 0 rows.")
    has_labels = original_labels is not None and exported_labels is not None
    task = task or ("classification" if has_labels else "regression")

    both_nan = np.isnan(original) & np.isnan(exported)
    missing = int((np.isnan(exported) & ~np.isnan(original)).any(axis=1).sum())
    diff = np.where(both_nan, 0.0, np.abs(original - exported))
    diff = np.where(np.isnan(diff), np.inf, diff)
    allowed = tolerance + rtol * np.abs(np.nan_to_num(original, nan=0.0))
    over = (diff > allowed).any(axis=1)
    row_diff = diff.max(axis=1)
    max_diff = float(row_diff.max())
    mean_diff = float(diff.mean())
    rows_over = int(over.sum())

    label_agreement: float | None = None
    label_equal: np.ndarray | None = None
    orig_labels = exp_labels = None
    if has_labels:
        orig_labels = np.asarray(original_labels).reshape(-1)
        exp_labels = np.asarray(exported_labels).reshape(-1)
        if orig_labels.shape[0] != rows or exp_labels.shape[0] != rows:
            raise InvalidInput(
                f"Expected one label per row ({rows}) on both sides. "
                f"Got {orig_labels.shape[0]} original and {exp_labels.shape[0]} exported labels."
            )
        label_equal = np.array(
            [_same_label(a, b) for a, b in zip(orig_labels, exp_labels, strict=True)]
        )
        label_agreement = float(label_equal.mean())

    scores_ok = rows_over == 0
    labels_ok = label_agreement is None or label_agreement >= min_label_agreement
    valid = scores_ok and labels_ok
    reason = _reason(
        max_diff, tolerance, rtol, rows_over, rows, label_agreement, min_label_agreement, valid
    )
    if missing:
        reason += f"; the export gave no score (NaN) on {missing} of {rows} rows"

    # Worst rows: label disagreements first, then the largest score differences.
    disagree = np.zeros(rows, dtype=bool) if label_equal is None else ~label_equal
    order = np.lexsort((-row_diff, ~disagree))[:MAX_WORST_ROWS]
    worst: list[dict[str, Any]] = []
    for i in order:
        if row_diff[i] == 0.0 and not disagree[i]:
            break
        entry: dict[str, Any] = {
            "row": int(i),
            "abs_diff": _json_float(row_diff[i]),
            "original_score": [_json_float(v) for v in original[i]],
            "exported_score": [_json_float(v) for v in exported[i]],
        }
        if orig_labels is not None and exp_labels is not None:
            entry["original_label"] = _json_value(orig_labels[i])
            entry["exported_label"] = _json_value(exp_labels[i])
        worst.append(entry)

    return ParityReport(
        format=format,
        rows=rows,
        task=task,
        max_abs_score_diff=max_diff,
        mean_abs_score_diff=mean_diff,
        rows_over_tolerance=rows_over,
        label_agreement=label_agreement,
        worst_rows=worst,
        tolerance=tolerance,
        rtol=rtol,
        min_label_agreement=min_label_agreement,
        valid=valid,
        reason=reason,
        precision=precision,
        notes=list(notes),
        versions=dict(versions or {}),
    )


def library_versions(*names: str) -> dict[str, str]:
    """Return the installed version of each named distribution (absent ones left out)."""
    from importlib.metadata import PackageNotFoundError, version

    found: dict[str, str] = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def _as_matrix(values: Any, name: str) -> np.ndarray:
    """Return ``values`` as a 2-D float64 array, one row per input row."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            f"The {name} must be numeric scores. Got {type(values).__name__}."
        ) from exc
    if array.ndim == 1:
        return array.reshape(-1, 1)
    if array.ndim == 2:
        return array
    raise InvalidInput(f"The {name} must be 1-D or 2-D. Got shape {array.shape}.")


def _same_label(a: Any, b: Any) -> bool:
    """Return whether two labels are equal, comparing numbers numerically and text as text."""
    if isinstance(a, bytes):
        a = a.decode()
    if isinstance(b, bytes):
        b = b.decode()
    if a == b:
        return True
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return str(a) == str(b)


def _reason(
    max_diff: float,
    tolerance: float,
    rtol: float,
    rows_over: int,
    rows: int,
    agreement: float | None,
    min_agreement: float,
    valid: bool,
) -> str:
    """Return the one-sentence verdict: the score difference against tolerance, then labels."""
    limit = f"{tolerance:g}" + (f" + {rtol:g}·|original|" if rtol else "")
    if rows_over:
        parts = [
            f"max |Δscore| {_sci(max_diff)} exceeds tolerance {limit} on {rows_over} of {rows} rows"
        ]
    else:
        parts = [f"max |Δscore| {_sci(max_diff)} is within tolerance {limit} on all {rows} rows"]
    if agreement is not None:
        text = f"label agreement {_percent(agreement)}"
        if agreement < min_agreement:
            differ = round((1.0 - agreement) * rows)
            text += f" ({differ} rows differ) is below the required {_percent(min_agreement)}"
        parts.append(text)
    verdict = "export is valid" if valid else "export is not valid"
    return f"{verdict}: " + "; ".join(parts)


def _sci(value: float) -> str:
    """Return a number in short scientific notation (3.1e-03)."""
    if math.isinf(value):
        return "inf"
    return f"{value:.1e}"


def _percent(share: float) -> str:
    """Return a share as a percentage that never shows 100% unless it is exactly 1."""
    text = f"{share:.1%}"
    digits = 1
    while share < 1.0 and text.startswith("100.") and digits < 6:
        digits += 1
        text = f"{share:.{digits}%}"
    return text


def _cells(values: list[Any]) -> str:
    """Return a short rendering of a row of scores for a Markdown cell."""
    return ", ".join(f"{v:.10g}" if isinstance(v, float) else str(v) for v in values)


def _json_float(value: Any) -> float | str:
    """Return a JSON-safe float (NaN and infinities as strings)."""
    number = float(value)
    return number if math.isfinite(number) else str(number)


def _json_value(value: Any) -> Any:
    """Return a label as a plain Python value (numpy scalars and bytes unwrapped)."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value
