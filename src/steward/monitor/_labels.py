"""Ground truth beside each served row, for KPIs: the join rule performance() uses."""

from __future__ import annotations

import pandas as pd

from steward.monitor._performance_labels import (
    Kind,
    LabelCounts,
    decode,
    join_labels,
    kind_of,
)


def with_labels(
    served: pd.DataFrame, logged: pd.DataFrame, labels: pd.DataFrame
) -> tuple[pd.DataFrame, LabelCounts]:
    """Return the served rows with a ``label`` column (NA where none arrived) and what
    became of the labels given.

    ``served`` holds the rows that count (primary, answered); ``logged`` every logged
    request (to tell a label for an unknown request from one for a failed one). Labels
    are decoded and converted to the predictions' type, as performance() does.
    """
    if labels.empty or "label" not in labels.columns:
        return served.assign(label=pd.Series(pd.NA, index=served.index, dtype=object)), LabelCounts(
            given=len(labels), matched=0
        )
    logged_ids = {str(i) for i in logged["request_id"].dropna()}
    scored = served.assign(request_id=served["request_id"].astype(str))
    values, _, counts = join_labels(scored, logged_ids, labels, _kind(served), None)
    return served.assign(label=values), counts


def _kind(served: pd.DataFrame) -> Kind:
    if "output.prediction" not in served.columns:
        return "str"
    try:
        return kind_of([decode(v) for v in served["output.prediction"].dropna()])
    except ValueError:  # mixed kinds of predictions: compare labels as text
        return "str"
