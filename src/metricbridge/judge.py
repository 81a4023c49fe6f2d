"""Verdicts: does the model meet the agreed criteria, how sure is that, and which threshold to choose.

Every probability is the share of bootstrap resamples in which a criterion holds (see uncertainty.py).
A criterion relative to a status quo compares model and status quo on the same resample; the scenario's
prevalence, when given, stays fixed. Verdict: pass when the probability is at least the confidence, fail
when it is at most 1 - confidence, uncertain between (with a tolerance of 1e-9).

The resamples are drawn once per model (:func:`metricbridge.uncertainty.build_bootstrap`); a scenario turns
them into outcomes once (:func:`resampled`, kept with the bootstrap); choosing (:func:`choose`), judging
(:func:`verdicts`) and the bands (:func:`bands`) are then cheap functions of those arrays, so a new target
or confidence never draws again.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from metricbridge.counts import ScoreCounts
from metricbridge.criteria import Criteria, Criterion
from metricbridge.curve import POINT_METRICS, ThresholdCurve
from metricbridge.errors import CriteriaError
from metricbridge.outcomes import OUTCOME_KEYS, Outcomes, outcomes_at_rates, outcomes_for_curve
from metricbridge.scenario import Scenario
from metricbridge.uncertainty import (
    DEFAULT_BAND_BINS,
    DEFAULT_RESAMPLES,
    Bootstrap,
    ProgressCallback,
    build_bootstrap,
    percentile_interval,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Verdict", "CriteriaResult", "Choice", "Resampled", "resampled", "choose", "choice_margin", "verdicts",
           "bands", "judge", "choose_threshold", "decision_columns", "threshold_bootstrap_suffices"]

_TOLERANCE = 1e-9
_MARGIN_Z = 1.645  # a one-sided 95% bound (see choice_margin)
_MEMO_SCENARIOS = 16  # scenarios kept per bootstrap (an editing session moves through several)


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

    @property
    def threshold(self) -> float | None:
        """The chosen threshold, else the closest one."""
        return self.chosen if self.chosen is not None else self.closest


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
    bands: pd.DataFrame | None = None

    @property
    def met(self) -> bool:
        return all(v.verdict == "pass" for v in self.verdicts)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.criteria.name, "version": self.criteria.version, "threshold": self.threshold,
                "chosen_threshold": self.choice.chosen, "met": self.met,
                "verdicts": [v.to_dict() for v in self.verdicts], "resamples": self.resamples, "seed": self.seed,
                "bins": self.bins, "closest_threshold": self.choice.closest, "blocking": list(self.choice.blocking),
                "threshold_spread": list(self.choice.spread) if self.choice.spread else None}


# -- the bootstrap under a scenario ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Resampled:
    """A model's bootstrap under one scenario: its outcomes per resample at every coarse threshold (and on
    the coarse and exact cells themselves), and each status quo's on the same resamples."""

    bootstrap: Bootstrap
    scenario: Scenario | None
    outcomes: Outcomes | None
    point_outcomes: Outcomes | None
    status_quo: Mapping[str, Outcomes] = field(default_factory=dict)
    status_quo_point: Mapping[str, Outcomes] = field(default_factory=dict)
    memo: dict[Any, Any] = field(default_factory=dict, repr=False)  # per criterion: where it holds

    def holds(self, criterion: Criterion) -> tuple[np.ndarray, np.ndarray]:
        """Where ``criterion`` holds (resamples x coarse thresholds) and in what share of resamples at each
        threshold; kept, so a new confidence or another criterion's target costs nothing here. A criterion
        on a test-set or threshold-free figure with an absolute target does not depend on the scenario: it is
        kept with the bootstrap, so a scenario edit does not recompute it either."""
        memo = self.memo if criterion.kind == "outcome" or criterion.relative_to else self.bootstrap.kept
        key = ("holds", criterion)
        if key not in memo:
            holds = _holds(criterion, self.samples(criterion.metric), self.target(criterion))
            _remember(memo, key, (holds, holds.mean(axis=0)))
        return memo[key]  # type: ignore[no-any-return]

    def samples(self, metric: str) -> np.ndarray:
        """``metric`` per resample (rows) at every coarse threshold (columns); threshold-free figures are
        one column."""
        return _figure(metric, self.bootstrap.curve, self.outcomes, self.bootstrap)

    def point(self, metric: str) -> np.ndarray:
        """``metric`` of the coarse cells themselves at every coarse threshold."""
        free = self.bootstrap.exact_threshold_free
        if metric in free:
            value = free[metric]
            return np.full(len(self.bootstrap.thresholds), np.nan if value is None else value)
        return _figure(metric, self.bootstrap.point, self.point_outcomes, self.bootstrap)

    def target(self, criterion: Criterion) -> np.ndarray | float:
        """The criterion's target per resample (a multiple of a status quo's figure on the same resample)."""
        return _target(criterion, self.status_quo)

    def point_target(self, criterion: Criterion) -> float:
        return float(np.asarray(_target(criterion, self.status_quo_point)))


