"""The Open Inference Protocol v2: in-process, and with Triton's own client over a socket."""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import orjson
import pytest

from .conftest import records, serving, steward_serve


def _tensors(frame: Any) -> list[dict[str, Any]]:
    out = []
    for name in frame.columns:
        values = frame[name].tolist()
        kind = (
            "BYTES"
            if frame[name].dtype == object or str(frame[name].dtype) in ("str", "string")
            else ("INT64" if frame[name].dtype.kind == "i" else "FP64")
        )
        out.append({"name": name, "shape": [len(values)], "datatype": kind, "data": values})
    return out


def test_v2_health_metadata_and_infer(churn: dict[str, Any]) -> None:
    X, model = churn["X"], churn["models"][1]
    rows = X.head(4)
    with serving("models:/churn/1") as (client, _):
        assert client.get("/v2/health/live").status_code == 200
        assert client.get("/v2/health/ready").json() == {"ready": True}
        assert client.get("/v2").json()["extensions"] == ["binary_tensor_data"]
        meta = client.get("/v2/models/churn").json()
        assert meta["versions"] == ["1"]
        assert [i["name"] for i in meta["inputs"]] == ["tenure", "monthly", "plan"]
        assert [o["name"] for o in meta["outputs"]] == ["predict", "predict_proba"]
        assert client.get("/v2/models/churn/ready").json()["ready"] is True
        answer = client.post("/v2/models/churn/infer", json={"id": "r-1", "inputs": _tensors(rows)})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (
            body["model_name"] == "churn" and body["model_version"] == "1" and body["id"] == "r-1"
        )
        outputs = {o["name"]: o for o in body["outputs"]}
        assert outputs["predict"]["data"] == model.predict(rows).tolist()
        assert outputs["predict_proba"]["shape"] == [4, 2]
        assert np.allclose(
            np.reshape(outputs["predict_proba"]["data"], (4, 2)), model.predict_proba(rows)
        )
        versioned = client.post(
            "/v2/models/churn/versions/1/infer",
            json={"inputs": _tensors(rows), "outputs": [{"name": "predict"}]},
        ).json()
        assert [o["name"] for o in versioned["outputs"]] == ["predict"]


def test_one_2d_tensor_in_signature_order(steward_home: Any) -> None:
    from .conftest import numeric_model

    X, model = numeric_model(steward_home)
    rows = X.head(3)
    with serving("models:/num/1") as (client, _):
        body = client.post(
            "/v2/models/num/infer",
            json={
                "inputs": [
                    {
                        "name": "input-0",
                        "shape": [3, 5],
                        "datatype": "FP32",
                        "data": rows.to_numpy().ravel().tolist(),
                    }
                ]
            },
        ).json()
    predict = next(o for o in body["outputs"] if o["name"] == "predict")
    assert predict["data"] == model.predict(rows.astype("float32")).tolist()


V2_BAD = [
    ({"inputs": []}, 400, "non-empty list"),
    (
        {"inputs": [{"name": "tenure", "shape": [2], "datatype": "INT64", "data": [1, 2, 3]}]},
        400,
        "shape [2] holds 2 values, but 'data' has 3",
    ),
    (
        {"inputs": [{"name": "tenure", "shape": [1], "datatype": "INT128", "data": [1]}]},
        400,
        "unknown datatype",
    ),
    (
        {"inputs": [{"name": "tenure", "shape": [1], "datatype": "INT64", "data": ["a"]}]},
        400,
        "are not INT64",
    ),
    (
        {"inputs": [{"name": "tenure", "shape": [1], "datatype": "INT64", "data": [1]}]},
        400,
        "Missing column(s) 'monthly', 'plan'",
    ),
    (
        {"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP64", "data": [1, 2]}]},
        400,
        "has 2 columns; the model takes 3",
    ),
    ({"inputs": [{"name": "tenure", "shape": [1], "datatype": "INT64"}]}, 400, "has no 'data'"),
]


@pytest.mark.parametrize(("body", "status", "message"), V2_BAD)
def test_bad_v2_requests_are_400_with_a_v2_error(
    churn: dict[str, Any], body: dict[str, Any], status: int, message: str
) -> None:
    with serving("models:/churn/1") as (client, _):
        response = client.post("/v2/models/churn/infer", json=body)
        assert response.status_code == status, response.text
        assert message in response.json()["error"]  # V2 errors are {"error": "<message>"}


