"""Outcomes: a curve (or a status quo's operating point) mapped through a scenario, per period.

With TPR and FPR from the evaluation data, V the volume and pi the prevalence, per period:
caught = V pi TPR, missed = V pi (1 - TPR), false_alarms = V (1 - pi) FPR, left_alone = V (1 - pi) (1 - FPR),
actions = caught + false_alarms, hours = effort_items x minutes / 60, value = sum of count x item value -
effort_items x effort cost, cost_of_errors = what the misses and false alarms cost against the right call.
Everything is vectorized over thresholds, so a scenario edit recomputes a 10,000-point curve in microseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from metricbridge.curve import ThresholdCurve
from metricbridge.scenario import Scenario, StatusQuo

__all__ = [
    "OUTCOME_KEYS", "Outcomes", "ItemValues", "item_values", "outcomes_for_curve", "outcomes_at_rates", "value_parts",
]

OUTCOME_KEYS = ("caught", "missed", "false_alarms", "left_alone", "actions", "hours", "value", "cost_of_errors")
_TIE = 1e-9  # values this close are a tie (then fewer actions win)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class ItemValues:
    """The worth of one item in each outcome (arrays over thresholds), and of the items that are errors.

    ``forgone`` is what a missed item would have been worth caught (mean over the missed items);
    ``spared`` is what a false alarm would have been worth left alone (mean over the false alarms).
    """

    caught: np.ndarray
    missed: np.ndarray
    false_alarm: np.ndarray
    left_alone: np.ndarray
    forgone: np.ndarray
    spared: np.ndarray


def _mean(total: np.ndarray, count: np.ndarray) -> np.ndarray:
    out = np.zeros(np.shape(total))
    np.divide(total, count, out=out, where=np.asarray(count) > 0)
    return out


def item_values(scenario: Scenario, curve: ThresholdCurve) -> ItemValues:
    """Item values at every threshold; a column value is the weighted mean of the column over the
    evaluation items in that outcome at that threshold (a missed 5,000 USD fraud is not a missed 5 USD one)."""
    shape = curve.thresholds.shape

    def per_outcome(outcome: str, *, over: str) -> np.ndarray:
        spec = scenario.item_value(outcome)
        if spec.column is None:
            return np.full(shape, spec.constant)
        if spec.column not in curve.value_totals:
            raise KeyError(f"the curve carries no sums of column {spec.column!r}; count with sums=[...]")
        tp_sum, fp_sum = curve.value_tp[spec.column], curve.value_fp[spec.column]
        positives_sum, negatives_sum = curve.value_totals[spec.column]
        means = {"caught": _mean(tp_sum, curve.tp), "missed": _mean(positives_sum - tp_sum, curve.fn),
                 "false_alarm": _mean(fp_sum, curve.fp), "left_alone": _mean(negatives_sum - fp_sum, curve.tn)}
        return spec.times * means[over]

    return ItemValues(
        caught=per_outcome("caught", over="caught"), missed=per_outcome("missed", over="missed"),
        false_alarm=per_outcome("false_alarm", over="false_alarm"),
        left_alone=per_outcome("left_alone", over="left_alone"),
        forgone=per_outcome("caught", over="missed"), spared=per_outcome("left_alone", over="false_alarm"))


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Outcomes:
    """Deployment outcomes per ``period``, element i at ``thresholds[i]`` (one element for a status quo)."""

    thresholds: np.ndarray
    caught: np.ndarray
    missed: np.ndarray
    false_alarms: np.ndarray
    left_alone: np.ndarray
    actions: np.ndarray
    effort_items: np.ndarray
    hours: np.ndarray
    value: np.ndarray
    cost_of_errors: np.ndarray
    period: str
    capacity: float | None = None

    @property
    def precision(self) -> np.ndarray:
        """Share of actions that catch a positive, at the deployment's prevalence."""
        out = np.full(self.actions.shape, np.nan)
        np.divide(self.caught, self.actions, out=out, where=self.actions > 0)
        return out

    @property
    def feasible(self) -> np.ndarray:
        """Whether the actions fit the capacity per period."""
        if self.capacity is None:
            return np.ones(self.thresholds.shape, dtype=bool)
        return self.actions <= self.capacity * (1 + 1e-12)

    @property
    def best_index(self) -> int:
        """Highest value among feasible thresholds, fewest actions among ties; flag-nothing always fits."""
        value = np.where(self.feasible, self.value, -np.inf)
        ties = np.flatnonzero(value >= value.max() - _TIE * max(1.0, abs(value.max())))
        return int(ties[np.argmin(self.actions[ties])])

    def index_at(self, threshold: float) -> int:
        return int(np.searchsorted(-self.thresholds, -threshold, side="right")) - 1

    def point(self, index: int) -> dict[str, Any]:
        """The outcome keys at one index (``period`` included), as plain floats."""
        return {"period": self.period, **{key: float(getattr(self, key)[index]) for key in OUTCOME_KEYS}}

    def at(self, threshold: float) -> dict[str, Any]:
        return self.point(self.index_at(threshold))

    def to_frame(self) -> pd.DataFrame:
        columns = {"threshold": self.thresholds} | {key: getattr(self, key) for key in OUTCOME_KEYS}
        return pd.DataFrame(columns | {"precision": self.precision, "feasible": self.feasible})


