"""Shadow tests: the served model and each shadow on the same live requests.

A shadow route scores every request after the served (primary) route answered it; both
answers are in the prediction log under the same request id and row. The analysis pairs
them and reports, per shadow route: how many requests both scored, how often they agree
(with a Wilson interval), how their answers differ (the difference of the predictions
for a regressor, of the positive-class probability for a binary classifier, and the
pairs of labels for any classifier), and, on the rows whose ground truth came back
through /feedback (joined as the monitor stage joins it), the performance of both on
the same rows with a paired test: McNemar's exact test on the rows exactly one of them
got right (classification), the Wilcoxon signed-rank test on the absolute errors
(regression). Whether the task is classification or regression is read from the log:
probabilities logged, or predictions that are not all whole numbers (regression).

The verdict waits for ``min_requests`` compared requests; then it is 'shadow better'
or 'primary better' when the paired test says so at alpha 0.05, 'review' when the two
agree on fewer than 90 % of rows and no labels settle it, else 'no clear difference'.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field
from scipy import stats

from steward.errors import InvalidInput
from steward.iterate._servedlog import ServedLog, answered, read_served, resolve
from steward.monitor import LabelCounts, with_labels
from steward.serve import Deployment

Task = Literal["classification", "regression"]
Verdict = Literal[
    "not enough requests", "shadow better", "primary better", "no clear difference", "review"
]
ALPHA = 0.05
MIN_AGREEMENT = 0.9
REGRESSION_TOLERANCE = 0.05  # two regression answers agree within 5 % of each other
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
TOP_PAIRS = 10


class Differences(BaseModel):
    """How the shadow's answers differ from the primary's: shadow minus primary."""

    of: str = Field(description="What was subtracted, e.g. 'prediction' or 'P(churn = 1)'.")
    mean: float
    mean_absolute: float
    quantiles: dict[str, float] = Field(description="'5%', '25%', '50%', '75%', '95%'.")
    edges: list[float] = Field(description="Histogram bin edges (one more than counts).")
    counts: list[int]


class LabelPair(BaseModel):
    """How often the primary answered one label and the shadow another."""

    primary: str
    shadow: str
    rows: int
    share: float


class Performance(BaseModel):
    """Both versions on the same labeled rows, and the paired test between them."""

    metric: Literal["accuracy", "mae"]
    labeled_rows: int
    primary: float
    shadow: float
    difference: float = Field(description="Shadow minus primary.")
    higher_is_better: bool
    test: str
    p_value: float
    primary_only_right: int | None = Field(
        default=None, description="McNemar: rows only the primary got right."
    )
    shadow_only_right: int | None = Field(
        default=None, description="McNemar: rows only the shadow got right."
    )


class ShadowRoute(BaseModel):
    """One shadow route against the primary: agreement, differences, performance, verdict."""

    route: str
    primary_route: str
    primary_versions: list[int]
    shadow_versions: list[int]
    task: Task
    requests: int = Field(description="Requests both scored without error.")
    rows: int = Field(description="Rows both scored (a request may carry several).")
    shadow_failed: int = Field(description="Rows the shadow failed to score.")
    agreement: float | None
    agreement_low: float | None = Field(description="95% Wilson interval of the agreement.")
    agreement_high: float | None
    agreement_rule: str
    differences: Differences | None = None
    pairs: list[LabelPair] = Field(default_factory=list)
    performance: Performance | None = None
    more_requests_needed: int = 0
    verdict: Verdict
    reasons: list[str]


class ShadowAnalysis(BaseModel):
    """A shadow deployment's analysis: each shadow route against the served model."""

    deployment: str
    revision: int
    window_seconds: float | None
    window_start: float | None
    window_end: float
    min_requests: int
    alpha: float = ALPHA
    log_root: str
    labels: LabelCounts
    routes: list[ShadowRoute]
    skipped_segments: list[dict[str, str]] = Field(default_factory=list)

    def to_markdown(self) -> str:
        """Return the analysis as a Markdown report."""
        window = (
            "the whole log"
            if self.window_seconds is None
            else f"the last {_duration(self.window_seconds)}"
        )
        lines = [
            f"# Shadow test of {self.deployment}",
            "",
            f"Over {window} (log: `{self.log_root}`).",
        ]
        for r in self.routes:
            lines += ["", f"## {r.route} against {r.primary_route}: {r.verdict}", ""]
            lines += [" ".join(r.reasons), ""]
            lines += [
                f"- requests compared: {r.requests:,} ({r.rows:,} rows"
                + (f"; the shadow failed on {r.shadow_failed:,}" if r.shadow_failed else "")
                + ")",
                f"- versions: primary {_versions(r.primary_versions)}, "
                f"shadow {_versions(r.shadow_versions)}",
            ]
            if r.agreement is not None:
                lines.append(
                    f"- agreement ({r.agreement_rule}): {r.agreement:.1%} "
                    f"(95% interval {r.agreement_low:.1%} to {r.agreement_high:.1%})"
                )
            if r.differences is not None:
                d = r.differences
                q = ", ".join(f"{k} {v:+.4g}" for k, v in d.quantiles.items())
                lines.append(
                    f"- shadow - primary {d.of}: mean {d.mean:+.4g}, mean absolute "
                    f"{d.mean_absolute:.4g}; quantiles {q}"
                )
            if r.performance is not None:
                p = r.performance
                lines += [
                    "",
                    f"| {p.metric} on {p.labeled_rows:,} labeled rows | primary | shadow "
                    "| difference | test | p |",
                    "|---|---|---|---|---|---|",
                    f"| | {p.primary:.4f} | {p.shadow:.4f} | {p.difference:+.4f} | {p.test} "
                    f"| {p.p_value:.3g} |",
                ]
            if r.pairs:
                lines += ["", "| primary | shadow | rows | share |", "|---|---|---|---|"]
                lines += [
                    f"| {p.primary} | {p.shadow} | {p.rows:,} | {p.share:.1%} |" for p in r.pairs
                ]
        return "\n".join(lines) + "\n"


