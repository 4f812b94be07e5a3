"""The request bodies of the serving routes as OpenAPI describes them.

The routes read their bodies raw (parsing them with pydantic would cost more than the
model), so their schemas are declared here for /docs and for clients and fuzzers.
"""

from __future__ import annotations

from typing import Any

JSON = "application/json"

PREDICT_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        JSON: {
            "schema": {
                "type": "object",
                "description": "Rows to score: 'records' or 'split' (MLflow's "
                "'dataframe_records' / 'dataframe_split' are accepted too).",
                "properties": {
                    "records": {
                        "type": "array",
                        "items": {"type": "object", "additionalProperties": True},
                        "minItems": 1,
                    },
                    "split": {
                        "type": "object",
                        "properties": {
                            "columns": {"type": "array", "items": {"type": "string"}},
                            "data": {"type": "array", "items": {"type": "array"}},
                        },
                        "required": ["columns", "data"],
                    },
                    "entity": {
                        "type": "string",
                        "description": "The caller's entity key: keeps an A/B split sticky.",
                    },
                },
            },
            "example": {"records": [{"age": 42, "plan": "gold"}]},
        }
    },
}
FEEDBACK_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        JSON: {
            "schema": {
                "oneOf": [
                    {"$ref": "#/components/schemas/Feedback"},
                    {"type": "array", "items": {"$ref": "#/components/schemas/Feedback"}},
                ]
            }
        }
    },
}
FEEDBACK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "request_id": {"type": "string", "description": "The id /predict answered with."},
        "label": {"description": "The ground truth for the request's (first) row."},
        "reward": {"type": "number", "minimum": 0, "maximum": 1},
    },
    "required": ["request_id"],
}
INFER_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        JSON: {
            "schema": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "inputs": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "name": {"type": "string"},
                                "shape": {"type": "array", "items": {"type": "integer"}},
                                "datatype": {"type": "string"},
                                "data": {"type": "array"},
                            },
                            "required": ["name", "shape", "datatype"],
                        },
                    },
                    "outputs": {"type": "array", "items": {"type": "object"}},
                },
                "required": ["inputs"],
            }
        }
    },
}
