"""Segments: the model judged on each value of a key (a channel, a region), not only on average (issue 11).

A model that meets its criteria on average can fail a segment that matters. A segment is an extra key of the
ScoreCounts cells, declared when counting starts (``counts_from_arrays(y, s, keys={"channel": channel})``), so
one segment's counts are ``counts.select(...)`` of its cells and nothing is counted twice. Everything here is a
pure function of ScoreCounts:

- :func:`segment_counts`: each segment's counts, in a stable order (by value as text, missing last);
- :func:`segment_report`: per segment, the figures and outcomes at the model's threshold, bootstrap intervals
  and verdicts, failing segments first, and a warning when the overall verdict and the segments' disagree;
- :func:`segment_gaps`: recall and false-alarm-rate gaps against a reference segment (equal opportunity, as
  fairness toolkits report it), with intervals from a stratified bootstrap;
- :func:`thresholds_under_capacity` and :func:`capacity_plan`: one threshold per segment under a shared
  number of actions, against the single threshold.

A segment's deployment is its share of the scenario's: under the scenario's prevalence pi (else the test
set's), the deployment's positives split between segments as the test set's positives do and its negatives as
its negatives do (the classes' mix of segments is taken to carry over), so the segments' caught, missed, false
alarms and actions add up to the whole deployment's. The capacity is shared, so no segment alone is held to it.

Each segment's bootstrap is drawn on its own, seeded by (seed, the segment's place in :func:`segment_counts`
order): segments are disjoint, so together the draws are a row bootstrap stratified by segment, and a gap
between two segments is taken resample by resample.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from metricbridge.counts import ScoreCounts, value_codes
from metricbridge.criteria import Criteria, Criterion
from metricbridge.curve import POINT_METRICS, ThresholdCurve, curve_from_counts, index_at, ratio
from metricbridge.errors import CriteriaError, InputError
from metricbridge.judge import (
    Choice,
    CriteriaResult,
    Verdict,
    decision_columns,
    resampled,
    threshold_bootstrap_suffices,
    verdicts,
)
from metricbridge.outcomes import OUTCOME_KEYS, outcomes_for_curve
from metricbridge.scenario import Scenario
from metricbridge.uncertainty import (
    DEFAULT_BAND_BINS,
    DEFAULT_RESAMPLES,
    Bootstrap,
    build_bootstrap,
    percentile_interval,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "FAIL", "UNCERTAIN", "PASS", "NOT_JUDGED", "TOO_FEW", "STATUS_ORDER", "GAP_METRICS", "DEFAULT_CONFIDENCE",
    "segment_counts", "segment_label", "segment_seed", "segment_scenario", "SegmentResult", "SegmentReport",
    "segment_report", "Gap", "segment_gaps", "SegmentShare", "CapacityPlan", "thresholds_under_capacity",
    "capacity_plan", "single_threshold_actions", "plan_outcomes",
]

# A segment's status, in the order a report lists them: what needs attention first.
FAIL, UNCERTAIN, PASS, NOT_JUDGED, TOO_FEW = "fail", "uncertain", "pass", "not judged", "too few items"
STATUS_ORDER = (FAIL, UNCERTAIN, PASS, NOT_JUDGED, TOO_FEW)
GAP_METRICS = ("recall", "fpr")  # equal opportunity: the share of positives caught, and of negatives flagged
DEFAULT_CONFIDENCE = 0.9  # the intervals' confidence without criteria (the criteria's own default)
_RATES = ("recall", "precision", "specificity", "fpr", "accuracy", "balanced_accuracy", "flag_rate")
_MONEY = ("value", "cost_of_errors")
_TIE = 1e-12  # relative slack on the shared budget of actions (sums of floats)


# -- the segments of a key -----------------------------------------------------------------------------------

def _text_order(value: Any) -> tuple[bool, str, str]:
    """Sort key: by value as text (type name breaking ties of equal text), missing last."""
    return (value is None, "" if value is None else str(value), type(value).__name__)


def cell_groups(values: np.ndarray) -> dict[Any, np.ndarray]:
    """Cell indexes (ascending, so cells keep their order) of each distinct value; NaN and None are one missing
    value, keyed None."""
    values = np.asarray(values)
    if values.dtype.kind == "f" and np.isnan(values).any():  # a missing number, as None
        filled = values.astype(object)
        filled[np.isnan(values)] = None
        values = filled
    codes, distinct = value_codes(values)
    names = distinct.tolist()
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    return {names[int(codes[part[0]])]: part for part in np.split(order, bounds) if len(part)}


def segment_counts(counts: ScoreCounts, key: str) -> dict[Any, ScoreCounts]:
    """Each segment's counts, keyed by the value of ``key`` (plain Python values; None for a missing value),
    sorted by value as text with missing last. The segments' cells partition ``counts``' cells. Raises InputError
    when the counts carry no such key."""
    if key not in counts.keys:
        known = ", ".join(repr(k) for k in counts.keys) or "none"
        raise InputError(f"the counts carry no key {key!r} (their keys: {known}); count with "
                         f"keys={{{key!r}: column}} to judge segments of {key!r}.")
    groups = cell_groups(counts.keys[key])
    return {value: counts.select(groups[value]) for value in sorted(groups, key=_text_order)}


def segment_label(segment: Any) -> str:
    """A segment's value as text ('missing' for a missing value)."""
    return "missing" if segment is None else str(segment)


def segment_seed(seed: int, index: int) -> int:
    """The bootstrap seed of the segment at ``index`` (its place in :func:`segment_counts` order): independent
    streams per segment, the same for the same (seed, index)."""
    return int(np.random.SeedSequence([seed, 11, index]).generate_state(1, dtype=np.uint32)[0])