def test_unknown_model_and_version_are_404(churn: dict[str, Any]) -> None:
    rows = churn["X"].head(1)
    with serving("models:/churn/1") as (client, _):
        unknown = client.post("/v2/models/other/infer", json={"inputs": _tensors(rows)})
        assert unknown.status_code == 404 and "Unknown model 'other'" in unknown.json()["error"]
        assert client.get("/v2/models/other").status_code == 404
        assert client.get("/v2/models/other/ready").status_code == 404
        version = client.post("/v2/models/churn/versions/9/infer", json={"inputs": _tensors(rows)})
        assert version.status_code == 404 and "no version '9'" in version.json()["error"]


def test_the_binary_tensor_extension_in_and_out(churn: dict[str, Any]) -> None:
    X, model = churn["X"], churn["models"][1]
    rows = X.head(3)
    tenure = rows["tenure"].to_numpy(dtype="<i8").tobytes()
    monthly = rows["monthly"].to_numpy(dtype="<f8").tobytes()
    plan = b"".join(struct.pack("<I", len(p)) + p.encode() for p in rows["plan"])
    header = orjson.dumps(
        {
            "inputs": [
                {
                    "name": "tenure",
                    "shape": [3],
                    "datatype": "INT64",
                    "parameters": {"binary_data_size": len(tenure)},
                },
                {
                    "name": "monthly",
                    "shape": [3],
                    "datatype": "FP64",
                    "parameters": {"binary_data_size": len(monthly)},
                },
                {
                    "name": "plan",
                    "shape": [3],
                    "datatype": "BYTES",
                    "parameters": {"binary_data_size": len(plan)},
                },
            ],
            "outputs": [{"name": "predict_proba", "parameters": {"binary_data": True}}],
        }
    )
    with serving("models:/churn/1") as (client, _):
        response = client.post(
            "/v2/models/churn/infer",
            content=header + tenure + monthly + plan,
            headers={
                "Inference-Header-Content-Length": str(len(header)),
                "content-type": "application/octet-stream",
            },
        )
        assert response.status_code == 200, response.text
        size = int(response.headers["inference-header-content-length"])
        head = orjson.loads(response.content[:size])
        proba = np.frombuffer(response.content[size:], dtype="<f8").reshape(3, 2)
        assert head["outputs"][0]["parameters"]["binary_data_size"] == 48
        assert np.allclose(proba, model.predict_proba(rows))
        short = client.post(
            "/v2/models/churn/infer",
            content=header + tenure,
            headers={"Inference-Header-Content-Length": str(len(header))},
        )
        assert short.status_code == 400 and "does not fit" in short.json()["error"]


@pytest.mark.slow
def test_tritons_http_client_works_unchanged_over_a_socket(churn: dict[str, Any]) -> None:
    """Triton's client (written by others, binary tensors by default) against `steward serve`."""
    import tritonclient.http as triton

    X, model = churn["X"], churn["models"][1]
    rows = X.head(5)
    with steward_serve("models:/churn/1") as url:
        client = triton.InferenceServerClient(url=url.removeprefix("http://"))
        assert client.is_server_live() and client.is_server_ready()
        assert client.is_model_ready("churn")
        assert client.get_model_metadata("churn")["versions"] == ["1"]
        inputs = []
        for name, dtype, datatype in (
            ("tenure", np.int64, "INT64"),
            ("monthly", np.float64, "FP64"),
            ("plan", object, "BYTES"),
        ):
            values = rows[name].to_numpy(dtype=dtype)
            tensor = triton.InferInput(name, [len(values)], datatype)
            tensor.set_data_from_numpy(values)  # binary_data=True: the binary extension
            inputs.append(tensor)
        outputs = [
            triton.InferRequestedOutput("predict"),
            triton.InferRequestedOutput("predict_proba"),
        ]
        result = client.infer("churn", inputs, outputs=outputs)
        assert result.as_numpy("predict").tolist() == model.predict(rows).tolist()
        assert np.allclose(result.as_numpy("predict_proba"), model.predict_proba(rows))
        json_inputs = []
        for name, dtype, datatype in (
            ("tenure", np.int64, "INT64"),
            ("monthly", np.float64, "FP64"),
            ("plan", object, "BYTES"),
        ):
            tensor = triton.InferInput(name, [len(rows)], datatype)
            tensor.set_data_from_numpy(rows[name].to_numpy(dtype=dtype), binary_data=False)
            json_inputs.append(tensor)
        plain = client.infer("churn", json_inputs)
        assert plain.as_numpy("predict").tolist() == model.predict(rows).tolist()
        with pytest.raises(triton.InferenceServerException, match="Unknown model"):
            client.infer("nope", json_inputs)
        client.close()
    assert records(rows)  # the same rows through /predict are covered in test_app
