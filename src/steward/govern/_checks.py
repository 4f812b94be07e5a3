"""The eight checks of the validation gate, each from the stage that owns its evidence."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from steward.context import get_backend
from steward.errors import InvalidInput, NotFound, StewardError
from steward.govern._gate_report import CheckResult
from steward.govern._policy import Policy
from steward.registry import ModelVersion, download_model, evaluation_data, load_model

# A share of held-out values outside the training range worth failing on. A random split
# puts about 2/(n+1) of values past the training extremes by chance (0.6% at 300 training
# rows), so the gate fails on a unit or scale error, not on the tails of a small sample.
OUT_OF_RANGE = 0.05


@dataclass
class Context:
    """What every check reads: the version, the policy, the held-out data (loaded once)."""

    version: ModelVersion
    policy: Policy
    data: Any = None
    target: str | None = None
    say: Callable[[str], None] = lambda _m: None
    _frame: pd.DataFrame | None = None
    _described: str = ""
    _labeled: bool = False
    _cache: dict[str, Any] = field(default_factory=dict)

    def frame(self) -> tuple[pd.DataFrame, str, bool]:
        """Return the held-out data, where it came from, and whether it is real (labelled)."""
        if self._frame is None:
            given = self.data if self.data is not None else self.policy.accuracy.dataset
            found = evaluation_data(self.version, given, purpose="validate the model on")
            self._frame, self._described, self._labeled = (
                found.frame,
                found.description,
                found.labeled,
            )
        return self._frame, self._described, self._labeled

    def close(self) -> None:
        """Stop the in-process server the checks started, and remove its log."""
        served = self._cache.pop("served", None)
        if served is not None:
            served[0].__exit__(None, None, None)
        log = self._cache.pop("log", None)
        if log is not None:
            shutil.rmtree(log, ignore_errors=True)

    def features(self) -> list[str]:
        """Return the model's input columns."""
        signature = self.version.manifest.signature
        return [c.name for c in signature.inputs] if signature else []

    def label(self, frame: pd.DataFrame) -> str | None:
        """Return the held-out data's label column: given, else the one non-input column."""
        if self.target is not None or self.policy.accuracy.target is not None:
            name = self.target or self.policy.accuracy.target
            if name not in frame.columns:
                raise InvalidInput(f"The held-out data has no column {name!r} to score against.")
            return name
        sensitive = set(self.sensitive())
        others = [c for c in frame.columns if c not in self.features() and c not in sensitive]
        return others[0] if len(others) == 1 else None

    def sensitive(self) -> list[str]:
        """Return the columns declared sensitive or flagged as PII on the training data."""
        if "sensitive" not in self._cache:
            found: set[str] = set()
            backend = get_backend()
            for ref in self.version.manifest.datasets:
                try:
                    meta = backend.get_dataset_version(ref.dataset, ref.version)
                except StewardError:
                    continue
                found.update(meta.sensitive_columns)
                found.update(_flagged(ref.dataset, ref.version))
            self._cache["sensitive"] = sorted(found)
        return list(self._cache["sensitive"])


def _flagged(dataset: str, version: int) -> list[str]:
    """Return the columns the PII scan flagged on a dataset version (none if it never ran)."""
    try:
        from steward.govern import flagged_columns  # the data-governance half of this stage
    except ImportError:
        return []
    try:
        return list(flagged_columns(dataset, version))
    except StewardError:
        return []


def documentation(ctx: Context) -> CheckResult:
    """Step 1: the model card, its owner-written sections, and the sign-offs the policy asks."""
    v = ctx.version
    backend = get_backend()
    problems: list[str] = []
    evidence: dict[str, Any] = {}
    card = [f.path for f in v.files if f.path == "reports/model_card.md"]
    evidence["model card"] = card[0] if card else "missing"
    if not card:
        problems.append(f"no model card attached (`steward models card {v.uri}`)")
    tags = {**backend.get_registered_model(v.model).tags, **v.tags}
    if not tags.get("intended_use"):
        problems.append("no intended use (steward.set_model_tag(name, 'intended_use', ...))")
    status = backend.get_signoff_status(v.model, v.version)
    evidence["approvals"] = status.approvals
    if status.rejected:
        problems.append("a reviewer rejected this version")
    for rule in ctx.policy.signoffs or []:
        given = status.approvals.get(rule.role, 0)
        if given < rule.count:
            problems.append(f"{rule.count - given} more {rule.role} sign-off(s) needed")
    return _verdict("documentation", problems, "card, intended use and sign-offs present", evidence)


