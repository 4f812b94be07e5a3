"""Tables read a chunk at a time: DataFrames, Arrow tables and batches, Parquet files and
folders, or any iterable of those, so a profile of any size is built in bounded memory.

Each chunk stays in the form it came in (a pandas slice is a view; an Arrow batch is what
pyarrow decoded); :func:`numeric_values` and :func:`arrow_values` read one column of it as
the accumulators need it, without converting the rest of the chunk.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa

from steward.errors import InvalidInput, NotFound

Chunk: TypeAlias = pd.DataFrame | pa.Table | pa.RecordBatch
Source: TypeAlias = (
    pd.DataFrame | pa.Table | pa.RecordBatch | str | os.PathLike[str] | Iterable[Chunk]
)
Kind: TypeAlias = Literal["numeric", "categorical", "boolean", "text", "datetime"]

DEFAULT_CHUNK_ROWS = 250_000


def describe(data: Any) -> str:
    """Return a short description of a data source for reports ("a DataFrame", a path)."""
    if isinstance(data, pd.DataFrame):
        return "a DataFrame"
    if isinstance(data, pa.Table | pa.RecordBatch):
        return "an Arrow table"
    if isinstance(data, str | os.PathLike):
        return f"Parquet {os.fspath(data)}"
    return f"a {type(data).__name__}"


def iter_chunks(
    data: Source, *, chunk_rows: int = DEFAULT_CHUNK_ROWS, columns: Sequence[str] | None = None
) -> Iterator[Chunk]:
    """Yield ``data`` as chunks of at most ``chunk_rows`` rows (only ``columns``, if given)."""
    if chunk_rows < 1:
        raise InvalidInput(f"chunk_rows must be at least 1; got {chunk_rows}.")
    if isinstance(data, pd.DataFrame):
        if not all(isinstance(c, str) for c in data.columns):
            data = data.rename(columns=str)  # columns are named as text, as signatures do
        frame = data if columns is None else data[list(columns)]
        for start in range(0, len(frame), chunk_rows):
            yield frame.iloc[start : start + chunk_rows]
        return
    if isinstance(data, pa.Table | pa.RecordBatch):
        table = data if columns is None else data.select(list(columns))
        for start in range(0, table.num_rows, chunk_rows):
            yield table.slice(start, chunk_rows)
        return
    if isinstance(data, str | os.PathLike):
        yield from _parquet_chunks(Path(data), chunk_rows, columns)
        return
    if isinstance(data, Iterable):
        for i, part in enumerate(data):
            if not isinstance(part, pd.DataFrame | pa.Table | pa.RecordBatch):
                raise InvalidInput(
                    f"Chunk {i} of the data is a {type(part).__name__}; an iterable of chunks "
                    "must hold pandas DataFrames, Arrow tables or record batches."
                )
            yield from iter_chunks(part, chunk_rows=chunk_rows, columns=columns)
        return
    raise InvalidInput(
        f"Cannot read data from a {type(data).__name__}: give a pandas DataFrame, an Arrow "
        "table, a Parquet file or folder, or an iterable of DataFrames or Arrow batches."
    )


def parquet_columns(path: str | os.PathLike[str]) -> list[str]:
    """Return the column names of a Parquet file or folder (from its schemas, no data read)."""
    names: dict[str, None] = {}
    for file in _parquet_files(Path(path)):
        names.update(dict.fromkeys(_open(file).schema_arrow.names))
    return list(names)


def _parquet_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.exists():
        raise NotFound(f"No Parquet file or folder at {str(path)!r}; check the path.")
    files = sorted(p for p in path.rglob("*.parquet") if p.is_file())
    if not files:
        raise InvalidInput(
            f"The folder {str(path)!r} holds no .parquet file; give a Parquet file or a folder "
            "of them."
        )
    return files


def _open(file: Path) -> Any:
    import pyarrow.parquet as pq

    try:
        # No pre-buffering: a pre-buffering reader keeps every column chunk it read until
        # it is closed (benchmarks/README.md, bench_batch).
        return pq.ParquetFile(file, pre_buffer=False)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidInput(
            f"Cannot read {str(file)!r} as Parquet: {exc}. A truncated or corrupt file cannot "
            "be read; remove or repair it and try again."
        ) from exc


def _parquet_chunks(path: Path, chunk_rows: int, columns: Sequence[str] | None) -> Iterator[Chunk]:
    """Yield the batches of each file in turn, the columns a file lacks as nulls.

    One file and one row group at a time, read when asked for: pyarrow.dataset's scanner
    reads ahead of a slower consumer without bound (1.4 GB over 10 million rows here).
    """
    files = _parquet_files(path)
    wanted = list(columns) if columns is not None else parquet_columns(path)
    present = set(parquet_columns(path)) if columns is not None else set(wanted)
    missing = [c for c in wanted if c not in present]
    if missing:
        raise InvalidInput(
            f"The Parquet data at {str(path)!r} has no column {missing[0]!r}; its columns are "
            f"{', '.join(sorted(present))}."
        )
    for file in files:
        reader = _open(file)
        names = set(reader.schema_arrow.names)
        here = [c for c in wanted if c in names]
        try:
            for batch in reader.iter_batches(batch_size=chunk_rows, columns=here):
                if not batch.num_rows:
                    continue
                if len(here) < len(wanted):
                    arrays = {c: batch.column(c) for c in here}
                    batch = pa.table({c: arrays.get(c, pa.nulls(batch.num_rows)) for c in wanted})
                yield batch
        except (pa.ArrowInvalid, OSError) as exc:
            raise InvalidInput(
                f"Cannot read the Parquet file {str(file)!r}: {exc}. A truncated or corrupt "
                "file cannot be profiled; remove or repair it and try again."
            ) from exc


def columns_of(chunk: Chunk) -> list[str]:
    """Return a chunk's column names as strings."""
    if isinstance(chunk, pd.DataFrame):
        return [str(c) for c in chunk.columns]
    return list(chunk.schema.names)


