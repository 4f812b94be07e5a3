"""The retraining pipeline: validate new data, train a challenger, compare, decide.

``retrain(project, data)`` runs the four steps a careful team runs by hand, each recorded
(and in the audit trail) as it ends:

1. **validate** the new data against what the champion was trained on (_newdata.py);
   a failed check stops the run before any training;
2. **train** the challenger with the project's own function, as a tracked run that reads
   the new data version and the evaluation version (so lineage links them), registered as
   a new version of the model;
3. **compare** challenger and champion on the *same* evaluation dataset version
   (compare_models: paired intervals, agreement, segments);
4. **decide**: promote (move the configured aliases, through the project's policy like
   any other move) only when the data passed, the difference is within the configured
   bounds and the policy allows it; otherwise ask for a review, with the report attached.

A wide variation between the models is a finding for a person, not for a script.
"""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict

from steward.context import get_backend
from steward.data import as_frame
from steward.develop import get_dataset, log_input, log_metrics, register_dataset, start_run
from steward.errors import (
    InvalidInput,
    NotFound,
    PermissionDenied,
    PolicyViolation,
    StewardError,
)
from steward.govern import request_review
from steward.iterate._compare import Comparison, compare_models
from steward.iterate._newdata import NewDataReport, validate_new_data
from steward.iterate._records import (
    Retraining,
    RetrainingConfig,
    RetrainingStart,
    RetrainingStep,
    RetrainingUpdate,
    Trigger,
)
from steward.monitor import Alert, list_alerts, load_reference
from steward.registry import ModelVersion, get_model_version, log_model, set_alias
from steward.report import html_page
from steward.serve import get_deployment

Progress = Callable[[str], None]


class RetrainingOutcome(BaseModel):
    """A finished retraining run, with the validation and comparison it produced."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    run: Retraining
    validation: NewDataReport | None = None
    comparison: Comparison | None = None
    report_html: str = ""

    @property
    def status(self) -> str:
        """Return how the run ended: promoted, review, stopped or failed."""
        return self.run.status


def retrain(
    project: str,
    data: Any = None,
    *,
    trigger: Trigger = "manual",
    progress: Progress | None = None,
) -> RetrainingOutcome:
    """Return the outcome of a retraining run of ``project`` on new ``data``.

    ``data`` is a DataFrame, a data file or a dataset name (``"sales@7"``); default: the
    config's ``data`` (what drift-triggered and scheduled runs read).
    """
    say = progress or (lambda _: None)
    config = get_retraining_config_of(project)
    champion = _champion(config)
    source = data if data is not None else config.data
    if source is None:
        raise InvalidInput(
            f"No new data: pass data (on the command line, --data FILE) or set 'data' in "
            f"{project}'s retraining config for drift-triggered and scheduled runs."
        )
    say("Reading the new data...")
    new_ref, frame = _new_data(source, config)
    evaluation_ref = _evaluation(config, champion)
    backend = get_backend()
    run = backend.start_retraining(
        RetrainingStart(
            project=project,
            model=config.model,
            trigger=trigger,
            data=new_ref,
            champion=champion.uri,
        )
    )
    pipeline = _Pipeline(run, config, champion, say)
    return pipeline.go(frame, new_ref, evaluation_ref)


def retrain_if_drifted(
    project: str, data: Any = None, *, progress: Progress | None = None
) -> tuple[list[Alert], RetrainingOutcome | None]:
    """Return the drift alerts (open or acknowledged) raised on the project's deployment
    since its last retraining run that trained a challenger, and the outcome of the run
    they triggered (None when there were none).

    The monitor stage raises the alerts (``steward monitor run``); a scheduler (cron, CI)
    calls this after it, so retraining follows drift without a person watching.
    """
    config = get_retraining_config_of(project)
    deployment = config.deployment or config.model
    try:  # a typo must not mean "nothing to do"
        get_deployment(deployment)
    except NotFound as exc:
        raise NotFound(
            f"{exc.message} Drift-triggered retraining watches the deployment the retraining "
            f"config's 'deployment' names (default: the model's name, {config.model!r}); set "
            f"it with `steward retraining set {project} FILE`."
        ) from exc
    # Alerts count from the last run that trained: one stopped or failed on its data
    # leaves the drift unanswered.
    trained = [r for r in get_backend().list_retrainings(project, 1000) if r.challenger]
    since = trained[0].started_at if trained else 0.0
    alerts = [
        a for a in list_alerts(deployment) if a.rule.startswith("drift.") and a.created_at > since
    ]
    if not alerts:
        return [], None
    return alerts, retrain(project, data, trigger="drift", progress=progress)


def get_retraining_config_of(project: str) -> RetrainingConfig:
    """Return the retraining config a project declared (NotFound says how to declare it)."""
    return get_backend().get_retraining_config(project)


def _champion(config: RetrainingConfig) -> ModelVersion:
    uri = f"models:/{config.model}@{config.champion_alias}"
    try:
        return get_model_version(uri)
    except NotFound as exc:
        raise NotFound(
            f"There is no champion to retrain against: {uri} does not resolve ({exc.message}) "
            f"Register a version of {config.model!r} and set its {config.champion_alias!r} "
            "alias first (the retraining config's 'champion_alias')."
        ) from exc


def _new_data(source: Any, config: RetrainingConfig) -> tuple[str, pd.DataFrame]:
    """Return the new data's dataset version (registered if it was a frame or a file)."""
    if isinstance(source, str) and not Path(source).is_file() and not Path(source).suffix:
        found = _dataset_version(source, "The new data")
        ref = f"{found.dataset}@{found.version}"
        return ref, as_frame(ref, what="The new data")
    frame = as_frame(source, what="The new data")
    described = "a DataFrame" if isinstance(source, pd.DataFrame) else str(source)
    registered = register_dataset(
        frame, config.dataset or f"{config.model}-retraining", source=described
    )
    return f"{registered.dataset}@{registered.version}", frame