_MEMO_ENTRIES = 64  # criteria tried while editing (each a resamples x thresholds array of booleans)


def _remember(memo: dict[Any, Any], key: Any, value: Any) -> None:
    """Keep ``value`` under ``key``, forgetting the oldest entry beyond _MEMO_ENTRIES."""
    if len(memo) >= _MEMO_ENTRIES:
        memo.pop(next(iter(memo)))
    memo[key] = value


def decision_columns(scenario: Scenario | None) -> tuple[str, ...]:
    """The recorded-decision columns a scenario's status quos name: resampled with the model."""
    return scenario.status_quo_columns if scenario is not None else ()


def threshold_bootstrap_suffices(criteria: Criteria | None) -> bool:
    """Whether judging ``criteria`` at a given threshold needs the figures at that threshold alone (no ROC AUC,
    average precision, Brier or log loss target): then ``build_bootstrap(..., at=threshold)`` serves it."""
    return criteria is None or all(c.kind != "threshold_free" for c in criteria.criteria)


def resampled(bootstrap: Bootstrap, scenario: Scenario | None) -> Resampled:
    """``bootstrap`` under ``scenario``, computed once per scenario's numbers (renaming it or its nouns
    changes no figure) and kept with the bootstrap."""
    scenario = scenario.numbers() if scenario is not None else None
    memo = bootstrap.memo
    if scenario in memo:
        return memo[scenario]  # type: ignore[no-any-return]
    if scenario is None:
        result = Resampled(bootstrap=bootstrap, scenario=None, outcomes=None, point_outcomes=None)
    else:
        missing = [c for c in scenario.status_quo_columns if c not in bootstrap.decisions]
        if missing:
            raise CriteriaError(f"the bootstrap was drawn without the decision column(s) {', '.join(missing)}; "
                                "build it with decisions=scenario.status_quo_columns.")
        result = Resampled(
            bootstrap=bootstrap, scenario=scenario, outcomes=outcomes_for_curve(bootstrap.curve, scenario),
            point_outcomes=outcomes_for_curve(bootstrap.point, scenario),
            status_quo=_status_quo_outcomes(scenario, bootstrap.curve, bootstrap.decisions),
            status_quo_point=_status_quo_outcomes(scenario, bootstrap.exact, bootstrap.decisions_point))
    if len(memo) >= _MEMO_SCENARIOS:
        memo.pop(next(iter(memo)))
    memo[scenario] = result
    return result


def _status_quo_outcomes(scenario: Scenario, reference: ThresholdCurve,
                         decisions: Mapping[str, ThresholdCurve]) -> dict[str, Outcomes]:
    """Each status quo's outcomes: from its recorded decisions (the same cells' keys) or its stated rates."""
    return {entry.name: outcomes_at_rates(entry, scenario, reference=reference,
                                          decisions=decisions[entry.column] if entry.column else None)
            for entry in scenario.status_quo}


def _figure(metric: str, curve: ThresholdCurve, outcomes: Outcomes | None, bootstrap: Bootstrap) -> np.ndarray:
    if metric in bootstrap.threshold_free:
        return bootstrap.threshold_free[metric][:, None]
    if metric in POINT_METRICS:
        return np.asarray(getattr(curve, metric), dtype=float)
    if outcomes is None:
        raise CriteriaError(f"{metric!r} needs a scenario")
    return np.asarray(getattr(outcomes, metric), dtype=float)


