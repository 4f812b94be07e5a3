"""The root command: --version, help that teaches, errors without tracebacks, python -m."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.core import TyperGroup

from steward import __version__
from steward.cli import app
from steward.cli._docs import _walk
from steward.errors import Conflict

from .conftest import Invoke

SRC = Path(__file__).resolve().parents[2] / "src"


def test_version(cli: Invoke) -> None:
    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"steward {__version__}"


def test_no_arguments_shows_the_command_groups(cli: Invoke) -> None:
    result = cli()
    for group in ("runs", "datasets", "server", "store"):
        assert group in result.output
    assert "Usage: steward" in result.output


def _leaf_commands() -> list[str]:
    root = typer.main.get_command(app)
    walked = _walk(root, typer.Context(root, info_name="steward"))
    return [ctx.command_path for cmd, ctx in walked if not isinstance(cmd, TyperGroup)]


def test_the_leaf_commands_are_the_documented_ones() -> None:
    assert sorted(_leaf_commands()) == [
        "steward ab plan",
        "steward ab readout",
        "steward audit export",
        "steward audit verify",
        "steward bandit report",
        "steward bandit simulate",
        "steward build-image",
        "steward datasets amend",
        "steward datasets list",
        "steward datasets profile",
        "steward datasets register",
        "steward datasets show",
        "steward deploy create",
        "steward deploy history",
        "steward deploy list",
        "steward deploy set-model",
        "steward deploy show",
        "steward deploy token create",
        "steward deploy token list",
        "steward deploy token revoke",
        "steward deploy traffic",
        "steward lineage export-openlineage",
        "steward lineage impact",
        "steward lineage show",
        "steward models alias",
        "steward models card",
        "steward models compare",
        "steward models download",
        "steward models export",
        "steward models list",
        "steward models register",
        "steward models review",
        "steward models show",
        "steward models signoff",
        "steward models signoffs",
        "steward models summary",
        "steward models version",
        "steward models versions",
        "steward monitor ack",
        "steward monitor alerts",
        "steward monitor config",
        "steward monitor report",
        "steward monitor run",
        "steward monitor runs",
        "steward policy set",
        "steward policy show",
        "steward reproduce",
        "steward retrain",
        "steward retraining report",
        "steward retraining runs",
        "steward retraining set",
        "steward retraining show",
        "steward runs compare",
        "steward runs list",
        "steward runs show",
        "steward score",
        "steward serve",
        "steward server",
        "steward shadow report",
        "steward store check",
        "steward ui",
        "steward users add",
        "steward users disable",
        "steward users grant",
        "steward users list",
        "steward users revoke",
        "steward users token create",
        "steward users token revoke",
        "steward validate",
        "steward whatif",
    ]


@pytest.mark.parametrize("path", _leaf_commands())
def test_every_command_help_teaches_with_an_example(cli: Invoke, path: str) -> None:
    result = cli(*path.split()[1:], "--help")
    assert result.exit_code == 0, result.output
    assert f"Usage: {path}" in result.output
    assert "Example" in result.output
    example = result.output.split("Example", 1)[1]
    assert path in example, "the example should show this very command"


def test_steward_errors_print_one_error_line_and_exit_with_their_code(
    cli: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    def conflict(*_args: object, **_kwargs: object) -> None:
        raise Conflict("Param 'lr' was logged as 0.1; it cannot change to 0.2.")

    monkeypatch.setattr("steward.search_runs", conflict)
    result = cli("runs", "list")
    assert result.exit_code == Conflict.exit_code == 4
    assert (
        result.stderr.splitlines()[0]
        == "Error: Param 'lr' was logged as 0.1; it cannot change to 0.2."
    )
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_python_dash_m_runs_the_cli(home: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC), "STEWARD_HOME": str(home)}
    done = subprocess.run(
        [sys.executable, "-m", "steward.cli", "--version"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"steward {__version__}"
