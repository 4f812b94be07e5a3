"""The serving app in-process: /predict, /feedback, /metrics, /deployment, bad input, tokens."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest

import steward
from steward.serve import create_serving_token, revoke_serving_token

from .conftest import numeric_model, records, serving


def test_predict_records_and_split_answer_the_models_predictions(churn: dict[str, Any]) -> None:
    X, model = churn["X"], churn["models"][1]
    rows = X.head(5)
    with serving("models:/churn@champion") as (client, prepared):
        by_records = client.post("/predict", json={"records": records(rows)})
        split = {"columns": list(rows.columns), "data": rows.to_numpy().tolist()}
        by_split = client.post("/predict", json={"dataframe_split": split})
        bare_list = client.post("/predict", json=records(rows))
    for response in (by_records, by_split, bare_list):
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["predictions"] == model.predict(rows).tolist()
        assert np.allclose(body["probabilities"], model.predict_proba(rows))
        assert (body["model"], body["version"], body["route"]) == ("churn", 1, "primary")
        assert body["classes"] == [0, 1] and len(body["request_id"]) == 32
        assert response.headers["x-model-version"] == "churn/1"
        assert response.headers["x-request-id"] == body["request_id"]
    assert prepared.state.status()["revision"] == 1
    assert steward.get_deployment("churn").spec.routes[0].resolved == "models:/churn/1"


BAD_REQUESTS = [
    ("not json", b"{records: [", "application/json", 422, "not valid JSON"),
    ("wrong type", b"plain text", "text/plain", 415, "Send JSON"),
    ("no records", b"{}", "application/json", 422, "exactly one of 'records'"),
    ("empty", b'{"records": []}', "application/json", 422, "non-empty list"),
    (
        "missing column",
        b'{"records": [{"tenure": 3, "monthly": 50.0}]}',
        "application/json",
        422,
        "Missing column(s) 'plan'",
    ),
    (
        "mistyped",
        b'{"records": [{"tenure": "three", "monthly": 50.0, "plan": "pro"}]}',
        "application/json",
        422,
        "Column 'tenure', row 0: expected a number",
    ),
    (
        "null",
        b'{"records": [{"tenure": 3, "monthly": null, "plan": "pro"}]}',
        "application/json",
        422,
        "Column 'monthly', row 0: null is not allowed",
    ),
    (
        "nan",
        b'{"records": [{"tenure": 3, "monthly": NaN, "plan": "pro"}]}',
        "application/json",
        422,
        "not valid JSON",
    ),
    (
        "uneven",
        b'{"records": [{"tenure": 3, "monthly": 5.0, "plan": "pro"}, {"tenure": 3}]}',
        "application/json",
        422,
        "Record 1 has columns",
    ),
    (
        "split rows",
        b'{"split": {"columns": ["tenure"], "data": [[1, 2]]}}',
        "application/json",
        422,
        "Row 0 of 'split.data' must be a list of 1 values",
    ),
    ("list of numbers", b"[1, 2, 3]", "application/json", 422, "Record 0 must be an object"),
    ("text body", b'"hello"', "application/json", 422, "must be a JSON object"),
]


@pytest.mark.parametrize(("label", "body", "content_type", "status", "message"), BAD_REQUESTS)
def test_bad_requests_get_a_4xx_naming_the_problem(
    churn: dict[str, Any], label: str, body: bytes, content_type: str, status: int, message: str
) -> None:
    with serving("models:/churn/1") as (client, _):
        response = client.post("/predict", content=body, headers={"content-type": content_type})
        assert response.status_code == status, (label, response.text)
        error = response.json()["error"]
        assert message in error["message"], (label, error)
        ok = client.post("/predict", json={"records": records(churn["X"].head(1))})
        assert ok.status_code == 200  # the server keeps serving


def test_an_infinite_number_and_an_unseen_category(churn: dict[str, Any]) -> None:
    with serving("models:/churn/1") as (client, _):
        big = client.post(
            "/predict",
            content=b'{"records": [{"tenure": 1e400, "monthly": 5.0, "plan": "pro"}]}',
            headers={"content-type": "application/json"},
        )
        assert big.status_code == 422 and "infinity" in big.json()["error"]["message"]
        # OneHotEncoder(handle_unknown="ignore") takes a new plan: it is scored, as trained
        new = client.post(
            "/predict", json={"records": [{"tenure": 3, "monthly": 5.0, "plan": "gold"}]}
        )
        assert new.status_code == 200


def test_a_body_over_the_limit_is_413(churn: dict[str, Any]) -> None:
    spec = steward.serve.traffic_spec("models:/churn/1")
    spec = spec.model_copy(update={"max_body_bytes": 4096})
    steward.serve.create_deployment("small", spec)
    with serving(deployment="small") as (client, _):
        rows = records(churn["X"].head(200))
        response = client.post("/predict", json={"records": rows})
        assert response.status_code == 413, response.text
        assert "at most 4096" in response.json()["error"]["message"]
        chunked = client.post(  # no content-length: counted while read
            "/predict",
            content=iter([json.dumps({"records": rows}).encode()]),
            headers={"content-type": "application/json"},
        )
        assert chunked.status_code == 413
        assert client.post("/predict", json={"records": rows[:2]}).status_code == 200


def test_feedback_is_logged_and_unknown_ids_are_404(churn: dict[str, Any]) -> None:
    with serving("models:/churn/1") as (client, prepared):
        answer = client.post("/predict", json={"records": records(churn["X"].head(3))}).json()
        rid = answer["request_id"]
        assert client.post("/feedback", json={"request_id": rid, "label": 1}).json() == {
            "accepted": 1
        }
        batch = [{"request_id": rid, "label": 0}, {"request_id": rid, "reward": 0.5}]
        assert client.post("/feedback", json=batch).json() == {"accepted": 2}
        forged = rid[:-1] + ("0" if rid[-1] != "0" else "1")
        for body, status, message in (
            ({"request_id": forged, "label": 1}, 404, "not a request id this deployment issued"),
            ({"request_id": "abc", "label": 1}, 404, "not a request id"),
            ({"request_id": rid}, 422, "neither 'label' nor 'reward'"),
            ({"request_id": rid, "reward": 2}, 422, "from 0 to 1"),
            ({"request_id": rid, "label": [1, 2]}, 422, "single value"),
            ({"request_id": rid, "label": 1, "extra": 1}, 422, "unknown field"),
            ([], 422, "non-empty list"),
        ):
            response = client.post("/feedback", json=body)
            assert response.status_code == status, (body, response.text)
            assert message in response.json()["error"]["message"]
        prepared.state.log.flush()
        root = prepared.state.log_root
    feedback = duckdb.sql(
        f"select request_id, label, reward from read_parquet('{root}/feedback/*/*.parquet') order by label"
    ).fetchall()
    assert sorted(feedback, key=str) == sorted(
        [(rid, "1", None), (rid, "0", None), (rid, None, 0.5)], key=str
    )


def test_the_prediction_log_holds_every_row_with_inputs_outputs_and_errors(
    churn: dict[str, Any], tmp_path: Path
) -> None:
    X, model = churn["X"], churn["models"][1]
    with serving("models:/churn/1", log_uri=str(tmp_path / "log")) as (client, prepared):
        ids = [
            client.post("/predict", json={"records": records(X.iloc[i : i + 2])}).json()[
                "request_id"
            ]
            for i in range(0, 10, 2)
        ]
        client.post("/predict", json={"records": [{"tenure": 1}]})
        prepared.state.log.flush()
    frame = duckdb.sql(
        f"select * from read_parquet('{tmp_path}/log/predictions/*/*.parquet', union_by_name=true) order by time, row"
    ).df()
    ok = frame[frame.status == 200]
    assert list(dict.fromkeys(ok.request_id)) == ids and len(ok) == 10
    assert ok["input.tenure"].tolist() == X.head(10)["tenure"].astype(float).tolist()
    assert ok["input.plan"].tolist() == X.head(10)["plan"].tolist()
    assert ok["output.prediction"].tolist() == model.predict(X.head(10)).tolist()
    assert np.allclose(ok["output.proba.1"], model.predict_proba(X.head(10))[:, 1])
    assert set(ok.route) == {"primary"} and set(ok.version) == {1} and (ok.latency_ms > 0).all()
    errors = frame[frame.status == 422]
    assert len(errors) == 1 and "Missing column(s)" in errors.error.iloc[0]


def test_metrics_count_requests_errors_latency_memory(churn: dict[str, Any]) -> None:
    with serving("models:/churn/1") as (client, _):
        for _ in range(3):
            client.post("/predict", json={"records": records(churn["X"].head(2))})
        client.post("/predict", json={"records": [{"x": 1}]})
        text = client.get("/metrics").text
    assert (
        'steward_requests_total{deployment="churn",endpoint="predict",model="churn",route="primary",version="1"} 3.0'
        in text
    )
    assert (
        'steward_rows_scored_total{deployment="churn",endpoint="predict",model="churn",route="primary",version="1"} 6.0'
        in text
    )
    assert (
        'steward_request_errors_total{deployment="churn",endpoint="predict",status="422"} 1.0'
        in text
    )
    assert "steward_request_latency_seconds_bucket" in text
    assert "process_resident_memory_bytes" in text and "process_cpu_seconds_total" in text
    assert 'steward_deployment_revision{deployment="churn"} 1.0' in text


def test_tokens_are_required_once_created_and_revocable(churn: dict[str, Any]) -> None:
    steward.serve.create_deployment("guarded", "models:/churn/1")
    token = create_serving_token("guarded", "tests")
    assert token.secret.startswith("stw_") and token.token.prefix == token.secret[:10]
    body = {"records": records(churn["X"].head(1))}
    with serving(deployment="guarded", poll_seconds=0.05) as (client, _):
        missing = client.post("/predict", json=body)
        assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
        assert "steward deploy token create guarded" in missing.json()["error"]["message"]
        wrong = client.post("/predict", json=body, headers={"Authorization": "Bearer stw_wrong"})
        assert wrong.status_code == 401
        good = {"Authorization": f"Bearer {token.secret}"}
        assert client.post("/predict", json=body, headers=good).status_code == 200
        assert client.get("/v2/health/ready").status_code == 200  # probes need no token
        revoke_serving_token("guarded", token.token.id)
        deadline = time.monotonic() + 10
        while client.post("/predict", json=body, headers=good).status_code != 401:
            status = client.get("/deployment").json()
            assert time.monotonic() < deadline, f"the revoked token was still accepted: {status}"
            time.sleep(0.05)
    events = [e for e in steward.context.get_backend().list_events() if e.entity_id == "guarded"]
    assert all(token.secret not in json.dumps(e.payload) for e in events)


def test_numeric_models_are_called_with_arrays_and_answer_the_same(steward_home: Path) -> None:
    X, model = numeric_model(steward_home)
    with serving("models:/num/1") as (client, prepared):
        body = client.post("/predict", json={"records": records(X.head(7))}).json()
        assert prepared.state.status()["routes"][0]["array_input"] is True
    assert body["predictions"] == model.predict(X.head(7)).tolist()
    assert np.allclose(body["probabilities"], model.predict_proba(X.head(7)))


def test_a_package_folder_is_served_with_no_store(churn: dict[str, Any], tmp_path: Path) -> None:
    folder = steward.download_model("models:/churn/1", tmp_path / "pkg")
    with serving(str(folder), name="boxed", log_uri=str(tmp_path / "log")) as (client, prepared):
        response = client.post("/predict", json={"records": records(churn["X"].head(2))})
        assert response.status_code == 200 and response.json()["model"] == "boxed"
        assert prepared.state.backend is None
    assert [d.name for d in steward.serve.list_deployments()] == []  # nothing recorded


def test_serving_a_uri_again_keeps_or_changes_the_deployment(churn: dict[str, Any]) -> None:
    prepare_notes: list[list[str]] = []
    for uri in ("models:/churn/1", "models:/churn@champion", "models:/churn/2"):
        with serving(uri) as (_, prepared):
            prepare_notes.append(prepared.notes)
    history = steward.serve.get_deployment_history("churn")
    assert [r.spec.routes[0].resolved for r in history] == ["models:/churn/1", "models:/churn/2"]
    assert history[1].reason == "steward serve models:/churn/2"
    assert any("revision 1 -> 2" in n for n in prepare_notes[2])


class Fragile:
    """A model that refuses part of its input domain."""

    def predict(self, frame: Any) -> Any:
        if (frame["x"] > 100).any():
            raise ValueError("x over 100 is out of this model's domain")
        return frame["x"] * 2


def test_model_errors_are_422_and_the_server_keeps_serving(steward_home: Path) -> None:
    import pandas as pd

    X = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    with steward.start_run(capture_environment_info=False):
        steward.log_model(
            Fragile(), input_example=X, registered_model_name="fragile", flavor="python"
        )
    with serving("models:/fragile/1") as (client, _):
        bad = client.post("/predict", json={"records": [{"x": 500.0}]})
        assert (
            bad.status_code == 422
            and "out of this model's domain" in bad.json()["error"]["message"]
        )
        good = client.post("/predict", json={"records": [{"x": 4.0}]})
        assert good.status_code == 200 and good.json()["predictions"] == [8.0]


def test_status_page_and_docs(churn: dict[str, Any]) -> None:
    with serving("models:/churn/1") as (client, _):
        status = client.get("/deployment").json()
        assert status["deployment"] == "churn" and status["ready"] is True
        assert status["routes"][0]["version"] == 1
        docs = client.get("/docs")
        assert docs.status_code == 200 and "/static/swagger/swagger-ui-bundle.js" in docs.text
        schema = client.get("/openapi.json").json()
        assert {"/predict", "/feedback", "/v2/models/{name}/infer", "/metrics"} <= set(
            schema["paths"]
        )
        assert not math.isnan(status["started"])
