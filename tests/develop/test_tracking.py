"""The tracking contract: the same tests on SQLite, PostgreSQL and the HTTP server."""

from __future__ import annotations

import pytest

import steward
from steward._backend import Backend
from steward.errors import Conflict, InvalidInput, NotFound


def test_run_lifecycle_records_params_metrics_tags(backend: Backend) -> None:
    with steward.start_run(
        "baseline", project="risk", experiment="churn", tags={"team": "risk"}
    ) as run:
        steward.log_param("model", "rf")
        steward.log_params({"n_estimators": 200, "max_depth": None})
        for step, loss in enumerate([0.9, 0.5, 0.3]):
            steward.log_metric("loss", loss, step)
        steward.log_metric("auc", 0.91)
        steward.set_tag("stage", "dev")
    stored = steward.get_run(run.id)
    assert stored.status == "FINISHED" and stored.end_time is not None
    assert (stored.project, stored.experiment, stored.name) == ("risk", "churn", "baseline")
    assert stored.params == {"model": "rf", "n_estimators": "200", "max_depth": "None"}
    assert stored.tags == {"team": "risk", "stage": "dev"}
    loss = stored.metrics["loss"]
    assert (loss.value, loss.step, loss.min, loss.max, loss.count) == (0.3, 2, 0.3, 0.9, 3)
    assert stored.user == "tester"
    history = backend.get_metric_history(run.id, "loss")
    assert [(p.step, p.value) for p in history] == [(0, 0.9), (1, 0.5), (2, 0.3)]


def test_failed_block_marks_run_failed_with_the_exception(backend: Backend) -> None:
    with pytest.raises(ZeroDivisionError), steward.start_run("crash") as run:
        steward.log_metric("x", 1.0)
        _ = 1 / 0
    stored = steward.get_run(run.id)
    assert stored.status == "FAILED"
    assert stored.error is not None and "ZeroDivisionError" in stored.error
    assert stored.metrics["x"].value == 1.0  # points logged before the failure are kept


def test_nested_runs_record_their_parent(backend: Backend) -> None:
    with steward.start_run("parent") as parent:
        with steward.start_run("child", nested=True) as child:
            steward.log_metric("fold_auc", 0.8)
        with pytest.raises(InvalidInput, match="already active"):
            steward.start_run("not nested")
    assert steward.get_run(child.id).parent_run_id == parent.id
    children = steward.search_runs(f"parent_run_id = '{parent.id}'")
    assert children["run_id"].tolist() == [child.id]


def test_param_logged_again_with_another_value_is_a_conflict(backend: Backend) -> None:
    with steward.start_run() as run:
        steward.log_param("lr", 0.1)
        steward.log_param("lr", 0.1)  # the same value again is fine
        with pytest.raises(Conflict, match=r"'lr'.*already '0.1'; got '0.2'"):
            steward.log_param("lr", 0.2)
    assert steward.get_run(run.id).params == {"lr": "0.1"}


@pytest.mark.parametrize("value", ["high", None, float("nan"), float("inf"), True])
def test_metric_that_is_not_a_finite_number_is_refused(backend: Backend, value: object) -> None:
    with steward.start_run() as run, pytest.raises(InvalidInput, match="'acc'"):
        steward.log_metric("acc", value)  # type: ignore[arg-type]
    assert steward.get_run(run.id).metrics == {}


@pytest.mark.parametrize("name", ["", "has space", "../escape", "x" * 201, "é-accent"])
def test_invalid_project_names_are_refused_with_a_suggestion(backend: Backend, name: str) -> None:
    with pytest.raises(InvalidInput, match="project name"):
        steward.start_run(project=name)


@pytest.mark.parametrize("key", ["", "a..b", "trailing/", "tab\tkey"])
def test_invalid_keys_are_refused(backend: Backend, key: str) -> None:
    with steward.start_run():
        with pytest.raises(InvalidInput):
            steward.log_metric(key, 1.0)
        with pytest.raises(InvalidInput):
            steward.log_param(key, 1)


