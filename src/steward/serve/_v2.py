"""The Open Inference Protocol v2 (KServe, Triton, MLServer): tensors in, tensors out.

A tabular model takes either one tensor per input column (shape ``[n]`` or ``[n, 1]``,
named as the column), or one 2-D tensor of shape ``[n, columns]`` in the signature's
column order. It answers ``predict`` (shape ``[n]``) and, for a classifier,
``predict_proba`` (``[n, classes]``). Tensor data may be JSON (flat or nested) or use the
binary tensor extension (``Inference-Header-Content-Length``), as Triton's clients send
by default.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import orjson

from steward.registry import Signature
from steward.serve._decode import RequestError

HEADER = "inference-header-content-length"
DTYPES: dict[str, Any] = {
    "BOOL": np.bool_,
    "UINT8": np.uint8,
    "UINT16": np.uint16,
    "UINT32": np.uint32,
    "UINT64": np.uint64,
    "INT8": np.int8,
    "INT16": np.int16,
    "INT32": np.int32,
    "INT64": np.int64,
    "FP16": np.float16,
    "FP32": np.float32,
    "FP64": np.float64,
    "BYTES": object,
}


class V2Error(RequestError):
    """A V2 request the server cannot take (answered as ``{"error": "..."}``)."""

    code = "invalid_request"
    http_status = 400


def parse(body: bytes, header_length: str | None) -> tuple[dict[str, Any], bytes]:
    """Return the JSON part of an inference request and the binary part after it (or b'')."""
    if header_length is not None:
        try:
            size = int(header_length)
        except ValueError as exc:
            raise V2Error(
                f"Inference-Header-Content-Length must be an integer; got {header_length!r}."
            ) from exc
        if not 0 < size <= len(body):
            raise V2Error(
                f"Inference-Header-Content-Length is {size}, but the body has {len(body)} bytes."
            )
        head, rest = body[:size], body[size:]
    else:
        head, rest = body, b""
    try:
        request = orjson.loads(head)
    except orjson.JSONDecodeError as exc:
        raise V2Error(f"The inference request is not valid JSON: {exc}.") from exc
    if not isinstance(request, dict):
        raise V2Error("The inference request must be a JSON object with 'inputs'.")
    return request, rest


def columns(
    request: dict[str, Any], binary: bytes, signature: Signature | None
) -> tuple[dict[str, list[Any]], int]:
    """Return the request's input tensors as columns of values, and the row count."""
    inputs = request.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise V2Error("'inputs' must be a non-empty list of tensors {name, shape, datatype, data}.")
    tensors: list[tuple[str, np.ndarray]] = []
    offset = 0
    for i, tensor in enumerate(inputs):
        array, offset = _tensor(tensor, i, binary, offset)
        tensors.append((tensor["name"], array))
    if offset != len(binary):
        raise V2Error(
            f"The binary part holds {len(binary)} bytes but the inputs' binary_data_size add up "
            f"to {offset}."
        )
    names = [c.name for c in signature.inputs] if signature is not None else []
    if len(tensors) == 1 and tensors[0][1].ndim == 2 and tensors[0][0] not in names:
        name, array = tensors[0]
        if signature is not None and array.shape[1] != len(names):
            raise V2Error(
                f"Tensor {name!r} has {array.shape[1]} columns; the model takes {len(names)}: "
                f"{', '.join(names)} (in this order), or send one tensor per column named so."
            )
        keys = names or [f"x{j}" for j in range(array.shape[1])]
        return {k: _values(array[:, j]) for j, k in enumerate(keys)}, int(array.shape[0])
    out: dict[str, list[Any]] = {}
    rows: int | None = None
    for name, array in tensors:
        if array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        if array.ndim != 1:
            raise V2Error(
                f"Tensor {name!r} has shape {list(array.shape)}; a column tensor has shape [n] or "
                "[n, 1] (or send one [n, columns] tensor)."
            )
        if rows is not None and len(array) != rows:
            raise V2Error(
                f"Tensor {name!r} has {len(array)} rows; the tensors before it have {rows}."
            )
        rows = len(array)
        out[name] = _values(array)
    return out, rows or 0


def _tensor(tensor: Any, i: int, binary: bytes, offset: int) -> tuple[np.ndarray, int]:
    if not isinstance(tensor, dict):
        raise V2Error(f"inputs[{i}] must be an object {{name, shape, datatype, data}}.")
    name, shape, datatype = tensor.get("name"), tensor.get("shape"), tensor.get("datatype")
    if not isinstance(name, str) or not name:
        raise V2Error(f"inputs[{i}] needs a 'name'.")
    if (
        not isinstance(shape, list)
        or not all(isinstance(d, int) and d >= 0 for d in shape)
        or not shape
    ):
        raise V2Error(
            f"Tensor {name!r}: 'shape' must be a list of non-negative integers; got {shape!r}."
        )
    if datatype not in DTYPES:
        raise V2Error(
            f"Tensor {name!r}: unknown datatype {datatype!r}; use one of {', '.join(DTYPES)}."
        )
    count = int(np.prod(shape))
    params = tensor.get("parameters") or {}
    size = params.get("binary_data_size") if isinstance(params, dict) else None
    if size is not None:
        if not isinstance(size, int) or size < 0 or offset + size > len(binary):
            raise V2Error(
                f"Tensor {name!r}: binary_data_size {size!r} does not fit the {len(binary)} bytes sent."
            )
        array = _from_bytes(binary[offset : offset + size], datatype, count, name)
        offset += size
    else:
        if "data" not in tensor:
            raise V2Error(f"Tensor {name!r} has no 'data' (nor a binary_data_size).")
        flat = _flatten(tensor["data"])
        if len(flat) != count:
            raise V2Error(
                f"Tensor {name!r}: shape {shape} holds {count} values, but 'data' has {len(flat)}."
            )
        try:
            array = (
                np.array(flat, dtype=DTYPES[datatype])
                if datatype != "BYTES"
                else np.array(flat, dtype=object)
            )
        except (TypeError, ValueError, OverflowError) as exc:
            raise V2Error(f"Tensor {name!r}: the data are not {datatype}: {exc}.") from exc
        if datatype == "BYTES" and not all(isinstance(v, str) for v in flat):
            raise V2Error(f"Tensor {name!r}: BYTES data must be strings.")
    return array.reshape(shape), offset