def _outcomes(thresholds: np.ndarray, tpr: np.ndarray, fpr: np.ndarray, scenario: Scenario,
              prevalence: float | np.ndarray,
              values: ItemValues, *, effort_share: float | None = None,
              minutes_per_action: float | None = None) -> Outcomes:
    volume, pi = scenario.volume, prevalence
    caught, missed = volume * pi * tpr, volume * pi * (1 - tpr)
    false_alarms, left_alone = volume * (1 - pi) * fpr, volume * (1 - pi) * (1 - fpr)
    actions = caught + false_alarms
    minutes = scenario.minutes_per_action if minutes_per_action is None else minutes_per_action
    effort_cost = minutes / 60 * scenario.cost_per_hour
    effort_items = actions if effort_share is None else np.full(actions.shape, effort_share * volume)
    error_effort = effort_cost if effort_share is None else 0.0  # effort spent anyway is no error's cost
    value = (caught * values.caught + missed * values.missed + false_alarms * values.false_alarm
             + left_alone * values.left_alone - effort_items * effort_cost)
    cost_of_errors = (missed * np.maximum(0.0, values.forgone - error_effort - values.missed)
                      + false_alarms * np.maximum(0.0, values.spared - values.false_alarm + error_effort))
    return Outcomes(thresholds=thresholds, caught=caught, missed=missed, false_alarms=false_alarms,
                    left_alone=left_alone, actions=actions, effort_items=effort_items,
                    hours=effort_items * minutes / 60, value=value, cost_of_errors=cost_of_errors,
                    period=scenario.period, capacity=scenario.capacity)


def _prevalence(scenario: Scenario, curve: ThresholdCurve) -> float | np.ndarray:
    """The scenario's prevalence, else the data's (per resample for a batch of curves)."""
    if scenario.prevalence is not None:
        return scenario.prevalence
    return _mean(np.asarray(curve.positives, dtype=float), np.asarray(curve.n, dtype=float))


def outcomes_for_curve(curve: ThresholdCurve, scenario: Scenario) -> Outcomes:
    """Outcomes per period at every threshold of ``curve``."""
    tpr, fpr = np.nan_to_num(curve.recall), np.nan_to_num(curve.fpr)
    return _outcomes(curve.thresholds, tpr, fpr, scenario, _prevalence(scenario, curve),
                     item_values(scenario, curve))


def _population_values(scenario: Scenario, curve: ThresholdCurve) -> ItemValues:
    """Item values for stated rates: a column value is its mean over all positives (caught, missed) or all
    negatives (false alarm, left alone) of the evaluation data."""

    def value(outcome: str, positive: bool) -> np.ndarray:
        spec = scenario.item_value(outcome)
        if spec.column is None:
            return np.array([spec.constant])
        positives_sum, negatives_sum = curve.value_totals[spec.column]
        total, count = (positives_sum, curve.positives) if positive else (negatives_sum, curve.negatives)
        return spec.times * _mean(np.atleast_1d(np.asarray(total, dtype=float)),
                                  np.atleast_1d(np.asarray(count, dtype=float)))

    return ItemValues(caught=value("caught", True), missed=value("missed", True),
                      false_alarm=value("false_alarm", False), left_alone=value("left_alone", False),
                      forgone=value("caught", True), spared=value("left_alone", False))


def outcomes_at_rates(entry: StatusQuo, scenario: Scenario, *, reference: ThresholdCurve,
                      decisions: ThresholdCurve | None = None) -> Outcomes:
    """A status quo's outcomes per period, through the same formulas as the model.

    ``decisions`` is the curve of the entry's recorded 0/1 decisions (a ``column`` entry; flagged = 1);
    stated rates use ``reference`` (the model's curve of the same data) for prevalence and column means.
    """
    prevalence = _prevalence(scenario, reference)
    if decisions is not None:
        point = decisions.take(np.array([decisions.index_at(1.0)]))
        tpr, fpr = np.nan_to_num(point.recall), np.nan_to_num(point.fpr)
        values = item_values(scenario, point)
    else:
        tpr, fpr = np.array([entry.recall or 0.0]), np.array([entry.false_alarm_rate or 0.0])
        values = _population_values(scenario, reference)
    return _outcomes(np.array([np.nan]), tpr, fpr, scenario, prevalence, values,
                     effort_share=entry.effort_share, minutes_per_action=entry.minutes_per_action)


def value_parts(curve: ThresholdCurve, scenario: Scenario, threshold: float) -> pd.DataFrame:
    """The value at ``threshold`` split by where it comes from: one row per outcome and the effort."""
    outcomes = outcomes_for_curve(curve, scenario)
    index = outcomes.index_at(threshold)
    values = item_values(scenario, curve)
    parts = {
        f"{scenario.positive} caught": outcomes.caught[index] * values.caught[index],
        f"{scenario.positive} missed": outcomes.missed[index] * values.missed[index],
        "false alarms": outcomes.false_alarms[index] * values.false_alarm[index],
        "correctly left alone": outcomes.left_alone[index] * values.left_alone[index],
        f"effort ({scenario.action})": -outcomes.effort_items[index] * scenario.effort_cost,
    }
    return pd.DataFrame({"part": list(parts), "value": [float(v) for v in parts.values()]})
