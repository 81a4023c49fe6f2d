"""ThresholdCurve: confusion counts and every derived metric at every threshold.

An item is flagged when ``score >= threshold``. The curve cumulates a ScoreCounts with scikit-learn's
``confusion_matrix_at_thresholds`` over its cells (weighted by the cells' counts), so there is exactly one
counting primitive; every metric is a vectorized function of the ``tp``/``fp`` arrays, with its
division-by-zero case decided here: a ratio with a zero denominator is NaN (shown as "n/a", null in JSON).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix_at_thresholds

from metricbridge.counts import CountingMode, ScoreCounts

__all__ = ["ThresholdCurve", "POINT_METRICS", "curve_from_counts"]

# Figures reported at one threshold, in display order.
POINT_METRICS = (
    "tp", "fp", "fn", "tn", "precision", "recall", "f1", "specificity", "fpr", "accuracy",
    "balanced_accuracy", "mcc", "flag_rate", "lift",
)


def _ratio(numerator: np.ndarray, denominator: np.ndarray | float) -> np.ndarray:
    """numerator / denominator, NaN where the denominator is zero."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.broadcast_to(np.asarray(denominator, dtype=np.float64), numerator.shape)
    out = np.full(numerator.shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class ThresholdCurve:
    """Weighted confusion counts at every distinct threshold, highest first.

    Element ``i`` describes flagging every item with ``score >= thresholds[i]``. ``thresholds[0]`` is
    ``+inf`` (flag nothing), so the curve always starts at tp = fp = 0 and ends at the lowest score
    (flag everything). ``positives`` and ``negatives`` are the weighted totals P and N.
    """

    thresholds: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    positives: float | np.ndarray
    negatives: float | np.ndarray
    mode: CountingMode = "exact"
    # Per declared value column: cumulative weighted sums over flagged positives and flagged negatives,
    # aligned with ``thresholds``, and the totals over all positives and all negatives.
    value_tp: Mapping[str, np.ndarray] = field(default_factory=dict)
    value_fp: Mapping[str, np.ndarray] = field(default_factory=dict)
    value_totals: Mapping[str, tuple[float | np.ndarray, float | np.ndarray]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A batch of curves (one per bootstrap resample) puts the resamples on a leading axis of tp, fp and
        # the value sums, with positives and negatives of shape (resamples, 1); every metric broadcasts.
        length = np.shape(self.thresholds)
        if (len(length) != 1 or length[0] == 0 or np.shape(self.tp)[-1:] != length
                or np.shape(self.fp) != np.shape(self.tp)):
            raise ValueError("ThresholdCurve arrays must be non-empty and of equal length")
        if np.any(np.diff(self.thresholds) >= 0):
            raise ValueError("ThresholdCurve.thresholds must be strictly decreasing")

    # counts ---------------------------------------------------------------------------------------
    @property
    def fn(self) -> np.ndarray:
        return self.positives - self.tp

    @property
    def tn(self) -> np.ndarray:
        return self.negatives - self.fp

    @property
    def n(self) -> float | np.ndarray:
        return self.positives + self.negatives

    @property
    def flagged(self) -> np.ndarray:
        """Weighted number of items flagged."""
        return self.tp + self.fp

    # rates ----------------------------------------------------------------------------------------
    @property
    def precision(self) -> np.ndarray:
        return _ratio(self.tp, self.flagged)

    @property
    def recall(self) -> np.ndarray:
        """True-positive rate: share of positives flagged."""
        return _ratio(self.tp, self.positives)

    @property
    def specificity(self) -> np.ndarray:
        return _ratio(self.tn, self.negatives)

    @property
    def fpr(self) -> np.ndarray:
        """False-positive rate: share of negatives flagged."""
        return _ratio(self.fp, self.negatives)

    @property
    def f1(self) -> np.ndarray:
        return self.f_beta(1.0)

    def f_beta(self, beta: float) -> np.ndarray:
        """F-beta: recall weighted beta times as much as precision."""
        b2 = beta * beta
        return _ratio((1 + b2) * self.tp, (1 + b2) * self.tp + b2 * self.fn + self.fp)

    @property
    def accuracy(self) -> np.ndarray:
        return _ratio(self.tp + self.tn, self.n)

    @property
    def balanced_accuracy(self) -> np.ndarray:
        return (self.recall + self.specificity) / 2

    @property
    def mcc(self) -> np.ndarray:
        """Matthews correlation coefficient; NaN when a margin of the confusion matrix is empty."""
        tp, fp, fn, tn = self.tp, self.fp, self.fn, self.tn
        denominator = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
        return _ratio(tp * tn - fp * fn, denominator)

    @property
    def flag_rate(self) -> np.ndarray:
        """Share of items flagged."""
        return _ratio(self.flagged, self.n)

    @property
    def lift(self) -> np.ndarray:
        """Precision over the base rate: how many times richer in positives the flagged items are."""
        return _ratio(self.precision, _ratio(np.asarray(self.positives), self.n))

    # points ---------------------------------------------------------------------------------------
    def index_at(self, threshold: float) -> int:
        """Index of the operating point that flags ``score >= threshold``."""
        return int(np.searchsorted(-self.thresholds, -threshold, side="right")) - 1

    def at(self, threshold: float) -> dict[str, float]:
        """Every metric of POINT_METRICS at one threshold (NaN where undefined)."""
        i = self.index_at(threshold)
        return {name: float(getattr(self, name)[i]) for name in POINT_METRICS}

    def to_frame(self) -> pd.DataFrame:
        """One row per threshold with every metric, long enough to chart or export."""
        columns = {"threshold": self.thresholds} | {name: getattr(self, name) for name in POINT_METRICS}
        return pd.DataFrame(columns)

    def take(self, indices: np.ndarray) -> ThresholdCurve:
        """The curve restricted to some of its points (sorted indices)."""
        return ThresholdCurve(
            thresholds=self.thresholds[indices], tp=self.tp[..., indices], fp=self.fp[..., indices],
            positives=self.positives, negatives=self.negatives, mode=self.mode,
            value_tp={k: v[..., indices] for k, v in self.value_tp.items()},
            value_fp={k: v[..., indices] for k, v in self.value_fp.items()}, value_totals=self.value_totals,
        )

    def downsample(self, max_points: int = 1000) -> ThresholdCurve:
        """At most ``max_points`` points for drawing, keeping both ends and the curve's corners.

        First the points on a straight run of the ROC curve are dropped (as scikit-learn's
        ``drop_intermediate`` does), which loses no shape; if still too many remain, points are
        spread evenly along the path's length in (fpr, recall, precision), so steep and flat parts
        both keep their detail.
        """
        if len(self.thresholds) <= max_points:
            return self
        corners = np.flatnonzero(np.r_[True, (np.diff(self.fp, 2) != 0) | (np.diff(self.tp, 2) != 0), True])
        if len(corners) > max_points:
            path = np.column_stack([self.fpr, self.recall, np.nan_to_num(self.precision)])[corners]
            length = np.r_[0.0, np.cumsum(np.abs(np.diff(path, axis=0)).sum(axis=1))]
            targets = np.linspace(0.0, length[-1], max_points)
            picks = np.unique(np.r_[0, np.searchsorted(length, targets), len(corners) - 1])
            corners = np.unique(corners[np.clip(picks, 0, len(corners) - 1)])
        return self.take(corners)


def _cumulative_value_sums(counts: ScoreCounts, thresholds: np.ndarray) -> tuple[
        dict[str, np.ndarray], dict[str, np.ndarray], dict[str, tuple[float, float]]]:
    """Value-column sums over the flagged positives and negatives at each threshold (flag-nothing first)."""
    if not counts.sums:
        return {}, {}, {}
    ascending = thresholds[::-1]
    # Each cell's point on the curve; a zero-weight cell (absent from the thresholds) adds nothing anyway.
    position = len(thresholds) - np.searchsorted(ascending, counts.scores, side="left")
    position = np.clip(position, 1, len(thresholds))
    value_tp, value_fp, totals = {}, {}, {}
    for name, sums in counts.sums.items():
        per_label = [np.bincount(position[counts.labels == label], weights=sums[counts.labels == label],
                                 minlength=len(thresholds) + 1).cumsum() for label in (1, 0)]
        value_tp[name], value_fp[name] = per_label
        totals[name] = (float(per_label[0][-1]), float(per_label[1][-1]))
    return value_tp, value_fp, totals


def curve_from_counts(counts: ScoreCounts) -> ThresholdCurve:
    """Cumulate ScoreCounts into a ThresholdCurve (one point per distinct cell score, plus flag-nothing)."""
    if counts.cells == 0:
        empty = np.array([np.inf])
        return ThresholdCurve(thresholds=empty, tp=np.zeros(1), fp=np.zeros(1), positives=0.0,
                              negatives=0.0, mode=counts.mode)
    _, fps, _, tps, thresholds = confusion_matrix_at_thresholds(
        counts.labels, counts.scores, pos_label=1, sample_weight=counts.weights
    )
    value_tp, value_fp, value_totals = _cumulative_value_sums(counts, thresholds)
    return ThresholdCurve(
        value_tp=value_tp, value_fp=value_fp, value_totals=value_totals,
        thresholds=np.r_[np.inf, thresholds],
        tp=np.r_[0.0, tps].astype(np.float64),
        fp=np.r_[0.0, fps].astype(np.float64),
        # The totals are the last cumulative counts, so flagging everything leaves fn = tn = 0 exactly.
        positives=float(tps[-1]),
        negatives=float(fps[-1]),
        mode=counts.mode,
    )
