"""The bootstrap: how much every figure would move with another test set of the same size.

A row bootstrap draws n rows with replacement; counting the draws per ScoreCounts cell is a multinomial
draw over the cells' row counts, so resampling cells is exactly the row bootstrap, aggregated, and its cost
grows with the cells, not the rows. Cells are first coarsened to a fixed number of score groups
(:func:`coarse_cells`); weighted cells keep their weight and value sums per row.

:class:`Bootstrap` is built once per (counts, recorded-decision columns, resamples, seed, bins): the draws,
the batch of curves over the coarse thresholds, the status quos' decisions on the same draws and the
threshold-free figures. Everything criteria and scenarios do with it (verdicts, probabilities, the chosen
threshold, bands) is arithmetic on these arrays (see judge.py), so changing a target or the confidence never
draws again. A threshold between two coarse thresholds is judged by splitting the straddling group's drawn
rows binomially (:meth:`Bootstrap.column_at`), which given the multinomial draw is again exactly the row
bootstrap.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from metricbridge.counts import CELL_FIELDS, ProgressCallback, ScoreCounts, distinct_codes, flags, value_codes
from metricbridge.curve import ThresholdCurve, cumulate, curve_from_counts, index_at, ratio
from metricbridge.limits import DEFAULT_RESAMPLES
from metricbridge.metrics import average_precision, average_precision_of, brier, log_loss, roc_auc, roc_auc_of

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DEFAULT_RESAMPLES", "DEFAULT_BAND_BINS", "Bootstrap", "ProgressCallback", "build_bootstrap",
           "coarsen", "coarse_cells", "collapse", "draw", "batch_curve", "batch_score_sums", "percentile_interval",
           "THRESHOLD_FREE_FIGURES"]

DEFAULT_BAND_BINS = 1000
THRESHOLD_FREE_FIGURES = ("roc_auc", "average_precision", "brier", "log_loss")
_DRAW_CHUNK = 100  # resamples drawn at a time, so progress can be reported (the stream is the same)


# -- cells ---------------------------------------------------------------------------------------------------

def _group(counts: ScoreCounts, group_scores: np.ndarray, *, mode: str, keys: Sequence[str] | None = None,
           score_codes: np.ndarray | None = None) -> tuple[ScoreCounts, np.ndarray]:
    """Cells with their score replaced by ``group_scores`` (one per cell), merged by (score, label, keys) and
    sorted so; with each input cell's index among the merged cells. ``keys`` (default: all) are the keys kept;
    the others are summed over. ``score_codes``: the group scores' ranks when the caller knows them."""
    kept_keys = {k: v for k, v in counts.keys.items() if keys is None or k in keys}
    ranks = value_codes(group_scores)[0] if score_codes is None else score_codes
    codes = [ranks.astype(np.int64), counts.labels.astype(np.int64)]
    codes += [value_codes(values)[0] for values in kept_keys.values()]
    combined = np.zeros(counts.cells, dtype=np.int64)
    for code in codes:
        combined = combined * (int(code.max()) + 1 if len(code) else 1) + code
    unique, merged_of = distinct_codes(combined)
    first = np.zeros(len(unique), dtype=np.int64)
    first[merged_of[::-1]] = np.arange(counts.cells)[::-1]  # a representative input cell of each merged one

    def total(values: np.ndarray) -> np.ndarray:
        return np.bincount(merged_of, weights=values, minlength=len(unique))

    return ScoreCounts(
        scores=group_scores[first], labels=counts.labels[first], rows=total(counts.rows).astype(np.int64),
        weights=total(counts.weights), **{name: total(counts.raw_sum(name)) for name in CELL_FIELDS[4:]},
        score_min=counts.score_min, score_max=counts.score_max, mode="binned" if mode == "binned" else "exact",
        bins=counts.bins, keys={k: v[first] for k, v in kept_keys.items()},
        sums={k: total(v) for k, v in counts.sums.items()},
        squares={k: total(v) for k, v in counts.squares.items()},
        crosses={k: total(v) for k, v in counts.crosses.items()},
        cubes={k: total(v) for k, v in counts.cubes.items()},
        weight_squares=None if counts.weight_squares is None else total(counts.weight_squares),
        weight_cubes=None if counts.weight_cubes is None else total(counts.weight_cubes)), merged_of


