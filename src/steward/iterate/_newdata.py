"""Does new training data look like the data the champion was trained on?

The practice our users follow asks, before retraining: does the new data look as
expected, is it complete and consistent, are the features' distributions broadly similar
to the previous training set? Each question is one check against what the champion
recorded when it was registered, so the raw previous data is not needed:

- schema: the champion's signature names its input columns (a new or a missing column
  fails: the challenger would not take the same requests);
- label: the label column is present, complete, and holds no class the champion never
  saw (a new class fails: champion and challenger would answer different questions);
- completeness: each column's missing share against the reference profile's;
- ranges and categories: numeric values outside the training range, categories never
  seen (the signature's min, max and category lists);
- distribution: the monitor stage's drift tests on every feature (the same tests that
  watch production, so "similar" means the same thing in both places);
- overlap: rows of the evaluation set found in the training data (the comparison would
  flatter the challenger): fails.

A failed check stops the run before training; a flagged one lets it train and compare,
but no promotion happens without a person.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from pandas.util import hash_pandas_object
from pydantic import BaseModel, Field

from steward.iterate._records import NewDataChecks
from steward.monitor import DriftReport, ReferenceProfile, drift
from steward.registry import ModelVersion

Status = Literal["passed", "flagged", "failed"]


class DataCheck(BaseModel):
    """One question asked of the new data, and the answer."""

    check: str
    status: Status
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class NewDataReport(BaseModel):
    """The new-data validation: every check, and the worst status among them."""

    rows: int
    columns: list[str]
    status: Status
    checks: list[DataCheck]
    drift_summary: str = ""
    missing: dict[str, list[float]] = Field(
        default_factory=dict, description="column -> [champion's share, new share]"
    )
    drift_effects: dict[str, float] = Field(default_factory=dict)

    def problems(self) -> list[DataCheck]:
        """Return the checks that did not pass."""
        return [c for c in self.checks if c.status != "passed"]

    def to_markdown(self) -> str:
        """Return the validation as a Markdown section."""
        lines = [
            f"## New data: {self.status}",
            "",
            f"{self.rows:,} rows, {len(self.columns)} columns.",
            "",
            "| check | result | finding |",
            "|---|---|---|",
        ]
        lines += [f"| {c.check} | {c.status} | {c.message} |" for c in self.checks]
        if self.drift_summary:
            lines += ["", "```", self.drift_summary, "```"]
        return "\n".join(lines)

    def figures(self) -> dict[str, Any]:
        """Return Plotly figures (as dicts): missing shares, and drift per feature."""
        out: dict[str, Any] = {}
        if self.missing:
            names = list(self.missing)
            out["Missing values: the champion's training data against the new data"] = {
                "data": [
                    {
                        "type": "bar",
                        "name": "champion's training data",
                        "x": names,
                        "y": [v[0] for v in self.missing.values()],
                    },
                    {
                        "type": "bar",
                        "name": "new data",
                        "x": names,
                        "y": [v[1] for v in self.missing.values()],
                    },
                ],
                "layout": {"barmode": "group", "yaxis": {"title": "share missing"}},
            }
        if self.drift_effects:
            ranked = sorted(self.drift_effects.items(), key=lambda kv: -kv[1])
            out[
                "Distribution shift per feature (largest effect as a multiple of its drift threshold: 1 is the line)"
            ] = {
                "data": [
                    {
                        "type": "bar",
                        "x": [k for k, _ in ranked],
                        "y": [v for _, v in ranked],
                    }
                ],
                "layout": {
                    "yaxis": {"title": "effect / threshold"},
                    "shapes": [
                        {
                            "type": "line",
                            "xref": "paper",
                            "x0": 0,
                            "x1": 1,
                            "y0": 1,
                            "y1": 1,
                            "line": {"dash": "dot"},
                        }
                    ],
                },
            }
        return out


def validate_new_data(
    frame: pd.DataFrame,
    champion: ModelVersion,
    *,
    target: str,
    checks: NewDataChecks | None = None,
    reference: ReferenceProfile | None = None,
    evaluation: pd.DataFrame | None = None,
    training: pd.DataFrame | None = None,
) -> NewDataReport:
    """Return how new training data compares with what the champion was trained on.

    ``evaluation`` rows must not appear in ``training`` (the whole training set when the
    new data joins earlier data; default: the new data).
    """
    checks = checks or NewDataChecks()
    found: list[DataCheck] = []
    signature = champion.manifest.signature
    expected = [c.name for c in signature.inputs] if signature else []
    found.append(_rows(frame, checks))
    found.append(_schema(frame, expected, target))
    found.append(_label(frame, target, signature.output.classes if signature else None))
    report = NewDataReport(rows=len(frame), columns=list(frame.columns), status="passed", checks=[])
    features = [c for c in expected if c in frame.columns]
    if reference is not None and reference.rows < checks.min_rows:
        # A profile of the few rows of an input example says nothing about the training
        # data's ranges or distributions: say so once instead of flagging every column.
        found.append(
            DataCheck(
                check="reference",
                status="flagged",
                message=f"The champion's reference profile holds only {reference.rows} rows "
                "(its input example, not its training data): ranges, categories and "
                "distributions cannot be judged against it. Log the training data with "
                "steward.log_input(dataset, context='training') before log_model (or pass "
                "all the training inputs as input_example) when registering the champion.",
            )
        )
    else:
        if reference is not None and features:
            found.append(_completeness(frame, features, reference, checks, report))
        if signature is not None:
            seen = _seen(signature.inputs, reference)
            found.append(_ranges(frame, seen, checks))
            found.append(_categories(frame, seen, checks))
        if reference is not None and features and len(frame):
            found.append(_distribution(frame[features], reference, checks, report))
    if evaluation is not None:
        found.append(_overlap(frame if training is None else training, evaluation))
    report.checks = found
    statuses = {c.status for c in found}
    report.status = (
        "failed" if "failed" in statuses else "flagged" if "flagged" in statuses else "passed"
    )
    return report


def _rows(frame: pd.DataFrame, checks: NewDataChecks) -> DataCheck:
    if len(frame) < checks.min_rows:
        return DataCheck(
            check="rows",
            status="failed",
            message=f"{len(frame)} rows; at least {checks.min_rows} are needed to train and "
            "compare (checks.min_rows).",
        )
    return DataCheck(check="rows", status="passed", message=f"{len(frame):,} rows.")


def _schema(frame: pd.DataFrame, expected: list[str], target: str) -> DataCheck:
    if not expected:
        return DataCheck(
            check="schema",
            status="flagged",
            message="The champion records no signature: the columns cannot be checked.",
        )
    have = set(frame.columns)
    new = sorted(have - set(expected) - {target})
    missing = sorted(set(expected) - have)
    if new or missing:
        parts = []
        if missing:
            parts.append(f"missing column(s) {missing}")
        if new:
            parts.append(f"new column(s) {new}")
        return DataCheck(
            check="schema",
            status="failed",
            message="The new data has "
            + " and ".join(parts)
            + f"; the champion takes {expected}. A challenger must answer the same requests: "
            "fix the data, or train a new model outside the retraining pipeline.",
            details={"missing": missing, "new": new},
        )
    return DataCheck(
        check="schema", status="passed", message=f"The champion's {len(expected)} input columns."
    )


def _label(frame: pd.DataFrame, target: str, classes: list[Any] | None) -> DataCheck:
    if target not in frame.columns:
        return DataCheck(
            check="label",
            status="failed",
            message=f"The new data has no label column {target!r} (the retraining config's "
            "'target'); without outcomes there is nothing to train on.",
        )
    values = frame[target]
    if values.isna().any():
        return DataCheck(
            check="label",
            status="failed",
            message=f"{int(values.isna().sum())} rows have no label in {target!r}; drop them or "
            "wait for their outcomes.",
        )
    if classes:
        known = {_class_text(c) for c in classes}
        new = sorted({_class_text(v) for v in values.unique()} - known)
        if new:
            return DataCheck(
                check="label",
                status="failed",
                message=f"The label {target!r} holds class(es) {new} the champion never saw "
                f"(it knows {sorted(known)}). Champion and challenger would answer different "
                "questions: a new class needs a new model and a person's decision.",
                details={"new_classes": new},
            )
        return DataCheck(
            check="label", status="passed", message=f"Classes within the champion's {len(known)}."
        )
    return DataCheck(check="label", status="passed", message=f"{target!r} complete.")


def _class_text(value: Any) -> str:
    """Return a class label as text, 1.0 and 1 alike (a label column read as floats)."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _completeness(
    frame: pd.DataFrame,
    features: list[str],
    reference: ReferenceProfile,
    checks: NewDataChecks,
    report: NewDataReport,
) -> DataCheck:
    worse = []
    for name in features:
        profile = reference.features.get(name)
        before = profile.missing / profile.count if profile and profile.count else 0.0
        now = float(frame[name].isna().mean()) if len(frame) else 0.0
        report.missing[name] = [before, now]
        if now - before > checks.max_missing_increase or (now == 1.0 and before < 1.0):
            worse.append(f"{name} {before:.0%} -> {now:.0%}")
    if worse:
        return DataCheck(
            check="completeness",
            status="flagged",
            message="Missing values grew beyond "
            f"{checks.max_missing_increase:.0%}: " + ", ".join(worse) + ".",
            details={"columns": worse},
        )
    return DataCheck(
        check="completeness", status="passed", message="Missing shares as in training."
    )