def _flatten(data: Any) -> list[Any]:
    if not isinstance(data, list):
        raise V2Error("Tensor 'data' must be a list (flat, or nested as the shape).")
    if data and isinstance(data[0], list):
        out: list[Any] = []
        for part in data:
            out.extend(_flatten(part))
        return out
    if any(isinstance(v, list | dict) for v in data):
        raise V2Error("Tensor 'data' mixes nested lists and values.")
    return data


def _from_bytes(raw: bytes, datatype: str, count: int, name: str) -> np.ndarray:
    if datatype == "BYTES":
        values, pos = [], 0
        while pos < len(raw):
            if pos + 4 > len(raw):
                raise V2Error(f"Tensor {name!r}: a BYTES element's length is cut short.")
            (length,) = struct.unpack_from("<I", raw, pos)
            pos += 4
            if pos + length > len(raw):
                raise V2Error(f"Tensor {name!r}: a BYTES element runs past the data.")
            values.append(raw[pos : pos + length].decode("utf-8", "replace"))
            pos += length
        if len(values) != count:
            raise V2Error(
                f"Tensor {name!r}: its shape holds {count} values; the bytes hold {len(values)}."
            )
        return np.array(values, dtype=object)
    dtype = np.dtype(DTYPES[datatype])
    if len(raw) != count * dtype.itemsize:
        raise V2Error(
            f"Tensor {name!r}: shape holds {count} {datatype} values ({count * dtype.itemsize} "
            f"bytes); got {len(raw)} bytes."
        )
    return np.frombuffer(raw, dtype=dtype.newbyteorder("<"))


def _values(array: np.ndarray) -> list[Any]:
    if array.dtype.kind == "f":
        return [float(v) for v in array]
    return list(array.tolist())


def datatype_of(values: list[Any]) -> str:
    """Return the V2 datatype of a list of plain values."""
    kinds = {type(v) for v in values if v is not None}
    if kinds <= {bool}:
        return "BOOL"
    if kinds <= {int}:
        return "INT64"
    if kinds <= {int, float}:
        return "FP64"
    return "BYTES"


def response(
    *,
    model: str,
    version: str,
    request_id: str,
    outputs: dict[str, tuple[list[int], list[Any]]],
    requested: list[dict[str, Any]] | None,
) -> tuple[bytes, int | None]:
    """Return the response body (JSON, or JSON then binary tensors) and the JSON part's length."""
    chosen = list(outputs)
    binary_names: set[str] = set()
    if requested:
        chosen = []
        for item in requested:
            name = item.get("name") if isinstance(item, dict) else None
            if name not in outputs:
                raise V2Error(f"Unknown output {name!r}; this model returns {', '.join(outputs)}.")
            chosen.append(name)
            params = item.get("parameters") or {}
            if isinstance(params, dict) and params.get("binary_data"):
                binary_names.add(name)
    tensors, blobs = [], []
    for name in chosen:
        shape, data = outputs[name]
        flat = [v for row in data for v in row] if len(shape) == 2 else data
        kind = datatype_of(flat)
        entry: dict[str, Any] = {"name": name, "shape": shape, "datatype": kind}
        if name in binary_names:
            blob = _to_bytes(flat, kind)
            entry["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            entry["data"] = flat
        tensors.append(entry)
    head = orjson.dumps(
        {"model_name": model, "model_version": version, "id": request_id, "outputs": tensors}
    )
    if not blobs:
        return head, None
    return head + b"".join(blobs), len(head)


def _to_bytes(values: list[Any], datatype: str) -> bytes:
    if datatype == "BYTES":
        parts = []
        for v in values:
            raw = str(v).encode()
            parts.append(struct.pack("<I", len(raw)) + raw)
        return b"".join(parts)
    return (
        np.asarray(values, dtype=DTYPES[datatype])
        .astype(np.dtype(DTYPES[datatype]).newbyteorder("<"))
        .tobytes()
    )


def metadata(
    name: str, versions: list[str], signature: Signature | None, classes: list[Any] | None
) -> dict[str, Any]:
    """Return the V2 model metadata: inputs (one tensor per column) and outputs."""
    kinds = {"numeric": "FP64", "integer": "INT64", "boolean": "BOOL"}
    inputs = [
        {"name": c.name, "datatype": kinds.get(c.kind, "BYTES"), "shape": [-1]}
        for c in (signature.inputs if signature is not None else [])
    ]
    outputs: list[dict[str, Any]] = [{"name": "predict", "datatype": "BYTES", "shape": [-1]}]
    if classes:
        outputs[0]["datatype"] = datatype_of(list(classes))
        outputs.append({"name": "predict_proba", "datatype": "FP64", "shape": [-1, len(classes)]})
    elif signature is not None and signature.output.task == "regression":
        outputs[0]["datatype"] = "FP64"
    return {
        "name": name,
        "versions": versions,
        "platform": "steward",
        "inputs": inputs,
        "outputs": outputs,
    }
