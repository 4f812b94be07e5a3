"""The demo's iteration step: the monitor's drift alerts trigger a retraining on the newer
patients (validated against the champion's training data, trained as a tracked run,
compared with the champion on the same holdout version, then held for a reviewer, as the
project's retraining config says of a clinical model); a leaky retraining is refused;
then an A/B test of the champion and the held challenger on live traffic, planned first
and read without peeking."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sklearn.base import clone

import steward
from steward import iterate
from steward.config import load_settings

STYLE = {"passed": "green", "flagged": "yellow", "failed": "bold red", "promoted": "bold green"}


def train(X: pd.DataFrame, y: pd.Series) -> Any:
    """Refit the champion's recipe (its estimator and hyperparameters) on the data given:
    the project's training function, which the retraining config names."""
    champion = steward.load_model("models:/diabetes-progression@champion").raw
    return clone(champion).fit(X, y)


def iterate_step(
    console: Console,
    *,
    project: str,
    model: str,
    newer: pd.DataFrame,
    holdout: pd.DataFrame,
    url: str,
    wait_revision: Callable[[str, int], None],
) -> None:
    """Retrain on the newer slice when drift fired, refuse a leaky retraining, A/B test."""
    console.rule("[bold]Iterate: drift-triggered retraining, champion against challenger, A/B")
    iterate.set_retraining(
        project,
        {
            "model": model,
            "train": "demo_iterate:train",
            "path": str(Path(__file__).parent),
            "target": "fast_progression",
            "dataset": "diabetes-newer",
            # the newer patients join the earlier ones (the champion's training data)
            "append_previous": True,
            "segments": ["sex"],
            # A clinical model changes only after a person looked (automatic: false), and
            # the evidence they get says whether it would have passed the bounds: ROC AUC
            # down by 0.02 at most, the two agreeing on 85% of patients or more.
            "promotion": {"automatic": False, "max_drop": 0.02, "min_agreement": 0.85},
        },
    )
    with console.status("Retraining...") as status:
        alerts, outcome = iterate.retrain_if_drifted(project, newer, progress=status.update)
    if outcome is None:  # no drift alert (the monitoring step raises them): run it anyway
        console.print("No drift alert was open; retraining on the newer patients anyway.")
        outcome = iterate.retrain(project, newer)
    else:
        rules = sorted({a.rule for a in alerts})
        console.print(f"{len(alerts)} open drift alert(s) ({', '.join(rules)}) triggered it.")
    show_run(console, outcome.run)
    home = load_settings().home
    page = home / "reports" / f"{model}-retraining-{outcome.run.id}.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(outcome.report_html, encoding="utf-8")
    console.print(f"Retraining report (new-data checks, comparison with intervals): {page}")

    leaky = pd.concat([newer, holdout.head(12)], ignore_index=True)
    refused = iterate.retrain(project, leaky)
    console.print(
        f"[yellow]A retraining on data that holds 12 holdout rows:[/] {refused.run.status} at "
        f"{refused.run.stopped_at}: {refused.run.steps[0].summary}"
    )
    if outcome.run.challenger:
        ab_test(console, model, outcome.run.challenger, holdout, url, wait_revision)


def show_run(console: Console, run: iterate.Retraining) -> None:
    """Print a retraining run's steps as a table."""
    title = Text.assemble(
        f"Retraining #{run.id}: ", (run.status, STYLE.get(run.status, "bold yellow"))
    )
    table = Table("step", "result", "summary", title=title)
    for step in run.steps:
        table.add_row(step.step, Text(step.status, STYLE.get(step.status, "yellow")), step.summary)
    console.print(table)


def ab_test(
    console: Console,
    model: str,
    challenger: str,
    holdout: pd.DataFrame,
    url: str,
    wait_revision: Callable[[str, int], None],
) -> None:
    """Split live traffic between the served version and the challenger; read the test."""
    served = steward.get_deployment(model).spec.serving[0]
    current = served.resolved or served.model
    # Reward: the triage was right (flagged a fast progressor, or let a slow one be).
    plan = iterate.plan_ab_test("proportion", 0.72, 0.05)
    plan.control, plan.treatment = "a", "b"
    iterate.set_ab_plan(model, plan)
    console.print(f"A/B plan, stored before the test: {plan.describe()}.")
    steward.set_traffic(model, ab={current: 0.5, challenger: 0.5}, reason="A/B: retrained model")
    wait_revision(url, steward.get_deployment(model).revision)
    features = [c for c in holdout.columns if c != "fast_progression"]
    with httpx.Client(base_url=url) as client:
        for _ in range(2):  # two weeks of patients, say
            for row in holdout.to_dict(orient="records"):
                record = {k: row[k] for k in features}
                answer = client.post("/predict", json={"records": [record]}).json()
                right = int(answer["predictions"][0] == row["fast_progression"])
                client.post(
                    "/feedback",
                    json={
                        "request_id": answer["request_id"],
                        "label": int(row["fast_progression"]),
                        "reward": right,
                    },
                )
    time.sleep(1.5)  # a log segment is written every second
    readout = iterate.ab_readout(model)
    console.print(readout_table(readout))
    steward.set_traffic(model, reason="end of the A/B test")
    wait_revision(url, steward.get_deployment(model).revision)


def readout_table(readout: iterate.ABReadout) -> Table:
    """Return the A/B readout as a table: progress, verdict (when allowed), Bayesian."""
    table = Table("", "value", title="A/B readout (steward ab readout / the A/B page)")
    for label, value in readout_rows(readout):
        table.add_row(label, value)
    return table


def readout_rows(readout: iterate.ABReadout) -> list[tuple[str, str]]:
    """Return the readout's lines a person reads first."""
    fixed, seq, bayes = readout.fixed, readout.sequential, readout.bayesian
    rows = [
        ("arm A (served)", f"{readout.a.n:,} rewards, mean {readout.a.mean:.3f}"),
        ("arm B (challenger)", f"{readout.b.n:,} rewards, mean {readout.b.mean:.3f}"),
        ("fixed-horizon verdict", fixed.message if fixed.ready else f"withheld: {fixed.message}"),
        ("always-valid p (mSPRT)", f"{seq.p_value:.3f}"),
        ("P(B beats A)", f"{bayes.prob_b_beats_a:.1%}"),
        ("expected loss choosing B", f"{bayes.expected_loss_choosing_b:.4f}"),
    ]
    return rows
