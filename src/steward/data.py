"""Reading tables: data files of any common format, and verified dataset versions.

Every stage reads data (training sets, evaluation sets, files to score), so reading is
here, below the stages; registering a dataset (profiles, lineage) is the develop stage's.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from steward.context import get_backend
from steward.errors import IntegrityError, InvalidInput, NotFound

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


def content_hash(table: pa.Table) -> str:
    """Return the sha256 of a table's schema and values (independent of file metadata)."""
    table = table.replace_schema_metadata(None)
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return hashlib.sha256(sink.getvalue()).hexdigest()


def read_dataset(name: str, version: int = 0) -> pd.DataFrame:
    """Return the data of a dataset version, after verifying it against its content hash."""
    backend = get_backend()
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


def as_frame(data: object, *, what: str = "The data") -> pd.DataFrame:
    """Return ``data`` as a DataFrame.

    ``data`` is a DataFrame; a data file (a ``Path``, or a string naming a file that
    exists: CSV, TSV, Parquet, JSON(L), Feather); a dataset name (``"credit"``,
    ``"credit@3"``); or a dataset version record (anything with ``dataset`` and ``version``).
    """
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, Path) or (isinstance(data, str) and Path(data).is_file()):
        return read_table(data)
    if isinstance(data, str):
        name, _, version = data.partition("@")
        number = version.lstrip("v")
        if version and version != "latest" and not number.isdigit():
            raise InvalidInput(
                f"{what} names dataset {data!r}, whose version {version!r} is not a number; "
                "write 'name', 'name@latest' or 'name@3' (or give a file that exists)."
            )
        try:
            return read_dataset(name, int(number) if version and version != "latest" else 0)
        except NotFound as exc:
            if Path(data).suffix.lower() in READERS:
                raise NotFound(
                    f"{what} names {data!r}: there is no such file (from {Path.cwd()}), nor a "
                    "dataset of that name. Check the path."
                ) from exc
            raise
    dataset, number_given = getattr(data, "dataset", None), getattr(data, "version", None)
    if isinstance(dataset, str) and isinstance(number_given, int):
        return read_dataset(dataset, number_given)
    raise InvalidInput(
        f"{what} must be a DataFrame, a data file or a dataset name ('credit' or 'credit@2'); "
        f"got {type(data).__name__}."
    )
