"""Personal data found in a synthetic table (and not in its clean columns), recorded at
registration, and the columns a policy must flag."""

from __future__ import annotations

import json
import random

import numpy as np
import pandas as pd
import pytest

import steward
from steward import govern
from steward._backend import Backend
from steward.govern._pii import entities_from_name, scan_frame

N = 200


def luhn(prefix: str) -> str:
    """Return ``prefix`` completed with the digit that makes its Luhn checksum hold."""
    for check in "0123456789":
        digits = [int(c) for c in prefix + check][::-1]
        total = sum(
            d if i % 2 == 0 else (d * 2 - 9 if d * 2 > 9 else d * 2) for i, d in enumerate(digits)
        )
        if total % 10 == 0:
            return prefix + check
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def people() -> pd.DataFrame:
    rng = random.Random(7)
    cards = [luhn("4" + "".join(rng.choice("0123456789") for _ in range(14))) for _ in range(N)]
    wrong = [c[:-1] + str((int(c[-1]) + 1) % 10) for c in cards]  # Luhn fails for every one
    ibans = ["DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432", "FR1420041010050500013M02606"]
    return pd.DataFrame(
        {
            "customer_id": range(N),
            "contact": [f"user{i}@example.org" for i in range(N)],
            "telephone": [f"+1 (212) 555-{rng.randrange(10_000):04d}" for _ in range(N)],
            "payment": cards,
            "payment_typo": wrong,
            "card_digits": [int(c) for c in cards],
            "iban": [ibans[i % 3] for i in range(N)],
            "client_ip": [
                f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
                for _ in range(N)
            ],
            "ssn": [
                f"{rng.randrange(100, 665)}-{rng.randrange(10, 99)}-{rng.randrange(1000, 9999)}"
                for _ in range(N)
            ],
            "notes": [
                "call 212-555-0199 after 5pm" if i % 4 == 0 else "no issue" for i in range(N)
            ],
            # clean columns: nothing personal in them
            "amount": np.random.default_rng(0).normal(100, 30, N).round(2),
            "account": [rng.randrange(10**9, 10**10) for _ in range(N)],
            "city": [rng.choice(["Paris", "Lyon", "Berlin"]) for _ in range(N)],
            "signup": pd.date_range("2024-01-01", periods=N).strftime("%Y-%m-%d"),
            "product_name": [rng.choice(["basic", "plus", "pro"]) for _ in range(N)],
            "sku": [f"SKU-{rng.randrange(10**6):06d}" for _ in range(N)],
            "churned": [rng.random() < 0.2 for _ in range(N)],
        }
    )


def test_the_scan_finds_each_kind_of_personal_data(people: pd.DataFrame) -> None:
    found = {f.column: f for f in scan_frame(people)}
    expected = {
        "contact": "EMAIL_ADDRESS",
        "telephone": "PHONE_NUMBER",
        "payment": "CREDIT_CARD",
        "card_digits": "CREDIT_CARD",
        "iban": "IBAN_CODE",
        "client_ip": "IP_ADDRESS",
        "ssn": "US_SSN",
        "notes": "PHONE_NUMBER",
    }
    for column, entity in expected.items():
        assert entity in found[column].entities, (column, found.get(column))
        assert found[column].shares[entity] > 0.2
    assert found["contact"].share == 1.0 and found["contact"].confidence >= 0.9
    assert found["telephone"].from_name == ["PHONE_NUMBER"]
    assert found["telephone"].confidence > found["notes"].confidence  # the name agrees
    assert found["notes"].shares["PHONE_NUMBER"] == pytest.approx(0.25, abs=0.1)


def test_clean_columns_and_numbers_failing_luhn_are_not_flagged(people: pd.DataFrame) -> None:
    found = {f.column: f for f in scan_frame(people)}
    for column in (
        "customer_id",
        "amount",
        "account",
        "city",
        "signup",
        "product_name",
        "sku",
        "churned",
    ):
        assert column not in found, found.get(column)
    assert "payment_typo" not in found  # card-shaped, but not one checksum holds


def test_column_names_alone_suggest_what_patterns_cannot_see() -> None:
    assert entities_from_name("first_name") == ["PERSON"]
    assert entities_from_name("customerEmail") == ["EMAIL_ADDRESS"]
    assert entities_from_name("DateOfBirth") == ["DATE_OF_BIRTH"]
    assert entities_from_name("name") == ["PERSON"]
    assert entities_from_name("product_name") == []  # "name" counts only alone
    assert entities_from_name("hotel") == entities_from_name("cell_type") == []
    frame = pd.DataFrame({"first_name": ["Ada", "Alan"], "score": [1, 2]})
    (finding,) = scan_frame(frame)
    assert (finding.column, finding.entities, finding.share) == ("first_name", ["PERSON"], 0.0)
    assert finding.confidence == 0.5


def test_registration_records_the_scan_and_flags_columns(
    backend: Backend, people: pd.DataFrame
) -> None:
    meta = steward.register_dataset(people, "people", sensitive_columns=["city"])
    scan = backend.get_pii_scan("people", meta.version)
    assert scan is not None and scan.scanner.startswith("presidio-analyzer ")
    assert scan.sample_rows == 100 and "contact" in scan.columns
    flagged = govern.flagged_columns("people", meta.version)
    assert flagged["city"] == ["declared sensitive"]
    assert flagged["contact"] == ["EMAIL_ADDRESS"]
    assert "amount" not in flagged
    # The values never reach the store: not in the scan, not in the audit log.
    stored = json.dumps([f.model_dump() for f in scan.findings])
    events = json.dumps([e.payload for e in govern.audit_events(action="dataset.version.pii")])
    for value in (people["contact"][0], people["payment"][0], people["telephone"][0]):
        assert value not in stored and value not in events
    assert '"contact": ["EMAIL_ADDRESS"]' in events
    # Registering the same content again does not scan it twice.
    steward.register_dataset(people, "people")
    assert len(govern.audit_events(action="dataset.version.pii_scanned")) == 1


def test_the_scan_at_registration_can_be_turned_off_and_run_later(backend: Backend) -> None:
    frame = pd.DataFrame({"email": ["a@example.com", "b@example.com"], "x": [1, 2]})
    previous = govern.set_pii_scan(False)
    try:
        meta = steward.register_dataset(frame, "later")
    finally:
        govern.set_pii_scan(previous)
    assert backend.get_pii_scan("later", meta.version) is None
    assert govern.flagged_columns("later", meta.version) == {}
    scan = govern.scan_dataset("later")  # loads the version itself
    assert scan.columns == ["email"]
    assert govern.flagged_columns("later", 0) == {"email": ["EMAIL_ADDRESS"]}