def _seen(inputs: list[Any], reference: ReferenceProfile | None) -> list[Seen]:
    """Return each input's training range and categories: the reference profile's (from
    the whole training data) where there is one, else the signature's (which may have been
    inferred from a few example rows)."""
    out = []
    for spec in inputs:
        item = Seen(name=spec.name, low=spec.min, high=spec.max, categories=spec.categories)
        profile = reference.features.get(spec.name) if reference is not None else None
        if profile is not None and profile.numeric is not None:
            item.low, item.high = profile.numeric.min, profile.numeric.max
        if profile is not None and profile.categories is not None:
            listed = profile.categories
            item.categories = list(listed.counts) if listed.other == 0 else None
        out.append(item)
    return out


class Seen(BaseModel):
    """What training saw of one input: its range, its categories."""

    name: str
    low: float | None = None
    high: float | None = None
    categories: list[str] | None = None


def _ranges(frame: pd.DataFrame, inputs: list[Seen], checks: NewDataChecks) -> DataCheck:
    outside = {}
    for spec in inputs:
        if spec.name not in frame.columns or spec.low is None or spec.high is None:
            continue
        values = pd.to_numeric(frame[spec.name], errors="coerce").dropna()
        if values.empty:
            continue
        share = float(((values < spec.low) | (values > spec.high)).mean())
        if share > checks.max_out_of_range:
            outside[spec.name] = share
    if outside:
        listed = ", ".join(f"{k} {v:.1%}" for k, v in outside.items())
        return DataCheck(
            check="ranges",
            status="flagged",
            message=f"Values outside the champion's training range (more than "
            f"{checks.max_out_of_range:.0%}): {listed}.",
            details={"outside": outside},
        )
    return DataCheck(check="ranges", status="passed", message="Within the training ranges.")


