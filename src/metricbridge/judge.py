"""Verdicts: does the model meet the agreed criteria, how sure is that, and which threshold to choose.

Every probability is the share of bootstrap resamples in which a criterion holds (see uncertainty.py).
A criterion relative to a status quo compares model and status quo on the same resample; the scenario's
prevalence, when given, stays fixed. Verdict: pass when the probability is at least the confidence, fail
when it is at most 1 - confidence, uncertain between (with a tolerance of 1e-9).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from metricbridge.counts import ScoreCounts
from metricbridge.criteria import Criteria, Criterion
from metricbridge.curve import POINT_METRICS, ThresholdCurve, curve_from_counts
from metricbridge.errors import CriteriaError
from metricbridge.metrics import average_precision, brier, log_loss, roc_auc
from metricbridge.outcomes import OUTCOME_KEYS, Outcomes, outcomes_at_rates, outcomes_for_curve
from metricbridge.scenario import Scenario
from metricbridge.uncertainty import (
    DEFAULT_BAND_BINS,
    DEFAULT_RESAMPLES,
    batch_curve,
    batch_score_sums,
    coarsen,
    draw,
    percentile_interval,
)

__all__ = ["Verdict", "CriteriaResult", "judge", "choose_threshold", "Choice"]

_TOLERANCE = 1e-9


def _verdict(probability: float, confidence: float) -> str:
    if probability >= confidence - _TOLERANCE:
        return "pass"
    if probability <= 1 - confidence + _TOLERANCE:
        return "fail"
    return "uncertain"


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    criterion: Criterion
    target: float
    value: float | None
    probability: float
    verdict: str
    labels_needed: int | None

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.criterion.metric, "comparison": self.criterion.comparison, "target": self.target,
                "value": self.value, "probability": self.probability, "verdict": self.verdict,
                "labels_needed": self.labels_needed}


@dataclass(frozen=True, slots=True, kw_only=True)
class Choice:
    """The threshold chosen against the criteria, or the closest one and what blocks."""

    chosen: float | None
    closest: float | None
    blocking: tuple[str, ...] = ()  # in words, when nothing qualifies
    spread: tuple[float, float] | None = None  # interval of the chosen threshold across resamples
    spread_share: float = 0.0  # share of resamples in which some threshold qualified


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class CriteriaResult:
    criteria: Criteria
    threshold: float
    choice: Choice
    verdicts: tuple[Verdict, ...]
    intervals: dict[str, list[float]]
    differences: dict[str, dict[str, list[float]]]  # status quo -> outcome -> [low, high] of model - status quo
    resamples: int
    seed: int
    bins: int
    bands: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def met(self) -> bool:
        return all(v.verdict == "pass" for v in self.verdicts)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.criteria.name, "version": self.criteria.version, "threshold": self.threshold,
                "chosen_threshold": self.choice.chosen, "met": self.met,
                "verdicts": [v.to_dict() for v in self.verdicts], "resamples": self.resamples, "seed": self.seed,
                "bins": self.bins, "closest_threshold": self.choice.closest, "blocking": list(self.choice.blocking),
                "threshold_spread": list(self.choice.spread) if self.choice.spread else None}


# -- figures of a (batched) curve --------------------------------------------------------------------------

def _outcomes(curve: ThresholdCurve, scenario: Scenario | None) -> Outcomes | None:
    return outcomes_for_curve(curve, scenario) if scenario is not None else None


def _figure(metric: str, curve: ThresholdCurve, outcomes: Outcomes | None) -> np.ndarray:
    if metric in POINT_METRICS:
        return np.asarray(getattr(curve, metric), dtype=float)
    if outcomes is None:
        raise CriteriaError(f"{metric!r} needs a scenario")
    return np.asarray(getattr(outcomes, metric), dtype=float)


def _status_quo_outcomes(counts: ScoreCounts, draws: np.ndarray | None, scenario: Scenario,
                         reference: ThresholdCurve) -> dict[str, Outcomes]:
    """Each status quo's outcomes on the same resamples (a column entry from the same cells' keys)."""
    results = {}
    for entry in scenario.status_quo:
        decisions = None
        if entry.column:
            by_rule = counts.decided_by(entry.column)
            decisions = batch_curve(by_rule, draws) if draws is not None else curve_from_counts(by_rule)
        results[entry.name] = outcomes_at_rates(entry, scenario, reference=reference, decisions=decisions)
    return results


def _target(criterion: Criterion, status_quo: dict[str, Outcomes]) -> np.ndarray | float:
    if criterion.relative_to is None:
        return criterion.bound
    figure = np.asarray(getattr(status_quo[criterion.relative_to], criterion.metric), dtype=float)
    return criterion.bound * figure[..., 0]


def _threshold_free_deviations(counts: ScoreCounts, curve: ThresholdCurve, draws: np.ndarray) -> dict[str, np.ndarray]:
    """ROC AUC, AP, Brier and log loss per resample of (coarsened) cells, minus their value on the cells
    themselves: added to the exact figure, they give resamples centred on it (coarse cells blur AUC and AP
    by up to ~1e-3; the spread is what these carry)."""
    with np.errstate(all="ignore"):
        auc = np.trapezoid(curve.recall, curve.fpr, axis=-1)
        ap = np.nansum(np.diff(curve.recall, axis=-1) * np.nan_to_num(curve.precision[..., 1:]), axis=-1)
    sums = batch_score_sums(counts, draws)
    samples = {"roc_auc": auc, "average_precision": ap}
    if counts.is_probability:
        samples |= {"brier": sums["brier"] / sums["n"], "log_loss": sums["log_loss"] / sums["n"]}
    else:
        samples |= {"brier": np.full(len(auc), np.nan), "log_loss": np.full(len(auc), np.nan)}
    point_curve = curve_from_counts(counts)
    coarse_points = {"roc_auc": roc_auc(point_curve), "average_precision": average_precision(point_curve),
                     "brier": brier(counts), "log_loss": log_loss(counts)}
    return {k: v - (coarse_points[k] if coarse_points[k] is not None else np.nan) for k, v in samples.items()}


def _exact_threshold_free(counts: ScoreCounts) -> dict[str, float | None]:
    curve = curve_from_counts(counts)
    return {"roc_auc": roc_auc(curve), "average_precision": average_precision(curve), "brier": brier(counts),
            "log_loss": log_loss(counts)}


def _labels_needed(samples: np.ndarray, target: np.ndarray | float, point: float | None, point_target: float,
                   criterion: Criterion, confidence: float, n: int) -> int | None:
    """About how many more labelled items would settle an uncertain verdict: the spread shrinks as 1/sqrt(n),
    so the margin must reach z x spread."""
    if point is None or not math.isfinite(point):
        return None
    margin = abs(point - point_target)
    spread = float(np.nanstd(samples - target))
    if margin <= 0 or not math.isfinite(spread) or spread == 0:
        return None
    z = NormalDist().inv_cdf(confidence)
    needed = n * (z * spread / margin) ** 2
    return max(0, math.ceil(needed - n))


# -- choosing the threshold --------------------------------------------------------------------------------

def _objective_order(values: np.ndarray, direction: str) -> np.ndarray:
    """Higher is better after this (NaN worst)."""
    signed = values if direction == "maximize" else -values
    return np.where(np.isnan(signed), -np.inf, signed)


def choose_threshold(counts: ScoreCounts, criteria: Criteria, scenario: Scenario | None, *,
                     resamples: int = DEFAULT_RESAMPLES, seed: int = 0, bins: int = DEFAULT_BAND_BINS) -> tuple[
        Choice, pd.DataFrame]:
    """The threshold that optimizes the objective among thresholds within capacity where every criterion
    passes; and the curve bands (recall, precision, fpr and value intervals at each coarse threshold)."""
    coarse = coarsen(counts, bins)
    draws = draw(coarse, resamples=resamples, seed=seed)
    batch, point = batch_curve(coarse, draws), curve_from_counts(coarse)
    batch_outcomes, point_outcomes = _outcomes(batch, scenario), _outcomes(point, scenario)
    sq_batch = _status_quo_outcomes(coarse, draws, scenario, batch) if scenario else {}
    sq_point = _status_quo_outcomes(coarse, None, scenario, point) if scenario else {}
    free = _threshold_free_deviations(coarse, batch, draws)
    exact_free = _exact_threshold_free(counts)
    confidence = criteria.confidence
    count = len(point.thresholds)
    probabilities, holds_each, point_holds = [], [], []
    for criterion in criteria.criteria:
        if criterion.kind == "threshold_free":
            samples = (free[criterion.metric] + (exact_free[criterion.metric] or np.nan))[:, None]
            samples = np.broadcast_to(samples, (resamples, count))
            point_value = np.full(count, np.nan if exact_free[criterion.metric] is None
                                  else exact_free[criterion.metric])
        else:
            samples = _figure(criterion.metric, batch, batch_outcomes)
            point_value = _figure(criterion.metric, point, point_outcomes)
        target = _target(criterion, sq_batch)
        holds = criterion.holds(samples, np.asarray(target)[..., None] if np.ndim(target) else target)
        holds_each.append(holds)
        probabilities.append(holds.mean(axis=0))
        point_holds.append(criterion.holds(point_value, _target(criterion, sq_point)))
    direction, metric = criteria.objective_for(scenario)
    objective = _objective_order(_figure(metric, point, point_outcomes), direction)
    feasible = point_outcomes.feasible if point_outcomes is not None else np.ones(count, dtype=bool)
    candidates = np.arange(1, count)  # flagging nothing is not a threshold to choose
    passing = np.array([p >= confidence - _TOLERANCE for p in probabilities]) if probabilities else np.ones(
        (0, count), dtype=bool)
    qualified = candidates[passing[:, candidates].all(axis=0) & feasible[candidates]]
    bands = _bands(point, batch, point_outcomes, batch_outcomes, confidence)
    spread, share = _spread(holds_each, batch_outcomes, scenario, _figure(metric, batch, batch_outcomes),
                            direction, point.thresholds, confidence)
    if len(qualified):
        best = qualified[np.argmax(objective[qualified])]
        return Choice(chosen=float(point.thresholds[best]), closest=float(point.thresholds[best]), spread=spread,
                      spread_share=share), bands
    within = candidates[feasible[candidates]] if feasible[candidates].any() else candidates
    score = passing[:, within].sum(axis=0) if len(passing) else np.zeros(len(within))
    top = within[score == score.max()]
    closest = top[np.argmax(objective[top])]
    blocking = _blocking(criteria, passing, feasible, candidates, closest, point_holds)
    return Choice(chosen=None, closest=float(point.thresholds[closest]), blocking=blocking, spread=spread,
                  spread_share=share), bands


def _blocking(criteria: Criteria, passing: np.ndarray, feasible: np.ndarray, candidates: np.ndarray,
              closest: int, point_holds: list[np.ndarray]) -> tuple[str, ...]:
    """Why no threshold qualifies: criteria that never pass within capacity, else the ones failing together."""
    lines = []
    never = [c for c, row in zip(criteria.criteria, passing, strict=True) if not (row[candidates] & feasible[
        candidates]).any()]
    if never:
        lines += [f"{c.describe()}: holds with the agreed confidence at no threshold within capacity" for c in never]
    else:
        failing = [c.describe() for c, row in zip(criteria.criteria, passing, strict=True) if not row[closest]]
        lines.append("no threshold meets these together: " + "; ".join(failing))
    return tuple(lines)


def _spread(holds_each: list[np.ndarray], outcomes: Outcomes | None, scenario: Scenario | None,
            objective: np.ndarray, direction: str, thresholds: np.ndarray,
            confidence: float) -> tuple[tuple[float, float] | None, float]:
    """The threshold each resample would choose (criteria holding in that resample, within capacity),
    and its central interval; with the share of resamples where some threshold qualified."""
    resamples, count = objective.shape
    ok = np.ones((resamples, count), dtype=bool)
    for holds in holds_each:
        ok &= holds
    if outcomes is not None and scenario is not None and scenario.capacity is not None:
        ok &= outcomes.feasible
    ok[:, 0] = False
    order = np.where(ok, _objective_order(objective, direction), -np.inf)
    has = ok.any(axis=1)
    if not has.any():
        return None, 0.0
    chosen = thresholds[np.argmax(order, axis=1)[has]]
    low, high = percentile_interval(chosen, confidence)
    return (float(low), float(high)), float(has.mean())


def _bands(point: ThresholdCurve, batch: ThresholdCurve, point_outcomes: Outcomes | None,
           outcomes: Outcomes | None, confidence: float) -> pd.DataFrame:
    """Per coarse threshold: the point figure and the central interval across resamples (``NAME``,
    ``NAME_low``, ``NAME_high`` for recall, precision, fpr and, with a scenario, value)."""
    thresholds = point.thresholds
    frame = pd.DataFrame({"threshold": np.where(np.isfinite(thresholds), thresholds, np.nan)})
    series = {"recall": (point.recall, batch.recall), "precision": (point.precision, batch.precision),
              "fpr": (point.fpr, batch.fpr)}
    if outcomes is not None and point_outcomes is not None:
        series["value"] = (point_outcomes.value, outcomes.value)
    for name, (values, samples) in series.items():
        frame[name] = values
        frame[f"{name}_low"], frame[f"{name}_high"] = percentile_interval(np.asarray(samples, dtype=float),
                                                                          confidence)
    return frame


# -- verdicts at one threshold -----------------------------------------------------------------------------

def judge(counts: ScoreCounts, criteria: Criteria, scenario: Scenario | None, *, threshold: float,
          choice: Choice, bands: pd.DataFrame | None = None, resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
          bins: int = DEFAULT_BAND_BINS) -> CriteriaResult:
    """Verdicts, intervals and paired differences at ``threshold`` (cells coarsened to ``bins`` score groups
    split at the threshold: the cost does not grow with the rows)."""
    criteria.check(scenario)
    # The cells the threshold was chosen on, split at this threshold: at a chosen threshold these are the
    # very same cells and draws, so the verdict repeats the choice's probabilities exactly.
    few = coarsen(counts, bins, edges=(threshold,))
    draws = draw(few, resamples=resamples, seed=seed)
    batch, exact = batch_curve(few, draws), curve_from_counts(counts)
    index, exact_index = batch.index_at(threshold), exact.index_at(threshold)
    batch_outcomes, exact_outcomes = _outcomes(batch, scenario), _outcomes(exact, scenario)
    sq_batch = _status_quo_outcomes(few, draws, scenario, batch) if scenario else {}
    sq_point = _status_quo_outcomes(counts, None, scenario, exact) if scenario else {}
    free_samples = _threshold_free_deviations(few, batch, draws)
    exact_free = _exact_threshold_free(counts)
    verdicts = []
    for criterion in criteria.criteria:
        point_target = _target(criterion, sq_point)
        if criterion.relative_to is not None and float(np.asarray(point_target) / criterion.bound) <= 0:
            raise CriteriaError(f"{criteria.name!r}: {criterion.describe()}: {criterion.relative_to}'s "
                                f"{criterion.metric} is {float(np.asarray(point_target) / criterion.bound):g}, so a "
                                "multiple of it means nothing; use an absolute target instead.")
        if criterion.kind == "threshold_free":
            value = exact_free[criterion.metric]
            samples = free_samples[criterion.metric] + (value if value is not None else np.nan)
        else:
            samples = _figure(criterion.metric, batch, batch_outcomes)[:, index]
            value = float(_figure(criterion.metric, exact, exact_outcomes)[exact_index])
        target = _target(criterion, sq_batch)
        probability = float(np.mean(criterion.holds(samples, target)))
        point_target = float(np.asarray(point_target))
        verdict = _verdict(probability, criteria.confidence)
        needed = None if verdict != "uncertain" else _labels_needed(
            samples, target, value, point_target, criterion, criteria.confidence, counts.n_rows)
        verdicts.append(Verdict(criterion=criterion, target=point_target,
                                value=None if value is None or math.isnan(value) else value,
                                probability=probability, verdict=verdict, labels_needed=needed))
    intervals = {key: [float(x) for x in percentile_interval(np.asarray(getattr(batch, key), float)[:, index],
                                                             criteria.confidence)] for key in POINT_METRICS}
    for key, deviations in free_samples.items():  # threshold-free figures: their resamples around the exact one
        point = exact_free[key]
        if point is not None:
            intervals[key] = [float(x) for x in percentile_interval(deviations + point, criteria.confidence)]
    differences: dict[str, dict[str, list[float]]] = {}
    if batch_outcomes is not None:
        intervals |= {key: [float(x) for x in percentile_interval(getattr(batch_outcomes, key)[:, index],
                                                                  criteria.confidence)] for key in OUTCOME_KEYS}
        for name, sq in sq_batch.items():
            differences[name] = {key: [float(x) for x in percentile_interval(
                getattr(batch_outcomes, key)[:, index] - np.asarray(getattr(sq, key))[..., 0] * np.ones(resamples),
                criteria.confidence)] for key in OUTCOME_KEYS}
    return CriteriaResult(criteria=criteria, threshold=threshold, choice=choice, verdicts=tuple(verdicts),
                          intervals=intervals, differences=differences, resamples=resamples, seed=seed, bins=bins,
                          bands=bands if bands is not None else pd.DataFrame())
