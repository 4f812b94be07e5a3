"""Models shared by the registry tests: a Pipeline with numeric and categorical columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


@pytest.fixture(scope="session")
def churn_data() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    n = 400
    X = pd.DataFrame(
        {
            "tenure": rng.integers(0, 72, n),
            "monthly": rng.normal(70, 20, n).round(2),
            "plan": rng.choice(["basic", "plus", "pro"], n),
            "paperless": rng.choice([True, False], n),
        }
    )
    logit = -0.04 * X["tenure"] + 0.03 * X["monthly"] + (X["plan"] == "basic") * 0.8 - 1.5
    y = pd.Series((rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int), name="churn")
    return X, y


@pytest.fixture(scope="session")
def churn_pipeline(churn_data: tuple[pd.DataFrame, pd.Series]) -> Pipeline:
    X, y = churn_data
    features = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), ["plan"]),
        (StandardScaler(), ["tenure", "monthly"]),
        remainder="passthrough",
    )
    return make_pipeline(features, LogisticRegression(max_iter=500)).fit(X, y)