def _evaluation(config: RetrainingConfig, champion: ModelVersion) -> str:
    """Return the evaluation dataset version both models are scored on, pinned."""
    if config.evaluation and Path(config.evaluation).suffix:  # a file: pinned as a dataset
        registered = register_dataset(
            as_frame(config.evaluation, what="The evaluation data"),
            f"{config.model}-evaluation",
            source=config.evaluation,
        )
        return f"{registered.dataset}@{registered.version}"
    if config.evaluation:
        found = _dataset_version(config.evaluation, "The config's 'evaluation'")
        return f"{found.dataset}@{found.version}"
    refs = [d for d in champion.manifest.datasets if d.context == "evaluation"]
    if not refs:
        raise InvalidInput(
            f"{champion.uri} records no evaluation dataset (its run logged none with "
            "context='evaluation'), and the retraining config names none: set 'evaluation' "
            "to data kept apart from training (a file such as holdout.csv, or a dataset "
            "NAME or NAME@VERSION), so both models are scored on the same rows."
        )
    return f"{refs[0].dataset}@{refs[0].version}"


def _dataset_version(spec: str, what: str) -> Any:
    """Return the dataset version ``NAME``, ``NAME@latest`` or ``NAME@N`` names."""
    name, _, version = spec.partition("@")
    number = version.lstrip("v")
    if version and version != "latest" and not number.isdigit():
        raise InvalidInput(
            f"{what} names dataset {spec!r}, whose version {version!r} is not a number; write "
            "'name', 'name@latest' or 'name@3' (or give a data file that exists)."
        )
    return get_dataset(name, int(number) if number.isdigit() else 0)