def keep_keys(counts: ScoreCounts, keys: Sequence[str]) -> ScoreCounts:
    """``counts`` with every key but ``keys`` summed over: the cells a count keyed by ``keys`` alone gives on
    the same scores, with no pass over the rows."""
    return _group(counts, counts.scores, mode=counts.mode, keys=keys)[0]


def coarse_cells(counts: ScoreCounts, bins: int = DEFAULT_BAND_BINS, *, edges: Sequence[float] = (),
                 keys: Sequence[str] | None = None) -> tuple[ScoreCounts, np.ndarray]:
    """At most ``bins`` score groups of about equal row counts (plus a split at each of ``edges``), and the
    index of each input cell's coarse cell. A group's score is its lowest score, so flagging at it flags
    exactly the groups above, as in binned counting, and flagging at an edge is exact. Counts with few
    enough distinct scores are returned as they are. ``keys`` (default: all) are the keys kept apart."""
    scores = np.unique(counts.scores)
    if len(scores) <= bins:
        if keys is None or set(keys) >= set(counts.keys):
            return counts, np.arange(counts.cells)
        return _group(counts, counts.scores, mode=counts.mode, keys=keys)
    position = np.searchsorted(scores, counts.scores)
    rows_per_score = np.bincount(position, weights=counts.rows, minlength=len(scores))
    share = np.cumsum(rows_per_score) / rows_per_score.sum()
    group = np.minimum((share * bins).astype(np.int64), bins - 1)
    for edge in edges:  # groups are runs of sorted scores: a split adds one boundary
        group = group * 2 + flags(scores, edge)
    starts = np.flatnonzero(np.r_[True, np.diff(group) != 0])
    group_of_score = np.cumsum(np.isin(np.arange(len(scores)), starts)) - 1
    return _group(counts, scores[starts][group_of_score[position]], mode="binned", keys=keys)


def coarsen(counts: ScoreCounts, bins: int = DEFAULT_BAND_BINS, *, edges: Sequence[float] = ()) -> ScoreCounts:
    """The coarse cells of :func:`coarse_cells` alone."""
    return coarse_cells(counts, bins, edges=edges)[0]


def collapse(counts: ScoreCounts, threshold: float) -> ScoreCounts:
    """Two score groups: flagged at ``threshold`` and not; the handful of cells that every figure at one
    threshold needs."""
    return collapsed_cells(counts, threshold)[0]


def collapsed_cells(counts: ScoreCounts, threshold: float, *,
                    keys: Sequence[str] | None = None) -> tuple[ScoreCounts, np.ndarray]:
    """The cells of :func:`collapse` (keeping ``keys``, default all), and each input cell's collapsed cell."""
    flagged = flags(counts.scores, threshold)
    below = counts.scores[~flagged]
    low = float(below.min()) if len(below) else threshold - 1.0
    return _group(counts, np.where(flagged, threshold, low), mode=counts.mode, keys=keys,
                  score_codes=flagged.astype(np.int64))  # the low group ranks first, below the threshold


# -- draws ---------------------------------------------------------------------------------------------------

def draw(counts: ScoreCounts, *, resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
         progress: ProgressCallback | None = None) -> np.ndarray:
    """Row counts per cell for each resample: shape (resamples, cells), each row summing to n_rows.

    Drawn in chunks of resamples from one generator (the same stream as one call), reporting progress."""
    rng = np.random.default_rng(seed)
    total = counts.n_rows
    if total == 0:
        return np.zeros((resamples, counts.cells), dtype=np.int64)
    shares = counts.rows / total
    parts = []
    for start in range(0, resamples, _DRAW_CHUNK):
        parts.append(rng.multinomial(total, shares, size=min(_DRAW_CHUNK, resamples - start)))
        if progress is not None:
            progress((start + len(parts[-1])) / resamples, f"drawing {resamples:,} resamples")
    return np.concatenate(parts) if len(parts) > 1 else parts[0]


