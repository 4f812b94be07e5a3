"""reproduce_run: code at the commit (+ diff), verified data, the seed, compared results."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import steward
from steward._backend import get_backend
from steward.develop._reproduce import REPRODUCTION_TAG, _match, _place, reproduce_run
from steward.develop._reproduce_env import build_venv, pip_failure
from steward.develop._reproduce_predictions import prediction_outputs
from steward.errors import Conflict, IntegrityError, InvalidInput, NotFound

TRAIN = """
import sys

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier

import steward

steward.seed_everything(7)
X, y = make_classification(n_samples=120, n_features=4, random_state=0)
frame = pd.DataFrame(X, columns=["a", "b", "c", "d"]).assign(label=y)
data = steward.register_dataset(frame, "toy")
steward.set_experiment("repro", project="lab")
with steward.start_run("baseline"):
    steward.log_input(data)
    steward.log_metric("positive_rate", float(frame.label.mean()))
with steward.start_run("forest") as run:
    steward.log_input(data, context="evaluation")
    train = steward.load_dataset("toy", data.version)
    features = train[["a", "b", "c", "d"]]
    model = RandomForestClassifier(n_estimators=8).fit(features, train.label)  # numpy's seed
    steward.log_params({"n_estimators": 8})
    steward.log_metric("accuracy", model.score(features, train.label))
    steward.log_metric("noise", float(np.random.rand()))
    steward.log_model(model, input_example=features)
print(run.id)
"""

LUCKY = """
import random
import steward

with steward.start_run("lucky") as run:
    steward.log_metric("draw", random.random())
print(run.id)
"""

READS = """
import pandas as pd
import steward

data = steward.register_dataset(pd.DataFrame({"x": [1.0, 2.0, 3.0]}), "toy")
with steward.start_run("reader") as run:
    steward.log_input(data)
print(run.id)
"""

CONFIGURED = """
import json
import random
import steward

steward.seed_everything(11)
config = json.load(open("config.json"))
with steward.start_run("configured") as run:
    steward.log_params(config)
    steward.log_metric("score", config["depth"] + random.random())
