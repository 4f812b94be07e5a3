"""A fuzz run with schemathesis against the serving server's own OpenAPI spec: never a 5xx."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

from .conftest import records, steward_serve


def _fuzz(operation: Any, url: str, tried: dict[str, int]) -> None:
    """Send generated requests (valid and invalid) to one operation; none may get a 5xx."""

    @settings(
        max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(case=operation.as_strategy())
    def fuzz(case: Any) -> None:
        case.call_and_validate(base_url=url, checks=[not_a_server_error])
        tried[operation.label] = tried.get(operation.label, 0) + 1

    fuzz()


@pytest.mark.slow
def test_generated_requests_never_get_a_server_error(churn: dict[str, Any]) -> None:
    with steward_serve("models:/churn/1") as url:
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert {op.path for op in operations} >= {
            "/predict",
            "/feedback",
            "/v2/models/{name}/infer",
        }
        tried: dict[str, int] = {}
        for operation in operations:
            _fuzz(operation, url, tried)
        # bodies built by hand around the valid shape: wrong types in every column
        rows = records(churn["X"].head(1))

        @settings(max_examples=150, deadline=None, database=None)
        @given(
            value=st.one_of(
                st.none(),
                st.booleans(),
                st.integers(),
                st.floats(allow_nan=False, allow_infinity=False),
                st.text(),
                st.lists(st.integers()),
            )
        )
        def values(value: Any) -> None:
            for column in ("tenure", "monthly", "plan"):
                row = {**rows[0], column: value}
                response = httpx.post(f"{url}/predict", json={"records": [row]})
                assert response.status_code < 500, response.text

        values()
        assert httpx.get(f"{url}/v2/health/ready").status_code == 200  # still serving
    assert len(tried) == len(operations)