def _target(criterion: Criterion, status_quo: Mapping[str, Outcomes]) -> np.ndarray | float:
    if criterion.relative_to is None:
        return criterion.bound
    figure = np.asarray(getattr(status_quo[criterion.relative_to], criterion.metric), dtype=float)
    return criterion.bound * figure[..., 0]


def _holds(criterion: Criterion, samples: np.ndarray, target: np.ndarray | float) -> np.ndarray:
    """Per resample and threshold: does the criterion hold (a per-resample target lines up with the rows)."""
    return np.asarray(criterion.holds(samples, np.asarray(target)[..., None] if np.ndim(target) else target))


def _labels_needed(samples: np.ndarray, target: np.ndarray | float, point: float | None, point_target: float,
                   confidence: float, n: int) -> int | None:
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


def choice_margin(confidence: float, resamples: int) -> float:
    """How far above the confidence a criterion's share of resamples must be for its threshold to be chosen.

    The threshold is chosen as the most aggressive one whose share just crosses the confidence, on the very
    resamples that then judge it: among many thresholds near the margin, some cross by the luck of the draw,
    so a choice at the bare confidence is a little optimistic (an independent bootstrap gave 0.889-0.923
    where 0.9 was claimed). A one-sided 95% bound of the share's Monte Carlo error keeps the chosen threshold
    at its confidence on independent resamples."""
    return _MARGIN_Z * math.sqrt(confidence * (1 - confidence) / max(resamples, 1))


def choose(figures: Resampled, criteria: Criteria) -> Choice:
    """The threshold that optimizes the objective among coarse thresholds within capacity where every
    criterion holds in at least the agreed confidence of the resamples, plus :func:`choice_margin`; else the
    closest and what blocks. Flagging nothing is never chosen."""
    criteria.check(figures.scenario)
    thresholds = figures.bootstrap.thresholds
    count = len(thresholds)
    confidence = criteria.confidence
    bar = confidence + choice_margin(confidence, figures.bootstrap.resamples)
    holds_each, passing = [], []
    for criterion in criteria.criteria:
        holds, probability = figures.holds(criterion)
        holds_each.append(holds)
        passing.append(np.broadcast_to(probability >= bar - _TOLERANCE, (count,)))
    direction, metric = criteria.objective_for(figures.scenario)
    objective = _objective_order(np.broadcast_to(figures.point(metric), (count,)), direction)
    feasible = (figures.point_outcomes.feasible if figures.point_outcomes is not None
                else np.ones(count, dtype=bool))
    candidates = np.arange(1, count)  # flagging nothing is not a threshold to choose
    passes = np.array(passing) if passing else np.ones((0, count), dtype=bool)
    spread, share = _spread(criteria, holds_each, figures, metric, direction, confidence)
    qualified = candidates[passes[:, candidates].all(axis=0) & feasible[candidates]]
    if len(qualified):
        best = float(thresholds[qualified[np.argmax(objective[qualified])]])
        return Choice(chosen=best, closest=best, spread=spread, spread_share=share)
    within = candidates[feasible[candidates]] if feasible[candidates].any() else candidates
    score = passes[:, within].sum(axis=0) if len(passes) else np.zeros(len(within))
    top = within[score == score.max()]
    closest = int(top[np.argmax(objective[top])])
    blocking = _blocking(criteria, passes, feasible, candidates, closest)
    return Choice(chosen=None, closest=float(thresholds[closest]), blocking=blocking, spread=spread,
                  spread_share=share)


def _blocking(criteria: Criteria, passing: np.ndarray, feasible: np.ndarray, candidates: np.ndarray,
              closest: int) -> tuple[str, ...]:
    """Why no threshold qualifies: criteria that never pass within capacity, else the ones failing together."""
    never = [c for c, row in zip(criteria.criteria, passing, strict=True)
             if not (row[candidates] & feasible[candidates]).any()]
    if never:
        return tuple(f"{c.describe()}: holds with the agreed confidence at no threshold within capacity"
                     for c in never)
    failing = [c.describe() for c, row in zip(criteria.criteria, passing, strict=True) if not row[closest]]
    return ("no threshold meets these together: " + "; ".join(failing),)