def _positive_rows(counts: ScoreCounts) -> int:
    return int(counts.rows[counts.labels == 1].sum())


def _segment_scenario(scenario: Scenario, positives: float, negatives: float, whole_positives: float,
                      whole_negatives: float) -> Scenario:
    """The deployment of a segment with these weighted positives and negatives, out of the whole's."""
    pi = scenario.prevalence
    whole = whole_positives + whole_negatives
    if pi is None:  # the test set's prevalence: the segment's share of items and its own prevalence
        share = float(ratio(positives + negatives, whole, fill=0.0))
        return scenario.with_changes(volume=scenario.volume * share, capacity=None)
    positive_share = pi * float(ratio(positives, whole_positives, fill=0.0))
    negative_share = (1 - pi) * float(ratio(negatives, whole_negatives, fill=0.0))
    share = positive_share + negative_share
    prevalence = positive_share / share if 0 < positive_share < share else None  # one class: its own (0 or 1)
    return scenario.with_changes(volume=scenario.volume * share, prevalence=prevalence, capacity=None)


def segment_scenario(scenario: Scenario, segment: ScoreCounts, whole: ScoreCounts) -> Scenario:
    """The scenario's deployment restricted to ``segment`` of ``whole``: its volume the segment's share of the
    deployment's items, its prevalence the segment's under the scenario's (module docstring), no capacity of its
    own (the capacity is shared)."""
    return _segment_scenario(scenario, segment.positives, segment.negatives, whole.positives, whole.negatives)


# -- one segment -----------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class SegmentResult:
    """The model on one segment at the overall model's threshold.

    ``rows`` and ``positive_rows`` are data rows; ``n``, ``positives``, ``negatives`` weighted items, ``share``
    the segment's share of all weighted items. ``figures`` holds every POINT_METRIC at ``threshold`` (the
    segment's own cells); ``outcomes`` the outcome keys per period in the segment's share of the deployment
    (with a scenario); ``intervals`` the central bootstrap interval [low, high] of each figure and outcome;
    ``result`` the criteria judged on this segment (None without criteria or with too few items). ``status`` is
    one of STATUS_ORDER: with too few items (below ``min_items`` rows or ``min_positives`` positive rows) no
    number is judged and ``intervals`` is empty.
    """

    key: str
    segment: Any
    index: int  # place in segment_counts order (which seeds its bootstrap)
    rows: int
    positive_rows: int
    n: float
    positives: float
    negatives: float
    share: float
    threshold: float
    figures: dict[str, float]
    outcomes: dict[str, Any] | None
    intervals: dict[str, tuple[float, float]]
    result: CriteriaResult | None
    status: str
    unjudged: tuple[Criterion, ...] = ()  # relative to a status quo whose figure is 0 in this segment

    def __post_init__(self) -> None:
        if self.status not in STATUS_ORDER:
            raise ValueError(f"SegmentResult.status must be one of {STATUS_ORDER}, not {self.status!r}")

    @property
    def label(self) -> str:
        return segment_label(self.segment)

    @property
    def prevalence(self) -> float | None:
        """Share of positives among the segment's weighted items; None without items."""
        return self.positives / self.n if self.n > 0 else None

    @property
    def judged(self) -> bool:
        """Whether the segment had enough items to be judged."""
        return self.status != TOO_FEW

    @property
    def failing(self) -> tuple[Verdict, ...]:
        return () if self.result is None else tuple(v for v in self.result.verdicts if v.verdict == FAIL)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "segment": self.segment, "rows": self.rows, "positive_rows": self.positive_rows,
                "n": self.n, "positives": self.positives, "prevalence": self.prevalence, "share": self.share,
                "threshold": self.threshold, "status": self.status, "figures": _finite(self.figures),
                "outcomes": None if self.outcomes is None else _finite(self.outcomes),
                "intervals": {k: [_or_none(a), _or_none(b)] for k, (a, b) in self.intervals.items()},
                "verdicts": [] if self.result is None else [v.to_dict() for v in self.result.verdicts],
                "not_judged": [c.describe() for c in self.unjudged]}


