"""A uniform random sample of rows kept while a table streams by, and merged across tables.

Written here because no library keeps a *mergeable* row sample of Arrow/pandas chunks:
datasketches' ``var_opt_sketch`` samples Python objects one call per item (seconds per
million rows). This is bottom-k sampling: every row draws a uniform key and the sample is
the ``size`` rows with the smallest keys. That is a uniform sample without replacement of
all rows seen, and two samples merge by keeping the smallest keys of both, so a profile
built chunk by chunk (or merged from two profiles) samples as one built in one go would.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from steward.monitor._chunks import Chunk

KEY = "__key"


class BottomK:
    """The ``size`` rows with the smallest random keys among every row given so far."""

    def __init__(self, size: int, rng: np.random.Generator) -> None:
        self.size = size
        self.rng = rng
        self.parts: list[pa.Table] = []
        self.held = 0
        self.threshold = 1.0  # a row whose key is at or above it can never be kept

    def update(self, chunk: Chunk, columns: list[str]) -> None:
        """Offer every row of ``chunk`` (its ``columns``) to the sample."""
        if self.size <= 0:
            return
        n = len(chunk) if isinstance(chunk, pd.DataFrame) else chunk.num_rows
        keys = self.rng.random(n)
        chosen = np.flatnonzero(keys < self.threshold)
        if len(chosen) > self.size:
            chosen = chosen[np.argpartition(keys[chosen], self.size - 1)[: self.size]]
        if len(chosen) == 0:
            return
        if isinstance(chunk, pd.DataFrame):
            rows = pa.Table.from_pandas(chunk[columns].iloc[chosen], preserve_index=False)
        else:
            table = chunk if isinstance(chunk, pa.Table) else pa.Table.from_batches([chunk])
            rows = table.select(columns).take(pa.array(chosen))
        self.add(rows.append_column(KEY, pa.array(keys[chosen], pa.float64())))

    def add(self, rows: pa.Table) -> None:
        """Add rows that carry their keys (another sample being merged in)."""
        self.parts.append(rows)
        self.held += rows.num_rows
        if self.held >= 2 * self.size:
            self._compact()

    def _compact(self) -> None:
        table = pa.concat_tables(self.parts, promote_options="permissive")
        if table.num_rows > self.size:
            keys = table.column(KEY).to_numpy()
            keep = np.argpartition(keys, self.size - 1)[: self.size]
            table = table.take(pa.array(np.sort(keep)))
            self.threshold = float(keys[keep].max())
        self.parts, self.held = [table], table.num_rows

    def result(self) -> pa.Table | None:
        """Return the sample (with its key column), or None when no row was offered."""
        if not self.parts:
            return None
        self._compact()
        return self.parts[0]


def merge_samples(a: pa.Table | None, b: pa.Table | None, size: int) -> pa.Table | None:
    """Return the sample of the union of two samples' tables: the smallest keys of both."""
    sampler = BottomK(size, np.random.default_rng(0))
    for table in (a, b):
        if table is not None:
            sampler.add(table)
    return sampler.result()
