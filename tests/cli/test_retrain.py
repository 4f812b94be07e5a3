"""`steward retrain` and `steward retraining set | show | runs | report`; `ab plan
--deployment` stores the plan."""

from __future__ import annotations

import json
from pathlib import Path

import steward
from steward.iterate import get_ab_plan
from tests.iterate.test_retrain import TRAIN, _new_rows, champion_and_config

from .conftest import Invoke


def _config(folder: Path, module: str, **extra: str) -> Path:
    lines = [
        "model: bc",
        f"train: {module}:train",
        "target: target",
        f"path: {folder}",
        "promotion:",
        "  max_drop: 0.05",
        *[f"{k}: {v}" for k, v in extra.items()],
    ]
    path = folder / "retrain.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_declare_then_retrain_from_a_file(cli: Invoke, tmp_path: Path) -> None:
    champion_and_config(tmp_path)
    (tmp_path / "cli_train.py").write_text(TRAIN, encoding="utf-8")
    declared = cli("retraining", "set", "bc", str(_config(tmp_path, "cli_train")))
    assert declared.exit_code == 0, declared.output
    assert "trained by cli_train:train" in declared.output
    shown = cli("retraining", "show", "bc").output
    assert "max_share_drifted: 0.3" in shown and "train: cli_train:train" in shown

    new = tmp_path / "march.parquet"
    _new_rows().to_parquet(new)
    result = cli("retrain", "bc", "--data", str(new))
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "Retraining #1 of bc: promoted" in text and "Promoted models:/bc/2" in text
    assert steward.get_registered_model("bc").aliases["champion"] == 2

    bad = tmp_path / "april.csv"
    _new_rows().drop(columns="mean area").to_csv(bad, index=False)
    stopped = cli("retrain", "bc", "--data", str(bad), "--json")
    assert stopped.exit_code == 1
    run = json.loads(stopped.output)
    assert run["status"] == "stopped" and run["stopped_at"] == "validate"

    listed = " ".join(cli("retraining", "runs", "bc").output.split())
    assert "promoted" in listed and "stopped validate" in listed
    out = tmp_path / "r.html"
    written = cli("retraining", "report", "1", "--out", str(out))
    assert written.exit_code == 0 and "Retraining #1 of bc: promoted" in out.read_text()


def test_mistakes_are_named_with_what_to_do(cli: Invoke, tmp_path: Path) -> None:
    config = tmp_path / "retrain.yaml"
    config.write_text("model: bc\ntrain: m:f\ntarget: y\npromotion:\n  max_dorp: 1\n")
    typo = cli("retraining", "set", "bc", str(config))
    assert typo.exit_code != 0
    assert "line 5" in typo.output and "promotion.max_dorp" in typo.output
    missing = cli("retrain", "nowhere", "--data", "x.parquet")
    assert missing.exit_code != 0 and "steward retraining set nowhere" in " ".join(
        missing.output.split()
    )
    no_colon = tmp_path / "no-colon.yaml"
    no_colon.write_text("model: bc\ntrain: train.fit\ntarget: y\n")
    refused = cli("retraining", "set", "bc", str(no_colon))
    assert refused.exit_code != 0 and "line 2" in refused.output and "train" in refused.output
    champion_and_config(tmp_path)
    cli("retraining", "set", "bc", str(_config(tmp_path, "absent_module")))
    no_file = cli("retrain", "bc", "--data", str(tmp_path / "nope.parquet"))
    assert no_file.exit_code != 0 and "no such file" in no_file.output
    new = tmp_path / "new.parquet"
    _new_rows().to_parquet(new)
    unimportable = " ".join(cli("retrain", "bc", "--data", str(new)).output.split())
    assert "Cannot import 'absent_module'" in unimportable and "set 'path'" in unimportable
    no_deployment = " ".join(cli("retrain", "bc", "--when-drifted").output.split())
    assert "Deployment 'bc' does not exist" in no_deployment  # not a silent "nothing to do"
    steward.create_deployment("bc", "models:/bc/1")
    quiet = cli("retrain", "bc", "--when-drifted")
    assert quiet.exit_code == 0 and "nothing to do" in quiet.output
    assert cli("retraining", "report", "7").exit_code != 0


def test_ab_plan_is_stored_for_a_deployment(cli: Invoke, tmp_path: Path) -> None:
    champion_and_config(tmp_path)
    steward.create_deployment("bc-ab", "models:/bc/1")
    args = ("ab", "plan", "--baseline", "0.10", "--mde", "0.02", "--deployment", "bc-ab")
    stored = cli(*args, "--control", "a", "--treatment", "b")
    assert stored.exit_code == 0, stored.output
    assert "Stored as the plan of deployment 'bc-ab'" in stored.output
    plan = get_ab_plan("bc-ab")
    assert plan is not None and plan.per_arm == 3841 and plan.treatment == "b"
    unknown = cli("ab", "plan", "--baseline", "0.1", "--mde", "0.02", "--deployment", "bc-abb")
    assert unknown.exit_code != 0 and "Did you mean 'bc-ab'" in unknown.output
    lone = cli("ab", "plan", "--baseline", "0.1", "--mde", "0.02", "--control", "a")
    assert lone.exit_code != 0 and "add it" in lone.output
