"""The input of a batch-scoring job: one Parquet or CSV file, read in bounded chunks.

A job inspects the file once (:func:`inspect_input`: format, schema, row count, the
model's columns present) before anything is written, then streams it: whole, in chunks
of at most ``chunk_rows`` rows (:func:`iter_chunks`), or, on a Dask cluster, as
partitions that workers read on their own (:func:`parquet_partitions`,
:func:`csv_byte_ranges` with :func:`count_csv_rows`, and :func:`read_partition`).
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.csv as pv
import pyarrow.parquet as pq
from fsspec.utils import read_block

from steward.errors import InvalidInput, NotFound, did_you_mean
from steward.registry import Signature, SignatureError

FORMATS: dict[str, Literal["parquet", "csv", "tsv"]] = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".tsv": "tsv",
}
#: Bytes pyarrow parses at a time, and infers CSV column types from (the first block).
CSV_BLOCK_BYTES = 8 << 20
#: Bytes read to estimate a CSV file's bytes per row, which sizes its cluster partitions.
CSV_SAMPLE_BYTES = 1 << 20
# Parquet files are opened with pre_buffer=False: with pyarrow's default (True), a
# reader keeps every column chunk it has read until it is closed, so memory would grow
# with the file (870 MB at 3 million rows of 30 doubles, against 155 MB without).


@dataclass(frozen=True)
class InputFile:
    """What a job knows of its input before reading it: format, schema and size."""

    path: Path
    format: Literal["parquet", "csv", "tsv"]
    schema: pa.Schema
    rows: int | None  # known for Parquet (metadata); None for CSV until counted
    size: int
    row_groups: tuple[int, ...] = ()  # rows of each Parquet row group
    bytes_per_row: float = 0.0  # estimated from the first MB of a CSV file
    text_columns: tuple[str, ...] = ()  # CSV columns always read as text

    @property
    def name(self) -> str:
        """Return the file's name, as messages show it."""
        return self.path.name


@dataclass(frozen=True)
class Partition:
    """A share of the input that one cluster task scores: row groups, or a CSV byte range."""

    index: int
    first_row: int
    rows: int
    row_groups: tuple[int, ...] = ()
    offset: int = 0
    length: int = 0


def inspect_input(source: str | Path, signature: Signature | None) -> InputFile:
    """Return what the input file holds, after checking it has every column the model needs.

    Raises NotFound for a missing file and InvalidInput for an unknown file type, a file
    that cannot be parsed, or missing model columns (the error names them, the columns
    present and the closest match).
    """
    given = Path(source).expanduser()
    path = given.absolute()  # workers of a cluster do not share this process's folder
    if path.is_dir():
        raise InvalidInput(
            f"{str(given)!r} is a folder; give one Parquet (.parquet, .pq) or CSV (.csv, .tsv) "
            "file to score."
        )
    if not path.is_file():
        where = "" if given.is_absolute() else f" (looked from {Path.cwd()})"
        raise NotFound(f"Cannot score {str(given)!r}: no such file{where}.")
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise InvalidInput(
            f"Cannot score {path.name!r}: unknown file type {path.suffix or '(none)'!r}. Give a "
            f"file ending in {', '.join(FORMATS)}, or convert it to Parquet first."
        )
    size = path.stat().st_size
    if kind == "parquet":
        try:
            meta = pq.read_metadata(path)
        except (pa.ArrowException, OSError) as exc:
            raise InvalidInput(
                f"Cannot read {path.name!r} as Parquet: {exc}. Check that it is a Parquet file."
            ) from exc
        found = InputFile(
            path=path,
            format=kind,
            schema=meta.schema.to_arrow_schema(),
            rows=meta.num_rows,
            size=size,
            row_groups=tuple(meta.row_group(i).num_rows for i in range(meta.num_row_groups)),
        )
    else:
        found = _inspect_csv(path, kind, size, signature)
    check_columns(found, signature)
    return found


