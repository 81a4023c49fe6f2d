"""The feasibility map: each grid point judged like a model with that recall and precision."""

from __future__ import annotations

import numpy as np
import pytest

from metricbridge.criteria import load_criteria
from metricbridge.feasibility import feasibility_grid, operating_point
from metricbridge.outcomes import outcomes_at_rates
from metricbridge.scenario import ItemValue, Scenario, StatusQuo


def test_operating_point_precision_follows_the_prevalence():
    assert operating_point(0.8, 0.05, 0.1) == pytest.approx((0.8, 0.08 / (0.08 + 0.045)))


def test_grid_points_meet_criteria_exactly_where_a_model_there_would():
    scenario = Scenario(volume=1000, prevalence=0.1, capacity=None, minutes_per_action=6, cost_per_hour=40,
                        value={"caught": ItemValue(constant=100), "false_alarm": ItemValue(constant=-5)})
    criteria = load_criteria("c.yaml", text="name: x\nversion: 1\ncriteria:\n  - {metric: recall, at_least: 0.5}\n"
                             "  - {metric: actions, at_most: 150}\n  - {metric: value, at_least: 3000}\n"
                             "  - {metric: roc_auc, at_least: 0.9}\n")
    grid = feasibility_grid(criteria, scenario, prevalence=0.1, points=21)
    assert (grid["judged"] == 3).all()  # AUC says nothing about one operating point
    for row in grid.sample(60, random_state=0).itertuples():
        fpr = 0.1 * row.recall * (1 - row.precision) / (row.precision * 0.9)
        if fpr > 1:
            assert not row.possible and not row.all
            continue
        point = outcomes_at_rates(StatusQuo(name="p", recall=row.recall, false_alarm_rate=fpr), scenario,
                                  reference=_reference()).point(0)
        expected = (row.recall >= 0.5) + (point["actions"] <= 150) + (point["value"] >= 3000)
        assert row.met == expected
        assert row.all == (expected == 3)
    assert grid["all"].any() and not grid["all"].all()


def _reference():
    from metricbridge import counts_from_arrays, curve_from_counts

    return curve_from_counts(counts_from_arrays(np.r_[0, 1], np.r_[0.1, 0.9]))
