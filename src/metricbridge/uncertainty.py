"""The bootstrap: how much every figure would move with another test set of the same size.

A row bootstrap draws n rows with replacement; counting the draws per ScoreCounts cell is a multinomial
draw over the cells' row counts, so resampling cells is exactly the row bootstrap, aggregated, and its cost
grows with the cells, not the rows. Figures at one threshold need only a handful of cells (flagged or not x
label x status-quo decisions: :func:`collapse`); curve bands and the spread of a chosen threshold use cells
coarsened to a fixed number of score bins (:func:`coarsen`). Weighted cells keep their weight per row.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from metricbridge.counts import CELL_FIELDS, ScoreCounts
from metricbridge.curve import ThresholdCurve

__all__ = ["DEFAULT_RESAMPLES", "DEFAULT_BAND_BINS", "coarsen", "collapse", "draw", "batch_curve",
           "batch_score_sums", "percentile_interval"]

DEFAULT_RESAMPLES = 1000
DEFAULT_BAND_BINS = 1000


def _regroup(counts: ScoreCounts, group_scores: np.ndarray, *, mode: str) -> ScoreCounts:
    """Cells with their score replaced by ``group_scores`` (one per cell), merged by (score, label, keys)."""
    frame = counts.to_frame()
    frame["scores"] = group_scores
    by = ["scores", "labels", *(f"key:{name}" for name in counts.keys)]
    merged = frame.groupby(by, sort=True).sum().reset_index()
    return ScoreCounts(
        **{name: merged[name].to_numpy() for name in CELL_FIELDS},
        score_min=counts.score_min, score_max=counts.score_max, mode="binned" if mode == "binned" else "exact",
        bins=counts.bins, keys={k: merged[f"key:{k}"].to_numpy() for k in counts.keys},
        sums={k: merged[f"sum:{k}"].to_numpy() for k in counts.sums})


def coarsen(counts: ScoreCounts, bins: int = DEFAULT_BAND_BINS, *, edges: tuple[float, ...] = ()) -> ScoreCounts:
    """At most ``bins`` score groups of about equal row counts (plus a split at each of ``edges``); a
    group's score is its lowest score, so flagging at it flags exactly the groups above, as in binned
    counting, and flagging at an edge is exact."""
    scores = np.unique(counts.scores)
    if len(scores) <= bins:
        return counts
    rows_per_score = np.bincount(np.searchsorted(scores, counts.scores), weights=counts.rows, minlength=len(scores))
    share = np.cumsum(rows_per_score) / rows_per_score.sum()
    group = np.minimum((share * bins).astype(np.int64), bins - 1)
    for edge in edges:  # groups are runs of sorted scores: a split adds one boundary
        group = group * 2 + (scores >= edge)
    starts = np.r_[0, np.flatnonzero(np.diff(group)) + 1]
    group_of_score = np.cumsum(np.isin(np.arange(len(scores)), starts)) - 1
    cell_group = group_of_score[np.searchsorted(scores, counts.scores)]
    return _regroup(counts, scores[starts][cell_group], mode="binned")


def collapse(counts: ScoreCounts, threshold: float) -> ScoreCounts:
    """Two score groups: flagged at ``threshold`` (score >= threshold) and not; the handful of cells that
    every figure at one threshold needs."""
    flagged = counts.scores >= threshold
    below = counts.scores[~flagged]
    low = float(below.min()) if len(below) else threshold - 1.0
    return _regroup(counts, np.where(flagged, threshold, low), mode=counts.mode)


def draw(counts: ScoreCounts, *, resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> np.ndarray:
    """Row counts per cell for each resample: shape (resamples, cells), each row summing to n_rows."""
    rng = np.random.default_rng(seed)
    total = counts.n_rows
    if total == 0:
        return np.zeros((resamples, counts.cells), dtype=np.int64)
    return rng.multinomial(total, counts.rows / total, size=resamples)


def _per_row(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    return np.divide(values, rows, out=np.zeros(len(values)), where=rows > 0)


def batch_curve(counts: ScoreCounts, draws: np.ndarray) -> ThresholdCurve:
    """One ThresholdCurve per resample, stacked on a leading axis (thresholds shared: the cells' scores).

    Weighted counts and value sums of a cell scale with its drawn rows (its weight and sums per row).
    """
    thresholds = np.unique(counts.scores)[::-1]
    position = len(thresholds) - np.searchsorted(thresholds[::-1], counts.scores)  # 1-based; 0 = flag nothing
    resamples, width = draws.shape[0], len(thresholds) + 1
    flat = (np.arange(resamples)[:, None] * width + position[None, :]).ravel()

    def cumulated(per_row: np.ndarray, label: int) -> np.ndarray:
        weights = (draws * (per_row * (counts.labels == label))[None, :]).ravel()
        sums = np.bincount(flat, weights=weights, minlength=resamples * width).reshape(resamples, width)
        return np.cumsum(sums, axis=1)

    weight = _per_row(counts.weights, counts.rows)
    tp, fp = cumulated(weight, 1), cumulated(weight, 0)
    value_tp, value_fp, totals = {}, {}, {}
    for name, sums in counts.sums.items():
        value_tp[name], value_fp[name] = cumulated(_per_row(sums, counts.rows), 1), cumulated(_per_row(
            sums, counts.rows), 0)
        totals[name] = (value_tp[name][:, -1:], value_fp[name][:, -1:])
    return ThresholdCurve(thresholds=np.r_[np.inf, thresholds], tp=tp, fp=fp, positives=tp[:, -1:],
                          negatives=fp[:, -1:], mode=counts.mode, value_tp=value_tp, value_fp=value_fp,
                          value_totals=totals)


def batch_score_sums(counts: ScoreCounts, draws: np.ndarray) -> dict[str, np.ndarray]:
    """Per resample: the weighted item count and the Brier and log-loss sums (for their bootstrap)."""
    def total(values: np.ndarray) -> np.ndarray:
        return draws @ _per_row(values, counts.rows)

    return {"n": total(counts.weights), "brier": total(counts.raw_sum("brier_sums")),
            "log_loss": total(counts.raw_sum("log_loss_sums"))}


def percentile_interval(samples: np.ndarray, confidence: float, axis: int = 0) -> np.ndarray:
    """Central interval holding ``confidence`` of the resamples (NaN resamples ignored): [low, high]."""
    tail = (1 - confidence) / 2 * 100
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column (undefined everywhere) stays NaN
        return np.nanpercentile(samples, [tail, 100 - tail], axis=axis)


def band_frame(thresholds: np.ndarray, samples: np.ndarray, confidence: float, name: str) -> pd.DataFrame:
    """Long form of a band: threshold, low, high of ``name`` across resamples (axis 0)."""
    low, high = percentile_interval(samples, confidence)
    return pd.DataFrame({"threshold": thresholds, f"{name}_low": low, f"{name}_high": high})