def _per_row(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    return ratio(values, rows, fill=0.0, positive=True)


def _moments(squares: np.ndarray | None, cubes: np.ndarray | None, rows: np.ndarray,
             mean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The variance and the third central moment of one row's figure within each cell, from the cells' sums
    of its squares and cubes (0 where the rows are alike or their spread was not counted)."""
    if squares is None:
        return np.zeros(len(mean)), np.zeros(len(mean))
    second = _per_row(squares, rows)
    variance = np.maximum(second - mean * mean, 0.0)
    third = np.zeros(len(mean)) if cubes is None else _per_row(cubes, rows) - 3 * mean * second + 2 * mean ** 3
    return variance, np.where(variance > 0, third, 0.0)


def _skewed(rng: np.random.Generator, drawn: np.ndarray, variance: np.ndarray, third: np.ndarray) -> np.ndarray:
    """For each resample and cell, the deviation of a sum of ``drawn`` rows from ``drawn`` x the mean: zero
    mean, variance drawn x ``variance``, third moment drawn x ``third`` (the row bootstrap's, given the
    rows drawn), from a gamma shifted and scaled to those three moments (a normal where the skew is nil)."""
    spread = np.sqrt(drawn * variance)
    with np.errstate(divide="ignore", invalid="ignore"):
        skew = np.where(spread > 0, drawn * third / spread ** 3, 0.0)
    out = rng.standard_normal(drawn.shape)
    skewed = np.abs(skew) > 1e-3
    if np.any(skewed):
        shape = 4.0 / skew[skewed] ** 2
        standard = (rng.standard_gamma(shape) - shape) / np.sqrt(shape)  # mean 0, variance 1, skew 2/sqrt(shape)
        out[skewed] = np.sign(skew[skewed]) * standard
    return spread * out


def _drawn(counts: ScoreCounts, draws: np.ndarray,
           rng: np.random.Generator | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Each cell's weight and value sums in each resample.

    Given the rows drawn from a cell, the row bootstrap's sum over them has the mean drawn x the cell's mean
    per row, the variance drawn x its variance per row, and the third moment drawn x its third; with ``rng``
    and the cell's sums of squares and cubes (``counts.squares``, ``crosses``, ``cubes``) all three are
    matched (a shifted gamma; an amount's part that moves with the weight follows the weight's draw), so
    amounts and weights that differ within a cell widen, and skew, the intervals as much as they should.
    Without them (or alike rows) a cell's sums are its drawn rows times its means, the drawn rows themselves
    when every row weighs 1.
    """
    rows = counts.rows
    per_row = _per_row(counts.weights, rows)
    weights: np.ndarray = draws if bool(np.all(per_row == 1.0)) else draws * per_row
    means = {name: _per_row(sums, rows) for name, sums in counts.sums.items()}
    sums = {name: draws * mean for name, mean in means.items()}
    if rng is None:
        return weights, sums
    variance_w, third_w = _moments(counts.weight_squares, counts.weight_cubes, rows, per_row)
    noise_w = _skewed(rng, draws, variance_w, third_w) if bool(np.any(variance_w > 0)) else None
    if noise_w is not None:
        weights = weights + noise_w
    for name, mean in means.items():
        variance_u, third_u = _moments(counts.squares.get(name), counts.cubes.get(name), rows, mean)
        if not np.any(variance_u > 0):
            continue
        # an amount's sum: the part that moves with the weight's (its regression on the weight) and its own
        slope = np.zeros(len(mean))
        if noise_w is not None and name in counts.crosses:
            covariance = _per_row(counts.crosses[name], rows) - per_row * mean
            slope = ratio(covariance, variance_w, fill=0.0, positive=True)
        own_variance = np.maximum(variance_u - slope * slope * variance_w, 0.0)
        own_third = third_u - slope ** 3 * third_w
        noise = _skewed(rng, draws, own_variance, own_third)
        if noise_w is not None:
            noise = noise + slope * noise_w
        sums[name] = sums[name] + noise
    return weights, sums


def batch_curve(counts: ScoreCounts, draws: np.ndarray, rng: np.random.Generator | None = None) -> ThresholdCurve:
    """One ThresholdCurve per resample, stacked on a leading axis (thresholds shared: the cells' scores); with
    ``rng``, the spread of amounts and weights within each cell too (:func:`_drawn`)."""
    weights, sums = _drawn(counts, draws, rng)
    return cumulate(counts, weights=weights, sums=sums)


def batch_score_sums(counts: ScoreCounts, draws: np.ndarray) -> dict[str, np.ndarray]:
    """Per resample: the weighted item count and the Brier and log-loss sums (for their bootstrap)."""
    def total(values: np.ndarray) -> np.ndarray:
        return draws @ _per_row(values, counts.rows)

    return {"n": total(counts.weights), "brier": total(counts.raw_sum("brier_sums")),
            "log_loss": total(counts.raw_sum("log_loss_sums"))}


def percentile_interval(samples: np.ndarray, confidence: float, axis: int = 0) -> np.ndarray:
    """Central interval holding ``confidence`` of the resamples along ``axis`` (NaN resamples ignored):
    [low, high]. Columns without NaN take numpy's vectorized percentile; only the others go one by one."""
    tail = (1 - confidence) / 2 * 100
    quantiles = [tail, 100 - tail]
    values = np.moveaxis(np.asarray(samples, dtype=np.float64), axis, 0)
    missing = np.isnan(values).any(axis=0)
    if not np.any(missing):
        return np.percentile(values, quantiles, axis=0)
    out = np.empty((2, *values.shape[1:]))
    if values.ndim == 1:
        out[:] = _nan_percentile(values, quantiles)
        return out
    out[:, ~missing] = np.percentile(values[:, ~missing], quantiles, axis=0)
    out[:, missing] = _nan_percentile(values[:, missing], quantiles)
    return out


def _nan_percentile(values: np.ndarray, quantiles: list[float]) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column (undefined everywhere) stays NaN
        return np.nanpercentile(values, quantiles, axis=0)


def band_frame(thresholds: np.ndarray, samples: np.ndarray, confidence: float, name: str) -> pd.DataFrame:
    """Long form of a band: threshold, low, high of ``name`` across resamples (axis 0)."""
    import pandas as pd

    low, high = percentile_interval(samples, confidence)
    return pd.DataFrame({"threshold": thresholds, f"{name}_low": low, f"{name}_high": high})


# -- the bootstrap of one model ------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Bootstrap:
    """The resampled figures of one model, computed once and shared by choosing and judging.

    ``curve`` is the batch of curves (resamples on the leading axis) over the coarse thresholds, ``point``
    the coarse cells' own curve and ``exact`` the model's own; ``decisions`` holds, per recorded-decision
    column, the batch curve of those 0/1 decisions on the same draws (and ``decisions_point`` the data's);
    ``threshold_free`` the resampled ROC AUC, average precision, Brier score and log loss, centred on the
    exact figures in ``exact_threshold_free`` (coarse cells blur AUC and AP by ~1e-4; the spread is what
    the resamples carry).
    """

    counts: ScoreCounts
    cells: ScoreCounts
    coarse_of: np.ndarray
    draws: np.ndarray
    curve: ThresholdCurve
    point: ThresholdCurve
    exact: ThresholdCurve
    decisions: Mapping[str, ThresholdCurve]
    decisions_point: Mapping[str, ThresholdCurve]
    threshold_free: Mapping[str, np.ndarray]
    exact_threshold_free: Mapping[str, float | None]
    resamples: int
    seed: int
    bins: int
    memo: dict[Any, Any] = field(default_factory=dict, repr=False)  # figures under a scenario (judge.py)
    kept: dict[Any, Any] = field(default_factory=dict, repr=False)  # what no scenario changes (judge.py)

    @property
    def thresholds(self) -> np.ndarray:
        """The coarse thresholds, flag-nothing first."""
        return self.curve.thresholds

    def column_at(self, threshold: float) -> ThresholdCurve:
        """The batch curve at one threshold (a single point per resample).

        On a coarse threshold it is that column; between two, the coarse group straddling the threshold has
        its drawn rows split binomially between the part at or above the threshold and the rest (with a
        generator seeded by the seed and the threshold, so the same threshold always gives the same split).
        """
        thresholds = self.curve.thresholds
        j = index_at(thresholds, threshold)
        if thresholds[j] == threshold or j == len(thresholds) - 1:
            return self.curve.take(np.array([j]))
        above = self._cells_above_in_group(threshold, upper=float(thresholds[j]))
        extra = self._split(above, threshold)
        base = self.curve.take(np.array([j]))
        return ThresholdCurve(
            thresholds=np.array([threshold]), tp=base.tp + extra["tp"], fp=base.fp + extra["fp"],
            positives=base.positives, negatives=base.negatives, mode=base.mode,
            value_tp={k: v + extra[f"tp:{k}"] for k, v in base.value_tp.items()},
            value_fp={k: v + extra[f"fp:{k}"] for k, v in base.value_fp.items()}, value_totals=base.value_totals)

    def _cells_above_in_group(self, threshold: float, *, upper: float) -> np.ndarray:
        """The model's cells with threshold <= score < upper: the flagged part of the straddling group."""
        scores = self.counts.scores
        return np.flatnonzero(flags(scores, threshold) & (scores < upper))

    def _split(self, above: np.ndarray, threshold: float) -> dict[str, np.ndarray]:
        """Per resample, the weight and value sums of the drawn rows that fall in ``above`` (cells of the
        model), shape (resamples, 1) each."""
        counts, cells = self.counts, self.cells
        coarse = self.coarse_of[above]

        def per_coarse(values: np.ndarray) -> np.ndarray:
            return np.bincount(coarse, weights=values[above], minlength=cells.cells)

        rows_above = per_coarse(counts.rows.astype(np.float64))
        touched = np.flatnonzero(rows_above > 0)
        bits = int(np.float64(threshold).view(np.uint64))
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 9, bits >> 32, bits & 0xFFFFFFFF]))
        share = np.minimum(rows_above[touched] / cells.rows[touched], 1.0)
        drawn = rng.binomial(self.draws[:, touched], share)
        positive = cells.labels[touched] == 1
        # the part of each straddling cell at or above the threshold, as cells of their own
        part = ScoreCounts(
            scores=cells.scores[touched], labels=cells.labels[touched], rows=rows_above[touched].astype(np.int64),
            weights=per_coarse(counts.weights)[touched], score_min=counts.score_min, score_max=counts.score_max,
            sums={k: per_coarse(v)[touched] for k, v in counts.sums.items()},
            squares={k: per_coarse(v)[touched] for k, v in counts.squares.items()},
            crosses={k: per_coarse(v)[touched] for k, v in counts.crosses.items()},
            cubes={k: per_coarse(v)[touched] for k, v in counts.cubes.items()},
            weight_squares=None if counts.weight_squares is None else per_coarse(counts.weight_squares)[touched],
            weight_cubes=None if counts.weight_cubes is None else per_coarse(counts.weight_cubes)[touched])
        weights, sums = _drawn(part, drawn, rng)

        def added(values: np.ndarray, label: np.ndarray) -> np.ndarray:
            return np.asarray(values, dtype=np.float64)[:, label].sum(axis=1, keepdims=True)

        extra = {"tp": added(weights, positive), "fp": added(weights, ~positive)}
        for name, values in sums.items():
            extra[f"tp:{name}"], extra[f"fp:{name}"] = added(values, positive), added(values, ~positive)
        return extra


