"""A churn model registered in project 'retention', and traffic sent to its deployment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import steward
from tests.serve.conftest import churn_frame, churn_model, records


def register_churn() -> dict[str, Any]:
    """Register churn v1 (its reference profile comes from the training inputs)."""
    X, y = churn_frame(600, seed=0)
    model = churn_model(X, y, 1.0)
    steward.create_project("retention")
    with steward.start_run(project="retention", capture_environment_info=False):
        steward.log_model(model, input_example=X, registered_model_name="churn")
    return {"X": X, "y": y, "model": model}


@pytest.fixture
def served_churn(steward_home: Path) -> dict[str, Any]:
    """Churn v1, registered with its reference profile."""
    return register_churn()


def send_traffic(client: Any, frame: pd.DataFrame, labels: pd.Series | None = None) -> list[str]:
    """Send each row as one /predict request, and its label as /feedback; return the ids."""
    ids = []
    for i in range(len(frame)):
        answer = client.post("/predict", json={"records": records(frame.iloc[i : i + 1])}).json()
        ids.append(answer["request_id"])
        if labels is not None:
            client.post(
                "/feedback", json={"request_id": answer["request_id"], "label": int(labels.iloc[i])}
            )
    return ids
