"""Lineage both ways: what a model was trained on, and what a dataset version is used by."""

from __future__ import annotations

import pytest

import steward
from steward import govern
from steward._backend import Backend
from steward.errors import InvalidInput, NotFound

from .conftest import LifeCycle


def _refs(graph: govern.LineageGraph, kind: str) -> list[str]:
    return sorted(n.ref for n in graph.of_kind(kind))


def test_upstream_of_a_model_version_is_its_run_and_training_data(
    life_cycle: LifeCycle,
) -> None:
    graph = govern.lineage("model:churn/2", direction="upstream")
    assert graph.node(graph.root).label == "churn v2"
    assert _refs(graph, "run") == [life_cycle.run_v2]
    assert _refs(graph, "dataset_version") == ["churn-data@2"]
    assert _refs(graph, "dataset") == ["churn-data"]
    assert graph.of_kind("deployment") == []  # upstream only
    relations = {(e.source.split(":")[0], e.target.split(":")[0], e.relation) for e in graph.edges}
    assert relations == {
        ("dataset", "dataset_version", "version"),
        ("dataset_version", "run", "input:training"),
        ("run", "model_version", "produced"),
    }


def test_downstream_of_a_dataset_version_reaches_deployments_and_prediction_logs(
    life_cycle: LifeCycle,
) -> None:
    graph = govern.impact("churn-data", 1)
    assert _refs(graph, "run") == [life_cycle.run_v1]
    assert _refs(graph, "model_version") == ["churn/1"]
    assert _refs(graph, "deployment") == ["churn"]
    logs = graph.of_kind("prediction_log")
    assert [n.ref for n in logs] == ["churn"] and logs[0].details["location"]
    served = next(e for e in graph.edges if e.relation == "served_by")
    assert served.current is False  # the deployment has moved on to version 2
    assert life_cycle.run_unrelated not in {n.ref for n in graph.nodes}


def test_the_impact_of_a_whole_dataset_covers_every_version(life_cycle: LifeCycle) -> None:
    graph = govern.impact("churn-data")
    assert _refs(graph, "dataset_version") == ["churn-data@1", "churn-data@2"]
    assert _refs(graph, "run") == sorted([life_cycle.run_v1, life_cycle.run_v2])
    assert _refs(graph, "model_version") == ["churn/1", "churn/2"]
    current = {e.source: e.current for e in graph.edges if e.relation == "served_by"}
    labels = {graph.node(k).label: v for k, v in current.items()}
    assert labels == {"churn v1": False, "churn v2": True}
    retained = graph.node(next(k for k in current if graph.node(k).label == "churn v2"))
    assert retained.details["deleted"] is False


def test_both_ways_from_a_run_and_from_a_deployment(life_cycle: LifeCycle) -> None:
    around_run = govern.lineage(f"run:{life_cycle.run_v1}")
    assert _refs(around_run, "dataset_version") == ["churn-data@1"]
    assert _refs(around_run, "model_version") == ["churn/1"]
    assert _refs(around_run, "deployment") == ["churn"]
    upstream = govern.lineage("deployment:churn", direction="upstream", depth=3)
    assert _refs(upstream, "model_version") == ["churn/1", "churn/2"]
    assert _refs(upstream, "dataset_version") == ["churn-data@1", "churn-data@2"]
    shallow = govern.lineage("deployment:churn", direction="upstream", depth=1)
    assert _refs(shallow, "run") == []
    from_log = govern.lineage("predictions:churn", direction="upstream", depth=1)
    assert _refs(from_log, "deployment") == ["churn"]


def test_model_versions_are_named_by_number_alias_or_uri(life_cycle: LifeCycle) -> None:
    steward.set_alias("churn", "champion", 2)
    for name in ("model:churn/2", "model:churn@champion", "models:/churn/2"):
        assert (
            govern.lineage(name, direction="upstream")
            .node(govern.lineage(name, direction="upstream").root)
            .ref
            == "churn/2"
        )


def test_unknown_nodes_say_what_is_known(backend: Backend) -> None:
    steward.register_dataset(
        __import__("pandas").DataFrame({"a": [1, 2]}), "known", terms_of_use="x"
    )
    with pytest.raises(NotFound, match="Did you mean 'known'"):
        govern.lineage("dataset:knwon")
    with pytest.raises(NotFound, match="no version 9; its versions are 1"):
        govern.lineage("dataset:known@9")
    with pytest.raises(InvalidInput, match="dataset:NAME@VERSION"):
        govern.lineage("credit")
    with pytest.raises(NotFound, match="Run 'nope' does not exist"):
        govern.lineage("run:nope")
    with pytest.raises(NotFound, match="Deployment 'nope' does not exist"):
        govern.lineage("deployment:nope")
    with pytest.raises(InvalidInput, match="between 1 and 20"):
        govern.lineage("dataset:known", depth=0)
