"""Resource caps of a serving process: ``--max-memory 1G`` as an operating-system limit.

The cap is RLIMIT_DATA: the process's heap and private memory (what models and requests
allocate), not the shared libraries it maps, so ``1G`` means about 1 GB of the process's
own memory. An allocation beyond it fails with MemoryError: the request that needed it
gets a 503, and the server keeps serving the others. Linux only (other systems say so).
"""

from __future__ import annotations

import re

from steward.errors import InvalidInput

_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """Return a size such as '512M', '1G', '1.5GiB' or '2000000' in bytes."""
    match = _SIZE.match(str(text))
    if not match:
        raise InvalidInput(
            f"{text!r} is not a size; write a number of bytes or a number and a unit, "
            "e.g. 512M, 1G, 1.5GiB."
        )
    value = float(match[1]) * _UNITS[match[2].upper()]
    if value < 64 * 1024**2:
        raise InvalidInput(
            f"A memory limit of {text!r} is below 64 MiB, less than Python itself needs."
        )
    return int(value)


def apply_memory_limit(limit: int) -> int:
    """Return the limit applied to this process's data memory (bytes)."""
    try:
        import resource
    except ImportError as exc:  # not a Unix system
        raise InvalidInput("--max-memory needs a Unix system (resource limits).") from exc
    used = _data_now()
    if used and used >= limit:
        raise InvalidInput(
            f"--max-memory {limit / 1024**2:.0f} MiB is below what the server already uses "
            f"({used / 1024**2:.0f} MiB of data memory before loading any model); raise it."
        )
    _soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY and limit > hard:
        raise InvalidInput(
            f"--max-memory {limit} is above this process's hard limit ({hard} bytes)."
        )
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))
    return limit


def _data_now() -> int:
    try:
        import psutil

        return int(getattr(psutil.Process().memory_info(), "data", 0))
    except Exception:  # not measurable here: the OS limit still applies
        return 0
