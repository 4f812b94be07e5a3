"""The registry contract on SQLite, PostgreSQL and the HTTP server."""

from __future__ import annotations

import threading

import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

import steward
from steward._backend import Backend
from steward.errors import AlreadyExists, Conflict, InvalidInput, NotFound, PolicyViolation
from steward.registry import PromotionRequest, add_promotion_hook, remove_promotion_hook


def _log(pipeline: Pipeline, X: pd.DataFrame, name: str = "churn") -> steward.ModelVersion:
    with steward.start_run("train", capture_environment_info=False):
        steward.log_metric("auc", 0.81)
        info = steward.log_model(pipeline, "model", input_example=X, registered_model_name=name)
    assert info.version is not None
    return info.version


def test_log_register_alias_and_load_by_every_uri(
    backend: Backend, churn_pipeline: Pipeline, churn_data: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, _ = churn_data
    v1 = _log(churn_pipeline, X)
    v2 = _log(churn_pipeline, X)
    assert (v1.version, v2.version) == (1, 2)
    assert v1.manifest.flavor == "sklearn" and v1.manifest.metrics == {"auc": 0.81}
    assert set(v1.manifest.requirements) == {"numpy", "scikit-learn"}
    steward.set_alias("churn", "champion", 1, reason="first release")
    expected = churn_pipeline.predict_proba(X.head(20))
    for uri in (
        "models:/churn@champion",
        "models:/churn/1",
        "models:/churn/latest",
        "models:/churn@latest",
        v1.source,
    ):
        model = steward.load_model(uri)
        assert (model.predict_proba(X.head(20)) == expected).all(), uri
    assert steward.load_model("models:/churn/latest").version.version == 2  # type: ignore[union-attr]
    registered = steward.get_registered_model("churn")
    assert registered.aliases == {"champion": 1} and registered.latest_version == 2
    assert registered.owners == ["tester"]


def test_alias_moves_are_atomic_and_remembered(
    backend: Backend, churn_pipeline: Pipeline, churn_data: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, _ = churn_data
    _log(churn_pipeline, X)
    _log(churn_pipeline, X)
    steward.set_alias("churn", "champion", 1, reason="baseline")
    move = steward.set_alias("churn", "champion", 2, reason="better auc", expected_version=1)
    assert (move.from_version, move.to_version, move.actor) == (1, 2, "tester")
    with pytest.raises(Conflict, match="is on version 2, not on version 1"):
        steward.set_alias("churn", "champion", 1, expected_version=1)
    steward.delete_alias("churn", "champion", reason="retired")
    history = [
        (m.alias, m.from_version, m.to_version, m.reason)
        for m in steward.get_alias_history("churn")
    ]
    assert history == [
        ("champion", None, 1, "baseline"),
        ("champion", 1, 2, "better auc"),
        ("champion", 2, None, "retired"),
    ]
    with pytest.raises(NotFound, match="no alias 'champion'"):
        steward.load_model("models:/churn@champion")


def test_registry_refuses_bad_requests(
    backend: Backend, churn_pipeline: Pipeline, churn_data: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, _ = churn_data
    _log(churn_pipeline, X)
    with pytest.raises(NotFound, match=r"versions are 1"):
        steward.set_alias("churn", "champion", 7)
    with pytest.raises(InvalidInput, match="reserved"):
        steward.set_alias("churn", "latest", 1)
    with pytest.raises(InvalidInput, match="reserved"):
        steward.set_alias("churn", "3", 1)
    with pytest.raises(NotFound, match="Did you mean 'churn'"):
        steward.load_model("models:/chrun@champion")
    with pytest.raises(AlreadyExists):
        steward.create_registered_model("churn")
    with pytest.raises(InvalidInput, match="not a model URI"):
        steward.load_model("models:/churn/3/extra")
    with pytest.raises(InvalidInput, match="models:/churn@champ"):
        steward.load_model("models:/churn/champ")
    with pytest.raises(NotFound, match="no model package"):
        with steward.start_run() as run:
            pass
        steward.register_model(f"runs:/{run.id}/model", "churn")


def test_deleting_a_version_an_alias_points_at_is_refused(
    backend: Backend, churn_pipeline: Pipeline, churn_data: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, _ = churn_data
    _log(churn_pipeline, X)
    _log(churn_pipeline, X)
    steward.set_alias("churn", "champion", 1)
    with pytest.raises(Conflict, match="champion"):
        backend.delete_model_version("churn", 1)
    deleted = backend.delete_model_version("churn", 2)
    assert deleted.deleted
    with pytest.raises(NotFound, match="was deleted"):
        steward.load_model("models:/churn/2")
    with pytest.raises(NotFound, match="was deleted"):
        steward.set_alias("churn", "challenger", 2)
    assert [v.version for v in backend.list_model_versions("churn")] == [1]
    assert [v.version for v in backend.list_model_versions("churn", include_deleted=True)] == [2, 1]
    assert steward.load_model("models:/churn/latest").version.version == 1  # type: ignore[union-attr]


def test_promotion_hook_can_veto_a_move(
    backend: Backend, churn_pipeline: Pipeline, churn_data: tuple[pd.DataFrame, pd.Series]
) -> None:
    if not hasattr(backend, "store"):
        pytest.skip("hooks run on the server's side; covered by the SQL backends")
    X, _ = churn_data
    _log(churn_pipeline, X)
    seen: list[PromotionRequest] = []

    def no_production_without_reason(_tx, request: PromotionRequest) -> None:  # type: ignore[no-untyped-def]
        seen.append(request)
        if request.alias == "production" and not request.reason:
            raise PolicyViolation("Moving 'production' needs a reason (the change ticket).")

    add_promotion_hook(no_production_without_reason)
    try:
        with pytest.raises(PolicyViolation, match="needs a reason"):
            steward.set_alias("churn", "production", 1)
        steward.set_alias("churn", "production", 1, reason="CHG-42")
    finally:
        remove_promotion_hook(no_production_without_reason)
    assert [(r.alias, r.to_version, r.actor) for r in seen] == [("production", 1, "tester")] * 2
    assert [m.reason for m in steward.get_alias_history("churn", "production")] == ["CHG-42"]


def test_lineage_and_sensitive_features_are_recorded(
    backend: Backend, churn_pipeline: Pipeline, churn_data: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, y = churn_data
    data = steward.register_dataset(
        X.assign(churn=y), "churn-train", sensitive_columns=["paperless"]
    )
    with steward.start_run("train") as run:
        steward.log_input(data)
        info = steward.log_model(
            churn_pipeline, "model", input_example=X, registered_model_name="churn"
        )
    assert info.version is not None
    manifest = info.version.manifest
    assert [(d.dataset, d.version, d.context) for d in manifest.datasets] == [
        ("churn-train", 1, "training")
    ]
    assert manifest.datasets[0].content_hash == data.content_hash
    assert manifest.uses_sensitive_columns == ["paperless"]
    assert manifest.run_id == run.id and info.version.run_id == run.id
    events = backend.list_events(entity_type="model_version")
    # Created, then the monitor stage's reference profile (and its row sample) attached.
    assert [e.action for e in events] == ["model.version.created"] + [
        "model.version.file_added"
    ] * 2
    assert {e.payload["path"] for e in events[1:]} == {
        "monitoring/reference.json",
        "monitoring/reference_sample.parquet",
    }


def test_concurrent_alias_moves_are_serialized(
    backend: Backend, churn_pipeline: Pipeline, churn_data: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, _ = churn_data
    for _ in range(3):
        _log(churn_pipeline, X)
    steward.set_alias("churn", "champion", 1)
    outcomes: list[str] = []

    def move(to: int) -> None:
        try:
            backend.set_alias("churn", "champion", to, "race", 1)
            outcomes.append(f"moved to {to}")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=move, args=(v,)) for v in (2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes)[0] == "conflict" and len(outcomes) == 2
    history = steward.get_alias_history("churn", "champion")
    assert len(history) == 2 and history[-1].from_version == 1
    assert steward.get_registered_model("churn").aliases["champion"] == history[-1].to_version


def test_model_summary_reports_what_is_recorded(
    backend: Backend, churn_pipeline: Pipeline, churn_data: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, _ = churn_data
    _log(churn_pipeline, X)
    steward.set_alias("churn", "champion", 1, reason="first")
    text = steward.model_summary("models:/churn@champion")
    assert text.startswith("# churn — version 1")
    assert "| plan | categorical | str | no | basic, plus, pro |" in text
    assert "| auc | 0.81 |" in text and "champion" in text and "| first |" in text
    assert "_Missing: to be written by the model's owner" in text  # not invented
    page = steward.model_summary("models:/churn/1", format="html")
    assert page.startswith("<!doctype html>") and "<table>" in page and "http" not in page
