"""The team server's HTTP contract: JSON errors, 4xx for every client mistake, offline docs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from steward._backend import OPERATIONS, SqlBackend
from steward.server import create_app


@pytest.fixture
def client(sqlite_backend: SqlBackend) -> Iterator[TestClient]:
    with TestClient(create_app(sqlite_backend), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def run_id(client: TestClient) -> str:
    response = client.post(
        "/api/v1/runs", json={"project": "p", "experiment": "e"}, headers={"X-Steward-User": "ana"}
    )
    assert response.status_code == 200
    assert response.json()["user"] == "ana"
    return str(response.json()["id"])


def _error(response) -> dict:  # type: ignore[no-untyped-def,type-arg]
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    body = response.json()["error"]
    assert body["code"] and body["message"]
    return body  # type: ignore[no-any-return]


def test_client_mistakes_get_4xx_json(client: TestClient, run_id: str) -> None:
    api = "/api/v1"
    cases = [
        ("GET", f"{api}/runs/does-not-exist", None, 404, "does not exist"),
        (
            "POST",
            f"{api}/runs/{run_id}/batch",
            {"metrics": {"keys": ["a"], "values": ["x"], "steps": [0], "timestamps": [0]}},
            422,
            "valid number",
        ),
        (
            "POST",
            f"{api}/runs/{run_id}/batch",
            {"metrics": {"keys": ["a", "b"], "values": [1], "steps": [0], "timestamps": [0]}},
            400,
            "as many values",
        ),
        ("POST", f"{api}/runs/{run_id}/batch", {"params": {"bad..key": "1"}}, 400, "not valid"),
        ("POST", f"{api}/runs/search", {"filter": "metrics.auc >"}, 400, "Filter syntax error"),
        ("POST", f"{api}/runs/search", {"filter": 5}, 422, "string"),
        ("POST", f"{api}/runs", {"project": "no spaces"}, 400, "project name"),
        ("PATCH", f"{api}/runs/{run_id}", {"status": "EXPLODED"}, 422, "RUNNING"),
        (
            "PUT",
            f"{api}/runs/{run_id}/artifacts",
            {"path": "../x", "sha256": "a" * 64, "size": 1},
            400,
            "artifact path",
        ),
        (
            "PUT",
            f"{api}/runs/{run_id}/artifacts",
            {"path": "x.txt", "sha256": "a" * 64, "size": 1},
            400,
            "upload the file",
        ),
        ("PUT", f"{api}/blobs/{'0' * 64}", None, 409, "corrupted in transit"),
        ("GET", f"{api}/blobs/nothex", None, 400, "sha256"),
        ("GET", f"{api}/datasets/nope/versions/0", None, 404, "does not exist"),
        ("POST", f"{api}/datasets/versions", {"spec": {"dataset": "d"}}, 422, "content_hash"),
        ("GET", f"{api}/projects/ghost", None, 404, "does not exist"),
        ("GET", f"{api}/no/such/route", None, 404, ""),
    ]
    for method, url, body, status, says in cases:
        response = client.request(
            method,
            url,
            json=body,
            content=b"some bytes" if body is None and method == "PUT" else None,
        )
        error = _error(response)
        assert response.status_code == status, (url, response.text)
        assert says in error["message"], (url, error)


def test_non_finite_numbers_in_raw_json_are_refused(client: TestClient, run_id: str) -> None:
    for literal in ("1e309", "NaN", "-Infinity"):
        raw = f'{{"metrics": {{"keys": ["a"], "values": [{literal}], "steps": [0], "timestamps": [0]}}}}'
        response = client.post(
            f"/api/v1/runs/{run_id}/batch",
            content=raw,
            headers={"content-type": "application/json"},
        )
        assert response.status_code in (400, 422), response.text
    assert client.get(f"/api/v1/runs/{run_id}").json()["metrics"] == {}


def test_param_conflict_is_409_and_keeps_the_first_value(client: TestClient, run_id: str) -> None:
    url = f"/api/v1/runs/{run_id}/batch"
    assert client.post(url, json={"params": {"lr": "0.1"}}).status_code == 200
    response = client.post(url, json={"params": {"lr": "0.2"}})
    assert response.status_code == 409 and _error(response)["details"]["stored"] == "0.1"
    assert client.get(f"/api/v1/runs/{run_id}").json()["params"] == {"lr": "0.1"}


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.name)
def test_garbage_never_causes_a_server_error(client: TestClient, run_id: str, op) -> None:  # type: ignore[no-untyped-def]
    path = op.path
    for name in op.path_params:
        path = path.replace("{" + name + "}", run_id if name == "run_id" else "x")
    url = "/api/v1" + path
    bodies = [
        None,
        {},
        [],
        "text",
        {"unexpected": {"deep": [1, 2]}},
        {p.name: None for p in op.parameters},
    ]
    bodies += [{p.name: [1, "x"] for p in op.parameters}, {p.name: -1 for p in op.parameters}]
    for body in bodies:
        if op.method == "GET":
            params = body if isinstance(body, dict) else {}
            response = client.get(url, params={k: str(v) for k, v in params.items()})
        else:
            response = client.request(op.method, url, json=body)
        assert response.status_code < 500, (op.name, body, response.text)


def test_openapi_describes_every_operation_and_docs_work_offline(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    operation_ids = {o["operationId"] for p in spec["paths"].values() for o in p.values()}
    assert {op.name for op in OPERATIONS} <= operation_ids
    page = client.get("/docs").text
    assert "/static/swagger/swagger-ui-bundle.js" in page and "cdn" not in page.lower()
    assert client.get("/static/swagger/swagger-ui-bundle.js").status_code == 200
    assert client.get("/health").json()["status"] == "ok"


def test_blob_round_trip_over_http(client: TestClient) -> None:
    import hashlib

    data = b"model weights" * 1000
    sha = hashlib.sha256(data).hexdigest()
    assert client.head(f"/api/v1/blobs/{sha}").status_code == 404
    assert client.put(f"/api/v1/blobs/{sha}", content=data).status_code == 201
    assert client.head(f"/api/v1/blobs/{sha}").status_code == 200
    assert client.get(f"/api/v1/blobs/{sha}").content == data
