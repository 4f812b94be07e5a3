"""What-if analysis: vary features of one row and watch the prediction; find the flip point.

:func:`what_if` predicts the row with each requested variation (a sweep of one feature,
or the cartesian product of several); :func:`smallest_flip` finds the smallest change of
one feature that changes a classifier's decision, searching the range (or the categories)
the model saw in training.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from steward.errors import InvalidInput, did_you_mean
from steward.explain._inputs import Explained, require_column, resolve_data, resolve_model
from steward.explain._pdp import with_feature_names
from steward.registry import ColumnSpec, LoadedModel, load_model

MAX_COMBINATIONS = 1000
MAX_STEPS = 100
BISECTIONS = 100  # a float bisection reaches the tolerance far sooner; this only bounds it
RESULT_COLUMNS = ("prediction", "score", "delta", "prediction_changed")


@dataclass
class Flip:
    """A value of the feature that changes the decision, and what the model then says."""

    value: Any
    new_class: Any
    probability: float | None  # P(new_class) at ``value``, when the model gives probabilities
    probability_change: float | None  # change of P(original class) from the original row
    change: float | None = None  # value - original value (numeric features)
    keeps: Any = None  # nearest value found that keeps the decision (numeric features)


@dataclass
class FlipResult:
    """The smallest change of one feature that flips a classifier's decision, or None found."""

    feature: str
    kind: Literal["numeric", "categorical"]
    original_value: Any
    original_class: Any
    original_probability: float | None
    flip: Flip | None  # the nearest flip (numeric) or the strongest one (categorical)
    searched: str  # what was searched, in words
    flips: list[Flip] = field(default_factory=list)  # every flip found, best first

    @property
    def message(self) -> str:
        """Return one sentence saying what flips the decision, or that nothing in range does."""
        if self.flip is None and self.kind == "categorical":
            return (
                f"Setting {self.feature!r} to any of the {self.searched} leaves the prediction "
                f"at {self.original_class!r}."
            )
        if self.flip is None:
            return (
                f"No value of {self.feature!r} from {self.searched} changes the prediction "
                f"{self.original_class!r}."
            )
        flip = self.flip
        chance = (
            f" (P({flip.new_class}) = {flip.probability:.3g})"
            if flip.probability is not None
            else ""
        )
        if self.kind == "numeric":
            assert flip.change is not None
            how = (
                f"Changing {self.feature!r} from {_show(self.original_value)} to "
                f"{_show(flip.value)} ({flip.change:+.6g})"
            )
        else:
            how = f"Setting {self.feature!r} to {flip.value!r} instead of {self.original_value!r}"
        more = (
            f" {len(self.flips)} of the {self.searched} flip it."
            if self.kind == "categorical"
            else ""
        )
        return (
            f"{how} flips the prediction from {self.original_class!r} to "
            f"{flip.new_class!r}{chance}.{more}"
        )