def reproducibility(ctx: Context) -> CheckResult:
    """Step 2: re-create the training run from its record and compare (steward reproduce)."""
    from steward.develop import reproduce_run

    run_id = ctx.version.run_id
    if run_id is None:
        return CheckResult(
            check="reproducibility",
            status="failed",
            summary="the version records no training run to re-create",
        )
    report = reproduce_run(run_id, here=True, progress=lambda m, _d, _t: ctx.say(f"  {m}"))
    evidence = {"run": run_id, "new run": report.new_run_id, "seconds": report.duration_seconds}
    if report.reproduced:
        return CheckResult(
            check="reproducibility",
            status="passed",
            summary="the run re-created gives the same metrics and predictions",
            evidence=evidence,
        )
    return CheckResult(
        check="reproducibility",
        status="failed",
        summary="; ".join(report.reasons)[:500],
        evidence=evidence,
    )


def _score(model_uri: str, frame: pd.DataFrame, label: str, metric: str) -> float:
    from sklearn import metrics as skm

    model = load_model(model_uri, unseen="ignore", nulls="ignore")
    signature = model.signature
    columns = (
        [c.name for c in signature.inputs]
        if signature
        else [c for c in frame.columns if c != label]
    )
    y = frame[label].to_numpy()
    X = frame[columns]
    if metric == "roc_auc":
        proba = np.asarray(model.predict_proba(X))
        return float(
            skm.roc_auc_score(y, proba[:, 1] if proba.shape[1] == 2 else proba, multi_class="ovr")
        )
    predicted = np.asarray(model.predict(X))
    scorers: dict[str, Callable[[Any, Any], float]] = {
        "accuracy": skm.accuracy_score,
        "f1": lambda a, b: skm.f1_score(
            a, b, average="binary" if len(np.unique(a)) == 2 else "macro"
        ),
        "r2": skm.r2_score,
        "mae": skm.mean_absolute_error,
        "rmse": lambda a, b: float(np.sqrt(skm.mean_squared_error(a, b))),
    }
    if metric not in scorers:
        raise InvalidInput(
            f"Unknown accuracy metric {metric!r}; use roc_auc, {', '.join(scorers)}."
        )
    return float(scorers[metric](y, predicted))


LOWER_IS_BETTER = {"mae", "rmse"}


def accuracy(ctx: Context) -> CheckResult:
    """Step 3: the version and the champion on the same held-out data, against the policy."""
    rule = ctx.policy.accuracy
    frame, described, labeled = ctx.frame()
    label = ctx.label(frame) if labeled else None
    if label is None:
        return CheckResult(
            check="accuracy",
            status="failed",
            summary=f"no held-out data with outcomes ({described}); give data= or the policy's accuracy.dataset",
        )
    value = _score(ctx.version.uri, frame, label, rule.metric)
    evidence: dict[str, Any] = {"data": described, "rows": len(frame), rule.metric: round(value, 5)}
    problems = []
    sign = -1 if rule.metric in LOWER_IS_BETTER else 1
    if rule.min is not None and sign * value < sign * rule.min:
        problems.append(f"{rule.metric} {value:.4f} misses the floor {rule.min}")
    try:
        champion = get_backend().get_model_version_by_alias(ctx.version.model, rule.champion_alias)
    except NotFound:
        champion = None
    if champion is not None and champion.version != ctx.version.version:
        theirs = _score(champion.uri, frame, label, rule.metric)
        evidence[f"champion v{champion.version} {rule.metric}"] = round(theirs, 5)
        if (
            rule.max_drop_vs_champion is not None
            and sign * (theirs - value) > rule.max_drop_vs_champion
        ):
            problems.append(
                f"{rule.metric} {value:.4f} is more than {rule.max_drop_vs_champion} worse than the "
                f"champion v{champion.version}'s {theirs:.4f} on the same data"
            )
    return _verdict("accuracy", problems, f"{rule.metric} {value:.4f} on {described}", evidence)


def explainability(ctx: Context) -> CheckResult:
    """Step 4: Shapley importance computed; no sensitive attribute among the top drivers."""
    from steward.explain import global_importance

    frame, described, _ = ctx.frame()
    importance = global_importance(
        ctx.version.uri, frame[ctx.features()], max_rows=300, agnostic_rows=100
    )
    top = [str(f) for f in importance["feature"].head(ctx.policy.explainability.top_k)]
    evidence = {
        "data": described,
        "top drivers": top,
        "explainer": (importance.attrs.get("settings") or {}).get("explainer"),
    }
    sensitive = [f for f in top if f in ctx.sensitive()]
    if sensitive and not ctx.policy.explainability.sensitive_allowed:
        return CheckResult(
            check="explainability",
            status="failed",
            summary=f"sensitive attribute(s) {', '.join(sensitive)} among the top {len(top)} drivers",
            evidence=evidence,
        )
    return CheckResult(
        check="explainability",
        status="passed",
        summary=f"top drivers: {', '.join(top)}",
        evidence=evidence,
    )


