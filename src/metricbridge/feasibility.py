"""Before any model exists: which operating points (recall, precision) would meet every criterion.

Each point of a recall x precision grid is turned into the counts it implies at the scenario's prevalence
(false-alarm rate = pi r (1 - p) / (p (1 - pi))) and judged by the same formulas as a model: the grid is a
ThresholdCurve whose "thresholds" are just grid positions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from metricbridge.criteria import Criteria
from metricbridge.curve import ThresholdCurve
from metricbridge.outcomes import outcomes_for_curve
from metricbridge.scenario import Scenario

__all__ = ["feasibility_grid", "operating_point"]


def operating_point(tpr: float, fpr: float, prevalence: float) -> tuple[float, float]:
    """(recall, precision at this prevalence) of a status quo or any decision rule."""
    flagged = prevalence * tpr + (1 - prevalence) * fpr
    return tpr, (prevalence * tpr / flagged) if flagged > 0 else float("nan")


def feasibility_grid(criteria: Criteria, scenario: Scenario | None, *, prevalence: float,
                     targets: dict[int, float] | None = None, item_means: dict[str, tuple[float, float]] | None = None,
                     points: int = 61) -> pd.DataFrame:
    """One row per (recall, precision) point: ``met`` (how many criteria hold), ``all`` (every one) and
    ``possible`` (the point exists at this prevalence). Threshold-free criteria (AUC, Brier...) say nothing
    about one operating point and are left out. ``targets`` gives the absolute target of entries relative to
    a status quo (by index); ``item_means`` the (positive, negative) means of value columns."""
    grid_recall, grid_precision = np.meshgrid(np.linspace(0.0, 1.0, points), np.linspace(0.01, 1.0, points))
    recall, precision = grid_recall.ravel(), grid_precision.ravel()
    pi = prevalence
    fpr = pi * recall * (1 - precision) / (precision * (1 - pi))
    possible = fpr <= 1.0
    fpr = np.minimum(fpr, 1.0)
    means = item_means or {}
    curve = ThresholdCurve(  # per unit of items: tp and fp as shares; "thresholds" are only positions
        thresholds=np.arange(len(recall), 0, -1, dtype=float), tp=pi * recall, fp=(1 - pi) * fpr, positives=pi,
        negatives=1 - pi, value_tp={c: pi * recall * m[0] for c, m in means.items()},
        value_fp={c: (1 - pi) * fpr * m[1] for c, m in means.items()},
        value_totals={c: (pi * m[0], (1 - pi) * m[1]) for c, m in means.items()})
    outcomes = outcomes_for_curve(curve, scenario) if scenario is not None else None
    met = np.zeros(len(recall), dtype=int)
    judged = 0
    for index, criterion in enumerate(criteria.criteria):
        if criterion.kind == "threshold_free" or (criterion.kind == "outcome" and outcomes is None):
            continue
        values = np.asarray(getattr(curve if criterion.kind == "test_set" else outcomes, criterion.metric))
        target = (targets or {}).get(index, criterion.bound)
        met += criterion.holds(values, target).astype(int)
        judged += 1
    return pd.DataFrame({"recall": recall, "precision": precision, "met": met, "judged": judged,
                         "all": (met == judged) & possible, "possible": possible})
