"""Retention of a dataset version: until a date, for a while after registration, or for good.

Written by hand: the forms people write ("delete after 2027-12-31", "3 years", "P18M")
are few, and no small library reads both dates and calendar durations; the calendar
arithmetic itself is pandas' ``DateOffset``.
"""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd

from steward.errors import InvalidInput

_DATE = re.compile(
    r"^(?:(?:delete|keep)\s+(?:after|until)\s+|until\s+|after\s+)?(\d{4}-\d{2}-\d{2})$"
)
_SPAN = re.compile(
    r"^(?:(?:delete|keep)\s+(?:(?:after|for)\s+)?|for\s+)?(\d+)\s*"
    r"(days?|d|weeks?|w|months?|mo|years?|y)(?:\s+after\s+registration)?$"
)
_ISO = re.compile(r"^p(\d+)([dwmy])$")
_UNITS = {"d": "days", "w": "weeks", "m": "months", "y": "years"}
_FOREVER = {"indefinitely", "keep indefinitely", "forever", "indefinite"}
EXAMPLES = "'delete after 2027-12-31', '3 years', '18 months', 'P90D' or 'keep indefinitely'"


def check_retention(text: str) -> str:
    """Return the retention in its normal form ('' when none is given); InvalidInput if unreadable.

    >>> check_retention("2027-12-31"), check_retention("P3Y"), check_retention("90 days")
    ('delete after 2027-12-31', 'delete 3 years after registration', 'delete 90 days after registration')
    """
    value = " ".join(text.strip().lower().split())
    if not value:
        return ""
    if value in _FOREVER:
        return "keep indefinitely"
    if found := _DATE.match(value):
        try:
            day = dt.date.fromisoformat(found.group(1))
        except ValueError as exc:
            raise InvalidInput(
                f"The retention {text!r} names a date that does not exist ({exc}). "
                f"Write it as {EXAMPLES}."
            ) from None
        return f"delete after {day.isoformat()}"
    span = _SPAN.match(value) or _ISO.match(value)
    if span is None:
        raise InvalidInput(
            f"The retention {text!r} is neither a date nor a duration. Write it as {EXAMPLES}."
        )
    count, unit = int(span.group(1)), span.group(2)
    if count < 1:
        raise InvalidInput(
            f"The retention {text!r} must be at least one day; got {count}. Write it as {EXAMPLES}."
        )
    name = _UNITS[unit[0]]  # days, weeks, months (also "mo" and ISO's "M") or years
    label = name if count != 1 else name[:-1]
    return f"delete {count} {label} after registration"


def retention_deadline(retention: str, registered_at: float) -> dt.date | None:
    """Return the day after which a version registered at ``registered_at`` must be deleted.

    None when no deadline applies (no retention recorded, or kept indefinitely).
    """
    value = check_retention(retention)
    if not value or value == "keep indefinitely":
        return None
    if value.startswith("delete after "):
        return dt.date.fromisoformat(value.removeprefix("delete after "))
    count_text, unit = value.split()[1:3]
    count = int(count_text)
    start = pd.Timestamp(registered_at, unit="s", tz="UTC")
    offsets = {
        "d": pd.DateOffset(days=count),
        "w": pd.DateOffset(weeks=count),
        "m": pd.DateOffset(months=count),
        "y": pd.DateOffset(years=count),
    }
    return (start + offsets[unit[0]]).date()
