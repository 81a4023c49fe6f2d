"""Outcomes: a curve (or a status quo's operating point) mapped through a scenario, per period.

With TPR and FPR from the evaluation data, V the volume and pi the prevalence, per period:
caught = V pi TPR, missed = V pi (1 - TPR), false_alarms = V (1 - pi) FPR, left_alone = V (1 - pi) (1 - FPR),
actions = caught + false_alarms, hours = effort_items x minutes / 60, value = sum of count x item value -
effort_items x effort cost, cost_of_errors = what the misses and false alarms cost against the right call.
Everything is vectorized over thresholds, so a scenario edit recomputes a 10,000-point curve in microseconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from metricbridge.curve import ThresholdCurve, index_at, ratio
from metricbridge.scenario import OUTCOME_VALUES, Scenario, StatusQuo

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "OUTCOME_KEYS", "Outcomes", "ItemValues", "item_values", "outcomes_for_curve", "outcomes_at_rates", "value_parts",
    "deployment_prevalence", "population_means",
]

OUTCOME_KEYS = ("caught", "missed", "false_alarms", "left_alone", "actions", "hours", "value", "cost_of_errors")
_TIE = 1e-9  # values this close are a tie (then fewer actions win)


class _Lazy:
    """Figures computed on first use and kept: a batch of 1,000 resamples x 1,000 thresholds is only
    turned into the outcomes its criteria and bands read."""

    __slots__ = ("_memo",)

    def __init__(self) -> None:
        self._memo: dict[str, np.ndarray] = {}

    def _once(self, name: str, make: Callable[[], np.ndarray]) -> np.ndarray:
        if name not in self._memo:
            self._memo[name] = make()
        return self._memo[name]


class ItemValues(_Lazy):
    """The worth of one item in each outcome (arrays over thresholds), and of the items that are errors.

    ``forgone`` is what a missed item would have been worth caught (mean over the missed items);
    ``spared`` is what a false alarm would have been worth left alone (mean over the false alarms).
    """

    __slots__ = ("_make", "nothing")

    def __init__(self, make: Callable[[str, str], np.ndarray], *, nothing: frozenset[str] = frozenset()) -> None:
        super().__init__()
        self._make = make  # (outcome whose worth, over which items) -> worth per item
        self.nothing = nothing  # outcomes whose worth is exactly 0 (their terms of the value are left out)

    def _get(self, outcome: str, over: str) -> np.ndarray:
        return self._once(f"{outcome}/{over}", lambda: self._make(outcome, over))

    @property
    def caught(self) -> np.ndarray:
        return self._get("caught", "caught")

    @property
    def missed(self) -> np.ndarray:
        return self._get("missed", "missed")

    @property
    def false_alarm(self) -> np.ndarray:
        return self._get("false_alarm", "false_alarm")

    @property
    def left_alone(self) -> np.ndarray:
        return self._get("left_alone", "left_alone")

    @property
    def forgone(self) -> np.ndarray:
        return self._get("caught", "missed")

    @property
    def spared(self) -> np.ndarray:
        return self._get("left_alone", "false_alarm")


def _mean(total: np.ndarray, count: np.ndarray) -> np.ndarray:
    """total / count, 0 over no items."""
    return ratio(total, count, fill=0.0, positive=True)


def item_values(scenario: Scenario, curve: ThresholdCurve) -> ItemValues:
    """Item values at every threshold; a column value is the weighted mean of the column over the
    evaluation items in that outcome at that threshold (a missed 5,000 USD fraud is not a missed 5 USD one)."""
    shape = curve.thresholds.shape
    for outcome in OUTCOME_VALUES:
        column = scenario.item_value(outcome).column
        if column is not None and column not in curve.value_totals:
            raise KeyError(f"the curve carries no sums of column {column!r}; count with sums=[...]")

    def per_item(outcome: str, over: str) -> np.ndarray:
        spec = scenario.item_value(outcome)
        if spec.column is None:
            return np.full(shape, spec.constant)
        tp_sum, fp_sum = curve.value_tp[spec.column], curve.value_fp[spec.column]
        positives_sum, negatives_sum = curve.value_totals[spec.column]
        if over == "caught":
            mean = _mean(tp_sum, curve.tp)
        elif over == "missed":
            mean = _mean(positives_sum - tp_sum, curve.fn)
        elif over == "false_alarm":
            mean = _mean(fp_sum, curve.fp)
        else:
            mean = _mean(negatives_sum - fp_sum, curve.tn)
        return spec.times * mean

    return ItemValues(per_item, nothing=_worth_nothing(scenario))


def _worth_nothing(scenario: Scenario) -> frozenset[str]:
    return frozenset(outcome for outcome in OUTCOME_VALUES
                     if scenario.item_value(outcome).column is None and scenario.item_value(outcome).constant == 0)


class Outcomes(_Lazy):
    """Deployment outcomes per ``period``, element i at ``thresholds[i]`` (one element for a status quo).

    With TPR and FPR at each threshold, the volume V and prevalence pi: caught = V pi TPR, and so on (the
    module's formulas); each figure is computed when first read.
    """

    __slots__ = ("thresholds", "period", "capacity", "_tpr", "_fpr", "_volume", "_pi", "_values", "_minutes",
                 "_effort_cost", "_effort_share")

    def __init__(self, *, thresholds: np.ndarray, tpr: np.ndarray, fpr: np.ndarray, scenario: Scenario,
                 prevalence: float | np.ndarray, values: ItemValues, effort_share: float | None = None,
                 minutes_per_action: float | None = None) -> None:
        super().__init__()
        self.thresholds, self.period, self.capacity = thresholds, scenario.period, scenario.capacity
        self._tpr, self._fpr, self._volume, self._pi, self._values = tpr, fpr, scenario.volume, prevalence, values
        self._minutes = scenario.minutes_per_action if minutes_per_action is None else minutes_per_action
        self._effort_cost = self._minutes / 60 * scenario.cost_per_hour
        self._effort_share = effort_share

    @property
    def caught(self) -> np.ndarray:
        return self._once("caught", lambda: self._volume * self._pi * self._tpr)

    @property
    def missed(self) -> np.ndarray:
        return self._once("missed", lambda: self._volume * self._pi * (1 - self._tpr))

    @property
    def false_alarms(self) -> np.ndarray:
        return self._once("false_alarms", lambda: self._volume * (1 - self._pi) * self._fpr)

    @property
    def left_alone(self) -> np.ndarray:
        return self._once("left_alone", lambda: self._volume * (1 - self._pi) * (1 - self._fpr))

    @property
    def actions(self) -> np.ndarray:
        return self._once("actions", lambda: self.caught + self.false_alarms)

    @property
    def effort_items(self) -> np.ndarray:
        """Items that take the effort of an action: the actions, or a status quo's share of every item."""
        share = self._effort_share
        if share is None:
            return self.actions
        return self._once("effort_items", lambda: np.full(self.actions.shape, share * self._volume))

    @property
    def hours(self) -> np.ndarray:
        return self._once("hours", lambda: self.effort_items * self._minutes / 60)

    @property
    def value(self) -> np.ndarray:
        """Each count times its worth, minus the effort's cost (outcomes worth nothing add no term: the sum
        is the same, without computing their counts)."""
        def make() -> np.ndarray:
            values = self._values
            total: np.ndarray | float = 0.0
            for worth, count in (("caught", "caught"), ("missed", "missed"), ("false_alarm", "false_alarms"),
                                 ("left_alone", "left_alone")):
                if worth not in values.nothing:
                    total = total + getattr(self, count) * getattr(values, worth)
            return np.asarray(total - self.effort_items * self._effort_cost, dtype=np.float64)

        return self._once("value", make)

    @property
    def cost_of_errors(self) -> np.ndarray:
        """What the misses and false alarms cost against the right call (effort spent anyway is no error's)."""
        values = self._values
        error_effort = self._effort_cost if self._effort_share is None else 0.0
        return self._once("cost_of_errors", lambda: (
            self.missed * np.maximum(0.0, values.forgone - error_effort - values.missed)
            + self.false_alarms * np.maximum(0.0, values.spared - values.false_alarm + error_effort)))

    @property
    def precision(self) -> np.ndarray:
        """Share of actions that catch a positive, at the deployment's prevalence."""
        return self._once("precision", lambda: ratio(self.caught, self.actions, positive=True))

    @property
    def feasible(self) -> np.ndarray:
        """Whether the actions fit the capacity per period."""
        capacity = self.capacity
        if capacity is None:
            return np.ones(np.shape(self.actions), dtype=bool)
        return self._once("feasible", lambda: self.actions <= capacity * (1 + 1e-12))

    @property
    def best_index(self) -> int:
        """Highest value among feasible thresholds, fewest actions among ties; flag-nothing always fits."""
        value = np.where(self.feasible, self.value, -np.inf)
        ties = np.flatnonzero(value >= value.max() - _TIE * max(1.0, abs(value.max())))
        return int(ties[np.argmin(self.actions[ties])])

    @property
    def best_threshold(self) -> float | None:
        """The threshold of :attr:`best_index`; None when the best is to flag nothing."""
        threshold = float(self.thresholds[self.best_index])
        return threshold if math.isfinite(threshold) else None

    def index_at(self, threshold: float) -> int:
        return index_at(self.thresholds, threshold)

    def point(self, index: int) -> dict[str, Any]:
        """The outcome keys at one index (``period`` included), as plain floats."""
        return {"period": self.period, **{key: float(getattr(self, key)[index]) for key in OUTCOME_KEYS}}

    def at(self, threshold: float) -> dict[str, Any]:
        return self.point(self.index_at(threshold))

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        columns = {"threshold": self.thresholds} | {key: getattr(self, key) for key in OUTCOME_KEYS}
        return pd.DataFrame(columns | {"precision": self.precision, "feasible": self.feasible})


def _outcomes(thresholds: np.ndarray, tpr: np.ndarray, fpr: np.ndarray, scenario: Scenario,
              prevalence: float | np.ndarray, values: ItemValues, *, effort_share: float | None = None,
              minutes_per_action: float | None = None) -> Outcomes:
    return Outcomes(thresholds=thresholds, tpr=tpr, fpr=fpr, scenario=scenario, prevalence=prevalence,
                    values=values, effort_share=effort_share, minutes_per_action=minutes_per_action)


def deployment_prevalence(scenario: Scenario | None, curve: ThresholdCurve) -> float | np.ndarray:
    """The scenario's prevalence, else the data's share of positives (per resample for a batch of curves;
    0 for a curve with no items). The one place this fallback is decided."""
    if scenario is not None and scenario.prevalence is not None:
        return scenario.prevalence
    share = _mean(np.asarray(curve.positives, dtype=float), np.asarray(curve.n, dtype=float))
    return float(share) if np.ndim(share) == 0 else share


_OVER_POSITIVES = {"caught": True, "missed": True, "false_alarm": False, "left_alone": False}


def population_means(scenario: Scenario, curve: ThresholdCurve) -> dict[str, float | np.ndarray]:
    """For each column-valued outcome, the mean worth of one item over all positives (caught, missed) or all
    negatives (false alarm, left alone) of the evaluation data: what stated rates and the break-even bar use.
    Per resample for a batch of curves."""
    means: dict[str, float | np.ndarray] = {}
    for outcome in OUTCOME_VALUES:
        spec = scenario.item_value(outcome)
        if spec.column is None:
            continue
        positives_sum, negatives_sum = curve.value_totals[spec.column]
        total, count = ((positives_sum, curve.positives) if _OVER_POSITIVES[outcome]
                        else (negatives_sum, curve.negatives))
        mean = spec.times * _mean(np.asarray(total, dtype=float), np.asarray(count, dtype=float))
        means[outcome] = float(mean) if np.ndim(mean) == 0 else mean
    return means


def _rate(count: np.ndarray, total: float | np.ndarray) -> np.ndarray:
    """count / total, 0 where there is nothing to divide by (a rate of no items flags none in deployment)."""
    return ratio(count, total, fill=0.0, positive=True)


def outcomes_for_curve(curve: ThresholdCurve, scenario: Scenario) -> Outcomes:
    """Outcomes per period at every threshold of ``curve``."""
    tpr, fpr = _rate(curve.tp, curve.positives), _rate(curve.fp, curve.negatives)
    return _outcomes(curve.thresholds, tpr, fpr, scenario, deployment_prevalence(scenario, curve),
                     item_values(scenario, curve))


def _population_values(scenario: Scenario, curve: ThresholdCurve) -> ItemValues:
    """Item values for stated rates: column values at their population means (one element per resample)."""
    means = population_means(scenario, curve)

    def value(outcome: str, over: str) -> np.ndarray:
        spec = scenario.item_value(outcome)
        return np.atleast_1d(np.asarray(means[outcome] if spec.column else spec.constant, dtype=float))

    return ItemValues(value, nothing=_worth_nothing(scenario))


def outcomes_at_rates(entry: StatusQuo, scenario: Scenario, *, reference: ThresholdCurve,
                      decisions: ThresholdCurve | None = None) -> Outcomes:
    """A status quo's outcomes per period, through the same formulas as the model.

    ``decisions`` is the curve of the entry's recorded 0/1 decisions (a ``column`` entry; flagged = 1);
    stated rates use ``reference`` (the model's curve of the same data) for prevalence and column means.
    """
    prevalence = deployment_prevalence(scenario, reference)
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
    import pandas as pd

    return pd.DataFrame({"part": list(parts), "value": [float(v) for v in parts.values()]})
