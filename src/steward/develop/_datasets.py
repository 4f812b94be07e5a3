"""register_dataset / load_dataset: content-hashed, profiled, verified dataset versions."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from steward import _backend
from steward.develop._fluent import _target
from steward.develop._models import ColumnSchema, DatasetVersion, DatasetVersionSpec
from steward.develop._profile import profile_frame
from steward.develop._validate import check_name
from steward.errors import IntegrityError, InvalidInput, NotFound, did_you_mean

READERS = {
    ".csv": lambda p: pd.read_csv(p),
    ".tsv": lambda p: pd.read_csv(p, sep="\t"),
    ".parquet": lambda p: pd.read_parquet(p),
    ".pq": lambda p: pd.read_parquet(p),
    ".json": lambda p: pd.read_json(p),
    ".jsonl": lambda p: pd.read_json(p, lines=True),
    ".feather": lambda p: pd.read_feather(p),
}


def read_table(path: str | Path) -> pd.DataFrame:
    """Return the table in a CSV, TSV, Parquet, JSON(L) or Feather file."""
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"Cannot read dataset file {str(path)!r}: no such file.")
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise InvalidInput(
            f"Cannot read {path.name!r}: unknown file type {path.suffix or '(none)'!r}. "
            f"Use one of {', '.join(sorted(READERS))}, or pass a pandas DataFrame."
        )
    try:
        frame = reader(path)
    except Exception as exc:
        raise InvalidInput(
            f"Cannot parse {str(path)!r} as {path.suffix.lstrip('.').upper()}: {exc}. "
            "Check the file's format, or load it with pandas and pass the DataFrame."
        ) from exc
    if not isinstance(frame, pd.DataFrame) or frame.shape[1] == 0:
        raise InvalidInput(f"{str(path)!r} holds no columns; a dataset needs at least one.")
    return frame


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


def content_hash(table: pa.Table) -> str:
    """Return the sha256 of a table's schema and values (independent of file metadata)."""
    table = table.replace_schema_metadata(None)
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return hashlib.sha256(sink.getvalue()).hexdigest()


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
) -> DatasetVersion:
    """Return the version of dataset ``name`` holding this content (new, or the same one).

    ``data`` is a DataFrame or a CSV/TSV/Parquet/JSON/Feather file. Registering the same
    content again returns the same version. ``sensitive_columns`` (sex, age, ...) are
    recorded so later analyses can use them for subgroups and flag models that use them.
    """
    check_name(name, "dataset")
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
    backend = _backend.get_backend()
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
    )
    return backend.create_dataset_version(spec)


def get_dataset(name: str, version: int = 0) -> DatasetVersion:
    """Return version ``version`` of dataset ``name`` (0: the latest)."""
    return _backend.get_backend().get_dataset_version(name, version)


def load_dataset(name: str, version: int = 0) -> pd.DataFrame:
    """Return the data of a dataset version, after verifying it against its content hash."""
    backend = _backend.get_backend()
    meta = backend.get_dataset_version(name, version)
    table = pq.read_table(io.BytesIO(backend.blobs.read_bytes(meta.blob_sha256)))
    actual = content_hash(table)
    if actual != meta.content_hash:
        raise IntegrityError(
            f"Dataset {name!r} version {meta.version} hashes to {actual}, not the recorded "
            f"{meta.content_hash}: its stored data was altered. Steward will not return it."
        )
    frame: pd.DataFrame = table.to_pandas()
    return frame


def log_input(
    dataset: DatasetVersion | str,
    version: int = 0,
    *,
    context: str = "training",
    run_id: str | None = None,
) -> DatasetVersion:
    """Record that the active run read a dataset version; return that version."""
    backend, rid = _target(run_id)
    meta = (
        dataset
        if isinstance(dataset, DatasetVersion)
        else backend.get_dataset_version(dataset, version)
    )
    backend.log_input(rid, meta.id, context)
    return meta
