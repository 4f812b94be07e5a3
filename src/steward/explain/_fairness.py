"""Fairness of a classifier's decisions across the groups of sensitive attributes.

:func:`fairness_report` predicts with the model and, for each sensitive column, computes
with fairlearn the demographic parity difference and ratio (selection rates), the
equalized odds difference and ratio (true and false positive rates), the rates of each
group, and the four-fifths rule: the lowest group's selection rate under 80% of the
highest's is flagged. Sensitive columns are those declared on the dataset
(``register_dataset(..., sensitive_columns=[...])``) unless given; they need not be model
inputs, and a model that does use one as a feature is flagged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from steward.develop import DatasetVersion, get_dataset
from steward.errors import InvalidInput, NotFound
from steward.explain._inputs import Explained, resolve_model
from steward.explain._segments import (
    finite,
    fmt,
    markdown_table,
    plain,
    positive_class,
    score_data,
    segment_column,
)
from steward.registry import LoadedModel, Manifest

FOUR_FIFTHS = 0.8
RATES = ("selection_rate", "true_positive_rate", "false_positive_rate")


@dataclass
class FourFifths:
    """The four-fifths rule on one column: lowest / highest group selection rate."""

    ratio: float
    flagged: bool
    lowest: Any
    highest: Any
    lowest_rate: float
    highest_rate: float
    threshold: float = FOUR_FIFTHS

    @property
    def sentence(self) -> str:
        """Return the finding in one sentence."""
        if np.isnan(self.ratio):
            return "No group is ever selected: the four-fifths rule does not apply."
        verdict = (
            f"below {self.threshold:g}: possible adverse impact"
            if self.flagged
            else f"at or above {self.threshold:g}: passes"
        )
        return (
            f"Group {self.lowest!r} is selected at {self.lowest_rate:.3f}, {self.ratio:.2f} times "
            f"the rate of group {self.highest!r} ({self.highest_rate:.3f}); {verdict}."
        )


@dataclass
class ColumnFairness:
    """Fairness metrics of the model's decisions across the groups of one sensitive column.

    ``groups`` has one row per group: ``n``, ``selection_rate``, ``true_positive_rate``,
    ``false_positive_rate``.
    """

    column: str
    groups: pd.DataFrame
    demographic_parity_difference: float
    demographic_parity_ratio: float
    equalized_odds_difference: float
    equalized_odds_ratio: float
    four_fifths: FourFifths
    binned: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return the column's results as JSON-ready data (NaN as None)."""
        return {
            "column": self.column,
            "demographic_parity_difference": finite(self.demographic_parity_difference),
            "demographic_parity_ratio": finite(self.demographic_parity_ratio),
            "equalized_odds_difference": finite(self.equalized_odds_difference),
            "equalized_odds_ratio": finite(self.equalized_odds_ratio),
            "four_fifths": {
                "ratio": finite(self.four_fifths.ratio),
                "flagged": self.four_fifths.flagged,
                "lowest": plain(self.four_fifths.lowest),
                "highest": plain(self.four_fifths.highest),
                "threshold": self.four_fifths.threshold,
                "sentence": self.four_fifths.sentence,
            },
            "groups": [
                {"group": plain(g), "n": int(row["n"]), **{r: finite(row[r]) for r in RATES}}
                for g, row in self.groups.iterrows()
            ],
            "binned": self.binned,
            "notes": self.notes,
        }


