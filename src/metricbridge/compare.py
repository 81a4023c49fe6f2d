"""The model against what is done today: matching operating points and the break-even bar.

All of it reads off the model's Outcomes (one array per figure over thresholds) and a status quo's point,
so every comparison is in the scenario's units at its volume and prevalence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from metricbridge.outcomes import Outcomes
from metricbridge.scenario import Scenario

__all__ = ["Match", "match_caught", "match_workload", "break_even", "error_costs"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Match:
    """A threshold of the model chosen to match a status quo on one figure (None when it cannot)."""

    index: int | None
    threshold: float | None

    @classmethod
    def of(cls, outcomes: Outcomes, index: int | None) -> Match:
        if index is None:
            return cls(index=None, threshold=None)
        threshold = float(outcomes.thresholds[index])
        return cls(index=index, threshold=threshold if np.isfinite(threshold) else None)


def match_caught(outcomes: Outcomes, caught: float) -> Match:
    """The threshold that catches at least ``caught`` per period with the fewest actions."""
    enough = np.flatnonzero(outcomes.caught >= caught * (1 - 1e-12))
    if not len(enough):
        return Match.of(outcomes, None)
    return Match.of(outcomes, int(enough[np.argmin(outcomes.actions[enough])]))


def match_workload(outcomes: Outcomes, actions: float) -> Match:
    """The threshold that catches the most within ``actions`` per period (fewest actions among ties)."""
    within = np.flatnonzero(outcomes.actions <= actions * (1 + 1e-12))
    best = within[outcomes.caught[within] >= outcomes.caught[within].max() * (1 - 1e-12)]
    return Match.of(outcomes, int(best[np.argmin(outcomes.actions[best])]))


def error_costs(scenario: Scenario, item_means: dict[str, float] | None = None) -> tuple[float, float]:
    """What one miss and one false alarm cost against the right call (the cost_of_errors weights).

    ``item_means`` gives the mean worth of column-valued outcomes (else their constant is used).
    """
    means = item_means or {}

    def worth(outcome: str) -> float:
        spec = scenario.item_value(outcome)
        return means.get(outcome, spec.constant) if spec.column else spec.constant

    effort = scenario.effort_cost
    miss = worth("caught") - effort - worth("missed")
    false_alarm = worth("left_alone") - worth("false_alarm") + effort
    return miss, false_alarm


def break_even(scenario: Scenario, *, prevalence: float, value: float,
               item_means: dict[str, float] | None = None, points: int = 101) -> pd.DataFrame:
    """The lowest precision at each recall at which a model is worth ``value`` per period.

    Value is linear in the counts: value = V pi (v_caught - e) + V (1 - pi) v_left_alone - missed c_miss -
    false_alarms c_fa, so at recall r the false alarms it can afford, and with them the precision it needs
    (at the deployment's prevalence), follow directly. Columns: ``recall``, ``precision`` (NaN where no
    precision is enough). Capacity is not applied here: it limits thresholds, not the bar.
    """
    volume, pi = scenario.volume, prevalence
    miss_cost, alarm_cost = error_costs(scenario, item_means)
    means = item_means or {}
    caught_worth = means.get("caught", scenario.item_value("caught").constant)
    left_alone_worth = means.get("left_alone", scenario.item_value("left_alone").constant)
    best = volume * pi * (caught_worth - scenario.effort_cost) + volume * (1 - pi) * left_alone_worth
    recall = np.linspace(0.0, 1.0, points)
    caught, missed = volume * pi * recall, volume * pi * (1 - recall)
    slack = best - missed * miss_cost - value  # what false alarms may cost at this recall
    with np.errstate(divide="ignore", invalid="ignore"):
        affordable = np.where(alarm_cost > 0, slack / alarm_cost, np.where(slack >= 0, np.inf, -1.0))
        precision = np.where(affordable < 0, np.nan, caught / (caught + np.minimum(affordable, np.inf)))
    precision = np.where((caught == 0) & (affordable >= 0), 0.0, precision)
    return pd.DataFrame({"recall": recall, "precision": precision})
