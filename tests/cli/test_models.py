"""`steward models list / show / versions / version / alias / register / download` on a real local store."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import steward
from steward._backend import get_backend
from steward.errors import Conflict
from steward.registry._models import ModelFile

from .conftest import Invoke

PLANS = list("abcdefg")  # seven categories: the signature view shows five and "+2 more"
RED = "\x1b[1;31m"
YELLOW = "\x1b[33m"


def _data() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    n = 70
    X = pd.DataFrame(
        {
            "tenure": rng.integers(0, 72, n),
            "age": rng.integers(18, 80, n),
            "plan": [PLANS[i % len(PLANS)] for i in range(n)],
        }
    )
    y = pd.Series((X["tenure"] < 30).astype(int), name="churn")
    return X, y


def _pipeline(X: pd.DataFrame, y: pd.Series) -> Pipeline:
    features = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), ["plan"]),
        (StandardScaler(), ["tenure", "age"]),
    )
    return make_pipeline(features, LogisticRegression(max_iter=500)).fit(X, y)


def _log(name: str, auc: float) -> str:
    """Train and log a model as a new version of ``name``; return the run id."""
    X, y = _data()
    data = steward.register_dataset(X, "customers", sensitive_columns=["age"])
    with steward.start_run("train", capture_environment_info=False) as run:
        steward.log_input(data, context="training")
        steward.log_metric("auc", auc)
        steward.log_metric("loss", 1 - auc)
        steward.log_model(_pipeline(X, y), "model", input_example=X, registered_model_name=name)
    return run.id


@pytest.fixture
def churn() -> list[str]:
    """Model 'churn' with versions 1 (auc .81) and 2 (auc .86), alias champion → 1; run ids."""
    runs = [_log("churn", 0.81), _log("churn", 0.86)]
    steward.set_alias("churn", "champion", 1, reason="baseline")
    return runs


def _line(output: str, start: str) -> str:
    return next(line for line in output.splitlines() if line.strip().startswith(start))


def test_list_when_empty_says_how_to_register(cli: Invoke) -> None:
    result = cli("models", "list")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "No registered models yet" in result.stderr
    assert "steward models register" in result.stderr


def test_list_shows_latest_version_aliases_and_owners(cli: Invoke, churn: list[str]) -> None:
    steward.set_alias("churn", "challenger", 2)
    result = cli("models", "list")
    assert result.exit_code == 0, result.output
    header = result.stdout.splitlines()[0].split()
    assert header == ["Name", "Latest", "Aliases", "Owners", "Updated"]
    row = _line(result.stdout, "churn")
    assert re.match(r"churn\s+v2\s+challenger→2, champion→1\s+tester\s+\d{4}-\d\d-\d\d", row)
    models = json.loads(cli("models", "list", "--json").stdout)
    assert [(m["name"], m["latest_version"], m["aliases"]) for m in models] == [
        ("churn", 2, {"challenger": 2, "champion": 1})
    ]


def test_show_has_owners_aliases_and_their_history(cli: Invoke, churn: list[str]) -> None:
    get_backend().update_registered_model("churn", description="Who leaves next month")
    get_backend().set_model_tag("churn", "team", "retention")
    steward.set_alias("churn", "champion", 2, reason="better auc")
    steward.set_alias("churn", "shadow", 1)
    steward.delete_alias("churn", "shadow", reason="done")
    result = cli("models", "show", "churn")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("Model churn  2 versions, latest 2\n")
    assert re.search(r"description\s+Who leaves next month", out)
    assert re.search(r"owners\s+tester", out)
    assert re.search(r"team\s+retention", out)
    aliases = out[out.index("Aliases") : out.index("Alias history")]
    assert re.search(r"champion\s+2\s+\S+ \S+\s+tester\s+better auc", aliases)
    assert "shadow" not in aliases  # removed
    history = [
        line.split(None, 2)[2] for line in out[out.index("Alias history") :].splitlines()[3:]
    ]
    assert [re.sub(r"\s+", " ", h).strip() for h in history] == [
        "champion none → 1 tester baseline",
        "champion 1 → 2 tester better auc",
        "shadow none → 1 tester",
        "shadow 1 → none (removed) tester done",
    ]
    data = json.loads(cli("models", "show", "churn", "--json").stdout)
    assert data["aliases"] == {"champion": 2}
    assert [m["reason"] for m in data["alias_history"]] == ["baseline", "better auc", "", "done"]


def test_show_unknown_model_suggests_the_closest(cli: Invoke, churn: list[str]) -> None:
    result = cli("models", "show", "chrun")
    assert result.exit_code == 3
    assert result.stdout == ""
    assert result.stderr.startswith("Error: Registered model 'chrun' does not exist.")
    assert "Did you mean 'churn'?" in result.stderr
    assert "Traceback" not in result.output


def test_versions_newest_first_with_run_aliases_and_metrics(cli: Invoke, churn: list[str]) -> None:
    result = cli("models", "versions", "churn")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "Version",
        "Flavor",
        "Created",
        "By",
        "Run",
        "Aliases",
        "auc",
        "loss",
        "Source",
    ]
    rows = [line for line in lines[2:] if line.strip()[:1].isdigit()]
    assert [row.split()[0] for row in rows] == ["2", "1"]
    second, first = rows
    assert re.search(rf"sklearn .* tester\s+{churn[1][:8]}\s+—\s+0\.86\s+0\.14\s+runs:/", second)
    assert re.search(
        rf"sklearn .* tester\s+{churn[0][:8]}\s+champion\s+0\.81\s+0\.19\s+runs:/", first
    )


def test_versions_all_includes_deleted_ones(cli: Invoke, churn: list[str]) -> None:
    steward.set_alias("churn", "champion", 2)
    get_backend().delete_model_version("churn", 1)
    live = cli("models", "versions", "churn")
    assert [line.split()[0] for line in live.stdout.splitlines()[2:]] == ["2"]
    everything = cli("models", "versions", "churn", "--all")
    assert everything.exit_code == 0
    assert re.search(r"^\s*1 deleted\s+sklearn", everything.stdout, re.MULTILINE)
    versions = json.loads(cli("models", "versions", "churn", "--all", "--json").stdout)
    assert [(v["version"], v["deleted"]) for v in versions] == [(2, False), (1, True)]


def test_deleting_a_version_an_alias_points_at_is_refused(cli: Invoke, churn: list[str]) -> None:
    with pytest.raises(
        Conflict, match=r"Version 1 of 'churn' is what alias\(es\) champion point at"
    ):
        get_backend().delete_model_version("churn", 1)
    result = cli("models", "versions", "churn", "--all")
    assert "deleted" not in result.stdout
    assert re.search(r"^\s*1\s+sklearn", result.stdout, re.MULTILINE)


def test_version_shows_everything_about_one_version(cli: Invoke, churn: list[str]) -> None:
    result = cli("models", "version", "models:/churn@champion")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("Model churn version 1  models:/churn/1\n")  # not the latest
    assert re.search(r"aliases\s+champion", out)
    assert re.search(r"flavor\s+sklearn \(sklearn.pipeline.Pipeline\)", out)
    assert re.search(r"methods\s+predict, predict_proba", out)
    assert re.search(rf"run\s+{churn[0]}", out)
    assert re.search(rf"source\s+runs:/{churn[0]}/model", out)
    assert re.search(r"sensitive\s+⚠ uses sensitive columns: age", out)
    assert "Signature (3 input columns)" in out
    X, _ = _data()
    tenure, age = (f"{X[c].min()} to {X[c].max()}" for c in ("tenure", "age"))
    assert re.search(rf"tenure\s+integer\s+int64\s+no\s+{tenure} *\n", out)
    assert re.search(rf"age ⚠ sensitive\s+integer\s+int64\s+no\s+{age} *\n", out)
    assert re.search(r"plan\s+categorical\s+\S+\s+no\s+a, b, c, d, e \(\+2 more\)", out)
    assert re.search(r"task\s+classification", out) and re.search(r"classes\s+0, 1", out)
    assert re.search(r"scikit-learn\s+\d+\.\d+\S*\s+✓ same", out)
    assert re.search(r"customers\s+1\s+training\s+[0-9a-f]{12}", out)
    assert re.search(r"auc\s+0\.81", out) and re.search(r"loss\s+0\.19", out)
    assert re.search(r"Files \(3, \d", out)
    for path in ("steward.yaml", "input_example.json"):
        assert re.search(rf"{re.escape(path)}\s+\d+(\.\d)? K?B\s+[0-9a-f]{{12}}", out)
    assert "Exports  none" in out


def test_version_flags_sensitive_columns_in_red(cli: Invoke, churn: list[str]) -> None:
    result = cli("models", "version", "churn", "1", env={"FORCE_COLOR": "1"})
    assert f"{RED}⚠ uses sensitive columns: age" in result.stdout
    assert f"{RED} ⚠ sensitive" in result.stdout


def test_version_by_name_number_alias_and_latest(cli: Invoke, churn: list[str]) -> None:
    def heading(*args: str) -> str:
        result = cli("models", "version", *args)
        assert result.exit_code == 0, result.output
        return result.stdout.splitlines()[0]

    assert heading("churn") == "Model churn version 2 (latest)  models:/churn/2"
    assert heading("churn", "latest") == heading("churn")
    assert heading("churn", "1") == "Model churn version 1  models:/churn/1"
    assert heading("churn", "champion") == heading("churn", "1")
    assert heading("models:/churn/2") == heading("churn")
    data = json.loads(cli("models", "version", "churn", "1", "--json").stdout)
    assert data["version"] == 1 and data["manifest"]["uses_sensitive_columns"] == ["age"]


def test_version_of_a_deleted_version_is_marked(cli: Invoke, churn: list[str]) -> None:
    steward.set_alias("churn", "champion", 2)
    get_backend().delete_model_version("churn", 1)
    result = cli("models", "version", "churn", "1")
    assert result.exit_code == 0, result.output
    assert re.search(r"status\s+deleted", result.stdout)


def test_version_errors(cli: Invoke, churn: list[str]) -> None:
    missing = cli("models", "version", "churn", "7")
    assert missing.exit_code == 3
    assert missing.stderr.startswith(
        "Error: Version 7 of model 'churn' does not exist; its versions are 1, 2."
    )
    alias = cli("models", "version", "churn", "champoin")
    assert alias.exit_code == 3
    assert "no alias 'champoin'. Did you mean 'champion'?" in alias.stderr
    both = cli("models", "version", "models:/churn/1", "2")
    assert both.exit_code == 2
    assert both.stderr.startswith("Error: Give either a URI or a name and a version, not both")
    not_a_name = cli("models", "version", "churn@champion")
    assert not_a_name.exit_code == 2 and "models:/name@alias" in not_a_name.stderr


def test_version_marks_a_requirement_that_differs_from_the_installed_one(
    cli: Invoke, churn: list[str], tmp_path: Path
) -> None:
    folder = steward.download_model("models:/churn/2", tmp_path / "package")
    manifest = yaml.safe_load((folder / "steward.yaml").read_text())
    manifest["requirements"]["numpy"] = "0.0.1"
    (folder / "steward.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    registered = cli("models", "register", str(folder), "churn")
    assert registered.exit_code == 0, registered.output
    assert registered.stdout.startswith("Registered churn version 3 (sklearn) from ")
    result = cli("models", "version", "churn", "3", env={"FORCE_COLOR": "1"})
    row = _line(result.stdout, "numpy")
    assert "0.0.1" in row
    assert f"{YELLOW}≠ saved with 0.0.1, installed {np.__version__}" in row
    assert "✓ same" in _line(result.stdout, "scikit-learn")


def test_version_lists_export_files_apart(cli: Invoke, churn: list[str], tmp_path: Path) -> None:
    onnx = tmp_path / "model.onnx"
    onnx.write_bytes(b"\x08" * 3000)
    backend = get_backend()
    sha, size = backend.blobs.put_file(onnx)
    backend.add_model_version_file(
        "churn", 2, ModelFile(path="exports/model.onnx", sha256=sha, size=size, kind="export")
    )
    out = cli("models", "version", "churn", "2").stdout
    exports = out[out.index("Exports") :]
    assert re.search(rf"exports/model.onnx\s+2\.9 KB\s+{sha[:12]}", exports)
    files = out[out.index("Files (3,") : out.index("Exports")]
    assert "exports/model.onnx" not in files


def test_alias_moves_and_prints_the_move(cli: Invoke, churn: list[str]) -> None:
    moved = cli("models", "alias", "churn", "champion", "2", "--expect", "1", "--reason", "auc")
    assert moved.exit_code == 0, moved.output
    assert moved.stdout == "champion: 1 → 2\n"
    new = cli("models", "alias", "churn", "challenger", "1", "--expect", "0")
    assert new.stdout == "challenger: none → 1\n"
    assert steward.get_registered_model("churn").aliases == {"challenger": 1, "champion": 2}
    removed = cli("models", "alias", "churn", "challenger", "--delete", "-r", "retired")
    assert removed.exit_code == 0, removed.output
    assert removed.stdout == "challenger: 1 → none\n"
    history = [
        (m.alias, m.from_version, m.to_version, m.reason, m.actor)
        for m in steward.get_alias_history("churn")
    ]
    assert history[1:] == [
        ("champion", 1, 2, "auc", "tester"),
        ("challenger", None, 1, "", "tester"),
        ("challenger", 1, None, "retired", "tester"),
    ]


def test_alias_with_a_stale_expectation_is_a_conflict(cli: Invoke, churn: list[str]) -> None:
    result = cli("models", "alias", "churn", "champion", "2", "--expect", "2")
    assert result.exit_code == 4
    assert result.stdout == ""
    assert result.stderr.startswith(
        "Error: Alias 'champion' of 'churn' is on version 1, not on version 2 as expected"
    )
    assert steward.get_registered_model("churn").aliases == {"champion": 1}


def test_alias_to_a_missing_version_is_refused(cli: Invoke, churn: list[str]) -> None:
    result = cli("models", "alias", "churn", "champion", "9")
    assert result.exit_code == 3
    assert result.stderr.startswith(
        "Error: Version 9 of model 'churn' does not exist; its versions are 1, 2."
    )
    assert steward.get_registered_model("churn").aliases == {"champion": 1}
    unknown = cli("models", "alias", "chrun", "champion", "1")
    assert unknown.exit_code == 3 and "Did you mean 'churn'?" in unknown.stderr


def test_alias_names_that_are_reserved_or_malformed(cli: Invoke, churn: list[str]) -> None:
    latest = cli("models", "alias", "churn", "latest", "1")
    assert latest.exit_code == 2
    assert latest.stderr.startswith("Error: The alias 'latest' is reserved")
    assert cli("models", "alias", "churn", "2", "1").exit_code == 2
    no_version = cli("models", "alias", "churn", "champion")
    assert no_version.exit_code == 2
    assert "Give the VERSION" in no_version.stderr and "--delete" in no_version.stderr
    both = cli("models", "alias", "churn", "champion", "2", "--delete")
    assert both.exit_code == 2 and "--delete removes the alias" in both.stderr
    assert steward.get_registered_model("churn").aliases == {"champion": 1}


def test_deleting_an_unknown_alias_suggests_the_closest(cli: Invoke, churn: list[str]) -> None:
    result = cli("models", "alias", "churn", "champoin", "--delete")
    assert result.exit_code == 3
    assert result.stderr.startswith("Error: Model 'churn' has no alias 'champoin'.")
    assert "Did you mean 'champion'? Its aliases are: champion." in result.stderr


def test_register_from_a_run_by_id_prefix(cli: Invoke, churn: list[str]) -> None:
    result = cli("models", "register", f"runs:/{churn[1][:8]}/model", "fraud", "-d", "copy")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"Registered fraud version 1 (sklearn) from runs:/{churn[1]}/model\n"
    assert "steward models alias fraud champion 1" in result.stderr
    version = steward.get_model_version("models:/fraud/1")
    assert version.run_id == churn[1] and version.description == "copy"
    assert _line(cli("models", "list").stdout, "fraud").split()[:2] == ["fraud", "v1"]


def test_register_errors(cli: Invoke, churn: list[str], tmp_path: Path) -> None:
    no_package = cli("models", "register", f"runs:/{churn[0]}/nothing", "fraud")
    assert no_package.exit_code == 3
    assert no_package.stderr.startswith(f"Error: Run {churn[0]} has no model package at 'nothing'")
    registered = cli("models", "register", "models:/churn/1", "fraud")
    assert registered.exit_code == 2 and "already a registered version" in registered.stderr
    not_a_folder = cli("models", "register", str(tmp_path / "missing"), "fraud")
    assert not_a_folder.exit_code == 2 and "is not a folder" in not_a_folder.stderr


def test_download_copies_the_verified_package(
    cli: Invoke, churn: list[str], tmp_path: Path
) -> None:
    dest = tmp_path / "out"
    result = cli("models", "download", "models:/churn@champion", str(dest))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Downloaded models:/churn@champion to {dest}\n")
    listed = [line.split()[0] for line in result.stdout.splitlines()[3:] if line.strip()]
    assert listed == ["input_example.json", "model/model.pkl", "steward.yaml"]
    assert re.search(r"model/model.pkl\s+\d+(\.\d)? K?B", result.stdout)
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()) == listed
    again = cli("models", "download", "models:/churn/2", str(dest))
    assert again.exit_code == 2
    assert again.stderr.startswith(f"Error: '{dest}' exists and is not empty")
    a_file = dest / "steward.yaml"
    onto_file = cli("models", "download", "models:/churn/2", str(a_file))
    assert onto_file.exit_code == 2
    assert onto_file.stderr.startswith(f"Error: '{a_file}' is a file; DEST must be")
    from_run = cli("models", "download", f"runs:/{churn[1][:10]}/model", str(tmp_path / "run"))
    assert from_run.exit_code == 0, from_run.output
    assert (tmp_path / "run" / "steward.yaml").is_file()
