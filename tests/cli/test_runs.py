"""`steward runs list / show / compare` on a real local store."""

from __future__ import annotations

import json
import platform
import re
from pathlib import Path

import pytest

import steward

from .conftest import Invoke, make_run, people_frame


@pytest.fixture
def three_runs() -> dict[str, str]:
    """Three runs of experiment 'churn': rf (auc .91), gbm (auc .95), rf (auc .80)."""
    return {
        "forest": make_run(
            "forest", params={"model": "rf", "seed": 1}, metrics={"auc": [0.7, 0.91]}
        ),
        "boost": make_run("boost", params={"model": "gbm", "seed": 1}, metrics={"auc": [0.95]}),
        "small": make_run(
            "small",
            params={"model": "rf", "seed": 1},
            metrics={"auc": [0.8]},
            tags={"team": "risk"},
        ),
    }


def _names_in_order(output: str, names: list[str]) -> list[str]:
    found = {name: output.index(name) for name in names if name in output}
    return sorted(found, key=found.__getitem__)


def test_list_shows_each_run_with_status_and_key_metric(
    cli: Invoke, three_runs: dict[str, str]
) -> None:
    result = cli("runs", "list")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "3 runs of experiment default/churn" in out
    for name, run_id in three_runs.items():
        row = next(line for line in out.splitlines() if run_id[:8] in line)
        assert name in row and "FINISHED" in row
    assert "auc" in out and "model" in out
    forest_row = next(line for line in out.splitlines() if "forest" in line)
    assert "0.91" in forest_row and "rf" in forest_row
    assert _names_in_order(out, ["forest", "boost", "small"]) == [
        "small",
        "boost",
        "forest",
    ]  # newest first


def test_list_filters_and_orders(cli: Invoke, three_runs: dict[str, str]) -> None:
    result = cli(
        "runs", "list", "--filter", "params.model = 'rf'", "--order-by", "metrics.auc DESC"
    )
    assert result.exit_code == 0, result.output
    assert "boost" not in result.stdout
    assert _names_in_order(result.stdout, ["forest", "small"]) == ["forest", "small"]


def test_list_by_project_and_experiment(cli: Invoke, three_runs: dict[str, str]) -> None:
    make_run("other-exp", experiment="fraud")
    with steward.start_run(
        "elsewhere", project="lab", experiment="churn", capture_environment_info=False
    ):
        pass
    everything = cli("runs", "list")
    assert "Experiment" in everything.stdout  # runs of several experiments: a column says which
    row = next(line for line in everything.stdout.splitlines() if "elsewhere" in line)
    assert "lab/churn" in row
    fraud = cli("runs", "list", "--experiment", "fraud")
    assert "other-exp" in fraud.stdout and "forest" not in fraud.stdout
    assert "1 run of experiment default/fraud" in fraud.stdout
    both = cli("runs", "list", "-e", "fraud", "-e", "churn", "--project", "default")
    assert "other-exp" in both.stdout and "forest" in both.stdout and "elsewhere" not in both.stdout


def test_list_limits_and_says_more_match(cli: Invoke, three_runs: dict[str, str]) -> None:
    result = cli("runs", "list", "--max", "1", "--order-by", "metrics.auc")
    assert result.exit_code == 0
    assert (
        "small" in result.stdout and "forest" not in result.stdout and "boost" not in result.stdout
    )
    assert "more match" in result.stderr


def test_list_json_carries_params_and_metrics(cli: Invoke, three_runs: dict[str, str]) -> None:
    result = cli("runs", "list", "--json", "--filter", "metrics.auc > 0.9")
    assert result.exit_code == 0
    runs = json.loads(result.stdout)
    assert {r["id"] for r in runs} == {three_runs["forest"], three_runs["boost"]}
    forest = next(r for r in runs if r["name"] == "forest")
    assert forest["params"]["model"] == "rf"
    assert forest["metrics"]["auc"]["value"] == pytest.approx(0.91)


