"""The audit trail: verification over every backend, tampering detected and named, anchors,
the auditors' export."""

from __future__ import annotations

import csv
import io
import json
import time

import pytest
import sqlalchemy as sa

import steward
from steward import govern
from steward._backend import Backend, SqlBackend
from steward.errors import InvalidInput
from steward.store import GENESIS, canonical, chain_hash, tables

from .conftest import tamper


def _some_changes() -> None:
    steward.create_project("audited")
    with steward.start_run("r", capture_environment_info=False):
        steward.log_param("lr", 0.1)
        steward.log_metric("loss", 0.5)
    steward.create_project("audited-too")


def _rows(backend: SqlBackend) -> list[sa.Row]:
    with backend.store.read() as conn:
        return list(conn.execute(sa.select(tables.events).order_by(tables.events.c.id)))


def test_verify_passes_on_every_backend_and_reports_the_head(backend: Backend) -> None:
    assert govern.verify_audit().summary.startswith("The audit chain is empty")
    _some_changes()
    result = govern.verify_audit()
    events = govern.audit_events()
    assert result.ok and result.problems == []
    assert result.rows == len(events) >= 5
    assert (result.first_id, result.head_id, result.head_hash) == (
        events[0].id,
        events[-1].id,
        events[-1].hash,
    )
    assert "holds" in result.summary and result.head_hash in result.summary
    again = govern.verify_audit(anchor=f"{result.head_id}:{result.head_hash}")
    assert again.ok


def test_an_edited_payload_is_detected_and_the_row_named(store_backend: SqlBackend) -> None:
    _some_changes()
    target = next(r for r in _rows(store_backend) if r.action == "run.logged")
    tamper(
        store_backend,
        "UPDATE events SET payload = :p WHERE id = :i",
        p=json.dumps({**target.payload, "params": {"lr": "0.01"}}),
        i=target.id,
    )
    result = govern.verify_audit()
    assert not result.ok
    problem = result.problems[0]
    assert (problem.row_id, problem.kind) == (target.id, "edited")
    assert f"Row {target.id} (run.logged on run" in problem.message
    assert f"row {target.id}" in result.summary.lower()
    assert len(result.problems) == 1  # the rows after it still link to its stored hash


def test_an_edit_whose_hash_was_recomputed_is_caught_by_the_next_link(
    store_backend: SqlBackend,
) -> None:
    _some_changes()
    rows = _rows(store_backend)
    target = rows[2]
    forged = chain_hash(
        target.prev_hash,
        canonical(
            target.time,
            "mallory",
            target.action,
            target.entity_type,
            target.entity_id,
            target.payload,
        ),
    )
    tamper(
        store_backend,
        "UPDATE events SET actor = 'mallory', hash = :h WHERE id = :i",
        h=forged,
        i=target.id,
    )
    problem = govern.verify_audit().problems[0]
    assert (problem.row_id, problem.kind) == (target.id, "edited")
    assert "hash recomputed" in problem.message and f"row {rows[3].id}" in problem.message


def test_a_deleted_row_is_detected_and_the_gap_named(store_backend: SqlBackend) -> None:
    _some_changes()
    rows = _rows(store_backend)
    tamper(store_backend, "DELETE FROM events WHERE id = :i", i=rows[2].id)
    problem = govern.verify_audit().problems[0]
    assert (problem.row_id, problem.kind) == (rows[3].id, "deleted")
    assert f"between row {rows[1].id} and row {rows[3].id}" in problem.message


def test_deleting_the_first_rows_is_detected(store_backend: SqlBackend) -> None:
    _some_changes()
    rows = _rows(store_backend)
    tamper(store_backend, "DELETE FROM events WHERE id <= :i", i=rows[1].id)
    problem = govern.verify_audit().problems[0]
    assert (problem.row_id, problem.kind) == (rows[2].id, "deleted")
    assert "not to the start of the chain" in problem.message