def _or_none(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


def _finite(figures: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _or_none(v) for k, v in figures.items()}


def _status(result: CriteriaResult | None) -> str:
    if result is None or not result.verdicts:
        return NOT_JUDGED
    found = {v.verdict for v in result.verdicts}
    return FAIL if FAIL in found else UNCERTAIN if UNCERTAIN in found else PASS


def _intervals(boot: Bootstrap, scenario: Scenario | None, threshold: float,
               confidence: float) -> tuple[dict[str, tuple[float, float]], ThresholdCurve]:
    """The central interval of every figure (and outcome, with a scenario) at ``threshold``, and the resamples'
    column there."""
    column = boot.column_at(threshold)
    samples = {name: np.asarray(getattr(column, name), dtype=float)[:, 0] for name in POINT_METRICS}
    if scenario is not None:
        outcomes = outcomes_for_curve(column, scenario)
        samples |= {name: np.asarray(getattr(outcomes, name), dtype=float)[:, 0] for name in OUTCOME_KEYS}
    low, high = percentile_interval(np.column_stack(list(samples.values())), confidence)
    return {name: (float(a), float(b)) for name, a, b in zip(samples, low, high, strict=True)}, column


def _per_segment(criteria: Criteria) -> tuple[Criteria | None, tuple[Criterion, ...]]:
    """The criteria a segment can be judged on, and the rest: an absolute target per period (caught at least
    100 a week) is the whole deployment's, so it means nothing for a share of it; a target relative to a status
    quo (value at least 1.2 x the rule's) compares both on the segment."""
    kept = tuple(c for c in criteria.criteria if c.kind != "outcome" or c.relative_to)
    skipped = tuple(c for c in criteria.criteria if c not in kept)
    return (replace(criteria, criteria=kept) if kept else None), skipped


@dataclass(frozen=True, slots=True)
class _Judged:
    result: SegmentResult
    column: ThresholdCurve | None  # the bootstrap's resamples at the threshold (judged segments only)


def _judge_segment(counts: ScoreCounts, *, key: str, segment: Any, index: int, whole: ScoreCounts,
                   threshold: float, criteria: Criteria | None, scenario: Scenario | None, choice: Choice,
                   resamples: int, seed: int, bins: int, confidence: float, min_items: int,
                   min_positives: int) -> _Judged:
    curve = curve_from_counts(counts)
    local = segment_scenario(scenario, counts, whole) if scenario is not None else None
    outcomes = outcomes_for_curve(curve, local).at(threshold) if local is not None else None
    rows, positive_rows = counts.n_rows, _positive_rows(counts)
    common = {"key": key, "segment": segment, "index": index, "rows": rows, "positive_rows": positive_rows,
              "n": counts.n, "positives": counts.positives, "negatives": counts.negatives,
              "share": float(ratio(counts.n, whole.n, fill=0.0)), "threshold": threshold,
              "figures": curve.at(threshold), "outcomes": outcomes}
    if rows < min_items or positive_rows < min_positives:
        return _Judged(SegmentResult(**common, intervals={}, result=None, status=TOO_FEW), None)
    boot = build_bootstrap(counts, decisions=decision_columns(local), resamples=resamples,
                           seed=segment_seed(seed, index), bins=bins,
                           at=threshold if threshold_bootstrap_suffices(criteria) else None)
    intervals, column = _intervals(boot, local, threshold, confidence)
    result: CriteriaResult | None = None
    unjudged: tuple[Criterion, ...] = ()
    if criteria is not None:
        result, unjudged = _judged_where_meaningful(resampled(boot, local), criteria, threshold, choice)
    return _Judged(SegmentResult(**common, intervals=intervals, result=result, status=_status(result),
                                 unjudged=unjudged), column)


def _judged_where_meaningful(figures: Any, criteria: Criteria, threshold: float,
                             choice: Choice) -> tuple[CriteriaResult | None, tuple[Criterion, ...]]:
    """The criteria judged on a segment, leaving out those relative to a status quo whose figure is 0 there (a
    multiple of nothing means nothing: the rule catches no fraud in this segment); the others still count."""
    try:
        return verdicts(figures, criteria, threshold=threshold, choice=choice), ()
    except CriteriaError:
        pass
    kept, left = [], []
    for criterion in criteria.criteria:
        try:
            verdicts(figures, replace(criteria, criteria=(criterion,)), threshold=threshold, choice=choice)
            kept.append(criterion)
        except CriteriaError:
            left.append(criterion)
    if not kept:
        return None, tuple(left)
    return verdicts(figures, replace(criteria, criteria=tuple(kept)), threshold=threshold, choice=choice), tuple(left)


def _shortfall(verdict: Verdict) -> float:
    """How far a figure misses its target, relative to the target (an undefined figure misses most)."""
    if verdict.value is None:
        return math.inf
    gap = verdict.target - verdict.value if verdict.criterion.comparison == "at_least" else (
        verdict.value - verdict.target)
    return gap / abs(verdict.target) if verdict.target else gap


def _badness(result: SegmentResult) -> tuple[float, float, float]:
    """Sort key of failing segments, worst first: the least probability that a failing criterion holds, then
    the largest relative shortfall, then the larger segment."""
    failing = result.failing
    if not failing:
        return (math.inf, 0.0, 0.0)
    return (min(v.probability for v in failing), -max(_shortfall(v) for v in failing), -result.n)


# -- gaps between segments --------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class Gap:
    """One segment's ``metric`` (recall or fpr) against the reference segment's, at the threshold.

    ``difference`` = figure - reference_figure and ``ratio`` = figure / reference_figure (NaN when the
    reference's is 0), each with the central interval of the same quantity across a stratified bootstrap
    (each segment drawn on its own, the gap taken resample by resample) at ``confidence``.
    """

    key: str
    segment: Any
    reference: Any
    metric: str
    figure: float
    reference_figure: float
    difference: float
    difference_interval: tuple[float, float]
    ratio: float
    ratio_interval: tuple[float, float]
    confidence: float

    @property
    def settled(self) -> bool:
        """Whether the interval of the difference excludes 0: a gap the data shows, not one the draw could."""
        low, high = self.difference_interval
        return bool(low > 0 or high < 0)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "segment": self.segment, "reference": self.reference, "metric": self.metric,
                "figure": _or_none(self.figure), "reference_figure": _or_none(self.reference_figure),
                "difference": _or_none(self.difference),
                "difference_interval": [_or_none(v) for v in self.difference_interval],
                "ratio": _or_none(self.ratio), "ratio_interval": [_or_none(v) for v in self.ratio_interval],
                "confidence": self.confidence, "settled": self.settled}


def _reference(judged: Sequence[SegmentResult], reference: Any, key: str) -> SegmentResult | None:
    if reference is None:
        return max(judged, key=lambda r: r.n, default=None)  # the largest; the first in order among equals
    for result in judged:
        if result.segment == reference:
            return result
    names = ", ".join(repr(r.segment) for r in judged) or "none"
    raise InputError(f"the reference segment {reference!r} is not a segment of {key!r} with enough items to "
                     f"judge (those are: {names}); name one of them, or leave the reference out for the largest.")


