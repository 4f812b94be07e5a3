"""The multivariate check: can a classifier tell the current rows from the reference rows?

Each feature's test looks at one column; a shift in how columns move together (the same
marginals, another correlation) passes them all. A domain classifier sees the joint
distribution: scikit-learn's histogram gradient boosting learns to separate a sample of
reference rows from a sample of current rows, and its cross-validated ROC AUC says how
well it can (0.5: not at all). Permutation importance on the held-out folds names the
features it separates by.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from scipy import stats

MIN_ROWS = 50


class DomainConfig(BaseModel):
    """When the domain classifier says the data drifted, and how much work it may do."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    threshold: float = Field(default=0.55, ge=0.5, le=1, description="drift at this ROC AUC")
    alpha: float = Field(default=0.05, gt=0, lt=1, description="and this p-value")
    folds: int = Field(default=3, ge=2, le=10)
    max_iter: int = Field(default=50, ge=1, description="boosting rounds")
    drivers: int = Field(default=5, ge=0, description="features to name as driving the AUC")
    min_drop: float = Field(
        default=0.01, ge=0, description="a driver loses the AUC at least this much shuffled"
    )


class Driver(BaseModel):
    """A feature the classifier separates by: the AUC lost when it is shuffled."""

    feature: str
    auc_drop: float


class DomainCheck(BaseModel):
    """The domain classifier's verdict: cross-validated ROC AUC, its p-value, its drivers."""

    auc: float | None = None
    p_value: float | None = None
    threshold: float
    drifted: bool = False
    reference_rows: int = 0
    current_rows: int = 0
    drivers: list[Driver] = Field(default_factory=list)
    note: str = ""


def domain_check(
    reference: pd.DataFrame | None,
    current: pd.DataFrame | None,
    features: list[str],
    config: DomainConfig,
    *,
    seed: int = 0,
) -> DomainCheck:
    """Return how well a classifier separates reference rows from current rows."""
    check = DomainCheck(threshold=config.threshold)
    if reference is None or current is None:
        check.note = "no row sample on one side (the profile was built with sample_rows=0)"
        return check
    features = [f for f in features if f in reference.columns and f in current.columns]
    check.reference_rows, check.current_rows = len(reference), len(current)
    if min(len(reference), len(current)) < MIN_ROWS or not features:
        check.note = f"needs at least {MIN_ROWS} sampled rows a side and a shared feature"
        return check
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.inspection import permutation_importance
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    x, categorical = _encode(reference[features], current[features])
    y = np.r_[np.zeros(len(reference)), np.ones(len(current))]
    scores = np.zeros(len(y))
    drops = np.zeros(len(features))
    folds = StratifiedKFold(n_splits=config.folds, shuffle=True, random_state=seed)
    # One thread: on a few thousand rows OpenMP's start-up and spinning cost more than the
    # work, and on a busy machine a spinning team slows the whole check down many times.
    with threadpool_limits(limits=1):
        for fold, (train, test) in enumerate(folds.split(x, y)):
            model = HistGradientBoostingClassifier(
                max_iter=config.max_iter,
                categorical_features=categorical,
                early_stopping=False,
                random_state=seed,
            ).fit(x.iloc[train], y[train])
            scores[test] = model.predict_proba(x.iloc[test])[:, 1]
            if fold == 0 and config.drivers:  # one held-out fold names the drivers
                found = permutation_importance(
                    model, x.iloc[test], y[test], scoring="roc_auc", n_repeats=1, random_state=seed
                )
                drops = found.importances_mean
    auc = float(roc_auc_score(y, scores))
    n1, n2 = len(reference), len(current)
    z = (auc - 0.5) / np.sqrt((n1 + n2 + 1) / (12.0 * n1 * n2))  # Mann-Whitney U's normal limit
    check.auc, check.p_value = auc, float(stats.norm.sf(z))
    check.drifted = bool(auc >= config.threshold and check.p_value < config.alpha)
    order = np.argsort(-drops)[: config.drivers]
    check.drivers = [
        Driver(feature=features[i], auc_drop=float(drops[i]))
        for i in order
        if drops[i] >= config.min_drop
    ]
    return check


def _encode(reference: pd.DataFrame, current: pd.DataFrame) -> tuple[pd.DataFrame, list[bool]]:
    """Return both samples stacked as numbers, and which columns are categorical codes."""
    both = pd.concat([reference, current], ignore_index=True)
    columns: dict[str, np.ndarray] = {}
    categorical: list[bool] = []
    for name in both.columns:
        series = both[name]
        if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
            columns[str(name)] = series.to_numpy(dtype=np.float64, na_value=np.nan)
            categorical.append(False)
            continue
        codes, uniques = pd.factorize(series.astype("string"), use_na_sentinel=True)
        values = codes.astype(np.float64)
        values[codes < 0] = np.nan
        columns[str(name)] = values
        categorical.append(len(uniques) <= 250)  # past the histogram's bins: ordinal codes
    return pd.DataFrame(columns), categorical