def analyze_shadow(
    deployment: str | Deployment,
    *,
    window_seconds: float | None = None,
    min_requests: int = 200,
) -> ShadowAnalysis:
    """Return the shadow test of a deployment from its prediction log: each shadow route
    against the served model on the same requests, with a verdict once ``min_requests``
    requests were compared."""
    if min_requests < 1:
        raise InvalidInput(f"min_requests must be 1 or more; got {min_requests}.")
    found = resolve(deployment)
    spec = found.spec
    shadows = [r.name for r in spec.routes if r.shadow]
    log = read_served(found, window_seconds)
    if not shadows:  # a shadow test that ended: the shadow routes its log still holds
        shadows = sorted({str(r) for r in answered(log.predictions, "shadow").get("route", [])})
    if not shadows:
        raise InvalidInput(
            f"Deployment {found.name!r} has no shadow route (its policy is {spec.policy!r}) "
            "and its log holds no shadow predictions: a shadow test compares a shadow route "
            "with the served model on the same requests. Add one: steward deploy traffic "
            f"{found.name} --shadow models:/NAME/VERSION"
        )
    primary_route = spec.serving[0].name
    primary = answered(log.predictions, "primary", primary_route)
    primary = primary[primary["version"].notna()] if len(primary) else primary
    if len(primary):
        labeled, counts = with_labels(primary, log.predictions, log.feedback)
    else:
        labeled, counts = (
            primary.assign(label=None),
            LabelCounts(given=len(log.feedback), matched=0),
        )
    routes = [_route(log, labeled, primary_route, name, min_requests) for name in shadows]
    return ShadowAnalysis(
        deployment=found.name,
        revision=found.revision,
        window_seconds=window_seconds,
        window_start=log.start,
        window_end=log.end,
        min_requests=min_requests,
        log_root=log.root,
        labels=counts,
        routes=routes,
        skipped_segments=log.skipped,
    )