class _Model:
    """A model with the row checks and predictions what-if needs."""

    def __init__(self, model: Any) -> None:
        if isinstance(model, str):
            model = load_model(model)
        self.loaded = model if isinstance(model, LoadedModel) else None
        self.explained: Explained = with_feature_names(resolve_model(model))
        estimator = self.explained.estimator
        self.classes: list[Any] = [
            c.item() if hasattr(c, "item") else c for c in getattr(estimator, "classes_", [])
        ] or list(self.explained.classes or [])
        self.has_proba = self.explained.task == "classification" and hasattr(
            estimator, "predict_proba"
        )

    def spec(self, name: str) -> ColumnSpec | None:
        signature = self.explained.signature
        return signature.column(name) if signature is not None else None

    def row(self, row: Any) -> pd.DataFrame:
        """Return the row as the one-row frame of model inputs, or raise InvalidInput."""
        if isinstance(row, pd.Series):
            row = row.to_dict()
        if isinstance(row, Mapping):
            bad = [k for k, v in row.items() if not (np.isscalar(v) or v is None)]
            if bad:
                raise InvalidInput(
                    f"A row holds one value a column; {bad[0]!r} holds {row[bad[0]]!r}. To try "
                    "several values, pass them as changes."
                )
            frame = pd.DataFrame([dict(row)])
        elif isinstance(row, pd.DataFrame):
            frame = row
        else:
            raise InvalidInput(
                f"A row is a dict of column values or a one-row DataFrame; got {type(row).__name__}."
            )
        if len(frame) != 1:
            raise InvalidInput(
                f"What-if works on one row; got {len(frame)}. Pick one, e.g. df.iloc[[0]]."
            )
        missing = [f for f in self.explained.features if f not in frame.columns]
        if missing:
            raise InvalidInput(
                f"The row lacks the model's input(s) {', '.join(map(repr, missing))}."
                f"{did_you_mean(missing[0], map(str, frame.columns))} Give a value for each of: "
                f"{', '.join(self.explained.features)}."
            )
        return self.inputs(frame.reset_index(drop=True))

    def inputs(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Return the model's input columns of ``frame``, checked against the signature."""
        if self.loaded is not None and self.loaded.signature is not None:
            return self.loaded.validate(frame)
        return frame[self.explained.features] if self.explained.features else frame

    def feature(self, base: pd.DataFrame, name: str) -> str:
        if name not in base.columns:
            raise InvalidInput(
                f"{name!r} is not an input of the model.{did_you_mean(name, map(str, base.columns))}"
                f" Its inputs are: {', '.join(map(str, base.columns))}."
            )
        return name

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.explained.estimator.predict(frame))

    def proba(self, frame: pd.DataFrame) -> np.ndarray | None:
        if not self.has_proba:
            return None
        return np.asarray(self.explained.estimator.predict_proba(frame), dtype=float)

    def p(self, proba: np.ndarray | None, i: int, cls: Any) -> float | None:
        if proba is None or cls not in self.classes:
            return None
        return float(proba[i, self.classes.index(cls)])


def what_if(
    model: Any,
    row: Any,
    changes: Mapping[str, Any],
    *,
    max_combinations: int = MAX_COMBINATIONS,
) -> pd.DataFrame:
    """Return the row and each variation of it with the model's prediction, score and change.

    ``changes`` maps a feature to a value or a list of values. One feature gives a sweep;
    several give every combination (at most ``max_combinations``). The first row of the
    result is the original. Columns: the model's inputs, ``prediction``, ``score`` (for a
    classifier P(positive class) when binary, else P(the original row's class); for a
    regressor the prediction), ``delta`` (score minus the original's) and
    ``prediction_changed``. ``frame.attrs`` says what the score is and which features vary.
    """
    m = _Model(model)
    base = m.row(row)
    names = [m.feature(base, str(name)) for name in changes]
    values = [_values(name, changes[name]) for name in names]
    count = math.prod(len(v) for v in values)
    if count > max_combinations:
        sizes = ", ".join(f"{len(v)} values of {n}" for n, v in zip(names, values, strict=True))
        raise InvalidInput(
            f"The changes make {count:,} combinations ({sizes}); the limit is "
            f"{max_combinations:,}. Give fewer values, vary fewer features at once, or raise "
            "max_combinations."
        )
    original = base.iloc[0].to_dict()
    combos = itertools.product(*values) if names else iter(())  # no changes: the row alone
    records = [original] + [{**original, **dict(zip(names, c, strict=True))} for c in combos]
    frame = m.inputs(pd.DataFrame(records, columns=base.columns))
    predictions = m.predict(frame)
    score, label = _scores(m, frame, predictions)
    out = frame.copy()
    result = {
        column: _free(column, out.columns) for column in RESULT_COLUMNS
    }  # a feature may be called "score"
    out[result["prediction"]] = predictions
    out[result["score"]] = score
    out[result["delta"]] = score - score[0]
    out[result["prediction_changed"]] = predictions != predictions[0]
    out.attrs.update(
        score=label,
        varied=names,
        columns=result,
        model=m.explained.version.uri if m.explained.version else m.explained.source,
    )
    return out


