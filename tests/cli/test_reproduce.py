"""`steward reproduce`: exit 0 when reproduced, 9 when results differ, error codes otherwise."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

import steward
from steward.cli._app import StewardGroup
from steward.cli._app import app as root_app
from steward.cli._reproduce import NOT_REPRODUCED_EXIT_CODE, reproduce

SEEDED = """\
import random
import steward

steward.seed_everything(5)
with steward.start_run("seeded") as run:
    steward.log_params({"kind": "seeded"})
    steward.log_metric("draw", random.random())
print(run.id)
"""

# Most users never name their runs: three unnamed runs, each with its own metric values,
# then a named one. Printed: the id of the second unnamed run.
UNNAMED = """\
import random
import steward

steward.seed_everything(7)
ids = []
for fold in range(3):
    with steward.start_run() as run:
        steward.log_metric("fold", fold)
        steward.log_metric("draw", random.random())
    ids.append(run.id)
with steward.start_run("summary"):
    steward.log_metric("folds", 3)
print(ids[1])
"""

Invoke = Callable[..., Result]
UNSEEDED = SEEDED.replace("steward.seed_everything(5)\n", "")


@pytest.fixture
def invoke() -> Invoke:
    """Return ``invoke(*args)``: `steward reproduce args` as a 120-column terminal would."""
    app = root_app
    if not any(c.name == "reproduce" for c in root_app.registered_commands):
        # Until _app.py registers the command: a root group of the same class with only it.
        app = typer.Typer(cls=StewardGroup, name="steward")
        app.callback()(lambda: None)
        app.command("reproduce")(reproduce)
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(
            app, ["reproduce", *args], env={"COLUMNS": "120"}, catch_exceptions=False
        )

    return run


def recorded_run(tmp_path: Path, script: str) -> str:
    """Return the id of a run made by ``script`` committed in a fresh git repository."""
    repo = tmp_path / "project"
    repo.mkdir()
    for args in (
        ["init", "-q"],
        ["config", "user.email", "t@example.invalid"],
        ["config", "user.name", "T"],
    ):
        subprocess.run(["git", *args], cwd=repo, check=True)
    (repo / "train.py").write_text(script)
    subprocess.run(["git", "add", "."], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "first"], cwd=repo, check=True)
    done = subprocess.run(
        [sys.executable, "train.py"],
        cwd=repo,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_an_unnamed_run_reproduces_paired_by_its_place_among_the_unnamed_runs(
    tmp_path: Path, invoke: Invoke
) -> None:
    run_id = recorded_run(tmp_path, UNNAMED)
    original = steward.get_run(run_id)
    assert original.name.startswith("run-")  # a random name, which a re-run cannot repeat
    result = invoke(run_id, "--here", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["reproduced"] is True, report["reasons"]
    pairs = {r["original_run_id"]: r for r in report["runs"]}
    assert len(pairs) == 4  # the three unnamed runs and the named one, each paired
    target = pairs[run_id]
    assert target["new_run_id"] and target["reproduced"]
    new = steward.get_run(target["new_run_id"])
    assert new.name != original.name and new.metrics["fold"].value == 1.0
    assert new.metrics["draw"].value == original.metrics["draw"].value
    assert new.tags["steward.reproduction_of"] == run_id


def test_a_reproduced_run_exits_0_and_shows_each_metric(tmp_path: Path, invoke: Invoke) -> None:
    run_id = recorded_run(tmp_path, SEEDED)
    result = invoke(run_id[:8], "--here")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"Reproduction of run {run_id[:8]} 'seeded'" in out
    assert "Seed" in out and "5" in out and "clean" in out
    assert "draw" in out and "ok" in out
    assert "current environment" in out and "0 packages differ" in out
    assert "Reproduced: every metric and prediction within 1e-09" in out


def test_a_run_that_differs_exits_9_and_names_the_metric(tmp_path: Path, invoke: Invoke) -> None:
    run_id = recorded_run(tmp_path, UNSEEDED)
    result = invoke(run_id, "--here")
    assert result.exit_code == NOT_REPRODUCED_EXIT_CODE == 9, result.output
    assert "DIFFERS" in result.stdout
    assert "NOT reproduced: metrics differ beyond 1e-09: draw." in result.stdout
    relaxed = invoke(run_id, "--here", "--ignore-metric", "dr*", "--json")
    assert relaxed.exit_code == 0, relaxed.output
    report = json.loads(relaxed.stdout)
    assert report["reproduced"] is True and report["runs"][0]["metrics"][0]["ignored"] is True
    assert steward.get_run(report["new_run_id"]).tags["steward.reproduction_of"] == run_id


def test_a_run_without_git_is_an_error_with_exit_code_2(invoke: Invoke) -> None:
    with steward.start_run("notebook") as run:
        steward.log_metric("m", 1.0)
    result = invoke(run.id, "--here")
    assert result.exit_code == 2
    assert "Error: Run" in result.stderr and "not started from a git repository" in result.stderr
    assert "Traceback" not in result.output


def test_an_unknown_run_exits_3(invoke: Invoke) -> None:
    result = invoke("0123456789abcdef0123456789abcdef")
    assert result.exit_code == 3 and "Error:" in result.stderr


def test_help_teaches_with_an_example_and_the_exit_code(invoke: Invoke) -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    assert "steward reproduce 3f2a9c1b --here" in result.stdout
    assert "with 9 when it was" in " ".join(result.stdout.split())
