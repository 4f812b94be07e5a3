"""Value formats of the CLI: durations, numbers, shares and sparklines."""

from __future__ import annotations

import math

from steward.cli._output import (
    format_duration,
    format_number,
    format_share,
    format_value,
    sparkline,
)


def test_durations_read_naturally() -> None:
    assert format_duration(100.0, 112.34) == "12.3s"
    assert format_duration(0.0, 245.0) == "4m 05s"
    assert format_duration(0.0, 2 * 3600 + 3 * 60) == "2h 03m"
    assert format_duration(0.0, 3 * 86400 + 4 * 3600) == "3d 4h"


def test_numbers_are_short() -> None:
    assert format_number(0.831234) == "0.8312"
    assert format_number(1234) == "1234"
    assert format_number(24230.5) == "24.2k"
    assert format_number(3_140_000) == "3.14M"
    assert format_value(None) == format_value(math.nan) == "—"
    assert format_value(True) == "true"


def test_shares() -> None:
    assert format_share(1, 8) == "12.5%"
    assert format_share(2, 8) == "25%"
    assert format_share(0, 0) == "0%"


def test_sparkline_scales_to_the_tallest_bin_and_keeps_small_bins_visible() -> None:
    assert sparkline([0, 1, 20]) == "▁▂█"  # 1 of 20 is still not empty
    assert sparkline([4, 8]) == "▅█"
    assert sparkline([]) == ""
    assert sparkline([0, 0]) == "▁▁"


def test_sparkline_merges_bins_to_fit_its_width() -> None:
    line = sparkline([1] * 10 + [3] * 10, width=10)
    assert len(line) == 10
    assert line == "▃" * 5 + "█" * 5