def test_list_columns_option(cli: Invoke, three_runs: dict[str, str]) -> None:
    result = cli("runs", "list", "--columns", "tags.team,user")
    assert result.exit_code == 0
    header = next(line for line in result.stdout.splitlines() if "Run" in line and "Status" in line)
    assert "tags.team" in header and "user" in header and "auc" not in header
    small_row = next(line for line in result.stdout.splitlines() if "small" in line)
    assert "risk" in small_row and "tester" in small_row


def test_list_rejects_an_unknown_column(cli: Invoke, three_runs: dict[str, str]) -> None:
    result = cli("runs", "list", "--columns", "metric.auc")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: --columns names 'metric.auc'")


def test_list_bad_filter_points_at_the_position(cli: Invoke, three_runs: dict[str, str]) -> None:
    bad = "metrics.auc > 0.9 and params.model = rf"
    result = cli("runs", "list", "--filter", bad)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    position = bad.index("rf")
    assert lines[0].startswith(f"Error: Filter syntax error at character {position + 1}:")
    assert "quote strings" in lines[0]
    assert lines[1] == f"  {bad}"
    assert lines[2].index("^") == 2 + position
    assert "Traceback" not in result.output


def test_list_with_no_match_says_so(cli: Invoke, three_runs: dict[str, str]) -> None:
    result = cli("runs", "list", "--filter", "metrics.auc > 0.99")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "No runs match" in result.stderr


def test_list_marks_failed_runs(cli: Invoke) -> None:
    with pytest.raises(RuntimeError), steward.start_run("crash", capture_environment_info=False):
        raise RuntimeError("boom")
    result = cli("runs", "list", env={"FORCE_COLOR": "1"})
    row = next(line for line in result.stdout.splitlines() if "crash" in line)
    assert "\x1b[1;31mFAILED" in row  # bold red


def test_show_prints_every_section(cli: Invoke, three_runs: dict[str, str]) -> None:
    version = steward.register_dataset(people_frame(), "people")
    with steward.start_run("full", capture_environment_info=False, tags={"team": "risk"}) as run:
        steward.log_params({"model": "rf", "depth": 4})
        for value in (0.5, 0.9, 0.7):
            steward.log_metric("auc", value)
        steward.log_input(version, context="training")
        steward.log_text("hello", "notes/readme.txt")
    result = cli("runs", "show", run.id)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"Run full  {run.id}" in out
    assert re.search(r"status\s+FINISHED", out)
    assert re.search(r"depth\s+4", out) and re.search(r"model\s+rf", out)
    metric_row = next(line for line in out.splitlines() if line.strip().startswith("auc"))
    assert metric_row.split() == [
        "auc",
        "0.7",
        "2",
        "0.5",
        "0.9",
        "3",
    ]  # latest, step, min, max, count
    assert re.search(r"team\s+risk", out)
    assert re.search(r"people\s+1\s+training", out)
    assert re.search(r"notes/readme.txt\s+5 B", out)
    assert "not captured" in out  # no environment was captured for this run


