"""The monitor stage's functions over the active backend: thresholds and alerts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from steward.configs import load_config
from steward.context import get_backend
from steward.errors import InvalidInput
from steward.monitor._records import Alert, MonitorConfig


def set_monitor_config(
    project: str, config: MonitorConfig | dict[str, Any] | str | Path
) -> MonitorConfig:
    """Return a project's monitoring thresholds after storing them.

    ``config`` is a :class:`MonitorConfig`, a dict of the same fields, or a YAML file
    (``steward monitor config PROJECT FILE`` reads the same format).
    """
    if isinstance(config, str | Path):
        config = load_config(Path(config), MonitorConfig)
    elif isinstance(config, dict):
        try:
            config = MonitorConfig.model_validate(config)
        except ValueError as exc:
            raise InvalidInput(f"The monitoring thresholds are not valid: {exc}") from exc
    return get_backend().set_monitor_config(project, config)


def get_monitor_config(project: str) -> MonitorConfig:
    """Return a project's monitoring thresholds (the defaults when none were set)."""
    return get_backend().get_monitor_config(project)


def list_alerts(deployment: str | None = None, status: str | None = None) -> list[Alert]:
    """Return alerts, newest first (of one deployment; 'open' or 'acknowledged')."""
    return get_backend().list_alerts(deployment, status)


def acknowledge_alert(alert_id: int) -> Alert:
    """Return the alert after marking it acknowledged by the caller."""
    return get_backend().acknowledge_alert(alert_id)