def _gaps(judged: Sequence[_Judged], *, key: str, reference: Any, metrics: Sequence[str],
          confidence: float) -> tuple[Any, tuple[Gap, ...]]:
    kept = [j for j in judged if j.column is not None]
    base = _reference([j.result for j in kept], reference, key)
    if base is None:
        return None, ()
    base_column = next(j.column for j in kept if j.result is base)
    gaps = []
    for judged_segment in kept:
        result, column = judged_segment.result, judged_segment.column
        if result is base or column is None or base_column is None:
            continue
        for metric in metrics:
            mine = np.asarray(getattr(column, metric), dtype=float)[:, 0]
            theirs = np.asarray(getattr(base_column, metric), dtype=float)[:, 0]
            (d_low, r_low), (d_high, r_high) = percentile_interval(
                np.column_stack([mine - theirs, ratio(mine, theirs)]), confidence)
            figure, reference_figure = result.figures[metric], base.figures[metric]
            gaps.append(Gap(key=key, segment=result.segment, reference=base.segment, metric=metric, figure=figure,
                            reference_figure=reference_figure, difference=figure - reference_figure,
                            difference_interval=(float(d_low), float(d_high)),
                            ratio=float(ratio(figure, reference_figure)),
                            ratio_interval=(float(r_low), float(r_high)), confidence=confidence))
    return base.segment, tuple(gaps)


# -- the report --------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class SegmentReport:
    """Every segment of ``key`` at ``threshold``: ``results`` failing first (worst first), then uncertain,
    passing, not judged (no criteria) and too few items, each group in segment order; ``overall`` the criteria
    judged on all the counts; ``skipped`` the criteria judged for the whole deployment only (absolute targets
    per period); ``gaps`` each judged segment against ``reference`` (the largest judged segment unless named)."""

    key: str
    threshold: float
    results: tuple[SegmentResult, ...]
    overall: CriteriaResult | None
    skipped: tuple[Criterion, ...]
    gaps: tuple[Gap, ...]
    reference: Any
    confidence: float
    min_items: int
    min_positives: int
    scenario: Scenario | None = None
    resamples: int = DEFAULT_RESAMPLES
    seed: int = 0

    def result(self, segment: Any) -> SegmentResult:
        for result in self.results:
            if result.segment == segment:
                return result
        raise KeyError(segment)

    def worst(self) -> SegmentResult | None:
        """The worst failing segment (the least probability that its failing criteria hold, then the largest
        shortfall), or None when no segment fails."""
        failing = [r for r in self.results if r.status == FAIL]
        return min(failing, key=_badness) if failing else None

    @property
    def warning(self) -> str | None:
        """A sentence when the overall verdict and the segments' point different ways, else None."""
        if self.overall is None:
            return None
        judged = [r for r in self.results if r.status in (FAIL, UNCERTAIN, PASS)]
        failing = [r for r in judged if r.status == FAIL]
        words = self.key.replace("_", " ")
        where = words if words.lower().endswith("segment") else f"{words} segment"
        if self.overall.met and failing:
            names = ", ".join(f"'{r.label}'" for r in failing)
            return (f"Overall the model meets the criteria, but it fails them in {len(failing)} of {len(judged)} "
                    f"{where}s judged ({names}): an average can hide a segment that matters.")
        judged_overall = [v for v in self.overall.verdicts if v.criterion not in self.skipped]
        overall_short = any(v.verdict != PASS for v in judged_overall)
        if overall_short and judged and all(r.status == PASS for r in judged):
            return (f"Overall the model does not meet the criteria, yet it meets them in every {where} judged: "
                    "the segments differ in size, prevalence or score range, and the figure that falls short "
                    "overall mixes them (see the overall verdicts).")
        return None

    def headline(self) -> str | None:
        """One sentence naming the worst failing segment (:meth:`worst`) and the criterion it misses most, for the
        top of a report or a stakeholder page ("In the 'mobile' channel the model catches 41% of frauds: below
        the agreed 50%."); None when no segment fails."""
        worst = self.worst()
        if worst is None:
            return None
        verdict = min(worst.failing, key=lambda v: (v.probability, -_shortfall(v)))
        sentence = _Words.of(self.scenario, self.key).verdict(worst, verdict)
        failing = sum(r.status == FAIL for r in self.results)
        if failing > 1:
            noun = _segment_noun(self.key)
            sentence = sentence.removesuffix(".") + f" (the worst of the {failing} {noun}s that fail)."
        return sentence

    def sentences(self) -> list[str]:
        """The report in plain words, in the scenario's nouns: the warning first, then one sentence per failing
        or uncertain criterion of a segment, or one per segment otherwise."""
        words = _Words.of(self.scenario, self.key)
        out = [self.warning] if self.warning else []
        for result in self.results:
            out += words.segment_sentences(result, self.min_items, self.min_positives)
        if self.skipped:
            targets = "; ".join(c.describe() for c in self.skipped)
            out.append(f"Targets per {words.period} for the whole deployment ({targets}) are judged overall only.")
        return out

    def to_frame(self) -> pd.DataFrame:
        """One row per segment, in report order: its size, status, figures and their intervals."""
        import pandas as pd

        rows = []
        for result in self.results:
            row: dict[str, Any] = {"segment": result.label, "status": result.status, "rows": result.rows,
                                   "n": result.n, "positives": result.positives, "prevalence": result.prevalence,
                                   "share": result.share}
            row |= result.figures | (result.outcomes or {})
            row |= {f"{k}_low": a for k, (a, _) in result.intervals.items()}
            row |= {f"{k}_high": b for k, (_, b) in result.intervals.items()}
            rows.append(row)
        return pd.DataFrame(rows).drop(columns=["period"], errors="ignore")

    def to_dict(self) -> dict[str, Any]:
        worst = self.worst()
        return {"key": self.key, "threshold": self.threshold, "confidence": self.confidence,
                "min_items": self.min_items, "min_positives": self.min_positives, "resamples": self.resamples,
                "seed": self.seed, "overall": None if self.overall is None else self.overall.to_dict(),
                "warning": self.warning, "worst": None if worst is None else worst.segment,
                "skipped": [c.describe() for c in self.skipped], "reference": self.reference,
                "segments": [r.to_dict() for r in self.results], "gaps": [g.to_dict() for g in self.gaps]}


