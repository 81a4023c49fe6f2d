"""Which assumption matters: the best threshold and its value as each scenario input moves.

Outcomes are vectorized over the curve, so each what-if is one cheap recomputation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from metricbridge.compare import error_costs
from metricbridge.curve import ThresholdCurve
from metricbridge.outcomes import Outcomes, item_values, outcomes_for_curve
from metricbridge.scenario import ItemValue, Scenario

__all__ = ["tornado", "cost_ratio_range", "capacity_value", "CostRatioRange", "INPUT_LABELS"]

INPUT_LABELS = {
    "volume": "Volume per period", "prevalence": "Prevalence", "capacity": "Capacity",
    "minutes_per_action": "Minutes per action", "cost_per_hour": "Cost per hour",
    "value.caught": "Worth of a caught item", "value.missed": "Worth of a missed item",
    "value.false_alarm": "Worth of a false alarm", "value.left_alone": "Worth of an item left alone",
}


def _changed(scenario: Scenario, field: str, factor: float, prevalence: float) -> Scenario | None:
    """The scenario with one input multiplied by ``factor``; None when that input is unset or zero."""
    if field.startswith("value."):
        outcome = field.split(".", 1)[1]
        spec = scenario.item_value(outcome)
        if spec.column is None and spec.constant == 0:
            return None
        moved = ItemValue(constant=spec.constant * factor, column=spec.column, times=spec.times * factor)
        return scenario.with_changes(value={**{k: v.to_yaml() for k, v in scenario.value.items()},
                                            outcome: moved.to_yaml()})
    current = prevalence if field == "prevalence" else getattr(scenario, field)
    if current in (None, 0):
        return None
    new = current * factor
    if field == "prevalence":
        new = min(max(new, 1e-9), 1 - 1e-9)
    return scenario.with_changes(**{field: new})


def _best(outcomes: Outcomes) -> tuple[float | None, float]:
    index = outcomes.best_index
    threshold = float(outcomes.thresholds[index])
    return (threshold if math.isfinite(threshold) else None), float(outcomes.value[index])


def tornado(curve: ThresholdCurve, scenario: Scenario, *, change: float = 0.5) -> pd.DataFrame:
    """For each input moved by -change and +change: the best threshold and its value.

    One row per input that is set: ``input``, ``label``, ``low_value``, ``high_value``,
    ``low_threshold``, ``high_threshold``, ``swing`` (high minus low value), sorted by the size of
    the swing, widest first; ``base_value`` and ``base_threshold`` are the unchanged best.
    """
    prevalence = float(scenario.prevalence if scenario.prevalence is not None else curve.positives / curve.n)
    base_threshold, base_value = _best(outcomes_for_curve(curve, scenario))
    rows = []
    for field, label in INPUT_LABELS.items():
        ends = {}
        for side, factor in (("low", 1 - change), ("high", 1 + change)):
            moved = _changed(scenario, field, factor, prevalence)
            if moved is None:
                break
            ends[f"{side}_threshold"], ends[f"{side}_value"] = _best(outcomes_for_curve(curve, moved))
        if len(ends) == 4:
            rows.append({"input": field, "label": label, **ends, "base_value": base_value,
                         "base_threshold": base_threshold})
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame["swing"] = frame["high_value"] - frame["low_value"]
    return frame.reindex(frame["swing"].abs().sort_values(ascending=False).index).reset_index(drop=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class CostRatioRange:
    """The false-alarm / miss cost ratio now, and the range over which the chosen threshold stays best."""

    ratio: float
    low: float
    high: float


def _with_alarm_cost(scenario: Scenario, alarm_cost: float, left_alone: float) -> Scenario:
    """The scenario with a false alarm worth whatever makes it cost ``alarm_cost`` against leaving alone."""
    worth = left_alone + scenario.effort_cost - alarm_cost
    value = {k: v.to_yaml() for k, v in scenario.value.items()} | {"false_alarm": worth}
    return scenario.with_changes(value=value)


def cost_ratio_range(curve: ThresholdCurve, scenario: Scenario, *, index: int, span: float = 1000.0,
                     steps: int = 121) -> CostRatioRange | None:
    """Over which ratio R = (cost of a false alarm) / (cost of a miss) threshold ``index`` stays the best
    feasible one, found by recomputing the outcomes with the false alarm's worth moved (a log grid over
    R / span .. R x span, then bisection at both edges). Column-valued worths enter at their means at
    ``index``. None when a miss costs nothing (no ratio to speak of) or ``index`` is not the best now."""
    values = item_values(scenario, curve)
    means = {"caught": float(values.forgone[index]), "missed": float(values.missed[index]),
             "false_alarm": float(values.false_alarm[index]), "left_alone": float(values.spared[index])}
    miss_cost, alarm_cost = error_costs(scenario, means)
    if miss_cost <= 0 or outcomes_for_curve(curve, scenario).best_index != index:
        return None
    ratio = alarm_cost / miss_cost

    def stays(r: float) -> bool:
        moved = _with_alarm_cost(scenario, r * miss_cost, means["left_alone"])
        return outcomes_for_curve(curve, moved).best_index == index

    anchor = max(ratio, 1e-6)
    grid = np.geomspace(anchor / span, anchor * span, steps)
    inside = np.array([stays(r) for r in grid])
    centre = int(np.argmin(np.abs(np.log(grid / anchor))))
    low_i, high_i = centre, centre
    while low_i > 0 and inside[low_i - 1]:
        low_i -= 1
    while high_i < steps - 1 and inside[high_i + 1]:
        high_i += 1
    low = 0.0 if low_i == 0 and stays(0.0) else _edge(stays, grid[low_i - 1] if low_i else 0.0, grid[low_i])
    high = np.inf if high_i == steps - 1 else _edge(stays, grid[high_i + 1], grid[high_i])
    return CostRatioRange(ratio=ratio, low=float(low), high=float(high))


def _edge(stays: Callable[[float], bool], outside: float, inside: float, rounds: int = 30) -> float:
    """Bisection between a ratio where the threshold is not best and one where it is."""
    for _ in range(rounds):
        middle = (outside + inside) / 2
        if stays(middle):
            inside = middle
        else:
            outside = middle
    return inside


def capacity_value(curve: ThresholdCurve, scenario: Scenario, *, step: float = 0.1) -> float | None:
    """When capacity binds, what one more action per period is worth: the best value's gain from
    ``step`` x more capacity, per extra action. None when capacity is unset or does not bind."""
    if scenario.capacity is None or scenario.capacity <= 0:
        return None
    _, constrained = _best(outcomes_for_curve(curve, scenario))
    _, free = _best(outcomes_for_curve(curve, scenario.with_changes(capacity=None)))
    if free <= constrained + 1e-9 * max(1.0, abs(constrained)):
        return None
    _, more = _best(outcomes_for_curve(curve, scenario.with_changes(capacity=scenario.capacity * (1 + step))))
    return (more - constrained) / (scenario.capacity * step)
