"""Scoring chunks of rows and writing them as Parquet: the work of a job, local or on a worker.

One output row per input row: its position in the input (``row``), the input's columns
that are not model inputs (ids pass through), ``prediction``, a ``proba_<class>`` column
per class of a classifier, and ``model_version``.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from steward.errors import InvalidInput, StewardError
from steward.registry import LoadedModel

ROW, PREDICTION, VERSION, PROBA = "row", "prediction", "model_version", "proba_"
MAX_WARNINGS = 20


@dataclass
class WarningTally:
    """The distinct warnings a job raised, each with the number of chunks that raised it."""

    # message pattern (numbers blanked) -> [first message, category, chunks]
    seen: dict[str, list[Any]] = field(default_factory=dict)

    @contextmanager
    def recording(self) -> Iterator[None]:
        """Record the warnings raised in the block instead of showing them.

        Python's warning filters are process-wide: on a Dask worker running several
        threads, a warning may be recorded in another task's tally, or shown in its log.
        """
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
        for item in {(type(w.message), str(w.message)): w for w in caught}.values():
            self.add(str(item.message), item.category, 1)

    def add(self, message: str, category: type[Warning], chunks: int) -> None:
        """Count one more (or ``chunks`` more) chunks that raised this warning."""
        key = re.sub(r"\d+", "#", message)
        if key in self.seen:
            self.seen[key][2] += chunks
        elif len(self.seen) < MAX_WARNINGS:
            self.seen[key] = [message, category, chunks]

    def merge(self, other: WarningTally) -> None:
        """Add another tally's warnings (a worker's) to this one."""
        for message, category, chunks in other.seen.values():
            self.add(message, category, chunks)

    def messages(self) -> list[str]:
        """Return each distinct warning, with how many chunks raised it when more than one."""
        return [
            message + (f" (in {chunks} chunks)" if chunks > 1 else "")
            for message, _, chunks in self.seen.values()
        ]

    def emit(self) -> None:
        """Show each distinct warning once, with its own category."""
        for text, (_, category, _) in zip(self.messages(), self.seen.values(), strict=True):
            warnings.warn(text, category, stacklevel=3)


@dataclass
class Scored:
    """What a job did: rows scored, chunks (or partitions), model loads per worker, warnings."""

    rows: int
    partitions: int
    loads: dict[str, int]
    tally: WarningTally


class Scorer:
    """Turns chunks of input rows into output tables, for one loaded model and input schema."""

    def __init__(self, model: LoadedModel, schema: pa.Schema, label: str, source: str) -> None:
        self.model = model
        self.label = label
        self.source = source
        self.schema = schema
        signature = model.signature
        self.inputs = [c.name for c in signature.inputs] if signature else list(schema.names)
        model_inputs = set(self.inputs)
        self.passthrough = [n for n in schema.names if n not in model_inputs]
        self.classes = _classes(model)
        self.tally = WarningTally()
        self._check_names()

    @property
    def outputs(self) -> list[str]:
        """Return the names of the columns the model adds to each row."""
        proba = [f"{PROBA}{c}" for c in self.classes or []]
        return [PREDICTION, *proba, VERSION]

    def _check_names(self) -> None:
        taken = [n for n in self.passthrough if n in {ROW, *self.outputs}]
        if taken:
            raise InvalidInput(
                f"The input has column(s) {', '.join(map(repr, taken))}, which the output "
                f"writes itself ({ROW}, {', '.join(self.outputs)}). Rename them in the input."
            )

    def score(self, chunk: pa.Table, first_row: int) -> pa.Table:
        """Return the output rows of one chunk whose first row is input row ``first_row``."""
        rows = chunk.num_rows
        frame = chunk.select(self.inputs).replace_schema_metadata(None).to_pandas()
        try:
            with self.tally.recording():
                prediction = _column(self.model.predict(frame))
                proba = (
                    np.asarray(self.model.predict_proba(frame), dtype=float)
                    if self.classes is not None
                    else None
                )
        except StewardError as exc:
            raise type(exc)(
                f"Rows {first_row}-{first_row + rows - 1} of {self.source!r}: {exc.message}",
                **exc.details,
            ) from exc
        except MemoryError:
            raise
        except Exception as exc:  # the model's own error, e.g. a category it refuses
            raise InvalidInput(
                f"The model failed on rows {first_row}-{first_row + rows - 1} of "
                f"{self.source!r}: {type(exc).__name__}: {exc}. Check those rows against the "
                "model's signature (steward models show).",
                first_row=first_row,
            ) from exc
        columns: dict[str, Any] = {ROW: pa.array(np.arange(first_row, first_row + rows))}
        columns.update({name: chunk.column(name) for name in self.passthrough})
        columns[PREDICTION] = prediction
        if proba is not None:
            assert self.classes is not None
            if proba.shape != (rows, len(self.classes)):
                raise InvalidInput(
                    f"The model's predict_proba returned shape {proba.shape} for {rows} rows; "
                    f"its signature lists {len(self.classes)} classes. Log the model again."
                )
            for i, cls in enumerate(self.classes):
                columns[f"{PROBA}{cls}"] = pa.array(proba[:, i])
        columns[VERSION] = pa.repeat(pa.scalar(self.label, pa.string()), rows)
        return pa.table(columns)

    def empty(self) -> pa.Table:
        """Return the output of no rows, with the columns and types a job writes."""
        fields = [pa.field(ROW, pa.int64())]
        fields += [self.schema.field(name) for name in self.passthrough]
        fields.append(pa.field(PREDICTION, self._prediction_type()))
        fields += [pa.field(f"{PROBA}{c}", pa.float64()) for c in self.classes or []]
        fields.append(pa.field(VERSION, pa.string()))
        return pa.schema(fields).empty_table()

    def _prediction_type(self) -> pa.DataType:
        """Return the type of the predictions, as the signature records them."""
        signature = self.model.signature
        try:
            dtype = (
                np.dtype(signature.output.dtype) if signature and signature.output.dtype else None
            )
        except TypeError:  # a pandas dtype name numpy does not know
            dtype = None
        if dtype is not None and dtype.kind in "biuf":
            return pa.from_numpy_dtype(dtype)
        if (dtype is not None and dtype.kind in "OUS") or any(
            isinstance(c, str) for c in self.classes or []
        ):
            return pa.string()
        return pa.float64()


def _classes(model: LoadedModel) -> list[Any] | None:
    """Return a classifier's classes (predict_proba's columns), or None for other models."""
    if "predict_proba" not in model.manifest.methods:
        return None
    signature = model.signature
    if signature is not None and signature.output.task not in {"classification", "other"}:
        return None
    classes = model.classes or getattr(model.raw, "classes_", None)
    return [c.item() if hasattr(c, "item") else c for c in classes] if classes is not None else None


def _column(values: Any) -> pa.Array:
    """Return predictions as one Arrow column (a 2-D array of one column is flattened)."""
    array = np.asarray(values)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise InvalidInput(
            f"The model returns {array.shape[1:]} values per row; batch scoring writes one "
            "prediction per row. Wrap the model so that predict returns one value a row."
        )
    try:
        return pa.array(array)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InvalidInput(
            f"The model's predictions cannot be stored in Parquet ({exc}). Make predict return "
            "numbers, booleans or text."
        ) from exc


def write_scored(
    scorer: Scorer,
    chunks: Iterable[pa.Table],
    path: Path,
    *,
    first_row: int = 0,
    on_chunk: Callable[[int], None] | None = None,
) -> int:
    """Return the number of rows scored after writing every chunk's output to ``path``.

    The chunks are written as they come (one chunk in memory at a time); a file of no
    rows still gets the output's columns.
    """
    writer: pq.ParquetWriter | None = None
    schema: pa.Schema | None = None
    rows = 0
    try:
        for chunk in chunks:
            table = scorer.score(chunk, first_row + rows)
            if writer is None:
                schema = table.schema
                writer = _writer(path, schema)
            elif not table.schema.equals(schema):
                table = _conform(table, schema, first_row + rows)
            writer.write_table(table)
            rows += table.num_rows
            if on_chunk is not None:
                on_chunk(table.num_rows)
        if writer is None:
            empty = scorer.empty()
            writer = _writer(path, empty.schema)
            writer.write_table(empty)
    finally:
        if writer is not None:
            writer.close()
    return rows


def _writer(path: Path, schema: pa.Schema) -> pq.ParquetWriter:
    """Return a Parquet writer; ``row`` and the probabilities skip dictionary encoding.

    Row positions are unique and probabilities continuous: a dictionary would only cost
    time (about half the writing time) and space.
    """
    plain = {ROW, *(n for n in schema.names if n.startswith(PROBA))}
    return pq.ParquetWriter(
        path, schema, use_dictionary=[n for n in schema.names if n not in plain]
    )


def _conform(table: pa.Table, schema: pa.Schema, first_row: int) -> pa.Table:
    try:
        return table.cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InvalidInput(
            f"The output of the rows from {first_row} on has types {table.schema.types} where "
            f"the earlier rows had {schema.types} ({exc}). Make the input's column types the "
            "same throughout the file."
        ) from exc
