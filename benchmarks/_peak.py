"""Peak resident memory of this process while a block runs, sampled by a thread.

Shared by the benchmark sides that run in peers' own virtual environments (Evidently's,
MLflow's): it needs psutil only.
"""

from __future__ import annotations

import threading
import time

import psutil


class PeakRSS:
    """Samples this process's resident memory every ``every`` seconds while a block runs."""

    def __init__(self, every: float = 0.005) -> None:
        self.process = psutil.Process()
        self.peak = 0
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(self.every)

    def __enter__(self) -> PeakRSS:
        self.peak = self.process.memory_info().rss
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)