print(run.id)
"""


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True)
    return done.stdout


def make_repo(root: Path, files: dict[str, str]) -> Path:
    """Return a new git repository at ``root`` with ``files`` committed."""
    root.mkdir(parents=True)
    git(root, "init", "-q")
    git(root, "config", "user.email", "t@example.invalid")
    git(root, "config", "user.name", "T")
    for name, text in files.items():
        (root / name).write_text(textwrap.dedent(text))
    git(root, "add", ".")
    git(root, "commit", "-qm", "first")
    return root


def run_script(repo: Path, script: str = "train.py") -> str:
    """Return the id of the run the script printed, run from ``repo`` like a user would."""
    done = subprocess.run(
        [sys.executable, script],
        cwd=repo,
        env=dict(os.environ),  # STEWARD_HOME of this test
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_a_seeded_training_run_reproduces_exactly(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "project", {"train.py": TRAIN})
    run_id = run_script(repo)
    steps: list[str] = []
    report = reproduce_run(run_id, here=True, progress=lambda m, _d, _t: steps.append(m))
    assert report.reproduced, report.reasons
    assert report.code.commit == git(repo, "rev-parse", "HEAD").strip()
    assert report.code.diff_applied is None and not report.code.dirty
    assert [(d.dataset, d.version, d.verified) for d in report.datasets] == [("toy", 1, True)]
    assert report.seed == 7 and report.environment.mode == "here"
    assert report.environment.differences == []  # same interpreter
    target = report.runs[0]
    assert target.name == "forest" and target.original_run_id == run_id
    assert {m.key: (m.original == m.reproduced, m.difference) for m in target.metrics} == {
        "accuracy": (True, 0.0),
        "noise": (True, 0.0),
    }
    assert target.params_compared == 1 and target.param_differences == []
    [prediction] = target.predictions
    assert prediction.model == "model" and prediction.method == "predict_proba"
    assert (prediction.dataset, prediction.rows, prediction.max_abs_diff) == ("toy", 120, 0.0)
    # The other run of the script is matched by name and compared as well.
    assert [(r.name, r.reproduced) for r in report.runs[1:]] == [("baseline", True)]
    new = steward.get_run(report.new_run_id or "")
    assert new.id != run_id and new.name == "forest" and new.experiment == "repro"
    assert new.tags[REPRODUCTION_TAG] == run_id
    assert "reproduction/report.json" in {a.path for a in steward.list_artifacts(new.id)}
    assert any("Verifying dataset toy v1" in s for s in steps)
    assert "Running train.py" in steps
    text = report.to_markdown()
    assert "reproduced" in text and "| accuracy |" in text and "NOT" not in text
    # The temporary worktree is gone.
    assert git(repo, "worktree", "list").count("\n") == 1


def test_unseeded_randomness_is_not_reproduced(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "project", {"lucky.py": LUCKY})
    run_id = run_script(repo, "lucky.py")
    report = reproduce_run(run_id, here=True)
    assert not report.reproduced and report.seed is None
    [draw] = report.runs[0].metrics
    assert draw.key == "draw" and not draw.within_tolerance
    assert draw.difference == pytest.approx((draw.reproduced or 0) - (draw.original or 0))
    assert report.reasons == ["metrics differ beyond 1e-09: draw"]
    assert "DIFFERS" in report.to_markdown()
    relaxed = reproduce_run(run_id, here=True, ignore_metrics=["dr*"])
    assert relaxed.reproduced and relaxed.runs[0].metrics[0].ignored
    assert relaxed.new_run_id not in {report.new_run_id, run_id}  # each reproduction is new


def test_a_dirty_run_reproduces_with_its_uncommitted_diff(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "project",
        {"train.py": CONFIGURED, "config.json": '{"depth": 3}\n'},
    )
    (repo / "config.json").write_text('{"depth": 5}\n')  # not committed
    (repo / "notes.txt").write_text("scratch\n")  # untracked: not recorded
    run_id = run_script(repo)
    assert steward.get_run(run_id).params == {"depth": "5"}
    report = reproduce_run(run_id, here=True)
    assert report.reproduced, report.reasons
    assert report.code.dirty and report.code.diff_applied is True
    assert report.code.diff_files == ["config.json"] and report.code.untracked == ["notes.txt"]
    assert any("notes.txt" in w for w in report.warnings)
    assert (repo / "config.json").read_text() == '{"depth": 5}\n'  # the user's tree untouched


def test_a_diff_that_does_not_apply_is_refused_unless_allowed(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "project", {"train.py": LUCKY})
    commit = git(repo, "rev-parse", "HEAD").strip()
    diff = b"diff --git a/train.py b/train.py\n--- a/train.py\n+++ b/train.py\n@@ -1 +1 @@\n-nope\n+yes\n"
    backend = get_backend()
    context = {
        "command": [sys.executable, "train.py"],
        "cwd": str(repo),
        "seed": None,
        "git": {
            "commit": commit,
            "root": str(repo),
            "dirty": True,
            "untracked": [],
            "diff_sha256": hashlib.sha256(diff).hexdigest(),
        },
    }
    run = backend.create_run(project="lab", experiment="repro", name="lucky", context=context)
    sha, size = backend.blobs.put_bytes(diff)
    backend.add_artifact(run.id, "environment/git.diff", sha, size)
    backend.update_run(run.id, status="FINISHED")
    with pytest.raises(Conflict) as refused:
        reproduce_run(run.id, here=True)
    assert "does not apply" in refused.value.message and "train.py" in refused.value.message
    assert "--allow-dirty-mismatch" in refused.value.message
    report = reproduce_run(run.id, here=True, allow_dirty_mismatch=True)
    assert report.code.diff_applied is False and report.code.failed_files == ["train.py"]
    assert any("reproduced without them" in w for w in report.warnings)
    assert report.exit_code == 0 and report.new_run_id is not None


def test_a_tampered_dataset_stops_the_reproduction_before_anything_runs(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "project", {"train.py": READS})
    run_id = run_script(repo)
    blob = get_backend().get_dataset_version("toy", 1).blob_sha256
    path = next(
        p for p in (Path(os.environ["STEWARD_HOME"]) / "artifacts").rglob(blob) if p.is_file()
    )
    path.chmod(0o644)
    pq.write_table(pa.table({"a": [1.0]}), path)  # same address, other content
    before = len(steward.search_runs(output="runs"))
    with pytest.raises(IntegrityError, match="toy"):
        reproduce_run(run_id, here=True)
    assert len(steward.search_runs(output="runs")) == before  # nothing ran


def test_a_run_without_git_or_script_is_refused_clearly(tmp_path: Path) -> None:
    with steward.start_run("notebook") as run:  # the test's folder is no git repository
        steward.log_metric("m", 1.0)
    with pytest.raises(InvalidInput, match="not started from a git repository"):
        reproduce_run(run.id, here=True)
    repo = make_repo(tmp_path / "project", {"train.py": LUCKY})
    context = {
        "command": [sys.executable, "-c"],
        "git": {"commit": git(repo, "rev-parse", "HEAD").strip(), "root": str(repo)},
    }
    interactive = get_backend().create_run(name="x", context=context)
    with pytest.raises(InvalidInput, match="interactive session"):
        reproduce_run(interactive.id, here=True)


def test_a_missing_repository_or_commit_names_where_the_code_was(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "project", {"train.py": LUCKY})
    git_state = {"commit": "ab" * 20, "root": str(repo), "remote": "https://example.invalid/r"}
    context = {"command": [sys.executable, "train.py"], "cwd": str(repo), "git": git_state}
    run = get_backend().create_run(name="x", context=context)
    with pytest.raises(NotFound, match="does not have commit abab"):
        reproduce_run(run.id, here=True)
    moved = get_backend().create_run(
        name="y", context={**context, "git": {**git_state, "root": str(tmp_path / "gone")}}
    )
    with pytest.raises(NotFound, match=r"example\.invalid/r.*--repo"):
        reproduce_run(moved.id, here=True)
    with pytest.raises(InvalidInput, match="tolerance"):
        reproduce_run(run.id, here=True, tolerance=-1)


def test_runs_of_the_same_name_are_matched_in_start_order() -> None:
    def run(rid: str, name: str, start: float) -> steward.Run:
        return steward.Run(
            id=rid,
            project="p",
            experiment="e",
            name=name,
            status="FINISHED",
            start_time=start,
            end_time=None,
            parent_run_id=None,
            user="u",
            error=None,
            environment_id=None,
            context={},
        )

    originals = [run("o2", "fold", 2), run("o1", "fold", 1), run("o3", "other", 3)]
    new = [run("n1", "fold", 11), run("n2", "fold", 12)]
    assert [(o.id, n.id if n else None) for o, n in _match(originals, new)] == [
        ("o2", "n2"),
        ("o1", "n1"),
        ("o3", None),
    ]


def test_unnamed_runs_are_paired_by_their_place_and_named_runs_by_name() -> None:
    def run(rid: str, start: float, name: str | None = None, experiment: str = "e") -> steward.Run:
        return steward.Run(
            id=rid,
            project="p",
            experiment=experiment,
            name=name or f"run-{rid[:8]}",  # what an unnamed run is called
            status="FINISHED",
            start_time=start,
            end_time=None,
            parent_run_id=None,
            user="u",
            error=None,
            environment_id=None,
            context={},
        )

    originals = [
        run("aaaa0001", 1),
        run("aaaa0002", 2, "fold"),
        run("aaaa0003", 3),
        run("aaaa0004", 4, experiment="other"),
        run("aaaa0005", 5),
    ]
    new = [
        run("bbbb0001", 11),
        run("bbbb0002", 12, "fold"),
        run("bbbb0003", 13),
        run("bbbb0004", 14, experiment="other"),
    ]
    assert [(o.id, n.id if n else None) for o, n in _match(originals, new)] == [
        ("aaaa0001", "bbbb0001"),
        ("aaaa0002", "bbbb0002"),
        ("aaaa0003", "bbbb0003"),
        ("aaaa0004", "bbbb0004"),
        ("aaaa0005", None),  # the third unnamed run of p/e: the re-run made only two
    ]
    assert _place(originals[4], originals) == "unnamed run #3 (of 3; the original is run-aaaa0005)"
    assert _place(originals[1], originals) == "run named 'fold'"


def test_predictions_of_two_models_are_compared_row_by_row_within_tolerance() -> None:
    from sklearn.linear_model import LogisticRegression

    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], "y": [0, 0, 0, 1, 1, 1]})
    data = steward.register_dataset(frame, "tiny")
    uris = []
    for c in (1.0, 0.01):
        with steward.start_run(f"c={c}", capture_environment_info=False):
            model = LogisticRegression(C=c).fit(frame[["x"]], frame.y)
            uris.append(steward.log_model(model, input_example=frame[["x"]]).uri)
    job = {"original": uris[0], "new": uris[1], "dataset": "tiny", "version": data.version}
    strict = prediction_outputs({**job, "tolerance": 1e-9})
    assert strict["method"] == "predict_proba" and strict["rows"] == 6
    assert strict["mismatched_rows"] == 6 and strict["max_abs_diff"] > 0.01
    assert prediction_outputs({**job, "tolerance": 1.0})["mismatched_rows"] == 0
    same = prediction_outputs({**job, "new": uris[0], "tolerance": 0.0})
    assert same["max_abs_diff"] == 0.0 and same["mismatched_rows"] == 0
    steward.register_dataset(frame.rename(columns={"x": "z"}), "tiny")
    skipped = prediction_outputs({**job, "version": 2, "tolerance": 0.0})
    assert "lacks the model's input columns ['x']" in skipped["skipped"]
    broken = prediction_outputs({**job, "new": "runs:/" + "0" * 32 + "/model", "tolerance": 0.0})
    assert "NotFound" in broken["error"]


def test_pip_failures_name_the_package_that_cannot_be_installed() -> None:
    output = (
        "Collecting scikit_learn==0.0.1\n"
        "ERROR: Could not find a version that satisfies the requirement scikit_learn==0.0.1 "
        "(from versions: 1.4.0)\nERROR: No matching distribution found for scikit_learn==0.0.1\n"
    )
    error = pip_failure(output, {"scikit-learn": "0.0.1", "numpy": "2.0.0"})
    assert isinstance(error, NotFound)
    assert "'scikit-learn' (scikit-learn==0.0.1)" in error.message and "--here" in error.message


@pytest.mark.slow
def test_a_fresh_virtual_environment_holds_the_pinned_versions(tmp_path: Path) -> None:
    wheels = Path("/opt/pypi/simple/six")  # this machine's local index; else PyPI
    if not wheels.exists() and os.environ.get("STEWARD_TEST_OFFLINE"):
        pytest.skip("no local package index and no network")
    steps: list[tuple[str, int | None, int | None]] = []
    python = build_venv(
        tmp_path / "venv", {"six": "1.17.0"}, progress=lambda *step: steps.append(step)
    )
    probe = "import json, six, importlib.util as u; print(json.dumps([six.__version__, u.find_spec('steward').origin]))"
    version, where = json.loads(subprocess.check_output([str(python), "-c", probe], text=True))
    assert version == "1.17.0" and Path(where).is_relative_to(tmp_path / "venv")
    assert ("Installing 1 pinned packages", 1, 1) in steps
    again = build_venv(tmp_path / "venv", {"six": "1.17.0"})  # reused, not rebuilt
    assert again == python
