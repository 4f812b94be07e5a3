"""Partial dependence and ICE curves of any model on a table, by scikit-learn's inspection module.

:func:`partial_dependence` resolves the model and the data, samples the rows, and calls
:func:`sklearn.inspection.partial_dependence` by brute force on the model's feature
columns: the curve is then the average of the ICE lines and, for a classifier, a
probability. The result holds the numbers, a long table (``to_frame``) and a Plotly figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from steward.errors import InvalidInput, did_you_mean
from steward.explain._inputs import Explained, require_column, resolve_data, resolve_model
from steward.registry import validate_frame

Kind = Literal["average", "individual", "both"]
KINDS = ("average", "individual", "both")
MAX_ICE_LINES = 100


@dataclass
class PartialDependence:
    """The partial dependence of a model's response on one or two features, with its settings.

    ``average`` has shape (outputs, len(grid[0])[, len(grid[1])]) and ``individual`` (the ICE
    lines, when asked) (outputs, rows, len(grid[0])), as scikit-learn returns them. A binary
    classifier has one output, P(positive class); a multi-class one an output per class
    unless a ``target_class`` was chosen; a regressor one output, its prediction.
    """

    features: tuple[str, ...]
    categorical: tuple[bool, ...]
    grid: list[np.ndarray] = field(repr=False)
    average: np.ndarray = field(repr=False)
    individual: np.ndarray | None = field(repr=False)
    outputs: list[str]
    kind: Kind
    model: str
    rows: int
    total_rows: int
    seed: int
    grid_resolution: int
    percentiles: tuple[float, float]
    row_index: pd.Index = field(repr=False)

    @property
    def sampled(self) -> bool:
        """Return whether the rows are a random sample of the data (more than ``max_rows``)."""
        return self.rows < self.total_rows

    @property
    def note(self) -> str:
        """Return one sentence on the rows the curves average over."""
        if self.sampled:
            return (
                f"Averaged over {self.rows:,} of {self.total_rows:,} rows, sampled at random "
                f"(seed {self.seed})."
            )
        return f"Averaged over all {self.rows:,} rows."

    def to_frame(self, individual: bool = False) -> pd.DataFrame:
        """Return the curves as a long table: one row per grid point (and output; and data row).

        Columns: the feature(s), ``output`` and ``average``; with ``individual=True`` the
        ICE lines instead, with ``row`` (the data row's index label) and ``individual``.
        """
        points = pd.MultiIndex.from_product(self.grid, names=list(self.features)).to_frame(
            index=False
        )
        parts = []
        for k, label in enumerate(self.outputs):
            if not individual:
                part = points.assign(output=label, average=self.average[k].ravel())
            else:
                if self.individual is None:
                    raise InvalidInput(
                        "These curves hold no ICE lines: compute them with kind='individual' "
                        "or kind='both'."
                    )
                values = self.individual[k].reshape(-1)  # row-major: rows, then grid points
                part = pd.DataFrame(
                    {
                        "row": np.repeat(np.asarray(self.row_index), len(points)),
                        **{
                            name: np.tile(points[name].to_numpy(), self.rows)
                            for name in self.features
                        },
                        "output": label,
                        "individual": values,
                    }
                )
            parts.append(part)
        return pd.concat(parts, ignore_index=True)

    def figure(self, *, output: Any = None, max_ice_lines: int = MAX_ICE_LINES) -> Any:
        """Return a Plotly figure: a line with thin ICE lines (numeric), bars (categorical), a heatmap (two features).

        ``output`` picks one class of a multi-class model (its label, e.g. ``"P(setosa)"``, or
        the class itself); ICE lines are drawn at most ``max_ice_lines`` (the data keeps all).
        """
        import plotly.graph_objects as go

        chosen = self._outputs(output)
        fig = go.Figure()
        title = f"Partial dependence of {_join(self.outputs[k] for k in chosen)} on "
        if len(self.features) == 2:
            if len(chosen) != 1:
                raise InvalidInput(
                    "A two-feature figure shows one output; choose it with figure(output=...) "
                    f"among {', '.join(map(repr, self.outputs))}."
                )
            fig.add_trace(
                go.Heatmap(
                    x=_axis(self.grid[1]),
                    y=_axis(self.grid[0]),
                    z=self.average[chosen[0]],
                    colorscale="Viridis",
                    colorbar={"title": {"text": self.outputs[chosen[0]]}},
                    hovertemplate=f"{self.features[1]}=%{{x}}<br>{self.features[0]}=%{{y}}"
                    f"<br>{self.outputs[chosen[0]]}=%{{z:.4g}}<extra></extra>",
                )
            )
            fig.update_layout(
                xaxis_title=self.features[1],
                yaxis_title=self.features[0],
                title=title + f"{self.features[0]} and {self.features[1]}",
            )
        else:
            x = _axis(self.grid[0])
            if self.individual is not None and len(chosen) == 1:
                shown = self._ice_rows(max_ice_lines)
                for i in shown:
                    fig.add_trace(
                        go.Scatter(
                            x=x,
                            y=self.individual[chosen[0], i],
                            mode="lines",
                            line={"width": 0.6, "color": "rgba(120,120,120,0.35)"},
                            name=f"row {self.row_index[i]}",
                            legendgroup="ice",
                            showlegend=bool(i == shown[0]),
                            hoverinfo="skip",
                        )
                    )
                if len(shown) < self.rows:
                    fig.add_annotation(
                        text=f"{len(shown)} of {self.rows} ICE lines drawn",
                        xref="paper",
                        yref="paper",
                        x=1,
                        y=1.06,
                        showarrow=False,
                        font={"size": 11},
                    )
            if self.kind != "individual":
                for k in chosen:
                    if self.categorical[0]:
                        fig.add_trace(go.Bar(x=x, y=self.average[k], name=self.outputs[k]))
                    else:
                        fig.add_trace(
                            go.Scatter(
                                x=x,
                                y=self.average[k],
                                mode="lines",
                                line={"width": 3},
                                name=f"average {self.outputs[k]}",
                            )
                        )
            fig.update_layout(
                xaxis_title=self.features[0],
                yaxis_title=_join(self.outputs[k] for k in chosen),
                title=title + self.features[0],
            )
            if self.categorical[0]:
                fig.update_xaxes(type="category")
        fig.update_layout(template="plotly_white", margin={"b": 100})
        fig.add_annotation(
            text=self.note, xref="paper", yref="paper", x=0, y=-0.22, showarrow=False
        )
        return fig

    def _outputs(self, output: Any) -> list[int]:
        if output is None:
            return list(range(len(self.outputs)))
        for k, label in enumerate(self.outputs):
            inner = label[label.find("(") + 1 : -1] if label.endswith(")") else label
            if output == label or str(output) == inner:
                return [k]
        raise InvalidInput(
            f"The output {output!r} is not one of these curves'."
            f"{did_you_mean(str(output), self.outputs)} Outputs are: "
            f"{', '.join(map(repr, self.outputs))}."
        )

    def _ice_rows(self, limit: int) -> list[int]:
        if self.rows <= limit:
            return list(range(self.rows))
        picked = np.random.default_rng(self.seed).choice(self.rows, size=limit, replace=False)
        return sorted(int(i) for i in picked)


def partial_dependence(
    model: Any,
    data: Any,
    features: str | Sequence[str],
    *,
    kind: Kind = "average",
    grid_resolution: int = 50,
    percentiles: tuple[float, float] = (0.05, 0.95),
    max_rows: int = 2000,
    seed: int = 0,
    target_class: Any = None,
) -> PartialDependence:
    """Return the partial dependence (and ICE lines) of the model's response on one or two features.

    ``model`` is a URI (``models:/churn@champion``), a loaded model or a fitted estimator;
    ``data`` a DataFrame or a dataset name (``"churn"``, ``"churn@2"``); ``features`` a
    column, or a pair of columns for a two-way dependence. Text, categorical and boolean
    columns are varied over their categories, numeric ones over ``grid_resolution`` points
    between the ``percentiles`` (integers are varied as floats). A classifier's response is
    P(positive class) when binary and one probability per class when multi-class, or only
    that of ``target_class``. Above ``max_rows`` rows, a random sample (``seed``) is used.
    """
    from sklearn.inspection import partial_dependence as sk_partial_dependence

    if kind not in KINDS:
        raise InvalidInput(f"The 'kind' must be one of {', '.join(KINDS)}; got {kind!r}.")
    if max_rows < 1:
        raise InvalidInput(f"The 'max_rows' must be at least 1; got {max_rows}.")
    names = _features(features)
    if len(names) == 2 and kind != "average":
        raise InvalidInput(
            "ICE lines are drawn for one feature; a two-feature dependence is averaged only. "
            "Use kind='average', or one feature."
        )
    explained = with_feature_names(resolve_model(model))
    frame = resolve_data(data, explained)
    for name in names:
        require_column(frame, name, "feature")
        if name not in explained.features:
            raise InvalidInput(
                f"The feature {name!r} is in the data but is not an input of the model."
                f"{did_you_mean(name, explained.features)} Its inputs are: "
                f"{', '.join(explained.features)}."
            )
    total = len(frame)
    if total == 0:
        raise InvalidInput("The data has no rows: partial dependence averages over rows.")
    if total > max_rows:
        frame = frame.sample(n=max_rows, random_state=seed)
    X = _model_inputs(explained, frame)
    categorical = tuple(_is_categorical(explained, X[name]) for name in names)
    X = X.astype(
        {n: float for n, c in zip(names, categorical, strict=True) if not c and _int(X[n])}
    )
    try:
        result = sk_partial_dependence(
            explained.estimator,
            X,
            list(names),
            categorical_features=[n for n, c in zip(names, categorical, strict=True) if c] or None,
            percentiles=percentiles,
            grid_resolution=grid_resolution,
            method="brute",
            kind="average" if kind == "average" else "both",
        )
    except (ValueError, TypeError) as exc:
        raise InvalidInput(
            f"scikit-learn could not compute the partial dependence on {_join(names)} for this "
            f"{type(explained.estimator).__name__}: {exc}"
        ) from exc
    average = np.asarray(result["average"])
    individual = np.asarray(result["individual"]) if kind != "average" else None
    outputs, select = _outputs(explained, average.shape[0], target_class)
    if select is not None:
        index, how = select
        average = _pick(average, index, how)
        individual = None if individual is None else _pick(individual, index, how)
    return PartialDependence(
        features=names,
        categorical=categorical,
        grid=[np.asarray(g) for g in result["grid_values"]],
        average=average,
        individual=individual,
        outputs=outputs,
        kind=kind,
        model=explained.version.uri if explained.version else explained.source,
        rows=len(X),
        total_rows=total,
        seed=seed,
        grid_resolution=grid_resolution,
        percentiles=percentiles,
        row_index=frame.index,
    )


def with_feature_names(explained: Explained) -> Explained:
    """Return ``explained`` with its features taken from the estimator when it has no signature."""
    if not explained.features:
        names = getattr(explained.estimator, "feature_names_in_", None)
        explained.features = [str(c) for c in names] if names is not None else []
    return explained


def _model_inputs(explained: Explained, frame: pd.DataFrame) -> pd.DataFrame:
    """Return the model's feature columns of ``frame``, typed as its signature says when it has one."""
    if explained.signature is not None:
        return validate_frame(frame, explained.signature, unseen="ignore", nulls="ignore")
    return frame[explained.features]


def _features(features: str | Sequence[str]) -> tuple[str, ...]:
    names = (features,) if isinstance(features, str) else tuple(features)
    if not 1 <= len(names) <= 2 or not all(isinstance(n, str) for n in names):
        raise InvalidInput(
            "Partial dependence is on one feature ('age') or a pair of features "
            f"(('age', 'income')); got {features!r}."
        )
    if len(names) == 2 and names[0] == names[1]:
        raise InvalidInput(f"A two-way dependence needs two different features; got {names!r}.")
    return names


def _is_categorical(explained: Explained, column: pd.Series) -> bool:
    spec = explained.signature.column(str(column.name)) if explained.signature else None
    if spec is not None:
        return spec.kind in {"categorical", "boolean", "text"}
    return bool(pd.api.types.is_bool_dtype(column) or not pd.api.types.is_numeric_dtype(column))


def _int(column: pd.Series) -> bool:
    return bool(pd.api.types.is_integer_dtype(column))


def _outputs(
    explained: Explained, count: int, target_class: Any
) -> tuple[list[str], tuple[int, str] | None]:
    """Return the output labels and, for a chosen class, (its output, how to derive it)."""
    estimator = explained.estimator
    if explained.task != "classification":
        if target_class is not None:
            raise InvalidInput(
                f"'target_class' applies to classifiers; this {type(estimator).__name__} is not one."
            )
        return (["prediction"] if count == 1 else [f"output {k}" for k in range(count)]), None
    classes = [c.item() if hasattr(c, "item") else c for c in getattr(estimator, "classes_", [])]
    classes = classes or list(explained.classes or [])
    proba = hasattr(estimator, "predict_proba")

    def label(c: Any) -> str:
        return f"P({c})" if proba else f"decision({c})"

    if target_class is None:
        return ([label(classes[1])] if count == 1 else [label(c) for c in classes]), None
    if target_class not in classes:
        raise InvalidInput(
            f"The 'target_class' {target_class!r} is not a class of the model."
            f"{did_you_mean(str(target_class), map(str, classes))} Classes are: "
            f"{', '.join(map(repr, classes))}."
        )
    index = classes.index(target_class)
    if count == 1:  # binary: scikit-learn gives the response of classes[1]
        how = "keep" if index == 1 else "complement" if proba else "negate"
        return [label(target_class)], (0, how)
    return [label(target_class)], (index, "keep")


def _pick(values: np.ndarray, index: int, how: str) -> np.ndarray:
    chosen = values[index : index + 1]
    if how == "complement":  # P(classes[0]) = 1 - P(classes[1])
        return 1.0 - chosen
    if how == "negate":  # decision(classes[0]) = -decision(classes[1])
        return -chosen
    return chosen


def _axis(values: np.ndarray) -> list[Any]:
    return [v.item() if hasattr(v, "item") else v for v in values]


def _join(names: Any) -> str:
    return " and ".join(map(str, names))
