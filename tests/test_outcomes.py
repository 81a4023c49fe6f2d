"""Outcome arithmetic: hand-computed examples for every formula, and properties on random data."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metricbridge import counts_from_arrays, curve_from_counts
from metricbridge.outcomes import outcomes_at_rates, outcomes_for_curve
from metricbridge.scenario import ItemValue, Scenario, StatusQuo
from tests.conftest import predictions

# 10 positives (8 scored 0.9) and 20 negatives (1 scored 0.9): at t = 0.5, TPR = 0.8 and FPR = 0.05.
Y = np.r_[np.ones(10, dtype=int), np.zeros(20, dtype=int)]
S = np.r_[np.full(8, 0.9), np.full(2, 0.1), np.full(1, 0.9), np.full(19, 0.1)]
AMOUNT = np.r_[np.full(8, 200.0), np.full(2, 50.0), np.full(1, 10.0), np.full(19, 30.0)]


def _scenario(**changes) -> Scenario:
    base = dict(volume=1000, prevalence=0.1, minutes_per_action=6, cost_per_hour=40, capacity=None,
                value={"caught": ItemValue(constant=100), "missed": ItemValue(constant=-50),
                       "false_alarm": ItemValue(constant=-5), "left_alone": ItemValue(constant=0)})
    return Scenario(**(base | changes))


def _curve(sums=None):
    return curve_from_counts(counts_from_arrays(Y, S, sums=sums))


def test_every_formula_on_a_hand_computed_example():
    point = outcomes_for_curve(_curve(), _scenario()).at(0.5)
    # caught 1000*.1*.8, missed 1000*.1*.2, false alarms 1000*.9*.05, left alone 1000*.9*.95
    assert point["caught"] == pytest.approx(80) and point["missed"] == pytest.approx(20)
    assert point["false_alarms"] == pytest.approx(45) and point["left_alone"] == pytest.approx(855)
    assert point["actions"] == pytest.approx(125) and point["hours"] == pytest.approx(12.5)
    # value 80*100 - 20*50 - 45*5 - 125 actions * (6/60*40 = 4) = 8000 - 1000 - 225 - 500
    assert point["value"] == pytest.approx(6275)
    # errors: 20 * (100 - 4 + 50) + 45 * (0 + 5 + 4)
    assert point["cost_of_errors"] == pytest.approx(20 * 146 + 45 * 9)
    assert point["period"] == "day"


def test_the_evaluation_prevalence_is_the_default():
    point = outcomes_for_curve(_curve(), _scenario(prevalence=None)).at(0.5)
    assert point["caught"] + point["missed"] == pytest.approx(1000 * 10 / 30)


def test_precision_at_deployment_differs_from_the_test_set():
    outcomes = outcomes_for_curve(_curve(), _scenario())
    index = outcomes.index_at(0.5)
    assert outcomes.precision[index] == pytest.approx(80 / 125)
    assert _curve().precision[_curve().index_at(0.5)] == pytest.approx(8 / 9)


def test_a_rates_status_quo_with_effort_on_every_item():
    entry = StatusQuo(name="Review everything", recall=0.9, false_alarm_rate=0.02, effort_share=1.0,
                      minutes_per_action=3)
    point = outcomes_at_rates(entry, _scenario(), reference=_curve()).point(0)
    assert point["caught"] == pytest.approx(90) and point["false_alarms"] == pytest.approx(18)
    assert point["actions"] == pytest.approx(108) and point["hours"] == pytest.approx(50)  # 1000 items x 3 min
    # 90*100 - 10*50 - 18*5 - 1000 * (3/60*40 = 2)
    assert point["value"] == pytest.approx(9000 - 500 - 90 - 2000)
    # effort spent on every item is nobody's error: 10*(100 + 50) + 18*(0 + 5)
    assert point["cost_of_errors"] == pytest.approx(1500 + 90)


def test_column_values_are_means_over_the_items_in_each_outcome():
    scenario = _scenario(minutes_per_action=0, value={
        "caught": ItemValue(column="amount", times=0.9), "missed": ItemValue(constant=0),
        "false_alarm": ItemValue(column="amount", times=-1), "left_alone": ItemValue(constant=0)})
    point = outcomes_for_curve(_curve({"amount": AMOUNT}), scenario).at(0.5)
    # caught items average 200, the false alarm 10: 80 * 180 - 45 * 10
    assert point["value"] == pytest.approx(80 * 0.9 * 200 - 45 * 10)
    # a missed item would have been worth 0.9 x 50 (the missed ones' mean), a false alarm costs 10
    assert point["cost_of_errors"] == pytest.approx(20 * 0.9 * 50 + 45 * 10)
    stated = outcomes_at_rates(StatusQuo(name="r", recall=0.8, false_alarm_rate=0.05), scenario,
                               reference=_curve({"amount": AMOUNT})).point(0)
    # stated rates know no items: the means over all positives (170) and all negatives (29)
    assert stated["value"] == pytest.approx(80 * 0.9 * 170 - 45 * 29)


def test_capacity_makes_thresholds_infeasible_and_the_best_fits():
    outcomes = outcomes_for_curve(_curve(), _scenario(capacity=100))
    assert not outcomes.feasible[outcomes.index_at(0.5)]  # 125 actions > 100
    assert outcomes.thresholds[outcomes.best_index] == np.inf  # only flagging nothing fits
    free = outcomes_for_curve(_curve(), _scenario())
    # flag all is worth 100*100 - 900*5 - 1000*4 = 1500 and flag nothing -5000: 0.9 (6275) is best
    assert free.thresholds[free.best_index] == 0.9 and free.value[free.best_index] == pytest.approx(6275)


def test_actions_exactly_at_capacity_fit_and_one_more_does_not():
    at_half = outcomes_for_curve(_curve(), _scenario(capacity=125)).index_at(0.5)  # 125 actions at 0.5
    assert outcomes_for_curve(_curve(), _scenario(capacity=125)).feasible[at_half]
    assert not outcomes_for_curve(_curve(), _scenario(capacity=124.99)).feasible[at_half]
    assert outcomes_for_curve(_curve(), _scenario(capacity=125)).thresholds[at_half] == 0.9


def test_ties_in_value_go_to_fewer_actions():
    scenario = _scenario(minutes_per_action=0, value={"caught": ItemValue(constant=0)})
    outcomes = outcomes_for_curve(_curve(), scenario)  # every threshold is worth 0
    assert outcomes.best_index == 0


@given(predictions(), st.floats(1, 1e6), st.floats(0.001, 0.999))
@settings(max_examples=60, deadline=None)
def test_caught_plus_missed_is_the_positives_and_flag_nothing_is_doing_nothing(data, volume, prevalence):
    y, s, w = data
    curve = curve_from_counts(counts_from_arrays(y, s, sample_weight=w))
    scenario = _scenario(volume=volume, prevalence=prevalence)
    outcomes = outcomes_for_curve(curve, scenario)
    np.testing.assert_allclose(outcomes.caught + outcomes.missed, volume * prevalence, rtol=1e-9)
    np.testing.assert_allclose(outcomes.actions, outcomes.caught + outcomes.false_alarms, rtol=1e-12)
    nothing = outcomes_at_rates(StatusQuo(name="n", recall=0, false_alarm_rate=0), scenario, reference=curve)
    above_every_score = outcomes.at(float(s.max()) + 1)
    for key, value in nothing.point(0).items():
        assert above_every_score[key] == (value if key == "period" else pytest.approx(value, abs=1e-9))


@given(predictions(min_size=5), st.floats(0.05, 0.95))
@settings(max_examples=60, deadline=None)
def test_a_status_quo_of_the_models_own_decisions_equals_the_model(data, threshold):
    y, s, w = data
    amount = np.random.default_rng(len(y)).exponential(100, len(y))
    scenario = _scenario(value={"caught": ItemValue(column="amount", times=0.5), "missed": ItemValue(constant=-3),
                                "false_alarm": ItemValue(column="amount", times=-0.1),
                                "left_alone": ItemValue(constant=1)})
    model = curve_from_counts(counts_from_arrays(y, s, sample_weight=w, sums={"amount": amount}))
    decisions = curve_from_counts(counts_from_arrays(y, (s >= threshold).astype(float), sample_weight=w,
                                                     sums={"amount": amount}))
    own = outcomes_at_rates(StatusQuo(name="own", column="decision"), scenario, reference=model,
                            decisions=decisions).point(0)
    expected = outcomes_for_curve(model, scenario).at(threshold)
    for key in expected:
        assert own[key] == (expected[key] if key == "period" else pytest.approx(expected[key], rel=1e-9, abs=1e-9))
