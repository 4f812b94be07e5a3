"""Serving fixtures: two registered versions of a churn model, and servers in-process."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import steward
from steward.serve._run import Prepared, prepare_server


def churn_frame(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """Return churn inputs (numeric and categorical columns) and labels."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "tenure": rng.integers(0, 72, n),
            "monthly": rng.normal(70, 20, n).round(2),
            "plan": rng.choice(["basic", "plus", "pro"], n),
        }
    )
    logit = -0.05 * X["tenure"] + 0.03 * X["monthly"] + (X["plan"] == "basic") * 0.8 - 1.2
    y = pd.Series((rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int), name="churn")
    return X, y


def churn_model(X: pd.DataFrame, y: pd.Series, c: float) -> Pipeline:
    """Return a fitted pipeline: one-hot plan, scaled numbers, logistic regression."""
    features = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), ["plan"]),
        (StandardScaler(), ["tenure", "monthly"]),
    )
    return make_pipeline(features, LogisticRegression(C=c, max_iter=500)).fit(X, y)


@pytest.fixture
def churn(steward_home: Path) -> dict[str, Any]:
    """Register versions 1 and 2 of model 'churn' (different C) on the local store."""
    X, y = churn_frame()
    models = {}
    for version, c in ((1, 1.0), (2, 0.001)):
        model = churn_model(X, y, c)
        with steward.start_run(f"churn-c{c}", capture_environment_info=False):
            steward.log_model(model, input_example=X, registered_model_name="churn")
        models[version] = model
    steward.set_alias("churn", "champion", 1)
    return {"X": X, "y": y, "models": models}


def numeric_model(steward_home: Path) -> tuple[pd.DataFrame, Pipeline]:
    """Register model 'num' (all-numeric inputs) and return its data and estimator."""
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(200, 5)), columns=[f"f{i}" for i in range(5)])
    y = (X.f0 + X.f1 > 0).astype(int)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    with steward.start_run(capture_environment_info=False):
        steward.log_model(model, input_example=X, registered_model_name="num")
    return X, model


def wait_ready(client: TestClient, timeout: float = 60.0) -> None:
    """Wait until the serving app says it is ready."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if client.get("/v2/health/ready").status_code == 200:
            return
        time.sleep(0.05)
    raise AssertionError(f"not ready after {timeout}s: {client.get('/deployment').text}")


@contextmanager
def serving(target: str | None = None, **options: Any) -> Iterator[tuple[TestClient, Prepared]]:
    """Run a serving app in-process (ASGI, with its lifespan) and yield a client for it."""
    prepared = prepare_server(target, **options)
    with TestClient(prepared.app) as client:
        wait_ready(client)
        yield client, prepared


@pytest.fixture
def serve() -> Callable[..., Any]:
    """Return ``serving``: a context manager that runs a serving app in-process."""
    return serving


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Return rows as JSON-able records (NumPy scalars as Python values)."""
    return [
        {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]


@contextmanager
def steward_serve(*args: str, timeout: float = 90.0) -> Iterator[str]:
    """Run `steward serve ARGS` in a subprocess on a free port of 127.0.0.1; yield its URL.

    The subprocess gets this test's environment (its STEWARD_HOME), so it serves this
    test's store.
    """
    import os
    import subprocess
    import sys

    import httpx

    from tests.conftest import free_port

    port = free_port()
    command = [sys.executable, "-m", "steward.cli", "serve", *args, "--port", str(port)]
    proc = subprocess.Popen(
        command, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                out = proc.stdout.read().decode() if proc.stdout else ""
                raise RuntimeError(f"steward serve exited with {proc.returncode}: {out}")
            try:
                if httpx.get(f"{url}/v2/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"steward serve was not ready after {timeout}s")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
