"""Shared pieces of the tracking benchmarks: timing, the search data set, temp folders."""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

METRIC_KEYS = [f"m{j}" for j in range(5)]
PARAM_KEYS = [f"p{j}" for j in range(5)]
#: About a quarter of the runs match: m0 is uniform on [0, 1) and p0 is 'a' or 'b'.
SEARCH_FILTER = "metrics.m0 > 0.5 and params.p0 = 'a'"


@dataclass
class Timing:
    """Wall-clock seconds of repeated calls of one piece of work."""

    times: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def best(self) -> float:
        return min(self.times)


def timed(work: Callable[[], Any], repeats: int = 1, warmup: int = 0) -> tuple[Timing, Any]:
    """Return the timing of ``repeats`` calls of ``work`` (after ``warmup`` calls) and its last result."""
    result: Any = None
    for _ in range(warmup):
        result = work()
    timing = Timing()
    for _ in range(repeats):
        start = time.perf_counter()
        result = work()
        timing.times.append(time.perf_counter() - start)
    return timing, result


@dataclass
class SearchData:
    """The runs the search benchmark stores: 5 params and 5 metrics a run, reproducible."""

    metrics: np.ndarray  # shape (n, 5), uniform on [0, 1)
    params: list[list[str]]  # n rows of 5 values

    @classmethod
    def make(cls, n: int, seed: int = 20240501) -> SearchData:
        rng = np.random.default_rng(seed)
        metrics = rng.random((n, len(METRIC_KEYS)))
        p0 = rng.choice(np.array(["a", "b"]), size=n)
        rest = rng.choice(np.array(["a", "b", "c", "d"]), size=(n, len(PARAM_KEYS) - 1))
        params = [[str(p0[i]), *map(str, rest[i])] for i in range(n)]
        return cls(metrics=metrics, params=params)

    def __len__(self) -> int:
        return len(self.params)

    def run_metrics(self, i: int) -> dict[str, float]:
        return {k: float(v) for k, v in zip(METRIC_KEYS, self.metrics[i], strict=True)}

    def run_params(self, i: int) -> dict[str, str]:
        return dict(zip(PARAM_KEYS, self.params[i], strict=True))

    def expected_matches(self, n: int) -> int:
        """Return how many of the first ``n`` runs match :data:`SEARCH_FILTER`."""
        return sum(1 for i in range(n) if self.metrics[i, 0] > 0.5 and self.params[i][0] == "a")


class TempDirs:
    """Fresh temporary folders, all removed by :meth:`cleanup`."""

    def __init__(self, root: str | None = None, keep: bool = False) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="steward-bench-", dir=root))
        self.keep = keep
        self._count = 0

    def new(self, label: str) -> Path:
        self._count += 1
        path = self.root / f"{self._count:02d}-{label}"
        path.mkdir(parents=True)
        return path

    def cleanup(self) -> None:
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def environ(**values: str | None) -> Iterator[None]:
    """Set (or, with None, remove) environment variables inside the block."""
    saved = {k: os.environ.get(k) for k in values}
    try:
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
