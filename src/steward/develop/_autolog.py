"""steward.autolog(): scikit-learn fits log their params, training metrics and the estimator."""

from __future__ import annotations

import functools
import threading
from typing import Any

import numpy as np

from steward.develop import _fluent
from steward.registry import log_model as save_model

_originals: dict[type, Any] = {}
_depth = threading.local()


def autolog(*, disable: bool = False, log_model: bool = True) -> None:
    """Make every scikit-learn ``fit`` log to the active run (or to a new run it starts).

    Logs the estimator's params (``get_params(deep=True)``), training metrics
    (accuracy/precision/recall/F1/log loss/ROC AUC for classifiers, MSE/RMSE/MAE/R² for
    regressors) and the fitted estimator as the model package ``model`` (``runs:/<id>/model``). ``disable=True`` undoes it.
    Fits nested in another fit (a Pipeline's steps, a grid search's candidates) are not
    logged, nor are bare transformers (scikit-learn fits those internally, e.g. in metrics).
    """
    from sklearn.utils import all_estimators

    if disable:
        for cls, original in _originals.items():
            if original is None:
                del cls.fit  # type: ignore[attr-defined]  # inherited: inherit it again
            else:
                cls.fit = original  # type: ignore[attr-defined]
        _originals.clear()
        return
    # Models and the meta-estimators that wrap them; not bare transformers, which
    # scikit-learn itself fits internally (LabelEncoder inside roc_auc_score, ...).
    from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
    from sklearn.pipeline import Pipeline

    models = [cls for _, cls in all_estimators(type_filter=["classifier", "regressor", "cluster"])]
    for cls in [*models, Pipeline, GridSearchCV, RandomizedSearchCV]:
        fit = getattr(cls, "fit", None)
        if fit is None or cls in _originals or getattr(fit, "__steward_autolog__", False):
            continue
        _originals[cls] = vars(cls).get("fit")
        cls.fit = _patched(fit, log_model)


def _patched(fit: Any, log_model: bool) -> Any:
    @functools.wraps(fit)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        depth = getattr(_depth, "n", 0)
        if depth:
            return fit(self, *args, **kwargs)
        _depth.n = depth + 1
        try:
            return _fit_and_log(fit, self, args, kwargs, log_model)
        finally:
            _depth.n = depth

    wrapper.__steward_autolog__ = True  # type: ignore[attr-defined]
    return wrapper


def _fit_and_log(fit: Any, est: Any, args: Any, kwargs: Any, log_model: bool) -> Any:
    started = _fluent.active_run() is None
    run = _fluent.start_run(name=type(est).__name__) if started else _fluent.active_run()
    assert run is not None
    try:
        result = fit(est, *args, **kwargs)
        X = args[0] if args else kwargs.get("X")
        y = args[1] if len(args) > 1 else kwargs.get("y")
        params = {k: _short(v) for k, v in est.get_params(deep=True).items()}
        _fluent.log_params(params)
        _fluent.set_tags({"estimator_class": f"{type(est).__module__}.{type(est).__name__}"})
        if X is not None and y is not None:
            metrics = training_metrics(est, X, y, kwargs.get("sample_weight"))
            if metrics:
                _fluent.log_batch(metrics={f"training_{k}": v for k, v in metrics.items()})
        if log_model:
            import pandas as pd

            example = X if isinstance(X, pd.DataFrame) else None  # arrays: no named columns
            save_model(est, "model", input_example=example, run_id=run.id)
    except BaseException as exc:
        if started:
            run.__exit__(type(exc), exc, exc.__traceback__)
        raise
    if started:
        _fluent.end_run("FINISHED", run_id=run.id)
    return result


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= 500 else text[:497] + "..."


def training_metrics(est: Any, X: Any, y: Any, sample_weight: Any = None) -> dict[str, float]:
    """Return the standard training metrics of a fitted classifier or regressor."""
    from sklearn import metrics as m
    from sklearn.base import is_classifier, is_regressor

    out: dict[str, float] = {}
    try:
        if is_classifier(est):
            pred = est.predict(X)
            out["accuracy"] = m.accuracy_score(y, pred, sample_weight=sample_weight)
            average = "binary" if len(np.unique(y)) == 2 else "weighted"
            out["precision"] = m.precision_score(
                y, pred, average=average, sample_weight=sample_weight, zero_division=0
            )
            out["recall"] = m.recall_score(
                y, pred, average=average, sample_weight=sample_weight, zero_division=0
            )
            out["f1"] = m.f1_score(
                y, pred, average=average, sample_weight=sample_weight, zero_division=0
            )
            if hasattr(est, "predict_proba"):
                proba = est.predict_proba(X)
                out["log_loss"] = m.log_loss(
                    y, proba, sample_weight=sample_weight, labels=est.classes_
                )
                if proba.shape[1] == 2:
                    out["roc_auc"] = m.roc_auc_score(y, proba[:, 1], sample_weight=sample_weight)
                else:
                    out["roc_auc"] = m.roc_auc_score(
                        y,
                        proba,
                        multi_class="ovr",
                        sample_weight=sample_weight,
                        labels=est.classes_,
                    )
        elif is_regressor(est):
            pred = est.predict(X)
            mse = m.mean_squared_error(y, pred, sample_weight=sample_weight)
            out.update(
                mse=mse,
                rmse=float(np.sqrt(mse)),
                mae=m.mean_absolute_error(y, pred, sample_weight=sample_weight),
                r2=m.r2_score(y, pred, sample_weight=sample_weight),
            )
    except Exception:  # a metric that does not apply to this target: log the others
        pass
    return {k: float(v) for k, v in out.items() if np.isfinite(v)}
