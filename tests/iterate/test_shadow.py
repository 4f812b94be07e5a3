"""Shadow tests read from real prediction logs: agreement, differences, paired tests, verdicts.

The deployments were served by the real serving app (tests/iterate/conftest.py); every
expected number is computed here from the models and the rows that were sent.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint

from steward.errors import InvalidInput, NotFound
from steward.iterate import analyze_shadow
from steward.serve import traffic_spec
from tests.iterate.conftest import Live


def _rows(live: Live, name: str, only: set[str] | None = None) -> pd.DataFrame:
    sent = live.sent[name]
    frames = [
        f for i, f in zip(sent.request_ids, sent.rows, strict=True) if only is None or i in only
    ]
    return pd.concat(frames)


def test_labeled_shadow_traffic_gets_a_paired_verdict(live: Live) -> None:
    result = analyze_shadow(live.deployment("clf-shadow"))
    [route] = result.routes
    good, poor = live.models["clf/1"], live.models["clf/2"]
    rows = _rows(live, "clf-shadow")
    assert (route.route, route.primary_route) == ("shadow", "primary")
    assert route.primary_versions == [1] and route.shadow_versions == [2]
    assert route.requests == 230 and route.rows == len(rows) == 276  # every tenth sent 3 rows
    assert route.task == "classification" and route.shadow_failed == 0
    same = good.predict(rows) == poor.predict(rows)
    assert route.agreement == pytest.approx(same.mean())
    low, high = proportion_confint(same.sum(), len(same), method="wilson")
    assert (route.agreement_low, route.agreement_high) == (pytest.approx(low), pytest.approx(high))
    diff = poor.predict_proba(rows)[:, 1] - good.predict_proba(rows)[:, 1]
    assert route.differences is not None and route.differences.of == "P(class 1)"
    assert route.differences.quantiles["50%"] == pytest.approx(np.quantile(diff, 0.5))
    assert route.differences.mean_absolute == pytest.approx(np.abs(diff).mean())
    assert sum(route.differences.counts) == 276
    pairs = pd.crosstab(good.predict(rows), poor.predict(rows))
    assert {(p.primary, p.shadow): p.rows for p in route.pairs} == {
        (str(a), str(b)): int(pairs.loc[a, b]) for a in pairs.index for b in pairs.columns
    }
    # performance on the labeled rows only: both versions, the same rows
    labeled = _rows(live, "clf-shadow", set(live.sent["clf-shadow"].labels))
    y = np.array([v for vs in live.sent["clf-shadow"].labels.values() for v in vs])
    right_p, right_s = good.predict(labeled) == y, poor.predict(labeled) == y
    perf = route.performance
    assert perf is not None and perf.labeled_rows == len(y) == 186
    assert (perf.metric, perf.test) == ("accuracy", "McNemar exact")
    assert perf.primary == pytest.approx(right_p.mean())
    assert perf.shadow == pytest.approx(right_s.mean())
    table = pd.crosstab(right_p, right_s).to_numpy()
    assert perf.p_value == pytest.approx(mcnemar(table, exact=True).pvalue)
    assert perf.primary_only_right == int((right_p & ~right_s).sum())
    assert perf.p_value < 0.05 and perf.primary > perf.shadow
    assert route.verdict == "primary better"
    assert route.reasons[0].startswith("The primary does better on the same labeled rows")
    assert result.labels.given == 186 and result.labels.matched == 186
    report = result.to_markdown()
    assert "## shadow against primary: primary better" in report
    assert "McNemar exact" in report and "requests compared: 230 (276 rows)" in report


def test_without_labels_low_agreement_is_sent_to_review(live: Live) -> None:
    [route] = analyze_shadow(live.deployment("clf-unlabeled")).routes
    rows = _rows(live, "clf-unlabeled")
    agreement = (live.models["clf/1"].predict(rows) == live.models["clf/2"].predict(rows)).mean()
    assert route.requests == 210 and agreement < 0.9
    assert route.agreement == pytest.approx(agreement)
    assert route.performance is None
    assert route.verdict == "review"
    assert "no labels settle which is right" in route.reasons[0]
    assert "no performance test is possible" in route.reasons[1]
    assert route.agreement_low is not None and route.agreement_low < agreement
    assert f"{agreement:.1%}" in route.reasons[0]


def test_a_regressor_is_judged_on_its_absolute_errors(live: Live) -> None:
    [route] = analyze_shadow(live.deployment("reg-shadow")).routes
    poor, good = live.models["reg/1"], live.models["reg/2"]
    sent = live.sent["reg-shadow"]
    rows = _rows(live, "reg-shadow")
    assert route.task == "regression" and route.requests == 210
    assert route.agreement_rule == "predictions within 5% of each other"
    diff = good.predict(rows) - poor.predict(rows)
    assert route.differences is not None and route.differences.of == "prediction"
    assert route.differences.quantiles["95%"] == pytest.approx(np.quantile(diff, 0.95))
    assert route.pairs == []  # label pairs are for classifiers
    labeled = _rows(live, "reg-shadow", set(sent.labels))
    y = np.array([v for vs in sent.labels.values() for v in vs])
    err_p, err_s = np.abs(poor.predict(labeled) - y), np.abs(good.predict(labeled) - y)
    perf = route.performance
    assert perf is not None and (perf.metric, perf.test) == ("mae", "Wilcoxon signed-rank")
    assert perf.labeled_rows == len(y) == 189
    assert (perf.primary, perf.shadow) == (pytest.approx(err_p.mean()), pytest.approx(err_s.mean()))
    assert perf.p_value == pytest.approx(stats.wilcoxon(err_p, err_s).pvalue, rel=1e-6)
    assert route.verdict == "shadow better"


def test_too_few_requests_give_no_verdict_and_say_how_many_more(live: Live) -> None:
    [route] = analyze_shadow(live.deployment("clf-shadow"), min_requests=500).routes
    assert route.verdict == "not enough requests" and route.more_requests_needed == 270
    assert route.reasons[0] == "230 requests compared; a verdict needs 500: 270 more."
    assert route.performance is not None  # shown, but it decides nothing yet
    [quiet] = analyze_shadow(live.deployment("quiet-shadow")).routes
    assert (quiet.requests, quiet.verdict, quiet.more_requests_needed) == (
        0,
        "not enough requests",
        200,
    )
    assert quiet.agreement is None and "No request was scored by both" in quiet.reasons[0]


def test_a_deployment_is_named_and_read_over_a_window(on_live: Live) -> None:
    [route] = analyze_shadow("clf-shadow", window_seconds=7 * 86400).routes
    assert route.requests == 230
    [none] = analyze_shadow("clf-shadow", window_seconds=0.001).routes  # nothing that recent
    assert none.requests == 0 and none.verdict == "not enough requests"
    with pytest.raises(NotFound):
        analyze_shadow("no-such-deployment")


def test_bad_inputs_are_refused_with_what_to_do(live: Live) -> None:
    with pytest.raises(InvalidInput, match=r"'bandit' has no shadow route .* --shadow"):
        analyze_shadow(live.deployment("bandit"))
    with pytest.raises(InvalidInput, match="min_requests must be 1 or more; got 0"):
        analyze_shadow(live.deployment("clf-shadow"), min_requests=0)
    with pytest.raises(InvalidInput, match="positive number of seconds; got -5"):
        analyze_shadow(live.deployment("clf-shadow"), window_seconds=-5)


def test_a_shadow_test_that_ended_is_read_from_its_log(live: Live) -> None:
    running = live.deployment("clf-shadow")
    ended = running.model_copy(update={"spec": traffic_spec("models:/clf/1", base=running.spec)})
    assert not [r for r in ended.spec.routes if r.shadow]
    before, after = analyze_shadow(running), analyze_shadow(ended)
    assert [r.route for r in after.routes] == [r.route for r in before.routes] == ["shadow"]
    assert after.routes[0].requests == before.routes[0].requests > 0
    assert after.routes[0].verdict == before.routes[0].verdict