def test_show_environment_summary(
    cli: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # not a git repository
    with steward.start_run("env") as run:
        pass
    result = cli("runs", "show", run.id)
    assert result.exit_code == 0, result.output
    assert re.search(rf"python\s+\w+ {re.escape(platform.python_version())}", result.stdout)
    assert re.search(r"packages\s+\d+ recorded", result.stdout)
    assert re.search(r"command\s+\S*python", result.stdout)


def test_show_failed_run_shows_its_error(cli: Invoke) -> None:
    with (
        pytest.raises(ValueError),
        steward.start_run("crash", capture_environment_info=False) as run,
    ):
        raise ValueError("the learning rate was negative")
    result = cli("runs", "show", run.id)
    assert "FAILED" in result.stdout
    assert "Error (last" in result.stdout
    assert "ValueError: the learning rate was negative" in result.stdout


def test_show_accepts_a_unique_prefix(cli: Invoke, three_runs: dict[str, str]) -> None:
    run_id = three_runs["boost"]
    result = cli("runs", "show", run_id[:8])
    assert result.exit_code == 0
    assert f"Run boost  {run_id}" in result.stdout


def test_show_refuses_an_ambiguous_prefix(cli: Invoke) -> None:
    seen: dict[str, str] = {}
    for i in range(17):  # 17 ids over 16 hex digits: two share a first character
        run_id = make_run(f"r{i}")
        if run_id[0] in seen:
            break
        seen[run_id[0]] = run_id
    result = cli("runs", "show", run_id[0])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: The run id prefix '{run_id[0]}' matches")
    assert "Give more characters" in result.stderr


def test_show_unknown_run_exits_3(cli: Invoke, three_runs: dict[str, str]) -> None:
    result = cli("runs", "show", "0123456789abcdef0123456789abcdef")
    assert result.exit_code == 3
    assert result.stderr.splitlines()[0].startswith(
        "Error: Run '0123456789abcdef0123456789abcdef' does not exist"
    )
    assert "Traceback" not in result.output
    assert cli("runs", "show", "no-such-run").exit_code == 3


def test_show_json_includes_artifacts_and_environment(cli: Invoke) -> None:
    with steward.start_run("j", capture_environment_info=False) as run:
        steward.log_text("x", "a.txt")
    data = json.loads(cli("runs", "show", run.id, "--json").stdout)
    assert data["id"] == run.id
    assert [a["path"] for a in data["artifacts"]] == ["a.txt"]
    assert data["environment"] is None


def test_compare_shows_only_differing_fields_by_default(
    cli: Invoke, three_runs: dict[str, str]
) -> None:
    result = cli("runs", "compare", three_runs["forest"], three_runs["boost"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    header = out.splitlines()[0]
    assert "forest" in header and "boost" in header
    model_row = next(line for line in out.splitlines() if line.startswith("params.model"))
    assert model_row.split()[1:] == ["rf", "gbm"]
    assert "params.seed" not in out  # the same in both runs
    assert re.search(r"\d+ of \d+ fields differ; --all shows", result.stderr)


def test_compare_all_highlights_the_differing_rows(cli: Invoke, three_runs: dict[str, str]) -> None:
    result = cli(
        "runs",
        "compare",
        three_runs["forest"][:10],
        three_runs["small"],
        "--all",
        env={"FORCE_COLOR": "1"},
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    seed = next(line for line in lines if "params.seed" in line)
    auc = next(line for line in lines if "metrics.auc" in line)
    model = next(line for line in lines if "params.model" in line)
    assert "\x1b[1;33m" in auc  # bold yellow: 0.91 against 0.8
    assert "\x1b[1;33m" not in seed and "\x1b[1;33m" not in model  # the same in both


def test_compare_writes_html(cli: Invoke, three_runs: dict[str, str], tmp_path: Path) -> None:
    page = tmp_path / "cmp.html"
    result = cli("runs", "compare", three_runs["forest"], three_runs["boost"], "--html", str(page))
    assert result.exit_code == 0
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>") and 'charset="utf-8"' in html
    assert '<tr class="differs"><th>params.model</th><td>rf</td><td>gbm</td></tr>' in html
    assert str(page) in result.stderr


def test_compare_with_nothing_differing_says_so(cli: Invoke) -> None:
    run_id = make_run("same", params={"model": "rf"})
    result = cli("runs", "compare", run_id, run_id)
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "do not differ" in result.stderr and "--all" in result.stderr
    everything = cli("runs", "compare", run_id, run_id, "--all")
    assert re.search(r"params.model\s+rf\s+rf", everything.stdout)


def test_compare_needs_two_runs(cli: Invoke, three_runs: dict[str, str]) -> None:
    result = cli("runs", "compare", three_runs["forest"])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error:") and "at least two" in result.stderr


def test_compare_unknown_run_exits_3(cli: Invoke, three_runs: dict[str, str]) -> None:
    result = cli("runs", "compare", three_runs["forest"], "feedfeedfeedfeedfeedfeedfeedfeed")
    assert result.exit_code == 3
    assert "Error: Run 'feedfeedfeedfeedfeedfeedfeedfeed' does not exist" in result.stderr