@dataclass
class FairnessReport:
    """Fairness of a classifier across sensitive columns, and whether it uses any as input."""

    model: str
    target: str
    positive_label: Any
    rows: int
    columns: dict[str, ColumnFairness]
    uses_sensitive_features: list[str]
    sensitive_source: str
    notes: list[str] = field(default_factory=list)

    def __getitem__(self, column: str) -> ColumnFairness:
        """Return the results for one sensitive column."""
        return self.columns[column]

    @property
    def flags(self) -> list[str]:
        """Return one sentence per finding: sensitive inputs, four-fifths rule failures."""
        found = []
        if self.uses_sensitive_features:
            names = ", ".join(map(repr, self.uses_sensitive_features))
            found.append(
                f"The model uses sensitive attribute(s) {names} as input: its decisions can "
                "depend on them directly. Make sure that is lawful and intended; otherwise "
                "retrain without them and compare these metrics again (other columns can "
                "still act as proxies)."
            )
        found += [
            f"{c.column!r}: {c.four_fifths.sentence}"
            for c in self.columns.values()
            if c.four_fifths.flagged
        ]
        return found

    @property
    def flagged(self) -> bool:
        """Return whether anything was flagged."""
        return bool(self.flags)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready data (NaN as None)."""
        return {
            "model": self.model,
            "target": self.target,
            "positive_label": plain(self.positive_label),
            "rows": self.rows,
            "sensitive_source": self.sensitive_source,
            "uses_sensitive_features": self.uses_sensitive_features,
            "flags": self.flags,
            "columns": {k: c.to_dict() for k, c in self.columns.items()},
            "notes": self.notes,
        }

    def to_markdown(self) -> str:
        """Return the report as a Markdown section: flags, a summary table, rates per group."""
        text = [
            "### Fairness",
            "",
            f"Model `{self.model}`, target `{self.target}`, positive class "
            f"{self.positive_label!r}, {self.rows} rows; sensitive columns from "
            f"{self.sensitive_source}.",
            "",
        ]
        text += [f"- **{flag}**" for flag in self.flags] or ["- Nothing flagged."]
        summary = [
            [
                c.column,
                fmt(c.demographic_parity_difference),
                fmt(c.demographic_parity_ratio),
                fmt(c.equalized_odds_difference),
                fmt(c.equalized_odds_ratio),
                "flagged" if c.four_fifths.flagged else "passes",
            ]
            for c in self.columns.values()
        ]
        head = ["column", "DP difference", "DP ratio", "EO difference", "EO ratio", "four-fifths"]
        text += ["", markdown_table(head, summary)]
        for c in self.columns.values():
            rows = [
                [str(g), str(int(row["n"])), *(fmt(row[r]) for r in RATES)]
                for g, row in c.groups.iterrows()
            ]
            text += ["", f"#### {c.column}", "", markdown_table(["group", "n", *RATES], rows)]
            text += ["", *(f"- {n}" for n in [c.four_fifths.sentence, *c.notes])]
        if self.notes:
            text += ["", *(f"- {n}" for n in self.notes)]
        return "\n".join(text) + "\n"

    def figure(self) -> Any:
        """Return a Plotly figure: per sensitive column, each group's selection, true positive
        and false positive rates, with the four-fifths line under the highest selection rate."""
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        cols = list(self.columns.values())
        fig = make_subplots(rows=1, cols=len(cols), subplot_titles=[c.column for c in cols])
        colors = dict(zip(RATES, ("#1f77b4", "#2ca02c", "#d62728"), strict=True))
        for i, c in enumerate(cols, start=1):
            x = [str(g) for g in c.groups.index]
            for rate in RATES:
                fig.add_trace(
                    go.Bar(
                        x=x,
                        y=c.groups[rate],
                        name=rate.replace("_", " "),
                        marker_color=colors[rate],
                        legendgroup=rate,
                        showlegend=i == 1,
                    ),
                    row=1,
                    col=i,
                )
            if not np.isnan(c.four_fifths.ratio):
                fig.add_hline(
                    y=c.four_fifths.threshold * c.four_fifths.highest_rate,
                    line_dash="dash",
                    line_color="red" if c.four_fifths.flagged else "grey",
                    annotation_text="four-fifths of the highest selection rate",
                    row=1,
                    col=i,
                )
        fig.update_layout(
            title=f"Rates by group (positive class {self.positive_label!r})",
            barmode="group",
            template="plotly_white",
            yaxis_range=[0, 1],
        )
        return fig


def fairness_report(
    model: Any,
    data: Any,
    *,
    target: str,
    sensitive: str | Sequence[str] | None = None,
    positive_label: Any = 1,
    threshold: float = FOUR_FIFTHS,
    min_rows: int = 30,
    bins: int = 4,
) -> FairnessReport:
    """Return the fairness metrics of a classifier's decisions across sensitive groups.

    ``sensitive`` defaults to the sensitive columns declared on the dataset version when
    ``data`` is one ("credit@2"), else on the model's training datasets (when present in
    the data). A multi-class model is judged one class against the rest: ``positive_label``
    is the favourable decision. A numeric sensitive column with many values (age) is cut
    into ``bins`` quantile bins, as :func:`segment_metrics` does. Groups under ``min_rows``
    rows are kept, with a note that their rates are noisy.
    """
    from fairlearn import metrics as flm

    explained = resolve_model(model)
    _require_classifier(explained.task, explained.source)
    manifest = _manifest(model, explained)
    columns, source, declared = _sensitive(sensitive, data, manifest)
    scored = score_data(explained, data, target=target, columns=columns, what="sensitive column")
    _require_classifier(scored.task, explained.source)
    pos = positive_class(scored, positive_label)
    y_true = (scored.y_true == pos).astype(int)
    y_pred = (scored.y_pred == pos).astype(int)

    results = {}
    for col in columns:
        labels, order, binned = segment_column(scored.frame[col], bins=bins)
        groups = labels.reset_index(drop=True)
        mf = flm.MetricFrame(
            metrics={
                "n": flm.count,
                "selection_rate": flm.selection_rate,
                "true_positive_rate": flm.true_positive_rate,
                "false_positive_rate": flm.false_positive_rate,
            },
            y_true=y_true,
            y_pred=y_pred,
            sensitive_features=groups,
        )
        table = mf.by_group.reindex([g for g in order if g in set(groups)])
        table["n"] = table["n"].astype(int)
        rule = _four_fifths(table["selection_rate"], threshold)
        results[col] = ColumnFairness(
            column=col,
            groups=table,
            demographic_parity_difference=float(
                flm.demographic_parity_difference(y_true, y_pred, sensitive_features=groups)
            ),
            demographic_parity_ratio=float(
                flm.demographic_parity_ratio(y_true, y_pred, sensitive_features=groups)
            ),
            equalized_odds_difference=float(
                flm.equalized_odds_difference(y_true, y_pred, sensitive_features=groups)
            ),
            equalized_odds_ratio=float(
                flm.equalized_odds_ratio(y_true, y_pred, sensitive_features=groups)
            ),
            four_fifths=rule,
            binned=binned,
            notes=_group_notes(table, y_true, groups, min_rows, binned),
        )
    used = set(manifest.uses_sensitive_columns if manifest else [])
    used |= {c for c in [*columns, *declared] if c in explained.features}
    notes = list(scored.notes)
    if len(scored.classes) > 2:
        notes.append(f"Multi-class model: class {pos!r} is compared against all the others.")
    return FairnessReport(
        model=explained.source,
        target=target,
        positive_label=plain(pos),
        rows=len(scored.frame),
        columns=results,
        uses_sensitive_features=sorted(used),
        sensitive_source=source,
        notes=notes,
    )


def _require_classifier(task: str, source: str) -> None:
    if task == "regression":
        raise InvalidInput(
            f"fairness_report compares the decisions of a classifier (selection rates, true "
            f"and false positive rates), but {source} is a regression model. Use "
            "segment_metrics(model, data, target=..., by=[...]) to compare its errors across "
            "groups, or turn its output into a decision (e.g. score > threshold) first."
        )


def _manifest(model: Any, explained: Explained) -> Manifest | None:
    if isinstance(model, LoadedModel):
        return model.manifest
    return explained.version.manifest if explained.version else None


def _sensitive(
    given: str | Sequence[str] | None, data: Any, manifest: Manifest | None
) -> tuple[list[str], str, list[str]]:
    """Return the columns to analyse, where they came from, and every declared sensitive one."""
    version: DatasetVersion | None = None
    if isinstance(data, DatasetVersion):
        version = data
    elif isinstance(data, str):
        name, _, number = data.partition("@")
        number = number.lstrip("v")
        if number not in ("", "latest") and not number.isdigit():
            raise InvalidInput(
                f"{data!r} does not name a dataset version: write 'name', 'name@3' or 'name@latest'."
            )
        version = get_dataset(name, int(number) if number.isdigit() else 0)
    declared = list(version.sensitive_columns) if version else []
    if version and declared:
        source = f"dataset {version.dataset!r} version {version.version}"
    else:
        source = "the model's training data"
        for ref in manifest.datasets if manifest else []:
            try:
                declared += get_dataset(ref.dataset, ref.version).sensitive_columns
            except NotFound:  # deleted since; its columns are then unknown
                continue
        if version is not None:
            present = {c.name for c in version.columns}
            declared = [c for c in declared if c in present]
        elif isinstance(data, pd.DataFrame):
            declared = [c for c in declared if c in data.columns]
    declared = list(dict.fromkeys(declared))
    if given is not None:
        columns = [given] if isinstance(given, str) else list(given)
        if not columns:
            raise InvalidInput("'sensitive' lists no columns; name at least one, or leave it out.")
        return columns, "the 'sensitive' argument", declared
    if declared:
        return declared, source, declared
    where = f"Dataset {version.dataset!r} version {version.version}" if version else "This data"
    name = version.dataset if version else "name"
    hint = ""
    if version and version.profile.get("suggested_sensitive"):
        hint = f" Columns that look sensitive: {', '.join(version.profile['suggested_sensitive'])}."
    raise InvalidInput(
        f"{where} declares no sensitive columns, so fairness_report does not know which groups "
        f"to compare. Pass sensitive=['sex', ...], or declare them with steward.register_dataset("
        f"df, {name!r}, sensitive_columns=['sex', ...]) and pass the data as {name!r}.{hint}"
    )


def _four_fifths(rates: pd.Series, threshold: float) -> FourFifths:
    values = rates.to_numpy(dtype=float)
    low, high = int(np.argmin(values)), int(np.argmax(values))
    ratio = values[low] / values[high] if values[high] > 0 else np.nan
    return FourFifths(
        ratio=float(ratio),
        flagged=bool(ratio < threshold),
        lowest=plain(rates.index[low]),
        highest=plain(rates.index[high]),
        lowest_rate=float(values[low]),
        highest_rate=float(values[high]),
        threshold=threshold,
    )


def _group_notes(
    table: pd.DataFrame, y_true: np.ndarray, groups: pd.Series, min_rows: int, binned: list[str]
) -> list[str]:
    notes = [f"Numeric column cut into {len(binned)} quantile bins."] if binned else []
    positives = pd.Series(y_true).groupby(groups.to_numpy()).sum().to_dict()
    for group, row in table.iterrows():
        n, pos = int(row["n"]), int(positives[group])
        if n < min_rows:
            notes.append(f"Group {group!r} has only {n} rows: its rates are noisy.")
        if pos == 0 or pos == n:
            which = "positives" if pos == 0 else "negatives"
            rate = "true" if pos == 0 else "false"
            notes.append(
                f"Group {group!r} has no actual {which}: its {rate} positive rate is undefined "
                "(fairlearn counts it as 0), which sways the equalized odds numbers."
            )
    return notes