def segment_report(counts: ScoreCounts, key: str, *, threshold: float, criteria: Criteria | None = None,
                   scenario: Scenario | None = None, resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
                   min_items: int = 100, min_positives: int = 10, confidence: float | None = None,
                   bins: int = DEFAULT_BAND_BINS, choice: Choice | None = None,
                   overall: CriteriaResult | None = None, reference: Any = None,
                   gap_metrics: Sequence[str] = GAP_METRICS,
                   progress: Callable[[float, str], None] | None = None) -> SegmentReport:
    """Judge every segment of ``key`` at ``threshold`` (the overall model's).

    ``confidence`` overrides the criteria's (default: theirs, else DEFAULT_CONFIDENCE for the intervals). The
    whole counts are judged with the same bootstrap settings (seed ``seed``, as :func:`judge.judge` would)
    unless ``overall`` gives that result already. ``choice`` is the one Choice every verdict carries (the
    overall's when ``overall`` is given; else a Choice that chose nothing: the threshold was given). Segments
    with fewer than ``min_items`` rows or ``min_positives`` positive rows are listed as too few items and not
    judged. ``reference`` names the segment the gaps compare against (default: the largest judged one).
    ``progress`` hears the share of segments judged, with the segment being judged.
    """
    if min_items < 0 or min_positives < 0:
        raise InputError(f"min_items and min_positives must be 0 or more, not {min_items} and {min_positives}.")
    if criteria is not None and confidence is not None:
        criteria = replace(criteria, confidence=confidence)
    level = confidence if confidence is not None else criteria.confidence if criteria else DEFAULT_CONFIDENCE
    if not 0 < level < 1:
        raise InputError(f"confidence must lie strictly between 0 and 1, not {level:g}.")
    segments = segment_counts(counts, key)
    choice = choice or (overall.choice if overall is not None else Choice(chosen=None, closest=None))
    per_segment, skipped = (None, ()) if criteria is None else _per_segment(criteria)
    if criteria is not None:
        criteria.check(scenario)
        if overall is None:
            boot = build_bootstrap(counts, decisions=decision_columns(scenario), resamples=resamples, seed=seed,
                                   bins=bins, at=threshold if threshold_bootstrap_suffices(criteria) else None)
            overall = verdicts(resampled(boot, scenario), criteria, threshold=threshold, choice=choice)
    judged = []
    for index, (segment, part) in enumerate(segments.items()):
        if progress:
            progress(index / len(segments), f"{segment_label(segment)} ({index + 1} of {len(segments)})")
        judged.append(_judge_segment(part, key=key, segment=segment, index=index, whole=counts, threshold=threshold,
                                     criteria=per_segment, scenario=scenario, choice=choice, resamples=resamples,
                                     seed=seed, bins=bins, confidence=level, min_items=min_items,
                                     min_positives=min_positives))
    base, gaps = _gaps(judged, key=key, reference=reference, metrics=gap_metrics, confidence=level)
    rank = {status: place for place, status in enumerate(STATUS_ORDER)}
    ordered = sorted((j.result for j in judged), key=lambda r: (
        rank[r.status], _badness(r) if r.status == FAIL else (0.0, 0.0, 0.0), r.index))
    return SegmentReport(key=key, threshold=threshold, results=tuple(ordered), overall=overall, skipped=skipped,
                         gaps=gaps, reference=base, confidence=level, min_items=min_items,
                         min_positives=min_positives, scenario=scenario, resamples=resamples, seed=seed)


def segment_gaps(counts: ScoreCounts, key: str, *, threshold: float, reference: Any = None,
                 metrics: Sequence[str] = GAP_METRICS, resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
                 bins: int = DEFAULT_BAND_BINS, confidence: float = DEFAULT_CONFIDENCE, min_items: int = 100,
                 min_positives: int = 10) -> tuple[Gap, ...]:
    """Recall and false-alarm-rate gaps (or ``metrics``, any POINT_METRIC) of every judged segment of ``key``
    against ``reference`` (default: the largest judged segment) at ``threshold``: the same bootstraps and seeds
    as :func:`segment_report`, so both give the same intervals."""
    unknown = [m for m in metrics if m not in POINT_METRICS]
    if unknown:
        raise InputError(f"unknown gap metric {unknown[0]!r}; use figures at a threshold: {', '.join(POINT_METRICS)}.")
    return segment_report(counts, key, threshold=threshold, resamples=resamples, seed=seed, bins=bins,
                          confidence=confidence, min_items=min_items, min_positives=min_positives,
                          reference=reference, gap_metrics=metrics).gaps


# -- words ----------------------------------------------------------------------------------------------------

def _segment_noun(key: str) -> str:
    """What one segment of ``key`` is called: 'merchant segment', 'channel segment'."""
    words = key.replace("_", " ")
    return words if words.lower().endswith("segment") else f"{words} segment"


def _percent(value: float) -> str:
    """41%, 41.5%: a rate for reading."""
    return f"{100 * value:.1f}".removesuffix(".0") + "%"