def smallest_flip(
    model: Any,
    row: Any,
    feature: str,
    *,
    data: Any = None,
    max_steps: int = MAX_STEPS,
    tolerance: float | None = None,
) -> FlipResult:
    """Return the smallest change of one feature that changes a classifier's predicted class.

    A numeric feature is searched both ways over the range seen in training (the model's
    signature; else the range in ``data``) on ``max_steps`` points each way, then refined by
    bisection to within ``tolerance`` (default a millionth of the range; integers exactly).
    A categorical one is set to each category seen in training (or in ``data``); the flip
    reported is the one that moves P(original class) the most. ``flip`` is None, with
    ``message`` saying so, when nothing in range changes the decision.
    """
    m = _Model(model)
    if m.explained.task != "classification":
        raise InvalidInput(
            f"smallest_flip looks for the change that alters a classifier's predicted class, "
            f"and this model is a {m.explained.task} model "
            f"({type(m.explained.estimator).__name__}), with no class to flip. Use what_if to "
            "see how its prediction moves."
        )
    if max_steps < 1:
        raise InvalidInput(f"The 'max_steps' must be at least 1; got {max_steps}.")
    base = m.row(row)
    feature = m.feature(base, feature)
    frame = None
    if data is not None:
        frame = resolve_data(data)
        require_column(frame, feature, "feature")
    spec = m.spec(feature)
    kind = _kind(spec, frame[feature] if frame is not None else base[feature], feature)
    if kind == "numeric":
        return _numeric_flip(m, base, feature, spec, frame, max_steps, tolerance)
    return _categorical_flip(m, base, feature, spec, frame)


def _numeric_flip(
    m: _Model,
    base: pd.DataFrame,
    feature: str,
    spec: ColumnSpec | None,
    frame: pd.DataFrame | None,
    max_steps: int,
    tolerance: float | None,
) -> FlipResult:
    if spec is not None and spec.min is not None and spec.max is not None:
        low, high, where = spec.min, spec.max, "the range seen in training"
    elif frame is not None and frame[feature].notna().any():
        low, high = float(frame[feature].min()), float(frame[feature].max())
        where = "the range in the data"
    else:
        raise InvalidInput(
            f"The model records no range for {feature!r}: pass data= (a DataFrame or a dataset "
            "name) to search over the values it holds."
        )
    x0 = base[feature].iloc[0]
    if x0 is None or x0 != x0:
        raise InvalidInput(f"The row's {feature!r} is missing; give it a value to move from.")
    x0 = float(x0)
    integer = (spec.kind == "integer") if spec is not None else _is_int(base[feature])
    original = m.predict(base)[0]
    p0 = m.p(m.proba(base), 0, original)
    tol = tolerance if tolerance is not None else max((high - low) * 1e-6, 1e-12)
    flips = []
    for end, way in ((high, 1), (low, -1)):
        if (end - x0) * way <= 0:  # the row is at or beyond that end of the range
            continue
        flip = _search(m, base, feature, x0, end, original, p0, integer, max_steps, tol)
        if flip is not None:
            flips.append(flip)
    flips.sort(key=lambda f: abs(f.change or 0.0))
    return FlipResult(
        feature=feature,
        kind="numeric",
        original_value=_plain(base[feature].iloc[0]),
        original_class=_plain(original),
        original_probability=p0,
        flip=flips[0] if flips else None,
        searched=f"{_show(low)} to {_show(high)} ({where})",
        flips=flips,
    )


def _search(
    m: _Model,
    base: pd.DataFrame,
    feature: str,
    x0: float,
    end: float,
    original: Any,
    p0: float | None,
    integer: bool,
    steps: int,
    tol: float,
) -> Flip | None:
    """Return the flip nearest ``x0`` on the way to ``end``: a grid scan, then bisection."""
    points = x0 + (end - x0) * np.arange(1, steps + 1) / steps
    if integer:
        points = np.unique(np.round(points))
        points = points[points != x0]
        points = points[np.argsort(np.abs(points - x0))]
    if not len(points):
        return None
    predicted = m.predict(_with(m, base, feature, points, integer))
    changed = np.flatnonzero(predicted != original)
    if not len(changed):
        return None
    first = int(changed[0])
    keep, flip = (x0 if first == 0 else float(points[first - 1])), float(points[first])
    for _ in range(BISECTIONS):
        if abs(flip - keep) <= (1 if integer else tol):
            break
        mid = (keep + flip) / 2
        if integer:
            mid = float(math.floor(mid) if flip > keep else math.ceil(mid))
        if m.predict(_with(m, base, feature, np.array([mid]), integer))[0] != original:
            flip = mid
        else:
            keep = mid
    at = _with(m, base, feature, np.array([flip]), integer)
    new_class = _plain(m.predict(at)[0])
    proba = m.proba(at)
    p_new, p_orig = m.p(proba, 0, new_class), m.p(proba, 0, original)
    value: Any = int(flip) if integer else flip
    return Flip(
        value=value,
        new_class=new_class,
        probability=p_new,
        probability_change=None if p_orig is None or p0 is None else p_orig - p0,
        change=flip - x0,
        keeps=int(keep) if integer and keep == int(keep) else keep,
    )


