"""`steward store check` on a sound store, a missing one and a corrupted one."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from .conftest import Invoke, make_run


def test_check_a_sound_store(cli: Invoke, home: Path) -> None:
    make_run("a", params={"x": 1})
    result = cli("store", "check")
    assert result.exit_code == 0, result.output
    assert f"No integrity problems in sqlite:///{home / 'steward.db'}" in result.stdout


def test_check_a_missing_store_does_not_create_it(cli: Invoke, tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    result = cli("store", "check", "--store", f"sqlite:///{missing}")
    assert result.exit_code == 3
    assert result.stderr.startswith(f"Error: There is no store at '{missing}'")
    assert not missing.exists()


def test_check_a_store_with_a_broken_reference(cli: Invoke, home: Path) -> None:
    make_run("a")
    db = sqlite3.connect(home / "steward.db")
    try:
        db.execute("PRAGMA foreign_keys=OFF")
        db.execute(
            "INSERT INTO params (run_id, key, value) VALUES ('0' || hex(randomblob(15)), 'lr', '0.1')"
        )
        db.commit()
    finally:
        db.close()
    result = cli("store", "check")
    assert result.exit_code == 7
    assert "foreign key violation" in result.stdout and "params" in result.stdout
    assert result.stderr.startswith("Error: The store at sqlite:///")
    assert "failed its integrity check (1 problem(s)" in result.stderr


def test_check_an_unsupported_url(cli: Invoke) -> None:
    result = cli("store", "check", "--store", "mysql://db/steward")
    assert result.exit_code == 2
    assert "does not support" in result.stderr
