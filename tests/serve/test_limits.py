"""`--max-memory`: sizes, and the operating-system limit a serving process gets."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from steward.errors import InvalidInput
from steward.serve._limits import parse_size


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1G", 1024**3),
        ("512M", 512 * 1024**2),
        ("1.5GiB", int(1.5 * 1024**3)),
        ("2000000000", 2_000_000_000),
    ],
)
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize(("text", "message"), [("lots", "is not a size"), ("10M", "below 64 MiB")])
def test_bad_sizes(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_size(text)


def test_the_limit_is_applied_and_an_allocation_beyond_it_fails() -> None:
    script = textwrap.dedent(
        """
        import resource
        from steward.serve._limits import apply_memory_limit, parse_size
        limit = apply_memory_limit(parse_size("1G"))
        soft, _ = resource.getrlimit(resource.RLIMIT_DATA)
        print(limit == soft == 1024**3)
        try:
            block = bytearray(2 * 1024**3)
            print("allocated")
        except MemoryError:
            print("refused")
        print(len(bytearray(50 * 1024**2)) > 0)  # smaller allocations still work
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["True", "refused", "True"], out.stderr
