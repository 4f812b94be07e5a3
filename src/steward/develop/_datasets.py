"""register_dataset / load_dataset: content-hashed, profiled, verified dataset versions."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from steward.context import get_backend, run_target
from steward.data import content_hash, read_dataset, read_table
from steward.develop._hooks import dataset_registered
from steward.develop._models import ColumnSchema, DatasetVersion, DatasetVersionSpec
from steward.develop._profile import profile_frame
from steward.develop._retention import check_retention
from steward.errors import InvalidInput, did_you_mean
from steward.validation import check_name


def _to_arrow(frame: pd.DataFrame) -> pa.Table:
    frame = frame.copy()
    frame.columns = [str(c) for c in frame.columns]
    if frame.columns.duplicated().any():
        dupes = sorted(set(frame.columns[frame.columns.duplicated()]))
        raise InvalidInput(f"Column names must be unique; these repeat: {', '.join(dupes)}.")
    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InvalidInput(
            f"Cannot store this data: {exc}. A column probably mixes types (e.g. numbers and "
            "text); convert it with df[col].astype(str) or clean it first."
        ) from exc


def _parquet_bytes(table: pa.Table) -> bytes:
    out = io.BytesIO()
    pq.write_table(table, out, compression="zstd")
    return out.getvalue()


def register_dataset(
    data: pd.DataFrame | str | Path,
    name: str,
    *,
    source: str = "",
    terms_of_use: str = "",
    description: str = "",
    sensitive_columns: Sequence[str] = (),
    retention: str = "",
) -> DatasetVersion:
    """Return the version of dataset ``name`` holding this content (new, or the same one).

    ``data`` is a DataFrame or a CSV/TSV/Parquet/JSON/Feather file. Registering the same
    content again returns the same version. ``sensitive_columns`` (sex, age, ...) are
    recorded so later analyses can use them for subgroups and flag models that use them.
    ``retention`` says how long the data may be kept: "delete after 2027-12-31", "3 years"
    (after registration), "P18M" or "keep indefinitely". The hooks added with
    :func:`add_dataset_hook` (governance's scan for personal data) then see the data.
    """
    check_name(name, "dataset")
    retention = check_retention(retention)
    if isinstance(data, str | Path):
        source = source or str(Path(data).resolve())
        frame = read_table(data)
    elif isinstance(data, pd.DataFrame):
        frame = data
    else:
        raise InvalidInput(
            f"register_dataset takes a pandas DataFrame or a file path; got {type(data).__name__}."
        )
    columns = [str(c) for c in frame.columns]
    for col in sensitive_columns:
        if col not in columns:
            raise InvalidInput(
                f"Sensitive column {col!r} is not in the data.{did_you_mean(col, columns)} "
                f"Columns are: {', '.join(columns)}."
            )
    stored = pq.read_table(io.BytesIO(payload := _parquet_bytes(_to_arrow(frame))))
    backend = get_backend()
    blob_sha, _ = backend.blobs.put_bytes(payload)
    spec = DatasetVersionSpec(
        dataset=name,
        content_hash=content_hash(stored),
        blob_sha256=blob_sha,
        row_count=len(frame),
        columns=[
            ColumnSchema(
                name=str(c), dtype=str(frame[c].dtype), nullable=bool(frame[c].isna().any())
            )
            for c in frame.columns
        ],
        profile=profile_frame(frame),
        source=source,
        terms_of_use=terms_of_use,
        description=description,
        sensitive_columns=list(sensitive_columns),
        retention=retention,
    )
    version = backend.create_dataset_version(spec)
    dataset_registered(version, frame)
    return version


def get_dataset(name: str, version: int = 0) -> DatasetVersion:
    """Return version ``version`` of dataset ``name`` (0: the latest)."""
    return get_backend().get_dataset_version(name, version)


def load_dataset(name: str, version: int = 0) -> pd.DataFrame:
    """Return the data of a dataset version, after verifying it against its content hash."""
    return read_dataset(name, version)


def log_input(
    dataset: DatasetVersion | str,
    version: int = 0,
    *,
    context: str = "training",
    run_id: str | None = None,
) -> DatasetVersion:
    """Record that the active run read a dataset version; return that version."""
    backend, rid = run_target(run_id)
    meta = (
        dataset
        if isinstance(dataset, DatasetVersion)
        else backend.get_dataset_version(dataset, version)
    )
    backend.log_input(rid, meta.id, context)
    return meta