@dataclass(frozen=True, slots=True)
class _Words:
    """The scenario's nouns (or plain ones) and the key's, for sentences."""

    items: str
    positives: str
    period: str
    currency: str | None
    key: str

    @classmethod
    def of(cls, scenario: Scenario | None, key: str) -> _Words:
        # narrative sits above this layer (it loads the evaluation, and with it DuckDB): its plural rule is
        # imported when words are asked for, which the presentation layers have loaded already
        from metricbridge.narrative import plural

        if scenario is None:
            return cls(items="items", positives="positives", period="period", currency=None,
                       key=key.replace("_", " "))
        return cls(items=plural(scenario.item), positives=plural(scenario.positive), period=scenario.period,
                   currency=scenario.currency, key=key.replace("_", " "))

    def where(self, result: SegmentResult) -> str:
        if result.segment is None:
            return f"Where the {self.key} is missing"
        return f"In the '{result.label}' {self.key}"

    def amount(self, metric: str, value: float) -> str:
        if metric in _RATES:
            return _percent(value)
        if metric in _MONEY:
            return f"{value:,.0f}" + (f" {self.currency}" if self.currency else "")
        if metric in OUTCOME_KEYS:
            return f"{value:,.0f}"
        return f"{value:.3g}"

    def figure(self, metric: str, value: float | None) -> str:
        """What the model does, in words: 'the model catches 41% of frauds'."""
        if value is None:
            return f"the {metric.replace('_', ' ')} cannot be computed (nothing to divide by)"
        shown = self.amount(metric, value)
        phrases = {
            "recall": f"the model catches {shown} of {self.positives}",
            "precision": f"{shown} of the {self.items} it flags are {self.positives}",
            "fpr": f"the model flags {shown} of the {self.items} that are not {self.positives}",
            "specificity": f"the model leaves alone {shown} of the {self.items} that are not {self.positives}",
            "flag_rate": f"the model flags {shown} of {self.items}",
            "accuracy": f"the model decides {shown} of {self.items} right",
        }
        if metric in phrases:
            return phrases[metric]
        if metric in OUTCOME_KEYS:
            return f"its {metric.replace('_', ' ')} per {self.period} is {shown}"
        return f"its {metric.replace('_', ' ')} is {shown}"

    def target(self, verdict: Verdict) -> str:
        criterion = verdict.criterion
        shown = self.amount(criterion.metric, verdict.target)
        if criterion.relative_to:
            return f"the agreed {criterion.bound:g} x {criterion.relative_to}'s ({shown})"
        return f"the agreed {shown}"

    def verdict(self, result: SegmentResult, verdict: Verdict) -> str:
        start = f"{self.where(result)} {self.figure(verdict.criterion.metric, verdict.value)}"
        target = self.target(verdict)
        if verdict.verdict == FAIL:
            side = "below" if verdict.criterion.comparison == "at_least" else "above"
            return f"{start}: {side} {target}."
        text = (f"{start}: too close to {target} to tell ({_percent(verdict.probability)} of the resamples meet "
                "it")
        if verdict.labels_needed:
            text += f"; about {verdict.labels_needed:,} more labelled {self.items} in this segment would settle it"
        return text + ")."

    def segment_sentences(self, result: SegmentResult, min_items: int, min_positives: int) -> list[str]:
        if result.status == TOO_FEW:
            return [f"{self.where(result)} there are too few {self.items} to judge: {result.rows:,}, of which "
                    f"{result.positive_rows:,} {self.positives} (at least {min_items:,} and {min_positives:,} "
                    "needed)."]
        if result.status in (FAIL, UNCERTAIN):
            return [self.verdict(result, v) for v in (result.result.verdicts if result.result else ())
                    if v.verdict == result.status]
        recall = result.figures["recall"]
        what = self.figure("recall", None if math.isnan(recall) else recall)
        low, high = result.intervals.get("recall", (math.nan, math.nan))
        if not (math.isnan(low) or math.isnan(high)):
            what += f" ({_percent(low)} to {_percent(high)})"
        left = "; ".join(c.describe() for c in result.unjudged)
        unjudged = f" ({left}: not judged here, as that status quo's figure is 0 in this segment)" if left else ""
        if result.status == PASS:
            it = what.replace("the model ", "it ", 1)
            every = "every other agreed target" if unjudged else "every agreed target"
            return [f"{self.where(result)} the model meets {every}: {it}{unjudged}."]
        return [f"{self.where(result)} {what}, and flags {_percent(result.figures['flag_rate'])} of "
                f"{self.items}{unjudged}."]


# -- one threshold per segment under a shared capacity ---------------------------------------------------------

