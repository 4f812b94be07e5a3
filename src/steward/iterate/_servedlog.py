"""A deployment's prediction log and feedback over a window, as the live analyses read them.

The monitor stage owns the reader (segments by day, unreadable ones skipped and named)
and the rule that joins labels to served rows; the shadow, bandit and A/B analyses use
both through ``steward.monitor`` so a label counts here exactly when it counts there.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import pandas as pd

from steward.errors import InvalidInput
from steward.monitor import read_prediction_log
from steward.serve import Deployment, get_deployment, log_root


@dataclass
class ServedLog:
    """What a deployment logged in a window: predictions, feedback, and skipped segments."""

    deployment: Deployment
    root: str
    start: float | None
    end: float
    predictions: pd.DataFrame
    feedback: pd.DataFrame
    skipped: list[dict[str, str]] = field(default_factory=list)


def resolve(deployment: str | Deployment) -> Deployment:
    """Return the deployment record (looked up by name when a name is given)."""
    return get_deployment(deployment) if isinstance(deployment, str) else deployment


def read_served(deployment: Deployment, window_seconds: float | None) -> ServedLog:
    """Return the deployment's log from ``window_seconds`` ago (all of it when None) to now.

    Feedback is read from the window's start on with no end: a label that arrives after
    the window still belongs to a request inside it.
    """
    if window_seconds is not None and (not math.isfinite(window_seconds) or window_seconds <= 0):
        raise InvalidInput(
            f"The window must be a positive number of seconds; got {window_seconds}."
        )
    end = time.time()
    start = None if window_seconds is None else end - window_seconds
    root = log_root(deployment)
    predictions, skipped = read_prediction_log(root, "predictions", start, None)
    feedback, skipped_feedback = read_prediction_log(root, "feedback", start, None)
    return ServedLog(
        deployment, root, start, end, predictions, feedback, skipped + skipped_feedback
    )


def answered(predictions: pd.DataFrame, role: str, route: str | None = None) -> pd.DataFrame:
    """Return the rows a route of ``role`` answered without error (all routes when None)."""
    if predictions.empty or "role" not in predictions.columns:
        return predictions.iloc[0:0]
    keep = (predictions["role"] == role) & (predictions["status"] < 400)
    if route is not None:
        keep &= predictions["route"] == route
    found: pd.DataFrame = predictions[keep]
    return found


def rewards(feedback: pd.DataFrame) -> pd.DataFrame:
    """Return the feedback rows that carry a reward, oldest first (time, route, reward)."""
    if feedback.empty or "reward" not in feedback.columns:
        return pd.DataFrame({"request_id": [], "time": [], "route": [], "reward": []})
    found = feedback[feedback["reward"].notna()]
    return found.sort_values("time", kind="stable")[["request_id", "time", "route", "reward"]]


def seconds(times: pd.Series) -> pd.Series:
    """Return logged timestamps as seconds since the epoch."""
    stamps = pd.to_datetime(times, utc=True)
    return (stamps - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
