"""Governance fixtures: a small life cycle to walk (data → runs → models → deployment), and
tampering with the audit log as a database administrator would."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sklearn.linear_model import LogisticRegression

import steward
from steward._backend import Backend, SqlBackend


@dataclass
class LifeCycle:
    """What the ``life_cycle`` fixture made: two dataset versions, three runs, two model
    versions and one deployment that served both."""

    data_v1: steward.DatasetVersion
    data_v2: steward.DatasetVersion
    run_v1: str
    run_v2: str
    run_unrelated: str


def frame(n: int = 120, seed: int = 0) -> pd.DataFrame:
    """Return a small churn table: two features and the label."""
    rng = np.random.default_rng(seed)
    tenure = rng.integers(0, 72, n)
    monthly = rng.normal(70, 20, n).round(2)
    churn = (rng.random(n) < 1 / (1 + np.exp(0.05 * tenure - 0.03 * monthly))).astype(int)
    return pd.DataFrame({"tenure": tenure, "monthly": monthly, "churn": churn})


def train(data: steward.DatasetVersion, name: str) -> str:
    """Return the id of a run that read ``data`` and registered a new version of 'churn'."""
    table = steward.load_dataset(data.dataset, data.version)
    X, y = table[["tenure", "monthly"]], table["churn"]
    with steward.start_run(name, capture_environment_info=False) as run:
        steward.log_input(data)
        model = LogisticRegression(max_iter=200).fit(X, y)
        steward.log_model(model, input_example=X, registered_model_name="churn")
    return run.id


@pytest.fixture
def life_cycle(backend: Backend) -> LifeCycle:
    """Record a life cycle on the backend under test (SQLite, PostgreSQL, HTTP)."""
    v1 = steward.register_dataset(frame(seed=0), "churn-data", terms_of_use="internal")
    v2 = steward.register_dataset(frame(seed=1), "churn-data", retention="3 years")
    run_v1, run_v2 = train(v1, "train-v1"), train(v2, "train-v2")
    with steward.start_run("exploration", capture_environment_info=False) as other:
        steward.log_metric("m", 1.0)
    steward.create_deployment("churn", "models:/churn/1", reason="first")
    steward.set_deployment_model("churn", "models:/churn/2", reason="retrained")
    return LifeCycle(v1, v2, run_v1, run_v2, other.id)


def tamper(backend: SqlBackend, statement: str, **params: object) -> None:
    """Run ``statement`` on the store behind Steward's back, as a database superuser would.

    On PostgreSQL the append-only trigger refuses it; a superuser can switch triggers
    off for the session (session_replication_role), which is what tampering takes.
    """
    with backend.store.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        conn.execute(sa.text(statement), params)