def test_an_inserted_row_is_detected_even_with_a_well_formed_hash(
    store_backend: SqlBackend,
) -> None:
    _some_changes()
    rows = _rows(store_backend)
    after = rows[2]
    # Make room after row 3 (ids shift by one; contents and links untouched), then forge a
    # row there that links to row 3 and carries a correct hash of its own content.
    top = rows[-1].id + 1000
    tamper(store_backend, "UPDATE events SET id = id + :t WHERE id > :i", t=top, i=after.id)
    tamper(store_backend, "UPDATE events SET id = id - :t + 1 WHERE id > :t", t=top)
    payload = {"name": "backdoor"}
    digest = chain_hash(
        after.hash, canonical(after.time, "mallory", "project.created", "project", "x", payload)
    )
    tamper(
        store_backend,
        "INSERT INTO events (id, time, actor, action, entity_type, entity_id, payload, "
        "prev_hash, hash) VALUES (:i, :t, 'mallory', 'project.created', 'project', 'x', :p, "
        ":prev, :h)",
        i=after.id + 1,
        t=after.time,
        p=json.dumps(payload),
        prev=after.hash,
        h=digest,
    )
    result = govern.verify_audit()
    problem = result.problems[0]
    assert (problem.row_id, problem.kind) == (after.id + 1, "inserted")
    assert f"chained to row {after.id}, skipping it" in problem.message
    assert len(result.problems) == 1  # the walk goes on past it


def test_an_anchor_catches_a_truncated_chain(store_backend: SqlBackend) -> None:
    _some_changes()
    head = govern.verify_audit()
    tamper(store_backend, "DELETE FROM events WHERE id = :i", i=head.head_id)
    assert govern.verify_audit().ok  # the newest row's removal leaves a chain that holds...
    anchored = govern.verify_audit(anchor=f"{head.head_id}:{head.head_hash}")
    assert not anchored.ok  # ...but not the anchor
    assert anchored.problems[0].kind == "anchor"
    assert f"Row {head.head_id}, the anchor, is missing" in anchored.problems[0].message


def test_an_anchor_must_be_an_id_and_a_sha256(backend: Backend) -> None:
    with pytest.raises(InvalidInput, match="row id and its sha256"):
        govern.verify_audit(anchor="12:nothex")
    with pytest.raises(InvalidInput, match="both the row id and its hash"):
        backend.verify_audit(anchor_id=3)


def test_the_export_filters_by_period_actor_action_and_entity(backend: Backend) -> None:
    start = time.time() - 1
    _some_changes()
    everything = govern.audit_events(start=start)
    assert govern.audit_events(start=time.time() + 60) == []
    assert {e.action for e in govern.audit_events(action="project.")} == {"project.created"}
    projects = [e.entity_id for e in govern.audit_events(entity_type="project")]
    assert projects == ["audited", "default", "audited-too"]  # start_run made 'default'
    assert [e.entity_id for e in govern.audit_events(entity_id="audited")] == ["audited"]
    assert {e.actor for e in govern.audit_events(actor="tester")} == {"tester"}
    assert govern.audit_events(actor="nobody") == []
    newest = backend.export_audit(limit=2, newest_first=True)
    assert [e.id for e in newest] == [everything[-1].id, everything[-2].id]
    with pytest.raises(InvalidInput, match="between 1 and 10,000"):
        backend.export_audit(limit=0)


def test_the_report_for_auditors_in_html_json_and_csv(backend: Backend) -> None:
    _some_changes()
    head = govern.verify_audit()
    page = govern.export_audit(fmt="html", action="project.")
    assert page.startswith("<!doctype html>") and "Audit trail" in page
    assert "The audit chain holds" in page and f"{head.head_id}:{head.head_hash}" in page
    assert "project.created" in page and "run.logged" not in page.split("Events")[-1]
    document = json.loads(govern.export_audit(fmt="json"))
    assert document["verification"]["ok"] is True
    assert document["anchor"] == f"{head.head_id}:{head.head_hash}"
    assert [e["id"] for e in document["events"]] == [e.id for e in govern.audit_events()]
    rows = list(csv.DictReader(io.StringIO(govern.export_audit(fmt="csv"))))
    assert rows[0]["prev_hash"] == GENESIS and rows[-1]["hash"] == head.head_hash
    assert json.loads(rows[0]["payload"]) == govern.audit_events()[0].payload


def test_a_broken_chain_shows_in_the_report(store_backend: SqlBackend) -> None:
    _some_changes()
    target = _rows(store_backend)[1]
    tamper(store_backend, "UPDATE events SET entity_id = 'other' WHERE id = :i", i=target.id)
    page = govern.export_audit(fmt="html")
    assert "The audit chain is broken" in page and f"row {target.id}" in page
