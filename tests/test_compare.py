"""Status-quo comparison, break-even and sensitivity, checked by hand and against brute force."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from metricbridge import counts_from_arrays, curve_from_counts
from metricbridge.compare import break_even, error_costs, match_caught, match_workload
from metricbridge.outcomes import outcomes_at_rates, outcomes_for_curve
from metricbridge.scenario import ItemValue, Scenario, StatusQuo
from metricbridge.sensitivity import capacity_value, cost_ratio_range, tornado
from tests.conftest import predictions

SCENARIO = Scenario(volume=1000, prevalence=0.1, minutes_per_action=6, cost_per_hour=40,
                    value={"caught": ItemValue(constant=100), "missed": ItemValue(constant=-50),
                           "false_alarm": ItemValue(constant=-5), "left_alone": ItemValue(constant=0)})


def _curve(seed: int = 0, n: int = 4000):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.1).astype(int)
    return curve_from_counts(counts_from_arrays(y, np.clip(rng.normal(0.3 + 0.35 * y, 0.15), 0, 1).round(3)))


def test_error_costs_are_the_cost_of_errors_weights():
    assert error_costs(SCENARIO) == (100 - 4 + 50, 0 + 5 + 4)


@given(predictions(min_size=20))
@settings(max_examples=40, deadline=None)
def test_matching_views_agree_with_brute_force(data):
    y, s, w = data
    outcomes = outcomes_for_curve(curve_from_counts(counts_from_arrays(y, s, sample_weight=w)), SCENARIO)
    target = float(outcomes.caught[len(outcomes.caught) // 2])
    match = match_caught(outcomes, target)
    ok = outcomes.caught >= target * (1 - 1e-12)
    assert outcomes.caught[match.index] >= target * (1 - 1e-12)
    assert outcomes.actions[match.index] == pytest.approx(outcomes.actions[ok].min())
    budget = float(outcomes.actions[len(outcomes.actions) // 3])
    workload = match_workload(outcomes, budget)
    fits = outcomes.actions <= budget * (1 + 1e-12)
    assert outcomes.caught[workload.index] == pytest.approx(outcomes.caught[fits].max())


def test_a_status_quo_out_of_reach_has_no_match():
    outcomes = outcomes_for_curve(_curve(), SCENARIO)
    assert match_caught(outcomes, outcomes.caught.max() * 2).threshold is None


def test_break_even_points_are_worth_exactly_the_status_quo():
    rule = StatusQuo(name="rule", recall=0.5, false_alarm_rate=0.05)
    target = outcomes_at_rates(rule, SCENARIO, reference=_curve()).point(0)["value"]
    bar = break_even(SCENARIO, prevalence=0.1, value=target)
    for recall, precision in bar.dropna().to_numpy()[5::20]:
        caught = 1000 * 0.1 * recall
        false_alarms = caught * (1 - precision) / precision
        fpr = false_alarms / 900
        value = outcomes_at_rates(StatusQuo(name="p", recall=recall, false_alarm_rate=fpr), SCENARIO,
                                  reference=_curve()).point(0)["value"]
        assert value == pytest.approx(target, rel=1e-9, abs=1e-6)
    # at the rule's own recall the bar is the rule's own precision at deployment: 50 / (50 + 45)
    at_half = bar.loc[np.isclose(bar["recall"], 0.5), "precision"].item()
    assert at_half == pytest.approx(50 / 95)
    assert np.isnan(bar["precision"].iloc[0])  # catching nothing never matches a rule worth more


def test_tornado_moves_each_input_and_ranks_by_swing():
    frame = tornado(_curve(), SCENARIO)
    assert set(frame["input"]) == {"volume", "prevalence", "minutes_per_action", "cost_per_hour",
                                   "value.caught", "value.missed", "value.false_alarm"}
    assert list(frame["swing"].abs()) == sorted(frame["swing"].abs(), reverse=True)
    volume = frame.set_index("input").loc["volume"]
    # value scales with volume, and the best threshold does not move
    assert volume["low_value"] == pytest.approx(0.5 * volume["base_value"])
    assert volume["high_value"] == pytest.approx(1.5 * volume["base_value"])
    assert volume["low_threshold"] == volume["high_threshold"] == volume["base_threshold"]


def test_the_chosen_threshold_stays_best_exactly_inside_its_cost_ratio_range():
    curve = _curve()
    outcomes = outcomes_for_curve(curve, SCENARIO)
    best = outcomes.best_index
    band = cost_ratio_range(curve, SCENARIO, index=best)
    assert band.low <= band.ratio <= band.high
    miss_cost = error_costs(SCENARIO)[0]
    for ratio, stays in ((band.low * 0.98, False), ((band.low + band.high) / 2, True), (band.high * 1.02, False)):
        alarm = ratio * miss_cost - 4  # false_alarm worth giving that ratio: c_fa = 0 - v + 4
        moved = SCENARIO.with_changes(value={"caught": 100, "missed": -50, "false_alarm": -alarm, "left_alone": 0})
        assert (outcomes_for_curve(curve, moved).best_index == best) == stays


def test_capacity_value_only_when_capacity_binds():
    curve = _curve()
    assert capacity_value(curve, SCENARIO) is None
    free_best = outcomes_for_curve(curve, SCENARIO)
    tight = SCENARIO.with_changes(capacity=float(free_best.actions[free_best.best_index]) / 3)
    worth = capacity_value(curve, tight)

    def best_within(capacity):  # brute force: the best value among thresholds whose actions fit
        fits = free_best.actions <= capacity * (1 + 1e-12)
        return free_best.value[fits].max()

    extra = tight.capacity * 0.1
    assert worth == pytest.approx((best_within(tight.capacity + extra) - best_within(tight.capacity)) / extra)
    assert worth > 0
    loose = SCENARIO.with_changes(capacity=float(free_best.actions[free_best.best_index]) * 3)
    assert capacity_value(curve, loose) is None
