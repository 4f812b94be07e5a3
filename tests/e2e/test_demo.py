"""The README's demo runs end to end on a fresh home and tracks what it says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import steward
from steward._backend import SqlBackend, set_backend

ROOT = Path(__file__).resolve().parents[2]


def test_demo_tracks_compares_and_checks_the_objective(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
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
    monkeypatch.setenv("STEWARD_HOME", str(home))  # the demo's home: its logs, its store
    set_backend(SqlBackend.open(f"sqlite:///{home / 'steward.db'}", str(home / "artifacts")))
    runs = steward.search_runs(
        project="diabetes-triage",
        experiments=["progression-classifier"],
        order_by=["metrics.test_roc_auc DESC"],
    )
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
    # The deploy stage: served, switched under load without a failure, shadowed, scored.
    text = " ".join(out.stdout.split())
    assert "Blue-green: switched to v2 and back under load:" in text and ", 0 failed;" in text
    deployment = steward.get_deployment("diabetes-progression")
    history = steward.get_deployment_history("diabetes-progression")
    assert [h.spec.policy for h in history] == ["single", "single", "single", "shadow", "single"]
    assert [h.spec.routes[0].resolved for h in history][:3] == [
        "models:/diabetes-progression/1",
        "models:/diabetes-progression/2",
        "models:/diabetes-progression/1",
    ]
    live = steward.traffic(deployment)
    assert live.requests > 300 and live.shadow_compared == 133
    labels = list((home / "deployments" / "diabetes-progression" / "feedback").rglob("*.parquet"))
    assert labels  # ground truth for the first 133 requests
    scored = home / "scoring" / "patients-scored.parquet"
    import pandas as pd

    frame = pd.read_parquet(scored)
    assert len(frame) == 133 and set(frame["model_version"]) == {"diabetes-progression/1"}
    job = steward.search_runs(experiments=["batch-scoring"], output="runs")
    assert [r.tags["steward.job"] for r in job] == ["score"]


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
