"""A classifier's classes: given or inferred from the log, matched to probability columns.

Shared by performance with labels and by estimation without them, so both read classes,
the positive class and class-valued inputs the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from steward.errors import InvalidInput
from steward.monitor._performance_labels import Kind, Label, Refused, coerce, decode, kind_of


def class_list(given: Sequence[Any]) -> tuple[list[Label], Kind]:
    """Return the classes as plain Python values of one kind, and that kind."""
    values = [decode(c) if isinstance(c, np.generic) else c for c in given]
    try:
        kind = kind_of(values)
    except ValueError:
        raise InvalidInput(
            f"classes must all be text, all numbers or all true/false; got {list(given)}."
        ) from None
    return _checked([coerce(c, kind) for c in values]), kind


def infer_classes(
    outputs: Iterable[Any], proba_names: Sequence[str], labels: Iterable[Any]
) -> tuple[list[Label], Kind]:
    """Return the classes a log shows: its probability columns', else predictions and labels."""
    predicted = [decode(v) for v in outputs]
    try:
        kind = kind_of(predicted)
    except ValueError:
        raise InvalidInput(
            "The predictions mix text and numbers; pass classes= to say what they are."
        ) from None
    if proba_names:
        found = [_column_value(name, kind) for name in proba_names]
        if any(isinstance(c, Refused) for c in found):
            raise InvalidInput(
                f"The probability columns name classes {sorted(proba_names)} that are not of "
                f"the predictions' kind ({kind}); pass classes= explicitly."
            )
    else:
        seen = [coerce(decode(v), kind) for v in labels]
        found = list({*predicted, *(v for v in seen if not isinstance(v, Refused))})
    return _checked(sorted(found)), kind  # type: ignore[type-var]


def column_class(name: str, classes: list[Label]) -> Label | None:
    """Return the class a probability column's suffix names ('1', 'yes', 'True'), or None."""
    for c in classes:
        if name == str(c):
            return c
    value = _column_value(name, kind_of(classes))
    return value if not isinstance(value, Refused) and value in classes else None


def positive_index(positive: Any, classes: list[Label]) -> int | None:
    """Return the positive class's index for a binary model (default: the second class)."""
    if len(classes) != 2:
        if positive is not None:
            raise InvalidInput(
                f"positive={positive!r} applies to binary models; this one has {len(classes)} "
                "classes and is scored by macro averages. Drop positive."
            )
        return None
    if positive is None:
        return 1
    value = coerce(
        decode(positive) if isinstance(positive, np.generic) else positive, kind_of(classes)
    )
    if isinstance(value, Refused) or value not in classes:
        raise InvalidInput(f"positive must be one of the classes {classes}; got {positive!r}.")
    return classes.index(value)


def indices(values: Any, classes: list[Label], what: str) -> NDArray[np.int64]:
    """Return the class index of each value, refusing any that is not one of the classes."""
    kind = kind_of(classes)
    index = {c: i for i, c in enumerate(classes)}
    items = values.tolist() if isinstance(values, np.ndarray | pd.Series) else list(values)
    out = np.full(len(items), -1, dtype=np.int64)
    bad: list[Any] = []
    for i, v in enumerate(items):
        c = coerce(decode(v), kind)
        if isinstance(c, Refused) or c not in index:
            bad.append(v)
        else:
            out[i] = index[c]
    if bad:
        raise InvalidInput(
            f"{len(bad)} of the {what} are not among the classes {classes}: e.g. {bad[:3]}. "
            "Give values of the model's classes, or pass the classes it has."
        )
    return out


def _column_value(name: str, kind: Kind) -> Label | Refused:
    if kind == "bool" and name in ("True", "False"):
        return name == "True"  # str(True), as the prediction log names the column
    return coerce(decode(name), kind)


def _checked(found: list[Label | Refused]) -> list[Label]:
    out = [c for c in found if not isinstance(c, Refused)]
    if len(out) < 2 or len(out) != len(found) or len(set(out)) != len(out):
        raise InvalidInput(
            f"A classifier needs two or more distinct classes; got {found}. Pass classes= with "
            "every class the model can predict."
        )
    return out