def _inspect_csv(
    path: Path, kind: Literal["csv", "tsv"], size: int, signature: Signature | None
) -> InputFile:
    # Categorical and text inputs are read as text: pyarrow would otherwise read a code
    # column such as "01", "02" as numbers, and the model saw strings in training.
    text = tuple(
        c.name for c in (signature.inputs if signature else []) if c.kind in {"categorical", "text"}
    )
    draft = InputFile(path=path, format=kind, schema=pa.schema([]), rows=None, size=size)
    try:
        with pv.open_csv(path, **_csv_options(draft, text)) as reader:
            schema = reader.schema
    except (pa.ArrowException, OSError) as exc:
        raise InvalidInput(
            f"Cannot read {path.name!r} as {kind.upper()}: {exc}. Check the file (a header row "
            "of column names, then one row per line)."
        ) from exc
    with path.open("rb") as fh:
        sample = fh.read(CSV_SAMPLE_BYTES)
    lines = max(1, sample.count(b"\n"))
    return InputFile(
        path=path,
        format=kind,
        schema=schema,
        rows=None,
        size=size,
        bytes_per_row=len(sample) / lines,
        text_columns=text,
    )


def check_columns(found: InputFile, signature: Signature | None) -> None:
    """Raise SignatureError when the file lacks a column of the model's signature."""
    if signature is None:
        return
    present = found.schema.names
    missing = [c for c in signature.inputs if c.name not in present]
    if not missing:
        return
    described = ", ".join(f"{c.name!r} ({c.kind})" for c in missing)
    expected = [c.name for c in signature.inputs]
    hint = did_you_mean(missing[0].name, [n for n in present if n not in expected])
    raise SignatureError(
        f"{found.name!r} lacks the model's input column(s) {described}. The model expects: "
        f"{', '.join(expected)}; the file has: {', '.join(present)}.{hint} "
        "Rename the file's columns to the model's names, or score a file that has them.",
        missing=[c.name for c in missing],
        present=present,
    )


def _csv_options(found: InputFile, text: Iterable[str] = ()) -> dict[str, object]:
    """Return the pyarrow CSV options a file is read with, locally and on workers alike."""
    types: dict[str, pa.DataType] = {name: pa.string() for name in text}
    types.update({f.name: f.type for f in found.schema})  # the inferred schema, once known
    return {
        "read_options": pv.ReadOptions(block_size=CSV_BLOCK_BYTES),
        "parse_options": pv.ParseOptions(delimiter="\t" if found.format == "tsv" else ","),
        "convert_options": pv.ConvertOptions(column_types=types, strings_can_be_null=True),
    }


def iter_chunks(found: InputFile, chunk_rows: int) -> Iterator[pa.Table]:
    """Yield the file's rows in order, as tables of ``chunk_rows`` rows (the last: fewer)."""
    if found.format == "parquet":
        with pq.ParquetFile(found.path, pre_buffer=False) as parquet:
            for batch in parquet.iter_batches(batch_size=chunk_rows, use_pandas_metadata=False):
                yield pa.Table.from_batches([batch])
        return
    with pv.open_csv(found.path, **_csv_options(found, found.text_columns)) as reader:
        yield from rebatch(_checked_batches(reader, found), chunk_rows)


def _checked_batches(reader: pv.CSVStreamingReader, found: InputFile) -> Iterator[pa.RecordBatch]:
    """Yield a CSV reader's batches, turning a parse error into one that says where and why."""
    rows = 0
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except pa.ArrowInvalid as exc:
            raise InvalidInput(
                f"Cannot read {found.name!r} beyond its first {rows} rows: {exc}. pyarrow takes "
                f"each column's type from the first {CSV_BLOCK_BYTES >> 20} MB; a later value "
                "of another type (text in a number column, say) stops the job. Fix those "
                "values, or convert the file to Parquet with explicit column types.",
                rows_read=rows,
            ) from exc
        rows += batch.num_rows
        yield batch


def rebatch(batches: Iterable[pa.RecordBatch], chunk_rows: int) -> Iterator[pa.Table]:
    """Yield the rows of ``batches`` regrouped into tables of ``chunk_rows`` rows (last: fewer)."""
    pending: list[pa.RecordBatch] = []
    held = 0
    for batch in batches:
        pending.append(batch)
        held += batch.num_rows
        if held < chunk_rows:
            continue
        table = pa.Table.from_batches(pending)
        start = 0
        while held - start >= chunk_rows:
            yield table.slice(start, chunk_rows)
            start += chunk_rows
        pending = table.slice(start).to_batches()
        held -= start
    if held:
        yield pa.Table.from_batches(pending)


