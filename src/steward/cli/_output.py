"""What the CLI prints: consoles, value formats, status colours, sparklines, JSON, errors.

Consoles are made per call, not at import: they then follow the streams and the
``COLUMNS``/``NO_COLOR`` settings of the moment (Typer's test runner swaps both). Markup
is off, so a param value such as ``[red]`` is printed as written; styling is done with
:class:`rich.text.Text` objects instead.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pydantic_core
import typer
from rich import box
from rich.console import Console, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

MISSING = "—"
STATUS_STYLES = {"RUNNING": "cyan", "FINISHED": "green", "FAILED": "bold red", "KILLED": "yellow"}
SPARKS = "▁▂▃▄▅▆▇█"


def stdout() -> Console:
    """Return a console on standard output that prints text as written (no markup)."""
    return Console(markup=False, emoji=False, highlight=False)


def stderr() -> Console:
    """Return a console on standard error, for progress and notes that are not the result."""
    return Console(stderr=True, markup=False, emoji=False, highlight=False)


def print_error(message: str) -> None:
    """Print ``Error: message`` on standard error, lines kept as they are (no wrapping)."""
    console = Console(stderr=True, markup=False, emoji=False, highlight=False, soft_wrap=True)
    console.print(Text.assemble(("Error:", "bold red"), " ", message))


def note(message: str, style: str = "dim") -> None:
    """Print a remark (a hint, a warning) on standard error."""
    stderr().print(Text(message, style=style), soft_wrap=True)


def print_json(value: Any) -> None:
    """Print ``value`` (models, lists, dicts) as indented JSON; NaN and infinities become null."""
    typer.echo(pydantic_core.to_json(value, indent=2, inf_nan_mode="null").decode())


def new_table(**options: Any) -> Table:
    """Return an empty table in the CLI's style: a rule under bold headers, no outer frame."""
    style: dict[str, Any] = dict(
        box=box.SIMPLE_HEAD, header_style="bold", show_edge=False, pad_edge=False
    )
    return Table(**{**style, **options})


def section(console: Console, title: str, body: RenderableType | None) -> None:
    """Print a blank line, an underlined title and the body indented (or 'none' when None)."""
    console.print()
    if body is None:
        console.print(Text.assemble((title, "bold underline"), ("  none", "dim")))
        return
    console.print(Text(title, style="bold underline"))
    console.print(indented(body))


def indented(body: RenderableType) -> Padding:
    """Return ``body`` indented by two spaces, as section bodies are."""
    return Padding(body, (0, 0, 0, 2))


def fields_grid(rows: Sequence[tuple[str, Any]]) -> Table:
    """Return a two-column label/value grid, skipping rows whose value is None."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for label, value in rows:
        if value is None:
            continue
        grid.add_row(label, value if isinstance(value, Text) else Text(str(value)))
    return grid


def status_text(status: str) -> Text:
    """Return a run status coloured by what it means (FAILED red, FINISHED green...)."""
    return Text(status, style=STATUS_STYLES.get(status, ""))


def format_value(value: Any, digits: int = 6) -> str:
    """Return a short text for a cell: numbers to ``digits`` significant digits, missing as a dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def format_number(value: Any) -> str:
    """Return a number in at most about 5 characters: 0.8312, 1234, 24.2k, 3.1M."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return format_value(value)
    if math.isnan(value) or math.isinf(value):
        return str(value)
    magnitude = abs(value)
    for limit, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e4, "k")):
        if magnitude >= limit:
            scale = 1e3 if suffix == "k" else limit
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.4g}"


def format_time(timestamp: float | None) -> str:
    """Return a Unix time as local ``YYYY-MM-DD HH:MM:SS``, or a dash."""
    if timestamp is None:
        return MISSING
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


def format_when(timestamp: float) -> str:
    """Return a Unix time compactly for a table: 'Nov 26 14:05' this year, else '2023-11-26'."""
    when = datetime.fromtimestamp(timestamp)
    return (
        when.strftime("%b %d %H:%M")
        if when.year == datetime.now().year
        else when.strftime("%Y-%m-%d")
    )


def format_duration(start: float, end: float | None) -> str:
    """Return the time from ``start`` to ``end`` (or to now, when still running) as '4m 05s'."""
    seconds = max(0.0, (end if end is not None else time.time()) - start)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def format_size(size: int) -> str:
    """Return a byte count as '532 B', '1.2 KB', '3.4 MB'..."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError  # unreachable


def format_share(part: float, whole: float) -> str:
    """Return ``part / whole`` as a percentage: '0%', '12.5%', '100%'."""
    if not whole:
        return "0%"
    share = 100 * part / whole
    return f"{share:.0f}%" if share == int(share) else f"{share:.1f}%"


def sparkline(counts: Sequence[float], width: int = 10) -> str:
    """Return a histogram as one line of block characters ('▁▃█▅▁'), at most ``width`` wide.

    Neighbouring bins are added together until the histogram fits the width.
    """
    group = max(1, math.ceil(len(counts) / width))
    counts = [sum(counts[i : i + group]) for i in range(0, len(counts), group)]
    top = max(counts, default=0)
    if top <= 0:
        return SPARKS[0] * len(counts)
    last = len(SPARKS) - 1
    # Any non-empty bin gets at least the second block, so it never looks empty.
    return "".join(SPARKS[0] if c <= 0 else SPARKS[max(1, round(c / top * last))] for c in counts)
