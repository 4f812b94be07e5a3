"""The README's demo runs end to end on a fresh home and tracks what it says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import steward
from steward._backend import SqlBackend, set_backend

ROOT = Path(__file__).resolve().parents[2]


def test_demo_tracks_compares_and_checks_the_objective(tmp_path: Path) -> None:
    home = tmp_path / "home"
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py")],
        env={**os.environ, "STEWARD_HOME": str(home), "COLUMNS": "160"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "Side by side" in out.stdout and "business objective" in out.stdout
    set_backend(SqlBackend.open(f"sqlite:///{home / 'steward.db'}", str(home / "artifacts")))
    runs = steward.search_runs(project="diabetes-triage", order_by=["metrics.test_roc_auc DESC"])
    assert sorted(runs["name"]) == ["gradient-boosting", "logistic-regression", "random-forest"]
    assert (runs["status"] == "FINISHED").all()
    best = runs.iloc[0]
    assert f"Best run {best['name']}" in " ".join(out.stdout.split())
    assert 0.7 < best["metrics.test_roc_auc"] <= 1.0
    run = steward.get_run(best["run_id"])
    assert {(i.dataset, i.context) for i in run.inputs} == {
        ("diabetes-train", "training"),
        ("diabetes-holdout", "evaluation"),
    }
    assert {a.path for a in steward.list_artifacts(run.id)} >= {
        "model/steward.yaml",
        "model/model/model.pkl",
        "plots/roc.png",
    }
    assert steward.get_dataset("diabetes-train").sensitive_columns == ["age", "sex"]
    assert [o.name for o in steward.get_objectives("diabetes-triage")] == [
        "missed_fast_progressors",
        "review_load",
    ]


def test_reproducing_the_demos_training_run_gives_the_same_metrics(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "STEWARD_HOME": str(home), "COLUMNS": "160"}
    subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py")],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    set_backend(SqlBackend.open(f"sqlite:///{home / 'steward.db'}", str(home / "artifacts")))
    champion = steward.get_model_version("models:/diabetes-progression@champion")
    assert {f.path for f in champion.files if f.kind == "report"} == {
        "reports/model_card.md",
        "reports/model_card.html",
    }
    assert champion.run_id is not None
    out = subprocess.run(
        [sys.executable, "-m", "steward.cli", "reproduce", champion.run_id, "--here", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    import json

    report = json.loads(out.stdout)
    assert report["reproduced"] is True
    assert (
        steward.get_registered_model("diabetes-progression").aliases["champion"] == champion.version
    )  # untouched
