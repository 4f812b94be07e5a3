"""The retraining pipeline: new-data validation, a tracked training run, champion against
challenger on the same evaluation version, and a decision the policy and bounds allow."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import steward
from steward import govern
from steward._backend import Backend
from steward.errors import InvalidInput, NotFound
from steward.iterate import (
    get_retraining,
    list_retrainings,
    retrain,
    retraining_report,
    set_retraining,
)

TRAIN = """
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.dummy import DummyClassifier


def train(X, y):
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)


def majority(X, y):
    return DummyClassifier(strategy="most_frequent").fit(X, y)


def broken(X, y):
    raise RuntimeError("the feature store is down")
"""


def _data() -> pd.DataFrame:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return X.iloc[:, :8].assign(target=y).sample(frac=1.0, random_state=0).reset_index(drop=True)


def champion_and_config(folder: Path, **extra: object) -> Callable[..., str]:
    """Register 'bc' v1 (champion) trained on rows 0-199 and evaluated on rows 400+, write
    the training module into ``folder``; return a config setter (called once with extra)."""
    data = _data()
    train, holdout = data.iloc[:200], data.iloc[400:]
    train_v = steward.register_dataset(train, "bc-train")
    eval_v = steward.register_dataset(holdout, "bc-holdout")
    with steward.start_run("champion", project="bc", capture_environment_info=False):
        steward.log_input(train_v, context="training")
        steward.log_input(eval_v, context="evaluation")
        X = train.drop(columns="target")
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        model.fit(X, train["target"])
        steward.log_model(model, input_example=X.head(), registered_model_name="bc")
    steward.set_alias("bc", "champion", 1)
    module = f"train_{uuid.uuid4().hex[:8]}"
    (folder / f"{module}.py").write_text(TRAIN, encoding="utf-8")

    def configure(function: str = "train", **options: object) -> str:
        set_retraining(
            "bc",
            {
                "model": "bc",
                "train": f"{module}:{function}",
                "target": "target",
                "path": str(folder),
                **options,
            },
        )
        return "bc"

    if extra:
        configure(**extra)
    return configure


@pytest.fixture
def project(tmp_path: Path) -> Callable[..., str]:
    """A champion and its training module; returns a config setter."""
    return champion_and_config(tmp_path)


def _new_rows() -> pd.DataFrame:
    return _data().iloc[200:400]


def test_a_sound_challenger_on_sound_data_is_promoted(project: Callable[..., str]) -> None:
    name = project(promotion={"max_drop": 0.05})
    outcome = retrain(name, _new_rows())
    run = outcome.run
    assert outcome.status == "promoted", run.steps
    assert [s.step for s in run.steps] == ["validate", "train", "compare", "decide"]
    assert run.step("validate").status == "passed"  # type: ignore[union-attr]
    assert run.champion == "models:/bc/1" and run.challenger == "models:/bc/2"
    assert steward.get_registered_model("bc").aliases["champion"] == 2
    # both models were scored on the champion's evaluation version, not on anything newer
    assert outcome.comparison is not None and outcome.comparison.data.startswith("bc-holdout@1")
    assert outcome.comparison.rows == len(_data()) - 400
    # lineage: the challenger's run read the new data (registered) and the same holdout
    challenger = steward.get_model_version("models:/bc/2")
    assert {(d.dataset, d.version, d.context) for d in challenger.manifest.datasets} == {
        ("bc-retraining", 1, "training"),
        ("bc-holdout", 1, "evaluation"),
    }
    assert run.data == "bc-retraining@1"
    # every step is in the audit trail, and the report is stored
    actions = [e.action for e in govern.audit_events(entity_type="retraining")]
    for action in ("retraining.started", "retraining.validate", "retraining.decide"):
        assert action in actions
    html = retraining_report(run.id)
    assert f"Retraining #{run.id} of bc: promoted" in html and "New data: passed" in html
    assert get_retraining(run.id).status == "promoted"
    assert [r.id for r in list_retrainings("bc")] == [run.id]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda f: f.assign(extra=1.0), "new column(s) ['extra']"),
        (lambda f: f.drop(columns="mean area"), "missing column(s) ['mean area']"),
        (lambda f: f.assign(target=f["target"].replace(1, 2)), "class(es) ['2']"),
        (
            lambda f: pd.concat([f, _data().iloc[400:420]]),
            "20 of the 169 evaluation rows are also in the training data",
        ),
        (lambda f: f.head(10), "10 rows; at least 50"),
    ],
    ids=["new-column", "missing-column", "new-class", "overlaps-evaluation", "too-few-rows"],
)
def test_bad_new_data_stops_before_training(
    project: Callable[..., str],
    change: Callable[[pd.DataFrame], pd.DataFrame],
    words: str,
) -> None:
    outcome = retrain(project(), change(_new_rows()))
    run = outcome.run
    assert outcome.status == "stopped" and run.stopped_at == "validate"
    assert [s.step for s in run.steps] == ["validate"]
    assert words in run.steps[0].summary
    assert steward.get_registered_model("bc").latest_version == 1  # nothing trained
    assert steward.get_registered_model("bc").aliases["champion"] == 1


def test_a_worse_challenger_is_held_for_review_with_the_evidence(
    project: Callable[..., str],
) -> None:
    outcome = retrain(project("majority"), _new_rows())
    assert outcome.status == "review"
    assert steward.get_registered_model("bc").aliases["champion"] == 1
    decide = outcome.run.step("decide")
    assert decide is not None and "roc_auc is" in decide.summary
    requests = govern.signoff_status("bc", 2).requests
    assert len(requests) == 1 and f"steward retraining report {outcome.run.id}" in requests[0].note


def test_shifted_data_is_flagged_trained_and_held(project: Callable[..., str]) -> None:
    shifted = _new_rows()
    shifted["mean radius"] = shifted["mean radius"] * 1.6
    shifted["mean texture"] = shifted["mean texture"] + 15
    shifted["mean perimeter"] = shifted["mean perimeter"] * 1.6
    outcome = retrain(project(promotion={"max_drop": 1.0}), shifted)
    assert outcome.status == "review"
    validate = outcome.run.step("validate")
    assert validate is not None and validate.status == "flagged"
    assert "mean radius" in validate.summary
    assert outcome.run.step("compare") is not None  # it trained and compared all the same
    assert steward.get_registered_model("bc").aliases["champion"] == 1


def test_the_policy_holds_an_automatic_promotion(project: Callable[..., str]) -> None:
    name = project(promotion={"max_drop": 1.0})
    govern.set_policy(name, {"risk": "high"})
    outcome = retrain(name, _new_rows())
    assert outcome.status == "review"
    decide = outcome.run.step("decide")
    assert decide is not None and "the project's policy holds 'champion'" in decide.summary
    assert steward.get_registered_model("bc").aliases["champion"] == 1


def test_a_training_function_that_raises_ends_the_run_as_failed(
    project: Callable[..., str],
) -> None:
    outcome = retrain(project("broken"), _new_rows())
    assert outcome.status == "failed" and outcome.run.stopped_at == "train"
    train = outcome.run.step("train")
    assert train is not None and "RuntimeError: the feature store is down" in train.summary
    assert "failed" in retraining_report(outcome.run.id)


def test_config_mistakes_are_named(project: Callable[..., str]) -> None:
    with pytest.raises(NotFound, match="declares no retraining"):
        retrain("bc", _new_rows())
    with pytest.raises(InvalidInput, match=r"promotion\.max_dorp"):
        set_retraining(
            "bc",
            {"model": "bc", "train": "m:f", "target": "target", "promotion": {"max_dorp": 1}},
        )
    project("nowhere")
    with pytest.raises(InvalidInput, match="has no function 'nowhere'"):
        retrain("bc", _new_rows())
    assert list_retrainings("bc")[0].status == "failed"
    project()
    with pytest.raises(InvalidInput, match="No new data"):
        retrain("bc")


def test_retraining_records_work_on_every_backend(backend: Backend) -> None:
    from steward.iterate import RetrainingConfig
    from steward.iterate._records import RetrainingStart, RetrainingStep, RetrainingUpdate

    config = RetrainingConfig(model="m", train="a:b", target="y")
    assert backend.set_retraining_config("p", config) == config
    assert backend.get_retraining_config("p").train == "a:b"
    run = backend.start_retraining(RetrainingStart(project="p", model="m", data="d@1"))
    step = RetrainingStep(step="validate", status="failed", summary="bad")
    backend.record_retraining_step(run.id, RetrainingUpdate(step=step))
    done = backend.record_retraining_step(
        run.id, RetrainingUpdate(status="stopped", stopped_at="validate")
    )
    assert done.status == "stopped" and done.steps[0].summary == "bad"
    with pytest.raises(InvalidInput, match="already ended"):
        backend.record_retraining_step(run.id, RetrainingUpdate(step=step))
    assert [r.id for r in backend.list_retrainings("p", 10)] == [run.id]


def test_labels_read_as_floats_are_the_same_classes(project: Callable[..., str]) -> None:
    floats = _new_rows().assign(target=lambda f: f["target"].astype(float))
    outcome = retrain(project(promotion={"max_drop": 0.05}), floats)
    assert outcome.run.step("validate").status == "passed"  # type: ignore[union-attr]


def test_a_clear_improvement_or_high_agreement_can_be_required(
    project: Callable[..., str],
) -> None:
    strict = retrain(project(promotion={"max_drop": 1.0, "require_improvement": True}), _new_rows())
    assert strict.status == "review" and strict.comparison is not None
    assert strict.comparison.verdict != "challenger better"
    assert "requires a clear improvement" in strict.run.steps[-1].summary
    picky = retrain(project(promotion={"max_drop": 1.0, "min_agreement": 1.0}), _new_rows())
    assert picky.status == "review" and "agree on only" in picky.run.steps[-1].summary
    assert steward.get_registered_model("bc").aliases["champion"] == 1


def test_for_a_regressor_lower_error_is_better(tmp_path: Path) -> None:
    from sklearn.datasets import load_diabetes
    from sklearn.dummy import DummyRegressor

    X, y = load_diabetes(return_X_y=True, as_frame=True)
    data = X.assign(progression=y).sample(frac=1.0, random_state=0).reset_index(drop=True)
    old, new, holdout = data.iloc[:150], data.iloc[150:300], data.iloc[300:]
    train_v = steward.register_dataset(old, "dia-train")
    eval_v = steward.register_dataset(holdout, "dia-holdout")
    with steward.start_run("mean", project="dia", capture_environment_info=False):
        steward.log_input(train_v, context="training")
        steward.log_input(eval_v, context="evaluation")
        inputs = old.drop(columns="progression")
        mean = DummyRegressor().fit(inputs, old["progression"])
        steward.log_model(mean, input_example=inputs, registered_model_name="dia")
    steward.set_alias("dia", "champion", 1)
    module = f"reg_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(
        "from sklearn.dummy import DummyRegressor\n"
        "from sklearn.linear_model import LinearRegression\n"
        "def linear(X, y):\n    return LinearRegression().fit(X, y)\n"
        "def constant(X, y):\n    return DummyRegressor(strategy='constant', constant=0).fit(X, y)\n",
        encoding="utf-8",
    )
    config = {"model": "dia", "target": "progression", "path": str(tmp_path)}
    set_retraining("dia", {**config, "train": f"{module}:constant"})  # default max_drop: 0
    worse = retrain("dia", new)
    assert worse.status == "review" and worse.comparison is not None
    assert worse.comparison.primary == "rmse"
    assert "rmse is" in worse.run.steps[-1].summary and "higher than the champion" in (
        worse.run.steps[-1].summary
    )
    # (a mean and a regression disagree on most rows: only a config that accepts it
    # promotes without a person)
    set_retraining(
        "dia", {**config, "train": f"{module}:linear", "promotion": {"min_agreement": 0.0}}
    )
    better = retrain("dia", new)
    assert better.status == "promoted", better.run.steps[-1].summary
    assert steward.get_registered_model("dia").aliases["champion"] == 3


def test_a_challenger_that_cannot_score_ends_the_run_as_failed(
    project: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def cannot_score(*args: object, **kwargs: object) -> None:
        raise ValueError("Input X contains NaN.")  # what scikit-learn says

    monkeypatch.setattr("steward.iterate._retrain.compare_models", cannot_score)
    outcome = retrain(project(), _new_rows())
    assert outcome.status == "failed" and outcome.run.stopped_at == "compare"
    assert "ValueError: Input X contains NaN." in outcome.run.steps[-1].summary
    assert get_retraining(outcome.run.id).finished_at is not None  # not left 'running'


def test_more_config_mistakes_are_refused_before_any_run(project: Callable[..., str]) -> None:
    with pytest.raises(InvalidInput, match="promote_to"):
        project(promote_to=[])
    project()
    with pytest.raises(InvalidInput, match="version '1x' is not a number"):
        retrain("bc", "bc-train@1x")
    assert list_retrainings("bc") == []