def _route(
    log: ServedLog, primary: pd.DataFrame, primary_route: str, name: str, min_requests: int
) -> ShadowRoute:
    predictions = log.predictions
    shadow = answered(predictions, "shadow", name)
    failed = 0
    if len(predictions) and "role" in predictions.columns:
        mask = (predictions["role"] == "shadow") & (predictions["route"] == name)
        failed = int((mask & (predictions["status"] >= 400)).sum())
    keys = ["request_id", "row"]
    proba = _proba_columns(predictions)
    keep = [*keys, "version", "output.prediction", *proba]
    pairs = (
        primary[[*keep, "label"]].merge(
            shadow[keep].drop_duplicates(keys), on=keys, suffixes=("_p", "_s")
        )
        if len(primary) and len(shadow)
        else pd.DataFrame(columns=[*keys, "label"])
    )
    requests = int(pairs["request_id"].nunique()) if len(pairs) else 0
    task = _task(pairs, proba)
    base = {
        "route": name,
        "primary_route": primary_route,
        "primary_versions": _distinct(pairs, "version_p"),
        "shadow_versions": _distinct(pairs, "version_s"),
        "task": task,
        "requests": requests,
        "rows": len(pairs),
        "shadow_failed": failed,
        "agreement_rule": (
            "the same prediction"
            if task == "classification"
            else f"predictions within {REGRESSION_TOLERANCE:.0%} of each other"
        ),
    }
    if not len(pairs):
        return ShadowRoute(
            **base,
            agreement=None,
            agreement_low=None,
            agreement_high=None,
            more_requests_needed=min_requests,
            verdict="not enough requests",
            reasons=[
                f"No request was scored by both {primary_route!r} and {name!r} in the window "
                f"(log: {log.root}). The verdict needs {min_requests:,} compared requests: "
                "send traffic, or widen the window."
            ],
        )
    p_pred, s_pred = pairs["output.prediction_p"], pairs["output.prediction_s"]
    if task == "classification":
        agree = np.array([_same(a, b) for a, b in zip(p_pred, s_pred, strict=True)])
    else:
        agree = np.isclose(
            s_pred.astype(float), p_pred.astype(float), rtol=REGRESSION_TOLERANCE, atol=1e-9
        )
    agreeing = int(agree.sum())
    interval = stats.binomtest(agreeing, len(agree)).proportion_ci(0.95, method="wilson")
    agreement = agreeing / len(agree)
    performance = _performance(pairs, task)
    needed = max(min_requests - requests, 0)
    verdict, reasons = _verdict(
        name, requests, min_requests, agreement, (interval.low, interval.high), performance
    )
    return ShadowRoute(
        **base,
        agreement=agreement,
        agreement_low=float(interval.low),
        agreement_high=float(interval.high),
        differences=_differences(pairs, task, proba),
        pairs=_pairs(pairs) if task == "classification" else [],
        performance=performance,
        more_requests_needed=needed,
        verdict=verdict,
        reasons=reasons,
    )


def _proba_columns(predictions: pd.DataFrame) -> list[str]:
    return sorted(c for c in predictions.columns if str(c).startswith("output.proba."))


def _task(pairs: pd.DataFrame, proba: list[str]) -> Task:
    for column in proba:
        if f"{column}_p" in pairs and pairs[f"{column}_p"].notna().any():
            return "classification"
    columns = [c for c in ("output.prediction_p", "output.prediction_s") if c in pairs.columns]
    if len(columns) < 2 or pairs.empty:
        return "classification"
    values = pd.concat([pairs[c] for c in columns]).dropna()
    numeric = len(values) > 0 and values.dtype.kind in "fiu"
    if numeric and not np.all(np.mod(values.to_numpy(dtype=float), 1) == 0):
        return "regression"  # numbers that are not all whole: a regressor's
    return "classification"


def _same(a: object, b: object) -> bool:
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return str(a) == str(b)


def _distinct(frame: pd.DataFrame, column: str) -> list[int]:
    if column not in frame.columns:
        return []
    return sorted(int(v) for v in frame[column].dropna().unique())


def _differences(pairs: pd.DataFrame, task: Task, proba: list[str]) -> Differences | None:
    if task == "regression":
        of = "prediction"
        diff = pairs["output.prediction_s"].astype(float) - pairs["output.prediction_p"].astype(
            float
        )
    else:
        both = [c for c in proba if pairs[f"{c}_p"].notna().all() and pairs[f"{c}_s"].notna().all()]
        if len(both) != 2:  # no probabilities, or more than two classes: the label pairs say it
            return None
        positive = both[1]
        of = f"P(class {positive.removeprefix('output.proba.')})"
        diff = pairs[f"{positive}_s"].astype(float) - pairs[f"{positive}_p"].astype(float)
    values = diff.to_numpy(dtype=float)
    counts, edges = np.histogram(values, bins=30)
    return Differences(
        of=of,
        mean=float(values.mean()),
        mean_absolute=float(np.abs(values).mean()),
        quantiles={f"{q:.0%}": float(np.quantile(values, q)) for q in QUANTILES},
        edges=[float(e) for e in edges],
        counts=[int(c) for c in counts],
    )


def _pairs(pairs: pd.DataFrame) -> list[LabelPair]:
    labels = pd.DataFrame(
        {
            "primary": pairs["output.prediction_p"].map(_label_text),
            "shadow": pairs["output.prediction_s"].map(_label_text),
        }
    )
    counted = labels.value_counts().head(TOP_PAIRS).reset_index(name="rows")
    return [
        LabelPair(primary=str(p), shadow=str(s), rows=int(n), share=int(n) / len(pairs))
        for p, s, n in counted.itertuples(index=False)
    ]


