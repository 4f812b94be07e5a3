"""A classifier's performance estimator fitted in one call from held-out labeled data."""

from __future__ import annotations

from typing import Any

from steward.errors import InvalidInput
from steward.monitor._estimation import PerformanceEstimator, fit_estimator, store_estimator
from steward.monitor._estimation_calibration import Method
from steward.registry import get_model_version, load_model


def calibrate_estimator(
    model_uri: str, data: Any, labels: Any, *, positive: Any = None, method: Method = "auto"
) -> PerformanceEstimator:
    """Return the estimator fitted on the version's probabilities for ``data`` against
    ``labels`` (held-out rows the model did not train on), after storing it with the
    version: from then on ``steward monitor run`` estimates the version's performance on
    live traffic before any ground truth arrives.
    """
    version = get_model_version(model_uri)
    signature = version.manifest.signature
    if (
        signature is None
        or signature.output.task != "classification"
        or not signature.output.classes
    ):
        raise InvalidInput(
            f"{version.uri} is not a classifier with known classes, so its performance "
            "cannot be estimated without labels; measure it with labels (performance())."
        )
    model = load_model(version.uri)
    if "predict_proba" not in model.manifest.methods:
        raise InvalidInput(
            f"{version.uri} has no predict_proba(); estimating performance needs the "
            "model's class probabilities."
        )
    estimator = fit_estimator(
        model.predict_proba(data),
        labels,
        signature.output.classes,
        reference_predictions=model.predict(data),
        positive=positive,
        method=method,
    )
    store_estimator(version, estimator)
    return estimator
