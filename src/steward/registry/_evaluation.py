"""Which data to evaluate a model version on: given, recorded, or sampled from its signature.

Exports check parity on it and model cards explain and evaluate the model on it; both
ask here. The order: the data the caller gives (a DataFrame, a dataset name or a file);
else the dataset versions the version's run read (evaluation first, then training); else
the input example logged with the model plus rows sampled within the ranges and
categories its signature recorded. The last has no outcomes, so it serves parity and
explanations, never accuracy: :attr:`EvaluationData.labeled` says which is which.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from pandas.api.types import pandas_dtype

from steward.context import get_backend
from steward.data import as_frame
from steward.errors import InvalidInput
from steward.registry._models import ColumnSpec, ModelVersion, Signature

EXAMPLE_FILE = "input_example.json"
SAMPLE_ROWS = 1000


@dataclass(frozen=True)
class EvaluationData:
    """Data to evaluate a version on, where it came from, and in words for reports."""

    frame: pd.DataFrame
    source: Literal["given", "dataset", "sample"]
    description: str

    @property
    def labeled(self) -> bool:
        """Return True when the data is real (it may hold outcomes); False for sampled rows."""
        return self.source != "sample"


def evaluation_data(
    version: ModelVersion,
    data: Any = None,
    *,
    purpose: str,
    rows: int = SAMPLE_ROWS,
    seed: int = 0,
) -> EvaluationData:
    """Return the data to ``purpose`` for a model version, and where it came from.

    ``data`` (a DataFrame, a dataset name such as ``"credit@3"``, or a data file) wins;
    else the evaluation dataset the version's run read, else its training dataset; else
    the logged input example plus rows sampled within the signature (``rows`` in all,
    reproducible with ``seed``).
    """
    if data is not None:
        frame = as_frame(data, what=f"The data to {purpose}")
        described = "the given data" if isinstance(data, pd.DataFrame) else str(data)
        return EvaluationData(frame, "given", described)
    refs = sorted(version.manifest.datasets, key=lambda d: d.context != "evaluation")
    if refs:
        ref = refs[0]
        frame = as_frame(f"{ref.dataset}@{ref.version}")
        return EvaluationData(frame, "dataset", f"{ref.dataset}@{ref.version} ({ref.context})")
    signature = version.manifest.signature
    example = input_example(version)
    if signature is None and example is None:
        raise InvalidInput(
            f"Version {version.version} of {version.model!r} has no data to {purpose}: its run "
            "logged no dataset, and the model has neither a signature nor an input example. "
            "Pass data= (a DataFrame, a dataset name or a file), or log the model with "
            "input_example=."
        )
    if signature is None:
        assert example is not None
        return EvaluationData(
            example, "sample", f"the model's input example ({len(example)} rows; no signature)"
        )
    frame = sample_within_signature(signature, example, rows=rows, seed=seed)
    shown = 0 if example is None else min(len(example), rows)
    parts = [f"the model's input example ({shown} rows)"] if shown else []
    if len(frame) > shown:
        parts.append(
            f"{len(frame) - shown} rows sampled within the signature's recorded ranges "
            "and categories"
        )
    return EvaluationData(frame, "sample", " and ".join(parts))


def input_example(version: ModelVersion) -> pd.DataFrame | None:
    """Return the input example logged with the version's package, typed as its signature."""
    file = next((f for f in version.files if f.path == EXAMPLE_FILE), None)
    if file is None:
        return None
    records = json.loads(get_backend().blobs.read_bytes(file.sha256))
    frame = pd.read_json(io.StringIO(json.dumps(records)), orient="records")
    signature = version.manifest.signature
    if signature is not None:
        names = [c.name for c in signature.inputs]
        if all(n in frame.columns for n in names):
            frame = _typed(frame[names], signature)
    return frame


def sample_within_signature(
    signature: Signature, example: pd.DataFrame | None, *, rows: int, seed: int = 0
) -> pd.DataFrame:
    """Return ``rows`` rows: the example's first, then values drawn within each column's spec.

    Numbers are uniform between the recorded min and max (integers stay integers),
    categories and booleans uniform over those seen; dates and free text repeat the
    example's values. Reproducible for a given ``seed``.
    """
    rng = np.random.default_rng(seed)
    head = example.head(rows) if example is not None else None
    n = rows - (0 if head is None else len(head))
    columns: dict[str, Any] = {}
    for spec in signature.inputs:
        columns[spec.name] = _draw(spec, n, rng, None if head is None else head.get(spec.name))
    drawn = _typed(pd.DataFrame(columns, index=range(n)), signature)
    if head is None:
        return drawn
    return pd.concat([head, drawn], ignore_index=True)


def _draw(spec: ColumnSpec, n: int, rng: np.random.Generator, seen: Any) -> Any:
    if spec.kind in ("numeric", "integer") and spec.min is not None and spec.max is not None:
        if spec.kind == "integer":
            return rng.integers(int(spec.min), int(spec.max) + 1, size=n)
        return rng.uniform(spec.min, spec.max, size=n)
    if spec.kind == "boolean":
        return rng.integers(0, 2, size=n).astype(bool)
    if spec.kind == "categorical" and spec.categories:
        return rng.choice(np.asarray(spec.categories, dtype=object), size=n)
    if seen is not None and len(seen.dropna()):
        return rng.choice(seen.dropna().to_numpy(), size=n)
    raise InvalidInput(
        f"Cannot sample column {spec.name!r} ({spec.kind}): its signature records no range or "
        "categories and the model has no input example. Pass data= with real rows."
    )


def _typed(frame: pd.DataFrame, signature: Signature) -> pd.DataFrame:
    """Return the frame with each column cast to the dtype the signature recorded."""
    out = frame.copy()
    for spec in signature.inputs:
        if spec.name not in out.columns:
            continue
        try:
            if spec.kind == "categorical" and spec.categories:
                if spec.dtype == "category":
                    out[spec.name] = pd.Categorical(out[spec.name].astype(str), spec.categories)
                else:
                    out[spec.name] = out[spec.name].astype(str).astype(pandas_dtype(spec.dtype))
            elif spec.kind == "datetime":
                out[spec.name] = pd.to_datetime(out[spec.name])
            else:
                out[spec.name] = out[spec.name].astype(pandas_dtype(spec.dtype))
        except (TypeError, ValueError):
            continue  # leave the column as read: the signature check names what is wrong
    return out