def _label_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _performance(pairs: pd.DataFrame, task: Task) -> Performance | None:
    labeled = pairs[pairs["label"].notna()]
    if labeled.empty:
        return None
    truth = labeled["label"].tolist()
    if task == "classification":
        right_p = np.array(
            [_same(a, y) for a, y in zip(labeled["output.prediction_p"], truth, strict=True)]
        )
        right_s = np.array(
            [_same(a, y) for a, y in zip(labeled["output.prediction_s"], truth, strict=True)]
        )
        only_p, only_s = int(np.sum(right_p & ~right_s)), int(np.sum(right_s & ~right_p))
        p_value = (
            float(stats.binomtest(only_s, only_p + only_s, 0.5).pvalue) if only_p + only_s else 1.0
        )
        a, b = float(right_p.mean()), float(right_s.mean())
        return Performance(
            metric="accuracy",
            labeled_rows=len(labeled),
            primary=a,
            shadow=b,
            difference=b - a,
            higher_is_better=True,
            test="McNemar exact",
            p_value=p_value,
            primary_only_right=only_p,
            shadow_only_right=only_s,
        )
    y = np.asarray(truth, dtype=float)
    err_p = np.abs(labeled["output.prediction_p"].to_numpy(dtype=float) - y)
    err_s = np.abs(labeled["output.prediction_s"].to_numpy(dtype=float) - y)
    return Performance(
        metric="mae",
        labeled_rows=len(labeled),
        primary=float(err_p.mean()),
        shadow=float(err_s.mean()),
        difference=float(err_s.mean() - err_p.mean()),
        higher_is_better=False,
        test="Wilcoxon signed-rank",
        p_value=_wilcoxon(err_p - err_s),
    )


def _wilcoxon(diff: np.ndarray) -> float:
    """Return the two-sided p-value of the signed-rank test of paired differences."""
    nonzero = diff[diff != 0]
    if len(nonzero) == 0:
        return 1.0
    ties = len(np.unique(np.abs(nonzero))) < len(nonzero)
    method = "exact" if len(nonzero) <= 50 and not ties else "approx"
    return float(stats.wilcoxon(nonzero, method=method).pvalue)


def _verdict(
    name: str,
    requests: int,
    min_requests: int,
    agreement: float,
    interval: tuple[float, float],
    performance: Performance | None,
) -> tuple[Verdict, list[str]]:
    agreed = (
        f"They agree on {agreement:.1%} of rows (95% interval {interval[0]:.1%} to "
        f"{interval[1]:.1%})."
    )
    if performance is None:
        tested = (
            "No labels arrived for the compared requests, so no performance test is possible; "
            "send ground truth to /feedback to compare their accuracy."
        )
    else:
        p = performance
        tested = (
            f"On {p.labeled_rows:,} labeled rows, {p.metric} is {p.shadow:.4g} for {name!r} "
            f"against {p.primary:.4g} for the primary ({p.difference:+.4g}; {p.test}, "
            f"p = {p.p_value:.3g})."
        )
    if requests < min_requests:
        more = min_requests - requests
        return "not enough requests", [
            f"{requests:,} requests compared; a verdict needs {min_requests:,}: {more:,} more.",
            agreed,
            tested,
        ]
    if performance is not None and performance.p_value < ALPHA:
        sign = 1 if performance.higher_is_better else -1
        better: Verdict = "shadow better" if sign * performance.difference > 0 else "primary better"
        winner = "shadow" if better == "shadow better" else "primary"
        return better, [
            f"The {winner} does better on the same labeled rows (significant at {ALPHA:g}).",
            tested,
            agreed,
        ]
    if agreement < MIN_AGREEMENT:
        settle = (
            "no labels settle which is right"
            if performance is None
            else "the labels do not show either to be better"
        )
        return "review", [
            f"They agree on only {agreement:.1%} of rows (95% interval {interval[0]:.1%} to "
            f"{interval[1]:.1%}; below {MIN_AGREEMENT:.0%}) and {settle}: a person should look "
            "before the shadow is promoted.",
            tested,
        ]
    if performance is None:
        return "no clear difference", [
            agreed.removesuffix(".") + "; without labels there is no evidence either does better.",
            tested,
        ]
    return "no clear difference", [
        f"The paired test finds no significant difference at {ALPHA:g}.",
        tested,
        agreed,
    ]


def _versions(versions: list[int]) -> str:
    return ", ".join(f"v{v}" for v in versions) or "none"


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and math.isclose(seconds % size, 0, abs_tol=1e-9):
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"
