"""Terms of use and retention amended on a stored version: the data never changes, the
audit log says who changed what, from what, and why."""

from __future__ import annotations

import pandas as pd
import pytest

import steward
from steward import govern
from steward._backend import Backend
from steward.errors import InvalidInput, NotFound


def test_amending_terms_and_retention_keeps_the_data_and_records_why(backend: Backend) -> None:
    frame = pd.DataFrame({"a": [1, 2, 3]})
    before = steward.register_dataset(frame, "kept", terms_of_use="internal")
    after = backend.amend_dataset_version(
        "kept", 1, retention="delete after 2027-12-31", reason="DPO ticket 42"
    )
    assert (after.retention, after.terms_of_use) == ("delete after 2027-12-31", "internal")
    assert after.content_hash == before.content_hash and after.id == before.id
    again = backend.amend_dataset_version("kept", 1, terms_of_use="CC-BY-4.0")
    assert again.terms_of_use == "CC-BY-4.0" and again.retention == "delete after 2027-12-31"
    (first, second) = govern.audit_events(action="dataset.version.amended")
    assert first.payload["before"] == {"retention": ""}
    assert first.payload["after"] == {"retention": "delete after 2027-12-31"}
    assert first.payload["reason"] == "DPO ticket 42" and first.actor == "tester"
    assert second.payload["before"] == {"terms_of_use": "internal"}
    assert steward.load_dataset("kept").equals(frame)  # still verifies against its hash


def test_amending_needs_something_to_change_and_an_existing_version(backend: Backend) -> None:
    steward.register_dataset(pd.DataFrame({"a": [1]}), "kept")
    with pytest.raises(InvalidInput, match="got neither"):
        backend.amend_dataset_version("kept", 1)
    with pytest.raises(InvalidInput, match="neither a date nor a duration"):
        backend.amend_dataset_version("kept", 1, retention="for a bit")
    with pytest.raises(NotFound, match="no version 4; its versions are 1"):
        backend.amend_dataset_version("kept", 4, terms_of_use="x")
    with pytest.raises(NotFound, match="Did you mean 'kept'"):
        backend.amend_dataset_version("kep", 1, terms_of_use="x")
