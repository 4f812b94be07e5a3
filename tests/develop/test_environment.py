"""Environment capture: interpreter, distributions, git state and diff, command, seed."""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import steward
from steward._backend import Backend
from steward.develop._environment import _safe_url, git_state
from steward.errors import InvalidInput


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "project"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "t@example.invalid")
    _git(repo, "config", "user.name", "T")
    (repo / "train.py").write_text("print('v1')\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "first")
    _git(
        repo,
        "remote",
        "add",
        "origin",
        "https://user:s3cret-token@git.example.invalid/team/project.git",
    )
    return repo


def test_clean_and_dirty_git_state(repo: Path) -> None:
    state, diff = git_state(repo)
    assert (
        state is not None
        and len(state["commit"]) == 40
        and state["dirty"] is False
        and diff is None
    )
    assert state["remote"] == "https://git.example.invalid/team/project.git"  # no token kept
    (repo / "train.py").write_text("print('v2')\n")
    (repo / "new.py").write_text("x = 1\n")
    state, diff = git_state(repo)
    assert state is not None and state["dirty"] is True and state["untracked"] == ["new.py"]
    assert diff is not None and b"+print('v2')" in diff and state["diff_sha256"]


def test_outside_a_repository_there_is_no_git_state(tmp_path: Path) -> None:
    assert git_state(tmp_path) == (None, None)


def test_safe_url_strips_credentials() -> None:
    assert _safe_url("https://tok@github.com/a/b") == "https://github.com/a/b"
    assert _safe_url("git@github.com:a/b.git") == "git@github.com:a/b.git"


def test_a_script_run_records_its_environment_and_dirty_diff(repo: Path, tmp_path: Path) -> None:
    (repo / "train.py").write_text(
        textwrap.dedent(
            """
            import steward
            steward.seed_everything(7)
            with steward.start_run("scripted") as run:
                steward.log_metric("m", 1.0)
            print(run.id)
            """
        )
    )
    env = {**__import__("os").environ, "STEWARD_HOME": str(tmp_path / "home")}
    out = subprocess.run(
        [sys.executable, "train.py", "--epochs", "3"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    run_id = out.stdout.strip().splitlines()[-1]
    from steward._backend import SqlBackend, set_backend

    backend = SqlBackend.open(
        f"sqlite:///{tmp_path / 'home' / 'steward.db'}", str(tmp_path / "home" / "artifacts")
    )
    set_backend(backend)
    run = steward.get_run(run_id)
    assert run.context["command"][1:] == ["train.py", "--epochs", "3"]
    assert run.context["seed"] == 7
    assert run.context["git"]["dirty"] is True
    diff = steward.load_artifact_bytes(run_id, "environment/git.diff")
    assert b"steward.seed_everything(7)" in diff
    env_record = backend.get_environment(run.environment_id or "")
    assert env_record.python.endswith(".".join(map(str, sys.version_info[:3])))
    assert env_record.packages["numpy"] == np.__version__


def test_seed_everything_makes_random_repeatable(backend: Backend) -> None:
    steward.seed_everything(3)
    first = (random.random(), np.random.rand())
    steward.seed_everything(3)
    assert (random.random(), np.random.rand()) == first
    with steward.start_run() as run:
        pass
    assert steward.get_run(run.id).context["seed"] == 3
    with pytest.raises(InvalidInput, match="seed"):
        steward.seed_everything(-1)