def governance(ctx: Context) -> CheckResult:
    """Step 5: no flagged feature used, terms of use recorded, the four-fifths rule."""
    from steward.explain import fairness_report

    rule = ctx.policy.governance
    problems: list[str] = []
    evidence: dict[str, Any] = {}
    used = sorted(set(ctx.features()) & set(ctx.sensitive()))
    evidence["sensitive or PII columns used as features"] = used
    if used and rule.block_flagged_features:
        problems.append(f"uses sensitive or PII-flagged column(s) as features: {', '.join(used)}")
    backend = get_backend()
    datasets = [r for r in ctx.version.manifest.datasets if r.context == "training"]
    missing_terms = []
    for ref in datasets:
        meta = backend.get_dataset_version(ref.dataset, ref.version)
        if not meta.terms_of_use:
            missing_terms.append(f"{ref.dataset}@{ref.version}")
    if rule.require_terms and not datasets:
        problems.append("no training dataset recorded, so no terms of use to check")
    if rule.require_terms and missing_terms:
        problems.append(f"no terms of use on {', '.join(missing_terms)}")
    frame, _, labeled = ctx.frame()
    label = ctx.label(frame) if labeled else None
    task = ctx.version.manifest.signature.output.task if ctx.version.manifest.signature else "other"
    groups = [c for c in ctx.sensitive() if c in frame.columns]
    if task == "classification" and label is not None and groups:
        report = fairness_report(
            ctx.version.uri,
            frame,
            target=label,
            sensitive=groups,
            threshold=rule.min_ratio,
        )
        metric = rule.fairness_metric
        ratios = {c: _ratio(f.groups, metric) for c, f in report.columns.items()}
        evidence[f"{metric} ratio (lowest group / highest) per sensitive column"] = ratios
        low = [c for c, r in ratios.items() if r is not None and r < rule.min_ratio]
        if low:
            problems.append(
                f"{metric} ratio below {rule.min_ratio} on "
                + ", ".join(f"{c} ({ratios[c]})" for c in low)
            )
    return _verdict(
        "governance",
        problems,
        f"no blocked feature, terms recorded, {rule.fairness_metric} ratio within bounds",
        evidence,
    )


def _ratio(groups: pd.DataFrame, metric: str) -> float | None:
    """Return the lowest group's rate over the highest's (None when it cannot be told)."""
    if metric not in groups.columns:
        return None
    rates = pd.to_numeric(groups[metric], errors="coerce").dropna()
    if len(rates) < 2 or float(rates.max()) <= 0:
        return None
    return round(float(rates.min() / rates.max()), 3)


def data_quality(ctx: Context) -> CheckResult:
    """Step 6: the held-out data against the signature and the training reference."""
    frame, described, _ = ctx.frame()
    signature = ctx.version.manifest.signature
    if signature is None:
        return CheckResult(
            check="data_quality", status="not applicable", summary="the model records no signature"
        )
    problems: list[str] = []
    evidence: dict[str, Any] = {"data": described}
    missing = [c.name for c in signature.inputs if c.name not in frame.columns]
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}")
    out_of_range = {}
    for spec in signature.inputs:
        if (
            spec.name in frame.columns
            and spec.kind in ("numeric", "integer")
            and spec.min is not None
            and spec.max is not None
        ):
            values = pd.to_numeric(frame[spec.name], errors="coerce")
            share = float(((values < spec.min) | (values > spec.max)).mean())
            if share > OUT_OF_RANGE:
                out_of_range[spec.name] = round(share, 3)
        if spec.name in frame.columns and not spec.nullable and frame[spec.name].isna().any():
            problems.append(f"nulls in {spec.name}, which had none in training")
    if out_of_range:
        evidence["share outside the training range"] = out_of_range
        problems.append(f"values outside the training range in {', '.join(out_of_range)}")
    try:
        from steward.monitor import drift, load_reference

        report = drift(
            load_reference(ctx.version.uri),
            frame[[c for c in frame.columns if c in ctx.features()]],
        )
        evidence["drifted from the training reference"] = report.drifted_features
        if report.drifted_features:
            problems.append(f"drifted from the training data: {', '.join(report.drifted_features)}")
    except StewardError as exc:
        evidence["drift"] = f"not checked: {exc.message}"
    return _verdict(
        "data_quality", problems, "schema, nulls, ranges and distributions as in training", evidence
    )


def _verdict(check: str, problems: list[str], passed: str, evidence: dict[str, Any]) -> CheckResult:
    """Return a check's result: failed with its problems, else passed with ``passed``."""
    if problems:
        return CheckResult(
            check=check, status="failed", summary="; ".join(problems), evidence=evidence
        )
    return CheckResult(check=check, status="passed", summary=passed, evidence=evidence)


