"""Performance before the labels arrive: confidence-based performance estimation (CBPE, as NannyML does it).

A calibrated score is the probability that its item is a positive, so a window's scores alone say how many
positives it holds, and how many of them the threshold catches, in expectation: an item of score s counts as
s of a positive and 1 - s of a negative. :func:`expected_counts` writes a window so, as ScoreCounts with a
positive and a negative cell per score, so the curve, every metric and the outcomes pipeline run on it
unchanged. :func:`estimate_interval` says how far the realised figure may fall from the estimate, by
simulating it; :func:`calibration_check` checks, on labelled data, the assumption all this rests on, and
:func:`estimate_window` refuses to call an estimate reliable when the scores were not calibrated on the
reference or, when given, on the latest labelled windows before the window.

The check judges the gap between the positives the scores predict and those observed relative to the
positives, band by band of score, beyond what chance allows a band of its size (:class:`CalibrationCheck`):
at 2% positives an absolute gap (the expected calibration error) looks small however wrong the estimate.

The assumption, stated wherever an estimate is shown: the scores are calibrated in the window as they were
where checked. Score drift (:mod:`metricbridge.drift`) is allowed; a change in how scores relate to outcomes
(concept drift) is not, and only labels can reveal it: hence the check on the latest labelled windows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from metricbridge.counts import ScoreCounts, flags, log_loss_terms
from metricbridge.curve import POINT_METRICS, ThresholdCurve, curve_from_counts, ratio
from metricbridge.errors import InputError
from metricbridge.limits import DEFAULT_RESAMPLES, LIMITS
from metricbridge.uncertainty import DEFAULT_BAND_BINS, coarse_cells, percentile_interval

__all__ = ["CHANCE_SDS", "DEFAULT_CALIBRATION_TOLERANCE", "DEFAULT_ESTIMATE_METRICS", "CalibrationCheck", "Estimate",
           "calibration_check", "estimate_interval", "estimate_window", "expected_counts"]

DEFAULT_ESTIMATE_METRICS = ("recall", "precision", "flag_rate", "tp", "fp", "fn")
_CHUNK_CELLS = 2_000_000  # resamples x score cells simulated at a time (16 MB per array)


def _require_probability(counts: ScoreCounts, name: str) -> None:
    """Estimates without labels read each score as a probability: refuse anything else, saying why."""
    if counts.n <= 0:
        raise InputError(f"the {name} has no items (its weighted count is {counts.n:g}): there is nothing to "
                         f"estimate; choose a window that holds some.")
    if not counts.is_probability:
        raise InputError(
            f"estimating performance without labels needs probability scores (from 0 to 1), but the {name}'s "
            f"scores range from {counts.score_min:g} to {counts.score_max:g}: a score is read as the chance that "
            f"its item is a positive. Calibrate the scores into probabilities on labelled data first.")


def _codes(values: np.ndarray) -> np.ndarray:
    return np.unique(values, return_inverse=True)[1].astype(np.int64).reshape(-1)


def _score_groups(counts: ScoreCounts, *, keys: bool) -> tuple[np.ndarray, np.ndarray]:
    """The cells grouped by score (and, with ``keys``, by every key), both labels together: each cell's group
    and a representative cell of each group; groups sorted by (score, keys)."""
    combined = _codes(counts.scores)
    for values in (counts.keys.values() if keys else ()):
        code = _codes(values)
        combined = combined * (int(code.max()) + 1 if len(code) else 1) + code
    unique, group = np.unique(combined, return_inverse=True)
    group = group.reshape(-1)
    first = np.zeros(len(unique), dtype=np.int64)
    first[group[::-1]] = np.arange(counts.cells)[::-1]  # the first cell of each group
    return group, first


def _mean_scores(weights: np.ndarray, score_sums: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Each group's weighted mean raw score (its own score where it weighs nothing), within [0, 1]."""
    mean = ratio(score_sums, weights, fill=np.nan, positive=True)
    return np.clip(np.where(np.isnan(mean), scores, mean), 0.0, 1.0)