def _categories(frame: pd.DataFrame, inputs: list[Seen], checks: NewDataChecks) -> DataCheck:
    unseen: dict[str, list[str]] = {}
    for spec in inputs:
        if spec.name not in frame.columns or not spec.categories:
            continue
        known = set(spec.categories)
        new = sorted({str(v) for v in frame[spec.name].dropna().unique()} - known)
        if new:
            unseen[spec.name] = new[:10]
    if unseen and checks.new_categories != "allow":
        listed = "; ".join(f"{k}: {v}" for k, v in unseen.items())
        return DataCheck(
            check="categories",
            status="failed" if checks.new_categories == "fail" else "flagged",
            message=f"Categories the champion never saw: {listed}.",
            details={"unseen": unseen},
        )
    return DataCheck(check="categories", status="passed", message="No unseen categories.")


def _distribution(
    frame: pd.DataFrame, reference: ReferenceProfile, checks: NewDataChecks, report: NewDataReport
) -> DataCheck:
    present = [c for c in frame.columns if c in reference.features]
    found: DriftReport = drift(reference, frame, features=present)
    report.drift_summary = found.summary()
    for feature in found.features:
        effects = [t.score for t in feature.tests if t.effect is not None]
        if effects:
            report.drift_effects[feature.feature] = float(max(effects))
    share = found.share_drifted
    message = (
        f"{len(found.drifted_features)} of {found.features_checked} features moved "
        f"({share:.0%}; at most {checks.max_share_drifted:.0%} allowed)"
        + (f": {', '.join(found.drifted_features)}." if found.drifted_features else ".")
    )
    status: Status = "flagged" if share > checks.max_share_drifted else "passed"
    return DataCheck(
        check="distribution",
        status=status,
        message=message,
        details={"drifted": found.drifted_features, "share": share},
    )


def _overlap(frame: pd.DataFrame, evaluation: pd.DataFrame) -> DataCheck:
    shared = [c for c in evaluation.columns if c in frame.columns]
    if not shared:
        return DataCheck(check="evaluation overlap", status="passed", message="No shared columns.")
    train_hashes = set(_row_hashes(frame[shared]).tolist())
    eval_hashes = _row_hashes(evaluation[shared])
    overlap = int(np.isin(eval_hashes, list(train_hashes)).sum())
    if overlap:
        return DataCheck(
            check="evaluation overlap",
            status="failed",
            message=f"{overlap} of the {len(evaluation):,} evaluation rows are also in the "
            "training data: the comparison would flatter the challenger. Remove them from the "
            "new data, or evaluate on a dataset kept apart (the config's 'evaluation').",
            details={"rows": overlap},
        )
    return DataCheck(
        check="evaluation overlap",
        status="passed",
        message=f"None of the {len(evaluation):,} evaluation rows is in the training data.",
    )


def _row_hashes(frame: pd.DataFrame) -> np.ndarray:
    """Return one hash per row, equal for equal values whatever the dtype (1 == 1.0)."""
    plain = pd.DataFrame(
        {
            c: pd.to_numeric(frame[c], errors="coerce").astype("float64")
            if pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c])
            else frame[c].astype(str)
            for c in frame.columns
        }
    )
    return np.asarray(hash_pandas_object(plain, index=False).to_numpy())
