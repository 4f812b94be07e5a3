"""The project's thresholds turned into alerts: drift, performance, estimates, health, KPIs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from steward.monitor._records import AlertSpec, MonitorConfig

if TYPE_CHECKING:
    from steward.monitor._run import MonitorResult


def judge(result: MonitorResult, config: MonitorConfig) -> list[AlertSpec]:
    """Return the alerts a monitoring result raises under the project's thresholds."""
    alerts: list[AlertSpec] = []
    rules = config.drift
    for v in result.versions:
        if v.features_checked:
            share = len(v.drifted) / v.features_checked
            if v.drifted and share >= rules.feature_share:
                alerts.append(
                    AlertSpec(
                        rule="drift.features",
                        severity="critical",
                        metric=f"{v.label}: share of features drifted",
                        value=share,
                        threshold=rules.feature_share,
                        message=f"{v.label}: {len(v.drifted)} of {v.features_checked} features "
                        f"drifted ({', '.join(v.drifted[:5])}{'...' if len(v.drifted) > 5 else ''}).",
                    )
                )
            watched = [f for f in rules.features if f in v.drifted]
            if watched:
                alerts.append(
                    AlertSpec(
                        rule="drift.watched_feature",
                        severity="critical",
                        metric=f"{v.label}: {', '.join(watched)}",
                        message=f"{v.label}: watched feature(s) drifted: {', '.join(watched)}.",
                    )
                )
        if rules.prediction and v.prediction_drifted:
            alerts.append(
                AlertSpec(
                    rule="drift.prediction",
                    metric=f"{v.label}: predictions",
                    message=f"{v.label}: the distribution of its predictions drifted.",
                )
            )
        if v.domain_auc is not None and v.domain_auc >= rules.domain_auc:
            alerts.append(
                AlertSpec(
                    rule="drift.domain_classifier",
                    metric=f"{v.label}: domain classifier AUC",
                    value=v.domain_auc,
                    threshold=rules.domain_auc,
                    message=f"{v.label}: a classifier tells this window from the training data "
                    f"apart with ROC AUC {v.domain_auc:.2f} (threshold {rules.domain_auc:.2f}).",
                )
            )
        alerts += _performance(
            v.label,
            "performance",
            v.performance_value,
            v.performance_reference,
            v.performance_labels,
            config.performance,
        )
        alerts += _performance(
            v.label, "estimate", v.estimate_value, v.estimate_reference, None, config.estimate
        )
    h, hr = result.health, config.health
    if hr.p99_ms is not None and h.p99_ms is not None and h.p99_ms > hr.p99_ms:
        alerts.append(
            AlertSpec(
                rule="health.latency",
                metric="p99 latency (ms)",
                value=h.p99_ms,
                threshold=hr.p99_ms,
                message=f"p99 latency {h.p99_ms:.1f} ms is over {hr.p99_ms:g} ms.",
            )
        )
    total = h.requests + h.errors
    if hr.error_rate is not None and total >= 20 and h.error_rate > hr.error_rate:
        alerts.append(
            AlertSpec(
                rule="health.errors",
                metric="error rate",
                value=h.error_rate,
                threshold=hr.error_rate,
                message=f"{h.error_rate:.1%} of {total} requests failed (threshold {hr.error_rate:.1%}).",
            )
        )
    if hr.memory_mb is not None and h.memory_mb is not None and h.memory_mb > hr.memory_mb:
        alerts.append(
            AlertSpec(
                rule="health.memory",
                metric="memory (MB)",
                value=h.memory_mb,
                threshold=hr.memory_mb,
                message=f"The server used {h.memory_mb:.0f} MB, over {hr.memory_mb:g} MB.",
            )
        )
    for k in result.kpis:
        if k.met is False:
            alerts.append(
                AlertSpec(
                    rule="kpi.target",
                    metric=f"KPI {k.name}",
                    value=k.value,
                    threshold=k.target,
                    message=f"KPI {k.name} = {k.value:.4g} misses its target {k.target:g} "
                    f"({k.direction}).",
                )
            )
    return alerts


def _performance(
    label: str,
    kind: str,
    value: float | None,
    reference: float | None,
    labelled: int | None,
    rules: object,
) -> list[AlertSpec]:
    from steward.monitor._records import PerformanceRules

    assert isinstance(rules, PerformanceRules)
    if value is None or (labelled is not None and labelled < rules.min_labels):
        return []
    name = f"{label}: {'estimated ' if kind == 'estimate' else ''}{rules.metric}"
    found = []
    if rules.min is not None and value < rules.min:
        found.append(
            AlertSpec(
                rule=f"{kind}.min",
                severity="critical",
                metric=name,
                value=value,
                threshold=rules.min,
                message=f"{name} is {value:.3f}, below {rules.min:g}.",
            )
        )
    if rules.max is not None and value > rules.max:
        found.append(
            AlertSpec(
                rule=f"{kind}.max",
                severity="critical",
                metric=name,
                value=value,
                threshold=rules.max,
                message=f"{name} is {value:.3f}, above {rules.max:g}.",
            )
        )
    if rules.max_drop is not None and reference is not None and reference - value > rules.max_drop:
        found.append(
            AlertSpec(
                rule=f"{kind}.drop",
                severity="critical",
                metric=name,
                value=value,
                threshold=reference - rules.max_drop,
                message=f"{name} fell to {value:.3f} from {reference:.3f} "
                f"(more than {rules.max_drop:g}).",
            )
        )
    return found