def test_unknown_run_id_is_not_found(backend: Backend) -> None:
    with pytest.raises(NotFound, match="Run 'nope' does not exist"):
        steward.get_run("nope")
    with pytest.raises(NotFound):
        steward.log_param("a", 1, run_id="nope")
    with pytest.raises(NotFound):
        backend.update_run("nope", status="FINISHED")


def test_ending_a_run_twice_differently_is_a_conflict(backend: Backend) -> None:
    with steward.start_run() as run:
        pass
    with pytest.raises(Conflict, match="already ended as FINISHED"):
        backend.update_run(run.id, status="FAILED")
    assert steward.get_run(run.id).status == "FINISHED"


def test_resume_a_finished_run(backend: Backend) -> None:
    with steward.start_run("train") as run:
        steward.log_metric("loss", 1.0, 0)
    with steward.start_run(run_id=run.id):
        steward.log_metric("loss", 0.5, 1)
    stored = steward.get_run(run.id)
    assert stored.status == "FINISHED" and stored.metrics["loss"].count == 2


def test_log_batch_many_points_with_steps(backend: Backend) -> None:
    with steward.start_run() as run:
        n = steward.log_batch(
            metrics={"loss": [1.0 / (i + 1) for i in range(2500)], "acc": 0.5},
            params={"optimizer": "adam"},
            tags={"note": "batch"},
        )
        assert n == 2501
        steward.log_batch(metrics=[("val_loss", 0.7, 3), ("val_loss", 0.6, 4, 1_700_000_000.0)])
    stored = steward.get_run(run.id)
    assert stored.metrics["loss"].count == 2500 and stored.metrics["loss"].step == 2499
    assert stored.metrics["val_loss"].value == 0.6
    assert stored.params == {"optimizer": "adam"} and stored.tags["note"] == "batch"
    thinned = backend.get_metric_history(run.id, "loss", max_points=100)
    assert len(thinned) == 100 and thinned[0].step == 0 and thinned[-1].step == 2499


def test_log_batch_refuses_a_malformed_point_and_stores_nothing_of_it(backend: Backend) -> None:
    with steward.start_run() as run:
        with pytest.raises(InvalidInput):
            steward.log_batch(metrics=[("a", 1.0, 0), ("b", "x", 0)])  # type: ignore[list-item]
        with pytest.raises(InvalidInput, match="step"):
            steward.log_batch(metrics=[("a", 1.0, -1)])
    assert steward.get_run(run.id).metrics == {}


def test_buffered_metrics_are_all_stored_when_the_run_ends(backend: Backend) -> None:
    with steward.start_run() as run:
        for i in range(3000):
            steward.log_metric("m", float(i))
    stored = steward.get_run(run.id)
    assert stored.metrics["m"].count == 3000 and stored.metrics["m"].value == 2999.0


def test_objectives_and_kpis_of_a_project(backend: Backend) -> None:
    steward.create_project("fraud", "Card fraud detection")
    steward.set_objective(
        "fraud_rate",
        "share of transactions later confirmed fraudulent",
        "minimize",
        0.001,
        project="fraud",
        unit="ratio",
    )
    steward.set_objective(
        "approval_rate", "share of approved transactions", "maximize", 0.97, project="fraud"
    )
    objectives = {o.name: o for o in steward.get_objectives("fraud")}
    assert objectives["fraud_rate"].is_met(0.0008) is True
    assert objectives["fraud_rate"].is_met(0.002) is False
    assert objectives["approval_rate"].is_met(0.98) is True
    with pytest.raises(NotFound, match="Did you mean 'fraud'"):
        steward.get_objectives("frad")
    with pytest.raises(InvalidInput, match="definition"):
        steward.set_objective("x", "  ", "minimize", project="fraud")