def _categorical_flip(
    m: _Model,
    base: pd.DataFrame,
    feature: str,
    spec: ColumnSpec | None,
    frame: pd.DataFrame | None,
) -> FlipResult:
    current = _plain(base[feature].iloc[0])
    if spec is not None and spec.kind == "boolean":
        categories: list[Any] = [False, True]
        where = "categories seen in training"
    elif spec is not None and spec.categories:
        categories, where = list(spec.categories), "categories seen in training"
    elif frame is not None:
        categories = sorted(frame[feature].dropna().unique().tolist(), key=str)
        where = "categories in the data"
    else:
        raise InvalidInput(
            f"The model records no categories for {feature!r}: pass data= (a DataFrame or a "
            "dataset name) to try the values it holds."
        )
    others = [c for c in categories if str(c) != str(current)]
    searched = f"{len(others)} other {where}"
    original = m.predict(base)[0]
    p0 = m.p(m.proba(base), 0, original)
    flips: list[Flip] = []
    if others:
        varied = m.inputs(
            pd.concat([base] * len(others), ignore_index=True).assign(**{feature: others})
        )
        predicted = m.predict(varied)
        proba = m.proba(varied)
        for i, value in enumerate(others):
            if predicted[i] == original:
                continue
            new_class = _plain(predicted[i])
            p_orig = m.p(proba, i, original)
            flips.append(
                Flip(
                    value=value,
                    new_class=new_class,
                    probability=m.p(proba, i, new_class),
                    probability_change=None if p_orig is None or p0 is None else p_orig - p0,
                )
            )
    flips.sort(key=lambda f: f.probability_change if f.probability_change is not None else 0.0)
    return FlipResult(
        feature=feature,
        kind="categorical",
        original_value=current,
        original_class=_plain(original),
        original_probability=p0,
        flip=flips[0] if flips else None,
        searched=searched,
        flips=flips,
    )


def _with(
    m: _Model, base: pd.DataFrame, feature: str, values: np.ndarray, integer: bool
) -> pd.DataFrame:
    """Return ``base`` repeated with ``feature`` set to each of ``values``."""
    column = values.astype(np.int64) if integer else values.astype(float)
    return m.inputs(pd.concat([base] * len(values), ignore_index=True).assign(**{feature: column}))


def _values(name: str, value: Any) -> list[Any]:
    if isinstance(value, list | tuple | range | np.ndarray | pd.Series | pd.Index):
        values = [_plain(v) for v in value]
    elif isinstance(value, set | frozenset):
        values = sorted(value, key=str)
    else:
        values = [value]
    if not values:
        raise InvalidInput(f"The change of {name!r} lists no values; give at least one.")
    return values


def _scores(m: _Model, frame: pd.DataFrame, predictions: np.ndarray) -> tuple[np.ndarray, str]:
    """Return the score of each row and what it is (``P(yes)``, ``prediction``)."""
    first = predictions[0]
    proba = m.proba(frame)
    if proba is not None and m.classes:
        target = m.classes[1] if len(m.classes) == 2 else _plain(first)
        return proba[:, m.classes.index(target)], f"P({target})"
    decision = getattr(m.explained.estimator, "decision_function", None)
    if m.explained.task == "classification" and len(m.classes) == 2 and callable(decision):
        return np.asarray(decision(frame), dtype=float), f"decision({m.classes[1]})"
    if m.explained.task == "classification" or not np.issubdtype(predictions.dtype, np.number):
        return (predictions == first).astype(float), f"predicted {_plain(first)!r}"
    return predictions.astype(float), "prediction"


def _kind(spec: ColumnSpec | None, column: pd.Series, feature: str) -> str:
    if spec is not None:
        if spec.kind in {"numeric", "integer"}:
            return "numeric"
        if spec.kind in {"categorical", "boolean"}:
            return "categorical"
        raise InvalidInput(
            f"{feature!r} is a {spec.kind} column; smallest_flip searches numeric and "
            "categorical features."
        )
    numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
    return "numeric" if numeric else "categorical"


def _is_int(column: pd.Series) -> bool:
    return bool(pd.api.types.is_integer_dtype(column))


def _free(name: str, taken: Any) -> str:
    while name in taken:
        name = f"model_{name}"
    return name


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _show(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)
