"""Figures of Shapley values: global importance, the beeswarm summary, one prediction's waterfall."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from steward.explain._shapley import PredictionExplanation, ShapExplanation


def importance_figure(importance: pd.DataFrame | ShapExplanation, *, top: int = 20) -> Any:
    """Return a Plotly bar chart of mean |SHAP| per feature (a ``plotly.graph_objects.Figure``)."""
    import plotly.graph_objects as go

    table = importance.importance() if isinstance(importance, ShapExplanation) else importance
    table = table.head(top).iloc[::-1]
    figure = go.Figure(go.Bar(x=table["mean_abs_shap"], y=table["feature"], orientation="h"))
    output = table.attrs.get("settings", {}).get("output", "model output")
    figure.update_layout(
        title="Feature importance (mean |SHAP value|)", xaxis_title=f"mean |SHAP| on the {output}"
    )
    return figure


def summary_figure(explanation: ShapExplanation, *, top: int = 15, seed: int = 0) -> Any:
    """Return a Plotly beeswarm-like summary: each row's SHAP value per feature, coloured by the value."""
    import plotly.graph_objects as go

    features = list(explanation.importance()["feature"].head(top))[::-1]
    rng = np.random.default_rng(seed)
    xs, ys, colours, texts = [], [], [], []
    for position, feature in enumerate(features):
        column = explanation.data[feature]
        ranked = (
            column.rank(pct=True)
            if pd.api.types.is_numeric_dtype(column)
            else column.astype("category").cat.codes.rank(pct=True)
        )
        xs.append(explanation.values[feature].to_numpy())
        ys.append(position + rng.uniform(-0.3, 0.3, len(column)))
        colours.append(ranked.fillna(0.5).to_numpy())
        texts.append([f"{feature} = {v}" for v in column])
    figure = go.Figure(
        go.Scattergl(
            x=np.concatenate(xs),
            y=np.concatenate(ys),
            mode="markers",
            text=[t for part in texts for t in part],
            marker={
                "color": np.concatenate(colours),
                "colorscale": "RdBu_r",
                "size": 5,
                "opacity": 0.7,
                "colorbar": {
                    "title": "feature value",
                    "tickvals": [0, 1],
                    "ticktext": ["low", "high"],
                },
            },
        )
    )
    figure.update_layout(
        title=f"SHAP values ({explanation.settings.output})",
        xaxis_title="SHAP value",
        yaxis={"tickvals": list(range(len(features))), "ticktext": features},
    )
    return figure


def prediction_figure(explanation: PredictionExplanation, *, top: int = 10) -> Any:
    """Return a Plotly waterfall from the base value to one prediction's output."""
    import plotly.graph_objects as go

    shown = explanation.contributions.head(top)
    rest = float(explanation.contributions["contribution"].iloc[top:].sum())
    labels = [f"{f} = {v}" for f, v in zip(shown["feature"], shown["value"], strict=True)]
    steps = list(shown["contribution"])
    if len(explanation.contributions) > top:
        labels, steps = (
            [*labels, f"{len(explanation.contributions) - top} other features"],
            [*steps, rest],
        )
    figure = go.Figure(
        go.Waterfall(
            orientation="h",
            y=["base value", *labels, "output"],
            x=[explanation.base_value, *steps, explanation.output],
            measure=["absolute"] + ["relative"] * len(steps) + ["total"],
        )
    )
    figure.update_layout(title=f"Why {explanation.settings.output} = {explanation.output:.4g}")
    return figure