class _Pipeline:
    """One run's steps, each recorded as it ends."""

    def __init__(
        self, run: Retraining, config: RetrainingConfig, champion: ModelVersion, say: Progress
    ) -> None:
        self.run, self.config, self.champion, self.say = run, config, champion, say
        self.backend = get_backend()
        self.validation: NewDataReport | None = None
        self.comparison: Comparison | None = None
        self.decision: list[str] = []
        self.current: Any = "validate"
        self.html = ""

    def record(self, step: RetrainingStep, **change: Any) -> None:
        self.run = self.backend.record_retraining_step(
            self.run.id, RetrainingUpdate(step=step, **change)
        )

    def go(self, frame: pd.DataFrame, new_ref: str, evaluation_ref: str) -> RetrainingOutcome:
        config = self.config
        try:
            train = _training_frame(frame, config, self.champion)
            self.say("Validating the new data against the champion's training data...")
            with _timed() as took:
                evaluation = as_frame(evaluation_ref, what="The evaluation data")
                self.validation = validate_new_data(
                    frame,
                    self.champion,
                    target=config.target,
                    checks=config.checks,
                    reference=_reference(self.champion),
                    evaluation=evaluation,
                    training=train,
                )
            v = self.validation
            summary = _validation_summary(v)
            if v.status == "failed":
                self.record(
                    RetrainingStep(
                        step="validate",
                        status="failed",
                        summary=summary,
                        details={"checks": [c.model_dump() for c in v.problems()]},
                        seconds=took(),
                    )
                )
                return self.finish("stopped", stopped_at="validate")
            self.record(
                RetrainingStep(
                    step="validate",
                    status=v.status,
                    summary=summary,
                    details={"checks": [c.model_dump() for c in v.problems()]},
                    seconds=took(),
                )
            )
            self.current = "train"
            self.say("Training the challenger (a tracked run)...")
            with _timed() as took:
                try:
                    challenger = self.train(train, new_ref, evaluation_ref)
                except StewardError:
                    raise
                except Exception as exc:  # the project's own code: recorded, not hidden
                    self.record(
                        RetrainingStep(
                            step="train",
                            status="failed",
                            summary=f"{config.train} raised {type(exc).__name__}: {exc}"[:2000],
                            seconds=took(),
                        )
                    )
                    return self.finish("failed", stopped_at="train")
            self.record(
                RetrainingStep(
                    step="train",
                    status="passed",
                    summary=f"{config.train} trained {challenger} on {len(train):,} rows ("
                    + (
                        f"{new_ref} and the champion's training data"
                        if config.append_previous
                        else new_ref
                    )
                    + ").",
                    details={"rows": len(train)},
                    seconds=took(),
                ),
                challenger=challenger,
            )
            self.current = "compare"
            self.say(f"Comparing {challenger} with {self.champion.uri} on {evaluation_ref}...")
            with _timed() as took:
                self.comparison = compare_models(
                    self.champion.uri,
                    challenger,
                    data=evaluation_ref,
                    target=config.target,
                    segments=config.segments or None,
                    min_agreement=config.promotion.min_agreement,
                )
            c = self.comparison
            primary = next(m for m in c.metrics if m.metric == c.primary)
            self.record(
                RetrainingStep(
                    step="compare",
                    status="passed" if c.verdict != "review" else "flagged",
                    summary=f"{c.verdict}: {c.primary} {primary.champion:.4g} -> "
                    f"{primary.challenger:.4g} ({primary.difference:+.4g}, 95% interval "
                    f"{primary.ci_low:+.4g} to {primary.ci_high:+.4g}); agreement "
                    f"{c.agreement:.1%} on {c.rows:,} rows of {evaluation_ref}.",
                    details={"verdict": c.verdict, "primary": primary.model_dump()},
                    seconds=took(),
                )
            )
            self.current = "decide"
            return self.decide(challenger)
        except StewardError as exc:
            self.fail(exc.message)
            raise
        except Exception as exc:
            if self.current == "compare":  # the project's models failed to score the rows
                self.fail(f"{type(exc).__name__}: {exc}")
                return self.outcome()
            self.fail(f"{type(exc).__name__}: {exc}")
            raise
        except BaseException:  # interrupted: the record says so rather than 'running'
            self.fail("interrupted")
            raise

    def fail(self, message: str) -> None:
        """Record the current step as failed and end the run."""
        step = self.current
        self.record(RetrainingStep(step=step, status="failed", summary=message[:2000]))
        self.finish("failed", stopped_at=step)

    def train(self, frame: pd.DataFrame, new_ref: str, evaluation_ref: str) -> str:
        config = self.config
        function = _training_function(config)
        inputs = _inputs(self.champion, frame, config.target)
        X, y = frame[inputs], frame[config.target]
        project = self.run.project
        tags = {
            "steward.retraining": str(self.run.id),
            "steward.retraining.trigger": self.run.trigger,
        }
        with start_run(
            f"retraining-{self.run.id}", project=project, experiment="retraining", tags=tags
        ):
            new_name, _, new_version = new_ref.partition("@")
            log_input(new_name, int(new_version), context="training")
            eval_name, _, eval_version = evaluation_ref.partition("@")
            log_input(eval_name, int(eval_version), context="evaluation")
            fitted = function(X, y)
            if not hasattr(fitted, "predict"):
                raise InvalidInput(
                    f"{config.train} returned {type(fitted).__name__}, not a fitted model: the "
                    "training function must return the model (an object with predict)."
                )
            info = log_model(fitted, input_example=X, registered_model_name=config.model)
            log_metrics({"training_rows": float(len(frame))})
        if info.version is None:  # registered_model_name was given: a version exists
            raise InvalidInput(f"{config.train}'s model was not registered as {config.model!r}.")
        return info.version.uri

    def decide(self, challenger: str) -> RetrainingOutcome:
        config, c, v = self.config, self.comparison, self.validation
        assert c is not None and v is not None
        primary = next(m for m in c.metrics if m.metric == c.primary)
        drop = -primary.difference if primary.higher_is_better else primary.difference
        reasons = []
        if v.status != "passed":
            reasons.append(
                "the new data was flagged (" + "; ".join(p.message for p in v.problems()) + ")"
            )
        if c.verdict == "review":
            reasons.append(f"the models agree on only {c.agreement:.1%} of rows")
        if drop > config.promotion.max_drop:
            reasons.append(
                f"{c.primary} is {abs(primary.difference):.4g} "
                f"{'lower' if primary.higher_is_better else 'higher'} than the champion's "
                f"(at most {config.promotion.max_drop:g} allowed)"
            )
        if config.promotion.require_improvement and c.verdict != "challenger better":
            reasons.append("the config requires a clear improvement, and the interval shows none")
        if not config.promotion.automatic:
            reasons.append("the config promotes no challenger without a person")
        version = int(challenger.rsplit("/", 1)[-1])
        if not reasons:
            moved = []
            for alias in config.promote_to:
                try:
                    set_alias(
                        config.model,
                        alias,
                        version,
                        reason=f"retraining #{self.run.id}: {c.verdict} ({c.primary} "
                        f"{primary.difference:+.4g})",
                    )
                    moved.append(alias)
                except PolicyViolation as exc:
                    reasons.append(f"the project's policy holds '{alias}': {exc.message}")
                    break
                except PermissionDenied as exc:  # e.g. a data scientist may not promote
                    reasons.append(f"whoever ran it may not move '{alias}': {exc.message}")
                    break
            if not reasons:
                self.decision = [f"Promoted {challenger} to {', '.join(moved)}."]
                self.record(
                    RetrainingStep(step="decide", status="promoted", summary=self.decision[0])
                )
                return self.finish("promoted")
            if moved:
                reasons.append(f"(already moved: {', '.join(moved)})")
        note = (
            f"Retraining #{self.run.id} of {config.model} held for review: "
            + "; ".join(reasons)
            + f". The comparison: {c.verdict}, {c.primary} {primary.difference:+.4g} (95% "
            f"interval {primary.ci_low:+.4g} to {primary.ci_high:+.4g}), agreement "
            f"{c.agreement:.1%}. Evidence: `steward retraining report {self.run.id}`."
        )
        request_review(config.model, version, note[:2000])
        self.decision = [note]
        self.record(RetrainingStep(step="decide", status="review", summary=note))
        return self.finish("review")

    def finish(self, status: str, *, stopped_at: str | None = None) -> RetrainingOutcome:
        import plotly.graph_objects as go

        figures = {k: go.Figure(v) for k, v in self.figures().items()}
        html = html_page(self.markdown(status), f"Retraining #{self.run.id}", figures)
        sha, _ = self.backend.blobs.put_bytes(html.encode())
        self.run = self.backend.record_retraining_step(
            self.run.id,
            RetrainingUpdate.model_validate(
                {"status": status, "stopped_at": stopped_at, "report_sha256": sha}
            ),
        )
        self.html = html
        return self.outcome()

    def outcome(self) -> RetrainingOutcome:
        """Return the run as it ended, with what its steps produced."""
        return RetrainingOutcome(
            run=self.run,
            validation=self.validation,
            comparison=self.comparison,
            report_html=self.html,
        )

    def markdown(self, status: str) -> str:
        run = self.run
        lines = [
            f"# Retraining #{run.id} of {run.model}: {status}",
            "",
            f"Project {run.project}; trigger: {run.trigger}; new data {run.data}; champion "
            f"{run.champion}" + (f"; challenger {run.challenger}" if run.challenger else "") + ".",
            "",
            "| step | result | summary |",
            "|---|---|---|",
        ]
        lines += [f"| {s.step} | {s.status} | {s.summary} |" for s in run.steps]
        if self.validation is not None:
            lines += ["", self.validation.to_markdown()]
        if self.comparison is not None:
            lines += ["", "## Champion against challenger", "", self.comparison.to_markdown()]
        return "\n".join(lines)

    def figures(self) -> dict[str, Any]:
        out = self.validation.figures() if self.validation is not None else {}
        c = self.comparison
        if c is not None:
            out["Challenger minus champion, with 95% intervals"] = c.difference_figure()
        return out