def parquet_partitions(found: InputFile, chunk_rows: int) -> list[Partition]:
    """Return the Parquet file's partitions: consecutive row groups of at least ``chunk_rows``.

    A row group is never split, so a file written as one row group is one partition.
    """
    parts: list[Partition] = []
    groups: list[int] = []
    first = rows = 0
    for i, count in enumerate(found.row_groups):
        groups.append(i)
        rows += count
        if rows >= chunk_rows or i == len(found.row_groups) - 1:
            parts.append(Partition(len(parts), first, rows, row_groups=tuple(groups)))
            first, rows, groups = first + rows, 0, []
    return parts or [Partition(0, 0, 0)]


def csv_byte_ranges(found: InputFile, chunk_rows: int) -> list[tuple[int, int]]:
    """Return (offset, length) byte ranges of about ``chunk_rows`` rows each, covering the file.

    Each range is read from the first line that starts in it (see
    :func:`fsspec.utils.read_block`), as Dask's ``read_csv`` splits files.
    """
    length = max(1, int(chunk_rows * max(found.bytes_per_row, 1.0)))
    return [(offset, length) for offset in range(0, max(found.size, 1), length)]


def count_csv_rows(found: InputFile, offset: int, length: int) -> int:
    """Return the number of data rows (lines, less the header) in one byte range of a CSV file."""
    block = _read_csv_block(found, offset, length)
    lines = block.count(b"\n") + (1 if block and not block.endswith(b"\n") else 0)
    return lines - (1 if offset == 0 and lines else 0)


def read_partition(found: InputFile, part: Partition, chunk_rows: int) -> Iterator[pa.Table]:
    """Yield one partition's rows as tables of at most ``chunk_rows`` rows."""
    if found.format == "parquet":
        if not part.row_groups:
            return
        with _parquet(found) as parquet:
            yield from rebatch(
                parquet.iter_batches(
                    batch_size=chunk_rows,
                    row_groups=list(part.row_groups),
                    use_pandas_metadata=False,
                ),
                chunk_rows,
            )
        return
    block = _read_csv_block(found, part.offset, part.length)
    options = _csv_options(found)
    if part.offset:
        options["read_options"] = pv.ReadOptions(
            block_size=CSV_BLOCK_BYTES, column_names=found.schema.names
        )
    try:
        table = (
            pv.read_csv(pa.BufferReader(block), **options) if block else found.schema.empty_table()
        )
    except pa.ArrowInvalid as exc:
        raise InvalidInput(
            f"Cannot read rows {part.first_row}-{part.first_row + part.rows - 1} of "
            f"{found.name!r}: {exc}. Fix those values, or convert the file to Parquet with "
            "explicit column types.",
            first_row=part.first_row,
        ) from exc
    if table.num_rows != part.rows:
        raise InvalidInput(
            f"{found.name!r} cannot be split into partitions by lines: bytes {part.offset}-"
            f"{part.offset + len(block)} hold {part.rows} lines but {table.num_rows} rows "
            "(a quoted value spanning lines, or blank lines). Score it without a cluster, or "
            "convert it to Parquet first."
        )
    yield from rebatch(table.to_batches(), chunk_rows)


def _read_csv_block(found: InputFile, offset: int, length: int) -> bytes:
    try:
        with found.path.open("rb") as fh:
            block: bytes = read_block(fh, offset, length, delimiter=b"\n")
    except FileNotFoundError as exc:
        raise _not_here(found) from exc
    return block


def _parquet(found: InputFile) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(found.path, pre_buffer=False)
    except FileNotFoundError as exc:
        raise _not_here(found) from exc


def _not_here(found: InputFile) -> NotFound:
    """Return the error of a worker that cannot see the input file."""
    return NotFound(
        f"Cannot read {str(found.path)!r} on host {socket.gethostname()}: no such file there. "
        "On a cluster every worker reads the input itself: put it on storage that every "
        "worker sees at the same path (a shared file system)."
    )