def expected_counts(window: ScoreCounts) -> ScoreCounts:
    """``window``'s cells as expected positives and negatives, for a window whose labels are unknown.

    Each score cell (both labels together, each value of every key apart) becomes a positive cell weighing
    sum(w x score) and a negative cell weighing sum(w x (1 - score)), from the raw score sums, so binned
    counts use each bin's mean score and the expected confusion counts at any threshold are exact in both
    modes: ``curve_from_counts(expected_counts(window)).at(t)["tp"]`` is the sum of w x score over the items
    flagged at t. Value sums, their powers and the weight moments are split by the cell's mean score (exact in
    exact mode, where every row of a cell has its score); rows are split so, rounded, keeping the row count.
    Cells left with no rows and no weight are dropped.

    The result is an expectation: bootstrapping it does not give the estimate's uncertainty (the labels are
    not drawn); :func:`estimate_interval` does. Raises InputError for scores that are not probabilities.
    """
    _require_probability(window, "window")
    group, first = _score_groups(window, keys=True)
    count = len(first)

    def total(values: np.ndarray) -> np.ndarray:
        return np.bincount(group, weights=values, minlength=count)

    weights, score_sums = total(window.weights), total(window.raw_sum("score_sums"))
    mean = _mean_scores(weights, score_sums, window.scores[first])
    share = np.r_[1.0 - mean, mean]  # negatives first, then positives, each per group

    def split(values: np.ndarray) -> np.ndarray:
        return np.r_[values, values] * share

    rows = total(window.rows.astype(np.float64))
    positive_rows = np.minimum(np.rint(rows * mean), rows)
    cell_weights = np.r_[np.maximum(weights - score_sums, 0.0), np.minimum(score_sums, weights)]
    labels = np.r_[np.zeros(count, dtype=np.int8), np.ones(count, dtype=np.int8)]
    cell_rows = np.r_[rows - positive_rows, positive_rows].astype(np.int64)
    scores = np.r_[window.scores[first], window.scores[first]]
    # the builders' order: ascending score, then label, then keys (groups are sorted by score, then keys)
    order = np.lexsort((np.r_[np.arange(count), np.arange(count)], labels, scores))
    order = order[(cell_rows[order] > 0) | (cell_weights[order] > 0)]
    raw: dict[str, np.ndarray | None] = {name: None for name in ("score_sums", "brier_sums", "log_loss_sums")}
    if window.mode == "binned":  # a bin holds many scores: its sums as if every row had the bin's mean score
        cell_means = np.r_[mean, mean]
        raw = {"score_sums": cell_weights * cell_means,
               "brier_sums": cell_weights * (labels - cell_means) ** 2,
               "log_loss_sums": cell_weights * log_loss_terms(labels, cell_means)}

    def moment(values: np.ndarray | None) -> np.ndarray | None:
        return None if values is None else split(total(values))[order]

    def moments(mapping: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {name: split(total(values))[order] for name, values in mapping.items()}

    return ScoreCounts(
        scores=scores[order], labels=labels[order], rows=cell_rows[order], weights=cell_weights[order],
        score_min=window.score_min, score_max=window.score_max, mode=window.mode, bins=window.bins,
        **{name: None if values is None else values[order] for name, values in raw.items()},
        keys={name: np.r_[values[first], values[first]][order] for name, values in window.keys.items()},
        sums=moments(window.sums), squares=moments(window.squares), crosses=moments(window.crosses),
        cubes=moments(window.cubes),
        weight_squares=moment(window.weight_squares), weight_cubes=moment(window.weight_cubes))


def _check_options(metrics: Sequence[str], confidence: float, resamples: int) -> None:
    unknown = [name for name in metrics if name not in POINT_METRICS]
    if unknown:
        raise InputError(f"cannot estimate {', '.join(map(repr, unknown))}: the figures at a threshold are "
                         f"{', '.join(POINT_METRICS)}.")
    if not (isinstance(confidence, int | float) and 0 < confidence < 1):
        raise InputError(f"confidence must be a share between 0 and 1 (0.9 for 90%), not {confidence!r}.")
    if not (isinstance(resamples, int | np.integer) and 1 <= resamples <= LIMITS.resamples):
        raise InputError(f"resamples must be a whole number from 1 to {LIMITS.resamples:,} (limits.resamples), "
                         f"not {resamples!r}.")


def _simulated(window: ScoreCounts, threshold: float, *, resamples: int, seed: int,
               resample_rows: bool) -> ThresholdCurve:
    """The confusion counts at ``threshold`` of ``resamples`` simulated windows, as a batch of one-point
    curves: the window's rows (or, with ``resample_rows``, rows drawn over the score cells, multinomial as the
    bootstrap draws them), each a positive with probability its cell's mean score (binomial per cell). A row
    weighs its cell's weight per row.

    Windows of more than DEFAULT_BAND_BINS distinct scores are first coarsened to that many score groups of
    about equal rows, split at ``threshold`` (as the bootstrap's bands are), so the cost does not grow with the
    distinct scores: a group's rows share its mean score, a variance larger by the spread of scores within
    the group, negligible at a thousand groups."""
    cells = coarse_cells(window, DEFAULT_BAND_BINS, edges=[threshold])[0]
    group, first = _score_groups(cells, keys=False)
    count = len(first)
    rows = np.bincount(group, weights=cells.rows, minlength=count)
    weights = np.bincount(group, weights=cells.weights, minlength=count)
    mean = _mean_scores(weights, np.bincount(group, weights=cells.raw_sum("score_sums"), minlength=count),
                        cells.scores[first])
    per_row = ratio(weights, rows, fill=0.0, positive=True)
    flagged = flags(cells.scores[first], threshold).astype(np.float64)
    rng = np.random.default_rng(seed)
    n_rows = int(rows.sum())
    chunk = max(1, _CHUNK_CELLS // max(count, 1))
    parts: list[tuple[np.ndarray, ...]] = []
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        drawn = rng.multinomial(n_rows, rows / n_rows, size=size) if resample_rows else np.broadcast_to(
            rows.astype(np.int64), (size, count))
        positive = rng.binomial(drawn, mean) * per_row
        everyone = drawn * per_row
        parts.append((positive @ flagged, positive.sum(axis=1), everyone @ flagged, everyone.sum(axis=1)))
    tp, positives, flagged_weight, n = (np.concatenate(column)[:, None] for column in zip(*parts, strict=True))
    return ThresholdCurve(thresholds=np.array([threshold], dtype=np.float64), tp=tp, fp=flagged_weight - tp,
                          positives=positives, negatives=n - positives, mode=window.mode)


def estimate_interval(window: ScoreCounts, threshold: float, *,
                      metrics: Sequence[str] = DEFAULT_ESTIMATE_METRICS, confidence: float = 0.9,
                      resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
                      resample_rows: bool = False) -> dict[str, tuple[float, float, float]]:
    """Per metric at ``threshold``: (estimate, low, high) for a window without labels, scores calibrated.

    The estimate is the metric of the expected counts (:func:`expected_counts`). The interval is the central
    ``confidence`` share of the figure over ``resamples`` simulated windows in which each row's label is drawn
    Bernoulli(score) (per cell, a binomial of its rows with its mean score): the range of this very window's
    figure once its labels arrive. Its items are known, so by default only their labels are drawn: 90%
    intervals so covered the realised recall and precision of 1,000 simulated calibrated windows (2,000 items,
    Beta(2, 4) scores, threshold 0.5; ``_coverage`` in tests/test_estimate.py, which checks 200) 90.6% and
    92.4% of the time (a count takes whole values and the interval includes its ends, so it covers a little
    more than it says). Rows are simulated per score cell, or per score group of about equal rows when there
    are more than ``uncertainty.DEFAULT_BAND_BINS`` (1,000) distinct scores, split at the threshold: a bin's
    or group's rows share its mean score, which widens the interval a hair (rows of different scores vary
    less than as many rows of their mean), and the cost stays that of a thousand cells.

    ``resample_rows=True`` also resamples the rows over the cells (multinomial, as the bootstrap draws them):
    the sampling error NannyML reports, the spread of the figure over other windows of this size. It is
    wider than the realised figure's range (the same windows' 90% intervals covered their realised recall
    98.5% of the time, precision 92.0%): use it to ask whether a change between windows is beyond chance,
    not where this window's figure will land.

    Seeded by ``seed``; drawn in chunks, every resample of a chunk at once. Metrics are any of
    ``curve.POINT_METRICS``; a resample where a metric is undefined (nothing flagged) is left out of its
    interval. A row weighs its cell's weight per row (the spread of weights within a cell is not drawn).
    """
    _require_probability(window, "window")
    _check_options(metrics, confidence, resamples)
    point = curve_from_counts(expected_counts(window)).at(threshold)
    batch = _simulated(window, threshold, resamples=int(resamples), seed=seed, resample_rows=resample_rows)
    out = {}
    for name in metrics:
        low, high = percentile_interval(np.asarray(getattr(batch, name))[:, 0], confidence)
        out[name] = (point[name], float(low), float(high))
    return out


DEFAULT_CALIBRATION_TOLERANCE = 0.1  # a share of the positives: see CalibrationCheck
CHANCE_SDS = 2.0  # a band's gap counts beyond this many standard deviations of its count (plus CHANCE_SDS²/2 items)


@dataclass(frozen=True, slots=True, kw_only=True)
class CalibrationCheck:
    """Whether scores matched outcomes on labelled data, judged relative to the positives they predict.

    The items are grouped into score bands: ``bins`` equal-width bands of [0, 1], each split at ``threshold``
    when one is given, so the flagged items and the others never share a band. In each band the positives the
    scores predict (the sum of weight x score) are compared with those observed, and the gap counts only
    beyond what chance allows a calibrated band of its size: ``CHANCE_SDS`` (2) standard deviations of its
    count of positives (sqrt of the sum of weight² x score x (1 - score)) plus 2 items. ``misplaced`` sums
    those gaps, in (weighted) positives: what must hold for an estimate to carry over to a window whose scores
    drifted. With a threshold, ``misplaced_at_threshold`` does the same for two groups, the flagged items and
    the others: what an estimate at that threshold adds up, so there a gap is not split among bands, each
    with its own allowance. ``misplaced_share`` divides the larger of the two by the larger of the positives
    predicted (``expected``) and observed (``observed``): 0 when every group matched within chance; 1 - 1/k
    when every group predicts k times, or 1/k of, the positives it holds. The verdict is "good" when
    misplaced_share <= ``tolerance``, else "poor". Moving d positives from the flagged items to the others (or
    back) misplaces 2d at the threshold: a share s beyond chance moves the estimated recall by about s/2 beyond
    chance, so the default tolerance of 10% keeps that error within about 5 points.

    Judging the gap against the positives, not against the items, is what makes it mean something at low
    prevalence: scores of 5% on average where 2% of the items are positives are off by 60% of the positives
    they predict, though their expected calibration error ``ece`` (the items' weighted mean over the
    equal-width bands of |share of positives - mean score|, with ``max_gap`` the largest) is only 0.03, below
    the customary 0.05. Those two are kept as figures, not as the verdict. ``flagged_expected`` and
    ``flagged_observed`` are the positives predicted and observed among the items flagged at ``threshold``
    (None without one).
    """

    ece: float
    max_gap: float
    bins: int
    tolerance: float
    expected: float
    observed: float
    misplaced: float
    threshold: float | None = None
    misplaced_at_threshold: float | None = None
    flagged_expected: float | None = None
    flagged_observed: float | None = None

    @property
    def misplaced_share(self) -> float:
        larger = max(self.expected, self.observed)
        worse = max(self.misplaced, self.misplaced_at_threshold or 0.0)
        return worse / larger if larger > 0 else 0.0

    @property
    def verdict(self) -> str:
        return "good" if self.misplaced_share <= self.tolerance else "poor"

    @property
    def good(self) -> bool:
        return self.verdict == "good"

    @property
    def recalls(self) -> tuple[float, float] | None:
        """(recall the scores predict, recall observed) at ``threshold``: what an estimate from these scores
        would have said here, and what the labels say; None without a threshold or without positives."""
        if self.flagged_expected is None or self.flagged_observed is None or self.expected <= 0 \
                or self.observed <= 0:
            return None
        return self.flagged_expected / self.expected, self.flagged_observed / self.observed

    def describe(self) -> str:
        """The comparison in words: "288 positives observed where the scores predicted 1,315 (175 where they
        predicted 362 among the items flagged at 0.6); off by 72% of the positives beyond chance (tolerance
        10%)"."""
        flagged = "" if self.flagged_expected is None or self.flagged_observed is None else (
            f" ({self.flagged_observed:,.0f} where they predicted {self.flagged_expected:,.0f} among the items "
            f"flagged at {self.threshold:g})")
        return (f"{self.observed:,.0f} positives observed where the scores predicted {self.expected:,.0f}{flagged}; "
                f"off by {self.misplaced_share:.0%} of the positives beyond chance (tolerance {self.tolerance:.0%})")

    def to_dict(self) -> dict[str, Any]:
        return {"ece": self.ece, "max_gap": self.max_gap, "bins": self.bins, "tolerance": self.tolerance,
                "expected_positives": self.expected, "observed_positives": self.observed,
                "misplaced": self.misplaced, "misplaced_at_threshold": self.misplaced_at_threshold,
                "misplaced_share": self.misplaced_share, "threshold": self.threshold,
                "flagged_expected": self.flagged_expected, "flagged_observed": self.flagged_observed,
                "verdict": self.verdict}


def calibration_check(reference: ScoreCounts, *, bins: int = 10, tolerance: float = DEFAULT_CALIBRATION_TOLERANCE,
                      threshold: float | None = None) -> CalibrationCheck:
    """The calibration of the labelled ``reference`` over ``bins`` equal-width score bands, split at
    ``threshold`` when given, judged against ``tolerance`` (a share of the positives, 0.1 = 10%): the rule is
    :class:`CalibrationCheck`'s. A cell is placed in a band as :func:`metrics.calibration_table` places it (by
    its score; in binned mode with other than 10 bands, by its mean score), so ``ece`` is that table's. Raises
    InputError for scores that are not probabilities, a reference without items, or bad options."""
    if not (isinstance(bins, int | np.integer) and 1 <= bins <= LIMITS.bins):
        raise InputError(f"calibration bins must be a whole number from 1 to {LIMITS.bins:,}, not {bins!r}.")
    if not (isinstance(tolerance, int | float) and math.isfinite(tolerance) and tolerance >= 0):
        raise InputError(f"calibration tolerance must be a share of at least 0 (0.1 = 10% of the positives), not "
                         f"{tolerance!r}.")
    if threshold is not None and not (isinstance(threshold, int | float) and math.isfinite(threshold)):
        raise InputError(f"the threshold to check calibration at must be a number, not {threshold!r}.")
    _require_probability(reference, "reference")
    bins = int(bins)
    weights, score_sums = reference.weights, reference.raw_sum("score_sums")
    mean = _mean_scores(weights, score_sums, reference.scores)
    placed = reference.scores if reference.mode == "exact" or bins == 10 else mean
    band = np.searchsorted(np.linspace(0.0, 1.0, bins + 1)[1:-1], placed, side="left")  # (low, high], as sklearn
    positives = weights * reference.labels

    def per(group: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
        return np.bincount(group, weights=values, minlength=size)

    band_weight = per(band, weights, bins)
    filled = band_weight > 0
    gaps = np.abs(per(band, positives, bins) - per(band, score_sums, bins))[filled] / band_weight[filled]
    flagged = flags(reference.scores, threshold) if threshold is not None else np.zeros(reference.cells, dtype=bool)
    region = band * 2 + flagged
    rows = reference.rows.astype(np.float64)
    weight_squares = reference.weight_squares if reference.weight_squares is not None else ratio(
        weights ** 2, rows, fill=0.0, positive=True)  # a cell's rows taken as alike
    totals = np.stack([per(region, values, 2 * bins) for values in (
        score_sums, positives, weight_squares * mean * (1.0 - mean), weights, rows)])  # a column per band
    sides = np.stack([totals[:, 0::2].sum(axis=1), totals[:, 1::2].sum(axis=1)], axis=1)  # the others, the flagged
    return CalibrationCheck(
        ece=float(np.sum(band_weight[filled] * gaps) / band_weight.sum()), max_gap=float(gaps.max()), bins=bins,
        tolerance=float(tolerance), expected=float(totals[0].sum()), observed=float(totals[1].sum()),
        misplaced=float(_beyond_chance(totals).sum()), threshold=None if threshold is None else float(threshold),
        misplaced_at_threshold=None if threshold is None else float(_beyond_chance(sides).sum()),
        flagged_expected=None if threshold is None else float(sides[0, 1]),
        flagged_observed=None if threshold is None else float(sides[1, 1]))


def _beyond_chance(totals: np.ndarray) -> np.ndarray:
    """Per group, from its column of (expected positives, observed positives, variance of the observed count
    under calibration, weight, rows): how far the observed fall from the expected beyond chance's allowance,
    CHANCE_SDS standard deviations plus CHANCE_SDS²/2 items (of the group's mean weight per row)."""
    expected, observed, variance, weight, rows = totals
    # A count of few expected positives has a longer upper tail than the normal's: with CHANCE_SDS²/2 = 2 items
    # more, a calibrated group passes its allowance less than 1.5% of the time however many it expects (Poisson
    # tails: 0.03% at 0.3 expected, 0.4% at 3, 1.4% at 100), against 10% at 0.1 expected without them.
    allowance = CHANCE_SDS * np.sqrt(variance) + CHANCE_SDS ** 2 / 2 * ratio(weight, rows, fill=0.0, positive=True)
    return np.asarray(np.maximum(np.abs(observed - expected) - allowance, 0.0))


@dataclass(frozen=True, slots=True, kw_only=True)
class Estimate:
    """Estimated figures of one window without labels, at ``threshold``.

    ``intervals[name]`` is (estimate, low, high), the central ``confidence`` share of ``resamples`` simulated
    windows (:func:`estimate_interval`: this window's labels drawn, and its rows too with ``resample_rows``);
    ``expected_prevalence`` the expected share of positives (the weighted mean score). ``calibration`` is the
    reference's, and ``recent_calibration`` that of each of the latest labelled windows before this one, by
    name ("Week 2024-07-01"), oldest first: the reference can be well calibrated while how scores relate to
    outcomes has since changed, which only recent labels show. ``reliable``, ``assumption`` and ``warning``
    rest on every check.
    """

    threshold: float
    intervals: Mapping[str, tuple[float, float, float]]
    confidence: float
    resamples: int
    seed: int
    resample_rows: bool
    expected_prevalence: float
    calibration: CalibrationCheck
    recent_calibration: Mapping[str, CalibrationCheck] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "intervals", dict(self.intervals))  # private copies
        object.__setattr__(self, "recent_calibration", dict(self.recent_calibration))

    @property
    def figures(self) -> dict[str, float]:
        """The estimate of each metric."""
        return {name: interval[0] for name, interval in self.intervals.items()}

    @property
    def _checks(self) -> list[tuple[str, CalibrationCheck]]:
        return [("the reference", self.calibration), *((f"the recent labelled window {name}", check)
                                                       for name, check in self.recent_calibration.items())]

    @property
    def reliable(self) -> bool:
        """Whether the assumption held where it could be checked: the scores were calibrated on the reference
        and on each recent labelled window checked (:class:`CalibrationCheck`'s rule)."""
        return all(check.good for _, check in self._checks)

    @property
    def assumption(self) -> str:
        """One sentence: what the estimate assumes and how each check came out ("assumes the scores are
        calibrated (...): as they were on the reference (off by 3% of its positives, within the tolerance of 10%),
        which they were not on the recent labelled window Week 2024-07-01 (off by 79%), ...")."""
        checked = ", ".join(
            f"{'as they were' if check.good else 'which they were not'} on {where} (off by "
            f"{check.misplaced_share:.0%} of its positives{', within' if check.good else ', beyond'} the tolerance "
            f"of {check.tolerance:.0%})" for where, check in self._checks)
        return (f"assumes the scores are calibrated (a score is the chance that its item is a positive), "
                f"{checked}, and that scores relate to outcomes in this window as they did there")

    @property
    def warning(self) -> str | None:
        if self.reliable:
            return None
        parts = []
        for where, check in self._checks:
            if check.good:
                continue
            recalls = check.recalls
            backtest = "" if recalls is None else (f"; estimated from the scores, recall there would have been "
                                                   f"{recalls[0]:.2f} where it was {recalls[1]:.2f}")
            changed = " (they were calibrated on the reference: how scores relate to outcomes has changed since)" \
                if where != "the reference" and self.calibration.good else ""
            parts.append(f"the scores were poorly calibrated on {where}{changed}: {check.describe()}{backtest}")
        return (f"{'. Also '.join(parts)}. These estimates are unreliable: calibrate the scores on recent labelled "
                f"data, or wait for the labels.")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the figures with their intervals, the assumption, and whether to trust them."""
        return {"threshold": self.threshold, "confidence": self.confidence, "resamples": self.resamples,
                "seed": self.seed, "resample_rows": self.resample_rows,
                "expected_prevalence": self.expected_prevalence,
                "figures": {name: {"estimate": e, "low": low, "high": high}
                            for name, (e, low, high) in self.intervals.items()},
                "calibration": self.calibration.to_dict(),
                "recent_calibration": {name: check.to_dict() for name, check in self.recent_calibration.items()},
                "reliable": self.reliable, "assumption": self.assumption,
                "warning": self.warning}


def estimate_window(reference: ScoreCounts, window: ScoreCounts, threshold: float, *,
                    metrics: Sequence[str] = DEFAULT_ESTIMATE_METRICS, confidence: float = 0.9,
                    resamples: int = DEFAULT_RESAMPLES, seed: int = 0, resample_rows: bool = False,
                    bins: int = 10, tolerance: float = DEFAULT_CALIBRATION_TOLERANCE,
                    recent: Mapping[str, ScoreCounts] | None = None) -> Estimate:
    """Estimate ``window``'s figures at ``threshold`` from its scores (:func:`estimate_interval`), with the
    calibration at ``threshold`` of the labelled ``reference`` and of each ``recent`` labelled window before it
    (by name, oldest first; each checked on its own, so a change in the last one is not diluted by those before)
    saying whether to trust them (:func:`calibration_check` over ``bins``, ``tolerance``): a poor calibration on
    any gives ``reliable`` False and a warning, never silence."""
    calibration = calibration_check(reference, bins=bins, tolerance=tolerance, threshold=threshold)
    recent_calibration = {name: calibration_check(counts, bins=bins, tolerance=tolerance, threshold=threshold)
                          for name, counts in (recent or {}).items()}
    intervals = estimate_interval(window, threshold, metrics=metrics, confidence=confidence, resamples=resamples,
                                  seed=seed, resample_rows=resample_rows)
    return Estimate(threshold=float(threshold), intervals=intervals, confidence=float(confidence),
                    resamples=int(resamples), seed=int(seed), resample_rows=resample_rows,
                    expected_prevalence=float(window.raw_sum("score_sums").sum() / window.n),
                    calibration=calibration, recent_calibration=recent_calibration)