def rows_of(chunk: Chunk) -> int:
    """Return a chunk's number of rows."""
    return len(chunk) if isinstance(chunk, pd.DataFrame) else int(chunk.num_rows)


def kind_of(chunk: Chunk, name: str) -> Kind:
    """Return the profile kind a column's type suggests (when no signature says)."""
    if isinstance(chunk, pd.DataFrame):
        series = chunk[name]
        if pd.api.types.is_bool_dtype(series.dtype):
            return "boolean"
        if pd.api.types.is_numeric_dtype(series.dtype):
            return "numeric"
        if pd.api.types.is_datetime64_any_dtype(series.dtype):
            return "datetime"
        return "categorical"
    kind = chunk.schema.field(name).type
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if pa.types.is_boolean(kind):
        return "boolean"
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return "numeric"
    if pa.types.is_temporal(kind):
        return "datetime"
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind):
        return "categorical"
    return "text"


def dtype_of(chunk: Chunk, name: str) -> str:
    """Return a column's type as text (pandas dtype or Arrow type)."""
    if isinstance(chunk, pd.DataFrame):
        return str(chunk[name].dtype)
    return str(chunk.schema.field(name).type)


def numeric_values(chunk: Chunk, name: str) -> np.ndarray:
    """Return a column as float64 (missing values as NaN); a view when it already is one."""
    if isinstance(chunk, pd.DataFrame):
        series = chunk[name]
        if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
            return np.asarray(series.to_numpy(dtype=np.float64, na_value=np.nan))
        values = pd.to_numeric(series, errors="coerce")
        return np.asarray(values.to_numpy(dtype=np.float64, na_value=np.nan))
    column = chunk.column(name)
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)):
        import pyarrow.compute as pc

        try:
            column = pc.cast(column, pa.float64(), safe=False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return numeric_values(pa.table({name: column}).to_pandas(), name)
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)


def arrow_values(chunk: Chunk, name: str) -> pa.Array:
    """Return a column as one Arrow array (nulls for missing values, NaN included)."""
    if isinstance(chunk, pd.DataFrame):
        series = chunk[name]
        try:
            array = pa.Array.from_pandas(series)
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types: compare as text
            text = [None if _missing(v) else str(v) for v in series.tolist()]
            return pa.array(text, pa.string())
        # an Arrow-backed column read from Parquet comes back in its chunks
        return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    column = chunk.column(name)
    if isinstance(column, pa.ChunkedArray):
        return column.combine_chunks()
    return column


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # array-like cells are values, not missing
        return False


def to_pandas(chunk: Chunk) -> pd.DataFrame:
    """Return a chunk as a DataFrame (for a model's predict)."""
    return chunk if isinstance(chunk, pd.DataFrame) else chunk.to_pandas()
