"""Business KPIs over logged rows: expressions, filters, a baseline rule, objectives."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from steward.errors import InvalidInput
from steward.monitor import KPI
from steward.monitor._kpi import evaluate, kpi_frame


@pytest.fixture
def rows() -> pd.DataFrame:
    joined = pd.DataFrame(
        {
            "input.bmi": [35.0, 22.0, 31.0, 28.0, 40.0, 20.0],
            "output.prediction": [1, 0, 0, 1, 1, 0],
            "output.proba.1": [0.9, 0.2, 0.4, 0.7, 0.8, 0.1],
            "label": [1, 0, 1, 0, 1, None],
        }
    )
    return kpi_frame(joined)


def test_a_filtered_kpi_is_the_share_of_positives_missed(rows: pd.DataFrame) -> None:
    spec = KPI(name="missed", expression="prediction == 0", where="label == 1", baseline="bmi > 30")
    result = evaluate(spec, rows, objective=SimpleNamespace(direction="minimize", target=0.25))
    assert result.rows == 3 and result.value == pytest.approx(1 / 3)  # one of 3 positives missed
    assert result.baseline == 0.0  # the rule "bmi > 30" flags all three positives
    assert result.met is False and result.beats_baseline is False
    assert result.direction == "minimize" and result.target == 0.25


def test_a_kpi_without_labels_counts_every_row(rows: pd.DataFrame) -> None:
    result = evaluate(KPI(name="flagged", expression="prediction == 1", needs_labels=False), rows)
    assert result.rows == 6 and result.value == pytest.approx(0.5)


def test_bad_expressions_say_which_columns_exist(rows: pd.DataFrame) -> None:
    with pytest.raises(InvalidInput, match="may use these columns: bmi, prediction, proba_1"):
        evaluate(KPI(name="x", expression="revenue * 2"), rows)
    with pytest.raises(InvalidInput, match="must give true or false per row"):
        evaluate(KPI(name="x", expression="prediction", where="bmi"), rows)