def _threshold_free(cells: ScoreCounts, curve: ThresholdCurve, draws: np.ndarray,
                    exact: Mapping[str, float | None]) -> dict[str, np.ndarray]:
    """ROC AUC, AP, Brier and log loss per resample of the coarse cells, moved by the gap between the exact
    figure and the coarse cells' own, so the resamples centre on the exact figure."""
    samples = {"roc_auc": roc_auc_of(curve), "average_precision": average_precision_of(curve)}
    if cells.is_probability:
        sums = batch_score_sums(cells, draws)
        with np.errstate(invalid="ignore", divide="ignore"):
            samples |= {"brier": sums["brier"] / sums["n"], "log_loss": sums["log_loss"] / sums["n"]}
    else:
        samples |= {"brier": np.full(len(draws), np.nan), "log_loss": np.full(len(draws), np.nan)}
    coarse = _threshold_free_point(cells)

    def known(value: float | None) -> float:
        return np.nan if value is None else value

    return {k: v - known(coarse[k]) + known(exact[k]) for k, v in samples.items()}


def _threshold_free_point(counts: ScoreCounts) -> dict[str, float | None]:
    curve = curve_from_counts(counts)
    return {"roc_auc": roc_auc(curve), "average_precision": average_precision(curve), "brier": brier(counts),
            "log_loss": log_loss(counts)}