def _spread(criteria: Criteria, holds_each: list[np.ndarray], figures: Resampled, metric: str, direction: str,
            confidence: float) -> tuple[tuple[float, float] | None, float]:
    """The threshold each resample would choose (criteria holding in that resample, within capacity),
    and its central interval; with the share of resamples where some threshold qualified."""
    key = ("chosen per resample", criteria.criteria, metric, direction)
    if key not in figures.memo:
        thresholds = figures.bootstrap.thresholds
        ok = np.ones((figures.bootstrap.resamples, len(thresholds)), dtype=bool)
        for holds in holds_each:
            ok &= holds
        scenario, outcomes = figures.scenario, figures.outcomes
        if outcomes is not None and scenario is not None and scenario.capacity is not None:
            ok &= outcomes.feasible
        ok[:, 0] = False
        objective = np.broadcast_to(figures.samples(metric), ok.shape)
        order = np.where(ok, _objective_order(objective, direction), -np.inf)
        has = ok.any(axis=1)
        _remember(figures.memo, key, (thresholds[np.argmax(order, axis=1)[has]], float(has.mean())))
    chosen, share = figures.memo[key]
    if not len(chosen):
        return None, 0.0
    low, high = percentile_interval(chosen, confidence)
    return (float(low), float(high)), share


BAND_FIGURES = ("recall", "precision", "fpr", "value")


def bands(figures: Resampled, confidence: float, *, max_points: int | None = None,
          names: Sequence[str] = BAND_FIGURES) -> pd.DataFrame:
    """Per coarse threshold: the point figure and the central interval across resamples (``NAME``,
    ``NAME_low``, ``NAME_high`` for each of ``names``: recall, precision, fpr and, with a scenario, value).
    With ``max_points``, only that many thresholds spread evenly (both ends kept): what a chart draws. Each
    band is kept (the test-set ones with the bootstrap: a scenario edit recomputes only the value's)."""
    import pandas as pd

    thresholds = figures.bootstrap.thresholds
    rows = np.arange(len(thresholds))
    if max_points is not None and len(rows) > max_points:
        rows = np.unique(np.linspace(0, len(rows) - 1, max_points).astype(np.int64))
    frame = pd.DataFrame({"threshold": np.where(np.isfinite(thresholds[rows]), thresholds[rows], np.nan)})
    for name in names:
        if name in OUTCOME_KEYS and figures.outcomes is None:
            continue
        memo = figures.memo if name in OUTCOME_KEYS else figures.bootstrap.kept
        key = ("band", name, confidence, max_points)
        if key not in memo:
            low, high = percentile_interval(figures.samples(name)[:, rows], confidence)
            _remember(memo, key, (figures.point(name)[rows], low, high))
        frame[name], frame[f"{name}_low"], frame[f"{name}_high"] = memo[key]
    return frame


# -- verdicts at one threshold -----------------------------------------------------------------------------

def verdicts(figures: Resampled, criteria: Criteria, *, threshold: float, choice: Choice,
             bands: pd.DataFrame | None = None) -> CriteriaResult:
    """Verdicts, intervals and paired differences at ``threshold``: the resamples at that threshold (see
    :meth:`Bootstrap.column_at`), the point figures from the model's own cells."""
    scenario, boot = figures.scenario, figures.bootstrap
    criteria.check(scenario)
    column = boot.column_at(threshold)
    column_outcomes = outcomes_for_curve(column, scenario) if scenario is not None else None
    exact = boot.exact.take(np.array([boot.exact.index_at(threshold)]))
    exact_outcomes = outcomes_for_curve(exact, scenario) if scenario is not None else None
    confidence = criteria.confidence
    results = []
    for criterion in criteria.criteria:
        point_target = figures.point_target(criterion)
        if criterion.relative_to is not None and point_target / criterion.bound <= 0:
            raise CriteriaError(f"{criteria.name!r}: {criterion.describe()}: {criterion.relative_to}'s "
                                f"{criterion.metric} is {point_target / criterion.bound:g}, so a multiple of it "
                                "means nothing; use an absolute target instead.")
        if criterion.metric in boot.threshold_free:
            value = boot.exact_threshold_free[criterion.metric]
            samples = boot.threshold_free[criterion.metric]
        else:
            samples = _figure(criterion.metric, column, column_outcomes, boot)[:, 0]
            value = float(_figure(criterion.metric, exact, exact_outcomes, boot)[0])
        target = figures.target(criterion)
        probability = float(np.mean(criterion.holds(samples, target)))
        verdict = _verdict(probability, confidence)
        needed = None if verdict != "uncertain" else _labels_needed(
            samples, target, value, point_target, confidence, boot.counts.n_rows)
        results.append(Verdict(criterion=criterion, target=point_target,
                               value=None if value is None or math.isnan(value) else value,
                               probability=probability, verdict=verdict, labels_needed=needed))
    return CriteriaResult(criteria=criteria, threshold=threshold, choice=choice, verdicts=tuple(results),
                          intervals=_intervals(figures, column, column_outcomes, confidence),
                          differences=_differences(figures, column_outcomes, confidence),
                          resamples=boot.resamples, seed=boot.seed, bins=boot.bins, bands=bands)


