"""Ready-to-draw tables of a report under its scenario: what the Outcomes and Status quo pages show,
reachable from Python too. No streamlit here."""

from __future__ import annotations

import numpy as np
import pandas as pd

from metricbridge.compare import Match, break_even, match_caught, match_workload
from metricbridge.criteria import Criteria
from metricbridge.curve import ratio
from metricbridge.evaluate import EvaluationReport
from metricbridge.feasibility import feasibility_grid, operating_point
from metricbridge.outcomes import OUTCOME_KEYS

__all__ = [
    "comparison_frame", "deployment_pr", "break_even_bars", "matches_frame", "outcome_curve", "feasibility",
    "windows_frame",
]

FIGURE_LABELS = {"caught": "caught", "missed": "missed", "false_alarms": "false alarms", "actions": "actions",
                 "hours": "hours", "value": "value", "cost_of_errors": "cost of errors"}


def _scenario(report: EvaluationReport):
    if report.scenario is None:
        raise ValueError("the report has no scenario: evaluate with one, or use report.with_scenario()")
    return report.scenario


def comparison_frame(report: EvaluationReport, model: str, threshold: float) -> pd.DataFrame:
    """Long form (``figure``, ``who``, ``amount``) of the model at ``threshold`` and every status quo."""
    _scenario(report)
    rows = []
    points = [(model, report.outcomes[model].at(threshold))] + [(sq.name, sq.point) for sq in report.status_quo]
    for who, point in points:
        rows += [{"figure": FIGURE_LABELS[key], "who": who, "amount": point[key]} for key in OUTCOME_KEYS
                 if key in FIGURE_LABELS and key != "missed"]
    return pd.DataFrame(rows)


def deployment_pr(report: EvaluationReport, model: str, *, max_points: int = 500) -> pd.DataFrame:
    """The model's precision and recall, precision at the deployment's prevalence, at the thresholds its
    downsampled curve keeps (the corners survive)."""
    outcomes = report.outcomes[model]
    kept = np.isin(outcomes.thresholds, report.model(model).curve.downsample(max_points).thresholds)
    positives = outcomes.caught + outcomes.missed
    recall = ratio(outcomes.caught, positives, fill=0.0, positive=True)
    return pd.DataFrame({"threshold": np.where(np.isfinite(outcomes.thresholds), outcomes.thresholds, np.nan),
                         "recall": recall, "precision": outcomes.precision})[kept].reset_index(drop=True)


def break_even_bars(report: EvaluationReport, model: str) -> pd.DataFrame:
    """For each status quo, the lowest precision at each recall that is worth as much (``name`` column)."""
    scenario = _scenario(report)
    curve = report.model(model).curve
    prevalence = float(scenario.prevalence if scenario.prevalence is not None else curve.positives / curve.n)
    means = _population_means(report, model)
    frames = []
    for sq in report.status_quo:
        bar = break_even(scenario, prevalence=prevalence, value=sq.point["value"], item_means=means)
        frames.append(bar.assign(name=sq.name))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["recall", "precision", "name"])


def _population_means(report: EvaluationReport, model: str) -> dict[str, float]:
    """Mean worth of column-valued outcomes over all positives / negatives of the evaluation data."""
    scenario = _scenario(report)
    curve = report.model(model).curve
    means = {}
    for outcome in ("caught", "missed", "false_alarm", "left_alone"):
        spec = scenario.item_value(outcome)
        if spec.column:
            positives_sum, negatives_sum = curve.value_totals[spec.column]
            over_positives = outcome in ("caught", "missed")
            total, count = (positives_sum, curve.positives) if over_positives else (negatives_sum, curve.negatives)
            means[outcome] = spec.times * total / count if count else 0.0
    return means


def matches_frame(report: EvaluationReport, model: str) -> pd.DataFrame:
    """Per status quo: the threshold that catches as many with the fewest actions, and the most the model
    catches with the same workload."""
    outcomes = report.outcomes[model]
    rows = []
    for sq in report.status_quo:
        same_catch: Match = match_caught(outcomes, sq.point["caught"])
        same_work: Match = match_workload(outcomes, sq.point["actions"])
        rows.append({
            "status quo": sq.name, "its caught": sq.point["caught"], "its actions": sq.point["actions"],
            "threshold to catch as many": same_catch.threshold,
            "actions needed": None if same_catch.index is None else float(outcomes.actions[same_catch.index]),
            "threshold at its workload": same_work.threshold,
            "caught at its workload": None if same_work.index is None else float(outcomes.caught[same_work.index]),
        })
    return pd.DataFrame(rows)


def outcome_curve(report: EvaluationReport, model: str, *, max_points: int = 500) -> pd.DataFrame:
    """``Outcomes.to_frame()`` thinned for drawing: evenly spread points plus both ends and the best one."""
    outcomes = report.outcomes[model]
    count = len(outcomes.thresholds)
    picks = np.unique(np.r_[np.linspace(0, count - 1, min(max_points, count)).astype(int), outcomes.best_index])
    return outcomes.to_frame().iloc[picks].reset_index(drop=True)


def feasibility(report: EvaluationReport, criteria: Criteria, model: str | None = None, *,
                points: int = 61) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The feasibility grid of ``criteria`` at the report's deployment prevalence, and the places of its
    status quos (``name``, ``recall``, ``precision``) to mark on it."""
    name = model or report.models[0].name
    curve = report.model(name).curve
    scenario = report.scenario
    prevalence = float(scenario.prevalence if scenario and scenario.prevalence is not None
                       else curve.positives / curve.n)
    targets: dict[int, float] = {}
    for index, criterion in enumerate(criteria.criteria):
        if criterion.relative_to:
            point = next((sq.point for sq in report.status_quo if sq.name == criterion.relative_to), None)
            if point is not None:
                targets[index] = criterion.bound * point[criterion.metric]
    means = {column: (total_pos / curve.positives if curve.positives else 0.0,
                      total_neg / curve.negatives if curve.negatives else 0.0)
             for column, (total_pos, total_neg) in curve.value_totals.items()}
    grid = feasibility_grid(criteria, scenario, prevalence=prevalence, targets=targets,
                            item_means={k: (float(a), float(b)) for k, (a, b) in means.items()}, points=points)
    places = []
    for sq in report.status_quo:
        positives = sq.point["caught"] + sq.point["missed"]
        tpr = sq.point["caught"] / positives if positives else 0.0
        negatives = sq.point["false_alarms"] + sq.point["left_alone"]
        fpr = sq.point["false_alarms"] / negatives if negatives else 0.0
        recall, precision = operating_point(tpr, fpr, prevalence)
        if precision == precision:  # a status quo that flags nothing has no precision to place
            places.append({"name": sq.name, "recall": recall, "precision": precision})
    return grid, pd.DataFrame(places, columns=["name", "recall", "precision"])


def windows_frame(report) -> pd.DataFrame:
    """A ``MonitorReport`` as a table, one row per window: size, labels, prevalence, the figures at the agreed
    threshold (estimated where labels are pending), drift, and each criterion's verdict."""
    rows = []
    for w in report.windows:
        row = {"window": w.label, "rows": w.rows, "labels": "yes" if w.labelled else "pending (estimated)",
               "prevalence": w.prevalence, "recall": w.figures.get("recall"),
               "precision": w.figures.get("precision"), "flag rate": w.figures.get("flag_rate"),
               "PSI": w.drift.psi, "KS p-value": w.drift.ks_p_value, "drifted": w.drift.drifted}
        rows.append(row | dict(w.verdicts))
    return pd.DataFrame(rows)
