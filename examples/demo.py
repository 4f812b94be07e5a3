"""Steward's end-to-end demo: track, compare and check models against a business objective,
register, explain and document the best, then serve it and score a file.

Runs on the embedded default (SQLite and a local folder under ~/.steward, or
$STEWARD_HOME); nothing to start by hand. Data: scikit-learn's bundled diabetes data,
turned into a classification task ("will the disease progress fast?").
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from demo_govern import govern_step, lift_earlier_policy
from demo_iterate import iterate_step
from demo_monitor import monitor_live
from rich.console import Console
from rich.table import Table
from sklearn.datasets import load_diabetes
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    RocCurveDisplay,
    accuracy_score,
    confusion_matrix,
    f1_score,
    roc_auc_score,
)
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import steward
from steward.config import load_settings

PROJECT = "diabetes-triage"
EXPERIMENT = "progression-classifier"
MODEL = "diabetes-progression"
SEED = 42
console = Console()


def load_data() -> pd.DataFrame:
    """Return the diabetes data with a binary target: progression above the median."""
    raw = load_diabetes(as_frame=True, scaled=False).frame
    target = raw.pop("target")
    raw["fast_progression"] = (target > target.median()).astype(int)
    return raw


def main() -> None:
    started = time.time()
    settings = load_settings()
    console.rule("[bold]Steward demo: develop")
    console.print(
        f"Store: [cyan]{settings.store_uri}[/]   artifacts: [cyan]{settings.artifact_uri}[/]"
    )

    steward.create_project(PROJECT, "Flag diabetes patients whose disease will progress fast.")
    lift_earlier_policy(console, PROJECT)
    objective = steward.set_objective(
        "missed_fast_progressors",
        "share of fast-progressing patients the model fails to flag (false negative rate)",
        "minimize",
        0.25,
        project=PROJECT,
        kind="objective",
        unit="ratio",
    )
    steward.set_objective(
        "review_load",
        "share of patients flagged for specialist review",
        "minimize",
        0.6,
        project=PROJECT,
    )
    steward.set_experiment(EXPERIMENT, project=PROJECT)

    data = load_data()
    train, test = train_test_split(
        data, test_size=0.3, random_state=SEED, stratify=data["fast_progression"]
    )
    # A third of the training patients arrive later: the newer slice the model is retrained
    # on in the iteration step, after it has shipped.
    train, newer = train_test_split(
        train, test_size=0.3, random_state=SEED, stratify=train["fast_progression"]
    )
    terms = "BSD-3-Clause, from scikit-learn's bundled datasets (Efron et al., 2004)"
    train_v = steward.register_dataset(
        train,
        "diabetes-train",
        source="sklearn.datasets.load_diabetes",
        terms_of_use=terms,
        sensitive_columns=["age", "sex"],
    )
    test_v = steward.register_dataset(
        test,
        "diabetes-holdout",
        source="sklearn.datasets.load_diabetes",
        terms_of_use=terms,
        sensitive_columns=["age", "sex"],
    )
    console.print(
        f"Datasets: diabetes-train v{train_v.version} ({train_v.row_count} rows), "
        f"diabetes-holdout v{test_v.version} ({test_v.row_count} rows); "
        f"sensitive columns recorded: {', '.join(train_v.sensitive_columns)}"
    )

    features = [c for c in data.columns if c != "fast_progression"]
    X_train, y_train = train[features], train["fast_progression"]
    X_test, y_test = test[features], test["fast_progression"]
    candidates = {
        "logistic-regression": make_pipeline(
            StandardScaler(), LogisticRegression(C=0.5, max_iter=1000)
        ),
        "random-forest": RandomForestClassifier(
            n_estimators=200, min_samples_leaf=5, random_state=SEED
        ),
        "gradient-boosting": GradientBoostingClassifier(
            n_estimators=150, max_depth=2, learning_rate=0.05, random_state=SEED
        ),
    }

    steward.autolog()  # params, training metrics and the fitted model of every fit
    run_ids = []
    for name, model in candidates.items():
        steward.seed_everything(SEED)
        with steward.start_run(name, tags={"purpose": "demo"}) as run:
            steward.log_input(train_v, context="training")
            steward.log_input(test_v, context="evaluation")
            model.fit(X_train, y_train)
            proba = model.predict_proba(X_test)[:, 1]
            pred = (proba >= 0.5).astype(int)
            _tn, fp, fn, tp = confusion_matrix(y_test, pred).ravel()
            steward.log_metrics(
                {
                    "test_roc_auc": roc_auc_score(y_test, proba),
                    "test_accuracy": accuracy_score(y_test, pred),
                    "test_f1": f1_score(y_test, pred),
                    "missed_fast_progressors": fn / (fn + tp),
                    "review_load": (tp + fp) / len(pred),
                }
            )
            fig, ax = plt.subplots(figsize=(4, 4))
            RocCurveDisplay.from_predictions(y_test, proba, ax=ax, name=name)
            steward.log_figure(fig, "plots/roc.png")
            plt.close(fig)
            if hasattr(model, "staged_predict_proba"):  # learning curve over boosting stages
                for step, staged in enumerate(model.staged_predict_proba(X_test)):
                    steward.log_metric(
                        "test_roc_auc_by_stage", roc_auc_score(y_test, staged[:, 1]), step
                    )
        run_ids.append(run.id)
        console.print(f"  tracked run [bold]{name}[/] ({run.id[:8]})")
    steward.autolog(disable=True)

    console.rule("[bold]Runs, best first (search_runs)")
    found = steward.search_runs(
        f"experiment = '{EXPERIMENT}' and tags.purpose = 'demo' and status = 'FINISHED'",
        project=PROJECT,
        order_by=["metrics.test_roc_auc DESC"],
        max_results=len(candidates),
    )
    table = Table("id", "test ROC AUC", "test F1", "missed fast progressors", "review load")
    table.add_column("run", no_wrap=True)
    for _, row in found.iterrows():
        table.add_row(
            row["run_id"][:8],
            f"{row['metrics.test_roc_auc']:.3f}",
            f"{row['metrics.test_f1']:.3f}",
            f"{row['metrics.missed_fast_progressors']:.1%}",
            f"{row['metrics.review_load']:.1%}",
            row["name"],
        )
    console.print(table)

    console.rule("[bold]Side by side (compare_runs): rows that differ")
    comparison = steward.compare_runs(run_ids)
    diff = Table()
    diff.add_column("field", no_wrap=True)
    for column in comparison.table.columns:
        diff.add_column(str(column), overflow="fold")
    for label, row in comparison.differences.iterrows():
        shown = (
            "params.n_estimators",
            "params.max_depth",
            "params.learning_rate",
            "params.logisticregression__C",
            "metrics.test",
            "metrics.missed",
            "metrics.review",
            "metrics.training_roc",
            "tags.",
        )
        if str(label).startswith(shown):
            diff.add_row(str(label), *[_short(v) for v in row])
    console.print(diff)
    same = comparison.table[~comparison.differs].index
    console.print(
        f"[dim]Identical in all runs: {', '.join(x for x in same if not x.startswith('env.'))}[/]"
    )

    best = found.iloc[0]
    missed = best["metrics.missed_fast_progressors"]
    verdict = "[green]meets[/]" if objective.is_met(missed) else "[red]misses[/]"
    console.rule("[bold]Against the business objective")
    console.print(
        f"Best run [bold]{best['name']}[/] misses {missed:.1%} of fast progressors: it {verdict} the "
        f"objective '{objective.name}' (target ≤ {objective.target:.0%})."
    )
    if os.environ.get("STEWARD_REPRODUCING"):
        # `steward reproduce` re-runs this script to re-create the training runs; it must
        # not register versions or move the champion alias a second time.
        console.print("Reproducing a run: the registry steps are skipped.")
        return
    console.rule("[bold]Registry: register, alias, load by URI")
    version = steward.register_model(
        f"runs:/{best['run_id']}/model", MODEL, description="Flags fast progressors."
    )
    current = steward.get_registered_model(MODEL).aliases.get("champion")
    steward.set_alias(
        MODEL,
        "champion",
        version.version,
        reason=f"best test ROC AUC {best['metrics.test_roc_auc']:.3f}",
    )
    champion = steward.load_model(f"models:/{MODEL}@champion")  # every file's sha256 checked
    scores = champion.predict_proba(X_test.head(3))[:, 1]
    console.print(
        f"models:/{MODEL}/{version.version} ({version.manifest.flavor}, needs "
        f"{', '.join(f'{k}=={v}' for k, v in version.manifest.requirements.items())}) is now "
        f"'champion' (was {current or 'unset'}); scores for 3 holdout patients: "
        f"{', '.join(f'{x:.2f}' for x in scores)}"
    )
    try:
        champion.predict(X_test.head(1).drop(columns=["bmi"]))
    except steward.StewardError as exc:
        console.print(f"[dim]A bad request is refused with: {exc}[/]")
    export = steward.export_model(f"models:/{MODEL}/{version.version}", "onnx")
    console.print(
        f"ONNX export {'[green]valid[/]' if export.valid else '[red]NOT valid[/]'} on {export.data}: "
        f"{export.report.reason}"
    )
    console.rule("[bold]Responsible AI: explanation, fairness, model card")
    patient = X_test.iloc[0].to_dict()
    why = steward.explain_prediction(f"models:/{MODEL}@champion", patient, background=X_train)
    top = ", ".join(
        f"{r.feature} {r.contribution:+.3f}" for r in why.contributions.head(3).itertuples()
    )
    console.print(
        f"Patient 1: predicted {why.prediction}; P(fast progression) = {why.output:.2f} = "
        f"base {why.base_value:.2f} + contributions ({top}, ...), from the "
        f"{why.settings.explainer} explainer"
    )
    # The sections only a person can write come from the model's tags (never invented).
    steward.set_model_tag(
        MODEL,
        "intended_use",
        "Flag diabetes patients at risk of fast progression for an earlier specialist review; "
        "a clinician makes every decision.",
    )
    card = steward.model_card(f"models:/{MODEL}/{version.version}")
    page = settings.home / "reports" / f"{MODEL}-v{version.version}-card.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(card.to_html(), encoding="utf-8")
    for flag in card.flags:
        console.print(f"[yellow]⚑ {flag}[/]")
    console.print(
        f"Model card ({card.seconds:.1f}s; still missing, for a person: "
        f"{', '.join(card.missing)}): {page}"
    )

    deploy(version.version, found, test, newer)
    govern_step(console, MODEL, version.version, PROJECT)

    console.print(
        f"\nDone in {time.time() - started:.1f}s. Look further with:\n"
        f"  steward runs list --project {PROJECT}\n"
        f"  steward runs compare {' '.join(r[:8] for r in run_ids)}\n"
        f"  steward datasets profile diabetes-train\n"
        f"  steward models show {MODEL}\n"
        f"  steward reproduce {best['run_id']} --here   # re-run, compare\n"
        f"  steward deploy history {MODEL}\n"
        f"  steward monitor report {MODEL} --open   # drift, performance, latency, KPIs\n"
        f"  steward retraining runs {PROJECT}   # the retraining runs and where they stopped\n"
        f"  steward models signoffs {MODEL} {version.version}   # who approved, what the policy asks\n"
        f"  steward audit verify   # the hash-chained audit trail holds\n"
        f"  steward serve --deployment {MODEL}   # serve it again\n"
        f"  steward ui   # the web UI over this store (Deployments shows the traffic)"
    )


def deploy(champion: int, found: pd.DataFrame, test: pd.DataFrame, newer: pd.DataFrame) -> None:
    """Serve the champion over HTTP, send real traffic, switch versions under load, run a
    shadow challenger, monitor, retrain and A/B test; then batch-score a file."""
    console.rule("[bold]Deploy: a REST service, blue-green, shadow, batch scoring")
    X_test, y_test = test.drop(columns="fast_progression"), test["fast_progression"]
    runner_up = steward.register_model(
        f"runs:/{found.iloc[1]['run_id']}/model", MODEL, description="The runner-up."
    ).version
    rows = X_test.to_dict(orient="records")
    with served(f"models:/{MODEL}@champion") as url, httpx.Client(base_url=url) as client:
        answer = client.post("/predict", json={"records": rows[:1]}).json()
        console.print(
            f"Serving models:/{MODEL}/{champion} at {url}: patient 1 -> prediction "
            f"{answer['predictions'][0]}, P = {answer['probabilities'][0][1]:.2f} "
            f"(request {answer['request_id'][:8]}..., version {answer['version']})"
        )
        refused = client.post("/predict", json={"records": [{**rows[0], "bmi": "heavy"}]})
        console.print(
            f"[dim]A bad request gets {refused.status_code}: {refused.json()['error']['message']}[/]"
        )
        clean_since = time.time()
        for i, row in enumerate(rows):  # real traffic, with ground truth arriving later
            request_id = client.post("/predict", json={"records": [row]}).json()["request_id"]
            client.post("/feedback", json={"request_id": request_id, "label": int(y_test.iloc[i])})
        clean = (clean_since, time.time())  # one pass over the holdout: the clean window

        # Blue-green: switch to the runner-up and back while four clients keep sending.
        seen, errors = under_load(
            url,
            rows,
            lambda: switch(url, f"models:/{MODEL}/{runner_up}", f"models:/{MODEL}/{champion}"),
        )
        console.print(
            f"Blue-green: switched to v{runner_up} and back under load: {sum(seen.values())} "
            f"requests, {errors} failed; answered by versions {dict(sorted(seen.items()))}."
        )

        # Shadow: the runner-up scores every request beside the champion, never answers.
        steward.set_traffic(MODEL, shadow=[f"models:/{MODEL}/{runner_up}"], reason="demo shadow")
        wait_revision(url, steward.get_deployment(MODEL).revision)
        for row in rows:
            client.post("/predict", json={"records": [row]})
        while client.get("/deployment").json()["shadow_backlog"]:  # shadows score after
            time.sleep(0.1)  # each response, from a queue; wait until it is empty...
        time.sleep(1.5)  # ...and for the log segment written every second
        live = steward.traffic(steward.get_deployment(MODEL))
        table = Table("route", "role", "versions", "requests", "errors", "p50 ms", "p99 ms")
        for r in live.routes:
            table.add_row(
                r.route,
                r.role,
                ", ".join(map(str, r.versions)),
                str(r.requests),
                str(r.errors),
                f"{r.p50_ms or 0:.2f}",
                f"{r.p99_ms or 0:.2f}",
            )
        console.print(table)
        console.print(
            f"The shadow v{runner_up} agrees with the champion on "
            f"{live.shadow_agreement or 0:.0%} of {live.shadow_compared} rows; "
            f"prediction log: {live.log_root}"
        )
        steward.set_traffic(MODEL, reason="end of the shadow test")
        wait_revision(url, steward.get_deployment(MODEL).revision)  # no shadow from here on
        monitor_live(console, url, MODEL, champion, PROJECT, clean, X_test, y_test)
        iterate_step(
            console,
            project=PROJECT,
            model=MODEL,
            newer=newer,
            holdout=test,
            url=url,
            wait_revision=wait_revision,
        )

    # Embedded deployment: batch-score a file with the champion.
    folder = load_settings().home / "scoring"
    folder.mkdir(parents=True, exist_ok=True)
    X_test.to_csv(folder / "patients.csv", index_label="patient_id")
    job = steward.score(
        f"models:/{MODEL}@champion",
        folder / "patients.csv",
        folder / "patients-scored.parquet",
        overwrite=True,
    )
    console.print(
        f"Batch scoring: {job.rows} rows of patients.csv in {job.seconds:.2f}s -> "
        f"{job.output} (model {job.version_label}, run {job.run_id[:8]})"
    )


@contextmanager
def served(uri: str) -> Iterator[str]:
    """Run `steward serve URI` on a free local port; yield its URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [
        sys.executable,
        "-m",
        "steward.cli",
        "serve",
        uri,
        "--port",
        str(port),
        "--poll",
        "0.2",
    ]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/v2/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise RuntimeError("steward serve did not become ready")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def under_load(
    url: str, rows: list[dict[str, object]], action: Callable[[], None]
) -> tuple[Counter[int], int]:
    """Run ``action`` while four clients send requests; return versions seen and failures."""
    seen: Counter[int] = Counter()
    errors = 0
    stop = threading.Event()

    def load(offset: int) -> None:
        nonlocal errors
        with httpx.Client(base_url=url) as client:
            i = offset
            while not stop.is_set():
                response = client.post("/predict", json={"records": [rows[i % len(rows)]]})
                if response.status_code == 200:
                    seen[response.json()["version"]] += 1
                else:
                    errors += 1
                i += 1

    threads = [threading.Thread(target=load, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    action()
    time.sleep(0.5)
    stop.set()
    for thread in threads:
        thread.join()
    return seen, errors


def switch(url: str, to: str, back: str) -> None:
    """Move the deployment to ``to`` and then ``back``, each time until the server serves it."""
    for uri in (to, back):
        moved = steward.set_deployment_model(MODEL, uri, reason="demo blue-green")
        wait_revision(url, moved.revision)
        time.sleep(1.0)


def wait_revision(url: str, revision: int) -> None:
    """Wait until the server at ``url`` serves ``revision`` of the deployment."""
    deadline = time.monotonic() + 60
    while httpx.get(f"{url}/deployment").json()["revision"] != revision:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server did not switch to revision {revision}")
        time.sleep(0.1)


def _short(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


if __name__ == "__main__":
    main()