def _value_curves(segments: Mapping[Any, ScoreCounts],
                  scenario: Scenario | None) -> dict[Any, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per segment: its thresholds (flag-nothing first), the actions and the gain over flagging nothing at each
    (per period with a scenario: actions and value; else weighted flagged items and caught positives)."""
    whole_positives = sum(part.positives for part in segments.values())
    whole_negatives = sum(part.negatives for part in segments.values())
    curves = {}
    for segment, part in segments.items():
        curve = curve_from_counts(part)
        if scenario is None:
            actions, gain = np.asarray(curve.flagged, dtype=float), np.asarray(curve.tp, dtype=float)
        else:
            local = _segment_scenario(scenario, part.positives, part.negatives, whole_positives, whole_negatives)
            outcomes = outcomes_for_curve(curve, local)
            actions = np.asarray(outcomes.actions, dtype=float)
            gain = np.asarray(outcomes.value, dtype=float) - float(outcomes.value[0])
        curves[segment] = (curve.thresholds, actions, gain)
    return curves


def _upper_hull(actions: np.ndarray, gain: np.ndarray) -> list[int]:
    """Indices of the upper concave hull of the points (actions, gain) from flag-nothing on, keeping points on a
    straight run (so a run of equal steps can be taken one at a time)."""
    hull: list[int] = []
    for i in range(len(actions)):
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            cross = (actions[b] - actions[a]) * (gain[i] - gain[a]) - (gain[b] - gain[a]) * (actions[i] - actions[a])
            scale = max(abs(actions[i] - actions[a]) * abs(gain[i] - gain[a]), 1e-300)
            if cross > 1e-12 * scale:  # b lies below the line from a to i
                hull.pop()
            else:
                break
        hull.append(i)
    return hull


def _budget(segments: Mapping[Any, ScoreCounts], actions: float | None, capacity_share: float | None,
            scenario: Scenario | None) -> float:
    if actions is not None and capacity_share is not None:
        raise InputError("give the shared capacity as actions or as capacity_share, not both.")
    if actions is None and capacity_share is None:
        if scenario is not None and scenario.capacity is not None:
            return float(scenario.capacity)
        raise InputError("give the shared capacity: actions (per period with a scenario, else flagged items of "
                         "the data) or capacity_share (the share of all items that can be flagged).")
    if capacity_share is not None:
        if not 0 <= capacity_share <= 1:
            raise InputError(f"capacity_share must lie between 0 and 1, not {capacity_share:g}.")
        total = scenario.volume if scenario is not None else sum(part.n for part in segments.values())
        return float(capacity_share * total)
    assert actions is not None
    if not actions >= 0:
        raise InputError(f"actions must be 0 or more, not {actions!r}.")
    return float(actions)


def _greedy(curves: Mapping[Any, tuple[np.ndarray, np.ndarray, np.ndarray]], budget: float) -> dict[Any, int]:
    """Per segment, the index of its threshold: steps along each segment's hull, the one adding the most gain
    per action first, while they fit the budget; then, with what is left, the furthest point short of each
    blocked step that still gains. Optimal when every curve is concave and its steps can be taken one item at a
    time; a close heuristic otherwise."""
    limit = budget * (1 + _TIE) + _TIE
    hulls = {segment: _upper_hull(actions, gain) for segment, (_, actions, gain) in curves.items()}
    at = {segment: 0 for segment in curves}
    order = {segment: place for place, segment in enumerate(curves)}
    queue: list[tuple[float, int, int, Any]] = []

    def push(segment: Any, step: int) -> None:
        hull = hulls[segment]
        if step + 1 >= len(hull):
            return
        _, actions, gain = curves[segment]
        added = actions[hull[step + 1]] - actions[hull[step]]
        worth = gain[hull[step + 1]] - gain[hull[step]]
        per_action = math.inf if added <= 0 and worth > 0 else float(ratio(worth, added, fill=-math.inf))
        heapq.heappush(queue, (-per_action, order[segment], step, segment))

    for segment in curves:
        push(segment, 0)
    used, blocked = 0.0, []
    while queue:
        negative_rate, _, step, segment = heapq.heappop(queue)
        if -negative_rate <= 0:
            break  # every step left loses value (or gains nothing) per action
        _, actions, _ = curves[segment]
        hull = hulls[segment]
        added = actions[hull[step + 1]] - actions[hull[step]]
        if used + added <= limit:
            used += added
            at[segment] = hull[step + 1]
            push(segment, step + 1)
        else:
            blocked.append((segment, hull[step + 1]))
    for segment, target in blocked:  # best ratio first: the order they were blocked in
        _, actions, gain = curves[segment]
        start = at[segment]
        room = limit - used
        within = np.arange(start + 1, target)
        within = within[(actions[within] - actions[start] <= room) & (gain[within] > gain[start])]
        if len(within):
            best = int(within[np.argmax(gain[within])])
            used += actions[best] - actions[start]
            at[segment] = best
    return at


def thresholds_under_capacity(segments: Mapping[Any, ScoreCounts], *, actions: float | None = None,
                              capacity_share: float | None = None,
                              scenario: Scenario | None = None) -> dict[Any, float]:
    """One threshold per segment (``inf``: flag none of it) whose actions together fit a shared capacity, chosen
    greedily: the next flagged items go to the segment whose next threshold step adds the most gain per action
    (value per period with a scenario, each segment in its share of the deployment; else caught positives),
    until the capacity is used or no step gains. Optimal when each segment's gain curve is concave and its steps
    are even; otherwise never worse than the best single threshold within the same capacity, which it falls back
    to when that gains more.

    The capacity is ``actions`` (per period with a scenario; else weighted flagged items of the data), or
    ``capacity_share`` of all items (of the scenario's volume, or of the segments' items), or the scenario's
    capacity. ``segments`` are disjoint parts of one evaluation (:func:`segment_counts`); their sum is the
    whole."""
    plan = capacity_plan(segments, actions=actions, capacity_share=capacity_share, scenario=scenario)
    return plan.thresholds


@dataclass(frozen=True, slots=True, kw_only=True)
class SegmentShare:
    """One segment under the shared capacity: its own threshold with the actions it takes and what it gains over
    flagging none of it, and the same under the single threshold."""

    segment: Any
    threshold: float
    actions: float
    gain: float
    single_actions: float
    single_gain: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CapacityPlan:
    """Per-segment thresholds under a shared ``budget`` of actions, against ``single_threshold`` for all.

    ``measure`` says what gain counts: "value" (per ``period``, in the scenario's currency) or "caught"
    (weighted positives of the data). ``single_threshold`` is the one given, else the best single threshold
    within the budget."""

    budget: float
    measure: str
    period: str | None
    single_threshold: float
    shares: tuple[SegmentShare, ...]

    @property
    def thresholds(self) -> dict[Any, float]:
        return {share.segment: share.threshold for share in self.shares}

    @property
    def actions(self) -> float:
        return float(sum(share.actions for share in self.shares))

    @property
    def gain(self) -> float:
        return float(sum(share.gain for share in self.shares))

    @property
    def single_actions(self) -> float:
        return float(sum(share.single_actions for share in self.shares))

    @property
    def single_gain(self) -> float:
        return float(sum(share.single_gain for share in self.shares))

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame([{"segment": segment_label(s.segment), "threshold": s.threshold, "actions": s.actions,
                              "gain": s.gain, "single_actions": s.single_actions, "single_gain": s.single_gain}
                             for s in self.shares])


def _single(curves: Mapping[Any, tuple[np.ndarray, np.ndarray, np.ndarray]], budget: float,
            threshold: float | None) -> float:
    """The given threshold, else the single threshold of most total gain whose total actions fit the budget
    (fewer actions among ties; flag-nothing always fits)."""
    if threshold is not None:
        return threshold
    candidates = np.unique(np.concatenate([thresholds for thresholds, _, _ in curves.values()]))[::-1]
    total_actions, total_gain = np.zeros(len(candidates)), np.zeros(len(candidates))
    for thresholds, actions, gain in curves.values():
        at = np.maximum(0, np.searchsorted(-thresholds, -candidates, side="right") - 1)  # index_at, vectorized
        total_actions += actions[at]
        total_gain += gain[at]
    fits = total_actions <= budget * (1 + _TIE) + _TIE
    best = np.where(fits, total_gain, -np.inf)
    ties = np.flatnonzero(best >= best.max() - 1e-9 * max(1.0, abs(best.max())))
    return float(candidates[ties[np.argmin(total_actions[ties])]])


def capacity_plan(segments: Mapping[Any, ScoreCounts], *, actions: float | None = None,
                  capacity_share: float | None = None, scenario: Scenario | None = None,
                  threshold: float | None = None) -> CapacityPlan:
    """:func:`thresholds_under_capacity` with what each segment costs and gains, against ``threshold`` for all
    segments (default: the best single threshold within the same capacity)."""
    if not segments:
        raise InputError("no segments to share the capacity between.")
    budget = _budget(segments, actions, capacity_share, scenario)
    curves = _value_curves(segments, scenario)
    chosen = _greedy(curves, budget)
    best_single = _single(curves, budget, None)
    at_single = {segment: index_at(thresholds, best_single) for segment, (thresholds, _, _) in curves.items()}

    def total(at: Mapping[Any, int]) -> float:
        return float(sum(curves[segment][2][index] for segment, index in at.items()))

    if total(at_single) > total(chosen) + 1e-9 * max(1.0, abs(total(chosen))):
        chosen = at_single  # where steps are uneven the greedy can fall short of one threshold for all: never worse
    single = best_single if threshold is None else threshold
    shares = []
    for segment, (thresholds, actions_at, gain) in curves.items():
        own, one = chosen[segment], index_at(thresholds, single)
        shares.append(SegmentShare(segment=segment, threshold=float(thresholds[own]), actions=float(actions_at[own]),
                                   gain=float(gain[own]), single_actions=float(actions_at[one]),
                                   single_gain=float(gain[one])))
    return CapacityPlan(budget=budget, measure="value" if scenario is not None else "caught",
                        period=scenario.period if scenario is not None else None, single_threshold=single,
                        shares=tuple(shares))


def single_threshold_actions(segments: Mapping[Any, ScoreCounts], threshold: float, *,
                             scenario: Scenario | None = None) -> float:
    """The actions one ``threshold`` for every segment takes, in the units of :func:`capacity_plan` (per period
    with a scenario, each segment in its share of the deployment; else weighted flagged items of the data): the
    budget to share when the scenario names no capacity."""
    curves = _value_curves(segments, scenario)
    return float(sum(actions[index_at(thresholds, threshold)] for thresholds, actions, _ in curves.values()))


def plan_outcomes(plan: CapacityPlan, segments: Mapping[Any, ScoreCounts], *,
                  scenario: Scenario | None = None) -> dict[Any, dict[str, dict[str, float | None]]]:
    """What each segment gets under ``plan`` (made by :func:`capacity_plan` from the same ``segments`` and
    ``scenario``): per segment, ``{"own": ..., "single": ...}`` at its own threshold and at the plan's single
    threshold, each with ``actions``, ``caught`` and ``value`` per period in the segment's share of the deployment
    (with a scenario), or weighted flagged items, caught positives and ``value`` None of the data (without)."""
    whole_positives = sum(part.positives for part in segments.values())
    whole_negatives = sum(part.negatives for part in segments.values())
    out: dict[Any, dict[str, dict[str, float | None]]] = {}
    for share in plan.shares:
        part = segments[share.segment]
        curve = curve_from_counts(part)
        outcomes = None if scenario is None else outcomes_for_curve(curve, _segment_scenario(
            scenario, part.positives, part.negatives, whole_positives, whole_negatives))
        points: dict[str, dict[str, float | None]] = {}
        for name, threshold in (("own", share.threshold), ("single", plan.single_threshold)):
            index = curve.index_at(threshold)
            if outcomes is None:
                points[name] = {"actions": float(curve.flagged[index]), "caught": float(curve.tp[index]),
                                "value": None}
            else:
                point = outcomes.point(index)
                points[name] = {"actions": point["actions"], "caught": point["caught"], "value": point["value"]}
        out[share.segment] = points
    return out
