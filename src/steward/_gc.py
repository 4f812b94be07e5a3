"""Pausing Python's cyclic garbage collector around bulk work.

Building 100,000 small tuples (one per metric point or search row) triggers the cyclic
collector over and over, and it then walks every live container: about 40% of a
100k-point log_batch. Those tuples hold only numbers and strings and cannot form cycles,
so the collector is paused while they are built and resumed (if it was running) after.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """Run the block with the cyclic garbage collector paused, then restore it."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
