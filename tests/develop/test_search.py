"""search_runs: the filter language, ordering and pagination, on every backend."""

from __future__ import annotations

import pytest

import steward
from steward._backend import Backend
from steward.develop._filter import BoolOp, Comparison, parse_filter
from steward.errors import InvalidInput


@pytest.fixture
def runs(backend: Backend) -> dict[str, str]:
    """Six finished runs with different models, metrics, teams and experiments."""
    ids = {}
    specs = [
        ("rf-1", "rf", 0.95, "risk", "exp-a", 100),
        ("rf-2", "rf", 0.85, "risk", "exp-a", 300),
        ("gbm-1", "gbm", 0.97, "risk", "exp-b", 50),
        ("gbm-2", "gbm", 0.91, "growth", "exp-b", 1000),
        ("lr-1", "lr", 0.70, "growth", "exp-a", 10),
        ("lr-2", "o'brien", 0.60, "growth", "exp-a", 2),
    ]
    for name, model, auc, team, exp, trees in specs:
        with steward.start_run(
            name, experiment=exp, tags={"team": team}, capture_environment_info=False
        ) as run:
            steward.log_params({"model": model, "n_trees": trees})
            steward.log_metric("auc", auc)
            if not name.startswith("lr"):
                steward.log_metric("val auc", auc - 0.05)
        ids[name] = run.id
    return ids


def names(frame) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(frame["name"].tolist())


def test_the_issue_example_filter(runs: dict[str, str]) -> None:
    found = steward.search_runs("metrics.auc > 0.9 and params.model = 'rf' and tags.team = 'risk'")
    assert names(found) == ["rf-1"]
    assert found.loc[0, "metrics.auc"] == 0.95 and found.loc[0, "params.model"] == "rf"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics.auc >= 0.91", ["gbm-1", "gbm-2", "rf-1"]),
        ("metrics.auc < 0.8 or params.model = 'gbm'", ["gbm-1", "gbm-2", "lr-1", "lr-2"]),
        ("(params.model = 'rf' or params.model = 'gbm') and tags.team = 'growth'", ["gbm-2"]),
        ("not params.model = 'rf'", ["gbm-1", "gbm-2", "lr-1", "lr-2"]),
        ("params.model in ('rf', 'lr')", ["lr-1", "rf-1", "rf-2"]),
        ("params.model not in ('rf', 'gbm')", ["lr-1", "lr-2"]),
        ("params.model like 'g%'", ["gbm-1", "gbm-2"]),
        ("params.model ILIKE 'RF'", ["rf-1", "rf-2"]),
        ("params.model = 'o''brien'", ["lr-2"]),
        ("params.n_trees > 99", ["gbm-2", "rf-1", "rf-2"]),
        ("params.n_trees = 100", ["rf-1"]),
        ("metrics.`val auc` > 0.9", ["gbm-1"]),
        ('metrics."val auc" is null', ["lr-1", "lr-2"]),
        ("experiment = 'exp-b'", ["gbm-1", "gbm-2"]),
        ("name like 'rf-%' and status = 'FINISHED'", ["rf-1", "rf-2"]),
        ("attributes.run_name = 'lr-1'", ["lr-1"]),
        ("tags.team != 'risk'", ["gbm-2", "lr-1", "lr-2"]),
        ("metrics.missing > 0", []),
    ],
)
def test_filter_language(runs: dict[str, str], text: str, expected: list[str]) -> None:
    assert names(steward.search_runs(text)) == expected


def test_order_by_and_pagination(runs: dict[str, str]) -> None:
    ordered = steward.search_runs(order_by=["metrics.auc DESC"])
    assert ordered["name"].tolist() == ["gbm-1", "rf-1", "gbm-2", "rf-2", "lr-1", "lr-2"]
    by_missing = steward.search_runs(order_by=["metrics.`val auc` ASC"])
    assert by_missing["name"].tolist()[-2:] in (["lr-1", "lr-2"], ["lr-2", "lr-1"])  # missing last
    seen: list[str] = []
    token = None
    while True:
        page = steward.search_runs(order_by=["name"], max_results=4, page_token=token)
        seen += page["name"].tolist()
        token = page.attrs["next_page_token"]
        if token is None:
            break
    assert seen == sorted(runs)
    with pytest.raises(InvalidInput, match="page token"):
        steward.search_runs(page_token="garbage")
    with pytest.raises(InvalidInput, match="max_results"):
        steward.search_runs(max_results=0)


def test_scope_by_project_and_experiment(runs: dict[str, str]) -> None:
    assert len(steward.search_runs(experiments=["exp-a"])) == 4
    assert len(steward.search_runs(project="default")) == 6
    assert len(steward.search_runs(project="other")) == 0
    as_runs = steward.search_runs("params.model = 'lr'", output="runs")
    assert {r.id for r in as_runs} == {runs["lr-1"]}


@pytest.mark.parametrize(
    ("text", "where", "says"),
    [
        ("metrics.auc >> 1", 14, "expected a number"),
        ("metrics.auc > 0.9 and", 22, "expected a field"),
        ("metric.auc > 0.9 and param.model = rf", 36, "quote strings"),
        ("metrics.auc > 0.9 anf params.x = 'a'", 19, "expected 'and', 'or'"),
        ("metrix.auc > 1", 1, "Did you mean 'metrics'"),
        ("(metrics.auc > 1", 17, "close the '('"),
        ("statu = 'FINISHED'", 1, "Did you mean 'status'"),
        ("params.model like 3", 19, "quoted pattern"),
        ("metrics.auc = 'high'", None, "is a number"),
        ("name > 'a'", None, "is text"),
        ("metrics.auc ~ 1", 13, "unexpected character"),
    ],
)
def test_filter_errors_say_where(backend: Backend, text: str, where: int | None, says: str) -> None:
    with pytest.raises(InvalidInput) as info:
        steward.search_runs(text)
    message = str(info.value)
    assert says in message
    if where is not None:
        assert f"at character {where}:" in message
        caret_line = message.splitlines()[2]
        assert caret_line.index("^") - 2 == where - 1


def test_parse_tree_shape() -> None:
    tree = parse_filter(
        "a_metric_free_filter_is_none"
        if False
        else "metrics.a > 1 and (params.b = 'x' or tags.c = 'y')"
    )
    assert isinstance(tree, BoolOp) and tree.op == "and"
    assert tree.items[0] == Comparison("metrics", "a", ">", 1.0)
    assert isinstance(tree.items[1], BoolOp) and tree.items[1].op == "or"
    assert parse_filter("  ") is None
    assert parse_filter("metrics.val.auc > 1") == Comparison("metrics", "val.auc", ">", 1.0)


def test_keys_in_use_and_counts(runs: dict[str, str]) -> None:
    from steward._backend import get_backend

    backend = get_backend()
    keys = backend.list_run_keys()
    assert keys.metrics == ["auc", "val auc"] and keys.params == ["model", "n_trees"]
    assert keys.tags == ["team"]
    assert backend.list_run_keys(experiments=["exp-b"]).metrics == ["auc", "val auc"]
    assert backend.list_run_keys(project="nope").metrics == []
    assert backend.count_runs() == 6
    assert backend.count_runs(filter="params.model = 'rf'") == 2
    assert backend.count_runs(experiments=["exp-b"]) == 2
