"""Fixtures of the CLI tests: a fresh STEWARD_HOME per test, a runner, and run/dataset makers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner, Result

import steward
from steward._backend import set_backend
from steward.cli import app

Invoke = Callable[..., Result]


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point Steward at an empty home folder, and forget the cached backend afterwards."""
    for var in (
        "STEWARD_URI",
        "STEWARD_STORE_URI",
        "STEWARD_ARTIFACT_URI",
        "STEWARD_PROJECT",
        "STEWARD_EXPERIMENT",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("STEWARD_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("STEWARD_USER", "tester")
    set_backend(None)
    yield tmp_path / "home"
    set_backend(None)


@pytest.fixture
def cli() -> Invoke:
    """Return ``invoke(*args, env=...)``: run `steward args` as a 120-column terminal would."""
    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
        # catch_exceptions=False: an exception that escapes the CLI fails the test loudly,
        # so a user error that would print a traceback cannot pass unnoticed.
        return runner.invoke(
            app, list(args), env={"COLUMNS": "120", **(env or {})}, catch_exceptions=False
        )

    return invoke


def make_run(
    name: str,
    *,
    experiment: str = "churn",
    params: dict[str, Any] | None = None,
    metrics: dict[str, list[float]] | None = None,
    tags: dict[str, str] | None = None,
) -> str:
    """Create a finished run with the given params, metric series and tags; return its id."""
    with steward.start_run(name, experiment=experiment, capture_environment_info=False) as run:
        if params:
            steward.log_params(params)
        for key, values in (metrics or {}).items():
            for value in values:
                steward.log_metric(key, value)
        if tags:
            steward.set_tags(tags)
    return run.id


def people_frame() -> pd.DataFrame:
    """Return a small table with a sensitive-looking column, a categorical and missing values."""
    return pd.DataFrame(
        {
            "age": [18, 25, 30, 41, 52, 63, 70, 79],
            "sex": ["m", "f", "m", "f", "m", "f", "m", "f"],
            "income": [1000.0, None, 2500.0, 3000.0, None, 4200.0, 5100.0, 6000.0],
        }
    )