def build_bootstrap(counts: ScoreCounts, *, decisions: Sequence[str] = (), resamples: int = DEFAULT_RESAMPLES,
                    seed: int = 0, bins: int = DEFAULT_BAND_BINS, at: float | None = None,
                    progress: ProgressCallback | None = None) -> Bootstrap:
    """Draw ``resamples`` bootstraps of ``counts`` coarsened to ``bins`` score groups, and compute every
    resampled figure that does not depend on a scenario or criteria. ``decisions`` names the key columns
    holding a status quo's recorded 0/1 decisions, resampled jointly with the model.

    ``at``: only the figures at this one threshold will be asked for (a segment's or a window's verdicts). The
    cells are then collapsed to flagged and not first: drawing rows from the merged cells is drawing them from
    the cells and merging (a multinomial's parts add up), and a merged cell's sums of squares and cubes hold the
    spread between its parts, so the figures at ``at`` are resampled as before, from a handful of cells instead
    of thousands. No threshold-free figure is resampled then (``threshold_free`` is empty)."""
    def report(fraction: float, what: str) -> None:
        if progress is not None:
            progress(fraction, what)

    # keys other than the decisions (a segment, a window) change no figure here: their cells are merged
    kept = tuple(decisions)
    cells, coarse_of = coarse_cells(counts, bins, keys=kept) if at is None else collapsed_cells(counts, at, keys=kept)
    draws = draw(cells, resamples=resamples, seed=seed,
                 progress=None if progress is None else lambda f, what: progress(0.7 * f, what))
    report(0.7, "resampling the curves")
    # the spread within cells comes from a stream of its own: the draws of rows stay those of the seed
    weights, sums = _drawn(cells, draws, np.random.default_rng(np.random.SeedSequence([seed, 17])))
    curve = cumulate(cells, weights=weights, sums=sums)
    decided = {column: cumulate(cells.decided_by(column), weights=weights, sums=sums) for column in decisions}
    report(0.9, "resampling AUC, Brier and log loss")
    exact_free = _threshold_free_point(counts)
    result = Bootstrap(
        counts=counts, cells=cells, coarse_of=coarse_of, draws=draws, curve=curve,
        point=curve_from_counts(cells), exact=curve_from_counts(counts), decisions=decided,
        decisions_point={column: curve_from_counts(counts.decided_by(column)) for column in decisions},
        threshold_free={} if at is not None else _threshold_free(cells, curve, draws, exact_free),
        exact_threshold_free=exact_free,
        resamples=resamples, seed=seed, bins=bins)
    report(1.0, "resampled")
    return result
