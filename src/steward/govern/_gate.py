"""The validation gate: the eight steps of a mission-critical model's CI/CD pipeline.

``steward validate models:/churn/3`` runs, for one version, each check its project's
policy requires; every check passes, fails or is not applicable, and keeps its evidence:

1. documentation: the model card is attached, its owner-written sections exist, and the
   sign-offs the policy asks for are given (and no valid rejection stands);
2. reproducibility: the training run is re-created from its recorded code, data and
   seed (`steward reproduce`) and gives the same metrics;
3. accuracy: the version and the current champion scored on the same held-out dataset
   version, against the policy's floor and the allowed drop;
4. explainability: Shapley importance computed; no sensitive attribute among the top
   drivers unless the policy allows it;
5. governance: no PII-flagged or declared-sensitive column used as a feature, terms of
   use recorded on the training data, the four-fifths rule on each sensitive column;
6. data quality: the evaluation data against the signature (schema, nulls, ranges) and
   against the training reference (drift);
7. resources: latency percentiles and memory over a short load run of the served model;
8. integration: the model served in-process answers Steward's JSON and the Open
   Inference Protocol v2 with the model's own predictions.

The result is stored with the version (JSON and an HTML report), tagged
``validation=passed|failed``, and is what the deployment gate reads. CI systems use the
command's exit code.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from steward.context import get_backend
from steward.errors import StewardError
from steward.govern import _checks
from steward.govern._gate_report import CheckResult, GateReport
from steward.govern._policy import CHECKS, Check, Policy
from steward.govern._records import ValidationSpec
from steward.registry import ModelVersion, get_model_version
from steward.report import html_page


def validate(
    model_uri: str,
    *,
    data: Any = None,
    target: str | None = None,
    policy: Policy | None = None,
    checks: list[Check] | None = None,
    progress: Callable[[str], None] | None = None,
    store: bool = True,
) -> GateReport:
    """Return the validation gate's verdict on a version (stored with it unless ``store=False``).

    ``data`` is the held-out data (a DataFrame, a dataset name or file; default: the
    policy's dataset, else the version's evaluation dataset); ``checks`` limits the steps
    run (default: every step, each marked required or not by the policy).
    """
    say = progress or (lambda _m: None)
    started = time.time()
    version = get_model_version(model_uri)
    project = project_of(version)
    policy = policy or get_backend().get_policy(project)
    required = set(policy.checks or [])
    context = _checks.Context(version=version, policy=policy, data=data, target=target, say=say)
    if data is not None or target is not None or policy.accuracy.dataset is not None:
        # Data the caller (or the policy) names must exist: a typo is the caller's error to
        # fix, not a failed validation recorded against the version.
        frame, _, _ = context.frame()
        if target is not None:
            context.label(frame)
    try:
        results = [_run_check(context, name, name in required) for name in checks or CHECKS]
    finally:
        context.close()
    passed = all(r.status != "failed" for r in results if r.required)
    report = GateReport(
        model=version.model,
        version=version.version,
        project=project,
        risk=policy.risk,
        passed=passed,
        checks=results,
        seconds=round(time.time() - started, 3),
    )
    if store:
        _store(version, report)
    return report


def _run_check(context: _checks.Context, name: Check, required: bool) -> CheckResult:
    context.say(f"Check {CHECKS.index(name) + 1}/8: {name}")
    t0 = time.perf_counter()
    try:
        result = _checks.RUNNERS[name](context)
    except StewardError as exc:
        result = CheckResult(check=name, status="failed", summary=exc.message)
    except Exception as exc:  # a check that breaks fails, with the reason as evidence
        result = CheckResult(check=name, status="failed", summary=f"{type(exc).__name__}: {exc}")
    result.seconds = round(time.perf_counter() - t0, 3)
    result.required = required
    return result


def project_of(version: ModelVersion) -> str:
    """Return the project of the run that trained a version ('default' without one)."""
    if version.run_id:
        try:
            return get_backend().get_run(version.run_id).project
        except StewardError:
            return "default"
    return "default"


def _store(version: ModelVersion, report: GateReport) -> None:
    backend = get_backend()
    markdown = report.to_markdown()
    html_sha, _ = backend.blobs.put_bytes(
        html_page(markdown, f"Validation: {version.model} v{version.version}").encode()
    )
    json_sha, _ = backend.blobs.put_bytes(report.model_dump_json(indent=2).encode())
    stored = backend.record_validation(
        version.model,
        version.version,
        ValidationSpec(
            passed=report.passed,
            checks={c.check: c.status for c in report.checks},
            summary={c.check: c.summary for c in report.checks},
            report_sha256=html_sha,
            result_sha256=json_sha,
            manifest_sha256=version.manifest_sha256,
        ),
    )
    report.validation_id = stored.id
    backend.set_model_tag(
        version.model, "validation", "passed" if report.passed else "failed", version.version
    )


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 300 else text[:297] + "..."
