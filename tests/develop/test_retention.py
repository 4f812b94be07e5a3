"""Retention of dataset versions: the forms people write, normalized, and their deadline."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

import steward
from steward._backend import Backend
from steward.develop import check_retention, retention_deadline
from steward.errors import InvalidInput

JAN_1_2026 = 1767225600.0


@pytest.mark.parametrize(
    ("written", "normal", "deadline"),
    [
        ("", "", None),
        ("2027-12-31", "delete after 2027-12-31", dt.date(2027, 12, 31)),
        ("Delete after 2027-12-31", "delete after 2027-12-31", dt.date(2027, 12, 31)),
        ("until 2027-06-30", "delete after 2027-06-30", dt.date(2027, 6, 30)),
        ("3 years", "delete 3 years after registration", dt.date(2029, 1, 1)),
        ("P18M", "delete 18 months after registration", dt.date(2027, 7, 1)),
        ("90 days", "delete 90 days after registration", dt.date(2026, 4, 1)),
        ("1 week", "delete 1 week after registration", dt.date(2026, 1, 8)),
        ("keep for 2 years", "delete 2 years after registration", dt.date(2028, 1, 1)),
        ("keep indefinitely", "keep indefinitely", None),
    ],
)
def test_retention_forms(written: str, normal: str, deadline: dt.date | None) -> None:
    assert check_retention(written) == normal
    assert check_retention(normal) == normal  # the normal form reads back as itself
    assert retention_deadline(written, JAN_1_2026) == deadline


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("soon", "neither a date nor a duration"),
        ("2027-02-30", "date that does not exist"),
        ("0 days", "at least one day"),
    ],
)
def test_unreadable_retention_says_how_to_write_it(written: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as caught:
        check_retention(written)
    assert "'delete after 2027-12-31', '3 years'" in caught.value.message


def test_register_dataset_records_the_retention(backend: Backend) -> None:
    frame = pd.DataFrame({"a": [1, 2, 3]})
    meta = steward.register_dataset(frame, "kept", retention="P2Y", terms_of_use="CC-BY-4.0")
    assert meta.retention == "delete 2 years after registration"
    assert steward.get_dataset("kept").retention == meta.retention
    with pytest.raises(InvalidInput, match="neither a date nor a duration"):
        steward.register_dataset(frame.assign(a=[4, 5, 6]), "kept", retention="a while")