Key = TypeVar("Key", bound=Hashable)


def _intervals_of(samples: Mapping[Key, np.ndarray], confidence: float) -> dict[Key, list[float]]:
    """The central interval of each named set of resamples, in one vectorized percentile."""
    if not samples:
        return {}
    low, high = percentile_interval(np.column_stack([np.asarray(v, dtype=float) for v in samples.values()]),
                                    confidence)
    return {key: [float(a), float(b)] for key, a, b in zip(samples, low, high, strict=True)}


def _intervals(figures: Resampled, column: ThresholdCurve, outcomes: Outcomes | None,
               confidence: float) -> dict[str, list[float]]:
    boot = figures.bootstrap
    samples = {key: np.asarray(getattr(column, key))[:, 0] for key in POINT_METRICS}
    samples |= {key: values for key, values in boot.threshold_free.items()  # around the exact figure
                if boot.exact_threshold_free[key] is not None}
    if outcomes is not None:
        samples |= {key: getattr(outcomes, key)[:, 0] for key in OUTCOME_KEYS}
    return _intervals_of(samples, confidence)


def _differences(figures: Resampled, outcomes: Outcomes | None,
                 confidence: float) -> dict[str, dict[str, list[float]]]:
    """Per status quo and outcome: the interval of model minus status quo on the same resamples."""
    if outcomes is None:
        return {}
    samples = {(name, key): getattr(outcomes, key)[:, 0] - np.asarray(getattr(sq, key))[..., 0]
               for name, sq in figures.status_quo.items() for key in OUTCOME_KEYS}
    intervals = _intervals_of(samples, confidence)
    return {name: {key: intervals[(name, key)] for key in OUTCOME_KEYS} for name in figures.status_quo}


# -- one call each, from counts (the bootstrap drawn for it) ---------------------------------------------

def _figures_of(counts: ScoreCounts, scenario: Scenario | None, *, resamples: int, seed: int, bins: int,
                progress: ProgressCallback | None = None, at: float | None = None) -> Resampled:
    boot = build_bootstrap(counts, decisions=decision_columns(scenario), resamples=resamples, seed=seed,
                           bins=bins, progress=progress, at=at)
    return resampled(boot, scenario)


def choose_threshold(counts: ScoreCounts, criteria: Criteria, scenario: Scenario | None, *,
                     resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
                     bins: int = DEFAULT_BAND_BINS) -> tuple[Choice, pd.DataFrame]:
    """:func:`choose` and :func:`bands` on a bootstrap drawn for this call."""
    figures = _figures_of(counts, scenario, resamples=resamples, seed=seed, bins=bins)
    return choose(figures, criteria), bands(figures, criteria.confidence)


def judge(counts: ScoreCounts, criteria: Criteria, scenario: Scenario | None, *, threshold: float,
          choice: Choice, bands: pd.DataFrame | None = None, resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
          bins: int = DEFAULT_BAND_BINS) -> CriteriaResult:
    """:func:`verdicts` on a bootstrap drawn for this call (reuse one with :func:`verdicts` instead): of the
    figures at ``threshold`` alone when the criteria need no other (:func:`threshold_bootstrap_suffices`)."""
    criteria.check(scenario)
    at = threshold if threshold_bootstrap_suffices(criteria) else None
    figures = _figures_of(counts, scenario, resamples=resamples, seed=seed, bins=bins, at=at)
    return verdicts(figures, criteria, threshold=threshold, choice=choice, bands=bands)