def test_artifacts_files_folders_text_and_tables(backend: Backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd

    folder = tmp_path / "out"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("alpha")
    (folder / "sub" / "b.txt").write_text("beta")
    with steward.start_run() as run:
        steward.log_artifacts(folder, "reports")
        steward.log_artifact(folder / "a.txt")
        steward.log_text("hello", "notes/hello.txt")
        steward.log_dict({"k": [1, 2]}, "config.yaml")
        steward.log_table(pd.DataFrame({"x": [1, 2]}), "tables/x.parquet")
        with pytest.raises(InvalidInput, match="artifact path"):
            steward.log_text("x", "../outside.txt")
    paths = [a.path for a in steward.list_artifacts(run.id)]
    assert paths == [
        "a.txt",
        "config.yaml",
        "notes/hello.txt",
        "reports/a.txt",
        "reports/sub/b.txt",
        "tables/x.parquet",
    ]
    same = {a.path: a.sha256 for a in steward.list_artifacts(run.id)}
    assert same["a.txt"] == same["reports/a.txt"]  # stored once, by content
    assert steward.load_artifact_bytes(run.id, "notes/hello.txt") == b"hello"
    local = steward.download_artifacts(run.id, "reports", tmp_path / "dl")
    assert (local / "sub" / "b.txt").read_text() == "beta"
    assert pd.read_parquet(steward.download_artifacts(run.id, "tables/x.parquet", tmp_path / "t"))[
        "x"
    ].tolist() == [1, 2]


def test_figures_are_stored(backend: Backend) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import plotly.graph_objects as go

    fig, ax = plt.subplots()
    ax.plot([1, 2, 3])
    with steward.start_run() as run:
        steward.log_figure(fig, "plots/line.png")
        steward.log_figure(go.Figure(go.Scatter(y=[1, 3, 2])), "plots/line.html")
        with pytest.raises(InvalidInput, match="matplotlib or Plotly"):
            steward.log_figure(object(), "x.png")
    plt.close(fig)
    png = steward.load_artifact_bytes(run.id, "plots/line.png")
    assert png.startswith(b"\x89PNG")
    html = steward.load_artifact_bytes(run.id, "plots/line.html").decode()
    assert "Plotly.newPlot" in html and '<script src="http' not in html  # works offline


def test_every_change_is_an_event_with_its_actor(backend: Backend) -> None:
    with steward.start_run("audited") as run:
        steward.log_param("a", 1)
        steward.log_metric("m", 1.0, synchronous=True)
    events = backend.list_events(entity_type="run", entity_id=run.id)
    actions = [e.action for e in events]
    assert actions[0] == "run.created" and actions[-1] == "run.updated"
    assert "run.logged" in actions
    assert {e.actor for e in events} == {"tester"}
    created = backend.list_events(entity_type="experiment")
    assert created and created[0].payload["name"] == "default"


def test_compare_runs_marks_what_differs(backend: Backend) -> None:
    with steward.start_run("a") as a:
        steward.log_params({"model": "rf", "seed": 1})
        steward.log_metric("auc", 0.9)
    with steward.start_run("b", capture_environment_info=False) as b:
        steward.log_params({"model": "gbm", "seed": 1})
        steward.log_metric("auc", 0.9)
        steward.log_metric("loss", 0.2)
    comparison = steward.compare_runs([a.id, b.id])
    assert list(comparison.table.columns) == ["a", "b"]
    differing = set(comparison.differences.index)
    assert {"params.model", "metrics.loss", "env.captured"} <= differing
    assert not {"params.seed", "metrics.auc", "run.status"} & differing
    assert not any(label.startswith("env.packages.") for label in differing)
    assert comparison.table.loc["params.model", "b"] == "gbm"
    html = comparison.to_html()
    assert html.count('class="differs"') == len(comparison.differences)
    with pytest.raises(InvalidInput, match="at least two"):
        steward.compare_runs([a.id])
