"""`steward audit verify / export` on a real local store, tampered with by hand."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import steward

from .conftest import Invoke, make_run


def _edit_by_hand(home: Path, statement: str, *params: object) -> None:
    with sqlite3.connect(home / "steward.db") as db:
        db.execute(statement, params)


def test_verify_passes_then_fails_naming_the_row_edited_by_hand(cli: Invoke, home: Path) -> None:
    run_id = make_run("audited", params={"lr": 0.1}, metrics={"loss": [0.5, 0.4]})
    steward.create_project("second")
    passed = cli("audit", "verify")
    assert passed.exit_code == 0, passed.output
    assert "✓ The audit chain holds" in passed.stdout
    assert "Anchor to keep: " in passed.stderr
    anchor = passed.stderr.split("Anchor to keep: ")[1].split()[0]

    with sqlite3.connect(home / "steward.db") as db:
        (row_id,) = db.execute(
            "SELECT id FROM events WHERE action = 'run.logged' AND entity_id = ? ORDER BY id",
            (run_id,),
        ).fetchone()
    _edit_by_hand(home, "UPDATE events SET actor = 'mallory' WHERE id = ?", row_id)
    failed = cli("audit", "verify")
    assert failed.exit_code == 7
    assert f"row {row_id} edited" in failed.stdout
    assert f"Row {row_id} (run.logged on run '{run_id}') was edited" in failed.stdout
    assert failed.stderr.startswith(f"Error: The audit log does not verify: Row {row_id}")

    _edit_by_hand(home, "UPDATE events SET actor = 'tester' WHERE id = ?", row_id)
    assert cli("audit", "verify", "--anchor", anchor).exit_code == 0  # restored: holds again
    as_json = json.loads(cli("audit", "verify", "--json").stdout)
    assert as_json["ok"] is True and as_json["head_hash"] == anchor.split(":")[1]


def test_verify_names_a_deleted_row_and_a_truncated_log(cli: Invoke, home: Path) -> None:
    for name in ("a", "b", "c", "d"):
        steward.create_project(name)
    anchor = json.loads(cli("audit", "verify", "--json").stdout)
    _edit_by_hand(home, "DELETE FROM events WHERE id = 2")
    failed = cli("audit", "verify")
    assert failed.exit_code == 7 and "Rows between row 1 and row 3" in failed.stdout
    _edit_by_hand(home, "DELETE FROM events WHERE id >= 3")
    truncated = cli("audit", "verify", "--anchor", f"{anchor['head_id']}:{anchor['head_hash']}")
    assert truncated.exit_code == 7
    assert f"Row {anchor['head_id']}, the anchor, is missing" in truncated.stdout
    bad = cli("audit", "verify", "--anchor", "x")
    assert bad.exit_code == 2 and "row id and its sha256" in bad.stderr


def test_export_writes_a_report_for_a_period(cli: Invoke, tmp_path: Path) -> None:
    steward.create_project("exported")
    page = tmp_path / "reports" / "audit.html"
    done = cli("audit", "export", "--from", "2000-01-01", "--to", "2100-01-01", "-o", str(page))
    assert done.exit_code == 0, done.output
    text = page.read_text()
    assert "The audit chain holds" in text and "project.created" in text
    rows = cli("audit", "export", "--format", "csv", "--entity", "project:exported").stdout
    assert rows.splitlines()[0].startswith("id,time_utc,time,actor,action")
    assert len(rows.splitlines()) == 2 and ",exported," in rows
    document = json.loads(cli("audit", "export", "-f", "json", "--action", "project.").stdout)
    assert [e["action"] for e in document["events"]] == ["project.created"]
    assert cli("audit", "export", "--from", "2100-01-01").stdout.count("<tr>") == 0
    wrong = cli("audit", "export", "--from", "yesterday")
    assert wrong.exit_code == 2 and "takes a date or time" in wrong.stderr
    backwards = cli("audit", "export", "--from", "2026-02-01", "--to", "2026-01-01")
    assert backwards.exit_code == 2 and "must come after" in backwards.stderr