def _training_frame(
    frame: pd.DataFrame, config: RetrainingConfig, champion: ModelVersion
) -> pd.DataFrame:
    if not config.append_previous:
        return frame
    refs = [d for d in champion.manifest.datasets if d.context == "training"]
    if not refs:
        raise InvalidInput(
            f"append_previous is set, but {champion.uri} records no training dataset to add the "
            "new data to. Train on the new data alone (append_previous: false)."
        )
    previous = as_frame(f"{refs[0].dataset}@{refs[0].version}")
    return pd.concat([previous, frame], ignore_index=True)


def _reference(champion: ModelVersion) -> Any:
    try:
        return load_reference(champion.uri)
    except (NotFound, InvalidInput):  # a version registered without data has no profile
        return None


def _inputs(champion: ModelVersion, frame: pd.DataFrame, target: str) -> list[str]:
    signature = champion.manifest.signature
    if signature is not None:
        return [c.name for c in signature.inputs]
    return [c for c in frame.columns if c != target]


def _training_function(config: RetrainingConfig) -> Callable[..., Any]:
    module_name, _, attribute = config.train.partition(":")
    if not module_name or not attribute:
        raise InvalidInput(
            f"The retraining config's 'train' must be 'module:function'; got {config.train!r}."
        )
    folder = str(Path(config.path or Path.cwd()).resolve())
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidInput(
            f"Cannot import {module_name!r} for the training function ({exc}). Run from the "
            "folder that holds it, or set 'path' in the retraining config."
        ) from exc
    finally:
        if added:
            sys.path.remove(folder)
    function = getattr(module, attribute, None)
    if not callable(function):
        raise InvalidInput(
            f"{module_name!r} has no function {attribute!r} (the retraining config's 'train')."
        )
    return function  # type: ignore[no-any-return]


def _validation_summary(report: NewDataReport) -> str:
    problems = report.problems()
    if not problems:
        return f"All {len(report.checks)} checks passed on {report.rows:,} rows."
    return "; ".join(f"{p.check} {p.status}: {p.message}" for p in problems)


@contextmanager
def _timed() -> Iterator[Callable[[], float]]:
    started = time.perf_counter()
    yield lambda: round(time.perf_counter() - started, 3)
