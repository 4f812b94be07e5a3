"""The README's demo runs end to end on a fresh home and tracks what it says."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import steward
import steward.monitor
from steward import govern, iterate
from steward._backend import SqlBackend, set_backend
from tests.e2e.conftest import run_demo

ROOT = Path(__file__).resolve().parents[2]
# One run of the demo (tests/e2e/conftest.py) serves these and the browser tests over it;
# the first test to ask waits for it.
pytestmark = pytest.mark.timeout(900)


def open_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEWARD_HOME", str(home))  # the demo's home: its logs, its store
    set_backend(SqlBackend.open(f"sqlite:///{home / 'steward.db'}", str(home / "artifacts")))


def test_demo_tracks_compares_and_checks_the_objective(
    demo: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    home, stdout = demo
    assert "Side by side" in stdout and "business objective" in stdout
    open_home(home, monkeypatch)
    runs = steward.search_runs(
        project="diabetes-triage",
        experiments=["progression-classifier"],
        order_by=["metrics.test_roc_auc DESC"],
    )
    # The validation gate's reproducibility check re-ran the training: three more runs,
    # each tagged with the run it reproduces.
    again = runs["tags.steward.reproduction_of"].notna()
    assert sorted(runs.loc[again, "tags.steward.reproduction_of"]) == sorted(
        runs.loc[~again, "run_id"]
    )
    runs = runs[~again].reset_index(drop=True)
    assert sorted(runs["name"]) == ["gradient-boosting", "logistic-regression", "random-forest"]
    assert (runs["status"] == "FINISHED").all()
    best = runs.iloc[0]
    assert f"Best run {best['name']}" in " ".join(stdout.split())
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
    text = " ".join(stdout.split())
    assert "Blue-green: switched to v2 and back under load:" in text and ", 0 failed;" in text
    deployment = steward.get_deployment("diabetes-progression")
    history = steward.get_deployment_history("diabetes-progression")
    assert [h.spec.policy for h in history] == [
        "single",
        "single",
        "single",
        "shadow",
        "single",
        "ab",  # the iteration step's A/B test of the retrained challenger
        "single",
    ]
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


def test_reproducing_the_demos_training_run_gives_the_same_metrics(
    demo: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"  # a copy: reproducing adds runs the other tests do not expect
    shutil.copytree(demo[0], home, ignore=shutil.ignore_patterns("deployments", "cache"))
    open_home(home, monkeypatch)
    env = {**os.environ, "STEWARD_HOME": str(home), "COLUMNS": "160"}
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


def test_demo_monitors_the_deployment(
    demo: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    home, stdout = demo
    open_home(home, monkeypatch)
    text = " ".join(stdout.split())
    # Three runs: three runs; alerts on the drifted window only, the drop once labels came.
    runs = steward.monitor.list_alerts("diabetes-progression")
    backend = steward.context.get_backend()
    monitored = list(reversed(backend.list_monitor_runs("diabetes-progression", 10)))
    assert len(monitored) == 3 and not monitored[0].alerts
    assert {"drift.features", "drift.prediction"} <= {a.rule for a in monitored[1].alerts}
    assert "performance.drop" not in {a.rule for a in monitored[1].alerts}  # no labels yet
    assert "performance.drop" in {a.rule for a in monitored[2].alerts}
    assert {a.monitor_run_id for a in runs} == {monitored[1].id, monitored[2].id}
    assert (
        "bmi, s5" in text and (home / "reports" / "diabetes-progression-monitoring.html").is_file()
    )


def test_demo_retrains_on_drift_and_ab_tests_the_challenger(
    demo: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    home, stdout = demo
    open_home(home, monkeypatch)
    text = " ".join(stdout.split())
    assert "open drift alert(s)" in text and "triggered it" in text
    leaky, retrained = iterate.list_retrainings("diabetes-triage")  # newest first
    assert retrained.trigger == "drift" and retrained.status == "review"
    assert [s.step for s in retrained.steps] == ["validate", "train", "compare", "decide"]
    assert retrained.step("validate").status == "passed"  # type: ignore[union-attr]
    assert retrained.data == "diabetes-newer@1" and retrained.champion == (
        "models:/diabetes-progression/1"
    )
    challenger = steward.get_model_version(retrained.challenger or "")
    assert {(d.dataset, d.context) for d in challenger.manifest.datasets} == {
        ("diabetes-newer", "training"),
        ("diabetes-holdout", "evaluation"),
    }
    model = steward.get_registered_model("diabetes-progression")
    assert model.aliases["champion"] == 1  # held for a reviewer, as the config says
    requests = govern.signoff_status("diabetes-progression", challenger.version).requests
    assert len(requests) == 1 and "steward retraining report" in requests[0].note
    assert leaky.status == "stopped" and leaky.stopped_at == "validate"
    assert "12 of the 133 evaluation rows" in leaky.steps[0].summary
    assert (home / "reports" / f"diabetes-progression-retraining-{retrained.id}.html").is_file()
    # The A/B test: planned first, 266 rewards, no verdict short of the plan; readable after
    plan = iterate.get_ab_plan("diabetes-progression")
    assert plan is not None and plan.per_arm == 1192
    readout = iterate.ab_readout("diabetes-progression")
    assert readout.a.n + readout.b.n == 266 and not readout.fixed.ready
    assert "A/B readout" in text and "withheld:" in text
    shadow = iterate.analyze_shadow("diabetes-progression")  # the deploy step's shadow test
    assert shadow.routes[0].requests == 133


def test_demo_governs_the_move_to_production(
    demo: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    home, stdout = demo
    open_home(home, monkeypatch)
    text = " ".join(stdout.split())
    assert "Promotion blocked:" in text and "The author's own approval is refused:" in text
    model = steward.get_registered_model("diabetes-progression")
    champion = model.aliases["champion"]
    assert model.aliases["production"] == champion  # promoted once validated and approved
    status = govern.signoff_status("diabetes-progression", champion)
    assert [(s.reviewer, s.decision) for s in status.signoffs] == [("dr-rivera", "approve")]
    backend = steward.context.get_backend()
    validations = backend.list_validations("diabetes-progression", champion)
    assert len(validations) == 1 and validations[0].passed
    assert (home / "reports" / f"diabetes-progression-v{champion}-validation.html").is_file()
    assert "Validation gate: PASSED" in text
    # The demo broke the audit chain by hand, saw it named, and put the row back.
    assert "After editing row" in text and govern.verify_audit().ok


def test_the_demo_runs_again_on_its_own_store(
    demo: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make demo` twice: the second run finds the first's high-risk policy and lifts it."""
    home = tmp_path / "home"
    shutil.copytree(demo[0], home, ignore=shutil.ignore_patterns("cache"))
    again = run_demo(home)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "left a high-risk policy on diabetes-triage: lifted" in " ".join(again.stdout.split())
    open_home(home, monkeypatch)
    model = steward.get_registered_model("diabetes-progression")
    assert model.aliases["production"] == model.aliases["champion"] > 2  # this run's version
    assert govern.verify_audit().ok