def _served(ctx: Context) -> Any:
    """Return an in-process client of the version served from its package (no store record)."""
    from fastapi.testclient import TestClient

    from steward.serve import prepare_server

    if "served" not in ctx._cache:
        folder = download_model(ctx.version.uri)
        # Its prediction log goes to a folder of its own, removed after the gate: the gate's
        # requests must not land in (and be monitored as) a deployment of the same name.
        ctx._cache["log"] = tempfile.mkdtemp(prefix="steward-gate-log-")
        prepared = prepare_server(str(folder), name=ctx.version.model, log_uri=ctx._cache["log"])
        client = TestClient(prepared.app)
        client.__enter__()
        deadline = time.monotonic() + 120
        while client.get("/v2/health/ready").status_code != 200:
            if time.monotonic() > deadline:
                raise StewardError("the served model did not become ready within 120 s")
            time.sleep(0.05)
        ctx._cache["served"] = (client, prepared)
    return ctx._cache["served"]


def resources(ctx: Context) -> CheckResult:
    """Step 7: latency percentiles and memory over a short load run of the served model."""
    import psutil

    rule = ctx.policy.resources
    client, _ = _served(ctx)
    frame, _, _ = ctx.frame()
    rows = frame[ctx.features()].head(50).to_dict(orient="records")
    rows = [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()} for r in rows]
    before = psutil.Process().memory_info().rss
    latencies = []
    for i in range(rule.requests):
        t0 = time.perf_counter()
        response = client.post("/predict", json={"records": [rows[i % len(rows)]]})
        latencies.append((time.perf_counter() - t0) * 1000)
        if response.status_code != 200:
            return CheckResult(
                check="resources",
                status="failed",
                summary=f"request {i} answered {response.status_code}: {response.text[:200]}",
            )
    rss = psutil.Process().memory_info().rss
    p50, p95, p99 = (float(x) for x in np.percentile(latencies, [50, 95, 99]))
    evidence = {
        "requests": rule.requests,
        "p50 ms": round(p50, 2),
        "p95 ms": round(p95, 2),
        "p99 ms": round(p99, 2),
        "memory MB": round(rss / 1024**2, 1),
        "growth MB": round((rss - before) / 1024**2, 1),
    }
    problems = []
    if p99 > rule.p99_ms:
        problems.append(f"p99 latency {p99:.1f} ms over {rule.p99_ms:g} ms")
    if rss / 1024**2 > rule.max_memory_mb:
        problems.append(f"memory {rss / 1024**2:.0f} MB over {rule.max_memory_mb:g} MB")
    return _verdict("resources", problems, f"p99 {p99:.1f} ms, {rss / 1024**2:.0f} MB", evidence)


def integration(ctx: Context) -> CheckResult:
    """Step 8: served, it answers both protocols with the model's own predictions."""
    client, _ = _served(ctx)
    frame, _, _ = ctx.frame()
    rows = frame[ctx.features()].head(5)
    records = [
        {k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()}
        for r in rows.to_dict(orient="records")
    ]
    expected = np.asarray(
        load_model(ctx.version.uri, unseen="ignore", nulls="ignore").predict(rows)
    ).tolist()
    answer = client.post("/predict", json={"records": records})
    problems = []
    if answer.status_code != 200 or answer.json().get("predictions") != expected:
        problems.append(f"/predict answered {answer.status_code}: {answer.text[:200]}")
    tensors = []
    for name in rows.columns:
        values = [r[name] for r in records]
        kind = (
            "BYTES"
            if any(isinstance(x, str) for x in values)
            else ("BOOL" if all(isinstance(x, bool) for x in values) else "FP64")
        )
        tensors.append({"name": name, "shape": [len(values)], "datatype": kind, "data": values})
    v2 = client.post(f"/v2/models/{ctx.version.model}/infer", json={"inputs": tensors})
    predicted = (
        next((o["data"] for o in v2.json().get("outputs", []) if o["name"] == "predict"), None)
        if v2.status_code == 200
        else None
    )
    if predicted != expected:
        problems.append(
            f"/v2/models/{ctx.version.model}/infer answered {v2.status_code}: {v2.text[:200]}"
        )
    ready = client.get("/v2/health/ready").status_code
    evidence = {
        "predict": answer.status_code,
        "v2 infer": v2.status_code,
        "ready": ready,
        "rows": len(records),
    }
    return _verdict(
        "integration", problems, "both protocols answer the model's own predictions", evidence
    )


RUNNERS: dict[str, Callable[[Context], CheckResult]] = {
    "documentation": documentation,
    "reproducibility": reproducibility,
    "accuracy": accuracy,
    "explainability": explainability,
    "governance": governance,
    "data_quality": data_quality,
    "resources": resources,
    "integration": integration,
}
